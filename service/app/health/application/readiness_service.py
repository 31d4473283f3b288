"""Readiness: can this process reach what it needs to serve requests?"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

Probe = Callable[[], Awaitable[object]]


class NamedProblem(Exception):
    """A probe's failure whose message is safe to show in the readiness answer."""


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(state == "ok" for state in self.checks.values())

    @property
    def down(self) -> list[str]:
        return [name for name, state in self.checks.items() if state != "ok"]


class ReadinessService:
    def __init__(self, probes: Mapping[str, Probe], timeout_seconds: float = 1.0) -> None:
        self._probes = dict(probes)
        self._timeout = timeout_seconds

    async def _run(self, probe: Probe) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                await probe()
        except TimeoutError:
            return "timeout"
        except NamedProblem as error:  # what is missing, by name (no address or secret)
            return f"{type(error).__name__}: {error}"
        except Exception as error:  # any failure means "not ready"; the name says which
            return type(error).__name__
        return "ok"

    async def check(self) -> ReadinessReport:
        names = list(self._probes)
        states = await asyncio.gather(*(self._run(self._probes[n]) for n in names))
        return ReadinessReport(dict(zip(names, states, strict=True)))
