"""The mailer a process delivers through, chosen by MAIL_BACKEND."""

from __future__ import annotations

from service.core.config import Settings
from service.core.helpers.mail.mailer import LoggingMailer, Mailer
from service.core.helpers.mail.ses import SesMailer
from service.core.helpers.mail.smtp import SmtpMailer


def build_mailer(settings: Settings) -> Mailer:
    if settings.mail_backend == "ses":
        return SesMailer.from_settings(settings)
    if settings.mail_backend == "smtp":
        return SmtpMailer.from_settings(settings)
    return LoggingMailer()
