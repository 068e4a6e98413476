# Every target bootstraps .venv from python3 when it is missing or older than the lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench docs screenshots clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/scutum demo --yes

test: $(STAMP) lint
	$(BIN)/python -m pytest -q -n 4

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy console agent actions risk approvals simcluster
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

docs: $(STAMP)
	$(BIN)/python -m agent.docgen
	$(BIN)/python -m agent.rbac
	$(BIN)/python -m agent.admission
	$(BIN)/python -m actions.reference

# Each console page in headless chromium (Debian's chromium + chromium-driver) into docs/images/.
screenshots: $(STAMP)
	$(BIN)/python -m tests.console.screenshots docs/images

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
