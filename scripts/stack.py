"""The local stack: real Redis, a MongoDB wire-protocol server and moto (S3) on loopback.

CLI (from the repository root)::

    python scripts/stack.py up       # start what is missing, print `export` lines
    python scripts/stack.py status   # what runs, where, with which pid
    python scripts/stack.py env      # print `export` lines (eval "$(python scripts/stack.py env)")
    python scripts/stack.py down     # stop what `up` started (add --wipe to delete the data too)

Each part is skipped when its URL is given in the environment (``REDIS_URL``,
``MONGODB_URL``, ``S3_ENDPOINT_URL``). Data, logs and pid files live in the git-ignored
``.stack/`` folder of the checkout. The database is mongo-java-server (Java; its jars fetched
by Maven and its launcher compiled once into ``$XDG_CACHE_HOME/biwoco``, default
``~/.cache/biwoco``, outside the checkout), on its H2 backend: one file in ``.stack/``, kept
across restarts. docs/data-model.md says why this server and what it does not do.

The module is also a Python API for tests that need their own throwaway instances
(``start_redis``, ``start_mongo_server``, ``start_moto`` return a :class:`ManagedProcess` that
can be stopped, killed and restarted on the same port with the same data).

Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal, Self

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT: Final = Path(__file__).resolve().parent.parent
STACK_DIR: Final = ROOT / ".stack"
LOG_DIR: Final = STACK_DIR / "logs"
ENV_FILE: Final = STACK_DIR / "env"

HOST: Final = "127.0.0.1"


def _port_offset() -> int:
    """STACK_PORT_OFFSET shifts every port, so two checkouts on one machine keep apart stacks."""
    raw = os.environ.get("STACK_PORT_OFFSET", "0").strip() or "0"
    try:
        offset = int(raw)
    except ValueError:
        raise SystemExit(f"stack: STACK_PORT_OFFSET must be an integer, not {raw!r}") from None
    if not 0 <= offset <= 5000:
        raise SystemExit(f"stack: STACK_PORT_OFFSET must be between 0 and 5000, not {offset}")
    return offset


PORT_OFFSET: Final = _port_offset()
REDIS_PORT: Final = 56379 + PORT_OFFSET
MONGODB_PORT: Final = 57017 + PORT_OFFSET
MOTO_PORT: Final = 55000 + PORT_OFFSET

MONGO_JAVA_SERVER_VERSION: Final = "1.47.0"  # keep equal to scripts/mongo_server/pom.xml
MONGO_SERVER_POM: Final = ROOT / "scripts" / "mongo_server" / "pom.xml"
MONGO_SERVER_LAUNCHER: Final = ROOT / "scripts" / "mongo_server" / "Launcher.java"
MIN_JAVA: Final = 17
MongoBackend = Literal["h2", "memory"]

DEFAULT_BUCKET: Final = "biwoco-local"
DUMMY_AWS_CREDENTIAL: Final = "testing"
DEFAULT_REGION: Final = "us-east-1"

SERVICES: Final = ("redis", "mongodb", "moto")
SERVICE_URL_VARS: Final = {
    "redis": "REDIS_URL",
    "mongodb": "MONGODB_URL",
    "moto": "S3_ENDPOINT_URL",
}


class StackError(Exception):
    """An expected failure with a message meant for a human (no traceback needed)."""


# --------------------------------------------------------------------------------------------
# small helpers


def _info(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a (log) file, or a note that it is empty or missing."""
    try:
        data = path.read_bytes()
    except OSError:
        return f"(no log at {path})"
    text = data[-16384:].decode("utf-8", errors="replace").rstrip()
    if not text:
        return f"(log {path} is empty)"
    return "\n".join(text.splitlines()[-lines:])


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def cache_dir() -> Path:
    """Where built tools are kept: $XDG_CACHE_HOME/biwoco or ~/.cache/biwoco."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "biwoco"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (serialises concurrent `up`/`down` and builds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    """True when pid is a live (non-zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # the state is the first field after the parenthesised command name
    state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else ""
    return state not in ("Z", "X")


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", errors="replace")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group led by pid (our services run in their own session)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


# --------------------------------------------------------------------------------------------
# protocol probes (real answers, not just an open port)


def probe_redis(
    port: int, host: str = HOST, timeout: float = 1.0, password: str | None = None
) -> bool:
    """True when a Redis server answers PING with PONG (after AUTH when given a password)."""
    request = b"*1\r\n$4\r\nPING\r\n"
    if password is not None:
        secret = password.encode()
        request = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(secret), secret) + request
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request)
            reply = b""
            while reply.count(b"\r\n") < (2 if password is not None else 1):
                chunk = sock.recv(64)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return False
    return reply.removeprefix(b"+OK\r\n" if password is not None else b"").startswith(b"+PONG")


def _bson_ping(database: str) -> bytes:
    name = database.encode()
    body = (
        b"\x10ping\x00"
        + struct.pack("<i", 1)
        + b"\x02$db\x00"
        + struct.pack("<i", len(name) + 1)
        + name
        + b"\x00"
    )
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _bson_ok(document: bytes) -> bool:
    """Read the top-level `ok` field of a BSON document (double, int32, int64 or bool)."""
    pos = 4
    end = len(document) - 1
    fixed = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16}
    while pos < end:
        kind = document[pos]
        name_end = document.index(b"\x00", pos + 1)
        name = document[pos + 1 : name_end]
        pos = name_end + 1
        if name == b"ok":
            if kind == 0x01:
                return bool(struct.unpack_from("<d", document, pos)[0] == 1.0)
            if kind == 0x10:
                return bool(struct.unpack_from("<i", document, pos)[0] == 1)
            if kind == 0x12:
                return bool(struct.unpack_from("<q", document, pos)[0] == 1)
            if kind == 0x08:
                return document[pos] == 1
            return False
        if kind in fixed:
            pos += fixed[kind]
        elif kind in (0x02, 0x0D, 0x0E):  # string, code, symbol
            pos += 4 + struct.unpack_from("<i", document, pos)[0]
        elif kind in (0x03, 0x04):  # document, array
            pos += struct.unpack_from("<i", document, pos)[0]
        elif kind == 0x05:  # binary
            pos += 5 + struct.unpack_from("<i", document, pos)[0]
        else:  # a type we do not walk: give up on this reply
            return False
    return False


def probe_mongodb(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    """True when a MongoDB wire-protocol server answers an OP_MSG `ping` with ok: 1."""
    document = _bson_ping("admin")
    payload = struct.pack("<I", 0) + b"\x00" + document
    header = struct.pack("<iiii", 16 + len(payload), 1, 0, 2013)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(header + payload)
            length, _request_id, response_to, opcode = struct.unpack("<iiii", _recv_exact(sock, 16))
            if opcode != 2013 or response_to != 1 or not 21 <= length <= 48_000_000:
                return False
            body = _recv_exact(sock, length - 16)
    except (OSError, ConnectionError, struct.error):
        return False
    if body[4] != 0:  # section kind 0: the body document
        return False
    try:
        return _bson_ok(body[5:])
    except (ValueError, IndexError, struct.error):
        return False


def probe_s3(port: int, host: str = HOST, timeout: float = 2.0) -> bool:
    """True when an S3 endpoint answers ListBuckets on `/` over HTTP."""
    url = f"http://{host}:{port}/"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return b"ListAllMyBucketsResult" in response.read()
    except (OSError, urllib.error.URLError):
        return False


# --------------------------------------------------------------------------------------------
# managed processes


class ManagedProcess:
    """A server process on a loopback port, started in its own session.

    `stop()` shuts it down gracefully, `kill()` with SIGKILL, `restart()` starts it again
    with the same command (same port, same data dir). Usable as a context manager.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        port: int,
        url: str,
        probe: Callable[[int], bool],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        pid_file: Path | None = None,
        ready_timeout: float = 30.0,
        after_start: Callable[[ManagedProcess], None] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.url = url
        self.probe = probe
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.pid_file = pid_file
        self.ready_timeout = ready_timeout
        self.after_start = after_start
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, url={self.url!r}, pid={self.pid})"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def is_ready(self) -> bool:
        return self.is_running() and self.probe(self.port)

    def start(self) -> Self:
        """Start the process and wait until it answers its protocol probe."""
        if self.is_running():
            raise StackError(f"{self.name} is already running (pid {self.pid})")
        if port_in_use(self.port):
            raise StackError(
                f"{self.name}: port {HOST}:{self.port} is already in use by another process; "
                "stop that process or pick another port"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        with self.log_path.open("ab") as log:
            log.write(
                f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} start: "
                f"{shlex.join(self.argv)}\n".encode()
            )
            log.flush()
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.cwd,
                    env=env,
                    start_new_session=True,
                    close_fds=True,
                )
            except OSError as exc:
                raise StackError(f"{self.name}: cannot run {self.argv[0]}: {exc}") from exc
        if self.pid_file is not None:
            self.pid_file.parent.mkdir(parents=True, exist_ok=True)
            self.pid_file.write_text(f"{self._proc.pid}\n")
        try:
            self.wait_ready(self.ready_timeout)
            if self.after_start is not None:
                self.after_start(self)
        except BaseException:
            self.kill()
            raise
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            if self._proc is None:
                raise StackError(f"{self.name} is not started")
            code = self._proc.poll()
            if code is not None:
                raise StackError(
                    f"{self.name} exited with code {code} while starting "
                    f"(log: {self.log_path}):\n{_indent(tail(self.log_path))}"
                )
            if self.probe(self.port):
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"{self.name} did not answer on {HOST}:{self.port} within {timeout:.0f}s "
                    f"(log: {self.log_path}):\n{_indent(tail(self.log_path))}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL if it is still there."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self._forget()

    def kill(self) -> None:
        """SIGKILL the process group (a crash, for fault tests)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(5)
        self._forget()

    def restart(self, timeout: float = 10.0) -> Self:
        """Stop (if running) and start again on the same port with the same data."""
        self.stop(timeout)
        deadline = time.monotonic() + 5.0
        while port_in_use(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.start()

    def detach(self) -> None:
        """Forget the process without stopping it (it keeps running in its session)."""
        self._proc = None

    def _forget(self) -> None:
        if self.pid_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.pid_file.unlink()

    def __enter__(self) -> Self:
        if not self.is_running():
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# binaries


def _run(
    argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None, what: str
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            list(argv),
            cwd=cwd,
            env=None if env is None else dict(env),
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise StackError(f"{what}: cannot run {argv[0]}: {exc}") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        last = "\n".join(output.splitlines()[-25:])
        raise StackError(
            f"{what} failed (exit {result.returncode}): {shlex.join(argv)}\n{_indent(last)}"
        )
    return result


def redis_server_binary(install: bool = True) -> Path:
    """Find redis-server; install Debian's package when missing and running as root."""
    for candidate in (
        shutil.which("redis-server"),
        "/usr/bin/redis-server",
        "/usr/sbin/redis-server",
        "/usr/local/bin/redis-server",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    why = (
        "redis-server is not installed. Install it (Debian/Ubuntu: "
        "`sudo apt-get install -y redis-server`; macOS: `brew install redis`) "
        "or point REDIS_URL at a running Redis."
    )
    if not install:
        raise StackError(why)
    _apt_install(["redis-server"], why)
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.access(found, os.X_OK):
        raise StackError("apt-get installed redis-server but the binary is not on PATH")
    return Path(found)


def _apt_install(packages: Sequence[str], why: str) -> None:
    """Install Debian packages (as root, with apt-get); a StackError with `why` otherwise."""
    if not (shutil.which("apt-get") is not None and os.geteuid() == 0):
        raise StackError(why)
    names = " ".join(packages)
    _info(f"installing Debian's {names} (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update"], env=env, what="apt-get update")
    _run(
        ["apt-get", "install", "-y", "--no-install-recommends", *packages],
        env=env,
        what=f"apt-get install {names}",
    )


def _java_tool(name: str) -> Path | None:
    """A JDK tool (java, javac) of Java 17 or newer: JAVA_HOME's, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(java_home) / "bin" / name)] if java_home else []
    candidates.append(shutil.which(name) or "")
    for candidate in candidates:
        if not (candidate and os.access(candidate, os.X_OK)):
            continue
        probe = subprocess.run([candidate, "-version"], capture_output=True, text=True, check=False)
        # `java -version` prints `openjdk version "17.0.15"`, `javac -version` `javac 17.0.15`
        words = (probe.stderr + probe.stdout).replace('"', " ").split()
        for word in words:
            major = word.split(".")[0]
            if major.isdigit() and "." in word:
                if int(major) >= MIN_JAVA:
                    return Path(candidate)
                break
    return None


def java_tools(install: bool = True) -> tuple[Path, Path, Path]:
    """java, javac and mvn; Debian's default-jdk-headless and maven installed when missing."""
    java, javac, mvn = _java_tool("java"), _java_tool("javac"), shutil.which("mvn")
    if not (java and javac and mvn):
        missing = [
            package
            for package, tool in (("default-jdk-headless", java and javac), ("maven", mvn))
            if not tool
        ]
        why = (
            f"the local database needs Java {MIN_JAVA}+ (a JDK: javac) and Maven, once, to "
            "fetch and compile mongo-java-server; they were not found. Install them "
            "(Debian/Ubuntu: `sudo apt-get install -y default-jdk-headless maven`; macOS: "
            "`brew install openjdk maven`) or set MONGODB_URL to a running MongoDB."
        )
        if not install:
            raise StackError(why)
        _apt_install(missing, why)
        java, javac, mvn = _java_tool("java"), _java_tool("javac"), shutil.which("mvn")
        if not (java and javac and mvn):
            raise StackError(
                f"apt-get installed {' '.join(missing)} but Java {MIN_JAVA}+ (java, javac) "
                "and mvn are still not found; set JAVA_HOME or PATH"
            )
    return java, javac, Path(mvn)


def mongo_server_home() -> Path:
    """The cached classpath of the local database, keyed by its pom.xml and launcher source."""
    digest = hashlib.sha256()
    for source in (MONGO_SERVER_POM, MONGO_SERVER_LAUNCHER):
        digest.update(source.read_bytes())
    return cache_dir() / f"mongo-java-server-{MONGO_JAVA_SERVER_VERSION}-{digest.hexdigest()[:12]}"


def mongo_server_command() -> list[str]:
    """`java -cp ... Launcher` for the local database; fetched and compiled on first use.

    Maven copies mongo-java-server and its dependencies (scripts/mongo_server/pom.xml) into
    the cache, javac compiles the launcher there; later starts only run java.
    """
    home = mongo_server_home()
    ready = home / "ready"
    java = _java_tool("java")
    if not ready.exists() or java is None:
        home.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(home.parent / ".mongo-java-server-build.lock"):
            java, javac, mvn = java_tools()
            if not ready.exists():  # not built by a concurrent caller meanwhile
                _build_mongo_server(home, javac, mvn)
    assert java is not None
    return [
        str(java),
        # one collector thread: a small local server on a machine shared with the tests
        "-XX:+UseSerialGC",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ",
        "-cp",
        f"{home / 'classes'}{os.pathsep}{home / 'lib' / '*'}",
        "Launcher",
    ]


def _build_mongo_server(home: Path, javac: Path, mvn: Path) -> None:
    started = time.monotonic()
    _info(f"fetching mongo-java-server {MONGO_JAVA_SERVER_VERSION} into {home} (once)")
    partial = home.with_name(f"{home.name}.tmp-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _run(
            [
                str(mvn),
                "--batch-mode",
                "--quiet",
                "-f",
                str(MONGO_SERVER_POM),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={partial / 'lib'}",
            ],
            cwd=MONGO_SERVER_POM.parent,
            what="mvn dependency:copy-dependencies (mongo-java-server)",
        )
        _run(
            [
                str(javac),
                "-nowarn",
                "-d",
                str(partial / "classes"),
                "-cp",
                str(partial / "lib" / "*"),
                str(MONGO_SERVER_LAUNCHER),
            ],
            what="javac Launcher.java",
        )
        (partial / "ready").write_text(f"{MONGO_JAVA_SERVER_VERSION}\n")
        shutil.rmtree(home, ignore_errors=True)
        os.replace(partial, home)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    _info(f"mongo-java-server ready in {time.monotonic() - started:.0f}s")


def moto_python() -> str:
    """A Python interpreter that can import moto (this one, else the project's .venv)."""
    if importlib.util.find_spec("moto") is not None:
        return sys.executable
    venv_python = ROOT / ".venv" / "bin" / "python"
    if venv_python.exists():
        probe = subprocess.run(
            [str(venv_python), "-c", "import moto.server"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return str(venv_python)
    raise StackError(
        "moto[server] is not installed for this Python. Install the dev extras "
        "(`pip install -e '.[dev]'`) or set S3_ENDPOINT_URL to a running S3 endpoint."
    )


# --------------------------------------------------------------------------------------------
# the services


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


def _s3_client(endpoint_url: str) -> S3Client:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=DEFAULT_REGION,
        aws_access_key_id=DUMMY_AWS_CREDENTIAL,
        aws_secret_access_key=DUMMY_AWS_CREDENTIAL,
    )


def create_bucket(endpoint_url: str, bucket: str) -> None:
    """Create an S3 bucket if it is missing (boto3 when importable, else a plain PUT)."""
    if importlib.util.find_spec("boto3") is not None:
        client = _s3_client(endpoint_url)
        try:
            client.create_bucket(Bucket=bucket)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        except client.exceptions.BucketAlreadyExists:
            pass
        return
    request = urllib.request.Request(f"{endpoint_url}/{bucket}", method="PUT")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 (loopback)
            pass
    except urllib.error.HTTPError as exc:
        if exc.code != 409:  # 409: it already exists
            raise StackError(f"cannot create bucket {bucket} at {endpoint_url}: {exc}") from exc
    except OSError as exc:
        raise StackError(f"cannot create bucket {bucket} at {endpoint_url}: {exc}") from exc


def local_web_origins(environ: Mapping[str, str] | None = None) -> list[str]:
    """Origins the local web app is served from: CORS_ORIGINS (the service's own setting),
    else the API's address in local mode, where it serves web/dist itself."""
    env = os.environ if environ is None else environ
    given = [item.strip() for item in env.get("CORS_ORIGINS", "").split(",") if item.strip()]
    if given:
        return given
    port = env.get("PORT") or "8000"
    return [f"http://{HOST}:{port}", f"http://localhost:{port}"]


def apply_uploads_cors(endpoint_url: str, bucket: str, origins: Sequence[str]) -> None:
    """Put the uploads bucket's CORS rules (infra/uploads_cors.py, as deployed) on a bucket."""
    if importlib.util.find_spec("boto3") is None:
        _info(f"boto3 is missing: {bucket} gets no CORS rules (browser uploads are refused)")
        return
    sys.path.insert(0, str(ROOT))
    from infra.uploads_cors import uploads_cors_rules

    client = _s3_client(endpoint_url)
    rules = uploads_cors_rules(origins)
    if rules:
        client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})  # type: ignore[typeddict-item]
    else:
        client.delete_bucket_cors(Bucket=bucket)


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


# --------------------------------------------------------------------------------------------
# the shared stack (.stack/)


def bucket_name(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("S3_BUCKET") or DEFAULT_BUCKET


def stack_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the app and the tests use: given URLs, else the local stack's."""
    env = os.environ if environ is None else environ
    return {
        "REDIS_URL": env.get("REDIS_URL") or f"redis://{HOST}:{REDIS_PORT}/0",
        "MONGODB_URL": env.get("MONGODB_URL") or f"mongodb://{HOST}:{MONGODB_PORT}/",
        "S3_ENDPOINT_URL": env.get("S3_ENDPOINT_URL") or f"http://{HOST}:{MOTO_PORT}",
        "S3_BUCKET": bucket_name(env),
        "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID") or DUMMY_AWS_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY") or DUMMY_AWS_CREDENTIAL,
        "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
    }


def format_exports(values: Mapping[str, str]) -> str:
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in values.items())


def _pid_file(name: str) -> Path:
    return STACK_DIR / f"{name}.pid"


_MARKERS: Final = {"redis": "redis-server", "mongodb": "mongo-java-server", "moto": "moto"}
_PORTS: Final = {"redis": REDIS_PORT, "mongodb": MONGODB_PORT, "moto": MOTO_PORT}
_PROBES: Final[dict[str, Callable[[int], bool]]] = {
    "redis": probe_redis,
    "mongodb": probe_mongodb,
    "moto": probe_s3,
}


def _recorded_pid(name: str) -> int | None:
    """The pid from .stack/<name>.pid if that process is alive and is that service."""
    try:
        pid = int(_pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None
    if pid <= 0 or not _pid_alive(pid):
        return None
    cmdline = _cmdline(pid)
    if cmdline and _MARKERS[name] not in cmdline:
        return None  # the pid was recycled by an unrelated process
    return pid


def _wait_recorded(name: str, pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _PROBES[name](_PORTS[name]):
        if not _pid_alive(pid):
            raise StackError(
                f"{name} (pid {pid}) died (log: {LOG_DIR / f'{name}.log'}):\n"
                + _indent(tail(LOG_DIR / f"{name}.log"))
            )
        if time.monotonic() > deadline:
            raise StackError(
                f"{name} (pid {pid}) runs but does not answer on {HOST}:{_PORTS[name]} "
                f"(log: {LOG_DIR / f'{name}.log'}); try `python scripts/stack.py down` "
                f"then `up`:\n{_indent(tail(LOG_DIR / f'{name}.log'))}"
            )
        time.sleep(0.1)


def _ensure(name: str) -> str:
    """Start one shared service unless it runs already; returns what happened."""
    pid = _recorded_pid(name)
    if pid is not None:
        _wait_recorded(name, pid, 30.0)
        if name == "moto":
            create_bucket(f"http://{HOST}:{MOTO_PORT}", bucket_name())
            apply_uploads_cors(f"http://{HOST}:{MOTO_PORT}", bucket_name(), local_web_origins())
        return f"already running (pid {pid})"
    with contextlib.suppress(FileNotFoundError):
        _pid_file(name).unlink()
    log = LOG_DIR / f"{name}.log"
    pid_file = _pid_file(name)
    managed: ManagedProcess
    try:
        if name == "redis":
            managed = start_redis(REDIS_PORT, STACK_DIR, log_path=log, pid_file=pid_file)
        elif name == "mongodb":
            managed = start_mongo_server(
                MONGODB_PORT, STACK_DIR, backend="h2", log_path=log, pid_file=pid_file
            )
        else:
            managed = start_moto(
                MOTO_PORT, STACK_DIR, buckets=[bucket_name()], log_path=log, pid_file=pid_file
            )
    except StackError as exc:
        raise StackError(
            f"{exc}\n(to use a server you already run, set {SERVICE_URL_VARS[name]})"
        ) from exc
    started_pid = managed.pid
    managed.detach()  # it lives on in its own session after this process exits
    return f"started (pid {started_pid}, log {log})"


def up() -> dict[str, str]:
    """Start whatever part of the local stack is not given by URL nor running; idempotent.

    Returns the environment (as `env` prints it) and writes it to .stack/env.
    """
    STACK_DIR.mkdir(parents=True, exist_ok=True)
    with _file_lock(STACK_DIR / "lock"):
        for name in SERVICES:
            given = os.environ.get(SERVICE_URL_VARS[name])
            if given:
                _info(f"{name}: using {SERVICE_URL_VARS[name]}={given}")
                continue
            started = time.monotonic()
            outcome = _ensure(name)
            _info(f"{name}: {outcome} [{time.monotonic() - started:.1f}s]")
        values = stack_env()
        ENV_FILE.write_text(format_exports(values))
    return values


def _stop_pid(name: str, pid: int, timeout: float = 10.0) -> None:
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            _signal_group(pid, signal.SIGKILL)
            time.sleep(0.2)
            break
        time.sleep(0.05)


def down(wipe: bool = False) -> list[str]:
    """Stop what `up` started (by pid file). With wipe, delete the data and logs too."""
    stopped: list[str] = []
    if not STACK_DIR.exists():
        return stopped
    with _file_lock(STACK_DIR / "lock"):
        for name in SERVICES:
            pid = _recorded_pid(name)
            if pid is not None:
                _stop_pid(name, pid)
                stopped.append(name)
                _info(f"{name}: stopped (pid {pid})")
            with contextlib.suppress(FileNotFoundError):
                _pid_file(name).unlink()
        with contextlib.suppress(FileNotFoundError):
            ENV_FILE.unlink()
        if wipe:
            for child in STACK_DIR.iterdir():
                if child.name == "lock":
                    continue
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            _info(f"wiped {STACK_DIR}")
    return stopped


def status() -> dict[str, dict[str, object]]:
    """Per service: state (running, not-answering, stopped, external), pid, url."""
    report: dict[str, dict[str, object]] = {}
    values = stack_env()
    for name in SERVICES:
        var = SERVICE_URL_VARS[name]
        if os.environ.get(var):
            report[name] = {"state": "external", "pid": None, "url": values[var]}
            continue
        pid = _recorded_pid(name)
        if pid is None:
            state = "stopped"
        elif _PROBES[name](_PORTS[name]):
            state = "running"
        else:
            state = "not-answering"
        report[name] = {"state": state, "pid": pid, "url": values[var]}
    return report


# --------------------------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="stack", description="The local stack: Redis, MongoDB and moto on loopback."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start what is missing; prints export lines")
    down_parser = commands.add_parser("down", help="stop what up started")
    down_parser.add_argument("--wipe", action="store_true", help="delete .stack data too")
    status_parser = commands.add_parser("status", help="show what runs")
    status_parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands.add_parser("env", help="print export lines for the stack")
    commands.add_parser("build", help="fetch and compile the local database into the cache")
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            started = time.monotonic()
            values = up()
            _info(f"ready in {time.monotonic() - started:.1f}s (env written to {ENV_FILE})")
            sys.stdout.write(format_exports(values))
        elif args.command == "down":
            down(wipe=args.wipe)
        elif args.command == "env":
            sys.stdout.write(format_exports(stack_env()))
        elif args.command == "build":
            print(" ".join(mongo_server_command()))
        else:
            report = status()
            if args.json:
                print(json.dumps(report, indent=2))
            else:
                for name, item in report.items():
                    pid = f"pid {item['pid']}" if item["pid"] else "-"
                    print(f"{name:<9} {item['state']:<14} {pid:<11} {item['url']}")
            if any(item["state"] not in ("running", "external") for item in report.values()):
                return 3
    except StackError as exc:
        print(f"stack: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
