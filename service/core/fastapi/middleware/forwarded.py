"""The client's address and scheme behind the platform's proxies (CloudFront, then the ALB).

Each proxy appends the address it was connected from to X-Forwarded-For; anything a client
sent itself stands left of those entries. The platform knows how many proxies append (deployed:
CloudFront the viewer's address, then the ALB CloudFront's), so the client is the entry the
outermost one wrote: the `trusted_hops`-th from the right. Walking right to left past trusted
addresses (uvicorn's way) cannot work here: CloudFront reaches the ALB from its public
origin-facing ranges, not from the VPC. Headers are believed only from a peer in
`trusted_peers` (the ALB: the VPC's CIDR); a chain our proxies cannot have written keeps the
peer's address.
"""

from __future__ import annotations

import functools
import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

_SECURE = frozenset({"https", "wss"})
_SCHEMES = _SECURE | {"http", "ws"}


class ForwardedMiddleware:
    def __init__(self, app: ASGIApp, *, trusted_peers: str, trusted_hops: int) -> None:
        self.app = app
        self.trusted_hops = trusted_hops
        entries = [entry.strip() for entry in trusted_peers.split(",") if entry.strip()]
        self._trust_every_peer = "*" in entries  # local and test only (Settings refuses it)
        self._networks = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in entries if entry != "*"
        )
        # The peers are the ALB's few addresses: decide once per address.
        self._is_trusted = functools.lru_cache(maxsize=1024)(self._trusts)

    def _trusts(self, host: str) -> bool:
        if self._trust_every_peer:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped  # a dual-stack socket reports IPv4 peers this way
        return any(address in network for network in self._networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            if peer and self._is_trusted(peer[0]):
                self._apply(scope)
        await self.app(scope, receive, send)

    def _apply(self, scope: Scope) -> None:
        forwarded_for: list[bytes] = []
        proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded_for.append(value)  # repeated headers are one comma-separated list
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").strip().lower()
        if proto in _SCHEMES:
            secure = proto in _SECURE
            if scope["type"] == "websocket":
                scope["scheme"] = "wss" if secure else "ws"
            else:
                scope["scheme"] = "https" if secure else "http"
        if self.trusted_hops and forwarded_for:
            client = self._client(b",".join(forwarded_for).decode("latin-1"))
            if client is not None:
                scope["client"] = (client, 0)

    def _client(self, forwarded_for: str) -> str | None:
        """The address the outermost trusted proxy appended, or None when the right-most
        `trusted_hops` entries are not all addresses: a chain our proxies did not write (a
        request that bypassed one of them, or a broken header) is not believed at all."""
        entries = forwarded_for.split(",")
        if len(entries) < self.trusted_hops:
            return None
        written_by_proxies = [entry.strip() for entry in entries[-self.trusted_hops :]]
        if any("%" in entry for entry in written_by_proxies):
            return None  # an IPv6 zone: free text after the address, and no proxy writes one
        try:
            addresses = [ipaddress.ip_address(entry) for entry in written_by_proxies]
        except ValueError:
            return None
        return str(addresses[0])  # canonical text: the access line gets an address, not input
