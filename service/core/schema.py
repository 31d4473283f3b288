"""A composition's schema: the indexes it must have and the migrations that make them.

`index_plan(modules)`: what the API checks at start-up and in readiness (it builds nothing);
`migration_plan(modules)`: core's migrations, then each module's in the module list's order;
`migrate(settings)`: `python service/main.py migrate`, the deployed one-off task, `scripts/run`
and the tests run it first; with `after_roll`, the deploy's second one-off task once the services
have rolled (the converging steps again, for what the previous release wrote meanwhile).
"""

from __future__ import annotations

from collections.abc import Sequence

from service.core.config import Settings
from service.core.db.database import IndexPlan, build_mongo_client
from service.core.db.migrations.migration import Migration
from service.core.db.migrations.runner import MigrationRunner, RunReport
from service.core.module import Module
from service.core.worker.schema import CORE_MIGRATIONS
from service.core.worker.tasks import CORE_INDEX_PLAN


def index_plan(modules: Sequence[Module]) -> IndexPlan:
    """Every collection's indexes: core's and each module's."""
    plan = dict(CORE_INDEX_PLAN)
    for module in modules:
        plan.update(module.index_plan)
    return plan


def migration_plan(modules: Sequence[Module]) -> tuple[Migration, ...]:
    steps = list(CORE_MIGRATIONS)
    for module in modules:
        steps.extend(module.migrations)
    return tuple(steps)


async def migrate(
    settings: Settings,
    modules: Sequence[Module],
    *,
    again: Sequence[str] = (),
    after_roll: bool = False,
) -> RunReport:
    """Apply this composition's pending migrations to `settings`' database (`after_roll`: its
    converging steps once more instead). Its own client, without the request path's operation
    bound: an index build may take minutes."""
    client = build_mongo_client(settings, operation_timeout=False)
    try:
        runner = MigrationRunner(client.get_database(settings.mongodb_db))
        if after_roll:
            return await runner.converge(migration_plan(modules))
        return await runner.run(migration_plan(modules), again=again)
    finally:
        await client.close()
