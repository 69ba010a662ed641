# mlkit: `make demo` sets up and runs the main job end to end; `make test` sets up and runs the tests.
# Needs only Python 3.11 and pip: uv is installed into .tools/, the locked environment into .venv/.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never

.PHONY: setup demo test lint typecheck fmt clean test-postgres bench-registry bench-data bench-data-stream bench-serving bench-search bench-overhead bench-ui bench-pipeline bench-scale bench-tabular bench-monitoring

setup: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	# Compiled to bytecode at install, as pip does: otherwise every process that imports TensorFlow
	# compiles it again where bytecode is not written back (PYTHONDONTWRITEBYTECODE; 8.3 s against
	# 4.1 s for `import tensorflow` on 2 cores).
	$(UV) sync --frozen --compile-bytecode --python "$(PYTHON)"
	touch $@

demo: setup
	bash scripts/demo.sh

test: setup
	$(VENV)/bin/ruff check mlkit tests bench
	$(VENV)/bin/ruff format --check mlkit tests bench
	# The layers of ../shared/DESIGN.md as import contracts, and the type checker ([tool.*] in
	# pyproject.toml; docs/architecture.md, "Guard rails", says what they check).
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy mlkit
	# The dashboard's browser tests need Chromium: installed with apt if missing (tests/ui).
	bash scripts/with-chromium.sh $(VENV)/bin/python -m pytest -q --durations=30
	# The registry's suite again, on a throw-away PostgreSQL server (installed with apt if missing).
	bash scripts/with-postgres.sh $(VENV)/bin/python -m pytest -q tests/registry

test-postgres: setup
	bash scripts/with-postgres.sh $(VENV)/bin/python -m pytest -q tests/registry

bench-registry: setup
	$(VENV)/bin/python bench/registry.py

lint: setup
	$(VENV)/bin/ruff check mlkit tests bench

# What `make test` checks before the tests: import contracts and types.
typecheck: setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy mlkit

fmt: setup
	$(VENV)/bin/ruff format mlkit tests bench
	$(VENV)/bin/ruff check --fix mlkit tests bench

clean:
	rm -rf registry.db registry.db-* warehouse.duckdb artifacts runs

# Data loading: table → training-ready arrays, the common approach against mlkit's, 70,000 MNIST-like
# rows in three storage forms, on the BigQuery emulator and the local warehouse. Last line: JSON.
bench-data: setup
	$(VENV)/bin/python bench/data.py

# Training from a table larger than a memory cap, streamed into tf.data. Last line: JSON.
bench-data-stream: setup
	$(VENV)/bin/python bench/data_stream.py

# Serving: the local endpoint at 1/16/64 clients vs the in-process floor and two plain servers;
# swaps under load; cold start and scale from zero. Last line: JSON.
bench-serving: setup
	$(VENV)/bin/python bench/serving.py

# Monitoring: logging's cost to throughput, logged == served, drift found in a replay, the bandit's
# regret against a fixed split. Last line: JSON.
bench-monitoring: setup
	$(VENV)/bin/python bench/monitoring.py

# The search's accuracy vs scikit-learn baselines, and AdaNet's throughput vs plain Keras.
bench-search: setup
	$(VENV)/bin/python bench/search.py

# The fixed cost of a small search (mlkit train iris --steps 10) by stage, vs plain Keras.
bench-overhead: setup
	$(VENV)/bin/python bench/overhead.py

# The dashboard: server time of the versions and models pages with 10,000 versions, page weight.
bench-ui: setup
	$(VENV)/bin/python bench/ui.py

# Pipelines: what recording a pipeline run costs beside its steps' work; cache lookups with history.
bench-pipeline: setup
	$(VENV)/bin/python bench/pipeline.py

# Statistics pushed down vs streamed (local, emulator), streamed training chief+2 workers vs one
# process, batch prediction end to end vs in memory; last line JSON (docs/data.md, docs/serving.md)
bench-scale: setup
	$(VENV)/bin/python bench/scale.py

# Tables with categories and NULLs (penguins; 60,000 generated sales rows): the default search vs
# the best scikit-learn pipeline, and loading vs pandas + scikit-learn's encoders. Last line: JSON.
bench-tabular: setup
	$(VENV)/bin/python bench/tabular.py
