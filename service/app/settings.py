"""The app's settings: core's plus every module's, as one class read from the environment."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from service.app.modules import MODULES
from service.core.config import Settings, load_settings_of
from service.core.module import compose_settings

AppSettings: type[Settings] = compose_settings(MODULES)


def load_settings(env: str | None = None, **overrides: Any) -> Settings:
    """The app's settings for `env` (else APP_ENV, else local); overrides win over the
    environment; an unknown name is refused."""
    return load_settings_of(AppSettings, env, **overrides)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
