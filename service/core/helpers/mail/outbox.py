"""Where application code hands over mail. The API never sends inline: an outbox enqueues."""

from __future__ import annotations

import logging
from typing import Protocol

from service.core.helpers.mail.message import OutgoingEmail

logger = logging.getLogger(__name__)


class EmailOutbox(Protocol):
    async def enqueue(self, message: OutgoingEmail) -> None: ...


class LoggingEmailOutbox:
    """Local stand-in: logs that a mail would be sent (recipient and kind, never the body)."""

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []

    async def enqueue(self, message: OutgoingEmail) -> None:
        self.sent.append(message)
        logger.info("email queued (logging outbox)", extra={"to": message.to, "kind": message.kind})
