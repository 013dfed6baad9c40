"""MS-TDS 7.4 encoding and decoding for the lab's SQL Server (pure functions, no sockets).

Only what pyodbc over FreeTDS and Microsoft ODBC Driver 17/18 exercise: PRELOGIN, LOGIN7,
SQLBatch and RPC requests in, result tokens out. Kept apart from the server so the byte layouts
can be unit-tested without a network.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from .api import Column, SqlError

# Packet types (MS-TDS 2.2.3.1.1).
PKT_BATCH = 0x01
PKT_RPC = 0x03
PKT_REPLY = 0x04
PKT_ATTENTION = 0x06
PKT_LOGIN7 = 0x10
PKT_PRELOGIN = 0x12
STATUS_EOM = 0x01
HEADER = struct.Struct(">BBHHBB")
PACKET_SIZE = 4096

TDS74 = 0x74000004
# Collation SQL_Latin1_General_CP1_CI_AS: LCID 0x0409, flags CI/AS, sort id 52.
COLLATION = b"\x09\x04\xd0\x00\x34"
PRODUCT = "Microsoft SQL Server"
PRODUCT_VERSION = (11, 0, 7001)  # SQL Server 2012 SP4, a Lync 2013 back end

# Tokens (MS-TDS 2.2.7).
TOK_COLMETADATA = 0x81
TOK_ERROR = 0xAA
TOK_INFO = 0xAB
TOK_RETURNVALUE = 0xAC
TOK_LOGINACK = 0xAD
TOK_ROW = 0xD1
TOK_ENVCHANGE = 0xE3
TOK_DONE = 0xFD
TOK_DONEPROC = 0xFE
TOK_DONEINPROC = 0xFF
TOK_RETURNSTATUS = 0x79

DONE_FINAL = 0x00
DONE_MORE = 0x01
DONE_ERROR = 0x02
DONE_COUNT = 0x10
DONE_ATTN = 0x20

# Built-in procedure ids of RPC requests (MS-TDS 2.2.6.6).
PROC_IDS = {
    10: "sp_executesql",
    11: "sp_prepare",
    12: "sp_execute",
    13: "sp_prepexec",
    15: "sp_unprepare",
}


class ProtocolError(Exception):
    """The client sent something this server does not understand; the connection closes."""


# ---------------------------------------------------------------- small writers


def b_varchar(text: str) -> bytes:
    data = text.encode("utf-16-le")
    return bytes([len(data) // 2]) + data


def us_varchar(text: str) -> bytes:
    data = text.encode("utf-16-le")
    return struct.pack("<H", len(data) // 2) + data


def packets(ptype: int, payload: bytes, *, eom: bool, size: int = PACKET_SIZE) -> list[bytes]:
    """Split ``payload`` into packets of at most ``size`` bytes; EOM on the last if ``eom``."""
    room = size - HEADER.size
    chunks = [payload[i : i + room] for i in range(0, len(payload), room)] or [b""]
    out = []
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        status = STATUS_EOM if (last and eom) else 0
        out.append(HEADER.pack(ptype, status, len(chunk) + HEADER.size, 0, (i + 1) % 256, 0) + chunk)
    return out


# ---------------------------------------------------------------- pre-login and login


ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0, 1, 2, 3  # PRELOGIN ENCRYPTION (MS-TDS 2.2.6.5)


def prelogin_encryption(payload: bytes) -> int | None:
    """The ENCRYPTION option a client's PRELOGIN carries (None: absent or malformed)."""
    i = 0
    while i + 5 <= len(payload) and payload[i] != 0xFF:
        token, offset, length = struct.unpack(">BHH", payload[i:i + 5])
        if token == 0x01 and length >= 1 and offset < len(payload):
            return int(payload[offset])
        i += 5
    return None


def prelogin_reply(encryption: int = ENCRYPT_NOT_SUP) -> bytes:
    """Version 11.0, the negotiated ENCRYPTION value (default: not supported), no instance, no MARS."""
    major, minor, build = PRODUCT_VERSION
    options = [
        (0x00, struct.pack(">BBHH", major, minor, build, 0)),
        (0x01, bytes([encryption])),
        (0x02, b"\x00"),
        (0x03, b""),
        (0x04, b"\x00"),
    ]
    offset = len(options) * 5 + 1
    head = b""
    body = b""
    for token, data in options:
        head += struct.pack(">BHH", token, offset + len(body), len(data))
        body += data
    return head + b"\xff" + body


@dataclass(frozen=True)
class Login:
    """The fields of a LOGIN7 record the lab uses. ``password`` never leaves the server."""

    tds_version: int
    packet_size: int
    host: str
    user: str
    password: str
    app: str
    server: str
    database: str
    sspi: bool

    def __repr__(self) -> str:
        return f"Login(user={self.user!r}, app={self.app!r}, database={self.database!r})"


def decode_password(data: bytes) -> str:
    """Undo the LOGIN7 obfuscation: XOR 0xA5, then swap the nibbles of each byte."""
    plain = bytearray()
    for b in data:
        x = b ^ 0xA5
        plain.append(((x << 4) & 0xF0) | (x >> 4))
    return plain.decode("utf-16-le")


def encode_password(text: str) -> bytes:
    """The client side of the obfuscation (for tests)."""
    out = bytearray()
    for b in text.encode("utf-16-le"):
        out.append((((b << 4) & 0xF0) | (b >> 4)) ^ 0xA5)
    return bytes(out)


def parse_login7(data: bytes) -> Login:
    if len(data) < 94:
        raise ProtocolError("LOGIN7 record too short")
    _length, version, packet_size = struct.unpack_from("<III", data, 0)

    def field(at: int, *, password: bool = False) -> str:
        offset, chars = struct.unpack_from("<HH", data, at)
        raw = data[offset : offset + chars * 2]
        return decode_password(raw) if password else raw.decode("utf-16-le")

    _sspi_off, sspi_len = struct.unpack_from("<HH", data, 78)
    return Login(
        tds_version=version,
        packet_size=packet_size,
        host=field(36),
        user=field(40),
        password=field(44, password=True),
        app=field(48),
        server=field(52),
        database=field(68),
        sspi=sspi_len > 0,
    )


def envchange(kind: int, new: str, old: str = "") -> bytes:
    body = bytes([kind]) + b_varchar(new) + b_varchar(old)
    return struct.pack("<BH", TOK_ENVCHANGE, len(body)) + body


def envchange_collation() -> bytes:
    body = bytes([7, len(COLLATION)]) + COLLATION + b"\x00"
    return struct.pack("<BH", TOK_ENVCHANGE, len(body)) + body


def loginack() -> bytes:
    major, minor, build = PRODUCT_VERSION
    body = (
        b"\x01"
        + struct.pack(">I", TDS74)
        + b_varchar(PRODUCT)
        + struct.pack(">BBH", major, minor, build)
    )
    return struct.pack("<BH", TOK_LOGINACK, len(body)) + body


def login_reply(database: str, server_name: str) -> bytes:
    return (
        envchange(1, database, "master")
        + envchange_collation()
        + envchange(2, "us_english")
        + message(TOK_INFO, 5701, f"Changed database context to '{database}'.", 0, 2, server_name)
        + loginack()
        + envchange(4, str(PACKET_SIZE), str(PACKET_SIZE))
        + done(TOK_DONE, DONE_FINAL)
    )


# ---------------------------------------------------------------- result tokens


def message(token: int, number: int, text: str, severity: int, state: int, server: str,
            line: int = 1) -> bytes:
    body = (
        struct.pack("<iBB", number, state, severity)
        + us_varchar(text)
        + b_varchar(server)
        + b_varchar("")
        + struct.pack("<i", line)
    )
    return struct.pack("<BH", token, len(body)) + body


def error_token(err: SqlError, server: str) -> bytes:
    return message(TOK_ERROR, err.number, err.message, err.severity, err.state, server, err.line)


def done(token: int, status: int, rowcount: int = 0, curcmd: int = 0xC1) -> bytes:
    return struct.pack("<BHHQ", token, status, curcmd, rowcount)


def returnstatus(value: int) -> bytes:
    return struct.pack("<Bi", TOK_RETURNSTATUS, value)


# type byte, type info after the type byte
_TYPEINFO: dict[str, tuple[int, bytes]] = {
    "int": (0x26, b"\x04"),
    "bigint": (0x26, b"\x08"),
    "bit": (0x68, b"\x01"),
    "float": (0x6D, b"\x08"),
    "datetime": (0x6F, b"\x08"),
    "uniqueidentifier": (0x24, b"\x10"),
    "nvarchar": (0xE7, struct.pack("<H", 8000) + COLLATION),
    "varbinary": (0xA5, struct.pack("<H", 8000)),
}


def colmetadata(cols: Sequence[Column]) -> bytes:
    out = bytearray(struct.pack("<BH", TOK_COLMETADATA, len(cols)))
    for col in cols:
        ptype, info = _TYPEINFO[col.type]
        flags = 0x0008 | (0x0001 if col.nullable else 0)  # updateable-unknown, nullable
        out += struct.pack("<IHB", 0, flags, ptype) + info + b_varchar(col.name)
    return bytes(out)


_EPOCH = dt.datetime(1900, 1, 1)


def encode_value(ctype: str, value: object) -> bytes:
    """One column value of a ROW token, or raise :class:`ValueError` naming the mismatch."""
    if value is None:
        return b"\xff\xff" if ctype in ("nvarchar", "varbinary") else b"\x00"
    if ctype in ("int", "bigint"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{ctype} column needs an int, got {type(value).__name__}")
        return b"\x04" + struct.pack("<i", value) if ctype == "int" else b"\x08" + struct.pack("<q", value)
    if ctype == "bit":
        return b"\x01" + (b"\x01" if value else b"\x00")
    if ctype == "float":
        if not isinstance(value, int | float):
            raise ValueError(f"float column needs a number, got {type(value).__name__}")
        return b"\x08" + struct.pack("<d", float(value))
    if ctype == "datetime":
        if not isinstance(value, dt.datetime):
            raise ValueError(f"datetime column needs a datetime, got {type(value).__name__}")
        delta = value.replace(tzinfo=None) - _EPOCH
        days = delta.days
        ticks = round((delta.seconds + delta.microseconds / 1e6) * 300)
        if ticks >= 300 * 86400:
            days, ticks = days + 1, 0
        return b"\x08" + struct.pack("<iI", days, ticks)
    if ctype == "uniqueidentifier":
        if not isinstance(value, uuid.UUID):
            raise ValueError(f"uniqueidentifier column needs a UUID, got {type(value).__name__}")
        return b"\x10" + value.bytes_le
    if ctype == "nvarchar":
        data = str(value).encode("utf-16-le")
        if len(data) > 8000:
            raise ValueError("nvarchar value longer than 4000 characters")
        return struct.pack("<H", len(data)) + data
    if ctype == "varbinary":
        if not isinstance(value, bytes | bytearray | memoryview):
            raise ValueError(f"varbinary column needs bytes, got {type(value).__name__}")
        raw = bytes(value)
        if len(raw) > 8000:
            raise ValueError("varbinary value longer than 8000 bytes")
        return struct.pack("<H", len(raw)) + raw
    raise ValueError(f"unknown column type {ctype}")


def row(cols: Sequence[Column], values: Sequence[object]) -> bytes:
    if len(values) != len(cols):
        raise ValueError(f"row has {len(values)} values for {len(cols)} columns")
    return bytes([TOK_ROW]) + b"".join(encode_value(c.type, v) for c, v in zip(cols, values, strict=True))


def returnvalue_int(ordinal: int, name: str, value: int) -> bytes:
    return (
        struct.pack("<BH", TOK_RETURNVALUE, ordinal)
        + b_varchar(name)
        + struct.pack("<BIHBB", 0x01, 0, 0x0009, 0x26, 4)
        + b"\x04"
        + struct.pack("<i", value)
    )


# ---------------------------------------------------------------- requests


def skip_all_headers(data: bytes) -> int:
    """Offset after the ALL_HEADERS block that TDS 7.2+ puts before a batch or RPC."""
    if len(data) < 4:
        return 0
    (total,) = struct.unpack_from("<I", data, 0)
    return total if 4 <= total <= len(data) else 0


def parse_batch(data: bytes) -> str:
    return data[skip_all_headers(data) :].decode("utf-16-le")


@dataclass(frozen=True)
class RpcParam:
    name: str
    output: bool
    value: object


@dataclass(frozen=True)
class RpcCall:
    proc: str
    params: tuple[RpcParam, ...]


class _Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolError("request ends early")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def unpack(self, fmt: str) -> tuple[object, ...]:
        st = struct.Struct("<" + fmt)
        return st.unpack(self.take(st.size))

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "little")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "little")

    def ucs2(self, chars: int) -> str:
        return self.take(chars * 2).decode("utf-16-le")

    @property
    def at_end(self) -> bool:
        return self.pos >= len(self.data)


def parse_rpc(data: bytes) -> list[RpcCall]:
    """Decode an RPC request (one or more calls separated by batch flags)."""
    rd = _Reader(data, skip_all_headers(data))
    calls = []
    while not rd.at_end:
        namelen = rd.u16()
        if namelen == 0xFFFF:
            pid = rd.u16()
            proc = PROC_IDS.get(pid, f"proc#{pid}")
        else:
            proc = rd.ucs2(namelen)
        rd.u16()  # option flags
        params: list[RpcParam] = []
        while not rd.at_end and rd.data[rd.pos] not in (0x80, 0xFF, 0xFE):
            name = rd.ucs2(rd.u8())
            status = rd.u8()
            value = _read_typed_value(rd)
            params.append(RpcParam(name, bool(status & 0x01), value))
        calls.append(RpcCall(proc, tuple(params)))
        if not rd.at_end:
            rd.u8()  # batch separator
    return calls


_FIXED = {0x30: 1, 0x32: 1, 0x34: 2, 0x38: 4, 0x7F: 8, 0x3A: 4, 0x3B: 4, 0x3C: 8, 0x3D: 8,
          0x3E: 8, 0x7A: 4, 0x1F: 0}
_BYTELEN = {0x26, 0x68, 0x6D, 0x6E, 0x6F, 0x24, 0x6A, 0x6C}
_USHORT_COLLATED = {0xA7, 0xAF, 0xE7, 0xEF}
_USHORT = {0xA5, 0xAD} | _USHORT_COLLATED
_NCHAR = {0xE7, 0xEF}


def _read_typed_value(rd: _Reader) -> object:
    t = rd.u8()
    if t in _FIXED:
        return _decode_fixed(t, rd.take(_FIXED[t]))
    if t in _BYTELEN:
        rd.u8()  # max length
        precision_scale = rd.take(2) if t in (0x6A, 0x6C) else b""
        n = rd.u8()
        if n == 0:
            return None
        raw = rd.take(n)
        return _decode_bytelen(t, raw, precision_scale)
    if t == 0x28:  # DATEN
        n = rd.u8()
        return None if n == 0 else _date(rd.take(n))
    if t in (0x29, 0x2A, 0x2B):  # TIMEN, DATETIME2N, DATETIMEOFFSETN
        scale = rd.u8()
        n = rd.u8()
        if n == 0:
            return None
        return _decode_time_family(t, rd.take(n), scale)
    if t in _USHORT:
        maxlen = rd.u16()
        if t in _USHORT_COLLATED:
            rd.take(5)
        if maxlen == 0xFFFF:
            raw_plp = _read_plp(rd)
            return None if raw_plp is None else _decode_chars(t, raw_plp)
        n = rd.u16()
        return None if n == 0xFFFF else _decode_chars(t, rd.take(n))
    if t in (0x23, 0x63, 0x22):  # TEXT, NTEXT, IMAGE
        rd.u32()
        if t != 0x22:
            rd.take(5)
        n = rd.u32()
        if n == 0xFFFFFFFF:
            return None
        raw = rd.take(n)
        return raw if t == 0x22 else raw.decode("utf-16-le" if t == 0x63 else "cp1252")
    raise ProtocolError(f"parameter type 0x{t:02x} is not supported by the lab")


def _read_plp(rd: _Reader) -> bytes | None:
    total = int.from_bytes(rd.take(8), "little")
    if total == 0xFFFFFFFFFFFFFFFF:
        return None
    out = bytearray()
    while True:
        n = rd.u32()
        if n == 0:
            return bytes(out)
        out += rd.take(n)


def _decode_chars(t: int, raw: bytes) -> object:
    if t in _NCHAR:
        return raw.decode("utf-16-le")
    if t in (0xA5, 0xAD):
        return raw
    return raw.decode("cp1252")


def _decode_fixed(t: int, raw: bytes) -> object:
    if t == 0x1F:
        return None
    if t == 0x32:
        return bool(raw[0])
    if t in (0x30, 0x34, 0x38, 0x7F):
        return int.from_bytes(raw, "little", signed=t != 0x30)
    if t == 0x3B:
        return struct.unpack("<f", raw)[0]
    if t == 0x3E:
        return struct.unpack("<d", raw)[0]
    return _decode_bytelen({0x3A: 0x6F, 0x3D: 0x6F, 0x3C: 0x6E, 0x7A: 0x6E}[t], raw, b"")


def _decode_bytelen(t: int, raw: bytes, ps: bytes) -> object:
    if t == 0x26:
        return int.from_bytes(raw, "little", signed=len(raw) > 1)
    if t == 0x68:
        return bool(raw[0])
    if t == 0x6D:
        return struct.unpack("<f" if len(raw) == 4 else "<d", raw)[0]
    if t == 0x24:
        return uuid.UUID(bytes_le=raw)
    if t == 0x6F:
        if len(raw) == 4:
            days, minutes = struct.unpack("<HH", raw)
            return _EPOCH + dt.timedelta(days=days, minutes=minutes)
        days, ticks = struct.unpack("<iI", raw)
        return _EPOCH + dt.timedelta(days=days, milliseconds=round(ticks * 10 / 3))
    if t == 0x6E:
        if len(raw) == 4:
            return decimal.Decimal(int.from_bytes(raw, "little", signed=True)) / 10000
        hi, lo = struct.unpack("<iI", raw)
        return decimal.Decimal((hi << 32) + lo) / 10000
    # DECIMALN / NUMERICN
    scale = ps[1]
    magnitude = int.from_bytes(raw[1:], "little")
    sign = 1 if raw[0] else -1
    return decimal.Decimal(sign * magnitude).scaleb(-scale)


def _date(raw: bytes) -> dt.date:
    return dt.date(1, 1, 1) + dt.timedelta(days=int.from_bytes(raw[:3], "little"))


def _decode_time_family(t: int, raw: bytes, scale: int) -> object:
    tlen = {0: 3, 1: 3, 2: 3, 3: 4, 4: 4, 5: 5, 6: 5, 7: 5}[scale]
    units = int.from_bytes(raw[:tlen], "little")
    micro = units * 10**6 // 10**scale
    time = (dt.datetime.min + dt.timedelta(microseconds=micro)).time()
    if t == 0x29:
        return time
    stamp = dt.datetime.combine(_date(raw[tlen : tlen + 3]), time)
    if t == 0x2B:
        offset = int.from_bytes(raw[tlen + 3 : tlen + 5], "little", signed=True)
        tz = dt.timezone(dt.timedelta(minutes=offset))
        return stamp.replace(tzinfo=dt.UTC).astimezone(tz)
    return stamp


# ---------------------------------------------------------------- placeholders

_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\[(?:[^\]]|\]\])*\]|\"(?:[^\"]|\"\")*\"|@P(\d+)\b",
                          re.IGNORECASE)


def placeholders_to_qmarks(sql: str) -> tuple[str, list[int]]:
    """Rewrite the drivers' ``@P1``.. back to the ``?`` the caller wrote.

    Returns the rewritten text and the parameter numbers in order of appearance, so values can
    be matched even if a driver reordered them. Quoted strings and identifiers are left alone.
    """
    order: list[int] = []

    def repl(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)
        order.append(int(m.group(1)))
        return "?"

    return _PLACEHOLDER.sub(repl, sql), order
