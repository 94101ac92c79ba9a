# Every target sets up its own virtual environment: a fresh machine needs only Python >= 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-fast lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@echo "Installing invoice-import and its dependencies into $(VENV) ..."
	@$(BIN)/python -m pip install --quiet --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	@mkdir -p sample_data/out
	@echo "== 1. A clean workbook: every invoice is created"
	$(BIN)/invoice-import run sample_data/invoices.xlsx --sandbox --yes \
		--results sample_data/out/invoices.results.xlsx
	@echo
	@echo "== 2. A workbook with typical mistakes: each explained on its row (exit 1 is expected here)"
	-$(BIN)/invoice-import run sample_data/invoices_with_mistakes.xlsx --sandbox --yes \
		--results sample_data/out/invoices_with_mistakes.results.xlsx
	@echo
	@echo "Open the results workbooks in sample_data/out/: Invoices, Rows (red cells with comments), Summary."

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
