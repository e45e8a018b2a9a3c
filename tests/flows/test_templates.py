"""Every outbox template renders on every channel from the payload its flow builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.render import render_text

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
CHAT_TEMPLATES = sorted(
    p.name.split(".")[0] for p in (PROMPTS / "messages").glob("*.j2")
)


@pytest.mark.parametrize("name", CHAT_TEMPLATES)
def test_each_chat_template_has_its_email_twin(name: str) -> None:
    for part in ("subject", "txt", "html"):
        assert (PROMPTS / "email" / f"{name}.{part}.j2").exists(), (name, part)


def test_owner_update_and_financing_decision_render() -> None:
    update = {"business_name": "La Tuerca", "text": "Acme te pagó $12,500.00"}
    assert render_text("messages/owner_update.txt.j2", update) == update["text"]
    assert "La Tuerca" in render_text("email/owner_update.subject.j2", update)
    assert "Acme te pagó" in render_text("email/owner_update.html.j2", update)
    decision = {
        "application_id": 7,
        "business_name": "La Tuerca",
        "decision": "approved",
        "amount": "250000.00",
        "requested": "300000.00",
        "currency": "MXN",
        "reason": "",
    }
    text = render_text("messages/financing_decision.txt.j2", decision)
    assert "Aprobamos tu solicitud de financiamiento #7" in text
    assert "$250,000.00" in text
    assert "#7" in render_text("email/financing_decision.html.j2", decision)
