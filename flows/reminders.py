"""Reminders: which customers hear about which invoices today, and on which channel.

Planning is set-based: one streamed query finds every open invoice whose rule fires
in the day's window, and customers are enqueued in batches, one message a day per
customer and channel. Also the reminder sets themselves and the owner's digest.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import re
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    String,
    and_,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from flows import customer_side, payment_plans
from flows.audit import audit
from flows.business import portal_token, portal_url, set_flag
from flows.credit_notes import NoteLine, notes_by_invoice
from flows.errors import Conflict, InvalidInput, NotFound
from flows.fmt import local_date, zone
from flows.links import queue_to_customer
from flows.messages import Button
from flows.outbox import at_local, enqueue, enqueue_many, owner_address, send_after
from storage import repo
from storage.db import is_postgres
from storage.models import (
    Business,
    Contact,
    ContactKind,
    Direction,
    Dispute,
    Invoice,
    InvoiceStatus,
    OutboundMessage,
    OutboxStatus,
    PaymentReport,
    Promise,
    ReminderRule,
    ReminderRun,
    ReminderSet,
    invoice_label,
)

log = logging.getLogger(__name__)

PLAN_TIME = dt.time(9, 0)
# With the owner's digest on, reminders wait until this hour so the owner can hold
# them; "send now" releases them at once.
DIGEST_RELEASE = dt.time(10, 0)
# How far back a planning pass looks for triggers missed while Cobra was down.
CATCH_UP_DAYS = 31
MAX_LISTED = 20
MAX_ATTACHED = 5
# Threads writing a day's batches on PostgreSQL.
WRITERS = 4
EVENTS = ("issued", "due")
REMINDER = "reminder"
STATEMENT = "statement"
DIGEST = "owner_digest"


@dataclass
class PlanCounts:
    businesses: int = 0
    paused: int = 0
    customers: int = 0
    invoices: int = 0
    messages: int = 0
    duplicates: int = 0
    statements: int = 0
    digests: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


# --- How to pay -----------------------------------------------------------------


def how_to_pay(business: Business, contact: Contact) -> dict[str, Any] | None:
    """What reminders and statements show of `customer_side.how_to_pay`: the
    numeric SPEI reference only, never the RFC in its place."""
    way = customer_side.how_to_pay(business, contact)
    if way is None:
        return None
    return {
        "clabe": way.clabe,
        "bank": way.bank,
        "reference": None if way.virtual else customer_side.payment_reference(contact),
        "virtual": way.virtual,
    }


# --- Planning -------------------------------------------------------------------


def plan_reminders(
    factory: sessionmaker[Session],
    *,
    now: dt.datetime,
    public_base_url: str,
    portal_key: bytes,
    business_id: int | None = None,
    only_due: bool = False,
    batch_size: int = 500,
) -> PlanCounts:
    """One planning pass over every business (or one): reminders, statements, digest.

    With `only_due`, a business is planned only once its local time has reached
    09:00 and it has not been planned today: what the hourly scheduler tick uses,
    so a process that was down at 09:00 plans as soon as it is back.
    """
    counts = PlanCounts()
    with factory() as session:
        query = select(Business.id, Business.timezone).order_by(Business.id)
        if business_id is not None:
            query = query.where(Business.id == business_id)
        businesses = session.execute(query).all()
        if only_due:
            businesses = [
                b for b in businesses if _due_today(session, b.id, b.timezone, now)
            ]
    for row in businesses:
        plan_business(
            factory,
            business_id=row.id,
            now=now,
            public_base_url=public_base_url,
            portal_key=portal_key,
            batch_size=batch_size,
            counts=counts,
        )
    return counts


def _due_today(session: Session, business_id: int, tz: str, now: dt.datetime) -> bool:
    local = now.astimezone(zone(tz))
    if local.time() < PLAN_TIME:
        return False
    planned = session.scalar(
        select(ReminderRun.id).where(
            ReminderRun.business_id == business_id,
            ReminderRun.planned_on == local.date(),
            ReminderRun.finished_at.is_not(None),
        )
    )
    return planned is None


@dataclass
class _Day:
    """What one business's planning pass needs to know, read once."""

    business_id: int
    business_name: str
    timezone: str
    today: dt.date
    window_start: dt.date
    not_before: dt.datetime
    digest: bool
    run_id: int
    top: list[tuple[Decimal, int, str, str]] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    customers: int = 0
    messages: int = 0


def plan_business(
    factory: sessionmaker[Session],
    *,
    business_id: int,
    now: dt.datetime,
    public_base_url: str,
    portal_key: bytes,
    counts: PlanCounts,
    batch_size: int = 500,
) -> None:
    """Plan one business's day: open the run, enqueue reminders, statements, digest."""
    day = _open_run(factory, business_id=business_id, now=now, counts=counts)
    if day is None:
        return

    _enqueue_all(factory, day, now, public_base_url, portal_key, counts, batch_size)
    # Invoices in an accepted payment plan are reminded by their instalments.
    payment_plans.remind_instalments(
        factory, business_id=business_id, today=day.today, now=now
    )

    plan_statements(
        factory,
        day=day,
        now=now,
        public_base_url=public_base_url,
        portal_key=portal_key,
        counts=counts,
        batch_size=batch_size,
    )
    if day.digest and day.messages:
        _enqueue_digest(factory, day, now)
        counts.digests += 1

    with factory() as session, session.begin():
        run = session.get(ReminderRun, day.run_id)
        assert run is not None
        run.finished_at = now
        run.counts = {"customers": day.customers, "messages": day.messages}
    log.info(
        "reminders planned",
        extra={
            "business_id": business_id,
            "planned_on": day.today.isoformat(),
            "window_start": day.window_start.isoformat(),
            "customers": day.customers,
            "messages": day.messages,
        },
    )


def _open_run(
    factory: sessionmaker[Session],
    *,
    business_id: int,
    now: dt.datetime,
    counts: PlanCounts,
) -> _Day | None:
    """The day's run row: its window starts the day after the last day planned.

    A day missed while Cobra was down is not planned on its own: today's window
    reaches back to it, and an invoice whose triggers fell in those days is named
    once, in today's message (the most recent missed trigger wins).
    """
    with factory() as session, session.begin():
        business = session.get(Business, business_id)
        if business is None:
            raise NotFound("No encontré el negocio.")
        today = local_date(now, business.timezone)
        run = session.scalar(
            select(ReminderRun).where(
                ReminderRun.business_id == business_id,
                ReminderRun.planned_on == today,
            )
        )
        if run is None:
            last = session.scalar(
                select(func.max(ReminderRun.planned_on)).where(
                    ReminderRun.business_id == business_id,
                    ReminderRun.planned_on < today,
                )
            )
            start = today
            if last is not None:
                start = max(last + dt.timedelta(1), today - dt.timedelta(CATCH_UP_DAYS))
            run = _insert_run(session, business_id, today, start, now)
        counts.businesses += 1
        if business.reminders_paused:
            # The paused days count as planned, so resuming does not send a
            # catch-up of everything that fired meanwhile.
            run.finished_at = now
            run.counts = {"paused": True}
            counts.paused += 1
            return None
        not_before = send_after(now, business.timezone)
        if business.owner_digest:
            release = at_local(today, DIGEST_RELEASE, business.timezone)
            not_before = max(not_before, release)
        return _Day(
            business_id=business.id,
            business_name=business.name,
            timezone=business.timezone,
            today=today,
            window_start=run.window_start,
            not_before=not_before,
            digest=business.owner_digest,
            run_id=run.id,
        )


def _insert_run(
    session: Session,
    business_id: int,
    today: dt.date,
    start: dt.date,
    now: dt.datetime,
) -> ReminderRun:
    insert = pg_insert if is_postgres(session) else sqlite_insert
    session.execute(
        insert(ReminderRun)
        .values(
            business_id=business_id,
            planned_on=today,
            window_start=start,
            started_at=now,
            counts={},
        )
        .on_conflict_do_nothing(index_elements=["business_id", "planned_on"])
    )
    run = session.scalar(
        select(ReminderRun).where(
            ReminderRun.business_id == business_id, ReminderRun.planned_on == today
        )
    )
    assert run is not None
    return run


@dataclass
class _Line:
    invoice_id: int
    label: str
    currency: str
    total: Decimal
    balance: Decimal
    issue_date: dt.date
    due_date: dt.date
    event: str
    trigger: dt.date
    email: bool
    whatsapp: bool
    has_xml: bool
    wording: str | None


@dataclass
class _Customer:
    contact_id: int
    email: bool
    whatsapp: bool
    lines: list[_Line]


def held_invoice(today: dt.date) -> Any:
    """SQL: the invoice's reminders are held today (a promise, dispute or report)."""
    promise = exists().where(
        Promise.contact_id == Invoice.contact_id,
        Promise.status == "open",
        Promise.promised_on >= today,
        or_(Promise.invoice_id.is_(None), Promise.invoice_id == Invoice.id),
    )
    dispute = exists().where(
        Dispute.contact_id == Invoice.contact_id,
        Dispute.status == "open",
        or_(Dispute.invoice_id.is_(None), Dispute.invoice_id == Invoice.id),
    )
    report = exists().where(
        PaymentReport.contact_id == Invoice.contact_id,
        PaymentReport.status == "pending",
        or_(PaymentReport.hold_until.is_(None), PaymentReport.hold_until >= today),
        or_(PaymentReport.invoice_id.is_(None), PaymentReport.invoice_id == Invoice.id),
    )
    return or_(promise, dispute, report)


def _due_customers(factory: sessionmaker[Session], day: _Day) -> Iterator[_Customer]:
    """Stream the customers with at least one invoice to remind, one at a time.

    One query over the business's open receivables: an invoice fires when one of
    its customer's rules lands in the window (the rule's offset is moved onto the
    window, so each rule is a plain date range an index can serve). Rows come
    ordered by customer, so memory holds one customer at a time.
    """
    with factory() as session:
        rules = session.execute(
            select(ReminderRule.id, ReminderRule.event, ReminderRule.offset_days)
            .join(ReminderSet, ReminderSet.id == ReminderRule.reminder_set_id)
            .where(ReminderSet.business_id == day.business_id)
        ).all()
        if not rules:
            return
        fires = []
        for rule in rules:
            base = Invoice.issue_date if rule.event == "issued" else Invoice.due_date
            low = day.window_start - dt.timedelta(rule.offset_days)
            high = day.today - dt.timedelta(rule.offset_days)
            fires.append(and_(ReminderRule.id == rule.id, base.between(low, high)))

        email_ok = and_(
            Contact.email_reminders.is_(True),
            Contact.emails.is_not(None),
            Contact.emails != "",
        )
        whatsapp_ok = and_(
            Contact.whatsapp_reminders.is_(True),
            Contact.whatsapp_opted_out.is_(False),
            Contact.whatsapp.is_not(None),
        )
        query = (
            select(
                Invoice.contact_id,
                Invoice.id,
                Invoice.series,
                Invoice.folio,
                Invoice.uuid,
                Invoice.currency,
                Invoice.total,
                Invoice.balance,
                Invoice.issue_date,
                Invoice.due_date,
                Invoice.xml.is_not(None).label("has_xml"),
                ReminderRule.event,
                ReminderRule.offset_days,
                ReminderRule.email,
                ReminderRule.whatsapp,
                ReminderRule.wording,
                email_ok.label("email_ok"),
                whatsapp_ok.label("whatsapp_ok"),
            )
            .join(Contact, Contact.id == Invoice.contact_id)
            .join(ReminderRule, ReminderRule.reminder_set_id == Contact.reminder_set_id)
            .where(
                Invoice.business_id == day.business_id,
                Invoice.direction == Direction.RECEIVABLE,
                Invoice.status == InvoiceStatus.PENDING,
                Invoice.balance > 0,
                Contact.reminders_enabled.is_(True),
                or_(email_ok, whatsapp_ok),
                or_(*fires),
                ~held_invoice(day.today),
                ~payment_plans.planned_invoice(),
            )
            .order_by(Invoice.contact_id, Invoice.due_date, Invoice.id)
            .execution_options(yield_per=2000)
        )
        rows: Iterable[Any] = session.execute(query)
        if not is_postgres(session):
            # Limitation: SQLite has one writer and every transaction here takes
            # the write lock, so the day's rows are read whole before the batches
            # write; memory then grows with the day's reminders. PostgreSQL
            # streams them through a server-side cursor instead.
            rows = list(rows)
            session.close()
        current: _Customer | None = None
        by_invoice: dict[int, _Line] = {}
        for row in rows:
            if current is None or row.contact_id != current.contact_id:
                if current is not None:
                    current.lines = list(by_invoice.values())
                    yield current
                current = _Customer(row.contact_id, row.email_ok, row.whatsapp_ok, [])
                by_invoice = {}
            base = row.issue_date if row.event == "issued" else row.due_date
            line = _Line(
                invoice_id=row.id,
                label=invoice_label(row.series, row.folio, row.uuid, row.id),
                currency=row.currency,
                total=row.total,
                balance=row.balance,
                issue_date=row.issue_date,
                due_date=row.due_date,
                event=row.event,
                trigger=base + dt.timedelta(row.offset_days),
                email=row.email,
                whatsapp=row.whatsapp,
                has_xml=bool(row.has_xml),
                wording=row.wording,
            )
            earlier = by_invoice.get(row.id)
            if earlier is None or line.trigger > earlier.trigger:
                by_invoice[row.id] = line
        if current is not None:
            current.lines = list(by_invoice.values())
            yield current


def _kind(line: _Line, today: dt.date) -> str:
    if line.due_date < today:
        return "overdue"
    if line.due_date == today:
        return "due"
    if line.event == "issued" and line.trigger == today:
        return "issued"
    return "before"


def _invoice_item(line: _Line, today: dt.date) -> dict[str, Any]:
    return {
        "id": line.invoice_id,
        "label": line.label,
        "currency": line.currency,
        "total": str(line.total),
        "balance": str(line.balance),
        "issue_date": line.issue_date.isoformat(),
        "due_date": line.due_date.isoformat(),
        "kind": _kind(line, today),
        "days": abs((today - line.due_date).days),
    }


def _add_credit_notes(item: dict[str, Any], notes: Sequence[NoteLine]) -> None:
    """A listed invoice carries the credit notes applied to it, when it has any."""
    if notes:
        item["credit_notes"] = [note.as_payload() for note in notes]


def _totals(pairs: Iterable[tuple[str, Decimal]]) -> list[dict[str, str]]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in pairs:
        sums[currency] += amount
    return [{"currency": c, "amount": str(a)} for c, a in sorted(sums.items())]


def _enqueue_all(
    factory: sessionmaker[Session],
    day: _Day,
    now: dt.datetime,
    public_base_url: str,
    portal_key: bytes,
    counts: PlanCounts,
    batch_size: int,
) -> None:
    """Stream the day's customers into batches, written by a few threads at once.

    At most two batches per thread wait at a time, so memory stays flat however
    many customers the day has. SQLite, with its one writer, uses one thread.
    """
    with factory() as session:
        workers = WRITERS if is_postgres(session) else 1
    in_flight: deque[Future[_BatchResult]] = deque()

    def collect(future: Future[_BatchResult]) -> None:
        result = future.result()
        counts.customers += result.customers
        counts.invoices += result.invoices
        counts.messages += result.messages
        counts.duplicates += result.duplicates
        day.customers += result.customers
        day.messages += result.messages
        for currency, amount in result.totals.items():
            day.totals[currency] += amount
        for item in result.largest:
            if len(day.top) < 5:
                heapq.heappush(day.top, item)
            else:
                heapq.heappushpop(day.top, item)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        batch: list[_Customer] = []
        for customer in _due_customers(factory, day):
            batch.append(customer)
            if len(batch) < batch_size:
                continue
            in_flight.append(
                pool.submit(
                    _enqueue_reminders,
                    factory,
                    day,
                    batch,
                    now,
                    public_base_url,
                    portal_key,
                )
            )
            batch = []
            while len(in_flight) >= 2 * workers:
                collect(in_flight.popleft())
        if batch:
            in_flight.append(
                pool.submit(
                    _enqueue_reminders,
                    factory,
                    day,
                    batch,
                    now,
                    public_base_url,
                    portal_key,
                )
            )
        while in_flight:
            collect(in_flight.popleft())


@dataclass
class _BatchResult:
    customers: int = 0
    invoices: int = 0
    messages: int = 0
    duplicates: int = 0
    totals: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    # The batch's own five largest customers: (amount, order, name, currency).
    largest: list[tuple[Decimal, int, str, str]] = field(default_factory=list)


def _enqueue_reminders(
    factory: sessionmaker[Session],
    day: _Day,
    batch: Sequence[_Customer],
    now: dt.datetime,
    public_base_url: str,
    portal_key: bytes,
) -> _BatchResult:
    """One transaction per batch: portal links, payloads, and the outbox rows."""
    result = _BatchResult()
    with factory() as session, session.begin():
        business = session.get(Business, day.business_id)
        assert business is not None
        ids = [c.contact_id for c in batch]
        contacts = {
            c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(ids)))
        }
        # One query for the batch's credit notes, listed under their invoices.
        notes = notes_by_invoice(
            session,
            business_id=day.business_id,
            invoice_ids=[line.invoice_id for c in batch for line in c.lines],
        )
        rows: list[dict[str, Any]] = []
        for customer in batch:
            contact = contacts[customer.contact_id]
            lines = sorted(customer.lines, key=lambda x: (x.due_date, x.invoice_id))
            payload = _reminder_payload(
                session,
                day,
                business,
                contact,
                lines,
                now,
                public_base_url,
                portal_key,
                notes,
            )
            channels = []
            if customer.email and any(line.email for line in lines):
                channels.append(("email", ", ".join(contact.email_list)[:255]))
            if customer.whatsapp and any(line.whatsapp for line in lines):
                channels.append(("whatsapp", contact.whatsapp or ""))
            for channel, recipient in channels:
                rows.append(
                    {
                        "business_id": day.business_id,
                        "contact_id": contact.id,
                        "channel": channel,
                        "recipient": recipient,
                        "template": REMINDER,
                        "payload": _for_channel(payload, lines, channel),
                        "dedupe_key": reminder_key(contact.id, day.today, channel),
                        "now": now,
                        "not_before": day.not_before,
                    }
                )
            result.customers += 1
            result.invoices += len(lines)
            _track_largest(result, contact.id, contact.name, lines)
        result.messages = enqueue_many(session, rows)
        result.duplicates = len(rows) - result.messages
    return result


def reminder_key(contact_id: int, day: dt.date, channel: str) -> str:
    """At most one reminder a day per customer and channel."""
    return f"reminder:{contact_id}:{day.isoformat()}:{channel}"


def _reminder_payload(
    session: Session,
    day: _Day,
    business: Business,
    contact: Contact,
    lines: Sequence[_Line],
    now: dt.datetime,
    public_base_url: str,
    portal_key: bytes,
    notes: Mapping[int, Sequence[NoteLine]],
) -> dict[str, Any]:
    token = portal_token(session, contact=contact, key=portal_key, now=now)
    listed = lines[:MAX_LISTED]
    wording = next((line.wording for line in lines if line.wording), None)
    items = [_invoice_item(line, day.today) for line in listed]
    for item in items:
        _add_credit_notes(item, notes.get(item["id"], ()))
    return {
        "business_name": business.name,
        "contact_name": contact.display_name,
        "today": day.today.isoformat(),
        "invoices": items,
        "more": len(lines) - len(listed),
        "totals": _totals((line.currency, line.balance) for line in lines),
        "pay": how_to_pay(business, contact),
        "portal_url": portal_url(public_base_url, token),
        "wording": wording,
        "quiet_tz": day.timezone,
    }


def _for_channel(
    payload: dict[str, Any], lines: Sequence[_Line], channel: str
) -> dict[str, Any]:
    """Email carries the XML of invoices announced today as new."""
    if channel != "email":
        return payload
    new = [
        line.invoice_id
        for line in lines
        if line.event == "issued" and line.has_xml and line.trigger == line.issue_date
    ]
    if not new:
        return payload
    return {**payload, "attach_invoice_ids": new[:MAX_ATTACHED]}


def _track_largest(
    result: _BatchResult, order: int, name: str, lines: Sequence[_Line]
) -> None:
    """The digest's totals and five largest customers, in constant memory."""
    by_currency: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        by_currency[line.currency] += line.balance
        result.totals[line.currency] += line.balance
    currency, amount = max(by_currency.items(), key=lambda kv: kv[1])
    item = (amount, order, name, currency)
    if len(result.largest) < 5:
        heapq.heappush(result.largest, item)
    else:
        heapq.heappushpop(result.largest, item)


# --- Statements ---------------------------------------------------------------


def plan_statements(
    factory: sessionmaker[Session],
    *,
    day: _Day,
    now: dt.datetime,
    public_base_url: str,
    portal_key: bytes,
    counts: PlanCounts,
    batch_size: int = 500,
) -> None:
    """An account statement by email every N days (the set's) while there is a balance.

    The first one comes N days after the customer was added. A customer who gets a
    reminder today gets the statement on the next day without one.
    """
    with factory() as session:
        sets = session.execute(
            select(ReminderSet.id, ReminderSet.statement_every_days).where(
                ReminderSet.business_id == day.business_id,
                ReminderSet.statement_every_days.is_not(None),
                ReminderSet.statement_every_days > 0,
            )
        ).all()
        if not sets:
            return
        due = []
        for s in sets:
            every = dt.timedelta(days=s.statement_every_days)
            due.append(
                and_(
                    Contact.reminder_set_id == s.id,
                    or_(
                        Contact.last_statement_on <= day.today - every,
                        and_(
                            Contact.last_statement_on.is_(None),
                            Contact.created_at <= now - every,
                        ),
                    ),
                )
            )
        has_balance = exists().where(
            Invoice.contact_id == Contact.id,
            Invoice.direction == Direction.RECEIVABLE,
            Invoice.status == InvoiceStatus.PENDING,
            Invoice.balance > 0,
        )
        reminded_key = (
            literal("reminder:")
            + cast(Contact.id, String)
            + literal(f":{day.today.isoformat()}:email")
        )
        reminded = exists().where(OutboundMessage.dedupe_key == reminded_key)
        query = (
            select(Contact.id)
            .where(
                Contact.business_id == day.business_id,
                Contact.kind == ContactKind.CUSTOMER,
                Contact.reminders_enabled.is_(True),
                Contact.email_reminders.is_(True),
                Contact.emails.is_not(None),
                Contact.emails != "",
                or_(*due),
                has_balance,
                ~reminded,
            )
            .order_by(Contact.id)
            .execution_options(yield_per=5000)
        )
        contact_ids: Iterable[int] = session.scalars(query)
        if not is_postgres(session):
            contact_ids = list(contact_ids)  # one writer: read first (see above)
            session.close()
        batch: list[int] = []
        for contact_id in contact_ids:
            batch.append(contact_id)
            if len(batch) >= batch_size:
                _enqueue_statements(
                    factory, day, batch, now, public_base_url, portal_key, counts
                )
                batch = []
        _enqueue_statements(
            factory, day, batch, now, public_base_url, portal_key, counts
        )


def _enqueue_statements(
    factory: sessionmaker[Session],
    day: _Day,
    contact_ids: Sequence[int],
    now: dt.datetime,
    public_base_url: str,
    portal_key: bytes,
    counts: PlanCounts,
) -> None:
    if not contact_ids:
        return
    with factory() as session, session.begin():
        business = session.get(Business, day.business_id)
        assert business is not None
        contacts = session.scalars(
            select(Contact).where(Contact.id.in_(contact_ids)).order_by(Contact.id)
        ).all()
        # Plain rows, not ORM objects: a statement can list many invoices.
        invoices: dict[int, list[Any]] = defaultdict(list)
        open_rows = session.execute(
            select(
                Invoice.contact_id,
                Invoice.id,
                Invoice.series,
                Invoice.folio,
                Invoice.uuid,
                Invoice.currency,
                Invoice.balance,
                Invoice.due_date,
            )
            .where(
                Invoice.contact_id.in_(contact_ids),
                Invoice.direction == Direction.RECEIVABLE,
                Invoice.status == InvoiceStatus.PENDING,
                Invoice.balance > 0,
            )
            .order_by(Invoice.contact_id, Invoice.due_date, Invoice.id)
        )
        for invoice in open_rows:
            invoices[invoice.contact_id].append(invoice)
        notes = notes_by_invoice(
            session,
            business_id=business.id,
            invoice_ids=[i.id for rows in invoices.values() for i in rows[:MAX_LISTED]],
        )
        rows = []
        for contact in contacts:
            token = portal_token(session, contact=contact, key=portal_key, now=now)
            open_invoices = invoices[contact.id]
            payload = statement_payload(
                business,
                contact,
                open_invoices,
                today=day.today,
                portal=portal_url(public_base_url, token),
                notes=notes,
            )
            payload["quiet_tz"] = day.timezone
            rows.append(
                {
                    "business_id": business.id,
                    "contact_id": contact.id,
                    "channel": "email",
                    "recipient": ", ".join(contact.email_list)[:255],
                    "template": STATEMENT,
                    "payload": payload,
                    "dedupe_key": f"statement:{contact.id}:{day.today.isoformat()}",
                    "now": now,
                    "not_before": day.not_before,
                }
            )
            contact.last_statement_on = day.today
        counts.statements += enqueue_many(session, rows)


def statement_payload(
    business: Business,
    contact: Contact,
    invoices: Sequence[Any],
    *,
    today: dt.date,
    portal: str | None,
    notes: Mapping[int, Sequence[NoteLine]] | None = None,
) -> dict[str, Any]:
    """What a statement shows: open invoices, totals, what is overdue, how to pay.

    `invoices` are the customer's open receivables, `Invoice` rows or plain rows
    with the same column names; `notes` the credit notes applied to them
    (`flows.credit_notes.notes_by_invoice`), listed under each.

    # Limitation: a statement is an HTML email or a WhatsApp text; there is no
    # PDF of it, to keep heavy rendering dependencies out of Cobra.
    """
    items = []
    for invoice in invoices[:MAX_LISTED]:
        note = "vencida" if invoice.due_date < today else None
        items.append(
            {
                "label": invoice_label(
                    invoice.series, invoice.folio, invoice.uuid, invoice.id
                ),
                "currency": invoice.currency,
                "balance": str(invoice.balance),
                "due_date": invoice.due_date.isoformat(),
                "note": note,
            }
        )
        _add_credit_notes(items[-1], (notes or {}).get(invoice.id, ()))
    return {
        "business_name": business.name,
        "contact_name": contact.display_name,
        "today": today.isoformat(),
        "invoices": items,
        "more": max(len(invoices) - MAX_LISTED, 0),
        "totals": _totals((i.currency, i.balance) for i in invoices),
        "overdue": _totals(
            (i.currency, i.balance) for i in invoices if i.due_date < today
        ),
        "pay": how_to_pay(business, contact),
        "portal_url": portal,
    }


@dataclass(frozen=True)
class SentStatement:
    """A statement sent on request: what it showed and where it went."""

    totals: list[dict[str, Any]]
    overdue: list[dict[str, Any]]
    channels: list[str]
    queued: int  # 0 when every channel already had today's
    not_before: dt.datetime


def send_statement_now(
    session: Session,
    *,
    contact: Contact,
    public_base_url: str,
    portal_key: bytes,
    actor: str,
    channel: str,
    now: dt.datetime,
    only: str | None = None,
) -> SentStatement | None:
    """The customer's statement (open invoices, what is overdue, how to pay, the
    portal link), queued to every channel they can be written on, or to the
    `only` one: a reminder the owner asks for. Once a day per address; in the
    quiet hours it waits for the morning. None when the customer owes nothing."""
    business = session.get(Business, contact.business_id)
    assert business is not None
    invoices = repo.open_invoices(
        session,
        business_id=contact.business_id,
        direction=Direction.RECEIVABLE,
        contact_id=contact.id,
    )
    if not invoices:
        return None
    today = local_date(now, business.timezone)
    token = portal_token(session, contact=contact, key=portal_key, now=now)
    payload = statement_payload(
        business,
        contact,
        invoices,
        today=today,
        portal=portal_url(public_base_url, token),
        notes=notes_by_invoice(
            session,
            business_id=business.id,
            invoice_ids=[i.id for i in invoices[:MAX_LISTED]],
        ),
    )
    not_before = send_after(now, business.timezone)
    queued = queue_to_customer(
        session,
        contact=contact,
        template=STATEMENT,
        payload=payload,
        key=f"statement_asked:{contact.id}",
        day=today,
        now=now,
        not_before=not_before,
        only=only,
    )
    used = queued.channels
    if queued.new:
        audit(
            session,
            business_id=business.id,
            actor=actor,
            channel=channel,
            action="statement.sent",
            subject=f"contact:{contact.id}",
            data={"channels": used},
            now=now,
        )
    return SentStatement(
        payload["totals"], payload["overdue"], used, queued.new, not_before
    )


# --- The owner's digest ---------------------------------------------------------


def digest_buttons(day: dt.date) -> tuple[Button, ...]:
    """The digest's buttons; the payloads come back to the conversation."""
    stamp = day.isoformat()
    return (
        Button("Enviar ya", f"reminders:send:{stamp}"),
        Button("Revisar", f"reminders:review:{stamp}"),
        Button("Detener hoy", f"reminders:hold:{stamp}"),
    )


def _enqueue_digest(
    factory: sessionmaker[Session], day: _Day, now: dt.datetime
) -> None:
    with factory() as session, session.begin():
        address = owner_address(session, business_id=day.business_id)
        if address is None:
            return
        channel, recipient = address
        top = sorted(day.top, reverse=True)
        send_at = day.not_before.astimezone(zone(day.timezone)).strftime("%H:%M")
        enqueue(
            session,
            business_id=day.business_id,
            channel=channel,
            recipient=recipient,
            template=DIGEST,
            payload={
                "business_name": day.business_name,
                "today": day.today.isoformat(),
                "messages": day.messages,
                "customers": day.customers,
                "totals": _totals(day.totals.items()),
                "top": [
                    {"name": name, "amount": str(amount), "currency": currency}
                    for amount, _, name, currency in top
                ],
                "more": max(day.customers - len(top), 0),
                "send_at": send_at,
                "buttons": [
                    {"title": b.title, "payload": b.payload}
                    for b in digest_buttons(day.today)
                ],
            },
            dedupe_key=f"digest:{day.business_id}:{day.today.isoformat()}",
            now=now,
            not_before=send_after(now, day.timezone),
        )


def _todays_reminders(business_id: int, day: dt.date) -> Any:
    return and_(
        OutboundMessage.business_id == business_id,
        OutboundMessage.template == REMINDER,
        OutboundMessage.status == OutboxStatus.PENDING,
        OutboundMessage.dedupe_key.like(f"reminder:%:{day.isoformat()}:%"),
    )


def release_reminders(
    session: Session, *, business: Business, day: dt.date, now: dt.datetime
) -> int:
    """The digest's "send now": today's held-back reminders go on the next pass."""
    when = send_after(now, business.timezone)
    result = session.execute(
        update(OutboundMessage)
        .where(_todays_reminders(business.id, day), OutboundMessage.attempts == 0)
        .values(next_attempt_at=when)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def hold_reminders(
    session: Session,
    *,
    business: Business,
    day: dt.date,
    now: dt.datetime,
    actor: str,
    channel: str,
) -> int:
    """The digest's "hold": today's reminders not yet sent are skipped."""
    result = session.execute(
        update(OutboundMessage)
        .where(
            _todays_reminders(business.id, day),
            OutboundMessage.claimed_until.is_(None),
        )
        .values(status=OutboxStatus.SKIPPED, last_error="detenido por el negocio")
        .execution_options(synchronize_session=False)
    )
    held = int(result.rowcount or 0)  # type: ignore[attr-defined]
    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="reminders.held",
        subject=f"business:{business.id}",
        data={"day": day.isoformat(), "messages": held},
        now=now,
    )
    return held


def review_reminders(
    session: Session, *, business: Business, day: dt.date, limit: int = 30
) -> list[dict[str, Any]]:
    """The digest's "review": who gets what today (customer, channel, totals)."""
    rows = session.execute(
        select(OutboundMessage.channel, OutboundMessage.payload)
        .where(_todays_reminders(business.id, day))
        .order_by(OutboundMessage.id)
        .limit(limit)
    ).all()
    return [
        {
            "contact_name": row.payload.get("contact_name"),
            "channel": row.channel,
            "totals": row.payload.get("totals", []),
            "invoices": [i["label"] for i in row.payload.get("invoices", [])],
        }
        for row in rows
    ]


# --- Reminder sets -------------------------------------------------------------

RULE_RE = re.compile(r"^(issued|emitida|due|vence)?\s*([+-]?\d{1,3})$")


@dataclass(frozen=True)
class RuleSpec:
    event: str  # "issued" or "due"
    offset_days: int


def parse_rules(text: str) -> list[RuleSpec]:
    """`issued+0, due-3, due+0, +7` (a bare offset is from the due date)."""
    specs: list[RuleSpec] = []
    for part in re.split(r"[,\s]+", text.strip().lower()):
        if not part:
            continue
        match = RULE_RE.match(part)
        if match is None:
            raise InvalidInput(
                f"«{part}» no es una regla: usa por ejemplo issued+0, due-3 o due+7."
            )
        word, days = match.groups()
        event = "issued" if word in ("issued", "emitida") else "due"
        offset = int(days)
        if not -60 <= offset <= 365:
            raise InvalidInput("Los días de una regla van de -60 a 365.")
        spec = RuleSpec(event, offset)
        if spec not in specs:
            specs.append(spec)
    if not specs:
        raise InvalidInput("Indica al menos una regla, por ejemplo due+0.")
    return specs


def create_reminder_set(
    session: Session,
    *,
    business: Business,
    name: str,
    rules: Sequence[RuleSpec],
    now: dt.datetime,
    actor: str,
    channel: str,
    email: bool = True,
    whatsapp: bool = True,
    statement_every_days: int | None = 14,
    wording: str | None = None,
    make_default: bool = False,
) -> ReminderSet:
    """A set of the owner's own: which events, how many days, channels and wording."""
    name = name.strip()
    if not name:
        raise InvalidInput("El conjunto de recordatorios necesita un nombre.")
    if statement_every_days is not None and not 0 <= statement_every_days <= 365:
        raise InvalidInput("El estado de cuenta va cada 1 a 365 días (0: nunca).")
    existing = reminder_set_by_name(session, business=business, name=name)
    if existing is not None:
        raise Conflict(f"Ya existe un conjunto de recordatorios llamado «{name}».")
    reminder_set = ReminderSet(
        business_id=business.id,
        name=name,
        is_default=False,
        # 0, not NULL, for "never": the column's default (14) would fill a NULL.
        statement_every_days=statement_every_days or 0,
        rules=[
            ReminderRule(
                event=rule.event,
                offset_days=rule.offset_days,
                email=email,
                whatsapp=whatsapp,
                wording=wording,
            )
            for rule in rules
        ],
    )
    session.add(reminder_set)
    session.flush()
    if make_default:
        set_default_reminder_set(session, business=business, reminder_set=reminder_set)
    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="reminder_set.created",
        subject=f"reminder_set:{reminder_set.id}",
        data={"name": name, "rules": [f"{r.event}{r.offset_days:+d}" for r in rules]},
        now=now,
    )
    return reminder_set


def set_default_reminder_set(
    session: Session, *, business: Business, reminder_set: ReminderSet
) -> None:
    """New customers get this set from now on; existing ones keep theirs."""
    session.execute(
        update(ReminderSet)
        .where(ReminderSet.business_id == business.id)
        .values(is_default=False)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    reminder_set.is_default = True
    session.flush()


def reminder_set_by_name(
    session: Session, *, business: Business, name: str
) -> ReminderSet | None:
    return session.scalar(
        select(ReminderSet).where(
            ReminderSet.business_id == business.id,
            func.lower(ReminderSet.name) == name.strip().lower(),
        )
    )


def reminder_sets(session: Session, *, business: Business) -> list[dict[str, Any]]:
    """Each set with its rules and how many customers use it."""
    sets = session.scalars(
        select(ReminderSet)
        .where(ReminderSet.business_id == business.id)
        .order_by(ReminderSet.id)
    ).all()
    users = dict(
        session.execute(
            select(Contact.reminder_set_id, func.count())
            .where(Contact.business_id == business.id)
            .group_by(Contact.reminder_set_id)
        ).all()
    )
    return [
        {
            "name": s.name,
            "default": s.is_default,
            "statement_every_days": s.statement_every_days,
            "rules": [f"{r.event}{r.offset_days:+d}" for r in s.rules],
            "customers": users.get(s.id, 0),
        }
        for s in sets
    ]


def assign_reminder_set(
    session: Session,
    *,
    business: Business,
    reminder_set: ReminderSet,
    contacts: Sequence[Contact],
    now: dt.datetime,
    actor: str,
    channel: str,
) -> int:
    """Customers who follow `reminder_set` from their next planning pass."""
    if reminder_set.business_id != business.id:
        raise NotFound("No encontré ese conjunto de recordatorios.")
    for contact in contacts:
        if contact.business_id != business.id or contact.kind != ContactKind.CUSTOMER:
            raise NotFound("Sólo se asignan recordatorios a clientes del negocio.")
        contact.reminder_set_id = reminder_set.id
    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="reminder_set.assigned",
        subject=f"reminder_set:{reminder_set.id}",
        data={"contacts": [c.id for c in contacts]},
        now=now,
    )
    return len(contacts)


def set_owner_digest(
    session: Session,
    *,
    business: Business,
    enabled: bool,
    now: dt.datetime,
    actor: str,
    channel: str,
) -> None:
    """The owner's morning digest on or off; with it on, reminders wait until 10:00."""
    set_flag(
        session,
        target=business,
        flag="owner_digest",
        value=enabled,
        action="reminders.digest",
        actor=actor,
        channel=channel,
        now=now,
    )
