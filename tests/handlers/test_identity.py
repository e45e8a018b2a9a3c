"""Who a WhatsApp number speaks as, on both databases."""

from __future__ import annotations

from flows.messages import Channel, Inbound
from handlers.identity import resolve
from handlers.nlu import Role
from tests.builders import NOW, make_business, make_contact
from tests.conftest import Db

OWNER = "+525511112222"  # make_business's owner


def _speaker_of(db: Db, phone: str) -> tuple[Role, str | None, str | None]:
    with db.session() as s:
        speaker = resolve(s, Inbound(Channel.WHATSAPP, phone, "hola", NOW))
        business = speaker.business.name if speaker.business else None
        contact = speaker.contact.name if speaker.contact else None
        return speaker.role, business, contact


def test_customer_owner_and_stranger(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        make_contact(s, business, name="Acme", whatsapp="+525533334444")

    assert _speaker_of(db, "+525533334444") == (
        Role.CUSTOMER,
        "Ferretería La Tuerca",
        "Acme",
    )
    # As WhatsApp writes Mexican mobiles: with a 1 after +52.
    assert _speaker_of(db, "+5215533334444")[0] == Role.CUSTOMER
    assert _speaker_of(db, OWNER) == (Role.OWNER, "Ferretería La Tuerca", None)
    assert _speaker_of(db, "+525599998888") == (Role.UNKNOWN, None, None)


def test_a_number_on_the_team_and_a_customer_speaks_for_the_team(db: Db) -> None:
    # The owner of one business buys from another, with the same phone; and a
    # contact of their own business carries that number too.
    with db.session() as s, s.begin():
        own = make_business(s)
        make_contact(s, own, name="Dueña como cliente", whatsapp=OWNER)
        other = make_business(
            s, name="Papelería Sur", rfc="PSU020202AB2", owner_whatsapp="+525577776666"
        )
        make_contact(s, other, name="Ferretería La Tuerca", whatsapp=OWNER)

    assert _speaker_of(db, OWNER) == (Role.OWNER, "Ferretería La Tuerca", None)
    assert _speaker_of(db, "+525577776666") == (Role.OWNER, "Papelería Sur", None)
