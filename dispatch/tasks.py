"""Plan runs as tasks of a task engine: Huey over a broker named by ``BROKER_URL``.

Why Huey (docs/task-engine.md): it is maintained, small, and keeps its queue in
SQLite, Redis or PostgreSQL with the same code, so the embedded default (a SQLite
queue file beside a SQLite database) needs nothing installed and a deployment
uses Redis or the PostgreSQL it already has. API processes only enqueue; solver
workers (``python -m dispatch.worker``, ``make worker``) consume, as many as wanted
on as many machines. Huey does not redeliver a task whose worker died, so a run's
liveness is kept in the database instead (``dispatch.leases``): its worker
heartbeats, and a run whose heartbeat stops is tried again or ends ``failed``.

Without ``BROKER_URL`` the queue follows the database: ``sqlite:///x/dispatch.db``
queues in ``sqlite:///x/dispatch-queue.db``, PostgreSQL in its own tables of the
same database (``huey_task`` and friends), an in-memory SQLite in memory.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

from huey import Huey, MemoryHuey, PostgresHuey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

log = logging.getLogger(__name__)

BROKER_ENV = "BROKER_URL"
QUEUE_NAME = "dispatch"
# A worker waits at most this long between looks at an empty SQLite or PostgreSQL
# queue (Redis blocks on the queue instead): how long a new run may wait to start.
MAX_POLL_S = 0.5


def default_broker_url(database_url: str) -> str:
    """The broker a database implies when ``BROKER_URL`` is not set (module docstring)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return "memory://"
        path = Path(url.database)
        return f"sqlite:///{path.with_name(path.stem + '-queue' + (path.suffix or '.db'))}"
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql").render_as_string(hide_password=False)
    raise ValueError(f"{BROKER_ENV}: no default queue for a {url.get_backend_name()} database; set {BROKER_ENV}")


def make_queue(broker_url: str) -> Huey:
    """The task queue at ``broker_url``: ``sqlite:///path``, ``redis://host:port/db``,
    ``postgresql://...`` (libpq form; ``+psycopg`` is accepted) or ``memory://`` (one
    process only). ``ValueError`` naming ``BROKER_URL`` for anything else."""
    common: dict[str, Any] = {"results": False, "utc": True}
    if broker_url == "memory://":
        return MemoryHuey(QUEUE_NAME, **common)
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(QUEUE_NAME, url=broker_url, blocking=True, read_timeout=1, **common)
    try:
        url = make_url(broker_url)
    except ArgumentError:
        raise ValueError(f"{BROKER_ENV}: not a broker URL: {broker_url[:80]!r}") from None
    backend = url.get_backend_name()
    if backend == "sqlite" and url.database and url.database != ":memory:":
        return SqliteHuey(QUEUE_NAME, filename=url.database, **common)
    if backend == "postgresql":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        # Polled, not LISTEN: a listening connection per worker thread is left to the
        # garbage collector by Huey, and a half-second poll is soon enough for a plan run.
        return PostgresHuey(QUEUE_NAME, dsn=dsn, blocking=False, **common)
    raise ValueError(
        f"{BROKER_ENV}: {backend!r} is not a supported broker; "
        "use sqlite:///path, redis://host:6379/0 or postgresql://user@host/db"
    )


class _Consumer(Consumer):  # type: ignore[misc]
    """Huey's consumer without signal handlers: it runs on threads of a process that
    owns its signals (an API process solving in-process, a test)."""

    def _set_signal_handlers(self) -> None:
        pass


class _WorkerConsumer(Consumer):  # type: ignore[misc]
    """Huey's consumer for the main thread of a worker process: SIGINT and SIGTERM both
    stop it at once (the runner then hands its runs back to the queue: a solve can last
    minutes, longer than a deployment waits for a process to stop)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signal_actions = {signal.SIGINT: (False, False), signal.SIGTERM: (False, False)}


def consumer(queue: Huey, threads: int, *, own_signals: bool) -> Consumer:
    """A consumer of ``queue`` on ``threads`` worker threads. With ``own_signals`` (the
    main thread of a worker process) SIGINT or SIGTERM stops it at once."""
    cls = _WorkerConsumer if own_signals else _Consumer
    return cls(
        queue,
        workers=threads,
        periodic=False,
        worker_type="thread",
        initial_delay=0.05,
        backoff=1.5,
        max_delay=MAX_POLL_S,
        check_worker_health=True,
    )
