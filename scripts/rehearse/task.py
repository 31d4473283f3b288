"""A task: one container run in its own namespaces (unshare), on a root built from the image's
paths, as the definition's user with its capabilities.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from scripts import stack
from scripts.rehearse.definitions import ContainerDefinition
from scripts.rehearse.network import NSENTER, Bridge
from scripts.rehearse.reporting import RehearsalError, say

UNSHARE: Final = "/usr/bin/unshare"


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


def die_with_parent() -> None:
    """In the child before exec: SIGKILL when the rehearsal dies (unshare --kill-child then
    takes the task with it), so a killed rehearsal leaves no task behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


class Task:
    """One running container: `unshare` (mount, pid, uts, net) around the setup script."""

    def __init__(
        self,
        spec: TaskSpec,
        name: str,
        workdir: Path,
        bridge: Bridge,
        on_network: Callable[[int], None] | None = None,
    ) -> None:
        """``on_network(pid)`` runs once the task's network exists, before its process starts
        (the sidecars' stand-ins: they join the network namespace of ``pid``)."""
        self.spec = spec
        self.on_network = on_network
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
                preexec_fn=die_with_parent,
            )
        finally:
            log.close()
        assert self._proc.stdin is not None
        try:
            self.container_pid = self._child_pid()
            self.address = self.bridge.attach(self._proc.pid)
            if self.on_network is not None:
                self.on_network(self._proc.pid)
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
