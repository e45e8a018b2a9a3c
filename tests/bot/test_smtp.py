"""The SMTP sender against a real aiosmtpd server on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from bot.smtp import SmtpSender
from flows.errors import ProviderError
from flows.outbox import Attachment, RenderedMessage
from tests.flows.reminders.smtp_server import free_port, smtp_server


def message(**overrides: object) -> RenderedMessage:
    fields: dict[str, Any] = {
        "outbox_id": 7,
        "channel": "email",
        "recipient": "Pagos Acme <pagos@acme.mx>, cxp@acme.mx",
        "subject": "Ferretería La Tuerca: recordatorio de pago",
        "text": "Hola, Acme: tu saldo es $1,160.00.",
        "html": "<p>Hola, Acme: tu saldo es <b>$1,160.00</b>.</p>",
        "attachments": (
            Attachment("factura-A-1.xml", "application/xml", b"<cfdi/>"),
            Attachment("factura-A-1.pdf", "application/pdf", b"%PDF-1.4"),
        ),
        "message_id": "cobra.7.abc",
    }
    fields.update(overrides)
    return RenderedMessage(**fields)


def test_html_text_and_attachments() -> None:
    with smtp_server() as box:
        sender = SmtpSender(
            host=box.host, port=box.port, from_address="Cobro <c@tuerca.mx>"
        )
        provider_id = sender.send(message())
        sender.send(message(outbox_id=8, message_id="cobra.8.def"))  # same connection
        sender.close()
    assert provider_id == "<cobra.7.abc@tuerca.mx>"
    first = box.messages[0]
    assert box.envelopes[0] == ("c@tuerca.mx", ["pagos@acme.mx", "cxp@acme.mx"])
    assert first["Subject"] == "Ferretería La Tuerca: recordatorio de pago"
    plain, html = first.get_body(("plain",)), first.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().strip().endswith("$1,160.00.")
    assert "<b>$1,160.00</b>" in html.get_content()
    names = [(p.get_filename(), p.get_content_type()) for p in first.iter_attachments()]
    assert names == [
        ("factura-A-1.xml", "application/xml"),
        ("factura-A-1.pdf", "application/pdf"),
    ]
    assert len(box.messages) == 2


def test_refusals_and_outages_map_to_provider_errors() -> None:
    with smtp_server() as box:
        box.refuse["pagos@acme.mx"] = "550 5.1.1 unknown"
        sender = SmtpSender(host=box.host, port=box.port)
        with pytest.raises(ProviderError) as refused:
            sender.send(message(recipient="pagos@acme.mx"))
        assert refused.value.temporary is False
        box.refuse["pagos@acme.mx"] = "452 4.2.2 mailbox full"
        with pytest.raises(ProviderError) as full:
            sender.send(message(recipient="pagos@acme.mx"))
        assert full.value.temporary is True

    closed = SmtpSender(host="127.0.0.1", port=free_port(), timeout=2)
    with pytest.raises(ProviderError) as down:
        closed.send(message())
    assert down.value.temporary is True

    with pytest.raises(ProviderError) as nobody:
        closed.send(message(recipient=""))
    assert nobody.value.temporary is False
