"""The task definitions read from the assembly: each container's settings and the target group's
health check.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from scripts.rehearse.assembly import Assembly, Stack
from scripts.rehearse.reporting import RehearsalError

# Docker's (and Fargate's) default capability bounding set.
DEFAULT_CAPABILITIES: Final = (
    *("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID"),
    *("SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"),
)
ECS_DEFAULT_STOP_TIMEOUT: Final = 30.0


@dataclasses.dataclass
class HealthCheck:
    command: list[str]
    interval: float
    timeout: float
    retries: int
    start_period: float


@dataclasses.dataclass
class ContainerDefinition:
    family: str
    name: str
    stack: Stack
    raw: dict[str, Any]
    volumes: dict[str, dict[str, Any]]
    # The task's non-essential containers (the collector): stood in for, never run.
    sidecars: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def command(self) -> list[str] | None:
        command = self.raw.get("Command")
        return [str(w) for w in command] if command else None

    @property
    def entrypoint(self) -> list[str] | None:
        entrypoint = self.raw.get("EntryPoint")
        return [str(w) for w in entrypoint] if entrypoint else None

    @property
    def health_check(self) -> HealthCheck | None:
        check = self.raw.get("HealthCheck")
        if not check:
            return None
        return HealthCheck(
            command=[str(w) for w in check["Command"]],
            interval=float(check.get("Interval", 30)),
            timeout=float(check.get("Timeout", 5)),
            retries=int(check.get("Retries", 3)),
            start_period=float(check.get("StartPeriod", 0)),
        )

    @property
    def port(self) -> int | None:
        mappings = self.raw.get("PortMappings") or []
        return int(mappings[0]["ContainerPort"]) if mappings else None

    @property
    def stop_timeout(self) -> float:
        return float(self.raw.get("StopTimeout", ECS_DEFAULT_STOP_TIMEOUT))

    @property
    def capabilities(self) -> list[str]:
        caps = (self.raw.get("LinuxParameters") or {}).get("Capabilities") or {}
        added, dropped = set(caps.get("Add", [])), set(caps.get("Drop", []))
        if "ALL" in dropped:
            return sorted(added)
        return sorted((set(DEFAULT_CAPABILITIES) | added) - dropped)

    @property
    def mounts(self) -> list[tuple[str, str, bool]]:
        """(volume name, container path, read-only)."""
        return [
            (m["SourceVolume"], m["ContainerPath"], bool(m.get("ReadOnly", False)))
            for m in self.raw.get("MountPoints") or []
        ]


def task_definitions(assembly: Assembly) -> dict[str, ContainerDefinition]:
    """The essential container of each ECS task definition, by container name."""
    found: dict[str, ContainerDefinition] = {}
    for stack_, _, resource in assembly.find("AWS::ECS::TaskDefinition"):
        properties = resource["Properties"]
        volumes = {v["Name"]: v for v in properties.get("Volumes") or []}
        containers = properties["ContainerDefinitions"]
        essential = [c for c in containers if c.get("Essential", True)]
        if len(essential) != 1:
            names = [c["Name"] for c in essential]
            raise RehearsalError(
                f"{properties.get('Family')}: the rehearsal runs one essential container a "
                f"task, this one has {names}"
            )
        (container,) = essential
        found[container["Name"]] = ContainerDefinition(
            family=str(properties.get("Family", container["Name"])),
            name=container["Name"],
            stack=stack_,
            raw=container,
            volumes=volumes,
            sidecars=[c for c in containers if c is not container],
        )
    if not found:
        raise RehearsalError(f"{assembly.env}: no ECS task definition in the assembly")
    return found


@dataclasses.dataclass
class TargetGroupCheck:
    path: str
    port: str
    matcher: str
    interval: float
    timeout: float
    healthy_threshold: int


def target_group_check(assembly: Assembly) -> TargetGroupCheck:
    groups = assembly.find("AWS::ElasticLoadBalancingV2::TargetGroup")
    if len(groups) != 1:
        raise RehearsalError(f"{assembly.env}: expected one target group, found {len(groups)}")
    properties = groups[0][2]["Properties"]
    return TargetGroupCheck(
        path=properties.get("HealthCheckPath", "/"),
        port=str(properties.get("HealthCheckPort", "traffic-port")),
        matcher=str((properties.get("Matcher") or {}).get("HttpCode", "200")),
        interval=float(properties.get("HealthCheckIntervalSeconds", 30)),
        timeout=float(properties.get("HealthCheckTimeoutSeconds", 5)),
        healthy_threshold=int(properties.get("HealthyThresholdCount", 5)),
    )


@dataclasses.dataclass(frozen=True)
class DeployRun:
    """A one-off task the deploy runs and waits for (a custom resource of the run function):
    `container`'s definition, with `command` (an override) or its own."""

    resource_type: str
    container: str
    command: list[str] | None


def deploy_runs(assembly: Assembly, *, after_services: bool) -> list[DeployRun]:
    """The deploy's one-off runs of the service image before every ECS service starts (each
    service depends on them) or, `after_services`, once every service has rolled (they depend
    on each service); a run in neither order is an error."""
    services = {i: r.get("DependsOn", []) for _, i, r in assembly.find("AWS::ECS::Service")}
    definitions = {i: r for _, i, r in assembly.find("AWS::ECS::TaskDefinition")}
    found: list[DeployRun] = []
    for stack_ in assembly.stacks.values():
        for logical_id, resource in stack_.resources.items():
            run = _deploy_run(logical_id, resource, services, definitions)
            if run is not None and run[1] is after_services:
                found.append(run[0])
    return found


def _deploy_run(
    logical_id: str,
    resource: dict[str, Any],
    services: dict[str, list[str]],
    definitions: dict[str, dict[str, Any]],
) -> tuple[DeployRun, bool] | None:
    """The run `resource` is (and whether it comes after the services), if it is one."""
    task = resource.get("Properties", {}).get("TaskDefinition", {})
    if not resource["Type"].startswith("Custom::") or task.get("Ref") not in definitions:
        return None
    before = all(logical_id in depends_on for depends_on in services.values())
    after = set(services) <= set(resource.get("DependsOn", []))
    if before == after:
        raise RehearsalError(f"{logical_id}: runs neither before nor after every service")
    (container,) = definitions[task["Ref"]]["Properties"]["ContainerDefinitions"]
    command = resource["Properties"].get("Command")
    run = DeployRun(
        resource["Type"],
        str(resource["Properties"].get("Container", container["Name"])),
        [str(word) for word in command] if command else None,
    )
    return run, after
