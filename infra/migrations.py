"""Service: the migrations, applied by a one-off ECS task before the services roll.

``migrate``: a task of the service image (``python service/main.py migrate``) with the
service's settings and its own database user (``readWrite`` creates and drops indexes). The
database-user task's custom-resource function (infra/db_users.py) runs it on every deploy
that changes it (a new image is a new task definition revision) and waits for its exit code;
the services depend on it, so no task of a release starts before that release's migrations
are applied, and a failed migration fails the deploy (the runner's ledger and the task's log,
``/biwoco/<env>/migrate``, say which step). The runner's lease makes a second run at the same
time (a retried deploy) wait instead of applying twice.

``migrate --after-roll``: the same task, run by the same function with a command override,
once api, worker and beat have rolled (a second custom resource that depends on the three
services, whose properties change with the task definition, so it runs on every deploy that
changes the image, after the services are stable). While the services roll, the previous
release's tasks keep writing documents in their shape; this run re-applies the migrations that
converge them (``converges_previous_release``). It is idempotent: a failed run fails the deploy
(CloudFormation then rolls the services back) and is safe to run again (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ecs as ecs
from constructs import Construct

from infra.config import EnvConfig
from infra.db_users import DbUsers
from infra.documentdb import DocumentDb
from infra.one_off_task import one_off_task

MIGRATE_COMMAND = ["python", "service/main.py", "migrate"]
AFTER_ROLL_COMMAND = [*MIGRATE_COMMAND, "--after-roll"]


class Migrations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        cluster: ecs.ICluster,
        image: ecs.ContainerImage,
        documentdb: DocumentDb,
        db_users: DbUsers,
        environment: dict[str, str],
        secrets: dict[str, ecs.Secret],
        scratch_path: str,
        services: Sequence[ecs.FargateService],
    ) -> None:
        super().__init__(scope, construct_id)
        # The service's settings, loaded whole (`load_settings` checks the deployed profile's
        # secrets are there); it connects to DocumentDB only.
        task = one_off_task(
            self,
            name="migrate",
            config=config,
            cluster=cluster,
            image=image,
            documentdb=documentdb,
            purpose="migrate task",
            command=MIGRATE_COMMAND,
            environment=environment,
            secrets=secrets,
            scratch_path=scratch_path,
        )
        self.task_definition = task.task_definition
        # The database-user task's function runs this task too (the same RunTask-and-wait).
        run_role = db_users.run_function.role
        assert run_role is not None
        task.grant_run(run_role, cluster)
        self.applied = task.run_at_deploy(
            self,
            "Applied",
            function=db_users.run_function,
            resource_type="Custom::Migrations",
            cluster=cluster,
        )
        self.converged = task.run_at_deploy(
            self,
            "AfterRoll",
            function=db_users.run_function,
            resource_type="Custom::MigrationsAfterRoll",
            cluster=cluster,
            command=AFTER_ROLL_COMMAND,
        )
        # Its user must exist (the db-users task), and its way into DocumentDB, before it runs.
        for run in (self.applied, self.converged):
            run.node.add_dependency(db_users.provisioned)
            run.node.add_dependency(task.security_group)
            run.node.add_dependency(run_role)
        # The services depend on `applied` (infra/service.py); this run waits for all three to
        # be stable, so no task of the previous release still writes when it converges.
        self.converged.node.add_dependency(self.applied)
        for service in services:
            self.converged.node.add_dependency(service)
