"""scripts/stack against real processes: the shared stack and private throwaway instances."""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts import stack

pytestmark = pytest.mark.integration

STACK_CLI = [sys.executable, "-m", "scripts.stack"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STACK_CLI, *args],
        cwd=stack.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # the first start fetches mongo-java-server (and may install Java)
        check=False,
    )


def parse_exports(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        assert words[0] == "export", line
        key, _, value = words[1].partition("=")
        values[key] = value
    return values


def read_pids() -> dict[str, int]:
    pids: dict[str, int] = {}
    for name in stack.SERVICES:
        path = stack.STACK_DIR / f"{name}.pid"
        if path.exists():
            pids[name] = int(path.read_text())
    return pids


def local_services() -> list[str]:
    return [name for name in stack.SERVICES if not os.environ.get(stack.SERVICE_URL_VARS[name])]


@pytest.fixture(scope="module")
def shared_stack() -> dict[str, str]:
    result = run_cli("up")
    assert result.returncode == 0, result.stderr
    return parse_exports(result.stdout)


# --- the shared stack -------------------------------------------------------------------------


def test_up_twice_is_idempotent_and_fast(shared_stack: dict[str, str]) -> None:
    before = read_pids()
    assert set(before) >= set(local_services())

    started = time.monotonic()
    again = run_cli("up")
    elapsed = time.monotonic() - started

    assert again.returncode == 0, again.stderr
    assert read_pids() == before
    assert "started (pid" not in again.stderr
    assert parse_exports(again.stdout) == shared_stack
    assert elapsed < 10, f"a warm `up` took {elapsed:.1f}s"


def test_up_writes_env_file_and_env_is_parseable(shared_stack: dict[str, str]) -> None:
    assert parse_exports(stack.ENV_FILE.read_text()) == shared_stack

    result = run_cli("env")
    assert result.returncode == 0, result.stderr
    values = parse_exports(result.stdout)
    assert set(values) == {
        "REDIS_URL",
        "MONGODB_URL",
        "S3_ENDPOINT_URL",
        "S3_BUCKET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
    }
    assert values == shared_stack


def test_env_echoes_given_urls() -> None:
    env = {
        **os.environ,
        "REDIS_URL": "redis://cache.example:6379/3",
        "MONGODB_URL": "mongodb://user:p@ss w0rd@db.example:27017/?tls=true&retryWrites=false",
        "S3_ENDPOINT_URL": "https://s3.example",
        "S3_BUCKET": "other-bucket",
    }
    result = run_cli("env", env=env)
    assert result.returncode == 0, result.stderr
    values = parse_exports(result.stdout)
    for key in ("REDIS_URL", "MONGODB_URL", "S3_ENDPOINT_URL", "S3_BUCKET"):
        assert values[key] == env[key]


def test_status_reports_running(shared_stack: dict[str, str]) -> None:
    result = run_cli("status")
    assert result.returncode == 0, result.stdout + result.stderr
    report = stack.status()
    for name in local_services():
        assert report[name]["state"] == "running"
        assert report[name]["pid"] == read_pids()[name]


def test_shared_services_answer(shared_stack: dict[str, str]) -> None:
    redis = pytest.importorskip("redis")
    pymongo = pytest.importorskip("pymongo")
    boto3 = pytest.importorskip("boto3")

    assert redis.Redis.from_url(shared_stack["REDIS_URL"], socket_timeout=5).ping()
    with pymongo.MongoClient(shared_stack["MONGODB_URL"], serverSelectionTimeoutMS=5000) as mc:
        assert mc.admin.command("ping")["ok"] == 1.0
    s3 = boto3.client(
        "s3",
        endpoint_url=shared_stack["S3_ENDPOINT_URL"],
        region_name=shared_stack["AWS_DEFAULT_REGION"],
        aws_access_key_id=shared_stack["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=shared_stack["AWS_SECRET_ACCESS_KEY"],
    )
    s3.head_bucket(Bucket=shared_stack["S3_BUCKET"])
    s3.put_object(Bucket=shared_stack["S3_BUCKET"], Key="stack-test/hello.txt", Body=b"hi")
    body = s3.get_object(Bucket=shared_stack["S3_BUCKET"], Key="stack-test/hello.txt")["Body"]
    assert body.read() == b"hi"
    s3.delete_object(Bucket=shared_stack["S3_BUCKET"], Key="stack-test/hello.txt")


# --- private throwaway instances --------------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[stack.ManagedProcess]:
    with stack.start_redis(stack.free_port(), tmp_path) as process:
        yield process


def test_private_redis_ping_stop_restart(private_redis: stack.ManagedProcess) -> None:
    redis = pytest.importorskip("redis")
    port = private_redis.port
    assert private_redis.url == f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(private_redis.url, socket_timeout=2, socket_connect_timeout=2)
    assert client.ping()
    first_pid = private_redis.pid

    private_redis.stop()
    assert not private_redis.is_running()
    assert not stack.probe_redis(port)
    with pytest.raises(redis.ConnectionError):
        client.ping()

    private_redis.restart()
    assert private_redis.port == port
    assert private_redis.pid != first_pid
    assert client.ping()  # the same client reconnects to the same port

    private_redis.kill()
    assert not stack.port_in_use(port)
    private_redis.restart()
    assert stack.probe_redis(port)


def test_private_mongo_server_keeps_data_across_restart(tmp_path: Path) -> None:
    pymongo = pytest.importorskip("pymongo")
    with stack.start_mongo_server(stack.free_port(), tmp_path) as server:
        assert (tmp_path / "mongo-data" / "data.mv").is_file()
        with pymongo.MongoClient(server.url, serverSelectionTimeoutMS=5000) as client:
            assert client.admin.command("ping")["ok"] == 1.0
            client.stacktest.items.create_index("n", unique=True)
            client.stacktest.items.insert_one({"_id": "a", "n": 1})

        server.restart()  # a clean stop writes everything
        with pymongo.MongoClient(server.url, serverSelectionTimeoutMS=5000) as client:
            assert client.stacktest.items.find_one({"_id": "a"}) == {"_id": "a", "n": 1}
            with pytest.raises(pymongo.errors.DuplicateKeyError):
                client.stacktest.items.insert_one({"_id": "c", "n": 1})  # the index survived
            client.stacktest.items.insert_one({"_id": "b", "n": 2})

        time.sleep(1.5)  # a crash loses what the MVStore has not committed (once a second)
        server.kill()
        assert not stack.probe_mongodb(server.port)
        server.restart()
        with pymongo.MongoClient(server.url, serverSelectionTimeoutMS=5000) as client:
            assert client.stacktest.items.count_documents({}) == 2


def test_private_memory_mongo_server_starts_empty(tmp_path: Path) -> None:
    pymongo = pytest.importorskip("pymongo")
    with stack.start_mongo_server(stack.free_port(), tmp_path, backend="memory") as server:
        assert not (tmp_path / "mongo-data").exists()
        with pymongo.MongoClient(server.url, serverSelectionTimeoutMS=5000) as client:
            client.stacktest.items.insert_one({"_id": "a"})
        server.restart()
        with pymongo.MongoClient(server.url, serverSelectionTimeoutMS=5000) as client:
            assert client.stacktest.items.count_documents({}) == 0


def test_mongo_server_reports_the_wire_version_pymongo_needs(tmp_path: Path) -> None:
    pymongo = pytest.importorskip("pymongo")
    with (
        stack.start_mongo_server(stack.free_port(), tmp_path, backend="memory") as server,
        pymongo.MongoClient(server.url, serverSelectionTimeoutMS=5000) as client,
    ):
        hello = client.admin.command("isMaster")  # it has no `hello`
        assert hello["maxWireVersion"] >= 9  # PyMongo 4.20's minimum (MongoDB 4.4)
        assert client.server_info()["version"].startswith("4.4")


# --- the TLS listener (the rehearsal's DocumentDB stand-in) --------------------------------------


@dataclasses.dataclass(frozen=True)
class Pki:
    ca: Path  # the CA the clients trust
    cert: Path  # the server certificate, signed by ca, for 127.0.0.1
    key: Path  # its PKCS#8 private key
    other_ca: Path  # a CA that signed nothing here


def _openssl(*args: str | Path) -> None:
    done = subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr


def make_pki(directory: Path, key_type: str = "ec") -> Pki:
    """A throwaway CA and a server certificate for 127.0.0.1 (as scripts/rehearse makes)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    new_key = (
        ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        if key_type == "ec"
        else ["-newkey", "rsa:2048"]
    )
    for name in ("ca", "other-ca"):
        _openssl(
            "req",
            "-x509",
            *new_key,
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN=test {name}",
            "-keyout",
            directory / f"{name}.key",
            "-out",
            directory / f"{name}.pem",
        )
    ext = directory / "server.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    csr, cert, key = directory / "server.csr", directory / "server.pem", directory / "server.key"
    _openssl("req", *new_key, "-nodes", "-subj", "/CN=test server", "-keyout", key, "-out", csr)
    _openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        directory / "ca.pem",
        "-CAkey",
        directory / "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        ext,
        "-out",
        cert,
    )
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    return Pki(ca=directory / "ca.pem", cert=cert, key=key, other_ca=directory / "other-ca.pem")


def tls_url(tls: stack.MongoTls) -> str:
    return f"mongodb://{tls.host}:{tls.port}/?tls=true"


def test_tls_listener_serves_the_same_data_and_survives_a_restart(tmp_path: Path) -> None:
    pymongo = pytest.importorskip("pymongo")
    pki = make_pki(tmp_path / "pki")
    tls = stack.MongoTls(port=stack.free_port(), cert=pki.cert, key=pki.key)
    with stack.start_mongo_server(stack.free_port(), tmp_path, tls=tls) as server:
        with pymongo.MongoClient(
            tls_url(tls), tlsCAFile=str(pki.ca), serverSelectionTimeoutMS=5000
        ) as client:
            items = client.stacktest.items
            items.create_index("n", unique=True)
            items.insert_one({"_id": "a", "n": 1})
            assert items.find_one({"_id": "a"}) == {"_id": "a", "n": 1}
            with pytest.raises(pymongo.errors.DuplicateKeyError):
                items.insert_one({"_id": "b", "n": 1})
        with pymongo.MongoClient(server.url, serverSelectionTimeoutMS=5000) as plain:
            assert plain.stacktest.items.find_one({"_id": "a"}) == {"_id": "a", "n": 1}

        server.restart()  # both listeners close; the H2 file is complete
        with pymongo.MongoClient(
            tls_url(tls), tlsCAFile=str(pki.ca), serverSelectionTimeoutMS=5000
        ) as client:
            assert client.stacktest.items.count_documents({}) == 1
    assert not stack.port_in_use(tls.port)


def test_tls_listener_takes_an_rsa_key(tmp_path: Path) -> None:
    pymongo = pytest.importorskip("pymongo")
    pki = make_pki(tmp_path / "pki", key_type="rsa")
    tls = stack.MongoTls(port=stack.free_port(), cert=pki.cert, key=pki.key)
    with (
        stack.start_mongo_server(stack.free_port(), tmp_path, backend="memory", tls=tls),
        pymongo.MongoClient(
            tls_url(tls), tlsCAFile=str(pki.ca), serverSelectionTimeoutMS=5000
        ) as client,
    ):
        assert client.admin.command("ping")["ok"] == 1.0


def test_tls_listener_refuses_plain_and_untrusting_clients(tmp_path: Path) -> None:
    pymongo = pytest.importorskip("pymongo")
    pki = make_pki(tmp_path / "pki")
    tls = stack.MongoTls(port=stack.free_port(), cert=pki.cert, key=pki.key)
    bounded = {"serverSelectionTimeoutMS": 1500, "connectTimeoutMS": 1500}
    with stack.start_mongo_server(stack.free_port(), tmp_path, backend="memory", tls=tls):
        url = f"mongodb://{tls.host}:{tls.port}/"
        with (
            pymongo.MongoClient(url, **bounded) as plain,
            pytest.raises(
                pymongo.errors.ServerSelectionTimeoutError, match=r"(?i)connection (closed|reset)"
            ),
        ):
            plain.admin.command("ping")
        with (
            pymongo.MongoClient(url, tls=True, tlsCAFile=str(pki.other_ca), **bounded) as other,
            pytest.raises(pymongo.errors.ServerSelectionTimeoutError, match="CERTIFICATE_VERIFY"),
        ):
            other.admin.command("ping")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", r": no such file$"),
        ("traditional", r"a traditional EC key; give it as PKCS#8"),
        ("not a key", r"expected one PEM block -----BEGIN PRIVATE KEY----- \(PKCS#8\), found 0"),
        ("garbled", r"not a readable PKCS#8 RSA or EC private key"),
        ("another key", r"is not the private key of the certificate in \S+ \(CN=test server\)"),
    ],
)
def test_bad_tls_key_is_a_readable_error(tmp_path: Path, case: str, expected: str) -> None:
    pki = make_pki(tmp_path / "pki")
    key = tmp_path / "bad.key"
    if case == "traditional":
        _openssl("pkey", "-in", pki.key, "-traditional", "-out", key)
    elif case == "not a key":
        shutil.copy(pki.cert, key)
    elif case == "garbled":
        key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    elif case == "another key":
        shutil.copy(pki.ca.with_suffix(".key"), key)
    tls = stack.MongoTls(port=stack.free_port(), cert=pki.cert, key=key)
    with pytest.raises(stack.StackError) as info:
        stack.start_mongo_server(stack.free_port(), tmp_path, tls=tls)
    message = str(info.value)
    assert "mongodb exited with code 2" in message
    assert re.search(
        rf"^    mongo-server: --tls-key {re.escape(str(key))} ?.*{expected}", message, re.M
    ), message
    assert "Exception" not in message  # one line, no stack trace
    assert not (tmp_path / "mongo-data" / "data.mv").exists()  # read before anything opened


def test_tls_port_taken_is_a_readable_error(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        tls = stack.MongoTls(port=squatter.getsockname()[1], cert=pki.cert, key=pki.key)
        with pytest.raises(stack.StackError) as info:
            stack.start_mongo_server(stack.free_port(), tmp_path, backend="memory", tls=tls)
    message = str(info.value)
    assert f"mongo-server: cannot listen TLS on 127.0.0.1:{tls.port}: " in message
    assert "Exception" not in message


def test_private_moto_creates_buckets_again_after_restart(tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    with stack.start_moto(stack.free_port(), tmp_path, buckets=["fault-bucket"]) as moto:
        s3 = boto3.client(
            "s3",
            endpoint_url=moto.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.head_bucket(Bucket="fault-bucket")
        moto.restart()
        s3.head_bucket(Bucket="fault-bucket")
        names = [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
        assert names == ["fault-bucket"]


# --- failures are readable --------------------------------------------------------------------


def test_port_taken_by_something_else_is_a_readable_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(stack.StackError, match=rf"port 127\.0\.0\.1:{port} is already in use"):
            stack.start_redis(port, tmp_path)


def test_a_crash_at_start_reports_the_log(tmp_path: Path) -> None:
    process = stack.ManagedProcess(
        "broken",
        [sys.executable, "-c", "print('cannot open the data dir'); raise SystemExit(3)"],
        stack.free_port(),
        "x://",
        stack.probe_redis,
        tmp_path / "broken.log",
        ready_timeout=5,
    )
    with pytest.raises(stack.StackError) as info:
        process.start()
    message = str(info.value)
    assert "broken exited with code 3" in message
    assert str(tmp_path / "broken.log") in message
    assert "cannot open the data dir" in message


def test_probes_need_the_right_protocol(private_redis: stack.ManagedProcess) -> None:
    assert stack.probe_redis(private_redis.port)
    assert not stack.probe_mongodb(private_redis.port, timeout=0.5)
    assert not stack.probe_s3(private_redis.port, timeout=0.5)
    assert not stack.probe_redis(stack.free_port())


def _ports_under(offset: str) -> subprocess.CompletedProcess[str]:
    code = "from scripts import stack; print(stack.REDIS_PORT, stack.MONGODB_PORT, stack.MOTO_PORT)"
    env = {**os.environ, "STACK_PORT_OFFSET": offset}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=stack.ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_port_offset_shifts_every_port() -> None:
    result = _ports_under("100")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["56479", "57117", "55100"]


@pytest.mark.parametrize("offset", ["ten", "-1", "9000"])
def test_bad_port_offset_is_refused_readably(offset: str) -> None:
    result = _ports_under(offset)
    assert result.returncode != 0
    assert "STACK_PORT_OFFSET must be" in result.stderr
    assert "Traceback" not in result.stderr
