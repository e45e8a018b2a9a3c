"""The WhatsApp webhooks over HTTP, against the loopback Twilio fake, on both
databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from sqlalchemy import func, select

from bot import whatsapp
from flows import ratelimit
from flows.messages import Document, Outbound, Reply
from handlers import actions
from handlers.context import Turn
from prompts import texts
from storage.models import (
    Conversation,
    InboundMessage,
    Invoice,
    OutboundMessage,
    OutboxStatus,
    SenderRate,
)
from tests import cfdi_factory as cfdi
from tests.bot.conftest import (
    PUBLIC_BASE_URL,
    Serve,
    make_settings,
    twilio_settings,
)
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db
from tests.fakes.twilio_api import FakeTwilio, sign

OWNER = "whatsapp:+5215511112222"  # the builders' owner, with the old mobile 1
CUSTOMER = "whatsapp:+5215533334444"
STRANGER = "whatsapp:+5215599990000"


def messages_of(response: Any) -> list[str]:
    """The bodies of the TwiML answer's <Message> elements."""
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Response"
    return ["".join(m.itertext()) for m in root.iter("Message")]


def count(db: Db, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def business(db: Db) -> int:
    with db.session() as session, session.begin():
        business = make_business(session)
        acme = make_contact(session, business, name="Acme Industrial SA de CV")
        acme.whatsapp = "+525533334444"
        other = make_contact(session, business, name="Zapatería Olmo SA de CV")
        other.whatsapp = "+525566667777"
        make_invoice(session, acme, total="1160.00", folio="101")
        make_invoice(session, other, total="98765.43", folio="777")
        return business.id


@pytest.fixture
def recorded_action(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """A confirmable action that records its runs, to test the yes/no plumbing."""
    runs: list[dict[str, Any]] = []

    def run(turn: Turn, payload: dict[str, Any]) -> Reply:
        runs.append(payload)
        return Reply().say("Hecho: registré el cobro de prueba.")

    monkeypatch.setitem(actions.ACTIONS, "test.record", run)
    return runs


def pending_confirmation(db: Db, *, channel: str, sender: str) -> None:
    with db.session() as session, session.begin():
        session.add(
            Conversation(
                channel=channel,
                sender=sender,
                flow=actions.CONFIRM_FLOW,
                step="awaiting",
                data={"action": "test.record", "payload": {"folio": "A-101"}},
                expires_at=NOW + dt.timedelta(hours=1),
                updated_at=NOW,
            )
        )


def test_owner_gets_an_answer_as_twiml(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))

    response = service.whatsapp("ayuda", sender=OWNER)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert "Esto es lo que puedo hacer" in messages_of(response)[0]


def test_bad_signature_is_refused_and_changes_nothing(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))

    forged = service.whatsapp("ayuda", sender=OWNER, signature="bm90LXZhbGlk")
    unsigned = service.client.post(whatsapp.MESSAGE_PATH, data={"From": OWNER})
    other_path = service.whatsapp(
        "ayuda",
        sender=OWNER,
        signature=sign(PUBLIC_BASE_URL + "/otra/ruta", {"From": OWNER}),
    )

    assert [forged.status_code, unsigned.status_code, other_path.status_code] == [
        403,
        403,
        403,
    ]
    assert count(db, InboundMessage) == 0
    assert count(db, Conversation) == 0
    assert count(db, SenderRate) == 0


def test_missing_auth_token_refuses_every_request(
    db: Db, business: int, serve: Serve
) -> None:
    service = serve(make_settings(db))

    response = service.whatsapp("ayuda", sender=OWNER)

    assert response.status_code == 403
    assert count(db, InboundMessage) == 0


def test_replayed_message_sid_gets_the_same_answer_and_acts_once(
    db: Db,
    business: int,
    twilio: FakeTwilio,
    serve: Serve,
    recorded_action: list[dict[str, Any]],
) -> None:
    service = serve(twilio_settings(db, twilio))
    pending_confirmation(db, channel="whatsapp", sender="+525511112222")

    first = service.whatsapp("sí", sender=OWNER, sid="SM" + "a" * 32)
    again = service.whatsapp("sí", sender=OWNER, sid="SM" + "a" * 32)

    assert first.status_code == again.status_code == 200
    assert messages_of(first) == messages_of(again)
    assert "Hecho" in messages_of(first)[0]
    assert len(recorded_action) == 1
    assert count(db, InboundMessage) == 1


def test_unknown_sender_learns_nothing(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))

    response = service.whatsapp("¿cuánto debo?", sender=STRANGER)

    assert messages_of(response) == [texts.UNKNOWN_SENDER]
    assert "Tuerca" not in response.text and "Acme" not in response.text


def test_customer_cannot_see_another_customers_invoice(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))

    asked = [
        service.whatsapp("mándame la factura A-777", sender=CUSTOMER),
        service.whatsapp("¿cuánto debe Zapatería Olmo?", sender=CUSTOMER),
        service.whatsapp("¿cuánto me deben?", sender=CUSTOMER),
    ]

    for response in asked:
        assert response.status_code == 200
        text = " ".join(messages_of(response))
        assert "Olmo" not in text
        assert "98,765.43" not in text and "98765" not in text


def test_confirmation_by_quick_reply_button(
    db: Db,
    business: int,
    twilio: FakeTwilio,
    serve: Serve,
    recorded_action: list[dict[str, Any]],
) -> None:
    service = serve(twilio_settings(db, twilio))
    pending_confirmation(db, channel="whatsapp", sender="+525511112222")

    response = service.whatsapp("", sender=OWNER, ButtonPayload="yes", ButtonText="Sí")

    assert "Hecho" in messages_of(response)[0]
    assert recorded_action == [{"folio": "A-101"}]


def test_confirmation_typed_no_does_nothing(
    db: Db,
    business: int,
    twilio: FakeTwilio,
    serve: Serve,
    recorded_action: list[dict[str, Any]],
) -> None:
    service = serve(twilio_settings(db, twilio))
    pending_confirmation(db, channel="whatsapp", sender="+525511112222")

    response = service.whatsapp("no", sender=OWNER)

    assert messages_of(response) == [texts.NOT_DONE]
    assert recorded_action == []


def test_buttons_become_a_typed_answer_hint() -> None:
    reply = Reply().say("¿Registro el pago de $1,160.00?", actions.YES, actions.NO)

    body = whatsapp.render_twiml(reply)

    assert "Responde «Sí» o «No»." in body


def test_documents_in_an_answer_are_hosted_for_twilio(tmp_path: Path) -> None:
    pdf = Document("A-101.pdf", "application/pdf", b"%PDF-1.4 factura", "Tu factura")
    reply = Reply(messages=[Outbound(text="Aquí está", documents=(pdf,))])
    hosted: list[bytes] = []

    def host(content_type: str, content: bytes) -> str:
        hosted.append(content)
        return "https://cobra.example.mx/webhooks/whatsapp/media/x.pdf"

    root = ElementTree.fromstring(whatsapp.render_twiml(reply, host=host))

    media = [m.text for m in root.iter("Media")]
    assert media == ["https://cobra.example.mx/webhooks/whatsapp/media/x.pdf"]
    assert hosted == [b"%PDF-1.4 factura"]


def test_known_customer_opens_the_24_hour_window(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))

    service.whatsapp("hola", sender=CUSTOMER)

    with db.session() as session:
        stamps = session.scalars(select(InboundMessage.received_at)).all()
        from storage.models import Contact

        acme = session.scalar(
            select(Contact).where(Contact.whatsapp == "+525533334444")
        )
        assert acme is not None and acme.whatsapp_last_inbound_at is not None
        assert acme.whatsapp_last_inbound_at.replace(tzinfo=dt.UTC) == NOW
    assert len(stamps) == 1


def test_opt_out_words_reach_the_engine(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))

    response = service.whatsapp("BAJA", sender=CUSTOMER)

    assert response.status_code == 200
    with db.session() as session:
        texts_seen = session.scalars(select(InboundMessage.text)).all()
    assert texts_seen == ["BAJA"]


def test_media_is_downloaded_with_the_account_credentials(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))
    sid = "SM" + "m" * 32
    url = twilio.add_media(sid, b"%PDF-1.4 comprobante", "application/pdf")

    response = service.whatsapp(
        "ya pagué",
        sender=CUSTOMER,
        sid=sid,
        NumMedia="1",
        MediaUrl0=url,
        MediaContentType0="application/pdf",
    )

    assert response.status_code == 200
    with db.session() as session:
        record = session.scalar(select(InboundMessage))
    assert record is not None and record.media is not None
    item = record.media["items"][0]
    assert item["url"] == url and item["content_type"] == "application/pdf"
    stored = service.media_dir / "whatsapp" / f"{sid}-0.pdf"
    assert item["path"] == str(stored)
    assert stored.read_bytes() == b"%PDF-1.4 comprobante"


def test_an_invoice_xml_from_the_owner_is_imported_once(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))
    sid = "SM" + "x" * 32
    xml = cfdi.invoice(total="2320.00", series="B", folio="77")
    url = twilio.add_media(sid, xml, "text/xml")
    form = {"NumMedia": "1", "MediaUrl0": url, "MediaContentType0": "text/xml"}

    first = service.whatsapp("", sender=OWNER, sid=sid, **form)
    again = service.whatsapp("", sender=OWNER, sid=sid, **form)

    [answer] = messages_of(first)
    assert answer.startswith(
        "Guardé la factura B-77 por cobrar a ACME INDUSTRIAL por $2,320.00"
    )
    assert messages_of(again) == [answer]
    assert count(db, Invoice) == 3  # the fixture's two, and this one


def test_media_outside_twilio_is_not_fetched_with_credentials(
    db: Db, twilio: FakeTwilio
) -> None:
    settings = twilio_settings(db, twilio)

    assert whatsapp.media_host_allowed(settings, twilio.base_url + "/x")
    assert whatsapp.media_host_allowed(settings, "https://api.twilio.com/2010-04-01/x")
    assert not whatsapp.media_host_allowed(settings, "https://evil.example/x")
    assert not whatsapp.media_host_allowed(settings, "https://twilio.com.evil.mx/x")


def test_a_flooding_sender_is_slowed_politely(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    limit = ratelimit.Limit(messages=3, window=dt.timedelta(minutes=1))
    service = serve(twilio_settings(db, twilio), limit=limit)

    answers = [messages_of(service.whatsapp("hola", sender=OWNER)) for _ in range(5)]
    service.clock.advance(minutes=1)
    later = messages_of(service.whatsapp("hola", sender=OWNER))

    assert all(a and a[0] != ratelimit.SLOW_DOWN for a in answers[:3])
    assert answers[3] == [ratelimit.SLOW_DOWN]
    assert answers[4] == []
    assert later and later[0] != ratelimit.SLOW_DOWN
    assert count(db, InboundMessage) == 4


def outbound(db: Db, business_id: int, *, provider_id: str) -> int:
    with db.session() as session, session.begin():
        row = OutboundMessage(
            business_id=business_id,
            channel="whatsapp",
            recipient="+525533334444",
            template="reminder",
            payload={"contact_name": "Acme Industrial SA de CV"},
            dedupe_key=f"test:{provider_id}",
            status=OutboxStatus.SENT,
            attempts=1,
            next_attempt_at=NOW,
            created_at=NOW,
            provider_id=provider_id,
        )
        session.add(row)
        session.flush()
        return row.id


def status_of(db: Db, row_id: int) -> str | None:
    with db.session() as session:
        row = session.get(OutboundMessage, row_id)
        assert row is not None
        return row.delivery_status


def test_status_callbacks_are_recorded_in_order(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))
    row_id = outbound(db, business, provider_id="SM" + "s" * 32)
    form = {"MessageSid": "SM" + "s" * 32, "AccountSid": twilio.account_sid}

    delivered = service.post_signed(
        whatsapp.STATUS_PATH, {**form, "MessageStatus": "delivered"}
    )
    assert delivered.status_code == 204
    assert status_of(db, row_id) == "delivered"

    service.post_signed(whatsapp.STATUS_PATH, {**form, "MessageStatus": "sent"})
    assert status_of(db, row_id) == "delivered"

    service.post_signed(whatsapp.STATUS_PATH, {**form, "MessageStatus": "read"})
    assert status_of(db, row_id) == "read"

    forged = service.post_signed(
        whatsapp.STATUS_PATH,
        {**form, "MessageStatus": "failed"},
        signature="Zm9yZ2Vk",
    )
    assert forged.status_code == 403
    assert status_of(db, row_id) == "read"
    assert count(db, OutboundMessage) == 1


def test_failed_delivery_is_shown_to_the_owner(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))
    row_id = outbound(db, business, provider_id="SM" + "f" * 32)
    form = {
        "MessageSid": "SM" + "f" * 32,
        "MessageStatus": "undelivered",
        "ErrorCode": "63016",
    }

    service.post_signed(whatsapp.STATUS_PATH, form)
    service.post_signed(whatsapp.STATUS_PATH, form)

    assert status_of(db, row_id) == "undelivered"
    with db.session() as session:
        notices = session.scalars(
            select(OutboundMessage).where(OutboundMessage.id != row_id)
        ).all()
    assert len(notices) == 1
    notice = notices[0]
    assert notice.recipient == "+525511112222"
    assert notice.payload["outbox_id"] == row_id
    assert "63016" in notice.payload["error"]


def test_status_for_an_unknown_message_is_accepted(
    db: Db, business: int, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))

    response = service.post_signed(
        whatsapp.STATUS_PATH, {"MessageSid": "SM" + "0" * 32, "MessageStatus": "sent"}
    )

    assert response.status_code == 204


def test_hosted_files_are_served_by_secret_name_for_a_day(
    db: Db, twilio: FakeTwilio, serve: Serve
) -> None:
    service = serve(twilio_settings(db, twilio))
    name = whatsapp.host_file(service.media_dir, "application/pdf", b"%PDF-1.4 x")
    service.clock.now = dt.datetime.now(dt.UTC)  # files are dated by the real clock

    served = service.client.get(f"{whatsapp.OUTGOING_PATH}/{name}")
    guessed = service.client.get(f"{whatsapp.OUTGOING_PATH}/{'a' * 32}.pdf")
    escaping = service.client.get(f"{whatsapp.OUTGOING_PATH}/..%2Fcobra.db")
    service.clock.now = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    expired = service.client.get(f"{whatsapp.OUTGOING_PATH}/{name}")

    assert served.status_code == 200 and served.content == b"%PDF-1.4 x"
    assert served.headers["content-type"] == "application/pdf"
    assert [guessed.status_code, escaping.status_code] == [404, 404]
    assert expired.status_code == 404
