"""What the SAT side tells people through the outbox (template `sat_notice`): the
owner's notices, and the stamped invoice or complement sent to the customer with
its XML and PDF.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.outbox import Attachment, enqueue, owner_address
from flows.sat.pdf import cached_pdf
from storage.models import (
    Business,
    CfdiComplement,
    Contact,
    Invoice,
    OutboundMessage,
    OutboxStatus,
)

log = logging.getLogger(__name__)

SAT_NOTICE = "sat_notice"
# Payload keys naming what rides along with a message (read by `cfdi_attachments`).
ATTACH_INVOICES = "attach_invoice_ids"
ATTACH_COMPLEMENTS = "attach_complement_ids"
MAX_ATTACHED = 5


def notify_owner(
    session: Session,
    *,
    business_id: int,
    kind: str,
    facts: dict[str, Any],
    dedupe_key: str,
    now: dt.datetime,
) -> OutboundMessage | None:
    """A SAT notice to the owner (`sync_failed`, `complements_due`), queued once."""
    address = owner_address(session, business_id=business_id)
    if address is None:
        log.info("sat notice not queued: no owner address", extra={"kind": kind})
        return None
    business = session.get(Business, business_id)
    channel, recipient = address
    return enqueue(
        session,
        business_id=business_id,
        channel=channel,
        recipient=recipient,
        template=SAT_NOTICE,
        payload={
            "kind": kind,
            "audience": "owner",
            "business_name": business.name if business else "Cobra",
            "contact_name": business.name if business else "",
            **facts,
        },
        dedupe_key=dedupe_key,
        now=now,
    )


def send_invoice(
    session: Session, *, invoice: Invoice, now: dt.datetime
) -> OutboundMessage | None:
    """The stamped invoice to the customer's emails, with its XML and PDF."""
    contact = invoice.contact
    if not contact.email_list:
        return None
    business = session.get(Business, invoice.business_id)
    return enqueue(
        session,
        business_id=invoice.business_id,
        contact_id=contact.id,
        channel="email",
        recipient=", ".join(contact.email_list)[:255],
        template=SAT_NOTICE,
        payload={
            **_customer_facts(business, contact),
            "kind": "invoice_issued",
            "label": invoice.label,
            "uuid": invoice.uuid,
            "total": str(invoice.total),
            "currency": invoice.currency,
            "due_date": invoice.due_date.isoformat(),
            "method": invoice.payment_method,
            ATTACH_INVOICES: [invoice.id],
        },
        dedupe_key=f"sat-invoice:{invoice.id}",
        now=now,
    )


def send_complement(
    session: Session,
    *,
    complement: CfdiComplement,
    payment_ids: list[int],
    now: dt.datetime,
) -> OutboundMessage | None:
    """The complement's XML and PDF go with the payment's receipt.

    A receipt still waiting in the outbox takes them along; when every receipt has
    gone out already, the customer gets them in a message of their own.
    """
    waiting = [
        row
        for pid in payment_ids
        for row in session.scalars(
            select(OutboundMessage).where(
                OutboundMessage.dedupe_key == f"receipt:{pid}:email",
                OutboundMessage.status == OutboxStatus.PENDING,
            )
        )
    ]
    if waiting:
        for row in waiting:
            attached = list((row.payload or {}).get(ATTACH_COMPLEMENTS, []))
            row.payload = {
                **row.payload,
                ATTACH_COMPLEMENTS: attached + [complement.id],
            }
        return waiting[0]

    contact = session.get(Contact, complement.contact_id)
    if contact is None or not contact.email_list:
        return None
    business = session.get(Business, complement.business_id)
    return enqueue(
        session,
        business_id=complement.business_id,
        contact_id=contact.id,
        channel="email",
        recipient=", ".join(contact.email_list)[:255],
        template=SAT_NOTICE,
        payload={
            **_customer_facts(business, contact),
            "kind": "complement_issued",
            "uuid": complement.uuid,
            ATTACH_COMPLEMENTS: [complement.id],
        },
        dedupe_key=f"sat-complement:{complement.id}",
        now=now,
    )


def cfdi_attachments(
    session: Session, payload: dict[str, Any], *, now: dt.datetime
) -> tuple[Attachment, ...]:
    """The PDFs of stamped invoices and the XML and PDF of complements a payload
    names; the invoices' XML is attached by the renderer itself."""
    attachments: list[Attachment] = []
    invoice_ids = [int(i) for i in payload.get(ATTACH_INVOICES, [])][:MAX_ATTACHED]
    if invoice_ids:
        invoices = session.scalars(
            select(Invoice)
            .where(
                Invoice.id.in_(invoice_ids),
                Invoice.uuid.is_not(None),
                Invoice.xml.is_not(None),
            )
            .order_by(Invoice.id)
        ).all()
        for invoice in invoices:
            attachments.append(
                Attachment(
                    filename=f"factura-{_safe(invoice.label)}.pdf",
                    content_type="application/pdf",
                    content=cached_pdf(
                        session,
                        business_id=invoice.business_id,
                        uuid=invoice.uuid or "",
                        xml=invoice.xml or "",
                        now=now,
                    ),
                )
            )
    complement_ids = [int(i) for i in payload.get(ATTACH_COMPLEMENTS, [])]
    for row in session.scalars(
        select(CfdiComplement)
        .where(
            CfdiComplement.id.in_(complement_ids[:MAX_ATTACHED]),
            CfdiComplement.xml.is_not(None),
        )
        .order_by(CfdiComplement.id)
    ).all():
        name = f"complemento-{row.uuid[:8].upper()}"
        attachments.append(
            Attachment(f"{name}.xml", "application/xml", (row.xml or "").encode())
        )
        attachments.append(
            Attachment(
                f"{name}.pdf",
                "application/pdf",
                cached_pdf(
                    session,
                    business_id=row.business_id,
                    uuid=row.uuid,
                    xml=row.xml or "",
                    now=now,
                ),
            )
        )
    return tuple(attachments)


def _customer_facts(business: Business | None, contact: Contact) -> dict[str, Any]:
    return {
        "audience": "customer",
        "business_name": business.name if business else "",
        "contact_name": contact.display_name,
    }


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in label)
