"""Logging set-up for CLI and service processes: compact text or JSON lines with the request id."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

#: The id of the HTTP request being served in this context (set by the serving middleware).
request_id_var: ContextVar[str | None] = ContextVar("reelrank_request_id", default=None)

#: Name of the root handler ``setup_logging`` installs (and replaces when called again).
HANDLER_NAME = "reelrank"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Attributes every ``LogRecord`` has (and uvicorn's terminal-coloured copy of the message);
#: anything else on a record came in through ``extra``.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id when one is
    being served, the fields given through ``extra`` and the exception text if any."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup_logging(level: str = "INFO", json_lines: bool = False) -> None:
    """Log at ``level`` to stderr, as text or (``json_lines``) JSON lines.

    Installs one named root handler, replacing the one an earlier call installed; leaves
    logging alone when someone else (pytest, an embedding program) configured the root logger.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == HANDLER_NAME]
    if ours or not root.handlers:
        for handler in ours:
            root.removeHandler(handler)
        handler = logging.StreamHandler()
        handler.set_name(HANDLER_NAME)
        handler.setFormatter(
            JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT, datefmt="%H:%M:%S")
        )
        root.addHandler(handler)
        root.setLevel(level.upper())
    for noisy in ("alembic", "httpx", "feast", "mlflow"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
