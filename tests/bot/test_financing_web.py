"""The financing web form edits the same application the chat opened."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import financing_web
from bot.runtime import Runtime
from bot.settings import Settings
from flows.messages import Channel, Inbound
from handlers.context import EngineConfig
from handlers.engine import Engine
from storage.models import FinancingApplication
from tests.builders import NOW, make_business
from tests.conftest import Db

OWNER = "+525511112222"


def _client(db: Db, engine: Engine, clock: dt.datetime) -> TestClient:
    runtime = Runtime(Settings(database_url=db.url), db.engine, db.factory, engine)
    runtime.extras[financing_web.CLOCK] = lambda: clock
    app = FastAPI()
    app.state.runtime = runtime
    financing_web.install(app, runtime)
    return TestClient(app)


def test_web_form_fills_the_chat_application(db: Db) -> None:
    with db.session() as session, session.begin():
        make_business(session)
    config = EngineConfig(public_base_url="https://cobra.test", portal_key=b"k" * 32)
    engine = Engine(db.factory, config)

    def say(text: str, minutes: int) -> str:
        moment = NOW + dt.timedelta(minutes=minutes)
        return engine.handle(Inbound(Channel.WHATSAPP, OWNER, text, moment)).text

    say("quiero financiamiento", 0)
    say("Ferretería La Tuerca SA de CV", 1)
    link = say("prefiero el formulario", 2)
    path = link.split("https://cobra.test", 1)[1].split()[0]
    client = _client(db, engine, NOW + dt.timedelta(minutes=3))

    page = client.get(path)
    assert page.status_code == 200
    assert "Ferretería La Tuerca SA de CV" in page.text
    assert page.headers["cache-control"] == "no-store"

    form = {
        "rfc": "EKU9003173C8",
        "line_of_business": "Ferretería",
        "years_operating": "8",
        "annual_revenue": "12 millones",
        "amount_requested": "900 mil",
        "purpose": "Inventario",
        "representative_name": "Juan Pérez García",
        "curp": "PEGJ850615HDFRRN07",
        "email": "juan@latuerca.mx",
        "phone": "5512345678",
        "clabe": "002180012345678906",
        "consent": "on",
    }
    bad = client.post(path, data=form)
    assert bad.status_code == 422 and "dígito verificador" in bad.text
    saved = client.post(path, data={**form, "rfc": "EKU9003173C9"})
    assert saved.status_code == 200 and "completa" in saved.text
    assert client.get(path).status_code == 404  # the link is used up

    with db.session() as session:
        stored = session.scalars(select(FinancingApplication)).one()
        assert stored.step == "confirm"
        assert stored.answers["legal_name"] == "Ferretería La Tuerca SA de CV"
    summary = say("quiero financiamiento", 10)
    assert "$900,000.00" in summary and "¿La envío?" in summary
    assert "72 horas hábiles" in say("sí", 11)
