"""The outbox's WhatsApp and Telegram senders against the loopback provider fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.settings import Settings
from bot.telegram import TelegramSender
from bot.whatsapp import OUTGOING, OUTGOING_PATH, TwilioSender
from flows.errors import ProviderError
from flows.messages import NO, YES
from flows.outbox import Attachment, RenderedMessage
from tests.bot.conftest import PUBLIC_BASE_URL, TEMPLATES, WHATSAPP_FROM
from tests.fakes.telegram_api import BOT_TOKEN, FakeTelegram
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

PDF = Attachment("A-101.pdf", "application/pdf", b"%PDF-1.4 factura")


def rendered(**fields: Any) -> RenderedMessage:
    values: dict[str, Any] = {
        "outbox_id": 1,
        "channel": "whatsapp",
        "recipient": "+525533334444",
        "subject": "Recordatorio",
        "text": "Hola, te recordamos la factura A-101 por $1,160.00.",
    }
    values.update(fields)
    return RenderedMessage(**values)


def twilio_sender(fake: FakeTwilio, media_dir: Path) -> TwilioSender:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        public_base_url=PUBLIC_BASE_URL,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        twilio_whatsapp_from=WHATSAPP_FROM,
        twilio_api_base_url=fake.base_url,
        whatsapp_templates=TEMPLATES,
    )
    return TwilioSender(settings, media_dir=media_dir)


def telegram_sender(fake: FakeTelegram) -> TelegramSender:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=SecretStr(BOT_TOKEN),
        telegram_api_base_url=fake.base_url,
    )
    return TelegramSender(settings)


def test_free_text_inside_the_window(twilio: FakeTwilio, tmp_path: Path) -> None:
    sender = twilio_sender(twilio, tmp_path)

    sid = sender.send(rendered(buttons=(YES, NO)))

    [sent] = twilio.sent
    assert sid == sent.sid
    assert sent.get("To") == "whatsapp:+525533334444"
    assert sent.get("From") == WHATSAPP_FROM
    assert (sent.get("Body") or "").startswith("Hola, te recordamos")
    assert "Responde «Sí» o «No»." in (sent.get("Body") or "")
    assert sent.get("StatusCallback") == PUBLIC_BASE_URL + "/webhooks/whatsapp/status"
    assert sent.get("ContentSid") is None


def test_template_outside_the_window(twilio: FakeTwilio, tmp_path: Path) -> None:
    sender = twilio_sender(twilio, tmp_path)

    sender.send(
        rendered(
            template_required=True,
            whatsapp_template="reminder",
            variables={"1": "Acme", "2": "$1,160.00"},
        )
    )

    [sent] = twilio.sent
    assert sent.get("ContentSid") == "HX0000000000000000000000000000001"
    assert json.loads(sent.get("ContentVariables") or "") == {
        "1": "Acme",
        "2": "$1,160.00",
    }
    assert sent.get("Body") is None


def test_no_approved_template_is_a_permanent_failure(
    twilio: FakeTwilio, tmp_path: Path
) -> None:
    sender = twilio_sender(twilio, tmp_path)

    with pytest.raises(ProviderError) as caught:
        sender.send(rendered(template_required=True, whatsapp_template="otro"))

    assert caught.value.temporary is False
    assert twilio.sent == []


def test_attachments_are_hosted_and_sent_by_url(
    twilio: FakeTwilio, tmp_path: Path
) -> None:
    sender = twilio_sender(twilio, tmp_path)

    sender.send(rendered(attachments=(PDF,)))

    [sent] = twilio.sent
    url = sent.get("MediaUrl") or ""
    assert url.startswith(PUBLIC_BASE_URL + OUTGOING_PATH + "/")
    assert url.endswith(".pdf")
    name = url.rsplit("/", 1)[1]
    assert (tmp_path / OUTGOING / name).read_bytes() == PDF.content


@pytest.mark.parametrize(
    ("status", "temporary"), [(500, True), (429, True), (400, False)]
)
def test_twilio_errors_say_whether_to_retry(
    twilio: FakeTwilio, tmp_path: Path, status: int, temporary: bool
) -> None:
    sender = twilio_sender(twilio, tmp_path)
    twilio.failures.append((status, 63016))

    with pytest.raises(ProviderError) as caught:
        sender.send(rendered())

    assert caught.value.temporary is temporary


def test_twilio_unreachable_is_temporary(tmp_path: Path) -> None:
    fake = FakeTwilio(base_url="http://127.0.0.1:9")
    sender = twilio_sender(fake, tmp_path)

    with pytest.raises(ProviderError) as caught:
        sender.send(rendered())

    assert caught.value.temporary is True


def test_telegram_text_with_buttons_and_files(telegram: FakeTelegram) -> None:
    sender = telegram_sender(telegram)
    chart = Attachment("cobranza.png", "image/png", b"\x89PNG")

    provider_id = sender.send(
        rendered(
            channel="telegram",
            recipient="5550001",
            attachments=(PDF, chart),
            buttons=(YES, NO),
        )
    )

    [document] = telegram.of("sendDocument")
    assert document.files["document"] == ("A-101.pdf", PDF.content)
    [photo] = telegram.of("sendPhoto")
    assert photo.files["photo"] == ("cobranza.png", b"\x89PNG")
    [message] = telegram.of("sendMessage")
    assert message.params["chat_id"] == "5550001"
    assert (
        message.json("reply_markup")["inline_keyboard"][0][0]["callback_data"] == "yes"
    )
    assert provider_id.startswith("tg:5550001:")


def test_telegram_one_file_carries_its_short_text_as_caption(
    telegram: FakeTelegram,
) -> None:
    sender = telegram_sender(telegram)

    sender.send(
        rendered(
            channel="telegram",
            recipient="5550001",
            text="Tu factura",
            attachments=(PDF,),
        )
    )

    [document] = telegram.of("sendDocument")
    assert document.params["caption"] == "Tu factura"
    assert telegram.of("sendMessage") == []


@pytest.mark.parametrize(
    ("code", "temporary"), [(429, True), (502, True), (403, False)]
)
def test_telegram_errors_say_whether_to_retry(
    telegram: FakeTelegram, code: int, temporary: bool
) -> None:
    sender = telegram_sender(telegram)
    telegram.failures.append((code, "Forbidden: bot was blocked by the user"))

    with pytest.raises(ProviderError) as caught:
        sender.send(rendered(channel="telegram", recipient="5550001"))

    assert caught.value.temporary is temporary
    assert BOT_TOKEN not in caught.value.message


def test_telegram_unreachable_is_temporary_and_hides_the_token() -> None:
    sender = telegram_sender(FakeTelegram(base_url="http://127.0.0.1:9"))

    with pytest.raises(ProviderError) as caught:
        sender.send(rendered(channel="telegram", recipient="5550001"))

    assert caught.value.temporary is True
    assert caught.value.__cause__ is None
    assert not isinstance(caught.value.__context__, httpx.HTTPError) or (
        caught.value.__suppress_context__
    )


def test_a_long_whatsapp_text_goes_in_pieces_the_first_keeping_the_file(
    twilio: FakeTwilio, tmp_path: Path
) -> None:
    sender = twilio_sender(twilio, tmp_path)
    text = "\n\n".join(f"Párrafo {n}: " + "x" * 700 for n in range(5))

    provider_id = sender.send(
        rendered(text=text, attachments=(PDF,), buttons=(YES, NO))
    )

    bodies = [m.get("Body") or "" for m in twilio.sent]
    assert len(bodies) == 3 and all(len(b) <= 1600 for b in bodies)
    assert "\n\n".join(bodies) == text + "\n\nResponde «Sí» o «No»."
    assert twilio.sent[0].get("MediaUrl") and not twilio.sent[1].get("MediaUrl")
    assert provider_id == twilio.sent[0].sid


def test_a_long_telegram_text_goes_in_pieces_the_keyboard_on_the_last(
    telegram: FakeTelegram,
) -> None:
    sender = telegram_sender(telegram)
    text = "\n".join("renglón " + "y" * 90 for _ in range(60))

    sender.send(
        rendered(channel="telegram", recipient="5550001", text=text, buttons=(YES, NO))
    )

    messages = telegram.of("sendMessage")
    assert len(messages) == 2
    assert all(len(m.params["text"]) <= 4096 for m in messages)
    assert "\n".join(m.params["text"] for m in messages) == text
    assert "reply_markup" not in messages[0].params
    assert messages[1].json("reply_markup")["inline_keyboard"][0][1]["text"] == "No"


def test_no_answer_from_twilio_may_mean_sent(
    twilio: FakeTwilio, tmp_path: Path
) -> None:
    # A short wait keeps the test quick; the fake holds its answer well past it.
    client = Client(
        ACCOUNT_SID,
        AUTH_TOKEN,
        http_client=TwilioHttpClient(timeout=0.3),
        environment={},
    )
    sender = TwilioSender(
        twilio_sender(twilio, tmp_path).settings, media_dir=tmp_path, client=client
    )
    twilio.slow.append(1.5)

    with pytest.raises(ProviderError) as caught:
        sender.send(rendered())

    assert caught.value.uncertain and not caught.value.temporary
    assert len(twilio.sent) == 1


def test_no_answer_from_telegram_may_mean_sent(telegram: FakeTelegram) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=SecretStr(BOT_TOKEN),
        telegram_api_base_url=telegram.base_url,
    )
    # A short wait keeps the test quick; the fake holds its answer well past it.
    sender = TelegramSender(settings, client=httpx.Client(timeout=0.3))
    telegram.slow.append(1.5)

    with pytest.raises(ProviderError) as caught:
        sender.send(rendered(channel="telegram", recipient="5550001"))

    assert caught.value.uncertain
    assert len(telegram.of("sendMessage")) == 1
