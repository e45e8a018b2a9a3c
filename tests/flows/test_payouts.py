"""Supplier payouts through the loopback STP: sent once, signed, liquidated or
returned by the status update, and a timed-out order looked up before any resend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.stp import StpClient, load_private_key
from flows import payouts
from flows.errors import MoneyRuleViolation
from flows.payouts import OrderStatus
from storage.db import transaction
from storage.models import (
    Business,
    Contact,
    Invoice,
    OutboundMessage,
    Payment,
    PayoutStatus,
    SupplierPayment,
)
from tests.builders import make_business, make_contact, make_invoice
from tests.conftest import NOW, Db
from tests.fakes.stp_api import (
    EMPRESA,
    KEY_PASSWORD,
    FakeStp,
    running_stp,
    write_private_key,
)

PAPELERA_CLABE = "012180001234567899"


@pytest.fixture(scope="module")
def key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stp") / "llave.pem"


@pytest.fixture(scope="module")
def stp_fake(key_path: Path) -> Iterator[FakeStp]:
    public = write_private_key(key_path)
    with running_stp(public) as fake:
        yield fake


@pytest.fixture
def fake(stp_fake: FakeStp) -> FakeStp:
    with stp_fake.lock:
        stp_fake.orders.clear()
        stp_fake.registrations.clear()
        stp_fake.status_queries.clear()
        stp_fake.delays.clear()
        stp_fake.refusals.clear()
        stp_fake.bad_signatures = 0
    return stp_fake


def make_client(fake: FakeStp, key_path: Path, timeout: float = 5.0) -> StpClient:
    return StpClient(
        base_url=fake.base_url,
        empresa=EMPRESA,
        private_key=load_private_key(key_path, KEY_PASSWORD.encode()),
        timeout=timeout,
    )


@pytest.fixture
def payable(db: Db) -> dict[str, int]:
    with transaction(db.factory) as session:
        business = make_business(session)
        business.clabe = "646180000100000002"
        papelera = make_contact(
            session,
            business,
            name="Papelera del Norte SA de CV",
            kind="supplier",
            emails="cobranza@papelera.mx",
        )
        papelera.clabe = PAPELERA_CLABE
        invoice = make_invoice(
            session, papelera, total="5800.00", series="F", folio="77"
        )
        return {"business": business.id, "supplier": papelera.id, "invoice": invoice.id}


def _create(db: Db, ids: dict[str, int], *, pay_on: dt.date | None = None) -> int:
    with transaction(db.factory) as session:
        business = session.get(Business, ids["business"])
        supplier = session.get(Contact, ids["supplier"])
        invoice = session.get(Invoice, ids["invoice"])
        assert business and supplier and invoice
        plan = payouts.plan_payout(session, supplier=supplier, invoices=[invoice])
        payout = payouts.create_payout(
            session,
            business=business,
            plan=plan,
            pay_on=pay_on or dt.date(2026, 12, 3),
            idempotency_key="chat:SM1",
            actor="user:1",
            channel="whatsapp",
            now=NOW,
        )
        return payout.id


def _payout(db: Db, payout_id: int) -> SupplierPayment:
    with db.session() as session:
        row = session.get(SupplierPayment, payout_id)
        assert row is not None
        return row


def _owner_texts(db: Db) -> list[str]:
    with db.session() as session:
        rows = session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.template == "owner_update")
            .order_by(OutboundMessage.id)
        ).all()
        return [r.payload["text"] for r in rows]


def test_order_is_signed_sent_once_and_liquidated(
    db: Db, fake: FakeStp, key_path: Path, payable: dict[str, int]
) -> None:
    payout_id = _create(db, payable)
    client = make_client(fake, key_path)

    assert payouts.run_scheduled_payouts(db.factory, NOW, client=client) == {"sent": 1}
    assert payouts.run_scheduled_payouts(db.factory, NOW, client=client) == {}
    [order] = fake.registrations
    assert fake.bad_signatures == 0
    assert order["monto"] == "5800.00"
    assert order["cuentaBeneficiario"] == PAPELERA_CLABE
    assert order["institucionContraparte"] == "40012"
    assert order["conceptoPago"] == "Pago F-77"
    sent = _payout(db, payout_id)
    assert sent.status == PayoutStatus.SENT and sent.stp_order_id == str(order_id(fake))

    with transaction(db.factory) as session:
        payouts.handle_order_status(
            session,
            status=OrderStatus(PayoutStatus.LIQUIDATED, stp_id=sent.stp_order_id),
            now=NOW,
        )
    with db.session() as session:
        invoice = session.get(Invoice, payable["invoice"])
        assert invoice is not None and invoice.status == "paid"
        payment = session.scalars(select(Payment)).one()
        assert (payment.direction, payment.reference) == ("out", sent.clave_rastreo)
        receipt = session.scalars(
            select(OutboundMessage).where(
                OutboundMessage.template == "supplier_receipt"
            )
        ).one()
        assert receipt.recipient == "cobranza@papelera.mx"
        assert receipt.payload["tracking_key"] == sent.clave_rastreo
    assert _payout(db, payout_id).status == PayoutStatus.LIQUIDATED
    [text] = _owner_texts(db)
    assert "Papelera del Norte SA de CV" in text and "F-77" in text


def order_id(fake: FakeStp) -> int:
    [order] = fake.orders.values()
    return int(order["id"])


def test_returned_order_reports_and_leaves_the_invoice_open(
    db: Db, fake: FakeStp, key_path: Path, payable: dict[str, int]
) -> None:
    payout_id = _create(db, payable)
    payouts.run_scheduled_payouts(db.factory, NOW, client=make_client(fake, key_path))
    sent = _payout(db, payout_id)

    with transaction(db.factory) as session:
        payouts.handle_order_status(
            session,
            status=OrderStatus(
                PayoutStatus.RETURNED,
                stp_id=sent.stp_order_id,
                cause="Cuenta inexistente",
            ),
            now=NOW,
        )
    assert _payout(db, payout_id).status == PayoutStatus.RETURNED
    with db.session() as session:
        invoice = session.get(Invoice, payable["invoice"])
        assert invoice is not None and invoice.balance == Decimal("5800.00")
        assert session.scalars(select(Payment)).all() == []
    [text] = _owner_texts(db)
    assert "regresó" in text and "Cuenta inexistente" in text and "••••7899" in text


def test_timeout_is_looked_up_before_resending(
    db: Db, fake: FakeStp, key_path: Path, payable: dict[str, int]
) -> None:
    payout_id = _create(db, payable)
    fake.delays.append(1.5)
    slow = make_client(fake, key_path, timeout=0.5)

    assert payouts.run_scheduled_payouts(db.factory, NOW, client=slow) == {"sending": 1}
    assert _payout(db, payout_id).status == PayoutStatus.SENDING
    # Too soon: nobody asks or sends again.
    later = NOW + dt.timedelta(seconds=10)
    assert payouts.run_scheduled_payouts(db.factory, later, client=slow) == {}

    later = NOW + dt.timedelta(minutes=2)
    client = make_client(fake, key_path)
    assert payouts.run_scheduled_payouts(db.factory, later, client=client) == {
        "sent": 1
    }
    assert len(fake.registrations) == 1
    assert len(fake.status_queries) == 1
    assert _payout(db, payout_id).stp_order_id == str(order_id(fake))


def test_timeout_before_stp_got_it_resends_with_the_same_key(
    db: Db, fake: FakeStp, key_path: Path, payable: dict[str, int]
) -> None:
    payout_id = _create(db, payable)
    # Nothing listens here: the first attempt never reaches STP.
    dead = StpClient(
        base_url="http://127.0.0.1:9",
        empresa=EMPRESA,
        private_key=load_private_key(key_path, KEY_PASSWORD.encode()),
        timeout=0.5,
    )
    payouts.run_scheduled_payouts(db.factory, NOW, client=dead)
    first_key = _payout(db, payout_id).clave_rastreo

    later = NOW + dt.timedelta(minutes=2)
    payouts.run_scheduled_payouts(db.factory, later, client=make_client(fake, key_path))
    assert [r["claveRastreo"] for r in fake.registrations] == [first_key]
    assert _payout(db, payout_id).status == PayoutStatus.SENT


def test_refused_order_fails_and_tells_the_owner(
    db: Db, fake: FakeStp, key_path: Path, payable: dict[str, int]
) -> None:
    payout_id = _create(db, payable)
    fake.refusals.append("Cuenta bloqueada")
    payouts.run_scheduled_payouts(db.factory, NOW, client=make_client(fake, key_path))
    assert _payout(db, payout_id).status == PayoutStatus.FAILED
    [text] = _owner_texts(db)
    assert "Cuenta bloqueada" in text


def test_scheduled_payout_waits_for_its_day(
    db: Db, fake: FakeStp, key_path: Path, payable: dict[str, int]
) -> None:
    friday = dt.date(2026, 12, 4)
    payout_id = _create(db, payable, pay_on=friday)
    client = make_client(fake, key_path)
    assert _payout(db, payout_id).status == PayoutStatus.SCHEDULED

    payouts.run_scheduled_payouts(db.factory, NOW, client=client)
    assert fake.registrations == []
    friday_morning = dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC)
    payouts.run_scheduled_payouts(db.factory, friday_morning, client=client)
    assert len(fake.registrations) == 1
    assert _payout(db, payout_id).status == PayoutStatus.SENT


def test_second_order_for_the_same_invoice_is_refused(
    db: Db, payable: dict[str, int]
) -> None:
    _create(db, payable)
    with transaction(db.factory) as session:
        supplier = session.get(Contact, payable["supplier"])
        assert supplier is not None
        with pytest.raises(MoneyRuleViolation, match="en curso"):
            payouts.plan_payout(session, supplier=supplier)
