"""A loopback stand-in for Twilio's REST API: Messages.json and message media.

A real HTTP server on 127.0.0.1 and a random port; it checks the account's basic
auth, records every message it is asked to send, and answers like Twilio does.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-test-auth-token"

_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<account>\w+)/Messages\.json$")
_MEDIA = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>\w+)/Messages/(?P<message>\w+)"
    r"/Media/(?P<media>\w+)$"
)


@dataclass
class SentMessage:
    """One POST to Messages.json, its form fields as Twilio received them."""

    form: dict[str, list[str]]
    sid: str

    def get(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class FakeTwilio:
    base_url: str
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    sent: list[SentMessage] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    media_requests: list[str] = field(default_factory=list)
    # (HTTP status, Twilio error code) to answer the next sends with, in order;
    # None takes that send as usual.
    failures: list[tuple[int, int] | None] = field(default_factory=list)
    # Seconds to hold the next sends, in order, before dropping the connection
    # unanswered: the message is taken (and counted as sent), no answer comes.
    slow: list[float] = field(default_factory=list)
    _sids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_media(self, message_sid: str, content: bytes, content_type: str) -> str:
        """Host a file as Twilio hosts inbound media; returns its MediaUrl."""
        media_sid = f"ME{len(self.media) + 1:032d}"
        path = (
            f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid}"
            f"/Media/{media_sid}"
        )
        self.media[path] = (content, content_type)
        return self.base_url + path

    def next_sid(self) -> str:
        return f"SM{next(self._sids):032d}"


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """The `X-Twilio-Signature` Twilio would send for this URL and form."""
    return RequestValidator(token).compute_signature(url, params)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTwilio

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _authorized(self) -> bool:
        expected = base64.b64encode(
            f"{self.fake.account_sid}:{self.fake.auth_token}".encode()
        ).decode()
        return self.headers.get("Authorization") == f"Basic {expected}"

    def _json(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _unauthorized(self) -> None:
        self._json(
            401,
            {"code": 20003, "message": "Authenticate", "status": 401},
        )

    def do_POST(self) -> None:
        match = _MESSAGES.match(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        if match is None:
            self._json(404, {"code": 20404, "message": "Not found", "status": 404})
            return
        if not self._authorized() or match["account"] != self.fake.account_sid:
            self._unauthorized()
            return

        form = parse_qs(raw, keep_blank_values=True)
        with self.fake.lock:
            failure = self.fake.failures.pop(0) if self.fake.failures else None
            if failure is not None:
                status, code = failure
                self._json(
                    status,
                    {"code": code, "message": "Fake failure", "status": status},
                )
                return
            sid = self.fake.next_sid()
            self.fake.sent.append(SentMessage(form=form, sid=sid))
            hold = self.fake.slow.pop(0) if self.fake.slow else 0.0
        if hold:
            time.sleep(hold)
            self.close_connection = True
            return
        self._json(
            201,
            {
                "sid": sid,
                "account_sid": self.fake.account_sid,
                "to": form.get("To", [""])[0],
                "from": form.get("From", [""])[0],
                "body": form.get("Body", [""])[0],
                "status": "queued",
                "num_media": str(len(form.get("MediaUrl", []))),
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "uri": f"{self.path.removesuffix('.json')}/{sid}.json",
            },
        )

    def do_GET(self) -> None:
        if _MEDIA.match(self.path) is None or self.path not in self.fake.media:
            self._json(404, {"code": 20404, "message": "Not found", "status": 404})
            return
        with self.fake.lock:
            self.fake.media_requests.append(self.path)
        if not self._authorized():
            self._unauthorized()
            return
        content, content_type = self.fake.media[self.path]
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


@contextmanager
def running_twilio() -> Iterator[FakeTwilio]:
    """Start the fake on a random loopback port for the length of the block."""
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    fake = FakeTwilio(base_url=f"http://127.0.0.1:{port}")
    handler.fake = fake  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
