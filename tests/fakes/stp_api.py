"""A loopback stand-in for STP's transfer-order API: register an order, ask its state.

A real HTTP server on 127.0.0.1 and a random port. It checks every request's
signature with the company's public key, records each order once by tracking key,
and can be told to answer slowly (a timeout) or to refuse.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bot.stp import ORDER_FIELDS, STATUS_FIELDS, cadena_original

EMPRESA = "COBRA"
KEY_PASSWORD = "llave-de-prueba"


def write_private_key(path: Path, password: str = KEY_PASSWORD) -> rsa.RSAPublicKey:
    """A fresh RSA key pair; the private half, encrypted, at `path`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password.encode()),
        )
    )
    return key.public_key()


@dataclass
class FakeStp:
    base_url: str
    public_key: rsa.RSAPublicKey
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    registrations: list[dict[str, Any]] = field(default_factory=list)
    status_queries: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    # Seconds to wait before answering the next registrations (the order is kept).
    delays: list[float] = field(default_factory=list)
    # descripcionError to refuse the next registrations with.
    refusals: list[str] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(5001))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, body: dict[str, Any], fields: tuple[str, ...]) -> bool:
        try:
            self.public_key.verify(
                base64.b64decode(body.get("firma", "")),
                cadena_original(body, fields).encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return False
        return True


class _Handler(BaseHTTPRequestHandler):
    fake: FakeStp

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        data = json.loads(self.rfile.read(length) or b"{}")
        return data if isinstance(data, dict) else {}

    def _answer(self, data: dict[str, Any], status: int = 200) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(raw)

    def do_PUT(self) -> None:
        fake = self.fake
        if self.path != "/ordenPago/registra":
            self._answer({"mensaje": "no existe"}, 404)
            return
        body = self._body()
        if not fake.verify(body, ORDER_FIELDS):
            with fake.lock:
                fake.bad_signatures += 1
            self._answer({"resultado": {"id": 0, "descripcionError": "Firma invalida"}})
            return
        with fake.lock:
            fake.registrations.append(body)
            delay = fake.delays.pop(0) if fake.delays else 0.0
            refusal = fake.refusals.pop(0) if fake.refusals else None
            clave = body["claveRastreo"]
            if refusal:
                result: dict[str, Any] = {"id": 0, "descripcionError": refusal}
            elif clave in fake.orders:
                result = {"id": 0, "descripcionError": "Clave de rastreo duplicada"}
            else:
                order_id = next(fake._ids)
                fake.orders[clave] = {**body, "id": order_id, "estado": "Enviada"}
                result = {"id": order_id}
        if delay:
            time.sleep(delay)
        self._answer({"resultado": result})

    def do_POST(self) -> None:
        fake = self.fake
        if self.path != "/ordenPago/consEstado":
            self._answer({"mensaje": "no existe"}, 404)
            return
        body = self._body()
        if not fake.verify(body, STATUS_FIELDS):
            with fake.lock:
                fake.bad_signatures += 1
            self._answer({"resultado": {"id": 0, "descripcionError": "Firma invalida"}})
            return
        with fake.lock:
            fake.status_queries.append(body)
            order = fake.orders.get(body.get("claveRastreo", ""))
        if order is None:
            self._answer({"resultado": {"id": 0, "descripcionError": "No encontrada"}})
            return
        self._answer({"resultado": {"id": order["id"], "estado": order["estado"]}})


@contextmanager
def running_stp(public_key: rsa.RSAPublicKey) -> Iterator[FakeStp]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    fake = FakeStp(f"http://127.0.0.1:{server.server_address[1]}", public_key)
    server.RequestHandlerClass = type("Handler", (_Handler,), {"fake": fake})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
