"""Provision the service's own database user: `python -m service.core.db.app_user`.

Run by the deployment (infra/db_users.py: a one-off ECS task of the service image, before the
services start) with the cluster's admin credentials as MONGODB_USERNAME / MONGODB_PASSWORD and
the service user's, from its own secret, as APP_DB_USERNAME / APP_DB_PASSWORD. It creates that
user with `readWrite` on MONGODB_DB only (nothing on any other database, no user or cluster
administration), or, if it exists, resets its password and roles to exactly those. Idempotent:
every deploy runs it again.

Secrets Manager's multi-user rotation later clones this user (`<name>_clone`, same roles) and
alternates between the two; after a rotation the secret names whichever is current, and this
command provisions that one.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from bson import SON
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.errors import PyMongoError

from service.core.config import Settings
from service.core.db.database import MongoClient, build_mongo_client
from service.core.logging import configure_logging

logger = logging.getLogger(__name__)


class AppUserSettings(BaseSettings):
    """The connection (admin credentials) and the user to provision. Only these: the task has
    none of the service's other secrets, so the service's start-up checks do not apply."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    mongodb_url: str
    mongodb_db: str
    mongodb_username: str
    mongodb_password: SecretStr
    mongodb_tls_ca_file: str | None = None
    log_level: str = "INFO"
    app_db_username: str
    app_db_password: SecretStr

    def connection_settings(self) -> Settings:
        """The service's Settings for the connection alone (build_mongo_client's input)."""
        return Settings.model_construct(
            mongodb_url=self.mongodb_url,
            mongodb_db=self.mongodb_db,
            mongodb_username=self.mongodb_username,
            mongodb_password=self.mongodb_password,
            mongodb_tls_ca_file=self.mongodb_tls_ca_file,
        )


def app_user_roles(database: str) -> list[dict[str, str]]:
    return [{"role": "readWrite", "db": database}]


def user_command(verb: str, username: str, password: str, database: str) -> SON[str, Any]:
    """The `createUser` or `updateUser` command that gives `username` exactly its roles."""
    return SON([(verb, username), ("pwd", password), ("roles", app_user_roles(database))])


async def provision(client: MongoClient, database: str, username: str, password: str) -> str:
    """Create `username` (or reset it) with readWrite on `database` only; "created"/"updated"."""
    admin = client["admin"]
    existing = await admin.command("usersInfo", username)
    verb = "updateUser" if existing.get("users") else "createUser"
    await admin.command(user_command(verb, username, password, database))
    return "updated" if verb == "updateUser" else "created"


async def main() -> int:
    user = AppUserSettings()  # type: ignore[call-arg]
    configure_logging(user.log_level)
    settings = user.connection_settings()
    if user.app_db_username == settings.mongodb_username:
        logger.error("APP_DB_USERNAME is the admin user; refusing to change its roles")
        return 2
    client = build_mongo_client(settings)
    try:
        outcome = await provision(
            client,
            settings.mongodb_db,
            user.app_db_username,
            user.app_db_password.get_secret_value(),
        )
    except PyMongoError as error:
        logger.error(
            "could not provision the database user",
            extra={"user": user.app_db_username, "error": str(error)},
        )
        return 1
    finally:
        await client.close()
    logger.info(
        "database user provisioned",
        extra={"user": user.app_db_username, "database": settings.mongodb_db, "outcome": outcome},
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
