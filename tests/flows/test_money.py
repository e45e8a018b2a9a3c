"""The money rules on both databases: allocation, partials, overpayment, reversal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from functools import partial

import pytest
from sqlalchemy.orm import Session

from flows.errors import MoneyRuleViolation
from flows.money import (
    Allocation,
    OpenInvoice,
    Payer,
    PaymentBatch,
    PaymentRequest,
    PlannedPayment,
    cancel_invoice,
    due_date_for,
    propose_allocation,
    record_payment,
    record_payments,
    reverse_payment,
    terms_from_text,
)
from storage import repo
from storage.models import (
    AuditEvent,
    Contact,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db

TODAY = dt.date(2026, 12, 3)


def _pay(
    session: Session,
    contact: Contact,
    amount: str,
    allocations: Sequence[Allocation],
    *,
    currency: str = "MXN",
    idempotency_key: str | None = None,
) -> Payment:
    return record_payment(
        session,
        contact=contact,
        amount=Decimal(amount),
        currency=currency,
        paid_at=NOW,
        allocations=allocations,
        source="chat",
        actor="user:1",
        channel="chat",
        now=NOW,
        idempotency_key=idempotency_key,
    )


def _request(
    contact: Contact, invoice: Invoice, amount: str, key: str | None = None
) -> PaymentRequest:
    return PaymentRequest(
        contact=contact,
        amount=Decimal(amount),
        currency="MXN",
        paid_at=NOW,
        allocations=[Allocation(invoice, Decimal(amount))],
        source="sat",
        actor="import",
        channel="cli",
        idempotency_key=key,
    )


def test_oldest_first_split_and_partial_payment(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(s, business)
        old = make_invoice(s, acme, total="1000.00", due_date=dt.date(2026, 10, 1))
        new = make_invoice(s, acme, total="500.00", due_date=dt.date(2026, 11, 1))
        plan = propose_allocation([new, old], Decimal("1200"))
        assert [(a.invoice.id, a.amount) for a in plan] == [
            (old.id, Decimal("1000.00")),
            (new.id, Decimal("200.00")),
        ]
        payment = _pay(s, acme, "1200", plan)
        old_id, new_id, pid = old.id, new.id, payment.id

    with db.session() as s:
        old, new = s.get_one(type(old), old_id), s.get_one(type(new), new_id)
        assert old.status == InvoiceStatus.PAID and old.balance == Decimal("0.00")
        assert new.status == InvoiceStatus.PENDING
        assert new.paid == Decimal("200.00") and new.balance == Decimal("300.00")
        totals = repo.balance_totals(
            s, business_id=old.business_id, direction="receivable", today=TODAY
        )
        assert totals == {"MXN": (Decimal("300.00"), Decimal("300.00"), 1)}
        events = s.query(AuditEvent).filter_by(action="payment.recorded").all()
        assert [e.subject for e in events] == [f"payment:{pid}"]


def test_overpayment_is_refused_and_nothing_changes(db: Db) -> None:
    with db.session() as s, s.begin():
        acme = make_contact(s, make_business(s))
        inv = make_invoice(s, acme, total="100.00")
        with pytest.raises(MoneyRuleViolation, match="mayor a lo que se debe"):
            propose_allocation([inv], Decimal("150"))
        with pytest.raises(MoneyRuleViolation, match="sólo le quedan"):
            _pay(s, acme, "150", [Allocation(inv, Decimal("150"))])
        assert inv.balance == Decimal("100.00")


def test_currency_mix_and_cancelled_invoice_are_refused(db: Db) -> None:
    with db.session() as s, s.begin():
        acme = make_contact(s, make_business(s))
        usd = make_invoice(s, acme, total="50.00", currency="USD")
        with pytest.raises(MoneyRuleViolation, match="USD"):
            _pay(s, acme, "50", [Allocation(usd, Decimal("50"))])
        mxn = make_invoice(s, acme, total="80.00")
        cancel_invoice(s, invoice=mxn, actor="user:1", channel="chat", now=NOW)
        with pytest.raises(MoneyRuleViolation, match="cancelada"):
            _pay(s, acme, "80", [Allocation(mxn, Decimal("80"))])
        totals = repo.balance_totals(
            s, business_id=acme.business_id, direction="receivable", today=TODAY
        )
        assert totals == {"USD": (Decimal("50.00"), Decimal("50.00"), 1)}


def test_reverse_restores_balances_and_idempotency_key(db: Db) -> None:
    with db.session() as s, s.begin():
        acme = make_contact(s, make_business(s))
        inv = make_invoice(s, acme, total="300.00")
        first = _pay(
            s, acme, "300", [Allocation(inv, Decimal("300"))], idempotency_key="k1"
        )
        again = _pay(
            s, acme, "300", [Allocation(inv, Decimal("300"))], idempotency_key="k1"
        )
        assert again.id == first.id
        assert inv.status == InvoiceStatus.PAID
        reverse_payment(s, payment=first, actor="user:1", channel="chat", now=NOW)
        assert inv.status == InvoiceStatus.PENDING and inv.balance == Decimal("300.00")
        with pytest.raises(MoneyRuleViolation):
            reverse_payment(s, payment=first, actor="user:1", channel="chat", now=NOW)


def test_aging_buckets_and_hidden_contacts(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(s, business)
        hidden = make_contact(s, business, name="Oculto SA")
        hidden.invoices_hidden = True
        for days, total in (
            (-5, "10"),
            (10, "20"),
            (45, "30"),
            (75, "40"),
            (120, "50"),
        ):
            make_invoice(s, acme, total=total, due_date=TODAY - dt.timedelta(days=days))
        make_invoice(s, hidden, total="7", due_date=TODAY)
        aging = repo.aging_totals(
            s, business_id=business.id, direction="receivable", today=TODAY
        )
        assert aging["MXN"] == {
            "current": Decimal("17.00"),
            "1-30": Decimal("20.00"),
            "31-60": Decimal("30.00"),
            "61-90": Decimal("40.00"),
            "90+": Decimal("50.00"),
        }
        listed = repo.open_invoices(
            s, business_id=business.id, direction="receivable", include_hidden=False
        )
        assert len(listed) == 5


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("30 días", 30),
        ("Crédito 45 dias", 45),
        ("NET 30", 30),
        ("contado", 0),
        ("pago en una exhibición", None),
        (None, None),
        ("15 DIAS NATURALES", 15),
    ],
)
def test_terms_from_text(text: str | None, days: int | None) -> None:
    assert terms_from_text(text) == days


def test_due_date_rule() -> None:
    issued = dt.date(2026, 11, 1)
    due = partial(due_date_for, issue_date=issued, default_terms=30)
    assert (
        due(payment_method="PUE", contact_terms=60, payment_terms_text="90 días")
        == issued
    )
    assert due(
        payment_method="PPD", contact_terms=60, payment_terms_text="90 días"
    ) == dt.date(2026, 12, 31)
    assert due(
        payment_method="PPD",
        contact_terms=None,
        payment_terms_text="crédito 45 días",
    ) == dt.date(2026, 12, 16)
    assert due(
        payment_method="PPD", contact_terms=None, payment_terms_text=None
    ) == dt.date(2026, 12, 1)


def test_a_batch_of_payments_to_one_invoice_applies_in_order(db: Db) -> None:
    with db.session() as s, s.begin():
        acme = make_contact(s, make_business(s))
        inv = make_invoice(s, acme, total="1000.00")
        _pay(s, acme, "100", [Allocation(inv, Decimal("100"))])
        payments = record_payments(
            s,
            [
                _request(acme, inv, "200", "b1"),
                _request(acme, inv, "300", "b2"),
                _request(acme, inv, "400", "b3"),
            ],
            now=NOW,
        )
        assert all(isinstance(p, Payment) for p in payments)
        assert inv.status == InvoiceStatus.PAID and inv.balance == Decimal("0.00")
        allocations = s.query(PaymentAllocation).order_by(PaymentAllocation.id).all()
        assert [(a.partial_number, a.previous_balance) for a in allocations] == [
            (1, Decimal("1000.00")),
            (2, Decimal("900.00")),
            (3, Decimal("700.00")),
            (4, Decimal("400.00")),
        ]
        events = s.query(AuditEvent).filter_by(action="payment.recorded").all()
        assert sorted(str(e.subject) for e in events) == sorted(
            f"payment:{p.id}" for p in s.query(Payment)
        )
        assert len(events) == 4


def test_an_overpayment_in_a_batch(db: Db) -> None:
    """Strict: nothing is written. Not strict: the refused one is skipped, and the
    ones after it see the invoice without it."""
    with db.session() as s, s.begin():
        acme = make_contact(s, make_business(s))
        inv = make_invoice(s, acme, total="500.00")
        batch = [
            _request(acme, inv, "300", "o1"),
            _request(acme, inv, "300", "o2"),
            _request(acme, inv, "200", "o3"),
        ]
        with pytest.raises(MoneyRuleViolation, match="sólo le quedan"):
            record_payments(s, batch, now=NOW)
        assert inv.balance == Decimal("500.00")
        assert s.query(Payment).count() == 0

        first, refused, third = record_payments(s, batch, now=NOW, strict=False)
        assert isinstance(first, Payment) and isinstance(third, Payment)
        assert isinstance(refused, MoneyRuleViolation)
        assert "200.00" in refused.message
        assert inv.status == InvoiceStatus.PAID and inv.balance == Decimal("0.00")
        assert [a.partial_number for a in third.allocations] == [2]


def test_idempotent_replays_in_and_across_batches(db: Db) -> None:
    with db.session() as s, s.begin():
        acme = make_contact(s, make_business(s))
        inv = make_invoice(s, acme, total="900.00")
        earlier = _pay(
            s, acme, "100", [Allocation(inv, Decimal("100"))], idempotency_key="r1"
        )
        again, fresh, twice = record_payments(
            s,
            [
                _request(acme, inv, "100", "r1"),
                _request(acme, inv, "250", "r2"),
                _request(acme, inv, "250", "r2"),
            ],
            now=NOW,
        )
        assert again is earlier
        assert isinstance(fresh, Payment) and twice is fresh
        assert inv.balance == Decimal("550.00")
        assert s.query(Payment).count() == 2

        # A key whose first request was refused is free for a later one.
        refused, taken = record_payments(
            s,
            [_request(acme, inv, "9999", "r3"), _request(acme, inv, "50", "r3")],
            now=NOW,
            strict=False,
        )
        assert isinstance(refused, MoneyRuleViolation)
        assert isinstance(taken, Payment) and taken.amount == Decimal("50.00")
        assert inv.balance == Decimal("500.00")


def test_a_payment_batch_checks_against_running_balances_and_writes_once(
    db: Db,
) -> None:
    """What a bulk caller (the CFDI import) sees: balances as the payments before
    leave them, nothing stored before `write`, and the invoices the session holds
    brought up to date."""
    with db.session() as s, s.begin():
        acme = make_contact(s, make_business(s))
        inv = make_invoice(s, acme, total="1000.00")
        batch = PaymentBatch(s, now=NOW, keys=[(acme.business_id, "x1")])
        state, payer = OpenInvoice.of(inv), Payer.of(acme)

        def add(amount: str, key: str) -> object:
            return batch.add(
                payer=payer,
                amount=Decimal(amount),
                currency="MXN",
                paid_at=NOW,
                allocations=[(state, Decimal(amount))],
                source="sat",
                actor="import",
                channel="cli",
                idempotency_key=key,
            )

        first = add("600", "x1")
        refused = add("600", "x2")
        again = add("600", "x1")
        last = add("400", "x3")
        assert isinstance(refused, MoneyRuleViolation)
        assert "400.00" in refused.message
        assert again is first and isinstance(last, PlannedPayment)
        assert state.balance == Decimal("0.00") and state.status == InvoiceStatus.PAID
        assert s.query(Payment).count() == 0
        assert inv.balance == Decimal("1000.00")

        batch.write()
        assert inv.balance == Decimal("0.00") and inv.status == InvoiceStatus.PAID
        assert inv not in s.dirty
        invoice_id = inv.id

    with db.session() as s:
        stored = s.get(Invoice, invoice_id)
        assert stored is not None and stored.paid == Decimal("1000.00")
        allocations = s.query(PaymentAllocation).order_by(PaymentAllocation.id).all()
        assert [(a.partial_number, a.previous_balance) for a in allocations] == [
            (1, Decimal("1000.00")),
            (2, Decimal("400.00")),
        ]
        assert s.query(AuditEvent).filter_by(action="payment.recorded").count() == 2
