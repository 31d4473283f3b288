"""The files collections' migrations, oldest first. Never edit one that has shipped: add one."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from service.app.files.adapter.output.repository import (
    ABANDONED_UPLOAD_GRACE_SECONDS,
    FILE_INDEXES,
    FILES,
    NEVER,
)
from service.app.files.domain.entity import FileStatus
from service.core.db.database import Document
from service.core.db.keyset import PAGE_KEY, page_key
from service.core.db.migrations.migration import (
    Migration,
    backfill,
    create_indexes,
    drop_indexes,
    in_order,
)


def _positive_ranges(document: Document) -> Document | None:
    """`page_key` on every file; `expires_at` NEVER on every file that is not pending, and its
    upload deadline on a pending file that has none.

    The previous release (release-2026.12.01) writes neither field: it inserts files without
    them (invisible to every read of this one, out of the sweep's and the TTL's reach), and it
    moves a file out of `pending` by `$set`ting its status alone, so a file this release created
    keeps its upload deadline as `expires_at`: gone from reads at the deadline, removed by the
    TTL index a grace period later."""
    values: Document = {}
    if PAGE_KEY not in document:
        values[PAGE_KEY] = page_key(document["created_at"], document["_id"])
    if document.get("status") != FileStatus.PENDING.value:
        if document.get("expires_at") != NEVER:
            values["expires_at"] = NEVER
    elif "expires_at" not in document:
        values["expires_at"] = document["upload_expires_at"]
    return values or None


_READ = [PAGE_KEY, "created_at", "status", "expires_at", "upload_expires_at"]


FILES_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "files.0001_indexes",
        create_indexes(
            FILES,
            [
                IndexModel(
                    [("owner_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                    name="owner_created",
                ),
                IndexModel(
                    [("expires_at", ASCENDING)],
                    name="expires_at_ttl",
                    expireAfterSeconds=ABANDONED_UPLOAD_GRACE_SECONDS,
                ),
            ],
        ),
        "the indexes start-up created before migrations existed",
    ),
    Migration(
        "files.0002_positive_ranges",
        in_order(
            backfill(FILES, _positive_ranges, fields=_READ),
            create_indexes(
                FILES, [m for m in FILE_INDEXES if m.document["name"] == "owner_page_key"]
            ),
            drop_indexes(FILES, ["owner_created"]),
        ),
        "listings as one range on page_key and liveness as expires_at > now: every file gets "
        "its key, every file that is not pending expires_at NEVER, every pending one its "
        "deadline; owner_created retires",
        converges_previous_release=True,
    ),
)
