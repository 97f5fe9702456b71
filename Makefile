# One Makefile; CI calls `make test` unchanged.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run serve worker plan test test-clock lint typecheck browser bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The embedded demo: the API on a SQLite file in the repo root (dispatch.db,
## seeded with the sample day on the next working day when empty), one solver
## worker beside it on the same task engine (its queue in dispatch-queue.db: no
## broker to install) and the planning board; prints the dispatcher token, the
## sample day and both addresses. PORT (API, default 8000), BOARD_PORT (default
## 8501), DISPATCH_ADMIN_TOKEN and DISPATCH_NOW are honoured; DATABASE_URL and
## BROKER_URL are not (that is `make serve` and `make worker`). Ctrl-C stops all three.
run: install
	@port=$${PORT:-8000}; board=$${BOARD_PORT:-8501}; db=sqlite:///$(CURDIR)/dispatch.db; \
	DISPATCH_API_URL=http://127.0.0.1:$$port $(BIN)/streamlit run dashboard/app.py --server.headless true --server.address 127.0.0.1 \
		--server.port $$board --browser.gatherUsageStats false >/dev/null 2>&1 & board_pid=$$!; \
	DATABASE_URL=$$db BROKER_URL= $(BIN)/python -m dispatch.worker & worker_pid=$$!; \
	trap 'kill $$board_pid $$worker_pid 2>/dev/null' EXIT INT TERM; \
	echo "Planning board on http://127.0.0.1:$$board (enter the token in the sidebar)"; \
	DATABASE_URL=$$db BROKER_URL= SOLVER_WORKERS=0 PORT=$$port $(BIN)/python -m api

## The API alone, for deployment: PORT (default 8000), HOST (default 127.0.0.1),
## DATABASE_URL (default SQLite dispatch.db), DISPATCH_ADMIN_TOKEN from the
## environment; WORKERS=N for several processes (PostgreSQL only).
serve: install
	$(BIN)/python -m api $(if $(WORKERS),--workers $(WORKERS))

## One solver worker, for deployment: consumes plan runs from the task queue
## (BROKER_URL, default: the queue the database implies; README "Solver workers").
## DATABASE_URL as for `make serve`; THREADS=N solves N runs at once (default 1).
## Start as many as wanted, on as many machines as reach the database and broker.
worker: install
	$(BIN)/python -m dispatch.worker $(if $(THREADS),--threads $(THREADS))

## Plan the sample day and print it (no database, no API).
plan: install
	$(BIN)/dispatch plan data/samples/helsinki-day.json --time-limit $${TIME_LIMIT:-10} --out out/plan

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

## The whole suite at DISPATCH_TEST_AT (default: tests/conftest.py's DEFAULT_INSTANT),
## on both databases; then the date-sensitive tests (marked `clock`: those that read
## today, the seeded day, lead times, carry-overs or the next working day from the
## running clock; a file whose tests only work on a day a week ahead, at moments of
## their own, is not marked, as the date shifts nothing there but the weekday) at each of
## CLOCK_RUNS, an instant and the database its tests on each database run on
## (DISPATCH_TEST_DATABASE; tests on SQLite alone run at every instant): 00:30 on New
## Year's Day in Helsinki (still the old year, and the old date, in UTC) on
## PostgreSQL, and the night the clocks go forward on SQLite. Each instant on one
## database keeps a CI run under 30 minutes on 2 cores (both databases at both
## instants: each clock run 5:06, against 3:23 and 3:02). CLOCK_RUNS_ALL adds 23:30 UTC
## on an ordinary night, New Year's Eve late in Helsinki, the night the clocks go back
## and a date years away, each on both databases
## (`make test-clock CLOCK_RUNS="$(CLOCK_RUNS_ALL)"`).
CLOCK_RUNS ?= 2026-12-31T22:30:00Z@postgres 2027-03-28T00:30:00Z@sqlite
CLOCK_RUNS_ALL := 2026-12-31T22:30:00Z@postgres 2026-12-31T22:30:00Z@sqlite 2027-03-28T00:30:00Z@postgres \
	2027-03-28T00:30:00Z@sqlite 2026-12-03T23:30:00Z 2026-12-31T21:30:00Z 2027-10-31T00:30:00Z 2031-06-17T09:00:00Z

## Three pytest-xdist workers (PYTEST_WORKERS), each test file on one of them and each
## worker with a PostgreSQL database and a Redis database of its own: most of the suite
## waits on solver time limits and served processes, so three at once on 2 cores keep CI
## under 30 minutes (measured: the main run 15:00 with two, 12:53 with three; four
## gain nothing, the cores being busy: a clock run 5:06 with three, 5:09 with four). The compiled search is compiled (or loaded from numba's cache)
## once before, so the workers do not both write its cache.
PYTEST_WORKERS ?= 3
## The OpenAPI contract tests (schemathesis) give every operation's case the same test
## id, which pytest-xdist runs once per id: they run apart, in one process, all of them.
SCHEMA_TESTS := tests/api/test_schema.py
PYTEST_PARALLEL = $(if $(filter-out 0 1,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile)

test: lint typecheck browser
	$(BIN)/python -c "from solver.search import sisr; sisr.warm_up()"
	$(BIN)/pytest -q $(PYTEST_PARALLEL) --ignore=$(SCHEMA_TESTS)
	$(BIN)/pytest -q $(SCHEMA_TESTS)
	@$(MAKE) --no-print-directory test-clock

test-clock: install
	@for run in $(CLOCK_RUNS); do \
		at=$${run%@*}; db=$$(echo "$$run" | sed -n 's/.*@//p'); \
		echo "== the date-sensitive tests as if it were $$at$${db:+, on $$db}"; \
		DISPATCH_TEST_AT=$$at DISPATCH_TEST_DATABASE=$$db $(BIN)/pytest -q -m clock $(PYTEST_PARALLEL) || exit 1; \
	done

## Debian's chromium for the planning board's browser test, and jq for the README walkthrough test;
## where apt-get may not run, those tests are skipped and say so.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && export DEBIAN_FRONTEND=noninteractive && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || echo "make browser: chromium could not be installed; the board's browser test will be skipped"
	@command -v jq >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; } || echo "make browser: jq could not be installed; the README walkthrough test will be skipped"

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
	$(BIN)/python -m bench.live_day --quick --sqlite-only
	$(BIN)/python -m bench.dynamic --quick
	$(BIN)/python -m bench.disrupted --quick
	$(BIN)/python -m bench.replan_api --quick
	$(BIN)/python -m bench.first_answer --time-limit 5 --plan-limit 5
	$(BIN)/python -m bench.workers --quick --sqlite-only
	$(BIN)/python -m bench.horizon --quick

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
