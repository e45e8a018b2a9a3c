"""`cobra financing`: the analysts list, decide, and the owner hears at once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from click.testing import Result
from sqlalchemy import select

from flows import financing
from storage.models import OutboundMessage
from tests.builders import NOW, make_business
from tests.conftest import Db
from tests.flows.test_financing import ANSWERS


def _submitted(db: Db, *, days_ago: int = 0) -> int:
    sent = NOW - dt.timedelta(days=days_ago)
    with db.session() as session, session.begin():
        business = make_business(session)
        application, _ = financing.open_draft(
            session, business=business, actor="user:1", now=sent
        )
        for key, raw in ANSWERS.items():
            financing.set_answer(application, key, raw, now=sent)
        financing.submit(
            session,
            application=application,
            by_owner=True,
            actor="user:1",
            channel="whatsapp",
            now=sent,
        )
        return application.id


def test_list_flags_applications_past_their_deadline(
    db: Db, cobra: Callable[..., Result]
) -> None:
    app_id = _submitted(db, days_ago=7)
    result = cobra("financing list")
    assert result.exit_code == 0, result.output
    assert f"#{app_id}" in result.output and "plazo vencido" in result.output
    data = json.loads(cobra("financing list --json").output)
    assert data["applications"][0]["overdue"] is True
    shown = json.loads(cobra(f"financing show {app_id}").output)
    assert shown["receivables"]["as_of"] == "2026-11-26"


def test_approval_notifies_the_owner(db: Db, cobra: Callable[..., Result]) -> None:
    app_id = _submitted(db)
    result = cobra(f"financing decide {app_id} --approve 1,000,000")
    assert result.exit_code == 0, result.output
    assert "$1,000,000.00" in result.output
    with db.session() as session:
        notice = session.scalars(select(OutboundMessage)).one()
        assert notice.template == "financing_decision"
        assert notice.payload["decision"] == "approved"
        assert notice.recipient == "+525511112222"
    again = cobra(f"financing decide {app_id} --reject tarde")
    assert again.exit_code == 1 and "aprobada" in again.output


def test_rejection_notifies_the_owner_with_the_reason(
    db: Db, cobra: Callable[..., Result]
) -> None:
    app_id = _submitted(db)
    result = cobra(
        ["financing", "decide", str(app_id), "--reject", "Ventas insuficientes"]
    )
    assert result.exit_code == 0, result.output
    with db.session() as session:
        notice = session.scalars(select(OutboundMessage)).one()
        assert notice.payload["reason"] == "Ventas insuficientes"
    assert cobra(f"financing decide {app_id}").exit_code == 2
    assert cobra("financing decide 999 --reject x").exit_code == 1


def test_decision_text_reads_well() -> None:
    from flows.render import render_text

    text = render_text(
        "financing/decision.txt.j2",
        {
            "application_id": 3,
            "business_name": "La Tuerca",
            "decision": "approved",
            "amount": "1000000.00",
            "currency": "MXN",
            "reason": "",
        },
    )
    assert "Aprobamos tu solicitud de financiamiento #3" in text
    assert "$1,000,000.00" in text
