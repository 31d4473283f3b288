"""The API's request metric, derived by CloudWatch Logs from the access lines the API writes for
every request: metric filters on the api's log group.

`http.server.request.duration` (OpenTelemetry's name), in the telemetry namespace, in
milliseconds (the line's `duration_ms`): per route template (`http.route`) its SampleCount is
the request rate and its percentiles the latency; the 5xx per route and `error.type` (the
exception's class, or the status) count the errors.

Why not the SDK's histogram through the collector, as the task metrics go: its per-request work
(the SDK cleans, hashes and buckets every measurement) was most of telemetry's cost on a cached
request, for a number the access line already carries (docs/performance.md). Here the process
pays nothing, the line grows by nothing but a 5xx's `error_type`, and the percentiles are
exact: CloudWatch gets every request's value. The app containers turn the SDK's measurement off
(TELEMETRY_HTTP_DURATION_METRIC, infra/telemetry.py).

CloudWatch Logs' rules (User Guide, "Creating metrics from log events using filters"): a filter
sees only events ingested after it exists, at most three dimensions each, dimension values from
the event's fields, log groups of the Standard class only; it is disabled if it makes 1,000
dimension values within an hour, which route templates (a few dozen, `<unmatched>` one of them)
never approach. tests/infra/test_request_metrics.py runs these filters on real access lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from constructs import Construct

from service.core.access_log import LOGGER_NAME as ACCESS_LOGGER_NAME

HTTP_DURATION: Final = "http.server.request.duration"


@dataclass(frozen=True)
class RequestFilter:
    """One metric filter: which access lines, and the dimensions it publishes them under."""

    construct_id: str
    pattern: str
    dimensions: dict[str, str]


# Every request, per route template.
REQUESTS: Final = RequestFilter(
    "Requests",
    f'{{ $.logger = "{ACCESS_LOGGER_NAME}" }}',
    {"http.route": "$.route"},
)
# The 5xx, per route and error type.
SERVER_ERRORS: Final = RequestFilter(
    "ServerErrors",
    f'{{ ($.logger = "{ACCESS_LOGGER_NAME}") && ($.status >= 500) }}',
    {"http.route": "$.route", "error.type": "$.error_type"},
)
FILTERS: Final = (REQUESTS, SERVER_ERRORS)


class RequestMetrics(Construct):
    """The filters on ``log_group`` (the api's), publishing to ``namespace``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, log_group: logs.ILogGroup, namespace: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.filters = {
            spec.construct_id: logs.MetricFilter(
                self,
                spec.construct_id,
                log_group=log_group,
                filter_pattern=logs.FilterPattern.literal(spec.pattern),
                metric_namespace=namespace,
                metric_name=HTTP_DURATION,
                metric_value="$.duration_ms",
                unit=cloudwatch.Unit.MILLISECONDS,
                dimensions=spec.dimensions,
            )
            for spec in FILTERS
        }
