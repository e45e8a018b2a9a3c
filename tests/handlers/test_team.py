"""The owner's team from the chat: adding someone by WhatsApp, listing, taking the
access away; only the owner may; through the engine on both databases."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from flows.messages import Channel, Inbound, Reply
from handlers.context import EngineConfig
from handlers.engine import Engine
from handlers.team import person_name
from prompts import texts
from storage.models import AuditEvent, User
from tests.builders import NOW, make_business
from tests.conftest import Db

OWNER = "+525511112222"
LUPITA = "+525588887777"
_ids = itertools.count(1)


class Office:
    def __init__(self, db: Db) -> None:
        self.db = db
        self.engine = Engine(db.factory, EngineConfig("https://cobra.test", b"k" * 32))
        with db.session() as session, session.begin():
            make_business(session, owner_whatsapp=OWNER)

    def say(self, text: str, *, sender: str = OWNER) -> Reply:
        return self.engine.handle(
            Inbound(
                channel=Channel.WHATSAPP,
                sender=sender,
                text=text,
                received_at=NOW,
                provider_message_id=f"SM{next(_ids):08d}",
            )
        )


@pytest.fixture
def office(db: Db) -> Office:
    return Office(db)


def test_someone_added_by_whatsapp_works_until_the_access_is_taken_away(
    office: Office,
) -> None:
    assert office.say("¿cuánto me deben?", sender=LUPITA).text == (texts.UNKNOWN_SENDER)

    asked = office.say("agrega a Lupita Ramírez a mi equipo, 55 8888 7777")
    assert asked.text.startswith(
        "¿Le doy acceso a Lupita Ramírez desde el WhatsApp +52 55 8888 7777?"
    )
    assert office.say("sí").text == (
        "Listo, Lupita Ramírez ya es de tu equipo: que me escriba desde su WhatsApp."
    )

    assert office.say("¿cuánto me deben?", sender=LUPITA).text == (
        "No tienes facturas por cobrar. 🎉"
    )
    assert office.say("agrega a Pedro a mi equipo", sender=LUPITA).text == (
        texts.OWNER_ONLY
    )
    listed = office.say("¿quiénes tienen acceso?").text
    assert "• Tú (dueña o dueño): WhatsApp +52 55 1111 2222" in listed
    assert "• Lupita Ramírez (equipo): WhatsApp +52 55 8888 7777" in listed

    asked = office.say("quítale el acceso a Lupita")
    assert asked.text.startswith("¿Le quito el acceso a Lupita Ramírez?")
    assert office.say("sí").text == "Listo, Lupita Ramírez ya no tiene acceso."
    assert office.say("¿cuánto me deben?", sender=LUPITA).text == (texts.UNKNOWN_SENDER)
    with office.db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("user.%"))
        ).all()
        # The owner's own, when the business was created, then Lupita's.
        assert sorted(actions) == ["user.added", "user.added", "user.removed"]
        assert session.scalars(select(User.role)).all() == ["owner"]


def test_the_same_number_twice_is_refused_and_nothing_half_done(
    office: Office,
) -> None:
    office.say("agrega a Lupita a mi equipo, 55 8888 7777")
    office.say("sí")

    office.say("dale acceso a Guadalupe, 55 8888 7777")
    refused = office.say("sí")

    assert refused.text == "Esa persona ya está registrada en el negocio."
    with office.db.session() as session:
        assert session.scalars(select(User.name).order_by(User.id)).all() == [
            None,
            "Lupita",
        ]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("agrega a Juan Pérez a mi equipo", "Juan Pérez"),
        ("agrega a mi equipo a Juan Pérez, 55 1234 5678", "Juan Pérez"),
        ("da de alta a Juan como empleado", "Juan"),
        ("dale acceso a María José por Telegram", "María José"),
        ("código de Telegram para Juan", "Juan"),
        ("quítale el acceso a Lupita", "Lupita"),
        ("saca a Lupita del equipo", "Lupita"),
        ("agrega a mi equipo", None),
    ],
)
def test_the_persons_name(text: str, name: str | None) -> None:
    assert person_name(text) == name


def test_the_help_tells_staff_what_stays_with_the_owner(office: Office) -> None:
    office.say("agrega a Lupita a mi equipo, 55 8888 7777")
    office.say("sí")

    staff_help = office.say("ayuda", sender=LUPITA).text

    assert staff_help.endswith(texts.HELP_STAFF_NOTE)
    assert "dar o quitar acceso al equipo" in texts.HELP_STAFF_NOTE
    assert not office.say("ayuda").text.endswith(texts.HELP_STAFF_NOTE)
