"""WhatsApp through Twilio: the message and status webhooks, media download, TwiML
answers, and `TwilioSender`, which delivers the outbox through Twilio's REST API.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import mimetypes
import re
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import httpx
import requests
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from bot.runtime import Runtime
from bot.settings import Settings
from flows import ratelimit
from flows.channels import Admission, admit, record_delivery_status
from flows.errors import InvalidInput, ProviderError
from flows.fmt import mask_phone, normalize_phone
from flows.messages import (
    WHATSAPP_MAX_TEXT,
    Channel,
    Inbound,
    Media,
    Outbound,
    Reply,
    split_text,
)
from flows.outbox import Attachment, RenderedMessage
from storage.db import transaction

log = logging.getLogger(__name__)
T = TypeVar("T")

MESSAGE_PATH = "/webhooks/whatsapp"
STATUS_PATH = "/webhooks/whatsapp/status"
TWIML = "application/xml"
MAX_MEDIA_ITEMS = 10
MAX_MEDIA_BYTES = 20 * 1024 * 1024
PROVIDER_TIMEOUT = 15.0

# Keys of `Runtime.extras` that tests and deployments may set.
MEDIA_DIR = "channels.media_dir"
RATE_LIMIT = "channels.rate_limit"
CLOCK = "channels.clock"
DB_LIMITER = "channels.db_limiter"
# Threads left for the scheduler, the outbox and the web pages.
DB_SPARE_CONNECTIONS = 4
DEFAULT_MEDIA_DIR = Path("var/media")
OUTGOING = "outgoing"
OUTGOING_PATH = "/webhooks/whatsapp/media"
# Limitation: files sent with WhatsApp messages stay on disk after they expire;
# they are only refused after a day. Clearing the folder is left to the operator.
OUTGOING_TTL = dt.timedelta(days=1)


@dataclass(frozen=True)
class ChannelOptions:
    """What both chat channels take from the runtime besides the settings."""

    media_dir: Path
    limit: ratelimit.Limit
    clock: Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def options_of(runtime: Runtime) -> ChannelOptions:
    return ChannelOptions(
        media_dir=Path(runtime.extras.get(MEDIA_DIR, DEFAULT_MEDIA_DIR)),
        limit=runtime.extras.get(RATE_LIMIT, ratelimit.DEFAULT_LIMIT),
        clock=runtime.extras.get(CLOCK, utcnow),
    )


async def in_database(runtime: Runtime, work: Callable[..., T], *args: Any) -> T:
    """Run blocking database work for a webhook.

    On SQLite the work runs right here, on the event loop: the database takes
    one writer at a time anyway, and a worker thread would only add a thread
    hop and a fight for the interpreter lock on every statement, which tripled
    the slowest answers. PostgreSQL takes several at once, from worker threads.
    """
    if runtime.db.dialect.name == "sqlite":
        # Limitation: while a turn waits (for SQLite's write lock held by an
        # import, or for the PAC or the language model it calls), every other
        # request of this process waits too. PostgreSQL, the production
        # database, runs turns in worker threads and has no such wait.
        return work(*args)
    limiter = runtime.extras.get(DB_LIMITER)
    if limiter is None:
        turns = max(1, runtime.settings.database_pool_size - DB_SPARE_CONNECTIONS)
        limiter = runtime.extras[DB_LIMITER] = anyio.CapacityLimiter(turns)
    return await anyio.to_thread.run_sync(partial(work, *args), limiter=limiter)


def install(app: FastAPI, runtime: Runtime) -> None:
    router = APIRouter()
    router.add_api_route(MESSAGE_PATH, handle_message, methods=["POST"])
    router.add_api_route(STATUS_PATH, handle_status, methods=["POST"])
    router.add_api_route(OUTGOING_PATH + "/{name}", serve_outgoing, methods=["GET"])
    app.include_router(router)


# Webhooks: verify, then dispatch.


async def handle_message(request: Request) -> Response:
    """An inbound WhatsApp message; the answer to the sender is the TwiML body."""
    runtime: Runtime = request.app.state.runtime
    form = await request.form()
    if not signature_is_valid(runtime.settings, request, form):
        return Response(status_code=403)

    raw_sender = str(form.get("From") or "")
    if not raw_sender:
        return Response(status_code=400)
    sender = sender_address(raw_sender)
    message_sid = str(form.get("MessageSid") or "") or None
    options = options_of(runtime)
    now = options.clock()

    if not _has_media(form):
        # The common case: the rate limit and the conversation share one
        # transaction (and one trip to the database's worker).
        inbound = inbound_from_form(form, sender=sender, now=now)
        gate = partial(_gate, sender=sender, now=now, limit=options.limit)
        reply = await in_database(runtime, _handle_gated, runtime, inbound, gate)
        return await _answer(runtime, options, reply)

    admission = await in_database(
        runtime, _admit, runtime, sender, message_sid, now, options.limit
    )
    if admission == Admission.DROP:
        return twiml(Reply())
    if admission == Admission.WARN:
        return twiml(Reply().say(ratelimit.SLOW_DOWN))

    media: tuple[Media, ...] = ()
    if admission == Admission.ALLOW:
        media = await download_media(
            runtime.settings, form, message_sid, options.media_dir
        )
    inbound = inbound_from_form(form, sender=sender, now=now, media=media)
    reply = await in_database(runtime, runtime.engine.handle, inbound)
    return await _answer(runtime, options, reply)


def _has_media(form: FormData) -> bool:
    try:
        return int(str(form.get("NumMedia") or "0")) > 0
    except ValueError:
        return False


def _handle_gated(
    runtime: Runtime, inbound: Inbound, gate: Callable[[Session], Reply | None]
) -> Reply:
    return runtime.engine.handle(inbound, gate=gate)


def _gate(
    session: Session, *, sender: str, now: dt.datetime, limit: ratelimit.Limit
) -> Reply | None:
    """The sender's limit, counted once the engine knows this is no replay."""
    verdict = admit(
        session,
        channel=Channel.WHATSAPP,
        sender=sender,
        provider_message_id=None,
        now=now,
        limit=limit,
    )
    if verdict == Admission.DROP:
        return Reply()
    if verdict == Admission.WARN:
        return Reply().say(ratelimit.SLOW_DOWN)
    return None


async def _answer(runtime: Runtime, options: ChannelOptions, reply: Reply) -> Response:
    def host(content_type: str, content: bytes) -> str:
        name = host_file(options.media_dir, content_type, content)
        return runtime.settings.public_base_url.rstrip("/") + f"{OUTGOING_PATH}/{name}"

    if any(m.documents or m.images for m in reply.messages):
        body = await run_in_threadpool(render_twiml, reply, host=host)
    else:
        body = render_twiml(reply)
    return Response(content=body, media_type=TWIML)


async def handle_status(request: Request) -> Response:
    """Twilio's delivery report for a message Cobra sent."""
    runtime: Runtime = request.app.state.runtime
    form = await request.form()
    if not signature_is_valid(runtime.settings, request, form):
        return Response(status_code=403)

    message_sid = str(form.get("MessageSid") or "")
    status = str(form.get("MessageStatus") or "")
    if not message_sid or not status:
        return Response(status_code=400)
    error_code = str(form.get("ErrorCode") or "") or None
    now = options_of(runtime).clock()

    def record() -> None:
        with transaction(runtime.factory) as session:
            record_delivery_status(
                session,
                provider_id=message_sid,
                status=status,
                now=now,
                error_code=error_code,
            )

    await in_database(runtime, record)
    return Response(status_code=204)


def signature_is_valid(settings: Settings, request: Request, form: FormData) -> bool:
    """Twilio's `X-Twilio-Signature` over `PUBLIC_BASE_URL` + path and the form."""
    if settings.twilio_auth_token is None:
        log.warning(
            "whatsapp webhook refused: TWILIO_AUTH_TOKEN is not set",
            extra={"path": request.url.path},
        )
        return False
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        log.warning("whatsapp webhook refused: no signature", extra={})
        return False
    url = settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    algorithm = get_signature_algorithm(
        request.headers.get("X-Twilio-Webhooks-Signature-Settings")
    )
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    if not validator.validate(url, form, signature, algorithm):
        log.warning(
            "whatsapp webhook refused: bad signature", extra={"path": request.url.path}
        )
        return False
    return True


def _admit(
    runtime: Runtime,
    sender: str,
    message_sid: str | None,
    now: dt.datetime,
    limit: ratelimit.Limit,
) -> Admission:
    with transaction(runtime.factory) as session:
        return admit(
            session,
            channel=Channel.WHATSAPP,
            sender=sender,
            provider_message_id=message_sid,
            now=now,
            limit=limit,
        )


# From Twilio's form to an Inbound.


def sender_address(raw: str) -> str:
    """`whatsapp:+5215512345678` as Cobra's E.164 (`+525512345678`)."""
    try:
        return normalize_phone(raw.removeprefix("whatsapp:"))
    except InvalidInput:
        # Not a phone (a test number, a short code): kept as is, and unknown.
        return raw.removeprefix("whatsapp:")[:64]


def inbound_from_form(
    form: Mapping[str, Any],
    *,
    sender: str,
    now: dt.datetime,
    media: tuple[Media, ...] = (),
) -> Inbound:
    text = str(form.get("Body") or "")
    payload = str(form.get("ButtonPayload") or "") or None
    if not text and payload is not None:
        text = str(form.get("ButtonText") or payload)
    return Inbound(
        channel=Channel.WHATSAPP,
        sender=sender,
        text=text,
        received_at=now,
        provider_message_id=str(form.get("MessageSid") or "") or None,
        button_payload=payload,
        media=media,
        display_name=str(form.get("ProfileName") or "") or None,
    )


async def download_media(
    settings: Settings,
    form: Mapping[str, Any],
    message_sid: str | None,
    media_dir: Path,
) -> tuple[Media, ...]:
    """Fetch the message's files with the account's credentials and keep them."""
    try:
        count = min(int(str(form.get("NumMedia") or "0")), MAX_MEDIA_ITEMS)
    except ValueError:
        count = 0
    if count <= 0:
        return ()

    items: list[Media] = []
    stem = _safe_name(message_sid or uuid.uuid4().hex)
    async with httpx.AsyncClient(
        auth=_media_auth(settings),
        timeout=PROVIDER_TIMEOUT,
        follow_redirects=True,
    ) as client:
        for index in range(count):
            url = str(form.get(f"MediaUrl{index}") or "")
            content_type = str(form.get(f"MediaContentType{index}") or "")
            if not url:
                continue
            path = media_dir / "whatsapp" / f"{stem}-{index}{_extension(content_type)}"
            stored = await _fetch_to(client, settings, url, path)
            items.append(
                Media(
                    url=url,
                    content_type=content_type or "application/octet-stream",
                    stored_path=str(path) if stored else None,
                )
            )
    return tuple(items)


def _media_auth(settings: Settings) -> tuple[str, str] | None:
    if not settings.twilio_account_sid or settings.twilio_auth_token is None:
        return None
    return (settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())


def media_host_allowed(settings: Settings, url: str) -> bool:
    """The account's credentials go only to Twilio (or the host standing in for it)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "twilio.com" or host.endswith(".twilio.com"):
        return True
    return host == (urlsplit(settings.twilio_api_base_url).hostname or "").lower()


async def _fetch_to(
    client: httpx.AsyncClient, settings: Settings, url: str, path: Path
) -> bool:
    if not media_host_allowed(settings, url):
        log.warning("media url outside twilio not fetched", extra={})
        return False
    try:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                log.warning(
                    "media download failed", extra={"status": response.status_code}
                )
                return False
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data.extend(chunk)
                if len(data) > MAX_MEDIA_BYTES:
                    log.warning("media too large, not kept", extra={})
                    return False
    except httpx.HTTPError as exc:
        log.warning("media download failed", extra={"error": type(exc).__name__})
        return False

    await run_in_threadpool(write_file, path, bytes(data))
    return True


def write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _safe_name(raw: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "", raw)[:64] or uuid.uuid4().hex


def _extension(content_type: str) -> str:
    base = content_type.split(";")[0].strip().lower()
    known = {"image/jpeg": ".jpg", "application/pdf": ".pdf", "image/png": ".png"}
    return known.get(base) or mimetypes.guess_extension(base) or ".bin"


# From a Reply to TwiML.


def twiml(reply: Reply) -> Response:
    return Response(content=render_twiml(reply), media_type=TWIML)


def render_twiml(
    reply: Reply, *, host: Callable[[str, bytes], str] | None = None
) -> str:
    """One `<Message>` per outbound message and one per file (WhatsApp carries a
    single file per message); without `host`, files are named instead of sent."""
    response = MessagingResponse()
    for message in reply.messages:
        body = message_body(message, name_files=host is None)
        if body:
            for piece in split_text(body, WHATSAPP_MAX_TEXT):
                response.message(piece)
        if host is None:
            continue
        for item in (*message.documents, *message.images):
            attached = response.message(item.caption or "")
            attached.media(host(item.content_type, item.content))
    return str(response.to_xml(xml_declaration=True))


def message_body(message: Outbound, *, name_files: bool = False) -> str:
    """The text, with its buttons as a typed-answer hint.

    Free-form WhatsApp messages cannot carry quick-reply buttons, so the person
    types the answer ("Sí" / "No"), which the engine understands as well as a tap.
    """
    hints: list[str] = []
    titles = [button.title for button in message.buttons]
    if titles:
        hints.append("Responde " + _or_list(titles) + ".")
    if name_files:
        for item in (*message.documents, *message.images):
            hints.append("📎 " + item.filename)
    return "\n\n".join(part for part in (message.text, "\n".join(hints)) if part)


def host_file(media_dir: Path, content_type: str, content: bytes) -> str:
    """Keep a file under an unguessable name for Twilio to fetch; returns the name."""
    name = secrets.token_urlsafe(24) + _extension(content_type)
    write_file(media_dir / OUTGOING / name, content)
    return name


def _or_list(titles: Sequence[str]) -> str:
    quoted = [f"«{title}»" for title in titles]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " o " + quoted[-1]


# The outbox's sender.


class TwilioSender:
    """Sends outbox messages on WhatsApp: free text inside the 24-hour window,
    an approved template (content SID and variables) outside it."""

    channel = str(Channel.WHATSAPP)

    def __init__(
        self,
        settings: Settings,
        *,
        media_dir: Path = DEFAULT_MEDIA_DIR,
        client: Client | None = None,
    ) -> None:
        if not settings.twilio_enabled:
            raise ValueError("Twilio is not configured")
        assert settings.twilio_auth_token is not None
        self.settings = settings
        self.media_dir = media_dir
        self.client = client or Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=TwilioHttpClient(timeout=PROVIDER_TIMEOUT),
            environment={},
        )
        # Every REST call goes to `TWILIO_API_BASE_URL` (the real API by default).
        self.client.api.base_url = settings.twilio_api_base_url.rstrip("/")

    def send(self, message: RenderedMessage) -> str:
        """Send one message and return Twilio's MessageSid."""
        params: dict[str, Any] = {
            "to": whatsapp_address(message.recipient),
            "from_": whatsapp_address(self.settings.twilio_whatsapp_from or ""),
            "status_callback": self.public_url(STATUS_PATH),
        }
        if message.template_required:
            params.update(self._template(message))
            return self._create(message, params)

        # WhatsApp carries one file per message and 1,600 characters: the first
        # file rides with the text's first piece, whose id is the one the outbox
        # keeps; the rest of the text and any other files follow on their own.
        # Parts that an earlier attempt delivered are not sent again.
        attachments = message.attachments
        body = message_body(Outbound(text=message.text, buttons=message.buttons))
        first_piece, *pieces = split_text(body, WHATSAPP_MAX_TEXT)
        parts: list[dict[str, Any]] = [{"body": first_piece}]
        parts += [{"body": piece} for piece in pieces]
        parts += [{} for _ in attachments[1:]]
        delivered: list[str] = []
        for index, part in enumerate(parts):
            if index < message.parts_sent:
                continue
            # Files are hosted only when their part goes out.
            if index == 0 and attachments:
                part["media_url"] = [self._file_url(attachments[0])]
            elif index > len(pieces):
                part["media_url"] = [self._file_url(attachments[index - len(pieces)])]
            try:
                delivered.append(self._create(message, {**params, **part}))
            except ProviderError as exc:
                exc.delivered = tuple(delivered)
                raise
        return delivered[0] if delivered else ""

    def _create(self, message: RenderedMessage, params: dict[str, Any]) -> str:
        try:
            created = self.client.messages.create(**params)
        except TwilioRestException as exc:
            temporary = exc.status >= 500 or exc.status == 429
            log.warning(
                "twilio refused a message",
                extra={
                    "status": exc.status,
                    "code": exc.code,
                    "recipient": mask_phone(message.recipient),
                },
            )
            raise ProviderError(
                f"WhatsApp no aceptó el mensaje (código {exc.code}).",
                temporary=temporary,
            ) from exc
        except requests.exceptions.ReadTimeout as exc:
            # The request went out and no answer came: it may have been sent.
            raise ProviderError(
                "WhatsApp no contestó; el mensaje pudo haber llegado.", uncertain=True
            ) from exc
        except (TwilioException, OSError) as exc:
            # requests' connection errors and timeouts are OSErrors.
            raise ProviderError("No se pudo contactar a WhatsApp.") from exc

        log.info(
            "whatsapp message sent",
            extra={
                "outbox_id": message.outbox_id,
                "recipient": mask_phone(message.recipient),
                "template": message.whatsapp_template
                if message.template_required
                else None,
            },
        )
        return str(created.sid)

    def close(self) -> None:
        session = getattr(self.client.http_client, "session", None)
        if session is not None:
            session.close()

    def _file_url(self, item: Attachment) -> str:
        name = host_file(self.media_dir, item.content_type, item.content)
        return self.public_url(OUTGOING_PATH + "/" + name)

    def public_url(self, path: str) -> str:
        return self.settings.public_base_url.rstrip("/") + path

    def _template(self, message: RenderedMessage) -> dict[str, Any]:
        name = message.whatsapp_template or ""
        content_sid = self.settings.whatsapp_template_sids.get(name)
        if not content_sid:
            raise ProviderError(
                "No hay una plantilla de WhatsApp aprobada para este mensaje.",
                temporary=False,
            )
        variables = {str(key): str(value) for key, value in message.variables.items()}
        return {
            "content_sid": content_sid,
            "content_variables": json.dumps(variables, ensure_ascii=False),
        }


def whatsapp_address(phone: str) -> str:
    return phone if phone.startswith("whatsapp:") else "whatsapp:" + phone


async def serve_outgoing(request: Request, name: str) -> Response:
    """A file sent with a WhatsApp message, fetched by Twilio by its secret name."""
    runtime: Runtime = request.app.state.runtime
    options = options_of(runtime)
    if not re.fullmatch(r"[A-Za-z0-9_-]{32}\.[a-z0-9]{1,5}", name):
        return Response(status_code=404)
    path = options.media_dir / OUTGOING / name
    if not path.is_file():
        return Response(status_code=404)
    modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    if options.clock() - modified > OUTGOING_TTL:
        return Response(status_code=404)
    return FileResponse(path)
