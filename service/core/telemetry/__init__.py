"""OpenTelemetry for the API, the worker and beat: configured once per process, from settings.

- `build_telemetry(settings, role)`: the process's tracer and meter providers (resource
  `<TELEMETRY_SERVICE_NAME>-<role>`, parent-based ratio sampling, the exporter of
  TELEMETRY_EXPORTER), or None when TELEMETRY_ENABLED is off.
- `install_telemetry(telemetry)`: makes them the process's global providers and instruments the
  libraries (Celery, PyMongo, redis-py, botocore) and the task metrics; once per process, after
  any fork (the worker's pool children install their own, `service.app.worker`).
- The API's request span and `http.server.request.duration` are `ResponseMiddleware`'s
  (`service.core.fastapi.telemetry` says why not FastAPI's own hooks); deployed
  (TELEMETRY_HTTP_DURATION_METRIC off), CloudWatch Logs derives the metric from the access
  lines instead (infra/request_metrics.py).

Context crosses processes in the Celery message headers (W3C traceparent, the Celery
instrumentation), and threads through contextvars (`asyncio.to_thread` copies them), so a
request that enqueues a task and the task's run are one trace. The request id of logs and
problem bodies is the trace id (`service.core.request_context`).
"""

from service.core.telemetry.setup import (
    Role,
    Telemetry,
    build_telemetry,
    install_telemetry,
    installed_telemetry,
)

__all__ = ["Role", "Telemetry", "build_telemetry", "install_telemetry", "installed_telemetry"]
