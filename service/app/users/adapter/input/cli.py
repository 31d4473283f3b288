"""`python service/main.py create-admin --email ...`: create or promote an administrator.

The password is read from a prompt (getpass) or, when stdin is not a terminal, from its first
line; never from the command line, where it would land in shell history and `ps`.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from typing import TextIO

from service.app.container import build_container
from service.app.users.application.dto import UserDTO
from service.app.users.container import UsersContainer
from service.app.users.domain.user import normalize_email
from service.core.config import Settings
from service.core.schema import migrate


def read_password(stdin: TextIO | None = None) -> str:
    stream = stdin or sys.stdin
    if stream.isatty():
        first = getpass.getpass("Password for the new admin: ")
        if getpass.getpass("Repeat it: ") != first:
            raise ValueError("the passwords differ")
        return first
    return stream.readline().rstrip("\r\n")


async def create_admin(
    settings: Settings,
    *,
    email: str,
    full_name: str,
    password: Callable[[], str] = read_password,
) -> tuple[UserDTO, bool]:
    """(the admin, whether it was created); `password` is asked only to create an account."""
    container = build_container(settings)
    await migrate(settings, container.modules)  # the indexes it relies on (a fresh database)
    await container.start()
    try:
        users = await container.resolve(UsersContainer.user_service)
        repository = await container.resolve(UsersContainer.repository)
        exists = await repository.get_by_email(normalize_email(email))
        return await users.ensure_admin(
            email=email, full_name=full_name, password=None if exists else password()
        )
    finally:
        await container.stop()
