"""The kit's display text (service/core/text.py): NFC, no controls, no bidi overrides or
isolates, a length bound after normalisation."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
from pydantic import BaseModel, ValidationError

from service.core.text import DisplayText, MultilineText


class Body(BaseModel):
    name: Annotated[str, DisplayText(5)]
    notes: Annotated[str, MultilineText(12)] | None = None


@pytest.mark.parametrize(
    "bad",
    [
        "a\x00b",  # NUL
        "\x1b[31m",  # ANSI escape
        "a\r\nb",  # CR/LF in a single line
        "a\tb",
        "a\x7fb",  # DEL
        "a\x85b",  # C1 (NEL)
        "\x9b31m",  # C1 CSI
        "a\u202eb",  # right-to-left override
        "a\u2066b",  # left-to-right isolate
        "a\u2069",  # pop directional isolate
        "a\ud800",  # lone surrogate
        "abcdef",  # too long
        "   ",  # nothing once trimmed
        "",
    ],
)
def test_refused(bad: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Body(name=bad)
    assert raised.value.errors()[0]["loc"] == ("name",)


def test_normalised_and_trimmed() -> None:
    # "e" + combining acute (2 code points) becomes one: 5 characters after NFC.
    assert Body(name="  ce\u0301ab\u00e9 ").name == "c\u00e9ab\u00e9"
    assert (
        Body(name="\u0645\u0631\u062d\u0628\u0627").name == "\u0645\u0631\u062d\u0628\u0627"
    )  # RTL text itself is fine
    assert Body(name="👩‍💻").name == "👩‍💻"  # zero-width joiner (a format character) is fine


def test_multiline_keeps_line_feeds_only() -> None:
    assert Body(name="x", notes="a\r\nb\rc").notes == "a\nb\nc"
    with pytest.raises(ValidationError):
        Body(name="x", notes="a\x00b")
    with pytest.raises(ValidationError):
        Body(name="x", notes="a\u202eb")


def test_schema_states_the_real_bounds() -> None:
    schema = Body.model_json_schema()["properties"]["name"]
    assert schema["maxLength"] == 5
    assert schema["minLength"] == 1


@pytest.mark.parametrize(
    "text", ["abc", " a ", "   ", "", "a\x00", "a\u202eb", "a\nb", "\x85", "ab\u2069", "é"]
)
def test_the_documented_pattern_says_what_is_refused(text: str) -> None:
    """The OpenAPI pattern and the validator agree (a client, or a fuzzer, can trust it)."""
    pattern = Body.model_json_schema()["properties"]["name"]["pattern"]
    try:
        Body(name=text)
        accepted = True
    except ValidationError:
        accepted = False
    assert bool(re.search(pattern, text)) == accepted
