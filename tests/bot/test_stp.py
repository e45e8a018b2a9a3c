"""The STP webhooks over HTTP: signed deposit notices applied once, with receipts
and the owner's notice; bad signatures refused; order status updates."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import stp
from storage.models import (
    DepositStatus,
    Invoice,
    OutboundMessage,
    Payment,
    StpDeposit,
)
from tests.bot.conftest import Serve, Service, make_settings
from tests.builders import make_business, make_contact, make_invoice
from tests.conftest import Db

SECRET = "stp-webhook-secret"
PREFIX = "0001"


def make_notice(
    account: str,
    amount: str | float,
    *,
    clave: str = "MBAN01002612030001",
    **extra: Any,
) -> dict[str, Any]:
    notice: dict[str, Any] = {
        "id": 90001,
        "fechaOperacion": "20261203",
        "institucionOrdenante": "40012",
        "claveRastreo": clave,
        "monto": float(amount) if not isinstance(amount, float) else amount,
        "cuentaOrdenante": "012180004567891234",
        "nombreOrdenante": "ACME INDUSTRIAL SA DE CV",
        "cuentaBeneficiario": account,
        "conceptoPago": "PAGO FACTURAS",
        "referenciaNumerica": 1234567,
        "tsLiquidacion": 1796317200000,
    }
    notice.update(extra)
    return notice


def post_notice(
    client: Any,
    notice: dict[str, Any],
    *,
    secret: str = SECRET,
    path: str = stp.DEPOSIT_PATH,
    signature: str | None = None,
) -> Any:
    body = json.dumps(notice).encode()
    headers = {"Content-Type": "application/json"}
    headers[stp.SIGNATURE_HEADER] = signature or stp.sign_body(secret, body)
    response = client.post(path, content=body, headers=headers)
    stp.wait_for_deposits(client.app.state.runtime)
    return response


@pytest.fixture
def books(db: Db) -> dict[str, Any]:
    """A business on STP with Acme (two open invoices) as a customer."""
    with db.session() as session, session.begin():
        business = make_business(session)
        business.stp_account_prefix = PREFIX
        business.clabe = "646180000100000002"
        acme = make_contact(session, business, emails="pagos@acme.mx")
        older = make_invoice(
            session, acme, total="5000.00", folio="102", issue_date=dt.date(2026, 10, 1)
        )
        newer = make_invoice(
            session, acme, total="7500.00", folio="105", issue_date=dt.date(2026, 11, 1)
        )
        return {
            "business_id": business.id,
            "acme_id": acme.id,
            "clabe": acme.virtual_clabe,
            "older": older.id,
            "newer": newer.id,
        }


def _start(serve: Serve, db: Db, **overrides: Any) -> Service:
    values = {"stp_webhook_secret": SECRET, **overrides}
    return serve(make_settings(db, **values))


def _balances(db: Db, *ids: int) -> list[Decimal]:
    with db.session() as session:
        return [session.get_one(Invoice, i).balance for i in ids]


def _owner_texts(db: Db) -> list[str]:
    with db.session() as session:
        rows = session.scalars(
            select(OutboundMessage).where(OutboundMessage.template == "owner_update")
        ).all()
        return [r.payload["text"] for r in rows]


def test_exact_amount_pays_that_invoice(
    db: Db, serve: Serve, books: dict[str, Any]
) -> None:
    service = _start(serve, db)
    response = post_notice(service.client, make_notice(books["clabe"], "7500.00"))

    assert response.status_code == 200
    assert response.json() == {"mensaje": "confirmar"}
    assert _balances(db, books["older"], books["newer"]) == [Decimal("5000.00"), 0]
    with db.session() as session:
        payment = session.scalars(select(Payment)).one()
        assert payment.source == "stp"
        assert payment.reference == "MBAN01002612030001"
        assert payment.idempotency_key == "stp:MBAN01002612030001:20261203"
        receipts = session.scalars(
            select(OutboundMessage).where(OutboundMessage.template == "payment_receipt")
        ).all()
        assert [r.recipient for r in receipts] == ["pagos@acme.mx"]
    assert _owner_texts(db) == [
        "Acme Industrial SA de CV te pagó $7,500.00, aplicado a A-105."
    ]


def test_other_amount_pays_oldest_first(
    db: Db, serve: Serve, books: dict[str, Any]
) -> None:
    service = _start(serve, db)
    post_notice(service.client, make_notice(books["clabe"], "12500.00"))
    assert _balances(db, books["older"], books["newer"]) == [0, 0]
    assert _owner_texts(db) == [
        "Acme Industrial SA de CV te pagó $12,500.00, aplicado a A-102 y A-105."
    ]

    post_notice(service.client, make_notice(books["clabe"], "1.00", clave="OTRA01"))
    with db.session() as session:
        waiting = session.scalars(
            select(StpDeposit).where(StpDeposit.clave_rastreo == "OTRA01")
        ).one()
        assert (waiting.status, waiting.reason) == (
            DepositStatus.UNAPPLIED,
            "no_invoices",
        )


def test_split_leaves_the_newer_invoice_partly_paid(
    db: Db, serve: Serve, books: dict[str, Any]
) -> None:
    service = _start(serve, db)
    post_notice(service.client, make_notice(books["clabe"], "6000.00"))
    assert _balances(db, books["older"], books["newer"]) == [0, Decimal("6500.00")]


def test_overpayment_waits_for_the_owner(
    db: Db, serve: Serve, books: dict[str, Any]
) -> None:
    service = _start(serve, db)
    post_notice(service.client, make_notice(books["clabe"], "20000.00"))

    assert _balances(db, books["older"], books["newer"]) == [
        Decimal("5000.00"),
        Decimal("7500.00"),
    ]
    with db.session() as session:
        deposit = session.scalars(select(StpDeposit)).one()
        assert (deposit.status, deposit.reason) == (DepositStatus.UNAPPLIED, "excess")
        assert deposit.contact_id == books["acme_id"]
        assert session.scalar(select(func.count(Payment.id))) == 0
    [text] = _owner_texts(db)
    assert "$20,000.00" in text and "depósitos sin aplicar" in text


def test_unknown_account_waits_for_the_owner(
    db: Db, serve: Serve, books: dict[str, Any]
) -> None:
    service = _start(serve, db)
    post_notice(service.client, make_notice("646180000100000002", "300.00"))

    with db.session() as session:
        deposit = session.scalars(select(StpDeposit)).one()
        assert deposit.status == DepositStatus.UNAPPLIED
        assert deposit.reason == "unknown_account"
        assert deposit.business_id == books["business_id"]
    [text] = _owner_texts(db)
    assert "no es de ningún cliente" in text

    post_notice(service.client, make_notice("646180999999999999", "10.00", clave="X9"))
    with db.session() as session:
        stray = session.scalars(
            select(StpDeposit).where(StpDeposit.clave_rastreo == "X9")
        ).one()
        assert stray.business_id is None and stray.status == DepositStatus.UNAPPLIED


def test_replayed_notice_is_applied_once(
    db: Db, serve: Serve, books: dict[str, Any]
) -> None:
    service = _start(serve, db)
    notice = make_notice(books["clabe"], "5000.00")
    first = post_notice(service.client, notice)
    again = post_notice(service.client, {**notice, "id": 90002})

    assert first.json() == again.json() == {"mensaje": "confirmar"}
    assert _balances(db, books["older"], books["newer"]) == [0, Decimal("7500.00")]
    with db.session() as session:
        assert session.scalar(select(func.count(Payment.id))) == 1
        assert session.scalar(select(func.count(StpDeposit.id))) == 1
    assert len(_owner_texts(db)) == 1

    # The same tracking key on another operation day is another deposit.
    post_notice(service.client, {**notice, "fechaOperacion": "20261204"})
    assert _balances(db, books["newer"]) == [Decimal("2500.00")]


def test_bad_or_missing_signature_changes_nothing(
    db: Db, serve: Serve, books: dict[str, Any]
) -> None:
    service = _start(serve, db)
    notice = make_notice(books["clabe"], "5000.00")

    assert post_notice(service.client, notice, secret="otra").status_code == 403
    assert post_notice(service.client, notice, signature="00").status_code == 403
    body = json.dumps(notice).encode()
    assert service.client.post(stp.DEPOSIT_PATH, content=body).status_code == 403
    with db.session() as session:
        assert session.scalar(select(func.count(StpDeposit.id))) == 0


def test_missing_secret_refuses(db: Db, serve: Serve, books: dict[str, Any]) -> None:
    service = serve(make_settings(db))
    response = post_notice(service.client, make_notice(books["clabe"], "5000.00"))
    assert response.status_code == 403
    with db.session() as session:
        assert session.scalar(select(func.count(StpDeposit.id))) == 0


def test_malformed_notice_is_rejected(
    db: Db, serve: Serve, books: dict[str, Any]
) -> None:
    service = _start(serve, db)
    bad = make_notice(books["clabe"], "5000.00", fechaOperacion="3/12/2026")
    assert post_notice(service.client, bad).status_code == 400
    assert (
        post_notice(service.client, make_notice(books["clabe"], -5.0)).status_code
        == 400
    )


def test_stored_notice_survives_a_crash_before_applying(
    db: Db, serve: Serve, books: dict[str, Any]
) -> None:
    """A notice acknowledged but not applied (the process died) is applied later."""
    service = _start(serve, db)
    from flows import deposits
    from storage.db import transaction

    # As the webhook reads it: JSON numbers become Decimal, never float.
    body = json.dumps(make_notice(books["clabe"], "5000.00"))
    notice = stp.parse_deposit(json.loads(body, parse_float=Decimal))
    with transaction(db.factory) as session:
        deposits.store_notice(session, notice=notice, now=service.clock.now)
    service.clock.advance(minutes=5)

    assert stp.run_jobs(service.runtime)["deposits"] == 1
    assert _balances(db, books["older"]) == [0]


def _sent_payout(db: Db, books: dict[str, Any]) -> int:
    from flows import payouts
    from storage.db import transaction
    from storage.models import Business, Contact, PayoutStatus

    with transaction(db.factory) as session:
        business = session.get(Business, books["business_id"])
        assert business is not None
        supplier = make_contact(
            session, business, name="Papelera del Norte", kind="supplier"
        )
        supplier.clabe = "012180001234567899"
        supplier.emails = "cobranza@papelera.mx"
        invoice = make_invoice(
            session, supplier, total="800.00", series="F", folio="77"
        )
        plan = payouts.plan_payout(session, supplier=supplier, invoices=[invoice])
        payout = payouts.create_payout(
            session,
            business=business,
            plan=plan,
            pay_on=dt.date(2026, 12, 3),
            idempotency_key="test:1",
            actor="test",
            channel="test",
            now=dt.datetime(2026, 12, 3, 17, tzinfo=dt.UTC),
        )
        payout.status = PayoutStatus.SENT
        payout.stp_order_id = "5001"
        payout.clave_rastreo = payouts.tracking_key(payout)
        session.flush()
        assert isinstance(session.get(Contact, supplier.id), Contact)
        return invoice.id


def test_order_liquidated_by_status_webhook(
    db: Db, serve: Serve, books: dict[str, Any]
) -> None:
    from storage.models import PayoutStatus, SupplierPayment

    invoice_id = _sent_payout(db, books)
    service = _start(serve, db)
    update = {"id": 5001, "empresa": "COBRA", "estado": "LIQUIDACION"}

    assert (
        post_notice(
            service.client, update, secret="x", path=stp.ORDER_STATUS_PATH
        ).status_code
        == 403
    )
    first = post_notice(service.client, update, path=stp.ORDER_STATUS_PATH)
    again = post_notice(service.client, update, path=stp.ORDER_STATUS_PATH)
    assert first.status_code == again.status_code == 200

    assert _balances(db, invoice_id) == [0]
    with db.session() as session:
        assert (
            session.scalars(select(SupplierPayment)).one().status
            == PayoutStatus.LIQUIDATED
        )
        assert session.scalar(select(func.count(Payment.id))) == 1
        receipt = session.scalars(
            select(OutboundMessage).where(
                OutboundMessage.template == "supplier_receipt"
            )
        ).one()
        assert receipt.payload["tracking_key"].startswith("CBR")


def test_order_returned_by_status_webhook(
    db: Db, serve: Serve, books: dict[str, Any]
) -> None:
    from storage.models import PayoutStatus, SupplierPayment

    invoice_id = _sent_payout(db, books)
    service = _start(serve, db)
    update = {"id": 5001, "estado": "DEVOLUCION", "causaDevolucion": "Cuenta cancelada"}
    assert (
        post_notice(service.client, update, path=stp.ORDER_STATUS_PATH).status_code
        == 200
    )

    assert _balances(db, invoice_id) == [Decimal("800.00")]
    with db.session() as session:
        assert (
            session.scalars(select(SupplierPayment)).one().status
            == PayoutStatus.RETURNED
        )
    assert any("Cuenta cancelada" in t for t in _owner_texts(db))
