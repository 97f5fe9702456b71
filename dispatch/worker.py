"""A solver worker: ``python -m dispatch.worker [--threads N]`` (``make worker``).

Consumes plan runs from the task queue (``dispatch.tasks``) and solves them, with
the same settings as the API (``DATABASE_URL``, ``BROKER_URL``, ``DISPATCH_TIMEZONE``,
``DISPATCH_NOW``, ...; README). Start as many as wanted, on as many machines as
reach the database and the broker; each solves ``--threads`` runs at once
(``SOLVER_THREADS``, default 1: one per core is the rule of thumb, as a solve keeps
a core busy). SIGINT or SIGTERM stops it at once and hands the runs under way back
to the queue, for another worker or its next start. A worker that dies without stopping
(SIGKILL, out of memory) leaves its runs to the others: they are queued again or
fail within ``dispatch.leases.LEASE_S`` seconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from dispatch.db import database_problem, make_engine, migrate, safe_url
from dispatch.planning import PlanRunner
from dispatch.settings import Settings

# A solve keeps a core busy for its whole time limit: on a machine it shares with an
# API process, the API's answers (a phone's job list, a booking) go first.
DEFAULT_NICE = 10


def main(argv: Sequence[str] | None = None) -> int:
    """Consume plan runs until stopped; exit 2 with one line naming the variable when a
    setting, the database or the broker is wrong."""
    parser = argparse.ArgumentParser(prog="python -m dispatch.worker", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("SOLVER_THREADS", "1") or 1),
        help="plan runs solved at once (SOLVER_THREADS, default 1)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=int(os.environ.get("SOLVER_NICE", str(DEFAULT_NICE)) or DEFAULT_NICE),
        help=f"scheduling niceness added to the worker (SOLVER_NICE, default {DEFAULT_NICE}; 0: none)",
    )
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, not {args.threads}")
    if not 0 <= args.nice <= 19:
        parser.error(f"--nice/SOLVER_NICE must be in 0..19, not {args.nice}")
    if args.nice:
        os.nice(args.nice)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("huey", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"Settings: {exc}", file=sys.stderr)
        return 2
    try:
        engine = make_engine(settings.database_url)
        migrate(engine)  # a no-op once the API (or another worker) did it
    except SQLAlchemyError as exc:
        print(f"DATABASE_URL: {database_problem(exc)} ({safe_url(settings.database_url)})", file=sys.stderr)
        return 2
    try:
        runner = PlanRunner.from_settings(engine, settings, args.threads)
    except ValueError as exc:  # a BROKER_URL make_queue refuses, named in the message
        print(str(exc), file=sys.stderr)
        return 2
    except Exception as exc:  # the broker's client raises its own kinds
        print(f"BROKER_URL: cannot use the task queue: {str(exc).splitlines()[0][:300]}", file=sys.stderr)
        return 2
    print(
        f"Solver worker {runner.identity}: {args.threads} thread(s), database {safe_url(settings.database_url)}, "
        f"queue {safe_url(runner.broker_url)}",
        flush=True,
    )
    runner.consume()
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
