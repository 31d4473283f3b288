"""The rehearsal's tests skip on what this machine allows, not on the user id.

A CodeBuild build (not privileged) runs as uid 0 without the capabilities a task needs, as a
root process does here once `setpriv` drops CAP_SYS_ADMIN and CAP_NET_ADMIN from its bounding
set. The old check (`os.geteuid() == 0`) said "run" there, and the rehearsal failed the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from scripts.rehearse import ROOT

SETPRIV = shutil.which("setpriv")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or SETPRIV is None,
    reason="confining a process that stays uid 0 needs root and setpriv (util-linux)",
)

# uid 0, as in an unprivileged container: no new namespaces, mounts nor network devices.
ROOT_WITHOUT_ADMIN = [
    str(SETPRIV),
    "--bounding-set=-sys_admin,-net_admin",
    "--inh-caps=-sys_admin,-net_admin",
    "--",
]


def confined(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ROOT_WITHOUT_ADMIN, sys.executable, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )


def test_root_without_admin_capabilities_is_told_it_cannot_rehearse() -> None:
    result = confined(
        "-c",
        "import os\n"
        "from scripts.rehearse.preflight import missing_support\n"
        "print(os.geteuid())\n"
        "print(missing_support())\n",
    )
    assert result.returncode == 0, result.stderr
    uid, reason = result.stdout.splitlines()
    assert uid == "0"  # the uid check would run the rehearsal
    assert "Operation not permitted (uid 0)" in reason, reason
    assert "CAP_SYS_ADMIN and CAP_NET_ADMIN" in reason


def test_the_rehearsal_tests_skip_there_and_say_why() -> None:
    """The rehearsal module's own marker, in a pytest run as the pipeline's build runs it (one
    test that needs no namespaces, so that the run is quick either way)."""
    result = confined(
        "-m", "pytest", "tests/scripts/test_rehearse.py", "-k", "the_image_declares",
        "-p", "no:cacheprovider", "-rs", "-q",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "1 skipped" in output, output[-3000:]
    assert "the rehearsal cannot run here: unshare: unshare failed" in output, output[-3000:]


def test_the_cli_says_whether_this_machine_can_rehearse() -> None:
    result = confined("-m", "scripts.rehearse", "--check-host")
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout.startswith(
        "rehearse: this machine cannot run the rehearsal; its tests skip: unshare: "
    ), result.stdout
