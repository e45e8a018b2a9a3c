"""What one CFDI becomes in the books, worked out without the database: its row,
its counterparty, and the payments it makes to the invoices it names.

`prepare` runs where the documents are read (the reader process of an import), so
the process that stores only finds contacts and writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flows.business import NewContact
from flows.cfdi.extract import Cfdi
from flows.fmt import match_key, to_money, zone
from flows.money import due_date_for
from storage.models import ContactKind, Direction, InvoiceSource, InvoiceStatus

ZERO = Decimal("0.00")
# A credit note reduces the invoices it names when related as "01" (nota de crédito
# de los documentos relacionados).
CREDIT_NOTE_RELATION = "01"
# The payment form for a credit note that names none: 15, condonación.
CREDIT_NOTE_METHOD = "15"


@dataclass(frozen=True, slots=True)
class Owner:
    """The business importing: what telling its CFDIs apart and dating them needs."""

    id: int
    rfc: str
    timezone: str
    default_terms_days: int


@dataclass(slots=True)
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


@dataclass(slots=True)
class Prepared:
    """A CFDI of the business, ready to store once its contact is known.

    `row` is its `invoice` row (types I and E) or `cfdi_complement` row (type P),
    without `contact_id`; an invoice's due date counts from the CFDI's terms or the
    business's, and is worked out again if the contact has terms of its own.
    """

    name: str
    uuid: str
    cfdi_type: str
    direction: str
    party: NewContact
    party_key: tuple[str, str]
    row: dict[str, Any]
    terms_text: str | None
    lines: list[PaymentLine] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Foreign:
    """A CFDI neither issued nor received by the business; `reason` in Spanish."""

    name: str
    uuid: str
    cfdi_type: str
    reason: str


def prepare(
    name: str, cfdi: Cfdi, data: bytes, owner: Owner, now: dt.datetime
) -> Prepared | Foreign:
    """The rows and payments of one parsed CFDI, as `owner` books it."""
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

    party = _party(cfdi, direction)
    prepared = Prepared(
        name=name,
        uuid=cfdi.uuid,
        cfdi_type=cfdi.cfdi_type,
        direction=direction,
        party=party,
        party_key=(party.kind, match_key(party.rfc, party.name)),
        row={},
        terms_text=cfdi.payment_terms,
    )
    local = zone(owner.timezone)
    if cfdi.cfdi_type == "P":
        prepared.row = _complement_row(cfdi, data, direction, owner, local, now)
        prepared.lines = _complement_lines(name, cfdi, direction, local)
    else:
        prepared.row = _invoice_row(cfdi, data, direction, owner, local, now)
        if cfdi.cfdi_type == "E":
            prepared.lines = _credit_lines(name, cfdi, direction, local)
    return prepared


def due_date(
    row: dict[str, Any],
    *,
    terms_text: str | None,
    contact_terms: int | None,
    default_terms: int,
) -> dt.date:
    """An invoice row's due date under the contract's rule (see `due_date_for`);
    a credit note's is its issue date."""
    issue_date: dt.date = row["issue_date"]
    if row["cfdi_type"] == "E":
        return issue_date
    return due_date_for(
        issue_date=issue_date,
        payment_method=row["payment_method"],
        contact_terms=contact_terms,
        payment_terms_text=terms_text,
        default_terms=default_terms,
    )


def _party(cfdi: Cfdi, direction: str) -> NewContact:
    """The other side: the customer who receives it, or the supplier who issues it."""
    if direction == Direction.RECEIVABLE:
        return NewContact(
            str(ContactKind.CUSTOMER),
            cfdi.receiver_rfc,
            cfdi.receiver_name,
            cfdi.receiver_regime,
            cfdi.receiver_postal_code,
        )
    # Limitation: a CFDI carries the issuer's tax regime but not its fiscal
    # address (LugarExpedicion is where it was issued), so suppliers get no postal
    # code from the import.
    return NewContact(
        str(ContactKind.SUPPLIER), cfdi.issuer_rfc, cfdi.issuer_name, cfdi.issuer_regime
    )


def _invoice_row(
    cfdi: Cfdi,
    data: bytes,
    direction: str,
    owner: Owner,
    local: dt.tzinfo,
    now: dt.datetime,
) -> dict[str, Any]:
    total = to_money(cfdi.total)
    settled = cfdi.cfdi_type == "E" or total == 0
    row = {
        "business_id": owner.id,
        "direction": direction,
        "cfdi_type": cfdi.cfdi_type,
        "uuid": cfdi.uuid,
        "series": cfdi.series[:25] if cfdi.series else None,
        "folio": cfdi.folio[:40] if cfdi.folio else None,
        "issued_at": _utc(cfdi.issued_at, local),
        "issue_date": cfdi.issued_at.date(),
        "currency": cfdi.currency[:3],
        "exchange_rate": cfdi.exchange_rate,
        "subtotal": to_money(cfdi.subtotal),
        "total": total,
        # A credit note is a document, not a debt: nothing is owed on it; what it
        # credits is applied to the invoices it names, as payments.
        "paid": total if settled else ZERO,
        "balance": ZERO if settled else total,
        "payment_method": (cfdi.payment_method or "PUE")[:3],
        "payment_form": cfdi.payment_form[:2] if cfdi.payment_form else None,
        "payment_terms": cfdi.payment_terms[:1000] if cfdi.payment_terms else None,
        "status": str(InvoiceStatus.PAID if settled else InvoiceStatus.PENDING),
        "source": str(InvoiceSource.SAT),
        "description": cfdi.description,
        "xml": _text(data),
        "created_at": now,
    }
    row["due_date"] = due_date(
        row,
        terms_text=cfdi.payment_terms,
        contact_terms=None,
        default_terms=owner.default_terms_days,
    )
    return row


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
    return data.decode("utf-8-sig", errors="replace")
