"""The FastAPI application: health, webhooks and the customer portal."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from storage.db import ping

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    run_scheduler: bool = False,
    freeze_heap: bool = False,
) -> FastAPI:
    """The web app; `run_scheduler` also starts the scheduled jobs (`cobra serve`).

    With `freeze_heap` (a server process, not a test), what start-up leaves alive
    is moved out of the garbage collector's sight once the app has started: the
    modules, the mappers and the compiled statements live as long as the process,
    and walking them on every full collection paused some answers by ~10 ms.
    """
    if runtime is None:
        runtime = build_runtime(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = []
        for hook in app.state.startup:
            stop = await hook(app, runtime, run_scheduler)
            if stop is not None:
                started.append(stop)
        if freeze_heap:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            for stop in reversed(started):
                await stop()

    app = FastAPI(
        title="Cobra",
        description="Cobranza y pagos por WhatsApp y Telegram",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    app.state.startup = []
    app.state.run_scheduler = run_scheduler

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        if ping(runtime.db):
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "database unavailable"}, status_code=503)

    install_features(app, runtime)
    return app


def install_features(app: FastAPI, runtime: Runtime) -> None:
    """Each feature adds its routes and, through `app.state.startup`, its
    lifespan hooks: async (app, runtime, run_scheduler) -> async stopper or None."""
    from bot import whatsapp

    whatsapp.install(app, runtime)
    from bot import portal

    portal.install(app, runtime)
    from bot import financing_web

    financing_web.install(app, runtime)
    from bot import sat_web

    sat_web.install(app, runtime)
    from bot import stp

    stp.install(app, runtime)
    from bot import telegram

    telegram.install(app, runtime)
    from bot import api

    api.install(app, runtime)
    from bot import scheduler

    scheduler.install(app, runtime)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
