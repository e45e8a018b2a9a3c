"""Answers longer than one chat message: WhatsApp's TwiML and Telegram's calls
carry them in pieces each channel accepts, the question's buttons on the last."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bot.telegram import reply_parts
from bot.whatsapp import render_twiml
from flows.messages import NO, YES, Reply

LONG = "\n".join(f"A-{n} · $1,160.00 · vence 15 ene " + "·" * 40 for n in range(80))


def test_whatsapp_answers_in_messages_under_its_limit() -> None:
    xml = render_twiml(Reply().say(LONG, YES, NO))

    bodies = [m.text or "" for m in ET.fromstring(xml).iter("Message")]
    assert len(bodies) > 1 and all(len(body) <= 1600 for body in bodies)
    assert "\n".join(bodies) == LONG + "\n\nResponde «Sí» o «No»."


def test_telegram_answers_in_parts_under_its_limit() -> None:
    parts = reply_parts(Reply().say(LONG + LONG, YES, NO))

    assert len(parts) > 1 and all(len(part.text) <= 4096 for part in parts)
    assert "\n".join(part.text for part in parts) == LONG + LONG
    assert [part.buttons for part in parts][-1] == (YES, NO)
    assert all(not part.buttons for part in parts[:-1])
