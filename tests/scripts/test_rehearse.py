"""scripts/rehearse: the synthesized task definitions run under Fargate's rules, here.

One synthesis per module; each rehearsal runs the CLI as the README documents it, against its
own throwaway Redis (TLS, AUTH), mongo-java-server (TLS) and moto, in its own namespaces. They
skip where this machine refuses what a task needs (an unprivileged container, even as root):
the probe tries it (scripts/rehearse/preflight.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis

from scripts import rehearse
from scripts.rehearse.preflight import missing_support

CANNOT_REHEARSE = missing_support()

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        CANNOT_REHEARSE is not None, reason=f"the rehearsal cannot run here: {CANNOT_REHEARSE}"
    ),
]

REHEARSE = [sys.executable, "-m", "scripts.rehearse"]


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CDK app synthesized once, as `python app.py` does (never a hand-written copy)."""
    return rehearse.synthesize(tmp_path_factory.mktemp("rehearse") / "cdk.out")


def run(
    assembly: Path, workdir: Path, *args: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """The CLI; past `timeout` it gets SIGTERM (it stops its tasks and stand-ins), then SIGKILL."""
    argv = [*REHEARSE, "--assembly", str(assembly), "--workdir", str(workdir), *args]
    with subprocess.Popen(
        argv, cwd=rehearse.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                stdout, stderr = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            pytest.fail(f"the rehearsal took over {timeout:.0f}s:\n{(stdout + stderr)[-6000:]}")
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


# --- reading the Dockerfile (no root needed, no processes) -------------------------------------


def test_a_volume_the_image_declares_takes_the_image_directory_s_owner_and_mode(
    tmp_path: Path,
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.12-slim AS runtime\n"
        "RUN mkdir -p /scratch && chown 10001:10001 /scratch && chmod 1777 /tmp\n"
        'VOLUME ["/tmp", "/scratch"]\nUSER 10001:10001\nCMD ["python", "x.py"]\n'
    )
    image = rehearse.read_image(dockerfile)
    assert image.volumes == ["/tmp", "/scratch"]
    assert image.dirs["/scratch"] == (10001, 10001, 0o755)
    assert image.dirs["/tmp"] == (0, 0, 0o1777)
    assert rehearse.read_image(dockerfile, ignore_volumes=True).volumes == []


# --- the rehearsal --------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_rehearsal_is_green(assembly: Path, tmp_path: Path, env: str) -> None:
    """api healthy (its own check and the target group's), a registration, the worker consumes
    its mail task, beat ticks twice and a second beat refuses, a one-off create-admin task:
    every container as uid 10001 on a read-only root. Needs the /tmp VOLUME fix (defect 1)."""
    assert env in rehearse.environments(assembly)
    result = run(assembly, tmp_path, "--env", env, "--health-interval", "2")
    text = output(result)
    assert result.returncode == 0, text[-6000:]
    for line in (
        "api: HEALTHY",
        "target group: http://",
        "api: registered ",
        "one-off task (migrate's definition): python service/main.py migrate -> exit 0",
        "worker: consumed the verification mail task",
        "beat: two ticks of its schedule sent",
        "beat-2: refused to start",
        "one-off task (migrate's definition): python service/main.py migrate --after-roll -> exit",
        "create-admin --email",
        # The collector sidecar stood in for; the trace from the api into the worker, the task
        # metrics as the EMF exporter needs them, the request metric from the access lines.
        "api: sidecar otel-collector (non-essential, public.ecr.aws/aws-observability/",
        "a local OTLP/HTTP receiver stands in on 127.0.0.1:4318",
        "at the collector stand-ins: the api sent ",
        f"services biwoco-{env}-api, biwoco-{env}-worker",
        "messaging.process.duration reached its collector stand-in as a delta exponential",
        "the metric filters on the api's log group publish http.server.request.duration for each",
        "telemetry: beat sent celery.queue.depth",
        f"== {env}: green",
    ):
        assert line in text, text[-6000:]
    # Every trace kept in dev (sample ratio 1): beat's ticks are traces of their own.
    if env == "dev":
        assert "ticks as traces of their own (apply_async/files.expire_pending_uploads" in text
    # The deploy's order: migrate, the services, then migrate --after-roll.
    order = [
        text.index(line)
        for line in (
            "service/main.py migrate -> exit 0",
            "api: HEALTHY",
            "worker: consumed",
            "beat: two ticks",
            "migrate --after-roll -> exit 0",
        )
    ]
    assert order == sorted(order), text[-6000:]
    assert text.count("uid 10001 gid 10001 no groups, root filesystem read-only") == 3
    assert "-> rediss://" in text
    assert "maxmemory-policy" in text


def test_the_rehearsal_catches_defect_1_a_scratch_volume_the_image_does_not_declare(
    assembly: Path, tmp_path: Path
) -> None:
    """Beat with /tmp as Fargate creates an undeclared task volume (root, 0755) dies."""
    result = run(
        assembly, tmp_path, "--env", "dev", "--ignore-image-volumes", "--run", "beat",
        "--timeout", "90",
    )  # fmt: skip
    text = output(result)
    assert result.returncode == 1, text[-4000:]
    assert "volume tmp at /tmp: owner 0:0, mode 0755" in text
    assert "FAILED: one-off celery -A service.app.worker beat" in text
    assert "Permission denied: b'/tmp/celerybeat-schedule" in text, text[-4000:]


def test_a_one_off_task_runs_confined_as_fargate_runs_it(assembly: Path, tmp_path: Path) -> None:
    """A command override in the api's definition: uid 10001, read-only root, the volume as
    Fargate makes it when the image does not declare it, no capabilities, own hostname."""
    probe = (
        "id -u; id -g; id -G; hostname; grep CapEff /proc/self/status;"
        " touch /probe; touch /app/probe; touch /tmp/probe; exit 3"
    )
    result = run(
        assembly, tmp_path, "--env", "prod", "--ignore-image-volumes", "--run", "api",
        "--timeout", "60", "--", "/bin/sh", "-c", probe,
    )  # fmt: skip
    text = output(result)
    assert result.returncode == 1, text[-4000:]
    assert "exited 3" in text
    assert "\n10001\n10001\n10001\nip-10-231-" in text, text[-4000:]
    assert "CapEff:\t0000000000000000" in text
    assert "touch: cannot touch '/probe': Read-only file system" in text
    assert "touch: cannot touch '/app/probe': Read-only file system" in text
    assert "touch: cannot touch '/tmp/probe': Permission denied" in text


def test_each_replication_group_gets_its_redis_with_tls_auth_and_eviction_policy(
    tmp_path: Path,
) -> None:
    """Read from the template: the AUTH token is the task's secret that names the group's token
    secret, the policy is the parameter group's (ElastiCache's default without one)."""
    resources: dict[str, dict[str, object]] = {
        "Token": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
        "Params": {
            "Type": "AWS::ElastiCache::ParameterGroup",
            "Properties": {"Properties": {"maxmemory-policy": "noeviction"}},
        },
        "Queues": {
            "Type": "AWS::ElastiCache::ReplicationGroup",
            "Properties": {
                "TransitEncryptionEnabled": True,
                "AuthToken": {"Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "Token"}]]},
                "CacheParameterGroupName": {"Ref": "Params"},
            },
        },
        "Cache": {
            "Type": "AWS::ElastiCache::ReplicationGroup",
            "Properties": {
                "TransitEncryptionEnabled": True,
                "AuthToken": {"Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "Token"}]]},
            },
        },
    }
    data = rehearse.Stack("data", {"Resources": resources}, "111111111111", "ap-southeast-1")
    assembly = rehearse.Assembly("test", {"data": data}, {})
    container = {
        "Name": "api",
        "Secrets": [{"Name": "REDIS_PASSWORD", "ValueFrom": {"Ref": "Token"}}],
    }
    definition = rehearse.ContainerDefinition("f", "api", data, container, {})
    tls = rehearse.make_tls(tmp_path / "tls", ["127.0.1.1", "127.0.0.1"])
    bridge = rehearse.Bridge(name="unused", prefix="127.0.1")  # a loopback address stands in
    aws = rehearse.LocalAws(assembly, tmp_path, bridge, tls, {"REDIS_PASSWORD": "s3cret-token"})
    try:
        queues = aws.redis_group(data, "Queues", definition)
        cache = aws.redis_group(data, "Cache", definition)
        assert (queues.policy, cache.policy) == ("noeviction", rehearse.ELASTICACHE_DEFAULT_POLICY)
        for group in (queues, cache):
            client = redis.Redis(
                host="127.0.1.1", port=group.tls_port, password="s3cret-token", ssl=True,
                ssl_ca_certs=str(tls.ca), ssl_check_hostname=True, socket_timeout=5,
            )  # fmt: skip
            with client:
                assert client.info("memory")["maxmemory_policy"] == group.policy
                with pytest.raises(redis.ResponseError, match="unknown command"):
                    client.config_get("maxmemory")
            wrong = redis.Redis(
                host="127.0.1.1", port=group.tls_port, password="wrong", ssl=True,
                ssl_ca_certs=str(tls.ca), socket_timeout=5,
            )  # fmt: skip
            with wrong, pytest.raises(redis.AuthenticationError):
                wrong.ping()
    finally:
        aws.close()
