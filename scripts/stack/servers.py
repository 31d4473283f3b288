"""Starting each server of the stack on a loopback port: Redis, mongo-java-server (optionally with
a TLS listener) and moto.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from scripts.stack.buckets import apply_uploads_cors, create_bucket, local_web_origins
from scripts.stack.probes import probe_mongodb, probe_redis, probe_s3
from scripts.stack.processes import ManagedProcess, port_in_use
from scripts.stack.programs import mongo_server_command, moto_python, redis_server_binary
from scripts.stack.settings import DEFAULT_REGION, DUMMY_AWS_CREDENTIAL, HOST, ROOT

MongoBackend = Literal["h2", "memory"]


def start_redis(
    port: int,
    workdir: Path,
    *,
    log_path: Path | None = None,
    pid_file: Path | None = None,
    start: bool = True,
    password: str | None = None,
    extra_args: Sequence[str] = (),
) -> ManagedProcess:
    """A redis-server on 127.0.0.1:port, data dir workdir/redis-data, no persistence.

    `password` sets requirepass (the readiness probe authenticates); `extra_args` are more
    redis-server options (later options win, e.g. a second `--bind`).
    """
    data = workdir / "redis-data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        str(redis_server_binary()),
        "--bind",
        HOST,
        "--port",
        str(port),
        "--protected-mode",
        "yes",
        "--daemonize",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(data),
        "--logfile",
        "",
        "--databases",
        "16",
        *(["--requirepass", password] if password is not None else []),
        *extra_args,
    ]
    managed = ManagedProcess(
        "redis",
        argv,
        port,
        f"redis://{HOST}:{port}/0",
        functools.partial(probe_redis, password=password),
        log_path or workdir / "logs" / "redis.log",
        cwd=data,
        pid_file=pid_file,
        ready_timeout=15.0,
    )
    return managed.start() if start else managed


@dataclasses.dataclass(frozen=True)
class MongoTls:
    """A TLS-only listener of the local database, reached as DocumentDB is (tls=true, a CA file).

    `cert`: PEM, the server certificate first, then any intermediates; `key`: PEM, its
    unencrypted PKCS#8 private key (RSA or EC). Clients verify the certificate against their CA
    file, so its subjectAltName must name `host`.
    """

    port: int
    cert: Path
    key: Path
    host: str = HOST

    def args(self) -> list[str]:
        return [
            *("--tls-host", self.host, "--tls-port", str(self.port)),
            *("--tls-cert", str(self.cert), "--tls-key", str(self.key)),
        ]


def start_mongo_server(
    port: int,
    workdir: Path,
    *,
    backend: MongoBackend = "h2",
    data_dir: Path | None = None,
    log_path: Path | None = None,
    pid_file: Path | None = None,
    start: bool = True,
    tls: MongoTls | None = None,
) -> ManagedProcess:
    """mongo-java-server (the MongoDB wire protocol) on 127.0.0.1:port.

    backend "h2": one H2 MVStore file in data_dir (default workdir/mongo-data), kept across
    restarts; a clean stop writes everything, a crash (SIGKILL) loses at most the last second
    (MVStore commits once a second). backend "memory": empty at every start.
    `tls`: a second, TLS-only listener over the same data (the plain one stays: it is probed).
    """
    argv = [*mongo_server_command(), "--host", HOST, "--port", str(port), "--backend", backend]
    if backend == "h2":
        data = data_dir or workdir / "mongo-data"
        data.mkdir(parents=True, exist_ok=True)
        argv += ["--file", str(data / "data.mv")]
    probe: Callable[[int], bool] = probe_mongodb
    if tls is not None:
        argv += tls.args()

        def probe_plain_and_tls(plain_port: int) -> bool:
            # the launcher binds TLS first; checked anyway, it costs one connect
            return probe_mongodb(plain_port) and port_in_use(tls.port, tls.host)

        probe = probe_plain_and_tls

    managed = ManagedProcess(
        "mongodb",
        argv,
        port,
        f"mongodb://{HOST}:{port}/",
        probe,
        log_path or workdir / "logs" / "mongodb.log",
        cwd=workdir,
        pid_file=pid_file,
        ready_timeout=60.0,
    )
    return managed.start() if start else managed


def start_moto(
    port: int,
    workdir: Path,
    *,
    buckets: Sequence[str] = (),
    log_path: Path | None = None,
    pid_file: Path | None = None,
    start: bool = True,
    host: str = HOST,
) -> ManagedProcess:
    """moto's server (S3, Cognito, ...) on host:port (default 127.0.0.1); buckets re-created
    on each start.

    moto keeps its state in memory: a restart forgets everything but the given buckets.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    # moto's server plus the CORS headers S3 puts on form POST answers (scripts/moto_server.py).
    argv = [moto_python(), str(ROOT / "scripts" / "moto_server.py"), "-H", host, "-p", str(port)]

    def make_buckets(process: ManagedProcess) -> None:
        for bucket in buckets:
            create_bucket(process.url, bucket)
            apply_uploads_cors(process.url, bucket, local_web_origins())

    managed = ManagedProcess(
        "moto",
        argv,
        port,
        f"http://{host}:{port}",
        functools.partial(probe_s3, host=host),
        log_path or workdir / "logs" / "moto.log",
        cwd=workdir,
        pid_file=pid_file,
        ready_timeout=60.0,
        env={
            "AWS_ACCESS_KEY_ID": DUMMY_AWS_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": DUMMY_AWS_CREDENTIAL,
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "PYTHONUNBUFFERED": "1",
            # Bucket CORS rules decide, as on S3 (moto otherwise allows every origin).
            "MOTO_DISABLE_GLOBAL_CORS": "true",
        },
        after_start=make_buckets,
    )
    return managed.start() if start else managed
