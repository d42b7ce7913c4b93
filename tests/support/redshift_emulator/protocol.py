"""The few PostgreSQL wire-protocol (v3) messages the emulator reads or writes itself.

Every message after startup is ``type byte, int32 length (itself included), payload``; the startup
packets have no type byte. See PostgreSQL's "Frontend/Backend Protocol" chapter.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102

# Startup parameters PostgreSQL accepts from any client; Redshift drivers send others it rejects.
STARTUP_PARAMETERS = {
    "database",
    "application_name",
    "client_encoding",
    "options",
    "DateStyle",
    "datestyle",
    "TimeZone",
    "timezone",
    "extra_float_digits",
    "search_path",
    "intervalstyle",
    "IntervalStyle",
}


class Closed(Exception):
    """The other end went away."""


class Stream:
    """Buffered reads of whole messages from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise Closed
        self.buffer += chunk

    def read_exact(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def read_startup(self) -> bytes:
        """One startup packet (length-prefixed, no type byte); its payload."""
        (length,) = struct.unpack("!I", self.read_exact(4))
        if not 8 <= length <= 10_000:
            raise Closed
        return self.read_exact(length - 4)

    def read_message(self) -> tuple[int, bytes]:
        """One typed message: ``(type byte, whole raw message)``."""
        header = self.read_exact(5)
        (length,) = struct.unpack("!I", header[1:5])
        return header[0], header + self.read_exact(length - 4)

    def read_batch(self) -> list[tuple[int, bytes]]:
        """Every complete message already received (at least one: blocks for it)."""
        while True:
            messages, offset = [], 0
            view = self.buffer
            while len(view) - offset >= 5:
                (length,) = struct.unpack_from("!I", view, offset + 1)
                end = offset + 1 + length
                if end > len(view):
                    break
                messages.append((view[offset], bytes(view[offset:end])))
                offset = end
            if messages:
                del self.buffer[:offset]
                return messages
            self._fill()


def message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!I", len(payload) + 4) + payload


def startup_parameters(payload: bytes) -> tuple[int, dict[str, str]]:
    (version,) = struct.unpack("!I", payload[:4])
    parts = payload[4:].split(b"\x00")
    params = {}
    for key, value in zip(parts[0::2], parts[1::2], strict=False):
        if key:
            params[key.decode()] = value.decode()
    return version, params


def startup_packet(version: int, params: dict[str, str]) -> bytes:
    body = struct.pack("!I", version)
    for key, value in params.items():
        body += key.encode() + b"\x00" + value.encode() + b"\x00"
    body += b"\x00"
    return struct.pack("!I", len(body) + 4) + body


def query_text(raw: bytes) -> str:
    """The SQL of a simple-query ('Q') message."""
    return raw[5:-1].decode("utf-8", errors="surrogateescape")


def query_message(sql: str) -> bytes:
    return message(b"Q", sql.encode("utf-8", errors="surrogateescape") + b"\x00")


@dataclass
class Parse:
    """An extended-protocol Parse ('P') message."""

    name: bytes
    sql: str
    rest: bytes  # parameter count and types, kept as the client sent them

    @classmethod
    def read(cls, raw: bytes) -> Parse:
        payload = raw[5:]
        name_end = payload.index(b"\x00")
        query_end = payload.index(b"\x00", name_end + 1)
        sql = payload[name_end + 1 : query_end].decode("utf-8", errors="surrogateescape")
        return cls(payload[:name_end], sql, payload[query_end + 1 :])

    def encode(self, sql: str) -> bytes:
        return message(b"P", self.name + b"\x00" + sql.encode("utf-8", errors="surrogateescape") + b"\x00" + self.rest)


def bind_statement(raw: bytes) -> bytes:
    """The prepared statement's name in a Bind ('B') message (after the portal's name)."""
    payload = raw[5:]
    portal_end = payload.index(b"\x00")
    return payload[portal_end + 1 : payload.index(b"\x00", portal_end + 1)]


def close_statement(name: bytes) -> bytes:
    """A Close ('C') message for the prepared statement ``name``."""
    return message(b"C", b"S" + name + b"\x00")


def data_row(raw: bytes) -> list[str | None]:
    (count,) = struct.unpack_from("!H", raw, 5)
    offset, values = 7, []
    for _ in range(count):
        (length,) = struct.unpack_from("!i", raw, offset)
        offset += 4
        if length < 0:
            values.append(None)
        else:
            values.append(raw[offset : offset + length].decode())
            offset += length
    return values


def error_fields(raw: bytes) -> dict[str, str]:
    """The fields of an ErrorResponse ('E') or NoticeResponse: 'S' severity, 'C' code, 'M' message."""
    fields = {}
    for part in raw[5:].split(b"\x00"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


def error_message(kind: bytes, fields: dict[str, str]) -> bytes:
    """An ErrorResponse or NoticeResponse made of these fields."""
    body = b"".join(key.encode() + value.encode() + b"\x00" for key, value in fields.items())
    return message(kind, body + b"\x00")


def error_response(text: str, code: str = "08004") -> bytes:
    body = b"SFATAL\x00VFATAL\x00C" + code.encode() + b"\x00M" + text.encode() + b"\x00\x00"
    return message(b"E", body)


def backend_pid(raw: bytes) -> int:
    """The process id of a BackendKeyData ('K') message."""
    return struct.unpack_from("!I", raw, 5)[0]


AUTH_CLEARTEXT = message(b"R", struct.pack("!I", 3))
