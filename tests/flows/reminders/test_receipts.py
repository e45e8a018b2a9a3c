"""Receipts on both databases: the customer's after a payment, the supplier's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.money import Allocation, record_payment
from flows.outbox import LogSender, deliver_pending
from flows.receipts import queue_payment_receipt, queue_supplier_receipt
from flows.render import render_outbound
from storage.models import Contact, Invoice, OutboundMessage, Payment
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db

KEY = b"k" * 32


def pay(
    s: Session,
    contact: Contact,
    invoice: Invoice,
    amount: str,
    reference: str | None = None,
) -> Payment:
    return record_payment(
        s,
        contact=contact,
        amount=Decimal(amount),
        currency="MXN",
        paid_at=NOW,
        allocations=[Allocation(invoice, Decimal(amount))],
        source="stp",
        actor="stp",
        channel="stp",
        now=NOW,
        reference=reference,
    )


def test_payment_receipt_by_email_and_whatsapp(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(
            s, business, emails="pagos@acme.mx", whatsapp="+525533334444"
        )
        acme.whatsapp_reminders = True
        first = make_invoice(s, acme, total="1000.00", folio="1")
        make_invoice(s, acme, total="500.00", folio="2")
        payment = pay(s, acme, first, "400.00", reference="CLAVE123")
        queued = queue_payment_receipt(
            s,
            payment=payment,
            public_base_url="https://cobra.test",
            portal_key=KEY,
            now=NOW,
        )
        again = queue_payment_receipt(
            s,
            payment=payment,
            public_base_url="https://cobra.test",
            portal_key=KEY,
            now=NOW,
        )
        assert [r.channel for r in queued] == ["email", "whatsapp"] and again == []
        payload = queued[0].payload
        assert payload["invoices"] == [
            {"label": "A-1", "amount": "400.00", "balance_after": "600.00"}
        ]
        assert payload["remaining"] == [{"currency": "MXN", "amount": "1100.00"}]
        email = render_outbound(s, queued[0], NOW)
        chat = render_outbound(s, queued[1], NOW)
    assert email.subject == "Ferretería La Tuerca: recibimos tu pago de $400.00"
    assert "queda $600.00" in email.text and "$1,100.00" in email.text
    assert email.html is not None and "CLAVE123" in email.html
    assert "$400.00" in chat.text and chat.variables["4"] == "$1,100.00"


def test_opted_out_customer_gets_the_receipt_by_email_only(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(
            s, business, emails="pagos@acme.mx", whatsapp="+525533334444"
        )
        acme.whatsapp_reminders, acme.whatsapp_opted_out = True, True
        invoice = make_invoice(s, acme, total="1000.00")
        payment = pay(s, acme, invoice, "1000.00")
        queued = queue_payment_receipt(
            s,
            payment=payment,
            public_base_url="https://cobra.test",
            portal_key=KEY,
            now=NOW,
        )
        assert [r.channel for r in queued] == ["email"]
        assert queued[0].payload["remaining"] == []
        assert "Estás al corriente" in render_outbound(s, queued[0], NOW).text


def test_supplier_receipt_carries_the_tracking_key(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        supplier = make_contact(
            s,
            business,
            kind="supplier",
            name="Aceros del Norte",
            emails="cxc@aceros.mx",
        )
        supplier.clabe = "002180700000000019"
        bill = make_invoice(s, supplier, total="2320.00", folio="F-9")
        payment = pay(s, supplier, bill, "2320.00", reference="COBRA0001")
        row = queue_supplier_receipt(s, payment=payment, now=NOW)
        assert row is not None and row.recipient == "cxc@aceros.mx"
        assert queue_supplier_receipt(s, payment=payment, now=NOW) is None
        rendered = render_outbound(s, row, NOW)
    assert "COBRA0001" in rendered.text and "$2,320.00" in rendered.text
    assert "••••0019" in rendered.text and "0021807" not in rendered.text
    counts = deliver_pending(db.factory, senders={"email": LogSender("email")}, now=NOW)
    assert counts.sent == 1
    with db.session() as s:
        assert s.scalars(select(OutboundMessage.status)).one() == "sent"


def test_reversed_payment_gets_no_receipt(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(s, business, emails="pagos@acme.mx")
        invoice = make_invoice(s, acme, total="100.00")
        payment = pay(s, acme, invoice, "100.00")
        payment.reversed_at = NOW + dt.timedelta(minutes=1)
        assert (
            queue_payment_receipt(
                s, payment=payment, public_base_url="https://x", portal_key=KEY, now=NOW
            )
            == []
        )
