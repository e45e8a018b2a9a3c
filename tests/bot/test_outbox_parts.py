"""A chat message that goes out in several parts and fails part-way: the outbox's
retry sends what is left, never a part the person already has. Both databases,
the real senders against the loopback Twilio and Telegram fakes."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select

from bot.settings import Settings
from bot.telegram import TelegramSender
from bot.whatsapp import TwilioSender
from flows.outbox import PARTS_SENT, LogSender, Sender, deliver_pending, enqueue
from storage.models import OutboundMessage, OutboxStatus
from tests.bot.conftest import PUBLIC_BASE_URL, WHATSAPP_FROM
from tests.builders import NOW, make_business, make_contact
from tests.conftest import Db
from tests.fakes.telegram_api import BOT_TOKEN, FakeTelegram
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

LATER = NOW + dt.timedelta(hours=1)
# Three WhatsApp pieces (1,500 characters each at most), two Telegram pieces.
LONG_TEXT = "\n\n".join(f"Factura A-{n}: " + "x" * 1400 for n in range(3))


def file_entry(name: str) -> dict[str, str]:
    content = base64.b64encode(f"%PDF-1.4 {name}".encode()).decode("ascii")
    return {"filename": name, "content_type": "application/pdf", "content": content}


def queue_long_answer(db: Db, *, channel: str, recipient: str) -> int:
    with db.session() as s, s.begin():
        business = make_business(s)
        contact = make_contact(s, business, whatsapp="+525533334444")
        # A customer who wrote just now: free text is allowed on WhatsApp.
        contact.whatsapp_last_inbound_at = NOW
        row = enqueue(
            s,
            business_id=business.id,
            contact_id=contact.id,
            channel=channel,
            recipient=recipient,
            template="chat_reply",
            payload={
                "text": LONG_TEXT,
                "buttons": [],
                "files": [file_entry("A-1.pdf"), file_entry("A-2.pdf")],
            },
            dedupe_key="test:long-answer",
            now=NOW,
        )
        assert row is not None
        return row.id


def outbox_row(db: Db, row_id: int) -> OutboundMessage:
    with db.session() as s:
        row = s.scalar(select(OutboundMessage).where(OutboundMessage.id == row_id))
        assert row is not None
        return row


def senders_with(channel: str, sender: Sender) -> dict[str, Sender]:
    return {
        "email": LogSender("email"),
        "whatsapp": LogSender("whatsapp"),
        "telegram": LogSender("telegram"),
        channel: sender,
    }


def test_whatsapp_retry_sends_only_the_parts_that_failed(
    db: Db, twilio: FakeTwilio, tmp_path: Path
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        public_base_url=PUBLIC_BASE_URL,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=SecretStr(AUTH_TOKEN),
        twilio_whatsapp_from=WHATSAPP_FROM,
        twilio_api_base_url=twilio.base_url,
    )
    sender = TwilioSender(settings, media_dir=tmp_path)
    row_id = queue_long_answer(db, channel="whatsapp", recipient="+525533334444")
    # The first two parts go through; the third meets a Twilio outage.
    twilio.failures.extend([None, None, (503, 20500)])

    first = deliver_pending(
        db.factory, senders=senders_with("whatsapp", sender), now=NOW
    )

    assert first.retried == 1
    held = outbox_row(db, row_id)
    assert held.status == OutboxStatus.PENDING
    assert held.payload[PARTS_SENT] == 2
    assert held.provider_id == twilio.sent[0].sid
    assert len(twilio.sent) == 2

    second = deliver_pending(
        db.factory, senders=senders_with("whatsapp", sender), now=LATER
    )

    assert second.sent == 1
    done = outbox_row(db, row_id)
    assert done.status == OutboxStatus.SENT
    assert done.provider_id == twilio.sent[0].sid  # status callbacks still match
    bodies = [m.get("Body") or "" for m in twilio.sent]
    # Each piece once, in order, then the second file on its own.
    assert len(twilio.sent) == 4
    assert "\n\n".join(bodies[:3]) == LONG_TEXT
    assert twilio.sent[0].get("MediaUrl") and twilio.sent[3].get("MediaUrl")
    assert not any(m.get("MediaUrl") for m in twilio.sent[1:3])
    sender.close()


def test_telegram_retry_sends_only_the_parts_that_failed(
    db: Db, telegram: FakeTelegram
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=SecretStr(BOT_TOKEN),
        telegram_api_base_url=telegram.base_url,
    )
    sender = TelegramSender(settings)
    row_id = queue_long_answer(db, channel="telegram", recipient="5550001")
    # Both files and the first piece of text go; the last piece hits a 502.
    telegram.failures.extend([None, None, None, (502, "Bad Gateway")])

    deliver_pending(db.factory, senders=senders_with("telegram", sender), now=NOW)

    assert outbox_row(db, row_id).payload[PARTS_SENT] == 3

    second = deliver_pending(
        db.factory, senders=senders_with("telegram", sender), now=LATER
    )

    assert second.sent == 1
    assert outbox_row(db, row_id).status == OutboxStatus.SENT
    assert len(telegram.of("sendDocument")) == 2  # not sent again
    texts = [call.params["text"] for call in telegram.of("sendMessage")]
    # The piece refused once is tried again; the one delivered is not.
    assert texts[0] + "\n\n" + texts[1] == LONG_TEXT
    assert texts[1] == texts[2]
    sender.close()
