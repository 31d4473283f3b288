"""Tasks that belong to no module: mail delivery and the pipeline probe.

(The queue-depth metric is not a task: beat publishes it out of band, see backlog.py.)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from celery import shared_task
from pymongo import ASCENDING, IndexModel
from redis.asyncio import Redis

from service.core.celery_task.base import BaseTask
from service.core.celery_task.errors import PermanentTaskError
from service.core.celery_task.idempotency import EffectLedger
from service.core.celery_task.mail import SEND_EMAIL_TASK, PendingEmailStore
from service.core.clock import Clock
from service.core.config import Settings
from service.core.container import CoreContainer
from service.core.db.database import Database, IndexPlan
from service.core.helpers.mail.mailer import Mailer
from service.core.worker.runtime import runtime

# The probe's effects (one document per probe run): evidence for a pipeline run or an operator,
# who count them by probe or by batch; not data: the TTL monitor removes them after a week.
OPS_PROBES = "ops_probes"
OPS_PROBE_INDEXES: list[IndexModel] = [
    IndexModel([("at", ASCENDING)], name="at_ttl", expireAfterSeconds=7 * 24 * 3600),
    IndexModel([("probe_id", ASCENDING)], name="probe_id"),
    IndexModel([("batch", ASCENDING)], name="batch"),
]
# Core's own collections (the API ensures them beside the modules').
CORE_INDEX_PLAN: IndexPlan = {OPS_PROBES: OPS_PROBE_INDEXES}

logger = logging.getLogger(__name__)


# -- mail ---------------------------------------------------------------------------------------


async def deliver_pending_email(
    store: PendingEmailStore, ledger: EffectLedger, mailer: Mailer, email_id: str
) -> str:
    """Deliver the stored mail `email_id` once; later deliveries of the task do nothing."""
    effect_id = f"mail:{email_id}"
    if await ledger.is_done(effect_id):
        return "already-sent"
    message = await store.load(email_id)
    if message is None:
        raise PermanentTaskError(f"mail {email_id} is not in the outbox (expired or unknown)")
    sent = await ledger.once(effect_id, lambda: mailer.send(message, message_id=email_id))
    await store.delete(email_id)
    logger.info(
        "email sent" if sent else "email already sent",
        extra={"email_id": email_id, "kind": message.kind},
    )
    return "sent" if sent else "already-sent"


async def _send_email(email_id: str) -> str:
    return await deliver_pending_email(
        await runtime.resolve(CoreContainer.pending_emails),
        await runtime.resolve(CoreContainer.effect_ledger),
        await runtime.resolve(CoreContainer.mailer),
        email_id,
    )


@shared_task(base=BaseTask, bind=True, name=SEND_EMAIL_TASK)
def send_email(self: BaseTask, email_id: str) -> str:
    return runtime.run(_send_email(email_id))


# -- pipeline probe -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeDeps:
    settings: Settings
    redis: Redis
    database: Database
    ledger: EffectLedger
    clock: Clock


async def run_probe(
    deps: ProbeDeps,
    probe_id: str,
    batch: str | None,
    hold_seconds: float,
    work_seconds: float,
) -> str:
    """Count the delivery, apply the probe's effect once, then optionally work or hold."""
    prefix = f"{deps.settings.redis_key_prefix}:ops:probe:{probe_id}"
    deliveries = f"{prefix}:deliveries"
    await deps.redis.incr(deliveries)
    await deps.redis.expire(deliveries, 24 * 3600)

    async def effect() -> None:
        # Not idempotent by itself (a new document each time): the ledger makes it happen once.
        await deps.database[OPS_PROBES].insert_one(
            {"probe_id": probe_id, "batch": batch, "at": deps.clock.now()}
        )

    await deps.ledger.once(f"probe:{probe_id}", effect)
    if work_seconds > 0:
        await asyncio.sleep(work_seconds)
    if hold_seconds > 0:
        await deps.redis.set(f"{prefix}:holding", "1", ex=3600)
        release = f"{prefix}:release"
        for _ in range(max(1, round(hold_seconds / 0.05))):
            if await deps.redis.exists(release):
                break
            await asyncio.sleep(0.05)
    return "done"


async def _probe(probe_id: str, batch: str | None, hold_seconds: float, work_seconds: float) -> str:
    clock = await runtime.resolve(CoreContainer.clock)
    deps = ProbeDeps(
        settings=await runtime.resolve(CoreContainer.settings),
        redis=await runtime.resolve(CoreContainer.redis_client),
        database=await runtime.resolve(CoreContainer.database),
        ledger=await runtime.resolve(CoreContainer.effect_ledger),
        clock=clock,
    )
    return await run_probe(deps, probe_id, batch, hold_seconds, work_seconds)


@shared_task(base=BaseTask, bind=True, name="ops.probe")
def probe(
    self: BaseTask,
    probe_id: str,
    batch: str | None = None,
    hold_seconds: float = 0.0,
    work_seconds: float = 0.0,
) -> str:
    """End-to-end check of the pipeline (enqueue, worker, Redis, MongoDB, exactly-once effect).

    Operators can send it (`celery -A service.app.worker call ops.probe --args
    '["smoke-1"]'`); `hold_seconds` keeps it running until `<prefix>:ops:probe:<id>:release`
    exists, which is how the redelivery test kills a worker in the middle of a task.
    """
    return runtime.run(_probe(probe_id, batch, hold_seconds, work_seconds))
