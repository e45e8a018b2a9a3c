"""The financing application through the conversation engine, on both databases."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from flows.business import add_user
from flows.messages import Channel, Inbound, Reply
from handlers.context import EngineConfig
from handlers.engine import Engine
from storage.models import FinancingApplication
from tests.builders import NOW, make_business
from tests.conftest import Db

OWNER = "+525511112222"
STAFF = "+525533334444"
GOOD = [
    "Ferretería La Tuerca SA de CV",
    "EKU9003173C9",
    "Venta de ferretería al mayoreo",
    "8",
    "12 millones",
    "1.5 millones",
    "Capital de trabajo",
    "Juan Pérez García",
    "PEGJ850615HDFRRN07",
    "juan@latuerca.mx",
    "55 1234 5678",
    "002180012345678906",
    "Acepto",
]


def make_engine(db: Db) -> Engine:
    config = EngineConfig(public_base_url="https://cobra.test", portal_key=b"k" * 32)
    return Engine(db.factory, config)


def setup(db: Db) -> None:
    with db.session() as session, session.begin():
        business = make_business(session)
        add_user(session, business=business, role="staff", whatsapp=STAFF, now=NOW)


class Chat:
    """One person writing on WhatsApp, at a clock the test moves."""

    def __init__(self, engine: Engine, sender: str = OWNER) -> None:
        self.engine = engine
        self.sender = sender
        self.now = NOW

    def say(self, text: str) -> Reply:
        self.now += dt.timedelta(seconds=30)
        return self.engine.handle(
            Inbound(Channel.WHATSAPP, self.sender, text, self.now)
        )


def application(db: Db) -> FinancingApplication:
    with db.session() as session:
        return session.scalars(select(FinancingApplication)).one()


def test_complete_application_is_submitted_with_its_deadline(db: Db) -> None:
    setup(db)
    chat = Chat(make_engine(db))

    first = chat.say("quiero financiamiento")
    assert "13 datos" in first.text
    assert "Ferretería La Tuerca" in first.text  # the legal name, prefilled
    for answer in GOOD:
        reply = chat.say(answer)
    assert "EKU9•••••3C9" in reply.text
    assert "••••8906 (Banamex)" in reply.text
    assert "PEGJ850615HDFRRN07" not in reply.text
    assert [b.title for b in reply.messages[0].buttons] == ["Sí", "No"]

    done = chat.say("sí")
    assert "72 horas hábiles" in done.text
    assert "el martes 8 de diciembre a las 11:" in done.text
    stored = application(db)
    assert stored.status == "submitted"
    assert stored.receivables is not None

    status = chat.say("¿cuánto financiamiento tengo?")
    assert "en revisión" in status.text


def test_invalid_rfc_curp_and_clabe_are_explained_and_corrected(db: Db) -> None:
    setup(db)
    chat = Chat(make_engine(db))
    chat.say("quiero financiamiento")
    chat.say(GOOD[0])

    bad_rfc = chat.say("EKU9003173C8")
    assert "dígito verificador" in bad_rfc.text
    assert "Paso 2 de 13" in bad_rfc.text
    for answer in GOOD[1:8]:
        chat.say(answer)
    bad_curp = chat.say("PEGJ850615HDFRRN08")
    assert "CURP" in bad_curp.text and "Paso 9 de 13" in bad_curp.text
    for answer in GOOD[8:11]:
        chat.say(answer)
    bad_clabe = chat.say("002180012345678907")
    assert "CLABE no es válida" in bad_clabe.text
    chat.say(GOOD[11])

    assert application(db).answers["clabe"] == GOOD[11]
    assert application(db).answers["rfc"] == GOOD[1]
    assert application(db).step == "consent"


def test_back_change_and_where_am_i(db: Db) -> None:
    setup(db)
    chat = Chat(make_engine(db))
    chat.say("quiero financiamiento")
    for answer in GOOD[:4]:
        chat.say(answer)
    back = chat.say("atrás")
    assert "Paso 4 de 13" in back.text and "Ahora dice: 8 años" in back.text
    chat.say("10")
    where = chat.say("¿en qué paso voy?")
    assert "paso 5 de 13" in where.text
    for answer in GOOD[4:]:
        chat.say(answer)

    change = chat.say("cambiar la CLABE")
    assert "Paso 12 de 13" in change.text
    summary = chat.say("072180001234567897")
    assert "••••7897 (Banorte)" in summary.text
    refused = chat.say("no")
    assert "No la envié" in refused.text
    assert application(db).status == "draft"
    assert application(db).answers["years_operating"] == 10


def test_resumed_after_a_restart_days_later(db: Db) -> None:
    setup(db)
    chat = Chat(make_engine(db))
    chat.say("quiero financiamiento")
    for answer in GOOD[:6]:
        chat.say(answer)

    later = Chat(make_engine(db))  # a new process over the same database
    later.now = NOW + dt.timedelta(days=3)
    resumed = later.say("quiero financiamiento")
    assert "donde te quedaste" in resumed.text
    assert "Paso 7 de 13" in resumed.text
    for answer in GOOD[6:]:
        later.say(answer)
    assert "72 horas hábiles" in later.say("sí").text


def test_another_question_leaves_the_form_and_keeps_it(db: Db) -> None:
    setup(db)
    chat = Chat(make_engine(db))
    chat.say("quiero financiamiento")
    chat.say(GOOD[0])
    other = chat.say("¿cuánto me deben?")
    assert "facturas por cobrar" in other.text
    assert application(db).step == "rfc"


def test_staff_cannot_apply(db: Db) -> None:
    setup(db)
    chat = Chat(make_engine(db), sender=STAFF)
    reply = chat.say("quiero financiamiento")
    assert "dueña" in reply.text
    with db.session() as session:
        assert session.scalars(select(FinancingApplication)).all() == []
    assert "dueña" in chat.say("¿cuánto financiamiento tengo?").text
