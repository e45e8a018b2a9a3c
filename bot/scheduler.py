"""The scheduled jobs of `cobra serve`: each morning's reminder planning and delivery.

Planning wakes at the top of every hour and plans each business whose local time
has reached 09:00 and that has not been planned today (so a process that was down
at 09:00 plans when it is back); on PostgreSQL an advisory lock lets one process
plan at a time. Delivery runs every `outbox_interval_seconds` in every process.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from bot.runtime import Runtime
from bot.settings import Settings
from flows.outbox import DeliveryCounts, LogSender, Sender, deliver_pending
from flows.reminders import PlanCounts, plan_reminders

log = logging.getLogger(__name__)

# Shared by every Cobra process on one PostgreSQL database.
PLANNING_LOCK = 727274002
CHANNELS = ("email", "whatsapp", "telegram", "webhook")
# Threads sending one pass's messages; providers answer slower than the database.
DELIVERY_THREADS = 4
# How often the SAT's bulk-download service is asked for new CFDIs.
SAT_SYNC_HOURS = 6

Clock = Callable[[], dt.datetime]


def wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build_senders(settings: Settings) -> dict[str, Sender]:
    """A sender per channel; a channel without credentials logs instead of sending."""
    senders: dict[str, Sender] = {name: LogSender(name) for name in CHANNELS}
    if settings.smtp_enabled:
        from bot.smtp import SmtpSender

        senders["email"] = SmtpSender.from_settings(settings)
    if settings.twilio_enabled:
        from bot.whatsapp import TwilioSender

        senders["whatsapp"] = TwilioSender(settings)
    if settings.telegram_enabled:
        from bot.telegram import TelegramSender

        senders["telegram"] = TelegramSender(settings)
    from bot.webhook_sender import WebhookSender

    senders["webhook"] = WebhookSender()
    return senders


def close_senders(senders: dict[str, Sender]) -> None:
    for sender in senders.values():
        close = getattr(sender, "close", None)
        if close is not None:
            close()


def run_reminders(
    runtime: Runtime,
    *,
    now: dt.datetime,
    only_due: bool = True,
    business_id: int | None = None,
) -> PlanCounts | None:
    """One planning pass; None when another process holds the planning lock."""

    def plan() -> PlanCounts:
        return plan_reminders(
            runtime.factory,
            now=now,
            public_base_url=runtime.settings.public_base_url,
            portal_key=runtime.portal_key,
            business_id=business_id,
            only_due=only_due,
        )

    if runtime.db.dialect.name != "postgresql":
        return plan()
    with runtime.db.connect() as conn:
        locked = conn.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": PLANNING_LOCK}
        )
        conn.commit()
        if not locked:
            log.info("reminder planning skipped: another process is planning")
            return None
        try:
            return plan()
        finally:
            conn.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": PLANNING_LOCK}
            )
            conn.commit()


def run_outbox(
    runtime: Runtime,
    *,
    now: dt.datetime,
    senders: dict[str, Sender],
    limit: int = 200,
    workers: int = DELIVERY_THREADS,
) -> DeliveryCounts:
    """One delivery pass; any number of processes may run it at once."""
    return deliver_pending(
        runtime.factory, senders=senders, now=now, limit=limit, workers=workers
    )


def run_daily_checks(runtime: Runtime, *, now: dt.datetime) -> dict[str, int]:
    """Checks that are safe to run every hour: each acts once a day at most.

    Broken promises get their follow-up, complements still unissued near the 5th
    are reminded, and financing applications past their deadline are flagged.
    """
    from flows.financing import run_overdue_applications
    from flows.promises import run_broken_promises
    from flows.sat.complements import run_complement_reminders

    promises = run_broken_promises(
        runtime.factory,
        now,
        public_base_url=runtime.settings.public_base_url,
        portal_key=runtime.portal_key,
    )
    complements = run_complement_reminders(runtime.factory, now)
    overdue = run_overdue_applications(runtime.factory, now)
    counts = {
        "broken_promises": promises.broken,
        "complement_reminders": int(complements),
        "overdue_applications": len(overdue),
    }
    log.info("daily checks done", extra=counts)
    return counts


def run_sat_sync(runtime: Runtime, *, now: dt.datetime) -> int:
    """One SAT download pass for every business that uploaded its e.firma."""
    from sqlalchemy import select

    from flows.sat.sync import sync_business
    from storage.models import SatCredential

    with runtime.factory() as session:
        business_ids = session.scalars(
            select(SatCredential.business_id).where(SatCredential.kind == "fiel")
        ).all()
    for business_id in business_ids:
        try:
            sync_business(
                runtime.factory,
                business_id=business_id,
                secrets_key=runtime.settings.secrets_key,
                base_url=runtime.settings.sat_ws_base_url,
                now=now,
            )
        except Exception:
            log.exception("sat sync failed", extra={"business_id": business_id})
    return len(business_ids)


def install(app: FastAPI, runtime: Runtime, *, clock: Clock = wall_clock) -> None:
    """Adds the scheduler to the app's lifespan; it runs only under `cobra serve`."""

    async def start(
        app: FastAPI, runtime: Runtime, run_scheduler: bool
    ) -> Callable[[], Awaitable[None]] | None:
        if not run_scheduler:
            return None
        return start_scheduler(runtime, clock=clock)

    app.state.startup.append(start)


def start_scheduler(
    runtime: Runtime, *, clock: Clock = wall_clock
) -> Callable[[], Awaitable[None]]:
    """Start the jobs on the running event loop; returns what stops them."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    senders = build_senders(runtime.settings)
    scheduler = AsyncIOScheduler(timezone=dt.UTC)
    common: dict[str, Any] = {
        "max_instances": 1,
        "coalesce": True,
        "misfire_grace_time": 300,
    }
    scheduler.add_job(
        _guarded(lambda: run_reminders(runtime, now=clock()), "reminders"),
        CronTrigger(minute=0, timezone=dt.UTC),
        id="reminders",
        # Also once at start, to catch up a 09:00 missed while the process was down.
        next_run_time=clock() + dt.timedelta(seconds=10),
        **common,
    )
    scheduler.add_job(
        _guarded(lambda: run_outbox(runtime, now=clock(), senders=senders), "outbox"),
        IntervalTrigger(seconds=runtime.settings.outbox_interval_seconds),
        id="outbox",
        **common,
    )
    scheduler.add_job(
        _guarded(lambda: run_daily_checks(runtime, now=clock()), "daily_checks"),
        IntervalTrigger(hours=1),
        id="daily_checks",
        next_run_time=clock() + dt.timedelta(seconds=30),
        **common,
    )
    scheduler.add_job(
        _guarded(lambda: run_sat_sync(runtime, now=clock()), "sat_sync"),
        IntervalTrigger(hours=SAT_SYNC_HOURS),
        id="sat_sync",
        next_run_time=clock() + dt.timedelta(minutes=2),
        **common,
    )
    scheduler.start()
    log.info(
        "scheduler started",
        extra={"outbox_interval_seconds": runtime.settings.outbox_interval_seconds},
    )

    async def stop() -> None:
        scheduler.shutdown(wait=False)
        close_senders(senders)
        log.info("scheduler stopped")

    return stop


def _guarded(job: Callable[[], object], name: str) -> Callable[[], None]:
    """A job that logs its failure instead of stopping the schedule."""

    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("scheduled job failed", extra={"job": name})

    return run
