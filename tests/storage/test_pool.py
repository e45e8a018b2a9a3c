"""Connections are kept, not reopened, through bursts up to the pool's size, on
both databases (on PostgreSQL each new connection is a new server process)."""

from __future__ import annotations

from sqlalchemy import QueuePool, event

from storage.db import POOL_OVERFLOW, make_engine
from tests.conftest import Db


def test_bursts_up_to_the_pool_size_reuse_the_same_connections(db: Db) -> None:
    engine = make_engine(db.url, pool_size=8)
    opened: list[object] = []
    event.listen(engine, "connect", lambda connection, record: opened.append(record))
    try:
        for _ in range(3):
            burst = [engine.connect() for _ in range(8)]
            for connection in burst:
                connection.close()
    finally:
        engine.dispose()

    assert len(opened) == 8


def test_a_burst_beyond_the_pool_is_served_and_then_let_go(db: Db) -> None:
    engine = make_engine(db.url, pool_size=2)
    try:
        burst = [engine.connect() for _ in range(2 + POOL_OVERFLOW)]
        for connection in burst:
            connection.close()
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.checkedin() == 2
    finally:
        engine.dispose()
