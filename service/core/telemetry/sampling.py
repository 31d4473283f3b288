"""Sampling: a parent's decision is kept; a new trace is sampled at the configured ratio.

A client call with no parent (a Redis command of the broker's polling, the beat lock's renewal,
a driver's own housekeeping) would otherwise start a one-span trace of its own: those are never
sampled, so every exported trace starts at a request, a task publication or a task run.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes


class _RootSampler(Sampler):
    def __init__(self, ratio: float) -> None:
        self._ratio = TraceIdRatioBased(ratio)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return self._ratio.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"NoOrphanClientSpans{{{self._ratio.get_description()}}}"


def service_sampler(ratio: float) -> Sampler:
    """Parent-based: sampled parents are followed, roots sampled at `ratio` (client roots never)."""
    return ParentBased(root=_RootSampler(ratio))
