"""Where the shared local stack lives: its folder, its loopback ports, its bucket and stand-in
credentials.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final, Literal

ROOT: Final = Path(__file__).resolve().parents[2]
STACK_DIR: Final = ROOT / ".stack"
LOG_DIR: Final = STACK_DIR / "logs"
ENV_FILE: Final = STACK_DIR / "env"

HOST: Final = "127.0.0.1"


def _port_offset() -> int:
    """STACK_PORT_OFFSET shifts every port, so two checkouts on one machine keep apart stacks."""
    raw = os.environ.get("STACK_PORT_OFFSET", "0").strip() or "0"
    try:
        offset = int(raw)
    except ValueError:
        raise SystemExit(f"stack: STACK_PORT_OFFSET must be an integer, not {raw!r}") from None
    if not 0 <= offset <= 5000:
        raise SystemExit(f"stack: STACK_PORT_OFFSET must be between 0 and 5000, not {offset}")
    return offset


PORT_OFFSET: Final = _port_offset()
REDIS_PORT: Final = 56379 + PORT_OFFSET
MONGODB_PORT: Final = 57017 + PORT_OFFSET
MOTO_PORT: Final = 55000 + PORT_OFFSET

MONGO_JAVA_SERVER_VERSION: Final = "1.47.0"  # keep equal to scripts/mongo_server/pom.xml
MONGO_SERVER_POM: Final = ROOT / "scripts" / "mongo_server" / "pom.xml"
MONGO_SERVER_LAUNCHER: Final = ROOT / "scripts" / "mongo_server" / "Launcher.java"
MIN_JAVA: Final = 17
MongoBackend = Literal["h2", "memory"]

DEFAULT_BUCKET: Final = "biwoco-local"
DUMMY_AWS_CREDENTIAL: Final = "testing"
DEFAULT_REGION: Final = "us-east-1"

SERVICES: Final = ("redis", "mongodb", "moto")
SERVICE_URL_VARS: Final = {
    "redis": "REDIS_URL",
    "mongodb": "MONGODB_URL",
    "moto": "S3_ENDPOINT_URL",
}
