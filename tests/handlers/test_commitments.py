"""What customers said, seen and written down by the owner, end to end through the
engine on both databases: open promises and disputes, listed and next to a
customer's balance, and a promise made by phone."""

from __future__ import annotations

import pytest

from storage.models import Dispute, OutboundMessage, Promise
from tests.conftest import Db
from tests.handlers.test_customer import OWNER, World


@pytest.fixture
def world(db: Db) -> World:
    return World(db)


def test_the_owner_sees_who_promised_to_pay_and_when(world: World) -> None:
    assert "Nadie tiene una promesa" in world.say("promesas", sender=OWNER).text
    world.say("el 15 les deposito")

    listed = world.say("¿quién prometió pagar?", sender=OWNER).text
    balance = world.say("¿cuándo me paga Acme?", sender=OWNER).text

    assert listed.splitlines()[:2] == [
        "Promesas de pago (1):",
        "• Acme Industrial: la A-102 el 15 dic",
    ]
    assert balance.splitlines()[-1] == "🗓️ Prometió pagar la A-102 el 15 dic."
    other = world.say("¿cuándo me paga Beta?", sender=OWNER).text
    assert other.splitlines()[-1].startswith("No me ha dicho cuándo paga.")


def test_a_promise_made_by_phone_is_written_down_without_telling_the_owner(
    world: World,
) -> None:
    reply = world.say("Acme quedó de pagar el viernes 500", sender=OWNER)
    asked = world.say("¿Acme paga el viernes?", sender=OWNER)

    assert reply.text.startswith("Anotado: Acme Industrial paga $500.00 de la A-102")
    assert "mañana" in reply.text  # NOW is a Thursday
    [promise] = world.rows(Promise)
    assert (promise.invoice_id, promise.status) == (world.invoice_id, "open")
    assert "• Acme Industrial: $500.00 de la A-102 mañana" in asked.text
    assert world.rows(OutboundMessage) == []  # nothing to tell anyone
    far = world.say("Beta paga el 1 de diciembre", sender=OWNER)
    assert "muy lejana" in far.text and len(world.rows(Promise)) == 1


def test_the_owner_lists_open_disputes_until_resolved(world: World) -> None:
    world.say("no reconozco esta factura")

    listed = world.say("¿qué aclaraciones tengo?", sender=OWNER).text
    balance = world.say("¿cuánto me debe Acme?", sender=OWNER).text

    assert listed.splitlines()[:2] == [
        "Aclaraciones abiertas (1):",
        "• Acme Industrial · A-102, hoy: «no reconozco esta factura»",
    ]
    assert "«resuelve la aclaración de Acme Industrial»" in listed
    assert balance.splitlines()[-1] == (
        "❗ Aclaración abierta: A-102, hoy: «no reconozco esta factura»"
    )
    world.say("resuelve la aclaración de Acme", sender=OWNER)
    assert [d.status for d in world.rows(Dispute)] == ["resolved"]
    assert world.say("aclaraciones", sender=OWNER).text == (
        "No hay aclaraciones abiertas. ✅"
    )


def test_asking_when_one_invoice_falls_due_is_about_that_invoice(
    world: World,
) -> None:
    reply = world.say("¿cuándo vence la B-900?", sender=OWNER).text

    assert reply.startswith("Factura B-900 por cobrar a Beta Comercial")
    assert "vence" in reply and "Facturas vencidas" not in reply
