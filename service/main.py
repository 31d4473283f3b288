"""Entry point: `python service/main.py --env local|dev|prod` serves the API; `migrate` applies
the pending migrations (run it before serving: the API builds no index); `migrate --after-roll`,
once the services have rolled, converges what the previous release wrote meanwhile."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Run as a script, the interpreter puts service/ on sys.path; the code imports `service.*`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.app.settings import load_settings
from service.core.config import Environment
from service.core.logging import configure_logging, logging_config


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="service/main.py", description=__doc__)
    parser.add_argument(
        "--env",
        choices=[e.value for e in Environment],
        default=None,
        help="settings profile (default: APP_ENV, else local)",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the API (the default)")
    migrate = commands.add_parser(
        "migrate", help="apply the pending migrations (indexes, data); the deploy runs it first"
    )
    once_more = migrate.add_mutually_exclusive_group()
    once_more.add_argument(
        "--again",
        action="append",
        default=[],
        metavar="ID",
        help="apply this already-applied step once more",
    )
    once_more.add_argument(
        "--after-roll",
        action="store_true",
        help="once every task runs this release: apply the steps that converge documents the "
        "previous release wrote during the roll again (the deploy's second one-off task)",
    )
    admin = commands.add_parser(
        "create-admin",
        help="create an admin, or promote an existing account (password from a prompt or stdin)",
    )
    admin.add_argument("--email", required=True)
    admin.add_argument("--full-name", default="Administrator")
    return parser.parse_args(argv)


def serve(env: str | None) -> None:
    import os

    import uvicorn

    settings = load_settings(env)
    # The factory re-reads settings in the server process: pass the profile through APP_ENV.
    os.environ["APP_ENV"] = settings.app_env.value
    uvicorn.run(
        "service.app.server:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.web_concurrency,
        loop="uvloop",
        http="httptools",
        # X-Forwarded-* are the app's ForwardedMiddleware's (a hop count, which uvicorn's
        # trusted-address walk cannot express): one mechanism, not two.
        proxy_headers=False,
        timeout_keep_alive=settings.http_keep_alive_seconds,
        access_log=False,
        # uvicorn applies it in this process and in every worker (they inherit no set-up).
        log_config=logging_config(settings.log_level),
        server_header=False,
    )


def create_admin(env: str | None, email: str, full_name: str) -> None:
    import asyncio

    from service.app.users.adapter.input.cli import create_admin as run

    settings = load_settings(env)
    configure_logging("WARNING")
    from service.core.exceptions import AppError

    try:
        user, created = asyncio.run(run(settings, email=email, full_name=full_name))
    except AppError as error:  # e.g. a weak password: say why, without a traceback
        raise ValueError(error.detail) from error
    print(f"admin {'created' if created else 'ensured'}: {user.email} ({user.id})")


def migrate(env: str | None, again: list[str], *, after_roll: bool = False) -> int:
    import asyncio
    import logging

    from service.app.modules import MODULES
    from service.core.db.migrations.runner import LeaseTimeoutError, MigrationFailedError
    from service.core.schema import migrate as run

    settings = load_settings(env)
    configure_logging(settings.log_level)
    try:
        report = asyncio.run(run(settings, MODULES, again=again, after_roll=after_roll))
    except (MigrationFailedError, LeaseTimeoutError) as error:
        logging.getLogger("service.migrate").error(
            "migrations stopped", extra={"error": str(error)}
        )
        return 1
    if after_roll:
        # "none": no step converges a previous release's documents (or a run just did).
        print(f"converged after the roll: {report.converged or 'none'}")
    else:
        applied, already = report.applied or "none", len(report.already)
        print(f"migrations applied: {applied} (already applied: {already})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command in (None, "serve"):
            serve(args.env)
        elif args.command == "migrate":
            return migrate(args.env, args.again, after_roll=args.after_roll)
        elif args.command == "create-admin":
            create_admin(args.env, args.email, args.full_name)
    except ValueError as error:  # settings refused: say which, without a traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
