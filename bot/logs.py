"""Structured logging: one JSON object a line, with the fields a call passes.

The HTTP clients' loggers stay at WARNING: Bot API URLs carry the token.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from flows.logcontext import current

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
QUIET = (
    "httpx",
    "httpcore",
    "telegram",
    "twilio.http_client",
    "apscheduler",
    "urllib3",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **current(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
