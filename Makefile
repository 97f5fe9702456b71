# One Makefile; CI calls `make test` unchanged.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Plan the sample day and print it.
run: install
	$(BIN)/dispatch plan data/samples/helsinki-day.json --time-limit $${TIME_LIMIT:-10} --out out/plan

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench.sample_day --time-limits 10 30

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
