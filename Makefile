# Two commands do everything on a fresh machine: `make run` and `make test`.
# Both call `make setup`, which installs what is missing and is a no-op once done.
VENV ?= .venv
PY := $(VENV)/bin/python
PRESET ?= smoke
OVERRIDES ?=
PYTEST_ARGS ?=

.PHONY: setup run test lint format clean image kfp-local

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

# The Kubeflow image (podman + debootstrap, no Docker daemon): see kubeflow/README.md.
image:
	@bash kubeflow/build_image.sh

# Runs the compiled Kubeflow spec here, every task in the image under podman (builds the image when missing).
kfp-local: setup
	@bash kubeflow/kfp_local.sh
