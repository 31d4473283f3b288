"""Users' background work: removing accounts left unverified (a periodic beat task), and the
worker's half of password-reset and verification requests (`deliver_recovery`)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from service.app.users.container import UsersContainer
from service.core.celery_task.base import BaseTask
from service.core.worker.runtime import runtime

# Sent by beat only (the module's BeatEntry), so the name lives beside the task.
DELETE_UNVERIFIED_TASK = "users.delete_unverified_accounts"


async def _delete_unverified_accounts() -> int:
    settings = await runtime.resolve(UsersContainer.settings)
    users = await runtime.resolve(UsersContainer.user_service)
    return await users.delete_unverified_older_than(
        timedelta(days=settings.unverified_account_max_age_days)
    )


@shared_task(base=BaseTask, bind=True, name=DELETE_UNVERIFIED_TASK)
def delete_unverified_accounts(self: BaseTask) -> int:
    """Idempotent by nature: a second run finds nothing more to delete."""
    return runtime.run(_delete_unverified_accounts())


async def _deliver_recovery(request_id: str) -> bool:
    auth = await runtime.resolve(UsersContainer.auth_service)
    return await auth.deliver_recovery(request_id)


@shared_task(base=BaseTask, bind=True, name="users.deliver_recovery")
def deliver_recovery(self: BaseTask, request_id: str) -> bool:
    """At least once: the request is deleted once handled; a redelivery after that finds
    nothing, a retry before it handles it again."""
    return runtime.run(_deliver_recovery(request_id))
