"""infra/service.py: ECS cluster, one image, api / worker / beat."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.config import REPO_ROOT
from infra.service import ALB_IDLE_TIMEOUT_SECONDS
from tests.docker.images import image_volumes
from tests.infra.conftest import Synth, app_container, only, resources_of

Tpl = Callable[[str, str], Template]
Raw = Callable[[str, str], dict[str, Any]]

PLAIN_ENV = {
    "APP_ENV",
    "MONGODB_URL",
    "MONGODB_DB",
    "MONGODB_TLS_CA_FILE",
    "REDIS_URL",
    "REDIS_CACHE_URL",
    "S3_BUCKET",
    "S3_REGION",
    "S3_KMS_KEY_ID",
    "COGNITO_REGION",
    "COGNITO_USER_POOL_ID",
    "COGNITO_APP_CLIENT_IDS",
    "METRICS_NAMESPACE",
    "CLOUDWATCH_METRICS_ENABLED",
    "SENTRY_ENVIRONMENT",
    "CORS_ORIGINS",
    "CELERY_BEAT_SCHEDULE_FILE",
    "CELERY_TASK_TIME_LIMIT_SECONDS",
    "CELERY_TASK_SOFT_TIME_LIMIT_SECONDS",
    "WEB_APP_URL",
    "FORWARDED_ALLOW_IPS",
    "FORWARDED_TRUSTED_HOPS",
    "MAIL_BACKEND",
    "MAIL_FROM",
    "MAIL_SES_CONFIGURATION_SET",
    "MAIL_SES_REGION",
    # The collector sidecar's (infra/telemetry.py, tests/infra/test_telemetry.py).
    "TELEMETRY_ENABLED",
    "TELEMETRY_EXPORTER",
    "TELEMETRY_OTLP_ENDPOINT",
    "TELEMETRY_SERVICE_NAME",
    "TELEMETRY_SAMPLE_RATIO",
    "TELEMETRY_HTTP_DURATION_METRIC",
    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
}
SECRETS = {
    "MONGODB_USERNAME",
    "MONGODB_PASSWORD",
    "REDIS_PASSWORD",
    "REDIS_CACHE_PASSWORD",
    "JWT_SECRET_KEY",
    "SENTRY_DSN",
}


def _containers(raw: Raw, env: str) -> dict[str, dict[str, Any]]:
    """The api, worker and beat containers (not the one-off db-users task's)."""
    out = {}
    for td in resources_of(raw(env, "service"), "AWS::ECS::TaskDefinition").values():
        container = app_container(td)
        if container["Name"] in ("api", "worker", "beat"):
            out[container["Name"]] = container
    return out


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_cluster_has_container_insights(raw: Raw, env: str) -> None:
    settings = only(raw(env, "service"), "AWS::ECS::Cluster")["Properties"]["ClusterSettings"]
    expected = "enhanced" if env == "prod" else "enabled"
    assert settings == [{"Name": "containerInsights", "Value": expected}]


def test_one_image_built_from_the_repository_dockerfile(synth: Synth, raw: Raw) -> None:
    tags = set()
    for env in ("dev", "prod"):
        for c in _containers(raw, env).values():
            tags.add(c["Image"]["Fn::Sub"].rsplit(":", 1)[1])
    # Each account has its own asset repository, but the image (its content hash) is one.
    assert len(tags) == 1, "api, worker and beat of both environments share one image"
    manifest = json.loads(
        (
            synth.outdir
            / "assembly-dev"
            / f"{synth.stack('dev', 'service').artifact_id}.assets.json"
        ).read_text()
    )
    (docker,) = manifest["dockerImages"].values()
    assert docker["source"]["dockerFile"] == "Dockerfile"
    staged = (synth.outdir / "assembly-dev" / docker["source"]["directory"]).resolve()
    # The asset is the repository root (minus excludes), built with its Dockerfile.
    assert (staged / "Dockerfile").read_bytes() == (REPO_ROOT / "Dockerfile").read_bytes()
    assert (staged / "pyproject.toml").exists()
    for excluded in (".venv", ".git", "tests", "cdk.out", "infra"):
        assert not (staged / excluded).exists(), excluded


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_commands(raw: Raw, env: str) -> None:
    c = _containers(raw, env)
    assert set(c) == {"api", "worker", "beat"}
    assert c["api"]["Command"] == ["python", "service/main.py", "--env", env]
    assert c["api"]["PortMappings"] == [{"ContainerPort": 8000, "Protocol": "tcp"}]
    assert c["worker"]["Command"] == [
        "celery",
        "-A",
        "service.app.worker",
        "worker",
        "--loglevel=INFO",
    ]
    assert c["beat"]["Command"] == [
        "celery",
        "-A",
        "service.app.worker",
        "beat",
        "--loglevel=INFO",
    ]
    assert "/healthz/live" in " ".join(c["api"]["HealthCheck"]["Command"])


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_settings_contract_env_and_secrets(raw: Raw, env: str) -> None:
    for name, c in _containers(raw, env).items():
        plain = {e["Name"]: e["Value"] for e in c["Environment"]}
        secrets = {s["Name"]: s["ValueFrom"] for s in c["Secrets"]}
        assert set(plain) == PLAIN_ENV, name
        assert set(secrets) == SECRETS, name
        assert not set(plain) & SECRETS
        assert plain["APP_ENV"] == env
        assert plain["MONGODB_DB"] == "biwoco"
        assert plain["MONGODB_TLS_CA_FILE"] == "/app/certs/global-bundle.pem"
        assert plain["METRICS_NAMESPACE"] == f"Biwoco/{env}"
        assert plain["CLOUDWATCH_METRICS_ENABLED"] == "true"
        assert plain["CELERY_BEAT_SCHEDULE_FILE"] == "/tmp/celerybeat-schedule"
        url = json.dumps(plain["MONGODB_URL"])
        assert url.startswith('{"Fn::Join"')
        assert "mongodb://" in url
        assert "tls=true&replicaSet=rs0&readPreference=secondaryPreferred&retryWrites=false" in url
        assert "rediss://" in json.dumps(plain["REDIS_URL"])
        assert "rediss://" in json.dumps(plain["REDIS_CACHE_URL"])
        assert "CacheReplicationGroupBFE59FF3" in json.dumps(plain["REDIS_URL"])
        assert "CacheReplicationGroupBFE59FF3" not in json.dumps(plain["REDIS_CACHE_URL"])
        # Secrets come from Secrets Manager (by ARN, with a JSON key for DocumentDB).
        assert all(f"biwoco-{env}-data:ExportsOutput" in json.dumps(v) for v in secrets.values())
        assert ":username::" in json.dumps(secrets["MONGODB_USERNAME"])
        assert ":password::" in json.dumps(secrets["MONGODB_PASSWORD"])
        assert c["ReadonlyRootFilesystem"] is True
        assert c["MountPoints"] == [
            {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}
        ]
        assert c["LogConfiguration"]["LogDriver"] == "awslogs"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_alb_is_internal_and_health_checks_the_live_route(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    alb = only(tpl, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    assert alb["Scheme"] == "internal"
    attrs = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attrs["access_logs.s3.enabled"] == "true"
    tg = only(tpl, "AWS::ElasticLoadBalancingV2::TargetGroup")["Properties"]
    assert tg["HealthCheckPath"] == "/healthz/live"
    assert tg["Port"] == 8000


def _all_ingress(raw: Raw, env: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for stack in ("network", "data", "auth", "edge_firewall", "service"):
        tpl = raw(env, stack)
        for sg in resources_of(tpl, "AWS::EC2::SecurityGroup").values():
            rules += sg["Properties"].get("SecurityGroupIngress", [])
        rules += [
            r["Properties"] for r in resources_of(tpl, "AWS::EC2::SecurityGroupIngress").values()
        ]
    return rules


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_ingress_from_the_internet(raw: Raw, env: str) -> None:
    # The edge design needs no 0.0.0.0/0 rule at all: CloudFront reaches the internal ALB
    # through a VPC origin, allowed by the CloudFront origin-facing managed prefix list.
    for rule in _all_ingress(raw, env):
        assert rule.get("CidrIp") not in ("0.0.0.0/0",), rule
        assert rule.get("CidrIpv6") not in ("::/0",), rule


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_alb_ingress_only_from_cloudfront(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    sgs = resources_of(tpl, "AWS::EC2::SecurityGroup")
    (alb_sg,) = [k for k in sgs if k.startswith("ServiceAlbSg")]
    assert "SecurityGroupIngress" not in sgs[alb_sg]["Properties"]
    rules = [
        r["Properties"]
        for r in resources_of(tpl, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [alb_sg, "GroupId"]}
    ]
    assert rules == [
        {
            "Description": "CloudFront origin-facing prefix list (VPC origin)",
            "FromPort": 80,
            "IpProtocol": "tcp",
            "SourcePrefixListId": "pl-31a34658",
            "ToPort": 80,
            "GroupId": {"Fn::GetAtt": [alb_sg, "GroupId"]},
        }
    ]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_only_app_tasks_reach_the_data_ports(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    sgs = resources_of(tpl, "AWS::EC2::SecurityGroup")
    app_sgs = {k for k in sgs if k.startswith(("ServiceApiSg", "ServiceWorkerSg", "ServiceBeatSg"))}
    assert len(app_sgs) == 3
    ingress = [
        r["Properties"] for r in resources_of(tpl, "AWS::EC2::SecurityGroupIngress").values()
    ]
    by_port: dict[int, set[str]] = {}
    for rule in ingress:
        if "SourcePrefixListId" in rule:
            assert rule["FromPort"] == 80  # CloudFront -> ALB, checked above
            continue
        source = rule["SourceSecurityGroupId"]["Fn::GetAtt"][0]
        by_port.setdefault(rule["FromPort"], set()).add(source)
    # api from the ALB on 8000; DocumentDB from the three app services and the one-off
    # db-users and migrate tasks, the cache from the app services only.
    one_off = {k for k in sgs if k.startswith(("ServiceDbUsersSg", "ServiceMigrationsSg"))}
    assert len(one_off) == 2
    assert by_port[27117] == app_sgs | one_off
    assert by_port[6380] == app_sgs
    assert by_port[8000] == {k for k in sgs if k.startswith("ServiceAlbSg")}
    assert set(by_port) == {8000, 27117, 6380}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_task_role_has_exactly_the_service_permissions(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    roles = resources_of(tpl, "AWS::IAM::Role")
    (task_role_id,) = [k for k in roles if k.startswith("ServiceTaskRole")]
    attached = {
        k: p["Properties"]
        for k, p in resources_of(tpl, "AWS::IAM::Policy").items()
        if p["Properties"]["Roles"] == [{"Ref": task_role_id}]
    }
    # Its own, and the collector's (tests/infra/test_telemetry.py).
    (policy,) = [p for k, p in attached.items() if k.startswith("ServiceTaskRoleDefaultPolicy")]
    assert [k for k in attached if not k.startswith("ServiceTaskRoleDefaultPolicy")] == [
        next(k for k in attached if k.startswith("ServiceTelemetryCollectorPolicy"))
    ]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert set(statements) == {
        "UploadsObjects",
        "UploadsKey",
        "PutMetricsInOwnNamespace",
        "SendMailThroughSes",
    }
    objects = statements["UploadsObjects"]
    assert sorted(objects["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert json.dumps(objects["Resource"]).endswith('-ap-southeast-1/uploads/*"]]}')
    assert sorted(statements["UploadsKey"]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    metrics = statements["PutMetricsInOwnNamespace"]
    assert metrics["Action"] == "cloudwatch:PutMetricData"
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": f"Biwoco/{env}"}}


def test_image_excludes_cover_local_state() -> None:
    from infra.service import IMAGE_EXCLUDES

    for must in (".venv", ".stack", "cdk.out", ".git", "tests", "docs", "bench", "node_modules"):
        assert must in IMAGE_EXCLUDES
    assert Path(REPO_ROOT / "Dockerfile").exists()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_writable_path_is_a_volume_the_image_declares(raw: Raw, env: str) -> None:
    """Fargate creates bind-mount task volumes root-owned, mode 0755, unless the image declares
    the path with VOLUME: a writable mount anywhere else is unwritable for uid 10001."""
    declared = image_volumes()
    for name, c in _containers(raw, env).items():
        assert c["ReadonlyRootFilesystem"] is True, name
        writable = [m["ContainerPath"] for m in c["MountPoints"] if not m["ReadOnly"]]
        assert writable, name
        assert set(writable) <= declared, (name, writable, declared)
        plain = {e["Name"]: e["Value"] for e in c["Environment"]}
        schedule = Path(plain["CELERY_BEAT_SCHEDULE_FILE"])
        assert any(schedule.is_relative_to(p) for p in writable), name


def _task_containers(raw: Raw, env: str) -> dict[str, dict[str, Any]]:
    out = {}
    for td in resources_of(raw(env, "service"), "AWS::ECS::TaskDefinition").values():
        container = app_container(td)
        out[container["Name"]] = container
    return out


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_services_log_in_as_their_own_user_provisioned_before_they_start(
    raw: Raw, env: str
) -> None:
    """The services logged in as the cluster's admin user. Now: the app user's secret, a user
    created (readWrite on the service's database) by a one-off task before any service."""
    tpl = raw(env, "service")
    containers = _task_containers(raw, env)
    for name in ("api", "worker", "beat"):
        secrets = {s["Name"]: json.dumps(s["ValueFrom"]) for s in containers[name]["Secrets"]}
        for key in ("MONGODB_USERNAME", "MONGODB_PASSWORD"):
            assert "DocumentDbAppUserSecretAttachment" in secrets[key], (name, key)
            assert "DocumentDbClusterSecret" not in secrets[key], (name, key)
    provision = containers["db-users"]
    assert provision["Command"] == ["python", "-m", "service.core.db.app_user"]
    secrets = {s["Name"]: json.dumps(s["ValueFrom"]) for s in provision["Secrets"]}
    assert "DocumentDbClusterSecretAttachment" in secrets["MONGODB_USERNAME"]  # admin
    assert "DocumentDbAppUserSecretAttachment" in secrets["APP_DB_USERNAME"]
    assert provision["ReadonlyRootFilesystem"] is True
    (custom_id,) = resources_of(tpl, "Custom::DbUsers")
    for service in resources_of(tpl, "AWS::ECS::Service").values():
        assert custom_id in service["DependsOn"], service["Properties"]["ServiceName"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_rotation_redeploys_every_service(raw: Raw, env: str) -> None:
    """ECS injects secrets once: after a rotation, tasks must restart within the window in
    which alternating users keep the previous credentials valid (one rotation period)."""
    tpl = raw(env, "service")
    rules = [
        r["Properties"]
        for r in resources_of(tpl, "AWS::Events::Rule").values()
        if "RotationSucceeded" in json.dumps(r["Properties"].get("EventPattern", {}))
    ]
    (rule,) = rules
    assert "DocumentDbAppUserSecretAttachment" in json.dumps(rule["EventPattern"])
    (target,) = rule["Targets"]
    function_id = target["Arn"]["Fn::GetAtt"][0]
    function = tpl["Resources"][function_id]["Properties"]
    variables = function["Environment"]["Variables"]
    assert set(variables["SERVICES"].split(",")) == {"api", "worker", "beat"}
    role_id = function["Role"]["Fn::GetAtt"][0]
    actions = [
        st["Action"]
        for p in resources_of(tpl, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert "ecs:UpdateService" in actions


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_worker_and_beat_have_container_health_checks(raw: Raw, env: str) -> None:
    containers = _containers(raw, env)
    worker = containers["worker"]["HealthCheck"]
    assert worker["Command"][0] == "CMD-SHELL"
    assert "inspect ping" in worker["Command"][1]
    assert "--destination" in worker["Command"][1]
    beat = containers["beat"]["HealthCheck"]
    assert beat["Command"][:2] == ["CMD", "python"]
    assert ".alive" in beat["Command"][3]
    for check in (worker, beat):
        assert check["StartPeriod"] >= 30
        assert check["Retries"] >= 3


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_api_keeps_connections_longer_than_the_alb(raw: Raw, env: str) -> None:
    """uvicorn closed idle connections after 5 s while the ALB reuses them for 60 s: a request
    the ALB sent on a connection being closed came back as a 502."""
    from service.app.settings import load_settings

    alb = only(raw(env, "service"), "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    attrs = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    idle = int(attrs["idle_timeout.timeout_seconds"])
    assert idle == ALB_IDLE_TIMEOUT_SECONDS
    assert load_settings("test").http_keep_alive_seconds > idle
    main = (REPO_ROOT / "service" / "main.py").read_text(encoding="utf-8")
    assert "timeout_keep_alive=settings.http_keep_alive_seconds" in main
