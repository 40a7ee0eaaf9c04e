# Two commands a newcomer needs: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck pytest install-check demo bench clean

# Reinstall when the project's metadata changes, not on every run.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: lint typecheck install-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

# A plain `pip install` (no extras) of the built wheel runs every command (a fresh venv
# in a temporary folder; pip's cache keeps it to a few seconds after the first run).
install-check: $(STAMP)
	$(BIN)/python scripts/install_check.py

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# `make bench BENCH_ARGS="e2e --duration 5 --rounds 8"`: one benchmark, longer.
bench: $(STAMP) bench-wrk
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# The end-to-end benchmark drives servers with wrk (Debian's package); without it, it
# falls back to a slower pure-Python load generator and says so.
.PHONY: bench-wrk
bench-wrk:
	@command -v wrk >/dev/null || { test "$$(id -u)" = 0 && apt-get update -qq \
	  && apt-get install -y -qq wrk >/dev/null; } \
	  || echo "wrk missing (apt-get install wrk needs root): the Python generator stands in"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
