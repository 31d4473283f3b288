"""The web client end to end, in headless Chromium (Debian's, driven by playwright-core), against
the real API (serving the built app), a Celery worker, an SMTP sink, Redis, the database and a
moto S3 that enforces its bucket's CORS rules (the rules of infra/uploads_cors.py).

The browser steps are web/e2e/app.e2e.mjs; screenshots of each step land in web/e2e/artifacts/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from scripts.stack import apply_uploads_cors, free_port, start_moto
from service.core.config import Settings
from tests.conftest import make_test_settings
from tests.service.core.celery_task.processes import (
    RecordingHandler,
    celery_env,
    celery_worker,
    smtp_server,
)
from tests.web.node import NODE, ROOT, WEB, scripts_web

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = WEB / "e2e" / "artifacts"
BUCKET = "biwoco-e2e"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


class MailDrop(RecordingHandler):
    """Accepted mail also lands in a folder, one .eml per message, for the browser test."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            mail: Message = self.accepted[-1]
            name = f"{time.time_ns()}-{envelope.rcpt_tos[0]}.eml"
            (self.folder / name).write_bytes(mail.as_bytes())
        return answer


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 40
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (loopback)
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.2)


@pytest.fixture(scope="module")
def web_dist() -> Path:
    scripts_web("build")
    return WEB / "dist"


@pytest.fixture(scope="module")
def e2e_settings(
    stack_env: dict[str, str], run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """The test's settings, with an S3 of its own: moto enforcing CORS, one bucket."""
    workdir = tmp_path_factory.mktemp("e2e-moto")
    with start_moto(free_port(), workdir, buckets=[BUCKET]) as moto:
        yield make_test_settings(
            stack_env,
            f"{run_id}_e2e",
            s3_bucket=BUCKET,
            s3_endpoint_url=moto.url,
            port=free_port(),
        )


def test_the_web_client_end_to_end(
    e2e_settings: Settings, web_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = e2e_settings
    assert settings.s3_endpoint_url is not None
    base = f"http://127.0.0.1:{settings.port}"
    # The bucket admits the app's origin only; the same app on http://localhost:<port> is
    # another origin, which the browser test uses to prove the refusal.
    apply_uploads_cors(settings.s3_endpoint_url, BUCKET, [base])
    scratch = tmp_path_factory.mktemp("e2e")
    mail_dir = scratch / "mail"
    mail_dir.mkdir()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)

    worker_env = celery_env(
        settings,
        s3_bucket=BUCKET,
        s3_endpoint_url=settings.s3_endpoint_url,
        mail_backend="smtp",
        smtp_starttls="false",
        web_app_url=base,
    )
    with smtp_server(MailDrop(mail_dir)) as smtp:
        worker_env.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)})
        api_env = {**worker_env, "HOST": "127.0.0.1", "PORT": str(settings.port)}
        api_env["WEB_APP_DIR"] = str(web_dist)
        api_log = scratch / "api.log"
        # The database migrated first, as `scripts/run` and a deploy do: the API builds no index.
        subprocess.run(
            [sys.executable, str(ROOT / "service" / "main.py"), "--env", "test", "migrate"],
            env=api_env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        with (
            celery_worker(worker_env, scratch / "worker.log"),
            api_log.open("wb") as out,
        ):
            api = subprocess.Popen(
                [sys.executable, str(ROOT / "service" / "main.py"), "--env", "test"],
                env=api_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
            try:
                _wait_http(base + "/healthz/ready", api, api_log)
                browser = subprocess.run(
                    [str(NODE), "--test", "--test-reporter=spec", "e2e/app.e2e.mjs"],
                    cwd=WEB,
                    env={
                        **os.environ,
                        "BASE_URL": base,
                        "OTHER_ORIGIN_URL": f"http://localhost:{settings.port}",
                        "MAIL_DIR": str(mail_dir),
                        "ARTIFACTS_DIR": str(ARTIFACTS),
                        "CHROMIUM": CHROMIUM,
                        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
                    },
                    capture_output=True,
                    text=True,
                    timeout=240,
                    check=False,
                )
            finally:
                api.terminate()
                try:
                    api.wait(10)
                except subprocess.TimeoutExpired:
                    api.kill()
    report = browser.stdout + browser.stderr
    (ARTIFACTS / "report.txt").write_text(report)
    assert browser.returncode == 0, (
        f"{report[-6000:]}\n--- API log ---\n{api_log.read_text()[-3000:]}"
    )
