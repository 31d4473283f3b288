from typing import Annotated

from fastapi import APIRouter

from service.app.health.application.readiness_service import ReadinessService
from service.app.health.container import HealthContainer
from service.core.exceptions import ServiceUnavailableError
from service.core.fastapi.dependencies import Inject

health_router = APIRouter(prefix="/healthz", tags=["health"])


@health_router.get("/live", summary="Liveness: the process serves HTTP (no I/O)")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@health_router.get(
    "/ready",
    summary="Readiness: MongoDB and Redis answer, and the indexes exist",
    responses={503: {"description": "A dependency is down; the problem names it"}},
)
async def ready(
    readiness: Annotated[ReadinessService, Inject(HealthContainer.readiness_service)],
) -> dict[str, object]:
    report = await readiness.check()
    if not report.ready:
        raise ServiceUnavailableError(
            f"unavailable: {', '.join(report.down)}",
            code="dependency_unavailable",
        ).with_extra(checks=report.checks)
    return {"status": "ok", "checks": report.checks}
