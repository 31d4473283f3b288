"""The migrate task: run at deploy after the database user exists, before any service starts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.migrations import MIGRATE_COMMAND
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
