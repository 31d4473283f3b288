"""The database-user task's commands (service/core/db/app_user.py) are checked by the gate too.

The local server has no user management, so the task's first command is sent and recorded (the
gate checks it at this test's teardown; the server answers CommandNotFound), and the two it
sends next on DocumentDB are checked as the task builds them.
"""

from __future__ import annotations

import pytest
from pymongo.errors import OperationFailure

from service.core.config import Settings
from service.core.db.app_user import provision, user_command
from service.core.db.database import build_mongo_client
from tests.docdb.gate import RECORDER, Checker, SupportTable

CHECKER = Checker(SupportTable.load())


@pytest.mark.parametrize("verb", ["createUser", "updateUser"])
def test_the_user_commands_are_supported(verb: str) -> None:
    assert CHECKER.check(verb, user_command(verb, "app", "secret", "biwoco")) == []


async def test_the_task_sends_users_info_first_and_the_gate_records_it(settings: Settings) -> None:
    client = build_mongo_client(settings)
    before = RECORDER.commands_seen
    try:
        with pytest.raises(OperationFailure, match="usersInfo"):
            await provision(client, settings.mongodb_db, "gate_probe_user", "secret")
    finally:
        await client.close()
    assert RECORDER.commands_seen > before
    assert CHECKER.check("usersInfo", {"usersInfo": "gate_probe_user"}) == []
