"""The rehearsal of one environment: its stand-ins, secrets and bridge, each task's spec built from
its definition, and one-off tasks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets as secrets_module
import shlex
import shutil
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scripts import stack
from scripts.rehearse.assembly import Assembly, render
from scripts.rehearse.collector import CollectorStandIn
from scripts.rehearse.definitions import task_definitions
from scripts.rehearse.image import BASE_IMAGE_DIRS, read_image, venv_base_prefix
from scripts.rehearse.network import Bridge
from scripts.rehearse.paths import VENV
from scripts.rehearse.reporting import RehearsalError, say
from scripts.rehearse.stand_ins import LocalAws, without_replica_set
from scripts.rehearse.task import Task, TaskSpec
from scripts.rehearse.tls import make_tls


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
        # The sidecars' stand-ins; by task label, the latest task's.
        self._stand_ins: list[CollectorStandIn] = []
        self.collectors: dict[str, CollectorStandIn] = {}
        self._stack = contextlib.ExitStack()
        self.bridge = Bridge.create()
        self._stack.callback(self.bridge.delete)
        self.tls = make_tls(self.workdir / "tls", [self.bridge.gateway, "127.0.0.1"])
        self.aws = LocalAws(assembly, self.workdir, self.bridge, self.tls, self.secrets)
        self._stack.callback(self.aws.close)
        self._stack.callback(self._stop_collectors)
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

    def _stop_collectors(self) -> None:
        for stand_in in self._stand_ins:
            with contextlib.suppress(Exception):
                stand_in.stop()

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
        stand_ins = [
            CollectorStandIn(label, sidecar, self.workdir) for sidecar in spec.definition.sidecars
        ]
        for stand_in in stand_ins:
            self._stand_ins.append(stand_in)
            self.collectors[label] = stand_in

        def start_stand_ins(pid: int) -> None:
            for stand_in in stand_ins:
                stand_in.start(pid)

        task = Task(spec, f"{label}", self.workdir, self.bridge, on_network=start_stand_ins)
        self.tasks.append(task)
        return task.start()

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
