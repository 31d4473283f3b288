"""The SES adapter against moto's server of the local stack (one endpoint serves every AWS API):
a verified domain identity, a configuration set, and which failures are transient or permanent.

moto records what SES was asked to send; its `/moto-api/data.json` lists the messages.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
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

REGION = "ap-southeast-1"


@pytest.fixture(scope="module", autouse=True)
def _credentials() -> None:
    # moto accepts any credentials; boto3 only needs some to sign with.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")


@pytest.fixture(scope="module")
def endpoint(stack_env: dict[str, str]) -> str:
    return stack_env["S3_ENDPOINT_URL"]


@pytest.fixture(scope="module")
def domain(endpoint: str, run_id: str) -> str:
    """A domain identity of this run, and its configuration set, created through SES v2."""
    name = f"run-{run_id}.biwoco.test"
    client = boto3.client("sesv2", endpoint_url=endpoint, region_name=REGION)
    client.create_email_identity(EmailIdentity=name)
    client.create_configuration_set(ConfigurationSetName=f"mail-{run_id}")
    return name


def ses_settings(
    settings: Settings, endpoint: str, domain: str, run_id: str, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "mail_backend": "ses",
        "mail_from": f"biwoco <no-reply@{domain}>",
        "mail_ses_configuration_set": f"mail-{run_id}",
        "mail_ses_region": REGION,
        "mail_ses_endpoint_url": endpoint,
        **overrides,
    }
    return settings.model_copy(update=values)


def sent_messages(endpoint: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as response:  # noqa: S310
        data: dict[str, Any] = json.load(response)
    messages: list[dict[str, Any]] = data.get("ses", {}).get("Message", [])
    return messages


async def test_a_mail_is_sent_through_ses_from_the_configured_sender(
    settings: Settings, endpoint: str, domain: str, run_id: str
) -> None:
    mailer = build_mailer(ses_settings(settings, endpoint, domain, run_id))
    assert isinstance(mailer, SesMailer)
    to = f"ada-{run_id}@example.com"
    mail = OutgoingEmail(
        to=to, subject="Confirm your address", text="token: abc123\n", kind="verify_email"
    )
    await mailer.send(mail, message_id=f"m-{run_id}")

    (message,) = [m for m in sent_messages(endpoint) if to in m["destinations"]["ToAddresses"]]
    assert message["source"] == f"biwoco <no-reply@{domain}>"
    assert message["subject"] == "Confirm your address"
    assert message["body"] == "token: abc123\n"


async def test_a_sender_outside_the_verified_identity_is_permanent(
    settings: Settings, endpoint: str, domain: str, run_id: str
) -> None:
    # What SES answers in its sandbox, or for an unverified identity: MessageRejected.
    mailer = build_mailer(
        ses_settings(settings, endpoint, domain, run_id, mail_from="x <no-reply@unverified.test>")
    )
    with pytest.raises(PermanentMailError, match="MessageRejected"):
        await mailer.send(OutgoingEmail(to="a@example.com", subject="s", text="t"), message_id="m")


async def test_an_unreachable_endpoint_is_transient(
    settings: Settings, endpoint: str, domain: str, run_id: str
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    mailer = build_mailer(
        ses_settings(settings, endpoint, domain, run_id, mail_ses_endpoint_url=unreachable)
    )
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
            region_name=REGION,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )
        mailer = SesMailer(
            lambda: client, sender="biwoco <no-reply@biwoco.test>", configuration_set="s"
        )
        with pytest.raises(expected, match=code):
            await mailer.send(
                OutgoingEmail(to="a@example.com", subject="s", text="t"), message_id="m"
            )
