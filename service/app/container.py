"""The service's composition: the core container and every module's, from the module list."""

from __future__ import annotations

from service.app.modules import MODULES
from service.app.settings import get_settings
from service.core.composition import ServiceContainer
from service.core.config import Settings


def build_container(
    settings: Settings | None = None, *, celery_app: object | None = None
) -> ServiceContainer:
    """One per process: the API app, each worker process, a CLI command."""
    return ServiceContainer(settings or get_settings(), MODULES, celery_app=celery_app)
