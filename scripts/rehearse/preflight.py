"""What the rehearsal needs from this machine, found out by trying it, not from the user id.

Root is not enough: an unprivileged container (CodeBuild's, Docker's default) runs builds as
uid 0 but refuses new namespaces, mounts and veths. The probe does, in throwaway namespaces,
what a task's start does (scripts/rehearse/task.py, network.py), and reports the first refusal.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

from scripts.rehearse.network import IP, NSENTER
from scripts.rehearse.reporting import RehearsalError
from scripts.rehearse.task import UNSHARE

SETPRIV = "/usr/bin/setpriv"
OPENSSL = "/usr/bin/openssl"
REQUIRED_TOOLS = (UNSHARE, NSENTER, IP, SETPRIV, OPENSSL)

# Run inside the namespaces a task gets: a tmpfs (the task's root), its hostname, a bridge and a
# veth attached to it (its network), chroot and setpriv to an unprivileged user (its process).
# Every step names itself, so the reason says which one this machine refused.
PROBE_SCRIPT = """set -u
step() { what=$1; shift; "$@" 2>&1 >/dev/null || { echo "$what refused"; exit 1; }; }
step "a tmpfs mount" mount -t tmpfs rehearsal-probe "$1"
step "setting the hostname" hostname rehearsal-probe
step "a bridge (ip link add type bridge)" "$2" link add rhprobe-br type bridge
step "a veth (ip link add type veth)" "$2" link add rhprobe0 type veth peer name rhprobe1
step "attaching a veth to a bridge" "$2" link set rhprobe0 master rhprobe-br up
step "chroot" chroot / true
step "setpriv to an unprivileged user" "$3" --reuid=65534 --regid=65534 --clear-groups \
    --inh-caps=-all --bounding-set=-all true
"""


def missing_support() -> str | None:
    """Why this machine cannot run the rehearsal, or None when it can.

    Tries the namespaces (mount, UTS, network, PID with its own /proc) and, inside them, what a
    task's start does; nothing outlives the probe (the namespaces die with it).
    """
    for tool in REQUIRED_TOOLS:
        if not os.access(tool, os.X_OK):
            return f"{tool} is missing (Debian: util-linux, iproute2, openssl)"
    with tempfile.TemporaryDirectory(prefix="rehearsal-probe-") as mountpoint:
        argv = [
            UNSHARE, "--mount", "--uts", "--net", "--pid", "--fork", "--mount-proc",
            "--propagation", "private", "--kill-child",
            "/bin/sh", "-c", PROBE_SCRIPT, "probe", mountpoint, IP, SETPRIV,
        ]  # fmt: skip
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"the namespace probe could not run: {error}"
    if done.returncode == 0:
        return None
    said = (done.stdout + done.stderr).strip().splitlines()
    refusal = said[-1] if said else f"exit {done.returncode}"
    return (
        f"{refusal} (uid {os.geteuid()}): the rehearsal needs root with CAP_SYS_ADMIN and "
        "CAP_NET_ADMIN, which an unprivileged container does not give"
    )


def preflight() -> None:
    """Raise a RehearsalError saying why, when this machine cannot run the rehearsal."""
    reason = missing_support()
    if reason is not None:
        raise RehearsalError(reason)
