"""Shared fixtures: a database on each backend, an injected clock and data builders.

Every test that touches storage takes `db`, which runs it once on SQLite and once
on PostgreSQL. The PostgreSQL half needs `COBRA_TEST_POSTGRES_URL`; each test
process makes a database of its own there and drops it at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, make_session_factory
from storage.migrate import stamp_head
from storage.models import Base

PG_ENV = "COBRA_TEST_POSTGRES_URL"
NOW = dt.datetime(2026, 12, 3, 17, 0, tzinfo=dt.UTC)  # 11:00 in Mexico City


@dataclass
class Db:
    """One test database: its URL (for subprocesses), engine and sessions."""

    url: str
    engine: Engine
    factory: sessionmaker[Session]

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.factory()


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str | None]:
    """A database of this test process's own on the PostgreSQL server."""
    base = os.environ.get(PG_ENV)
    if not base:
        yield None
        return
    name = f"cobra_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_server_url: str | None) -> Iterator[Engine | None]:
    if pg_server_url is None:
        yield None
        return
    engine = make_engine(pg_server_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    stamp_head(engine)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    pg_server_url: str | None,
    pg_engine: Engine | None,
) -> Iterator[Db]:
    """A clean database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cobra.db'}"
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        stamp_head(engine)
        yield Db(url, engine, make_session_factory(engine))
        engine.dispose()
        return
    if pg_engine is None or pg_server_url is None:
        pytest.skip(f"PostgreSQL half skipped: set {PG_ENV} to run it")
    _truncate_all(pg_engine)
    yield Db(pg_server_url, pg_engine, make_session_factory(pg_engine))
    _truncate_all(pg_engine)


@pytest.fixture
def now() -> dt.datetime:
    return NOW


@pytest.fixture
def cobra(db: Db, tmp_path: Path) -> Iterator[Callable[..., Result]]:
    """`cobra("contact show --business X ...")` run in-process against the test
    database, at the fixed time, as a person would type it."""
    import bot.cli

    bot.cli._register_commands()
    env = {
        "DATABASE_URL": db.url,
        "PUBLIC_BASE_URL": "https://cobra.test",
        "SECRETS_KEY": "clave-de-pruebas",
    }
    bot.cli._runtime = None

    def run(args: str | list[str], input: str | None = None) -> Result:
        argv = shlex.split(args) if isinstance(args, str) else args
        return CliRunner().invoke(
            bot.cli.cli, argv, env=env, input=input, catch_exceptions=False
        )

    monkey = pytest.MonkeyPatch()
    monkey.chdir(tmp_path)
    monkey.setattr(bot.cli, "clock", lambda: NOW)
    yield run
    monkey.undo()
    if bot.cli._runtime is not None:
        bot.cli._runtime.db.dispose()
    bot.cli._runtime = None
