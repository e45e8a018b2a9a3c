"""The stamping provider (PAC) behind one interface: stamp a sealed CFDI, cancel one.

`FinkokPac` speaks Finkok's SOAP service through satcfdi, with the host taken from
`PAC_BASE_URL`; tests run it against a loopback server of the same shape. Every
failure comes back as a `ProviderError` whose message the owner can read.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Protocol

import requests
from satcfdi.cfdi import CFDI
from satcfdi.create.cancela import cancelacion
from satcfdi.exceptions import DocumentNotFoundError, ResponseError
from satcfdi.models import Signer
from satcfdi.pacs import Environment
from satcfdi.pacs.finkok import Finkok

from flows.errors import InvalidInput, ProviderError

log = logging.getLogger(__name__)

# What the PAC's codes mean, said the way an owner understands them.
PAC_ERRORS = {
    "301": "el XML de la factura no tiene la estructura que pide el SAT",
    "302": "el sello digital de la factura no es válido",
    "303": "el sello no corresponde al RFC del emisor",
    "304": "el CSD está revocado o caduco",
    "305": "la fecha de la factura está fuera de la vigencia del CSD",
    "307": "la factura ya estaba timbrada",
    "401": "la fecha de la factura tiene más de 72 horas",
    "402": "el RFC del emisor no está en la lista de contribuyentes del SAT",
    "702": "el PAC no reconoce el usuario o la contraseña",
}


@dataclass(frozen=True, slots=True)
class Stamped:
    """A stamped CFDI: its UUID (upper case) and the XML with the fiscal stamp."""

    uuid: str
    xml: bytes


@dataclass(frozen=True, slots=True)
class CancelResult:
    """The PAC's answer to a cancellation: the SAT code and its acknowledgment."""

    code: str
    acknowledgment: bytes | None


class Pac(Protocol):
    """What Cobra needs from a stamping provider."""

    name: str

    def stamp(self, cfdi: CFDI) -> Stamped: ...

    def cancel(
        self,
        *,
        uuid: str,
        motive: str,
        substitute_uuid: str | None,
        signer: Signer,
        at: dt.datetime,
    ) -> CancelResult: ...


class _FinkokAt(Finkok):
    """satcfdi's Finkok client pointed at a configurable host."""

    def __init__(self, username: str, password: str, base_url: str) -> None:
        super().__init__(username, password, environment=Environment.PRODUCTION)
        self._base_url = base_url.rstrip("/")

    @property
    def host(self) -> str:
        return self._base_url


class FinkokPac:
    """Finkok (FIN1203015JA): stamping and cancelling over SOAP."""

    name = "finkok"

    def __init__(self, *, base_url: str, username: str, password: str) -> None:
        self._client = _FinkokAt(username, password, base_url)

    def stamp(self, cfdi: CFDI) -> Stamped:
        try:
            document = self._client.stamp(cfdi)
        except ResponseError as exc:
            raise _rejected("No se pudo timbrar la factura", exc) from exc
        except requests.RequestException as exc:
            log.warning("pac unreachable", extra={"pac": self.name})
            raise ProviderError(
                "No pude comunicarme con el PAC para timbrar; intenta en unos minutos."
            ) from exc
        except Exception as exc:  # a malformed answer from the PAC
            log.warning("pac answer unreadable", extra={"pac": self.name})
            raise ProviderError(
                "El PAC respondió algo que no entiendo; intenta en unos minutos."
            ) from exc
        return Stamped(uuid=document.document_id.upper(), xml=document.xml)

    def cancel(
        self,
        *,
        uuid: str,
        motive: str,
        substitute_uuid: str | None,
        signer: Signer,
        at: dt.datetime,
    ) -> CancelResult:
        folio = cancelacion.Folio(uuid, motive, substitute_uuid)
        request = cancelacion.Cancelacion(signer, folio, fecha=at)
        try:
            ack = self._client.cancel_comprobante(request)
        except DocumentNotFoundError as exc:
            raise ProviderError(
                "El SAT aún no registra esa factura; intenta cancelar más tarde.",
                temporary=True,
            ) from exc
        except ResponseError as exc:
            raise _rejected("No se pudo cancelar la factura", exc) from exc
        except requests.RequestException as exc:
            log.warning("pac unreachable", extra={"pac": self.name})
            raise ProviderError(
                "No pude comunicarme con el PAC para cancelar; intenta en unos minutos."
            ) from exc
        return CancelResult(code=str(ack.code or ""), acknowledgment=ack.acuse)


def _rejected(what: str, exc: ResponseError) -> ProviderError:
    detail = str(exc.response or "").strip()
    match = re.match(r"\s*(\w+)\s*-\s*(.*)", detail)
    code = match.group(1) if match else ""
    reason = PAC_ERRORS.get(code) or (match.group(2) if match else detail)
    log.warning("pac rejected", extra={"pac_code": code or None})
    return ProviderError(
        f"{what}: {reason or 'el PAC no dio motivo'}.", temporary=False
    )


def make_pac(
    *,
    provider: str | None,
    base_url: str | None,
    username: str | None,
    password: str | None,
) -> Pac:
    """The configured PAC, from PAC_PROVIDER, PAC_BASE_URL, PAC_USER, PAC_PASSWORD."""
    name = (provider or "finkok").lower()
    if name != "finkok":
        raise InvalidInput(f"No sé timbrar con el PAC «{provider}»; usa finkok.")
    if not (base_url and username and password):
        raise ProviderError(
            "No hay un PAC configurado (PAC_BASE_URL, PAC_USER y PAC_PASSWORD).",
            temporary=False,
        )
    return FinkokPac(base_url=base_url, username=username, password=password)
