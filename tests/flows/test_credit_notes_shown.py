"""Credit notes beside their invoices, on both databases: the one query
(`notes_by_invoice`), the customer's statement view, and the reminder and statement
emails (payload and rendered text)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.credit_notes import apply_credit_note, notes_by_invoice
from flows.customer_side import statement
from flows.money import Allocation, record_payment, reverse_payment
from flows.reminders import plan_reminders
from flows.render import render_text
from storage.db import transaction
from storage.models import (
    Business,
    Contact,
    Invoice,
    OutboundMessage,
    PaymentAllocation,
)
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db

BASE_URL = "https://cobra.test"
KEY = b"k" * 32
ISSUED = dt.date(2026, 11, 1)
DUE = dt.date(2026, 12, 1)
INVOICE_UUID = "11111111-2222-4333-8444-555555555555"
NOTE_UUID = "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"


def book_note(
    session: Session,
    invoice: Invoice,
    amount: str,
    folio: str = "3",
    uuid: str = NOTE_UUID,
) -> Invoice:
    """A note stored the way the import and the issuer store one, then applied."""
    note = make_invoice(
        session,
        invoice.contact,
        total=amount,
        series="NC",
        folio=folio,
        uuid=uuid,
        issue_date=dt.date(2026, 11, 20),
        method="PUE",
    )
    note.cfdi_type = "E"
    note.status, note.paid, note.balance = "paid", note.total, Decimal("0.00")
    apply_credit_note(
        session,
        note_uuid=uuid,
        invoice=invoice,
        amount=Decimal(amount),
        paid_at=NOW - dt.timedelta(days=13),
        actor="test",
        channel="cli",
        now=NOW,
    )
    return note


def setup(db: Db) -> dict[str, int]:
    with transaction(db.factory) as session:
        business = make_business(session)
        acme = make_contact(
            session, business, name="Acme Industrial", emails="pagos@acme.mx"
        )
        invoice = make_invoice(
            session,
            acme,
            total="11600.00",
            folio="102",
            uuid=INVOICE_UUID,
            issue_date=ISSUED,
            due_date=DUE,
        )
        note = book_note(session, invoice, "2000.00")
        return {
            "business": business.id,
            "acme": acme.id,
            "invoice": invoice.id,
            "note": note.id,
        }


def test_notes_by_invoice_reads_notes_and_condonations(db: Db) -> None:
    ids = setup(db)
    with transaction(db.factory) as session:
        invoice = session.get(Invoice, ids["invoice"])
        assert invoice is not None and invoice.balance == Decimal("9600.00")
        # A condonation (form 15) without a note document shows too; a plain
        # transfer does not, nor a reversed note.
        record_payment(
            session,
            contact=invoice.contact,
            amount=Decimal("100.00"),
            currency="MXN",
            paid_at=NOW,
            allocations=[Allocation(invoice, Decimal("100.00"))],
            source="manual",
            actor="test",
            channel="cli",
            now=NOW,
            method="15",
        )
        record_payment(
            session,
            contact=invoice.contact,
            amount=Decimal("500.00"),
            currency="MXN",
            paid_at=NOW,
            allocations=[Allocation(invoice, Decimal("500.00"))],
            source="manual",
            actor="test",
            channel="cli",
            now=NOW,
            method="03",
        )
        second = book_note(
            session,
            invoice,
            "300.00",
            folio="4",
            uuid="CCCCCCCC-BBBB-4CCC-8DDD-EEEEEEEEEEEE",
        )
        payment = next(
            p.payment
            for p in _allocations(session, invoice.id)
            if p.payment.complement_uuid == second.uuid
        )
        reverse_payment(session, payment=payment, actor="test", channel="cli", now=NOW)

        found = notes_by_invoice(
            session,
            business_id=ids["business"],
            invoice_ids=[ids["invoice"], ids["note"], 999999],
        )
        elsewhere = notes_by_invoice(
            session, business_id=ids["business"] + 1000, invoice_ids=[ids["invoice"]]
        )

    assert list(found) == [ids["invoice"]]
    [note, condonation] = found[ids["invoice"]]
    assert (note.label, note.amount, note.note_id) == (
        "NC-3",
        Decimal("2000.00"),
        ids["note"],
    )
    assert note.day == dt.date(2026, 11, 20) and note.uuid == NOTE_UUID
    assert note.as_payload() == {
        "label": "NC-3",
        "amount": "2000.00",
        "currency": "MXN",
        "day": "2026-11-20",
    }
    assert condonation.note_id is None and condonation.amount == Decimal("100.00")
    assert elsewhere == {}


def _allocations(session: Session, invoice_id: int) -> Sequence[PaymentAllocation]:
    return session.scalars(
        select(PaymentAllocation).where(PaymentAllocation.invoice_id == invoice_id)
    ).all()


def test_statement_lists_notes_under_their_invoice_not_as_rows(db: Db) -> None:
    ids = setup(db)
    with db.session() as session:
        acme = session.get(Contact, ids["acme"])
        assert acme is not None
        view = statement(session, contact=acme, today=NOW.date())

    assert [i.id for i in view.open] == [ids["invoice"]]
    assert ids["note"] not in [i.id for i in view.closed]
    [note] = view.notes[ids["invoice"]]
    assert note.label == "NC-3" and note.amount == Decimal("2000.00")
    assert view.totals == {"MXN": Decimal("9600.00")}


def test_reminder_email_shows_the_note_under_its_invoice(db: Db) -> None:
    ids = setup(db)

    plan_reminders(
        db.factory,
        now=dt.datetime(2026, 12, 4, 15, tzinfo=dt.UTC),
        public_base_url=BASE_URL,
        portal_key=KEY,
    )

    with db.session() as session:
        [row] = session.scalars(
            select(OutboundMessage).where(
                OutboundMessage.template == "reminder",
                OutboundMessage.channel == "email",
            )
        ).all()
    [item] = row.payload["invoices"]
    assert item["id"] == ids["invoice"] and item["balance"] == "9600.00"
    assert item["credit_notes"] == [
        {"label": "NC-3", "amount": "2000.00", "currency": "MXN", "day": "2026-11-20"}
    ]
    text = render_text("email/reminder.txt.j2", row.payload)
    assert "A-102: $9,600.00" in text
    assert "  Nota de crédito NC-3: -$2,000.00\n" in text
    html = render_text("email/reminder.html.j2", row.payload)
    assert "Nota de crédito NC-3" in html and "-$2,000.00" in html
    chat = render_text("messages/reminder.txt.j2", row.payload)
    assert "• A-102: $9,600.00" in chat
    assert "   Nota de crédito NC-3: -$2,000.00\n" in chat


def test_statement_email_shows_the_note(db: Db) -> None:
    ids = setup(db)
    with transaction(db.factory) as session:
        acme = session.get(Contact, ids["acme"])
        assert acme is not None
        # Statements go out 14 days after the customer was added, with a balance.
        acme.created_at = NOW - dt.timedelta(days=30)

    plan_reminders(
        db.factory,
        now=dt.datetime(2026, 12, 2, 15, tzinfo=dt.UTC),
        public_base_url=BASE_URL,
        portal_key=KEY,
    )

    with db.session() as session:
        [row] = session.scalars(
            select(OutboundMessage).where(OutboundMessage.template == "statement")
        ).all()
        business = session.get(Business, ids["business"])
        assert business is not None
    [item] = row.payload["invoices"]
    assert item["credit_notes"][0]["label"] == "NC-3"
    text = render_text("email/statement.txt.j2", row.payload)
    assert "Nota de crédito NC-3: -$2,000.00" in text


def test_invoices_without_notes_render_as_before(db: Db) -> None:
    with transaction(db.factory) as session:
        business = make_business(session)
        acme = make_contact(session, business, emails="pagos@acme.mx")
        make_invoice(session, acme, total="1160.00", issue_date=ISSUED, due_date=DUE)

    plan_reminders(
        db.factory,
        now=dt.datetime(2026, 12, 4, 15, tzinfo=dt.UTC),
        public_base_url=BASE_URL,
        portal_key=KEY,
    )

    with db.session() as session:
        [row] = session.scalars(
            select(OutboundMessage).where(OutboundMessage.template == "reminder")
        ).all()
    assert "credit_notes" not in row.payload["invoices"][0]
    assert "Nota de crédito" not in render_text("email/reminder.txt.j2", row.payload)
