# ocr6_scoring — every target bootstraps .venv on first use; see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
SAMPLE := ../shared/data/home-credit-sample
DEMO_DATA := data/demo
DATA_DIR ?= $(DEMO_DATA)
export PATH := $(BIN):$(PATH)

.PHONY: help install demo test check nbtest pytest chromium postgres export docs bench readme clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): settings.ini setup.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ocr6_scoring needs Python >= 3.11; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing ocr6_scoring and its dependencies into $(VENV) (first run: a few minutes)..."
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[dev]"
	@touch $@

install: $(STAMP) ## create .venv and install the package with its dev tools

demo: $(STAMP) ## the whole product: data (synthetic unless DATA_DIR=...), champion, docs, then API + dashboard + MLflow UI until Ctrl-C
	$(BIN)/ocr6 demo $(if $(filter-out $(DEMO_DATA),$(DATA_DIR)),--data-dir "$(DATA_DIR)",) $(ARGS)

check: $(STAMP) ## notebooks clean and library in sync with them
	$(BIN)/python scripts/check_nbs.py

nbtest: $(STAMP) ## run the notebooks' tests
	cd nbs && $(BIN)/nbdev_test --n_workers 2 --do_print 2>&1 | grep -v '^Starting\|^- Completed' ; exit $${PIPESTATUS[0]}

pytest: $(STAMP) ## run tests/ with pytest
	$(BIN)/python -m pytest tests -q -rs

chromium: ## Debian chromium for the browser tests (apt-get when missing; needs root or sudo)
	@command -v chromium >/dev/null || { echo "Installing chromium for the browser tests (apt-get)..."; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

postgres: ## Debian's PostgreSQL server binaries for the tests' throwaway servers (apt-get when missing; needs root or sudo)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { echo "Installing PostgreSQL for the tests (apt-get)..."; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; }

test: export OCR6_REQUIRE_POSTGRES := 1
test: check postgres nbtest chromium pytest ## everything CI checks, in order (a throwaway PostgreSQL server where tests need one)

export: $(STAMP) ## notebooks -> library and README, then clean the notebooks
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	$(BIN)/nbdev_clean --fname dashboards
	$(BIN)/python scripts/readme.py

docs: $(STAMP) ## execute the methodology note and slides against the champion, render the site into _docs/
	$(BIN)/python scripts/docs.py $(ARGS)

bench: $(STAMP) ## run the benchmarks, print them as a table and record it in bench/RESULTS.md (QUICK=1: small sizes, not recorded)
	$(BIN)/python scripts/bench.py $(if $(QUICK),--quick,--out bench/RESULTS.md) $(ARGS)
	$(BIN)/python scripts/readme.py

clean: ## remove generated files (keeps .venv)
	rm -rf _docs _proc .pytest_cache
