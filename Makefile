# ocr6_scoring — every target bootstraps .venv on first use; see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
SAMPLE := ../shared/data/home-credit-sample
DATA_DIR ?= $(if $(wildcard data/demo/application_train.*),data/demo,$(SAMPLE))
export PATH := $(BIN):$(PATH)

.PHONY: help install demo test check nbtest pytest export docs bench readme clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): settings.ini setup.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ocr6_scoring needs Python >= 3.11; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing ocr6_scoring and its dependencies into $(VENV) (first run: a few minutes)..."
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[dev]"
	@touch $@

install: $(STAMP) ## create .venv and install the package with its dev tools

demo: $(STAMP) ## run the product on DATA_DIR (default: data/demo, else the real sample)
	@test -n "$(DATA_DIR)" -a -d "$(DATA_DIR)" || { echo "No data: give DATA_DIR=/path/to/home-credit"; exit 2; }
	$(BIN)/ocr6 summary --data-dir "$(DATA_DIR)"

check: $(STAMP) ## notebooks clean and library in sync with them
	$(BIN)/python scripts/check_nbs.py

nbtest: $(STAMP) ## run the notebooks' tests
	cd nbs && $(BIN)/nbdev_test --n_workers 2 --do_print 2>&1 | grep -v '^Starting\|^- Completed' ; exit $${PIPESTATUS[0]}

pytest: $(STAMP) ## run tests/ with pytest
	$(BIN)/python -m pytest tests -q -rs

test: check nbtest pytest ## everything CI checks, in order

export: $(STAMP) ## notebooks -> library and README, then clean the notebooks
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	$(BIN)/nbdev_clean --fname dashboards
	$(BIN)/python scripts/readme.py

docs: $(STAMP) ## render the site into _docs/ (Quarto if installed, else nbconvert HTML)
	@if command -v quarto >/dev/null; then $(BIN)/nbdev_docs; \
	else mkdir -p _docs && $(BIN)/jupyter nbconvert --to html --execute --output-dir _docs nbs/*.ipynb \
	     && echo "Rendered with nbconvert (Quarto not installed): _docs/index.html"; fi

bench: $(STAMP) ## run the benchmarks and print them as a table (QUICK=1 for small sizes)
	$(BIN)/python scripts/bench.py $(if $(QUICK),--quick,)

clean: ## remove generated files (keeps .venv)
	rm -rf _docs _proc .pytest_cache
