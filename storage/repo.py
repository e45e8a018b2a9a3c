"""Query functions over Cobra's tables.

Each takes the session and keyword arguments and never commits: the flow that calls
it owns the transaction. Each filters by business, except the lookups that find out
which business a message is for (by phone, Telegram id, sender or provider id).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    Table,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from storage.db import run_core
from storage.models import (
    Business,
    Contact,
    ContactKind,
    Conversation,
    InboundMessage,
    Invoice,
    InvoiceStatus,
    Payment,
    User,
)

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


def business_by_rfc(session: Session, *, rfc: str) -> Business | None:
    return session.scalar(select(Business).where(Business.rfc == rfc.upper()))


def business_by_id(session: Session, *, business_id: int) -> Business | None:
    return session.get(Business, business_id)


def users_by_whatsapp(session: Session, *, phone: str) -> Sequence[User]:
    return session.scalars(
        select(User).where(User.whatsapp == phone).order_by(User.id)
    ).all()


def users_by_telegram(session: Session, *, telegram_user_id: int) -> Sequence[User]:
    return session.scalars(
        select(User).where(User.telegram_user_id == telegram_user_id).order_by(User.id)
    ).all()


def users_of(
    session: Session, *, business_id: int, role: str | None = None
) -> Sequence[User]:
    query = select(User).where(User.business_id == business_id)
    if role:
        query = query.where(User.role == role)
    return session.scalars(query.order_by(User.id)).all()


def contacts_by_whatsapp(session: Session, *, phone: str) -> Sequence[Contact]:
    return session.scalars(
        select(Contact).where(Contact.whatsapp == phone).order_by(Contact.id)
    ).all()


def contact_by_rfc(
    session: Session, *, business_id: int, rfc: str, kind: str | None = None
) -> Contact | None:
    query = select(Contact).where(
        Contact.business_id == business_id, Contact.rfc == rfc.upper()
    )
    if kind:
        query = query.where(Contact.kind == kind)
    return session.scalars(query.order_by(Contact.id)).first()


def contact_by_key(
    session: Session, *, business_id: int, kind: str, key: str
) -> Contact | None:
    return session.scalar(
        select(Contact).where(
            Contact.business_id == business_id,
            Contact.kind == kind,
            Contact.match_key == key,
        )
    )


def contacts_of(
    session: Session, *, business_id: int, kind: str | None = None
) -> Sequence[Contact]:
    query = select(Contact).where(Contact.business_id == business_id)
    if kind:
        query = query.where(Contact.kind == kind)
    return session.scalars(query.order_by(Contact.name)).all()


def next_contact_sequence(session: Session, *, business_id: int) -> int:
    current = session.scalar(
        select(func.max(Contact.sequence)).where(Contact.business_id == business_id)
    )
    return (current or 0) + 1


def open_invoices(
    session: Session,
    *,
    business_id: int,
    direction: str,
    contact_id: int | None = None,
    include_hidden: bool = True,
    overdue_on: dt.date | None = None,
    due_until: dt.date | None = None,
    limit: int | None = None,
    for_update: bool = False,
) -> Sequence[Invoice]:
    """Open invoices, oldest due first; `overdue_on` keeps those due before it."""
    query = _open_invoices_statement(
        contact_id is not None,
        include_hidden,
        overdue_on is not None,
        due_until is not None,
        bool(limit),
        for_update,
    )
    values = {
        "business_id": business_id,
        "direction": direction,
        "contact_id": contact_id,
        "overdue_on": overdue_on,
        "due_until": due_until,
        "limit": limit,
    }
    return session.scalars(query, values).all()


@functools.cache
def _open_invoices_statement(
    by_contact: bool,
    include_hidden: bool,
    overdue: bool,
    due_until: bool,
    limited: bool,
    for_update: bool,
) -> Select[Invoice]:
    """`open_invoices`'s query for one combination of its filters, built once:
    building its clauses cost more than running it."""
    query = select(Invoice).where(
        Invoice.business_id == bindparam("business_id"),
        Invoice.direction == bindparam("direction"),
        Invoice.status == InvoiceStatus.PENDING,
        Invoice.balance > 0,
    )
    if by_contact:
        query = query.where(Invoice.contact_id == bindparam("contact_id"))
    if not include_hidden:
        query = query.join(Contact, Contact.id == Invoice.contact_id).where(
            Contact.invoices_hidden.is_(False)
        )
    if overdue:
        query = query.where(Invoice.due_date < bindparam("overdue_on"))
    if due_until:
        query = query.where(Invoice.due_date <= bindparam("due_until"))
    query = query.order_by(Invoice.due_date, Invoice.issue_date, Invoice.id)
    if limited:
        query = query.limit(bindparam("limit", type_=Integer))
    if for_update:
        return query.with_for_update()
    # Lists name each invoice's customer: load them in the same query.
    return query.options(joinedload(Invoice.contact, innerjoin=True))


def invoices_by_ref(
    session: Session,
    *,
    business_id: int,
    folio: str,
    series: str | None = None,
    direction: str | None = None,
    contact_id: int | None = None,
) -> Sequence[Invoice]:
    """Invoices named by folio (and series when given), any status."""
    query = select(Invoice).where(
        Invoice.business_id == business_id,
        func.upper(Invoice.folio) == folio.upper(),
    )
    if series:
        query = query.where(func.upper(Invoice.series) == series.upper())
    if direction:
        query = query.where(Invoice.direction == direction)
    if contact_id is not None:
        query = query.where(Invoice.contact_id == contact_id)
    return session.scalars(query.order_by(Invoice.issue_date.desc())).all()


def invoice_by_uuid(session: Session, *, business_id: int, uuid: str) -> Invoice | None:
    return session.scalar(
        select(Invoice).where(
            Invoice.business_id == business_id, Invoice.uuid == uuid.upper()
        )
    )


def balance_totals(
    session: Session,
    *,
    business_id: int,
    direction: str,
    today: dt.date,
    contact_id: int | None = None,
) -> dict[str, tuple[Decimal, Decimal, int]]:
    """Per currency: (open balance, overdue balance, open invoice count)."""
    values = {
        "business_id": business_id,
        "direction": direction,
        "today": today,
        "contact_id": contact_id,
    }
    return {
        cur: (Decimal(total), Decimal(late), int(count))
        for cur, total, late, count in session.execute(
            _balance_totals_statement(contact_id is not None), values
        )
    }


@functools.cache
def _balance_totals_statement(by_contact: bool) -> Select[str, Decimal, Any, int]:
    """`balance_totals`'s query, built once (with or without a contact)."""
    overdue = case(
        (Invoice.due_date < bindparam("today", type_=Date), Invoice.balance),
        else_=0,
    )
    query = (
        select(
            Invoice.currency,
            func.sum(Invoice.balance),
            func.sum(overdue),
            func.count(Invoice.id),
        )
        .where(
            Invoice.business_id == bindparam("business_id"),
            Invoice.direction == bindparam("direction"),
            Invoice.status == InvoiceStatus.PENDING,
            Invoice.balance > 0,
        )
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )
    if by_contact:
        query = query.where(Invoice.contact_id == bindparam("contact_id"))
    return query


def debtor_count(session: Session, *, business_id: int, direction: str) -> int:
    """How many contacts have an open balance in this direction."""
    found = session.scalar(
        select(func.count(func.distinct(Invoice.contact_id))).where(
            Invoice.business_id == business_id,
            Invoice.direction == direction,
            Invoice.status == InvoiceStatus.PENDING,
            Invoice.balance > 0,
        )
    )
    return int(found or 0)


def aging_totals(
    session: Session, *, business_id: int, direction: str, today: dt.date
) -> dict[str, dict[str, Decimal]]:
    """Per currency, the open balance in each aging bucket, in one set-based query."""
    days_late = _days_between(session, today)
    bucket = case(
        (Invoice.due_date >= today, "current"),
        (days_late <= 30, "1-30"),
        (days_late <= 60, "31-60"),
        (days_late <= 90, "61-90"),
        else_="90+",
    )
    query = (
        select(Invoice.currency, bucket.label("bucket"), func.sum(Invoice.balance))
        .where(
            Invoice.business_id == business_id,
            Invoice.direction == direction,
            Invoice.status == InvoiceStatus.PENDING,
            Invoice.balance > 0,
        )
        .group_by(Invoice.currency, "bucket")
    )
    result: dict[str, dict[str, Decimal]] = {}
    for currency, name, total in session.execute(query):
        per = result.setdefault(currency, {b: Decimal("0.00") for b in AGING_BUCKETS})
        per[name] = Decimal(total)
    return result


def _days_between(session: Session, today: dt.date) -> ColumnElement[Any]:
    """Days from an invoice's due date to `today`, in the backend's own SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return literal(today, Date) - Invoice.due_date
    return func.julianday(today.isoformat()) - func.julianday(Invoice.due_date)


def top_debtors(
    session: Session,
    *,
    business_id: int,
    today: dt.date,
    currency: str = "MXN",
    limit: int = 10,
) -> list[tuple[Contact, Decimal, Decimal]]:
    """Customers by open balance in one currency: (contact, balance, overdue)."""
    overdue = func.sum(case((Invoice.due_date < today, Invoice.balance), else_=0))
    total = func.sum(Invoice.balance)
    query = (
        select(Contact, total, overdue)
        .join(Invoice, Invoice.contact_id == Contact.id)
        .where(
            Invoice.business_id == business_id,
            Invoice.direction == "receivable",
            Invoice.status == InvoiceStatus.PENDING,
            Invoice.balance > 0,
            Invoice.currency == currency,
        )
        .group_by(Contact.id)
        .order_by(total.desc())
        .limit(limit)
    )
    return [(c, Decimal(t), Decimal(o)) for c, t, o in session.execute(query)]


def last_payment(
    session: Session, *, business_id: int, recorded_by: str
) -> Payment | None:
    """The newest payment this person recorded that is still in force."""
    return session.scalar(
        select(Payment)
        .where(
            Payment.business_id == business_id,
            Payment.recorded_by == recorded_by,
            Payment.reversed_at.is_(None),
        )
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .limit(1)
    )


def last_payment_from(session: Session, *, contact_id: int) -> Payment | None:
    """The contact's newest payment in force, by when it was received."""
    return session.scalar(
        select(Payment)
        .where(Payment.contact_id == contact_id, Payment.reversed_at.is_(None))
        .order_by(Payment.paid_at.desc(), Payment.id.desc())
        .limit(1)
    )


def payment_by_key(
    session: Session, *, business_id: int, idempotency_key: str
) -> Payment | None:
    return session.scalar(
        select(Payment).where(
            Payment.business_id == business_id,
            Payment.idempotency_key == idempotency_key,
        )
    )


# The conversation engine's bookkeeping: a few statements per message.


def _insert_for(session: Session) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert
    return sqlite_insert


# Built once per dialect with bound parameters: building them per message costs
# more than running them.
_PREPARED: dict[tuple[str, str], Any] = {}


def _prepared(session: Session, name: str) -> Any:
    dialect = session.get_bind().dialect.name
    statement = _PREPARED.get((name, dialect))
    if statement is None:
        statement = _PREPARED[(name, dialect)] = _BUILDERS[name](_insert_for(session))
    return statement


def _record_inbound_statement(insert: Any) -> Any:
    table = InboundMessage.__table__
    columns = ("channel", "provider_message_id", "sender", "text", "media")
    return (
        insert(table)
        .values(
            {
                name: bindparam(name, type_=table.c[name].type)
                for name in (*columns, "received_at")
            }
        )
        .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
        .returning(table.c.id)
    )


def _open_conversation_statement(insert: Any) -> Any:
    table = Conversation.__table__
    upsert = insert(table).values(
        channel=bindparam("channel", type_=table.c.channel.type),
        sender=bindparam("sender", type_=table.c.sender.type),
        business_id=bindparam("business_id", type_=table.c.business_id.type),
        data=bindparam("data", type_=table.c.data.type),
        updated_at=bindparam("updated_at", type_=table.c.updated_at.type),
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=["channel", "sender"],
        set_={
            "business_id": func.coalesce(
                table.c.business_id, upsert.excluded.business_id
            ),
            "updated_at": upsert.excluded.updated_at,
        },
    ).returning(*table.c)
    return select(Conversation).from_statement(upsert)


_BUILDERS = {
    "record_inbound": _record_inbound_statement,
    "open_conversation": _open_conversation_statement,
}


def record_inbound(
    session: Session,
    *,
    channel: str,
    provider_message_id: str,
    sender: str,
    text: str | None,
    media: dict[str, Any] | None,
    received_at: dt.datetime,
) -> int | None:
    """Record a message by its provider id; None when it was recorded before.

    The replay check and the insert are one statement: a concurrent delivery of
    the same id waits on the unique index and then finds it taken.
    """
    found = run_core(
        session,
        _prepared(session, "record_inbound"),
        {
            "channel": channel,
            "provider_message_id": provider_message_id,
            "sender": sender,
            "text": text,
            "media": media,
            "received_at": received_at,
        },
    ).scalar()
    return int(found) if found is not None else None


def inbound_reply(
    session: Session, *, channel: str, provider_message_id: str
) -> dict[str, Any] | None:
    """The stored reply to a recorded message (None when it has none yet)."""
    table = InboundMessage.__table__
    return session.execute(
        select(table.c.reply).where(
            table.c.channel == channel,
            table.c.provider_message_id == provider_message_id,
        )
    ).scalar()


def answer_inbound(
    session: Session,
    *,
    inbound_id: int,
    business_id: int | None,
    reply: dict[str, Any],
) -> None:
    run_core(
        session,
        _answer_inbound_statement(),
        {"inbound_id": inbound_id, "business_id": business_id, "reply": reply},
    )


@functools.cache
def _answer_inbound_statement() -> Any:
    """Built once: it runs for every message."""
    table = cast(Table, InboundMessage.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("inbound_id"))
        .values(
            business_id=bindparam("business_id", type_=table.c.business_id.type),
            reply=bindparam("reply", type_=table.c.reply.type),
        )
    )


def forget_inbound(session: Session, *, inbound_id: int) -> None:
    """Drop a record made in this transaction, for a message that was turned away."""
    table = cast(Table, InboundMessage.__table__)
    session.execute(delete(table).where(table.c.id == inbound_id))


@functools.cache
def _first_with_business(lookup: str) -> Any:
    """The speaker lookups, built once: the first row by `key`, with its business."""
    key: Any = bindparam("key")
    if lookup == "customer_whatsapp":
        # A number that is also a team member's speaks as the team member.
        team = select(User.id).where(User.whatsapp == key)
        return (
            select(Contact)
            .options(joinedload(Contact.business))
            .where(
                Contact.whatsapp == key,
                Contact.kind == ContactKind.CUSTOMER,
                ~team.exists(),
            )
            .order_by(Contact.id)
            .limit(1)
        )
    column = User.whatsapp if lookup == "team_whatsapp" else User.telegram_user_id
    return (
        select(User)
        .options(joinedload(User.business))
        .where(column == key)
        .order_by(User.id)
        .limit(1)
    )


def team_by_whatsapp(session: Session, *, phone: str) -> User | None:
    """The first owner or staff user with this number, with their business."""
    return session.scalars(
        _first_with_business("team_whatsapp"), {"key": phone}
    ).first()


def team_by_telegram(session: Session, *, telegram_user_id: int) -> User | None:
    return session.scalars(
        _first_with_business("team_telegram"), {"key": telegram_user_id}
    ).first()


def customer_by_whatsapp(session: Session, *, phone: str) -> Contact | None:
    """The first customer contact with this number, with its business; none when
    the number is also an owner's or staff member's."""
    return session.scalars(
        _first_with_business("customer_whatsapp"), {"key": phone}
    ).first()


def open_conversation(
    session: Session,
    *,
    channel: str,
    sender: str,
    business_id: int | None,
    now: dt.datetime,
) -> Conversation:
    """The sender's conversation row, created if new, in one statement.

    The upsert also locks the row for the rest of the transaction on PostgreSQL
    (as SELECT ... FOR UPDATE would), and ties a conversation without a business
    to `business_id`.
    """
    return session.scalars(
        _prepared(session, "open_conversation"),
        {
            "channel": channel,
            "sender": sender,
            "business_id": business_id,
            "data": {},
            "updated_at": now,
        },
        execution_options={"populate_existing": True},
    ).one()
