"""Engines, sessions and migrations. Nothing is created at import time."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session, create_engine

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


# Two processes migrating one fresh database at once (an API and a solver worker
# started together) make one fail on a table the other just created: it tries again.
MIGRATE_TRIES = 20
MIGRATE_PAUSE_S = 0.5


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest migration. A database that cannot be
    reached raises at once; a migration that fails because another process is migrating
    the same database at the same moment is tried again (it is a no-op once that ends)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect():
        pass  # unreachable or refused: raise now, not after the retries
    for attempt in range(MIGRATE_TRIES):
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            return
        except SQLAlchemyError:
            if attempt == MIGRATE_TRIES - 1:
                raise
            log.info("migration collided with another process's; trying again")
            time.sleep(MIGRATE_PAUSE_S)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success and rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def give_back(session: Session) -> None:
    """End ``session``'s read transaction so that its pooled connection goes back to the
    pool before the caller waits (for a lock) or writes through another session: a
    request never holds two connections, nor one while it queues, so a burst of such
    requests cannot exhaust the pool. Nothing written in the transaction survives."""
    session.rollback()


def safe_url(url: str) -> str:
    """A database URL without its password (the text up to its host when it does not parse)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url[:80]


def database_problem(exc: SQLAlchemyError) -> str:
    """What is wrong with the database, in one line."""
    if isinstance(exc, ArgumentError):
        return f"not a database URL ({str(exc).splitlines()[0][:200]}); e.g. sqlite:///dispatch.db or postgresql+psycopg://user@host:5432/db"
    cause = getattr(exc, "orig", None) or exc
    first = next((line.strip() for line in str(cause).splitlines() if line.strip()), type(cause).__name__)
    return f"cannot use the database: {first[:300]}"
