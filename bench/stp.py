"""Deposit notices per second through `POST /webhooks/stp` on a running server, with
the check that no deposit is applied twice or lost.

Starts the web app under uvicorn on 127.0.0.1 (a fresh SQLite file unless
--database-url names another database), seeds customers with open invoices, then
sends N signed notices from several threads: most pay one invoice exactly, some pay
two (oldest first), some go to an unknown account, and a share are sent twice.

Usage: python bench/stp.py [--n 5000] [--threads 16] [--database-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.runtime import build_runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.stp import DEPOSIT_PATH, SIGNATURE_HEADER, sign_body  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.models import DepositStatus, Payment, StpDeposit  # noqa: E402
from tests.builders import make_business, make_contact, make_invoice  # noqa: E402

SECRET = "bench-secret"
NOW = dt.datetime(2026, 12, 3, 17, 0, tzinfo=dt.UTC)

log = logging.getLogger(__name__)


def seed(factory: Any, customers: int) -> list[tuple[str, list[Decimal]]]:
    """Customers, each with two open invoices; their virtual CLABEs and balances."""
    result = []
    with transaction(factory) as session:
        business = make_business(session)
        business.stp_account_prefix = "0001"
        for number in range(customers):
            contact = make_contact(
                session, business, name=f"Cliente {number}", rfc=f"BEN{number:06d}AA1"
            )
            amounts = [Decimal(1000 + number), Decimal(2000 + number)]
            for amount in amounts:
                make_invoice(session, contact, total=str(amount))
            assert contact.virtual_clabe is not None
            result.append((contact.virtual_clabe, amounts))
    return result


def notices(n: int, accounts: list[tuple[str, list[Decimal]]]) -> list[dict[str, Any]]:
    """N notices over the customers; each customer is paid at most once in full."""
    chosen = []
    for index in range(n):
        clave = f"BENCH{index:08d}"
        kind = index % 10
        if kind == 9 or index >= len(accounts):
            account, amount = "646180999900000000", Decimal("123.45")
        else:
            account, amounts = accounts[index]
            amount = amounts[1] if kind < 6 else sum(amounts, Decimal("0"))
        chosen.append(
            {
                "id": index + 1,
                "fechaOperacion": "20261203",
                "institucionOrdenante": "40012",
                "claveRastreo": clave,
                "monto": float(amount),
                "cuentaOrdenante": "012180004567891234",
                "nombreOrdenante": "ORDENANTE DE PRUEBA",
                "cuentaBeneficiario": account,
                "conceptoPago": "PAGO",
                "referenciaNumerica": index,
                "tsLiquidacion": 1796317200000,
            }
        )
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--replays", type=float, default=0.1, help="share sent twice")
    parser.add_argument("--database-url")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        stp_webhook_secret=SECRET,
        public_base_url="https://cobra.bench",
    )
    runtime = build_runtime(settings)
    accounts = seed(runtime.factory, min(args.n, 5000))
    to_send = notices(args.n, accounts)
    random.seed(8)
    replays = random.sample(to_send, int(len(to_send) * args.replays))
    batch = to_send + replays
    random.shuffle(batch)

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime=runtime),
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

    base = f"http://127.0.0.1:{args.port}"
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    local = threading.local()

    def send(notice: dict[str, Any]) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base, timeout=30)
        body = json.dumps(notice).encode()
        headers = {
            SIGNATURE_HEADER: sign_body(SECRET, body),
            "Content-Type": "application/json",
        }
        started = time.perf_counter()
        response = client.post(DEPOSIT_PATH, content=body, headers=headers)
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            if response.status_code != 200 or response.json() != {
                "mensaje": "confirmar"
            }:
                failures.append(response.status_code)

    started = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(send, batch))

    acknowledged = time.perf_counter() - started
    # The applications run after each answer; wait for the last ones.
    deadline = time.time() + 900
    with runtime.factory() as session:
        while time.time() < deadline:
            waiting = session.scalar(
                select(func.count(StpDeposit.id)).where(
                    StpDeposit.status == DepositStatus.RECEIVED
                )
            )
            session.rollback()
            if not waiting:
                break
            time.sleep(0.2)
    drained = time.perf_counter() - started
    server.should_exit = True
    thread.join(timeout=10)

    report = check(runtime.factory, to_send)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        json.dumps(
            {
                "database": url.split(":")[0],
                "requests": len(batch),
                "unique_notices": len(to_send),
                "threads": args.threads,
                "failed_requests": len(failures),
                "requests_per_second": round(len(batch) / acknowledged, 1),
                "deposits_applied_per_second": round(len(to_send) / drained, 1),
                "p50_ms": round(statistics.median(latencies) * 1000, 1),
                "p99_ms": round(p99 * 1000, 1),
                **report,
            },
            indent=2,
        )
    )


def check(factory: Any, sent: list[dict[str, Any]]) -> dict[str, Any]:
    """Every notice is one row; applied ones are one payment each; money adds up."""
    with factory() as session:
        rows = session.scalars(select(StpDeposit)).all()
        payments = session.scalars(select(Payment)).all()
    by_key = {r.clave_rastreo: r for r in rows}
    lost = [n["claveRastreo"] for n in sent if n["claveRastreo"] not in by_key]
    keys = [p.idempotency_key for p in payments]
    applied = [r for r in rows if r.status == DepositStatus.APPLIED]
    expected = sum((Decimal(str(n["monto"])) for n in sent), Decimal("0"))
    accounted = sum((r.amount for r in rows), Decimal("0"))
    paid = sum((p.amount for p in payments), Decimal("0"))
    applied_total = sum((r.amount for r in applied), Decimal("0"))
    return {
        "rows": len(rows),
        "lost": len(lost),
        "applied": len(applied),
        "unapplied": sum(1 for r in rows if r.status == DepositStatus.UNAPPLIED),
        "still_received": sum(1 for r in rows if r.status == DepositStatus.RECEIVED),
        "payments": len(payments),
        "applied_twice": len(keys) - len(set(keys)),
        "amounts_match": accounted == expected and paid == applied_total,
    }


if __name__ == "__main__":
    main()
