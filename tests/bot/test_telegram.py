"""The Telegram webhook over HTTP, against the loopback Bot API fake, on both
databases."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import telegram as tg
from bot.scheduler import build_senders, close_senders, run_outbox
from flows import channels, ratelimit
from flows.business import add_user
from flows.messages import NO, YES, Document, Outbound, Reply
from handlers import actions
from handlers.context import Turn
from prompts import texts
from storage.models import (
    Business,
    Conversation,
    InboundMessage,
    Invoice,
    OutboundMessage,
    User,
)
from tests import cfdi_factory as cfdi
from tests.bot.conftest import (
    PUBLIC_BASE_URL,
    TELEGRAM_SECRET,
    Serve,
    make_settings,
    telegram_settings,
)
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db
from tests.fakes.telegram_api import BOT_USER, FakeTelegram

OWNER_ID = 5550001
STAFF_ID = 5550002
STRANGER_ID = 5550009
_update_ids = itertools.count(1000)
YES_NO_KEYBOARD = [
    [{"text": "Sí", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]
]


def person(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Ana", "last_name": "Ruiz"}


def chat(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": "Ana"}


def make_message_update(
    text: str, *, user_id: int, update_id: int | None = None, **extra: Any
) -> dict[str, Any]:
    """A Bot API update with a private message, commands marked as Telegram does."""
    update_id = update_id if update_id is not None else next(_update_ids)
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(NOW.timestamp()),
        "chat": chat(user_id),
        "from": person(user_id),
        **extra,
    }
    if text:
        message["text"] = text
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [
            {"type": "bot_command", "offset": 0, "length": len(command)}
        ]
    return {"update_id": update_id, "message": message}


def make_button_update(data: str, *, user_id: int) -> dict[str, Any]:
    update_id = next(_update_ids)
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cq-{update_id}",
            "from": person(user_id),
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                "message_id": 77,
                "date": int(NOW.timestamp()),
                "chat": chat(user_id),
                "from": BOT_USER,
                "text": "¿Registro el cobro?",
                "reply_markup": {
                    "inline_keyboard": [
                        [
                            {"text": "Sí", "callback_data": "yes"},
                            {"text": "No", "callback_data": "no"},
                        ]
                    ]
                },
            },
        },
    }


@pytest.fixture
def team(db: Db) -> dict[str, Any]:
    """A business whose owner is linked on Telegram and a staff member who is not."""
    with db.session() as session, session.begin():
        business = make_business(session)
        owner = session.scalar(select(User).where(User.business_id == business.id))
        assert owner is not None
        owner.telegram_user_id = OWNER_ID
        staff = add_user(
            session, business=business, role="staff", telegram=STAFF_ID, now=NOW
        )
        return {"business_id": business.id, "code": staff.telegram_code}


@pytest.fixture
def recorded_action(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []

    def run(turn: Turn, payload: dict[str, Any]) -> Reply:
        runs.append(payload)
        chart = Document("cobranza.png", "image/png", b"\x89PNG chart")
        pdf = Document(
            "A-101.pdf", "application/pdf", b"%PDF-1.4 factura", "Tu factura"
        )
        return Reply(
            messages=[
                Outbound(
                    text="Hecho. ¿Le aviso al cliente?",
                    buttons=(YES, NO),
                    documents=(pdf,),
                    images=(chart,),
                )
            ]
        )

    monkeypatch.setitem(actions.ACTIONS, "test.record", run)
    return runs


def pending_confirmation(db: Db, *, sender: str) -> None:
    with db.session() as session, session.begin():
        session.add(
            Conversation(
                channel="telegram",
                sender=sender,
                flow=actions.CONFIRM_FLOW,
                step="awaiting",
                data={"action": "test.record", "payload": {"folio": "A-101"}},
                expires_at=NOW + dt.timedelta(hours=1),
                updated_at=NOW,
            )
        )


def inbound_count(db: Db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(InboundMessage)) or 0


def test_startup_registers_commands_and_the_webhook(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    serve(telegram_settings(db, telegram))

    [commands] = telegram.of("setMyCommands")
    names = [c["command"] for c in commands.json("commands")]
    assert names == [
        "saldo",
        "facturas",
        "vencidas",
        "cobrar",
        "link",
        "recordar",
        "pagar",
        "recordatorios",
        "ayuda",
    ]
    [webhook] = telegram.of("setWebhook")
    assert webhook.params["url"] == PUBLIC_BASE_URL + "/webhooks/telegram"
    assert webhook.params["secret_token"] == TELEGRAM_SECRET
    assert telegram.of("getUpdates") == []


def test_wrong_or_missing_secret_is_refused(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    service = serve(telegram_settings(db, telegram))

    wrong = service.telegram(
        make_message_update("/ayuda", user_id=OWNER_ID), secret="adivina"
    )
    none = service.client.post(
        "/webhooks/telegram", json=make_message_update("/ayuda", user_id=OWNER_ID)
    )

    assert wrong.status_code == none.status_code == 403
    assert telegram.of("sendMessage") == []
    assert inbound_count(db) == 0


def test_no_webhook_secret_configured_refuses_everything(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    settings = telegram_settings(db, telegram, telegram_webhook_secret=None)
    service = serve(settings)

    response = service.telegram(make_message_update("/ayuda", user_id=OWNER_ID))

    assert response.status_code == 403
    assert telegram.of("sendMessage") == []


def test_without_a_token_the_bot_is_off(
    db: Db, team: dict[str, Any], serve: Serve
) -> None:
    service = serve(make_settings(db, telegram_webhook_secret=TELEGRAM_SECRET))

    response = service.telegram(make_message_update("/ayuda", user_id=OWNER_ID))

    assert response.status_code == 503


def test_unlinked_account_only_learns_how_to_link(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    service = serve(telegram_settings(db, telegram))

    for text in ("/saldo", "¿cuánto me deben?", "/start"):
        response = service.telegram(make_message_update(text, user_id=STRANGER_ID))
        assert response.status_code == 200

    assert telegram.texts == [tg.HOW_TO_LINK] * 3
    assert inbound_count(db) == 0


def test_start_code_links_the_account_once(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    service = serve(telegram_settings(db, telegram))
    update = make_message_update(f"/start {team['code']}", user_id=STAFF_ID)

    first = service.telegram(update)
    again = service.telegram(update)

    assert first.status_code == again.status_code == 200
    assert telegram.texts == [tg.LINKED.format(business="Ferretería La Tuerca")]
    with db.session() as session:
        staff = session.scalar(select(User).where(User.role == "staff"))
        assert staff is not None and staff.telegram_user_id == STAFF_ID
        kept = session.scalars(select(InboundMessage.text)).all()
    assert kept == ["/start"]  # the code itself is not kept

    service.telegram(make_message_update("/ayuda", user_id=STAFF_ID))
    assert "Esto es lo que puedo hacer" in telegram.texts[-1]


def test_the_owner_invites_someone_in_chat_who_then_links_with_the_code(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    service = serve(telegram_settings(db, telegram))
    newcomer = 5550099

    service.telegram(
        make_message_update("agrega a Juan Pérez a mi equipo", user_id=OWNER_ID)
    )
    assert telegram.texts[-1].startswith("¿Le doy acceso a Juan Pérez por Telegram")
    service.telegram(make_button_update("yes", user_id=OWNER_ID))
    code = telegram.texts[-1].split("/start ")[1].split()[0]

    service.telegram(make_message_update("/saldo", user_id=newcomer))
    assert tg.HOW_TO_LINK in telegram.texts[-1]
    service.telegram(make_message_update(f"/start {code}", user_id=newcomer))
    assert telegram.texts[-1] == tg.LINKED.format(business="Ferretería La Tuerca")
    service.telegram(make_message_update("/saldo", user_id=newcomer))
    assert telegram.texts[-1] == "No tienes facturas por cobrar. 🎉"

    with db.session() as session:
        juan = session.scalar(select(User).where(User.name == "Juan Pérez"))
        assert juan is not None and juan.telegram_user_id == newcomer
        replies = session.scalars(select(InboundMessage.reply)).all()
    assert not any(code in str(reply) for reply in replies)


def test_a_wrong_code_links_nothing(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    service = serve(telegram_settings(db, telegram))

    service.telegram(make_message_update("/start NOESESTE", user_id=STAFF_ID))

    assert "no es válido" in telegram.texts[0]
    assert tg.HOW_TO_LINK in telegram.texts[0]
    with db.session() as session:
        staff = session.scalar(select(User).where(User.role == "staff"))
        assert staff is not None and staff.telegram_user_id is None


def test_commands_speak_the_engines_spanish(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    service = serve(telegram_settings(db, telegram))

    service.telegram(make_message_update("/ayuda", user_id=OWNER_ID))
    service.telegram(make_message_update("/saldo", user_id=OWNER_ID))
    service.telegram(make_message_update("/cobrar", user_id=OWNER_ID))

    assert "Esto es lo que puedo hacer" in telegram.texts[0]
    assert len(telegram.texts) == 3
    assert telegram.texts[2] == tg.USAGE["cobrar"]
    with db.session() as session:
        seen = session.scalars(
            select(InboundMessage.text).order_by(InboundMessage.id)
        ).all()
    assert seen == ["ayuda", "¿cuánto me deben?"]


@pytest.mark.parametrize(
    ("command", "args", "text"),
    [
        ("saldo", [], "¿cuánto me deben?"),
        ("saldo", ["Acme"], "¿cuánto me debe Acme?"),
        ("facturas", [], "facturas por cobrar"),
        ("facturas", ["Grupo", "Norte"], "facturas de Grupo Norte"),
        ("vencidas", [], "vencidas"),
        ("cobrar", ["A-102", "5000"], "marca pagada la A-102 con 5000"),
        ("cobrar", ["A-102"], "marca pagada la A-102"),
        ("cobrar", [], None),
        ("link", ["Acme"], "mándale el link de pago a Acme"),
        ("link", [], None),
        ("recordar", ["Grupo", "Norte"], "recuérdale a Grupo Norte"),
        ("recordar", [], None),
        ("pagar", [], "¿qué tengo que pagar esta semana?"),
        ("recordatorios", [], "recordatorios"),
        ("ayuda", [], "ayuda"),
    ],
)
def test_command_text(command: str, args: list[str], text: str | None) -> None:
    assert tg.command_text(command, args) == text


def test_a_repeated_update_acts_once(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    service = serve(telegram_settings(db, telegram))
    update = make_message_update("ayuda", user_id=OWNER_ID)

    responses = [service.telegram(update) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert len(telegram.of("sendMessage")) == 1
    assert inbound_count(db) == 1


def test_confirmation_by_inline_button(
    db: Db,
    team: dict[str, Any],
    telegram: FakeTelegram,
    serve: Serve,
    recorded_action: list[dict[str, Any]],
) -> None:
    service = serve(telegram_settings(db, telegram))
    pending_confirmation(db, sender=str(OWNER_ID))

    response = service.telegram(make_button_update("yes", user_id=OWNER_ID))

    assert response.status_code == 200
    assert recorded_action == [{"folio": "A-101"}]
    assert len(telegram.of("answerCallbackQuery")) == 1
    [cleared] = telegram.of("editMessageReplyMarkup")
    assert cleared.params["message_id"] == "77"
    with db.session() as session:
        record = session.scalar(select(InboundMessage))
        assert record is not None and record.text == "Sí"


def test_replies_carry_keyboards_documents_and_photos(
    db: Db,
    team: dict[str, Any],
    telegram: FakeTelegram,
    serve: Serve,
    recorded_action: list[dict[str, Any]],
) -> None:
    service = serve(telegram_settings(db, telegram))
    pending_confirmation(db, sender=str(OWNER_ID))

    service.telegram(make_message_update("sí", user_id=OWNER_ID))

    [message] = telegram.of("sendMessage")
    assert message.params["text"] == "Hecho. ¿Le aviso al cliente?"
    assert message.json("reply_markup")["inline_keyboard"] == YES_NO_KEYBOARD
    [document] = telegram.of("sendDocument")
    assert document.files["document"] == ("A-101.pdf", b"%PDF-1.4 factura")
    assert document.params["caption"] == "Tu factura"
    [photo] = telegram.of("sendPhoto")
    assert photo.files["photo"] == ("cobranza.png", b"\x89PNG chart")


def test_a_photo_sent_in_is_downloaded_and_kept(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    service = serve(telegram_settings(db, telegram))
    telegram.add_file("ph-1", "photos/file_1.jpg", b"\xff\xd8 comprobante")
    photo = [{"file_id": "ph-1", "file_unique_id": "u1", "width": 90, "height": 90}]
    update = make_message_update(
        "", user_id=OWNER_ID, photo=photo, caption="ya pagó Acme"
    )

    response = service.telegram(update)

    assert response.status_code == 200
    with db.session() as session:
        record = session.scalar(select(InboundMessage))
    assert record is not None and record.text == "ya pagó Acme"
    assert record.media is not None
    [item] = record.media["items"]
    assert item["content_type"] == "image/jpeg"
    assert Path(item["path"]).read_bytes() == b"\xff\xd8 comprobante"


def test_an_invoice_xml_sent_as_a_document_is_imported(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    service = serve(telegram_settings(db, telegram))
    xml = cfdi.invoice(total="2320.00", series="B", folio="77")
    telegram.add_file("doc-1", "documents/file_2.xml", xml)
    document = {
        "file_id": "doc-1",
        "file_unique_id": "d1",
        "file_name": "B77.xml",
        "mime_type": "application/xml",
    }

    response = service.telegram(
        make_message_update("", user_id=OWNER_ID, document=document)
    )

    assert response.status_code == 200
    assert telegram.texts[-1].startswith(
        "Guardé la factura B-77 por cobrar a ACME INDUSTRIAL por $2,320.00"
    )
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 1


def test_a_voice_note_gets_asked_to_be_written(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    service = serve(telegram_settings(db, telegram))
    telegram.add_file("v-1", "voice/file_3.oga", b"OggS nota")
    voice = {"file_id": "v-1", "file_unique_id": "vu1", "duration": 3}

    response = service.telegram(
        make_message_update(
            "", user_id=OWNER_ID, voice={**voice, "mime_type": "audio/ogg"}
        )
    )

    assert response.status_code == 200
    assert telegram.texts == [texts.VOICE_NOTE]


def test_a_flooding_account_is_slowed_politely(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    limit = ratelimit.Limit(messages=2, window=dt.timedelta(minutes=1))
    service = serve(telegram_settings(db, telegram), limit=limit)

    for _ in range(4):
        service.telegram(make_message_update("hola", user_id=OWNER_ID))

    assert len(telegram.texts) == 3
    assert telegram.texts[2] == ratelimit.SLOW_DOWN
    assert inbound_count(db) == 2


def test_a_failed_update_answers_500_and_is_retried(
    db: Db,
    team: dict[str, Any],
    telegram: FakeTelegram,
    serve: Serve,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = serve(telegram_settings(db, telegram))
    update = make_message_update("ayuda", user_id=OWNER_ID)
    engine = service.runtime.engine
    real = engine.handle

    def broken(inbound: Any) -> Reply:
        raise RuntimeError("database went away")

    monkeypatch.setattr(engine, "handle", broken)
    failed = service.telegram(update)
    monkeypatch.setattr(engine, "handle", real)
    retried = service.telegram(update)

    assert failed.status_code == 500
    assert retried.status_code == 200
    assert len(telegram.of("sendMessage")) == 1


def test_two_deliveries_past_the_checks_send_one_answer(
    db: Db,
    team: dict[str, Any],
    telegram: FakeTelegram,
    serve: Serve,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two deliveries of one update can both pass the replay checks before either
    # commits (the first still being handled when Telegram retries); over HTTP
    # that window cannot be hit on purpose, so the checks are made to miss.
    monkeypatch.setattr(tg, "already_handled", lambda session, **key: False)
    monkeypatch.setattr(channels, "already_handled", lambda session, **key: False)
    service = serve(telegram_settings(db, telegram))
    update = make_message_update("ayuda", user_id=OWNER_ID)

    responses = [service.telegram(update) for _ in range(2)]

    assert [r.status_code for r in responses] == [200, 200]
    assert len(telegram.of("sendMessage")) == 1
    assert inbound_count(db) == 1


def test_an_answer_telegram_did_not_take_is_left_to_the_outbox(
    db: Db,
    team: dict[str, Any],
    telegram: FakeTelegram,
    serve: Serve,
    recorded_action: list[dict[str, Any]],
) -> None:
    service = serve(telegram_settings(db, telegram))
    pending_confirmation(db, sender=str(OWNER_ID))
    telegram.failures.append((502, "Bad Gateway"))
    update = make_message_update("sí", user_id=OWNER_ID)

    first = service.telegram(update)
    retried = service.telegram(update)

    assert [first.status_code, retried.status_code] == [200, 200]
    assert recorded_action == [{"folio": "A-101"}]
    assert len(telegram.of("sendMessage")) == 1  # the one refused
    assert telegram.of("sendDocument") == telegram.of("sendPhoto") == []

    runtime = service.runtime
    senders = build_senders(runtime.settings)
    try:
        counts = run_outbox(runtime, now=service.clock.now, senders=senders)
        again = run_outbox(runtime, now=service.clock.now, senders=senders)
    finally:
        close_senders(senders)

    assert (counts.sent, again.claimed) == (3, 0)
    [_, message] = telegram.of("sendMessage")
    assert message.params["chat_id"] == str(OWNER_ID)
    assert message.params["text"] == "Hecho. ¿Le aviso al cliente?"
    assert message.json("reply_markup")["inline_keyboard"] == YES_NO_KEYBOARD
    [document] = telegram.of("sendDocument")
    assert document.files["document"] == ("A-101.pdf", b"%PDF-1.4 factura")
    assert document.params["caption"] == "Tu factura"
    [photo] = telegram.of("sendPhoto")
    assert photo.files["photo"] == ("cobranza.png", b"\x89PNG chart")
    assert "caption" not in photo.params


def test_a_reply_part_telegram_refuses_is_skipped(
    db: Db,
    team: dict[str, Any],
    telegram: FakeTelegram,
    serve: Serve,
    recorded_action: list[dict[str, Any]],
) -> None:
    service = serve(telegram_settings(db, telegram))
    pending_confirmation(db, sender=str(OWNER_ID))
    telegram.failures.append((400, "Bad Request: message is too long"))

    response = service.telegram(make_message_update("sí", user_id=OWNER_ID))

    assert response.status_code == 200
    assert len(telegram.of("sendDocument")) == len(telegram.of("sendPhoto")) == 1
    with db.session() as session:
        assert session.scalar(select(func.count(OutboundMessage.id))) == 0


def test_a_part_without_answer_is_not_resent_and_the_rest_goes(
    db: Db,
    team: dict[str, Any],
    telegram: FakeTelegram,
    serve: Serve,
    recorded_action: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The real wait is 10 s; a short one keeps the test quick, and the fake holds
    # its answer well past it.
    monkeypatch.setattr(tg, "READ_TIMEOUT", 0.3)
    service = serve(telegram_settings(db, telegram))
    pending_confirmation(db, sender=str(OWNER_ID))
    telegram.slow.append(1.5)

    response = service.telegram(make_message_update("sí", user_id=OWNER_ID))

    assert response.status_code == 200
    assert recorded_action == [{"folio": "A-101"}]
    assert telegram.of("sendDocument") == telegram.of("sendPhoto") == []
    senders = build_senders(service.runtime.settings)
    try:
        counts = run_outbox(service.runtime, now=service.clock.now, senders=senders)
    finally:
        close_senders(senders)
    assert counts.sent == 2
    assert len(telegram.of("sendMessage")) == 1  # the one that got no answer
    assert len(telegram.of("sendDocument")) == len(telegram.of("sendPhoto")) == 1


def test_recordar_sends_a_customer_their_statement(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    with db.session() as session, session.begin():
        business = session.get_one(Business, team["business_id"])
        acme = make_contact(session, business, name="Acme", emails="pagos@acme.mx")
        make_invoice(session, acme, total="1160.00")
    service = serve(telegram_settings(db, telegram))

    service.telegram(make_message_update("/recordar Acme", user_id=OWNER_ID))

    [answer] = telegram.texts
    assert answer.startswith("Le mandé a Acme su estado de cuenta por correo")
    with db.session() as session:
        [statement] = session.scalars(
            select(OutboundMessage).where(OutboundMessage.template == "statement")
        ).all()
    assert statement.recipient == "pagos@acme.mx"


def test_recordar_vencidos_asks_with_a_keyboard_then_sends_to_each(
    db: Db, team: dict[str, Any], telegram: FakeTelegram, serve: Serve
) -> None:
    with db.session() as session, session.begin():
        business = session.get_one(Business, team["business_id"])
        for name in ("Acme", "Beta"):
            contact = make_contact(
                session, business, name=name, emails=f"pagos@{name.lower()}.mx"
            )
            make_invoice(
                session, contact, total="1160.00", due_date=dt.date(2026, 11, 1)
            )
    service = serve(telegram_settings(db, telegram))

    service.telegram(make_message_update("/recordar vencidos", user_id=OWNER_ID))
    service.telegram(make_button_update("yes", user_id=OWNER_ID))

    question, done = telegram.of("sendMessage")
    assert question.params["text"].startswith(
        "¿Le mando su estado de cuenta a 2 clientes con facturas vencidas?"
    )
    assert question.json("reply_markup")["inline_keyboard"] == YES_NO_KEYBOARD
    assert done.params["text"] == "Listo: mandé su estado de cuenta a 2 clientes."
    with db.session() as session:
        recipients = session.scalars(
            select(OutboundMessage.recipient)
            .where(OutboundMessage.template == "statement")
            .order_by(OutboundMessage.recipient)
        ).all()
    assert recipients == ["pagos@acme.mx", "pagos@beta.mx"]
