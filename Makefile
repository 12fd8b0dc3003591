# ReelRank: `make demo` runs the platform end to end; `make test` runs the whole test suite.
# `make test-fast` skips the tests marked slow. Both create or reuse .venv and install the locked dependencies first (idempotent).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo test test-fast lint typecheck serve lock clean

$(STAMP): pyproject.toml constraints.txt web/package-lock.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# torch first, pinned, so nothing can pull a CUDA build
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	npm ci --prefix web --no-audit --no-fund
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/reelrank demo

test: setup lint typecheck
	$(BIN)/python -m pytest --durations=15

# The fast tier: everything not marked slow (no full demo, dvc repro, notebooks, Ray clusters,
# transcoding benchmark or browser).
test-fast: setup lint typecheck
	$(BIN)/python -m pytest -m "not slow" --durations=15

typecheck: setup
	$(BIN)/mypy

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

serve: setup
	$(BIN)/reelrank serve

# Re-resolve constraints.txt from pyproject.toml in a scratch venv.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet torch==2.13.0
	.lock-venv/bin/python -m pip install --quiet -e '.[test]'
	{ echo "# Resolved versions of every dependency (pip freeze of a working set-up). Used as -c by 'make'."; \
	  echo "# Regenerate with 'make lock' after changing pyproject.toml dependencies."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable | sed 's/^torch==2.13.0+cpu/torch==2.13.0/'; } > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf var .pytest_cache .ruff_cache
