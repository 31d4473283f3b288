"""/api/v1/files end to end: real users, real multipart POSTs to moto, real presigned GETs."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest

from service.app.files.adapter.output.storage import S3ObjectStorage
from tests.service.app.files.adapter.input.api.v1.conftest import FilesApi, login_new_user
from tests.service.app.files.conftest import PDF, PNG, fetch, post_form
from tests.service.core.test_pagination import BAD_CURSORS

PROBLEM = "application/problem+json"


async def start(
    api: FilesApi, headers: dict[str, str], data: bytes, content_type: str, name: str = "f.bin"
) -> dict[str, Any]:
    response = await api.http.post(
        "/api/v1/files",
        json={"filename": name, "content_type": content_type, "size": len(data)},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_full_flow_real_upload_complete_process_and_download(
    files_api: FilesApi, storage: S3ObjectStorage
) -> None:
    me = await login_new_user(files_api.http)
    created = await start(files_api, me, PDF, "application/pdf", name="../Report 2026.pdf")
    assert set(created) == {"id", "upload", "expires_at"}
    sent = await post_form(created["upload"]["url"], created["upload"]["fields"], PDF)
    assert sent.status_code == 204

    completed = await files_api.http.post(f"/api/v1/files/{created['id']}/complete", headers=me)
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "available"
    assert await files_api.run_tasks() == [("process", created["id"])]

    detail = (await files_api.http.get(f"/api/v1/files/{created['id']}", headers=me)).json()
    assert detail["filename"] == "Report 2026.pdf"  # path stripped
    assert detail["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert "attachment" in detail["download"]["url"] or "attachment" in httpx.URL(
        detail["download"]["url"]
    ).params.get("response-content-disposition", "")
    disposition = httpx.URL(detail["download"]["url"]).params["response-content-disposition"]
    assert disposition.startswith('attachment; filename="Report 2026.pdf"')
    downloaded = await fetch(detail["download"]["url"])
    assert downloaded.status_code == 200
    assert downloaded.content == PDF

    listed = (await files_api.http.get("/api/v1/files", headers=me)).json()
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    assert listed["next_cursor"] is None


async def test_the_signed_policy_pins_key_type_and_length(files_api: FilesApi) -> None:
    me = await login_new_user(files_api.http)
    created = await start(files_api, me, PNG, "image/png")
    fields = created["upload"]["fields"]
    conditions = json.loads(base64.b64decode(fields["policy"]))["conditions"]
    me_id = (await files_api.http.get("/api/v1/users/me", headers=me)).json()["id"]

    assert {"key": f"uploads/{me_id}/{created['id']}"} in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", len(PNG), len(PNG)] in conditions


@pytest.mark.parametrize(
    ("overrides", "data", "reason"),
    [
        ({}, PNG + b"and some more bytes", "size_mismatch"),
        ({"Content-Type": "text/html"}, PNG, "content_type_mismatch"),
    ],
    ids=["too-many-bytes", "wrong-content-type"],
)
async def test_complete_rejects_what_moto_let_through_and_removes_it(
    files_api: FilesApi,
    storage: S3ObjectStorage,
    overrides: dict[str, str],
    data: bytes,
    reason: str,
) -> None:
    me = await login_new_user(files_api.http)
    created = await start(files_api, me, PNG, "image/png")
    # moto 5.2.5 does not enforce POST policy conditions: the violating upload is accepted.
    sent = await post_form(created["upload"]["url"], created["upload"]["fields"], data, **overrides)
    assert sent.status_code == 204
    key = created["upload"]["fields"]["key"]
    assert await storage.head(key) is not None

    completed = await files_api.http.post(f"/api/v1/files/{created['id']}/complete", headers=me)
    assert completed.status_code == 200
    assert completed.json()["status"] == "rejected"
    assert completed.json()["rejection_reason"] == reason
    assert await storage.head(key) is None


async def test_png_declared_as_pdf_ends_rejected_and_its_object_is_gone(
    files_api: FilesApi, storage: S3ObjectStorage
) -> None:
    me = await login_new_user(files_api.http)
    created = await start(files_api, me, PNG, "application/pdf", name="invoice.pdf")
    await post_form(created["upload"]["url"], created["upload"]["fields"], PNG)
    completed = await files_api.http.post(f"/api/v1/files/{created['id']}/complete", headers=me)
    assert completed.json()["status"] == "available"  # size and declared type match

    await files_api.run_tasks()  # post-processing reads the leading bytes
    detail = (await files_api.http.get(f"/api/v1/files/{created['id']}", headers=me)).json()
    assert detail["status"] == "rejected"
    assert detail["rejection_reason"] == "content_mismatch"
    assert detail["download"] is None
    assert await storage.head(created["upload"]["fields"]["key"]) is None


async def test_another_user_cannot_read_complete_or_delete_it(files_api: FilesApi) -> None:
    alice = await login_new_user(files_api.http)
    mallory = await login_new_user(files_api.http)
    created = await start(files_api, alice, b"hello", "text/plain")
    await post_form(created["upload"]["url"], created["upload"]["fields"], b"hello")
    file_url = f"/api/v1/files/{created['id']}"

    for response in (
        await files_api.http.get(file_url, headers=mallory),
        await files_api.http.post(f"{file_url}/complete", headers=mallory),
        await files_api.http.delete(file_url, headers=mallory),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "file_not_found"
    assert (await files_api.http.get("/api/v1/files", headers=mallory)).json()["items"] == []
    # Untouched for its owner.
    assert (await files_api.http.post(f"{file_url}/complete", headers=alice)).status_code == 200


async def test_delete_is_immediate_and_the_task_removes_the_object(
    files_api: FilesApi, storage: S3ObjectStorage
) -> None:
    me = await login_new_user(files_api.http)
    created = await start(files_api, me, b"hello", "text/plain")
    await post_form(created["upload"]["url"], created["upload"]["fields"], b"hello")
    await files_api.http.post(f"/api/v1/files/{created['id']}/complete", headers=me)
    await files_api.run_tasks()
    key = created["upload"]["fields"]["key"]

    deleted = await files_api.http.delete(f"/api/v1/files/{created['id']}", headers=me)
    assert deleted.status_code == 204
    assert (await files_api.http.get(f"/api/v1/files/{created['id']}", headers=me)).status_code == (
        404
    )
    assert await files_api.run_tasks() == [("remove_object", created["id"])]
    assert await storage.head(key) is None  # HEAD against the S3 endpoint


async def test_rules_and_quota_are_problems_naming_the_rule(files_api: FilesApi) -> None:
    me = await login_new_user(files_api.http)

    async def create(**body: Any) -> httpx.Response:
        payload = {"filename": "a.txt", "content_type": "text/plain", "size": 1, **body}
        return await files_api.http.post("/api/v1/files", json=payload, headers=me)

    bad_type = await create(content_type="application/x-msdownload")
    assert bad_type.status_code == 422
    assert bad_type.headers["content-type"] == PROBLEM
    assert (bad_type.json()["code"], bad_type.json()["rule"]) == (
        "content_type_not_allowed",
        "allowed_content_types",
    )
    too_big = await create(size=10**12)
    assert (too_big.status_code, too_big.json()["code"]) == (422, "file_too_large")
    assert (await create(size=0)).json()["code"] == "validation_error"
    assert (await create(role="admin")).status_code == 422  # unknown fields are refused
    unauthenticated = await files_api.http.get("/api/v1/files")
    assert unauthenticated.status_code == 401


async def test_a_bad_cursor_is_a_400_problem(files_api: FilesApi) -> None:
    """The same answer as GET /api/v1/users gives (it was a 422 here)."""
    me = await login_new_user(files_api.http)
    for cursor in BAD_CURSORS:
        response = await files_api.http.get("/api/v1/files", params={"cursor": cursor}, headers=me)
        assert response.status_code == 400, cursor
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "invalid_cursor"
    document = (await files_api.http.get("/openapi.json")).json()
    for path in ("/api/v1/files", "/api/v1/users"):
        documented = document["paths"][path]["get"]["responses"]["400"]
        assert "invalid_cursor" in documented["description"]
        assert list(documented["content"]) == [PROBLEM]
