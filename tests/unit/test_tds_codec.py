"""Byte layouts of the lab's TDS codec, without a network."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.tds import codec
from lab.tds.api import Column
from lab.tds.toy import parse_bracketed


@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=64))
def test_password_obfuscation_round_trips(pw: str) -> None:
    assert codec.decode_password(codec.encode_password(pw)) == pw


def test_known_obfuscated_byte() -> None:
    # MS-TDS: 'a' (0x61 0x00) -> swap nibbles 0x16 0x00 -> xor 0xA5 -> 0xB3 0xA5
    assert codec.encode_password("a") == b"\xb3\xa5"


def test_packets_split_at_4096_and_mark_only_the_last_eom() -> None:
    payload = bytes(range(256)) * 40  # 10240 bytes -> 3 packets
    pkts = codec.packets(codec.PKT_REPLY, payload, eom=True)
    assert [len(p) for p in pkts] == [4096, 4096, 8 + 10240 - 2 * 4088]
    assert [p[1] for p in pkts] == [0, 0, codec.STATUS_EOM]
    assert b"".join(p[8:] for p in pkts) == payload


def test_prelogin_reply_says_encryption_not_supported() -> None:
    reply = codec.prelogin_reply()
    token, offset, length = struct.unpack_from(">BHH", reply, 5)
    assert (token, length) == (1, 1) and reply[offset] == 2


def test_placeholders_become_qmarks_outside_quotes() -> None:
    sql, order = codec.placeholders_to_qmarks("SELECT @P1, '@P2', [@P3], N'it''s @P9', @P2")
    assert sql == "SELECT ?, '@P2', [@P3], N'it''s @P9', ?"
    assert order == [1, 2]


def _rpc_param(name: str, type_and_value: bytes) -> bytes:
    return codec.b_varchar(name) + b"\x00" + type_and_value


def test_rpc_sp_executesql_with_plp_statement_and_params() -> None:
    stmt = "SELECT @P1, @P2, @P3".encode("utf-16-le")
    plp = struct.pack("<Q", len(stmt)) + struct.pack("<I", 10) + stmt[:10] + \
        struct.pack("<I", len(stmt) - 10) + stmt[10:] + b"\x00\x00\x00\x00"
    text = "it's".encode("utf-16-le")
    body = (
        struct.pack("<I", 22) + struct.pack("<IHQI", 18, 2, 0, 1)  # ALL_HEADERS
        + struct.pack("<HHH", 0xFFFF, 10, 0)
        + _rpc_param("", b"\xe7\xff\xff" + codec.COLLATION + plp)
        + _rpc_param("", b"\xe7\x40\x00" + codec.COLLATION
                     + struct.pack("<H", 14) + "@P1 int".encode("utf-16-le"))
        + _rpc_param("@P1", b"\x26\x04\x04" + struct.pack("<i", -7))
        + _rpc_param("@P2", b"\xe7\x40\x00" + codec.COLLATION + struct.pack("<H", len(text)) + text)
        + _rpc_param("@P3", b"\x26\x08\x00")  # NULL bigint
    )
    (call,) = codec.parse_rpc(body)
    assert call.proc == "sp_executesql"
    assert [p.value for p in call.params] == ["SELECT @P1, @P2, @P3", "@P1 int", -7, "it's", None]


def test_row_rejects_a_value_of_the_wrong_type() -> None:
    with pytest.raises(ValueError, match="int column needs an int"):
        codec.row([Column("n", "int")], ["seven"])


def test_bracket_parser_undoubles() -> None:
    assert parse_bracketed("[a]]b] rest", 0) == ("a]b", 6)
