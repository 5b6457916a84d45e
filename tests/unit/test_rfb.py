"""Unit tests for the RFB wire oracle, on synthetic streams built here byte by byte."""

from __future__ import annotations

import struct
import zlib

import pytest

from conformance.oracles import rfb

PF32 = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
PF16 = struct.pack(">BBBBHHHBBB3x", 16, 16, 0, 1, 31, 63, 31, 11, 5, 0)


# --- builders -----------------------------------------------------------------------------------------


def server_handshake(name: bytes = b"conformance-remote", version: bytes = b"RFB 003.008\n",
                     sec_types: bytes = b"\x01", width: int = 1280, height: int = 800) -> bytes:
    out = version + bytes([len(sec_types)]) + sec_types
    out += struct.pack(">I", 0)  # SecurityResult OK (3.8 sends it for None too)
    out += struct.pack(">HH", width, height) + PF32 + struct.pack(">I", len(name)) + name
    return out


def client_handshake(version: bytes = b"RFB 003.008\n", sec: int = 1) -> bytes:
    return version + bytes([sec]) + b"\x01"  # chosen security type, ClientInit shared


def set_pixel_format(pf: bytes = PF32) -> bytes:
    return b"\x00\x00\x00\x00" + pf


def set_encodings(*encs: int) -> bytes:
    return struct.pack(">BxH", 2, len(encs)) + b"".join(struct.pack(">i", e) for e in encs)


def fb_update_request() -> bytes:
    return struct.pack(">BBHHHH", 3, 1, 0, 0, 1280, 800)


def key(keysym: int, down: bool) -> bytes:
    return struct.pack(">BBxxI", 4, int(down), keysym)


def qemu_key(keysym: int, down: bool, keycode: int = 30) -> bytes:
    return struct.pack(">BBHII", 255, 0, int(down), keysym, keycode)


def type_text(text: str) -> bytes:
    return b"".join(key(ord(c), True) + key(ord(c), False) for c in text)


def pointer(x: int, y: int, mask: int = 0) -> bytes:
    return struct.pack(">BBHH", 5, mask, x, y)


def cut_text(msg_type: int, data: bytes) -> bytes:
    return struct.pack(">Bxxxi", msg_type, len(data)) + data


def ext_clip(msg_type: int, payload: bytes) -> bytes:
    return struct.pack(">Bxxxi", msg_type, -len(payload)) + payload


def ext_provide(msg_type: int, text: str) -> bytes:
    """As TigerVNC/noVNC send it: one compressor per message, flushed with Z_SYNC_FLUSH (not finished)."""
    data = text.encode("utf-8") + b"\0"
    comp = zlib.compressobj()
    stream = comp.compress(struct.pack(">I", len(data)) + data) + comp.flush(zlib.Z_SYNC_FLUSH)
    return ext_clip(msg_type, struct.pack(">I", (1 << 28) | 1) + stream)


def ext_caps(msg_type: int) -> bytes:
    flags = (1 << 24) | (1 << 25) | (1 << 26) | (1 << 27) | (1 << 28) | 1
    return ext_clip(msg_type, struct.pack(">II", flags, 10 * 1024 * 1024))


def ext_notify(msg_type: int) -> bytes:
    return ext_clip(msg_type, struct.pack(">I", (1 << 27) | 1))


def ext_request(msg_type: int) -> bytes:
    return ext_clip(msg_type, struct.pack(">I", (1 << 25) | 1))


def rect(x: int, y: int, w: int, h: int, enc: int, payload: bytes = b"") -> bytes:
    return struct.pack(">HHHHi", x, y, w, h, enc) + payload


def fbu(*rects: bytes, count: int | None = None) -> bytes:
    return struct.pack(">BxH", 0, len(rects) if count is None else count) + b"".join(rects)


def compact(n: int) -> bytes:
    out = bytearray([n & 0x7F])
    if n > 0x7F:
        out[0] |= 0x80
        out.append((n >> 7) & 0x7F)
        if n > 0x3FFF:
            out[1] |= 0x80
            out.append((n >> 14) & 0xFF)
    return bytes(out)


def sample_update() -> bytes:
    """One FramebufferUpdate with each kind of rectangle noVNC asks for."""
    raw = rect(0, 0, 2, 2, 0, bytes(16))
    copy = rect(10, 10, 5, 5, 1, struct.pack(">HH", 0, 0))
    tight_fill = rect(0, 0, 100, 100, 7, b"\x80" + b"\xff\xff\xff")
    jpeg = b"\xff\xd8" + bytes(300) + b"\xff\xd9"
    tight_jpeg = rect(0, 0, 64, 64, 7, b"\x90" + compact(len(jpeg)) + jpeg)
    # basic compression, palette filter with 2 colours, 20x20 -> 3*20 = 60 bytes before zlib
    zdata = zlib.compress(bytes(60))
    palette = b"\x01" + bytes(6)  # 2 colours, 3 bytes each
    tight_palette = rect(0, 0, 20, 20, 7, b"\x40" + b"\x01" + palette + compact(len(zdata)) + zdata)
    # basic copy filter, tiny: 1x2 pixels = 6 bytes < 12 -> sent uncompressed
    tight_small = rect(0, 0, 1, 2, 7, b"\x00" + bytes(6))
    tight_png = rect(0, 0, 8, 8, -260, b"\xa0" + compact(5) + b"\x89PNG\x00")
    # hextile 20x16 -> two tiles: one raw (16x16*4), one with bg + 2 coloured subrects
    hextile = rect(0, 0, 20, 16, 5, b"\x01" + bytes(16 * 16 * 4)
                   + b"\x1a" + bytes(4) + b"\x02" + (bytes(4) + b"\x00\x11") * 2)
    rre = rect(0, 0, 10, 10, 2, struct.pack(">I", 2) + bytes(4) + (bytes(4) + bytes(8)) * 2)
    cursor = rect(0, 0, 9, 2, -239, bytes(9 * 2 * 4) + bytes(2 * 2))
    vmware_cursor = rect(0, 0, 2, 2, 0x574D5664, b"\x01\x00" + bytes(16))
    name = rect(0, 0, 0, 0, -307, struct.pack(">I", 4) + b"desk")
    ext_size = rect(0, 0, 1280, 800, -308, b"\x01\x00\x00\x00" + bytes(16))
    qemu = rect(0, 0, 0, 0, -258)
    return fbu(raw, copy, tight_fill, tight_jpeg, tight_palette, tight_small, tight_png, hextile, rre, cursor,
               vmware_cursor, name, ext_size, qemu)


def session(client_after: bytes = b"", server_after: bytes = b"") -> rfb.WireReport:
    encodings = set_encodings(7, 1, 0, -224, -1063131698)
    client = client_handshake() + set_pixel_format() + encodings + client_after
    server = server_handshake() + server_after
    return rfb.parse_streams(client, server)


# --- tests ----------------------------------------------------------------------------------------------


def test_handshake_gives_desktop_name_version_and_size() -> None:
    report = session()
    assert report.decodable
    assert report.desktop_name == "conformance-remote"
    assert report.protocol_version == "3.8"
    assert report.security_type == 1
    assert report.framebuffer_size == (1280, 800)
    assert report.encodings_offered == [7, 1, 0, -224, -1063131698]
    assert report.client_parse == report.server_parse == "strict"
    assert report.decode_errors == []


def test_key_events_become_typed_text_and_shortcuts_are_not_text() -> None:
    shift, ctrl = 0xFFE1, 0xFFE3
    keys = (type_text("ab1") + key(shift, True) + type_text("Z") + key(shift, False)
            + key(ctrl, True) + type_text("c") + key(ctrl, False)  # Ctrl+C is a shortcut, not text
            + qemu_key(ord("!"), True) + qemu_key(ord("!"), False) + key(0xFF0D, True) + key(0xFF0D, False)
            + pointer(10, 20, 1) + pointer(10, 20, 0) + fb_update_request())
    report = session(client_after=keys)
    assert report.typed_text == "ab1Z!"
    assert report.pointer_event_count == 2
    assert [e.name for e in report.key_events if e.down][:5] == ["a", "b", "1", "Shift_L", "Z"]
    qemu = [e for e in report.key_events if e.extended]
    assert qemu and qemu[0].keycode == 30 and qemu[0].char == "!"
    assert report.client_messages["KeyEvent"] == 16
    assert report.client_messages["QEMUExtendedKeyEvent"] == 2


def test_unicode_keysym_maps_to_its_character() -> None:
    assert rfb.keysym_char(0x01000000 + ord("秘")) == "秘"
    assert rfb.keysym_char(0xE9) == "é"
    assert rfb.keysym_char(0xFFE1) is None


def test_plain_cut_texts_both_ways() -> None:
    report = session(client_after=cut_text(6, b"LOCAL-TO-REMOTE-1"),
                     server_after=cut_text(3, b"REMOTE-TO-LOCAL-2") + cut_text(2, b"")[:1])  # + Bell
    assert report.client_texts() == ["LOCAL-TO-REMOTE-1"]
    assert report.server_texts() == ["REMOTE-TO-LOCAL-2"]
    cut = report.server_cut_texts[0]
    assert not cut.extended and cut.raw_len == 17 and cut.action == "plain" and not cut.heuristic
    assert report.server_messages["Bell"] == 1


def test_extended_clipboard_provide_is_sync_flushed_zlib() -> None:
    msg = ext_provide(3, "COPIED-秘密-42")
    payload = msg[8 + 4:]
    with pytest.raises(zlib.error):
        zlib.decompress(payload)  # not a finished stream: why a decompressobj is needed (spike P3)
    report = session(server_after=ext_caps(3) + ext_notify(3) + msg,
                     client_after=ext_caps(6) + ext_request(6) + ext_provide(6, "PASTED-7"))
    assert report.server_texts() == ["COPIED-秘密-42"]
    assert [c.action for c in report.server_cut_texts] == ["caps", "notify", "provide"]
    provide = report.server_cut_texts[-1]
    assert provide.extended and provide.raw_len < 0 and provide.formats == ("text",)
    assert provide.data == "COPIED-秘密-42".encode()
    assert report.client_texts() == ["PASTED-7"]
    assert [c.action for c in report.client_cut_texts] == ["caps", "request", "provide"]
    # Nothing of the provided text is visible as raw bytes: only the decoded view finds it.
    hits = rfb.find_text(report, ["COPIED-秘密-42"])
    assert {h.where for h in hits} == {"server_cut_text"}


def test_framebuffer_update_is_parsed_strictly_and_cut_text_after_it_is_found() -> None:
    server = sample_update() + fbu(rect(0, 0, 0, 0, -224), count=0xFFFF) + cut_text(3, b"AFTER-PIXELS")
    report = session(server_after=server)
    assert report.server_parse == "strict", report.decode_errors
    assert report.decode_errors == []
    assert report.server_messages["FramebufferUpdate"] == 2
    assert report.rect_encodings["Tight"] == 4 and report.rect_encodings["Hextile"] == 1
    assert report.rect_encodings["LastRect"] == 1
    assert report.server_texts() == ["AFTER-PIXELS"]
    assert not report.server_cut_texts[0].heuristic


def test_typed_canary_is_key_events_not_text() -> None:
    canary = "TYPED-9F3A"
    report = session(client_after=type_text(canary), server_after=sample_update())
    assert report.typed_text == canary
    assert rfb.find_text(report, [canary]) == []


def test_pixel_format_change_is_applied_in_message_order() -> None:
    # After SetPixelFormat(16 bpp) a 2x2 Raw rectangle is 8 bytes, not 16.
    init = server_handshake()
    update = fbu(rect(0, 0, 2, 2, 0, bytes(8))) + cut_text(3, b"X16")
    client = client_handshake()
    messages: list[tuple[str, bytes]] = [
        ("received", init[:12]), ("sent", client[:12]), ("received", init[12:]), ("sent", client[12:]),
        ("sent", set_pixel_format(PF16) + fb_update_request()), ("received", update)]
    report = rfb.parse_messages(messages)
    assert report.decode_errors == [] and report.server_texts() == ["X16"]
    # Without the ordering (two bare streams) the change is assumed to apply from the first update too.
    streams = rfb.parse_streams(client + set_pixel_format(PF16), init + update)
    assert streams.server_texts() == ["X16"]
    # Recorded after the update instead, the 16 bpp format does not apply to it: the parse goes wrong.
    late = rfb.parse_messages([*messages[:4], ("received", update), ("sent", set_pixel_format(PF16))])
    assert late.decode_errors


def test_message_boundaries_do_not_matter() -> None:
    client = client_handshake() + type_text("abc") + cut_text(6, b"L2R")
    server = server_handshake() + sample_update() + ext_provide(3, "R2L")
    chunks: list[rfb.WsMessage] = []
    for i in range(0, max(len(client), len(server)), 7):
        chunks.append(rfb.WsMessage("from_server", server[i:i + 7]))
        chunks.append(rfb.WsMessage("from_client", client[i:i + 7]))
    report = rfb.parse_messages(chunks)
    assert report.typed_text == "abc"
    assert report.client_texts() == ["L2R"] and report.server_texts() == ["R2L"]
    assert report.bytes_from_client == len(client) and report.bytes_from_server == len(server)


def test_truncated_last_message_is_reported_but_earlier_data_kept() -> None:
    server = cut_text(3, b"WHOLE") + cut_text(3, b"CUT-SHORT-TEXT")[:-4]
    report = session(server_after=server, client_after=key(0x61, True)[:5])
    assert report.decodable
    assert report.server_texts() == ["WHOLE"]
    assert any("truncated" in e and "server" in e for e in report.decode_errors)
    assert any("truncated" in e and "client" in e for e in report.decode_errors)


def test_unknown_encoding_falls_back_to_heuristic_scan() -> None:
    odd = fbu(rect(0, 0, 4, 4, 12345, bytes(40)))
    server = odd + ext_provide(3, "AFTER-UNKNOWN") + cut_text(3, b"PLAIN-AFTER")
    report = session(server_after=server)
    assert report.decodable
    assert report.server_parse.startswith("heuristic from offset")
    assert any("12345" in e for e in report.decode_errors)
    assert report.server_texts() == ["AFTER-UNKNOWN", "PLAIN-AFTER"]
    assert all(c.heuristic for c in report.server_cut_texts)


def test_unknown_client_message_falls_back_to_heuristic_scan() -> None:
    report = session(client_after=b"\x7f\x00\x00\x00" + cut_text(6, b"L2R-AFTER"))
    assert report.client_parse.startswith("heuristic")
    assert report.client_texts() == ["L2R-AFTER"]


def test_version_33_with_vnc_authentication() -> None:
    server = (b"RFB 003.003\n" + struct.pack(">I", 2) + bytes(16) + struct.pack(">I", 0)
              + struct.pack(">HH", 800, 600) + PF32 + struct.pack(">I", 3) + b"old" + cut_text(3, b"OLD-CUT"))
    client = b"RFB 003.003\n" + bytes(16) + b"\x01" + type_text("k")
    report = rfb.parse_streams(client, server)
    assert report.decodable and report.protocol_version == "3.3" and report.security_type == 2
    assert report.desktop_name == "old" and report.server_texts() == ["OLD-CUT"] and report.typed_text == "k"


def test_failed_authentication_is_decodable_and_empty() -> None:
    server = b"RFB 003.008\n\x01\x02" + bytes(16) + struct.pack(">I", 1) + struct.pack(">I", 3) + b"bad"
    client = b"RFB 003.008\n\x02" + bytes(16)
    report = rfb.parse_streams(client, server)
    assert report.decodable and report.server_cut_texts == []
    assert any("authentication failed" in n for n in report.notes)


@pytest.mark.parametrize("server, reason", [
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40), "TLS"),
    (b"HTTP/1.1 101 Switching Protocols\r\n", "HTTP"),
    (bytes(range(256)), "does not start with an RFB ProtocolVersion"),
    (b"", "nothing captured"),
])
def test_not_rfb_is_undecodable(server: bytes, reason: str) -> None:
    report = rfb.parse_streams(b"\x16\x03\x01\x00\x05hello", server)
    assert not report.decodable
    assert any(reason in e for e in report.decode_errors), report.decode_errors


def test_mid_session_capture_is_undecodable() -> None:
    report = rfb.parse_streams(type_text("abc"), sample_update())
    assert not report.decodable


def test_encrypting_security_type_is_undecodable() -> None:
    server = b"RFB 003.008\n\x01\x13" + b"\x00\x02"  # VeNCrypt, then its own sub-negotiation
    client = b"RFB 003.008\n\x13" + b"\x00\x02"
    report = rfb.parse_streams(client, server)
    assert not report.decodable
    assert any("VeNCrypt" in e for e in report.decode_errors)


def test_truncated_handshake_is_undecodable() -> None:
    report = rfb.parse_streams(client_handshake(), server_handshake()[:30])
    assert not report.decodable
    assert any("handshake" in e for e in report.decode_errors)


def test_garbage_after_handshake_stays_decodable_with_errors() -> None:
    report = session(server_after=bytes([0xEE]) + bytes(100))
    assert report.decodable and report.server_parse.startswith("heuristic")
    assert report.server_cut_texts == []


def test_heuristic_ignores_pixel_noise_that_looks_like_a_header() -> None:
    bad_ext = b"\x03\x00\x00\x00\xff\xff\xff\xf0" + bytes(range(16))  # flags 0x00010203: no action
    bad_plain = b"\x03\x00\x00\x00\x00\x00\x00\x05\x01\x02"  # length beyond the data
    noise = bad_ext + bad_plain
    report = session(server_after=b"\xee" + noise)
    assert report.server_cut_texts == []


def test_find_text_searches_utf8_and_latin1_forms_in_both_directions() -> None:
    client = client_handshake() + cut_text(6, "café".encode("latin-1"))
    # noVNC 1.3 truncates non-Latin-1 text to one byte per UTF-16 unit when it sends ClientCutText.
    truncated = bytes(ord(c) & 0xFF for c in "秘密X")
    server = server_handshake() + cut_text(3, "秘密X".encode()) + cut_text(3, truncated)
    report = rfb.parse_streams(client, server)
    hits = rfb.find_text(report, ["café", "秘密X"])
    got = {(h.needle, h.encoding, h.where) for h in hits}
    assert ("café", "latin-1", "from_client") in got
    assert ("秘密X", "utf-8", "from_server") in got
    assert ("秘密X", "latin-1-truncated", "from_server") in got
    assert not any(h.needle == "café" and h.encoding == "utf-8" for h in hits)
    raw_hits = rfb.find_text(b"xx ascii-needle yy", "ascii-needle")
    assert raw_hits == [rfb.TextHit("ascii-needle", "ascii", "bytes", 3)]


def test_unknown_direction_is_rejected() -> None:
    with pytest.raises(ValueError):
        rfb.parse_messages([("sideways", b"")])
