"""The local stack: real Redis, a MongoDB wire-protocol server and moto (S3) on loopback.

CLI (from the repository root)::

    python -m scripts.stack up       # start what is missing, print `export` lines
    python -m scripts.stack status   # what runs, where, with which pid
    python -m scripts.stack env      # print `export` lines (eval "$(python -m scripts.stack env)")
    python -m scripts.stack down     # stop what `up` started (add --wipe to delete the data too)

Each part is skipped when its URL is given in the environment (``REDIS_URL``,
``MONGODB_URL``, ``S3_ENDPOINT_URL``). Data, logs and pid files live in the git-ignored
``.stack/`` folder of the checkout. The database is mongo-java-server (Java; its jars fetched
by Maven and its launcher compiled once into ``$XDG_CACHE_HOME/biwoco``, default
``~/.cache/biwoco``, outside the checkout), on its H2 backend: one file in ``.stack/``, kept
across restarts. docs/data-model.md says why this server and what it does not do.

The package is also a Python API for tests that need their own throwaway instances
(``start_redis``, ``start_mongo_server``, ``start_moto`` return a :class:`ManagedProcess` that
can be stopped, killed and restarted on the same port with the same data); what it offers is
named below. Its modules, one concern each:

- ``settings``: the folder, ports (``STACK_PORT_OFFSET``), bucket and stand-in credentials;
- ``messages``: notes and readable failures (:class:`StackError`);
- ``processes``: free ports, pids, :class:`ManagedProcess`;
- ``probes``: a protocol answer from each server;
- ``programs``: redis-server, Java and mongo-java-server found, installed or built;
- ``servers``: each server started; ``buckets``: the local bucket and its CORS rules;
- ``shared_stack``: the checkout's stack in ``.stack/`` (``up``, ``down``, ``status``);
- ``__main__``: the CLI.

Standard library only.
"""

from scripts.stack.buckets import apply_uploads_cors, create_bucket, local_web_origins
from scripts.stack.messages import StackError, tail
from scripts.stack.probes import probe_mongodb, probe_redis, probe_s3
from scripts.stack.processes import ManagedProcess, free_port, port_in_use
from scripts.stack.programs import mongo_server_command, redis_server_binary
from scripts.stack.servers import MongoTls, start_mongo_server, start_moto, start_redis
from scripts.stack.settings import (
    DEFAULT_BUCKET,
    DEFAULT_REGION,
    DUMMY_AWS_CREDENTIAL,
    ENV_FILE,
    HOST,
    LOG_DIR,
    MONGODB_PORT,
    MOTO_PORT,
    PORT_OFFSET,
    REDIS_PORT,
    ROOT,
    SERVICE_URL_VARS,
    SERVICES,
    STACK_DIR,
)
from scripts.stack.shared_stack import down, format_exports, stack_env, status, up

__all__ = [
    "DEFAULT_BUCKET",
    "DEFAULT_REGION",
    "DUMMY_AWS_CREDENTIAL",
    "ENV_FILE",
    "HOST",
    "LOG_DIR",
    "MONGODB_PORT",
    "MOTO_PORT",
    "PORT_OFFSET",
    "REDIS_PORT",
    "ROOT",
    "SERVICES",
    "SERVICE_URL_VARS",
    "STACK_DIR",
    "ManagedProcess",
    "MongoTls",
    "StackError",
    "apply_uploads_cors",
    "create_bucket",
    "down",
    "format_exports",
    "free_port",
    "local_web_origins",
    "mongo_server_command",
    "port_in_use",
    "probe_mongodb",
    "probe_redis",
    "probe_s3",
    "redis_server_binary",
    "stack_env",
    "start_mongo_server",
    "start_moto",
    "start_redis",
    "status",
    "tail",
    "up",
]
