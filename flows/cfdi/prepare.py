"""What one CFDI becomes in the books, worked out without the database: its row,
its counterparty, and the payments it makes to the invoices it names.

`prepare` runs where the documents are read (the reader process of an import), so
the process that stores only finds contacts and writes.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Dialect, Table

from flows.business import NewContact
from flows.cfdi.bulk import BulkInsert, Row
from flows.cfdi.extract import Cfdi
from flows.fmt import match_key, to_money, zone
from flows.money import due_date_for
from storage.models import (
    CfdiComplement,
    ContactKind,
    Direction,
    Invoice,
    InvoiceSource,
    InvoiceStatus,
)

ZERO = Decimal("0.00")
# A credit note reduces the invoices it names when related as "01" (nota de crédito
# de los documentos relacionados).
CREDIT_NOTE_RELATION = "01"
# The payment form for a credit note that names none: 15, condonación.
CREDIT_NOTE_METHOD = "15"

INVOICE_TABLE: Table = Invoice.__table__  # type: ignore[assignment]
COMPLEMENT_TABLE: Table = CfdiComplement.__table__  # type: ignore[assignment]
INVOICE_COLUMNS = (
    "business_id",
    "contact_id",
    "direction",
    "cfdi_type",
    "uuid",
    "series",
    "folio",
    "issued_at",
    "issue_date",
    "due_date",
    "currency",
    "exchange_rate",
    "subtotal",
    "total",
    "paid",
    "balance",
    "payment_method",
    "payment_form",
    "payment_terms",
    "status",
    "source",
    "description",
    "xml",
    "created_at",
)
COMPLEMENT_COLUMNS = (
    "business_id",
    "contact_id",
    "direction",
    "uuid",
    "issued_at",
    "xml",
    "created_at",
)


@dataclass(frozen=True, slots=True)
class Owner:
    """The business importing: what telling its CFDIs apart and dating them needs.

    `contact_terms` are the payment terms of its contacts that have their own, by
    (kind, match key), as they were when the import started.
    """

    id: int
    rfc: str
    timezone: str
    default_terms_days: int
    contact_terms: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Inserts:
    """The import's INSERTs, compiled for the database it writes to."""

    invoices: BulkInsert
    complements: BulkInsert

    @classmethod
    def for_dialect(cls, dialect: Dialect) -> Inserts:
        return cls(
            BulkInsert(INVOICE_TABLE, INVOICE_COLUMNS, dialect),
            BulkInsert(COMPLEMENT_TABLE, COMPLEMENT_COLUMNS, dialect),
        )


@dataclass
class PaymentLine:
    """A payment a complement or credit note makes to one invoice, by its UUID."""

    kind: str
    source_uuid: str
    line: int
    related_uuid: str
    direction: str
    amount: Decimal
    currency: str
    paid_at: dt.datetime
    method: str | None
    name: str
    stored_id: int | None = None

    @property
    def key(self) -> str:
        return f"cfdi-{self.kind.lower()}:{self.source_uuid}:{self.line}"


@dataclass
class Prepared:
    """A CFDI of the business, ready to store once its contact is known.

    `row` is its `invoice` row (types I and E) or `cfdi_complement` row (type P),
    rendered for the driver (see `Inserts`) and still without `contact_id`.
    """

    name: str
    uuid: str
    cfdi_type: str
    direction: str
    party: NewContact
    party_key: tuple[str, str]
    row: Row
    lines: list[PaymentLine]


@dataclass(frozen=True, slots=True)
class Foreign:
    """A CFDI neither issued nor received by the business; `reason` in Spanish."""

    name: str
    uuid: str
    cfdi_type: str
    reason: str


def prepare(
    name: str,
    cfdi: Cfdi,
    data: bytes,
    *,
    owner: Owner,
    inserts: Inserts,
    now: dt.datetime,
) -> Prepared | Foreign:
    """The row and payments of one parsed CFDI, as `owner` books it."""
    if cfdi.issuer_rfc == owner.rfc:
        direction = str(Direction.RECEIVABLE)
    elif cfdi.receiver_rfc == owner.rfc:
        direction = str(Direction.PAYABLE)
    else:
        return Foreign(
            name,
            cfdi.uuid,
            cfdi.cfdi_type,
            f"no es de este negocio: lo emite {cfdi.issuer_rfc} y lo recibe "
            f"{cfdi.receiver_rfc}",
        )

    if direction == Direction.RECEIVABLE:
        party, key = _party(
            ContactKind.CUSTOMER,
            cfdi.receiver_rfc,
            cfdi.receiver_name,
            cfdi.receiver_regime,
            cfdi.receiver_postal_code,
        )
    else:
        # Limitation: a CFDI carries the issuer's tax regime but not its fiscal
        # address (LugarExpedicion is where it was issued), so suppliers get no
        # postal code from the import.
        party, key = _party(
            ContactKind.SUPPLIER,
            cfdi.issuer_rfc,
            cfdi.issuer_name,
            cfdi.issuer_regime,
            None,
        )

    local = zone(owner.timezone)
    lines: list[PaymentLine] = []
    if cfdi.cfdi_type == "P":
        values = _complement_row(cfdi, data, direction, owner, local, now)
        row = inserts.complements.render(values)
        lines = _complement_lines(name, cfdi, direction, local)
    else:
        terms = owner.contact_terms.get(key)
        values = _invoice_row(cfdi, data, direction, owner, terms, local, now)
        row = inserts.invoices.render(values)
        if cfdi.cfdi_type == "E":
            lines = _credit_lines(name, cfdi, direction, local)
    return Prepared(
        name=name,
        uuid=cfdi.uuid,
        cfdi_type=cfdi.cfdi_type,
        direction=direction,
        party=party,
        party_key=key,
        row=row,
        lines=lines,
    )


@functools.lru_cache(maxsize=4096)
def _party(
    kind: str, rfc: str, name: str, regime: str | None, postal_code: str | None
) -> tuple[NewContact, tuple[str, str]]:
    """The other side and the key it is found by. A business deals with few
    counterparties many times: one object each, which also pickles once per
    chunk sent from the reader process."""
    return NewContact(str(kind), rfc, name, regime, postal_code), (
        str(kind),
        match_key(rfc, name),
    )


def _invoice_row(
    cfdi: Cfdi,
    data: bytes,
    direction: str,
    owner: Owner,
    contact_terms: int | None,
    local: dt.tzinfo,
    now: dt.datetime,
) -> dict[str, Any]:
    issue_date = cfdi.issued_at.date()
    method = (cfdi.payment_method or "PUE")[:3]
    total = to_money(cfdi.total)
    settled = cfdi.cfdi_type == "E" or total == 0
    return {
        "business_id": owner.id,
        "contact_id": None,
        "direction": direction,
        "cfdi_type": cfdi.cfdi_type,
        "uuid": cfdi.uuid,
        "series": cfdi.series[:25] if cfdi.series else None,
        "folio": cfdi.folio[:40] if cfdi.folio else None,
        "issued_at": _utc(cfdi.issued_at, local),
        "issue_date": issue_date,
        "due_date": issue_date
        if cfdi.cfdi_type == "E"
        else due_date_for(
            issue_date=issue_date,
            payment_method=method,
            contact_terms=contact_terms,
            payment_terms_text=cfdi.payment_terms,
            default_terms=owner.default_terms_days,
        ),
        "currency": cfdi.currency[:3],
        "exchange_rate": cfdi.exchange_rate,
        "subtotal": to_money(cfdi.subtotal),
        "total": total,
        # A credit note is a document, not a debt: nothing is owed on it; what it
        # credits is applied to the invoices it names, as payments.
        "paid": total if settled else ZERO,
        "balance": ZERO if settled else total,
        "payment_method": method,
        "payment_form": cfdi.payment_form[:2] if cfdi.payment_form else None,
        "payment_terms": cfdi.payment_terms[:1000] if cfdi.payment_terms else None,
        "status": str(InvoiceStatus.PAID if settled else InvoiceStatus.PENDING),
        "source": str(InvoiceSource.SAT),
        "description": cfdi.description,
        "xml": _text(data),
        "created_at": now,
    }


def _complement_row(
    cfdi: Cfdi,
    data: bytes,
    direction: str,
    owner: Owner,
    local: dt.tzinfo,
    now: dt.datetime,
) -> dict[str, Any]:
    return {
        "business_id": owner.id,
        "contact_id": None,
        "direction": direction,
        "uuid": cfdi.uuid,
        "issued_at": _utc(cfdi.issued_at, local),
        "xml": _text(data),
        "created_at": now,
    }


def _complement_lines(
    name: str, cfdi: Cfdi, direction: str, local: dt.tzinfo
) -> list[PaymentLine]:
    return [
        PaymentLine(
            kind="P",
            source_uuid=cfdi.uuid,
            line=paid.line,
            related_uuid=paid.invoice_uuid,
            direction=direction,
            amount=to_money(paid.amount),
            currency=paid.currency,
            paid_at=_utc(paid.paid_at, local),
            method=paid.method[:2] if paid.method else None,
            name=name,
        )
        for paid in cfdi.payments
        if paid.amount > 0
    ]


def _credit_lines(
    name: str, cfdi: Cfdi, direction: str, local: dt.tzinfo
) -> list[PaymentLine]:
    related = [uuid for kind, uuid in cfdi.related if kind == CREDIT_NOTE_RELATION]
    # Limitation: only relation 01 (a credit note on the related invoices) moves a
    # balance; returns (03) and advances (07) are kept as documents, because their
    # effect depends on agreements the XML does not state.
    method = cfdi.payment_form if cfdi.payment_form not in (None, "99") else None
    return [
        PaymentLine(
            kind="E",
            source_uuid=cfdi.uuid,
            line=number,
            related_uuid=uuid,
            direction=direction,
            amount=to_money(cfdi.total),
            currency=cfdi.currency[:3],
            paid_at=_utc(cfdi.issued_at, local),
            method=(method or CREDIT_NOTE_METHOD)[:2],
            name=name,
        )
        for number, uuid in enumerate(related, start=1)
        if cfdi.total > 0
    ]


def _utc(moment: dt.datetime, local: dt.tzinfo) -> dt.datetime:
    """A CFDI's local time (it carries no offset) in UTC."""
    return moment.replace(tzinfo=local).astimezone(dt.UTC)


def _text(data: bytes) -> str:
    """The document as text, without a byte order mark."""
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")
