"""Oracle: what crosses the wire between an HTML5 VNC client (noVNC) and its gateway, decoded as RFB.

Input is what a WebSocket tap records (Playwright ``framesent``/``framereceived``, a mitmproxy addon):
binary messages, each with its direction. websockify forwards the TCP stream in arbitrary chunks, so
message boundaries mean nothing to RFB; each direction is parsed as one byte stream.

What is parsed strictly (RFC 6143 plus the extensions noVNC 1.3 negotiates):

- handshake: ProtocolVersion, security (None and VNC authentication; anything else, e.g. VeNCrypt/TLS,
  makes the rest unreadable → ``decodable=False``), ClientInit, ServerInit with the desktop name;
- client → server: SetPixelFormat, SetEncodings, FramebufferUpdateRequest, KeyEvent, PointerEvent,
  ClientCutText (plain and Extended Clipboard), EnableContinuousUpdates, ClientFence, SetDesktopSize,
  xvp and the QEMU extended key event (255/0: noVNC sends keys this way when the server offers it);
- server → client: FramebufferUpdate with every encoding noVNC can ask for (Raw, CopyRect, RRE, Hextile,
  Tight, TightPNG; also ZRLE, zlib and CoRRE by their lengths) and the pseudo-encodings it asks for
  (cursor shapes, desktop size and name, LastRect, …), SetColourMapEntries, Bell, ServerCutText,
  EndOfContinuousUpdates, ServerFence, xvp. Pixel data is skipped by its length, never decoded.

Fallback (documented limitation): when the strict parser meets something it does not know (an unknown
message type or rectangle encoding) or inconsistent data, it records why in ``decode_errors`` and scans
the rest of that direction heuristically for cut-text messages: ``type,0,0,0,s32 length`` followed by
plausible text, or by an Extended Clipboard message whose flags and zlib stream check out (the spike's
method). ``client_parse``/``server_parse`` say from which offset the heuristic took over. A capture that
simply ends inside a message is noted in ``decode_errors`` too (the last message is incomplete).

``decodable`` is False only when nothing after the handshake can be read: not RFB at all (TLS, HTTP,
unknown), a capture that starts mid-session, an encrypting or unknown security type, or a capture that
ends inside the handshake. The caller turns that into an ``error`` verdict: an undecodable wire is never
a pass.

Extended Clipboard (pseudo-encoding 0xC0A1E5CE): a negative length; the payload is a u32 of flags
(actions in the top byte: caps, request, peek, notify, provide; formats in the low 16 bits) and, for
provide only, a zlib stream that is sync-flushed rather than finished (``zlib.decompress`` fails, a
``decompressobj`` works) holding, per format bit, a u32 size and the data; text is UTF-8 ending in NUL.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["from_client", "from_server"]

_DIRECTION_ALIASES: dict[str, Direction] = {
    **dict.fromkeys(("from_client", "client", "sent", "send", "tx", "c2s", "out", "framesent"),
                    "from_client"),
    **dict.fromkeys(("from_server", "server", "received", "recv", "rx", "s2c", "in", "framereceived"),
                    "from_server"),
}

SECURITY_TYPES = {0: "Invalid", 1: "None", 2: "VNC Authentication", 5: "RA2", 6: "RA2ne", 16: "Tight",
                  17: "Ultra", 18: "TLS", 19: "VeNCrypt", 20: "SASL", 21: "MD5", 22: "xvp",
                  30: "Apple Remote Desktop", 113: "MS-Logon II", 129: "Unix Logon"}

EXT_CLIP_ACTIONS = {1 << 24: "caps", 1 << 25: "request", 1 << 26: "peek", 1 << 27: "notify",
                    1 << 28: "provide"}
EXT_CLIP_FORMATS = {1 << 0: "text", 1 << 1: "rtf", 1 << 2: "html", 1 << 3: "dib", 1 << 4: "files"}
_MAX_INFLATE = 64 * 1024 * 1024  # a clipboard larger than this is not plausible; also bounds memory
_MAX_CUT_TEXT = 16 * 1024 * 1024

_KEYSYM_NAMES = {0xFF08: "BackSpace", 0xFF09: "Tab", 0xFF0D: "Return", 0xFF1B: "Escape", 0xFFFF: "Delete",
                 0xFF50: "Home", 0xFF51: "Left", 0xFF52: "Up", 0xFF53: "Right", 0xFF54: "Down",
                 0xFF55: "Page_Up", 0xFF56: "Page_Down", 0xFF57: "End", 0xFF63: "Insert",
                 0xFFE1: "Shift_L", 0xFFE2: "Shift_R", 0xFFE3: "Control_L", 0xFFE4: "Control_R",
                 0xFFE5: "Caps_Lock", 0xFFE7: "Meta_L", 0xFFE8: "Meta_R", 0xFFE9: "Alt_L", 0xFFEA: "Alt_R",
                 0xFFEB: "Super_L", 0xFFEC: "Super_R", 0xFE03: "ISO_Level3_Shift", 0xFF8D: "KP_Enter"}
# Holding one of these turns a letter into a shortcut (Ctrl+C), not typed text.
_CHORD_MODIFIERS = {0xFFE3, 0xFFE4, 0xFFE7, 0xFFE8, 0xFFE9, 0xFFEA, 0xFFEB, 0xFFEC}


def keysym_char(keysym: int) -> str | None:
    """The printable character a keysym types, or None (function keys, modifiers, control chars)."""
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)  # Latin-1 keysyms are the code points
    if 0x01000100 <= keysym <= 0x0110FFFF:
        return chr(keysym - 0x01000000)  # Unicode keysyms
    if 0xFFB0 <= keysym <= 0xFFB9:
        return chr(ord("0") + keysym - 0xFFB0)  # keypad digits
    return None


def keysym_name(keysym: int) -> str:
    ch = keysym_char(keysym)
    if ch is not None:
        return ch
    return _KEYSYM_NAMES.get(keysym, f"0x{keysym:x}")


@dataclass(frozen=True)
class WsMessage:
    """One WebSocket message as a tap recorded it."""

    direction: Direction
    data: bytes
    ts: float | None = None


@dataclass(frozen=True)
class CutText:
    """A ServerCutText (server → client) or ClientCutText (client → server) message.

    ``text`` is what the message carries (empty for Extended Clipboard caps/request/peek/notify, which
    carry none). ``raw_len`` is the signed length field as sent (negative: Extended Clipboard).
    ``data`` is the carried bytes: the plain payload, or the inflated text format without its NUL.
    """

    text: str
    extended: bool
    raw_len: int
    action: str = "plain"
    formats: tuple[str, ...] = ()
    data: bytes = b""
    offset: int = -1
    heuristic: bool = False

    @property
    def carries_data(self) -> bool:
        return self.action in ("plain", "provide")


@dataclass(frozen=True)
class KeyEvent:
    keysym: int
    down: bool
    char: str | None
    extended: bool = False  # sent as a QEMU extended key event (type 255, subtype 0)
    keycode: int | None = None

    @property
    def name(self) -> str:
        return keysym_name(self.keysym)


@dataclass(frozen=True)
class PixelFormat:
    bits_per_pixel: int = 32
    depth: int = 24
    big_endian: bool = False
    true_colour: bool = True
    red_max: int = 255
    green_max: int = 255
    blue_max: int = 255

    @property
    def bytes_per_pixel(self) -> int:
        return max(1, self.bits_per_pixel // 8)

    @property
    def tight_pixel_size(self) -> int:
        # Tight's TPIXEL: 3 bytes for 32 bpp, depth 24, 8 bits per colour; else a whole pixel.
        if (self.true_colour and self.bits_per_pixel == 32 and self.depth == 24
                and self.red_max == self.green_max == self.blue_max == 255):
            return 3
        return self.bytes_per_pixel

    @classmethod
    def unpack(cls, raw: bytes) -> PixelFormat:
        bpp, depth, be, tc, rmax, gmax, bmax = struct.unpack(">BBBBHHH", raw[:10])
        return cls(bpp, depth, bool(be), bool(tc), rmax, gmax, bmax)


@dataclass
class WireReport:
    """The decoded wire. See the module docstring for what ``decodable`` and ``decode_errors`` mean."""

    decodable: bool
    desktop_name: str | None = None
    protocol_version: str | None = None
    security_type: int | None = None
    framebuffer_size: tuple[int, int] | None = None
    server_cut_texts: list[CutText] = field(default_factory=list)
    client_cut_texts: list[CutText] = field(default_factory=list)
    key_events: list[KeyEvent] = field(default_factory=list)
    pointer_event_count: int = 0
    bytes_from_server: int = 0
    bytes_from_client: int = 0
    decode_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    client_parse: str = "none"  # "strict", or "heuristic from offset N"
    server_parse: str = "none"
    client_messages: Counter[str] = field(default_factory=Counter)
    server_messages: Counter[str] = field(default_factory=Counter)
    rect_encodings: Counter[str] = field(default_factory=Counter)
    encodings_offered: list[int] = field(default_factory=list)
    raw_from_server: bytes = field(default=b"", repr=False)
    raw_from_client: bytes = field(default=b"", repr=False)

    @property
    def typed_text(self) -> str:
        """Printable characters of key presses, in order; presses while Ctrl/Alt/Meta/Super is held skip."""
        held: set[int] = set()
        out: list[str] = []
        for ev in self.key_events:
            if ev.keysym in _CHORD_MODIFIERS:
                if ev.down:
                    held.add(ev.keysym)
                else:
                    held.discard(ev.keysym)
                continue
            if ev.down and ev.char is not None and not held:
                out.append(ev.char)
        return "".join(out)

    def server_texts(self) -> list[str]:
        """Texts that reached the client through ServerCutText (plain or Extended provide)."""
        return [c.text for c in self.server_cut_texts if c.carries_data]

    def client_texts(self) -> list[str]:
        return [c.text for c in self.client_cut_texts if c.carries_data]

    def summary(self) -> dict[str, object]:
        return {"decodable": self.decodable, "desktop_name": self.desktop_name,
                "protocol_version": self.protocol_version, "security_type": self.security_type,
                "bytes_from_server": self.bytes_from_server, "bytes_from_client": self.bytes_from_client,
                "server_cut_texts": [(c.action, c.text) for c in self.server_cut_texts],
                "client_cut_texts": [(c.action, c.text) for c in self.client_cut_texts],
                "typed_text": self.typed_text, "key_events": len(self.key_events),
                "pointer_events": self.pointer_event_count, "client_parse": self.client_parse,
                "server_parse": self.server_parse, "decode_errors": list(self.decode_errors),
                "rect_encodings": dict(self.rect_encodings)}


@dataclass(frozen=True)
class TextHit:
    """A needle found on the wire. ``where``: from_server / from_client (raw bytes), server_cut_text /
    client_cut_text (decoded clipboard, e.g. inflated Extended Clipboard), or bytes (raw input)."""

    needle: str
    encoding: str
    where: str
    offset: int


class _Truncated(Exception):
    """The stream ends inside a structure."""


class _Unparseable(Exception):
    """The strict parser cannot go on (unknown type/encoding or inconsistent data)."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0:
            raise _Unparseable(f"negative length {n}")
        if self.pos + n > len(self.data):
            raise _Truncated()
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def skip(self, n: int) -> None:
        if n < 0:
            raise _Unparseable(f"negative length {n}")
        if self.pos + n > len(self.data):
            raise _Truncated()
        self.pos += n

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def s32(self) -> int:
        return int(struct.unpack(">i", self.take(4))[0])


# ----------------------------------------------------------------------------------------------------------
# public entry points


def parse_messages(messages: Iterable[WsMessage | tuple[str, bytes | str]]) -> WireReport:
    """Parse recorded WebSocket messages (direction + payload), in the order they were recorded."""
    client = bytearray()
    server = bytearray()
    # For each client byte offset where a message starts: how many server bytes had arrived by then.
    # The server's pixel format changes only after the client's SetPixelFormat, so this orders them.
    client_marks: list[tuple[int, int]] = []
    text_frames = 0
    for msg in messages:
        if isinstance(msg, WsMessage):
            direction, data = msg.direction, msg.data
        else:
            raw_dir, data = msg
            if raw_dir not in _DIRECTION_ALIASES:
                raise ValueError(f"unknown direction {raw_dir!r}")
            direction = _DIRECTION_ALIASES[raw_dir]
        if isinstance(data, str):
            text_frames += 1
            data = data.encode("utf-8")
        if direction == "from_client":
            client_marks.append((len(client), len(server)))
            client += data
        else:
            server += data
    report = _parse(bytes(client), bytes(server), client_marks)
    if text_frames:
        report.notes.append(f"{text_frames} text (not binary) WebSocket frame(s) were included as UTF-8")
    return report


def parse_streams(from_client: bytes, from_server: bytes) -> WireReport:
    """Parse the two byte streams of one connection (no ordering between them is known)."""
    return _parse(bytes(from_client), bytes(from_server), [])


def find_text(report_or_bytes: WireReport | bytes | bytearray, needles: Sequence[str] | str,
              max_hits: int = 50) -> list[TextHit]:
    """Raw search for each needle, as UTF-8 and as Latin-1, in both directions.

    noVNC 1.3 sends non-Latin-1 text truncated to one byte per UTF-16 unit (``charCodeAt`` into a
    Uint8Array) and reads ServerCutText as Latin-1 (spike P7): for such needles the "latin-1" form is
    that truncation. A WireReport is also searched in its decoded clipboard texts, which is where
    Extended Clipboard (zlib) content shows up.
    """
    if isinstance(needles, str):
        needles = [needles]
    hits: list[TextHit] = []
    if isinstance(report_or_bytes, (bytes, bytearray)):
        areas: list[tuple[str, bytes]] = [("bytes", bytes(report_or_bytes))]
        cuts: list[tuple[str, list[CutText]]] = []
    else:
        areas = [("from_server", report_or_bytes.raw_from_server),
                 ("from_client", report_or_bytes.raw_from_client)]
        cuts = [("server_cut_text", report_or_bytes.server_cut_texts),
                ("client_cut_text", report_or_bytes.client_cut_texts)]
    for needle in needles:
        if not needle:
            continue
        for encoding, pattern in _needle_forms(needle):
            for where, blob in areas:
                start = 0
                count = 0
                while count < max_hits and (i := blob.find(pattern, start)) >= 0:
                    hits.append(TextHit(needle, encoding, where, i))
                    start = i + 1
                    count += 1
        for where, items in cuts:
            for index, cut in enumerate(items):
                if needle in cut.text:
                    hits.append(TextHit(needle, "decoded", where, index))
    return hits


def _needle_forms(needle: str) -> list[tuple[str, bytes]]:
    utf8 = needle.encode("utf-8")
    try:
        latin1 = needle.encode("latin-1")
        latin_name = "latin-1"
    except UnicodeEncodeError:
        # The low byte of each UTF-16 code unit, as JavaScript's charCodeAt() into a Uint8Array gives.
        units = needle.encode("utf-16-be")
        latin1 = units[1::2]
        latin_name = "latin-1-truncated"
    if latin1 == utf8:
        return [("ascii", utf8)]
    return [("utf-8", utf8), (latin_name, latin1)]


# ----------------------------------------------------------------------------------------------------------
# parser


def _not_rfb_reason(data: bytes, who: str) -> str:
    if not data:
        return f"nothing captured from the {who}"
    if len(data) >= 3 and data[0] == 0x16 and data[1] == 0x03:
        return f"the {who} stream starts with a TLS handshake record: the wire is encrypted, not RFB"
    if data[:1] in (b"\x14", b"\x15", b"\x17") and data[1:2] == b"\x03":
        return f"the {who} stream starts with a TLS record: the wire is encrypted, not RFB"
    if data.startswith((b"GET ", b"HTTP/", b"POST ")):
        return f"the {who} stream is HTTP, not RFB (capture includes the upgrade or is not a VNC socket)"
    return f"the {who} stream does not start with an RFB ProtocolVersion (first bytes {data[:16].hex(' ')})"


_VERSION_RE = re.compile(rb"^RFB (\d{3})\.(\d{3})\n$")


def _parse(client: bytes, server: bytes, client_marks: list[tuple[int, int]]) -> WireReport:
    report = WireReport(decodable=False, bytes_from_server=len(server), bytes_from_client=len(client),
                        raw_from_server=server, raw_from_client=client)
    if not server.startswith(b"RFB "):
        report.decode_errors.append(_not_rfb_reason(server, "server"))
        return report
    sv = _Reader(server)
    cl = _Reader(client)
    try:
        pf = _handshake(report, sv, cl)
    except _Truncated:
        report.decode_errors.append(f"the capture ends inside the handshake (server {sv.pos}/{len(server)}, "
                                    f"client {cl.pos}/{len(client)} bytes read)")
        return report
    except _Unparseable as exc:
        report.decode_errors.append(str(exc))
        return report
    if pf is None:
        return report  # refused or failed authentication: decodable, nothing else crossed
    pf_changes = _parse_client(report, cl, client_marks)
    _parse_server(report, sv, pf, pf_changes)
    return report


def _handshake(report: WireReport, sv: _Reader, cl: _Reader) -> PixelFormat | None:
    m = _VERSION_RE.match(sv.take(12))
    if not m:
        raise _Unparseable("malformed server ProtocolVersion")
    if not cl.data.startswith(b"RFB "):
        raise _Unparseable(_not_rfb_reason(cl.data, "client"))
    mc = _VERSION_RE.match(cl.take(12))
    if not mc:
        raise _Unparseable("malformed client ProtocolVersion")
    minor = int(mc.group(2))
    minor = 3 if minor < 7 else 7 if minor < 8 else 8  # e.g. 3.889 (Apple) speaks 3.8
    report.protocol_version = f"3.{minor}"

    if minor == 3:
        sec = sv.u32()
        if sec == 0:
            reason = sv.take(sv.u32()).decode("utf-8", "replace")
            report.decodable = True
            report.notes.append(f"server refused the connection: {reason}")
            return None
    else:
        count = sv.u8()
        if count == 0:
            reason = sv.take(sv.u32()).decode("utf-8", "replace")
            report.decodable = True
            report.notes.append(f"server refused the connection: {reason}")
            return None
        offered = list(sv.take(count))
        sec = cl.u8()
        if sec not in offered:
            report.notes.append(f"client chose security type {sec}, not offered {offered}")
    report.security_type = sec
    name = SECURITY_TYPES.get(sec, "unknown")
    if sec == 2:
        sv.skip(16)  # challenge
        cl.skip(16)  # DES response
    elif sec != 1:
        raise _Unparseable(f"security type {sec} ({name}): the session after it is encrypted or "
                           "not understood by this parser")
    if sec == 2 or minor == 8:
        result = sv.u32()
        if result != 0:
            reason = ""
            if minor == 8 and sv.remaining() >= 4:
                reason = sv.take(sv.u32()).decode("utf-8", "replace")
            report.decodable = True
            report.notes.append(f"authentication failed ({result}) {reason}".strip())
            return None
    cl.skip(1)  # ClientInit: shared flag
    width, height = sv.u16(), sv.u16()
    pf = PixelFormat.unpack(sv.take(16))
    name_raw = sv.take(sv.u32())
    try:
        report.desktop_name = name_raw.decode("utf-8")
    except UnicodeDecodeError:
        report.desktop_name = name_raw.decode("latin-1")
    report.framebuffer_size = (width, height)
    report.decodable = True
    return pf


# --- client → server --------------------------------------------------------------------------------------


def _parse_client(report: WireReport, cl: _Reader,
                  client_marks: list[tuple[int, int]]) -> list[tuple[int, PixelFormat]]:
    """Returns the SetPixelFormat changes as (server offset from which they apply, format)."""
    changes: list[tuple[int, PixelFormat]] = []
    report.client_parse = "strict"
    marks = sorted(client_marks)
    while cl.remaining() > 0:
        start = cl.pos
        try:
            kind = _client_message(report, cl, start)
        except _Truncated:
            report.decode_errors.append(
                f"client stream ends inside a message of type {cl.data[start]} at offset {start} "
                f"({len(cl.data) - start} bytes; truncated capture)")
            _heuristic_cut_texts(report, cl.data, start, 6, report.client_cut_texts)
            return changes
        except _Unparseable as exc:
            report.decode_errors.append(f"client stream at offset {start}: {exc}")
            report.client_parse = f"heuristic from offset {start}"
            _heuristic_cut_texts(report, cl.data, start, 6, report.client_cut_texts)
            return changes
        report.client_messages[kind] += 1
        if kind == "SetPixelFormat":
            pf = PixelFormat.unpack(cl.data[start + 4:start + 20])
            server_at = 0
            for c_off, s_off in marks:
                if c_off <= start:
                    server_at = s_off
                else:
                    break
            changes.append((server_at, pf))
    return changes


def _client_message(report: WireReport, cl: _Reader, start: int) -> str:
    t = cl.u8()
    if t == 0:
        cl.skip(19)
        return "SetPixelFormat"
    if t == 2:
        cl.skip(1)
        n = cl.u16()
        report.encodings_offered = [int(x) for x in struct.unpack(f">{n}i", cl.take(4 * n))]
        return "SetEncodings"
    if t == 3:
        cl.skip(9)
        return "FramebufferUpdateRequest"
    if t == 4:
        down = cl.u8()
        cl.skip(2)
        keysym = cl.u32()
        report.key_events.append(KeyEvent(keysym, bool(down), keysym_char(keysym)))
        return "KeyEvent"
    if t == 5:
        cl.skip(5)
        report.pointer_event_count += 1
        return "PointerEvent"
    if t == 6:
        cl.skip(3)
        length = cl.s32()
        report.client_cut_texts.append(_cut_text(cl, length, start))
        return "ClientCutText"
    if t == 150:
        cl.skip(9)
        return "EnableContinuousUpdates"
    if t == 248:
        cl.skip(7)
        cl.skip(cl.u8())
        return "ClientFence"
    if t == 250:
        cl.skip(3)
        return "xvp"
    if t == 251:
        cl.skip(5)
        n = cl.u8()
        cl.skip(1 + 16 * n)
        return "SetDesktopSize"
    if t == 255:
        sub = cl.u8()
        if sub == 0:
            down = cl.u16()
            keysym = cl.u32()
            keycode = cl.u32()
            report.key_events.append(KeyEvent(keysym, bool(down), keysym_char(keysym), True, keycode))
            return "QEMUExtendedKeyEvent"
        if sub == 1:
            op = cl.u16()
            cl.skip(6 if op == 2 else 0)
            return "QEMUAudio"
        raise _Unparseable(f"unknown QEMU client message subtype {sub}")
    raise _Unparseable(f"unknown client message type {t}")


def _cut_text(rd: _Reader, length: int, start: int) -> CutText:
    if length >= 0:
        if length > _MAX_CUT_TEXT:
            raise _Unparseable(f"cut text of {length} bytes is implausible")
        data = rd.take(length)
        # RFB says Latin-1; many servers send UTF-8. Prefer UTF-8 when it decodes.
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        return CutText(text, False, length, "plain", ("text",), data, start)
    size = -length
    if size < 4 or size > _MAX_CUT_TEXT:
        raise _Unparseable(f"Extended Clipboard message of {size} bytes is implausible")
    payload = rd.take(size)
    try:
        return decode_extended_clipboard(payload, length, start)
    except ValueError as exc:
        raise _Unparseable(f"Extended Clipboard at offset {start}: {exc}") from exc


def decode_extended_clipboard(payload: bytes, raw_len: int = 0, offset: int = -1,
                              heuristic: bool = False) -> CutText:
    """Decode an Extended Clipboard payload (flags + data). Raises ValueError when it does not parse."""
    if len(payload) < 4:
        raise ValueError("shorter than its flags")
    (flags,) = struct.unpack(">I", payload[:4])
    actions = [name for bit, name in EXT_CLIP_ACTIONS.items() if flags & bit]
    formats = tuple(name for bit, name in EXT_CLIP_FORMATS.items() if flags & bit)
    if not actions:
        raise ValueError(f"no action in flags 0x{flags:08x}")
    rest = payload[4:]
    if "caps" in actions:
        # In a caps message the other action bits list what the peer supports; the payload is one u32
        # (maximum unsolicited size) per format bit, never clipboard content.
        if len(rest) != 4 * bin(flags & 0xFFFF).count("1"):
            raise ValueError("caps message with a payload that does not match its format bits")
        return CutText("", True, raw_len, "caps", formats, b"", offset, heuristic)
    action = "+".join(actions)
    if "provide" not in actions:
        return CutText("", True, raw_len, action, formats, b"", offset, heuristic)
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(rest, _MAX_INFLATE)
    except zlib.error as exc:
        raise ValueError(f"zlib stream does not inflate: {exc}") from exc
    pos = 0
    text_data: bytes | None = None
    for bit in range(16):
        if not flags & (1 << bit):
            continue
        if pos + 4 > len(raw):
            raise ValueError("inflated data ends before a format's size")
        (size,) = struct.unpack(">I", raw[pos:pos + 4])
        pos += 4
        if pos + size > len(raw):
            raise ValueError("inflated data ends inside a format's data")
        if bit == 0:
            text_data = raw[pos:pos + size]
        pos += size
    data = (text_data or b"").rstrip(b"\0")
    return CutText(data.decode("utf-8", "replace"), True, raw_len, action, formats, data, offset, heuristic)


# --- server → client --------------------------------------------------------------------------------------


_ENCODING_NAMES = {0: "Raw", 1: "CopyRect", 2: "RRE", 4: "CoRRE", 5: "Hextile", 6: "zlib", 7: "Tight",
                   16: "ZRLE", -260: "TightPNG", -223: "DesktopSize", -224: "LastRect", -239: "Cursor",
                   -240: "XCursor", -258: "QEMUExtendedKeyEvent", -261: "QEMULEDState", -307: "DesktopName",
                   -308: "ExtendedDesktopSize", -309: "xvp", -312: "Fence", -313: "ContinuousUpdates",
                   -314: "CursorWithAlpha", 0x574D5664: "VMwareCursor", 0x574D5668: "VMwareLEDState"}


def _parse_server(report: WireReport, sv: _Reader, pf: PixelFormat,
                  pf_changes: list[tuple[int, PixelFormat]]) -> None:
    report.server_parse = "strict"
    pending = sorted(pf_changes, key=lambda c: c[0])
    while sv.remaining() > 0:
        start = sv.pos
        while pending and pending[0][0] <= start:
            pf = pending.pop(0)[1]
        try:
            kind = _server_message(report, sv, pf, start)
        except _Truncated:
            report.decode_errors.append(
                f"server stream ends inside a message of type {sv.data[start]} at offset {start} "
                f"({len(sv.data) - start} bytes; truncated capture)")
            _heuristic_cut_texts(report, sv.data, start, 3, report.server_cut_texts)
            return
        except _Unparseable as exc:
            report.decode_errors.append(f"server stream at offset {start}: {exc}")
            report.server_parse = f"heuristic from offset {start}"
            _heuristic_cut_texts(report, sv.data, start, 3, report.server_cut_texts)
            return
        report.server_messages[kind] += 1


def _server_message(report: WireReport, sv: _Reader, pf: PixelFormat, start: int) -> str:
    t = sv.u8()
    if t == 0:
        sv.skip(1)
        n = sv.u16()
        i = 0
        while n == 0xFFFF or i < n:  # 0xFFFF: as many as come until LastRect
            x, y, w, h = sv.u16(), sv.u16(), sv.u16(), sv.u16()
            enc = sv.s32()
            report.rect_encodings[_ENCODING_NAMES.get(enc, str(enc))] += 1
            if enc == -224:
                break
            _skip_rect(report, sv, pf, enc, x, y, w, h)
            i += 1
        return "FramebufferUpdate"
    if t == 1:
        sv.skip(3)
        sv.skip(6 * sv.u16())
        return "SetColourMapEntries"
    if t == 2:
        return "Bell"
    if t == 3:
        sv.skip(3)
        length = sv.s32()
        report.server_cut_texts.append(_cut_text(sv, length, start))
        return "ServerCutText"
    if t == 150:
        return "EndOfContinuousUpdates"
    if t == 248:
        sv.skip(7)
        sv.skip(sv.u8())
        return "ServerFence"
    if t == 250:
        sv.skip(3)
        return "xvp"
    raise _Unparseable(f"unknown server message type {t}")


def _skip_rect(report: WireReport, sv: _Reader, pf: PixelFormat, enc: int, x: int, y: int, w: int,
               h: int) -> None:
    bpp = pf.bytes_per_pixel
    if enc == 0:
        sv.skip(w * h * bpp)
    elif enc == 1:
        sv.skip(4)
    elif enc in (2, 4):  # RRE, CoRRE
        n = sv.u32()
        sv.skip(bpp + n * (bpp + (8 if enc == 2 else 4)))
    elif enc == 5:
        _skip_hextile(sv, bpp, w, h)
    elif enc in (6, 16):  # zlib, ZRLE: u32 length + data
        sv.skip(sv.u32())
    elif enc in (7, -260):
        _skip_tight(sv, pf, w, h, png_allowed=enc == -260)
    elif enc in (-223, -258, -309, -312, -313):
        pass  # no payload
    elif enc == -239:
        sv.skip(w * h * bpp + ((w + 7) // 8) * h)
    elif enc == -240:
        if w * h:
            sv.skip(6 + 2 * ((w + 7) // 8) * h)
    elif enc == -261:
        sv.skip(1)
    elif enc == -307:
        name = sv.take(sv.u32())
        report.notes.append(f"desktop renamed to {name.decode('utf-8', 'replace')!r}")
    elif enc == -308:
        n = sv.u8()
        sv.skip(3 + 16 * n)
    elif enc == -314:
        inner = sv.s32()
        if inner != 0:
            raise _Unparseable(f"CursorWithAlpha with inner encoding {inner}")
        sv.skip(w * h * 4)
    elif enc == 0x574D5664:
        kind = sv.u8()
        sv.skip(1)
        if kind == 0:
            sv.skip(2 * w * h * bpp)
        elif kind == 1:
            sv.skip(w * h * 4)
        else:
            raise _Unparseable(f"VMware cursor type {kind}")
    elif enc == 0x574D5668:
        sv.skip(4)
    else:
        raise _Unparseable(f"rectangle encoding {enc} is not known to this parser")


def _skip_hextile(sv: _Reader, bpp: int, w: int, h: int) -> None:
    for ty in range(0, h, 16):
        th = min(16, h - ty)
        for tx in range(0, w, 16):
            tw = min(16, w - tx)
            sub = sv.u8()
            if sub & 1:
                sv.skip(tw * th * bpp)
                continue
            if sub & 2:
                sv.skip(bpp)
            if sub & 4:
                sv.skip(bpp)
            if sub & 8:
                n = sv.u8()
                sv.skip(n * ((bpp if sub & 16 else 0) + 2))


def _compact_length(sv: _Reader) -> int:
    b = sv.u8()
    length = b & 0x7F
    if b & 0x80:
        b = sv.u8()
        length |= (b & 0x7F) << 7
        if b & 0x80:
            length |= sv.u8() << 14
    return length


def _skip_tight(sv: _Reader, pf: PixelFormat, w: int, h: int, png_allowed: bool) -> None:
    ctl = sv.u8() >> 4  # low nibble: zlib stream resets
    tp = pf.tight_pixel_size
    if ctl == 0x08:  # fill
        sv.skip(tp)
        return
    if ctl in (0x09, 0x0A):  # JPEG, PNG
        if ctl == 0x0A and not png_allowed:
            raise _Unparseable("PNG in a Tight (not TightPNG) rectangle")
        sv.skip(_compact_length(sv))
        return
    if ctl & 0x08:
        raise _Unparseable(f"illegal Tight compression control 0x{ctl:x}")
    filt = sv.u8() if ctl & 0x04 else 0
    if filt == 0 or filt == 2:  # copy, gradient
        size = w * h * tp
    elif filt == 1:  # palette
        colours = sv.u8() + 1
        sv.skip(colours * tp)
        size = ((w + 7) // 8) * h if colours <= 2 else w * h
    else:
        raise _Unparseable(f"illegal Tight filter {filt}")
    if size < 12:
        sv.skip(size)  # small data is sent uncompressed
    else:
        sv.skip(_compact_length(sv))


# --- heuristic fallback -----------------------------------------------------------------------------------


def _plausible_text(data: bytes) -> bool:
    if not data:
        return True
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
    return printable / len(text) >= 0.9


def _heuristic_cut_texts(report: WireReport, data: bytes, start: int, msg_type: int,
                         into: list[CutText]) -> None:
    """Scan ``data[start:]`` for ``msg_type,0,0,0,s32 len`` cut-text messages (spike §4)."""
    header = bytes([msg_type, 0, 0, 0])
    pos = start
    while (i := data.find(header, pos)) >= 0 and i + 8 <= len(data):
        pos = i + 1
        (length,) = struct.unpack(">i", data[i + 4:i + 8])
        if 0 < length <= _MAX_CUT_TEXT and i + 8 + length <= len(data):
            body = data[i + 8:i + 8 + length]
            if _plausible_text(body):
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    text = body.decode("latin-1")
                into.append(CutText(text, False, length, "plain", ("text",), body, i, True))
                pos = i + 8 + length
        elif -_MAX_CUT_TEXT <= length <= -4 and i + 8 - length <= len(data):
            try:
                cut = decode_extended_clipboard(data[i + 8:i + 8 - length], length, i, heuristic=True)
            except ValueError:
                continue
            # Flags with bits outside the known actions/formats are pixel noise, not a message.
            (flags,) = struct.unpack(">I", data[i + 8:i + 12])
            if flags & ~0x1F00FFFF or (cut.action not in ("provide", "caps") and length != -4):
                continue
            into.append(cut)
            pos = i + 8 - length
