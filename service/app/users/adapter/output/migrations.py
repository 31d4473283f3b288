"""The users collection's migrations, oldest first. Never edit one that has shipped: add one."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from service.app.users.adapter.output.mongo_user_repository import (
    COLLECTION,
    SECURITY_EVENTS,
    USER_INDEXES,
)
from service.core.audit import AUDIT_INDEXES
from service.core.db.database import Document
from service.core.db.keyset import PAGE_KEY, page_key
from service.core.db.migrations.migration import (
    Migration,
    backfill,
    create_indexes,
    drop_indexes,
    in_order,
)


def _page_key(document: Document) -> Document | None:
    """Every account its `page_key`; the previous release (release-2026.12.01) inserts accounts
    without one, which the listings (a range on it) never return."""
    if PAGE_KEY in document:
        return None
    return {PAGE_KEY: page_key(document["created_at"], document["_id"])}


def _named(*names: str) -> list[IndexModel]:
    return [model for model in USER_INDEXES if model.document["name"] in names]


USERS_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "users.0001_indexes",
        create_indexes(
            COLLECTION,
            [
                IndexModel(
                    [("email_normalized", ASCENDING)], name="email_normalized_unique", unique=True
                ),
                IndexModel(
                    [("cognito_sub", ASCENDING)],
                    name="cognito_sub_unique",
                    unique=True,
                    sparse=True,
                ),
                IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="created_at_id"),
                IndexModel(
                    [("role", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                    name="role_created_at_id",
                ),
                IndexModel(
                    [("is_active", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                    name="is_active_created_at_id",
                ),
                IndexModel(
                    [("is_verified", ASCENDING), ("created_at", ASCENDING)], name="unverified_purge"
                ),
            ],
        ),
        "the indexes start-up created before migrations existed",
    ),
    Migration(
        "users.0002_keyset_page_key",
        in_order(
            backfill(COLLECTION, _page_key, fields=[PAGE_KEY, "created_at"]),
            create_indexes(COLLECTION, _named("page_key", "role_page_key", "is_active_page_key")),
            drop_indexes(
                COLLECTION, ["created_at_id", "role_created_at_id", "is_active_created_at_id"]
            ),
        ),
        "keyset pages as one range on page_key: every account gets its key, the listings their "
        "page_key indexes; the created_at/_id ones retire",
        converges_previous_release=True,
    ),
    Migration(
        "users.0003_security_events_indexes",
        create_indexes(SECURITY_EVENTS, AUDIT_INDEXES),
        "the security audit trail: an account's events by page_key, and their TTL",
    ),
)
