"""Telegram through python-telegram-bot in webhook mode, inside the web app's lifespan:
the webhook, staff commands, inline-keyboard confirmations, files both ways, and
`TelegramSender`, which delivers the outbox through the Bot API.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.runtime import Runtime
from bot.settings import Settings
from bot.whatsapp import ChannelOptions, in_database, options_of, write_file
from flows import ratelimit
from flows.business import link_telegram
from flows.channels import (
    Admission,
    admit,
    already_handled,
    queue_unsent_answer,
    record_handled,
    telegram_account_linked,
)
from flows.errors import NotFound, ProviderError
from flows.messages import (
    TELEGRAM_MAX_TEXT,
    Button,
    Channel,
    Inbound,
    Media,
    Outbound,
    Reply,
    split_text,
)
from flows.outbox import RenderedMessage
from storage.db import transaction

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PROVIDER_TIMEOUT = 15.0
READ_TIMEOUT = 10.0  # seconds to wait for the Bot API's answer to one call
MAX_CALLBACK_DATA = 64  # bytes, the Bot API's limit
MAX_CAPTION = 1024  # characters of a file's caption, the Bot API's limit
Files = dict[str, tuple[str, bytes, str]]  # a call's field -> (name, content, type)

COMMANDS: dict[str, str] = {
    "saldo": "Cuánto te deben, o un cliente: /saldo Acme",
    "facturas": "Facturas por cobrar, o las de un cliente",
    "vencidas": "Facturas vencidas",
    "cobrar": "Registrar un cobro: /cobrar A-102 5000",
    "link": "Mandar el link de pago: /link Acme",
    "recordar": "Mandar su estado de cuenta: /recordar Acme, /recordar vencidos",
    "pagar": "Qué tienes que pagar a proveedores",
    "recordatorios": "Los recordatorios a clientes",
    "ayuda": "Todo lo que puedo hacer",
}
HOW_TO_LINK = (
    "Hola 👋 Para usar Cobra aquí, pide a la persona dueña del negocio tu código "
    "de acceso y mándamelo así: /start CÓDIGO\n\n"
    "Mientras tu cuenta no esté vinculada no puedo darte información."
)
LINKED = (
    "¡Listo! Tu cuenta de Telegram quedó vinculada a {business}. "
    "Escribe /ayuda para ver lo que puedo hacer."
)
USAGE = {
    "cobrar": "Dime qué factura se cobró, por ejemplo: /cobrar A-102 5000",
    "link": "Dime a qué cliente le mando el link, por ejemplo: /link Acme",
    "recordar": "Dime a qué cliente le recuerdo, por ejemplo: /recordar Acme",
}


def command_text(command: str, args: Sequence[str]) -> str | None:
    """The Spanish sentence the engine understands for a command; None when the
    command lacks what it needs (see `USAGE`)."""
    rest = " ".join(args).strip()
    if command == "saldo":
        return f"¿cuánto me debe {rest}?" if rest else "¿cuánto me deben?"
    if command == "facturas":
        return f"facturas de {rest}" if rest else "facturas por cobrar"
    if command == "vencidas":
        return f"facturas vencidas de {rest}" if rest else "vencidas"
    if command == "cobrar":
        if not args:
            return None
        invoice, amount = args[0], " ".join(args[1:]).strip()
        if amount:
            return f"marca pagada la {invoice} con {amount}"
        return f"marca pagada la {invoice}"
    if command == "link":
        return f"mándale el link de pago a {rest}" if rest else None
    if command == "recordar":
        return f"recuérdale a {rest}" if rest else None
    if command == "pagar":
        return "¿qué tengo que pagar esta semana?"
    if command == "recordatorios":
        return f"recordatorios {rest}".strip()
    return "ayuda"


def install(app: FastAPI, runtime: Runtime) -> None:
    app.state.telegram = None
    app.add_api_route(WEBHOOK_PATH, handle_update, methods=["POST"])
    app.state.startup.append(start_telegram)


async def start_telegram(
    app: FastAPI, runtime: Runtime, run_scheduler: bool
) -> Callable[[], Awaitable[None]] | None:
    """Lifespan hook: build the bot and register its commands; no polling."""
    if not runtime.settings.telegram_enabled:
        log.info("telegram disabled: TELEGRAM_BOT_TOKEN is not set", extra={})
        return None
    bot = TelegramBot(runtime)
    app.state.telegram = bot
    try:
        await bot.start()
    except TelegramError as exc:
        # The web app keeps serving; the first update tries to start the bot again.
        log.error("telegram bot did not start", extra={"error": type(exc).__name__})
    return bot.stop


# The webhook: verify, then dispatch.


async def handle_update(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    if not secret_is_valid(runtime.settings, request.headers.get(SECRET_HEADER)):
        return Response(status_code=403)
    bot: TelegramBot | None = request.app.state.telegram
    if bot is None:
        return Response(status_code=503)
    try:
        data = await request.json()
        update_id = int(data["update_id"])
    except (ValueError, TypeError, KeyError):
        return Response(status_code=400)

    # A retried delivery of an update already handled is acknowledged, nothing more:
    # its answer was sent, or left to the outbox when Telegram did not take it.
    seen = await in_database(runtime, _seen, runtime, update_id)
    if seen:
        log.info("telegram update replay ignored", extra={"update_id": update_id})
        return JSONResponse({})
    try:
        await bot.start()
        handled = await bot.process(data)
    except TelegramError as exc:
        log.error("telegram update failed", extra={"error": type(exc).__name__})
        handled = False
    # A failure answers 500 so that Telegram delivers the update again later.
    return JSONResponse({}) if handled else Response(status_code=500)


def secret_is_valid(settings: Settings, given: str | None) -> bool:
    """The webhook's secret header, compared in constant time; no secret, no entry."""
    if settings.telegram_webhook_secret is None:
        log.warning(
            "telegram webhook refused: TELEGRAM_WEBHOOK_SECRET is not set", extra={}
        )
        return False
    expected = settings.telegram_webhook_secret.get_secret_value().encode()
    if not hmac.compare_digest((given or "").encode(), expected):
        log.warning("telegram webhook refused: bad secret", extra={})
        return False
    return True


def provider_id(update_id: int) -> str:
    return f"tg-update:{update_id}"


def _seen(runtime: Runtime, update_id: int) -> bool:
    with runtime.factory() as session:
        return already_handled(
            session,
            channel=Channel.TELEGRAM,
            provider_message_id=provider_id(update_id),
        )


class TelegramBot:
    """The python-telegram-bot Application, fed by the webhook instead of polling."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        assert settings.telegram_bot_token is not None
        base = settings.telegram_api_base_url.rstrip("/")
        self.runtime = runtime
        self.options: ChannelOptions = options_of(runtime)
        self.application = (
            Application.builder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(base + "/bot")
            .base_file_url(base + "/file/bot")
            .updater(None)
            .connection_pool_size(16)
            .pool_timeout(PROVIDER_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
        )
        private = filters.ChatType.PRIVATE
        self.application.add_handler(CommandHandler("start", self.on_start, private))
        self.application.add_handler(
            CommandHandler(list(COMMANDS), self.on_command, private)
        )
        self.application.add_handler(CallbackQueryHandler(self.on_button))
        self.application.add_handler(
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, self.on_text)
        )
        files = filters.PHOTO | filters.Document.ALL | filters.VOICE | filters.AUDIO
        self.application.add_handler(MessageHandler(private & files, self.on_file))
        self.application.add_handler(
            MessageHandler(private & filters.COMMAND, self.on_unknown_command)
        )
        # Limitation: group chats are ignored; balances and customers' names are
        # for the person who asks, not for everyone in a group.
        self.application.add_error_handler(self.on_error)
        self._failed: dict[int, BaseException] = {}
        self._started = False
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Initialize once: check the token (getMe), register the commands, and
        point Telegram at the webhook when the public address is HTTPS."""
        if self._started:
            return
        async with self._lock:
            if self._started:
                return
            await self.application.initialize()
            bot = self.application.bot
            await bot.set_my_commands(
                [BotCommand(name, about) for name, about in COMMANDS.items()]
            )
            settings = self.runtime.settings
            secret = settings.telegram_webhook_secret
            if settings.public_base_url.startswith("https://") and secret is not None:
                await bot.set_webhook(
                    settings.public_base_url.rstrip("/") + WEBHOOK_PATH,
                    secret_token=secret.get_secret_value(),
                    allowed_updates=["message", "callback_query"],
                )
            else:
                log.warning(
                    "telegram webhook not registered: needs an https PUBLIC_BASE_URL "
                    "and TELEGRAM_WEBHOOK_SECRET",
                    extra={},
                )
            self._started = True
            log.info("telegram bot ready", extra={"username": bot.username})

    async def stop(self) -> None:
        if self._started:
            await self.application.shutdown()
            self._started = False

    async def process(self, data: dict[str, Any]) -> bool:
        """Hand one update to its handler; False when handling it failed."""
        update = Update.de_json(data, self.application.bot)
        await self.application.process_update(update)
        return self._failed.pop(update.update_id, None) is None

    async def on_error(
        self, update: object, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        if isinstance(update, Update):
            self._failed[update.update_id] = context.error or RuntimeError()
        # The error's type only: Bot API errors may quote request URLs with the token.
        log.error(
            "telegram handler failed", extra={"error": type(context.error).__name__}
        )

    # Handlers, one per kind of update.

    async def on_start(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        code = context.args[0] if context.args else ""
        if not code:
            await self.converse(update, context, "hola")
            return
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None
        admission = await in_database(self.runtime, self._admit, update)
        if admission in (Admission.REPLAY, Admission.DROP):
            return
        if admission == Admission.WARN:
            await context.bot.send_message(chat.id, ratelimit.SLOW_DOWN)
            return
        text = await in_database(
            self.runtime, self._link, update.update_id, user.id, code
        )
        await self.answer(context, update.update_id, chat.id, Reply().say(text))

    async def on_command(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        assert update.message is not None and update.message.text is not None
        command = update.message.text.split()[0].lstrip("/").split("@")[0].lower()
        args = list(context.args or [])
        text = command_text(command, args)
        if text is None:
            await self.converse(update, context, "/" + command, usage=USAGE[command])
            return
        await self.converse(update, context, text)

    async def on_unknown_command(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        await self.converse(update, context, "ayuda")

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await self.converse(update, context, update.message.text or "")

    async def on_file(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        assert message is not None
        if message.photo:
            wanted = (message.photo[-1].file_id, "image/jpeg", ".jpg")
        elif message.voice or message.audio:
            sound = message.voice or message.audio
            assert sound is not None
            wanted = (sound.file_id, sound.mime_type or "audio/ogg", ".ogg")
        else:
            assert message.document is not None
            document = message.document
            content_type = document.mime_type or "application/octet-stream"
            suffix = ".pdf" if content_type == "application/pdf" else ".bin"
            wanted = (document.file_id, content_type, suffix)
        await self.converse(update, context, message.caption or "", files=[wanted])

    async def on_button(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        title = _button_title(query.message, query.data)
        if query.message is not None:
            # The question is answered: its buttons go, so a second tap does nothing.
            try:
                await query.edit_message_reply_markup(reply_markup=None)
            except TelegramError:
                log.info("could not remove answered buttons", extra={})
        await self.converse(
            update, context, title or query.data or "", button_payload=query.data
        )

    # One message through the engine.

    async def converse(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        text: str,
        *,
        button_payload: str | None = None,
        files: Sequence[tuple[str, str, str]] = (),
        usage: str | None = None,
    ) -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return
        admission, linked = await in_database(self.runtime, self._gate, update)
        if admission in (Admission.REPLAY, Admission.DROP):
            return
        if admission == Admission.WARN:
            await context.bot.send_message(chat.id, ratelimit.SLOW_DOWN)
            return
        if not linked:
            await context.bot.send_message(chat.id, HOW_TO_LINK)
            return
        if usage is not None:
            await context.bot.send_message(chat.id, usage)
            return

        media = tuple(
            [await self._download(context, update.update_id, *item) for item in files]
        )
        inbound = Inbound(
            channel=Channel.TELEGRAM,
            sender=str(user.id),
            text=text,
            received_at=self.options.clock(),
            provider_message_id=provider_id(update.update_id),
            button_payload=button_payload,
            media=media,
            display_name=user.full_name,
        )
        reply = await in_database(self.runtime, self.runtime.engine.handle, inbound)
        if reply.replayed:
            # Another delivery of this update got past the checks above while the
            # first was still being handled: that one sends the answer.
            log.info("telegram update replay not answered again", extra={})
            return
        await self.answer(context, update.update_id, chat.id, reply)

    async def answer(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        update_id: int,
        chat_id: int,
        reply: Reply,
    ) -> None:
        """Send an answer already committed; what Telegram does not take now is
        left to the outbox, since a retry of the update counts as handled."""
        unsent = await send_reply(context.bot, chat_id, reply)
        if unsent:
            await in_database(
                self.runtime, self._leave_to_outbox, update_id, chat_id, unsent
            )

    def _admit(self, update: Update) -> Admission:
        assert update.effective_user is not None
        with transaction(self.runtime.factory) as session:
            return admit(
                session,
                channel=Channel.TELEGRAM,
                sender=str(update.effective_user.id),
                provider_message_id=provider_id(update.update_id),
                now=self.options.clock(),
                limit=self.options.limit,
            )

    def _gate(self, update: Update) -> tuple[Admission, bool]:
        assert update.effective_user is not None
        with transaction(self.runtime.factory) as session:
            admission = admit(
                session,
                channel=Channel.TELEGRAM,
                sender=str(update.effective_user.id),
                provider_message_id=provider_id(update.update_id),
                now=self.options.clock(),
                limit=self.options.limit,
            )
            linked = telegram_account_linked(
                session, telegram_user_id=update.effective_user.id
            )
            return admission, linked

    def _leave_to_outbox(
        self, update_id: int, chat_id: int, parts: list[Outbound]
    ) -> None:
        """The unsent parts of an answer, queued for the outbox to retry."""
        with transaction(self.runtime.factory) as session:
            queue_unsent_answer(
                session,
                channel=Channel.TELEGRAM,
                recipient=str(chat_id),
                provider_message_id=provider_id(update_id),
                parts=parts,
                now=self.options.clock(),
            )

    def _link(self, update_id: int, telegram_user_id: int, code: str) -> str:
        """`/start CODE`: bind the account, recorded so a retry acts once."""
        now = self.options.clock()
        with transaction(self.runtime.factory) as session:
            business_id = None
            try:
                with session.begin_nested():
                    user = link_telegram(
                        session, code=code, telegram_user_id=telegram_user_id, now=now
                    )
                    answer = LINKED.format(business=user.business.name)
                    business_id = user.business_id
            except NotFound as exc:
                answer = exc.message + "\n\n" + HOW_TO_LINK
            record_handled(
                session,
                channel=Channel.TELEGRAM,
                provider_message_id=provider_id(update_id),
                sender=str(telegram_user_id),
                text="/start",  # the code itself is a secret and is not kept
                reply_text=answer,
                now=now,
                business_id=business_id,
            )
        log.info("telegram link attempt", extra={"linked": business_id is not None})
        return answer

    async def _download(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        update_id: int,
        file_id: str,
        content_type: str,
        suffix: str,
    ) -> Media:
        """Fetch a file a person sent and keep it with the message."""
        path = (
            self.options.media_dir / "telegram" / f"{update_id}-{file_id[:40]}{suffix}"
        )
        try:
            remote = await context.bot.get_file(file_id)
            content = bytes(await remote.download_as_bytearray())
        except TelegramError as exc:
            log.warning(
                "telegram file download failed", extra={"error": type(exc).__name__}
            )
            return Media(url=f"telegram:{file_id}", content_type=content_type)
        await run_in_threadpool(write_file, path, content)
        return Media(
            url=f"telegram:{file_id}", content_type=content_type, stored_path=str(path)
        )


def _button_title(message: Any, data: str | None) -> str | None:
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", ()) or ():
        for button in row:
            if button.callback_data == data:
                return str(button.text)
    return None


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """Quick replies as one row of inline buttons; their payload comes back as
    the callback query's data."""
    usable = [b for b in buttons if len(b.payload.encode()) <= MAX_CALLBACK_DATA]
    if len(usable) < len(buttons):
        log.warning("button payload too long for telegram, left out", extra={})
    if not usable:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.title, callback_data=b.payload) for b in usable]]
    )


def reply_parts(reply: Reply) -> list[Outbound]:
    """A reply as Bot API calls go: each text (in pieces Telegram takes, the
    keyboard on the last), then each of its files on its own."""
    parts: list[Outbound] = []
    for message in reply.messages:
        if message.text:
            *pieces, last = split_text(message.text, TELEGRAM_MAX_TEXT)
            parts += [Outbound(text=piece) for piece in pieces]
            parts.append(Outbound(text=last, buttons=message.buttons))
        parts += [Outbound(text="", documents=(d,)) for d in message.documents]
        parts += [Outbound(text="", images=(i,)) for i in message.images]
    return parts


async def send_reply(bot: Any, chat_id: int, reply: Reply) -> list[Outbound]:
    """Send each part of a reply; returns the parts left unsent by a failure that
    may pass (the network, Telegram's own errors, a flood wait), from the first
    one that failed. A part Telegram refuses is logged and skipped; a person who
    blocked the bot gets nothing more; a part whose answer never came (it may
    have arrived) is not sent again, only those after it."""
    parts = reply_parts(reply)
    for index, part in enumerate(parts):
        try:
            await _send_part(bot, chat_id, part)
        except Forbidden:
            log.warning("telegram chat closed to the bot; reply dropped", extra={})
            return []
        except TimedOut:
            # Telegram may have delivered it without saying so: it is not sent
            # again, so that nobody reads it twice; what follows it still goes.
            log.warning(
                "telegram did not answer in time; reply part not resent", extra={}
            )
            return parts[index + 1 :]
        except BadRequest as exc:
            log.warning("telegram refused a reply part", extra={"error": str(exc)})
        except (RetryAfter, NetworkError) as exc:
            log.warning(
                "telegram did not take a reply part",
                extra={"error": type(exc).__name__, "left": len(parts) - index},
            )
            return parts[index:]
    return []


async def _send_part(bot: Any, chat_id: int, part: Outbound) -> None:
    if part.text:
        await bot.send_message(chat_id, part.text, reply_markup=keyboard(part.buttons))
    for document in part.documents:
        await bot.send_document(
            chat_id,
            InputFile(document.content, filename=document.filename),
            caption=document.caption,
        )
    for image in part.images:
        await bot.send_photo(
            chat_id,
            InputFile(image.content, filename=image.filename),
            caption=image.caption,
        )


# The outbox's sender.


class TelegramSender:
    """Sends outbox messages through the Bot API (files first, then the text).

    It is synchronous, like the outbox's delivery pass, so it calls the Bot API
    with httpx directly instead of python-telegram-bot's asynchronous `Bot`.
    """

    channel = str(Channel.TELEGRAM)

    def __init__(
        self, settings: Settings, *, client: httpx.Client | None = None
    ) -> None:
        if settings.telegram_bot_token is None:
            raise ValueError("Telegram is not configured")
        self._base = (
            settings.telegram_api_base_url.rstrip("/")
            + "/bot"
            + settings.telegram_bot_token.get_secret_value()
        )
        self.client = client or httpx.Client(timeout=PROVIDER_TIMEOUT)

    def send(self, message: RenderedMessage) -> str:
        """Send one message; returns `tg:<chat>:<message id>` of its first part.

        Files go first, then the text in pieces, the keyboard on the last one;
        parts that an earlier attempt delivered are not sent again.
        """
        chat_id = message.recipient
        # One file with a short text and no buttons goes as one message: the
        # text is its caption.
        captioned = (
            len(message.attachments) == 1
            and not message.buttons
            and 0 < len(message.text) <= MAX_CAPTION
        )
        parts: list[tuple[str, dict[str, str], Files | None]] = []
        for item in message.attachments:
            method, field = (
                ("sendPhoto", "photo")
                if item.content_type.startswith("image/")
                else ("sendDocument", "document")
            )
            data = {"chat_id": chat_id}
            if captioned:
                data["caption"] = message.text
            upload = {field: (item.filename, item.content, item.content_type)}
            parts.append((method, data, upload))
        if not captioned and (message.text or not message.attachments):
            *pieces, last = split_text(message.text, TELEGRAM_MAX_TEXT)
            for piece in pieces:
                parts.append(("sendMessage", {"chat_id": chat_id, "text": piece}, None))
            data = {"chat_id": chat_id, "text": last}
            markup = keyboard(message.buttons)
            if markup is not None:
                data["reply_markup"] = json.dumps(markup.to_dict())
            parts.append(("sendMessage", data, None))
        delivered: list[str] = []
        for method, data, files in parts[message.parts_sent :]:
            try:
                result = self.call(method, data, files=files)
            except ProviderError as exc:
                exc.delivered = tuple(delivered)
                raise
            delivered.append(f"tg:{chat_id}:{result.get('message_id', '')}")
        return delivered[0] if delivered else ""

    def close(self) -> None:
        self.client.close()

    def call(
        self,
        method: str,
        data: dict[str, str],
        *,
        files: Files | None = None,
    ) -> dict[str, Any]:
        """One Bot API call; errors become `ProviderError` without the URL (it
        holds the token)."""
        # Errors are not chained: httpx's carry the request, whose URL holds the token.
        try:
            response = self.client.post(
                f"{self._base}/{method}", data=data, files=files
            )
        except (httpx.ReadTimeout, httpx.RemoteProtocolError):
            # The request went out and no answer came: it may have been sent.
            raise ProviderError(
                "Telegram no contestó; el mensaje pudo haber llegado.", uncertain=True
            ) from None
        except httpx.HTTPError:
            raise ProviderError("No se pudo contactar a Telegram.") from None
        try:
            body = response.json()
        except ValueError:
            raise ProviderError("Telegram respondió algo inesperado.") from None
        if body.get("ok"):
            result = body.get("result")
            return result if isinstance(result, dict) else {}
        code = int(body.get("error_code") or response.status_code)
        log.warning(
            "telegram refused a message", extra={"method": method, "code": code}
        )
        raise ProviderError(
            f"Telegram no aceptó el mensaje ({code}).",
            temporary=code == 429 or code >= 500,
        )
