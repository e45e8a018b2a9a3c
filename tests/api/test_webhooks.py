"""Outgoing webhooks delivered through the outbox to a loopback receiver."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy.orm import Session

from bot.webhook_sender import WebhookSender
from flows import webhooks_out
from flows.outbox import RenderedMessage, deliver_pending
from storage.models import OutboundMessage
from tests.builders import make_business
from tests.conftest import NOW, Db


@dataclass
class Receiver:
    """Records each request; answers with the next status of `script`, then 200."""

    url: str = ""
    script: list[int] = field(default_factory=list)
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.seen.append((dict(self.headers), body))
            status = state.script.pop(0) if state.script else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/cobra"
    yield state
    server.shutdown()
    server.server_close()


def render(session: Session, row: OutboundMessage, now: dt.datetime) -> RenderedMessage:
    assert row.channel == webhooks_out.CHANNEL
    return webhooks_out.render_webhook(session, row, now)


def test_signed_delivery_retried_after_a_500_with_one_event_id(
    db: Db, receiver: Receiver
) -> None:
    with db.session() as session, session.begin():
        business = make_business(session)
        endpoint = webhooks_out.add_endpoint(
            session,
            business=business,
            url=receiver.url,
            events=["payment.recorded"],
            actor="t",
            channel="t",
            now=NOW,
        )
        secret = endpoint.secret
        event_id = webhooks_out.emit_event(
            session,
            business.id,
            "payment.recorded",
            {"payment_id": 1, "amount": "10.00"},
            NOW,
        )
        webhooks_out.emit_event(session, business.id, "dispute.opened", {}, NOW)

    receiver.script = [500]
    sender = WebhookSender()
    first = deliver_pending(
        db.factory, senders={"webhook": sender}, now=NOW, render=render
    )
    assert (first.claimed, first.retried, first.sent) == (1, 1, 0)
    with db.session() as session:
        failed = webhooks_out.failures(session, business=business)
        assert [f.last_error for f in failed] == ["webhook respondió 500 (127.0.0.1)"]

    later = NOW + dt.timedelta(minutes=2)
    second = deliver_pending(
        db.factory, senders={"webhook": sender}, now=later, render=render
    )
    assert second.sent == 1
    assert (
        deliver_pending(
            db.factory, senders={"webhook": sender}, now=later, render=render
        ).claimed
        == 0
    )
    sender.close()

    assert len(receiver.seen) == 2
    ids = {headers["Cobra-Event-Id"] for headers, _ in receiver.seen}
    assert ids == {event_id}
    headers, body = receiver.seen[-1]
    assert json.loads(body)["id"] == event_id
    assert json.loads(body)["data"]["amount"] == "10.00"
    signature = headers["Cobra-Signature"].removeprefix("v1=")
    assert webhooks_out.verify(
        secret,
        timestamp=headers["Cobra-Timestamp"],
        body=body,
        signature=signature,
        now=later,
    )
    assert headers["Cobra-Timestamp"] == str(int(later.timestamp()))
