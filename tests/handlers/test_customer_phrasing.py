"""How customers really write: a payment told with its amount and day, the bank
details asked for by name, "¿quién habla?"; through the engine on both
databases."""

from __future__ import annotations

from decimal import Decimal

import pytest

from storage.models import Business, PaymentReport
from tests.conftest import Db
from tests.handlers.test_customer import World

CLABE = "002010077777777771"


@pytest.fixture
def world(db: Db) -> World:
    return World(db)


def test_a_payment_told_with_amount_and_day_is_reported(world: World) -> None:
    reply = world.say("les pagué 500 ayer")

    assert "$500.00" in reply.text
    [report] = world.rows(PaymentReport)
    assert report.amount == Decimal("500.00")
    assert [a.recipient for a in world.alerts()] == ["+525511112222"]


def test_when_to_pay_is_not_a_report(world: World) -> None:
    world.say("¿cuándo quieren que les pague?")

    assert world.rows(PaymentReport) == []


def test_the_clabe_asked_for_comes_with_the_portal(world: World) -> None:
    with world.db.session() as session, session.begin():
        session.get_one(Business, world.business_id).clabe = CLABE

    for asked in ("me puedes dar la clabe", "¿a quién le deposito?"):
        reply = world.say(asked)

        assert "https://cobra.test/portal/" in reply.text
        assert f"CLABE {CLABE}" in reply.text


def test_who_is_writing_is_answered_not_forwarded(world: World) -> None:
    reply = world.say("¿quién habla?")

    assert "asistente de cobranza" in reply.text
    assert world.alerts() == []


def test_asking_about_another_customer_says_whose_account_it_is(
    world: World,
) -> None:
    other = world.say("¿cuánto debe Beta Comercial?")
    nobody = world.say("¿cuánto debe Zeta Inexistente?")
    own = world.say("¿cuánto debe Acme Industrial?")
    plain = world.say("buenas tardes, me pueden mandar mi estado de cuenta")
    ours = world.say("¿cuánto debe mi empresa?")
    other_company = world.say("¿cuánto debe la empresa Beta Comercial?")

    assert other.text.startswith("Sólo puedo darte información de tu propia cuenta.")
    assert "$1,160.00" in other.text and "98,765" not in other.text
    # The same words whether the name is another customer's or nobody's.
    assert other.text == nobody.text
    assert own.text.startswith("Tu saldo con")
    assert plain.text.startswith("Tu saldo con")
    assert ours.text.startswith("Tu saldo con")
    assert other_company.text == other.text
