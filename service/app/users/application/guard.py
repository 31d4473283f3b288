"""What stands between a client and a password check: rate limits and the account lock-out.

The lock-out counts an attempt and decides in one atomic Redis step *before* the password is
verified: of N concurrent attempts on one account at most `max_failures` reach the hasher, and
none past the limit can succeed. A right password gives its own attempt back, and a refused one
is never kept, so the count is of failures and attempts in flight: at most `max_failures` wrong
passwords per window, however many times the owner signs in meanwhile (a success does not hand
an attacker a fresh budget), and a burst of the owner's own sign-ins is refused only while it
is in flight. A completed reset, which proves the mailbox, clears it.
Sign-in (`POST /auth/login`) and re-authentication (`current_password` on `PATCH /users/me`)
share the one per-account count.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from service.app.users.domain.errors import LoginLockedError
from service.app.users.domain.ports import AuthStateStore
from service.core.ratelimit import RateLimiter


def account_key(email_normalized: str) -> str:
    # Lock-out counters are keyed by a digest: no email addresses in Redis key names.
    return hashlib.sha256(email_normalized.encode()).hexdigest()[:32]


@dataclass
class PasswordAttempt:
    """One admitted password attempt; `wrong()` once its password was verified and refused."""

    found_wrong: bool = False

    def wrong(self) -> None:
        self.found_wrong = True


class AttemptGuard:
    def __init__(
        self,
        *,
        auth_state: AuthStateStore,
        limiter: RateLimiter,
        max_failures: int,
        lockout_seconds: int,
    ) -> None:
        self._state = auth_state
        self._limiter = limiter
        self._max_failures = max_failures
        self._lockout = lockout_seconds

    async def limit(self, action: str, *, account: str | None, address: str | None) -> None:
        """The rate limits of `action` ("login", "register", ...): per client address, then
        per account; raises RateLimitedError (429) past either."""
        # In turn, the address first: a request its address may not make takes nothing from the
        # account's budget (one address cannot use up someone else's account limit).
        if address:
            await self._limiter.hit(f"{action}.address", address)
        if account:
            await self._limiter.hit(f"{action}.account", account)

    async def admit_password_attempt(self, email_normalized: str) -> None:
        """Count one password attempt on the account; LoginLockedError past the limit."""
        admitted, retry_after = await self._state.admit_login_attempt(
            account_key(email_normalized), limit=self._max_failures, window_seconds=self._lockout
        )
        if not admitted:
            raise LoginLockedError(
                "Too many failed sign-ins; try again later", retry_after=retry_after
            )

    @asynccontextmanager
    async def verifying(self, email_normalized: str) -> AsyncIterator[PasswordAttempt]:
        """The admitted attempt's verification. Unless it found the password wrong
        (`attempt.wrong()`), the attempt is given back when the block ends: a right password,
        or a verification cut short before any verdict (the database or the hasher failing, the
        request cancelled), so only wrong passwords accumulate toward the lock-out."""
        attempt = PasswordAttempt()
        try:
            yield attempt
        finally:
            if not attempt.found_wrong:
                # Shielded: a cancelled request (a cancel scope cancels every later await, the
                # give-back's too) would otherwise keep the attempt counted.
                with anyio.CancelScope(shield=True):
                    await self._state.refund_login_attempt(account_key(email_normalized))

    async def recovered(self, email_normalized: str) -> None:
        """A completed password reset: the count starts over."""
        await self._state.clear_login_failures(account_key(email_normalized))
