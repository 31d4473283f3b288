"""Users' background work: removing accounts left unverified (a periodic beat task)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from celery import shared_task

from service.app.users.application.user_service import UserService
from service.app.users.container import UsersContainer
from service.core.celery_task.base import BaseTask
from service.core.celery_task.runtime import runtime

logger = logging.getLogger(__name__)


async def delete_unverified_accounts_older_than(
    users: UserService, max_age: timedelta, *, now: datetime | None = None
) -> int:
    cutoff = (now or datetime.now(UTC)) - max_age
    deleted = await users.delete_unverified_created_before(cutoff)
    logger.info(
        "unverified accounts removed", extra={"deleted": deleted, "cutoff": cutoff.isoformat()}
    )
    return deleted


async def _delete_unverified_accounts() -> int:
    settings = await runtime.resolve(UsersContainer.settings)
    users = await runtime.resolve(UsersContainer.user_service)
    max_age = timedelta(days=settings.unverified_account_max_age_days)
    return await delete_unverified_accounts_older_than(users, max_age)


@shared_task(base=BaseTask, bind=True, name="users.delete_unverified_accounts")
def delete_unverified_accounts(self: BaseTask) -> int:
    """Idempotent by nature: a second run finds nothing more to delete."""
    return runtime.run(_delete_unverified_accounts())
