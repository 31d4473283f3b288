"""The servers' programs: redis-server and Java found (or installed with apt-get),
mongo-java-server fetched and compiled once into the cache, a Python that has moto.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from scripts.stack.messages import StackError, indent, note
from scripts.stack.processes import file_lock
from scripts.stack.settings import ROOT

MONGO_JAVA_SERVER_VERSION: Final = "1.47.0"  # keep equal to scripts/mongo_server/pom.xml
MONGO_SERVER_POM: Final = ROOT / "scripts" / "mongo_server" / "pom.xml"
MONGO_SERVER_LAUNCHER: Final = ROOT / "scripts" / "mongo_server" / "Launcher.java"
MIN_JAVA: Final = 17


def cache_dir() -> Path:
    """Where built tools are kept: $XDG_CACHE_HOME/biwoco or ~/.cache/biwoco."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "biwoco"


def run_checked(
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
            f"{what} failed (exit {result.returncode}): {shlex.join(argv)}\n{indent(last)}"
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
    note(f"installing Debian's {names} (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_checked(["apt-get", "update"], env=env, what="apt-get update")
    run_checked(
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
        with file_lock(home.parent / ".mongo-java-server-build.lock"):
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
    note(f"fetching mongo-java-server {MONGO_JAVA_SERVER_VERSION} into {home} (once)")
    partial = home.with_name(f"{home.name}.tmp-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        run_checked(
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
        run_checked(
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
    note(f"mongo-java-server ready in {time.monotonic() - started:.0f}s")


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
