"""Core's own collections' migrations (`ops_probes`), run before every module's."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

from service.core.db.migrations.migration import Migration, create_indexes
from service.core.worker.tasks import OPS_PROBES

CORE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "core.0001_ops_probe_indexes",
        create_indexes(
            OPS_PROBES,
            [
                IndexModel([("at", ASCENDING)], name="at_ttl", expireAfterSeconds=7 * 24 * 3600),
                IndexModel([("probe_id", ASCENDING)], name="probe_id"),
                IndexModel([("batch", ASCENDING)], name="batch"),
            ],
        ),
        "the indexes start-up created before migrations existed",
    ),
)
