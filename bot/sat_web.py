"""The one-time web form where the owner uploads the e.firma or the CSD.

Server-rendered from `prompts/sat_web/*.html.j2`, readable without JavaScript; the
files and the password go straight to `flows.sat.upload_links` and never to a log.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from bot.runtime import Runtime
from bot.token_pages import TokenPages
from flows.errors import CobraError
from flows.fmt import short_date, zone
from flows.sat import upload_links
from flows.sat.credentials import CredentialKind, MissingSecretsKey
from storage.models import Business, SatUploadLink

log = logging.getLogger(__name__)

PATH = upload_links.PATH
CLOCK = "sat_web.clock"
PAGES = TokenPages("sat_web", CLOCK)
# Two small files, a password and the multipart framing; a bigger body is refused
# before it is read.
MAX_BODY_BYTES = 2 * upload_links.MAX_FILE_BYTES + 16 * 1024
PURPOSE = {
    CredentialKind.FIEL: (
        "Con tu e.firma Cobra descarga del SAT las facturas que emites y recibes."
    ),
    CredentialKind.CSD: (
        "Con tu CSD (sello digital) Cobra timbra tus facturas y complementos de pago."
    ),
}
TOO_LARGE = (
    "Los archivos pasan de {limit} KB; un .cer o un .key del SAT pesa unos pocos KB. "
    "Revisa que sean los correctos."
)


@dataclass(frozen=True)
class Upload:
    """What the form sent; the password lives only as long as the request."""

    certificate: bytes
    key: bytes
    password: str
    too_large: bool = False


def install(app: FastAPI, runtime: Runtime) -> None:
    router = APIRouter()
    router.add_api_route(PATH, show_form, methods=["GET"])
    router.add_api_route(PATH, upload, methods=["POST"])
    app.include_router(router)


def _configured(runtime: Runtime) -> bool:
    key = runtime.settings.secrets_key
    return key is not None and bool(key.get_secret_value())


def _render_form(
    business: Business,
    link: SatUploadLink,
    token: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    tz = zone(business.timezone)
    expires = _utc(link.expires_at).astimezone(tz)
    return PAGES.page(
        "form.html.j2",
        status=status,
        what=upload_links.kind_name(link),
        purpose=PURPOSE[CredentialKind(link.kind)],
        business=business.name,
        rfc=business.rfc,
        action=PATH.format(token=token),
        expires=f"{short_date(expires.date())} a las {expires:%H:%M}",
        error=error,
    )


async def show_form(token: str, request: Request) -> HTMLResponse:
    runtime: Runtime = request.app.state.runtime
    return await run_in_threadpool(_show, runtime, token)


def _show(runtime: Runtime, token: str) -> HTMLResponse:
    now = PAGES.now(runtime)
    with runtime.factory() as session, session.begin():
        link = upload_links.link_by_token(session, token=token, now=now)
        if link is None:
            return PAGES.expired()
        if not _configured(runtime):
            return PAGES.page("not_configured.html.j2", status=503)
        business = session.get(Business, link.business_id)
        if business is None:
            return PAGES.expired()
        return _render_form(business, link, token)


async def upload(token: str, request: Request) -> HTMLResponse:
    runtime: Runtime = request.app.state.runtime
    sent = await _read_upload(request)
    return await run_in_threadpool(_store, runtime, token, sent)


async def _read_upload(request: Request) -> Upload:
    """The form's two files and password, without reading more than the limit."""
    # Limitation: a body without Content-Length (chunked) is refused as too large
    # rather than read up to the limit; browsers always declare a form's length.
    try:
        length = int(request.headers.get("content-length", ""))
    except ValueError:
        length = MAX_BODY_BYTES + 1
    if length > MAX_BODY_BYTES:
        return Upload(b"", b"", "", too_large=True)
    try:
        form = await request.form(max_files=2, max_fields=4, max_part_size=4096)
    except MultiPartException:
        return Upload(b"", b"", "", too_large=True)
    try:
        certificate = await _file_bytes(form.get("cer"))
        key = await _file_bytes(form.get("key"))
        password = form.get("password")
        return Upload(certificate, key, password if isinstance(password, str) else "")
    finally:
        await form.close()


async def _file_bytes(value: object) -> bytes:
    if not isinstance(value, UploadFile):
        return b""
    return await value.read(upload_links.MAX_FILE_BYTES + 1)


def _store(runtime: Runtime, token: str, sent: Upload) -> HTMLResponse:
    now = PAGES.now(runtime)
    with runtime.factory() as session, session.begin():
        link = upload_links.link_by_token(session, token=token, now=now)
        if link is None:
            return PAGES.expired()
        if not _configured(runtime):
            return PAGES.page("not_configured.html.j2", status=503)
        business = session.get(Business, link.business_id)
        if business is None:
            return PAGES.expired()
        if sent.too_large:
            limit = upload_links.MAX_FILE_BYTES // 1024
            error = TOO_LARGE.format(limit=limit)
            return _render_form(business, link, token, error=error, status=413)

        try:
            info = upload_links.upload_credential(
                session,
                link=link,
                certificate=sent.certificate,
                key=sent.key,
                password=sent.password,
                secrets_key=runtime.settings.secrets_key,
                channel="web",
                now=now,
            )
        except MissingSecretsKey:
            return PAGES.page("not_configured.html.j2", status=503)
        except CobraError as exc:
            log.info(
                "sat credential upload refused",
                extra={"business_id": business.id, "kind": link.kind},
            )
            return _render_form(business, link, token, error=exc.message, status=422)

        today = now.astimezone(zone(business.timezone)).date()
        return PAGES.page(
            "stored.html.j2",
            what=info.what,
            rfc=info.rfc,
            certificate_number=info.certificate_number,
            valid_from=short_date(info.valid_from.date(), today=today),
            valid_until=short_date(info.valid_until.date(), today=today),
        )


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
