"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import CursorResult, Engine, Executable, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

POOL_OVERFLOW = 10  # connections opened beyond the pool for a burst, then closed


def make_engine(url: str, *, pool_size: int | None = None, **kwargs: Any) -> Engine:
    """An engine tuned for the backend: WAL and foreign keys on SQLite, connections
    checked before each use on PostgreSQL. With `pool_size`, that many connections
    stay open once opened, and a burst beyond it opens a few more for a while."""
    if pool_size is not None:
        kwargs.update(pool_size=pool_size, max_overflow=POOL_OVERFLOW)
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, say when a transaction begins, so that
    # savepoints work and a writer takes the lock up front instead of failing later.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def run_core(
    session: Session, statement: Executable, params: dict[str, Any]
) -> CursorResult[Any]:
    """Run a Core statement on the session's connection, inside its transaction.

    For the statements every message runs (the inbound record, the rate count, the
    24-hour window): it skips the ORM's execute, which costs more than the statement
    itself on SQLite. Nothing is flushed first, so use it only for rows the
    session holds no pending changes to.
    """
    return session.connection().execute(statement, params)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits at the end of the block, or rolls back on error."""
    with factory() as session, session.begin():
        yield session


def is_postgres(session_or_engine: Session | Engine) -> bool:
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, Session)
        else session_or_engine
    )
    return bind.dialect.name == "postgresql"


def ping(engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
