"""Credit notes: a CFDI 4.0 Egreso related to an invoice (TipoRelacion 01), sealed
with the CSD, stamped by the PAC and applied to the invoice's balance.

A note is booked like the CFDI import books one: an `Invoice` row of type E that
owes nothing, and a payment through the money rules on the invoice it credits,
keyed `cfdi-e:<note UUID>:<line>` and carrying the note's UUID. Notes issued
elsewhere arrive through the import (flows/cfdi) and land the same way, so a note
issued here and later downloaded from the SAT is a duplicate, not a second credit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from satcfdi.create.cfd import cfdi40
from satcfdi.models import Signer
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, aliased

from flows.audit import audit
from flows.errors import InvalidInput, MoneyRuleViolation
from flows.fmt import money, to_money, zone
from flows.money import Allocation, record_payment
from flows.sat.issue import (
    IVA_RATE,
    NO_OBLIGATIONS_REGIME,
    NO_OBLIGATIONS_USE,
    book_issued,
    issuer,
    next_folio,
    receiver,
    single_concept,
)
from flows.sat.pac import Pac
from storage.models import (
    Business,
    Contact,
    Direction,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    PaymentSource,
)

log = logging.getLogger(__name__)

SERIES = "NC"
RELATION = "01"  # nota de crédito de los documentos relacionados
USE = "G02"  # devoluciones, descuentos o bonificaciones
PRODUCT_KEY = "84111506"  # servicios de facturación
UNIT_KEY = "ACT"  # actividad
# The import's payment form for a note; kept equal so both paths book alike.
FORM = "15"  # condonación


def note_key(note_uuid: str, line: int = 1) -> str:
    """The idempotency key of the payment a note makes to its `line`-th invoice."""
    return f"cfdi-e:{note_uuid}:{line}"


@dataclass(frozen=True, slots=True)
class CreditNoteDraft:
    """A note ready to seal, all plain strings; shown to the owner before stamping."""

    business_id: int
    invoice_id: int
    invoice_uuid: str
    invoice_label: str
    contact_id: int
    customer_rfc: str
    customer_name: str
    customer_regime: str
    customer_postal_code: str
    use: str
    concept: str
    subtotal: str
    iva: str
    total: str
    currency: str
    balance_after: str

    def as_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> CreditNoteDraft:
        return cls(**data)

    def summary(self) -> str:
        lines = [
            f"Nota de crédito para {self.customer_name} ({self.customer_rfc})",
            f"Sobre la factura {self.invoice_label} (UUID {self.invoice_uuid})",
            f"Concepto: {self.concept}",
            f"Subtotal {money(Decimal(self.subtotal), self.currency)}",
        ]
        if Decimal(self.iva):
            lines.append(f"IVA 16% {money(Decimal(self.iva), self.currency)}")
        lines.append(f"Total {money(Decimal(self.total), self.currency)}")
        lines.append(
            f"La {self.invoice_label} quedará debiendo "
            f"{money(Decimal(self.balance_after), self.currency)}."
        )
        return "\n".join(lines)


def draft_credit_note(
    session: Session,
    *,
    business: Business,
    invoice: Invoice,
    amount: Decimal,
    concept: str = "Bonificación",
) -> CreditNoteDraft:
    """A note for `amount` (IVA included when the invoice carries IVA).

    Refuses what is not an open, stamped receivable of the business, and any amount
    above what the invoice still owes.
    """
    if not business.tax_regime or not business.postal_code:
        raise InvalidInput(
            "Para timbrar necesito el régimen fiscal y el código postal de tu negocio."
        )
    check_creditable(invoice, business_id=business.id)
    amount = to_money(amount)
    if amount <= 0:
        raise MoneyRuleViolation(
            "El monto de la nota de crédito debe ser mayor a cero."
        )
    if amount > invoice.balance:
        raise MoneyRuleViolation(
            f"La factura {invoice.label} sólo debe "
            f"{money(invoice.balance, invoice.currency)}; la nota de crédito no puede "
            f"ser de {money(amount, invoice.currency)}."
        )
    contact = invoice.contact
    if not contact.tax_regime or not contact.postal_code:
        raise InvalidInput(
            f"Me falta el régimen fiscal o el código postal de {contact.name}; "
            "pídeselo a tu cliente (viene en su constancia de situación fiscal)."
        )

    taxed = invoice.total != invoice.subtotal
    subtotal = to_money(amount / (1 + IVA_RATE)) if taxed else amount
    # The PAC checks that the total is the subtotal plus the tax as satcfdi rounds
    # it; the total asked for is met to the cent or the difference goes to the tax.
    iva = to_money(subtotal * IVA_RATE) if taxed else Decimal("0.00")
    if taxed and subtotal + iva != amount:
        subtotal = to_money(amount - iva)
    use = NO_OBLIGATIONS_USE if contact.tax_regime == NO_OBLIGATIONS_REGIME else USE
    return CreditNoteDraft(
        business_id=business.id,
        invoice_id=invoice.id,
        invoice_uuid=invoice.uuid or "",
        invoice_label=invoice.label,
        contact_id=contact.id,
        customer_rfc=contact.rfc,
        customer_name=contact.name,
        customer_regime=contact.tax_regime,
        customer_postal_code=contact.postal_code,
        use=use,
        concept=" ".join(concept.split())[:1000] or "Bonificación",
        subtotal=str(subtotal),
        iva=str(iva),
        total=str(to_money(subtotal + iva)),
        currency=invoice.currency,
        balance_after=str(to_money(invoice.balance - subtotal - iva)),
    )


def check_creditable(invoice: Invoice, *, business_id: int) -> None:
    if invoice.business_id != business_id:
        raise InvalidInput("Esa factura es de otro negocio.")
    if invoice.direction != Direction.RECEIVABLE or invoice.cfdi_type != "I":
        raise InvalidInput(
            f"La {invoice.label} no es una factura de ingreso tuya; sólo hago notas "
            "de crédito sobre lo que facturaste."
        )
    if not invoice.uuid:
        raise InvalidInput(
            f"La {invoice.label} no tiene folio fiscal (UUID); la nota de crédito "
            "tiene que relacionarse con una factura timbrada."
        )
    if invoice.status == InvoiceStatus.CANCELLED:
        raise MoneyRuleViolation(f"La factura {invoice.label} está cancelada.")
    if invoice.balance <= 0:
        raise MoneyRuleViolation(
            f"La factura {invoice.label} ya está pagada; no queda saldo que acreditar."
        )


def build_comprobante(
    business: Business,
    draft: CreditNoteDraft,
    *,
    folio: str,
    at: dt.datetime,
) -> cfdi40.Comprobante:
    """The unsealed Egreso for a draft; `at` is the local issue time, naive."""
    taxed = Decimal(draft.iva) != 0
    return cfdi40.Comprobante(
        emisor=issuer(business),
        lugar_expedicion=business.postal_code or "",
        receptor=receiver(draft),
        conceptos=[
            single_concept(
                product_key=PRODUCT_KEY,
                unit_key=UNIT_KEY,
                description=draft.concept,
                subtotal=Decimal(draft.subtotal),
                taxed=taxed,
            )
        ],
        moneda=draft.currency,
        tipo_de_comprobante="E",
        serie=SERIES,
        folio=folio,
        forma_pago=FORM,
        metodo_pago="PUE",
        cfdi_relacionados=cfdi40.CfdiRelacionados(
            tipo_relacion=RELATION, cfdi_relacionado=[draft.invoice_uuid]
        ),
        fecha=at.replace(microsecond=0),
    )


def issue_credit_note(
    session: Session,
    *,
    business: Business,
    draft: CreditNoteDraft,
    signer: Signer,
    pac: Pac,
    now: dt.datetime,
    actor: str,
    channel: str,
) -> Invoice:
    """Seal and stamp the note, book it, and apply it to its invoice.

    The balance is checked again first: a payment may have arrived since the draft.

    # Limitation: as with invoices, the PAC call sits inside the caller's
    # transaction; a commit failing after the stamp leaves the note at the SAT
    # only, until the SAT sync imports it (and then applies it).
    """
    invoice = session.get(Invoice, draft.invoice_id)
    if invoice is None or draft.business_id != business.id:
        raise InvalidInput("Ya no encuentro la factura de esa nota de crédito.")
    fresh = draft_credit_note(
        session,
        business=business,
        invoice=invoice,
        amount=Decimal(draft.total),
        concept=draft.concept,
    )
    if str(signer.rfc or "").upper() != business.rfc.upper():
        raise InvalidInput("El CSD guardado es de otro RFC.")

    folio = next_folio(session, business_id=business.id, series=SERIES)
    local = now.astimezone(zone(business.timezone)).replace(tzinfo=None)
    comprobante = build_comprobante(business, fresh, folio=folio, at=local)
    comprobante.sign(signer)
    stamped = pac.stamp(comprobante)

    contact = session.get(Contact, fresh.contact_id)
    assert contact is not None
    note = book_issued(
        session, business=business, contact=contact, stamped=stamped, now=now
    )
    # A note owes nothing; what it credits goes to the invoice below.
    note.due_date = note.issue_date
    note.paid, note.balance, note.status = note.total, Decimal("0.00"), "paid"
    apply_credit_note(
        session,
        note_uuid=note.uuid or "",
        invoice=invoice,
        amount=note.total,
        paid_at=now,
        actor=actor,
        channel=channel,
        now=now,
    )
    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="credit_note.issued",
        subject=f"invoice:{note.id}",
        data={
            "uuid": note.uuid,
            "related": invoice.uuid,
            "total": str(note.total),
            "pac": pac.name,
        },
        now=now,
    )
    log.info(
        "credit note issued",
        extra={"business_id": business.id, "invoice_id": invoice.id, "pac": pac.name},
    )
    return note


def apply_credit_note(
    session: Session,
    *,
    note_uuid: str,
    invoice: Invoice,
    amount: Decimal,
    paid_at: dt.datetime,
    actor: str,
    channel: str,
    now: dt.datetime,
    line: int = 1,
    method: str = FORM,
) -> None:
    """The note's credit on one invoice, through the money rules, once per key.

    Booked as the CFDI import books a note (source `sat`, the note's UUID as the
    document that settles it), so statements and the portal show both alike.
    """
    record_payment(
        session,
        contact=invoice.contact,
        amount=amount,
        currency=invoice.currency,
        paid_at=paid_at,
        allocations=[Allocation(invoice, to_money(amount))],
        source=PaymentSource.SAT,
        actor=actor,
        channel=channel,
        now=now,
        method=method,
        idempotency_key=note_key(note_uuid, line),
        complement_uuid=note_uuid,
    )


# ---- notes beside their invoices -----------------------------------------------

# Enough ids for one IN list on either database.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class NoteLine:
    """A credit note as shown under the invoice it credits: "NC-3 · -$2,000.00".

    `note_id` is the note's own row, None for a condonation (form 15) booked
    without a note document; `amount` is what it took off this invoice.
    """

    invoice_id: int
    note_id: int | None
    label: str
    uuid: str | None
    amount: Decimal
    currency: str
    day: dt.date

    def as_payload(self) -> dict[str, str]:
        """Plain strings for an outbox payload (emails render from these)."""
        return {
            "label": self.label,
            "amount": str(self.amount),
            "currency": self.currency,
            "day": self.day.isoformat(),
        }


def notes_by_invoice(
    session: Session, *, business_id: int, invoice_ids: Iterable[int]
) -> dict[int, list[NoteLine]]:
    """The credit notes applied to each of these invoices, oldest first.

    A note reaches its invoice as a payment (see `apply_credit_note` and the CFDI
    import): the payment carries the note's UUID, or the form 15 (condonación).
    Reversed payments are left out. Invoices without notes are not in the result.
    """
    wanted = sorted(set(invoice_ids))
    found: dict[int, list[NoteLine]] = defaultdict(list)
    note = aliased(Invoice)
    for start in range(0, len(wanted), _CHUNK):
        rows = session.execute(
            select(
                PaymentAllocation.invoice_id,
                PaymentAllocation.amount,
                Payment.currency,
                Payment.paid_at,
                Payment.complement_uuid,
                note.id.label("note_id"),
                note.series,
                note.folio,
                note.uuid,
                note.issue_date,
            )
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .outerjoin(
                note,
                and_(
                    note.business_id == Payment.business_id,
                    note.uuid == Payment.complement_uuid,
                    note.cfdi_type == "E",
                ),
            )
            .where(
                Payment.business_id == business_id,
                Payment.reversed_at.is_(None),
                PaymentAllocation.invoice_id.in_(wanted[start : start + _CHUNK]),
                or_(note.id.is_not(None), Payment.method == FORM),
            )
            .order_by(Payment.paid_at, Payment.id)
        )
        for row in rows:
            uuid = row.uuid or row.complement_uuid
            found[row.invoice_id].append(
                NoteLine(
                    invoice_id=row.invoice_id,
                    note_id=row.note_id,
                    label=_note_label(row.series, row.folio, uuid),
                    uuid=uuid,
                    amount=row.amount,
                    currency=row.currency,
                    day=row.issue_date or row.paid_at.date(),
                )
            )
    return dict(found)


def _note_label(series: str | None, folio: str | None, uuid: str | None) -> str:
    # The same shape as `Invoice.label`, for rows read without their objects.
    if series and folio:
        return f"{series}-{folio}"
    return folio or (uuid or "")[:8].upper()
