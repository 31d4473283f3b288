"""An app whose file tasks are recorded (no worker here), with real users who log in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from service.app.files.application.processing import FileProcessing
from service.app.files.container import FilesContainer
from service.core.composition import ServiceContainer
from tests.service.app.files.conftest import QueuedTasks


@dataclass
class FilesApi:
    http: httpx.AsyncClient
    tasks: QueuedTasks
    processing: FileProcessing

    async def run_tasks(self) -> list[tuple[str, str]]:
        return await self.tasks.run_all(self.processing)


@pytest.fixture(scope="module")
async def files_api(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[FilesApi]:
    """The session app with its file tasks recorded instead of published (tests override
    providers, never patch modules; what is built on them is rebuilt around the override)."""
    container: ServiceContainer = app.state.container
    tasks = QueuedTasks()
    with container.override(FilesContainer.tasks, tasks):
        processing = await container.resolve(FilesContainer.processing)
        yield FilesApi(http=client, tasks=tasks, processing=processing)


async def login_new_user(http: httpx.AsyncClient) -> dict[str, str]:
    """Register and log in a fresh user; the Authorization header for them."""
    email = f"files-{uuid.uuid4().hex[:10]}@example.com"
    password = "correct horse battery staple"
    registered = await http.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "full_name": "File Owner"},
    )
    assert registered.status_code == 201, registered.text
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}
