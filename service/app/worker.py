"""Worker bootstrap: `celery -A service.app.worker worker|beat`.

The Celery app is built from the module list (task modules, queues, routes, beat). Each worker
process gets one event loop and one composition (the same containers as the API, with the
worker's own Celery app for follow-up work): built and started on `worker_process_init`, after
the prefork pool has forked, and stopped on `worker_process_shutdown`. Sentry's Celery
integration is initialised when the worker starts (`celeryd_init`, before the fork) and when
beat starts (`beat_init`), with beat monitoring (Sentry Crons check-ins for every scheduled
task). The worker and beat log like the API: one JSON object per line on stdout.

Telemetry (TELEMETRY_ENABLED) is installed in each pool child on `worker_process_init`, after
the fork and before its composition's clients exist, and flushed at `worker_process_shutdown`
(a child exits without atexit); beat installs its own on `beat_init`. A task's run continues the
trace of whoever sent it (the context travels in the message headers).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals
from sentry_sdk.integrations.celery import CeleryIntegration

from service.app.container import build_container
from service.app.modules import MODULES
from service.app.settings import get_settings
from service.core.celery_task import CeleryApp, create_celery_app
from service.core.composition import ServiceContainer
from service.core.config import Settings
from service.core.helpers.sentry import init_sentry
from service.core.logging import configure_logging
from service.core.telemetry import Role, build_telemetry, install_telemetry, installed_telemetry
from service.core.worker import CORE_TASK_MODULES
from service.core.worker.runtime import runtime

logger = logging.getLogger(__name__)


def build_worker_app(settings: Settings) -> CeleryApp:
    return create_celery_app(settings, MODULES, core_task_modules=CORE_TASK_MODULES)


# The app the CLI finds (`-A service.app.worker`), configured from the environment.
app = build_worker_app(get_settings())


def worker_settings() -> Settings:
    return app.settings


def build_worker_container() -> ServiceContainer:
    # Tasks that enqueue more work use the worker's own Celery app.
    return build_container(worker_settings(), celery_app=app)


runtime.configure(build_worker_container)


def init_worker_sentry(settings: Settings, *, transport: Any = None) -> bool:
    return init_sentry(
        settings,
        extra_integrations=[CeleryIntegration(monitor_beat_tasks=True, propagate_traces=True)],
        transport=transport,
    )


@signals.setup_logging.connect
def _json_logging(loglevel: int | str | None = None, **_: Any) -> None:
    level = logging.getLevelName(loglevel) if isinstance(loglevel, int) else loglevel
    configure_logging(str(level or worker_settings().log_level))


@signals.celeryd_init.connect
def _on_worker_start(**_: Any) -> None:
    init_worker_sentry(worker_settings())


def start_telemetry(role: Role) -> None:
    telemetry = build_telemetry(worker_settings(), role)
    if telemetry is not None:
        install_telemetry(telemetry)


def flush_telemetry() -> None:
    telemetry = installed_telemetry()
    if telemetry is not None:
        telemetry.shutdown()


@signals.beat_init.connect
def _on_beat_start(**_: Any) -> None:
    start_telemetry("beat")
    init_worker_sentry(worker_settings())


@signals.worker_process_init.connect
def _on_process_init(**_: Any) -> None:
    start_telemetry("worker")
    runtime.start()


@signals.worker_process_shutdown.connect
def _on_process_shutdown(**_: Any) -> None:
    try:
        runtime.stop()
    finally:
        flush_telemetry()


@signals.worker_shutdown.connect
def _on_worker_shutdown(**_: Any) -> None:
    # The solo pool runs tasks in the main process; under prefork this is a no-op here.
    runtime.stop()
