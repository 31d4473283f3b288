"""The access line of every request, written straight to the log stream.

Same JSON object as a `biwoco.access` record through `JsonFormatter`, without the logging
machinery: a LogRecord, caller lookup, formatter and a flush per line cost about 25
microseconds, a tenth of a cached authenticated request. Lines are flushed once per event-loop
iteration, so a burst of requests shares one write to the stream.

Until `attach` is called (tests, tools) each line goes through the `biwoco.access` logger.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from typing import Final, TextIO

# The line's `logger`: deployed, CloudWatch Logs' metric filters select access lines by it
# (infra/request_metrics.py).
LOGGER_NAME: Final = "biwoco.access"
logger = logging.getLogger(LOGGER_NAME)


class AccessLog:
    def __init__(self) -> None:
        self._stream: TextIO | None = None
        self._flush_pending = False
        self._pending: list[str] = []
        self._second = -1
        self._second_text = ""
        self._routes: dict[str, str] = {}

    def attach(self, stream: TextIO) -> None:
        self._stream = stream

    def detach(self) -> None:
        self._flush()
        self._stream = None

    def __call__(
        self,
        *,
        request_id: str,
        method: str,
        route: str,
        status: int,
        duration_ms: float,
        client: str | None,
        error_type: str | None = None,
    ) -> None:
        """One request's line; `error_type` (a 5xx's exception class or status) only when set.

        Deployed, CloudWatch Logs derives the request metric from these lines (metric filters on
        `logger`, `route`, `status`, `duration_ms` and `error_type`: infra/request_metrics.py);
        renaming one of them is a change to those filters too."""
        if not logger.isEnabledFor(logging.INFO):
            return
        stream = self._stream
        if stream is None:
            extra: dict[str, object] = {
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "client": client,
            }
            if error_type is not None:
                extra["error_type"] = error_type
            logger.info("request", extra=extra)
            return
        # The request id is a validated token or a uuid hex, the method an HTTP token: only the
        # route template can need escaping (done once per template).
        route_json = self._routes.get(route)
        if route_json is None:
            route_json = self._routes[route] = json.dumps(route)
        line = (
            f'{{"time": "{self._now()}", "level": "INFO", "logger": "{LOGGER_NAME}", '
            f'"message": "request", "request_id": "{request_id}", "method": "{method}", '
            f'"route": {route_json}, "status": {status}, "duration_ms": {duration_ms}, '
            f'"client": {_client_json(client)}'
            + (f', "error_type": {json.dumps(error_type)}}}\n' if error_type is not None else "}\n")
        )
        # Collected and written once per event-loop iteration: with PYTHONUNBUFFERED (as in
        # the image) every write to stdout is a system call.
        self._pending.append(line)
        if not self._flush_pending:
            self._flush_pending = True
            try:
                asyncio.get_running_loop().call_soon(self._flush)
            except RuntimeError:  # no loop: write through
                self._flush()

    def _now(self) -> str:
        """ISO 8601 UTC with milliseconds, as `JsonFormatter` writes it (the instant rounded to
        microseconds first, like `datetime.fromtimestamp`); the date part once per second."""
        second, micro = divmod(round(time.time() * 1_000_000), 1_000_000)
        if second != self._second:
            self._second = second
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._second_text}.{micro // 1000:03d}+00:00"

    def _flush(self) -> None:
        self._flush_pending = False
        lines, self._pending = self._pending, []
        if self._stream is None or not lines:
            return
        try:
            self._stream.write("".join(lines))
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: the logging path reports it
            logger.info("access log stream failed", extra={"lines_lost": len(lines)})


def _client_json(client: str | None) -> str:
    """The client's address as JSON: the peer's, or one a trusted proxy wrote, parsed by
    ForwardedMiddleware. Still escaped: the access line never trusts what it is given."""
    if client is None:
        return "null"
    if client.isascii() and client.isprintable() and '"' not in client and "\\" not in client:
        return f'"{client}"'
    return json.dumps(client)


access_log = AccessLog()
