"""Which task errors are retried (transient) and which never are (permanent).

A task is retried only when its error is transient and not on the never-retried list; any other
error fails the task at once, and the failure is recorded (result store, failed-task list, log,
Sentry).
"""

from __future__ import annotations

import random

import redis.exceptions
from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from pymongo.errors import AutoReconnect, DuplicateKeyError, OperationFailure

from service.core.helpers.mail.mailer import PermanentMailError, TransientMailError


class TransientTaskError(Exception):
    """Raise to ask for a retry with backoff (the outage should pass)."""


class PermanentTaskError(Exception):
    """Raise to fail at once: retrying cannot help (bad or missing data)."""


# Outages that pass: network errors, timeouts, a replica set electing a primary, 4xx from SMTP.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientTaskError,
    TransientMailError,
    ConnectionError,
    TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    AutoReconnect,  # includes NetworkTimeout, NotPrimaryError, ServerSelectionTimeoutError
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
)

# Never retried, even when they also look transient (AuthenticationError is a ConnectionError).
NEVER_RETRIED: tuple[type[BaseException], ...] = (
    PermanentTaskError,
    PermanentMailError,
    SoftTimeLimitExceeded,
    TimeLimitExceeded,
    redis.exceptions.AuthenticationError,
    redis.exceptions.AuthorizationError,
    redis.exceptions.ResponseError,
    DuplicateKeyError,
    OperationFailure,
    ValueError,  # includes pydantic's ValidationError and certificate verification errors
    TypeError,
    LookupError,
    AttributeError,
    NotImplementedError,
)


def is_transient(error: BaseException) -> bool:
    if isinstance(error, NEVER_RETRIED):
        return False
    return isinstance(error, TRANSIENT_ERRORS)


def backoff_seconds(
    retries: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with jitter: uniform in [d/2, d], d = min(cap, base * 2**retries)."""
    delay = min(cap, base * (2**retries))
    return (rng or random).uniform(delay / 2, delay)
