"""Rehearse Fargate on this machine: run the synthesized task definitions under their rules."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from scripts import stack
from scripts.rehearse.assembly import Assembly, environments, synthesize
from scripts.rehearse.network import bridge_lock
from scripts.rehearse.paths import DEFAULT_WORKDIR, DOCKERFILE
from scripts.rehearse.preflight import missing_support, preflight
from scripts.rehearse.rehearsal import Options, Rehearsal
from scripts.rehearse.reporting import RehearsalError
from scripts.rehearse.scenario import BEAT_TICK_ENTRY, BEAT_TICK_SETTING, run_scenario


def _terminate_on_sigterm() -> None:
    """SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C: every task and stand-in is stopped."""

    def handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def check_host() -> int:
    """Say whether the rehearsal can run here; tests/scripts/test_rehearse.py skips when not."""
    reason = missing_support()
    if reason is None:
        print("rehearse: this machine can run the rehearsal (namespaces, mounts, veth)")
        return 0
    print(f"rehearse: this machine cannot run the rehearsal; its tests skip: {reason}")
    return 3


def rehearse_one(assembly: Assembly, options: Options, args: argparse.Namespace) -> None:
    rehearsal = Rehearsal(assembly, options)
    try:
        if args.run:
            rehearsal.one_off(args.run, args.command or None, timeout=args.timeout)
        else:
            run_scenario(rehearsal)
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
    parser.add_argument(
        "--check-host", action="store_true",
        help="only say whether this machine can run the rehearsal (exit 0) or not (exit 3)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.check_host:
        return check_host()
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
