"""The token lifecycle as a whole: a stateful property test (hypothesis' rule-based state
machine) over register, verify, login, refresh, logout, logout-all, forgot, reset, change
password and an admin's disable/enable, against the real app, Redis and database.

The machine keeps a model of one account (its password, credential epoch, verification, the
lock-out count) and of every token it was given; each rule predicts the answer from the model
and checks it. The invariants:
- a token issued before a credential change never works after it (reset, verification,
  access and refresh tokens);
- every one-time token works at most once;
- a reused refresh token ends its family (the current token of the family dies with it);
- at most `login_max_failures` password attempts are admitted per window, sign-in and
  re-authentication together.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from dependency_injector import providers
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from service.app.users.container import UsersContainer
from service.core.config import Settings
from service.core.helpers.mail import LoggingEmailOutbox
from tests.conftest import _drop_test_data, make_test_settings, private_app
from tests.service.app.users.conftest import API, PASSWORD, bearer, new_email, run_recovery_requests

T = TypeVar("T")
MAX_FAILURES = 5
PASSWORDS = st.sampled_from(["first new password", "second new password", "third one, longer"])
PICK = st.integers(min_value=0, max_value=1_000)


@dataclass
class OneTime:
    token: str
    epoch: int
    used: bool = False


@dataclass
class Family:
    access: str
    refresh: str
    epoch: int
    old_refresh: list[str] = field(default_factory=list)
    alive: bool = True


class Harness:
    """The app of this test on a loop of its own (the machine's rules are synchronous)."""

    def __init__(self, test_settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.settings = test_settings
        self.stack = AsyncExitStack()
        self.app, self.client = self.run(self.stack.enter_async_context(private_app(test_settings)))
        container = self.app.state.container
        self.outbox = LoggingEmailOutbox()
        container.provider(UsersContainer.email_outbox).override(providers.Object(self.outbox))
        container.provider(UsersContainer.auth_service).reset()
        users = self.run(container.resolve(UsersContainer.user_service))
        admin_email = new_email("admin")
        self.run(users.ensure_admin(email=admin_email, password=PASSWORD))
        answer = self.run(
            self.client.post(f"{API}/auth/login", json={"email": admin_email, "password": PASSWORD})
        )
        self.admin = bearer(answer.json()["access_token"])

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        try:
            self.run(_drop_test_data(self.app, self.settings))
            self.run(self.stack.aclose())
        finally:
            self.loop.close()

    def mailed(self, to: str, kind: str) -> str | None:
        before = len(self.outbox.sent)
        self.run(run_recovery_requests(self.app))
        for message in self.outbox.sent[before:]:
            if message.to == to and message.kind == kind:
                return message.text.split("token: ", 1)[1].split()[0]
        return None


def lifecycle_machine(h: Harness) -> type[RuleBasedStateMachine]:
    class TokenLifecycle(RuleBasedStateMachine):
        @initialize()
        def register(self) -> None:
            self.email = new_email("machine")
            self.password = PASSWORD
            self.epoch = 0
            self.active = True
            self.verified = False
            self.attempts = 0
            self.families: list[Family] = []
            self.resets: list[OneTime] = []
            self.verifications: list[OneTime] = []
            answer = self.post(
                "/auth/register",
                {"email": self.email, "password": PASSWORD, "full_name": "Machine"},
            )
            assert answer.status_code == 201, answer.text
            self.user_id = answer.json()["id"]
            token = h.mailed(self.email, "verify_email")
            assert token is not None
            self.verifications.append(OneTime(token, self.epoch))

        # -- helpers -----------------------------------------------------------------------

        def post(self, path: str, body: object, **kwargs: Any) -> httpx.Response:
            return h.run(h.client.post(f"{API}{path}", json=body, **kwargs))

        def credential_change(self) -> None:
            self.epoch += 1
            for family in self.families:
                family.alive = False  # every session of the account ends

        def password_attempt(self, right: bool) -> str:
            """The lock-out's verdict on one attempt: 'locked', 'ok' or 'wrong'."""
            self.attempts += 1
            if self.attempts > MAX_FAILURES:
                return "locked"
            if right:
                self.attempts -= 1  # a right password gives its own attempt back
                return "ok"
            return "wrong"

        def live(self) -> list[Family]:
            return [family for family in self.families if family.alive]

        # -- rules ---------------------------------------------------------------------------

        @rule(right=st.booleans())
        def login(self, right: bool) -> None:
            password = self.password if right else "a wrong password"
            answer = self.post("/auth/login", {"email": self.email, "password": password})
            verdict = self.password_attempt(right)
            if verdict == "locked":
                assert answer.status_code == 429, answer.text
            elif verdict == "wrong":
                assert answer.status_code == 401, answer.text
            elif not self.active:
                assert answer.status_code == 403, answer.text
            else:
                assert answer.status_code == 200, answer.text
                tokens = answer.json()
                self.families.append(
                    Family(tokens["access_token"], tokens["refresh_token"], self.epoch)
                )

        @precondition(lambda self: self.families)
        @rule(pick=PICK, reuse=st.booleans())
        def refresh(self, pick: int, reuse: bool) -> None:
            family = self.families[pick % len(self.families)]
            presented = (
                family.old_refresh[pick % len(family.old_refresh)]
                if reuse and family.old_refresh
                else family.refresh
            )
            answer = self.post("/auth/refresh", {"refresh_token": presented})
            if family.alive and self.active and presented == family.refresh:
                assert answer.status_code == 200, answer.text
                family.old_refresh.append(family.refresh)
                family.refresh = answer.json()["refresh_token"]
                family.access = answer.json()["access_token"]
            else:
                assert answer.status_code == 401, answer.text
                if family.alive and presented != family.refresh:
                    assert answer.json()["code"] == "refresh_token_reused"
                family.alive = False  # reuse (or revocation) ends the family

        @precondition(lambda self: self.families)
        @rule(pick=PICK)
        def logout(self, pick: int) -> None:
            family = self.families[pick % len(self.families)]
            answer = self.post("/auth/logout", None, headers=bearer(family.access))
            assert answer.status_code == (204 if family.alive else 401), answer.text
            family.alive = False

        @precondition(lambda self: any(f.alive for f in self.families))
        @rule(pick=PICK)
        def logout_all(self, pick: int) -> None:
            family = self.live()[pick % len(self.live())]
            answer = self.post("/auth/logout-all", None, headers=bearer(family.access))
            assert answer.status_code == 204, answer.text
            for other in self.families:
                other.alive = False  # every session of the account, not a credential change

        @rule()
        def forgot(self) -> None:
            answer = self.post("/auth/password/forgot", {"email": self.email})
            assert answer.status_code == 202
            token = h.mailed(self.email, "password_reset")
            assert (token is not None) == self.active
            if token is not None:
                self.resets.append(OneTime(token, self.epoch))

        @precondition(lambda self: self.resets)
        @rule(pick=PICK, password=PASSWORDS)
        def reset(self, pick: int, password: str) -> None:
            token = self.resets[pick % len(self.resets)]
            answer = self.post(
                "/auth/password/reset", {"token": token.token, "new_password": password}
            )
            works = not token.used and token.epoch == self.epoch and self.active
            assert answer.status_code == (204 if works else 400), answer.text
            if works:
                token.used = True
                self.password = password
                self.attempts = 0
                self.credential_change()

        @precondition(lambda self: any(f.alive for f in self.families))
        @rule(pick=PICK)
        def resend_verification(self, pick: int) -> None:
            family = self.live()[pick % len(self.live())]
            answer = self.post("/auth/verify-email/request", None, headers=bearer(family.access))
            assert answer.status_code == (409 if self.verified else 202), answer.text
            if not self.verified:
                token = h.mailed(self.email, "verify_email")
                assert token is not None
                self.verifications.append(OneTime(token, self.epoch))

        @precondition(lambda self: self.verifications)
        @rule(pick=PICK)
        def verify(self, pick: int) -> None:
            token = self.verifications[pick % len(self.verifications)]
            answer = self.post("/auth/verify-email", {"token": token.token})
            works = (
                not token.used and token.epoch == self.epoch and self.active and not self.verified
            )
            assert answer.status_code == (200 if works else 400), answer.text
            token.used = True  # taken either way
            if works:
                self.verified = True

        @precondition(lambda self: any(f.alive for f in self.families))
        @rule(pick=PICK, right=st.booleans(), password=PASSWORDS)
        def change_password(self, pick: int, right: bool, password: str) -> None:
            family = self.live()[pick % len(self.live())]
            answer = h.run(
                h.client.patch(
                    f"{API}/users/me",
                    json={
                        "current_password": self.password if right else "a wrong password",
                        "new_password": password,
                    },
                    headers={**bearer(family.access), "If-Match": "*"},
                )
            )
            verdict = self.password_attempt(right)
            expected = {"locked": 429, "wrong": 401, "ok": 200}[verdict]
            assert answer.status_code == expected, answer.text
            if verdict == "ok":
                self.password = password
                self.credential_change()

        @rule(active=st.booleans())
        def admin_sets_active(self, active: bool) -> None:
            answer = h.run(
                h.client.patch(
                    f"{API}/users/{self.user_id}", json={"is_active": active}, headers=h.admin
                )
            )
            assert answer.status_code == 200, answer.text
            self.active = active
            self.credential_change()

    return TokenLifecycle


def test_token_lifecycle(stack_env: dict[str, str], run_id: str) -> None:
    test_settings = make_test_settings(
        stack_env,
        run_id,
        mongodb_db=f"test_{run_id}_machine",
        redis_key_prefix=f"test:{run_id}:machine:{uuid.uuid4().hex[:6]}",
        password_hash_time_cost=1,
        password_hash_memory_kib=8 * 1024,
        login_max_failures=MAX_FAILURES,
    )
    harness = Harness(test_settings)
    try:
        run_state_machine_as_test(
            lifecycle_machine(harness),
            settings=settings(
                max_examples=25,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        harness.close()


__all__ = ["FastAPI"]
