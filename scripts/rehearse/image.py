"""The image, as the Dockerfile describes it: its runtime stage mapped onto this machine."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path
from typing import Final

from scripts.rehearse.paths import DOCKERFILE, ROOT, VENV
from scripts.rehearse.reporting import RehearsalError

# The environment python:3.12-slim starts from (its ENV before the Dockerfile's own).
BASE_IMAGE_ENV: Final = {
    "PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
# Directories the base image has, with their owner and mode (a VOLUME there copies them).
BASE_IMAGE_DIRS: Final = {"/tmp": (0, 0, 0o1777), "/var/tmp": (0, 0, 0o1777)}  # noqa: S108


@dataclasses.dataclass
class Image:
    env: dict[str, str]
    workdir: str
    user: str
    volumes: list[str]
    entrypoint: list[str]
    cmd: list[str]
    # image path -> path on this machine (read-only in the task)
    binds: dict[str, Path]
    # image path -> (uid, gid, mode) of directories the Dockerfile creates or chowns
    dirs: dict[str, tuple[int, int, int]]
    # image paths of files fetched at build time (ADD <url>): the rehearsal's CA bundle there
    fetched: list[str]


def venv_base_prefix() -> Path:
    """The installation the project's venv was made from (pyvenv.cfg's `home` is its bin)."""
    for line in (VENV / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip()).resolve().parent
    raise RehearsalError(f"{VENV}/pyvenv.cfg names no home")


def dockerfile_lines(text: str) -> list[str]:
    """A Dockerfile's instructions, one per line (comments dropped, continuations joined)."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        raise RehearsalError("the Dockerfile ends inside a continued line")
    return lines


def _words(rest: str) -> list[str]:
    """An instruction's arguments: the JSON (exec) form or shell words."""
    if rest.startswith("["):
        value = json.loads(rest)
        return [str(word) for word in value]
    return shlex.split(rest)


def read_image(dockerfile: Path = DOCKERFILE, *, ignore_volumes: bool = False) -> Image:
    """The runtime (last) stage of the Dockerfile, mapped onto this machine."""
    stages: list[list[tuple[str, dict[str, str], str]]] = []
    for line in dockerfile_lines(dockerfile.read_text()):
        keyword, _, rest = line.partition(" ")
        flags: dict[str, str] = {}
        rest = rest.strip()
        while match := re.match(r"--([a-z-]+)=(\S+)\s+", rest):
            flags[match.group(1)] = match.group(2)
            rest = rest[match.end() :]
        if keyword.upper() == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((keyword.upper(), flags, rest))
    if not stages:
        raise RehearsalError(f"{dockerfile}: no FROM")
    image = Image(
        env=dict(BASE_IMAGE_ENV),
        workdir="/",
        user="0",
        volumes=[],
        entrypoint=[],
        cmd=[],
        binds={},
        dirs={},
        fetched=[],
    )
    for keyword, flags, rest in stages[-1]:
        if keyword == "ENV":
            for word in shlex.split(rest):
                key, _, value = word.partition("=")
                image.env[key] = re.sub(
                    r"\$\{?([A-Z_]+)\}?", lambda m: image.env.get(m.group(1), ""), value
                )
        elif keyword == "WORKDIR":
            image.workdir = rest
        elif keyword == "USER":
            image.user = rest
        elif keyword == "VOLUME" and not ignore_volumes:
            image.volumes.extend(_words(rest))
        elif keyword == "ENTRYPOINT":
            image.entrypoint = _words(rest)
        elif keyword == "CMD":
            image.cmd = _words(rest)
        elif keyword in ("COPY", "ADD"):
            *sources, dest = _words(rest)
            for source in sources:
                if re.match(r"https?://", source):
                    image.fetched.append(dest)
                elif "from" in flags:  # from the builder stage: the venv
                    image.binds[dest.rstrip("/")] = VENV if "venv" in source else Path(source)
                else:
                    image.binds[dest.rstrip("/")] = ROOT / source.rstrip("/")
        elif keyword == "RUN":
            _read_dir_changes(rest, image.dirs)
    return image


def _read_dir_changes(script: str, dirs: dict[str, tuple[int, int, int]]) -> None:
    """Owner and mode of directories a RUN line creates (mkdir/install -d, chown, chmod)."""
    for command in re.split(r"&&|;|\|\|", script):
        words = shlex.split(command)
        if not words:
            continue
        paths = [w for w in words[1:] if w.startswith("/")]
        if words[0] in ("mkdir", "install"):
            mode = 0o755
            for i, word in enumerate(words):
                if word in ("-m", "--mode") and i + 1 < len(words):
                    mode = int(words[i + 1], 8)
                elif word.startswith("--mode="):
                    mode = int(word.partition("=")[2], 8)
            owner = (0, 0)
            for i, word in enumerate(words):
                if word in ("-o", "--owner") and i + 1 < len(words):
                    owner = (int(words[i + 1]), owner[1])
                elif word in ("-g", "--group") and i + 1 < len(words):
                    owner = (owner[0], int(words[i + 1]))
            for path in paths:
                dirs[path.rstrip("/")] = (*owner, mode)
        elif words[0] == "chown":
            owner_text = next(w for w in words[1:] if not w.startswith("-"))
            user, _, group = owner_text.partition(":")
            for path in paths:
                _, _, mode = dirs.get(path, (0, 0, 0o755))
                dirs[path.rstrip("/")] = (int(user), int(group or user), mode)
        elif words[0] == "chmod":
            mode_text = next(w for w in words[1:] if not w.startswith("-"))
            for path in paths:
                uid, gid, _ = dirs.get(path, (0, 0, 0o755))
                dirs[path.rstrip("/")] = (uid, gid, int(mode_text, 8))
