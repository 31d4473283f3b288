"""``python app.py`` synthesizes every stack of every environment, offline, without AWS
credentials or the CDK CLI, with cdk-nag as a failing validation plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import REPO_ROOT


@pytest.mark.slow
def test_python_app_py_synthesizes_everything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["CDK_OUTDIR"] = str(tmp_path)
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    templates = sorted(
        p.name for env in ("dev", "prod") for p in tmp_path.glob(f"assembly-{env}/*.template.json")
    )
    assert len(templates) == 10, templates
    report = json.loads((tmp_path / "validation-report.json").read_text())
    nag = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert all(not r["violations"] for r in nag)
