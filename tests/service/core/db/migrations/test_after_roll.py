"""`migrate --after-roll`: the steps that converge the previous release's documents, applied
again once the services rolled: only those, only once applied, under the lease, each run in the
ledger."""

from __future__ import annotations

import asyncio

import pytest

from service.core.db.database import Database
from service.core.db.migrations.migration import Migration
from service.core.db.migrations.runner import (
    LEDGER,
    MigrationFailedError,
    MigrationRunner,
    NotAppliedError,
)
from tests.service.core.db.migrations.test_runner import (
    applications,
    at_once,
    counting,
    failing,
)


def converging(step_id: str, *, pause: float = 0.0) -> Migration:
    step = counting(step_id, pause=pause)
    return Migration(step.id, step.apply, converges_previous_release=True)


PLAN = [counting("a.0001"), converging("a.0002"), counting("a.0003"), converging("a.0004")]


async def test_after_the_roll_only_the_converging_steps_apply_again_and_each_run_is_recorded(
    database: Database,
) -> None:
    await MigrationRunner(database).run(PLAN)
    report = await MigrationRunner(database).converge(PLAN)
    assert report.converged == ["a.0002", "a.0004"]
    assert await applications(database) == {"a.0001": 1, "a.0002": 2, "a.0003": 1, "a.0004": 2}
    await MigrationRunner(database).converge(PLAN)  # the next deploy's
    ledger = {row["_id"]: row async for row in database[LEDGER].find({})}
    assert ledger["a.0002"]["status"] == "applied"
    assert ledger["a.0002"]["convergences"] == 2
    assert ledger["a.0002"]["converged_at"] >= ledger["a.0002"]["at"]
    assert "convergences" not in ledger["a.0001"]
    # `migrate` after it: nothing pending, nothing applied again.
    assert (await MigrationRunner(database).run(PLAN)).applied == []


async def test_nothing_to_converge_is_a_no_op(database: Database) -> None:
    plain = [counting("a.0001")]
    await MigrationRunner(database).run(plain)
    report = await MigrationRunner(database).converge(plain)
    assert report.converged == []
    assert report.applied == []
    assert await applications(database) == {"a.0001": 1}


async def test_a_step_never_applied_is_not_converged_migrate_comes_first(
    database: Database,
) -> None:
    await MigrationRunner(database).run(PLAN[:2])
    with pytest.raises(NotAppliedError, match=r"a\.0004"):
        await MigrationRunner(database).converge(PLAN)
    assert await applications(database) == {"a.0001": 1, "a.0002": 1}


async def test_two_after_roll_runners_at_once_converge_each_step_once(database: Database) -> None:
    plan = [converging("a.0001", pause=0.3), converging("a.0002", pause=0.3)]
    await MigrationRunner(database).run(plan)
    reports = await at_once(database, lambda runner: runner.converge(plan))
    assert await applications(database) == {"a.0001": 2, "a.0002": 2}
    # One converged both; the other waited for the lease, and found them converged since.
    assert sorted(len(report.converged) for report in reports) == [0, 2]
    assert sorted(len(report.already) for report in reports) == [0, 2]


async def test_a_migrate_and_an_after_roll_run_never_run_at_once(database: Database) -> None:
    running = 0
    overlapped = False

    async def watched(db: Database) -> None:
        nonlocal running, overlapped
        running += 1
        overlapped |= running > 1
        await asyncio.sleep(0.2)
        running -= 1

    plan = [Migration("a.0001", watched, converges_previous_release=True)]
    await MigrationRunner(database).run(plan)
    await asyncio.gather(
        MigrationRunner(database, poll_seconds=0.05).run(plan, again=["a.0001"]),
        MigrationRunner(database, poll_seconds=0.05).converge(plan),
    )
    assert not overlapped


async def test_a_failed_convergence_is_recorded_keeps_the_step_applied_and_can_be_rerun(
    database: Database,
) -> None:
    flaky = failing(2, "timed out")  # the first application is `migrate`'s
    plan = [Migration("a.0001", flaky, converges_previous_release=True), converging("a.0002")]
    await MigrationRunner(database).run(plan)
    with pytest.raises(MigrationFailedError, match=r"a\.0001 failed: timed out"):
        await MigrationRunner(database).converge(plan)
    row = await database[LEDGER].find_one({"_id": "a.0001"}) or {}
    assert row["status"] == "applied"
    assert row["convergence_error"] == "RuntimeError: timed out"
    assert "convergences" not in row
    assert await applications(database) == {"a.0002": 1}  # the run stopped there
    # Safe to run again: it converges both, and the error is cleared.
    assert (await MigrationRunner(database).converge(plan)).converged == ["a.0001", "a.0002"]
    row = await database[LEDGER].find_one({"_id": "a.0001"}) or {}
    assert "convergence_error" not in row
    assert row["convergences"] == 1
