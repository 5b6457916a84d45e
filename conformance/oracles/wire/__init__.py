"""One neutral model of what crossed the wire between a browser-side screen-transfer client and its gateway.

Each protocol has its own decoder (RFB for noVNC, Xpra for its HTML5 client, …) because the wire formats
have nothing in common; the oracles and test cases should not care which one spoke. A decoder turns the
WebSocket messages a tap recorded (direction + payload, in order) into a :class:`WireModel`: a list of
:class:`WireMessage` classified by *kind* (screen, input, clipboard, file, print, url, audio, control,
other), the text typed on the keyboard, what could not be decoded and why.

Two rules hold for every protocol:

- an undecodable wire (encrypted, not the declared protocol, a decoder bug) gives ``decodable=False``
  with the reason in ``decode_errors``; the caller turns that into an ``error`` verdict, never a pass;
- :func:`find` always searches the raw bytes as recorded, decodable or not, and also the decoded content
  of every message, which is the only place where compressed content (zlib, lz4, brotli) shows up.

Decoders are looked up by name in :data:`DECODERS` ("module:function") and imported only when used, so a
profile naming one protocol does not pay for (or break on) the others.
"""

from __future__ import annotations

import bisect
import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from conformance.oracles import rfb as _rfb

Direction = Literal["from_client", "from_server"]
Kind = Literal["screen", "input", "clipboard", "file", "print", "url", "audio", "control", "other"]

DIRECTIONS: tuple[Direction, ...] = ("from_client", "from_server")
KINDS: tuple[Kind, ...] = ("screen", "input", "clipboard", "file", "print", "url", "audio", "control", "other")

DECODERS: dict[str, str] = {"rfb": "conformance.oracles.wire.rfb:decode",
                            "xpra": "conformance.oracles.wire.xpra:decode"}
OPAQUE = "opaque"
OPAQUE_REASON = "the profile declares the wire opaque: it cannot be inspected"


@dataclass(frozen=True)
class WireMessage:
    """One protocol message, in the protocol's own words (``name``) and in the neutral ones (``kind``).

    ``payload`` is the content the message carries (clipboard bytes, file bytes, URL), ``text`` the same
    as text when it is text (or the file name, the key's character, a log line). ``index`` is the index
    of the recorded WebSocket message the protocol message starts in (-1 when the decoder cannot tell).
    ``strings`` holds every other string field of the decoded message (window titles, hello
    capabilities, …) for :func:`find`; pixel data is left out.
    """

    direction: Direction
    kind: Kind
    name: str
    payload: bytes = b""
    text: str = ""
    index: int = -1
    carries_data: bool = False
    strings: bytes = field(default=b"", repr=False, compare=False)


@dataclass
class WireModel:
    """A decoded wire. ``raw`` is every recorded message as recorded; ``detail`` the protocol's own summary."""

    protocol: str
    decodable: bool
    messages: list[WireMessage] = field(default_factory=list)
    decode_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    typed_text: str = ""
    raw: list[tuple[Direction, bytes]] = field(default_factory=list, repr=False)
    detail: dict[str, Any] = field(default_factory=dict)

    def of_kind(self, kind: Kind, direction: Direction | None = None) -> list[WireMessage]:
        return [m for m in self.messages if m.kind == kind and (direction is None or m.direction == direction)]

    def texts(self, kind: Kind, direction: Direction) -> list[str]:
        """Texts of the messages of this kind and direction that carry content (not caps, requests, …)."""
        return [m.text for m in self.of_kind(kind, direction) if m.carries_data]

    def bytes_by_direction(self) -> dict[str, int]:
        out = dict.fromkeys(DIRECTIONS, 0)
        for direction, data in self.raw:
            out[direction] += len(data)
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-able summary: counts are ``{direction: {kind: {name: n}}}``."""
        counts: dict[str, dict[str, dict[str, int]]] = {}
        for m in self.messages:
            by_name = counts.setdefault(m.direction, {}).setdefault(m.kind, {})
            by_name[m.name] = by_name.get(m.name, 0) + 1
        out: dict[str, Any] = {"protocol": self.protocol, "decodable": self.decodable, "counts": counts,
                               "typed_text": self.typed_text, "decode_errors": list(self.decode_errors),
                               "notes": list(self.notes), "bytes": self.bytes_by_direction()}
        if self.detail:
            out["detail"] = self.detail
        return out

    def rows(self, kinds: Sequence[Kind] = ("clipboard", "file", "print", "url")) -> list[dict[str, Any]]:
        """Evidence rows for the messages of these kinds, in order."""
        return [{"direction": m.direction, "kind": m.kind, "name": m.name, "carries_data": m.carries_data,
                 "text": m.text[:500], "bytes": len(m.payload), "index": m.index}
                for m in self.messages if m.kind in kinds]


@dataclass(frozen=True)
class WireHit:
    """A needle found on the wire.

    ``where`` is the direction for a hit in the raw bytes (``index``: the recorded message it starts in;
    "bytes" and a byte offset when plain bytes were searched), or ``direction:kind:name`` for a hit in a
    decoded message (``encoding`` "decoded", ``index``: that message's ``index``).
    """

    needle: str
    encoding: str
    where: str
    index: int


# ----------------------------------------------------------------------------------------------------------
# recorded messages


def normalise(messages: Iterable[Any]) -> list[tuple[Direction, bytes]]:
    """Recorded messages as ``(direction, bytes)``: accepts ``rfb.WsMessage`` and the tap's direction aliases
    (``framesent``, ``client``, …); text frames are taken as UTF-8."""
    out: list[tuple[Direction, bytes]] = []
    for msg in messages:
        if isinstance(msg, _rfb.WsMessage):
            raw_dir, data = msg.direction, msg.data
        else:
            raw_dir, data = msg
        if raw_dir not in _rfb._DIRECTION_ALIASES:
            raise ValueError(f"unknown direction {raw_dir!r}")
        if isinstance(data, str):
            data = data.encode("utf-8")
        out.append((_rfb._DIRECTION_ALIASES[raw_dir], bytes(data)))
    return out


@dataclass
class Stream:
    """One direction's messages concatenated, with where each message starts (stream protocols ignore
    WebSocket message boundaries)."""

    data: bytes
    starts: list[int]  # stream offset where each of this direction's messages starts
    indices: list[int]  # the index of that message among all recorded messages

    def message_at(self, offset: int) -> int:
        """Index of the recorded message holding stream byte ``offset`` (-1 if none)."""
        i = bisect.bisect_right(self.starts, offset) - 1
        return self.indices[i] if i >= 0 else -1


def streams(raw: Sequence[tuple[Direction, bytes]]) -> dict[Direction, Stream]:
    parts: dict[Direction, list[bytes]] = {d: [] for d in DIRECTIONS}
    out = {d: Stream(b"", [], []) for d in DIRECTIONS}
    sizes = dict.fromkeys(DIRECTIONS, 0)
    for index, (direction, data) in enumerate(raw):
        if not data:
            continue
        out[direction].starts.append(sizes[direction])
        out[direction].indices.append(index)
        parts[direction].append(data)
        sizes[direction] += len(data)
    for d in DIRECTIONS:
        out[d].data = b"".join(parts[d])
    return out


# ----------------------------------------------------------------------------------------------------------
# registry


def protocols() -> list[str]:
    """Protocol names :func:`decode` accepts."""
    return sorted([*DECODERS, OPAQUE])


def require_known(protocol: str | None, profile_file: str) -> None:
    """Bad input before the run: a profile's ``driver.wire_protocol`` names no decoder. None: not a
    screen-transfer profile (nothing to check)."""
    if protocol is not None and protocol not in protocols():
        from conformance.errors import InputError

        raise InputError(profile_file, "driver.wire_protocol", f"unknown wire protocol {protocol!r}",
                         f"use one of: {', '.join(protocols())}")


def _decoder(protocol: str) -> Callable[[list[tuple[Direction, bytes]]], WireModel]:
    module_name, _, func = DECODERS[protocol].partition(":")
    return getattr(importlib.import_module(module_name), func)  # type: ignore[no-any-return]


def decode(protocol: str, messages: Iterable[Any]) -> WireModel:
    """Decode recorded messages with the named protocol's decoder.

    An unknown name is a configuration mistake (ValueError). A decoder that fails does not crash the
    test: the model says ``decodable=False`` with the reason, and the raw search still works on it.
    """
    if protocol != OPAQUE and protocol not in DECODERS:
        raise ValueError(f"unknown wire protocol {protocol!r}; known: {', '.join(protocols())}")
    raw = normalise(messages)
    if protocol == OPAQUE:
        return WireModel(OPAQUE, False, decode_errors=[OPAQUE_REASON], raw=raw)
    try:
        model = _decoder(protocol)(raw)
    except Exception as exc:
        return WireModel(protocol, False, raw=raw,
                         decode_errors=[f"the {protocol} decoder failed: {type(exc).__name__}: {exc}"])
    model.raw = raw
    return model


# ----------------------------------------------------------------------------------------------------------
# search


def needle_forms(needle: str) -> list[tuple[str, bytes]]:
    """The byte forms a needle can take on the wire: rfb's (UTF-8; Latin-1, or the low byte of each UTF-16
    unit as JavaScript's ``charCodeAt`` into a byte array gives) plus UTF-16-LE (Windows clipboard text)."""
    forms = _rfb._needle_forms(needle)
    utf16 = needle.encode("utf-16-le")
    if all(utf16 != pattern for _, pattern in forms):
        forms.append(("utf-16-le", utf16))
    return forms


def find(model_or_raw: WireModel | bytes | bytearray | Iterable[Any], needles: Sequence[str] | str,
         max_hits: int = 50) -> list[WireHit]:
    """Search each needle in the raw bytes (every form of :func:`needle_forms`, each direction as one
    stream, at most ``max_hits`` per form and direction) and in every decoded message (text, payload and
    other string fields; one hit per message, at most ``max_hits`` per needle)."""
    if isinstance(needles, str):
        needles = [needles]
    model: WireModel | None = None
    areas: list[tuple[str, bytes, Stream | None]]
    if isinstance(model_or_raw, (bytes, bytearray)):
        areas = [("bytes", bytes(model_or_raw), None)]
    else:
        if isinstance(model_or_raw, WireModel):
            model, raw = model_or_raw, model_or_raw.raw
        else:
            raw = normalise(model_or_raw)
        areas = [(d, s.data, s) for d, s in streams(raw).items()]
    hits: list[WireHit] = []
    for needle in needles:
        if not needle:
            continue
        forms = needle_forms(needle)
        for encoding, pattern in forms:
            for where, blob, stream in areas:
                start = count = 0
                while count < max_hits and (i := blob.find(pattern, start)) >= 0:
                    hits.append(WireHit(needle, encoding, where, stream.message_at(i) if stream else i))
                    start = i + 1
                    count += 1
        if model is None:
            continue
        count = 0
        for m in model.messages:
            if count >= max_hits:
                break
            if needle in m.text or any(p in m.payload or p in m.strings for _, p in forms):
                hits.append(WireHit(needle, "decoded", f"{m.direction}:{m.kind}:{m.name}", m.index))
                count += 1
    return hits


__all__ = [
    "DECODERS",
    "DIRECTIONS",
    "KINDS",
    "OPAQUE",
    "Direction",
    "Kind",
    "Stream",
    "WireHit",
    "WireMessage",
    "WireModel",
    "decode",
    "find",
    "needle_forms",
    "normalise",
    "protocols",
    "streams",
]
