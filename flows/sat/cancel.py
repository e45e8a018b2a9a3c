"""Cancelling an issued CFDI at the SAT through the PAC: the four motives, the
substitute that motive 01 needs first, and the customer's acceptance when the SAT
asks for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from satcfdi.models import Signer
from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.audit import audit
from flows.errors import Conflict, InvalidInput, MoneyRuleViolation, NotFound
from flows.fmt import PUBLIC_RFC, as_utc
from flows.money import cancel_invoice
from flows.sat.complements import complements_in_force
from flows.sat.pac import Pac
from storage.models import (
    Business,
    Direction,
    Invoice,
    InvoiceStatus,
    SatCancellation,
)

log = logging.getLogger(__name__)

MOTIVES = {
    "01": "Comprobante emitido con errores con relación (ya emitiste la que la "
    "sustituye)",
    "02": "Comprobante emitido con errores sin relación",
    "03": "No se llevó a cabo la operación",
    "04": "Operación nominativa relacionada en una factura global",
}
# Without the receiver's acceptance the SAT cancels a CFDI of up to $1,000 MXN, one
# to the general public, and one cancelled by the day after it was issued.
NO_ACCEPTANCE_UP_TO = Decimal("1000.00")
# Codes the PAC returns for a request the SAT took (201) or had already (202).
ACCEPTED_CODES = {"201", "202"}


class CancelStatus:
    PENDING_ACCEPTANCE = "pending_acceptance"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


def motive_menu() -> str:
    return "\n".join(f"{code}. {text}" for code, text in MOTIVES.items())


def acceptance_required(invoice: Invoice, *, now: dt.datetime) -> bool:
    """Whether the SAT will ask the customer to accept this cancellation.

    # Limitation: "by the day after it was issued" is taken as 24 hours, and the
    # receiver's RFC is read from the contact; the SAT's own answer, which arrives
    # with the sync, is what finally settles the status.
    """
    if invoice.cfdi_type in ("E", "P", "T", "N"):
        return False
    if invoice.currency == "MXN" and invoice.total <= NO_ACCEPTANCE_UP_TO:
        return False
    if invoice.contact.rfc == PUBLIC_RFC:
        return False
    return now - as_utc(invoice.issued_at) > dt.timedelta(hours=24)


def check_cancellable(
    session: Session,
    *,
    business: Business,
    invoice: Invoice,
    motive: str,
    substitute_uuid: str | None = None,
) -> Invoice | None:
    """Refuse what the SAT would refuse; returns the substitute for motive 01."""
    if invoice.business_id != business.id or invoice.direction != Direction.RECEIVABLE:
        raise InvalidInput("Sólo puedo cancelar facturas que tú emitiste.")
    if not invoice.uuid:
        raise InvalidInput(
            f"La factura {invoice.label} no está timbrada; no hay nada que cancelar "
            "en el SAT."
        )
    if invoice.status == InvoiceStatus.CANCELLED:
        raise Conflict(f"La factura {invoice.label} ya está cancelada.")
    if motive not in MOTIVES:
        raise InvalidInput("El motivo debe ser 01, 02, 03 o 04.\n" + motive_menu())
    existing = session.scalar(
        select(SatCancellation).where(
            SatCancellation.business_id == business.id,
            SatCancellation.uuid == invoice.uuid,
        )
    )
    if existing is not None and existing.status == CancelStatus.PENDING_ACCEPTANCE:
        raise Conflict(
            f"Ya pedí cancelar la {invoice.label}; esperamos que el cliente acepte."
        )
    in_force = complements_in_force(
        session, business_id=business.id, invoice_id=invoice.id
    )
    if in_force:
        raise MoneyRuleViolation(
            f"La factura {invoice.label} tiene {in_force} complemento(s) de pago "
            "vigente(s); cancélalos primero."
        )

    substitute = None
    if motive == "01":
        if not substitute_uuid:
            raise InvalidInput(
                "Con el motivo 01 primero emite la factura que sustituye a la "
                f"{invoice.label} y dime cuál es."
            )
        substitute = session.scalar(
            select(Invoice).where(
                Invoice.business_id == business.id,
                Invoice.uuid == substitute_uuid.upper(),
            )
        )
        if substitute is None or substitute.status == InvoiceStatus.CANCELLED:
            raise NotFound(
                "No encuentro la factura sustituta vigente; emítela primero."
            )
        if substitute.id == invoice.id:
            raise InvalidInput("Una factura no puede sustituirse a sí misma.")
    elif substitute_uuid:
        raise InvalidInput("Sólo el motivo 01 lleva factura sustituta.")
    return substitute


def request_cancellation(
    session: Session,
    *,
    business: Business,
    invoice: Invoice,
    motive: str,
    signer: Signer,
    pac: Pac,
    now: dt.datetime,
    actor: str,
    channel: str,
    substitute_uuid: str | None = None,
) -> SatCancellation:
    """Ask the SAT (through the PAC) to cancel; books it now if no acceptance is due."""
    substitute = check_cancellable(
        session,
        business=business,
        invoice=invoice,
        motive=motive,
        substitute_uuid=substitute_uuid,
    )
    substitute_id = substitute.uuid if substitute is not None else None
    result = pac.cancel(
        uuid=invoice.uuid or "",
        motive=motive,
        substitute_uuid=substitute_id,
        signer=signer,
        at=now.replace(tzinfo=None, microsecond=0),
    )
    if result.code not in ACCEPTED_CODES:
        raise InvalidInput(
            f"El SAT no aceptó la cancelación (código {result.code or 'sin código'})."
        )

    needs_acceptance = acceptance_required(invoice, now=now)
    row = session.scalar(
        select(SatCancellation).where(
            SatCancellation.business_id == business.id,
            SatCancellation.uuid == invoice.uuid,
        )
    )
    if row is None:
        row = SatCancellation(
            business_id=business.id, uuid=invoice.uuid or "", requested_at=now
        )
        session.add(row)
    row.invoice_id = invoice.id
    row.motive = motive
    row.substitute_uuid = substitute_id
    row.status = (
        CancelStatus.PENDING_ACCEPTANCE if needs_acceptance else CancelStatus.CANCELLED
    )
    row.acknowledgment = (
        result.acknowledgment.decode("utf-8", "replace")
        if result.acknowledgment
        else None
    )
    row.updated_at = now
    session.flush()
    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="invoice.cancel_requested",
        subject=f"invoice:{invoice.id}",
        data={"motive": motive, "status": row.status, "substitute": substitute_id},
        now=now,
    )
    if not needs_acceptance:
        cancel_invoice(session, invoice=invoice, actor=actor, channel=channel, now=now)
    log.info(
        "cancellation requested",
        extra={"business_id": business.id, "invoice_id": invoice.id, "motive": motive},
    )
    return row


def record_outcome(
    session: Session,
    *,
    business_id: int,
    uuid: str,
    accepted: bool,
    now: dt.datetime,
    actor: str = "sat",
    channel: str = "sat",
) -> SatCancellation | None:
    """The customer accepted (the SAT cancelled it) or rejected the cancellation."""
    row = session.scalar(
        select(SatCancellation).where(
            SatCancellation.business_id == business_id,
            SatCancellation.uuid == uuid.upper(),
        )
    )
    if row is None or row.status != CancelStatus.PENDING_ACCEPTANCE:
        return row
    row.status = CancelStatus.CANCELLED if accepted else CancelStatus.REJECTED
    row.updated_at = now
    if accepted and row.invoice_id is not None:
        invoice = session.get(Invoice, row.invoice_id)
        if invoice is not None:
            cancel_invoice(
                session, invoice=invoice, actor=actor, channel=channel, now=now
            )
    audit(
        session,
        business_id=business_id,
        actor=actor,
        channel=channel,
        action="invoice.cancel_" + ("accepted" if accepted else "rejected"),
        subject=f"invoice:{row.invoice_id}",
        now=now,
    )
    return row
