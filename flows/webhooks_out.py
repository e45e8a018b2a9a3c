"""Outgoing webhooks: the business's endpoints, its events, and their signatures.

`emit_event` queues one outbox row per endpoint that listens (channel "webhook");
the outbox delivers it with retries and `render_webhook` turns the row into a
signed request. Receivers verify `Cobra-Signature` and drop repeats by event id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.audit import audit
from flows.errors import InvalidInput, NotFound, ProviderError
from flows.outbox import RenderedMessage, enqueue
from storage.models import (
    Business,
    Invoice,
    OutboundMessage,
    OutboxStatus,
    Payment,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)

CHANNEL = "webhook"
TEMPLATE = "webhook_event"
EVENTS = (
    "invoice.paid",
    "payment.recorded",
    "payment.reported",
    "promise.created",
    "dispute.opened",
    "financing.decided",
)
ALL_EVENTS = "*"
SIGNATURE_HEADER = "Cobra-Signature"
TIMESTAMP_HEADER = "Cobra-Timestamp"
EVENT_ID_HEADER = "Cobra-Event-Id"
EVENT_HEADER = "Cobra-Event"
# Event ids derived from a key (see `event_id`) live in this namespace.
_EVENT_NAMESPACE = uuid.UUID("6f1c2a53-3b0e-4d7a-9a55-2c1f5e0b7c41")


# --- Endpoints ----------------------------------------------------------------


def _check_url(raw: str) -> str:
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 2000:
        raise InvalidInput("La URL del webhook debe ser http(s)://host/ruta.")
    return url


def _check_events(events: Sequence[str] | None) -> str:
    if not events or ALL_EVENTS in events:
        return ALL_EVENTS
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise InvalidInput(
            f"Eventos desconocidos: {', '.join(unknown)}. "
            f"Los eventos son: {', '.join(EVENTS)}."
        )
    return ",".join(e for e in EVENTS if e in events)


def add_endpoint(
    session: Session,
    *,
    business: Business,
    url: str,
    events: Sequence[str] | None,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> WebhookEndpoint:
    """A new endpoint with a fresh signing secret (shown to the owner once).

    # Limitation: the secret is kept in clear in the database, since Cobra needs it
    # to sign every delivery and has no key-encryption helper for it yet; anyone
    # who reads the database can forge deliveries to the business's systems.
    """
    endpoint = WebhookEndpoint(
        business_id=business.id,
        url=_check_url(url),
        events=_check_events(events),
        secret="whsec_" + secrets.token_urlsafe(32),
        created_at=now,
    )
    session.add(endpoint)
    session.flush()
    session.info.pop(ENDPOINTS_CACHE, None)
    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="webhook.added",
        subject=f"webhook:{endpoint.id}",
        data={"events": endpoint.events, "host": urlsplit(endpoint.url).hostname},
        now=now,
    )
    return endpoint


def endpoints(
    session: Session, *, business: Business, include_disabled: bool = False
) -> Sequence[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.business_id == business.id)
    if not include_disabled:
        query = query.where(WebhookEndpoint.disabled_at.is_(None))
    return session.scalars(query.order_by(WebhookEndpoint.id)).all()


def endpoint_events(endpoint: WebhookEndpoint) -> list[str]:
    if endpoint.events == ALL_EVENTS:
        return list(EVENTS)
    return [e for e in endpoint.events.split(",") if e]


def disable_endpoint(
    session: Session,
    *,
    business: Business,
    endpoint_id: int,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.business_id != business.id:
        raise NotFound("No encontré ese webhook.")
    if endpoint.disabled_at is None:
        endpoint.disabled_at = now
        session.info.pop(ENDPOINTS_CACHE, None)
        audit(
            session,
            business_id=business.id,
            actor=actor,
            channel=channel,
            action="webhook.disabled",
            subject=f"webhook:{endpoint.id}",
            now=now,
        )
    return endpoint


# --- Events -------------------------------------------------------------------


def event_id(business_id: int, event: str, key: str | None) -> str:
    """One id per event: derived from `key` when given, so emitting twice is once."""
    if key is None:
        return f"evt_{uuid.uuid4().hex}"
    return f"evt_{uuid.uuid5(_EVENT_NAMESPACE, f'{business_id}:{event}:{key}').hex}"


ENDPOINTS_CACHE = "cobra.webhook_endpoints"


def _endpoints_of(session: Session, business_id: int) -> Sequence[WebhookEndpoint]:
    """The business's live endpoints, looked up once per session (an import emits
    an event for every payment it applies)."""
    cache: dict[int, Sequence[WebhookEndpoint]] = session.info.setdefault(
        ENDPOINTS_CACHE, {}
    )
    if business_id not in cache:
        cache[business_id] = session.scalars(
            select(WebhookEndpoint)
            .where(
                WebhookEndpoint.business_id == business_id,
                WebhookEndpoint.disabled_at.is_(None),
            )
            .order_by(WebhookEndpoint.id)
        ).all()
    return cache[business_id]


def emit_event(
    session: Session,
    business_id: int,
    event: str,
    data: dict[str, Any],
    now: dt.datetime,
    *,
    key: str | None = None,
) -> str:
    """Queue `event` to every endpoint of the business that listens; returns its id.

    `data` holds JSON values (amounts as strings). Give `key` (e.g. "payment:42")
    when the same fact may be emitted from more than one place: the deliveries are
    then queued once, whoever emits first.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event}")
    identifier = event_id(business_id, event, key)
    listening = _endpoints_of(session, business_id)
    queued = 0
    for endpoint in listening:
        if event not in endpoint_events(endpoint):
            continue
        row = enqueue(
            session,
            business_id=business_id,
            channel=CHANNEL,
            recipient=endpoint.url[:255],
            template=TEMPLATE,
            payload={
                "endpoint_id": endpoint.id,
                "event_id": identifier,
                "event": event,
                "created_at": now.astimezone(dt.UTC).isoformat(),
                "data": data,
            },
            dedupe_key=f"webhook:{identifier}:{endpoint.id}",
            now=now,
        )
        queued += row is not None
    if queued:
        log.info(
            "webhook event queued",
            extra={"business_id": business_id, "event": event, "deliveries": queued},
        )
    return identifier


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def payment_data(payment: Payment) -> dict[str, Any]:
    return {
        "payment_id": payment.id,
        "contact_id": payment.contact_id,
        "amount": _amount(payment.amount),
        "currency": payment.currency,
        "paid_at": payment.paid_at.isoformat(),
        "method": payment.method,
        "reference": payment.reference,
        "source": payment.source,
        "allocations": [
            {"invoice_id": a.invoice_id, "amount": _amount(a.amount)}
            for a in payment.allocations
        ],
    }


def invoice_data(invoice: Invoice) -> dict[str, Any]:
    return {
        "invoice_id": invoice.id,
        "contact_id": invoice.contact_id,
        "uuid": invoice.uuid,
        "series": invoice.series,
        "folio": invoice.folio,
        "total": _amount(invoice.total),
        "currency": invoice.currency,
        "status": invoice.status,
    }


def emit_payment_recorded(
    session: Session, *, payment: Payment, now: dt.datetime
) -> None:
    """`payment.recorded`, and `invoice.paid` for each invoice it settled.

    Keyed by payment and invoice, so calling it from several places sends once.
    """
    emit_event(
        session,
        payment.business_id,
        "payment.recorded",
        payment_data(payment),
        now,
        key=f"payment:{payment.id}",
    )
    for allocation in payment.allocations:
        invoice = session.get(Invoice, allocation.invoice_id)
        if invoice is not None and invoice.balance <= 0:
            emit_event(
                session,
                payment.business_id,
                "invoice.paid",
                invoice_data(invoice),
                now,
                key=f"invoice:{invoice.id}",
            )


# --- Delivery -----------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of `<timestamp>.<body>` with the endpoint's secret."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    *,
    timestamp: str,
    body: bytes,
    signature: str,
    now: dt.datetime,
    tolerance: dt.timedelta = dt.timedelta(minutes=5),
) -> bool:
    """What a receiver does: a fresh timestamp and a signature that matches."""
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs(now.timestamp() - moment) > tolerance.total_seconds():
        return False
    return hmac.compare_digest(sign(secret, moment, body), signature)


def event_body(payload: dict[str, Any]) -> bytes:
    """The JSON a receiver gets; the same bytes on every attempt of a delivery."""
    document = {
        "id": payload["event_id"],
        "type": payload["event"],
        "created_at": payload["created_at"],
        "data": payload["data"],
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()


def render_webhook(
    session: Session, row: OutboundMessage, now: dt.datetime
) -> RenderedMessage:
    """The outbox row as a signed request: `text` is the body, `variables` the headers.

    Signed at each attempt, so the timestamp is the attempt's own.
    """
    payload = dict(row.payload or {})
    endpoint = session.get(WebhookEndpoint, int(payload["endpoint_id"]))
    if endpoint is None or endpoint.disabled_at is not None:
        raise ProviderError("el webhook ya no está activo", temporary=False)
    body = event_body(payload)
    timestamp = int(now.timestamp())
    return RenderedMessage(
        outbox_id=row.id,
        channel=CHANNEL,
        recipient=endpoint.url,
        subject=str(payload["event"]),
        text=body.decode(),
        variables={
            EVENT_ID_HEADER: str(payload["event_id"]),
            EVENT_HEADER: str(payload["event"]),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: f"v1={sign(endpoint.secret, timestamp, body)}",
        },
    )


def failures(
    session: Session, *, business: Business, limit: int = 50
) -> Sequence[OutboundMessage]:
    """Deliveries that gave up, or that failed at least once and are still retrying."""
    return session.scalars(
        select(OutboundMessage)
        .where(
            OutboundMessage.business_id == business.id,
            OutboundMessage.channel == CHANNEL,
            OutboundMessage.last_error.is_not(None),
            OutboundMessage.status.in_(
                [OutboxStatus.DEAD, OutboxStatus.FAILED, OutboxStatus.PENDING]
            ),
        )
        .order_by(OutboundMessage.id.desc())
        .limit(limit)
    ).all()
