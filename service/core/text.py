"""Display text, validated once for every module: names, titles, notes a client sends and other
clients (or a terminal, a log viewer, a mail) show.

`Annotated[str, DisplayText(max_length)]` is the type of such a field in a request body (for an
optional one: `Annotated[str, DisplayText(n)] | None`). The text is NFC-normalised and refused
(422 problem+json naming the field) when it holds a control character (C0, DEL, C1: NUL, the
ESC of ANSI sequences, CR/LF), a bidi override or isolate (U+202A..U+202E, U+2066..U+2069: text
that displays in another order than it reads) or a lone surrogate; then trimmed, and refused
when longer than `max_length` code points or shorter than `min_length`.
`MultilineText(max_length)` allows line feeds (CR LF and CR become LF), nothing else of the
above.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# The same refusals as a JSON-schema pattern (ECMA-262 and Python `re` read it alike), so the
# OpenAPI document says what is refused: the characters no display text may hold, and (for a
# required text) at least one character that is not blank. (Lone surrogates, refused too, stay
# out of it: no regex engine of a JSON-schema validator takes them in a class.)
_REFUSED = r"\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
_LINE_REFUSED = _REFUSED.replace(r"\u0000-\u001f", r"\u0000-\u0009\u000b-\u001f")


def check_display_text(value: str, *, max_length: int, multiline: bool = False) -> str:
    """The clean text, or ValueError saying what is wrong with it (not echoing it)."""
    text = unicodedata.normalize("NFC", value)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for position, char in enumerate(text):
        category = unicodedata.category(char)
        if multiline and char == "\n":
            continue
        if category == "Cc":
            raise ValueError(f"control character U+{ord(char):04X} at position {position}")
        if char in BIDI_CONTROLS:
            raise ValueError(f"bidi control U+{ord(char):04X} at position {position}")
        if category == "Cs":
            raise ValueError(f"lone surrogate at position {position}")
    # Trimmed once nothing hidden is left (str.strip would also eat NEL and other C1 blanks).
    text = text.strip()
    if len(text) > max_length:
        raise ValueError(f"at most {max_length} characters")
    return text


@dataclass(frozen=True, slots=True)
class DisplayText:
    """Pydantic metadata for display text: `name: Annotated[str, DisplayText(200)]`."""

    max_length: int
    min_length: int = 1
    multiline: bool = False

    def clean(self, value: str) -> str:
        text = check_display_text(value, max_length=self.max_length, multiline=self.multiline)
        if len(text) < self.min_length:
            raise ValueError(f"at least {self.min_length} character(s) of text")
        return text

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # The raw bound keeps a huge value from being normalised at all (NFC grows a string
        # only a little); the exact bounds are checked on the normalised text.
        raw = core_schema.str_schema(max_length=self.max_length * 4, strip_whitespace=False)
        return core_schema.no_info_after_validator_function(self.clean, raw)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(minLength=self.min_length, maxLength=self.max_length)
        json_schema["pattern"] = self.pattern
        return json_schema

    @property
    def pattern(self) -> str:
        allowed = f"[^{_LINE_REFUSED if self.multiline else _REFUSED}]"
        if self.min_length == 0:
            return f"^{allowed}*$"
        visible = f"[^\\s{_REFUSED}]"
        return f"^{allowed}*{visible}{allowed}*$"


def MultilineText(max_length: int, *, min_length: int = 0) -> DisplayText:
    """Display text that may hold line feeds (notes, descriptions)."""
    return DisplayText(max_length, min_length=min_length, multiline=True)
