"""Xpra (3.1, HTML5 client) in the neutral wire model.

What the wire is (checked against Xpra 3.1.3: the HTML5 client's ``js/Protocol.js`` and ``js/lib/bencode.js``,
the server's ``xpra/net/protocol.py``, ``header.py``, ``compression.py``):

- one WebSocket with binary messages; each direction is a byte stream of packets and the WebSocket message
  boundaries mean nothing (a packet may span messages, a message may hold several packets);
- a packet is an 8-byte header ``!cBBBL`` (b"P", protocol flags, compression level, chunk index, payload
  size) and the payload. Flags: 0 bencode, 0x1 rencode, 0x4 yaml (neither is decoded here; the HTML5 client
  speaks neither), 0x2 AES (undecodable: the payload is encrypted). Level: 0 plain, ``& 0x10`` lz4 (a
  little-endian u32 of the uncompressed size, then an lz4 block), ``& 0x20`` lzo (unsupported, as in the
  HTML5 client), ``& 0x40`` brotli, any other non-zero value zlib;
- chunk index > 0: a raw item (pixels, clipboard or file data that the server compressed on its own) that
  replaces item ``index`` of the next packet with chunk index 0, which carries an empty placeholder there;
- a decoded packet is a list whose first item is the packet type ("hello", "draw", "key-action", …), or an
  int when the receiver's hello asked for aliases (``"aliases": {name: int}``).

The HTML5 client bencodes JavaScript strings one byte per UTF-16 unit (``ord()`` into a ``Uint8Array``),
so text it did not UTF-8-encode itself (key strings, file names, clipboard text read with
``navigator.clipboard.readText``) arrives with each character truncated to its low byte; clipboard text it
polls from paste events, and log lines, are UTF-8. Bytes are decoded as UTF-8 when they are valid UTF-8,
else as Latin-1; :func:`conformance.oracles.wire.find` searches the truncated form too.

Packet layouts used here (HTML5 ``Client.js`` and the server's ``clipboard_core.py``, ``file_transfer.py``):
``key-action`` wid, keyname, pressed, modifiers, keyval, string, keycode, group; ``clipboard-token``
selection, targets, target, dtype, dformat, wire_encoding, wire_data, claim, greedy[, synchronous];
``clipboard-contents`` request_id, selection, dtype, dformat, wire_encoding, wire_data[, truncated];
``clipboard-request`` request_id, selection, target; ``send-file`` filename, mimetype, printit, openit,
filesize, data, options[, send_id] (data empty and ``options["file-chunk-id"]`` set when chunked);
``send-file-chunk`` chunk_id, chunk_no, data, has_more; ``open-url`` url[, send_id]; ``print`` filename,
data, mimetype, …; ``send-data-request`` dtype, send_id, url, mimetype, filesize, printit, openit;
``logging`` level, [args]. A ``send-file`` with printit set is a print job (the HTML5 client opens the PDF
to print it): kind "print".
"""

from __future__ import annotations

import re
import struct
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import brotli
import lz4.block

from conformance.oracles.wire import Direction, Kind, Stream, WireMessage, WireModel, streams

_HEADER = struct.Struct("!cBBBL")
FLAG_RENCODE = 0x1
FLAG_CIPHER = 0x2
FLAG_YAML = 0x4
LEVEL_LZ4 = 0x10
LEVEL_LZO = 0x20
LEVEL_BROTLI = 0x40
_MAX_PACKET = 256 * 1024 * 1024  # Xpra's own absolute maximum packet size is of this order
_MAX_INFLATE = 256 * 1024 * 1024
_MAX_DEPTH = 64
ENCRYPTED_REASON = "encrypted (AES): the wire cannot be inspected"


# ----------------------------------------------------------------------------------------------------------
# bencode
#
# Xpra's own decoder, not a PyPI one: Xpra's variant has a "u" prefix for UTF-8 strings ("u5:hello"),
# dict keys that are ints or arbitrary bytes, dicts in insertion order (the HTML5 client does not sort
# them, which strict BitTorrent decoders reject), and the HTML5 client writes JavaScript numbers, so an
# "integer" may be fractional ("i1.5e"). The PyPI bencode libraries reject one or more of these.


class BencodeError(ValueError):
    pass


_INT_RE = re.compile(rb"-?\d+")
_FLOAT_RE = re.compile(rb"-?\d+\.\d+")


def bdecode(data: bytes) -> tuple[Any, int]:
    """Decode one value from the start of ``data``: (value, offset after it). Strings stay bytes ("u"
    strings become str); raises BencodeError on anything malformed or truncated."""
    return _bvalue(data, 0, 0)


def _bstring(data: bytes, pos: int) -> tuple[bytes, int]:
    colon = data.find(b":", pos, pos + 21)
    if colon < 0 or not data[pos:colon].isdigit():
        raise BencodeError(f"bad string length at offset {pos}")
    end = colon + 1 + int(data[pos:colon])
    if end > len(data):
        raise BencodeError(f"string at offset {pos} runs past the end")
    return data[colon + 1:end], end


def _bvalue(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if pos >= len(data):
        raise BencodeError("data ends inside a value")
    if depth > _MAX_DEPTH:
        raise BencodeError(f"nested deeper than {_MAX_DEPTH}")
    c = data[pos]
    if 0x30 <= c <= 0x39:
        return _bstring(data, pos)
    if c == 0x69:  # i<number>e
        end = data.find(b"e", pos + 1)
        token = data[pos + 1:end] if end > 0 else b""
        if _INT_RE.fullmatch(token):
            return int(token), end + 1
        if _FLOAT_RE.fullmatch(token):
            return float(token), end + 1
        raise BencodeError(f"bad integer at offset {pos}")
    if c == 0x75:  # u<len>:<utf-8>
        raw, end = _bstring(data, pos + 1)
        try:
            return raw.decode("utf-8"), end
        except UnicodeDecodeError as exc:
            raise BencodeError(f"u-string at offset {pos} is not UTF-8") from exc
    if c in (0x6C, 0x64):  # l…e, d…e
        items: list[Any] = []
        pos += 1
        while True:
            if pos >= len(data):
                raise BencodeError("data ends inside a list or dict")
            if data[pos] == 0x65:
                break
            item, pos = _bvalue(data, pos, depth + 1)
            items.append(item)
        if c == 0x6C:
            return items, pos + 1
        if len(items) % 2:
            raise BencodeError("dict with a key and no value")
        keys = items[0::2]
        if any(isinstance(k, (list, dict)) for k in keys):
            raise BencodeError("dict key that is a list or dict")
        return dict(zip(keys, items[1::2], strict=True)), pos + 1
    raise BencodeError(f"unexpected byte 0x{c:02x} at offset {pos}")


# ----------------------------------------------------------------------------------------------------------
# framing


def decompress(body: bytes, level: int) -> bytes:
    """Undo a packet's compression by its level byte. Raises ValueError."""
    if level == 0:
        return body
    try:
        if level & LEVEL_LZ4:
            if len(body) < 4:
                raise ValueError("lz4 packet shorter than its size prefix")
            size = int.from_bytes(body[:4], "little")
            if size > _MAX_INFLATE:
                raise ValueError(f"lz4 packet claims {size} bytes uncompressed")
            return bytes(lz4.block.decompress(body[4:], uncompressed_size=size))
        if level & LEVEL_LZO:
            raise ValueError("lzo compression is not supported (nor is it by the HTML5 client)")
        if level & LEVEL_BROTLI:
            return bytes(brotli.decompress(body))
        inflater = zlib.decompressobj()
        out = inflater.decompress(body, _MAX_INFLATE)
        if inflater.unconsumed_tail:
            raise ValueError(f"zlib packet inflates past {_MAX_INFLATE} bytes")
        return out
    except (lz4.block.LZ4BlockError, brotli.error, zlib.error) as exc:
        raise ValueError(f"does not decompress (level 0x{level:02x}): {exc}") from exc


def compression_name(level: int) -> str:
    if level == 0:
        return "none"
    if level & LEVEL_LZ4:
        return "lz4"
    if level & LEVEL_LZO:
        return "lzo"
    if level & LEVEL_BROTLI:
        return "brotli"
    return "zlib"


def _not_xpra_reason(data: bytes, who: str) -> str:
    if len(data) >= 2 and data[0] in (0x14, 0x15, 0x16, 0x17) and data[1] == 0x03:
        return f"the {who} stream starts with a TLS record: the wire is encrypted, not Xpra"
    if data.startswith((b"GET ", b"HTTP/", b"POST ")):
        return f"the {who} stream is HTTP, not Xpra (the capture includes the upgrade or is another socket)"
    if data.startswith(b"RFB "):
        return f"the {who} stream is RFB (VNC), not Xpra"
    return f"the {who} stream does not start with an Xpra packet header (first bytes {data[:16].hex(' ')})"


@dataclass
class _Packet:
    index: int  # recorded message the header is in
    offset: int  # stream offset of the header
    items: list[Any]


@dataclass
class _Parsed:
    packets: list[_Packet] = field(default_factory=list)
    fatal: str | None = None  # why this direction makes the wire undecodable
    compression: Counter[str] = field(default_factory=Counter)


def _parse_stream(stream: Stream, who: str, errors: list[str], notes: list[str]) -> _Parsed:
    """Split one direction into packets and decode them. Framing problems stop the direction (there is no
    safe way to find the next header); a packet that does not decode is skipped with a decode error."""
    out = _Parsed()
    data = stream.data
    if not data:
        out.fatal = f"nothing captured from the {who}"
        return out
    if data[0] != 0x50:
        out.fatal = _not_xpra_reason(data, who)
        return out
    pos = 0
    chunks: dict[int, bytes] = {}
    while pos < len(data):
        if len(data) - pos < _HEADER.size:
            notes.append(f"the {who} stream ends inside a packet header at offset {pos} "
                         f"({len(data) - pos} bytes; truncated capture)")
            break
        magic, flags, level, chunk, size = _HEADER.unpack_from(data, pos)
        where = f"{who} packet at offset {pos}"
        if magic != b"P":
            errors.append(f"the {who} stream loses the Xpra packet framing at offset {pos} (bytes "
                          f"{data[pos:pos + 8].hex(' ')}); the rest of it is not decoded")
            break
        if flags & FLAG_CIPHER:
            out.fatal = f"{ENCRYPTED_REASON} ({who} packets from offset {pos} on)"
            break
        if size > _MAX_PACKET:
            errors.append(f"{where}: implausible size {size}; the rest of the {who} stream is not decoded")
            break
        start, end = pos + _HEADER.size, pos + _HEADER.size + size
        if end > len(data):
            notes.append(f"the {who} stream ends inside a packet at offset {pos} ({len(data) - start} of "
                         f"{size} bytes; truncated capture)")
            break
        pos = end
        out.compression[compression_name(level)] += 1
        try:
            body = decompress(data[start:end], level)
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
            chunks.clear()
            continue
        if chunk > 0:
            chunks[chunk] = body
            continue
        if flags:  # rencode, yaml or unknown (AES was handled above)
            encoding = "rencode" if flags & FLAG_RENCODE else "yaml" if flags & FLAG_YAML else f"flags 0x{flags:02x}"
            errors.append(f"{where}: encoded with {encoding}, which this decoder does not read")
            chunks.clear()
            continue
        try:
            items, used = bdecode(body)
        except BencodeError as exc:
            errors.append(f"{where}: bencode does not decode: {exc}")
            chunks.clear()
            continue
        if not isinstance(items, list) or not items:
            errors.append(f"{where}: decodes to {type(items).__name__}, not a packet list")
            chunks.clear()
            continue
        if used != len(body):
            errors.append(f"{where}: {len(body) - used} trailing byte(s) after the packet")
        for i, raw in sorted(chunks.items()):
            if i < len(items):
                items[i] = raw
            else:
                errors.append(f"{where}: raw chunk for item {i} of a {len(items)}-item packet")
        chunks.clear()
        out.packets.append(_Packet(stream.message_at(start - _HEADER.size), start - _HEADER.size, items))
    if chunks:
        notes.append(f"the {who} stream ends with raw chunk(s) {sorted(chunks)} and no packet for them")
    if out.fatal is None and not out.packets:
        out.fatal = f"no complete Xpra packet could be decoded from the {who}"
    return out


# ----------------------------------------------------------------------------------------------------------
# values


def as_text(value: Any) -> str:
    """A string field as text: UTF-8 when valid, else Latin-1 (the HTML5 client's byte-per-unit form)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value).decode("latin-1")
    if isinstance(value, (int, float)):
        return str(value)
    return ""


def as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return b""


def _at(items: list[Any], i: int, default: Any = None) -> Any:
    return items[i] if len(items) > i else default


def _get(d: Any, key: str, default: Any = None) -> Any:
    """A dict entry by str key, whether the dict's keys are bytes or str."""
    if not isinstance(d, dict):
        return default
    if key in d:
        return d[key]
    return d.get(key.encode("utf-8"), default)


def _leaves(value: Any, out: list[bytes], depth: int = 0) -> None:
    if isinstance(value, (bytes, bytearray, str)):
        if value:
            out.append(as_bytes(value))
    elif isinstance(value, dict) and depth < _MAX_DEPTH:
        for k, v in value.items():
            _leaves(k, out, depth + 1)
            _leaves(v, out, depth + 1)
    elif isinstance(value, list) and depth < _MAX_DEPTH:
        for v in value:
            _leaves(v, out, depth + 1)


def _jsonable(value: Any, depth: int = 0) -> Any:
    if isinstance(value, (bytes, bytearray, str)):
        return as_text(value)[:500]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if depth > 4:
        return "…"
    if isinstance(value, dict):
        return {as_text(k): _jsonable(v, depth + 1) for k, v in list(value.items())[:100]}
    if isinstance(value, list):
        return [_jsonable(v, depth + 1) for v in value[:100]]
    return repr(value)[:200]


# Hello capabilities kept in ``detail``: what the peers say about the channels a policy restricts.
_CAPS_PREFIXES = ("version", "build.version", "platform", "client_type", "clipboard", "file-transfer", "file-size",
                  "file-chunks", "printing", "open-url", "open-files", "sound.send", "sound.receive", "compressors",
                  "lz4", "brotli", "zlib", "bencode", "rencode", "encoding", "encodings", "aliases")


def _hello_detail(caps: Any) -> dict[str, Any]:
    if not isinstance(caps, dict):
        return {}
    out = {}
    for k, v in caps.items():
        key = as_text(k)
        if key.startswith(_CAPS_PREFIXES) or key in ("cipher", "encryption"):
            out[key] = _jsonable(v)
    return dict(sorted(out.items()))


# ----------------------------------------------------------------------------------------------------------
# classification

_SCREEN = {"draw", "eos", "cursor", "window-icon", "new-window", "new-override-redirect", "new-tray",
           "window-metadata", "lost-window", "raise-window", "window-resized", "window-move-resize",
           "initiate-moveresize", "configure-override-redirect", "desktop_size", "show-desktop", "notify_show",
           "notify_close", "notification-close", "notification-action", "configure-window", "map-window",
           "unmap-window", "close-window", "buffer-refresh", "damage-sequence", "screenshot", "restack-window",
           "window-deiconify", "suspend", "resume", "set-cursors", "set-notify", "encoding", "quality",
           "min-quality", "speed", "min-speed"}
_INPUT = {"key-action", "key-repeat", "button-action", "pointer-position", "wheel-motion", "focus",
          "layout-changed", "keymap-changed", "pointer-grab", "pointer-ungrab", "input-devices",
          "set-keyboard-sync-enabled"}
_AUDIO = {"sound-data", "sound-control", "new-stream", "state-changed", "new-buffer", "bell", "set-bell"}
_CONTROL = {"hello", "challenge", "ping", "ping_echo", "disconnect", "set_deflate", "logging", "info-request",
            "info-response", "startup-complete", "setting-change", "connection-data", "server-event",
            "start-command", "command_request", "control", "rpc", "rpc-reply", "sharing-toggle", "lock-toggle",
            "exit-server", "shutdown-server", "connection-lost", "gibberish", "invalid", "info"}
_FILE = {"send-file", "send-file-chunk", "ack-file-chunk", "send-data-request", "send-data-response"}
_PRINT = {"print", "printers"}

# Keys whose press turns the next letters into shortcuts, and the generic modifier names for them.
_CHORD_KEYS = {f"{k}_{s}" for k in ("Control", "Alt", "Meta", "Super", "Hyper") for s in "LR"}
_CHORD_NAMES = {"control", "alt", "meta", "super", "hyper"}
_DEFAULT_CHORD_MODS = {"mod1", "mod4"}  # X11's usual places of Alt and Super/Meta


def kind_of(name: str) -> Kind:
    if name.startswith("clipboard-") or name == "set-clipboard-enabled":
        return "clipboard"
    if name in _FILE:
        return "file"
    if name in _PRINT:
        return "print"
    if name == "open-url":
        return "url"
    if name in _SCREEN:
        return "screen"
    if name in _INPUT:
        return "input"
    if name in _AUDIO:
        return "audio"
    if name in _CONTROL:
        return "control"
    return "other"


def _is_text_type(dtype: str) -> bool:
    d = dtype.lower()
    return "text" in d or "string" in d


def _clipboard_data(dtype: Any, dformat: Any, encoding: Any, data: Any) -> tuple[bytes, str]:
    """Clipboard wire data as (bytes, text); text only for textual targets."""
    if isinstance(data, list):
        if as_text(encoding) != "integers" or not all(isinstance(x, int) for x in data):
            return b"", ""  # "atoms": a list of target names, not content
        fmt = {8: "B", 16: "H", 32: "I"}.get(dformat if isinstance(dformat, int) else 8, "I")
        mask = (1 << (8 * struct.calcsize(fmt))) - 1
        payload = struct.pack(f"<{len(data)}{fmt}", *(x & mask for x in data))
    else:
        payload = as_bytes(data)
    return payload, as_text(payload) if _is_text_type(as_text(dtype)) else ""


def _chord_mods(server_caps: Any) -> set[str]:
    """Modifier names that mean Ctrl/Alt/Meta/Super, from the server hello's ``modifier_keycodes``
    (``{mod: [[keycode, keyname], …]}``) when present: the HTML5 client names them that way."""
    mapping = _get(server_caps, "modifier_keycodes")
    if not isinstance(mapping, dict) or not mapping:
        return _CHORD_NAMES | _DEFAULT_CHORD_MODS
    out = set(_CHORD_NAMES)
    for mod, keys in mapping.items():
        names: list[bytes] = []
        _leaves(keys, names)
        if any(n.decode("latin-1") in _CHORD_KEYS for n in names):
            out.add(as_text(mod))
    return out


@dataclass
class _State:
    """What classification carries from one packet to the next."""

    chord_mods: set[str]
    held: set[str] = field(default_factory=set)
    typed: list[str] = field(default_factory=list)
    chunked: dict[tuple[Direction, str], tuple[Kind, str]] = field(default_factory=dict)
    draw_encodings: Counter[str] = field(default_factory=Counter)


# Items left out of ``WireMessage.strings``: pixel and sound data (large, never text).
_NOT_STRINGS = {"draw": {7}, "sound-data": {2}, "window-icon": {5}}


def _message(direction: Direction, name: str, items: list[Any], index: int, st: _State) -> WireMessage:
    kind = kind_of(name)
    payload, text, carries = b"", "", False
    skip = set(_NOT_STRINGS.get(name, ()))
    if name == "key-action":
        keyname, pressed, mods, string = as_text(_at(items, 2)), bool(_at(items, 3)), _at(items, 4), _at(items, 6)
        # The server types the keysym named by ``keyname``; the client lowercases ``string`` unless Shift is
        # held (Client.js), so a one-character keyname ("C" from a synthetic key event) is what was typed.
        ch = keyname if len(keyname) == 1 else as_text(string)
        ch = ch if len(ch) == 1 and ch.isprintable() else ""
        if keyname in _CHORD_KEYS:
            (st.held.add if pressed else st.held.discard)(keyname)
        elif pressed and ch:
            text = ch
            held = st.held or {as_text(m) for m in (mods if isinstance(mods, list) else ())} & st.chord_mods
            if direction == "from_client" and not held:
                st.typed.append(ch)
    elif name == "clipboard-token" and len(items) >= 8:
        payload, text = _clipboard_data(items[4], items[5], items[6], items[7])
        carries, skip = bool(payload), skip | {7}
    elif name == "clipboard-contents" and len(items) >= 7:
        payload, text = _clipboard_data(items[3], items[4], items[5], items[6])
        carries, skip = bool(payload), skip | {6}
    elif name == "send-file":
        text, payload, printit = as_text(_at(items, 1)), as_bytes(_at(items, 6)), bool(_at(items, 3))
        kind = "print" if printit else "file"
        chunk_id = as_text(_get(_at(items, 7), "file-chunk-id", b""))
        if chunk_id:
            st.chunked[(direction, chunk_id)] = (kind, text)
        carries, skip = bool(payload), skip | {6}
    elif name == "send-file-chunk":
        kind, text = st.chunked.get((direction, as_text(_at(items, 1))), ("file", ""))
        payload = as_bytes(_at(items, 3))
        carries, skip = bool(payload), skip | {3}
    elif name == "send-data-request":
        dtype, text = as_text(_at(items, 1)), as_text(_at(items, 3))
        if dtype == "url":
            kind, payload, carries = "url", as_bytes(_at(items, 3)), True
        else:
            kind = "print" if _at(items, 6) else "file"
    elif name == "open-url":
        payload, text, carries = as_bytes(_at(items, 1)), as_text(_at(items, 1)), True
    elif name == "print":
        text, payload = as_text(_at(items, 1)), as_bytes(_at(items, 2))
        carries, skip = bool(payload), skip | {2}
    elif name == "sound-data":
        payload = as_bytes(_at(items, 2))
        carries = bool(payload)
    elif name == "logging":
        args = _at(items, 2)
        text = " ".join(as_text(a) for a in args) if isinstance(args, list) else as_text(args)
    elif name in ("new-window", "new-override-redirect", "window-metadata"):
        text = as_text(_get(_at(items, 2 if name == "window-metadata" else 6), "title", ""))
    elif name == "notify_show":
        text = "\n".join(t for t in (as_text(_at(items, 6)), as_text(_at(items, 7))) if t)
    elif name == "draw":
        st.draw_encodings[as_text(_at(items, 6))] += 1
    parts: list[bytes] = []
    for i, item in enumerate(items[1:], start=1):
        if i not in skip:
            _leaves(item, parts)
    return WireMessage(direction, kind, name, payload, text, index, carries, b"\0".join(parts))


def _packet_name(first: Any, aliases: dict[int, str]) -> str:
    if isinstance(first, int) and not isinstance(first, bool):
        return aliases.get(first, f"alias-{first}")
    return as_text(first)


def _aliases(caps: Any) -> dict[int, str]:
    """Aliases a hello asks its peer to use: ``{name: int}`` → ``{int: name}``."""
    mapping = _get(caps, "aliases")
    if not isinstance(mapping, dict):
        return {}
    return {v: as_text(k) for k, v in mapping.items() if isinstance(v, int)}


def decode(messages: Iterable[tuple[Direction, bytes]]) -> WireModel:
    """Decode recorded Xpra WebSocket messages. Both directions are needed (the server's hello says which
    modifiers are Alt/Meta, each side's hello which packet aliases the other uses); ``decodable`` is False
    when a direction is missing, is not Xpra, or turns encrypted."""
    raw = list(messages)
    errors: list[str] = []
    notes: list[str] = []
    by_direction = streams(raw)
    parsed = {d: _parse_stream(by_direction[d], "client" if d == "from_client" else "server", errors, notes)
              for d in ("from_client", "from_server")}
    hellos: dict[Direction, Any] = {}
    for d, p in parsed.items():
        for pkt in p.packets:
            if as_text(pkt.items[0]) == "hello":
                hellos[d] = _at(pkt.items, 1, {})
    # Aliases are the receiver's: the client's hello says how the server names its packets, and back.
    aliases: dict[Direction, dict[int, str]] = {"from_server": _aliases(hellos.get("from_client")),
                                                "from_client": _aliases(hellos.get("from_server"))}
    st = _State(_chord_mods(hellos.get("from_server")))
    ordered = sorted(((pkt, d) for d, p in parsed.items() for pkt in p.packets), key=lambda x: x[0].index)
    out: list[WireMessage] = []
    for pkt, d in ordered:
        name = _packet_name(pkt.items[0], aliases[d])
        try:
            out.append(_message(d, name, pkt.items, pkt.index, st))
        except Exception as exc:  # an unexpected layout must not lose the rest of the capture
            errors.append(f"{d} {name} packet at offset {pkt.offset}: unexpected layout "
                          f"({type(exc).__name__}: {exc})")
            out.append(WireMessage(d, kind_of(name), name, index=pkt.index))
    fatal = [p.fatal for p in parsed.values() if p.fatal]
    detail: dict[str, Any] = {
        "client_hello": _hello_detail(hellos.get("from_client")),
        "server_hello": _hello_detail(hellos.get("from_server")),
        "compression": {d: dict(p.compression) for d, p in parsed.items()},
        "packets": {d: len(p.packets) for d, p in parsed.items()},
    }
    if st.draw_encodings:
        detail["draw_encodings"] = dict(st.draw_encodings)
    if any(aliases.values()):
        notes.append("packet type aliases were negotiated in the hello packets and resolved")
    return WireModel("xpra", not fatal, out, fatal + errors, notes, "".join(st.typed), raw, detail)
