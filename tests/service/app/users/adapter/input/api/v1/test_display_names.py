"""Finding 7 of issue 22: display names with control or bidi characters are refused (422
problem+json naming the field), at registration and on PATCH /users/me; and files' names too."""

from __future__ import annotations

import httpx
import pytest

from tests.service.app.users.conftest import API, PASSWORD, Account, new_email

HOSTILE = ["Eve\x00", "Eve\u202egnp.exe", "\x1b[31mEve\x1b[0m", "Eve\r\nX-Admin: yes", "Eve\x9b"]


def assert_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.text


@pytest.mark.parametrize("name", HOSTILE)
async def test_registration_refuses_hostile_names(client: httpx.AsyncClient, name: str) -> None:
    email = new_email()
    answer = await client.post(
        f"{API}/auth/register", json={"email": email, "password": PASSWORD, "full_name": name}
    )
    assert_refused(answer, "full_name")
    # Nothing was created: the address is still free.
    again = await client.post(
        f"{API}/auth/register", json={"email": email, "password": PASSWORD, "full_name": "Eve"}
    )
    assert again.status_code == 201, again.text


@pytest.mark.parametrize("name", HOSTILE)
async def test_profile_update_refuses_hostile_names(
    client: httpx.AsyncClient, account: Account, name: str
) -> None:
    answer = await client.patch(
        f"{API}/users/me", json={"full_name": name}, headers={**account.headers, "If-Match": "*"}
    )
    assert_refused(answer, "full_name")


async def test_names_are_stored_normalised(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        f"{API}/auth/register",
        json={"email": new_email(), "password": PASSWORD, "full_name": "  Rene\u0301e  "},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["full_name"] == "Ren\u00e9e"
