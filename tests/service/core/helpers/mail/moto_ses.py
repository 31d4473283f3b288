"""SES on moto's server of the local stack (one endpoint serves every AWS API): a verified
domain identity with its configuration set, the settings that send through them, and what moto
recorded as sent (`/moto-api/data.json`)."""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "ap-southeast-1"


def ensure_credentials() -> None:
    # moto accepts any credentials; boto3 only needs some to sign with.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")


@dataclass(frozen=True)
class SesIdentity:
    endpoint: str
    domain: str
    configuration_set: str

    @classmethod
    def create(cls, endpoint: str, name: str) -> SesIdentity:
        """A domain identity `<name>.biwoco.test` and the configuration set `mail-<name>`."""
        ensure_credentials()
        identity = cls(endpoint, f"{name}.biwoco.test", f"mail-{name}")
        client = boto3.client("sesv2", endpoint_url=endpoint, region_name=REGION)
        client.create_email_identity(EmailIdentity=identity.domain)
        client.create_configuration_set(ConfigurationSetName=identity.configuration_set)
        return identity

    @property
    def sender(self) -> str:
        return f"biwoco <no-reply@{self.domain}>"

    def settings(self) -> dict[str, str]:
        """The mail settings that send through this identity (as the deployed tasks have)."""
        return {
            "mail_backend": "ses",
            "mail_from": self.sender,
            "mail_ses_configuration_set": self.configuration_set,
            "mail_ses_region": REGION,
            "mail_ses_endpoint_url": self.endpoint,
        }

    def sent_to(self, address: str) -> list[dict[str, Any]]:
        """The messages moto's SES accepted for `address`."""
        url = f"{self.endpoint}/moto-api/data.json"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            data: dict[str, Any] = json.load(response)
        messages: list[dict[str, Any]] = data.get("ses", {}).get("Message", [])
        return [m for m in messages if address in m["destinations"].get("ToAddresses", [])]
