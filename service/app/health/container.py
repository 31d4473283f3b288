"""The health module's providers: readiness probes of what the API cannot serve without."""

from __future__ import annotations

from dependency_injector import containers, providers

from service.app.health.adapter.output.probes import indexes_probe, mongodb_probe, redis_probe
from service.app.health.application.readiness_service import ReadinessService


class HealthContainer(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()

    readiness_service = providers.Singleton(
        ReadinessService,
        probes=providers.Dict(
            mongodb=providers.Callable(mongodb_probe, core.database),
            # Built by the migrations (`service/main.py migrate`), never by the API.
            indexes=providers.Callable(indexes_probe, core.database, core.modules),
            # (Not the cache's Redis: without it reads fall through to the database.)
            redis=providers.Callable(redis_probe, core.redis_client),
        ),
        timeout_seconds=1.0,
    )
