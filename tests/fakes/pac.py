"""A loopback stand-in for Finkok's SOAP stamping and cancelling services.

It checks the CFDI's seal against the certificate inside it, stamps it with a
Timbre Fiscal Digital 1.1 signed by the tests' PAC certificate, and records what it
stamped and cancelled. `failures` makes the next calls fail with a PAC code.
"""

from __future__ import annotations

import base64
import threading
import uuid as uuidlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from lxml import etree
from satcfdi.cfdi import CFDI
from satcfdi.create.cfd.tfd11 import TimbreFiscalDigital
from satcfdi.models import Certificate, Signer

CFDI4 = "http://www.sat.gob.mx/cfd/4"
APPS = "apps.services.soap.core.views"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


@dataclass
class FakePac:
    signer: Signer
    base_url: str = ""
    stamped: dict[str, bytes] = field(default_factory=dict)
    cancelled: dict[str, str] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, body: bytes) -> bytes:
        envelope = etree.fromstring(body)
        operation = envelope.find(f"{{{SOAP}}}Body")[0]
        name = etree.QName(operation).localname
        xml = base64.b64decode(_child(operation, "xml").text or "")
        with self.lock:
            self.calls.append(name)
            failure = self.failures.pop(0) if self.failures else None
        if path.endswith("cancel.wsdl"):
            return self._cancel(xml, failure)
        if failure:
            return _stamp_response(incidence=failure)
        return self._stamp(xml)

    def _stamp(self, xml: bytes) -> bytes:
        cfdi = CFDI.from_string(xml)
        certificate = Certificate.load_certificate(
            base64.b64decode(cfdi["Certificado"])
        )
        sealed = certificate.verify_sha256(
            cfdi.cadena_original().encode(), base64.b64decode(cfdi["Sello"])
        )
        if not sealed:
            return _stamp_response(incidence=("302", "Sello mal formado o inválido"))
        uuid = str(uuidlib.uuid4()).upper()
        tfd = TimbreFiscalDigital(
            proveedor=self.signer,
            uuid=uuid,
            fecha_timbrado=cfdi["Fecha"],
            sello_cfd=cfdi["Sello"],
        )
        root = etree.fromstring(xml)
        complemento = root.find(f"{{{CFDI4}}}Complemento")
        if complemento is None:
            complemento = etree.SubElement(root, f"{{{CFDI4}}}Complemento")
        complemento.append(tfd.to_xml())
        stamped = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        with self.lock:
            self.stamped[uuid] = stamped
        return _stamp_response(xml=stamped, uuid=uuid)

    def _cancel(self, xml: bytes, failure: tuple[str, str] | None) -> bytes:
        root = etree.fromstring(xml)
        folio = root.find(".//{http://cancelacfd.sat.gob.mx}Folio")
        uuid = (folio.get("UUID") or "").upper()
        if failure:
            status = escape(f"{failure[0]} - {failure[1]}")
            inner = f"<apps:CodEstatus>{status}</apps:CodEstatus>"
        elif uuid not in self.stamped:
            inner = "<apps:CodEstatus>UUID No Encontrado</apps:CodEstatus>"
        else:
            with self.lock:
                self.cancelled[uuid] = folio.get("Motivo") or ""
            acuse = (
                f'<Acuse Fecha="{root.get("Fecha")}" '
                f'RfcEmisor="{root.get("RfcEmisor")}">'
                f"<Folios><UUID>{uuid}</UUID><EstatusUUID>201</EstatusUUID></Folios>"
                "</Acuse>"
            )
            inner = (
                "<apps:Folios><apps:Folio><apps:EstatusUUID>201</apps:EstatusUUID>"
                f"<apps:UUID>{uuid}</apps:UUID></apps:Folio></apps:Folios>"
                f"<apps:Acuse>{escape(acuse)}</apps:Acuse>"
            )
        return _envelope(
            f"<s0:cancel_signatureResponse><s0:cancel_signatureResult>{inner}</s0:cancel_signatureResult></s0:cancel_signatureResponse>"
        )


def _child(element: etree._Element, name: str) -> etree._Element:
    for child in element:
        if etree.QName(child).localname == name:
            return child
    raise ValueError(name)


def _envelope(inner: str) -> bytes:
    return (
        f'<senv:Envelope xmlns:senv="{SOAP}" xmlns:apps="{APPS}" '
        f'xmlns:s0="http://facturacion.finkok.com/stamp"><senv:Body>{inner}'
        "</senv:Body></senv:Envelope>"
    ).encode()


def _stamp_response(
    *,
    xml: bytes | None = None,
    uuid: str | None = None,
    incidence: tuple[str, str] | None = None,
) -> bytes:
    if incidence:
        code, message = incidence
        inner = (
            "<apps:Incidencias><apps:Incidencia>"
            f"<apps:CodigoError>{code}</apps:CodigoError>"
            f"<apps:MensajeIncidencia>{escape(message)}</apps:MensajeIncidencia>"
            "</apps:Incidencia></apps:Incidencias>"
        )
    else:
        inner = (
            f"<apps:xml>{escape((xml or b'').decode())}</apps:xml>"
            f"<apps:UUID>{uuid}</apps:UUID>"
            "<apps:CodEstatus>Comprobante timbrado satisfactoriamente</apps:CodEstatus>"
            "<apps:Incidencias/>"
        )
    return _envelope(
        f"<s0:stampResponse><s0:stampResult>{inner}</s0:stampResult></s0:stampResponse>"
    )


@contextmanager
def running_fake_pac(signer: Signer) -> Iterator[FakePac]:
    fake = FakePac(signer=signer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                answer = fake.answer(self.path, body)
                status = 200
            except Exception as exc:  # a broken request: answer like a SOAP fault
                answer = _envelope(f"<senv:Fault>{escape(str(exc))}</senv:Fault>")
                status = 500
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
