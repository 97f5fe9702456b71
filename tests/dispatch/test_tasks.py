"""The task queue's broker: which one a database implies, and clear refusals of a
``BROKER_URL`` or a worker setting that cannot work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from huey import MemoryHuey, PostgresHuey, RedisHuey, SqliteHuey

from dispatch.tasks import default_broker_url, make_queue
from tests.api.conftest import POSTGRES_URL, ensure_postgres
from tests.conftest import served_env

ROOT = Path(__file__).resolve().parents[2]


def test_a_sqlite_database_queues_in_a_file_beside_it() -> None:
    assert default_broker_url("sqlite:////srv/dispatch.db") == "sqlite:////srv/dispatch-queue.db"
    assert default_broker_url("sqlite:///dispatch.db") == "sqlite:///dispatch-queue.db"


def test_a_postgresql_database_queues_in_its_own_tables_with_its_password_kept() -> None:
    url = default_broker_url("postgresql+psycopg://dispatch:s3cret@db.internal:5432/dispatch")
    assert url == "postgresql://dispatch:s3cret@db.internal:5432/dispatch"
    ensure_postgres()
    assert isinstance(make_queue(default_broker_url(POSTGRES_URL)), PostgresHuey)


def test_an_in_memory_database_queues_in_memory() -> None:
    assert default_broker_url("sqlite://") == "memory://"
    assert isinstance(make_queue("memory://"), MemoryHuey)


def test_each_supported_broker_url_makes_its_queue(tmp_path: Path) -> None:
    assert isinstance(make_queue(f"sqlite:///{tmp_path / 'q.db'}"), SqliteHuey)
    assert isinstance(make_queue("redis://127.0.0.1:6379/3"), RedisHuey)


@pytest.mark.parametrize("url", ["amqp://guest@127.0.0.1//", "mysql://root@127.0.0.1/test", "::nonsense::"])
def test_an_unsupported_broker_url_is_refused_naming_the_variable(url: str) -> None:
    with pytest.raises(ValueError, match=r"^BROKER_URL: "):
        make_queue(url)


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = served_env()
    full.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_api_refuses_to_start_on_an_unsupported_broker_with_one_line(tmp_path: Path) -> None:
    done = run(
        ["-m", "api", "--port", "1"], {"DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "BROKER_URL": "amqp://x"}
    )
    assert done.returncode == 2
    assert "BROKER_URL" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_worker_refuses_to_start_on_a_database_it_cannot_reach_with_one_line() -> None:
    done = run(["-m", "dispatch.worker"], {"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    assert done.returncode == 2
    assert done.stderr.startswith("DATABASE_URL: cannot use the database")
    assert "Traceback" not in done.stderr


def test_a_worker_refuses_a_thread_count_below_one() -> None:
    done = run(["-m", "dispatch.worker", "--threads", "0"], {})
    assert done.returncode == 2
    assert "--threads must be at least 1" in done.stderr


def test_a_worker_refuses_an_unsupported_broker_with_one_line_naming_it(tmp_path: Path) -> None:
    done = run(["-m", "dispatch.worker"], {"DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "BROKER_URL": "amqp://x"})
    assert done.returncode == 2
    assert done.stderr.startswith("BROKER_URL: 'amqp' is not a supported broker")
    assert len(done.stderr.strip().splitlines()) == 1
