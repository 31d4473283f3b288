"""How every Redis client of the service connects: its password and TLS, decided in one place.

redis-py clients take both as keyword arguments (`client_options`). Celery's broker and result
store take the password in their URL (`url_with_password`) and `tls` as `broker_use_ssl` /
`redis_backend_use_ssl`, which kombu and Celery hand to the same redis-py connection class.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import SecretStr

from service.core.config import RedisRole, Settings


@dataclass(frozen=True, slots=True)
class RedisConnection:
    url: str
    password: str | None
    # redis-py's `ssl_*` keyword arguments for a `rediss://` URL; None for plain `redis://`.
    tls: dict[str, Any] | None

    @classmethod
    def of(cls, url: str, password: SecretStr | None, ca_file: str | None) -> RedisConnection:
        tls: dict[str, Any] | None = None
        if url.startswith("rediss://"):
            # ElastiCache in-transit encryption: verify the certificate and the host name.
            tls = {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_check_hostname": True}
            if ca_file:
                tls["ssl_ca_certs"] = ca_file
        return cls(url, password.get_secret_value() if password else None, tls)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of `redis.Redis.from_url(self.url, ...)`."""
        return {"password": self.password, **(self.tls or {})}

    def url_with_password(self) -> str:
        """The URL with the password in it (percent-encoded), unless the URL has its own."""
        parts = urlsplit(self.url)
        if self.password is None or parts.password:
            return self.url
        secret = quote(self.password, safe="")
        user = quote(parts.username, safe="") if parts.username else ""
        netloc = f"{user}:{secret}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))


def redis_connection(settings: Settings, role: RedisRole = "state") -> RedisConnection:
    """The connection to the Redis for `role` (settings.redis_endpoint)."""
    url, password = settings.redis_endpoint(role)
    return RedisConnection.of(url, password, settings.redis_ca_file)
