from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service.core.config import Settings
from service.core.db.database import Database
from tests.conftest import scratch_database


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    async with scratch_database(settings, "mig") as db:
        yield db
