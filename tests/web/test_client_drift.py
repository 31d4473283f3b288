"""The committed client can never drift from the API: a fresh export of the OpenAPI document and
a fresh generation of its types must equal the committed files (`scripts/web client` updates
both)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from scripts.openapi import openapi_document, render
from tests.web.node import NODE, WEB, scripts_web

COMMITTED_DOCUMENT = WEB / "src" / "api" / "openapi.json"
COMMITTED_TYPES = WEB / "src" / "api" / "schema.d.ts"
GENERATOR = WEB / "node_modules" / "openapi-typescript" / "bin" / "cli.js"
HINT = "the API changed: run `scripts/web client` and commit web/src/api"


def test_the_committed_openapi_document_is_the_services_own() -> None:
    assert COMMITTED_DOCUMENT.read_text(encoding="utf-8") == render(openapi_document()), HINT


def test_the_committed_client_types_are_generated_from_that_document(tmp_path: Path) -> None:
    scripts_web("install")
    document = tmp_path / "openapi.json"
    document.write_text(render(openapi_document()), encoding="utf-8")
    generated = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(NODE), str(GENERATOR), str(document), "--output", str(generated)],
        cwd=WEB,
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert COMMITTED_TYPES.read_text(encoding="utf-8") == generated.read_text(encoding="utf-8"), (
        HINT
    )


def test_problem_details_reach_the_client_typed() -> None:
    # Every error response of the document is problem+json, so openapi-fetch types `error`.
    types = COMMITTED_TYPES.read_text(encoding="utf-8")
    assert '"application/problem+json": components["schemas"]["Problem"]' in types
    assert "Problem: {" in types
