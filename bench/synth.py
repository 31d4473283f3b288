#!/usr/bin/env python3
"""Wall time of a full synthesis: every stack of every environment, cdk-nag on.

    python bench/synth.py [--runs N]

Runs ``python app.py`` in a fresh process (cold jsii/Node start included, as a developer
or CI sees it) into a temporary output directory and prints the wall time of each run.
Target: under 60 seconds on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 60.0


def run_once() -> float:
    with tempfile.TemporaryDirectory(prefix="biwoco-synth-") as outdir:
        env = {**os.environ, "CDK_OUTDIR": outdir}
        # No AWS credentials: synthesis must not need them.
        for key in list(env):
            if key.startswith("AWS_"):
                del env[key]
        started = time.perf_counter()
        subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, check=True)
        elapsed = time.perf_counter() - started
        templates = list(Path(outdir).glob("assembly-*/*.template.json"))
        if not templates:
            raise SystemExit("synthesis produced no templates")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    times = [run_once() for _ in range(args.runs)]
    for i, t in enumerate(times, 1):
        print(f"run {i}: full synthesis {t:.2f} s")
    best = min(times)
    verdict = "OK" if best < TARGET_SECONDS else "SLOW"
    print(f"best {best:.2f} s (target < {TARGET_SECONDS:.0f} s): {verdict}")
    return 0 if best < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
