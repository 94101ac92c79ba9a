# Every target sets up its own virtual environment: a fresh machine needs only Python >= 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-fast lint typecheck bench clean

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first use only; about half a minute):"
	@echo "  [1/3] creating the virtual environment"
	@$(PYTHON) -m venv $(VENV)
	@echo "  [2/3] updating pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "  [3/3] installing invoice-import and its dependencies (pip lists each one)"
	@$(BIN)/python -m pip install --progress-bar off -e '.[dev]' 2>&1 | grep --line-buffered -E '^(Collecting|Successfully)' || true
	@test -x $(BIN)/invoice-import || { echo "The installation failed: run $(BIN)/python -m pip install -e '.[dev]' to see why."; exit 1; }
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	@mkdir -p sample_data/out
	@echo "== 1. A clean workbook: every invoice is created"
	@sample_data/demo_step.sh 0 $(BIN)/invoice-import run sample_data/invoices.xlsx --sandbox --yes \
		--results sample_data/out/invoices.results.xlsx
	@echo
	@echo "== 2. A workbook with typical mistakes: each explained on its row (exit code 1 is expected here)"
	@sample_data/demo_step.sh 1 $(BIN)/invoice-import run sample_data/invoices_with_mistakes.xlsx --sandbox --yes \
		--results sample_data/out/invoices_with_mistakes.results.xlsx
	@echo
	@echo "Open the results in Excel or LibreOffice (sheets Invoices, Rows with red cells and comments, Summary):"
	@echo "  sample_data/out/invoices.results.xlsx"
	@echo "  sample_data/out/invoices_with_mistakes.results.xlsx"
	@echo "Next: $(BIN)/invoice-import template my_invoices.xlsx   (an empty workbook to fill in)"
	@echo "      $(BIN)/invoice-import validate my_invoices.xlsx   (offline checks; --results for a workbook)"
	@echo "      $(BIN)/invoice-import run my_invoices.xlsx --sandbox   (a rehearsal against a local sandbox CRM)"
	@echo "      $(BIN)/invoice-import serve --sandbox   (the same importer in the browser: http://127.0.0.1:8000)"

# Every test: tests/unit, tests/e2e (the CLI against a sandbox over HTTP), tests/sandbox (the fake CRM's contract).
test: $(STAMP)
	@sh tests/setup_browser.sh
	$(BIN)/python -m pytest -q

# The same without the slow ones (kill loops, fault injection): for local work.
test-fast: $(STAMP)
	@sh tests/setup_browser.sh
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check importer schemas tests benchmarks
	$(BIN)/ruff format --check importer schemas tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) sample_data/out .pytest_cache .mypy_cache .ruff_cache
