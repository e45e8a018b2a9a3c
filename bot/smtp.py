"""Email out through SMTP (standard library): HTML with a plain-text part, attachments.

Each thread keeps its connection open between messages and opens it again when it
drops. SMTP replies map onto `ProviderError`: 4xx and network trouble are temporary,
5xx not.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr

from bot.settings import Settings
from flows.errors import ProviderError
from flows.outbox import RenderedMessage

log = logging.getLogger(__name__)


class SmtpSender:
    """The outbox's email sender; `send` returns the Message-ID as provider id."""

    channel = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int = 25,
        from_address: str = "Cobra <cobranza@localhost>",
        user: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        starttls: bool | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.from_address = from_address
        self.user = user
        self.password = password
        self.timeout = timeout
        # None: use STARTTLS when the server offers it and we log in.
        self.starttls = starttls
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[smtplib.SMTP] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSender:
        if not settings.smtp_host:
            raise ValueError("SMTP_HOST is not set")
        password = settings.smtp_password
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            from_address=settings.smtp_from,
            user=settings.smtp_user,
            password=password.get_secret_value() if password else None,
        )

    @property
    def domain(self) -> str:
        address = parseaddr(self.from_address)[1]
        return address.rpartition("@")[2] or "localhost"

    def build(self, message: RenderedMessage) -> EmailMessage:
        """The MIME message: text, an HTML alternative, then the attachments."""
        email = EmailMessage()
        email["From"] = self.from_address
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False)
        local = message.message_id or f"cobra.{message.outbox_id}"
        email["Message-ID"] = f"<{local}@{self.domain}>"
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        for attachment in message.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            email.add_attachment(
                attachment.content,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
        return email

    def send(self, message: RenderedMessage) -> str:
        email = self.build(message)
        recipients = [a for _, a in getaddresses([message.recipient]) if a]
        if not recipients:
            raise ProviderError("el correo no tiene destinatario", temporary=False)
        self._send(email, recipients)
        return str(email["Message-ID"])

    def _send(self, email: EmailMessage, recipients: list[str]) -> None:
        for attempt in (1, 2):
            try:
                connection = self._connect()
                refused = connection.send_message(email, to_addrs=recipients)
            except smtplib.SMTPServerDisconnected as exc:
                # A kept connection the server closed meanwhile: open a new one once.
                self._drop()
                if attempt == 2:
                    raise ProviderError(
                        "el servidor de correo cerró la conexión"
                    ) from exc
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                raise ProviderError(
                    "el servidor de correo rechazó el destinatario",
                    temporary=_all_temporary(exc.recipients),
                ) from exc
            except smtplib.SMTPResponseException as exc:
                self._drop()
                raise ProviderError(
                    f"el servidor de correo respondió {exc.smtp_code}",
                    temporary=400 <= exc.smtp_code < 500,
                ) from exc
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                raise ProviderError(
                    "no se pudo conectar al servidor de correo"
                ) from exc
            if refused:
                log.warning(
                    "some email recipients refused",
                    extra={"refused": len(refused), "accepted": len(recipients)},
                )
            return

    def _connect(self) -> smtplib.SMTP:
        connection: smtplib.SMTP | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        connection.ehlo()
        wants_tls = self.starttls
        if wants_tls is None:
            wants_tls = bool(self.user) and connection.has_extn("starttls")
        if wants_tls:
            connection.starttls()
            connection.ehlo()
        if self.user and self.password:
            connection.login(self.user, self.password)
        self._local.connection = connection
        with self._lock:
            self._open.add(connection)
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            self._quit(connection)

    def _quit(self, connection: smtplib.SMTP) -> None:
        with self._lock:
            self._open.discard(connection)
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()

    def close(self) -> None:
        """Close every thread's connection (after the delivery threads are done)."""
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            self._quit(connection)
        self._local = threading.local()


def _all_temporary(refused: dict[str, tuple[int, bytes]]) -> bool:
    return all(400 <= code < 500 for code, _ in refused.values())
