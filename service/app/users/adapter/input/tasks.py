"""Users' background work: removing accounts left unverified (a periodic beat task)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from service.app.users.container import UsersContainer
from service.core.celery_task.base import BaseTask
from service.core.worker.runtime import runtime


async def _delete_unverified_accounts() -> int:
    settings = await runtime.resolve(UsersContainer.settings)
    users = await runtime.resolve(UsersContainer.user_service)
    return await users.delete_unverified_older_than(
        timedelta(days=settings.unverified_account_max_age_days)
    )


@shared_task(base=BaseTask, bind=True, name="users.delete_unverified_accounts")
def delete_unverified_accounts(self: BaseTask) -> int:
    """Idempotent by nature: a second run finds nothing more to delete."""
    return runtime.run(_delete_unverified_accounts())
