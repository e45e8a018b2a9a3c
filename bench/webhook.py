"""Signed WhatsApp webhooks against Cobra, next to a bare FastAPI endpoint.

Starts both servers (uvicorn, one process each, SQLite unless --database-url),
or targets a running Cobra with --url. Prints messages per second (closed loop)
and p50/p99 latency at a fixed rate (open loop), and Cobra's ratios to the bare
endpoint. Targets: p99 under 50 ms at 200 messages/s on SQLite; throughput
within 5x of the bare endpoint.

With --floor it also measures a third server that does only what no version of
Cobra can skip: the signature, the rules' reading of the text and the very
statements of one Cobra turn, sent straight to sqlite3. It shows how much of
the distance to the bare endpoint is the work itself and how much is the code
around it.

Usage: python bench/webhook.py [--rate 200] [--seconds 10] [--concurrency 16]
       python bench/webhook.py --floor
       python bench/webhook.py --url http://host:8000 --auth-token T --public-base-url U
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from fastapi import FastAPI, Request, Response

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twilio.request_validator import RequestValidator  # noqa: E402

PATH = "/webhooks/whatsapp"
TOKEN = "bench-auth-token"
PUBLIC = "https://cobra.bench.example"
TO = "whatsapp:+14155238886"
CAPTURED_SID = "SM" + "0" * 32
ACCOUNT = "AC" + "b" * 32
# What people write most: the rules answer these without the semantic classifier.
OWNER_TEXTS = ("¿cuánto me deben?", "ayuda", "hola", "vencidas", "gracias")
CUSTOMER_TEXTS = ("¿cuánto debo?", "ayuda", "hola", "gracias")
BARE_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Message>ok</Message></Response>'
)

Item = tuple[dict[str, str], str]  # a webhook's form and its signature


def listening_socket() -> socket.socket:
    """A bound socket that every worker process of one server accepts on."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


def run_uvicorn(app: object, sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        log_level="warning",
        access_log=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


def seed(database_url: str, customers: int) -> list[tuple[str, str]]:
    """A business with its owner and customers; returns (sender, kind) pairs."""
    from storage.db import make_engine, make_session_factory
    from storage.models import Base
    from tests.builders import make_business, make_contact, make_invoice

    engine = make_engine(database_url)
    Base.metadata.drop_all(engine)  # a database given by URL starts empty
    Base.metadata.create_all(engine)
    senders = [("whatsapp:+5215511112222", "owner")]
    with make_session_factory(engine)() as session, session.begin():
        business = make_business(session)
        for index in range(customers):
            contact = make_contact(
                session,
                business,
                name=f"Cliente {index} SA de CV",
                whatsapp=f"+5255{index:08d}",
            )
            make_invoice(session, contact, total="1160.00")
            # As WhatsApp sends it: with the old mobile 1 after +52.
            senders.append((f"whatsapp:+52155{index:08d}", "customer"))
    engine.dispose()
    return senders


def cobra_runtime(database_url: str) -> Any:
    from pydantic import SecretStr

    from bot.runtime import build_runtime
    from bot.settings import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        public_base_url=PUBLIC,
        twilio_account_sid=ACCOUNT,
        twilio_auth_token=SecretStr(TOKEN),
        twilio_whatsapp_from=TO,
    )
    return build_runtime(settings, migrate=False)


def serve_cobra(database_url: str, sock: socket.socket) -> None:
    from bot.app import create_app

    app = create_app(runtime=cobra_runtime(database_url), freeze_heap=True)
    run_uvicorn(app, sock)


Statement = tuple[str, tuple[Any, ...]]


def capture_turn(database_url: str, sender: str) -> list[Statement]:
    """The statements, as sqlite3 receives them, of Cobra's answer to an owner's
    balance question: the database work of one turn and nothing else."""
    from sqlalchemy import event

    from bot.whatsapp import inbound_from_form, sender_address

    runtime = cobra_runtime(database_url)
    captured: list[Statement] = []

    def keep(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        captured.append((statement, tuple(parameters)))

    event.listen(runtime.db, "before_cursor_execute", keep)
    form = {"MessageSid": CAPTURED_SID, "From": sender, "Body": OWNER_TEXTS[0]}
    now = dt.datetime.now(dt.UTC)
    runtime.engine.handle(
        inbound_from_form(form, sender=sender_address(sender), now=now)
    )
    runtime.db.dispose()
    return captured


def serve_floor(
    database_url: str, statements: list[Statement], sock: socket.socket
) -> None:
    """What a turn cannot go below with this work: the signature, the rules'
    reading of the text, and the same statements as one Cobra turn sent straight
    to sqlite3, with no ORM, no Core and none of Cobra's own code around them."""
    import sqlite3

    from handlers.nlu.types import Role
    from handlers.nlu.understand import understand_by_rules

    connection = sqlite3.connect(
        database_url.removeprefix("sqlite:///"), isolation_level=None
    )
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    validator = RequestValidator(TOKEN)
    today = dt.date.today()
    app = FastAPI()

    @app.post(PATH)
    async def answer(request: Request) -> Response:
        form = await request.form()
        signature = request.headers.get("X-Twilio-Signature", "")
        if not validator.validate(PUBLIC + PATH, dict(form), signature):
            return Response(status_code=403)
        understand_by_rules(str(form["Body"]), role=Role.OWNER, today=today)
        inbound_id = None
        for statement, parameters in statements:
            values = [
                form["MessageSid"] if v == CAPTURED_SID else v for v in parameters
            ]
            if statement.startswith("UPDATE inbound_message"):
                values[-1] = inbound_id  # the row this message's INSERT made
            rows = connection.execute(statement, values).fetchall()
            if statement.startswith("INSERT INTO inbound_message"):
                inbound_id = rows[0][0]
        connection.execute("COMMIT")
        return Response(BARE_TWIML, media_type="application/xml")

    run_uvicorn(app, sock)


def serve_bare(sock: socket.socket) -> None:
    app = FastAPI()

    @app.post(PATH)
    async def answer(request: Request) -> Response:
        await request.form()
        return Response(BARE_TWIML, media_type="application/xml")

    run_uvicorn(app, sock)


def in_child(work: Any, *args: Any) -> Any:
    """Run `work` in a child process, keeping its imports out of the client's."""
    with multiprocessing.Pool(1) as pool:
        return pool.apply(work, args)


def postgres_sessions(database_url: str | None) -> int:
    """Connections the PostgreSQL server has accepted into this database so far
    (each one a new server process); 0 for SQLite."""
    if not database_url or database_url.startswith("sqlite"):
        return 0
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT sessions FROM pg_stat_database "
                        "WHERE datname = current_database()"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def start(target: Callable[..., object], *args: object) -> multiprocessing.Process:
    process = multiprocessing.Process(target=target, args=args, daemon=True)
    process.start()
    return process


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as client:
        for _ in range(300):
            try:
                async with client.post(url + PATH, data={}) as response:
                    await response.read()
                return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise SystemExit(f"server at {url} did not start")


@dataclass
class Requests:
    """Pre-signed webhook forms, so that signing is not part of what is measured."""

    senders: list[tuple[str, str]]
    token: str
    public_base_url: str

    def __post_init__(self) -> None:
        self._validator = RequestValidator(self.token)
        self._count = itertools.count()
        self._run = dt.datetime.now(dt.UTC).strftime("%H%M%S%f")

    def make(self, n: int) -> list[Item]:
        made = []
        for _ in range(n):
            i = next(self._count)
            sender, kind = self.senders[i % len(self.senders)]
            texts = OWNER_TEXTS if kind == "owner" else CUSTOMER_TEXTS
            form = {
                "MessageSid": f"SM{self._run}{i:018d}",
                "AccountSid": ACCOUNT,
                "From": sender,
                "To": TO,
                "Body": texts[i % len(texts)],
                "NumMedia": "0",
            }
            url = self.public_base_url.rstrip("/") + PATH
            made.append((form, self._validator.compute_signature(url, form)))
        return made


async def post(client: aiohttp.ClientSession, url: str, item: Item) -> int:
    form, signature = item
    async with client.post(
        url + PATH, data=form, headers={"X-Twilio-Signature": signature}
    ) as response:
        await response.read()
        return response.status


def session(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def fixed_rate(
    url: str, items: list[Item], rate: float
) -> tuple[list[float], int]:
    """Open loop: send at `rate` whatever the answers; latency from the planned send."""
    latencies: list[float] = []
    errors = 0
    async with session(128) as client:
        began = time.perf_counter()

        async def one(index: int, item: Item) -> None:
            nonlocal errors
            planned = began + index / rate
            await asyncio.sleep(max(0.0, planned - time.perf_counter()))
            status = await post(client, url, item)
            latencies.append(time.perf_counter() - planned)
            if status != 200:
                errors += 1

        await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
    return latencies, errors


async def closed_loop(
    url: str, items: list[Item], concurrency: int
) -> tuple[float, int]:
    """As fast as it goes with `concurrency` requests in flight: messages per second."""
    queue = iter(items)
    done = errors = 0
    async with session(concurrency) as client:

        async def worker() -> None:
            nonlocal done, errors
            for item in queue:
                status = await post(client, url, item)
                done += 1
                if status != 200:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return done / elapsed, errors


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(
    name: str, url: str, requests: Requests, args: argparse.Namespace
) -> dict[str, float]:
    await wait_ready(url)
    await closed_loop(url, requests.make(50), 4)  # warm up
    latencies, late_errors = await fixed_rate(
        url, requests.make(int(args.rate * args.seconds)), args.rate
    )
    throughput, errors = await closed_loop(
        url, requests.make(args.throughput_messages), args.concurrency
    )
    figures = {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "msgs_per_s": throughput,
        "errors": float(late_errors + errors),
    }
    print(
        f"{name:>6}: {figures['msgs_per_s']:8.1f} msg/s   "
        f"p50 {figures['p50_ms']:6.1f} ms   p99 {figures['p99_ms']:6.1f} ms "
        f"at {args.rate:.0f} msg/s   errors {int(figures['errors'])}"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--throughput-messages", type=int, default=3000)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--workers", type=int, default=1, help="processes per server")
    parser.add_argument(
        "--database-url", help="default: a new SQLite file; a database given is wiped"
    )
    parser.add_argument("--url", help="a running Cobra instead of starting one")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also measure one turn's statements on bare sqlite3 (see serve_floor)",
    )
    parser.add_argument("--auth-token", default=TOKEN)
    parser.add_argument("--public-base-url", default=PUBLIC)
    args = parser.parse_args()

    floor_url = ""
    bare = listening_socket()
    processes = [start(serve_bare, bare) for _ in range(args.workers)]
    if args.url:
        cobra_url = args.url.rstrip("/")
        # Senders unknown to the target's database: the polite answer to strangers.
        senders = [(f"whatsapp:+52155{i:08d}", "customer") for i in range(1000)]
    else:
        database_url = args.database_url or (
            f"sqlite:///{tempfile.mkdtemp(prefix='cobra-bench-')}/cobra.db"
        )
        # Cobra's modules stay out of this process: the client that measures
        # runs here, and its garbage collections would walk them all.
        with multiprocessing.Pool(1) as pool:
            senders = pool.apply(seed, (database_url, args.customers))
            if args.floor:
                if not database_url.startswith("sqlite:///"):
                    raise SystemExit("--floor measures SQLite only")
                statements = pool.apply(capture_turn, (database_url, senders[0][0]))
        cobra = listening_socket()
        processes += [
            start(serve_cobra, database_url, cobra) for _ in range(args.workers)
        ]
        cobra_url = f"http://127.0.0.1:{cobra.getsockname()[1]}"
        if args.floor:
            floor = listening_socket()
            processes.append(start(serve_floor, database_url, statements, floor))
            floor_url = f"http://127.0.0.1:{floor.getsockname()[1]}"

    try:
        requests = Requests(senders, args.auth_token, args.public_base_url)
        bare_url = f"http://127.0.0.1:{bare.getsockname()[1]}"
        bare_figures = asyncio.run(measure("bare", bare_url, requests, args))
        opened_before = in_child(postgres_sessions, args.database_url)
        figures = asyncio.run(measure("cobra", cobra_url, requests, args))
        opened = in_child(postgres_sessions, args.database_url) - opened_before
        if args.database_url and not args.database_url.startswith("sqlite"):
            print(f" cobra opened {opened} PostgreSQL connections while measured")
        if floor_url:
            owner = Requests(senders[:1], args.auth_token, args.public_base_url)
            floor_figures = asyncio.run(measure("floor", floor_url, owner, args))
    finally:
        for process in processes:
            process.terminate()
            process.join(5)

    throughput = figures["msgs_per_s"] / bare_figures["msgs_per_s"]
    print(
        f"ratios (cobra / bare): throughput {throughput:.2f}"
        f"   p50 {figures['p50_ms'] / bare_figures['p50_ms']:.1f}x"
        f"   p99 {figures['p99_ms'] / bare_figures['p99_ms']:.1f}x"
    )
    if floor_url:
        print(
            "floor / bare: throughput "
            f"{floor_figures['msgs_per_s'] / bare_figures['msgs_per_s']:.2f}"
            "   cobra / floor: throughput "
            f"{figures['msgs_per_s'] / floor_figures['msgs_per_s']:.2f}"
        )
    print(
        f"targets: p99 < 50 ms at {args.rate:.0f} msg/s: "
        f"{'met' if figures['p99_ms'] < 50 else 'NOT met'}; "
        f"throughput within 5x of bare: {'met' if throughput >= 0.2 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
