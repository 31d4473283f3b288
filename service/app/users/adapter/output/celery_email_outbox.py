"""The `EmailOutbox` of the API: stores the mail in Redis and enqueues `send_email(id)`."""

from __future__ import annotations

from service.core.celery_task.mail import SEND_EMAIL_TASK, PendingEmailStore
from service.core.celery_task.publisher import TaskPublisher
from service.core.helpers.mail import OutgoingEmail


class CeleryEmailOutbox:
    """The API never sends mail itself; the worker's `send_email` task delivers it."""

    def __init__(self, store: PendingEmailStore, publisher: TaskPublisher) -> None:
        self._store = store
        self._publisher = publisher

    async def enqueue(self, message: OutgoingEmail) -> None:
        email_id = await self._store.save(message)
        await self._publisher.send(SEND_EMAIL_TASK, email_id)
