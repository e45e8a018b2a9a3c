"""The scheduler's jobs: one planner at a time on PostgreSQL, senders by settings."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from bot.runtime import Runtime
from bot.scheduler import PLANNING_LOCK, build_senders, run_reminders
from bot.settings import Settings
from bot.smtp import SmtpSender
from flows.outbox import LogSender
from handlers.context import EngineConfig
from handlers.engine import Engine
from tests.builders import make_business, make_contact, make_invoice
from tests.conftest import Db


def make_runtime(db: Db) -> Runtime:
    """A runtime on the test database's engine, with a fixed portal key."""
    config = EngineConfig(public_base_url="https://cobra.test", portal_key=b"k" * 32)
    return Runtime(
        Settings(public_base_url="https://cobra.test"),
        db.engine,
        db.factory,
        Engine(db.factory, config),
    )


def test_senders_log_without_credentials_and_use_smtp_with_a_host() -> None:
    senders = build_senders(Settings())
    assert isinstance(senders["email"], LogSender)
    assert isinstance(senders["whatsapp"], LogSender)
    with_smtp = build_senders(Settings(smtp_host="127.0.0.1", smtp_port=2525))
    assert isinstance(with_smtp["email"], SmtpSender)


def test_only_one_process_plans(db: Db) -> None:
    with db.session() as s, s.begin():
        business = make_business(s)
        acme = make_contact(s, business, emails="pagos@acme.mx")
        make_invoice(s, acme, due_date=dt.date(2026, 12, 3))
    runtime = make_runtime(db)
    now = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC)  # 09:00 in Mexico City
    if db.backend != "postgresql":
        counts = run_reminders(runtime, now=now)
        assert counts is not None and counts.messages == 1
        return
    with db.engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PLANNING_LOCK})
        assert run_reminders(runtime, now=now) is None
        other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PLANNING_LOCK})
    counts = run_reminders(runtime, now=now)
    assert counts is not None and counts.messages == 1
    # Planned today: the hourly tick leaves the business alone.
    later = run_reminders(runtime, now=now + dt.timedelta(hours=1))
    assert later is not None and later.businesses == 0


@pytest.mark.parametrize("hour, planned", [(8, 0), (9, 1)])
def test_the_hourly_tick_waits_for_nine_local(db: Db, hour: int, planned: int) -> None:
    with db.session() as s, s.begin():
        make_business(s)
    local = dt.datetime(
        2026, 12, 3, hour, 0, tzinfo=dt.timezone(dt.timedelta(hours=-6))
    )
    counts = run_reminders(make_runtime(db), now=local.astimezone(dt.UTC))
    assert counts is not None and counts.businesses == planned


async def test_the_scheduler_delivers_and_stops(db: Db) -> None:
    import asyncio

    from sqlalchemy import select

    from bot.scheduler import start_scheduler
    from flows.outbox import enqueue
    from storage.models import OutboundMessage
    from tests.builders import NOW

    with db.session() as s, s.begin():
        business = make_business(s)
        enqueue(
            s,
            business_id=business.id,
            channel="whatsapp",
            recipient="+525533334444",
            template="owner_update",
            payload={"business_name": "x", "contact_name": "", "text": "hola"},
            dedupe_key="scheduler-test",
            now=NOW,
        )
    runtime = make_runtime(db)
    runtime.settings = Settings(outbox_interval_seconds=1)
    stop = start_scheduler(runtime, clock=lambda: NOW)
    try:
        for _ in range(50):
            await asyncio.sleep(0.1)
            with db.session() as s:
                status = s.scalars(select(OutboundMessage.status)).one()
            if status == "sent":
                break
    finally:
        await stop()
    assert status == "sent"
