"""The users module's permissions: plain dependencies on core's `CurrentPrincipal`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from service.app.users.domain.errors import UserNotFoundError
from service.core.fastapi.dependencies import CurrentPrincipal, Principal


async def self_or_admin(user_id: str, principal: CurrentPrincipal) -> Principal:
    """The account `user_id` itself, or an administrator. A stranger's record answers 404
    exactly as a missing one does (`user_not_found`): the answer does not confirm it exists."""
    if principal.id != user_id and not principal.is_admin:
        raise UserNotFoundError("User not found")
    return principal


SelfOrAdmin = Annotated[Principal, Depends(self_or_admin)]
