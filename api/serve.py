"""Run the API under uvicorn: ``python -m api [--host H] [--port P] [--workers N]``.

The parent process prepares the database once before any worker starts
(migrations, the sample seed when the database is empty, the dispatcher
token), so several workers never race on a migration and the token is printed
once. Each worker then builds its app with ``app_factory`` from the same
environment, told by ``DISPATCH_PREPARED`` that this is done: a token the parent
generated is stored (hashed) in the database and never passed to the workers.

A ``DATABASE_URL`` that is not a database URL, or a database that cannot be
reached, stops the start with one line naming the variable (exit status 2).

Several workers need PostgreSQL: SQLite is the embedded single-process default.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import secrets
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
from uvicorn.supervisors import Multiprocess

from api.app import create_app
from dispatch.db import database_problem, safe_url
from dispatch.settings import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
APP = "api.serve:app_factory"


PREPARED_ENV = "DISPATCH_PREPARED"
WORKER_STARTUP_S = 60


def app_factory() -> FastAPI:
    """The app of one uvicorn worker, configured from the environment."""
    return create_app(Settings.from_env(), prepared=os.environ.get(PREPARED_ENV) == "1")


@dataclass(frozen=True)
class Prepared:
    """What ``prepare`` did: the settings with a token, whether the token was
    generated, and the first day from today on with jobs (the sample day on a
    freshly seeded database)."""

    settings: Settings
    generated: bool
    first_day: dt.date | None


def prepare(settings: Settings) -> Prepared:
    """Migrate, seed and store the dispatcher token once."""
    generated = settings.admin_token is None
    if generated:
        settings = dataclasses.replace(settings, admin_token=secrets.token_urlsafe(24))
    app = create_app(settings)  # migrates, seeds an empty database, stores the token
    state = app.state.dispatch
    state.runner.shutdown()
    state.engine.dispose()
    return Prepared(settings, generated, state.first_day)


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m api",
        description="Serve the dispatch API (settings from DATABASE_URL, DISPATCH_ADMIN_TOKEN, ... see README).",
    )
    parser.add_argument("--host", default=os.environ.get("HOST") or DEFAULT_HOST, help="HOST, default 127.0.0.1")
    parser.add_argument("--port", type=int, default=_int_env("PORT", DEFAULT_PORT), help="PORT, default 8000")
    parser.add_argument(
        "--workers",
        type=int,
        default=_int_env("WEB_CONCURRENCY", 1),
        help="worker processes (WEB_CONCURRENCY, default 1); more than one needs PostgreSQL",
    )
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--no-access-log", action="store_true", help="do not log every request")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port/PORT must be in 1..65535, not {args.port}")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, not {args.workers}")
    return args


def _shown_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare the database, print the token and address, and serve until stopped."""
    args = parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"Settings: {exc}", file=sys.stderr)
        return 2
    if args.workers > 1 and settings.database_url.startswith("sqlite"):
        print(
            f"--workers {args.workers} needs PostgreSQL (DATABASE_URL=postgresql+psycopg://...); "
            "SQLite is served by one worker.",
            file=sys.stderr,
        )
        return 2
    try:
        prepared = prepare(settings)
    except SQLAlchemyError as exc:
        print(f"DATABASE_URL: {database_problem(exc)} ({safe_url(settings.database_url)})", file=sys.stderr)
        return 2
    except ValueError as exc:  # a setting create_app refuses, named in the message
        print(f"Settings: {exc}", file=sys.stderr)
        return 2
    settings = prepared.settings
    assert settings.admin_token is not None
    os.environ[PREPARED_ENV] = "1"  # the workers' apps: migrated, seeded, token stored
    base = f"http://{_shown_host(args.host)}:{args.port}"
    if prepared.generated:
        print(f"Dispatcher token (set DISPATCH_ADMIN_TOKEN to choose one): {settings.admin_token}")
    else:
        print("Dispatcher token: the value of DISPATCH_ADMIN_TOKEN")
    if prepared.first_day is not None:
        print(f"Sample day: {prepared.first_day.isoformat()}  (the first day from today on with jobs)")
    else:
        print("Sample day: none (no jobs from today on in the database)")
    print(f"API on {base}  (docs: {base}/docs, database: {safe_url(settings.database_url)})", flush=True)
    config = _TcpConfig(
        APP,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=not args.no_access_log,
        # A worker imports the whole service before it answers the supervisor's pings (a few
        # seconds, more on a busy machine): uvicorn's 5 s would kill and restart it for ever.
        timeout_worker_healthcheck=WORKER_STARTUP_S,
    )
    server = uvicorn.Server(config)
    try:
        if args.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    # As uvicorn.run: one worker that never started (port taken, app broken) is a failure.
    return 3 if args.workers == 1 and not server.started else 0


class _TcpConfig(uvicorn.Config):
    """uvicorn's config, but the socket it binds for several workers says it is TCP.

    uvicorn binds that socket with protocol 0, the workers' accepted connections
    inherit it, and asyncio then skips TCP_NODELAY (it checks for IPPROTO_TCP): on
    a kept-alive connection every answer waited ~40 ms for a delayed ACK (p50 of a
    slot search 72 ms with 2 workers against 25 ms with one; docs/benchmarks-booking.md).
    """

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            # Given only a descriptor, socket.socket reads family, type and protocol off it.
            return socket.socket(fileno=sock.detach())
        return sock
