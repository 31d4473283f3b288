"""The SMTP adapter against a real SMTP server on loopback (aiosmtpd): STARTTLS with a verified
certificate, authentication, and which failures are transient or permanent."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from service.core.config import Settings
from service.core.helpers.mail import (
    LoggingMailer,
    OutgoingEmail,
    PermanentMailError,
    TransientMailError,
)
from service.core.helpers.mail.backends import build_mailer
from service.core.helpers.mail.smtp import SmtpMailer
from tests.service.core.celery_task.processes import RecordingHandler, free_port, smtp_server

MAIL = OutgoingEmail(to="ada@example.com", subject="Hi", text="token: abc123\n", kind="test")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate = CA file, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == b"mailer" and auth_data.password == b"s3cret-pass"
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def tls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[RecordingHandler, int]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    handler = RecordingHandler()
    with smtp_server(
        handler,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    ) as controller:
        yield handler, controller.port


@pytest.fixture(scope="module")
def plain_server() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    with smtp_server(handler) as controller:
        yield handler, controller.port


def tls_mailer(port: int, ca_file: Path | None, password: str = "s3cret-pass") -> SmtpMailer:
    return SmtpMailer(
        host="127.0.0.1",
        port=port,
        sender="biwoco <no-reply@biwoco.test>",
        starttls=True,
        ca_file=str(ca_file) if ca_file else None,
        username="mailer",
        password=password,
    )


async def test_starttls_with_a_verified_certificate_and_login(
    tls_server: tuple[RecordingHandler, int], certificate: tuple[Path, Path]
) -> None:
    handler, port = tls_server
    await tls_mailer(port, certificate[0]).send(MAIL, message_id="m-1")
    [mail] = handler.accepted_for("ada@example.com")
    assert mail["Subject"] == "Hi"
    assert mail["From"] == "biwoco <no-reply@biwoco.test>"
    assert mail["Message-ID"] == "<m-1@biwoco.test>"
    assert "token: abc123" in mail.get_payload()


async def test_an_untrusted_certificate_is_a_permanent_error(
    tls_server: tuple[RecordingHandler, int],
) -> None:
    _, port = tls_server
    with pytest.raises(PermanentMailError, match="certificate"):
        await tls_mailer(port, ca_file=None).send(MAIL, message_id="m-2")


async def test_wrong_credentials_are_a_permanent_error(
    tls_server: tuple[RecordingHandler, int], certificate: tuple[Path, Path]
) -> None:
    _, port = tls_server
    with pytest.raises(PermanentMailError):
        await tls_mailer(port, certificate[0], password="wrong").send(MAIL, message_id="m-3")


def plain_mailer(port: int) -> SmtpMailer:
    return SmtpMailer(host="127.0.0.1", port=port, sender="no-reply@biwoco.test", starttls=False)


async def test_a_4xx_answer_is_transient(plain_server: tuple[RecordingHandler, int]) -> None:
    handler, port = plain_server
    handler.script["busy@example.com"] = ["451 4.3.0 Try again later"]
    with pytest.raises(TransientMailError):
        await plain_mailer(port).send(
            OutgoingEmail(to="busy@example.com", subject="s", text="t"), message_id="m-4"
        )


async def test_a_5xx_answer_is_permanent(plain_server: tuple[RecordingHandler, int]) -> None:
    handler, port = plain_server
    handler.script["gone@example.com"] = ["550 5.1.1 No such user"]
    with pytest.raises(PermanentMailError):
        await plain_mailer(port).send(
            OutgoingEmail(to="gone@example.com", subject="s", text="t"), message_id="m-5"
        )


async def test_an_unreachable_server_is_transient() -> None:
    with pytest.raises(TransientMailError):
        await plain_mailer(free_port()).send(MAIL, message_id="m-6")


def test_the_backend_setting_picks_the_adapter(settings: Settings) -> None:
    assert isinstance(build_mailer(settings), LoggingMailer)
    smtp = settings.model_copy(
        update={
            "mail_backend": "smtp",
            "smtp_host": "email-smtp.eu-west-1.amazonaws.com",
            "smtp_username": "AKIA",
            "smtp_password": SecretStr("from-secrets-manager"),
        }
    )
    assert isinstance(build_mailer(smtp), SmtpMailer)


async def test_the_logging_mailer_never_logs_the_body(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    await LoggingMailer().send(MAIL, message_id="m-7")
    assert "abc123" not in caplog.text
    assert any(getattr(r, "to", None) == "ada@example.com" for r in caplog.records)
