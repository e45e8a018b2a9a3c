"""Business events reach the registered webhook endpoints once, from any flow."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session

from flows.money import Allocation, record_payment
from flows.promises import record_promise
from storage.models import OutboundMessage
from tests.builders import NOW, make_business, make_contact, make_endpoint, make_invoice
from tests.conftest import Db


def _events(session: Session) -> list[str]:
    rows = session.query(OutboundMessage).filter_by(channel="webhook")
    return sorted(r.payload["event"] for r in rows)


def test_payment_and_promise_events(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        make_endpoint(s, business)
        acme = make_contact(s, business)
        first = make_invoice(s, acme, total="100.00")
        second = make_invoice(s, acme, total="50.00")
        record_payment(
            s,
            contact=acme,
            amount=Decimal("120"),
            currency="MXN",
            paid_at=NOW,
            allocations=[
                Allocation(first, Decimal("100")),
                Allocation(second, Decimal("20")),
            ],
            source="chat",
            actor="user:1",
            channel="chat",
            now=NOW,
        )
        record_promise(
            s,
            contact=acme,
            invoice=None,
            promised_on=dt.date(2026, 12, 10),
            amount=None,
            channel="chat",
            now=NOW,
            today=NOW.date(),
        )
        assert _events(s) == ["invoice.paid", "payment.recorded", "promise.created"]
