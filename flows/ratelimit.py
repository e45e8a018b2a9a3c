"""A per-sender message limit, counted in the database so several processes agree.

A fixed window per channel and sender: the first message over the limit gets a
polite notice, the rest of that window gets silence.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, case, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.db import run_core
from storage.models import SenderRate

log = logging.getLogger(__name__)

SLOW_DOWN = (
    "Vas muy rápido 🙂. Dame un minuto para ponerme al día y vuelve a escribirme."
)


@dataclass(frozen=True)
class Limit:
    """At most `messages` from one sender every `window`."""

    messages: int = 20
    window: dt.timedelta = dt.timedelta(minutes=1)


DEFAULT_LIMIT = Limit()


class Verdict(StrEnum):
    ALLOW = "allow"
    WARN = "warn"  # the first message over the limit: say why nothing happens
    DROP = "drop"  # later ones in the same window: say nothing


def hit(
    session: Session,
    *,
    channel: str,
    sender: str,
    now: dt.datetime,
    limit: Limit = DEFAULT_LIMIT,
) -> Verdict:
    """Count one message from `sender` and say whether it may go on.

    One upsert does it all, so concurrent processes never lose a count: a window
    that ended (or lies in the future, after a clock change) starts again at `now`.
    """
    statement = _count_statement(session.get_bind().dialect.name)
    count = run_core(
        session,
        statement,
        {
            "channel": channel,
            "sender": sender[:64],
            "now": now,
            "window_start": now - limit.window,
        },
    ).scalar_one()

    if count <= limit.messages:
        return Verdict.ALLOW
    if count == limit.messages + 1:
        log.warning(
            "sender over the message limit",
            extra={"channel": channel, "limit": limit.messages},
        )
        return Verdict.WARN
    return Verdict.DROP


@functools.cache
def _count_statement(dialect: str) -> Any:
    """The counting upsert, built once per dialect: building it costs more than
    running it."""
    insert: Any = pg_insert if dialect == "postgresql" else sqlite_insert
    table = SenderRate.__table__
    now = bindparam("now", type_=table.c.window_started_at.type)
    upsert = insert(table).values(
        channel=bindparam("channel", type_=table.c.channel.type),
        sender=bindparam("sender", type_=table.c.sender.type),
        window_started_at=now,
        count=1,
    )
    stale = or_(
        table.c.window_started_at
        <= bindparam("window_start", type_=table.c.window_started_at.type),
        table.c.window_started_at > now,
    )
    return upsert.on_conflict_do_update(
        index_elements=["channel", "sender"],
        set_={
            "count": case((stale, 1), else_=table.c.count + 1),
            "window_started_at": case((stale, now), else_=table.c.window_started_at),
        },
    ).returning(table.c.count)
