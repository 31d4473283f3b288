"""The tasks' network (awsvpc as a Linux bridge, a veth per task) and the lock that keeps two
rehearsals off one bridge.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from scripts import stack
from scripts.rehearse.reporting import RehearsalError

BRIDGE_PREFIX: Final = "10.231"
NSENTER: Final = "/usr/bin/nsenter"
IP: Final = shutil.which("ip") or "/usr/sbin/ip"


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
