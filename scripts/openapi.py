"""Write the service's OpenAPI document (from `create_app()`, offline: nothing is started).

    python scripts/openapi.py web/src/api/openapi.json   # or `-` for stdout

The web client's types are generated from this file (`scripts/web client`), and
tests/web/test_client_drift.py fails when the committed copies differ from a fresh export.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def openapi_document() -> dict[str, Any]:
    from service.app.server import create_app
    from service.app.settings import load_settings

    # The document describes the API, not a deployment: no release in its version, and the
    # same settings wherever it is exported.
    app = create_app(load_settings("test", release=None))
    return app.openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/openapi.py OUTPUT.json|-", file=sys.stderr)
        return 2
    text = render(openapi_document())
    if argv[0] == "-":
        sys.stdout.write(text)
    else:
        Path(argv[0]).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
