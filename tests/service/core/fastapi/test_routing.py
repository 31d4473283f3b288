"""`mount_routes` gives the app the same API as `include_router`, as one flat route list."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request, WebSocket, status
from fastapi.routing import APIRoute
from pydantic import BaseModel

from service.core.fastapi.routing import mount_routes


class Item(BaseModel):
    id: int
    name: str


async def tenant(x_tenant: Annotated[str, Header()] = "public") -> str:
    return x_tenant


def module_router() -> APIRouter:
    """A router using the options the service's modules use."""
    router = APIRouter(prefix="/items", tags=["items"], responses={404: {"description": "gone"}})

    @router.get("/{item_id}", response_model=Item, summary="One item")
    async def read(item_id: int, who: Annotated[str, Depends(tenant)]) -> dict[str, Any]:
        return {"id": item_id, "name": who}

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        response_model=Item,
        responses={409: {"description": "taken"}},
        openapi_extra={"security": [{"HTTPBearer": []}]},
        deprecated=True,
    )
    async def create(item: Item) -> Item:
        return item

    @router.get("/hidden/route", include_in_schema=False)
    async def hidden(request: Request) -> dict[str, str]:
        return {"path": request.scope["route"].path}

    return router


def included() -> FastAPI:
    app = FastAPI()
    app.include_router(module_router(), prefix="/api/v1")
    return app


def mounted() -> FastAPI:
    app = FastAPI()
    mount_routes(app, module_router(), "/api/v1")
    return app


def test_the_openapi_document_is_the_one_include_router_gives() -> None:
    assert mounted().openapi() == included().openapi()


def test_routes_are_the_apps_own_with_the_full_path() -> None:
    paths = {r.path for r in mounted().router.routes if isinstance(r, APIRoute)}
    assert {"/api/v1/items/{item_id}", "/api/v1/items", "/api/v1/items/hidden/route"} <= paths


@pytest.mark.parametrize("build", [included, mounted], ids=["included", "mounted"])
async def test_requests_behave_the_same(build: Any) -> None:
    transport = httpx.ASGITransport(app=build())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        read = await http.get("/api/v1/items/7", headers={"X-Tenant": "acme"})
        assert (read.status_code, read.json()) == (200, {"id": 7, "name": "acme"})
        created = await http.post("/api/v1/items", json={"id": 1, "name": "a"})
        assert created.status_code == 201
        invalid = await http.post("/api/v1/items", json={"id": "x"})
        assert invalid.status_code == 422
        assert (await http.get("/api/v1/items/not-a-number")).status_code == 422
        assert (await http.get("/api/v1/nothing")).status_code == 404


async def test_the_route_template_is_the_full_path_for_the_access_log() -> None:
    transport = httpx.ASGITransport(app=mounted())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        answer = await http.get("/api/v1/items/hidden/route")
    assert answer.json() == {"path": "/api/v1/items/hidden/route"}


def test_a_route_that_is_not_an_api_route_is_refused() -> None:
    router = APIRouter()

    async def echo(websocket: WebSocket) -> None:
        await websocket.close()

    router.add_websocket_route("/ws", echo)
    with pytest.raises(TypeError, match="only API routes"):
        mount_routes(FastAPI(), router)
