"""The access line: the object `JsonFormatter` would make for a `biwoco.access` record, written
straight to the stream and flushed once per event-loop iteration."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, TypedDict

import pytest

import service.core.access_log as access_log_module
from service.core.access_log import AccessLog
from service.core.logging import JsonFormatter

ACCESS = logging.getLogger("biwoco.access")


class Fields(TypedDict):
    request_id: str
    method: str
    route: str
    status: int
    duration_ms: float
    client: str | None


def fields(
    *,
    route: str = "/api/v1/users/{user_id}",
    status: int = 200,
    duration_ms: float = 1.25,
    client: str | None = "203.0.113.7",
) -> Fields:
    return Fields(
        request_id="0123456789abcdef0123456789abcdef",
        method="GET",
        route=route,
        status=status,
        duration_ms=duration_ms,
        client=client,
    )


FIELDS = fields()
ISO_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1
        super().flush()

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()


def formatted(created: float, **fields: Any) -> str:
    """What `JsonFormatter` writes for the same `biwoco.access` record."""
    record = ACCESS.makeRecord(
        ACCESS.name, logging.INFO, __file__, 0, "request", (), None, extra=fields
    )
    record.created = created
    return JsonFormatter().format(record)


def one_object(text: str) -> dict[str, Any]:
    assert text.endswith("\n")
    assert text.count("\n") == 1, text
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


@pytest.fixture(autouse=True)
def access_logger_on(caplog: pytest.LogCaptureFixture) -> None:
    """As every server process configures it (root at INFO); restored after the test."""
    caplog.set_level(logging.INFO, logger=ACCESS.name)


@pytest.fixture
def attached() -> Iterator[tuple[AccessLog, CountingStream]]:
    log, stream = AccessLog(), CountingStream()
    log.attach(stream)
    yield log, stream
    log.detach()


@pytest.fixture
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The access log's clock, set by the test (the formatter gets the same instant)."""
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(access_log_module, "time", SimpleNamespace(time=lambda: clock.now))
    return clock


def test_a_line_is_one_object_with_the_formatters_keys_and_values(
    attached: tuple[AccessLog, CountingStream],
) -> None:
    log, stream = attached
    before = time.time()
    log(**FIELDS)
    after = time.time()

    line = one_object(stream.getvalue())
    expected = json.loads(formatted(before, **FIELDS))
    assert list(line) == list(expected)  # same keys, same order
    assert {k: v for k, v in line.items() if k != "time"} == {
        k: v for k, v in expected.items() if k != "time"
    }
    assert line["logger"] == "biwoco.access"
    assert line["message"] == "request"
    assert line["level"] == "INFO"
    assert ISO_MS_UTC.match(line["time"]), line["time"]
    written = datetime.fromisoformat(line["time"])
    earliest = datetime.fromisoformat(json.loads(formatted(before))["time"])
    latest = datetime.fromisoformat(json.loads(formatted(after))["time"])
    assert earliest - timedelta(milliseconds=1) <= written <= latest


@pytest.mark.parametrize(
    "instants",
    [
        # within a second, across seconds and across a day: the cached date part follows
        [1_700_000_000.5, 1_700_000_000.75, 1_700_000_001.25, 1_700_086_400.0],
        [0.0, 59.5, 86_399.875],
    ],
)
def test_a_line_is_the_formatters_text_for_the_same_instant(
    attached: tuple[AccessLog, CountingStream],
    pinned_clock: SimpleNamespace,
    instants: list[float],
) -> None:
    log, stream = attached
    for index, now in enumerate(instants):
        pinned_clock.now = now
        line = fields(status=200 + index, duration_ms=0.5 * index)
        log(**line)
        assert stream.lines()[-1] == formatted(now, **line)


def test_the_millisecond_is_the_formatters_for_every_instant(
    attached: tuple[AccessLog, CountingStream], pinned_clock: SimpleNamespace
) -> None:
    log, stream = attached
    pinned_clock.now = 1_700_000_000.123
    log(**FIELDS)
    assert one_object(stream.getvalue())["time"] == json.loads(formatted(1_700_000_000.123))["time"]


@pytest.mark.parametrize(
    "route",
    [
        '/quoted/"{name}"',
        "/back\\slash/{id}",
        '/both\\"/\\\\"',
        "/ünïcödé/{ключ}",
        "/control/\t\n\x00\x1f",
        "/\u2028line-separator",
        "<unmatched>",
    ],
)
def test_a_route_that_needs_escaping_stays_valid_json(
    attached: tuple[AccessLog, CountingStream], pinned_clock: SimpleNamespace, route: str
) -> None:
    log, stream = attached
    pinned_clock.now = 1_700_000_000.5
    for _ in range(2):  # the escaped template is reused the second time
        log(**fields(route=route))
    lines = stream.lines()
    assert len(lines) == 2
    for line in lines:
        assert one_object(line + "\n")["route"] == route
        assert line == formatted(1_700_000_000.5, **fields(route=route))


@pytest.mark.parametrize("error_type", ["RuntimeError", "503", 'Odd"Name\\\u2028'])
def test_a_5xx_line_names_its_error_type_as_the_formatter_writes_it(
    attached: tuple[AccessLog, CountingStream], pinned_clock: SimpleNamespace, error_type: str
) -> None:
    """CloudWatch Logs' metric filter for the 5xx per route reads `error_type` (infra/
    request_metrics.py); a line without one has no such key."""
    log, stream = attached
    pinned_clock.now = 1_700_000_000.5
    log(**fields(status=500), error_type=error_type)
    log(**fields(status=200))
    failed, ok = stream.lines()
    assert failed == formatted(1_700_000_000.5, **fields(status=500), error_type=error_type)
    assert one_object(failed + "\n")["error_type"] == error_type
    assert "error_type" not in one_object(ok + "\n")


@pytest.mark.parametrize(
    "client",
    [None, "198.51.100.4", "2001:db8::1", 'forged", "status": 200', "back\\slash", "\u2028\x00é"],
)
def test_the_client_address_is_written_and_any_text_stays_valid_json(
    attached: tuple[AccessLog, CountingStream], pinned_clock: SimpleNamespace, client: str | None
) -> None:
    # Behind trusted proxies the address is an X-Forwarded-For entry: text a client may shape.
    log, stream = attached
    pinned_clock.now = 1_700_000_000.5
    log(**fields(client=client))
    (line,) = stream.lines()
    assert one_object(line + "\n")["client"] == client
    assert line == formatted(1_700_000_000.5, **fields(client=client))


async def test_lines_are_written_and_flushed_once_per_event_loop_iteration(
    attached: tuple[AccessLog, CountingStream],
) -> None:
    log, stream = attached
    for status in (200, 201, 204):
        log(**fields(status=status))
    assert (stream.writes, stream.flushes) == (0, 0)  # not before the loop turns

    await asyncio.sleep(0)
    assert (stream.writes, stream.flushes) == (1, 1)  # one write for the three lines
    assert [json.loads(line)["status"] for line in stream.lines()] == [200, 201, 204]

    await asyncio.sleep(0)
    assert stream.flushes == 1  # nothing new, no flush

    log(**fields(status=404))
    log(**fields(status=500))
    await asyncio.sleep(0)
    assert stream.flushes == 2
    assert len(stream.lines()) == 5


async def test_detach_flushes_what_is_pending(caplog: pytest.LogCaptureFixture) -> None:
    log, stream = AccessLog(), CountingStream()
    log.attach(stream)
    log(**FIELDS)
    log.detach()
    assert stream.flushes == 1
    await asyncio.sleep(0)  # the scheduled flush finds no stream
    assert stream.flushes == 1

    with caplog.at_level(logging.INFO, logger=ACCESS.name):
        log(**FIELDS)  # detached: the logging path
    assert len(stream.lines()) == 1
    assert [r.name for r in caplog.records] == [ACCESS.name]


def test_without_a_running_loop_each_line_is_written_through(
    attached: tuple[AccessLog, CountingStream],
) -> None:
    log, stream = attached
    log(**FIELDS)
    assert stream.flushes == 1
    log(**fields(status=201))
    assert stream.flushes == 2
    assert [json.loads(line)["status"] for line in stream.lines()] == [200, 201]


@pytest.fixture(params=["level above INFO", "logger disabled", "logging disabled for INFO"])
def access_logger_off(request: pytest.FixtureRequest) -> Iterator[None]:
    level, disabled = ACCESS.level, ACCESS.disabled
    if request.param == "level above INFO":
        ACCESS.setLevel(logging.WARNING)
    elif request.param == "logger disabled":
        ACCESS.disabled = True
    else:
        logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        ACCESS.disabled = disabled
        ACCESS.setLevel(level)


@pytest.mark.usefixtures("access_logger_off")
async def test_nothing_is_written_when_the_access_logger_is_off(
    attached: tuple[AccessLog, CountingStream], caplog: pytest.LogCaptureFixture
) -> None:
    log, stream = attached
    log(**FIELDS)
    await asyncio.sleep(0)
    assert stream.getvalue() == ""
    assert stream.flushes == 0
    assert not [r for r in caplog.records if r.name == ACCESS.name]


def test_without_a_stream_the_line_goes_through_the_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = AccessLog()
    with caplog.at_level(logging.INFO, logger=ACCESS.name):
        log(**FIELDS)
    [record] = [r for r in caplog.records if r.name == ACCESS.name]
    assert record.levelno == logging.INFO
    assert record.getMessage() == "request"
    assert {k: record.__dict__[k] for k in FIELDS} == FIELDS
    # and JsonFormatter makes of it the object an attached log writes
    attached_log, stream = AccessLog(), CountingStream()
    attached_log.attach(stream)
    attached_log(**FIELDS)
    via_logging = json.loads(JsonFormatter().format(record))
    direct = one_object(stream.getvalue())
    assert {k: v for k, v in via_logging.items() if k != "time"} == {
        k: v for k, v in direct.items() if k != "time"
    }
    assert list(via_logging) == list(direct)


async def test_a_stream_whose_write_fails_does_not_raise_and_the_logger_reports(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log, closed = AccessLog(), CountingStream()
    closed.close()
    log.attach(closed)
    with caplog.at_level(logging.INFO, logger=ACCESS.name):
        log(**FIELDS)
        log(**FIELDS)
        await asyncio.sleep(0)  # ValueError: I/O operation on closed file
    [record] = [r for r in caplog.records if r.name == ACCESS.name]
    assert record.getMessage() == "access log stream failed"
    assert record.__dict__["lines_lost"] == 2
    assert closed.flushes == 0

    # a working stream afterwards gets its lines as usual
    stream = CountingStream()
    log.attach(stream)
    log(**FIELDS)
    await asyncio.sleep(0)
    assert len(stream.lines()) == 1
    assert stream.flushes == 1
    log.detach()


def test_a_stream_whose_flush_fails_does_not_raise_out_of_the_call() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: writing to the pipe fails with EPIPE
    stream = os.fdopen(write_end, "w")
    log = AccessLog()
    log.attach(stream)
    try:
        log(**FIELDS)
    finally:
        with contextlib.suppress(BrokenPipeError):
            log.detach()
        with contextlib.suppress(BrokenPipeError):
            stream.close()
