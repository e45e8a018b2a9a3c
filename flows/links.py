"""Reaching a customer on the owner's behalf with their portal link.

Messages go through the outbox; a customer who sent BAJA gets nothing on WhatsApp.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from flows.audit import audit
from flows.business import portal_token, portal_url
from flows.outbox import enqueue
from storage.models import Business, Contact


@dataclass(frozen=True)
class SentLink:
    url: str
    channels: list[str]


def customer_channels(contact: Contact) -> list[tuple[str, str]]:
    """Where a customer can be written to now: (channel, address)."""
    found: list[tuple[str, str]] = []
    if contact.whatsapp and not contact.whatsapp_opted_out:
        found.append(("whatsapp", contact.whatsapp))
    found.extend(("email", address) for address in contact.email_list)
    return found


@dataclass(frozen=True)
class Queued:
    """A message queued to a customer: where it goes ("WhatsApp", "correo") and
    how many rows were new (0 when each address already had it that day)."""

    channels: list[str]
    new: int


def queue_to_customer(
    session: Session,
    *,
    contact: Contact,
    template: str,
    payload: dict[str, Any],
    key: str,
    day: dt.date,
    now: dt.datetime,
    not_before: dt.datetime | None = None,
    only: str | None = None,
) -> Queued:
    """One message to every channel the customer can be written on now (or to
    the `only` one), at most once a day per address: `key` and `day` make each
    row's dedupe key."""
    used: list[str] = []
    new = 0
    for where, address in customer_channels(contact):
        if only is not None and where != only:
            continue
        row = enqueue(
            session,
            business_id=contact.business_id,
            contact_id=contact.id,
            channel=where,
            recipient=address,
            template=template,
            payload=payload,
            dedupe_key=f"{key}:{where}:{address}:{day.isoformat()}",
            now=now,
            not_before=not_before,
        )
        new += row is not None
        label = "WhatsApp" if where == "whatsapp" else "correo"
        if label not in used:
            used.append(label)
    return Queued(used, new)


def send_portal_link(
    session: Session,
    *,
    contact: Contact,
    public_base_url: str,
    portal_key: bytes,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> SentLink:
    """Create or reuse the customer's portal link and queue it to their channels."""
    token = portal_token(session, contact=contact, key=portal_key, now=now)
    url = portal_url(public_base_url, token)
    business = session.get(Business, contact.business_id)
    assert business is not None
    queued = queue_to_customer(
        session,
        contact=contact,
        template="payment_link",
        payload={
            "business_name": business.name,
            "contact_name": contact.name,
            "portal_url": url,
        },
        key=f"payment_link:{contact.id}",
        day=now.date(),
        now=now,
    )
    used = queued.channels
    audit(
        session,
        business_id=contact.business_id,
        actor=actor,
        channel=channel,
        action="portal.link_sent",
        subject=f"contact:{contact.id}",
        data={"channels": used},
        now=now,
    )
    return SentLink(url, used)
