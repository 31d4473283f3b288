"""Magic numbers and safe filenames: pure rules, no I/O."""

from __future__ import annotations

import pytest

from service.app.files.domain.content import (
    content_disposition,
    matches_content_type,
    sanitize_filename,
)
from tests.service.app.files.conftest import PDF, PNG


@pytest.mark.parametrize(
    ("content_type", "head", "expected"),
    [
        ("image/png", PNG, True),
        ("application/pdf", PDF, True),
        ("application/pdf", PNG, False),  # a PNG declared as PDF
        ("image/png", PDF, False),
        ("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF", True),
        ("image/gif", b"GIF89a\x01\x00", True),
        ("image/webp", b"RIFF\x24\x00\x00\x00WEBPVP8 ", True),
        ("image/webp", b"RIFF\x24\x00\x00\x00WAVEfmt ", False),
        ("text/plain", "héllo wörld\n".encode(), True),
        ("text/plain", "é".encode()[:1], True),  # a character cut at the sample's end
        ("text/plain", b"\xff\xfe bad", False),
        ("text/plain", b"MZ\x90\x00\x03\x00", False),  # binary (NUL) declared as text
        ("application/x-unknown", b"anything", False),
        ("image/png", b"", False),
    ],
)
def test_leading_bytes_must_fit_the_declared_type(
    content_type: str, head: bytes, expected: bool
) -> None:
    assert matches_content_type(content_type, head) is expected


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\photo.png", "photo.png"),
        ('a"b;c\r\nSet-Cookie: x.png', "a_b_c__Set-Cookie_ x.png"),
        ("  .hidden.  ", "hidden"),
        ("../..", ""),
        ("x" * 300, "x" * 255),
    ],
)
def test_sanitize_filename_drops_paths_and_header_breaking_characters(raw: str, clean: str) -> None:
    assert sanitize_filename(raw) == clean


def test_content_disposition_is_an_attachment_with_ascii_and_utf8_names() -> None:
    header = content_disposition('résumé "final".pdf')
    assert header == (
        'attachment; filename="resume _final_.pdf"; '
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20_final_.pdf"
    )
    assert "\r" not in content_disposition("a\r\nb")
    assert "\n" not in content_disposition("a\nb")
    assert content_disposition("../..").startswith('attachment; filename="download"')
