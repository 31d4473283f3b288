"""The local mail sink: an SMTP server on loopback that keeps every message and prints its text.

`scripts/run` starts it and points the worker's SMTP mailer at it, so a local sign-up's
verification link (and a password reset's) can be followed::

    python scripts/mail_sink.py --port 56025 --folder .stack/mail

Each accepted message is written to FOLDER as one `.eml` file, and its recipients, subject and
decoded text parts are printed to stdout (the log), links intact (no quoted-printable breaks).
Nothing is relayed anywhere. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


class MailSink:
    """aiosmtpd handler: keep the message as .eml, print what a person reads of it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            return "554 message content missing"
        recipients = ", ".join(str(address) for address in envelope.rcpt_tos)
        name = f"{time.time_ns()}-{envelope.rcpt_tos[0] if envelope.rcpt_tos else 'unknown'}.eml"
        (self.folder / name).write_bytes(raw)
        message = BytesParser(policy=policy.default).parsebytes(raw)
        print(describe(message, recipients, self.folder / name), flush=True)
        return "250 OK"


def describe(message: object, recipients: str, saved: Path) -> str:
    """The recipients, subject and decoded text parts of a message, for the log."""
    lines = [f"--- mail to {recipients} (saved as {saved})"]
    if isinstance(message, EmailMessage):
        lines.append(f"Subject: {message.get('Subject', '')}")
        for part in message.walk():
            if part.get_content_type() == "text/plain" and isinstance(part, EmailMessage):
                lines.append(str(part.get_content()).rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument("--folder", type=Path, required=True, help="where .eml files go")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port must be between 1 and 65535, not {args.port}")
    args.folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(MailSink(args.folder), hostname=HOST, port=args.port)
    try:
        controller.start()
    except OSError as exc:  # the port is taken, most often
        print(f"mail sink: cannot listen on {HOST}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"mail sink: listening on {HOST}:{args.port}, keeping mail in {args.folder}", flush=True)
    loop = asyncio.new_event_loop()
    stopped = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        loop.run_until_complete(stopped.wait())
    finally:
        controller.stop()
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
