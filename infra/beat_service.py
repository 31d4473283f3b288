"""The ``beat`` service: the one Celery scheduler."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ecs as ecs
from constructs import Construct

from infra.app_service import CELERY_APP, AppService, TaskBase
from infra.config import ScaledService

# Beat touches <schedule>.alive every tick (at most every lock TTL / 3 = 20 s).
BEAT_ALIVE = (
    "import os, sys, time; "
    "age = time.time() - os.path.getmtime(os.environ['CELERY_BEAT_SCHEDULE_FILE'] + '.alive'); "
    "sys.exit(0 if age < 90 else 1)"
)


class BeatService(AppService):
    """Exactly one task: desired = min = max = 1, and min 0 % / max 100 % healthy, so a
    deployment stops the old beat before starting the new one and two schedulers never run at
    once (at the cost of a short gap)."""

    def __init__(self, scope: Construct, construct_id: str, *, base: TaskBase) -> None:
        config = base.config
        super().__init__(
            scope,
            construct_id,
            base=base,
            name="beat",
            size=ScaledService(
                cpu=config.service.beat.cpu,
                memory_mib=config.service.beat.memory_mib,
                min_tasks=1,
                max_tasks=1,
            ),
            command=["celery", "-A", CELERY_APP, "beat", "--loglevel=INFO"],
            desired=1,
            min_healthy_percent=0,
            max_healthy_percent=100,
            health_check=ecs.HealthCheck(
                command=["CMD", "python", "-c", BEAT_ALIVE],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(60),
            ),
        )
        self.service.auto_scale_task_count(min_capacity=1, max_capacity=1)
