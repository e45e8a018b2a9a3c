"""The financing web form: a one-time link from the chat opens the same application.

Server-rendered from `prompts/financing/*.html.j2`; it fills or corrects answers,
and sending the application stays in the chat, where the owner confirms it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from bot.runtime import Runtime
from bot.token_pages import TokenPages
from flows import financing

log = logging.getLogger(__name__)

PATH = "/financiamiento/{token}"
CLOCK = "financing_web.clock"
PAGES = TokenPages("financing", CLOCK)


def install(app: FastAPI, runtime: Runtime) -> None:
    router = APIRouter()
    router.add_api_route(PATH, show_form, methods=["GET"])
    router.add_api_route(PATH, save_form, methods=["POST"])
    app.include_router(router)


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
    return PAGES.page(
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
    now = PAGES.now(runtime)
    with runtime.factory() as session, session.begin():
        application = financing.application_by_web_token(session, token=token, now=now)
        if application is None:
            return PAGES.expired()
        return _render_form(application, token, {})


async def save_form(token: str, request: Request) -> HTMLResponse:
    runtime: Runtime = request.app.state.runtime
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    if values.get("consent") == "on":
        values["consent"] = "Acepto"
    return await run_in_threadpool(_save, runtime, token, values)


def _save(runtime: Runtime, token: str, values: dict[str, str]) -> HTMLResponse:
    now = PAGES.now(runtime)
    with runtime.factory() as session, session.begin():
        application = financing.application_by_web_token(session, token=token, now=now)
        if application is None:
            return PAGES.expired()
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
        return PAGES.page("saved.html.j2", left=left)
