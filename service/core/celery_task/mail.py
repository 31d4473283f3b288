"""The mail outbox in Redis: the API stores a mail under a new id and enqueues `send_email(id)`.

The task takes only the id and reloads the mail, so the broker, the result store, Sentry and the
worker's log never carry a mail body (which may hold a single-use token). A stored mail expires
after MAIL_OUTBOX_TTL_SECONDS and is deleted once delivered.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict

from redis.asyncio import Redis

from service.core.config import Settings
from service.core.helpers.mail.message import OutgoingEmail

SEND_EMAIL_TASK = "mail.send_email"


class PendingEmailStore:
    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:mail:outbox"
        self._ttl = ttl_seconds

    @classmethod
    def from_settings(cls, redis: Redis, settings: Settings) -> PendingEmailStore:
        return cls(redis, settings.redis_key_prefix, settings.mail_outbox_ttl_seconds)

    def _key(self, email_id: str) -> str:
        return f"{self._prefix}:{email_id}"

    async def save(self, message: OutgoingEmail) -> str:
        email_id = uuid.uuid4().hex
        await self._redis.set(self._key(email_id), json.dumps(asdict(message)), ex=self._ttl)
        return email_id

    async def load(self, email_id: str) -> OutgoingEmail | None:
        raw = await self._redis.get(self._key(email_id))
        if raw is None:
            return None
        return OutgoingEmail(**json.loads(raw))

    async def delete(self, email_id: str) -> None:
        await self._redis.delete(self._key(email_id))
