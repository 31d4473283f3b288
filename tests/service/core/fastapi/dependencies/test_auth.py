"""Routes of a module of its own, served by the service's app factory (`create_app`) and
authenticated by an `Authenticator` the module declares, as the users module does.

Plain FastAPI semantics, for every route shape: one error precedence, one authentication per
request, WebSocket routes and mounts in a module's router.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from dependency_injector import containers, providers
from fastapi import APIRouter, Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from starlette.routing import Mount

from service.app.server import create_app
from service.core.composition import ServiceContainer
from service.core.config import Settings
from service.core.exceptions import NotFoundError, UnauthorizedError
from service.core.fastapi.dependencies import (
    CurrentPrincipal,
    Inject,
    Principal,
    RequireAdmin,
)
from service.core.module import Module

PEOPLE = {
    "alice-token": Principal(id="alice", email="alice@example.com"),
    "root-token": Principal(id="root", email="root@example.com", is_admin=True),
}


class TableAuthenticator:
    """Tokens from a table: the contract under test is the dependency, not token crypto."""

    def __init__(self) -> None:
        self.calls = 0

    async def authenticate(self, token: str) -> Principal:
        self.calls += 1
        if token not in PEOPLE:
            raise UnauthorizedError("unknown token", code="invalid_token")
        return PEOPLE[token]


class PeopleContainer(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    authenticator = providers.Singleton(TableAuthenticator)


class Note(BaseModel):
    text: str = Field(min_length=3)


async def self_or_admin(person_id: str, principal: CurrentPrincipal) -> Principal:
    """A module's permission: a plain dependency on the principal and the path parameter."""
    if principal.id != person_id and not principal.is_admin:
        raise NotFoundError("No such person", code="person_not_found")
    return principal


SelfOrAdmin = Annotated[Principal, Depends(self_or_admin)]


async def audited(principal: CurrentPrincipal) -> str:
    return principal.id


router = APIRouter(prefix="/people", tags=["people"])


@router.post("/async-notes")
async def async_note(note: Note, principal: CurrentPrincipal) -> dict[str, str]:
    return {"by": principal.id, "text": note.text}


@router.post("/sync-notes")
def sync_note(note: Note, principal: CurrentPrincipal) -> dict[str, str]:
    return {"by": principal.id, "text": note.text}


@router.post("/twice")
async def twice(
    note: Note,
    principal: CurrentPrincipal,
    who: Annotated[str, Depends(audited)],
    authenticator: Annotated[TableAuthenticator, Inject(PeopleContainer.authenticator)],
) -> dict[str, object]:
    return {"by": principal.id, "who": who, "calls": authenticator.calls}


@router.get("/admin")
async def admin(principal: RequireAdmin) -> dict[str, str]:
    return {"id": principal.id}


@router.get("/{person_id}")
async def person(person_id: str, _: SelfOrAdmin) -> dict[str, str]:
    return {"id": person_id}


@router.websocket("/ws")
async def echo(websocket: WebSocket, principal: CurrentPrincipal) -> None:
    await websocket.accept()
    await websocket.send_json({"by": principal.id, "said": await websocket.receive_text()})
    await websocket.close()


def _mounted() -> FastAPI:
    sub = FastAPI()

    @sub.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return sub


people = Module(
    name="people",
    container=PeopleContainer,
    routers=(router,),
    mounts=(Mount("/people/mounted", app=_mounted()),),
    authenticator=PeopleContainer.authenticator,
)


def build() -> FastAPI:
    settings = Settings()
    return create_app(settings, ServiceContainer(settings, [people]))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


P = "/api/v1/people"


@pytest.mark.parametrize("route", ["async-notes", "sync-notes", "twice"])
async def test_one_error_precedence_for_every_route_shape(
    http: httpx.AsyncClient, route: str
) -> None:
    """Documented in docs/layout.md: an undecodable body is 422 first; then the dependencies
    in order (authentication: 401); then the parameters and the body (422)."""
    anonymous_invalid = await http.post(f"{P}/{route}", json={"text": "x"})
    assert anonymous_invalid.status_code == 401, anonymous_invalid.text
    assert anonymous_invalid.json()["code"] == "not_authenticated"
    undecodable = await http.post(
        f"{P}/{route}", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert undecodable.status_code == 422
    signed_in_invalid = await http.post(
        f"{P}/{route}", json={"text": "x"}, headers=auth("alice-token")
    )
    assert signed_in_invalid.status_code == 422
    assert signed_in_invalid.json()["code"] == "validation_error"
    ok = await http.post(f"{P}/{route}", json={"text": "hello"}, headers=auth("alice-token"))
    assert ok.status_code == 200, ok.text
    assert ok.json()["by"] == "alice"


async def test_a_request_authenticates_once_however_many_dependencies_ask(
    http: httpx.AsyncClient,
) -> None:
    first = await http.post(f"{P}/twice", json={"text": "hello"}, headers=auth("alice-token"))
    second = await http.post(f"{P}/twice", json={"text": "hello"}, headers=auth("alice-token"))
    assert first.json()["who"] == "alice"
    assert second.json()["calls"] == first.json()["calls"] + 1


async def test_current_principal(http: httpx.AsyncClient) -> None:
    assert (await http.get(f"{P}/alice", headers=auth("alice-token"))).json() == {"id": "alice"}
    for headers in ({}, {"Authorization": "Basic YTpi"}, {"Authorization": "Bearer "}):
        missing = await http.get(f"{P}/alice", headers=headers)
        assert missing.status_code == 401
        assert missing.json()["code"] == "not_authenticated"
    too_long = await http.get(f"{P}/alice", headers=auth("x" * 9000))
    assert too_long.json()["code"] == "not_authenticated"
    unknown = await http.get(f"{P}/alice", headers=auth("nope"))
    assert unknown.json()["code"] == "invalid_token"


async def test_require_admin(http: httpx.AsyncClient) -> None:
    assert (await http.get(f"{P}/admin", headers=auth("root-token"))).status_code == 200
    denied = await http.get(f"{P}/admin", headers=auth("alice-token"))
    assert denied.status_code == 403
    assert denied.json()["code"] == "admin_required"


async def test_a_permission_takes_its_path_parameter_as_a_parameter(
    http: httpx.AsyncClient,
) -> None:
    assert (await http.get(f"{P}/alice", headers=auth("root-token"))).status_code == 200
    stranger = await http.get(f"{P}/bob", headers=auth("alice-token"))
    assert stranger.status_code == 404
    assert stranger.json()["code"] == "person_not_found"


async def test_the_security_scheme_is_documented(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert document["paths"][f"{P}/admin"]["get"]["security"] == [{"HTTPBearer": []}]


def test_a_module_carries_websocket_routes_and_mounts() -> None:
    client = TestClient(build())
    with client.websocket_connect(f"{P}/ws", headers=auth("alice-token")) as socket:
        socket.send_text("hi")
        assert socket.receive_json() == {"by": "alice", "said": "hi"}
    assert client.get(f"{P}/mounted/ping").json() == {"pong": "yes"}
