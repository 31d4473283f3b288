"""Users' background work: removing accounts left unverified (a periodic beat task)."""

from __future__ import annotations

import inspect
import logging
from datetime import UTC, datetime, timedelta

from service.app.users.domain.repository import UserRepository
from service.app.worker import worker_container
from service.core.celery_task import app
from service.core.celery_task.base import BaseTask
from service.core.celery_task.runtime import runtime

logger = logging.getLogger(__name__)


async def delete_unverified_accounts_older_than(max_age: timedelta) -> int:
    container = worker_container()
    provided = container.user_repository()
    repository: UserRepository = await provided if inspect.isawaitable(provided) else provided
    cutoff = datetime.now(UTC) - max_age
    deleted = await repository.delete_unverified_created_before(cutoff)
    logger.info(
        "unverified accounts removed", extra={"deleted": deleted, "cutoff": cutoff.isoformat()}
    )
    return deleted


@app.task(base=BaseTask, bind=True, name="users.delete_unverified_accounts")
def delete_unverified_accounts(self: BaseTask) -> int:
    """Idempotent by nature: a second run finds nothing more to delete."""
    days = self.service_settings.unverified_account_max_age_days
    return runtime.run(delete_unverified_accounts_older_than(timedelta(days=days)))
