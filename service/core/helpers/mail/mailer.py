"""The port that delivers mail (used by the worker's `send_email` task), and its errors.

The API never delivers: it hands mail to an `EmailOutbox`, which enqueues. Delivery errors say
whether trying again later can help, so the task retries transient ones only.
"""

from __future__ import annotations

import logging
from typing import Protocol

from service.core.helpers.mail.message import OutgoingEmail

logger = logging.getLogger(__name__)


class MailDeliveryError(Exception):
    """The mail was not delivered."""


class TransientMailError(MailDeliveryError):
    """The server was unreachable, or answered 4xx: try again later."""


class PermanentMailError(MailDeliveryError):
    """The server refused for good (5xx, bad credentials, certificate): never retried."""


class Mailer(Protocol):
    async def send(self, message: OutgoingEmail, *, message_id: str) -> None:
        """Deliver `message`; `message_id` is stable across retries of the same mail."""
        ...


class LoggingMailer:
    """Local stand-in: logs that a mail was delivered (recipient and kind, never the body)."""

    async def send(self, message: OutgoingEmail, *, message_id: str) -> None:
        logger.info(
            "email delivered (logging mailer)",
            extra={"to": message.to, "kind": message.kind, "message_id": message_id},
        )
