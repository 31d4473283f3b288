"""The API's service-level objectives and their multi-window, multi-burn-rate alarms.

Both objectives are measured at the ALB, not from the service's own metrics: the ALB sees the
requests that never reached a task (no healthy target, a task that died mid-request: the 502s,
503s and 504s the service cannot count), it reports every request (no sampling, no collector
in the way: a failing sidecar must not blind the alarms that say users are failing), and its
metrics exist from the first deploy.

* availability: the share of requests answered without a 5xx (ELB's and the targets');
* latency: the share of the requests that reached a task answered within ``slo.latency_ms``
  (TargetResponseTime's percentile rank, ``PR(:seconds)``).

The burn rate is the bad share over the error budget (1 - objective): 1 spends the budget
in exactly the 30-day window. As the SRE workbook's "multiwindow, multi-burn-rate alerts": page
when the rate over one hour and over its last five minutes both exceed 14.4 (2 % of the budget
in an hour), or over six hours and its last thirty minutes both exceed 6 (5 % in six hours);
the short window ends the page soon after the burning stops. Each window is one alarm whose
period is the window; one composite alarm per objective pages (alarm and OK) the topic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from infra.config import FAST_BURN_RATE, SLOW_BURN_RATE, EnvConfig


@dataclass(frozen=True)
class BurnTier:
    name: str
    rate: float
    long: Duration
    short: Duration


# A burn-rate series over a window (the window is its period).
_BurnRate = Callable[[Duration], cloudwatch.MathExpression]

TIERS = (
    BurnTier("Fast", FAST_BURN_RATE, Duration.hours(1), Duration.minutes(5)),
    BurnTier("Slow", SLOW_BURN_RATE, Duration.hours(6), Duration.minutes(30)),
)


def _window(duration: Duration) -> str:
    minutes = int(duration.to_minutes())
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def alb_5xx(alb: elbv2.IApplicationLoadBalancer, period: Duration) -> dict[str, cloudwatch.IMetric]:
    """The 5xx the ALB answered itself (``elb``) and those of the targets (``tgt``), summed."""
    return {
        "elb": alb.metrics.http_code_elb(
            elbv2.HttpCodeElb.ELB_5XX_COUNT, period=period, statistic="Sum"
        ),
        "tgt": alb.metrics.http_code_target(
            elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=period, statistic="Sum"
        ),
    }


def availability_burn_rate(
    alb: elbv2.IApplicationLoadBalancer, objective_percent: float, period: Duration
) -> cloudwatch.MathExpression:
    """5xx (the ALB's own and the targets') per request, over the error budget.

    A request the ALB answers before choosing a target (503: no healthy target) is not in
    RequestCount: the denominator is at least the 5xx, so an outage reads as 100 % bad, not 0.
    """
    bad = cloudwatch.MathExpression(
        expression="FILL(elb, 0) + FILL(tgt, 0)", using_metrics=alb_5xx(alb, period), period=period
    )
    total = cloudwatch.MathExpression(
        expression="MAX([FILL(req, 0), bad])",
        using_metrics={
            "req": alb.metrics.request_count(period=period, statistic="Sum"),
            "bad": bad,
        },
        period=period,
    )
    return cloudwatch.MathExpression(
        expression=f"IF(total > 0, 100 * bad / total, 0) / {100 - objective_percent:.6g}",
        using_metrics={"bad": bad, "total": total},
        label=f"availability burn rate ({_window(period)})",
        period=period,
    )


def latency_burn_rate(
    target_group: elbv2.IApplicationTargetGroup,
    objective_percent: float,
    threshold_ms: int,
    period: Duration,
) -> cloudwatch.MathExpression:
    """The share of target responses slower than the threshold, over the error budget."""
    within = target_group.metrics.target_response_time(
        period=period, statistic=cloudwatch.Stats.percentile_rank(threshold_ms / 1000)
    )
    return cloudwatch.MathExpression(
        expression=f"(100 - within) / {100 - objective_percent:.6g}",
        using_metrics={"within": within},
        label=f"latency burn rate ({_window(period)})",
        period=period,
    )


class ApiObjectives(Construct):
    """Two objectives (availability, latency), each with four window alarms (no actions of
    their own) and the composite alarm that pages."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        alb: elbv2.IApplicationLoadBalancer,
        target_group: elbv2.IApplicationTargetGroup,
        action: cloudwatch.IAlarmAction,
    ) -> None:
        super().__init__(scope, construct_id)
        slo = config.observability.slo
        self.prefix = config.prefix
        self.windows: dict[str, cloudwatch.Alarm] = {}
        self.composites: dict[str, cloudwatch.CompositeAlarm] = {}
        self.burn_rates: dict[str, cloudwatch.MathExpression] = {}
        self._objective(
            "Availability",
            f"{slo.availability_percent:g} % of API requests answered without a 5xx (ALB)",
            lambda period: availability_burn_rate(alb, slo.availability_percent, period),
            action,
        )
        self._objective(
            "Latency",
            f"{slo.latency_percent:g} % of API responses within {slo.latency_ms} ms (ALB "
            "target response time)",
            lambda period: latency_burn_rate(
                target_group, slo.latency_percent, slo.latency_ms, period
            ),
            action,
        )

    def _objective(
        self,
        name: str,
        objective: str,
        burn_rate: _BurnRate,
        action: cloudwatch.IAlarmAction,
    ) -> None:
        tiers = []
        for tier in TIERS:
            both = [
                cloudwatch.AlarmRule.from_alarm(
                    self._window(name, objective, tier, window, burn_rate),
                    cloudwatch.AlarmState.ALARM,
                )
                for window in (tier.long, tier.short)
            ]
            tiers.append(cloudwatch.AlarmRule.all_of(*both))
        self.burn_rates[name] = burn_rate(TIERS[0].long)
        composite = cloudwatch.CompositeAlarm(
            self,
            name,
            composite_alarm_name=f"{self.prefix}-Slo{name}",
            alarm_description=(
                f"SLO {objective} over 30 days: its error budget burns too fast (over "
                + " or ".join(
                    f"{_window(t.long)} and {_window(t.short)} above {t.rate:g}x" for t in TIERS
                )
                + "); docs/operations.md, 'Service-level objectives'"
            ),
            alarm_rule=cloudwatch.AlarmRule.any_of(*tiers),
        )
        composite.add_alarm_action(action)
        composite.add_ok_action(action)
        self.composites[name] = composite

    def _window(
        self,
        name: str,
        objective: str,
        tier: BurnTier,
        window: Duration,
        burn_rate: _BurnRate,
    ) -> cloudwatch.Alarm:
        alarm_id = f"Slo{name}{_window(window)}"
        alarm = cloudwatch.Alarm(
            self,
            f"{name}{_window(window)}",
            alarm_name=f"{self.prefix}-{alarm_id}",
            alarm_description=(
                f"{objective}: burn rate over {_window(window)} above {tier.rate:g}x (an input "
                f"of {self.prefix}-Slo{name}, which pages)"
            ),
            metric=burn_rate(window),
            threshold=tier.rate,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            # No traffic, no data: nothing burns.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.windows[alarm_id] = alarm
        return alarm
