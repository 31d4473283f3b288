"""The ``api`` service: FastAPI behind the internal ALB, autoscaled on CPU and requests."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from infra.app_service import AppService, TaskBase

API_PORT = 8000
HEALTH_PATH = "/healthz/live"


class ApiService(AppService):
    """Health checked on ``/healthz/live`` (container and target group), a rolling deploy that
    keeps every task until its replacement is healthy, and target tracking on CPU and ALB
    requests per target between the environment's min and max tasks."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        base: TaskBase,
        listener: elbv2.ApplicationListener,
    ) -> None:
        config = base.config
        super().__init__(
            scope,
            construct_id,
            base=base,
            name="api",
            size=config.service.api,
            command=["python", "service/main.py", "--env", config.name],
            port=API_PORT,
            health_check=ecs.HealthCheck(
                command=[
                    "CMD",
                    "python",
                    "-c",
                    "import urllib.request; urllib.request.urlopen("
                    f"'http://127.0.0.1:{API_PORT}{HEALTH_PATH}', timeout=3)",
                ],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(30),
            ),
            # No DesiredCount: autoscaling owns the count (below).
            desired=None,
            min_healthy_percent=100,
            max_healthy_percent=200,
        )
        self.target_group = listener.add_targets(
            "Api",
            port=API_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[self.service],
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        scaling = self.service.auto_scale_task_count(
            min_capacity=config.service.api.min_tasks, max_capacity=config.service.api.max_tasks
        )
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=config.service.api_cpu_target_percent,
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )
        scaling.scale_on_request_count(
            "Requests",
            requests_per_target=config.service.api_requests_per_target,
            target_group=self.target_group,
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )
