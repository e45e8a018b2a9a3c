"""The SAT's bulk-download web services (descarga masiva): request, verify, download.

The only module that talks to the SAT. It drives satcfdi's client, with every call
sent to `SAT_WS_BASE_URL` when it is set (tests point it at a loopback fake), and
turns the SAT's answers into plain values and Spanish errors.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from satcfdi.exceptions import ResponseError
from satcfdi.models import Signer
from satcfdi.pacs.sat import SAT

from flows.errors import ProviderError

log = logging.getLogger(__name__)

ROLE_ISSUED = "issued"
ROLE_RECEIVED = "received"
TYPE_CFDI = "CFDI"
TYPE_METADATA = "Metadata"
ACCEPTED = "5000"  # "Solicitud Aceptada"
NO_DATA = "5004"  # "No se encontró la información"

# EstadoSolicitud: 1 aceptada, 2 en proceso, 3 terminada, 4 error, 5 rechazada,
# 6 vencida.
STATE_IN_PROGRESS = {1, 2}
STATE_FINISHED = 3
STATE_NAMES = {4: "error", 5: "rechazada", 6: "vencida"}


@dataclass(frozen=True, slots=True)
class RequestAnswer:
    request_id: str | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Verification:
    state: int
    code: str
    message: str
    count: int
    packages: list[str] = field(default_factory=list)


class _SatAt(SAT):
    """satcfdi's client with every service URL moved onto one base URL."""

    def __init__(self, signer: Signer, base_url: str | None) -> None:
        super().__init__(signer=signer)
        self._base = base_url.rstrip("/") if base_url else None

    def _execute_req(self, req: Any, needs_token_fn: Any) -> Any:
        if self._base:
            path = urlsplit(req.soap_url).path
            req.soap_url = self._base + path
        return super()._execute_req(req, needs_token_fn)


class SatWs:
    """One business's session with the bulk-download services, signed with its FIEL."""

    def __init__(self, *, signer: Signer, base_url: str | None) -> None:
        self._client = _SatAt(signer, base_url)

    def request(
        self, *, role: str, request_type: str, start: dt.datetime, end: dt.datetime
    ) -> RequestAnswer:
        """Ask for the CFDIs (or their metadata) issued or received in a period."""
        args: dict[str, Any] = {
            "fecha_inicial": start.replace(tzinfo=None, microsecond=0),
            "fecha_final": end.replace(tzinfo=None, microsecond=0),
            "tipo_solicitud": request_type,
        }
        if request_type == TYPE_CFDI:
            # The SAT only hands out the XML of CFDIs in force; metadata has all.
            args["estado_comprobante"] = "Vigente"
        call = (
            self._client.recover_comprobante_emitted_request
            if role == ROLE_ISSUED
            else self._client.recover_comprobante_received_request
        )
        answer = self._call(call, **args)
        return RequestAnswer(
            request_id=answer.get("IdSolicitud") or None,
            code=str(answer.get("CodEstatus") or ""),
            message=str(answer.get("Mensaje") or ""),
        )

    def verify(self, request_id: str) -> Verification:
        answer = self._call(self._client.recover_comprobante_status, request_id)
        return Verification(
            state=int(answer.get("EstadoSolicitud") or 0),
            code=str(answer.get("CodigoEstadoSolicitud") or answer.get("CodEstatus")),
            message=str(answer.get("Mensaje") or ""),
            count=int(answer.get("NumeroCFDIs") or 0),
            packages=list(answer.get("IdsPaquetes") or []),
        )

    def download(self, package_id: str) -> bytes:
        """One package: a zip of XML files, or of the metadata text file."""
        header, content = self._call(
            self._client.recover_comprobante_download, package_id
        )
        code = str(header.get("CodEstatus") or "")
        if code != ACCEPTED or not content:
            raise ProviderError(
                "El SAT no entregó el paquete: "
                f"{header.get('Mensaje') or 'sin motivo'} ({code}).",
                temporary=True,
            )
        return base64.b64decode(content)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ResponseError as exc:
            log.warning("sat web service refused a call")
            raise ProviderError(
                "El servicio de descarga del SAT respondió con error; lo intento en "
                "la próxima sincronización."
            ) from exc
        except requests.RequestException as exc:
            log.warning("sat web service unreachable")
            raise ProviderError(
                "No pude comunicarme con el SAT; lo intento en la próxima "
                "sincronización."
            ) from exc
        except (AttributeError, ValueError, TypeError) as exc:
            log.warning("sat web service answer unreadable")
            raise ProviderError(
                "El SAT respondió algo que no entiendo; lo intento en la próxima "
                "sincronización."
            ) from exc
