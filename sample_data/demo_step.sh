#!/bin/sh
# One step of `make demo`: run an invoice-import command and explain its exit code in words, so that the
# exit 1 the demo expects (a workbook with mistakes) is not reported by make as an error.
# Usage: sample_data/demo_step.sh EXPECTED_EXIT COMMAND [ARGS...]
expected=$1
shift
"$@"
code=$?
case $code in
    0) meaning="every invoice created or already there" ;;
    1) meaning="some invoices were not created: each is explained on its row in the results workbook" ;;
    2) meaning="the input or the command line cannot be used" ;;
    3) meaning="the CRM could not be used" ;;
    130) meaning="interrupted" ;;
    *) meaning="unexpected" ;;
esac
if [ "$code" -eq "$expected" ]; then
    echo "(exit code $code, as expected: $meaning)"
    exit 0
fi
echo "(exit code $code, but $expected was expected: $meaning)" >&2
exit "$code"
