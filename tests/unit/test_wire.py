"""Unit tests for the neutral wire model: the registry, the RFB adapter and the Xpra decoder.

Xpra packets are built here byte by byte: a bencoder of our own (not the decoder under test), the 8-byte
``!cBBBL`` header, and zlib / lz4 / brotli compression as the Xpra server does it.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import brotli
import lz4.block
import pytest

from conformance.oracles import rfb as rfb_oracle
from conformance.oracles import wire
from conformance.oracles.wire import xpra
from tests.unit.test_rfb import (
    client_handshake,
    cut_text,
    ext_caps,
    ext_notify,
    ext_provide,
    fb_update_request,
    key,
    pointer,
    sample_update,
    server_handshake,
    set_encodings,
    set_pixel_format,
    type_text,
)

# --- Xpra builders ----------------------------------------------------------------------------------------


def benc(v: Any) -> bytes:
    if isinstance(v, bool):
        return b"i%de" % int(v)
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode("utf-8")
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, (list, tuple)):
        return b"l" + b"".join(benc(x) for x in v) + b"e"
    if isinstance(v, dict):
        return b"d" + b"".join(benc(k) + benc(x) for k, x in v.items()) + b"e"
    raise TypeError(type(v))


def frame(body: bytes, *, flags: int = 0, level: int = 0, chunk: int = 0) -> bytes:
    return struct.pack("!cBBBL", b"P", flags, level, chunk, len(body)) + body


def compress(body: bytes, how: str) -> tuple[int, bytes]:
    if how == "zlib":
        return 5, zlib.compress(body, 5)
    if how == "lz4":
        return 0x10 | 5, lz4.block.compress(body)  # store_size: u32 LE size prefix, as python-lz4 in Xpra
    if how == "brotli":
        return 0x40 | 5, brotli.compress(body)
    return 0, body


def packet(*items: Any, how: str = "none") -> bytes:
    level, body = compress(benc(list(items)), how)
    return frame(body, level=level)


def chunked(items: list[Any], index: int, data: bytes, how: str = "none") -> bytes:
    """A raw chunk for item ``index`` (compressed as ``how``) followed by the main packet with a placeholder."""
    level, body = compress(data, how)
    main = list(items)
    main[index] = b""
    return frame(body, level=level, chunk=index) + packet(*main)


def split(stream: bytes, direction: str, sizes: tuple[int, ...] = (3, 50, 7, 200)) -> list[tuple[str, bytes]]:
    out = []
    pos = i = 0
    while pos < len(stream):
        n = sizes[i % len(sizes)]
        out.append((direction, stream[pos:pos + n]))
        pos += n
        i += 1
    return out


def interleave(*lists: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    out = []
    for i in range(max(len(x) for x in lists)):
        out += [x[i] for x in lists if i < len(x)]
    return out


def keypress(keyname: str, string: str | bytes, modifiers: list[str], pressed: bool = True) -> bytes:
    return packet("key-action", 1, keyname, pressed, modifiers, 0, string, 0, 0)


def type_keys(text: str) -> bytes:
    return b"".join(keypress(c, c, []) + keypress(c, c, [], False) for c in text)


# lz4 keeps the first occurrence of a string as a literal; this canary is made of earlier text so that
# neither lz4 nor zlib / brotli leave it readable in the compressed bytes.
PREFIX = "ABCDEFGHIJKLMNOP 0123456789 " * 4
S2C_CANARY = "ABCDEFGHIJKLMNOP 0123456789-S2C"
SERVER_HELLO = {"version": "3.1.3", "clipboard": True, "file-transfer": True, "printing": True,
                "modifier_keycodes": {"mod1": [[64, "Alt_L"]], "control": [[37, "Control_L"]],
                                      "mod5": [[92, "ISO_Level3_Shift"]]}}


def xpra_client() -> bytes:
    keys = (type_keys("hi")
            + keypress("Control_L", "Control", ["control"]) + keypress("c", "c", ["control"])  # Ctrl+C
            + keypress("c", "c", ["control"], False) + keypress("Control_L", "Control", [], False)
            + keypress("Alt_L", "Alt", []) + keypress("x", "x", [])  # Alt held, tracked by key name only
            + keypress("Alt_L", "Alt", [], False)
            + keypress("exclam", "!", ["shift"]) + keypress("eacute", b"\xe9", [])  # é as the JS byte
            + keypress("Return", "enter", []) + keypress("v", "v", ["mod1"]))  # mod1 is Alt (server hello)
    return (packet("hello", {"version": "3.1.3", "client_type": "HTML5", "clipboard": True})
            + keys
            + packet("pointer-position", 1, [10, 20], [], [])
            + packet("clipboard-token", "CLIPBOARD", ["UTF8_STRING", "text/plain"], "UTF8_STRING", "UTF8_STRING",
                     8, "bytes", "L2R-秘密", True, True, True)
            + packet("logging", 20, ["clipboard", "LOGGED-CANARY"])
            + packet("send-file", "report.txt", "text/plain", False, False, 12, b"FILE-CONTENT", {}))


def xpra_server() -> bytes:
    return (packet("hello", SERVER_HELLO, how="zlib")
            + chunked(["draw", 1, 0, 0, 4, 4, "rgb32", None, 1, 16, {}], 7, bytes(range(64)))
            + packet("window-metadata", 1, {"title": "Remote Window"}, how="zlib")
            + packet("clipboard-token", "CLIPBOARD", ["UTF8_STRING", "TARGETS"])
            + packet("clipboard-request", 3, "CLIPBOARD", "UTF8_STRING")
            + chunked(["clipboard-contents", 4, "CLIPBOARD", "UTF8_STRING", 8, "bytes", None],
                      6, (PREFIX + S2C_CANARY).encode(), how="lz4")
            + packet("send-file", "doc.pdf", "application/pdf", True, False, 8, b"%PDF-1.4", {}, "id1", how="brotli")
            + packet("open-url", "https://example.invalid/OPENED", "", how="brotli")
            + packet("send-file", "big.bin", "", False, False, 9, b"", {"file-chunk-id": "abc"}, "id2")
            + packet("send-file-chunk", "abc", 1, b"CHUNK-ONE", False)
            + packet("ping", 123)
            + packet("frobnicate", 1))


def xpra_session() -> list[tuple[str, bytes]]:
    return interleave(split(xpra_client(), "from_client"), split(xpra_server(), "from_server", (11, 400, 5)))


# --- registry ---------------------------------------------------------------------------------------------


def test_protocols_and_unknown_protocol() -> None:
    assert wire.protocols() == ["opaque", "rfb", "xpra"]
    with pytest.raises(ValueError, match=r"unknown wire protocol 'telnet'.*opaque, rfb, xpra"):
        wire.decode("telnet", [])


def test_opaque_is_undecodable_but_searchable() -> None:
    model = wire.decode("opaque", [("framesent", b"xx"), ("framereceived", b"-- OPAQUE-CANARY --")])
    assert not model.decodable
    assert model.decode_errors == ["the profile declares the wire opaque: it cannot be inspected"]
    assert model.raw == [("from_client", b"xx"), ("from_server", b"-- OPAQUE-CANARY --")]
    assert wire.find(model, "OPAQUE-CANARY") == [wire.WireHit("OPAQUE-CANARY", "ascii", "from_server", 1)]


def test_unknown_direction_is_rejected() -> None:
    with pytest.raises(ValueError, match="sideways"):
        wire.decode("opaque", [("sideways", b"")])


def test_a_failing_decoder_gives_undecodable_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_messages: object) -> wire.WireModel:
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(xpra, "decode", boom)
    model = wire.decode("xpra", [("from_client", b"P..RAW-CANARY")])
    assert not model.decodable
    assert model.decode_errors == ["the xpra decoder failed: RuntimeError: decoder bug"]
    assert [h.where for h in wire.find(model, "RAW-CANARY")] == ["from_client"]


def test_find_on_plain_bytes_and_needle_forms() -> None:
    assert wire.find(b"xx needle yy", "needle") == [wire.WireHit("needle", "ascii", "bytes", 3)]
    utf16 = "ab".encode("utf-16-le")
    assert wire.find(b"--" + utf16, "ab") == [wire.WireHit("ab", "utf-16-le", "bytes", 2)]
    forms = dict(wire.needle_forms("秘密X"))
    assert forms["utf-8"] == "秘密X".encode() and forms["latin-1-truncated"] == bytes([0xD8, 0xC6, 0x58])
    # A needle split across two recorded messages of one direction is still found (one stream per direction).
    hits = wire.find([("from_client", b"..SPL"), ("from_server", b"SPLIT"), ("from_client", b"IT..")], "SPLIT")
    assert {(h.where, h.index) for h in hits} == {("from_client", 0), ("from_server", 1)}


# --- RFB adapter ------------------------------------------------------------------------------------------


def rfb_session() -> list[tuple[str, bytes]]:
    ctrl = 0xFFE3
    client = [client_handshake(), set_pixel_format() + set_encodings(7, 1, 0, -1063131698),
              type_text("ab") + key(ctrl, True) + type_text("c") + key(ctrl, False),
              pointer(1, 2) + pointer(3, 4, 1) + fb_update_request(), cut_text(6, b"L2R-PLAIN")]
    server = [server_handshake(), sample_update(), ext_caps(3) + ext_notify(3), ext_provide(3, "R2L-秘密-EXT")]
    return interleave([("sent", c) for c in client], [("received", s) for s in server])


def test_rfb_adapter_maps_keys_and_cut_texts() -> None:
    model = wire.decode("rfb", rfb_session())
    assert model.protocol == "rfb" and model.decodable, model.decode_errors
    assert model.typed_text == "ab"
    keys = model.of_kind("input", "from_client")
    assert {m.name for m in keys} == {"KeyEvent"} and len(keys) == 8
    assert [m.text for m in keys if m.text] == ["a", "b", "c"]  # c is a press too, only not typed text
    assert model.texts("clipboard", "from_client") == ["L2R-PLAIN"]
    assert model.texts("clipboard", "from_server") == ["R2L-秘密-EXT"]
    server_clip = model.of_kind("clipboard", "from_server")
    assert [(m.name, m.carries_data) for m in server_clip] == [
        ("ServerCutText:caps", False), ("ServerCutText:notify", False), ("ServerCutText:provide", True)]
    # index: the recorded message the cut text started in
    assert [m.index for m in server_clip] == [5, 5, 7]
    assert model.of_kind("clipboard", "from_client")[0].index == 8
    assert model.detail["desktop_name"] == "conformance-remote"
    assert model.detail["client_messages"]["PointerEvent"] == 2
    assert any("2 pointer event(s)" in n for n in model.notes)


def test_rfb_adapter_find_reports_inflated_text_as_decoded() -> None:
    model = wire.decode("rfb", rfb_session())
    hits = wire.find(model, ["R2L-秘密-EXT", "L2R-PLAIN"])
    ext = [h for h in hits if h.needle == "R2L-秘密-EXT"]
    assert [(h.encoding, h.where, h.index) for h in ext] == [
        ("decoded", "from_server:clipboard:ServerCutText:provide", 7)]
    plain = {(h.encoding, h.where) for h in hits if h.needle == "L2R-PLAIN"}
    assert plain == {("ascii", "from_client"), ("decoded", "from_client:clipboard:ClientCutText")}


def test_rfb_adapter_undecodable_wire() -> None:
    model = wire.decode("rfb", [("from_server", b"\x16\x03\x01\x02\x00" + bytes(40)),
                                ("from_client", b"\x16\x03\x01\x00\x05 TLS-CANARY")])
    assert not model.decodable
    assert any("TLS" in e for e in model.decode_errors)
    assert [h.where for h in wire.find(model, "TLS-CANARY")] == ["from_client"]


def test_rfb_adapter_matches_the_rfb_oracle() -> None:
    messages = rfb_session()
    report = rfb_oracle.parse_messages(messages)
    model = wire.decode("rfb", messages)
    assert model.typed_text == report.typed_text
    assert model.texts("clipboard", "from_server") == report.server_texts()
    assert model.decode_errors == report.decode_errors


# --- Xpra ---------------------------------------------------------------------------------------------------


def test_xpra_session_is_decoded_whatever_the_message_boundaries() -> None:
    messages = xpra_session()
    assert any(len(d) == 3 for _, d in messages)  # packets span messages
    model = wire.decode("xpra", messages)
    assert model.protocol == "xpra" and model.decodable, model.decode_errors
    assert model.decode_errors == []
    whole = wire.decode("xpra", [("from_client", xpra_client()), ("from_server", xpra_server())])
    assert [(m.direction, m.name, m.text, m.payload) for m in whole.messages if m.direction == "from_client"] == [
        (m.direction, m.name, m.text, m.payload) for m in model.messages if m.direction == "from_client"]
    names = [m.name for m in model.messages if m.direction == "from_server"]
    assert names == ["hello", "draw", "window-metadata", "clipboard-token", "clipboard-request",
                     "clipboard-contents", "send-file", "open-url", "send-file", "send-file-chunk", "ping",
                     "frobnicate"]


def test_xpra_kinds_and_texts() -> None:
    model = wire.decode("xpra", xpra_session())
    kinds = {(m.direction, m.name): m.kind for m in model.messages}
    assert kinds[("from_server", "draw")] == "screen"
    assert kinds[("from_server", "window-metadata")] == "screen"
    assert kinds[("from_client", "key-action")] == "input"
    assert kinds[("from_client", "pointer-position")] == "input"
    assert kinds[("from_server", "hello")] == kinds[("from_client", "logging")] == "control"
    assert kinds[("from_server", "open-url")] == "url"
    assert kinds[("from_server", "frobnicate")] == "other"
    assert model.texts("clipboard", "from_client") == ["L2R-秘密"]
    assert model.texts("clipboard", "from_server") == [PREFIX + S2C_CANARY]
    clip = [(m.name, m.carries_data) for m in model.of_kind("clipboard", "from_server")]
    assert clip == [("clipboard-token", False), ("clipboard-request", False), ("clipboard-contents", True)]
    assert model.texts("print", "from_server") == ["doc.pdf"]
    assert model.of_kind("print", "from_server")[0].payload == b"%PDF-1.4"
    files = model.of_kind("file", "from_server")
    assert [(m.name, m.text, m.payload, m.carries_data) for m in files] == [
        ("send-file", "big.bin", b"", False), ("send-file-chunk", "big.bin", b"CHUNK-ONE", True)]
    assert model.texts("file", "from_client") == ["report.txt"]
    assert model.texts("url", "from_server") == ["https://example.invalid/OPENED"]
    assert model.of_kind("control", "from_client")[-1].text == "clipboard LOGGED-CANARY"
    draw = model.of_kind("screen", "from_server")[0]
    assert draw.name == "draw" and draw.payload == b""
    assert model.of_kind("screen", "from_server")[1].text == "Remote Window"
    assert model.detail["draw_encodings"] == {"rgb32": 1}
    assert model.detail["server_hello"]["version"] == "3.1.3"
    assert model.detail["compression"]["from_server"] == {"zlib": 2, "none": 9, "lz4": 1, "brotli": 2}


def test_xpra_typed_text_skips_chords() -> None:
    model = wire.decode("xpra", xpra_session())
    # "c" with control, "x" while Alt_L is held and "v" with mod1 (Alt, says the server hello) are shortcuts.
    assert model.typed_text == "hi!é"
    presses = [m.text for m in model.of_kind("input", "from_client") if m.name == "key-action" and m.text]
    assert presses == ["h", "i", "c", "x", "!", "é", "v"]


def test_xpra_typed_text_takes_the_keysym_name_the_server_types() -> None:
    # The HTML5 client lowercases ``string`` when Shift is not held (Client.js), as for a synthetic "C" key
    # event; the server types the keysym named by keyname, so the remote side got "C" (seen live).
    server = packet("hello", {"version": "3.1.3"})
    client = packet("hello", {}) + b"".join(keypress(c, c.lower(), []) for c in "CNRY-ab")
    model = wire.decode("xpra", [("from_client", client), ("from_server", server)])
    assert model.typed_text == "CNRY-ab"


def test_xpra_without_server_modifier_map_still_treats_mod1_as_alt() -> None:
    client = packet("hello", {}) + keypress("a", "a", ["mod1"]) + keypress("b", "b", ["mod2"])  # mod2: NumLock
    model = wire.decode("xpra", [("from_client", client), ("from_server", packet("hello", {}))])
    assert model.typed_text == "b"


def test_xpra_find_decoded_and_raw() -> None:
    messages = xpra_session()
    assert not any(S2C_CANARY.encode() in d for _, d in messages)
    assert S2C_CANARY.encode() not in xpra_server()  # lz4 left no readable copy: only decoding finds it
    model = wire.decode("xpra", messages)
    hits = wire.find(model, [S2C_CANARY, "LOGGED-CANARY", "Remote Window", "L2R-秘密", "OPENED"])
    by = {}
    for h in hits:
        by.setdefault(h.needle, set()).add((h.encoding, h.where))
    assert by[S2C_CANARY] == {("decoded", "from_server:clipboard:clipboard-contents")}
    assert by["LOGGED-CANARY"] == {("ascii", "from_client"), ("decoded", "from_client:control:logging")}
    # window-metadata was zlib-compressed: its title is found only decoded, in the message's other strings
    assert by["Remote Window"] == {("decoded", "from_server:screen:window-metadata")}
    assert ("utf-8", "from_client") in by["L2R-秘密"]
    assert by["OPENED"] == {("decoded", "from_server:url:open-url")}  # brotli
    s2c = next(h for h in hits if h.needle == S2C_CANARY)
    assert model.raw[s2c.index][0] == "from_server"


def test_xpra_client_text_truncated_by_javascript_is_found_raw() -> None:
    truncated = bytes(ord(c) & 0xFF for c in "秘密X")  # what bencode.js + Uint8Array make of a JS string
    client = packet("hello", {}) + packet("clipboard-contents", 1, "CLIPBOARD", "UTF8_STRING", 8, "bytes", truncated)
    model = wire.decode("xpra", [("from_client", client), ("from_server", packet("hello", {}))])
    assert model.decodable
    hits = {(h.encoding, h.where) for h in wire.find(model, "秘密X")}
    assert hits == {("latin-1-truncated", "from_client"), ("decoded", "from_client:clipboard:clipboard-contents")}
    assert model.texts("clipboard", "from_client") == ["ØÆX"]  # the bytes, as Latin-1: what the server got


def test_xpra_truncated_trailing_packet_is_a_note() -> None:
    client = packet("hello", {}) + packet("clipboard-token", "CLIPBOARD", [], "", "", 8, "bytes", "CUT-SHORT")[:-5]
    server = packet("hello", {}) + b"P\x00"
    model = wire.decode("xpra", [("from_client", client), ("from_server", server)])
    assert model.decodable and model.decode_errors == []
    assert [m.name for m in model.messages] == ["hello", "hello"]
    assert any("client stream ends inside a packet at offset" in n for n in model.notes)
    assert any("server stream ends inside a packet header" in n for n in model.notes)


@pytest.mark.parametrize("client, reason", [
    (b"GARBAGE-START PLAIN-CANARY", "the client stream does not start with an Xpra packet header (first bytes 47 41"),
    (b"RFB 003.008\nPLAIN-CANARY", "the client stream is RFB (VNC), not Xpra"),
    (b"\x16\x03\x01\x02\x00PLAIN-CANARY", "TLS record"),
])
def test_xpra_not_an_xpra_stream(client: bytes, reason: str) -> None:
    model = wire.decode("xpra", [("from_client", client), ("from_server", packet("hello", {}))])
    assert not model.decodable
    assert any(reason in e for e in model.decode_errors), model.decode_errors
    assert [(h.encoding, h.where) for h in wire.find(model, "PLAIN-CANARY")] == [("ascii", "from_client")]


def test_xpra_nothing_from_the_server_is_undecodable() -> None:
    model = wire.decode("xpra", [("from_client", packet("hello", {}))])
    assert not model.decodable and model.decode_errors == ["nothing captured from the server"]


def test_xpra_aes_is_undecodable_but_raw_search_works() -> None:
    encrypted = frame(bytes(range(48)), flags=0x2)
    client = packet("hello", {"cipher": "AES"}) + encrypted
    server = packet("hello", {"cipher": "AES"}) + packet("ping", "PLAIN-CANARY") + encrypted
    model = wire.decode("xpra", [("from_client", client), ("from_server", server)])
    assert not model.decodable
    assert model.decode_errors[0].startswith("encrypted (AES): the wire cannot be inspected")
    assert [m.name for m in model.messages] == ["hello", "hello", "ping"]  # what came before is kept
    assert {h.where for h in wire.find(model, "PLAIN-CANARY")} == {"from_server", "from_server:control:ping"}


def test_xpra_undecodable_packets_are_errors_not_failures() -> None:
    client = (packet("hello", {}) + frame(b"\x00rencoded", flags=0x1) + frame(b"l4:ping", level=0)
              + frame(b"not zlib", level=3) + packet("ping", 1))
    model = wire.decode("xpra", [("from_client", client), ("from_server", packet("hello", {}))])
    assert model.decodable
    assert [m.name for m in model.messages if m.direction == "from_client"] == ["hello", "ping"]
    errors = " | ".join(model.decode_errors)
    assert "rencode" in errors and "bencode does not decode" in errors and "does not decompress" in errors


def test_xpra_lost_framing_stops_the_direction() -> None:
    client = packet("hello", {}) + b"Xjunk-junk" + packet("ping", 1)
    model = wire.decode("xpra", [("from_client", client), ("from_server", packet("hello", {}))])
    assert model.decodable
    assert any("loses the Xpra packet framing at offset" in e for e in model.decode_errors)
    assert [m.name for m in model.messages if m.direction == "from_client"] == ["hello"]


def test_xpra_packet_aliases_are_resolved() -> None:
    client = packet("hello", {"aliases": {"clipboard-token": 12, "draw": 13}})
    server = (packet("hello", {})
              + packet(12, "CLIPBOARD", ["UTF8_STRING"], "UTF8_STRING", "UTF8_STRING", 8, "bytes", "ALIASED", True, 1))
    model = wire.decode("xpra", [("from_client", client), ("from_server", server)])
    assert model.texts("clipboard", "from_server") == ["ALIASED"]
    assert model.of_kind("clipboard", "from_server")[0].name == "clipboard-token"


def test_xpra_integers_clipboard_encoding() -> None:
    server = packet("hello", {}) + packet("clipboard-contents", 1, "CLIPBOARD", "STRING", 8, "integers",
                                          [ord(c) for c in "INTS"])
    model = wire.decode("xpra", [("from_client", packet("hello", {})), ("from_server", server)])
    assert model.texts("clipboard", "from_server") == ["INTS"]


def test_xpra_summary_and_rows_are_json() -> None:
    model = wire.decode("xpra", xpra_session())
    summary = json.loads(json.dumps(model.summary()))
    assert summary["protocol"] == "xpra" and summary["decodable"] is True
    assert summary["counts"]["from_client"]["input"]["key-action"] == 15
    assert summary["counts"]["from_server"]["clipboard"] == {"clipboard-token": 1, "clipboard-request": 1,
                                                            "clipboard-contents": 1}
    assert summary["typed_text"] == "hi!é"
    assert summary["bytes"] == {"from_client": len(xpra_client()), "from_server": len(xpra_server())}
    rows = model.rows()
    assert {r["kind"] for r in rows} == {"clipboard", "file", "print", "url"}
    contents = next(r for r in rows if r["name"] == "clipboard-contents")
    assert contents == {"direction": "from_server", "kind": "clipboard", "name": "clipboard-contents",
                        "carries_data": True, "text": PREFIX + S2C_CANARY,
                        "bytes": len(PREFIX + S2C_CANARY), "index": contents["index"]}
    assert contents["index"] >= 0
    json.dumps(rows)


def test_bencode_variant() -> None:
    # a "u" string, an int key, bytes that are not UTF-8, a JavaScript fractional number
    one = b"d5:titleu5:\xc3\xa9t\xc3\xa9i7e3:\xff\xfe!1:ai1.5ee"
    value, end = xpra.bdecode(one + b"l1:ai-3ee")
    assert value == {b"title": "été", 7: b"\xff\xfe!", b"a": 1.5}
    assert end == len(one)
    assert xpra.bdecode(b"l1:ai-3ee") == ([b"a", -3], 9)
    assert xpra.bdecode(b"d1:zi1e1:ai2ee")[0] == {b"z": 1, b"a": 2}  # unsorted keys, as the JS client sends
    for bad in (b"l4:pin", b"i12", b"5:abc", b"dli1eei2ee", b"x", b"ixe", b"d1:ae"):
        with pytest.raises(xpra.BencodeError):
            xpra.bdecode(bad)
