"""Payment complements (CFDI type P, Pagos 2.0) for payments recorded against PPD
invoices: drafted from the recorded payments, stamped on the owner's yes, and
reminded before the 5th of the following month, when the law wants them issued.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from satcfdi.cfdi import CFDI
from satcfdi.create.cfd import cfdi40, pago20
from satcfdi.create.compute import make_impuestos_dr_parcial, rounder
from satcfdi.models import Signer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from flows.audit import audit
from flows.errors import InvalidInput, NotFound
from flows.fmt import as_utc, money, zone
from flows.sat.issue import next_folio
from flows.sat.notices import notify_owner
from flows.sat.pac import Pac
from storage.db import transaction
from storage.models import (
    Business,
    CfdiComplement,
    ComplementStatus,
    Contact,
    Direction,
    Payment,
)

log = logging.getLogger(__name__)

SERIES = "P"
DEFAULT_FORM = "03"  # transferencia electrónica
DEADLINE_DAY = 5


@dataclass(frozen=True, slots=True)
class ComplementDraft:
    """Which payments one complement covers, and how it reads to the owner."""

    business_id: int
    contact_id: int
    payment_ids: list[int]
    summary: str


def pending_payments(
    session: Session, *, business_id: int, contact_id: int | None = None
) -> list[Payment]:
    """Collections on PPD invoices whose complement is still to be issued."""
    query = (
        select(Payment)
        .where(
            Payment.business_id == business_id,
            Payment.direction == "in",
            Payment.complement_status == ComplementStatus.PENDING,
            Payment.reversed_at.is_(None),
        )
        .order_by(Payment.paid_at, Payment.id)
    )
    if contact_id is not None:
        query = query.where(Payment.contact_id == contact_id)
    return list(session.scalars(query))


def draft_complement(
    session: Session,
    *,
    business: Business,
    contact: Contact,
    month: tuple[int, int] | None = None,
) -> ComplementDraft:
    """The customer's pending payments of one month (the oldest, unless named)."""
    payments = pending_payments(session, business_id=business.id, contact_id=contact.id)
    if not payments:
        raise NotFound(f"{contact.name} no tiene pagos pendientes de complemento.")
    tz = zone(business.timezone)
    by_month: dict[tuple[int, int], list[Payment]] = defaultdict(list)
    for payment in payments:
        local = as_utc(payment.paid_at).astimezone(tz)
        by_month[(local.year, local.month)].append(payment)
    chosen = month or min(by_month)
    if chosen not in by_month:
        raise NotFound(f"{contact.name} no tiene pagos pendientes en ese mes.")
    chosen_payments = by_month[chosen]
    for payment in chosen_payments:
        _check_payable(payment)

    lines = [f"Complemento de pago para {contact.name} ({contact.rfc}):"]
    for payment in chosen_payments:
        day = as_utc(payment.paid_at).astimezone(tz).date()
        invoices = ", ".join(a.invoice.label for a in payment.allocations)
        lines.append(
            f"• {money(payment.amount, payment.currency)} del "
            f"{day.strftime('%d/%m/%Y')} a {invoices}"
        )
    return ComplementDraft(
        business_id=business.id,
        contact_id=contact.id,
        payment_ids=[p.id for p in chosen_payments],
        summary="\n".join(lines),
    )


def build_complement(
    business: Business,
    contact: Contact,
    payments: list[Payment],
    *,
    series: str,
    folio: str,
    at: dt.datetime,
) -> cfdi40.Comprobante:
    """The unsealed type P CFDI: one `Pago` per payment, one `DoctoRelacionado` per
    invoice it paid, with the partial number and balances recorded at payment time."""
    tz = zone(business.timezone)
    pagos = []
    for payment in payments:
        documents = []
        for allocation in payment.allocations:
            invoice = allocation.invoice
            if not invoice.xml:
                raise InvalidInput(
                    f"La factura {invoice.label} no tiene su XML en Cobra; impórtala "
                    "para poder timbrar su complemento de pago."
                )
            source = CFDI.from_string(invoice.xml.encode())
            previous = allocation.previous_balance
            if previous is None:
                raise InvalidInput(
                    f"No tengo el saldo anterior del pago a {invoice.label}."
                )
            taxed = "Impuestos" in source
            documents.append(
                pago20.DoctoRelacionado(
                    id_documento=invoice.uuid or "",
                    moneda_dr=invoice.currency,
                    num_parcialidad=allocation.partial_number or 1,
                    imp_saldo_ant=previous,
                    imp_pagado=allocation.amount,
                    objeto_imp_dr="02" if taxed else "01",
                    serie=invoice.series,
                    folio=invoice.folio,
                    equivalencia_dr=Decimal(1),
                    impuestos_dr=make_impuestos_dr_parcial(
                        conceptos=source["Conceptos"],
                        imp_saldo_ant=previous,
                        imp_pagado=allocation.amount,
                        total=source["Total"],
                        rnd_fn=rounder(invoice.currency),
                    )
                    if taxed
                    else None,
                )
            )
        pagos.append(
            pago20.Pago(
                fecha_pago=as_utc(payment.paid_at)
                .astimezone(tz)
                .replace(tzinfo=None, microsecond=0),
                forma_de_pago_p=payment.method or DEFAULT_FORM,
                moneda_p=payment.currency,
                tipo_cambio_p=Decimal(1) if payment.currency == "MXN" else None,
                num_operacion=payment.reference,
                docto_relacionado=documents,
            )
        )
    return cfdi40.Comprobante.pago(
        emisor=cfdi40.Emisor(
            rfc=business.rfc,
            nombre=business.name.upper(),
            regimen_fiscal=business.tax_regime or "",
        ),
        lugar_expedicion=business.postal_code or "",
        receptor=cfdi40.Receptor(
            rfc=contact.rfc,
            nombre=contact.name.upper(),
            domicilio_fiscal_receptor=contact.postal_code or "",
            regimen_fiscal_receptor=contact.tax_regime or "",
            uso_cfdi="CP01",
        ),
        complemento_pago=pago20.Pagos(pago=pagos),
        serie=series,
        folio=folio,
        fecha=at.replace(microsecond=0),
    )


def issue_complement(
    session: Session,
    *,
    business: Business,
    payment_ids: list[int],
    signer: Signer,
    pac: Pac,
    now: dt.datetime,
    actor: str,
    channel: str,
) -> CfdiComplement:
    """Seal and stamp the complement for these payments and mark them issued."""
    payments = [session.get(Payment, pid) for pid in payment_ids]
    if not payments or any(p is None or p.business_id != business.id for p in payments):
        raise NotFound("No encuentro esos pagos.")
    found = [p for p in payments if p is not None]
    contacts = {p.contact_id for p in found}
    if len(contacts) != 1:
        raise InvalidInput("Un complemento sólo puede ser de un cliente.")
    for payment in found:
        if payment.complement_status != ComplementStatus.PENDING:
            raise InvalidInput("Ese pago ya tiene su complemento (o no lo necesita).")
        _check_payable(payment)
    contact = found[0].contact
    if not contact.tax_regime or not contact.postal_code:
        raise InvalidInput(
            f"Me falta el régimen fiscal o el código postal de {contact.name}."
        )

    folio = next_folio(session, business_id=business.id, series=SERIES)
    local = now.astimezone(zone(business.timezone)).replace(tzinfo=None)
    comprobante = build_complement(
        business, contact, found, series=SERIES, folio=folio, at=local
    )
    comprobante.sign(signer)
    stamped = pac.stamp(comprobante)

    row = CfdiComplement(
        business_id=business.id,
        contact_id=contact.id,
        direction=Direction.RECEIVABLE,
        uuid=stamped.uuid,
        issued_at=now,
        xml=stamped.xml.decode("utf-8"),
        created_at=now,
    )
    session.add(row)
    for payment in found:
        payment.complement_status = ComplementStatus.ISSUED
        payment.complement_uuid = stamped.uuid
    session.flush()
    audit(
        session,
        business_id=business.id,
        actor=actor,
        channel=channel,
        action="complement.issued",
        subject=f"complement:{row.id}",
        data={"uuid": stamped.uuid, "payments": [p.id for p in found]},
        now=now,
    )
    log.info(
        "payment complement issued",
        extra={"business_id": business.id, "payments": len(found), "pac": pac.name},
    )
    return row


def complements_in_force(session: Session, *, business_id: int, invoice_id: int) -> int:
    """How many live payments of the invoice already have a stamped complement."""
    payments = session.scalars(
        select(Payment).where(
            Payment.business_id == business_id,
            Payment.reversed_at.is_(None),
            Payment.complement_uuid.is_not(None),
        )
    ).all()
    return sum(
        1 for p in payments if any(a.invoice_id == invoice_id for a in p.allocations)
    )


def run_complement_reminders(factory: sessionmaker[Session], now: dt.datetime) -> int:
    """Remind owners, on the 1st to the 4th, of complements due by the 5th.

    One reminder per business and month (the outbox's dedupe key); returns how many
    were enqueued.
    """
    sent = 0
    with transaction(factory) as session:
        business_ids = session.scalars(
            select(Payment.business_id)
            .where(
                Payment.complement_status == ComplementStatus.PENDING,
                Payment.reversed_at.is_(None),
                Payment.direction == "in",
            )
            .distinct()
        ).all()
        for business_id in business_ids:
            business = session.get(Business, business_id)
            if business is None:
                continue
            today = now.astimezone(zone(business.timezone)).date()
            if today.day >= DEADLINE_DAY:
                continue
            month_start = today.replace(day=1)
            overdue = [
                p
                for p in pending_payments(session, business_id=business_id)
                if as_utc(p.paid_at).astimezone(zone(business.timezone)).date()
                < month_start
            ]
            if not overdue:
                continue
            customers = sorted({p.contact.display_name for p in overdue})
            row = notify_owner(
                session,
                business_id=business_id,
                kind="complements_due",
                facts={
                    "count": len(overdue),
                    "customers": customers,
                    "deadline_day": DEADLINE_DAY,
                },
                dedupe_key=f"sat-complements:{business_id}:{month_start:%Y-%m}",
                now=now,
            )
            if row is not None:
                sent += 1
    log.info("complement reminders planned", extra={"enqueued": sent})
    return sent


def _check_payable(payment: Payment) -> None:
    for allocation in payment.allocations:
        invoice = allocation.invoice
        if not invoice.uuid or not invoice.xml:
            raise InvalidInput(
                f"La factura {invoice.label} no tiene su XML timbrado; no puedo "
                "hacer su complemento."
            )
