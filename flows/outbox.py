"""The outbox: every outgoing message is a row with a unique dedupe key first.

`enqueue` is how any flow sends anything; delivery happens later, once, with
retries (see the delivery functions below).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy import Table, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from flows.errors import ProviderError
from flows.fmt import mask_phone, zone
from flows.messages import Button
from storage.db import is_postgres
from storage.models import OutboundMessage, OutboxStatus, Role, User

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
            extra={
                "business_id": business_id,
                "channel": channel,
                "template": template,
            },
        )
        return None
    return session.scalar(select(OutboundMessage).where(OutboundMessage.id == new_id))


def enqueue_many(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Queue many messages in one round of statements; returns how many were new.

    Each row has `enqueue`'s fields; a dedupe key seen before is skipped.
    """
    if not rows:
        return 0
    values = [
        {
            "business_id": row["business_id"],
            "contact_id": row.get("contact_id"),
            "channel": row["channel"],
            "recipient": row["recipient"],
            "template": row["template"],
            "payload": row["payload"],
            "dedupe_key": row["dedupe_key"][:255],
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": row.get("not_before") or row["now"],
            "created_at": row["now"],
        }
        for row in rows
    ]
    if is_postgres(session):
        return _enqueue_many_pg(session, values)
    table = OutboundMessage.__table__
    assert isinstance(table, Table)
    statement = (
        sqlite_insert(table)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(table.c.id)
    )
    # Core executemany: SQLAlchemy batches the rows into multi-row INSERTs with
    # one compiled statement; a skipped duplicate returns no id.
    return len(session.connection().execute(statement, values).all())


_PG_MANY = text(
    """
    INSERT INTO outbound_message (business_id, contact_id, channel, recipient,
        template, payload, dedupe_key, status, attempts, next_attempt_at, created_at)
    SELECT r.business_id, r.contact_id, r.channel, r.recipient, r.template,
        r.payload, r.dedupe_key, r.status, r.attempts, r.next_attempt_at,
        r.created_at
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(business_id int,
        contact_id int, channel text, recipient text, template text, payload json,
        dedupe_key text, status text, attempts int, next_attempt_at timestamptz,
        created_at timestamptz)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id
    """
)


def _enqueue_many_pg(session: Session, values: list[dict[str, Any]]) -> int:
    """PostgreSQL: the rows travel as one JSON parameter and unfold on the server,
    which is several times faster than a many-row VALUES statement."""
    rows = json.dumps(
        [
            {
                **row,
                "status": str(row["status"]),
                "next_attempt_at": row["next_attempt_at"].isoformat(),
                "created_at": row["created_at"].isoformat(),
            }
            for row in values
        ],
        ensure_ascii=False,
        default=str,
    )
    return len(session.execute(_PG_MANY, {"rows": rows}).all())


# --- Delivery ---------------------------------------------------------------

# Nothing planned (reminders, statements) reaches a customer at night, local time:
# such rows carry `quiet_tz` in their payload and wait for 08:00 when due at night.
QUIET_FROM = dt.time(20, 0)
QUIET_UNTIL = dt.time(8, 0)


def send_after(now: dt.datetime, tz: str) -> dt.datetime:
    """`now`, or 08:00 local when `now` falls in the quiet hours (20:00-08:00)."""
    local = now.astimezone(zone(tz))
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return now
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + dt.timedelta(1)
    return at_local(day, QUIET_UNTIL, tz)


def at_local(day: dt.date, time: dt.time, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, time, zone(tz)).astimezone(dt.UTC)


MAX_ATTEMPTS = 6
BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_CAP = dt.timedelta(hours=6)
LEASE = dt.timedelta(minutes=5)
# Channels where sending a message twice is harmless enough to retry a send that a
# stopped process may or may not have finished: email carries a fixed Message-ID,
# which mail systems use to drop a duplicate; a webhook carries its event id.
RESENDABLE = frozenset({"email", "webhook"})
OWNER_NOTICE = "owner_notice"
# The payload key counting a chat message's parts delivered by earlier attempts.
PARTS_SENT = "parts_sent"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class RenderedMessage:
    """A row of the outbox made ready for one channel: what a sender needs, no more.

    For WhatsApp, `template_required` says the customer has not written in the last
    24 hours, so the provider only accepts the approved `whatsapp_template` filled
    with `variables`.
    """

    outbox_id: int
    channel: str
    recipient: str
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    buttons: tuple[Button, ...] = ()
    whatsapp_template: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    template_required: bool = False
    message_id: str | None = None  # email: the same on every retry of the row
    # Parts (pieces of a long text, files) delivered by earlier attempts: a
    # chat sender starts after them.
    parts_sent: int = 0


class Sender(Protocol):
    """Delivers rendered messages on one channel; returns the provider's id.

    Raises `ProviderError(temporary=True)` when retrying later may work, and
    `ProviderError(temporary=False)` when it will not (a rejected address).
    """

    channel: str

    def send(self, message: RenderedMessage) -> str: ...


class LogSender:
    """Stands in for a channel without credentials: logs the message, sends nothing."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def send(self, message: RenderedMessage) -> str:
        log.info(
            "outbox message not sent: channel has no credentials",
            extra={
                "outbox_id": message.outbox_id,
                "channel": message.channel,
                "recipient": _masked(message.channel, message.recipient),
                "subject": message.subject,
                "text": message.text,
            },
        )
        return f"log-{message.outbox_id}"


@dataclass
class DeliveryCounts:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    uncertain: int = 0
    requeued: int = 0  # an email found mid-send after a crash, queued again
    deferred: int = 0  # a planned message due during the quiet hours

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4, 8... minutes after the first, second, third failure; at most 6 h."""
    delay = BACKOFF_BASE * (2 ** max(attempts - 1, 0))
    return min(delay, BACKOFF_CAP)


def deliver_pending(
    factory: sessionmaker[Session],
    *,
    senders: Mapping[str, Sender],
    now: dt.datetime,
    limit: int = 200,
    lease: dt.timedelta = LEASE,
    render: Callable[[Session, OutboundMessage, dt.datetime], RenderedMessage]
    | None = None,
    workers: int = 1,
) -> DeliveryCounts:
    """One delivery pass: recover rows a stopped process left, claim, send, record.

    Safe to run in any number of processes at once: a row is claimed by one pass
    (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional UPDATE on SQLite) and
    marked `sending`, committed, before its provider is called. With `workers`,
    the claimed rows are sent by that many threads (senders must allow it).
    """
    if render is None:
        from flows.render import render_outbound

        render = render_outbound
    counts = DeliveryCounts()
    recover_stalled(factory, now=now, counts=counts)

    token = secrets.token_hex(16)
    ids = claim(factory, token=token, now=now, limit=limit, lease=lease)
    counts.claimed = len(ids)

    def deliver(outbox_id: int) -> str | None:
        return _deliver_one(
            factory,
            outbox_id=outbox_id,
            token=token,
            senders=senders,
            now=now,
            lease=lease,
            render=render,
        )

    if workers > 1 and len(ids) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(deliver, ids))
    else:
        outcomes = [deliver(outbox_id) for outbox_id in ids]
    for outcome in outcomes:
        if outcome is not None:
            setattr(counts, outcome, getattr(counts, outcome) + 1)
    if ids:
        log.info("outbox pass done", extra=counts.as_dict())
    return counts


def claim(
    factory: sessionmaker[Session],
    *,
    token: str,
    now: dt.datetime,
    limit: int,
    lease: dt.timedelta = LEASE,
) -> list[int]:
    """Take up to `limit` due rows for this pass under a lease; returns their ids.

    A claimed row stays `pending` until its own send starts, so a pass that stops
    early leaves its unsent rows for the next pass once the lease runs out.
    """
    due = (
        select(OutboundMessage.id)
        .where(
            OutboundMessage.status == OutboxStatus.PENDING,
            OutboundMessage.next_attempt_at <= now,
            or_(
                OutboundMessage.claimed_until.is_(None),
                OutboundMessage.claimed_until < now,
            ),
        )
        .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id)
        .limit(limit)
    )
    with factory() as session, session.begin():
        if is_postgres(session):
            ids = list(session.scalars(due.with_for_update(skip_locked=True)))
            if not ids:
                return []
            condition = OutboundMessage.id.in_(ids)
        else:
            # SQLite has one writer at a time (BEGIN IMMEDIATE), so the
            # conditional UPDATE below is the whole claim.
            condition = OutboundMessage.id.in_(due.scalar_subquery())
        claimed = session.scalars(
            update(OutboundMessage)
            .where(
                condition,
                OutboundMessage.status == OutboxStatus.PENDING,
                or_(
                    OutboundMessage.claimed_until.is_(None),
                    OutboundMessage.claimed_until < now,
                ),
            )
            .values(claim_token=token, claimed_until=now + lease)
            .returning(OutboundMessage.id)
            .execution_options(synchronize_session=False)
        ).all()
    return sorted(claimed)


def _deliver_one(
    factory: sessionmaker[Session],
    *,
    outbox_id: int,
    token: str,
    senders: Mapping[str, Sender],
    now: dt.datetime,
    lease: dt.timedelta,
    render: Callable[[Session, OutboundMessage, dt.datetime], RenderedMessage],
) -> str | None:
    """Send one claimed row; returns the outcome's counter name, None if skipped.

    One session (one pooled connection) for the whole row, three short
    transactions: mark `sending`, call the provider outside any transaction,
    record the outcome only if this pass still holds the row.
    """
    with factory() as session:
        # Step 1: mark the row `sending` and commit before the provider hears of it.
        with session.begin():
            row = session.scalar(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id == outbox_id,
                    OutboundMessage.claim_token == token,
                    OutboundMessage.status == OutboxStatus.PENDING,
                )
                .values(
                    status=OutboxStatus.SENDING,
                    claimed_until=now + lease,
                    attempts=OutboundMessage.attempts + 1,
                )
                .returning(OutboundMessage)
                .execution_options(populate_existing=True)
            )
            if row is None:
                return None
            quiet_tz = (row.payload or {}).get("quiet_tz")
            if quiet_tz and (later := send_after(now, quiet_tz)) > now:
                # Due, but at night: back to the queue until 08:00, no attempt used.
                row.status = OutboxStatus.PENDING
                row.attempts -= 1
                row.next_attempt_at = later
                row.claim_token = None
                row.claimed_until = None
                return "deferred"
            error: ProviderError | None = None
            message: RenderedMessage | None = None
            try:
                message = render(session, row, now)
                if parts_sent := int((row.payload or {}).get(PARTS_SENT, 0)):
                    message = replace(message, parts_sent=parts_sent)
            except ProviderError as exc:
                error = exc
            except Exception as exc:  # a template or payload bug: no retry helps
                log.exception("outbox message could not be rendered")
                error = ProviderError(f"render: {exc}", temporary=False)
        session.expunge(row)

        # Step 2: the provider call, outside any transaction.
        provider_id: str | None = None
        if error is None and message is not None:
            provider_id, error = _send(senders, message)

        # Step 3: record the outcome, only if this pass still holds the row.
        outcome, values = _outcome(row, error, provider_id, now)
        with session.begin():
            held = session.scalar(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id == outbox_id,
                    OutboundMessage.claim_token == token,
                    OutboundMessage.status == OutboxStatus.SENDING,
                )
                .values(claim_token=None, claimed_until=None, **values)
                .returning(OutboundMessage.id)
                .execution_options(synchronize_session=False)
            )
            if held is None:
                log.warning(
                    "outbox row changed hands during its send",
                    extra={"outbox_id": outbox_id, "channel": row.channel},
                )
                return None
            if outcome in ("dead", "uncertain"):
                row.last_error = values["last_error"]
                notify_owner(session, row=row, kind=outcome, now=now)
    return outcome


def _send(
    senders: Mapping[str, Sender], message: RenderedMessage
) -> tuple[str | None, ProviderError | None]:
    sender = senders.get(message.channel)
    if sender is None:
        return None, ProviderError(f"no hay remitente para {message.channel}")
    try:
        return sender.send(message), None
    except ProviderError as exc:
        return None, exc
    except Exception as exc:  # an unexpected failure: retry, then dead
        log.exception("sender failed unexpectedly", extra={"channel": message.channel})
        return None, ProviderError(str(exc), temporary=True)


def _outcome(
    row: OutboundMessage,
    error: ProviderError | None,
    provider_id: str | None,
    now: dt.datetime,
) -> tuple[str, dict[str, Any]]:
    """What to write after a send: sent, retried later with backoff, dead, or
    uncertain (a chat message that may have gone out is not sent again)."""
    if error is None:
        return "sent", {
            "status": OutboxStatus.SENT,
            # A message finished by a retry keeps the id of its first part.
            "provider_id": row.provider_id or provider_id,
            "sent_at": now,
            "last_error": None,
        }
    values = _progress(row, error)
    outcome, more = _failure(row, error, now)
    return outcome, {**values, **more}


def _progress(row: OutboundMessage, error: ProviderError) -> dict[str, Any]:
    """What a failed attempt still delivered: a retry starts after those parts,
    and the row keeps the provider's id of its first part."""
    if not error.delivered:
        return {}
    payload = dict(row.payload or {})
    payload[PARTS_SENT] = int(payload.get(PARTS_SENT, 0)) + len(error.delivered)
    return {"payload": payload, "provider_id": row.provider_id or error.delivered[0]}


def _failure(
    row: OutboundMessage, error: ProviderError, now: dt.datetime
) -> tuple[str, dict[str, Any]]:
    last_error = error.message[:2000]
    if error.uncertain and row.channel not in RESENDABLE:
        # Sent, perhaps: a chat channel takes no idempotency key, so sending it
        # again could write to the person twice. The owner is told instead.
        log.warning(
            "outbox message may have been sent; not resent",
            extra={"outbox_id": row.id, "channel": row.channel},
        )
        return "uncertain", {
            "status": OutboxStatus.FAILED,
            "delivery_status": "uncertain",
            "last_error": last_error,
        }
    if (error.temporary or error.uncertain) and row.attempts < MAX_ATTEMPTS:
        log.info(
            "outbox send failed; will retry",
            extra={
                "outbox_id": row.id,
                "channel": row.channel,
                "attempts": row.attempts,
            },
        )
        return "retried", {
            "status": OutboxStatus.PENDING,
            "next_attempt_at": now + backoff(row.attempts),
            "last_error": last_error,
        }
    log.warning(
        "outbox message dead",
        extra={"outbox_id": row.id, "channel": row.channel, "attempts": row.attempts},
    )
    return "dead", {"status": OutboxStatus.DEAD, "last_error": last_error}


def recover_stalled(
    factory: sessionmaker[Session], *, now: dt.datetime, counts: DeliveryCounts
) -> None:
    """Rows left `sending` by a process that stopped: resend email, give up on chat.

    A row is `sending` from just before its provider call until its outcome is
    committed; when its lease has run out the process that held it is gone, and
    nobody knows whether the provider accepted the message.

    Email is queued again with the same Message-ID, so a mail system that did get
    it the first time can drop the copy: at least once, with a marker against
    duplicates.
    # Limitation: WhatsApp (Twilio) and Telegram take no idempotency key, so a
    # chat message caught mid-send is marked failed with `delivery_status`
    # "uncertain" and the owner is told, rather than risk writing to a customer
    # twice: at most once for those channels.
    """
    with factory() as session, session.begin():
        query = (
            select(OutboundMessage)
            .where(
                OutboundMessage.status == OutboxStatus.SENDING,
                OutboundMessage.claimed_until < now,
            )
            .order_by(OutboundMessage.id)
            .limit(500)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        for row in session.scalars(query):
            row.claim_token = None
            row.claimed_until = None
            if row.channel in RESENDABLE:
                row.status = OutboxStatus.PENDING
                row.next_attempt_at = now
                row.last_error = "reenviado: el proceso se detuvo durante el envío"
                counts.requeued += 1
                continue
            row.status = OutboxStatus.FAILED
            row.delivery_status = "uncertain"
            row.last_error = "incierto: el proceso se detuvo durante el envío"
            counts.uncertain += 1
            log.warning(
                "outbox message left mid-send; not resent",
                extra={"outbox_id": row.id, "channel": row.channel},
            )
            notify_owner(session, row=row, kind="uncertain", now=now)


def owner_address(session: Session, *, business_id: int) -> tuple[str, str] | None:
    """Where the owner hears from Cobra: WhatsApp, else Telegram, else email."""
    owners = session.scalars(
        select(User)
        .where(User.business_id == business_id, User.role == Role.OWNER)
        .order_by(User.id)
    ).all()
    for owner in owners:
        if owner.whatsapp:
            return "whatsapp", owner.whatsapp
    for owner in owners:
        if owner.telegram_user_id is not None:
            return "telegram", str(owner.telegram_user_id)
    for owner in owners:
        if owner.email:
            return "email", owner.email
    return None


def notify_owner(
    session: Session, *, row: OutboundMessage, kind: str, now: dt.datetime
) -> OutboundMessage | None:
    """Tell the owner a message could not be delivered (`dead` or `uncertain`)."""
    if row.template == OWNER_NOTICE or row.business_id is None:
        return None  # a notice about a notice would only loop
    address = owner_address(session, business_id=row.business_id)
    if address is None:
        return None
    channel, recipient = address
    return enqueue(
        session,
        business_id=row.business_id,
        channel=channel,
        recipient=recipient,
        template=OWNER_NOTICE,
        payload={
            "kind": kind,
            "outbox_id": row.id,
            "template": row.template,
            "channel": row.channel,
            "recipient": _masked(row.channel, row.recipient),
            "contact_name": (row.payload or {}).get("contact_name"),
            "error": (row.last_error or "")[:300],
        },
        dedupe_key=f"notice:{kind}:{row.id}",
        now=now,
    )


def _masked(channel: str, recipient: str) -> str:
    if channel == "whatsapp":
        return mask_phone(recipient)
    if channel == "email":
        local, _, domain = recipient.partition("@")
        return f"{local[:2]}…@{domain}"
    return recipient[:4] + "…"
