"""What the one-time-link web forms share (financing answers, SAT credentials):
their templates, the headers that keep the token in the address private, the page
for a link that no longer works, and the clock tests can set."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.runtime import Runtime

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
# The token is in the address: keep it out of caches, frames and other sites' logs.
HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
EXPIRED = "expired.html.j2"  # each form's folder has one


class TokenPages:
    """The pages of one form, rendered from `prompts/<folder>/`."""

    def __init__(self, folder: str, clock_key: str) -> None:
        self.folder = PROMPTS / folder
        self.clock_key = clock_key

    @cached_property
    def environment(self) -> Environment:
        return Environment(
            loader=FileSystemLoader(str(self.folder)),
            autoescape=select_autoescape(["html", "j2"]),
        )

    def page(self, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.environment.get_template(name).render(**values)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def expired(self) -> HTMLResponse:
        """A token that is unknown, used up or past its time: the same 404."""
        return self.page(EXPIRED, status=404)

    def now(self, runtime: Runtime) -> dt.datetime:
        clock: Callable[[], dt.datetime] = runtime.extras.get(
            self.clock_key, lambda: dt.datetime.now(dt.UTC)
        )
        return clock()
