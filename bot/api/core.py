"""What every API route shares: the caller's key, the clock, transactions,
idempotent replays, cursor pagination and RFC 9457 problem documents."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.runtime import Runtime
from flows import apikeys, idempotency
from flows.errors import (
    Ambiguous,
    CobraError,
    Conflict,
    Forbidden,
    InvalidInput,
    MoneyRuleViolation,
    NotFound,
    ProviderError,
)
from storage.models import Business

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
DEFAULT_PAGE = 50
MAX_PAGE = 200


class ProblemField(BaseModel):
    field: str = Field(description="Dónde está el error, p. ej. `body.amount`.")
    message: str = Field(description="Qué tiene de malo.")


class Problem(BaseModel):
    """Un error como documento RFC 9457."""

    type: str = Field(description="URI que identifica la clase de error.")
    title: str = Field(description="Resumen corto de la clase de error.")
    status: int = Field(description="El código HTTP de la respuesta.")
    detail: str = Field(description="Explicación en español para quien usa el API.")
    errors: list[ProblemField] | None = Field(
        default=None, description="Los campos inválidos, cuando los hay."
    )


def problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


# Every route may answer these; routes add their own codes on top.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: problem_response("Falta la llave del API, es inválida o fue revocada."),
    404: problem_response("El recurso no existe o es de otro negocio."),
    422: problem_response("La solicitud no es válida."),
}
CONFLICT_RESPONSE: dict[int | str, dict[str, Any]] = {
    409: problem_response("Conflicto con el estado actual.")
}
PROBLEM_TYPES = {
    400: ("urn:cobra:problema:solicitud-invalida", "Solicitud inválida"),
    401: ("urn:cobra:problema:no-autenticado", "No autenticado"),
    403: ("urn:cobra:problema:prohibido", "Prohibido"),
    404: ("urn:cobra:problema:no-encontrado", "No encontrado"),
    405: ("urn:cobra:problema:metodo-no-permitido", "Método no permitido"),
    409: ("urn:cobra:problema:conflicto", "Conflicto"),
    413: ("urn:cobra:problema:demasiado-grande", "Solicitud demasiado grande"),
    415: ("urn:cobra:problema:tipo-no-soportado", "Tipo de contenido no soportado"),
    422: ("urn:cobra:problema:invalido", "Datos inválidos"),
    502: ("urn:cobra:problema:proveedor", "Falla de un proveedor"),
}


class ApiError(Exception):
    """An HTTP-level refusal of the API itself (authentication, size, type)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def problem(
    status: int, detail: str, errors: list[dict[str, str]] | None = None
) -> JSONResponse:
    kind, title = PROBLEM_TYPES.get(
        status, ("about:blank", "Error" if status < 500 else "Error interno")
    )
    body: dict[str, Any] = {
        "type": kind,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def status_of(error: CobraError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, ProviderError):
        return 502
    if isinstance(error, InvalidInput | MoneyRuleViolation | Ambiguous):
        return 422
    return 422


def install_error_handlers(api: FastAPI) -> None:
    async def on_cobra_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CobraError)
        return problem(status_of(exc), exc.message)

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return problem(exc.status, exc.detail)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "field": ".".join(str(p) for p in error.get("loc", ())),
                "message": str(error.get("msg", "")),
            }
            for error in exc.errors()
        ]
        return problem(422, "La solicitud tiene datos inválidos.", errors)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = {
            404: "No existe esa ruta del API.",
            405: "Ese método no se permite en esta ruta.",
        }.get(exc.status_code, "La solicitud no se pudo atender.")
        return problem(exc.status_code, detail)

    api.add_exception_handler(CobraError, on_cobra_error)
    api.add_exception_handler(ApiError, on_api_error)
    api.add_exception_handler(RequestValidationError, on_validation)
    api.add_exception_handler(StarletteHTTPException, on_http)


# --- The caller ---------------------------------------------------------------

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="LlaveAPI",
    description="`Authorization: Bearer cobra_...`, creada con `cobra apikey create`.",
)


@dataclass(frozen=True)
class Caller:
    """Who calls: the key's business, and the key itself for the audit trail."""

    business_id: int
    key_id: int
    runtime: Runtime
    clock: Callable[[], dt.datetime]

    @property
    def actor(self) -> str:
        return f"apikey:{self.key_id}"

    def now(self) -> dt.datetime:
        return self.clock()

    @contextmanager
    def transaction(self) -> Iterator[tuple[Session, Business]]:
        """A session whose work commits at the end, with the caller's business."""
        with self.runtime.factory() as session, session.begin():
            business = session.get(Business, self.business_id)
            if business is None:
                raise ApiError(401, "La llave del API no es válida.")
            yield session, business


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The key in `Authorization: Bearer ...`; 401 when absent, wrong or revoked."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "Falta la llave del API (Authorization: Bearer ...).")
    runtime: Runtime = request.app.state.runtime
    clock: Callable[[], dt.datetime] = request.app.state.clock
    with runtime.factory() as session, session.begin():
        key = apikeys.authenticate(session, token=credentials.credentials, now=clock())
        if key is None:
            log.info("api request with an unknown or revoked key")
            raise ApiError(401, "La llave del API no es válida o fue revocada.")
        found = Caller(key.business_id, key.id, runtime, clock)
    return found


CallerDep = Annotated[Caller, Depends(caller)]


# --- Idempotency --------------------------------------------------------------


def idempotent(
    who: Caller,
    *,
    key: str | None,
    method: str,
    path: str,
    body: BaseModel | None,
    action: Callable[[Session, Business], tuple[int, dict[str, Any]]],
) -> JSONResponse:
    """Run `action` once per Idempotency-Key: a repeat gets the first answer.

    The answer is stored in the transaction of the work, so a failed attempt leaves
    nothing behind and may be retried with the same key.
    """
    raw = body.model_dump_json().encode() if body is not None else b""
    digest = idempotency.request_hash(method, path, raw)
    cleaned = idempotency.check_key(key) if key is not None else None
    try:
        with who.transaction() as (session, business):
            if cleaned is not None:
                stored = idempotency.lookup(
                    session, business_id=business.id, key=cleaned, request_hash=digest
                )
                if stored is not None:
                    return _replayed(stored)
            status, answer = action(session, business)
            answer = jsonable_encoder(answer)
            if cleaned is not None:
                idempotency.remember(
                    session,
                    business_id=business.id,
                    key=cleaned,
                    request_hash=digest,
                    status_code=status,
                    body=answer,
                    now=who.now(),
                )
    except IntegrityError:
        if cleaned is None:
            raise
        # A concurrent request with the same key won: answer as it did.
        with who.transaction() as (session, business):
            stored = idempotency.lookup(
                session, business_id=business.id, key=cleaned, request_hash=digest
            )
        if stored is None:
            raise
        return _replayed(stored)
    return JSONResponse(answer, status_code=status)


def _replayed(stored: idempotency.StoredResponse) -> JSONResponse:
    return JSONResponse(
        stored.body,
        status_code=stored.status_code,
        headers={"Idempotent-Replayed": "true"},
    )


# --- Pagination and values ----------------------------------------------------


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id after which the next page starts; 0 for the first page."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        last = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("El cursor no es válido.") from exc
    if kind != "id" or not 0 <= last < 2**31:
        raise InvalidInput("El cursor no es válido.")
    return last


def amount(value: Decimal | None) -> str | None:
    """Money as a string of decimals, never a float."""
    return None if value is None else f"{value:.2f}"
