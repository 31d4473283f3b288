"""Service: the service's own DocumentDB user, provisioned at deploy, and redeploys on rotation.

* ``db-users``: a one-off ECS task of the service image (``python -m service.core.db.app_user``)
  with the cluster's admin credentials and the app user's. A custom resource runs it on every
  deploy that changes it, and waits for its exit code; the ECS services depend on it, so no
  task starts before its user exists. (A Lambda would need pymongo bundled, and synthesis has
  no Docker; the image already has it, and reaches DocumentDB the way the services do.)
* Multi-user rotation (infra/documentdb.py) keeps the previous credentials valid for one more
  rotation; an EventBridge rule on the app secret's ``RotationSucceeded`` forces a new
  deployment of api, worker and beat, so every task picks up the new secret well inside that
  window (ECS injects ``secrets`` once, at task start). Rolling, with the circuit breaker.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import EnvConfig
from infra.documentdb import DocumentDb
from infra.nag import acknowledge
from infra.one_off_task import one_off_task
from infra.retention import retention_days

PROVISION_COMMAND = ["python", "-m", "service.core.db.app_user"]
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14

_RUN_TASK = """
import json, time, urllib.request
import boto3

ecs = boto3.client("ecs")


def respond(event, status, reason=""):
    body = json.dumps({
        "Status": status,
        "Reason": (reason or "see the function's log")[:3000],
        "PhysicalResourceId": event.get("PhysicalResourceId") or event["LogicalResourceId"],
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
    }).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    urllib.request.urlopen(request, timeout=30)


def handler(event, context):
    try:
        if event["RequestType"] == "Delete":  # users are never dropped by a stack delete
            return respond(event, "SUCCESS")
        p = event["ResourceProperties"]
        # A command override: another run of the same task (migrate --after-roll).
        overrides = {"containerOverrides": [
            {"name": p["Container"], "command": p["Command"]}
        ]} if "Command" in p else {}
        started = ecs.run_task(
            cluster=p["Cluster"],
            taskDefinition=p["TaskDefinition"],
            launchType="FARGATE",
            count=1,
            startedBy="cfn-db-users",
            overrides=overrides,
            networkConfiguration={"awsvpcConfiguration": {
                "subnets": p["Subnets"],
                "securityGroups": [p["SecurityGroup"]],
                "assignPublicIp": "DISABLED",
            }},
        )
        if started["failures"] or not started["tasks"]:
            raise RuntimeError("RunTask failed: " + json.dumps(started["failures"]))
        arn = started["tasks"][0]["taskArn"]
        print("started", arn)
        while context.get_remaining_time_in_millis() > 30000:
            time.sleep(10)
            task = ecs.describe_tasks(cluster=p["Cluster"], tasks=[arn])["tasks"][0]
            if task["lastStatus"] == "STOPPED":
                container = task["containers"][0]
                if container.get("exitCode") == 0:
                    return respond(event, "SUCCESS")
                raise RuntimeError(
                    f"{arn} stopped: exit code {container.get('exitCode')}, "
                    f"{task.get('stoppedReason')}; {container.get('reason', '')} "
                    "(its log: the task definition's log group)"
                )
        raise RuntimeError(f"{arn} did not finish in time")
    except Exception as error:
        print("failed:", error)
        respond(event, "FAILED", str(error))
"""

_REDEPLOY = """
import os
import boto3

ecs = boto3.client("ecs")


def handler(event, context):
    # A rotation made new credentials current: start tasks that read them (ECS injects
    # secrets at task start); the previous credentials stay valid until the next rotation.
    for service in os.environ["SERVICES"].split(","):
        ecs.update_service(cluster=os.environ["CLUSTER"], service=service, forceNewDeployment=True)
        print("redeploying", service)
"""


class DbUsers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        cluster: ecs.ICluster,
        image: ecs.ContainerImage,
        documentdb: DocumentDb,
        environment: dict[str, str],
        scratch_path: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        master, app = documentdb.secret, documentdb.app_secret
        assert master is not None
        task = one_off_task(
            self,
            name="db-users",
            config=config,
            cluster=cluster,
            image=image,
            documentdb=documentdb,
            purpose="db-users provisioning task",
            command=PROVISION_COMMAND,
            environment=environment,
            secrets={
                "MONGODB_USERNAME": ecs.Secret.from_secrets_manager(master, "username"),
                "MONGODB_PASSWORD": ecs.Secret.from_secrets_manager(master, "password"),
                "APP_DB_USERNAME": ecs.Secret.from_secrets_manager(app, "username"),
                "APP_DB_PASSWORD": ecs.Secret.from_secrets_manager(app, "password"),
            },
            scratch_path=scratch_path,
        )
        self.log_group, self.task_definition = task.log_group, task.task_definition
        self.security_group = task.security_group

        # --- the custom resource that runs the task and waits for it -----------------------
        run_role = self._function_role("RunTaskRole", "run the db-users task at deploy")
        task.grant_run(run_role, cluster)
        run_role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeTasks"],
                resources=["*"],
                conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
            )
        )
        acknowledge(
            run_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecs:DescribeTasks of the db-users run, whose task id exists only at run time; the "
            "statement is conditioned on ecs:cluster, this one cluster.",
        )
        self.run_function = self._function("RunTask", _RUN_TASK, run_role, Duration.minutes(14))
        self.provisioned = task.run_at_deploy(
            self,
            "Provisioned",
            function=self.run_function,
            resource_type="Custom::DbUsers",
            cluster=cluster,
        )
        # The function's own policy must exist while it runs (and on delete), and the task's
        # way into DocumentDB (the ingress rule under its security group) before it starts.
        self.provisioned.node.add_dependency(run_role)
        self.provisioned.node.add_dependency(self.security_group)
        self.cluster = cluster
        self.app_secret = app

    def redeploy_on_rotation(self, services: Mapping[str, ecs.FargateService]) -> None:
        """Force a new deployment of `services` (by name) whenever the app user rotates."""
        role = self._function_role("RedeployRole", "redeploy the services after a rotation")
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecs:UpdateService"], resources=[s.service_arn for s in services.values()]
            )
        )
        function = self._function("Redeploy", _REDEPLOY, role, Duration.minutes(1))
        function.add_environment("CLUSTER", self.cluster.cluster_name)
        function.add_environment("SERVICES", ",".join(services))
        self.rotation_rule = events.Rule(
            self,
            "OnRotation",
            description=f"{self.config.prefix}: the DocumentDB app user rotated; redeploy",
            event_pattern=DocumentDb.rotation_events(["RotationSucceeded"], [self.app_secret]),
            targets=[targets.LambdaFunction(function, retry_attempts=4)],
        )

    def _function_role(self, construct_id: str, purpose: str) -> iam.Role:
        return iam.Role(
            self,
            construct_id,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{self.config.prefix}: {purpose}",
        )

    def _function(
        self, construct_id: str, code: str, role: iam.Role, timeout: Duration
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=retention_days(self.config.observability.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            construct_id,
            runtime=LAMBDA_RUNTIME,
            handler="index.handler",
            code=lambda_.Code.from_inline(code),
            role=role,
            timeout=timeout,
            memory_size=128,
            log_group=log_group,
        )
        function.node.add_dependency(role)
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(_cfn(log_group))}.Arn>:*]",
            "The function writes log streams (named at run time) into its own log group only.",
        )
        return function


def _cfn(construct: Construct) -> logs.CfnLogGroup:
    child = construct.node.default_child
    assert isinstance(child, logs.CfnLogGroup)
    return child
