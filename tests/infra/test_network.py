"""infra/network.py: VPC, subnets, NAT, flow logs, endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import resources_of

Tpl = Callable[[str, str], Template]
Raw = Callable[[str, str], dict[str, Any]]


@pytest.mark.parametrize(("env", "azs", "nats"), [("dev", 2, 1), ("prod", 3, 3)])
def test_zones_subnets_and_nat(raw: Raw, env: str, azs: int, nats: int) -> None:
    tpl = raw(env, "network")
    subnets = resources_of(tpl, "AWS::EC2::Subnet")
    by_group: dict[str, int] = {}
    zones = set()
    for subnet in subnets.values():
        tags = {t["Key"]: t["Value"] for t in subnet["Properties"]["Tags"]}
        by_group[tags["aws-cdk:subnet-name"]] = by_group.get(tags["aws-cdk:subnet-name"], 0) + 1
        zones.add(subnet["Properties"]["AvailabilityZone"])
    assert by_group == {"public": azs, "app": azs, "data": azs}
    assert len(zones) == azs
    assert len(resources_of(tpl, "AWS::EC2::NatGateway")) == nats


def test_data_subnets_are_isolated(raw: Raw) -> None:
    tpl = raw("prod", "network")
    routes = resources_of(tpl, "AWS::EC2::Route")
    tables = resources_of(tpl, "AWS::EC2::RouteTable")
    data_tables = {
        k
        for k, v in tables.items()
        if any(
            t["Value"].endswith(tuple(f"dataSubnet{i}" for i in range(1, 4)))
            for t in v["Properties"]["Tags"]
            if t["Key"] == "Name"
        )
    }
    assert len(data_tables) == 3
    for route in routes.values():
        assert route["Properties"]["RouteTableId"]["Ref"] not in data_tables


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_flow_logs_capture_all_traffic(template: Tpl, env: str) -> None:
    t = template(env, "network")
    t.has_resource_properties(
        "AWS::EC2::FlowLog",
        {"ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"},
    )
    t.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": Match.any_value()})


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_endpoints(raw: Raw, env: str) -> None:
    endpoints = resources_of(raw(env, "network"), "AWS::EC2::VPCEndpoint")
    services = {}
    for ep in endpoints.values():
        name = ep["Properties"]["ServiceName"]
        flat = name if isinstance(name, str) else str(name)
        services[flat.rsplit(".", 1)[-1].rstrip("'\"]}")] = ep["Properties"].get("VpcEndpointType")
    joined = " ".join(str(ep["Properties"]["ServiceName"]) for ep in endpoints.values())
    for suffix in (".s3", ".ecr.api", ".ecr.dkr", ".logs", ".secretsmanager"):
        assert suffix in joined, f"no {suffix} endpoint"
    types = sorted(str(ep["Properties"].get("VpcEndpointType")) for ep in endpoints.values())
    assert types == ["Gateway"] + ["Interface"] * 4


def test_endpoint_security_group_is_vpc_only(raw: Raw) -> None:
    tpl = raw("dev", "network")
    for sg in resources_of(tpl, "AWS::EC2::SecurityGroup").values():
        for rule in sg["Properties"].get("SecurityGroupIngress", []):
            assert rule.get("CidrIp") == "10.20.0.0/16"
            assert rule["FromPort"] == 443
