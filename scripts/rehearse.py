"""Rehearse Fargate on this machine: run the synthesized task definitions under their rules.

    python scripts/rehearse.py                 # every environment of cdk.json (synthesizes first)
    python scripts/rehearse.py --env prod      # one environment
    python scripts/rehearse.py --env dev --assembly cdk.out   # reuse a synthesized cloud assembly
    python scripts/rehearse.py --env prod --run api -- python service/main.py --env prod \\
        create-admin --email ops@example.com    # a one-off task: the api definition, new command

No Docker engine and no AWS account: each container of an ECS task definition (read from the
synthesized CloudFormation, never from a copy) runs as a process in its own Linux namespaces
(util-linux `unshare`, `setpriv`, `nsenter`; iproute2 `ip`), as Fargate would run it:

* its own mount, PID, UTS and network namespace (awsvpc: a veth on a private bridge, so the
  task has its own loopback and port 8000, and reaches the "AWS" endpoints over the bridge);
* a root filesystem holding only the image's paths (the OS from this machine, `/app/service`
  and the venv from the checkout, as the Dockerfile's COPY instructions place them), read-only
  when the definition says `ReadonlyRootFilesystem`;
* each task volume as a fresh root-owned 0755 directory (Fargate's bind-mount volumes), unless
  the Dockerfile declares the path with VOLUME: then it gets the image's owner and mode there;
* the definition's user (else the image's USER), no supplementary groups, the capability
  bounding set of Docker's default list plus/minus `LinuxParameters.Capabilities`;
* the image's ENV, then the definition's Environment (AWS endpoints replaced by the local
  stand-ins, each replacement printed), and its Secrets by name, values from a JSON file;
* the definition's HealthCheck run inside the task (same namespaces, user and environment,
  CMD or CMD-SHELL, with its timeout, retries and start period) and, for the api, the target
  group's HealthCheckPath from outside, at the task's address;
* against local stand-ins configured as the templates configure AWS: one redis-server per
  ElastiCache replication group (TLS only on the task side, AUTH token = the task's secret,
  the group's maxmemory-policy), mongo-java-server with TLS, moto for S3 and CloudWatch.

Every task runs in a scratch directory (default .stack/rehearse/<env>); every process it starts
is stopped and every namespace (with its mounts) dies with its task. Root is needed (namespaces,
mounts, veth). docs/rehearsal.md says what is faithful and what is not.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import fcntl
import json
import os
import re
import secrets as secrets_module
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts import stack

ROOT: Final = stack.ROOT
DOCKERFILE: Final = ROOT / "Dockerfile"
VENV: Final = ROOT / ".venv"
DEFAULT_WORKDIR: Final = stack.STACK_DIR / "rehearse"

# The environment python:3.12-slim starts from (its ENV before the Dockerfile's own).
BASE_IMAGE_ENV: Final = {
    "PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
# Directories the base image has, with their owner and mode (a VOLUME there copies them).
BASE_IMAGE_DIRS: Final = {"/tmp": (0, 0, 0o1777), "/var/tmp": (0, 0, 0o1777)}  # noqa: S108
# Docker's (and Fargate's) default capability bounding set.
DEFAULT_CAPABILITIES: Final = (
    *("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID"),
    *("SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"),
)
# Commands ElastiCache does not offer (renamed away in the local Redis, as there).
ELASTICACHE_RESTRICTED: Final = (
    *("BGREWRITEAOF", "BGSAVE", "CONFIG", "DEBUG", "MIGRATE", "MODULE", "REPLICAOF", "SAVE"),
    *("SLAVEOF", "SYNC", "PSYNC"),
)
# ElastiCache's default parameter groups (default.redis7, default.valkey8) evict volatile keys.
ELASTICACHE_DEFAULT_POLICY: Final = "volatile-lru"
ECS_DEFAULT_STOP_TIMEOUT: Final = 30.0
# The schedule entry whose two ticks the rehearsal waits for, and the setting of its interval.
BEAT_TICK_ENTRY: Final = "files.expire-pending-uploads"
BEAT_TICK_SETTING: Final = "FILES_EXPIRE_SWEEP_INTERVAL_SECONDS"
BRIDGE_PREFIX: Final = "10.231"
UNSHARE: Final = "/usr/bin/unshare"
NSENTER: Final = "/usr/bin/nsenter"
IP: Final = shutil.which("ip") or "/usr/sbin/ip"


class RehearsalError(Exception):
    """A failure with a message for a human: the rehearsal did not pass."""


def say(message: str) -> None:
    print(f"rehearse: {message}", flush=True)


# --------------------------------------------------------------------------------------------
# the image, as the Dockerfile describes it


@dataclasses.dataclass
class Image:
    env: dict[str, str]
    workdir: str
    user: str
    volumes: list[str]
    entrypoint: list[str]
    cmd: list[str]
    # image path -> path on this machine (read-only in the task)
    binds: dict[str, Path]
    # image path -> (uid, gid, mode) of directories the Dockerfile creates or chowns
    dirs: dict[str, tuple[int, int, int]]
    # image paths of files fetched at build time (ADD <url>): the rehearsal's CA bundle there
    fetched: list[str]


def venv_base_prefix() -> Path:
    """The installation the project's venv was made from (pyvenv.cfg's `home` is its bin)."""
    for line in (VENV / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip()).resolve().parent
    raise RehearsalError(f"{VENV}/pyvenv.cfg names no home")


def dockerfile_lines(text: str) -> list[str]:
    """A Dockerfile's instructions, one per line (comments dropped, continuations joined)."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        raise RehearsalError("the Dockerfile ends inside a continued line")
    return lines


def _words(rest: str) -> list[str]:
    """An instruction's arguments: the JSON (exec) form or shell words."""
    if rest.startswith("["):
        value = json.loads(rest)
        return [str(word) for word in value]
    return shlex.split(rest)


def read_image(dockerfile: Path = DOCKERFILE, *, ignore_volumes: bool = False) -> Image:
    """The runtime (last) stage of the Dockerfile, mapped onto this machine."""
    stages: list[list[tuple[str, dict[str, str], str]]] = []
    for line in dockerfile_lines(dockerfile.read_text()):
        keyword, _, rest = line.partition(" ")
        flags: dict[str, str] = {}
        rest = rest.strip()
        while match := re.match(r"--([a-z-]+)=(\S+)\s+", rest):
            flags[match.group(1)] = match.group(2)
            rest = rest[match.end() :]
        if keyword.upper() == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((keyword.upper(), flags, rest))
    if not stages:
        raise RehearsalError(f"{dockerfile}: no FROM")
    image = Image(
        env=dict(BASE_IMAGE_ENV),
        workdir="/",
        user="0",
        volumes=[],
        entrypoint=[],
        cmd=[],
        binds={},
        dirs={},
        fetched=[],
    )
    for keyword, flags, rest in stages[-1]:
        if keyword == "ENV":
            for word in shlex.split(rest):
                key, _, value = word.partition("=")
                image.env[key] = re.sub(
                    r"\$\{?([A-Z_]+)\}?", lambda m: image.env.get(m.group(1), ""), value
                )
        elif keyword == "WORKDIR":
            image.workdir = rest
        elif keyword == "USER":
            image.user = rest
        elif keyword == "VOLUME" and not ignore_volumes:
            image.volumes.extend(_words(rest))
        elif keyword == "ENTRYPOINT":
            image.entrypoint = _words(rest)
        elif keyword == "CMD":
            image.cmd = _words(rest)
        elif keyword in ("COPY", "ADD"):
            *sources, dest = _words(rest)
            for source in sources:
                if re.match(r"https?://", source):
                    image.fetched.append(dest)
                elif "from" in flags:  # from the builder stage: the venv
                    image.binds[dest.rstrip("/")] = VENV if "venv" in source else Path(source)
                else:
                    image.binds[dest.rstrip("/")] = ROOT / source.rstrip("/")
        elif keyword == "RUN":
            _read_dir_changes(rest, image.dirs)
    return image


def _read_dir_changes(script: str, dirs: dict[str, tuple[int, int, int]]) -> None:
    """Owner and mode of directories a RUN line creates (mkdir/install -d, chown, chmod)."""
    for command in re.split(r"&&|;|\|\|", script):
        words = shlex.split(command)
        if not words:
            continue
        paths = [w for w in words[1:] if w.startswith("/")]
        if words[0] in ("mkdir", "install"):
            mode = 0o755
            for i, word in enumerate(words):
                if word in ("-m", "--mode") and i + 1 < len(words):
                    mode = int(words[i + 1], 8)
                elif word.startswith("--mode="):
                    mode = int(word.partition("=")[2], 8)
            owner = (0, 0)
            for i, word in enumerate(words):
                if word in ("-o", "--owner") and i + 1 < len(words):
                    owner = (int(words[i + 1]), owner[1])
                elif word in ("-g", "--group") and i + 1 < len(words):
                    owner = (owner[0], int(words[i + 1]))
            for path in paths:
                dirs[path.rstrip("/")] = (*owner, mode)
        elif words[0] == "chown":
            owner_text = next(w for w in words[1:] if not w.startswith("-"))
            user, _, group = owner_text.partition(":")
            for path in paths:
                _, _, mode = dirs.get(path, (0, 0, 0o755))
                dirs[path.rstrip("/")] = (int(user), int(group or user), mode)
        elif words[0] == "chmod":
            mode_text = next(w for w in words[1:] if not w.startswith("-"))
            for path in paths:
                uid, gid, _ = dirs.get(path, (0, 0, 0o755))
                dirs[path.rstrip("/")] = (uid, gid, int(mode_text, 8))


# --------------------------------------------------------------------------------------------
# the synthesized cloud assembly


def synthesize(outdir: Path) -> Path:
    """`python app.py` into outdir (the CDK app, exactly as `cdk synth` runs it)."""
    python = VENV / "bin" / "python"
    say(f"synthesizing the CDK app into {outdir} ...")
    started = time.monotonic()
    result = subprocess.run(
        [str(python if python.exists() else sys.executable), "app.py"],
        cwd=ROOT,
        env={**os.environ, "CDK_OUTDIR": str(outdir)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RehearsalError(f"synthesis failed:\n{result.stderr[-4000:]}")
    say(f"synthesized in {time.monotonic() - started:.0f}s")
    return outdir


@dataclasses.dataclass
class Stack:
    name: str
    template: dict[str, Any]
    account: str
    region: str

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template.get("Resources", {})
        return resources


@dataclasses.dataclass
class Assembly:
    env: str
    stacks: dict[str, Stack]
    exports: dict[str, tuple[Stack, Any]]

    @classmethod
    def load(cls, outdir: Path, env: str) -> Assembly:
        directory = outdir / f"assembly-{env}"
        manifest_path = directory / "manifest.json"
        if not manifest_path.exists():
            raise RehearsalError(f"no synthesized environment {env!r} in {outdir}")
        manifest = json.loads(manifest_path.read_text())
        stacks: dict[str, Stack] = {}
        for name, artifact in manifest["artifacts"].items():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            _, _, location = artifact["environment"].partition("aws://")
            account, _, region = location.partition("/")
            template = json.loads((directory / artifact["properties"]["templateFile"]).read_text())
            stacks[name] = Stack(name, template, account, region)
        exports: dict[str, tuple[Stack, Any]] = {}
        for stack_ in stacks.values():
            for output in stack_.template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if isinstance(export, str):
                    exports[export] = (stack_, output["Value"])
        return cls(env, stacks, exports)

    def find(self, rtype: str) -> list[tuple[Stack, str, dict[str, Any]]]:
        return [
            (stack_, logical_id, resource)
            for stack_ in self.stacks.values()
            for logical_id, resource in stack_.resources.items()
            if resource["Type"] == rtype
        ]


def environments(outdir: Path) -> list[str]:
    """The environments synthesized as their own stage (assembly-<env>; not the pipeline's)."""
    config = json.loads((ROOT / "cdk.json").read_text())["context"]["biwoco"]["environments"]
    return [env for env in config if (outdir / f"assembly-{env}").is_dir()]


# A resolved reference to a resource attribute: (stack, logical id, attribute or "Ref").
Reference = tuple[Stack, str, str]


def render(value: Any, stack_: Stack, assembly: Assembly, attr: Callable[[Reference], str]) -> str:
    """A CloudFormation value as a string, AWS resources' attributes given by `attr`."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(render(p, stack_, assembly, attr) for p in parts)
        if function == "Fn::ImportValue":
            name = render(argument, stack_, assembly, attr)
            if name not in assembly.exports:
                raise RehearsalError(f"export {name} is not in the assembly")
            exporter, exported = assembly.exports[name]
            return render(exported, exporter, assembly, attr)
        if function == "Ref":
            if argument == "AWS::Region":
                return stack_.region
            if argument == "AWS::AccountId":
                return stack_.account
            if argument == "AWS::Partition":
                return "aws"
            if argument == "AWS::URLSuffix":
                return "amazonaws.com"
            return attr((stack_, argument, "Ref"))
        if function == "Fn::GetAtt":
            logical_id, attribute = (
                argument if isinstance(argument, list) else argument.split(".", 1)
            )
            return attr((stack_, logical_id, attribute))
    raise RehearsalError(f"cannot render {json.dumps(value)[:200]}")


def references(value: Any, stack_: Stack, assembly: Assembly) -> list[Reference]:
    """Every resource attribute a value refers to (through exports too)."""
    found: list[Reference] = []

    def collect(ref: Reference) -> str:
        found.append(ref)
        return ""

    with contextlib.suppress(RehearsalError):
        render(value, stack_, assembly, collect)
    return found


# --------------------------------------------------------------------------------------------
# the task definitions


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
        for container in properties["ContainerDefinitions"]:
            found[container["Name"]] = ContainerDefinition(
                family=str(properties.get("Family", container["Name"])),
                name=container["Name"],
                stack=stack_,
                raw=container,
                volumes=volumes,
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


# --------------------------------------------------------------------------------------------
# the local stand-ins for AWS


@dataclasses.dataclass
class Tls:
    ca: Path
    cert: Path
    key: Path
    trust_store: Path  # this machine's CA bundle plus the rehearsal CA


def make_tls(directory: Path, addresses: Sequence[str]) -> Tls:
    """A throwaway CA and a server certificate for the given IP addresses (openssl)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, csr = directory / "server.pem", directory / "server.key", directory / "server.csr"
    ext = directory / "server.ext"
    sans = ",".join([*(f"IP:{a}" for a in addresses), "DNS:localhost"])
    ext.write_text(
        f"subjectAltName={sans}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for argv in (
        ["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=biwoco rehearsal CA"],
        ["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=biwoco rehearsal"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", ext],
    ):  # fmt: skip
        done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RehearsalError(f"openssl failed: {done.stderr.strip()}")
    key.chmod(0o644)  # the local servers run as root; nothing else reads the scratch dir
    system_bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    trust_store = directory / "ca-certificates.crt"
    system = system_bundle.read_text() if system_bundle.exists() else ""
    trust_store.write_text(system + ca.read_text())
    return Tls(ca=ca, cert=cert, key=key, trust_store=trust_store)


@dataclasses.dataclass
class Bridge:
    """The tasks' network: a Linux bridge; the stand-ins listen on its address."""

    name: str
    prefix: str  # e.g. 10.231.200
    next_host: int = 10

    @property
    def gateway(self) -> str:
        return f"{self.prefix}.1"

    @classmethod
    def create(cls) -> Bridge:
        offset = stack.PORT_OFFSET
        bridge = cls(name=f"rhbr{offset}", prefix=f"{BRIDGE_PREFIX}.{offset % 256}")
        bridge.delete()  # a bridge left behind by a killed rehearsal
        ip("link", "add", bridge.name, "type", "bridge")
        ip("addr", "add", f"{bridge.gateway}/24", "dev", bridge.name)
        ip("link", "set", bridge.name, "up")
        return bridge

    def delete(self) -> None:
        subprocess.run([IP, "link", "del", self.name], capture_output=True, check=False)

    def attach(self, pid: int) -> str:
        """Give the network namespace of pid an eth0 on the bridge; returns its address."""
        self.next_host += 1
        address = f"{self.prefix}.{self.next_host}"
        host_side = f"rh{stack.PORT_OFFSET}v{self.next_host}"
        # A veth goes with its task's namespace; one that outlived a failed rehearsal (its
        # namespace still pinned for a while) must not make this one fail with "File exists".
        subprocess.run([IP, "link", "del", host_side], capture_output=True, check=False)
        ip("link", "add", host_side, "type", "veth", "peer", "name", "eth0", "netns", str(pid))
        ip("link", "set", host_side, "master", self.name, "up")
        inside = [NSENTER, f"--target={pid}", "--net", IP]
        for args in (
            ["addr", "add", f"{address}/24", "dev", "eth0"],
            ["link", "set", "eth0", "up"],
            ["link", "set", "lo", "up"],
            ["route", "add", "default", "via", self.gateway],
        ):
            run_quiet([*inside, *args])
        return address


def run_quiet(argv: Sequence[str]) -> None:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RehearsalError(f"{shlex.join(argv)} failed: {done.stderr.strip()}")


def ip(*args: str) -> None:
    run_quiet([IP, *args])


@dataclasses.dataclass
class RedisGroup:
    logical_id: str
    policy: str
    password: str
    tls_port: int
    process: stack.ManagedProcess


class LocalAws:
    """The stand-ins, started lazily as the definitions refer to them."""

    def __init__(
        self, assembly: Assembly, workdir: Path, bridge: Bridge, tls: Tls, secrets: dict[str, str]
    ) -> None:
        self.assembly = assembly
        self.workdir = workdir
        self.bridge = bridge
        self.tls = tls
        self.secrets = secrets
        self.processes: list[stack.ManagedProcess] = []
        self.redis: dict[str, RedisGroup] = {}
        self.database_port: int | None = None
        self.moto: stack.ManagedProcess | None = None
        self.buckets: dict[str, str] = {}
        self.ses_identities: set[tuple[str, str, str]] = set()

    def close(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                process.stop(timeout=10)
        self.processes.clear()

    # -- ElastiCache

    def _secret_for(self, secret: tuple[str, str], definition: ContainerDefinition) -> str:
        """The value the task gets for the Secrets Manager secret (stack name, logical id)."""
        for item in definition.raw.get("Secrets") or []:
            refs = references(item["ValueFrom"], definition.stack, self.assembly)
            if any((ref_stack.name, logical_id) == secret for ref_stack, logical_id, _ in refs):
                return self.secrets[item["Name"]]
        raise RehearsalError(
            f"the AUTH token secret {secret[1]} is not among {definition.name}'s secrets"
        )

    def redis_group(
        self, stack_: Stack, logical_id: str, definition: ContainerDefinition
    ) -> RedisGroup:
        if logical_id in self.redis:
            return self.redis[logical_id]
        properties = stack_.resources[logical_id]["Properties"]
        if not properties.get("TransitEncryptionEnabled"):
            raise RehearsalError(f"{logical_id}: the rehearsal expects in-transit encryption")
        token_refs = references(properties.get("AuthToken"), stack_, self.assembly)
        secrets = [
            (ref_stack.name, lid)
            for ref_stack, lid, _ in token_refs
            if ref_stack.resources.get(lid, {}).get("Type") == "AWS::SecretsManager::Secret"
        ]
        if not secrets:
            raise RehearsalError(f"{logical_id}: no AUTH token from Secrets Manager")
        password = self._secret_for(secrets[0], definition)
        policy = ELASTICACHE_DEFAULT_POLICY
        group_ref = properties.get("CacheParameterGroupName")
        for ref_stack, ref_id, _ in (
            references(group_ref, stack_, self.assembly) if group_ref else []
        ):
            parameters = ref_stack.resources[ref_id]["Properties"].get("Properties") or {}
            policy = str(parameters.get("maxmemory-policy", policy))
        tls_port = stack.free_port()
        port = stack.free_port()
        args = [
            "--bind", "127.0.0.1", self.bridge.gateway,
            "--tls-port", str(tls_port),
            "--tls-cert-file", str(self.tls.cert),
            "--tls-key-file", str(self.tls.key),
            "--tls-ca-cert-file", str(self.tls.ca),
            "--tls-auth-clients", "no",
            "--maxmemory", "64mb",
            "--maxmemory-policy", policy,
        ]  # fmt: skip
        for command in ELASTICACHE_RESTRICTED:
            args += ["--rename-command", command, ""]
        process = stack.start_redis(
            port, self.workdir / f"redis-{logical_id}", password=password, extra_args=args
        )
        self.processes.append(process)
        group = RedisGroup(logical_id, policy, password, tls_port, process)
        self.redis[logical_id] = group
        say(
            f"ElastiCache {logical_id}: redis-server TLS on {self.bridge.gateway}:{tls_port}, "
            f"AUTH token from the task's secret, maxmemory-policy {policy}"
        )
        return group

    # -- DocumentDB

    def database(self) -> int:
        if self.database_port is None:
            tls = stack.MongoTls(
                port=stack.free_port(),
                cert=self.tls.cert,
                key=self.tls.key,
                host=self.bridge.gateway,
            )
            process = stack.start_mongo_server(
                stack.free_port(), self.workdir / "database", backend="memory", tls=tls
            )
            self.processes.append(process)
            self.database_port = tls.port
            say(f"DocumentDB: mongo-java-server (memory) with TLS on {tls.host}:{tls.port}")
        return self.database_port

    # -- S3, CloudWatch

    def moto_url(self) -> str:
        if self.moto is None:
            self.moto = stack.start_moto(
                stack.free_port(), self.workdir / "moto", host=self.bridge.gateway
            )
            self.processes.append(self.moto)
        return self.moto.url

    def ses_identity(self, sender: str, configuration_set: str, region: str) -> None:
        """SES in moto, as the Auth stack leaves it: the sender's domain identity and the set."""
        domain = parseaddr(sender)[1].rpartition("@")[2]
        if not domain:
            raise RehearsalError(f"MAIL_FROM {sender!r} names no address to send from")
        key = (domain, configuration_set, region)
        if key in self.ses_identities:
            return
        import boto3  # the project's .venv has it; only an SES-sending task needs it

        client = boto3.client(
            "sesv2",
            endpoint_url=self.moto_url(),
            region_name=region,
            aws_access_key_id=stack.DUMMY_AWS_CREDENTIAL,
            aws_secret_access_key=stack.DUMMY_AWS_CREDENTIAL,
        )
        with contextlib.suppress(client.exceptions.AlreadyExistsException):
            client.create_email_identity(EmailIdentity=domain)
        if configuration_set:
            with contextlib.suppress(client.exceptions.AlreadyExistsException):
                client.create_configuration_set(ConfigurationSetName=configuration_set)
        self.ses_identities.add(key)
        say(f"SES: moto with the identity {domain} and the configuration set {configuration_set}")

    def bucket(self, logical_id: str) -> str:
        if logical_id not in self.buckets:
            name = f"rehearsal-{self.assembly.env}-{logical_id.lower()}"[:63]
            stack.create_bucket(self.moto_url(), name)
            self.buckets[logical_id] = name
        return self.buckets[logical_id]

    # -- attributes of referenced resources

    def attribute(self, ref: Reference, definition: ContainerDefinition) -> str:
        stack_, logical_id, attribute = ref
        rtype = stack_.resources.get(logical_id, {}).get("Type", "?")
        if rtype == "AWS::ElastiCache::ReplicationGroup":
            group = self.redis_group(stack_, logical_id, definition)
            if attribute.endswith("Address"):
                return self.bridge.gateway
            if attribute.endswith("Port"):
                return str(group.tls_port)
        elif rtype == "AWS::DocDB::DBCluster":
            if attribute in ("Endpoint", "ReadEndpoint"):
                return self.bridge.gateway
            if attribute == "Port":
                return str(self.database())
        elif rtype == "AWS::S3::Bucket" and attribute == "Ref":
            return self.bucket(logical_id)
        elif rtype == "AWS::KMS::Key" and attribute == "Arn":
            key_id = uuid.uuid5(uuid.NAMESPACE_DNS, logical_id)
            return f"arn:aws:kms:{stack_.region}:{stack_.account}:key/{key_id}"
        elif rtype == "AWS::Cognito::UserPool" and attribute == "Ref":
            return f"{stack_.region}_rehearsal"
        elif rtype == "AWS::Cognito::UserPoolClient" and attribute == "Ref":
            return f"rehearsal{abs(hash(logical_id)) % 10**8}"
        raise RehearsalError(
            f"{definition.name}: no local stand-in for {rtype} {logical_id}.{attribute}; "
            "teach scripts/rehearse.py what stands in for it"
        )


def without_replica_set(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "replicaSet"]
    return urlunsplit(parts._replace(query=urlencode(query)))


# --------------------------------------------------------------------------------------------
# a task: one container in its namespaces


@dataclasses.dataclass
class TaskSpec:
    definition: ContainerDefinition
    argv: list[str]
    env: dict[str, str]
    uid: int
    gid: int
    readonly: bool
    capabilities: list[str]
    binds: dict[str, Path]
    files: dict[str, Path]  # image path -> file on this machine (bind-mounted over)
    volumes: dict[str, tuple[Path, bool]]  # container path -> (host dir, read-only)
    workdir: str


def _setup_script(spec: TaskSpec, root: Path, hostname: str) -> str:
    """The shell script that builds the task's root and execs the command (as root, inside)."""
    q = shlex.quote
    r = q(str(root))
    lines = [
        "set -eu",
        "read -r _go || true",  # the harness has set up the network
        "exec </dev/null",
        f"hostname {q(hostname)}",
        f"mount -t tmpfs -o mode=0755,size=16m rehearsal-root {r}",
    ]
    for top in ("usr", "etc", "dev", "proc", "sys"):
        lines += [f"mkdir -p {r}/{top}", f"mount --rbind /{top} {r}/{top}"]
    for link in ("bin", "lib", "lib64", "sbin"):
        if Path(f"/{link}").is_symlink():
            lines.append(f"ln -s {q(os.readlink(f'/{link}'))} {r}/{link}")
        elif Path(f"/{link}").is_dir():
            lines += [f"mkdir -p {r}/{link}", f"mount --rbind /{link} {r}/{link}"]
    lines += [f"mount -t tmpfs -o mode=1777,size=64m shm {r}/dev/shm"]  # noqa: S108
    # The task's volumes first: a bind below one (the venv of a checkout under /tmp, which its
    # scripts' shebangs name) is then mounted on top of the volume, not hidden by it.
    for container_path, (host_dir, _) in spec.volumes.items():
        target = f"{r}{q(container_path)}"
        lines += [f"mkdir -p {target}", f"mount --bind {q(str(host_dir))} {target}"]
    for image_path, host_path in spec.binds.items():
        target = f"{r}{q(image_path)}"
        lines += [
            f"mkdir -p {target}",
            f"mount --bind {q(str(host_path))} {target}",
            f"mount -o remount,bind,ro {target}",
        ]
    for image_path, host_file in spec.files.items():
        target = f"{r}{q(image_path)}"
        lines += [
            f"mkdir -p $(dirname {target})",
            f"[ -e {target} ] || touch {target}",
            f"mount --bind {q(str(host_file))} {target}",
        ]
    lines.append(f"mkdir -p {r}{q(spec.workdir)}")
    for container_path, (_, read_only) in spec.volumes.items():
        if read_only:
            lines.append(f"mount -o remount,bind,ro {r}{q(container_path)}")
    for top in ("usr", "etc", "sys"):
        lines.append(f"mount -o remount,bind,ro {r}/{top}")
    if spec.readonly:
        lines.append(f"mount -o remount,ro {r}")
    bounding = ",".join(["-all", *(f"+{c.lower()}" for c in spec.capabilities)])
    lines.append(
        f"exec chroot {r} /usr/bin/env -C {q(spec.workdir)} /usr/bin/setpriv "
        f"--reuid={spec.uid} --regid={spec.gid} --clear-groups --inh-caps=-all "
        f'--bounding-set={bounding} -- "$@"'
    )
    return "\n".join(lines) + "\n"


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the rehearsal dies (unshare --kill-child then
    takes the task with it), so a killed rehearsal leaves no task behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _terminate_on_sigterm() -> None:
    """SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C: every task and stand-in is stopped."""

    def handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


class Task:
    """One running container: `unshare` (mount, pid, uts, net) around the setup script."""

    def __init__(self, spec: TaskSpec, name: str, workdir: Path, bridge: Bridge) -> None:
        self.spec = spec
        self.name = name
        self.workdir = workdir
        self.bridge = bridge
        self.log_path = workdir / f"{name}.log"
        self.address = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self.container_pid = 0
        self.returncode: int | None = None

    def start(self) -> Task:
        root = self.workdir / f"{self.name}.root"
        root.mkdir(parents=True, exist_ok=True)
        script = self.workdir / f"{self.name}.setup.sh"
        hostname = f"ip-{self.bridge.prefix.replace('.', '-')}-{self.bridge.next_host + 1}"
        script.write_text(_setup_script(self.spec, root, hostname))
        log = self.log_path.open("ab")
        argv = [
            UNSHARE, "--mount", "--uts", "--net", "--pid", "--fork", "--mount-proc",
            "--propagation", "private", "--kill-child",
            "/bin/sh", str(script), *self.spec.argv,
        ]  # fmt: skip
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.spec.env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        assert self._proc.stdin is not None
        try:
            self.container_pid = self._child_pid()
            self.address = self.bridge.attach(self._proc.pid)
            self._proc.stdin.write(b"go\n")
        except BaseException:
            self.kill()
            raise
        finally:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        say(
            f"{self.name}: started (pid {self.container_pid}, address {self.address}, "
            f"log {self.log_path})"
        )
        return self

    def _child_pid(self) -> int:
        assert self._proc is not None
        deadline = time.monotonic() + 10
        children = Path(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children")
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                text = children.read_text().split()
                if text:
                    return int(text[0])
            if self._proc.poll() is not None:
                raise RehearsalError(f"{self.name}: unshare exited:\n{stack.tail(self.log_path)}")
            time.sleep(0.02)
        raise RehearsalError(f"{self.name}: the task's process did not appear")

    def running(self) -> bool:
        if self._proc is None:
            return False
        self.returncode = self._proc.poll()
        return self.returncode is None

    def wait(self, timeout: float) -> int:
        assert self._proc is not None
        try:
            self.returncode = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise RehearsalError(f"{self.name} still runs after {timeout:.0f}s") from None
        return self.returncode

    def stop(self) -> int | None:
        """What ECS does: SIGTERM to the container's process, SIGKILL after StopTimeout."""
        if self._proc is None:
            return self.returncode
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.container_pid, signal.SIGTERM)
            try:
                self._proc.wait(self.spec.definition.stop_timeout)
            except subprocess.TimeoutExpired:
                say(f"{self.name}: still running after StopTimeout; SIGKILL")
                self.kill()
        self.returncode = self._proc.returncode
        return self.returncode

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                if self.container_pid:
                    os.kill(self.container_pid, signal.SIGKILL)
            self._proc.wait(10)
            self.returncode = self._proc.returncode

    def exec(self, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        """A command in the running task, as `docker exec` runs a health check."""
        bounding = ",".join(["-all", *(f"+{c.lower()}" for c in self.spec.capabilities)])
        command = [
            NSENTER, f"--target={self.container_pid}", "--mount", "--uts", "--net", "--pid",
            "--root", "--wd",
            "/usr/bin/setpriv", f"--reuid={self.spec.uid}", f"--regid={self.spec.gid}",
            "--clear-groups", "--inh-caps=-all", f"--bounding-set={bounding}", "--",
            *argv,
        ]  # fmt: skip
        try:
            return subprocess.run(
                command, env=self.spec.env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(command, 124, "", f"timed out after {timeout}s")

    def confinement(self) -> str:
        """How the running process is confined, read from /proc (uid, root, capabilities)."""
        status = Path(f"/proc/{self.container_pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uids, gids = fields["Uid"].split(), fields["Gid"].split()
        groups = fields.get("Groups", "").split()
        root_options = ""
        for line in Path(f"/proc/{self.container_pid}/mountinfo").read_text().splitlines():
            parts = line.split()
            if parts[4] == "/":
                root_options = parts[5]
        effective, bounding = int(fields["CapEff"], 16), int(fields["CapBnd"], 16)
        expected_ro = self.spec.readonly
        if set(uids) != {str(self.spec.uid)} or set(gids) != {str(self.spec.gid)} or groups:
            raise RehearsalError(f"{self.name}: runs as uid {uids} gid {gids} groups {groups}")
        if expected_ro and "ro" not in root_options.split(","):
            raise RehearsalError(f"{self.name}: the root filesystem is not read-only")
        if effective:
            raise RehearsalError(f"{self.name}: effective capabilities {effective:#x}")
        return (
            f"uid {self.spec.uid} gid {self.spec.gid} no groups, root filesystem "
            f"{'read-only' if 'ro' in root_options.split(',') else 'writable'}, "
            f"no effective capabilities (bounding set {bounding:#x})"
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def health_argv(command: Sequence[str]) -> list[str]:
    """ECS HealthCheck.Command: CMD runs the words, CMD-SHELL runs one string with /bin/sh -c."""
    kind, *rest = command
    if kind == "CMD":
        return list(rest)
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(rest)]
    raise RehearsalError(f"health check command must start with CMD or CMD-SHELL: {command}")


def wait_healthy(task: Task, check: HealthCheck, interval: float | None) -> int:
    """Run the container health check as ECS does until HEALTHY; returns the number of runs.

    Failures within StartPeriod do not count; `Retries` consecutive failures after it make the
    container UNHEALTHY (ECS would stop the task): the rehearsal fails.
    """
    every = check.interval if interval is None else interval
    started = time.monotonic()
    failures = runs = 0
    argv = health_argv(check.command)
    while True:
        time.sleep(every)
        if not task.running():
            raise RehearsalError(
                f"{task.name} exited before it was healthy:\n{stack.tail(task.log_path, 40)}"
            )
        runs += 1
        result = task.exec(argv, check.timeout)
        if result.returncode == 0:
            return runs
        if time.monotonic() - started > check.start_period:
            failures += 1
            if failures >= check.retries:
                raise RehearsalError(
                    f"{task.name}: UNHEALTHY after {failures} failed health checks "
                    f"({result.stderr.strip()[-500:]}):\n{stack.tail(task.log_path, 40)}"
                )


def wait_target_healthy(
    task: Task, port: int, check: TargetGroupCheck, interval: float | None
) -> None:
    """The target group's health check, from outside the task, at the task's address."""
    every = check.interval if interval is None else interval
    target_port = port if check.port == "traffic-port" else int(check.port)
    url = f"http://{task.address}:{target_port}{check.path}"
    codes = {int(c) for c in check.matcher.split(",") if c.strip().isdigit()}
    healthy = failures = 0
    while healthy < check.healthy_threshold:
        status = 0
        try:
            with urllib.request.urlopen(url, timeout=check.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = 0
        if status in codes:
            healthy += 1
        else:
            healthy = 0
            failures += 1
            if failures > 10:
                raise RehearsalError(f"target group check {url} keeps failing (last {status})")
        if healthy < check.healthy_threshold:
            time.sleep(every)
    say(f"target group: {url} healthy ({check.healthy_threshold} checks answered {check.matcher})")


# --------------------------------------------------------------------------------------------
# the rehearsal of one environment


@dataclasses.dataclass
class Options:
    workdir: Path
    secrets_file: Path | None
    health_interval: float | None
    beat_interval: float
    ignore_image_volumes: bool
    dockerfile: Path


def load_secrets(path: Path | None, names: set[str], workdir: Path) -> dict[str, str]:
    """Secret values by name: from the file, generated for the names it does not have."""
    values: dict[str, str] = {}
    if path is not None:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise RehearsalError(f"{path}: expected a JSON object of secret names to values")
        values = {str(k): str(v) for k, v in data.items()}
    generated = {}
    for name in sorted(names - set(values)):
        # SENTRY_DSN starts as a placeholder in every environment (no Sentry until set).
        generated[name] = "replace-me" if name == "SENTRY_DSN" else secrets_module.token_urlsafe(36)
    if generated:
        target = workdir / "secrets.json"
        target.write_text(json.dumps({**values, **generated}, indent=2) + "\n")
        target.chmod(0o600)
        say(f"secrets {', '.join(generated)}: generated into {target}")
    return {**values, **generated}


class Rehearsal:
    def __init__(self, assembly: Assembly, options: Options) -> None:
        self.assembly = assembly
        self.options = options
        self.workdir = options.workdir / assembly.env
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        self.image = read_image(options.dockerfile, ignore_volumes=options.ignore_image_volumes)
        self.definitions = task_definitions(assembly)
        names = {s["Name"] for d in self.definitions.values() for s in d.raw.get("Secrets") or []}
        self.secrets = load_secrets(options.secrets_file, names, self.workdir)
        self.tasks: list[Task] = []
        self._stack = contextlib.ExitStack()
        self.bridge = Bridge.create()
        self._stack.callback(self.bridge.delete)
        self.tls = make_tls(self.workdir / "tls", [self.bridge.gateway, "127.0.0.1"])
        self.aws = LocalAws(assembly, self.workdir, self.bridge, self.tls, self.secrets)
        self._stack.callback(self.aws.close)
        self._stack.callback(self._stop_all)
        self._told: set[str] = set()

    def close(self) -> None:
        """Stop every task and stand-in; a SIGTERM meanwhile must not cut the cleanup short."""
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            self._stack.close()
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _stop_all(self) -> None:
        for task in reversed(self.tasks):
            with contextlib.suppress(Exception):
                task.stop()

    def _tell(self, message: str) -> None:
        if message not in self._told:
            self._told.add(message)
            say(message)

    def spec(
        self,
        name: str,
        *,
        command: Sequence[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> TaskSpec:
        definition = self.definitions.get(name)
        if definition is None:
            raise RehearsalError(
                f"no container {name!r}; the definitions have {sorted(self.definitions)}"
            )
        image = self.image
        env = dict(image.env)
        for item in definition.raw.get("Environment") or []:
            value = item["Value"]
            if isinstance(value, str):
                env[item["Name"]] = value
                continue
            rendered = render(
                value,
                definition.stack,
                self.assembly,
                lambda ref: self.aws.attribute(ref, definition),
            )
            if item["Name"] == "MONGODB_URL" or "replicaSet=" in rendered:
                stripped = without_replica_set(rendered)
                if stripped != rendered:
                    self._tell(
                        f"{item['Name']}: replicaSet dropped "
                        "(the local database is a standalone server)"
                    )
                rendered = stripped
            env[item["Name"]] = rendered
            self._tell(f"{item['Name']}: {json.dumps(value)[:90]}... -> {rendered}")
        for item in definition.raw.get("Secrets") or []:
            secret_name = item["Name"]
            if secret_name in ("MONGODB_USERNAME", "MONGODB_PASSWORD"):
                # mongo-java-server does not authenticate; DocumentDB does.
                self._tell(f"{secret_name}: not given (the local database does not authenticate)")
                continue
            env[secret_name] = self.secrets[secret_name]
        region = definition.stack.region
        added = {
            # What Fargate adds: the region, and the task role's credentials (here moto's).
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": stack.DUMMY_AWS_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": stack.DUMMY_AWS_CREDENTIAL,
            "HOME": image.workdir,
            # The AWS APIs the service calls, aimed at moto.
            "S3_ENDPOINT_URL": self.aws.moto_url(),
            "CLOUDWATCH_ENDPOINT_URL": self.aws.moto_url(),
        }
        if env.get("MAIL_BACKEND") == "ses":
            # The Auth stack's identity and configuration set, in moto; mail goes there.
            self.aws.ses_identity(
                env.get("MAIL_FROM", ""),
                env.get("MAIL_SES_CONFIGURATION_SET", ""),
                env.get("MAIL_SES_REGION") or region,
            )
            added["MAIL_SES_ENDPOINT_URL"] = self.aws.moto_url()
        for key, value in added.items():
            if key not in env:
                env[key] = value
        self._tell(
            "added: AWS_REGION, AWS_DEFAULT_REGION, dummy AWS credentials (the task role), "
            f"S3_ENDPOINT_URL, CLOUDWATCH_ENDPOINT_URL and, for SES senders, "
            f"MAIL_SES_ENDPOINT_URL={self.aws.moto_url()} (moto)"
        )
        env.update(extra_env or {})
        user = str(definition.raw.get("User") or image.user)
        uid_text, _, gid_text = user.partition(":")
        uid, gid = int(uid_text), int(gid_text or uid_text)
        entrypoint = definition.entrypoint or image.entrypoint
        argv = list(command) if command else [*entrypoint, *(definition.command or image.cmd)]
        files = {path: self.tls.ca for path in image.fetched}
        files["/etc/ssl/certs/ca-certificates.crt"] = self.tls.trust_store
        passwd, group = self._identity_files(uid, gid)
        files["/etc/passwd"], files["/etc/group"] = passwd, group
        binds = dict(image.binds)
        if "/opt/venv" in binds:
            # The venv's scripts name its path on this machine, and its interpreter lives in
            # a Python installation of this machine (the image's is in /usr/local).
            binds[str(VENV)] = VENV
            base = venv_base_prefix()
            if not str(base).startswith("/usr/"):
                binds[str(base)] = base
        volumes: dict[str, tuple[Path, bool]] = {}
        for volume_name, container_path, read_only in definition.mounts:
            volume = definition.volumes.get(volume_name)
            if volume is None:
                raise RehearsalError(f"{name}: mount of an undefined volume {volume_name!r}")
            volumes[container_path] = (
                self._volume_dir(name, volume_name, container_path),
                read_only,
            )
        return TaskSpec(
            definition=definition,
            argv=argv,
            env=env,
            uid=uid,
            gid=gid,
            readonly=bool(definition.raw.get("ReadonlyRootFilesystem", False)),
            capabilities=definition.capabilities,
            binds=binds,
            files=files,
            volumes=volumes,
            workdir=image.workdir,
        )

    def _identity_files(self, uid: int, gid: int) -> tuple[Path, Path]:
        passwd, group = self.workdir / "passwd", self.workdir / "group"
        if not passwd.exists():
            passwd.write_text(
                Path("/etc/passwd").read_text() + f"app:x:{uid}:{gid}::/app:/usr/sbin/nologin\n"
            )
            group.write_text(Path("/etc/group").read_text() + f"app:x:{gid}:\n")
        return passwd, group

    def _volume_dir(self, task: str, volume: str, container_path: str) -> Path:
        """A task volume as Fargate creates it (each task its own)."""
        directory = self.workdir / "volumes" / f"{task}-{len(self.tasks)}-{volume}"
        directory.mkdir(parents=True)
        if container_path in self.image.volumes:
            uid, gid, mode = self.image.dirs.get(
                container_path, BASE_IMAGE_DIRS.get(container_path, (0, 0, 0o755))
            )
            how = "declared by the image's VOLUME"
        else:
            uid, gid, mode = 0, 0, 0o755
            how = "not declared by the image: Fargate's bind mount"
        os.chown(directory, uid, gid)
        directory.chmod(mode)
        self._tell(
            f"volume {volume} at {container_path}: owner {uid}:{gid}, mode {mode:04o} ({how})"
        )
        return directory

    def start(self, name: str, *, label: str | None = None, **kwargs: Any) -> Task:
        spec = self.spec(name, **kwargs)
        label = label or name
        task = Task(spec, f"{label}", self.workdir, self.bridge)
        self.tasks.append(task)
        return task.start()

    # -- the scenario

    def run(self) -> None:
        env = self.assembly.env
        say(f"== {env}: {', '.join(sorted(self.definitions))}")
        api_def = self.definitions["api"]
        api = self.start("api")
        check = api_def.health_check
        if check is None:
            raise RehearsalError("the api definition has no health check")
        runs = wait_healthy(api, check, self.options.health_interval)
        say(
            f"api: HEALTHY (the definition's health check passed on run {runs}); "
            f"{api.confinement()}"
        )
        port = api_def.port or 8000
        wait_target_healthy(
            api, port, target_group_check(self.assembly), self.options.health_interval
        )

        worker = self.start("worker")
        wait_log(worker, " ready.", 90)
        email = f"rehearsal-{uuid.uuid4().hex[:8]}@example.com"
        registered = http_json(
            f"http://{api.address}:{port}/api/v1/auth/register",
            {"email": email, "password": "Rehearsal-pw-1234!", "full_name": "Rehearsal"},
        )
        say(f"api: registered {email} (201, id {registered.get('id')})")
        wait_log(worker, "mail.send_email", 60)
        wait_log_regex(
            worker, r"mail\.send_email\[[^\]]+\] succeeded|Task mail\.send_email.*succeeded", 60
        )
        say(
            "worker: consumed the verification mail task (mail.send_email succeeded); "
            f"{worker.confinement()}"
        )

        interval = str(self.options.beat_interval)
        beat = self.start("beat", extra_env={BEAT_TICK_SETTING: interval})
        say(f"beat: {BEAT_TICK_SETTING}={interval} (rehearsal override of a schedule interval)")
        due = re.escape(f"Sending due task {BEAT_TICK_ENTRY}")
        wait_log_regex(beat, f"(?s){due}.*{due}", 60 + 3 * self.options.beat_interval)
        say(f"beat: two ticks of its schedule sent ({BEAT_TICK_ENTRY} twice); {beat.confinement()}")
        second = self.start("beat", label="beat-2")
        code = second.wait(90)
        if code == 0:
            raise RehearsalError(
                f"a second beat started and exited 0:\n{stack.tail(second.log_path)}"
            )
        if "refusing to start a second one" not in second.log():
            raise RehearsalError(
                f"the second beat failed for another reason:\n{stack.tail(second.log_path, 30)}"
            )
        say(f"beat-2: refused to start (exit {code}): another beat holds the lock")
        if not beat.running():
            raise RehearsalError("the first beat stopped")
        self.one_off(
            "api",
            ["python", "service/main.py", "--env", env, "create-admin", "--email", email],
            expect=f"admin ensured: {email}",
        )
        for task in (beat, worker, api):
            stopped = task.stop()
            say(f"{task.name}: stopped by SIGTERM (exit {stopped})")
            if stopped not in (0, None):
                raise RehearsalError(
                    f"{task.name} exited {stopped} on SIGTERM:\n{stack.tail(task.log_path)}"
                )
        say(f"== {env}: green")

    def one_off(
        self,
        name: str,
        command: Sequence[str] | None,
        *,
        expect: str | None = None,
        timeout: float = 120,
    ) -> int:
        """A one-off task (ECS RunTask, optionally with a command override) of a definition;
        it must exit 0 within `timeout`."""
        task = self.start(name, label=f"{name}-run", command=command)
        shown = shlex.join(command or task.spec.argv)
        code = task.wait(timeout)
        output = task.log()
        if code != 0:
            raise RehearsalError(f"one-off {shown} exited {code}:\n{stack.tail(task.log_path, 30)}")
        if expect is not None and expect not in output:
            raise RehearsalError(
                f"one-off {shown}: no {expect!r} in:\n{stack.tail(task.log_path, 30)}"
            )
        say(f"one-off task ({name}'s definition): {shown} -> exit 0")
        return code


def wait_log(task: Task, text: str, within: float) -> None:
    wait_log_regex(task, re.escape(text), within)


def wait_log_regex(task: Task, pattern: str, within: float) -> None:
    deadline = time.monotonic() + within
    regex = re.compile(pattern)
    while not regex.search(task.log()):
        if not task.running():
            raise RehearsalError(
                f"{task.name} exited (code {task.returncode}):\n{stack.tail(task.log_path, 40)}"
            )
        if time.monotonic() > deadline:
            raise RehearsalError(
                f"{task.name}: no /{pattern}/ in its log within {within:.0f}s:\n"
                + stack.tail(task.log_path, 40)
            )
        time.sleep(0.2)


def http_json(url: str, body: Mapping[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            if response.status != 201:
                raise RehearsalError(f"POST {url}: {response.status}")
            data: dict[str, Any] = json.load(response)
            return data
    except urllib.error.HTTPError as error:
        raise RehearsalError(f"POST {url}: {error.code} {error.read()[:500]!r}") from error


# --------------------------------------------------------------------------------------------
# CLI


def preflight() -> None:
    if os.geteuid() != 0:
        raise RehearsalError("the rehearsal needs root (namespaces, mounts, a bridge)")
    for tool in (UNSHARE, NSENTER, IP, "/usr/bin/setpriv", "/usr/bin/openssl"):
        if not os.access(tool, os.X_OK):
            raise RehearsalError(f"{tool} is missing (Debian: util-linux, iproute2, openssl)")


@contextlib.contextmanager
def bridge_lock() -> Iterator[None]:
    """One rehearsal at a time per STACK_PORT_OFFSET: they would share the bridge's name."""
    lock = Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
    path = lock / f"biwoco-rehearse-{stack.PORT_OFFSET}.lock"
    with path.open("a") as handle:
        deadline = time.monotonic() + 600
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RehearsalError(f"another rehearsal holds {path}") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def rehearse_one(assembly: Assembly, options: Options, args: argparse.Namespace) -> None:
    rehearsal = Rehearsal(assembly, options)
    try:
        if args.run:
            rehearsal.one_off(args.run, args.command or None, timeout=args.timeout)
        else:
            rehearsal.run()
    finally:
        rehearsal.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rehearse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", action="append", help="environment (repeatable; default: all)")
    parser.add_argument("--assembly", type=Path, help="a synthesized cloud assembly (cdk.out)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--secrets", type=Path, help="JSON object: secret name -> value")
    parser.add_argument(
        "--health-interval", type=float,
        help="seconds between health checks (default: the definitions' intervals)",
    )  # fmt: skip
    parser.add_argument(
        "--beat-interval", type=float, default=2.0,
        help=f"seconds between beat's ticks of {BEAT_TICK_ENTRY} ({BEAT_TICK_SETTING})",
    )  # fmt: skip
    parser.add_argument(
        "--ignore-image-volumes", action="store_true",
        help="act as if the Dockerfile declared no VOLUME (the image before the /tmp fix)",
    )  # fmt: skip
    parser.add_argument("--dockerfile", type=Path, default=DOCKERFILE, help=argparse.SUPPRESS)
    parser.add_argument("--run", metavar="CONTAINER", help="a one-off task of this definition")
    parser.add_argument(
        "--timeout", type=float, default=300, help="with --run: seconds the task may take"
    )
    parser.add_argument("command", nargs="*", help="with --run: a command override")
    args = parser.parse_args(argv)
    options = Options(
        workdir=args.workdir.resolve(),
        secrets_file=args.secrets,
        health_interval=args.health_interval,
        beat_interval=args.beat_interval,
        ignore_image_volumes=args.ignore_image_volumes,
        dockerfile=args.dockerfile.resolve(),
    )
    _terminate_on_sigterm()
    try:
        preflight()
        options.workdir.mkdir(parents=True, exist_ok=True)
        outdir = (
            args.assembly.resolve() if args.assembly else synthesize(options.workdir / "cdk.out")
        )
        envs = args.env or environments(outdir)
        if not envs:
            raise RehearsalError(f"no environment synthesized in {outdir}")
        for env in envs:
            with bridge_lock():
                rehearse_one(Assembly.load(outdir, env), options, args)
    except RehearsalError as error:
        print(f"rehearse: FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    except stack.StackError as error:
        print(f"rehearse: FAILED (local stack): {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("rehearse: interrupted; every task and stand-in was stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
