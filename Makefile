# mlkit: `make demo` sets up and runs the main job end to end; `make test` sets up and runs the tests.
# Needs only Python 3.11 and pip: uv is installed into .tools/, the locked environment into .venv/.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never

.PHONY: setup demo test lint fmt clean bench-search

setup: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python "$(PYTHON)"
	touch $@

demo: setup
	bash scripts/demo.sh

test: setup
	$(VENV)/bin/ruff check mlkit tests
	$(VENV)/bin/ruff format --check mlkit tests
	$(VENV)/bin/python -m pytest -q

lint: setup
	$(VENV)/bin/ruff check mlkit tests

fmt: setup
	$(VENV)/bin/ruff format mlkit tests
	$(VENV)/bin/ruff check --fix mlkit tests

clean:
	rm -rf registry.db registry.db-* warehouse.duckdb artifacts runs

# The search's accuracy vs scikit-learn baselines, and AdaNet's throughput vs plain Keras.
bench-search: setup
	$(VENV)/bin/python bench/search.py
