"""How fast one day's reminder planning runs, and how fast the outbox sends email.

    python bench/reminders.py [--invoices 1000000] [--customers N] [--emails 10000]
                              [--server-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Bulk-loads a business with N customers (default invoices / 10) and their invoices
(COPY) into a fresh PostgreSQL database of its own on the server, plans one day in
a child process (time and peak memory), then delivers emails through the SMTP
sender to an aiosmtpd server on loopback (messages per second).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import random
import resource
import secrets
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from flows.business import create_business, default_reminder_set  # noqa: E402
from flows.outbox import enqueue_many  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.models import Base, OutboundMessage  # noqa: E402

NOW = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC)  # 09:00 in Mexico City
TODAY = dt.date(2026, 12, 3)
SPREAD_DAYS = 120
DATABASE = "cobra_bench_reminders"
KEY = b"bench-key" * 4
THREADS = 8  # delivery threads, as `cobra serve` runs several


def fresh_database(server_url: str) -> str:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}"'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return (
        make_url(server_url)
        .set(database=DATABASE)
        .render_as_string(hide_password=False)
    )


def load(url: str, invoices: int, customers: int, seed: int = 11) -> int:
    """One business, its customers and their invoices; returns the business id."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        business = create_business(
            session,
            name="Distribuidora del Bajío",
            rfc="DBA010101AB1",
            owner_whatsapp="+525511112222",
            now=NOW,
        )
        business.clabe = "002180700000000019"
        business_id = business.id
        set_id = default_reminder_set(session, business=business).id

    rng = random.Random(seed)
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        columns = (
            "id, business_id, kind, rfc, match_key, name, emails, reminders_enabled, "
            "email_reminders, whatsapp_reminders, whatsapp_opted_out, "
            "invoices_hidden, reminder_set_id, sequence, portal_token_nonce, "
            "created_at, whatsapp, last_statement_on"
        )
        with cursor.copy(f"COPY contact ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for n in range(1, customers + 1):
                rfc = f"C{n:08d}AB1"
                whatsapp_on = n % 5 == 0
                copy.write_row(
                    (
                        n, business_id, "customer", rfc, rfc, f"Cliente {n} SA de CV",
                        f"pagos{n}@cliente{n}.mx", True, True, whatsapp_on, n % 50 == 0,
                        False, set_id, n, secrets.token_hex(16),
                        NOW - dt.timedelta(days=200 + n % 14),
                        f"+5255{n:08d}" if whatsapp_on else None,
                        TODAY - dt.timedelta(days=1 + n % 14),
                    )
                )  # fmt: skip
        columns = (
            "business_id, contact_id, direction, cfdi_type, series, folio, issued_at, "
            "issue_date, due_date, currency, subtotal, total, paid, balance, "
            "payment_method, status, source, created_at"
        )
        with cursor.copy(f"COPY invoice ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for n in range(invoices):
                issued = TODAY - dt.timedelta(days=rng.randrange(SPREAD_DAYS))
                total = Decimal(rng.randrange(50_000, 5_000_000)) / 100
                paid = rng.random() < 0.15
                copy.write_row(
                    (
                        business_id, rng.randrange(1, customers + 1), "receivable",
                        "I", "A", str(n + 1),
                        dt.datetime.combine(issued, dt.time(12), dt.UTC), issued,
                        issued + dt.timedelta(days=30), "MXN", total, total,
                        total if paid else Decimal(0), Decimal(0) if paid else total,
                        "PPD", "paid" if paid else "pending", "sat", NOW,
                    )
                )  # fmt: skip
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('contact', 'id'), max(id)) "
            "FROM contact"
        )
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    print(
        f"loaded {customers:,} customers and {invoices:,} invoices "
        f"in {time.perf_counter() - started:.1f} s"
    )
    engine.dispose()
    return business_id


def plan_in_child(url: str, queue: Any) -> None:
    """Runs in its own process, so its peak memory is the planning's alone."""
    from flows.reminders import plan_reminders

    engine = make_engine(url)
    factory = make_session_factory(engine)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    counts = plan_reminders(
        factory, now=NOW, public_base_url="https://cobra.example", portal_key=KEY
    )
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((elapsed, before, peak, counts.as_dict()))


def deliver_emails(url: str, count: int) -> None:
    """Top the outbox up to `count` emails, then deliver them to a local server."""
    from aiosmtpd.controller import Controller

    from bot.smtp import SmtpSender
    from flows.outbox import deliver_pending
    from tests.flows.reminders.smtp_server import free_port

    class Counter:
        received = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            Counter.received += 1
            return "250 OK"

    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        session.execute(
            text(
                "UPDATE outbound_message SET status = 'skipped' WHERE id NOT IN "
                "(SELECT id FROM outbound_message WHERE channel = 'email' "
                "ORDER BY id LIMIT :n)"
            ),
            {"n": count},
        )
        session.execute(
            text("UPDATE outbound_message SET next_attempt_at = :t"), {"t": NOW}
        )
        have = session.scalar(
            select(func.count()).where(OutboundMessage.status == "pending")
        )
        extra = [
            {
                "business_id": None,
                "channel": "email",
                "recipient": f"prueba{n}@example.mx",
                "template": "owner_update",
                "payload": {
                    "business_name": "Bench",
                    "contact_name": "",
                    "text": "hola",
                },
                "dedupe_key": f"bench:{n}",
                "now": NOW,
            }
            for n in range(count - (have or 0))
        ]
        for start in range(0, len(extra), 1000):
            enqueue_many(session, extra[start : start + 1000])

    port = free_port()
    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    sender = SmtpSender(host="127.0.0.1", port=port, from_address="c@cobra.example")
    started = time.perf_counter()
    sent = 0
    try:
        while True:
            counts = deliver_pending(
                factory, senders={"email": sender}, now=NOW, limit=500, workers=THREADS
            )
            sent += counts.sent
            if counts.claimed == 0:
                break
    finally:
        sender.close()
        controller.stop()
    elapsed = time.perf_counter() - started
    print(
        f"delivered {sent:,} emails ({Counter.received:,} received) "
        f"in {elapsed:.1f} s: "
        f"{sent / elapsed:,.0f} messages/s with {THREADS} threads"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int)
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument(
        "--server-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    customers = args.customers or max(args.invoices // 10, 1)

    url = fresh_database(args.server_url)
    load(url, args.invoices, customers)

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=plan_in_child, args=(url, queue))
    child.start()
    elapsed, before, peak, counts = queue.get()
    child.join()
    print(
        f"planned one day over {args.invoices:,} invoices / {customers:,} customers "
        f"in {elapsed:.1f} s; peak memory {peak / 1024:.0f} MiB "
        f"({before / 1024:.0f} MiB before planning)"
    )
    print("  " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    if args.emails:
        deliver_emails(url, args.emails)


if __name__ == "__main__":
    main()
