"""Apply the migrations not yet applied, each exactly once, whoever else runs at the same time.

- The ledger (`schema_migrations`): one document per step, `{_id: step id, status: "applied" |
  "failed", at, holder, error}`. A step recorded `applied` is never run again; a `failed` one
  is tried again on the next run, and a failure stops the run (later steps wait for it).
- The lease (`schema_migration_lease`, one document): taken by a conditional write that matches
  only while the lease is free or expired (`until < now`); a second runner's write matches
  nothing and its upsert is a duplicate `_id`, so it waits and then finds the steps applied. The
  holder renews the lease while a step runs and frees it at the end; a holder that died frees it
  by expiring.
- After the roll (`converge`): a rolling deploy runs `migrate` while the previous release still
  serves, and its tasks go on writing documents in their shape until they stop. `converge`
  re-applies the steps marked `converges_previous_release` (only those, only once applied),
  under the same lease; each run is recorded on the step's ledger document (`converged_at`,
  `converged_by`, `convergences`, or `convergence_error`). A runner that waited for the lease
  skips a step another run converged after it was asked to: run after the roll, that run left
  nothing to converge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from service.core.db.database import Database, Document
from service.core.db.migrations.migration import Migration

logger = logging.getLogger(__name__)

LEDGER: Final = "schema_migrations"
LEASE: Final = "schema_migration_lease"
LEASE_ID: Final = "schema"
_FREE: Final = datetime(1970, 1, 1, tzinfo=UTC)


class MigrationFailedError(Exception):
    """A step raised; the ledger records it and the run stopped there."""


class LeaseTimeoutError(Exception):
    """Another runner held the lease for longer than this one would wait."""


class NotAppliedError(MigrationFailedError):
    """A step to converge after the roll was never applied: `migrate` has not run (or failed)."""


@dataclass
class RunReport:
    applied: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    converged: list[str] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class MigrationRunner:
    database: Database
    lease_seconds: float = 60.0
    wait_seconds: float = 600.0
    poll_seconds: float = 0.2
    clock: Callable[[], datetime] = _now
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)

    async def run(self, migrations: Sequence[Migration], *, again: Sequence[str] = ()) -> RunReport:
        """Apply every step of `migrations` not applied yet, in order (`again`: ids of applied
        steps to apply once more, e.g. a backfill after a deploy's roll)."""
        ids = _ids(migrations)
        unknown = set(again) - set(ids)
        if unknown:
            raise ValueError(f"no migration has the id(s) {sorted(unknown)}")
        report = RunReport()
        async with self._lease():
            ledger = await self._ledger()
            for migration in migrations:
                if _applied(ledger, migration.id) and migration.id not in again:
                    report.already.append(migration.id)
                    continue
                await self._apply(migration)
                report.applied.append(migration.id)
        logger.info("migrations run", extra={"applied": report.applied})
        return report

    async def converge(self, migrations: Sequence[Migration]) -> RunReport:
        """After the services rolled (`migrate --after-roll`): apply again every applied step
        marked `converges_previous_release`, for what the previous release wrote meanwhile."""
        _ids(migrations)
        steps = [migration for migration in migrations if migration.converges_previous_release]
        report = RunReport()
        if not steps:
            return report
        asked = self.clock()
        async with self._lease():
            ledger = await self._ledger()
            missing = [step.id for step in steps if not _applied(ledger, step.id)]
            if missing:
                raise NotAppliedError(f"not applied yet: {missing}; run migrate first")
            for step in steps:
                converged_at = ledger[step.id].get("converged_at")
                if converged_at is not None and _aware(converged_at) >= asked:
                    report.already.append(step.id)  # by the run this one waited for
                    continue
                await self._apply(step, converging=True)
                report.converged.append(step.id)
        logger.info("converged after the roll", extra={"converged": report.converged})
        return report

    async def _ledger(self) -> dict[str, Document]:
        # The whole ledger (a few documents per release), read by its `_id` index.
        fields = {"status": 1, "converged_at": 1}
        return {row["_id"]: row async for row in self.database[LEDGER].find({}, projection=fields)}

    async def _apply(self, migration: Migration, *, converging: bool = False) -> None:
        """Apply one step and record the outcome. Converging, the step stays `applied` whatever
        happens (its first application stands): the run is counted, or its error kept."""
        ledger = self.database[LEDGER]
        logger.info(
            "applying migration", extra={"migration": migration.id, "converging": converging}
        )
        try:
            async with self._renewing():
                await migration.apply(self.database)
        except Exception as error:
            message = f"{type(error).__name__}: {error}"[:2000]
            failed: Document = (
                {
                    "convergence_error": message,
                    "convergence_failed_at": self.clock(),
                    "converged_by": self.holder,
                }
                if converging
                else {
                    "status": "failed",
                    "at": self.clock(),
                    "error": message,
                    "holder": self.holder,
                }
            )
            await ledger.update_one({"_id": migration.id}, {"$set": failed}, upsert=True)
            raise MigrationFailedError(f"{migration.id} failed: {error}") from error
        done: Document = (
            {
                "$set": {"converged_at": self.clock(), "converged_by": self.holder},
                "$inc": {"convergences": 1},
                "$unset": {"convergence_error": ""},
            }
            if converging
            else {
                "$set": {"status": "applied", "at": self.clock(), "holder": self.holder},
                "$unset": {"error": ""},
            }
        )
        await ledger.update_one({"_id": migration.id}, done, upsert=True)

    # -- the lease ---------------------------------------------------------------------------

    async def _take(self) -> bool:
        now = self.clock()
        try:
            await self.database[LEASE].find_one_and_update(
                {"_id": LEASE_ID, "until": {"$lt": now}},
                {"$set": {"holder": self.holder, "until": now + self._term}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # held by another runner: the upsert's insert collided
        return True

    async def _renew(self) -> bool:
        renewed = await self.database[LEASE].find_one_and_update(
            {"_id": LEASE_ID, "holder": self.holder},
            {"$set": {"until": self.clock() + self._term}},
        )
        return renewed is not None

    @property
    def _term(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)

    @contextlib.asynccontextmanager
    async def _lease(self) -> AsyncIterator[None]:
        deadline = asyncio.get_running_loop().time() + self.wait_seconds
        while not await self._take():
            if asyncio.get_running_loop().time() > deadline:
                raise LeaseTimeoutError(
                    f"the migration lease stayed held for {self.wait_seconds} s"
                )
            await asyncio.sleep(self.poll_seconds)
        try:
            yield
        finally:
            await self.database[LEASE].update_one(
                {"_id": LEASE_ID, "holder": self.holder}, {"$set": {"until": _FREE}}
            )

    @contextlib.asynccontextmanager
    async def _renewing(self) -> AsyncIterator[None]:
        """Keep the lease while a step runs (an index build can take minutes)."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_seconds / 3)
                if not await self._renew():
                    logger.error("migration lease lost", extra={"holder": self.holder})
                    return

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _ids(migrations: Sequence[Migration]) -> list[str]:
    ids = [migration.id for migration in migrations]
    if len(set(ids)) != len(ids):
        raise ValueError("two migrations share an id")
    return ids


def _applied(ledger: dict[str, Document], step_id: str) -> bool:
    return ledger.get(step_id, {}).get("status") == "applied"


def _aware(at: datetime) -> datetime:
    # PyMongo returns naive UTC datetimes unless the client is tz_aware.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def run_migrations(
    database: Database, migrations: Sequence[Migration], *, again: Sequence[str] = ()
) -> RunReport:
    return await MigrationRunner(database).run(migrations, again=again)
