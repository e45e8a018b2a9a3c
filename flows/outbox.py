"""The outbox: every outgoing message is a row with a unique dedupe key first.

`enqueue` is how any flow sends anything; delivery happens later, once, with
retries (see the delivery functions below).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import OutboundMessage, OutboxStatus

log = logging.getLogger(__name__)


def enqueue(
    session: Session,
    *,
    business_id: int | None,
    channel: str,
    recipient: str,
    template: str,
    payload: dict[str, Any],
    dedupe_key: str,
    now: dt.datetime,
    contact_id: int | None = None,
    not_before: dt.datetime | None = None,
) -> OutboundMessage | None:
    """Queue a message; a dedupe key seen before queues nothing and returns None."""
    values = {
        "business_id": business_id,
        "contact_id": contact_id,
        "channel": channel,
        "recipient": recipient,
        "template": template,
        "payload": payload,
        "dedupe_key": dedupe_key[:255],
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(OutboundMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboundMessage.id)
    )
    new_id = session.execute(statement).scalar()
    if new_id is None:
        log.info(
            "outbox duplicate skipped",
            extra={"business_id": business_id, "channel": channel, "template": template},
        )
        return None
    return session.scalar(select(OutboundMessage).where(OutboundMessage.id == new_id))
