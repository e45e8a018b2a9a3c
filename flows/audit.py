"""Audit trail: who changed what, through which channel, and when.

`audit` adds one event to the session; `audit_all` writes many in one statement,
for paths (the CFDI import, batches of payments) that change money state in bulk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from storage.models import AuditEvent

AUDIT_TABLE: Table = AuditEvent.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One event for `audit_all`; the same fields `audit` takes."""

    business_id: int
    actor: str
    channel: str
    action: str
    subject: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def audit(
    session: Session,
    *,
    business_id: int,
    actor: str,
    channel: str,
    action: str,
    now: dt.datetime,
    subject: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        business_id=business_id,
        actor=actor,
        channel=channel,
        action=action,
        subject=subject,
        data=data or {},
        created_at=now,
    )
    session.add(event)
    return event


def audit_all(
    session: Session, entries: Sequence[AuditEntry], *, now: dt.datetime
) -> None:
    """Write the events at once, in order, in the session's transaction.

    Nothing needs their ids back, so both databases take them as one batched
    INSERT; they are not loaded into the session.
    """
    if not entries:
        return
    rows = [
        {
            "business_id": entry.business_id,
            "actor": entry.actor,
            "channel": entry.channel,
            "action": entry.action,
            "subject": entry.subject,
            "data": entry.data,
            "created_at": now,
        }
        for entry in entries
    ]
    session.connection().execute(insert(AUDIT_TABLE), rows)
