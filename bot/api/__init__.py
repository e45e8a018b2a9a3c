"""Cobra's REST API for ERPs and online stores, mounted at `/api/v1`.

Its own OpenAPI document is at `/api/v1/openapi.json`. Every route acts for the
business of the caller's API key through the same flows as the chat.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from fastapi import FastAPI

from bot.api import contacts, invoices, payments, setup
from bot.api.core import COMMON_RESPONSES, Problem, install_error_handlers
from bot.runtime import Runtime

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
DESCRIPTION = """\
API de Cobra para conectar ERPs y tiendas en línea.

* Autenticación: `Authorization: Bearer <llave>`; la llave se crea con
  `cobra apikey create --business RFC` y sólo ve su negocio.
* Montos: cadenas decimales (`"1160.00"`), nunca números de punto flotante.
* Listas: paginadas por cursor; pide la siguiente página con `cursor=next_cursor`.
* Errores: documentos RFC 9457 (`application/problem+json`) con `detail` en español.
* Los POST que mueven dinero piden `Idempotency-Key`: la misma llave con el mismo
  cuerpo devuelve la primera respuesta; con otro cuerpo, 409.
"""


def _system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build_api(
    runtime: Runtime, *, clock: Callable[[], dt.datetime] = _system_clock
) -> FastAPI:
    """The API application; `clock` is replaced by tests to fix the time."""
    api = FastAPI(
        title="Cobra API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        responses=COMMON_RESPONSES,
    )
    api.state.runtime = runtime
    api.state.clock = clock
    install_error_handlers(api)
    for module in (contacts, invoices, payments, setup):
        api.include_router(module.router)
    _add_problem_schema(api)
    return api


def _add_problem_schema(api: FastAPI) -> None:
    """Put `Problem` in the document's components, where the error answers point."""
    build = api.openapi

    def openapi() -> dict[str, object]:
        if api.openapi_schema is not None:
            return api.openapi_schema
        document = build()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in (
            Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            .pop("$defs", {})
            .items()
        ):
            schemas.setdefault(name, schema)
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        problem.pop("$defs", None)
        schemas["Problem"] = problem
        api.openapi_schema = document
        return document

    api.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI, runtime: Runtime) -> None:
    app.mount(PREFIX, build_api(runtime))
