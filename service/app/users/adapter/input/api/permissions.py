"""The users module's permissions, built from core's."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from service.app.users.domain.errors import UserNotFoundError
from service.core.exceptions import AppError
from service.core.fastapi.dependencies import IsAdmin, IsSelf, Principal, RequirePermissions


def _user_not_found() -> AppError:
    return UserNotFoundError("User not found")


# A stranger's record answers 404 exactly as a missing one does (`user_not_found`): the
# answer does not confirm the account exists.
SelfOrAdmin = Annotated[
    Principal,
    Depends(RequirePermissions(IsSelf("user_id", not_found=_user_not_found) | IsAdmin())),
]
