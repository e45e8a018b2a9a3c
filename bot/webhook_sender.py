"""Delivers outbox rows of the "webhook" channel: one signed POST per attempt.

The body and headers come ready from `flows.webhooks_out.render_webhook`; this
module only speaks HTTP and sorts failures into "retry later" and "give up".
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import httpx

from flows.errors import ProviderError
from flows.outbox import RenderedMessage

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "Cobra-Webhooks/1"


class WebhookSender:
    """The outbox's `Sender` for channel "webhook"; the provider id is the event id."""

    channel = "webhook"

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)

    def send(self, message: RenderedMessage) -> str:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **message.variables,
        }
        host = urlsplit(message.recipient).hostname
        try:
            response = self._client.post(
                message.recipient, content=message.text.encode(), headers=headers
            )
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"webhook sin respuesta de {host}: {type(exc).__name__}",
                temporary=True,
            ) from exc

        status = response.status_code
        if 200 <= status < 300:
            log.info(
                "webhook delivered",
                extra={"outbox_id": message.outbox_id, "host": host, "status": status},
            )
            return message.variables.get(
                "Cobra-Event-Id", f"webhook-{message.outbox_id}"
            )
        # Every refusal is retried (the outbox gives up after its last attempt): a
        # receiver that rejects a signature today may have its secret fixed tomorrow.
        log.info(
            "webhook refused",
            extra={"outbox_id": message.outbox_id, "host": host, "status": status},
        )
        raise ProviderError(f"webhook respondió {status} ({host})", temporary=True)

    def close(self) -> None:
        self._client.close()
