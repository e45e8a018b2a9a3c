"""The owner's morning digest: its buttons review, hold or release today's reminders."""

from __future__ import annotations

import datetime as dt

from flows.messages import Channel, Inbound
from flows.reminders import plan_reminders
from handlers.context import EngineConfig
from handlers.engine import Engine
from storage.models import Business, OutboundMessage, OutboxStatus
from tests.builders import make_business, make_contact, make_invoice
from tests.conftest import Db

MORNING = dt.datetime(2026, 12, 3, 15, 30, tzinfo=dt.UTC)  # 09:30 in CDMX
KEY = b"k" * 32


def _tap(engine: Engine, payload: str, sid: str, sender: str = "+525511112222") -> str:
    inbound = Inbound(
        Channel.WHATSAPP,
        sender,
        payload,
        MORNING,
        provider_message_id=sid,
        button_payload=payload,
    )
    return engine.handle(inbound).text


def test_digest_review_and_hold(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        business.owner_digest = True
        acme = make_contact(s, business, name="Acme SA", emails="pagos@acme.mx")
        make_invoice(s, acme, total="1160.00", due_date=dt.date(2026, 12, 3))
    plan_reminders(
        db.factory, now=MORNING, public_base_url="https://cobra.test", portal_key=KEY
    )
    with db.session() as s:
        digest = s.query(OutboundMessage).filter_by(template="owner_digest").one()
        payloads = [b["payload"] for b in digest.payload["buttons"]]
        assert payloads == [
            "reminders:send:2026-12-03",
            "reminders:review:2026-12-03",
            "reminders:hold:2026-12-03",
        ]
        reminders = s.query(OutboundMessage).filter_by(template="reminder").all()
        assert reminders and all(r.status == "pending" for r in reminders)

    engine = Engine(db.factory, EngineConfig("https://cobra.test", KEY))
    review = _tap(engine, "reminders:review:2026-12-03", "SM1")
    assert "Acme SA · $1,160.00 · correo" in review
    stale = _tap(engine, "reminders:hold:2026-12-02", "SM2")
    assert "ya no se pueden cambiar" in stale
    stranger = _tap(engine, "reminders:hold:2026-12-03", "SM3", sender="+525599990000")
    assert "no encuentro tu número" in stranger.lower()
    held = _tap(engine, "reminders:hold:2026-12-03", "SM4")
    assert held.startswith("Detuve 1 recordatorio de hoy")
    with db.session() as s:
        rows = s.query(OutboundMessage).filter_by(template="reminder")
        statuses = {r.status for r in rows}
        assert statuses == {OutboxStatus.SKIPPED}
        assert s.query(Business).one().owner_digest


def test_reminders_status_for_all_and_one(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(s, business, name="Acme SA", emails="pagos@acme.mx")
        acme.whatsapp, acme.whatsapp_reminders = "+525512340000", True
        beta = make_contact(s, business, name="Beta SA")
        beta.reminders_enabled = False
    engine = Engine(db.factory, EngineConfig("https://cobra.test", KEY))

    def say(text: str, sid: str) -> str:
        inbound = Inbound(
            Channel.WHATSAPP, "+525511112222", text, MORNING, provider_message_id=sid
        )
        return engine.handle(inbound).text

    overall = say("/recordatorios", "SM10")
    assert overall.startswith("Recordatorios activos")
    assert "1 de 2 clientes los reciben por WhatsApp" in overall
    assert "Apagados para: Beta SA." in overall
    one = say("recordatorios de acme", "SM11")
    assert one == (
        "Acme SA: recordatorios activos.\n• Correo: pagos@acme.mx\n• WhatsApp: activo"
    )
