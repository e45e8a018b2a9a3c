"""Payment plans end to end through the engine, on both databases: offered by the
owner or asked by the customer, approved, accepted with one tap, reminded by their
instalments, paid early and paid late."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from flows.fmt import normalize_phone
from flows.messages import Channel, Inbound, Reply
from flows.payment_plans import add_months, split
from flows.reminders import plan_reminders
from handlers.context import EngineConfig
from handlers.engine import Engine
from storage.models import (
    Business,
    Invoice,
    OutboundMessage,
    PaymentPlan,
    PlanInstalment,
    PlanStatus,
)
from tests.builders import make_business, make_contact, make_invoice
from tests.conftest import NOW, Db

OWNER = "+525511112222"
PENA = "+5215544443333"
OTHER = "+5215577776666"
_ids = itertools.count(1)


def at(day: dt.date, hour: int = 9, minute: int = 30) -> dt.datetime:
    local = dt.datetime.combine(
        day, dt.time(hour, minute), ZoneInfo("America/Mexico_City")
    )
    return local.astimezone(dt.UTC)


class World:
    def __init__(self, db: Db) -> None:
        self.db = db
        self.engine = Engine(db.factory, EngineConfig("https://cobra.test", b"k" * 32))
        with db.session() as session, session.begin():
            business = make_business(session, owner_whatsapp=OWNER)
            business.plans_on_request = True
            business.plans_max_instalments = 4
            pena = make_contact(
                session,
                business,
                name="Ferretera Peña SA de CV",
                rfc="FPE850101AB2",
                whatsapp=normalize_phone(PENA),
                emails="pagos@pena.mx",
            )
            pena.whatsapp_reminders = True
            other = make_contact(
                session, business, name="Otro Cliente", whatsapp=normalize_phone(OTHER)
            )
            invoice = make_invoice(
                session,
                pena,
                total="3000.00",
                folio="102",
                issue_date=dt.date(2026, 11, 1),
                due_date=dt.date(2026, 12, 1),
            )
            make_invoice(session, other, total="500.00", folio="103")
            self.business_id, self.pena_id = business.id, pena.id
            self.invoice_id = invoice.id

    def say(
        self,
        text: str,
        *,
        sender: str = OWNER,
        at: dt.datetime = NOW,
        button: str | None = None,
    ) -> Reply:
        return self.engine.handle(
            Inbound(
                channel=Channel.WHATSAPP,
                sender=sender,
                text=text,
                received_at=at,
                provider_message_id=f"SM{next(_ids):08d}",
                button_payload=button,
            )
        )

    def plan(self) -> PaymentPlan:
        with self.db.session() as session:
            plan = session.scalars(select(PaymentPlan)).one()
            plan.instalments  # noqa: B018 - loaded before the session closes
            session.expunge_all()
            return plan

    def instalments(self) -> list[PlanInstalment]:
        with self.db.session() as session:
            return list(
                session.scalars(select(PlanInstalment).order_by(PlanInstalment.number))
            )

    def notes(self, recipient: str | None = None) -> list[OutboundMessage]:
        with self.db.session() as session:
            rows = session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.template == "plan_notice")
                .order_by(OutboundMessage.id)
            )
            return [r for r in rows if recipient is None or r.recipient == recipient]

    def reminders(self) -> list[OutboundMessage]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(OutboundMessage).where(
                        OutboundMessage.template == "reminder"
                    )
                )
            )

    def run_reminders(self, day: dt.date) -> None:
        plan_reminders(
            self.db.factory,
            now=at(day),
            public_base_url="https://cobra.test",
            portal_key=b"k" * 32,
            business_id=self.business_id,
        )

    def pay(self, amount: str, day: dt.date) -> Reply:
        when = at(day, 12)
        asked = self.say(f"Peña me pagó {amount}", at=when)
        assert "?" in asked.text, asked.text
        return self.say("sí", at=when + dt.timedelta(seconds=5))

    def button(self, note: OutboundMessage, title: str) -> str:
        return next(
            b["payload"] for b in note.payload["buttons"] if b["title"] == title
        )


@pytest.fixture
def world(db: Db) -> World:
    return World(db)


def test_split_adds_up_to_the_cent_and_months_clamp() -> None:
    assert split(Decimal("1000.00"), 3) == [
        Decimal("333.33"),
        Decimal("333.33"),
        Decimal("333.34"),
    ]
    assert sum(split(Decimal("98765.43"), 7)) == Decimal("98765.43")
    assert add_months(dt.date(2027, 1, 31), 1) == dt.date(2027, 2, 28)
    assert add_months(dt.date(2026, 12, 3), 1) == dt.date(2027, 1, 3)


def test_plan_offered_accepted_reminded_paid_early_and_late(world: World) -> None:
    # The owner offers; nothing is stored until the owner confirms.
    asked = world.say("dale a Peña 3 pagos mensuales")
    assert "$1,000.00 el 3 ene" in asked.text and "A-102" in asked.text
    assert world.notes() == []
    done = world.say("sí")
    assert "Le mandé el plan" in done.text
    plan = world.plan()
    assert plan.status == PlanStatus.OFFERED and plan.total == Decimal("3000.00")
    [offer] = world.notes(normalize_phone(PENA))
    assert "3 pagos" in offer.payload["text"]

    # Another customer cannot press Peña's button; Peña accepts with one tap.
    accept = world.button(offer, "Acepto")
    assert "no está disponible" in world.say("", sender=OTHER, button=accept).text
    accepted = world.say("Acepto", sender=PENA, button=accept)
    assert "Quedamos así" in accepted.text
    assert world.plan().status == PlanStatus.ACTIVE
    [owner_note] = world.notes(OWNER)
    assert "aceptó pagar $3,000.00 en 3 pagos" in owner_note.payload["text"]

    # Reminders follow the instalments, not the invoice's (already past) due date.
    world.run_reminders(dt.date(2026, 12, 8))
    world.run_reminders(dt.date(2026, 12, 31))
    assert world.reminders() == []
    [upcoming] = world.notes(normalize_phone(PENA))[1:]
    assert "pago 1 de 3" in upcoming.payload["text"]
    assert "vence el 3 ene" in upcoming.payload["text"]

    # Paid early: the first instalment is covered before its date, so its day
    # passes without a reminder.
    world.pay("1000", dt.date(2027, 1, 2))
    world.run_reminders(dt.date(2027, 1, 3))
    first, second, third = world.instalments()
    assert first.paid == Decimal("1000.00") and first.paid_at is not None
    assert first.paid_at.date() <= first.due_date
    assert len(world.notes(normalize_phone(PENA))) == 2

    # Late: the second instalment's day passes unpaid; the customer is reminded
    # and the owner told, once.
    world.run_reminders(dt.date(2027, 2, 3))
    world.run_reminders(dt.date(2027, 2, 4))
    world.run_reminders(dt.date(2027, 2, 5))
    pena_notes = [n.payload["text"] for n in world.notes(normalize_phone(PENA))]
    assert any("Hoy vence el pago 2 de 3" in t for t in pena_notes)
    assert any("vencido hace 1 día" in t for t in pena_notes)
    late_owner = [
        n for n in world.notes(OWNER) if "no ha cubierto" in n.payload["text"]
    ]
    assert len(late_owner) == 1
    assert "pago 2 de 3" in late_owner[0].payload["text"]

    # Paid late, and more than the instalment: the rest goes to the next one.
    sent = len(world.notes())
    world.pay("1500", dt.date(2027, 2, 10))
    world.run_reminders(dt.date(2027, 2, 11))
    assert len(world.notes()) == sent  # nothing left to remind until March
    first, second, third = world.instalments()
    assert second.paid == Decimal("1000.00") and second.paid_at is not None
    assert second.paid_at.date() > second.due_date
    assert third.paid == Decimal("500.00") and third.paid_at is None

    world.pay("500", dt.date(2027, 2, 20))
    world.run_reminders(dt.date(2027, 2, 21))
    assert world.plan().status == PlanStatus.COMPLETED


def test_customer_asks_owner_approves_customer_accepts(world: World) -> None:
    reply = world.say("¿puedo pagar en partes?", sender=PENA)
    assert "Le propuse" in reply.text and "3 pagos" in reply.text
    assert world.plan().status == PlanStatus.REQUESTED
    [request] = world.notes(OWNER)
    approve = world.button(request, "Aprobar")

    # The customer cannot approve their own request.
    assert "no está disponible" in world.say("", sender=PENA, button=approve).text
    assert "Le mandé el plan" in world.say("Aprobar", button=approve).text
    [offer] = world.notes(normalize_phone(PENA))
    world.say("Acepto", sender=PENA, button=world.button(offer, "Acepto"))
    assert world.plan().status == PlanStatus.ACTIVE

    again = world.say("¿puedo pagar en partes?", sender=PENA)
    assert "Ya tienes un plan" in again.text


def test_owner_refuses_a_request_and_the_customer_hears(world: World) -> None:
    world.say("¿puedo pagar en parcialidades? unos 6 pagos", sender=PENA)
    plan = world.plan()
    assert len(plan.instalments) == 4  # the business's maximum
    [request] = world.notes(OWNER)
    world.say("Rechazar", button=world.button(request, "Rechazar"))
    assert world.plan().status == PlanStatus.DECLINED
    [refused] = world.notes(normalize_phone(PENA))
    assert "no puede darte un plan" in refused.payload["text"]


def test_requests_off_pass_the_message_to_the_owner(world: World) -> None:
    with world.db.session() as session, session.begin():
        business = session.get(Business, world.business_id)
        assert business is not None
        business.plans_on_request = False
    reply = world.say("¿puedo pagar en partes?", sender=PENA)
    assert "Le pasé tu solicitud" in reply.text
    assert world.notes() == []


def test_a_plan_over_the_limit_or_on_planned_invoices_is_refused(world: World) -> None:
    assert "hasta 4 pagos" in world.say("dale a Peña 6 pagos mensuales").text
    world.say("dale a Peña 2 pagos mensuales")
    world.say("sí")
    again = world.say("dale a Peña 3 pagos mensuales")
    assert "ya están en un plan" in again.text


def test_invoice_balance_is_untouched_by_the_plan(world: World) -> None:
    world.say("dale a Peña 3 pagos mensuales")
    world.say("sí")
    with world.db.session() as session:
        invoice = session.get(Invoice, world.invoice_id)
        assert invoice is not None and invoice.balance == Decimal("3000.00")
