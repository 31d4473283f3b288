"""docs/architecture.md's monthly cost tables price what is synthesized (as the diagram tests
do for the pictures): task sizes and counts, DocumentDB and Valkey nodes, NAT gateways,
interface endpoints, KMS keys and secrets, counted in each environment's templates."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import STACKS, app_container, resources_of

Raw = Callable[[str, str], dict[str, Any]]
DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def _table(env: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n### {env} (")
    end = text.index("**total**", start)
    return [line for line in text[start:end].splitlines() if line.startswith("| ")]


def _priced(env: str) -> dict[str, Any]:
    """What the table prices, read from its lines."""
    fargate: dict[str, tuple[float, float, int]] = {}
    valkey: Counter[str] = Counter()
    out: dict[str, Any] = {"fargate": fargate, "valkey": valkey}
    for line in _table(env):
        if m := re.match(r"\| Fargate `(\w+)` ([\d.]+) vCPU / ([\d.]+) GB x (\d+)", line):
            fargate[m[1]] = (float(m[2]), float(m[3]), int(m[4]))
        elif m := re.match(r"\| DocumentDB db\.(\S+) x (\d+)", line):
            out["documentdb"] = (m[1], int(m[2]))
        elif m := re.match(r"\| ElastiCache Valkey (cache\.\S+) x (\d+)", line):
            valkey[m[1]] += int(m[2])
        elif m := re.match(r"\| NAT gateways? x (\d+)", line):
            out["nat"] = int(m[1])
        elif m := re.match(r"\| Interface endpoints (\d+) x (\d+) AZs", line):
            out["endpoints"] = (int(m[1]), int(m[2]))
        elif m := re.match(r"\| KMS \| (\d+) customer keys", line):
            out["keys"] = int(m[1])
        elif m := re.match(r"\| Secrets Manager \| (\d+) (?:secrets )?x", line):
            out["secrets"] = int(m[1])
    return out


def _deployed(raw: Raw, env: str) -> dict[str, Any]:
    """The same quantities, counted in the synthesized templates."""
    counts: Counter[str] = Counter()
    valkey: Counter[str] = Counter()
    endpoints: list[int] = []
    for stack in STACKS:
        for resource in raw(env, stack)["Resources"].values():
            rtype, props = resource["Type"], resource.get("Properties", {})
            counts[rtype] += 1
            if rtype == "AWS::ElastiCache::ReplicationGroup":
                valkey[props["CacheNodeType"]] += props["NumCacheClusters"]
            if rtype == "AWS::EC2::VPCEndpoint" and props.get("VpcEndpointType") == "Interface":
                endpoints.append(len(props["SubnetIds"]))
    service = raw(env, "service")
    services = resources_of(service, "AWS::ECS::Service")
    minimum = {}
    for target in resources_of(service, "AWS::ApplicationAutoScaling::ScalableTarget").values():
        logical = target["Properties"]["ResourceId"]["Fn::Join"][1][3]["Fn::GetAtt"][0]
        minimum[services[logical]["Properties"]["ServiceName"]] = target["Properties"][
            "MinCapacity"
        ]
    fargate = {}
    for td in resources_of(service, "AWS::ECS::TaskDefinition").values():
        container = app_container(td)
        name = container["Name"]
        if name in minimum:
            cpu = int(td["Properties"]["Cpu"]) / 1024
            memory = int(td["Properties"]["Memory"]) / 1024
            fargate[name] = (cpu, memory, minimum[name])
    (instance,) = {
        r["Properties"]["DBInstanceClass"]
        for r in resources_of(raw(env, "data"), "AWS::DocDB::DBInstance").values()
    }
    assert len(set(endpoints)) == 1
    return {
        "fargate": fargate,
        "valkey": valkey,
        "documentdb": (instance.removeprefix("db."), counts["AWS::DocDB::DBInstance"]),
        "nat": counts["AWS::EC2::NatGateway"],
        "endpoints": (len(endpoints), endpoints[0]),
        "keys": counts["AWS::KMS::Key"],
        "secrets": counts["AWS::SecretsManager::Secret"],
    }


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_cost_table_prices_what_is_deployed(raw: Raw, env: str) -> None:
    priced, deployed = _priced(env), _deployed(raw, env)
    assert set(priced) == set(deployed), "a priced kind has no line in the table"
    for kind, value in deployed.items():
        assert priced[kind] == value, f"{env} {kind}: table {priced[kind]}, deployed {value}"
