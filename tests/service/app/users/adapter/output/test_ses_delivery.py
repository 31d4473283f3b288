"""As deployed: registering enqueues the verification mail, a real worker with MAIL_BACKEND=ses
sends it through SES (moto's server), and the token in the mail SES accepted verifies the
account. Before SES, the deployed worker only logged the mail and the account was never
verifiable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.core.config import Settings
from tests.service.app.users.conftest import API, new_email, register
from tests.service.core.celery_task.processes import async_wait_for, celery_env, celery_worker
from tests.service.core.helpers.mail.moto_ses import SesIdentity

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def identity(stack_env: dict[str, str], run_id: str) -> SesIdentity:
    return SesIdentity.create(stack_env["S3_ENDPOINT_URL"], f"delivery-{run_id}")


@pytest.fixture(scope="module")
def worker(
    settings: Settings, identity: SesIdentity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """A worker on the API's own settings (same Redis prefix and database), mailing via SES."""
    env = celery_env(settings, **identity.settings())
    log: Path = tmp_path_factory.mktemp("ses_delivery") / "worker.log"
    with celery_worker(env, log):
        yield


async def test_the_verification_mail_goes_out_through_ses_and_its_token_verifies(
    client: httpx.AsyncClient, identity: SesIdentity, worker: None
) -> None:
    email = new_email("ses")
    user = await register(client, email)
    assert user["is_verified"] is False

    [mail] = await async_wait_for(
        lambda: identity.sent_to(email), within=60, what="the verification mail in SES"
    )
    assert mail["source"] == identity.sender
    assert mail["subject"] == "Confirm your email address"
    match = re.search(r"^token: (\S+)\r?$", str(mail["body"]), re.MULTILINE)
    assert match, mail["body"]

    response = await client.post(f"{API}/auth/verify-email", json={"token": match.group(1)})
    assert response.status_code == 200, response.text
    assert response.json()["is_verified"] is True
