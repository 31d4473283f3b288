"""The migration runner: a ledger and a lease, so every step is applied exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from service.core.db.database import Database
from service.core.db.migrations.migration import Apply, Migration
from service.core.db.migrations.runner import (
    LEASE,
    LEDGER,
    LeaseTimeoutError,
    MigrationFailedError,
    MigrationRunner,
    RunReport,
)


def counting(step_id: str, *, pause: float = 0.0) -> Migration:
    """A step that counts its applications in the `applied` collection."""

    async def apply(database: Database) -> None:
        await asyncio.sleep(pause)  # long enough for a concurrent runner to try the lease
        await database["applied"].update_one({"_id": step_id}, {"$inc": {"n": 1}}, upsert=True)

    return Migration(step_id, apply)


def failing(attempt: int, message: str) -> Apply:
    """A step that raises on its `attempt`-th application only."""
    attempts = 0

    async def apply(database: Database) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == attempt:
            raise RuntimeError(message)

    return apply


async def applications(database: Database) -> dict[str, int]:
    return {row["_id"]: row["n"] async for row in database["applied"].find({})}


async def at_once(
    database: Database, run: Callable[[MigrationRunner], Awaitable[RunReport]]
) -> list[RunReport]:
    """Two runners (two tasks of a retried deploy) doing `run` at the same time."""
    runners = [MigrationRunner(database, poll_seconds=0.05) for _ in range(2)]
    return list(await asyncio.gather(*(run(runner) for runner in runners)))


async def test_two_runners_at_once_apply_each_step_once(database: Database) -> None:
    steps = [counting("a.0001", pause=0.3), counting("a.0002", pause=0.3)]
    reports = await at_once(database, lambda runner: runner.run(steps))
    assert await applications(database) == {"a.0001": 1, "a.0002": 1}
    # One runner applied both; the other waited for the lease and found them applied.
    assert sorted(len(report.applied) for report in reports) == [0, 2]
    assert sorted(len(report.already) for report in reports) == [0, 2]


async def test_a_rerun_is_a_no_op(database: Database) -> None:
    steps = [counting("a.0001"), counting("a.0002")]
    await MigrationRunner(database).run(steps)
    report = await MigrationRunner(database).run(steps)
    assert report.applied == []
    assert report.already == ["a.0001", "a.0002"]
    assert await applications(database) == {"a.0001": 1, "a.0002": 1}


async def test_a_step_added_later_is_the_only_one_applied(database: Database) -> None:
    await MigrationRunner(database).run([counting("a.0001")])
    report = await MigrationRunner(database).run([counting("a.0001"), counting("a.0002")])
    assert report.applied == ["a.0002"]


async def test_a_failed_step_is_recorded_and_stops_the_run_until_it_succeeds(
    database: Database,
) -> None:
    steps = [counting("a.0001"), Migration("a.0002", failing(1, "disk full")), counting("a.0003")]
    with pytest.raises(MigrationFailedError, match=r"a\.0002 failed: disk full"):
        await MigrationRunner(database).run(steps)
    ledger = {row["_id"]: row async for row in database[LEDGER].find({})}
    assert ledger["a.0001"]["status"] == "applied"
    assert ledger["a.0002"]["status"] == "failed"
    assert ledger["a.0002"]["error"] == "RuntimeError: disk full"
    assert "a.0003" not in ledger
    assert await applications(database) == {"a.0001": 1}
    # The lease is free again: the next run retries the failed step and goes on.
    report = await MigrationRunner(database).run(steps)
    assert report.applied == ["a.0002", "a.0003"]
    assert (await database[LEDGER].find_one({"_id": "a.0002"}) or {}).get("error") is None


async def test_a_lease_held_by_a_live_runner_is_waited_for_and_an_expired_one_taken(
    database: Database,
) -> None:
    holder = MigrationRunner(database, lease_seconds=60)
    assert await holder._take()
    with pytest.raises(LeaseTimeoutError):
        await MigrationRunner(database, wait_seconds=0.3, poll_seconds=0.05).run([])
    # A runner that died without freeing it: its lease expires and the next one takes it.
    await database[LEASE].update_one({}, {"$set": {"until": holder.clock()}})
    await asyncio.sleep(0.01)
    assert (await MigrationRunner(database, wait_seconds=1).run([counting("a.0001")])).applied


async def test_again_reapplies_an_applied_step(database: Database) -> None:
    steps = [counting("a.0001")]
    await MigrationRunner(database).run(steps)
    await MigrationRunner(database).run(steps, again=["a.0001"])
    assert await applications(database) == {"a.0001": 2}
    with pytest.raises(ValueError, match="no migration"):
        await MigrationRunner(database).run(steps, again=["a.9999"])
