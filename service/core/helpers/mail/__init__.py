from service.core.helpers.mail.message import OutgoingEmail
from service.core.helpers.mail.outbox import EmailOutbox, LoggingEmailOutbox

__all__ = ["EmailOutbox", "LoggingEmailOutbox", "OutgoingEmail"]
