"""CurrentPrincipal and the permission classes on an app of their own, with an Authenticator
exported by a module the way the users module exports its own (core never imports the app)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from dependency_injector import containers, providers
from fastapi import Depends, FastAPI

from service.core.composition import ServiceContainer
from service.core.config import Settings
from service.core.exceptions import AppError, NotFoundError, UnauthorizedError
from service.core.fastapi.dependencies import (
    Authenticator,
    CurrentPrincipal,
    IsAdmin,
    IsSelf,
    Principal,
    RequireAdmin,
    RequirePermissions,
)
from service.core.fastapi.exception_handlers import register_exception_handlers
from service.core.module import Module

PEOPLE = {
    "alice-token": Principal(id="alice", email="alice@example.com"),
    "root-token": Principal(id="root", email="root@example.com", is_admin=True),
}


def gone() -> AppError:
    return NotFoundError("No such thing", code="thing_not_found")


SelfOrAdmin = Annotated[Principal, Depends(RequirePermissions(IsSelf("user_id") | IsAdmin()))]
SelfOnly = Annotated[Principal, Depends(RequirePermissions(IsSelf("thing_id", not_found=gone)))]


AdminAndSelf = Annotated[Principal, Depends(RequirePermissions(IsAdmin() & IsSelf("user_id")))]


class TableAuthenticator:
    """Tokens from a table: the contract under test is the dependency, not token crypto."""

    async def authenticate(self, token: str) -> Principal:
        if token not in PEOPLE:
            raise UnauthorizedError("unknown token", code="invalid_token")
        return PEOPLE[token]


class PeopleContainer(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    authenticator = providers.Singleton(TableAuthenticator)


def build() -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app)
    assert isinstance(TableAuthenticator(), Authenticator)
    people = Module(
        name="people",
        container=PeopleContainer,
        exports={"authenticator": PeopleContainer.authenticator},
    )
    app.state.container = ServiceContainer(Settings(), [people])

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"id": principal.id}

    @app.get("/admin")
    async def admin(principal: RequireAdmin) -> dict[str, str]:
        return {"id": principal.id}

    @app.get("/users/{user_id}")
    async def user(user_id: str, principal: SelfOrAdmin) -> dict[str, str]:
        return {"id": user_id}

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str, _: SelfOnly) -> dict[str, str]:
        return {"id": thing_id}

    @app.get("/strict/{user_id}")
    async def strict(user_id: str, _: AdminAndSelf) -> dict[str, str]:
        return {"id": user_id}

    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_current_principal(http: httpx.AsyncClient) -> None:
    assert (await http.get("/me", headers=auth("alice-token"))).json() == {"id": "alice"}
    missing = await http.get("/me")
    assert missing.status_code == 401
    assert missing.json()["code"] == "not_authenticated"
    basic = await http.get("/me", headers={"Authorization": "Basic YTpi"})
    assert basic.json()["code"] == "not_authenticated"
    unknown = await http.get("/me", headers=auth("nope"))
    assert unknown.json()["code"] == "invalid_token"


async def test_require_admin(http: httpx.AsyncClient) -> None:
    assert (await http.get("/admin", headers=auth("root-token"))).status_code == 200
    denied = await http.get("/admin", headers=auth("alice-token"))
    assert denied.status_code == 403
    assert denied.json()["code"] == "admin_required"


async def test_self_or_admin_hides_strangers_behind_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/users/alice", headers=auth("alice-token"))).status_code == 200
    assert (await http.get("/users/alice", headers=auth("root-token"))).status_code == 200
    stranger = await http.get("/users/bob", headers=auth("alice-token"))
    assert stranger.status_code == 404
    assert stranger.json()["code"] == "not_found"  # core's own code, no module's


async def test_is_self_denies_with_the_modules_not_found_error(http: httpx.AsyncClient) -> None:
    assert (await http.get("/things/alice", headers=auth("alice-token"))).status_code == 200
    stranger = await http.get("/things/bob", headers=auth("alice-token"))
    assert stranger.status_code == 404
    assert stranger.json()["code"] == "thing_not_found"


async def test_permissions_compose_with_and(http: httpx.AsyncClient) -> None:
    assert (await http.get("/strict/root", headers=auth("root-token"))).status_code == 200
    assert (await http.get("/strict/alice", headers=auth("root-token"))).status_code == 403
    assert (await http.get("/strict/alice", headers=auth("alice-token"))).status_code == 403
