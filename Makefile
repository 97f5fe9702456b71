# One Makefile; CI calls `make test` unchanged.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run serve plan test lint typecheck bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The embedded demo: the API on a SQLite file in the repo root (dispatch.db,
## seeded with the sample day on first start) and the planning board beside it;
## prints the dispatcher token and both addresses. PORT (API, default 8000),
## BOARD_PORT (default 8501) and DISPATCH_ADMIN_TOKEN are honoured; DATABASE_URL
## is not (that is `make serve`). Ctrl-C stops both.
run: install
	@token=$${DISPATCH_ADMIN_TOKEN:-$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))')}; \
	port=$${PORT:-8000}; board=$${BOARD_PORT:-8501}; \
	DISPATCH_API_URL=http://127.0.0.1:$$port $(BIN)/streamlit run dashboard/app.py --server.headless true --server.address 127.0.0.1 \
		--server.port $$board --browser.gatherUsageStats false >/dev/null 2>&1 & board_pid=$$!; \
	trap 'kill $$board_pid 2>/dev/null' EXIT INT TERM; \
	echo "Dispatcher token: $$token"; \
	echo "Planning board on http://127.0.0.1:$$board (enter the token in the sidebar)"; \
	DISPATCH_ADMIN_TOKEN=$$token DATABASE_URL=sqlite:///$(CURDIR)/dispatch.db PORT=$$port $(BIN)/python -m api

## The API alone, for deployment: PORT (default 8000), HOST (default 127.0.0.1),
## DATABASE_URL (default SQLite dispatch.db), DISPATCH_ADMIN_TOKEN from the
## environment; WORKERS=N for several processes (PostgreSQL only).
serve: install
	$(BIN)/python -m api $(if $(WORKERS),--workers $(WORKERS))

## Plan the sample day and print it (no database, no API).
plan: install
	$(BIN)/dispatch plan data/samples/helsinki-day.json --time-limit $${TIME_LIMIT:-10} --out out/plan

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck browser
	$(BIN)/pytest -q

## Debian's chromium for the planning board's browser test; where apt-get may
## not run, the test is skipped and says so.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && export DEBIAN_FRONTEND=noninteractive && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || echo "make browser: chromium could not be installed; the board's browser test will be skipped"

## A short run of every benchmark (peers come from the bench extra).
bench: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m bench.sample_day --time-limits 10
	$(BIN)/python -m bench.by_hand --time-limit 10 --days sample
	$(BIN)/python -m bench.solomon --quick
	$(BIN)/python -m bench.trsp --quick
	$(BIN)/python -m bench.scale --quick
	$(BIN)/python -m bench.sisr_steps
	$(BIN)/python -m bench.booking --quick

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
