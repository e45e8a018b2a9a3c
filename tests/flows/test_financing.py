"""Financing rules: RFC, CURP and amounts, working days, the deadline, the summary."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from flows import financing
from flows.errors import Conflict, Forbidden, InvalidInput
from storage.models import (
    AuditEvent,
    Business,
    FinancingApplication,
    OutboundMessage,
)
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db

TZ = "America/Mexico_City"
VALID_RFC = "EKU9003173C9"
VALID_CURP = "PEGJ850615HDFRRN07"
VALID_CLABE = "002180012345678906"
ANSWERS = {
    "legal_name": "Ferretería La Tuerca SA de CV",
    "rfc": VALID_RFC,
    "line_of_business": "Venta de ferretería al mayoreo",
    "years_operating": "8",
    "annual_revenue": "12 millones",
    "amount_requested": "$1,500,000",
    "purpose": "Capital de trabajo",
    "representative_name": "Juan Pérez García",
    "curp": VALID_CURP,
    "email": "juan@latuerca.mx",
    "phone": "55 1234 5678",
    "clabe": VALID_CLABE,
    "consent": "Acepto",
}


def local(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    moment = dt.datetime(year, month, day, hour, minute, tzinfo=financing.zone(TZ))
    return moment.astimezone(dt.UTC)


@pytest.mark.parametrize(
    "rfc", ["EKU9003173C9", "XIA190128J61", "CACX7605101P8", "LAN7008173R5"]
)
def test_rfc_with_its_check_digit_passes(rfc: str) -> None:
    assert financing.validate_rfc_strict(rfc.lower()) == rfc


@pytest.mark.parametrize(
    ("rfc", "why"),
    [
        ("EKU9003173C8", "dígito verificador"),
        ("EKU9013173C9", "fecha"),
        ("EKU90031", "12 caracteres"),
        ("XAXX010101000", "genérico"),
    ],
)
def test_bad_rfc_says_why(rfc: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        financing.validate_rfc_strict(rfc)


def test_curp_checks_shape_state_date_and_digit() -> None:
    assert financing.validate_curp(VALID_CURP.lower()) == VALID_CURP
    assert financing.validate_curp("MAHJ280603MSPRRV09") == "MAHJ280603MSPRRV09"
    with pytest.raises(InvalidInput, match="dígito"):
        financing.validate_curp("PEGJ850615HDFRRN08")
    with pytest.raises(InvalidInput, match="estado"):
        financing.validate_curp("PEGJ850615HXXRRN07")
    with pytest.raises(InvalidInput, match="fecha"):
        financing.validate_curp("PEGJ851315HDFRRN07")
    with pytest.raises(InvalidInput, match="18 caracteres"):
        financing.validate_curp("PEGJ850615")


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("$1,500,000", "1500000.00"),
        ("1.5 millones de pesos", "1500000.00"),
        ("800 mil", "800000.00"),
        ("250 000", "250000.00"),
        ("3 mdp", "3000000.00"),
    ],
)
def test_amounts_as_people_write_them(text: str, amount: str) -> None:
    assert financing.parse_pesos(text) == Decimal(amount)


def test_holidays_follow_the_law_not_a_table() -> None:
    days = financing.holidays(2027)
    assert dt.date(2027, 2, 1) in days  # first Monday of February
    assert dt.date(2027, 3, 15) in days  # third Monday of March
    assert dt.date(2027, 11, 15) in days  # third Monday of November
    assert dt.date(2027, 6, 6) in days  # federal election, a Sunday
    assert dt.date(2030, 10, 1) in financing.holidays(2030)
    assert dt.date(2027, 10, 1) not in days
    assert not financing.is_working_day(dt.date(2026, 12, 25))
    assert financing.is_working_day(dt.date(2026, 12, 24))


def test_deadline_skips_a_holiday_weekend() -> None:
    # Thursday 24 Dec 17:00; Friday is Christmas, then the weekend.
    deadline = financing.decision_deadline(local(2026, 12, 24, 17, 0), TZ)
    assert deadline == local(2026, 12, 30, 17, 0)
    assert financing.deadline_text(deadline, TZ) == (
        "el miércoles 30 de diciembre a las 17:00"
    )
    # Friday before the Monday of the Revolution.
    assert financing.decision_deadline(local(2026, 11, 13, 10, 0), TZ) == local(
        2026, 11, 19, 10, 0
    )


def test_deadline_sent_on_a_saturday_counts_from_monday() -> None:
    deadline = financing.decision_deadline(local(2026, 12, 5, 12, 0), TZ)
    assert deadline == local(2026, 12, 10, 0, 0)
    assert financing.deadline_text(deadline, TZ).startswith("el miércoles 9 de")


def _complete(session: Session, business: Business) -> FinancingApplication:
    application, created = financing.open_draft(
        session, business=business, actor="user:1", now=NOW
    )
    assert created
    for key, raw in ANSWERS.items():
        financing.set_answer(application, key, raw, now=NOW)
    return application


def test_submit_sets_deadline_and_receivables_summary(db: Db) -> None:
    with db.session() as session, session.begin():
        business = make_business(session)
        big = make_contact(session, business, name="Acme Industrial SA de CV")
        small = make_contact(session, business, name="Beta Comercial SA de CV")
        make_invoice(session, big, total="8000.00", issue_date=dt.date(2026, 10, 1))
        make_invoice(session, big, total="2000.00", issue_date=dt.date(2026, 11, 20))
        make_invoice(session, small, total="2000.00", issue_date=dt.date(2026, 11, 25))
        application = _complete(session, business)
        financing.submit(
            session,
            application=application,
            by_owner=True,
            actor="user:1",
            channel="chat",
            now=NOW,
        )
        assert application.status == "submitted"
        assert application.deadline_at == local(2026, 12, 8, 11, 0)
        assert application.receivables is not None
        mxn = application.receivables["currencies"]["MXN"]
        assert mxn["open_total"] == "12000.00"
        assert mxn["top_customers"][0]["share"] == "83.3"
        assert mxn["top_share"] == "100.0"
        assert mxn["aging"]["31-60"] == "8000.00"
        assert mxn["dso_days"] == "90.0"
        assert application.answers["bank"] == "Banamex"


def test_staff_cannot_submit_and_incomplete_cannot_be_sent(db: Db) -> None:
    with db.session() as session, session.begin():
        business = make_business(session)
        application = _complete(session, business)
        with pytest.raises(Forbidden, match="dueña"):
            financing.submit(
                session,
                application=application,
                by_owner=False,
                actor="user:2",
                channel="whatsapp",
                now=NOW,
            )
        application.answers = {**application.answers, "curp": None}
        with pytest.raises(InvalidInput, match="CURP"):
            financing.submit(
                session,
                application=application,
                by_owner=True,
                actor="user:1",
                channel="chat",
                now=NOW,
            )


def test_decision_queues_owner_notice_once(db: Db) -> None:
    with db.session() as session, session.begin():
        business = make_business(session)
        application = _complete(session, business)
        financing.submit(
            session,
            application=application,
            by_owner=True,
            actor="user:1",
            channel="chat",
            now=NOW,
        )
        with pytest.raises(InvalidInput, match="no más de lo solicitado"):
            financing.decide(
                session,
                application_id=application.id,
                approve=Decimal("2000000"),
                reject_reason=None,
                actor="analista",
                now=NOW,
            )
        financing.decide(
            session,
            application_id=application.id,
            approve=Decimal("1000000"),
            reject_reason=None,
            actor="analista",
            now=NOW,
        )
        with pytest.raises(Conflict):
            financing.decide(
                session,
                application_id=application.id,
                approve=None,
                reject_reason="tarde",
                actor="analista",
                now=NOW,
            )
        notices = session.query(OutboundMessage).all()
        assert [(n.template, n.recipient) for n in notices] == [
            ("financing_decision", "+525511112222")
        ]
        available = financing.available_financing(session, business_id=business.id)
        assert (available.approved, available.used) == (Decimal("1000000.00"), 0)


def test_overdue_applications_are_flagged_once(db: Db) -> None:
    with db.session() as session, session.begin():
        business = make_business(session)
        application = _complete(session, business)
        financing.submit(
            session,
            application=application,
            by_owner=True,
            actor="user:1",
            channel="chat",
            now=NOW,
        )
        app_id = application.id
    assert (
        financing.run_overdue_applications(db.factory, NOW + dt.timedelta(days=4)) == []
    )
    later = NOW + dt.timedelta(days=5, hours=1)
    assert financing.run_overdue_applications(db.factory, later) == [app_id]
    assert financing.run_overdue_applications(db.factory, later) == []
    with db.session() as session:
        actions = [e.action for e in session.query(AuditEvent).all()]
        assert actions.count("financing.overdue") == 1


def test_web_answers_are_all_or_nothing_and_use_up_the_link(db: Db) -> None:
    with db.session() as session, session.begin():
        business = make_business(session)
        application, _ = financing.open_draft(
            session, business=business, actor="user:1", now=NOW
        )
        token = financing.issue_web_token(application, now=NOW)
        found = financing.application_by_web_token(session, token=token, now=NOW)
        assert found is application
        errors = financing.save_web_answers(
            session,
            application=application,
            form={"legal_name": "La Tuerca SA", "rfc": "EKU9003173C8"},
            now=NOW,
        )
        assert list(errors) == ["rfc"]
        assert "legal_name" not in application.answers
        assert (
            financing.save_web_answers(
                session,
                application=application,
                form={"legal_name": "La Tuerca SA", "rfc": VALID_RFC},
                now=NOW,
            )
            == {}
        )
        assert application.step == "line_of_business"
        assert financing.application_by_web_token(session, token=token, now=NOW) is None
        late = financing.issue_web_token(application, now=NOW)
        assert (
            financing.application_by_web_token(
                session, token=late, now=NOW + dt.timedelta(hours=25)
            )
            is None
        )
