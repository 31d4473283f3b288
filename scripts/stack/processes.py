"""Server processes on loopback ports: free ports, pid checks, and the ManagedProcess that starts,
stops, kills and restarts one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from scripts.stack.messages import StackError, indent, tail
from scripts.stack.settings import HOST


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


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (serialises concurrent `up`/`down` and builds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def pid_alive(pid: int) -> bool:
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


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", errors="replace")


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group led by pid (our services run in their own session)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


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
                    f"(log: {self.log_path}):\n{indent(tail(self.log_path))}"
                )
            if self.probe(self.port):
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"{self.name} did not answer on {HOST}:{self.port} within {timeout:.0f}s "
                    f"(log: {self.log_path}):\n{indent(tail(self.log_path))}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL if it is still there."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                signal_group(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self._forget()

    def kill(self) -> None:
        """SIGKILL the process group (a crash, for fault tests)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            signal_group(proc.pid, signal.SIGKILL)
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
