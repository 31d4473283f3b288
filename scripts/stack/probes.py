"""Protocol probes: a real answer from Redis, a MongoDB wire server or S3, not just an open port."""

from __future__ import annotations

import socket
import struct
import urllib.error
import urllib.request

from scripts.stack.settings import HOST


def probe_redis(
    port: int, host: str = HOST, timeout: float = 1.0, password: str | None = None
) -> bool:
    """True when a Redis server answers PING with PONG (after AUTH when given a password)."""
    request = b"*1\r\n$4\r\nPING\r\n"
    if password is not None:
        secret = password.encode()
        request = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(secret), secret) + request
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request)
            reply = b""
            while reply.count(b"\r\n") < (2 if password is not None else 1):
                chunk = sock.recv(64)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return False
    return reply.removeprefix(b"+OK\r\n" if password is not None else b"").startswith(b"+PONG")


def _bson_ping(database: str) -> bytes:
    name = database.encode()
    body = (
        b"\x10ping\x00"
        + struct.pack("<i", 1)
        + b"\x02$db\x00"
        + struct.pack("<i", len(name) + 1)
        + name
        + b"\x00"
    )
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _bson_ok(document: bytes) -> bool:
    """Read the top-level `ok` field of a BSON document (double, int32, int64 or bool)."""
    pos = 4
    end = len(document) - 1
    fixed = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16}
    while pos < end:
        kind = document[pos]
        name_end = document.index(b"\x00", pos + 1)
        name = document[pos + 1 : name_end]
        pos = name_end + 1
        if name == b"ok":
            if kind == 0x01:
                return bool(struct.unpack_from("<d", document, pos)[0] == 1.0)
            if kind == 0x10:
                return bool(struct.unpack_from("<i", document, pos)[0] == 1)
            if kind == 0x12:
                return bool(struct.unpack_from("<q", document, pos)[0] == 1)
            if kind == 0x08:
                return document[pos] == 1
            return False
        if kind in fixed:
            pos += fixed[kind]
        elif kind in (0x02, 0x0D, 0x0E):  # string, code, symbol
            pos += 4 + struct.unpack_from("<i", document, pos)[0]
        elif kind in (0x03, 0x04):  # document, array
            pos += struct.unpack_from("<i", document, pos)[0]
        elif kind == 0x05:  # binary
            pos += 5 + struct.unpack_from("<i", document, pos)[0]
        else:  # a type we do not walk: give up on this reply
            return False
    return False


def probe_mongodb(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    """True when a MongoDB wire-protocol server answers an OP_MSG `ping` with ok: 1."""
    document = _bson_ping("admin")
    payload = struct.pack("<I", 0) + b"\x00" + document
    header = struct.pack("<iiii", 16 + len(payload), 1, 0, 2013)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(header + payload)
            length, _request_id, response_to, opcode = struct.unpack("<iiii", _recv_exact(sock, 16))
            if opcode != 2013 or response_to != 1 or not 21 <= length <= 48_000_000:
                return False
            body = _recv_exact(sock, length - 16)
    except (OSError, ConnectionError, struct.error):
        return False
    if body[4] != 0:  # section kind 0: the body document
        return False
    try:
        return _bson_ok(body[5:])
    except (ValueError, IndexError, struct.error):
        return False


def probe_s3(port: int, host: str = HOST, timeout: float = 2.0) -> bool:
    """True when an S3 endpoint answers ListBuckets on `/` over HTTP."""
    url = f"http://{host}:{port}/"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return b"ListAllMyBucketsResult" in response.read()
    except (OSError, urllib.error.URLError):
        return False
