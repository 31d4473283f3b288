"""infra/observability.py: alarm topic, alarms, dashboard; log retention everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.infra.conftest import STACKS, only, resources_of

Raw = Callable[[str, str], dict[str, Any]]

ALARMS = {
    "Alb5xxRate",
    "ApiLatencyP95",
    "ApiUnhealthyTargets",
    "ApiCpu",
    "ApiMemory",
    "WorkerCpu",
    "WorkerMemory",
    "BeatCpu",
    "BeatMemory",
    "DocumentDbCpu",
    "DocumentDbConnections",
    "StateRedisCpu",
    "CacheRedisCpu",
    "StateRedisMemory",
    "StateRedisEvictions",
    "QueueDepth",
    "MailBounceRate",
    "MailComplaintRate",
    "BacklogMetricMissing",
}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_alarms_exist_and_notify_the_topic(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    (topic_id,) = resources_of(tpl, "AWS::SNS::Topic")
    named = {}
    for alarm in resources_of(tpl, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        name = props.get("AlarmName")
        # The objectives' window alarms page through their composite (tests/infra/test_slo.py).
        if name and not name.startswith(f"biwoco-{env}-Slo"):
            named[name.removeprefix(f"biwoco-{env}-")] = props
    assert set(named) == ALARMS
    for props in named.values():
        assert props["AlarmActions"] == [{"Ref": topic_id}]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_topic_is_encrypted_ssl_only_and_emails(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    topic = only(tpl, "AWS::SNS::Topic")["Properties"]
    assert "KmsMasterKeyId" in topic
    sub = only(tpl, "AWS::SNS::Subscription")["Properties"]
    assert sub["Protocol"] == "email"
    assert sub["Endpoint"].endswith("@biwoco.example")
    policy = only(tpl, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]
    assert any(
        s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


def test_latency_alarm_is_p95(raw: Raw) -> None:
    alarms = resources_of(raw("prod", "service"), "AWS::CloudWatch::Alarm")
    (latency,) = [
        a
        for a in alarms.values()
        if a["Properties"].get("AlarmName") == "biwoco-prod-ApiLatencyP95"
    ]
    assert latency["Properties"]["ExtendedStatistic"] == "p95"
    assert latency["Properties"]["Threshold"] == 1.0


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_dashboard(raw: Raw, env: str) -> None:
    dash = only(raw(env, "service"), "AWS::CloudWatch::Dashboard")["Properties"]
    assert dash["DashboardName"] == f"biwoco-{env}"


@pytest.mark.parametrize(("env", "days"), [("dev", 30), ("prod", 365)])
def test_every_log_group_has_the_environment_retention(raw: Raw, env: str, days: int) -> None:
    groups = 0
    for stack in STACKS:
        for group in resources_of(raw(env, stack), "AWS::Logs::LogGroup").values():
            groups += 1
            assert group["Properties"]["RetentionInDays"] == days
    # flow logs, docdb audit+profiler, two redis slow logs, waf, api/worker/beat, the db-users
    # and migrate one-off tasks, the two functions of infra/db_users.py, and the collectors' EMF
    assert groups == 14
