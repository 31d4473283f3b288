"""The Celery app's configuration: queues, routing, reliability settings, TLS, retry policy."""

from __future__ import annotations

import random
import smtplib
import ssl
from datetime import timedelta

import pytest
import redis.exceptions
from celery.exceptions import QueueNotFound
from dependency_injector import containers
from pydantic import SecretStr, ValidationError
from pymongo.errors import AutoReconnect, DuplicateKeyError

from service.app.modules import MODULES
from service.app.worker import build_worker_app
from service.core.celery_task import CORE_QUEUES, create_celery_app
from service.core.celery_task.errors import (
    PermanentTaskError,
    TransientTaskError,
    backoff_seconds,
    is_transient,
)
from service.core.config import Settings
from service.core.db.redis.redis_client import build_redis_client
from service.core.helpers.mail import PermanentMailError, TransientMailError
from service.core.module import BeatEntry, Module
from service.core.worker import CORE_TASK_MODULES
from tests.service.core.celery_task.conftest import queue_of


def test_explicit_queues_and_routing_by_task_name(settings: Settings) -> None:
    app = create_celery_app(settings, MODULES)
    # (A subset: a module added to the list brings its own queues.)
    assert {"default", "email", "files"} <= {queue.name for queue in app.conf.task_queues}
    assert queue_of(settings, "mail.send_email") == "email"
    assert queue_of(settings, "files.process") == "files"
    assert queue_of(settings, "users.delete_unverified_accounts") == "default"
    assert queue_of(settings, "ops.probe") == "default"


class _Empty(containers.DeclarativeContainer):
    pass


def test_queues_routes_includes_and_beat_come_from_the_module_declarations(
    settings: Settings,
) -> None:
    orders = Module(
        name="orders",
        container=_Empty,
        task_modules=("orders_tasks",),
        queues=("orders", "orders_bulk"),
        beat=(BeatEntry(name="orders.sweep", task="orders.sweep", every=lambda _: 42.0),),
    )
    app = create_celery_app(settings, [orders], core_task_modules=CORE_TASK_MODULES)
    assert [q.name for q in app.conf.task_queues] == [*CORE_QUEUES, "orders", "orders_bulk"]
    route = app.amqp.router.route({}, "orders.recount")
    assert route["queue"].name == "orders"
    assert app.amqp.router.route({}, "mail.send_email")["queue"].name == "email"
    assert app.amqp.router.route({}, "other.thing")["queue"].name == "default"
    assert app.conf.beat_schedule == {
        "orders.sweep": {"task": "orders.sweep", "schedule": timedelta(seconds=42)}
    }
    assert app.conf.include == [*CORE_TASK_MODULES, "orders_tasks"]
    # Core alone: its own queues and tasks, nothing of any module.
    bare = create_celery_app(settings)
    assert [q.name for q in bare.conf.task_queues] == list(CORE_QUEUES)
    assert bare.conf.include == []  # an app that only sends imports no task module
    assert bare.conf.beat_schedule == {}


def test_settings_without_a_modules_fields_are_refused(settings: Settings) -> None:
    with pytest.raises(TypeError, match="lacks the settings of module"):
        create_celery_app(Settings(), MODULES)


def test_a_missing_queue_is_not_created(settings: Settings) -> None:
    app = create_celery_app(settings)
    assert app.conf.task_create_missing_queues is False
    with pytest.raises(QueueNotFound):
        app.amqp.router.route({"queue": "nope"}, "ops.probe")


def test_reliability_settings(settings: Settings) -> None:
    conf = create_celery_app(settings).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit < conf.task_time_limit
    transport = conf.broker_transport_options
    assert transport["visibility_timeout"] > conf.task_time_limit
    # Every broker and result key lives under this deployment's (or test run's) prefix.
    assert transport["global_keyprefix"] == f"{settings.redis_key_prefix}:celery:"
    assert conf.result_backend_transport_options["global_keyprefix"] == (
        f"{settings.redis_key_prefix}:celery:"
    )
    assert conf.accept_content == ["json"]


def test_visibility_timeout_must_exceed_the_longest_task(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="CELERY_VISIBILITY_TIMEOUT_SECONDS"):
        Settings(
            **{
                **settings.model_dump(),
                "celery_task_time_limit_seconds": 300,
                "celery_retry_backoff_max_seconds": 600,
                "celery_visibility_timeout_seconds": 600,
            }
        )


def test_rediss_verifies_certificates_and_passes_the_password(settings: Settings) -> None:
    tls = settings.model_copy(
        update={
            "redis_url": "rediss://cache.example.internal:6379/0",
            "redis_password": SecretStr("p@ss/word"),
            "redis_ca_file": "/etc/ssl/certs/ca.pem",
        }
    )
    conf = create_celery_app(tls).conf
    expected = {
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
        "ssl_check_hostname": True,
        "ssl_ca_certs": "/etc/ssl/certs/ca.pem",
    }
    assert conf.broker_use_ssl == expected
    assert conf.redis_backend_use_ssl == expected
    # What every redis-py client of the service gets for the same Redis.
    pool = build_redis_client(tls).connection_pool.connection_kwargs
    assert {k: pool[k] for k in expected} == expected
    assert pool["password"] == "p@ss/word"
    assert conf.broker_url == "rediss://:p%40ss%2Fword@cache.example.internal:6379/0"
    assert conf.result_backend == "rediss://:p%40ss%2Fword@cache.example.internal:6379/0"


def test_plain_redis_has_no_tls_options(settings: Settings) -> None:
    conf = create_celery_app(settings).conf
    assert not conf.broker_use_ssl
    assert not conf.redis_backend_use_ssl


def test_the_schedule_lives_in_code_with_intervals_from_settings(settings: Settings) -> None:
    custom = settings.model_copy(
        update={
            "celery_queue_depth_interval_seconds": 30.0,
            "unverified_account_cleanup_interval_seconds": 600.0,
            "celery_beat_schedule_file": "/var/run/beat/schedule",
        }
    )
    conf = create_celery_app(custom, MODULES).conf
    schedule = conf.beat_schedule
    # The backlog metric is no task: a task would wait behind the backlog it measures.
    assert not any(entry["task"].startswith("ops.") for entry in schedule.values())
    assert schedule["users.delete-unverified-accounts"]["schedule"] == timedelta(seconds=600)
    assert conf.beat_schedule_filename == "/var/run/beat/schedule"
    assert conf.beat_scheduler == "service.core.celery_task.beat:SingleBeatScheduler"
    # Beat renews its lock more often than the lock expires.
    assert conf.beat_max_loop_interval < custom.celery_beat_lock_ttl_seconds


def test_the_worker_includes_cores_and_every_modules_task_modules(settings: Settings) -> None:
    include = build_worker_app(settings).conf.include
    assert "service.core.worker.tasks" in include
    assert "service.app.users.adapter.input.tasks" in include
    assert "service.app.files.adapter.input.tasks" in include


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TransientTaskError("later"), True),
        (TransientMailError("451"), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (redis.exceptions.ConnectionError(), True),
        (AutoReconnect("primary stepped down"), True),
        (PermanentTaskError("gone"), False),
        (PermanentMailError("550"), False),
        # An authentication failure is a redis ConnectionError, yet never retried.
        (redis.exceptions.AuthenticationError(), False),
        (DuplicateKeyError("dup"), False),
        (ValueError("bad"), False),
        (KeyError("missing"), False),
        (smtplib.SMTPException("unclassified"), False),
        (RuntimeError("unknown"), False),
    ],
)
def test_only_transient_errors_are_retried(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for retries in range(10):
        delay = min(60.0, 2.0 * 2**retries)
        samples = {backoff_seconds(retries, base=2.0, cap=60.0, rng=rng) for _ in range(20)}
        assert all(delay / 2 <= value <= delay for value in samples)
        assert len(samples) > 1  # jittered
