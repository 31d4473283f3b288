"""scripts/mail_sink.py, the local SMTP sink scripts/run sends mail to: a real server process."""

from __future__ import annotations

import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from scripts.stack import ROOT, free_port

pytestmark = pytest.mark.integration

SINK = [sys.executable, str(ROOT / "scripts" / "mail_sink.py")]
LINK = "http://127.0.0.1:8000/verify-email?token=" + "Ab9-_" * 20


def _wait_listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the sink exited: {process.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the sink never listened")


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[int, Path, subprocess.Popen[str]]]:
    port = free_port()
    folder = tmp_path / "mail"
    process = subprocess.Popen(
        [*SINK, "--port", str(port), "--folder", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_listening(port, process)
        yield port, folder, process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_a_mail_is_kept_and_its_link_printed_whole(
    sink: tuple[int, Path, subprocess.Popen[str]],
) -> None:
    port, folder, process = sink
    message = EmailMessage()
    message["From"] = "no-reply@biwoco.local"
    message["To"] = "ada@example.com"
    message["Subject"] = "Confirm your email address"
    # A line over 78 characters: sent quoted-printable, with soft line breaks inside the link.
    message.set_content(f"Open this link to confirm it: {LINK}\n", cte="quoted-printable")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(message)

    saved = list(folder.glob("*.eml"))
    assert len(saved) == 1
    assert b"Subject: Confirm your email address" in saved[0].read_bytes()

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "mail to ada@example.com" in output
    assert LINK in output  # decoded: no `=` soft breaks in the printed link


def test_a_taken_port_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*SINK, "--port", str(port), "--folder", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
