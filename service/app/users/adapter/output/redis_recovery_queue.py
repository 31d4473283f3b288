"""The `RecoveryQueue` of the API: the request in the state Redis, `users.deliver_recovery(id)`
enqueued by name. The broker carries only the id (no address), as the mail outbox does."""

from __future__ import annotations

import json
import uuid

from redis.asyncio import Redis

from service.app.users.domain.ports import OneTimeKind, RecoveryRequest
from service.core.celery_task.publisher import TaskPublisher

DELIVER_RECOVERY_TASK = "users.deliver_recovery"


class RedisRecoveryQueue:
    def __init__(
        self, redis: Redis, publisher: TaskPublisher, *, prefix: str, ttl_seconds: int
    ) -> None:
        self._redis = redis
        self._publisher = publisher
        self._prefix = f"{prefix}:recovery"
        self._ttl = ttl_seconds

    def key(self, request_id: str) -> str:
        return f"{self._prefix}:{request_id}"

    @property
    def key_pattern(self) -> str:
        return f"{self._prefix}:*"

    async def submit(self, request: RecoveryRequest) -> None:
        request_id = uuid.uuid4().hex
        value = json.dumps({"kind": request.kind.value, "email": request.email_normalized})
        await self._redis.set(self.key(request_id), value, ex=self._ttl)
        await self._publisher.send(DELIVER_RECOVERY_TASK, request_id)

    async def load(self, request_id: str) -> RecoveryRequest | None:
        raw = await self._redis.get(self.key(request_id))
        if raw is None:
            return None
        data = json.loads(raw)
        return RecoveryRequest(kind=OneTimeKind(data["kind"]), email_normalized=data["email"])

    async def done(self, request_id: str) -> None:
        await self._redis.delete(self.key(request_id))
