"""Payment plans through the signed WhatsApp webhook, on both databases: the owner
offers a plan in chat and the customer accepts it by tapping the offer's button
(ButtonPayload `plan:<id>:accept`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from flows.fmt import normalize_phone
from storage.models import OutboundMessage, PaymentPlan, PlanStatus
from tests.bot.conftest import Serve, twilio_settings
from tests.bot.test_whatsapp import messages_of
from tests.builders import make_business, make_contact, make_invoice
from tests.conftest import Db
from tests.fakes.twilio_api import FakeTwilio

OWNER = "whatsapp:+5215511112222"
PENA = "whatsapp:+5215544443333"
OTHER = "whatsapp:+5215577776666"


@pytest.fixture
def business(db: Db) -> int:
    with db.session() as session, session.begin():
        business = make_business(session)
        pena = make_contact(
            session,
            business,
            name="Ferretera Peña SA de CV",
            rfc="FPE850101AB2",
            whatsapp=normalize_phone("+5215544443333"),
        )
        pena.whatsapp_reminders = True
        make_contact(
            session,
            business,
            name="Otro Cliente",
            whatsapp=normalize_phone("+5215577776666"),
        )
        make_invoice(
            session,
            pena,
            total="3000.00",
            folio="102",
            issue_date=dt.date(2026, 11, 1),
            due_date=dt.date(2026, 12, 1),
        )
        return business.id


def plan_of(db: Db) -> PaymentPlan:
    with db.session() as session:
        plan = session.scalars(select(PaymentPlan)).one()
        session.expunge(plan)
        return plan


def plan_notices(db: Db, recipient: str) -> list[dict[str, Any]]:
    with db.session() as session:
        rows = session.scalars(
            select(OutboundMessage)
            .where(
                OutboundMessage.template == "plan_notice",
                OutboundMessage.recipient == recipient,
            )
            .order_by(OutboundMessage.id)
        )
        return [row.payload for row in rows]


def test_customer_accepts_a_plan_by_tapping_the_button(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))

    offered = service.whatsapp("dale a Peña 3 pagos mensuales", sender=OWNER)
    assert "$1,000.00" in messages_of(offered)[0]
    confirmed = service.whatsapp("sí", sender=OWNER)
    assert "Le mandé el plan" in messages_of(confirmed)[0]
    plan = plan_of(db)
    assert plan.status == PlanStatus.OFFERED and plan.total == Decimal("3000.00")
    [offer] = plan_notices(db, normalize_phone("+5215544443333"))
    accept = next(b["payload"] for b in offer["buttons"] if b["title"] == "Acepto")
    assert accept == f"plan:{plan.id}:accept"

    # Another customer tapping (or forging) Peña's button changes nothing.
    theirs = service.whatsapp(
        "Acepto", sender=OTHER, ButtonPayload=accept, ButtonText="Acepto"
    )
    assert "no está disponible" in messages_of(theirs)[0]
    assert plan_of(db).status == PlanStatus.OFFERED

    tapped = service.whatsapp(
        "Acepto", sender=PENA, sid="SM" + "7" * 32, ButtonPayload=accept
    )
    assert tapped.status_code == 200
    assert "Quedamos así" in messages_of(tapped)[0]
    assert plan_of(db).status == PlanStatus.ACTIVE
    owner = normalize_phone("+5215511112222")
    [told] = [n for n in plan_notices(db, owner) if "aceptó" in n["text"]]
    assert "aceptó pagar $3,000.00 en 3 pagos" in told["text"]

    # Twilio retrying the same webhook gets the same answer and acts once.
    again = service.whatsapp(
        "Acepto", sender=PENA, sid="SM" + "7" * 32, ButtonPayload=accept
    )
    assert messages_of(again) == messages_of(tapped)
    assert len([n for n in plan_notices(db, owner) if "aceptó" in n["text"]]) == 1
