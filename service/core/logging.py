"""One JSON object per log line, with the request id of the request being served."""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import Any

from service.core.access_log import access_log
from service.core.request_context import current_request_id

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id is not None:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class JsonStdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """JSON lines on stdout; the access log (`service.core.access_log`) writes to it too."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)
        self.setFormatter(JsonFormatter())
        access_log.attach(sys.stdout)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """The `logging.config.dictConfig` of every process (uvicorn applies it in each worker)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"stdout": {"()": f"{__name__}.{JsonStdoutHandler.__qualname__}"}},
        "root": {"level": level.upper(), "handlers": ["stdout"]},
        "loggers": {
            # Our own middleware writes the access line; uvicorn's would be a second one.
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
            **{
                name: {"handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "celery")
            },
        },
    }


def configure_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(level))
