"""The baseline release of the upgrade check: which commit, and its synthesized assembly.

Releases are annotated git tags named ``release-<yyyy.mm.dd>[.n]`` on the commit that was
deployed (docs/deployment.md, "Releases"). The baseline is, in order:

1. the ``--baseline-ref`` argument, else
2. ``$BASELINE_REF`` (any commit-ish: a tag, a branch, a sha), else
3. the newest ``release-*`` tag reachable from ``HEAD`` (``git describe``).

The baseline is synthesized from a ``git archive`` of its commit (never the working tree),
with this checkout's virtual environment, into ``~/.cache/biwoco/baseline/<sha>/`` (kept:
a commit's synthesis never changes, and the pipeline caches that directory).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from infra.config import REPO_ROOT

TAG_PATTERN = "release-*"
CACHE_DIR = Path.home() / ".cache" / "biwoco" / "baseline"


class BaselineError(RuntimeError):
    pass


def _git(*args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BaselineError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def baseline_ref(explicit: str | None = None) -> str:
    """The ref to upgrade from (module docstring)."""
    if explicit:
        return explicit
    if os.environ.get("BASELINE_REF"):
        return os.environ["BASELINE_REF"]
    try:
        return _git("describe", "--tags", "--abbrev=0", "--match", TAG_PATTERN, "HEAD")
    except BaselineError as exc:
        raise BaselineError(
            f"no {TAG_PATTERN} tag reachable from HEAD and no BASELINE_REF: tag the deployed "
            "release (docs/deployment.md) or set BASELINE_REF"
        ) from exc


def resolve(ref: str) -> str:
    return _git("rev-parse", "--verify", f"{ref}^{{commit}}")


def synth_baseline(ref: str, cache_dir: Path = CACHE_DIR) -> Path:
    """The cloud assembly of ``ref`` (synthesized once per commit, then cached)."""
    sha = resolve(ref)
    out = cache_dir / sha / "cdk.out"
    if (out / "manifest.json").is_file():
        return out
    archive = subprocess.run(
        ["git", "archive", "--format=tar", sha], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix="biwoco-baseline-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(src, filter="data")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["CDK_OUTDIR"] = str(Path(tmp) / "cdk.out")
        result = subprocess.run(
            [sys.executable, "app.py"], cwd=src, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise BaselineError(f"synthesis of {ref} ({sha[:12]}) failed:\n{result.stderr}")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(out, ignore_errors=True)
        # Templates and manifests are all the check reads; the assets stay behind.
        shutil.copytree(
            Path(tmp) / "cdk.out", out, ignore=shutil.ignore_patterns("asset.*", "tree.json")
        )
    return out
