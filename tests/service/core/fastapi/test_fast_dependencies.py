"""Request-only dependencies (container providers, the bearer principal) are called by the
route itself: each once per request, with the documented security and parameters unchanged."""

from __future__ import annotations

from typing import Annotated

import httpx
from dependency_injector import containers, providers
from fastapi import APIRouter, Depends, FastAPI, Query

from service.core.auth.principal import Principal
from service.core.composition import ServiceContainer
from service.core.config import Settings
from service.core.exceptions import UnauthorizedError
from service.core.fastapi.dependencies import CurrentPrincipal, Inject, RequireAdmin
from service.core.fastapi.exception_handlers import register_exception_handlers
from service.core.fastapi.fast_dependencies import fast_dependant
from service.core.fastapi.routing import ServiceRoute, mount_routes
from service.core.module import Module


class CountingAuthenticator:
    def __init__(self) -> None:
        self.calls = 0

    async def authenticate(self, token: str) -> Principal:
        self.calls += 1
        if token != "root":
            raise UnauthorizedError("unknown token", code="invalid_token")
        return Principal(id="root", email="root@example.com", is_admin=True)


class Greeter:
    def greet(self, name: str) -> str:
        return f"hello {name}"


class DemoContainer(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    authenticator = providers.Singleton(CountingAuthenticator)
    greeter = providers.Singleton(Greeter)


Greeting = Annotated[Greeter, Inject(DemoContainer.greeter)]
router = APIRouter()


@router.get("/hello")
async def hello(
    principal: CurrentPrincipal, greeter: Greeting, name: str = Query()
) -> dict[str, str]:
    return {"text": greeter.greet(name), "by": principal.id}


@router.get("/admin")
async def admin(_: RequireAdmin, principal: CurrentPrincipal, greeter: Greeting) -> dict[str, str]:
    return {"text": greeter.greet(principal.id)}


async def decorate(greeter: Greeting) -> str:
    return greeter.greet("decorated")


@router.get("/slow")
async def slow(
    decorated: Annotated[str, Depends(decorate)], greeter: Greeting, principal: CurrentPrincipal
) -> dict[str, str]:
    return {"text": decorated, "also": greeter.greet(principal.id)}


def build() -> tuple[FastAPI, CountingAuthenticator]:
    demo = Module(
        name="demo", container=DemoContainer, exports={"authenticator": DemoContainer.authenticator}
    )
    container = ServiceContainer(Settings(), [demo])
    app = FastAPI()
    app.state.container = container
    register_exception_handlers(app)
    mount_routes(app, router)
    return app, container.provided(DemoContainer.authenticator)


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_request_only_dependencies_are_resolved_once_each() -> None:
    app, authenticator = build()
    async with client(app) as http:
        response = await http.get("/hello?name=ann", headers={"Authorization": "Bearer root"})
        assert response.json() == {"text": "hello ann", "by": "root"}
        assert authenticator.calls == 1
        # The principal is also RequireAdmin's: the request's principal is resolved once.
        response = await http.get("/admin", headers={"Authorization": "Bearer root"})
        assert response.json() == {"text": "hello root"}
        assert authenticator.calls == 2
        # A dependency the solver keeps (it has one of its own) gets the same greeter.
        response = await http.get("/slow", headers={"Authorization": "Bearer root"})
        assert response.json() == {"text": "hello decorated", "also": "hello root"}
        assert authenticator.calls == 3


async def test_errors_and_validation_are_the_solvers_answers() -> None:
    app, _ = build()
    async with client(app) as http:
        anonymous = await http.get("/hello?name=ann")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        missing = await http.get("/hello", headers={"Authorization": "Bearer root"})
        assert missing.status_code == 422


def test_only_the_endpoints_own_request_only_dependencies_are_taken() -> None:
    app, _ = build()
    routes = {r.path: r for r in app.routes if isinstance(r, ServiceRoute)}
    hello_fast = fast_dependant(routes["/hello"].dependant)
    assert hello_fast is not None
    assert hello_fast.dependencies == []  # principal and greeter: called by the route
    admin_fast = fast_dependant(routes["/admin"].dependant)
    assert admin_fast is not None
    # The permission is request-only as well (it authenticates through the same principal).
    assert admin_fast.dependencies == []
    slow_fast = fast_dependant(routes["/slow"].dependant)
    assert slow_fast is not None
    # A dependency with a sub-dependency stays with FastAPI's solver, and so does the greeter
    # it depends on; the principal, the endpoint's alone, is taken.
    assert [d.name for d in slow_fast.dependencies] == ["decorated", "greeter"]


def test_openapi_still_documents_the_security_and_parameters() -> None:
    app, _ = build()
    operation = app.openapi()["paths"]["/hello"]["get"]
    assert operation["security"] == [{"HTTPBearer": []}]
    assert [p["name"] for p in operation["parameters"]] == ["name"]
