"""Service: the migrations, applied by a one-off ECS task before the services roll.

``migrate``: a task of the service image (``python service/main.py migrate``) with the
service's settings and its own database user (``readWrite`` creates and drops indexes). The
database-user task's custom-resource function (infra/db_users.py) runs it on every deploy
that changes it (a new image is a new task definition revision) and waits for its exit code;
the services depend on it, so no task of a release starts before that release's migrations
are applied, and a failed migration fails the deploy (the runner's ledger and the task's log,
``/biwoco/<env>/migrate``, say which step). The runner's lease makes a second run at the same
time (a retried deploy) wait instead of applying twice.
"""

from __future__ import annotations

from aws_cdk import aws_ecs as ecs
from constructs import Construct

from infra.config import EnvConfig
from infra.db_users import DbUsers
from infra.documentdb import DocumentDb
from infra.one_off_task import one_off_task

MIGRATE_COMMAND = ["python", "service/main.py", "migrate"]


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
        # Its user must exist (the db-users task), and its way into DocumentDB, before it runs.
        self.applied.node.add_dependency(db_users.provisioned)
        self.applied.node.add_dependency(task.security_group)
        self.applied.node.add_dependency(run_role)
