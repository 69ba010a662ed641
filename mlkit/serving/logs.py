"""The endpoint's log as JSON lines on stderr (``mlkit serve --log-level info``).

One object per line: ``time``, ``level``, ``logger`` and ``message``; an access record (logger
``mlkit.serving.access``, one per answered request at level info) carries ``client``,
``method``, ``path``, ``status``, ``ms``, ``route``, ``model``, ``version`` and ``request_id``
instead of a message. A failure is one line too (``error``), never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

LEVELS = ("debug", "info", "warning", "error")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            data.update(access)
        else:
            data["message"] = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            lines = [line for line in str(exc).splitlines() if line.strip()]
            data["error"] = f"{type(exc).__name__}: {lines[0] if lines else ''}".strip()
        return json.dumps(data, default=str)


def configure(level: str) -> None:
    """Log the endpoint (and uvicorn) at ``level`` as JSON lines on stderr; ``info`` and below
    include the access log."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    numeric = logging.getLevelName(level.upper())
    for name in ("mlkit", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(numeric)
        logger.propagate = False
