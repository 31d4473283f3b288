"""The SES adapter against moto's server of the local stack: a verified domain identity, a
configuration set, and which failures are transient or permanent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config

from service.core.config import Settings
from service.core.helpers.mail import OutgoingEmail, PermanentMailError, TransientMailError
from service.core.helpers.mail.backends import build_mailer
from service.core.helpers.mail.ses import SesMailer
from tests.service.core.celery_task.processes import free_port
from tests.service.core.helpers.mail.moto_ses import SesIdentity, ensure_credentials


@pytest.fixture(scope="module", autouse=True)
def _credentials() -> None:
    ensure_credentials()


@pytest.fixture(scope="module")
def identity(stack_env: dict[str, str], run_id: str) -> SesIdentity:
    return SesIdentity.create(stack_env["S3_ENDPOINT_URL"], f"run-{run_id}")


def ses_settings(settings: Settings, identity: SesIdentity, **overrides: Any) -> Settings:
    return settings.model_copy(update={**identity.settings(), **overrides})


async def test_a_mail_is_sent_through_ses_from_the_configured_sender(
    settings: Settings, identity: SesIdentity, run_id: str
) -> None:
    mailer = build_mailer(ses_settings(settings, identity))
    assert isinstance(mailer, SesMailer)
    to = f"ada-{run_id}@example.com"
    mail = OutgoingEmail(
        to=to, subject="Confirm your address", text="token: abc123\n", kind="verify_email"
    )
    await mailer.send(mail, message_id=f"m-{run_id}")

    (message,) = identity.sent_to(to)
    assert message["source"] == identity.sender
    assert message["subject"] == "Confirm your address"
    assert message["body"] == "token: abc123\n"


async def test_a_sender_outside_the_verified_identity_is_permanent(
    settings: Settings, identity: SesIdentity
) -> None:
    # What SES answers in its sandbox, or for an unverified identity: MessageRejected.
    mailer = build_mailer(
        ses_settings(settings, identity, mail_from="x <no-reply@unverified.test>")
    )
    with pytest.raises(PermanentMailError, match="MessageRejected"):
        await mailer.send(OutgoingEmail(to="a@example.com", subject="s", text="t"), message_id="m")


async def test_an_unreachable_endpoint_is_transient(
    settings: Settings, identity: SesIdentity
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    mailer = build_mailer(ses_settings(settings, identity, mail_ses_endpoint_url=unreachable))
    with pytest.raises(TransientMailError, match="unavailable"):
        await mailer.send(OutgoingEmail(to="a@example.com", subject="s", text="t"), message_id="m")


class _Refusing(BaseHTTPRequestHandler):
    """An HTTP endpoint answering every SES call with one fixed error (moto never throttles)."""

    status = 429
    code = "TooManyRequestsException"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"message": "refused"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", self.code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def refusing_endpoint(status: int, code: str) -> Iterator[str]:
    handler = type("Handler", (_Refusing,), {"status": status, "code": code})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, "TooManyRequestsException", TransientMailError),
        (503, "ServiceUnavailable", TransientMailError),
        (500, "InternalFailure", TransientMailError),
        (400, "MessageRejected", PermanentMailError),
        (400, "SendingPausedException", PermanentMailError),
        (404, "NotFoundException", PermanentMailError),
    ],
)
async def test_which_ses_errors_are_retried(
    status: int, code: str, expected: type[Exception]
) -> None:
    with refusing_endpoint(status, code) as url:
        client = boto3.client(
            "sesv2",
            endpoint_url=url,
            region_name="ap-southeast-1",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )
        mailer = SesMailer(
            lambda: client, sender="biwoco <no-reply@biwoco.test>", configuration_set="s"
        )
        with pytest.raises(expected, match=code):
            await mailer.send(
                OutgoingEmail(to="a@example.com", subject="s", text="t"), message_id="m"
            )
