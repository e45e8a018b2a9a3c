"""The financing web form: a one-time link from the chat opens the same application.

Server-rendered from `prompts/financing/*.html.j2`; it fills or corrects answers,
and sending the application stays in the chat, where the owner confirms it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.runtime import Runtime
from flows import financing

log = logging.getLogger(__name__)

PATH = "/financiamiento/{token}"
CLOCK = "financing_web.clock"
TEMPLATES = Path(__file__).resolve().parent.parent / "prompts" / "financing"
# The token is in the address: keep it out of caches and other sites' logs.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def install(app: FastAPI, runtime: Runtime) -> None:
    router = APIRouter()
    router.add_api_route(PATH, show_form, methods=["GET"])
    router.add_api_route(PATH, save_form, methods=["POST"])
    app.include_router(router)


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
    )


def _clock(runtime: Runtime) -> Callable[[], dt.datetime]:
    clock: Callable[[], dt.datetime] = runtime.extras.get(
        CLOCK, lambda: dt.datetime.now(dt.UTC)
    )
    return clock


def _page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = environment().get_template(name).render(**values)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _fields(application: Any, errors: dict[str, str]) -> list[dict[str, Any]]:
    """Each question with what the form shows: sensitive answers only masked."""
    answers = application.answers or {}
    rows = []
    for question in financing.QUESTIONS:
        if question.key == "consent":
            continue
        value = answers.get(question.key)
        shown = "" if value is None else str(value)
        rows.append(
            {
                "key": question.key,
                "label": question.label,
                "value": "" if question.sensitive else shown,
                "hint": financing.shown_value(question.key, value)
                if question.sensitive and value
                else "",
                "error": errors.get(question.key),
            }
        )
    return rows


def _render_form(application: Any, token: str, errors: dict[str, str]) -> HTMLResponse:
    return _page(
        "form.html.j2",
        status=422 if errors else 200,
        business=application.business.name,
        action=PATH.format(token=token),
        fields=_fields(application, errors),
        consent_text=financing.CONSENT_TEXT,
        consented=bool((application.answers or {}).get("consent")),
        consent_error=errors.get("consent"),
    )


async def show_form(token: str, request: Request) -> HTMLResponse:
    runtime: Runtime = request.app.state.runtime
    return await run_in_threadpool(_show, runtime, token)


def _show(runtime: Runtime, token: str) -> HTMLResponse:
    now = _clock(runtime)()
    with runtime.factory() as session, session.begin():
        application = financing.application_by_web_token(session, token=token, now=now)
        if application is None:
            return _page("expired.html.j2", status=404)
        return _render_form(application, token, {})


async def save_form(token: str, request: Request) -> HTMLResponse:
    runtime: Runtime = request.app.state.runtime
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    if values.get("consent") == "on":
        values["consent"] = "Acepto"
    return await run_in_threadpool(_save, runtime, token, values)


def _save(runtime: Runtime, token: str, values: dict[str, str]) -> HTMLResponse:
    now = _clock(runtime)()
    with runtime.factory() as session, session.begin():
        application = financing.application_by_web_token(session, token=token, now=now)
        if application is None:
            return _page("expired.html.j2", status=404)
        errors = financing.save_web_answers(
            session, application=application, form=values, now=now
        )
        if errors:
            return _render_form(application, token, errors)
        log.info(
            "financing application saved from the web form",
            extra={"application_id": application.id},
        )
        left = len(financing.missing(application))
        return _page("saved.html.j2", left=left)
