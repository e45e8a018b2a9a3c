"""Deposits as a flow: stored once, applied once however often asked, a failure
retried and then handed to the owner, and a waiting deposit placed by the owner."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from flows import deposits
from flows.errors import MoneyRuleViolation
from storage.db import transaction
from storage.models import (
    Business,
    Contact,
    DepositStatus,
    Invoice,
    OutboundMessage,
    Payment,
    StpDeposit,
)
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db

CONFIG = deposits.ReceiptConfig(
    public_base_url="https://cobra.test", portal_key=b"k" * 32
)


def notice(
    account: str, amount: str, clave: str = "RASTREO1"
) -> deposits.DepositNotice:
    return deposits.DepositNotice(
        clave_rastreo=clave,
        fecha_operacion=dt.date(2026, 12, 3),
        amount=Decimal(amount),
        beneficiary_account=account,
        payer_name="ACME",
    )


@pytest.fixture
def acme(db: Db) -> dict[str, Any]:
    with transaction(db.factory) as session:
        business = make_business(session)
        business.stp_account_prefix = "0001"
        contact = make_contact(session, business)
        a = make_invoice(
            session, contact, total="1000.00", folio="1", issue_date=dt.date(2026, 9, 1)
        )
        b = make_invoice(
            session,
            contact,
            total="2000.00",
            folio="2",
            issue_date=dt.date(2026, 10, 1),
        )
        return {
            "clabe": contact.virtual_clabe,
            "contact": contact.id,
            "a": a.id,
            "b": b.id,
        }


def store(db: Db, n: deposits.DepositNotice) -> int:
    with transaction(db.factory) as session:
        row, _ = deposits.store_notice(session, notice=n, now=NOW)
        return row.id


def test_stored_once_and_applied_once(db: Db, acme: dict[str, Any]) -> None:
    first = store(db, notice(acme["clabe"], "2000.00"))
    assert store(db, notice(acme["clabe"], "2000.00")) == first

    one = deposits.apply_stored(db.factory, deposit_id=first, config=CONFIG, now=NOW)
    two = deposits.apply_stored(db.factory, deposit_id=first, config=CONFIG, now=NOW)
    assert one is not None and two is not None
    assert one.payment_id == two.payment_id
    with db.session() as session:
        assert session.scalar(select(func.count(Payment.id))) == 1
        # The exact amount goes to the newer invoice, not the oldest first.
        assert session.get_one(Invoice, acme["b"]).status == "paid"
        assert session.get_one(Invoice, acme["a"]).balance == Decimal("1000.00")


def test_failures_are_retried_then_handed_to_the_owner(
    db: Db, acme: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    deposit_id = store(db, notice(acme["clabe"], "500.00"))

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(deposits, "_record", broken)
    for _ in range(deposits.MAX_ATTEMPTS - 1):
        assert (
            deposits.apply_stored(
                db.factory, deposit_id=deposit_id, config=CONFIG, now=NOW
            )
            is None
        )
    with db.session() as session:
        row = session.get(StpDeposit, deposit_id)
        assert row is not None and row.status == DepositStatus.RECEIVED
        assert "database hiccup" in (row.last_error or "")

    deposits.apply_stored(db.factory, deposit_id=deposit_id, config=CONFIG, now=NOW)
    with db.session() as session:
        row = session.get(StpDeposit, deposit_id)
        assert row is not None
        assert (row.status, row.reason) == (DepositStatus.UNAPPLIED, "error")
        assert session.scalar(select(func.count(OutboundMessage.id))) == 1


def test_waiting_deposit_is_placed_by_the_owner(db: Db, acme: dict[str, Any]) -> None:
    deposit_id = store(db, notice("646180000000000000", "1500.00"))
    outcome = deposits.apply_stored(
        db.factory, deposit_id=deposit_id, config=CONFIG, now=NOW
    )
    assert outcome is not None and outcome.reason == "unknown_account"
    with db.session() as session:
        # No business owns that account: kept, with nobody to ask.
        assert session.get_one(StpDeposit, deposit_id).business_id is None

    with transaction(db.factory) as session:
        row = session.get(StpDeposit, deposit_id)
        contact = session.get(Contact, acme["contact"])
        assert row is not None and contact is not None
        row.business_id = contact.business_id
        session.flush()
        payment = deposits.assign_deposit(
            session,
            deposit=row,
            contact=contact,
            config=CONFIG,
            actor="user:1",
            channel="whatsapp",
            now=NOW,
        )
        assert [a.amount for a in payment.allocations] == [
            Decimal("1000.00"),
            Decimal("500.00"),
        ]
        with pytest.raises(MoneyRuleViolation):
            deposits.assign_deposit(
                session,
                deposit=row,
                contact=contact,
                config=CONFIG,
                actor="user:1",
                channel="whatsapp",
                now=NOW,
            )


def test_dismissed_deposit_stays_on_record(db: Db, acme: dict[str, Any]) -> None:
    deposit_id = store(db, notice(acme["clabe"], "99999.00"))
    deposits.apply_stored(db.factory, deposit_id=deposit_id, config=CONFIG, now=NOW)
    with transaction(db.factory) as session:
        row = session.get(StpDeposit, deposit_id)
        assert row is not None and row.reason == "excess"
        business = session.get(Business, row.business_id)
        assert business is not None
        assert [
            d.id for d in deposits.unapplied_deposits(session, business_id=business.id)
        ] == [deposit_id]
        deposits.dismiss_deposit(
            session, deposit=row, actor="user:1", channel="whatsapp", now=NOW
        )
        assert deposits.unapplied_deposits(session, business_id=business.id) == []
