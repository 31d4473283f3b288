"""The PyMongo async client as a container resource, and the check of the planned indexes.

The client reads with the read preference of its URL (`MONGODB_READ_PREFERENCE`; production:
`secondaryPreferred`, so reads spread over DocumentDB's replicas, which lag the writer by
milliseconds to seconds). A read that decides a write, or answers right after one, goes through
`on_primary(collection)` instead (docs/data-model.md lists which reads are which).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel, ReadPreference
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from service.core.config import Settings

logger = logging.getLogger(__name__)

Document = dict[str, Any]
MongoClient = AsyncMongoClient[Document]
Database = AsyncDatabase[Document]
Collection = AsyncCollection[Document]
# Collection name -> the indexes it must have.
IndexPlan = Mapping[str, Sequence[IndexModel]]


def build_mongo_client(settings: Settings, *, operation_timeout: bool = True) -> MongoClient:
    """The client; every operation bounded by `MONGODB_OPERATION_TIMEOUT_MS` (`timeoutMS`)
    unless `operation_timeout` is False (migrations: index builds), which keeps the socket
    timeout only."""
    password = settings.mongodb_password.get_secret_value() if settings.mongodb_password else None
    bound: dict[str, Any] = (
        {"timeoutMS": settings.mongodb_operation_timeout_ms}
        if operation_timeout
        else {"socketTimeoutMS": None}
    )
    return AsyncMongoClient(
        settings.mongodb_client_url(),
        username=settings.mongodb_username,
        password=password,
        tz_aware=True,
        uuidRepresentation="standard",
        appname=settings.app_name,
        maxPoolSize=settings.mongodb_max_pool_size,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        connectTimeoutMS=settings.mongodb_timeout_ms,
        **bound,
    )


async def mongo_client_resource(settings: Settings) -> AsyncIterator[MongoClient]:
    """Resource provider body: one client per process (or per worker event loop)."""
    client = build_mongo_client(settings)
    try:
        yield client
    finally:
        await client.close()


def get_database(client: MongoClient, name: str) -> Database:
    return client.get_database(name)


def on_primary(collection: Collection) -> Collection:
    """The same collection, read from the primary: for the version an `If-Match` or a conditional
    write is checked against, and for what answers right after a write (read-your-writes)."""
    return collection.with_options(read_preference=ReadPreference.PRIMARY)


async def missing_indexes(database: Database, plan: IndexPlan) -> list[str]:
    """`collection.index` of every planned index the database does not have with the planned
    keys. The API builds none (migrations do, `service/core/db/migrations`): it stays not-ready
    while this names any."""
    missing = []
    for collection, indexes in plan.items():
        existing = {
            index["name"]: dict(index["key"])
            async for index in await database[collection].list_indexes()
        }
        for index in indexes:
            name = index.document["name"]
            if existing.get(name) != dict(index.document["key"]):
                missing.append(f"{collection}.{name}")
    return missing
