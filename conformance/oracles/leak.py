"""The leak oracle: ``detectors.scan`` applied to everything the interception proxy recorded.

Each recorded flow is cut into the places data can travel in, and each place is scanned on its own so
that a hit names where it was found:

- ``host``: the destination name itself (a CONNECT to ``<canary>.evil.test`` carries it to DNS and the
  proxy, even when nothing else is sent);
- ``url``: path and query of a request;
- ``header:<Name>``: each request header (Referer, Cookie, custom headers);
- ``body``, or ``body:multipart[<field>]`` per part of a multipart/form-data body (gzip, deflate and
  brotli Content-Encoding are undone; ``detectors.scan`` peels URL, base64, JSON, HTML, UTF-16 and
  full-width layers);
- ``websocket[<n>]``: each message the candidate sent on a websocket;
- ``datagram[<n>]``: each UDP datagram the terminal sent (namespace observation: WebRTC/STUN, QUIC, any
  UDP); a DNS query is scanned by its ``host``, the name asked for.

A hit carries its destination (host:port), whether the candidate declared that endpoint, the time and
the encoding chain. Deciding what is a leak is the case's job; this module only finds and reports.

It reads the attributes of ``conformance.oracles.network.FlowRecord`` through a Protocol: oracles do
not import each other, and unit tests can feed it synthetic records.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from conformance.detectors import Hit, scan

NUMBER_KINDS = ("mynumber", "corporate-number")
EXCERPT_BEFORE, EXCERPT_AFTER = 40, 120
_SKIP_HEADERS = {"host", "content-length", "connection", "accept-encoding"}  # structural, never user data
_BOUNDARY = re.compile(r'boundary="?([^";,]+)"?', re.IGNORECASE)
_PART_NAME = re.compile(rb'\bname="([^"]*)"', re.IGNORECASE)


class Message(Protocol):
    from_client: bool
    content: bytes
    time: float


class Flow(Protocol):
    """The fields of a recorded flow this oracle reads (``network.FlowRecord`` has them)."""

    id: str
    time: float
    kind: str
    host: str
    port: int
    method: str
    scheme: str
    path: str
    request_headers: dict[str, str]
    request_body: bytes

    @property
    def websocket(self) -> Sequence[Message]: ...

    @property
    def datagrams(self) -> Sequence[Message]: ...


@dataclass(frozen=True)
class LeakHit:
    """One planted value found in one place of one flow."""

    destination: str  # host:port the candidate addressed
    declared: bool  # the destination is one of the candidate's declared endpoints
    time: float  # when it was sent (request start, or the websocket message)
    flow_id: str
    request: str  # "POST https://evil.test/sink/fetch", or "CONNECT evil.test:443"
    channel: str  # host | url | header:<Name> | body | body:multipart[<field>] | websocket[<n>]
    kind: str  # canary | mynumber | corporate-number
    value: str
    encoding: str  # detectors' chain: plain, url, base64, fullwidth, base64+url, ...
    excerpt: str  # the scanned text around the hit, as sent (printable, truncated)

    def row(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Place:
    channel: str
    data: bytes | str
    time: float


class LeakScanner:
    """Scan flows for ``canaries`` and 個人番号 / 法人番号.

    ``numbers``: the numbers the case planted. Only those count, because about 1 in 10 random 12- or
    13-digit strings (a millisecond timestamp, say) has a valid check digit. ``None`` reports every
    check-digit-valid number (for exploring unknown traffic, not for verdicts).
    ``declared``: the candidate's declared (host, port) endpoints.
    """

    def __init__(
        self,
        canaries: Sequence[str],
        numbers: Collection[str] | None = (),
        declared: Collection[tuple[str, int]] = (),
    ) -> None:
        self.canaries = list(canaries)
        self.numbers = None if numbers is None else set(numbers)
        self.declared = {(host.lower().rstrip("."), port) for host, port in declared}
        # Host names arrive lower-cased (URL parsing folds them): look for the folded canary there too.
        self._host_canaries = {c.lower(): c for c in self.canaries} | {c: c for c in self.canaries}

    def is_declared(self, host: str, port: int) -> bool:
        return (host.lower().rstrip("."), port) in self.declared

    def is_declared_name(self, host: str) -> bool:
        """A DNS lookup is declared when the name is a declared endpoint's host (any port)."""
        return host.lower().rstrip(".") in {h for h, _ in self.declared}

    # -- scanning ---------------------------------------------------------------------------------
    def scan(self, flows: Iterable[Flow]) -> list[LeakHit]:
        """Every hit in ``flows``, declared destinations included, in time order; one host hit per
        destination and value (the tunnel and the requests in it name the same host)."""
        hits: list[LeakHit] = []
        seen_hosts: set[tuple[str, str, str, str]] = set()
        for flow in sorted(flows, key=lambda f: f.time):
            for hit in self.scan_flow(flow):
                if hit.channel == "host":
                    key = (hit.destination, hit.kind, hit.value, hit.encoding)
                    if key in seen_hosts:
                        continue
                    seen_hosts.add(key)
                hits.append(hit)
        return sorted(hits, key=lambda h: h.time)

    def undeclared(self, flows: Iterable[Flow]) -> list[LeakHit]:
        """The hits in flows to destinations the candidate did not declare: the leaks."""
        return [hit for hit in self.scan(flows) if not hit.declared]

    def scan_flow(self, flow: Flow) -> list[LeakHit]:
        destination = f"{flow.host}:{flow.port}"
        declared = self.is_declared(flow.host, flow.port)
        if flow.kind == "http":
            request = f"{flow.method} {flow.scheme}://{flow.host}{flow.path}"[:300]
        elif flow.kind == "dns":
            destination, declared = f"{flow.host} (DNS)", self.is_declared_name(flow.host)
            request = f"DNS {flow.method} {flow.host}"[:300]
        elif flow.kind == "udp":
            destination = f"{flow.host}:{flow.port}/udp"
            request = f"UDP {destination}"
        else:
            request = f"CONNECT {destination}"
        found: list[LeakHit] = []
        for place in self._places(flow):
            canaries = list(self._host_canaries) if place.channel == "host" else self.canaries
            for hit in scan(place.data, canaries):
                if not self._counts(hit):
                    continue
                value = self._host_canaries.get(hit.value, hit.value) if hit.kind == "canary" else hit.value
                found.append(
                    LeakHit(
                        destination=destination,
                        declared=declared,
                        time=place.time,
                        flow_id=flow.id,
                        request=request,
                        channel=place.channel,
                        kind=hit.kind,
                        value=value,
                        encoding=hit.encoding,
                        excerpt=_excerpt(place.data, hit),
                    )
                )
        return found

    def _counts(self, hit: Hit) -> bool:
        return hit.kind not in NUMBER_KINDS or self.numbers is None or hit.value in self.numbers

    def _places(self, flow: Flow) -> list[_Place]:
        places = [_Place("host", flow.host, flow.time)]
        if flow.kind == "udp":
            for index, message in enumerate(flow.datagrams):
                if message.from_client and message.content:
                    places.append(_Place(f"datagram[{index}]", message.content, message.time))
            return places
        if flow.kind != "http":
            return places  # a tunnel or a passed-through TLS connection: only its name is readable
        if flow.path:
            places.append(_Place("url", flow.path, flow.time))
        for name, value in flow.request_headers.items():
            if name.lower() not in _SKIP_HEADERS and value:
                places.append(_Place(f"header:{name}", value, flow.time))
        if flow.request_body:
            places += [_Place(c, d, flow.time) for c, d in body_places(flow.request_headers, flow.request_body)]
        for index, message in enumerate(flow.websocket):
            if message.from_client and message.content:
                places.append(_Place(f"websocket[{index}]", message.content, message.time))
        return places


# -- bodies ----------------------------------------------------------------------------------------
def _header(headers: dict[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def decode_content_encoding(headers: dict[str, str], body: bytes) -> bytes:
    """Undo a request's Content-Encoding (gzip, deflate, br); the body as is when it cannot be undone
    (the raw bytes are scanned either way, so a wrong header hides nothing)."""
    data = body
    for coding in reversed([c.strip().lower() for c in _header(headers, "content-encoding").split(",") if c.strip()]):
        try:
            if coding in ("gzip", "x-gzip"):
                data = gzip.decompress(data)
            elif coding == "deflate":
                try:
                    data = zlib.decompress(data)
                except zlib.error:  # raw deflate without the zlib wrapper, as some clients send it
                    data = zlib.decompress(data, -zlib.MAX_WBITS)
            elif coding == "br":
                import brotli  # type: ignore[import-not-found]  # mitmproxy depends on it

                data = brotli.decompress(data)
            elif coding != "identity":
                return body
        except Exception:  # a corrupt or mislabelled body: scan what was sent
            return body
    return data


def body_places(headers: dict[str, str], body: bytes) -> list[tuple[str, bytes]]:
    """(channel, bytes) pairs to scan for one request body."""
    places: list[tuple[str, bytes]] = []
    decoded = decode_content_encoding(headers, body)
    if decoded is not body:
        places.append(("body:raw", body))  # the compressed bytes too: a canary stored uncompressed counts
    content_type = _header(headers, "content-type")
    if content_type.lower().startswith("multipart/"):
        parts = multipart_parts(content_type, decoded)
        if parts:
            return places + parts
    return [*places, ("body", decoded)]


def multipart_parts(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """Split a multipart body into ``("body:multipart[<name>]", part)`` pairs (part headers included,
    so a file name is scanned too). Empty when the body does not parse: the caller scans it whole."""
    match = _BOUNDARY.search(content_type)
    if not match:
        return []
    delimiter = b"--" + match.group(1).strip().encode("latin-1", "replace")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        return []
    parts: list[tuple[str, bytes]] = []
    preamble, epilogue = chunks[0].strip(), chunks[-1].removeprefix(b"--").strip()
    if preamble:
        parts.append(("body:multipart-preamble", preamble))
    for index, chunk in enumerate(chunks[1:-1]):
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, _, content = chunk.partition(b"\r\n\r\n")
        named = _PART_NAME.search(head)
        name = named.group(1).decode("utf-8", "replace") if named else f"#{index}"
        parts.append((f"body:multipart[{name}]", chunk))
        encoding = re.search(rb"content-transfer-encoding:\s*quoted-printable", head, re.IGNORECASE)
        if encoding:  # base64 parts need nothing: detectors decode base64 tokens themselves
            import quopri

            parts.append((f"body:multipart[{name}]+quoted-printable", quopri.decodestring(content)))
    if epilogue:
        parts.append(("body:multipart-epilogue", epilogue))
    return parts


def _excerpt(data: bytes | str, hit: Hit) -> str:
    start, end = max(0, hit.offset - EXCERPT_BEFORE), hit.offset + EXCERPT_AFTER
    text = data[start:end] if isinstance(data, str) else bytes(data)[start:end].decode("utf-8", "replace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
