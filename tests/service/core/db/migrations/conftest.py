from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from service.core.config import Settings
from service.core.db.database import Database, build_mongo_client


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    client = build_mongo_client(settings)
    db = client.get_database(f"{settings.mongodb_db}_mig_{uuid.uuid4().hex[:6]}")
    yield db
    await client.drop_database(db.name)
    await client.close()
