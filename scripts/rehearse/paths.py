"""Where the rehearsal finds the checkout's Dockerfile and venv, and where it works."""

from __future__ import annotations

from typing import Final

from scripts import stack

ROOT: Final = stack.ROOT
DOCKERFILE: Final = ROOT / "Dockerfile"
VENV: Final = ROOT / ".venv"
DEFAULT_WORKDIR: Final = stack.STACK_DIR / "rehearse"
