"""Amazon SES adapter of the `Mailer` port (the SES v2 API, `SendEmail` with simple content).

boto3 is synchronous: the call runs in a worker thread (`asyncio.to_thread`), as S3 calls do.
Every mail goes through the configuration set, so SES reports its bounces, complaints and
rejects to the deployment's event topic and applies the set's suppression list.
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from service.core.config import Settings
from service.core.helpers.mail.mailer import PermanentMailError, TransientMailError
from service.core.helpers.mail.message import OutgoingEmail

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

# SES answers these when trying again later can help (rate or quota, its own failures).
_TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "LimitExceededException",
        "InternalFailure",
        "InternalServiceError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
# Tag values may hold only ASCII letters, digits, "_" and "-" (SES's rule).
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _tag(name: str, value: str) -> dict[str, str]:
    return {"Name": name, "Value": _TAG_UNSAFE.sub("_", value)[:256] or "none"}


def build_ses_client(settings: Settings) -> SESV2Client:
    config = Config(
        # None: boto3's own lookup (AWS_REGION, which ECS sets in every task).
        region_name=settings.mail_ses_region,
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=15,
    )
    return boto3.client("sesv2", endpoint_url=settings.mail_ses_endpoint_url, config=config)


class SesMailer:
    """Delivers through Amazon SES; the worker's task retries what `TransientMailError` marks.

    The client is made at the first send: every process builds the container's mailer, only
    the worker sends (a boto3 client costs an API process about 3 MB it would never use).
    """

    def __init__(
        self,
        client_factory: Callable[[], SESV2Client],
        *,
        sender: str,
        configuration_set: str | None = None,
    ) -> None:
        self._client_factory = client_factory
        self._client: SESV2Client | None = None
        self._client_lock = threading.Lock()
        self._sender = sender
        self._configuration_set = configuration_set

    @classmethod
    def from_settings(cls, settings: Settings) -> SesMailer:
        return cls(
            functools.partial(build_ses_client, settings),
            sender=settings.mail_from,
            configuration_set=settings.mail_ses_configuration_set,
        )

    def client(self) -> SESV2Client:
        if self._client is None:
            with self._client_lock:  # sends run in worker threads
                if self._client is None:
                    self._client = self._client_factory()
        return self._client

    async def send(self, message: OutgoingEmail, *, message_id: str) -> None:
        await asyncio.to_thread(self._send, self._request(message, message_id))

    def _request(self, message: OutgoingEmail, message_id: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": message.text, "Charset": "UTF-8"}},
                }
            },
            # Tags come back in bounce and complaint events: which mail, and why it was sent.
            "EmailTags": [_tag("kind", message.kind), _tag("message_id", message_id)],
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        return request

    def _send(self, request: dict[str, Any]) -> None:
        try:
            self.client().send_email(**request)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            # MessageRejected (e.g. an unverified address in the SES sandbox), a paused or
            # suspended account, an unknown configuration set, a refused From: never retried.
            transient = code in _TRANSIENT_CODES or status >= 500
            kind = TransientMailError if transient else PermanentMailError
            raise kind(f"SES refused: {code or status}") from error
        except (NoCredentialsError, NoRegionError) as error:
            raise PermanentMailError(f"SES not configured: {type(error).__name__}") from error
        except BotoCoreError as error:
            # Connection refused or reset, timeouts, a failed endpoint lookup.
            raise TransientMailError(f"SES unavailable: {type(error).__name__}") from error
