"""Cobra's tables as typed SQLAlchemy 2 models.

Every row belongs to one business; amounts are `Numeric` read back as `Decimal`;
times are UTC (`DateTime(timezone=True)`), shown in the business's time zone.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    orm_insert_sentinel,
    relationship,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(18, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dict[str, Any]: JSON,
        Decimal: MONEY,
        dt.datetime: DateTime(timezone=True),
    }


def utcnow() -> dt.datetime:
    """Default for created-at columns only; logic receives its time from callers."""
    return dt.datetime.now(dt.UTC)


class Role(StrEnum):
    OWNER = "owner"
    STAFF = "staff"


class ContactKind(StrEnum):
    CUSTOMER = "customer"
    SUPPLIER = "supplier"


class Direction(StrEnum):
    RECEIVABLE = "receivable"
    PAYABLE = "payable"


class InvoiceStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CANCELLED = "cancelled"


class InvoiceSource(StrEnum):
    SAT = "sat"
    MANUAL = "manual"
    ISSUED = "issued"


class PaymentSource(StrEnum):
    CHAT = "chat"
    TELEGRAM = "telegram"
    PORTAL = "portal"
    STP = "stp"
    MANUAL = "manual"
    SAT = "sat"


class ComplementStatus(StrEnum):
    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    ISSUED = "issued"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    DEAD = "dead"
    SKIPPED = "skipped"


class Business(Base):
    __tablename__ = "business"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    rfc: Mapped[str] = mapped_column(String(13), unique=True)
    tax_regime: Mapped[str | None] = mapped_column(String(3))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64), default="America/Mexico_City")
    clabe: Mapped[str | None] = mapped_column(String(18))
    bank_name: Mapped[str | None] = mapped_column(String(64))
    stp_account_prefix: Mapped[str | None] = mapped_column(String(8))
    default_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    reminders_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_digest: Mapped[bool] = mapped_column(Boolean, default=False)
    # Payment plans: whether customers may ask for one, and up to how many parts.
    plans_on_request: Mapped[bool] = mapped_column(Boolean, default=False)
    plans_max_instalments: Mapped[int] = mapped_column(Integer, default=6)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "app_user"
    __table_args__ = (
        UniqueConstraint("business_id", "whatsapp"),
        UniqueConstraint("business_id", "telegram_user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(255))
    whatsapp: Mapped[str | None] = mapped_column(String(20), index=True)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    email: Mapped[str | None] = mapped_column(String(255))
    telegram_expected_id: Mapped[int | None] = mapped_column(BigInteger)
    telegram_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    business: Mapped[Business] = relationship()


class ReminderSet(Base):
    __tablename__ = "reminder_set"
    __table_args__ = (UniqueConstraint("business_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    statement_every_days: Mapped[int | None] = mapped_column(Integer, default=14)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    rules: Mapped[list[ReminderRule]] = relationship(
        back_populates="reminder_set",
        cascade="all, delete-orphan",
        order_by="ReminderRule.offset_days",
    )


class ReminderRule(Base):
    """One trigger of a set: an event and an offset in days from the due date."""

    __tablename__ = "reminder_rule"
    __table_args__ = (UniqueConstraint("reminder_set_id", "event", "offset_days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reminder_set_id: Mapped[int] = mapped_column(
        ForeignKey("reminder_set.id", ondelete="CASCADE"), index=True
    )
    # "issued" (offset from the issue date) or "due" (offset from the due date).
    event: Mapped[str] = mapped_column(String(16))
    offset_days: Mapped[int] = mapped_column(Integer)
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    whatsapp: Mapped[bool] = mapped_column(Boolean, default=True)
    template: Mapped[str | None] = mapped_column(String(64))
    wording: Mapped[str | None] = mapped_column(Text)

    reminder_set: Mapped[ReminderSet] = relationship(back_populates="rules")


class Contact(Base):
    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("business_id", "kind", "match_key"),
        UniqueConstraint("business_id", "virtual_clabe"),
        Index("ix_contact_business_rfc", "business_id", "rfc"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    rfc: Mapped[str] = mapped_column(String(13))
    # The RFC, or RFC and name for the SAT's generic RFCs shared by many people.
    match_key: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(String(300))
    trade_name: Mapped[str | None] = mapped_column(String(300))
    tax_regime: Mapped[str | None] = mapped_column(String(3))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    emails: Mapped[str | None] = mapped_column(Text)
    whatsapp: Mapped[str | None] = mapped_column(String(20), index=True)
    clabe: Mapped[str | None] = mapped_column(String(18))
    virtual_clabe: Mapped[str | None] = mapped_column(String(18))
    sequence: Mapped[int | None] = mapped_column(Integer)
    terms_days: Mapped[int | None] = mapped_column(Integer)
    invoices_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    email_reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    whatsapp_reminders: Mapped[bool] = mapped_column(Boolean, default=False)
    whatsapp_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    reminder_set_id: Mapped[int | None] = mapped_column(
        ForeignKey("reminder_set.id", ondelete="SET NULL")
    )
    portal_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    portal_token_nonce: Mapped[str | None] = mapped_column(String(32))
    portal_token_created_at: Mapped[dt.datetime | None]
    last_statement_on: Mapped[dt.date | None] = mapped_column(Date)
    whatsapp_last_inbound_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    business: Mapped[Business] = relationship()

    @property
    def display_name(self) -> str:
        """How people call the contact: its trade name, else its legal name."""
        return self.trade_name or self.name

    @property
    def email_list(self) -> list[str]:
        return [e.strip() for e in (self.emails or "").split(",") if e.strip()]


class Invoice(Base):
    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("business_id", "uuid"),
        Index("ix_invoice_open", "business_id", "direction", "status", "due_date"),
        Index("ix_invoice_folio", "business_id", "folio"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    cfdi_type: Mapped[str] = mapped_column(String(1), default="I")
    uuid: Mapped[str | None] = mapped_column(String(36))
    series: Mapped[str | None] = mapped_column(String(25))
    folio: Mapped[str | None] = mapped_column(String(40))
    issued_at: Mapped[dt.datetime]
    issue_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="MXN")
    exchange_rate: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    subtotal: Mapped[Decimal]
    total: Mapped[Decimal]
    paid: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    balance: Mapped[Decimal]
    payment_method: Mapped[str] = mapped_column(String(3), default="PUE")
    payment_form: Mapped[str | None] = mapped_column(String(2))
    payment_terms: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default=InvoiceStatus.PENDING)
    source: Mapped[str] = mapped_column(String(16), default=InvoiceSource.MANUAL)
    description: Mapped[str | None] = mapped_column(String(1000))
    cancelled_at: Mapped[dt.datetime | None]
    xml: Mapped[str | None] = mapped_column(Text, deferred=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship()

    @property
    def label(self) -> str:
        return invoice_label(self.series, self.folio, self.uuid, self.id)


def invoice_label(
    series: str | None, folio: str | None, uuid: str | None, invoice_id: int
) -> str:
    """How people name an invoice: `A-102`, or the folio, or a short UUID."""
    if series and folio:
        return f"{series}-{folio}"
    if folio:
        return folio
    return (uuid or str(invoice_id))[:8].upper()


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (UniqueConstraint("business_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3), default="MXN")
    paid_at: Mapped[dt.datetime]
    method: Mapped[str | None] = mapped_column(String(2))
    reference: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    complement_status: Mapped[str] = mapped_column(
        String(16), default=ComplementStatus.NOT_REQUIRED
    )
    complement_uuid: Mapped[str | None] = mapped_column(String(36))
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    reversed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Lets SQLite take many payments in one INSERT and still hand each its id; the
    # ORM fills it while inserting (see SQLAlchemy's "insertmanyvalues" sentinels).
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    contact: Mapped[Contact] = relationship()
    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", cascade="all, delete-orphan"
    )


class PaymentAllocation(Base):
    __tablename__ = "payment_allocation"
    __table_args__ = (UniqueConstraint("payment_id", "invoice_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payment.id", ondelete="CASCADE"), index=True
    )
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount: Mapped[Decimal]
    # Pagos 2.0 fields when the allocation came from (or goes into) a complement.
    partial_number: Mapped[int | None] = mapped_column(Integer)
    previous_balance: Mapped[Decimal | None]
    # As on `Payment`: one INSERT for many allocations on SQLite too.
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    payment: Mapped[Payment] = relationship(back_populates="allocations")
    invoice: Mapped[Invoice] = relationship()


class InboundMessage(Base):
    """A message received; the unique provider id makes a retried webhook act once."""

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("channel", "provider_message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int | None] = mapped_column(ForeignKey("business.id"))
    channel: Mapped[str] = mapped_column(String(16))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    sender: Mapped[str] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    media: Mapped[dict[str, Any] | None]
    reply: Mapped[dict[str, Any] | None]
    received_at: Mapped[dt.datetime]


class OutboundMessage(Base):
    """The outbox: every message is a row first, then delivered once."""

    __tablename__ = "outbound_message"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_outbound_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int | None] = mapped_column(ForeignKey("business.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(255))
    template: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime]
    claimed_until: Mapped[dt.datetime | None]
    # Which delivery pass holds the row; a pass only finishes rows it still holds.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(128), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]


class Conversation(Base):
    """Per channel and sender: the flow and step in progress, with an expiry."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("channel", "sender"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int | None] = mapped_column(ForeignKey("business.id"))
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(64))
    flow: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expires_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime]


class InstallSecret(Base):
    """A key generated on first use when `SECRETS_KEY` is not set (development)."""

    __tablename__ = "install_secret"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    value: Mapped[str] = mapped_column(String(128))


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_business_time", "business_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"))
    actor: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime]


class Promise(Base):
    """A customer's promise to pay by a date; holds reminders until then."""

    __tablename__ = "promise"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    promised_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal | None]
    # open, kept, broken
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime]


class Dispute(Base):
    """A customer's objection to an invoice; holds its reminders until resolved."""

    __tablename__ = "dispute"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]


class PaymentReport(Base):
    """A customer saying they paid (chat or portal), waiting for the owner's check."""

    __tablename__ = "payment_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    amount: Mapped[Decimal | None]
    currency: Mapped[str] = mapped_column(String(3), default="MXN")
    proof_path: Mapped[str | None] = mapped_column(String(500))
    proof_content_type: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    # pending, confirmed, rejected
    status: Mapped[str] = mapped_column(String(16), default="pending")
    hold_until: Mapped[dt.date | None] = mapped_column(Date)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    created_at: Mapped[dt.datetime]


class ReminderRun(Base):
    """One day's reminder planning for a business; the next day catches up from it."""

    __tablename__ = "reminder_run"
    __table_args__ = (UniqueConstraint("business_id", "planned_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    # The local date planned, and the first trigger date it covers (catch-up).
    planned_on: Mapped[dt.date] = mapped_column(Date)
    window_start: Mapped[dt.date] = mapped_column(Date)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CfdiComplement(Base):
    """A payment complement (CFDI type P) read from a file or the SAT, with its XML.

    Its payments live in `payment` (complement_uuid is this UUID); this row makes a
    re-import a duplicate and keeps the document to show or download.
    """

    __tablename__ = "cfdi_complement"
    __table_args__ = (UniqueConstraint("business_id", "uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    uuid: Mapped[str] = mapped_column(String(36))
    issued_at: Mapped[dt.datetime]
    xml: Mapped[str | None] = mapped_column(Text, deferred=True)
    created_at: Mapped[dt.datetime]


class CfdiPendingPayment(Base):
    """A payment a CFDI names for an invoice not imported yet; applied on arrival.

    One row per `DoctoRelacionado` of a complement (kind P), or per related invoice
    of a credit note (kind E, whose amount is the note's total, shared in order).
    """

    __tablename__ = "cfdi_pending_payment"
    __table_args__ = (
        UniqueConstraint("business_id", "source_uuid", "line"),
        Index("ix_cfdi_pending_related", "business_id", "related_uuid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"))
    kind: Mapped[str] = mapped_column(String(1))
    source_uuid: Mapped[str] = mapped_column(String(36))
    line: Mapped[int] = mapped_column(Integer)
    related_uuid: Mapped[str] = mapped_column(String(36))
    direction: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    paid_at: Mapped[dt.datetime]
    method: Mapped[str | None] = mapped_column(String(2))
    source_name: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime]


class SenderRate(Base):
    """How many messages a sender has sent in the current window, per channel.

    Kept in the database so that every process behind one address counts together.
    """

    __tablename__ = "sender_rate"
    __table_args__ = (UniqueConstraint("channel", "sender"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(64))
    window_started_at: Mapped[dt.datetime]
    count: Mapped[int] = mapped_column(Integer, default=0)


class SatCredential(Base):
    """A business's e.firma (FIEL) or CSD: the certificate, and its key and password
    encrypted with a key derived from `SECRETS_KEY`; never stored in the clear."""

    __tablename__ = "sat_credential"
    __table_args__ = (UniqueConstraint("business_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    rfc: Mapped[str] = mapped_column(String(13))
    certificate_number: Mapped[str] = mapped_column(String(40))
    certificate: Mapped[str] = mapped_column(Text)
    key_encrypted: Mapped[str] = mapped_column(Text)
    password_encrypted: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[dt.datetime]
    valid_until: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime]


class SatDownloadRequest(Base):
    """One bulk-download request at the SAT, kept until its packages are imported."""

    __tablename__ = "sat_download_request"
    __table_args__ = (UniqueConstraint("business_id", "request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(8))
    request_type: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[dt.datetime]
    period_end: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default="requested")
    message: Mapped[str | None] = mapped_column(String(500))
    packages: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class SatCancellation(Base):
    """A cancellation asked of the SAT for an issued CFDI, and where it stands."""

    __tablename__ = "sat_cancellation"
    __table_args__ = (UniqueConstraint("business_id", "uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    uuid: Mapped[str] = mapped_column(String(36))
    motive: Mapped[str] = mapped_column(String(2))
    substitute_uuid: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(24))
    acknowledgment: Mapped[str | None] = mapped_column(Text, deferred=True)
    requested_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class CfdiPdf(Base):
    """An invoice's rendered PDF, kept so that a second request is instant."""

    __tablename__ = "cfdi_pdf"
    __table_args__ = (UniqueConstraint("business_id", "uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    uuid: Mapped[str] = mapped_column(String(36))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime]


class ApiKey(Base):
    """A business's key to the REST API; only its hash is kept, shown once."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The visible start of the key, to tell keys apart in listings.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class IdempotencyRecord(Base):
    """The first answer to a request made with an `Idempotency-Key`, to replay it."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("business_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime]


class WebhookEndpoint(Base):
    """An address of the business's systems that hears about events, signed."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Comma-separated event names, or "*" for all of them.
    events: Mapped[str] = mapped_column(String(500), default="*")
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]
    disabled_at: Mapped[dt.datetime | None]


class FinancingApplication(Base):
    """An owner's financing request: answers, the step reached, and the decision.

    The chat and the web form edit the same row; `step` is where the chat resumes,
    whatever the 24-hour conversation remembers. Only a hash of the web link's
    token is kept.
    """

    __tablename__ = "financing_application"
    __table_args__ = (
        Index("ix_financing_business_status", "business_id", "status"),
        Index("ix_financing_status_deadline", "status", "deadline_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"))
    created_by: Mapped[str] = mapped_column(String(64))
    # draft, submitted, approved, rejected
    status: Mapped[str] = mapped_column(String(16), default="draft")
    step: Mapped[str | None] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    currency: Mapped[str] = mapped_column(String(3), default="MXN")
    amount_requested: Mapped[Decimal | None]
    amount_approved: Mapped[Decimal | None]
    amount_used: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    consent_at: Mapped[dt.datetime | None]
    submitted_at: Mapped[dt.datetime | None]
    deadline_at: Mapped[dt.datetime | None]
    overdue_flagged_at: Mapped[dt.datetime | None]
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # What the analyst sees of the business's receivables, taken at submission.
    receivables: Mapped[dict[str, Any] | None]
    web_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    web_token_expires_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    business: Mapped[Business] = relationship()


class DepositStatus(StrEnum):
    RECEIVED = "received"  # stored from the webhook, not applied yet
    APPLIED = "applied"  # recorded as a payment of a customer
    UNAPPLIED = "unapplied"  # no customer, or more than owed: the owner decides
    DISMISSED = "dismissed"  # the owner said it is not a customer's payment


class StpDeposit(Base):
    """A SPEI deposit notice from STP: stored before it is acknowledged, then applied.

    The same deposit (tracking key and operation date) is one row however often
    STP sends it; what could not be applied waits here for the owner.
    """

    __tablename__ = "stp_deposit"
    __table_args__ = (
        UniqueConstraint("clave_rastreo", "fecha_operacion"),
        Index("ix_stp_deposit_status", "status", "received_at"),
        Index("ix_stp_deposit_business", "business_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int | None] = mapped_column(ForeignKey("business.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    stp_id: Mapped[str | None] = mapped_column(String(32))
    clave_rastreo: Mapped[str] = mapped_column(String(64))
    fecha_operacion: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3), default="MXN")
    beneficiary_account: Mapped[str] = mapped_column(String(20))
    payer_account: Mapped[str | None] = mapped_column(String(20))
    payer_name: Mapped[str | None] = mapped_column(String(120))
    payer_bank: Mapped[str | None] = mapped_column(String(8))
    concept: Mapped[str | None] = mapped_column(String(210))
    numeric_reference: Mapped[str | None] = mapped_column(String(16))
    settled_at: Mapped[dt.datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=DepositStatus.RECEIVED)
    # Why it waits for the owner: "unknown_account", "no_invoices" or "excess".
    reason: Mapped[str | None] = mapped_column(String(32))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime]
    applied_at: Mapped[dt.datetime | None]


class PayoutStatus(StrEnum):
    SCHEDULED = "scheduled"  # waits for its day
    PENDING = "pending"  # to be sent to STP
    SENDING = "sending"  # sent or being sent; the outcome is not known yet
    SENT = "sent"  # STP accepted the order
    LIQUIDATED = "liquidated"  # the money arrived; the payable is paid
    RETURNED = "returned"  # the receiving bank sent it back
    FAILED = "failed"  # STP refused the order
    CANCELLED = "cancelled"


class SupplierPayment(Base):
    """A transfer order to a supplier through STP, sent once per idempotency key."""

    __tablename__ = "supplier_payment"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        UniqueConstraint("clave_rastreo"),
        Index("ix_supplier_payment_due", "status", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3), default="MXN")
    clabe: Mapped[str] = mapped_column(String(18))
    beneficiary_name: Mapped[str] = mapped_column(String(300))
    concept: Mapped[str] = mapped_column(String(40))
    # Invoice id (as text) to the amount paid to it, decided when it was confirmed.
    allocations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=PayoutStatus.PENDING)
    scheduled_for: Mapped[dt.date] = mapped_column(Date)
    clave_rastreo: Mapped[str | None] = mapped_column(String(30))
    fecha_operacion: Mapped[dt.date | None] = mapped_column(Date)
    stp_order_id: Mapped[str | None] = mapped_column(String(32), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    settled_at: Mapped[dt.datetime | None]

    contact: Mapped[Contact] = relationship()


class PlanStatus(StrEnum):
    REQUESTED = "requested"  # the customer asked; the owner decides
    OFFERED = "offered"  # the owner approved; the customer accepts with one tap
    ACTIVE = "active"  # accepted: reminders follow the instalments
    COMPLETED = "completed"  # everything in it paid
    DECLINED = "declined"  # the customer said no, or the owner refused
    CANCELLED = "cancelled"


class PaymentPlan(Base):
    """A customer's balance split into dated instalments, agreed by both sides."""

    __tablename__ = "payment_plan"
    __table_args__ = (Index("ix_payment_plan_status", "business_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PlanStatus.OFFERED)
    currency: Mapped[str] = mapped_column(String(3), default="MXN")
    # What the plan's invoices owed when it was made; their balances tell the rest.
    total: Mapped[Decimal]
    requested_by: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[dt.datetime | None]
    accepted_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]

    contact: Mapped[Contact] = relationship()
    instalments: Mapped[list[PlanInstalment]] = relationship(
        back_populates="plan",
        cascade="all, delete-orphan",
        order_by="PlanInstalment.number",
    )
    invoices: Mapped[list[PlanInvoice]] = relationship(
        back_populates="plan", cascade="all, delete-orphan"
    )


class PlanInstalment(Base):
    """One dated part of a plan; `paid` fills from its invoices, earliest first."""

    __tablename__ = "plan_instalment"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("payment_plan.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal]
    paid: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    paid_at: Mapped[dt.datetime | None]
    late_notified_at: Mapped[dt.datetime | None]

    plan: Mapped[PaymentPlan] = relationship(back_populates="instalments")


class PlanInvoice(Base):
    """An invoice a plan covers, with what it owed when the plan was made."""

    __tablename__ = "plan_invoice"
    __table_args__ = (UniqueConstraint("plan_id", "invoice_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("payment_plan.id", ondelete="CASCADE"), index=True
    )
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    balance_at_start: Mapped[Decimal]

    plan: Mapped[PaymentPlan] = relationship(back_populates="invoices")
    invoice: Mapped[Invoice] = relationship()


class SalesItem(Base):
    """Something the business sells, with its SAT keys, price and taxes."""

    __tablename__ = "sales_item"
    __table_args__ = (UniqueConstraint("business_id", "description"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    description: Mapped[str] = mapped_column(String(1000))
    product_key: Mapped[str] = mapped_column(String(8))  # ClaveProdServ
    unit_key: Mapped[str] = mapped_column(String(3))  # ClaveUnidad
    unit_name: Mapped[str | None] = mapped_column(String(20))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    currency: Mapped[str] = mapped_column(String(3), default="MXN")
    # "16" (IVA 16 %), "8", "0", "exento"; None when the item carries no tax.
    vat: Mapped[str | None] = mapped_column(String(8), default="16")
    tax_object: Mapped[str] = mapped_column(String(2), default="02")  # ObjetoImp
    # Where it came from: "cfdi" (filled from past invoices), "cli" or "chat".
    source: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


# Deposits find their customer by the virtual CLABE alone, across businesses.
Index("ix_contact_virtual_clabe", Contact.virtual_clabe)


class SatUploadLink(Base):
    """A one-time web link for the owner to upload the e.firma or the CSD; only the
    token's hash is kept, and a successful upload uses the link up."""

    __tablename__ = "sat_upload_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "fiel" or "csd"
    # Who asked for it in chat ("user:<id>"), recorded as the upload's actor.
    actor: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
