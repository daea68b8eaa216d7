# Two commands do everything on a fresh machine: `make run` and `make test`.
# Both call `make setup`, which installs what is missing and is a no-op once done.
VENV ?= .venv
PY := $(VENV)/bin/python
PRESET ?= smoke
OVERRIDES ?=
PYTEST_ARGS ?=

.PHONY: setup run test lint format clean

setup:
	@bash scripts/setup_env.sh

run: setup
	$(VENV)/bin/bert-tfx run --preset $(PRESET) $(foreach o,$(OVERRIDES),--set $(o))

test: setup
	@bash scripts/setup_env.sh --with-test-tools
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf outputs
