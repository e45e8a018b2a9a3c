"""Reminder sets: rules from text, the owner's own sets, and the digest's buttons."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from flows.errors import Conflict, InvalidInput
from flows.reminders import (
    RuleSpec,
    create_reminder_set,
    hold_reminders,
    parse_rules,
    plan_reminders,
    release_reminders,
    review_reminders,
    send_after,
)
from storage.models import Business, OutboundMessage, OutboxStatus
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db
from tests.flows.reminders.conftest import MX, at


def test_parse_rules() -> None:
    assert parse_rules("issued+0, due-3 vence+7 +15") == [
        RuleSpec("issued", 0),
        RuleSpec("due", -3),
        RuleSpec("due", 7),
        RuleSpec("due", 15),
    ]
    with pytest.raises(InvalidInput):
        parse_rules("mañana")
    with pytest.raises(InvalidInput):
        parse_rules("due+999")


def test_send_after_respects_quiet_hours() -> None:
    day = dt.date(2026, 12, 3)
    assert send_after(at(day, 8), MX) == at(day, 8)
    assert send_after(at(day, 19, 59), MX) == at(day, 19, 59)
    assert send_after(at(day, 20), MX) == at(day + dt.timedelta(1), 8)
    assert send_after(at(day, 3), MX) == at(day, 8)


def test_new_default_set_and_duplicate_names(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        mine = create_reminder_set(
            s,
            business=business,
            name="Mayoristas",
            rules=parse_rules("due+0,due+5"),
            now=NOW,
            actor="user:1",
            channel="whatsapp",
            make_default=True,
        )
        acme = make_contact(s, business)
        assert acme.reminder_set_id == mine.id
        with pytest.raises(Conflict):
            create_reminder_set(
                s,
                business=business,
                name="mayoristas",
                rules=parse_rules("due+0"),
                now=NOW,
                actor="user:1",
                channel="whatsapp",
            )


def test_digest_buttons_send_review_hold(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        business.owner_digest = True
        for n in range(2):
            contact = make_contact(
                s, business, name=f"Cliente {n}", emails=f"c{n}@x.mx"
            )
            make_invoice(s, contact, due_date=dt.date(2026, 12, 3))
        business_id = business.id
    plan_reminders(
        db.factory,
        now=at(dt.date(2026, 12, 3), 9),
        public_base_url="https://x",
        portal_key=b"k" * 32,
    )
    day = dt.date(2026, 12, 3)
    with db.session() as s, s.begin():
        business = s.get_one(Business, business_id)
        review = review_reminders(s, business=business, day=day)
        assert sorted(r["contact_name"] for r in review) == ["Cliente 0", "Cliente 1"]
        assert release_reminders(s, business=business, day=day, now=at(day, 9, 5)) == 2
    with db.session() as s:
        times = s.scalars(
            select(OutboundMessage.next_attempt_at).where(
                OutboundMessage.template == "reminder"
            )
        ).all()
        assert {t.replace(tzinfo=dt.UTC) for t in times} == {at(day, 9, 5)}
    with db.session() as s, s.begin():
        business = s.get_one(Business, business_id)
        held = hold_reminders(
            s, business=business, day=day, now=NOW, actor="user:1", channel="whatsapp"
        )
        assert held == 2
    with db.session() as s:
        statuses = s.scalars(
            select(OutboundMessage.status).where(OutboundMessage.template == "reminder")
        ).all()
        assert set(statuses) == {OutboxStatus.SKIPPED}
