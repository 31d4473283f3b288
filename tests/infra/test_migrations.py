"""The migrate task: run at deploy after the database user exists, before any service starts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.migrations import AFTER_ROLL_COMMAND, MIGRATE_COMMAND
from tests.infra.conftest import resources_of
from tests.infra.test_service import Raw, _task_containers


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_migrations_run_before_every_service_and_after_the_database_user(
    raw: Raw, env: str
) -> None:
    tpl = raw(env, "service")
    migrate = _task_containers(raw, env)["migrate"]
    assert migrate["Command"] == MIGRATE_COMMAND == ["python", "service/main.py", "migrate"]
    secrets = {s["Name"]: json.dumps(s["ValueFrom"]) for s in migrate["Secrets"]}
    assert "DocumentDbAppUserSecretAttachment" in secrets["MONGODB_USERNAME"]  # not the admin
    assert migrate["ReadonlyRootFilesystem"] is True
    (migrations_id,) = resources_of(tpl, "Custom::Migrations")
    (users_id,) = resources_of(tpl, "Custom::DbUsers")
    applied: dict[str, Any] = resources_of(tpl, "Custom::Migrations")[migrations_id]
    assert users_id in applied["DependsOn"]
    for service in resources_of(tpl, "AWS::ECS::Service").values():
        assert migrations_id in service["DependsOn"], service["Properties"]["ServiceName"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_converging_migrations_run_again_once_every_service_has_rolled(
    raw: Raw, env: str
) -> None:
    """`migrate --after-roll`: the migrate task again (its definition, so its user, role, log
    group and security group), by the same function, after api, worker and beat are stable."""
    tpl = raw(env, "service")
    assert AFTER_ROLL_COMMAND == ["python", "service/main.py", "migrate", "--after-roll"]
    (migrations_id,) = resources_of(tpl, "Custom::Migrations")
    (users_id,) = resources_of(tpl, "Custom::DbUsers")
    ((after_id, after_roll),) = resources_of(tpl, "Custom::MigrationsAfterRoll").items()
    applied = tpl["Resources"][migrations_id]
    services = resources_of(tpl, "AWS::ECS::Service")
    assert len(services) == 3
    assert set(after_roll["DependsOn"]) >= {*services, migrations_id, users_id}
    for service in services.values():  # the order is one way: no service waits for it
        assert after_id not in service.get("DependsOn", [])
    properties, first = after_roll["Properties"], applied["Properties"]
    # A new image is a new task definition revision: both runs change, so both run.
    for key in ("ServiceToken", "TaskDefinition", "Cluster", "Subnets", "SecurityGroup"):
        assert properties[key] == first[key], key
    assert properties["Container"] == "migrate"
    assert properties["Command"] == AFTER_ROLL_COMMAND
    assert "Command" not in first
    # No second task definition: one container runs `migrate`, the override adds the flag.
    assert [name for name in _task_containers(raw, env) if "migrate" in name] == ["migrate"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_run_function_passes_the_command_override_and_may_start_only_its_tasks(
    raw: Raw, env: str
) -> None:
    tpl = raw(env, "service")
    (function,) = (
        f
        for f in resources_of(tpl, "AWS::Lambda::Function").values()
        if "ecs.run_task" in json.dumps(f["Properties"].get("Code", {}))
    )
    code = function["Properties"]["Code"]["ZipFile"]
    assert '"containerOverrides"' in code
    assert "overrides=overrides" in code
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    run_task = [
        statement
        for policy in resources_of(tpl, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ecs:RunTask" in statement["Action"]
    ]
    # The db-users and the migrate task definitions, in this cluster only; nothing added.
    startable = set()
    for statement in run_task:
        assert "ecs:cluster" in statement["Condition"]["ArnEquals"]
        resources = statement["Resource"]
        startable |= {
            json.dumps(r) for r in (resources if isinstance(resources, list) else [resources])
        }
    task_definitions = resources_of(tpl, "AWS::ECS::TaskDefinition")
    assert {json.loads(r)["Ref"] for r in startable} == {
        task_id for task_id in task_definitions if "DbUsers" in task_id or "Migrations" in task_id
    }
