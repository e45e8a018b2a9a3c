"""A loopback stand-in for the Telegram Bot API: `/bot<token>/<method>` and files.

A real HTTP server on 127.0.0.1 and a random port; it records every call with
its parameters and uploaded files and answers in the Bot API's own shapes.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

BOT_TOKEN = "123456:telegram-test-token"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Cobra",
    "username": "cobra_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Call:
    """One Bot API call: its method, its parameters (as sent) and its files."""

    method: str
    params: dict[str, str]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def json(self, name: str) -> Any:
        return json.loads(self.params[name])


@dataclass
class FakeTelegram:
    base_url: str
    token: str = BOT_TOKEN
    calls: list[Call] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    # (error_code, description) to answer the next sending calls with, in order;
    # None answers that call as usual.
    failures: list[tuple[int, str] | None] = field(default_factory=list)
    # Seconds to hold the next sending calls, in order, before dropping the
    # connection unanswered: the call is taken (counted as delivered), no
    # answer comes.
    slow: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def of(self, method: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.method == method]

    @property
    def texts(self) -> list[str]:
        return [call.params.get("text", "") for call in self.of("sendMessage")]

    def add_file(self, file_id: str, path: str, content: bytes) -> None:
        """A file a person sent the bot, for getFile and its download."""
        self.files[file_id] = (path, content)

    def next_id(self) -> int:
        return next(self._ids)


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], dict]:
    if content_type.startswith("application/json"):
        data = json.loads(body or b"{}")
        return {
            k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()
        }, {}
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        params: dict[str, str] = {}
        files: dict[str, tuple[str, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            if filename is not None:
                files[str(name)] = (filename, payload)
            else:
                params[str(name)] = payload.decode()
        return params, files
    parsed = parse_qs(body.decode(), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}, {}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTelegram

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        prefix = f"/file/bot{self.fake.token}/"
        path = unquote(self.path)  # python-telegram-bot quotes the token's colon
        if not path.startswith(prefix):
            self._answer(
                404, {"ok": False, "error_code": 404, "description": "Not Found"}
            )
            return
        wanted = path[len(prefix) :]
        for path, content in self.fake.files.values():
            if path == wanted:
                self.send_response(200)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
                return
        self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        prefix = f"/bot{self.fake.token}/"
        if not self.path.startswith(prefix):
            self._answer(
                401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
            return
        method = self.path[len(prefix) :]
        params, files = _parse_body(self.headers.get("Content-Type", ""), body)
        with self.fake.lock:
            self.fake.calls.append(Call(method, params, files))
            failure = None
            if method.startswith("send") and self.fake.failures:
                failure = self.fake.failures.pop(0)
            hold = (
                self.fake.slow.pop(0)
                if method.startswith("send") and self.fake.slow
                else 0.0
            )
        if hold:
            time.sleep(hold)
            self.close_connection = True
            return
        if failure is not None:
            code, description = failure
            self._answer(
                code, {"ok": False, "error_code": code, "description": description}
            )
            return
        self._answer(200, {"ok": True, "result": self._result(method, params)})

    def _message(self, params: dict[str, str], **extra: Any) -> dict[str, Any]:
        chat_id = params.get("chat_id", "0")
        return {
            "message_id": self.fake.next_id(),
            "date": int(time.time()),
            "chat": {"id": int(chat_id), "type": "private"},
            "from": BOT_USER,
            **extra,
        }

    def _result(self, method: str, params: dict[str, str]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "sendMessage":
            return self._message(params, text=params.get("text", ""))
        if method == "sendDocument":
            document = {"file_id": "doc-1", "file_unique_id": "doc-u1"}
            return self._message(params, document=document)
        if method == "sendPhoto":
            size = {"file_id": "photo-1", "file_unique_id": "photo-u1"}
            return self._message(params, photo=[{**size, "width": 640, "height": 480}])
        if method == "editMessageReplyMarkup":
            return self._message(params)
        if method == "getFile":
            file_id = params.get("file_id", "")
            path, content = self.fake.files.get(file_id, ("missing", b""))
            return {
                "file_id": file_id,
                "file_unique_id": file_id + "-u",
                "file_size": len(content),
                "file_path": path,
            }
        return True


@contextmanager
def running_telegram() -> Iterator[FakeTelegram]:
    """Start the fake on a random loopback port for the length of the block."""
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    fake = FakeTelegram(base_url=f"http://127.0.0.1:{port}")
    handler.fake = fake  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
