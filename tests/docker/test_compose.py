"""docker/docker-compose.yml, parsed: one image, settings without drift, health, no secrets."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
from botocore.configprovider import BOTOCORE_DEFAUT_SESSION_VARIABLES
from botocore.credentials import EnvProvider

from infra.service import CELERY_APP
from scripts.stack import DUMMY_AWS_CREDENTIAL
from tests.docker.images import (
    APP_SERVICES,
    COMPOSE_DIR,
    ENV_EXAMPLE,
    ROOT,
    command,
    default_command,
    env_example,
    environment,
    interpolate,
    load_compose,
    secret_setting_names,
    services,
    setting_names,
)

# What boto3 reads from the environment to reach the local S3 (names taken from botocore).
BOTOCORE_VARIABLES = {
    EnvProvider.ACCESS_KEY,
    EnvProvider.SECRET_KEY,
    str(BOTOCORE_DEFAUT_SESSION_VARIABLES["region"][1]),
}
BOTOCORE_SECRETS = {EnvProvider.SECRET_KEY}


def app_image() -> str:
    image = services()["api"]["image"]
    assert isinstance(image, str)
    return image


def image_services() -> dict[str, dict[str, Any]]:
    """The services that run this repository's image (api, worker, beat and one-shot jobs)."""
    return {name: s for name, s in services().items() if s.get("image") == app_image()}


def test_api_worker_and_beat_run_one_image_built_once() -> None:
    found = services()
    images = {found[name].get("image") for name in APP_SERVICES}
    assert images == {app_image()}
    built = [name for name, s in found.items() if "build" in s]
    assert built == ["api"], "one service builds the image, the others reuse its tag"
    build = found["api"]["build"]
    assert (COMPOSE_DIR / build["context"]).resolve() == ROOT
    assert build["dockerfile"] == "Dockerfile"
    for name in image_services():
        if name != "api":
            assert found[name]["pull_policy"] == "never", f"{name} must not pull {app_image()}"


def test_commands_are_the_images_and_the_deployments() -> None:
    found = services()
    api_command = found["api"].get("command")
    assert api_command is None or command(found["api"]) == default_command()
    assert command(found["worker"]) == [
        "celery", "-A", CELERY_APP, "worker", "--loglevel=INFO",
    ]  # fmt: skip
    assert command(found["beat"]) == ["celery", "-A", CELERY_APP, "beat", "--loglevel=INFO"]


def test_migrations_run_once_with_the_services_command_before_the_app() -> None:
    migrate = services()["migrate"]
    assert command(migrate) == ["python", "service/main.py", "migrate"]
    assert migrate["image"] == app_image()
    assert _is_one_shot(migrate)


@pytest.mark.parametrize("name", ["api", "worker", "beat", "s3-init", "migrate"])
def test_environment_names_are_settings_the_service_reads(name: str) -> None:
    names = set(environment(services()[name]))
    unknown = names - setting_names() - BOTOCORE_VARIABLES
    assert unknown == set(), f"{name}: not settings of service/core/config.py: {sorted(unknown)}"


def test_env_example_names_settings_and_holds_no_value() -> None:
    example = env_example()
    assert example, f"{ENV_EXAMPLE} lists the settings worth overriding"
    assert set(example) - setting_names() == set()
    secrets = set(example) & secret_setting_names()
    assert {"JWT_SECRET_KEY"} <= secrets
    assert {name: example[name] for name in secrets} == dict.fromkeys(secrets, "")


def test_no_secret_value_is_committed() -> None:
    for name, service in services().items():
        for key, value in environment(service).items():
            if key in secret_setting_names():
                # Only `${NAME}` or `${NAME:?message}` may appear: the value comes from outside.
                assert re.fullmatch(r"\$\{" + key + r"(:?\?[^}]*)?\}", value), f"{name}: {key}"
            if key in BOTOCORE_SECRETS:
                # moto's stand-in credential, the one scripts/stack uses, for a local endpoint.
                assert value == DUMMY_AWS_CREDENTIAL, f"{name}: {key}"
                assert environment(service)["S3_ENDPOINT_URL"].startswith("http://s3:")
    env_files = [
        entry["path"] if isinstance(entry, dict) else entry
        for service in services().values()
        for entry in service.get("env_file", [])
    ]
    for path in env_files:
        ignored = subprocess.run(
            ["git", "check-ignore", "--quiet", str(COMPOSE_DIR / path)], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0, f"docker/{path} must be git-ignored"
        tracked = subprocess.run(
            ["git", "ls-files", "--error-unmatch", str(COMPOSE_DIR / path)],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        assert tracked.returncode != 0, f"docker/{path} is committed"


def _is_one_shot(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) == "no"


def test_every_long_running_service_has_a_health_check() -> None:
    for name, service in services().items():
        if _is_one_shot(service):
            continue
        check = service.get("healthcheck")
        if check is None:
            # Only the API may rely on the image's HEALTHCHECK (HTTP liveness on its port).
            assert name == "api", f"{name} needs a health check of its own"
            continue
        assert not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    for name in ("worker", "beat"):
        assert "healthcheck" in services()[name], f"{name} does not serve HTTP: override the check"


def test_one_shot_jobs_gate_the_app_and_dependencies_wait_for_health() -> None:
    found = services()
    for name, service in found.items():
        for target, rule in (service.get("depends_on") or {}).items():
            condition = rule["condition"]
            if _is_one_shot(found[target]):
                assert condition == "service_completed_successfully", (name, target)
            else:
                assert condition == "service_healthy", (name, target)
                assert target == "api" or "healthcheck" in found[target], (name, target)
    for name in APP_SERVICES:
        assert set(found[name]["depends_on"]) >= {"mongodb", "redis", "s3-init", "migrate"}


def test_only_the_api_is_published_and_only_on_loopback() -> None:
    published = {name: s["ports"] for name, s in services().items() if s.get("ports")}
    assert list(published) == ["api"]
    for mapping in published["api"]:
        assert str(mapping).startswith("127.0.0.1:"), mapping
    port = interpolate(environment(services()["api"])["PORT"])
    assert published["api"] == [f"127.0.0.1:{port}:{port}"]


def test_data_lives_in_named_volumes_and_app_containers_are_read_only() -> None:
    compose = load_compose()
    declared = set(compose["volumes"])
    for name in ("mongodb", "redis"):
        mounts = services()[name]["volumes"]
        assert mounts, name
        assert {m.split(":")[0] for m in mounts} <= declared
    for name in APP_SERVICES:
        assert services()[name]["read_only"] is True
        assert "/tmp" in services()[name]["tmpfs"]
    schedule = environment(services()["beat"])["CELERY_BEAT_SCHEDULE_FILE"]
    assert schedule.startswith("/tmp/"), "beat writes its schedule where the filesystem allows"


def test_third_party_images_are_pinned_and_match_production_and_the_tests() -> None:
    found = services()
    for name, service in found.items():
        if name in image_services():
            continue
        tag = str(service["image"]).rpartition(":")[2]
        assert tag, name
        assert tag != "latest", name
    assert found["mongodb"]["image"].startswith("mongo:7")
    assert found["redis"]["image"].startswith("redis:7")
    moto_pin = next(
        line.partition("==")[2]
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.startswith("moto==")
    )
    assert found["s3"]["image"] == f"motoserver/moto:{moto_pin}", "the moto the tests run"


def test_beat_health_check_is_the_one_ecs_runs() -> None:
    from infra.service import BEAT_ALIVE

    assert services()["beat"]["healthcheck"]["test"] == ["CMD", "python", "-c", BEAT_ALIVE]
