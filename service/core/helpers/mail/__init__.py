from service.core.helpers.mail.mailer import (
    LoggingMailer,
    MailDeliveryError,
    Mailer,
    PermanentMailError,
    TransientMailError,
)
from service.core.helpers.mail.message import OutgoingEmail
from service.core.helpers.mail.outbox import EmailOutbox, LoggingEmailOutbox

__all__ = [
    "EmailOutbox",
    "LoggingEmailOutbox",
    "LoggingMailer",
    "MailDeliveryError",
    "Mailer",
    "OutgoingEmail",
    "PermanentMailError",
    "TransientMailError",
]
