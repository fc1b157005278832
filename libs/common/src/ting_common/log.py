"""One logging setup for every Ting process: JSON lines with severity and the request id.

The request id of the call being served lives in a context variable set by the request-id
interceptor, so every log line written while serving a call carries it without passing it around.
"""

from __future__ import annotations

import contextvars
import faulthandler
import json
import logging
import sys
import time
from typing import Any

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("ting_request_id", default="")

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object per line (Cloud Logging / Loki friendly field names)."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "severity": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.service:
            payload["service"] = self.service
        rid = getattr(record, "request_id", "") or request_id_var.get()
        if rid:
            payload["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in payload and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal (`TING_<SVC>_LOG_FORMAT=text`)."""

    def format(self, record: logging.LogRecord) -> str:
        rid = request_id_var.get()
        base = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if rid:
            base += f" [request_id={rid}]"
        if record.exc_info:
            base += "\n" + self.formatException(record.exc_info)
        return base


def setup_logging(level: str = "INFO", fmt: str = "json", service: str = "") -> None:
    """Configure the root logger for a service process: this handler replaces any earlier root handlers
    (a CLI's ``basicConfig`` included), so every line is written once, as JSON or text."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # A crash in native code (codec, inference runtime) still leaves a Python stack on stderr.
    if not faulthandler.is_enabled():
        faulthandler.enable()
