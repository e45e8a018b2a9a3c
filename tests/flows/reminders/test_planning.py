"""Reminder planning on both databases: triggers, holds, quiet hours, catch-up."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from flows.business import DEFAULT_RULES
from flows.reminders import PlanCounts, plan_reminders, reminder_key
from storage.models import (
    Contact,
    Dispute,
    OutboundMessage,
    PaymentReport,
    Promise,
    ReminderRun,
    ReminderSet,
)
from tests.builders import NOW, make_business, make_contact, make_invoice
from tests.conftest import Db
from tests.flows.reminders.conftest import at

BASE_URL = "https://cobra.test"
KEY = b"k" * 32
ISSUED = dt.date(2026, 11, 1)
DUE = dt.date(2026, 12, 1)


def plan(db: Db, now: dt.datetime) -> PlanCounts:
    return plan_reminders(db.factory, now=now, public_base_url=BASE_URL, portal_key=KEY)


def reminders(db: Db, channel: str | None = None) -> list[OutboundMessage]:
    with db.session() as s:
        query = select(OutboundMessage).where(OutboundMessage.template == "reminder")
        if channel:
            query = query.where(OutboundMessage.channel == channel)
        return list(s.scalars(query.order_by(OutboundMessage.id)))


def setup_customer(db: Db, **contact_fields: object) -> tuple[int, int, int]:
    with db.session() as s, s.begin():
        business = make_business(s)
        business.clabe = "002180700000000019"
        acme = make_contact(
            s, business, emails="pagos@acme.mx", whatsapp="+525533334444"
        )
        for name, value in contact_fields.items():
            setattr(acme, name, value)
        invoice = make_invoice(
            s, acme, total="1160.00", issue_date=ISSUED, due_date=DUE
        )
        return business.id, acme.id, invoice.id


def test_new_customer_gets_the_default_set(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(s, business)
        reminder_set = s.get(ReminderSet, acme.reminder_set_id)
        assert reminder_set is not None and reminder_set.is_default
        assert reminder_set.statement_every_days == 14
        rules = {(r.event, r.offset_days) for r in reminder_set.rules}
        assert rules == set(DEFAULT_RULES)
        assert acme.email_reminders and not acme.whatsapp_reminders


def test_each_trigger_fires_on_its_day_and_no_other(db: Db) -> None:
    setup_customer(db)
    day = dt.date(2026, 10, 30)
    while day <= dt.date(2027, 1, 5):
        plan(db, at(day, 9))
        day += dt.timedelta(1)

    fired = sorted(r.dedupe_key.split(":")[2] for r in reminders(db, "email"))
    assert fired == [
        "2026-11-01",  # issued
        "2026-11-28",  # 3 days before due
        "2026-12-01",  # due
        "2026-12-04",  # +3
        "2026-12-08",  # +7
        "2026-12-16",  # +15
        "2026-12-31",  # +30
    ]
    # WhatsApp is off until the owner turns it on.
    assert reminders(db, "whatsapp") == []


def test_a_reminder_names_invoices_amounts_how_to_pay_and_the_portal(db: Db) -> None:
    _, acme_id, _ = setup_customer(db)
    with db.session() as s, s.begin():
        acme = s.get_one(Contact, acme_id)
        make_invoice(
            s, acme, total="500.00", folio="7", issue_date=ISSUED, due_date=DUE
        )

    counts = plan(db, at(dt.date(2026, 12, 4), 9))

    assert counts.customers == 1 and counts.invoices == 2 and counts.messages == 1
    [row] = reminders(db)
    payload = row.payload
    assert row.recipient == "pagos@acme.mx"
    assert [i["balance"] for i in payload["invoices"]] == ["1160.00", "500.00"]
    assert payload["invoices"][0]["kind"] == "overdue"
    assert payload["totals"] == [{"currency": "MXN", "amount": "1660.00"}]
    assert payload["pay"]["clabe"] == "002180700000000019"
    assert payload["pay"]["reference"] == "0000001"
    assert payload["portal_url"].startswith(f"{BASE_URL}/portal/")
    # Planning the same day again queues nothing more.
    again = plan(db, at(dt.date(2026, 12, 4), 11))
    assert again.messages == 0 and len(reminders(db)) == 1


def test_virtual_clabe_when_the_business_has_stp(db: Db) -> None:
    business_id, acme_id, _ = setup_customer(db)
    with db.session() as s, s.begin():
        from flows.business import update_business
        from storage.models import Business

        update_business(
            s,
            business=s.get_one(Business, business_id),
            now=NOW,
            stp_account_prefix="1234",
        )
    plan(db, at(DUE, 9))
    [row] = reminders(db)
    assert row.payload["pay"]["virtual"] is True
    assert row.payload["pay"]["clabe"].startswith("6461801234")


def test_quiet_hours_queue_for_eight_in_the_morning(db: Db) -> None:
    setup_customer(db)
    plan(db, at(DUE, 22, 30))
    [row] = reminders(db)
    expected = at(DUE + dt.timedelta(1), 8)
    assert row.next_attempt_at.replace(tzinfo=dt.UTC) == expected

    early = at(DUE + dt.timedelta(1), 6)
    plan(db, early)  # the next day, before 08:00: its own day, still quiet
    rows = reminders(db)
    assert all(r.next_attempt_at.replace(tzinfo=dt.UTC) >= expected for r in rows)


def test_paused_business_and_paused_customer_get_nothing(db: Db) -> None:
    business_id, acme_id, _ = setup_customer(db)
    from storage.models import Business

    with db.session() as s, s.begin():
        s.get_one(Business, business_id).reminders_paused = True
    counts = plan(db, at(DUE, 9))
    assert counts.paused == 1 and reminders(db) == []

    with db.session() as s, s.begin():
        s.get_one(Business, business_id).reminders_paused = False
        s.get_one(Contact, acme_id).reminders_enabled = False
    plan(db, at(DUE + dt.timedelta(3), 9))
    assert reminders(db) == []

    with db.session() as s, s.begin():
        s.get_one(Contact, acme_id).reminders_enabled = True
    plan(db, at(DUE + dt.timedelta(7), 9))
    assert len(reminders(db)) == 1


def test_whatsapp_only_when_on_and_not_opted_out(db: Db) -> None:
    _, acme_id, _ = setup_customer(db, whatsapp_reminders=True)
    plan(db, at(DUE, 9))
    assert [r.channel for r in reminders(db)] == ["email", "whatsapp"]
    assert reminders(db, "whatsapp")[0].recipient == "+525533334444"

    with db.session() as s, s.begin():
        s.get_one(Contact, acme_id).whatsapp_opted_out = True
    plan(db, at(DUE + dt.timedelta(3), 9))
    days = [r.dedupe_key.split(":")[2] for r in reminders(db, "whatsapp")]
    assert days == ["2026-12-01"]
    assert len(reminders(db, "email")) == 2


def test_a_promise_holds_until_its_date(db: Db) -> None:
    business_id, acme_id, invoice_id = setup_customer(db)
    with db.session() as s, s.begin():
        s.add(
            Promise(
                business_id=business_id,
                contact_id=acme_id,
                invoice_id=invoice_id,
                promised_on=dt.date(2026, 12, 10),
                status="open",
                created_at=NOW,
            )
        )
    for day in (4, 8, 10, 16):
        plan(db, at(dt.date(2026, 12, day), 9))
    days = [r.dedupe_key.split(":")[2] for r in reminders(db)]
    # +3 (Dec 4) and +7 (Dec 8) are held; +15 (Dec 16) goes after the promise.
    assert days == ["2026-12-16"]


def test_disputes_and_payment_reports_hold(db: Db) -> None:
    business_id, acme_id, invoice_id = setup_customer(db)
    with db.session() as s, s.begin():
        s.add(
            Dispute(
                business_id=business_id,
                contact_id=acme_id,
                invoice_id=invoice_id,
                reason="el monto está mal",
                status="open",
                created_at=NOW,
            )
        )
    plan(db, at(DUE, 9))
    assert reminders(db) == []

    with db.session() as s, s.begin():
        s.scalars(select(Dispute)).one().status = "resolved"
        s.add(
            PaymentReport(
                business_id=business_id,
                contact_id=acme_id,
                invoice_id=None,
                amount=Decimal("1160.00"),
                channel="whatsapp",
                status="pending",
                hold_until=dt.date(2026, 12, 6),
                created_at=NOW,
            )
        )
    plan(db, at(dt.date(2026, 12, 4), 9))
    assert reminders(db) == []
    plan(db, at(dt.date(2026, 12, 8), 9))
    assert len(reminders(db)) == 1


def test_paid_and_cancelled_invoices_are_never_reminded(db: Db) -> None:
    _, acme_id, invoice_id = setup_customer(db)
    from storage.models import Invoice

    with db.session() as s, s.begin():
        acme = s.get_one(Contact, acme_id)
        cancelled = make_invoice(s, acme, issue_date=ISSUED, due_date=DUE)
        cancelled.status = "cancelled"
        paid = s.get_one(Invoice, invoice_id)
        paid.status, paid.balance, paid.paid = "paid", Decimal("0"), paid.total
    plan(db, at(DUE, 9))
    assert reminders(db) == []


def test_hidden_invoices_are_still_reminded(db: Db) -> None:
    setup_customer(db, invoices_hidden=True)
    plan(db, at(DUE, 9))
    assert len(reminders(db)) == 1


def test_catch_up_sends_once_after_missed_days(db: Db) -> None:
    _, acme_id, _ = setup_customer(db)
    with db.session() as s, s.begin():
        acme = s.get_one(Contact, acme_id)
        # Another invoice whose +3 fell on Dec 7, while planning was down.
        make_invoice(
            s, acme, total="300.00", issue_date=ISSUED, due_date=dt.date(2026, 12, 4)
        )
    plan(db, at(dt.date(2026, 12, 2), 9))
    assert reminders(db) == []  # nothing fires on Dec 2

    # Down from Dec 3 to Dec 8: Dec 4 (+3 and due) and Dec 7 (+3) were missed.
    counts = plan(db, at(dt.date(2026, 12, 9), 9))
    assert counts.messages == 1
    [row] = reminders(db)
    assert row.dedupe_key == reminder_key(acme_id, dt.date(2026, 12, 9), "email")
    assert len(row.payload["invoices"]) == 2

    # The day after, nothing is sent twice: no new trigger on Dec 10.
    plan(db, at(dt.date(2026, 12, 10), 9))
    assert len(reminders(db)) == 1
    with db.session() as s:
        windows = [
            (r.planned_on.isoformat(), r.window_start.isoformat())
            for r in s.scalars(select(ReminderRun).order_by(ReminderRun.planned_on))
        ]
    assert windows == [
        ("2026-12-02", "2026-12-02"),
        ("2026-12-09", "2026-12-03"),
        ("2026-12-10", "2026-12-10"),
    ]


def test_first_run_does_not_replay_history(db: Db) -> None:
    setup_customer(db)
    plan(db, at(dt.date(2026, 12, 9), 9))  # +3 was Dec 4, +7 Dec 8: not today
    assert reminders(db) == []


def test_one_message_a_day_for_many_invoices(db: Db) -> None:
    _, acme_id, _ = setup_customer(db)
    with db.session() as s, s.begin():
        acme = s.get_one(Contact, acme_id)
        for _ in range(25):
            make_invoice(s, acme, total="10.00", issue_date=ISSUED, due_date=DUE)
    counts = plan(db, at(DUE, 9))
    assert counts.messages == 1 and counts.invoices == 26
    [row] = reminders(db)
    assert len(row.payload["invoices"]) == 20 and row.payload["more"] == 6
    assert row.payload["totals"] == [{"currency": "MXN", "amount": "1410.00"}]


def test_statement_every_fourteen_days_with_a_balance(db: Db) -> None:
    _, acme_id, _ = setup_customer(db)
    with db.session() as s, s.begin():
        # No reminder trigger lands on these days for this invoice.
        s.get_one(Contact, acme_id).created_at = NOW - dt.timedelta(days=30)
    plan(db, at(dt.date(2026, 12, 2), 9))
    plan(db, at(dt.date(2026, 12, 3), 9))
    with db.session() as s:
        statements = list(
            s.scalars(
                select(OutboundMessage).where(OutboundMessage.template == "statement")
            )
        )
        assert [r.dedupe_key for r in statements] == [f"statement:{acme_id}:2026-12-02"]
        assert s.get_one(Contact, acme_id).last_statement_on == dt.date(2026, 12, 2)
        assert statements[0].payload["overdue"] == [
            {"currency": "MXN", "amount": "1160.00"}
        ]
    for day in (15, 16, 17):  # Dec 16 has the +15 reminder: no statement that day
        plan(db, at(dt.date(2026, 12, day), 9))
    with db.session() as s:
        keys = s.scalars(
            select(OutboundMessage.dedupe_key).where(
                OutboundMessage.template == "statement"
            )
        ).all()
    assert sorted(keys) == [
        f"statement:{acme_id}:2026-12-02",
        f"statement:{acme_id}:2026-12-17",
    ]


def test_owner_digest_holds_reminders_until_ten(db: Db) -> None:
    business_id, _, _ = setup_customer(db)
    from storage.models import Business

    with db.session() as s, s.begin():
        s.get_one(Business, business_id).owner_digest = True
    plan(db, at(DUE, 9))
    [row] = reminders(db)
    assert row.next_attempt_at.replace(tzinfo=dt.UTC) == at(DUE, 10)
    with db.session() as s:
        digest = s.scalars(
            select(OutboundMessage).where(OutboundMessage.template == "owner_digest")
        ).one()
    assert digest.channel == "whatsapp" and digest.recipient == "+525511112222"
    assert digest.payload["messages"] == 1
    assert [b["payload"] for b in digest.payload["buttons"]] == [
        "reminders:send:2026-12-01",
        "reminders:review:2026-12-01",
        "reminders:hold:2026-12-01",
    ]
