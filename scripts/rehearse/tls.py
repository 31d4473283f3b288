"""A throwaway certificate authority and server certificate for the stand-ins' TLS."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Sequence
from pathlib import Path

from scripts.rehearse.reporting import RehearsalError


@dataclasses.dataclass
class Tls:
    ca: Path
    cert: Path
    key: Path
    trust_store: Path  # this machine's CA bundle plus the rehearsal CA


def make_tls(directory: Path, addresses: Sequence[str]) -> Tls:
    """A throwaway CA and a server certificate for the given IP addresses (openssl)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, csr = directory / "server.pem", directory / "server.key", directory / "server.csr"
    ext = directory / "server.ext"
    sans = ",".join([*(f"IP:{a}" for a in addresses), "DNS:localhost"])
    ext.write_text(
        f"subjectAltName={sans}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for argv in (
        ["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=biwoco rehearsal CA"],
        ["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=biwoco rehearsal"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", ext],
    ):  # fmt: skip
        done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RehearsalError(f"openssl failed: {done.stderr.strip()}")
    key.chmod(0o644)  # the local servers run as root; nothing else reads the scratch dir
    system_bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    trust_store = directory / "ca-certificates.crt"
    system = system_bundle.read_text() if system_bundle.exists() else ""
    trust_store.write_text(system + ca.read_text())
    return Tls(ca=ca, cert=cert, key=key, trust_store=trust_store)
