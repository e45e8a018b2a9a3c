"""Audit trail: who changed what, through which channel, and when."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from storage.models import AuditEvent


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
