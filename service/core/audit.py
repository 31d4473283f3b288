"""The security audit trail: who did what to which account, when, from where.

Each event is written twice: to its own collection (named by the module that keeps the trail,
with AUDIT_INDEXES; a TTL index removes an event after AUDIT_RETENTION_DAYS, DocumentDB takes
TTL only on a single-field index) and as one
structured log line (`"message": "security event"`, the same fields), so the log pipeline has it
even when the database write fails. The request id is the one the request context carries.
A write failure is logged, never raised: a sign-in does not fail because its audit row did not.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import PyMongoError

from service.core.clock import Clock
from service.core.db.database import Database, Document, on_primary
from service.core.db.keyset import newest_first_page
from service.core.pagination import Page, decode_cursor
from service.core.request_context import current_request_id

logger = logging.getLogger("service.security")

AUDIT_RETENTION_DAYS = 400
AUDIT_INDEXES: list[IndexModel] = [
    IndexModel(
        [("account_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
        name="account_created_at_id",
    ),
    IndexModel(
        [("created_at", ASCENDING)],
        name="created_at_ttl",
        expireAfterSeconds=AUDIT_RETENTION_DAYS * 24 * 3600,
    ),
]


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    id: str
    action: str
    account_id: str | None
    created_at: datetime
    address: str | None
    request_id: str | None
    detail: dict[str, Any] = field(default_factory=dict)


class AuditTrail:
    def __init__(self, database: Database, clock: Clock, collection: str) -> None:
        self._events = database[collection]
        self._primary = on_primary(self._events)
        self._clock = clock

    async def record(
        self,
        action: str,
        *,
        account_id: str | None,
        address: str | None = None,
        **detail: Any,
    ) -> SecurityEvent:
        event = SecurityEvent(
            id=uuid.uuid4().hex,
            action=action,
            account_id=account_id,
            created_at=self._clock.now(),
            address=address,
            request_id=current_request_id(),
            detail=detail,
        )
        logger.info(
            "security event",
            extra={
                "event": action,
                "event_id": event.id,
                "account_id": account_id,
                "client": address,
                **({"detail": detail} if detail else {}),
            },
        )
        try:
            await self._primary.insert_one(_to_document(event))
        except PyMongoError:
            logger.exception("security event not stored", extra={"event_id": event.id})
        return event

    async def page(self, account_id: str, *, limit: int, cursor: str | None) -> Page[SecurityEvent]:
        """An account's events, newest first (keyset pages, the kit's cursor)."""
        after = decode_cursor(cursor) if cursor else None
        documents = await newest_first_page(
            self._primary, {"account_id": account_id}, limit=limit + 1, after=after
        )
        return Page.of_rows([_from_document(document) for document in documents], limit)


def _to_document(event: SecurityEvent) -> Document:
    return {
        "_id": event.id,
        "action": event.action,
        "account_id": event.account_id,
        "created_at": event.created_at,
        "address": event.address,
        "request_id": event.request_id,
        "detail": event.detail,
    }


def _from_document(document: Document) -> SecurityEvent:
    return SecurityEvent(
        id=document["_id"],
        action=document["action"],
        account_id=document.get("account_id"),
        created_at=document["created_at"],
        address=document.get("address"),
        request_id=document.get("request_id"),
        detail=document.get("detail") or {},
    )
