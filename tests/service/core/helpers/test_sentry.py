"""An unhandled error reaches Sentry, captured by a transport of the test's own."""

from __future__ import annotations

from typing import Any

import httpx
import sentry_sdk
from pydantic import SecretStr
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from service.core.config import Settings
from service.core.helpers.sentry import init_sentry
from tests.service.core.fastapi.conftest import build_probe_app


class CapturingTransport(Transport):
    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type == "event" and item.payload.json is not None:
                self.events.append(item.payload.json)


def test_no_dsn_means_no_sentry(settings: Settings) -> None:
    assert init_sentry(settings) is False


async def test_an_unhandled_error_reaches_sentry_without_pii(settings: Settings) -> None:
    transport = CapturingTransport()
    configured = settings.model_copy(
        update={
            "sentry_dsn": SecretStr("https://public@sentry.invalid/1"),
            "release": "biwoco@test",
        }
    )
    assert init_sentry(configured, transport=transport)
    try:
        app = build_probe_app()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
        ) as http:
            response = await http.get(
                "/boom", headers={"Authorization": "Bearer secret-token", "Cookie": "s=1"}
            )
        assert response.status_code == 500
        sentry_sdk.flush()
        errors = [e for e in transport.events if e.get("exception")]
        assert len(errors) == 1
        event = errors[0]
        assert event["exception"]["values"][-1]["type"] == "RuntimeError"
        assert event["environment"] == "test"
        assert event["release"] == "biwoco@test"
        headers = str(event.get("request", {}).get("headers", {}))
        assert "secret-token" not in headers
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()
