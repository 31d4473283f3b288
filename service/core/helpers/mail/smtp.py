"""SMTP adapter of the `Mailer` port: host, port, STARTTLS or implicit TLS, credentials."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from service.core.config import Settings
from service.core.helpers.mail.mailer import PermanentMailError, TransientMailError
from service.core.helpers.mail.message import OutgoingEmail


class SmtpMailer:
    """Delivers through an SMTP server; smtplib runs in a thread so the event loop stays free."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        starttls: bool = True,
        implicit_tls: bool = False,
        ca_file: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._starttls = starttls
        self._implicit_tls = implicit_tls
        self._ca_file = ca_file
        self._username = username
        self._password = password
        self._timeout = timeout_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.mail_from,
            starttls=settings.smtp_starttls,
            implicit_tls=settings.smtp_ssl,
            ca_file=settings.smtp_ca_file,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            timeout_seconds=settings.smtp_timeout_seconds,
        )

    async def send(self, message: OutgoingEmail, *, message_id: str) -> None:
        await asyncio.to_thread(self._send, self._compose(message, message_id))

    def _compose(self, message: OutgoingEmail, message_id: str) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        # Stable across retries: a receiving system can drop a duplicate by its Message-ID.
        domain = self._sender.rpartition("@")[2].strip(" >") or "localhost"
        mail["Message-ID"] = f"<{message_id}@{domain}>"
        mail.set_content(message.text)
        return mail

    def _tls_context(self) -> ssl.SSLContext:
        # Certificate and host name are always verified.
        return ssl.create_default_context(cafile=self._ca_file)

    def _send(self, mail: EmailMessage) -> None:
        try:
            smtp: smtplib.SMTP
            if self._implicit_tls:
                smtp = smtplib.SMTP_SSL(
                    self._host, self._port, timeout=self._timeout, context=self._tls_context()
                )
            else:
                smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            with smtp:
                if self._starttls and not self._implicit_tls:
                    smtp.starttls(context=self._tls_context())
                if self._username is not None:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(mail)
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError) as error:
            raise PermanentMailError(f"SMTP refused: {type(error).__name__}") from error
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            transient = all(400 <= code < 500 for code in codes)
            kind = TransientMailError if transient else PermanentMailError
            raise kind(f"SMTP refused the recipient ({codes})") from error
        except smtplib.SMTPResponseException as error:
            kind = TransientMailError if 400 <= error.smtp_code < 500 else PermanentMailError
            raise kind(f"SMTP answered {error.smtp_code}") from error
        except ssl.SSLCertVerificationError as error:
            raise PermanentMailError("SMTP server certificate not trusted") from error
        except (smtplib.SMTPException, OSError) as error:
            # Disconnects, connection refused, timeouts, TLS handshake hiccups.
            raise TransientMailError(f"SMTP unavailable: {type(error).__name__}") from error
