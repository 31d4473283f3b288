"""The `EmailOutbox` of the API: stores the mail in Redis and enqueues `send_email(id)`."""

from __future__ import annotations

import asyncio

from celery import Celery

from service.core.celery_task.mail import SEND_EMAIL_TASK, PendingEmailStore
from service.core.helpers.mail import OutgoingEmail


class CeleryEmailOutbox:
    """The API never sends mail itself; the worker's `send_email` task delivers it."""

    def __init__(self, store: PendingEmailStore, celery: Celery) -> None:
        self._store = store
        self._celery = celery

    async def enqueue(self, message: OutgoingEmail) -> None:
        email_id = await self._store.save(message)
        # Publishing talks to the broker synchronously: keep it off the event loop.
        await asyncio.to_thread(self._celery.send_task, SEND_EMAIL_TASK, args=[email_id])
