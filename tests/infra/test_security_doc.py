"""docs/security.md lists every cdk-nag acknowledgement made in code."""

from __future__ import annotations

import re

from infra.config import REPO_ROOT
from infra.nag import ACKNOWLEDGEMENTS
from tests.infra.conftest import Synth

DOC = REPO_ROOT / "docs" / "security.md"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_every_acknowledgement_is_documented(synth: Synth) -> None:
    assert synth.stages  # the session synthesis populated ACKNOWLEDGEMENTS
    doc = _norm(DOC.read_text(encoding="utf-8"))
    assert ACKNOWLEDGEMENTS
    missing = [
        f"{a.rule} ({a.path}): {a.reason}"
        for a in ACKNOWLEDGEMENTS
        if f"`{a.rule}`" not in doc or _norm(a.reason) not in doc
    ]
    assert missing == []


def test_nobody_acknowledges_around_the_helper() -> None:
    offenders = [
        str(path)
        for path in (REPO_ROOT / "infra").rglob("*.py")
        if path.name != "nag.py" and "Acknowledgment" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
