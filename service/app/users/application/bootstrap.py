"""The first admin: created (or promoted) from settings at start-up, if configured."""

from __future__ import annotations

import logging

from service.app.users.application.user_service import UserService
from service.core.config import Settings

logger = logging.getLogger(__name__)


async def bootstrap_admin(users: UserService, settings: Settings) -> None:
    if not settings.bootstrap_admin_email:
        return
    password = settings.bootstrap_admin_password
    user, created = await users.ensure_admin(
        email=settings.bootstrap_admin_email,
        password=password.get_secret_value() if password else None,
    )
    logger.info("bootstrap admin ensured", extra={"user_id": user.id, "created": created})
