"""Users' background work: removing accounts left unverified (a periodic beat task)."""

from __future__ import annotations

from datetime import timedelta

from service.app.container import resolve
from service.app.users.application.user_service import UserService
from service.app.worker import worker_container
from service.core.celery_task import app
from service.core.celery_task.base import BaseTask
from service.core.celery_task.runtime import runtime


async def _delete_unverified_accounts(max_age: timedelta) -> int:
    users = await resolve(worker_container().user_service, UserService)
    return await users.delete_unverified_older_than(max_age)


@app.task(base=BaseTask, bind=True, name="users.delete_unverified_accounts")
def delete_unverified_accounts(self: BaseTask) -> int:
    """Idempotent by nature: a second run finds nothing more to delete."""
    days = self.service_settings.unverified_account_max_age_days
    return runtime.run(_delete_unverified_accounts(timedelta(days=days)))
