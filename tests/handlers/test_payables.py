"""Paying suppliers, their CLABEs, deposits waiting for the owner and the movements,
through the conversation engine on both databases."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from flows import deposits, movements
from flows.business import add_user
from flows.messages import Channel, Inbound, Reply
from handlers.context import EngineConfig
from handlers.engine import Engine
from storage.db import transaction
from storage.models import (
    Contact,
    DepositStatus,
    Invoice,
    Payment,
    PayoutStatus,
    StpDeposit,
    SupplierPayment,
)
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db

OWNER = "+525511112222"
STAFF = "+525533334444"
CLABE = "012180001234567899"


class Chat:
    def __init__(self, db: Db, sender: str = OWNER) -> None:
        config = EngineConfig(
            public_base_url="https://cobra.test", portal_key=b"k" * 32
        )
        self.engine = Engine(db.factory, config)
        self.sender = sender
        self.now = NOW

    def say(self, text: str) -> Reply:
        self.now += dt.timedelta(seconds=30)
        return self.engine.handle(
            Inbound(Channel.WHATSAPP, self.sender, text, self.now)
        )


def setup(db: Db, *, clabe: str | None = CLABE) -> dict[str, Any]:
    with transaction(db.factory) as session:
        business = make_business(session)
        business.stp_account_prefix = "0001"
        add_user(session, business=business, role="staff", whatsapp=STAFF, now=NOW)
        papelera = make_contact(
            session, business, name="Papelera del Norte SA de CV", kind="supplier"
        )
        papelera.clabe = clabe
        f77 = make_invoice(session, papelera, total="5800.00", series="F", folio="77")
        acme = make_contact(session, business, emails="pagos@acme.mx")
        a102 = make_invoice(session, acme, total="3000.00", folio="102")
        return {
            "supplier": papelera.id,
            "f77": f77.id,
            "acme": acme.id,
            "a102": a102.id,
        }


def payouts_of(db: Db) -> list[SupplierPayment]:
    with db.session() as session:
        return list(session.scalars(select(SupplierPayment)).all())


def test_owner_pays_a_supplier_after_confirming(db: Db) -> None:
    setup(db)
    chat = Chat(db)

    ask = chat.say("Págale a Papelera del Norte la F-77")
    assert "Papelera del Norte SA de CV · $5,800.00 · F-77 · CLABE ••••7899" in ask.text
    assert CLABE not in ask.text
    assert payouts_of(db) == []

    done = chat.say("sí")
    assert "mandé la orden de pago de $5,800.00" in done.text
    [payout] = payouts_of(db)
    assert payout.status == PayoutStatus.PENDING
    assert payout.clabe == CLABE and payout.amount == Decimal("5800.00")

    again = chat.say("Págale a Papelera del Norte la F-77")
    assert "en curso" in again.text


def test_staff_may_not_pay_suppliers(db: Db) -> None:
    setup(db)
    reply = Chat(db, sender=STAFF).say("Págale a Papelera del Norte la F-77")
    assert "dueña" in reply.text
    assert payouts_of(db) == []


def test_pay_on_friday_schedules(db: Db) -> None:
    setup(db)
    chat = Chat(db)
    chat.say("Págale a Papelera del Norte la F-77")
    moved = chat.say("mejor págale el viernes")
    assert "programar" in moved.text and "4 dic" in moved.text
    chat.say("sí")
    [payout] = payouts_of(db)
    assert payout.status == PayoutStatus.SCHEDULED
    assert payout.scheduled_for == dt.date(2026, 12, 4)


def test_supplier_clabe_by_chat(db: Db) -> None:
    ids = setup(db, clabe=None)
    chat = Chat(db)

    missing = chat.say("Págale a Papelera del Norte la F-77")
    assert "No tengo la CLABE" in missing.text

    bad = chat.say("la CLABE de Papelera del Norte es 012180001234567891")
    assert "dígito verificador" in bad.text

    ask = chat.say("la CLABE de Papelera del Norte es 0121 8000 1234 5678 99")
    assert "••••7899" in ask.text
    chat.say("sí")
    with db.session() as session:
        supplier = session.get(Contact, ids["supplier"])
        assert supplier is not None and supplier.clabe == CLABE


def test_owner_places_a_waiting_deposit(db: Db) -> None:
    ids = setup(db)
    notice = deposits.DepositNotice(
        clave_rastreo="RASTREO1",
        fecha_operacion=dt.date(2026, 12, 3),
        amount=Decimal("3000.00"),
        beneficiary_account="646180999999999999",
        payer_name="JUAN PEREZ",
    )
    with transaction(db.factory) as session:
        row, _ = deposits.store_notice(session, notice=notice, now=NOW)
        row.status = DepositStatus.UNAPPLIED
        row.reason = "unknown_account"
        row.business_id = session.get_one(Contact, ids["acme"]).business_id
    chat = Chat(db)

    ask = chat.say("depósitos sin aplicar")
    assert "$3,000.00" in ask.text and "JUAN PEREZ" in ask.text
    confirm = chat.say("Acme")
    assert "¿Aplico el depósito de $3,000.00 a Acme" in confirm.text
    done = chat.say("sí")
    assert "aplicado a A-102" in done.text
    with db.session() as session:
        invoice = session.get(Invoice, ids["a102"])
        assert invoice is not None and invoice.status == "paid"
        deposit = session.scalars(select(StpDeposit)).one()
        assert deposit.status == DepositStatus.APPLIED
        payment = session.scalars(select(Payment)).one()
        assert payment.idempotency_key == "stp:RASTREO1:20261203"


def test_money_in_this_month(db: Db) -> None:
    setup(db)
    chat = Chat(db)
    chat.say("Acme me pagó 3 mil")
    chat.say("sí")

    reply = chat.say("¿cuánto entró este mes?")
    assert "Entró $3,000.00 en 1 pago" in reply.text
    assert "Acme Industrial SA de CV: $3,000.00" in reply.text
    week = chat.say("movimientos de la semana")
    assert "esta semana" in week.text and "$3,000.00" in week.text
    assert week.text.endswith("Escribe «movimientos esta semana en Excel».")
    assert not week.messages[0].documents


def test_money_in_last_week_counts_a_payment_dated_then(db: Db) -> None:
    setup(db)
    chat = Chat(db)
    chat.say("Acme me pagó 3 mil el 25 de noviembre")
    chat.say("sí")

    last_week = chat.say("¿cuánto cobré la semana pasada?")
    assert last_week.text.startswith("Movimientos la semana pasada (23 nov al 29 nov)")
    assert "Entró $3,000.00 en 1 pago" in last_week.text
    this_week = chat.say("¿cuánto cobré esta semana?")
    assert "$3,000.00" not in this_week.text


def test_movements_come_as_a_workbook_when_asked_in_excel(db: Db) -> None:
    setup(db)
    chat = Chat(db)
    chat.say("Acme me pagó 3 mil")
    chat.say("sí")

    reply = chat.say("mándame en Excel lo que entró este mes")
    assert "Entró $3,000.00 en 1 pago" in reply.text
    assert "Escribe" not in reply.text
    (workbook,) = reply.messages[0].documents
    assert workbook.filename == "movimientos_2026-12-01_2026-12-03.xlsx"
    assert workbook.content_type == movements.XLSX_TYPE
    sheet = load_workbook(io.BytesIO(workbook.content))["Movimientos"]
    row = [cell.value for cell in sheet[2]]
    assert row[2] == "Acme Industrial SA de CV" and Decimal(str(row[4])) == 3000


def test_owner_asks_what_they_owe_one_supplier(db: Db) -> None:
    ids = setup(db)
    with transaction(db.factory) as session:
        papelera = session.get_one(Contact, ids["supplier"])
        make_invoice(
            session,
            papelera,
            total="1160.00",
            series="F",
            folio="80",
            due_date=dt.date(2026, 12, 20),
        )
    chat = Chat(db)

    owed = chat.say("¿cuánto le debo a Papelera?")
    customer = chat.say("¿cuánto le debo a Acme?")
    listed = chat.say("¿a qué proveedores les debo?")

    assert owed.text.startswith(
        "Le debes a Papelera del Norte SA de CV: $6,960.00 en 2 facturas (1 ya vencida)"
    )
    assert "F-80 · $1,160.00 · vence 20 dic" in owed.text
    assert owed.text.endswith("Para pagarle escribe «págale a Papelera».")
    # Acme is a customer: nothing is owed to it.
    assert customer.text.startswith("No encontré ningún proveedor")
    assert listed.text.startswith(
        "Por pagar esta semana: $5,800.00 en 1 factura (ya vencida)"
    )


def test_what_falls_due_to_me_also_counts_the_suppliers(db: Db) -> None:
    ids = setup(db)
    with transaction(db.factory) as session:
        papelera = session.get_one(Contact, ids["supplier"])
        make_invoice(
            session,
            papelera,
            total="2320.00",
            series="F",
            folio="81",
            due_date=dt.date(2026, 12, 5),
        )
    chat = Chat(db)

    mine = chat.say("¿qué me vence esta semana?")
    plain = chat.say("¿qué vence esta semana?")

    assert mine.text.endswith(
        "A proveedores vencen de hoy al 6 dic: $2,320.00 en 1 factura; escribe "
        "«¿qué tengo que pagar esta semana?» para verlas."
    )
    assert "proveedores" not in plain.text
