"""A loopback stand-in for the SAT's bulk-download SOAP services.

It answers authentication, requests (issued and received, CFDI or metadata),
verification and download in the SAT's shapes. Each request goes through the
states queued in `plan` for its kind, and packages are whatever the test put in
`packages`. Signatures are not checked: satcfdi builds them, and this fake only
stands in for the SAT's answers.
"""

from __future__ import annotations

import base64
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import quoteattr

from lxml import etree

DES = "http://DescargaMasivaTerceros.sat.gob.mx"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


@dataclass
class Planned:
    """How a request of one kind answers: the code when asked, then its states."""

    request_code: str = "5000"
    request_message: str = "Solicitud Aceptada"
    states: list[int] = field(default_factory=lambda: [3])
    message: str = "Solicitud Aceptada"
    packages: list[str] = field(default_factory=list)


@dataclass
class FakeSatWs:
    base_url: str = ""
    # (role, type) -> plan; role "issued"/"received", type "CFDI"/"Metadata".
    plan: dict[tuple[str, str], Planned] = field(default_factory=dict)
    packages: dict[str, bytes] = field(default_factory=dict)
    requests: dict[str, tuple[str, str, dict[str, str]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _progress: dict[str, int] = field(default_factory=dict)

    def answer(self, path: str, body: bytes) -> bytes:
        root = etree.fromstring(body)
        with self.lock:
            self.calls.append(path.rsplit("/", 1)[-1])
            if path.endswith("Autenticacion.svc"):
                return _auth()
            if path.endswith("SolicitaDescargaService.svc"):
                return self._request(root)
            if path.endswith("VerificaSolicitudDescargaService.svc"):
                return self._verify(root)
            if path.endswith("DescargaMasivaService.svc"):
                return self._download(root)
        raise ValueError(path)

    def _request(self, root: etree._Element) -> bytes:
        operation = root.find(f"{{{SOAP}}}Body")[0]
        name = etree.QName(operation).localname
        role = "issued" if name.endswith("Emitidos") else "received"
        solicitud = operation.find(f"{{{DES}}}solicitud")
        kind = solicitud.get("TipoSolicitud") or "CFDI"
        plan = self.plan.get((role, kind), Planned())
        request_id = ""
        if plan.request_code == "5000":
            request_id = f"REQ-{next(self._ids):04d}"
            self.requests[request_id] = (role, kind, dict(solicitud.attrib))
            self._progress[request_id] = 0
        result = (
            f"<des:{name}Response><des:{name}Result "
            f"IdSolicitud={quoteattr(request_id)} "
            f"CodEstatus={quoteattr(plan.request_code)} "
            f"Mensaje={quoteattr(plan.request_message)}/></des:{name}Response>"
        )
        return _envelope(result)

    def _verify(self, root: etree._Element) -> bytes:
        solicitud = root.find(f".//{{{DES}}}solicitud")
        request_id = solicitud.get("IdSolicitud") or ""
        role, kind, _ = self.requests[request_id]
        plan = self.plan.get((role, kind), Planned())
        step = self._progress[request_id]
        state = plan.states[min(step, len(plan.states) - 1)]
        self._progress[request_id] = step + 1
        packages = plan.packages if state == 3 else []
        ids = "".join(f"<des:IdsPaquetes>{p}</des:IdsPaquetes>" for p in packages)
        result = (
            "<des:VerificaSolicitudDescargaResponse>"
            "<des:VerificaSolicitudDescargaResult "
            f'CodEstatus="5000" EstadoSolicitud="{state}" '
            f'CodigoEstadoSolicitud="5000" NumeroCFDIs="{len(packages)}" '
            f"Mensaje={quoteattr(plan.message)}>{ids}"
            "</des:VerificaSolicitudDescargaResult>"
            "</des:VerificaSolicitudDescargaResponse>"
        )
        return _envelope(result)

    def _download(self, root: etree._Element) -> bytes:
        peticion = root.find(f".//{{{DES}}}peticionDescarga")
        package = peticion.get("IdPaquete") or ""
        data = self.packages.get(package)
        code, message = (
            ("5000", "Solicitud Aceptada") if data else ("5004", "No existe")
        )
        header = (
            f'<h:respuesta xmlns:h="{DES}" CodEstatus="{code}" '
            f"Mensaje={quoteattr(message)}/>"
        )
        content = base64.b64encode(data or b"").decode()
        body = (
            f'<RespuestaDescargaMasivaTercerosSalida xmlns="{DES}">'
            f"<Paquete>{content}</Paquete></RespuestaDescargaMasivaTercerosSalida>"
        )
        return _envelope(body, header=header)


def _auth() -> bytes:
    header = (
        '<o:Security xmlns:o="http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-wssecurity-secext-1.0.xsd" '
        'xmlns:u="http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-wssecurity-utility-1.0.xsd">'
        "<u:Timestamp><u:Created>2026-12-03T17:00:00.000Z</u:Created>"
        "<u:Expires>2099-12-31T23:59:59.000Z</u:Expires></u:Timestamp></o:Security>"
    )
    body = (
        '<AutenticaResponse xmlns="http://DescargaMasivaTerceros.gob.mx">'
        "<AutenticaResult>token-de-pruebas</AutenticaResult></AutenticaResponse>"
    )
    return _envelope(body, header=header)


def _envelope(body: str, header: str = "") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:des="{DES}"><s:Header>{header}'
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


@contextmanager
def running_fake_sat_ws() -> Iterator[FakeSatWs]:
    fake = FakeSatWs()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                answer, status = fake.answer(self.path, body), 200
            except Exception as exc:  # answer a broken request like a SOAP fault
                answer, status = _envelope(f"<s:Fault>{exc!s}</s:Fault>"), 500
            self.send_response(status)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
