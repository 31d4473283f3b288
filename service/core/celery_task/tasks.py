"""Tasks that belong to no module: mail delivery and the pipeline probe.

(The queue-depth metric is not a task: beat publishes it out of band, see backlog.py.)
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from service.core.celery_task import app
from service.core.celery_task.base import BaseTask
from service.core.celery_task.errors import PermanentTaskError
from service.core.celery_task.idempotency import EffectLedger
from service.core.celery_task.mail import SEND_EMAIL_TASK, PendingEmailStore
from service.core.celery_task.runtime import WorkerServices, runtime

logger = logging.getLogger(__name__)


def effect_ledger(services: WorkerServices) -> EffectLedger:
    settings = services.settings
    return EffectLedger(
        services.redis,
        settings.redis_key_prefix,
        done_ttl_seconds=settings.celery_effect_ttl_seconds,
        # Nobody holds a claim longer than a task may run.
        lease_ttl_seconds=settings.celery_task_time_limit_seconds + 5,
    )


# -- mail ---------------------------------------------------------------------------------------


async def deliver_pending_email(services: WorkerServices, email_id: str) -> str:
    """Deliver the stored mail `email_id` once; later deliveries of the task do nothing."""
    ledger = effect_ledger(services)
    effect_id = f"mail:{email_id}"
    if await ledger.is_done(effect_id):
        return "already-sent"
    store = PendingEmailStore.from_settings(services.redis, services.settings)
    message = await store.load(email_id)
    if message is None:
        raise PermanentTaskError(f"mail {email_id} is not in the outbox (expired or unknown)")
    sent = await ledger.once(effect_id, lambda: services.mailer.send(message, message_id=email_id))
    await store.delete(email_id)
    logger.info(
        "email sent" if sent else "email already sent",
        extra={"email_id": email_id, "kind": message.kind},
    )
    return "sent" if sent else "already-sent"


@app.task(base=BaseTask, bind=True, name=SEND_EMAIL_TASK)
def send_email(self: BaseTask, email_id: str) -> str:
    return runtime.run(deliver_pending_email(runtime.services, email_id))


# -- pipeline probe -----------------------------------------------------------------------------


async def run_probe(
    services: WorkerServices,
    probe_id: str,
    batch: str | None,
    hold_seconds: float,
    work_seconds: float,
) -> str:
    """Count the delivery, apply the probe's effect once, then optionally work or hold."""
    prefix = f"{services.settings.redis_key_prefix}:ops:probe:{probe_id}"
    deliveries = f"{prefix}:deliveries"
    await services.redis.incr(deliveries)
    await services.redis.expire(deliveries, 24 * 3600)

    async def effect() -> None:
        # Not idempotent by itself (a new document each time): the ledger makes it happen once.
        await services.database["ops_probes"].insert_one(
            {"probe_id": probe_id, "batch": batch, "at": datetime.now(UTC)}
        )

    await effect_ledger(services).once(f"probe:{probe_id}", effect)
    if work_seconds > 0:
        await asyncio.sleep(work_seconds)
    if hold_seconds > 0:
        await services.redis.set(f"{prefix}:holding", "1", ex=3600)
        release = f"{prefix}:release"
        for _ in range(max(1, round(hold_seconds / 0.05))):
            if await services.redis.exists(release):
                break
            await asyncio.sleep(0.05)
    return "done"


@app.task(base=BaseTask, bind=True, name="ops.probe")
def probe(
    self: BaseTask,
    probe_id: str,
    batch: str | None = None,
    hold_seconds: float = 0.0,
    work_seconds: float = 0.0,
) -> str:
    """End-to-end check of the pipeline (enqueue, worker, Redis, MongoDB, exactly-once effect).

    Operators can send it (`celery -A service.core.celery_task call ops.probe --args
    '["smoke-1"]'`); `hold_seconds` keeps it running until `<prefix>:ops:probe:<id>:release`
    exists, which is how the redelivery test kills a worker in the middle of a task.
    """
    return runtime.run(run_probe(runtime.services, probe_id, batch, hold_seconds, work_seconds))
