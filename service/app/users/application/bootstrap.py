"""The first admin: created (or promoted) at start-up, if configured."""

from __future__ import annotations

import logging

from service.app.users.application.user_service import UserService

logger = logging.getLogger(__name__)


async def bootstrap_admin(users: UserService, email: str | None, password: str | None) -> None:
    if not email:
        return
    user, created = await users.ensure_admin(email=email, password=password)
    logger.info("bootstrap admin ensured", extra={"user_id": user.id, "admin_created": created})
