"""The CLI: `python -m scripts.stack up|down|status|env|build` (from the repository root)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from scripts.stack.messages import StackError, note
from scripts.stack.programs import mongo_server_command
from scripts.stack.settings import ENV_FILE
from scripts.stack.shared_stack import down, format_exports, stack_env, status, up


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="stack", description="The local stack: Redis, MongoDB and moto on loopback."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start what is missing; prints export lines")
    down_parser = commands.add_parser("down", help="stop what up started")
    down_parser.add_argument("--wipe", action="store_true", help="delete .stack data too")
    status_parser = commands.add_parser("status", help="show what runs")
    status_parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands.add_parser("env", help="print export lines for the stack")
    commands.add_parser("build", help="fetch and compile the local database into the cache")
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            started = time.monotonic()
            values = up()
            note(f"ready in {time.monotonic() - started:.1f}s (env written to {ENV_FILE})")
            sys.stdout.write(format_exports(values))
        elif args.command == "down":
            down(wipe=args.wipe)
        elif args.command == "env":
            sys.stdout.write(format_exports(stack_env()))
        elif args.command == "build":
            print(" ".join(mongo_server_command()))
        else:
            report = status()
            if args.json:
                print(json.dumps(report, indent=2))
            else:
                for name, item in report.items():
                    pid = f"pid {item['pid']}" if item["pid"] else "-"
                    print(f"{name:<9} {item['state']:<14} {pid:<11} {item['url']}")
            if any(item["state"] not in ("running", "external") for item in report.values()):
                return 3
    except StackError as exc:
        print(f"stack: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
