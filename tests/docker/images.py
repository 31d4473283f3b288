"""Readers for the container files: the Dockerfile's instructions, the compose file, settings.

Shared by the Dockerfile, compose and entry-point tests; nothing here needs a Docker engine.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import SecretStr

from scripts.rehearse import dockerfile_lines
from service.core.config import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_DIR = ROOT / "docker"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
APP_SERVICES = ("api", "worker", "beat")


# --- the Dockerfile ---------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    flags: dict[str, str]
    rest: str

    def exec_form(self) -> list[str]:
        """The JSON (exec) form of CMD, ENTRYPOINT or HEALTHCHECK CMD."""
        body = self.rest.removeprefix("CMD").strip() if self.keyword == "HEALTHCHECK" else self.rest
        value = json.loads(body)
        assert isinstance(value, list), body
        return [str(word) for word in value]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"stage {self.name or self.base} has no {keyword}"
        return found[-1]

    def env(self) -> dict[str, str]:
        """ENV key=value pairs of this stage, in order (later ones win)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for word in shlex.split(instruction.rest):
                key, sep, value = word.partition("=")
                assert sep, f"use ENV key=value, got {instruction.rest!r}"
                values[key] = value
        return values


_FLAG = re.compile(r"--([a-z-]+)=(\S+)\s+")


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Stage]:
    stages: list[Stage] = []
    for line in dockerfile_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: dict[str, str] = {}
        rest = rest.strip()
        while match := _FLAG.match(rest):
            flags[match.group(1)] = match.group(2)
            rest = rest[match.end() :]
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
            continue
        assert stages, f"{keyword} before the first FROM"
        stages[-1].instructions.append(Instruction(keyword, flags, rest))
    return stages


def runtime_stage() -> Stage:
    return parse_dockerfile()[-1]


def default_command() -> list[str]:
    return runtime_stage().last("CMD").exec_form()


def healthcheck_command() -> list[str]:
    return runtime_stage().last("HEALTHCHECK").exec_form()


def image_volumes() -> set[str]:
    """Paths the runtime image declares with VOLUME (JSON or plain form)."""
    paths: set[str] = set()
    for instruction in runtime_stage().all("VOLUME"):
        body = instruction.rest
        words = json.loads(body) if body.startswith("[") else body.split()
        paths.update(str(w) for w in words)
    return paths


# --- the compose file -------------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    found = load_compose()["services"]
    assert isinstance(found, dict)
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment`, as a mapping (compose allows a list of KEY=VALUE too)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.partition("=")[::2] for item in raw)
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, variables: dict[str, str] | None = None) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `$$` with the given variables (else defaults)."""
    variables = variables or {}

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        current = variables.get(name)
        if operator in (":-", "-") and not current:
            return argument or ""
        if operator in (":?", "?") and not current:
            raise KeyError(f"{name}: {argument}")
        return current or ""

    placeholder = "\0"
    return _INTERPOLATION.sub(replace, value.replace("$$", placeholder)).replace(placeholder, "$")


def command(service: dict[str, Any]) -> list[str]:
    raw = service["command"]
    words = shlex.split(raw) if isinstance(raw, str) else list(raw)
    return [interpolate(word) for word in words]


# --- settings ---------------------------------------------------------------------------------


def setting_names() -> set[str]:
    """Every environment variable name the service reads into Settings (upper-case)."""
    prefix = str(Settings.model_config.get("env_prefix") or "")
    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names.add(alias.upper() if isinstance(alias, str) else (prefix + name).upper())
    return names


def secret_setting_names() -> set[str]:
    """The settings typed SecretStr (alone, optional, or inside a container type)."""

    def is_secret(annotation: Any) -> bool:
        return annotation is SecretStr or any(is_secret(arg) for arg in get_args(annotation))

    prefix = str(Settings.model_config.get("env_prefix") or "")
    return {
        (prefix + name).upper()
        for name, info in Settings.model_fields.items()
        if is_secret(info.annotation)
    }


def env_example() -> dict[str, str]:
    """NAME=value lines of docker/.env.example, commented out or not."""
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            values[match.group(1)] = match.group(2).strip()
    return values
