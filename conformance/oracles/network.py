"""The network oracle: an in-process mitmproxy that every candidate connection goes through.

It observes the candidate in one of two ways (``NetworkOracle.observation``):

- ``"namespace"``: the candidate runs in the terminal's network namespace
  (``environment.terminal_netns``), whose only route is mitmproxy's TUN device. Every TCP connection,
  UDP datagram and DNS query reaches the oracle, whether or not the candidate honours a proxy setting.
- ``"proxy"`` (the fallback without root or /dev/net/tun): the candidate is told to use the oracle as
  its HTTP proxy; what it sends around the proxy (UDP, DNS, direct connections) is not observable.

Addons, one concern each (as mitmproxy's own addons are written):

- ``FixtureRoutes`` sends the fixture host names to loopback listeners and refuses everything else:
  mitmproxy never opens a socket to any address but loopback, so nothing leaves the machine. A refused
  attempt is still recorded, because what a candidate *tried* is evidence (observe mode).
- ``NameService`` is the terminal's DNS in namespace mode: it answers every query itself (a name gets
  an address of the benchmarking range that leads back to the oracle) and never asks upstream.
- ``TerminalTransport`` records each TCP connection and UDP flow the terminal opens in namespace mode,
  with the datagrams' payloads; datagrams to non-fixture destinations go to a loopback sink.
- ``FlowRecorder`` keeps every connection attempt, DNS query, HTTP flow and websocket message.

``NetworkOracle`` runs mitmproxy's master in a thread with its own event loop; the candidate trusts its
CA only by SPKI pin.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mitmproxy import connection, dns, http, options, udp
from mitmproxy.proxy import layer, layers, mode_specs
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.tls import ClientHelloData
from mitmproxy.tools.dump import DumpMaster

from conformance.environment import tls
from conformance.environment.terminal_netns import RESOLVER_ADDRESS, TerminalNamespace
from conformance.errors import HarnessError

OBSERVATIONS = ("namespace", "proxy")
# Where the suite's own positive control sends its datagram inside the terminal namespace (TEST-NET-1).
POSITIVE_CONTROL_PEER = ("192.0.2.1", 9)
NAME_ADDRESSES = ipaddress.ip_network("198.19.0.0/16")  # what NameService hands out (benchmarking range)
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass
class WebSocketMessage:
    from_client: bool
    content: bytes
    time: float


@dataclass
class FlowRecord:
    """One HTTP exchange, connection attempt or DNS query as the oracle saw it."""

    id: str
    time: float
    # proxy mode: "connect" (CONNECT tunnel); namespace mode: "tcp" (a connection the terminal opened),
    # "udp" (a UDP flow; payloads in ``datagrams``), "dns" (one query: host = the name, method = the
    # type, address = the name server asked); both: "http" (a request), "passthrough" (TLS not inspected)
    kind: str
    host: str  # the name (from the request, the SNI or the oracle's own DNS answer), else the address
    port: int
    address: str = ""  # namespace mode: the IP address the terminal really sent to
    method: str = ""
    scheme: str = ""
    path: str = ""
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: bytes = b""
    status: int | None = None
    refused: bool = False
    websocket: list[WebSocketMessage] = field(default_factory=list)
    datagrams: list[WebSocketMessage] = field(default_factory=list)  # "udp": what the terminal sent

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def summary(self) -> dict:
        data = asdict(self)
        data["request_body"] = self.request_body[:2048].decode("utf-8", "replace")
        data["websocket"] = [
            {"from_client": m.from_client, "bytes": len(m.content), "time": m.time} for m in self.websocket
        ]
        data["datagrams"] = [
            {"from_client": m.from_client, "bytes": len(m.content), "time": m.time,
             "head": _printable(m.content[:96])} for m in self.datagrams
        ]  # fmt: skip
        return data


def _printable(data: bytes) -> str:
    return data.decode("latin-1").encode("unicode_escape").decode("ascii")


def _in_tun(client: connection.Client) -> bool:
    return isinstance(client.proxy_mode, mode_specs.TunMode)


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in LOOPBACK)


class NameService:
    """The terminal's DNS in namespace mode: every name gets an address that leads back to the oracle.

    Answered here, never upstream: an A query gets the name's address from ``NAME_ADDRESSES`` (the same
    address for the same name all run long), any other type an empty answer. A connection to such an
    address is then known by its name (``name_of``), so routes and records use names as in proxy mode.
    """

    def __init__(self, recorder: FlowRecorder) -> None:
        self.recorder = recorder
        self._addresses: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    def address_of(self, name: str) -> str:
        name = name.lower().rstrip(".")
        with self._lock:
            if name not in self._addresses:
                address = str(NAME_ADDRESSES[len(self._addresses) + 1])
                self._addresses[name], self._names[address] = address, name
            return self._addresses[name]

    def name_of(self, address: str) -> str | None:
        with self._lock:
            return self._names.get(address)

    def dns_request(self, flow: dns.DNSFlow) -> None:
        request = flow.request
        resolver = flow.server_conn.address[0] if flow.server_conn.address else ""
        answers = []
        for question in request.questions:
            self.recorder.dns_query(flow, question.name, dns.types.to_str(question.type), resolver)
            if question.type == dns.types.A and question.class_ == dns.classes.IN:
                address = ipaddress.IPv4Address(self.address_of(question.name))
                answers.append(dns.ResourceRecord.A(question.name, address, ttl=60))
        # Always a response: without one mitmproxy would forward the query to the name server asked.
        flow.response = request.succeed(answers) if request.questions else request.fail(dns.response_codes.REFUSED)


class FixtureRoutes:
    """Map fixture (host, port) pairs to loopback addresses; refuse all others; pass some TLS through."""

    def __init__(self, recorder: FlowRecorder, names: NameService | None = None) -> None:
        self.recorder = recorder
        self.names = names
        self.routes: dict[tuple[str, int], tuple[str, int]] = {}
        self.passthrough_hosts: set[str] = set()
        self.udp_sink: tuple[str, int] | None = None  # namespace mode: where non-fixture datagrams end
        # The live client connections each route carries (client id), so that a cut can break them too.
        self.carrying: dict[tuple[str, int], set[str]] = {}

    def route(self, host: str, port: int, target: tuple[str, int], passthrough: bool = False) -> None:
        # Passthrough is decided by the TLS SNI, so it applies to the host name on every port.
        if not is_loopback(target[0]):
            raise HarnessError("mitmproxy", f"route {host}:{port} -> {target}: the oracle only routes to loopback")
        self.routes[(host, port)] = target
        if passthrough:
            self.passthrough_hosts.add(host)
        else:
            self.passthrough_hosts.discard(host)

    def unroute(self, host: str, port: int) -> None:
        self.routes.pop((host, port), None)
        self.passthrough_hosts.discard(host)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        key = (flow.request.host, flow.request.port)
        refused = key not in self.routes
        self.recorder.connection(flow, refused=refused, passthrough=flow.request.host in self.passthrough_hosts)
        if refused:
            flow.response = http.Response.make(403, b"not a fixture host (conformance proxy)")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # Plain-HTTP requests in absolute form (proxy requests without CONNECT; inside a tunnel the
        # authority is empty) to a host that is not a fixture.
        request = flow.request
        if request.method != "CONNECT" and request.authority and (request.host, request.port) not in self.routes:
            self.recorder.refused_request(flow)
            flow.response = http.Response.make(403, b"not a fixture host (conformance proxy)")

    def server_connect(self, data: ServerConnectionHookData) -> None:
        # Fail closed: refused unless this hook completes. An exception in an addon hook is logged by mitmproxy,
        # which then connects to the address the candidate asked for: never let a bug here become a packet out.
        data.server.error = "conformance proxy: refused (the route check did not complete)"
        address = data.server.address
        target, key = None, None
        if address and data.server.transport_protocol == "udp" and _in_tun(data.client):
            # The fixtures speak TCP only: datagrams are recorded (TerminalTransport) and never answered.
            target = self.udp_sink
        elif address:
            host = address[0]
            if self.names is not None and _in_tun(data.client):
                host = self.names.name_of(address[0]) or address[0]
            key = (host, address[1])
            target = self.routes.get(key)
        if target is None:
            data.server.error = "conformance proxy: refusing a connection that is not to a fixture host"
            self.recorder.refused(data.client)
            return
        if not is_loopback(target[0]):  # the guarantee that no packet leaves, kept whatever a route says
            data.server.error = f"conformance proxy: {target} is not a loopback address"
            return
        data.server.address = target
        data.server.error = None
        if key is not None:
            self.carrying.setdefault(key, set()).add(data.client.id)

    def client_disconnected(self, client: connection.Client) -> None:
        for clients in self.carrying.values():
            clients.discard(client.id)

    def tls_clienthello(self, data: ClientHelloData) -> None:
        if data.client_hello.sni in self.passthrough_hosts:
            data.ignore_connection = True
            if _in_tun(data.context.client):
                self.recorder.passthrough(data.context.client, data.client_hello.sni or "")


class TerminalTransport:
    """Namespace mode: one record per TCP connection or UDP flow the terminal opens, with its datagrams."""

    def __init__(self, recorder: FlowRecorder, names: NameService) -> None:
        self.recorder = recorder
        self.names = names

    def client_connected(self, client: connection.Client) -> None:
        if not _in_tun(client) or not client.sockname:
            return
        address, port = client.sockname[0], client.sockname[1]
        if client.transport_protocol == "udp" and address == RESOLVER_ADDRESS and port == 53:
            return  # the terminal's own name server: its queries are recorded one by one (NameService)
        self.recorder.transport(client, self.names.name_of(address) or address, address, port)

    def next_layer(self, data: layer.NextLayer) -> None:
        # UDP other than DNS is relayed raw (not as QUIC), so that every datagram reaches udp_message.
        context = data.context
        if (_in_tun(context.client) and context.client.transport_protocol == "udp" and len(context.layers) == 1
                and context.server.address and context.server.address[1] != 53):  # fmt: skip
            data.layer = layers.UDPLayer(context)

    def udp_message(self, flow: udp.UDPFlow) -> None:
        message = flow.messages[-1]
        if message.from_client and _in_tun(flow.client_conn):
            self.recorder.datagram(flow.client_conn, message.content)


def _origin(request: http.Request) -> tuple[str, int]:
    """The host and port the candidate addressed (not the loopback listener the route chose)."""
    host_header = request.host_header or request.pretty_host
    host, _, port = host_header.rpartition(":") if host_header.count(":") == 1 else (host_header, "", "")
    if not port.isdigit():
        return host_header, 443 if request.scheme == "https" else 80
    return host, int(port)


class FlowRecorder:
    """Record everything; thread-safe reads for the cases."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, FlowRecord] = {}

    def _put(self, record: FlowRecord) -> None:
        with self._lock:
            self._records[record.id] = record

    def connection(self, flow: http.HTTPFlow, refused: bool, passthrough: bool) -> None:
        self._put(
            FlowRecord(
                id=f"connect-{flow.id}",
                time=time.time(),
                kind="passthrough" if passthrough and not refused else "connect",
                host=flow.request.host,
                port=flow.request.port,
                method="CONNECT",
                refused=refused,
            )
        )

    # -- namespace mode -------------------------------------------------------------------------------
    def transport(self, client: connection.Client, host: str, address: str, port: int) -> None:
        self._put(FlowRecord(id=f"{client.transport_protocol}-{client.id}", time=time.time(),
                             kind=client.transport_protocol, host=host, port=port, address=address))  # fmt: skip

    def datagram(self, client: connection.Client, content: bytes) -> None:
        with self._lock:
            record = self._records.get(f"udp-{client.id}")
            if record is not None:
                record.datagrams.append(WebSocketMessage(True, content, time.time()))

    def refused(self, client: connection.Client) -> None:
        with self._lock:
            record = self._records.get(f"{client.transport_protocol}-{client.id}")
            if record is not None:
                record.refused = True

    def passthrough(self, client: connection.Client, sni: str) -> None:
        with self._lock:
            record = self._records.get(f"tcp-{client.id}")
            if record is not None:
                record.kind = "passthrough"
                record.host = sni or record.host

    def dns_query(self, flow: dns.DNSFlow, name: str, qtype: str, resolver: str) -> None:
        self._put(FlowRecord(id=f"dns-{flow.id}-{name}-{qtype}", time=time.time(), kind="dns",
                             host=name.lower().rstrip("."), port=53, address=resolver, method=qtype))  # fmt: skip

    def refused_request(self, flow: http.HTTPFlow) -> None:
        self.request(flow)
        with self._lock:
            self._records[flow.id].refused = True

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.request.method == "CONNECT":
            return
        req = flow.request
        host, port = _origin(req)
        self._put(
            FlowRecord(
                id=flow.id,
                time=req.timestamp_start,
                kind="http",
                host=host,
                port=port,
                method=req.method,
                scheme=req.scheme,
                path=req.path,
                request_headers=dict(req.headers.items()),
                request_body=req.raw_content or b"",
                address=flow.client_conn.sockname[0] if _in_tun(flow.client_conn) and flow.client_conn.sockname else "",
            )
        )

    def response(self, flow: http.HTTPFlow) -> None:
        with self._lock:
            record = self._records.get(flow.id)
            if record is not None and flow.response is not None:
                record.status = flow.response.status_code

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:
            return
        message = flow.websocket.messages[-1]
        with self._lock:
            record = self._records.get(flow.id)
            if record is not None:
                record.websocket.append(WebSocketMessage(message.from_client, message.content, time.time()))

    def records(self, since: float = 0.0) -> list[FlowRecord]:
        with self._lock:
            return [r for r in self._records.values() if r.time >= since]


# -- judging connection attempts (NET-01; pure, shared with the screen-transfer kind) -----------------
def endpoint_matches(host: str, port: int, declared: Iterable[tuple[str, int]]) -> bool:
    """True if (host, port) is one of ``declared``; host names compare case-insensitively."""
    host = host.lower().rstrip(".")
    return any(host == d_host.lower().rstrip(".") and port == d_port for d_host, d_port in declared)


# Record kinds that are an attempt of their own, and how a reader sees them.
ATTEMPT_KINDS = {"connect": "CONNECT", "passthrough": "TLS passthrough", "tcp": "TCP", "udp": "UDP"}


@dataclass
class Attempt:
    """Every try of the candidate to reach one destination, folded together.

    A destination is (host, port) over TCP, (host, port) over UDP, or a name looked up in the DNS
    (``protocol`` "dns", ``port`` 53): a lookup is already an attempt to reach the name.
    """

    host: str
    port: int
    first: float
    last: float
    protocol: str = "tcp"
    count: int = 0  # connections, tunnels, plain-HTTP requests, UDP flows or DNS queries
    kinds: set[str] = field(default_factory=set)  # "CONNECT", "TCP", "TLS passthrough", "plain HTTP", "websocket",
    #                                              "UDP", "DNS A" …
    refused_by_proxy: bool = False  # not a fixture host: the oracle refused, but the attempt left the candidate
    examples: list[str] = field(default_factory=list)  # a few "METHOD scheme://host/path" lines or datagram heads
    addresses: set[str] = field(default_factory=set)  # namespace mode: the IP addresses really sent to
    datagrams: int = 0
    payload_bytes: int = 0

    @property
    def endpoint(self) -> str:
        if self.protocol == "dns":
            return f"{self.host} (DNS)"
        return f"{self.host}:{self.port}" + ("/udp" if self.protocol == "udp" else "")

    def row(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "protocol": self.protocol,
            "first": self.first,
            "last": self.last,
            "count": self.count,
            "kinds": sorted(self.kinds),
            "refused_by_proxy": self.refused_by_proxy,
            "examples": self.examples,
            "addresses": sorted(self.addresses),
            "datagrams": self.datagrams,
            "payload_bytes": self.payload_bytes,
        }


def connection_attempts(records: Iterable[FlowRecord]) -> list[Attempt]:
    """Fold the records into one ``Attempt`` per destination, in order of the first attempt.

    A tunnel (CONNECT, refused or not; TLS passed through), a plain-HTTP proxy request, a TCP connection
    or UDP flow of the terminal and a DNS query each count as an attempt. Requests inside a tunnel or
    connection add examples only; one seen without its tunnel still counts, so no destination the
    oracle saw is ever dropped.
    """
    found: dict[tuple[str, int, str], Attempt] = {}
    for record in sorted(records, key=lambda r: r.time):
        protocol = record.kind if record.kind in ("udp", "dns") else "tcp"
        key = (record.host.lower().rstrip("."), record.port, protocol)
        attempt = found.setdefault(key, Attempt(key[0], record.port, record.time, record.time, protocol))
        attempt.last = max(attempt.last, record.time)
        if record.address:
            attempt.addresses.add(record.address)
        if record.kind in ATTEMPT_KINDS:
            attempt.count += 1
            attempt.kinds.add(ATTEMPT_KINDS[record.kind])
        if record.kind == "udp":
            attempt.datagrams += len(record.datagrams)
            attempt.payload_bytes += sum(len(d.content) for d in record.datagrams)
            if record.datagrams and len(attempt.examples) < 5:
                content = record.datagrams[0].content
                attempt.examples.append(f"datagram {len(content)} B: {_printable(content[:48])}")
        elif record.kind == "dns":
            attempt.count += 1
            attempt.kinds.add(f"DNS {record.method}")
        elif record.scheme == "http" and not record.address:  # absolute-form proxy request: no tunnel precedes it
            attempt.count += 1
            attempt.kinds.add("plain HTTP")
        attempt.refused_by_proxy |= record.refused
        if record.kind == "http":
            if record.websocket:
                attempt.kinds.add("websocket")
            if len(attempt.examples) < 5:
                attempt.examples.append(f"{record.method} {record.scheme}://{record.host}{record.path[:160]}")
    for attempt in found.values():
        attempt.count = max(attempt.count, 1)
    return sorted(found.values(), key=lambda a: a.first)


# What stock Chromium contacts by itself. A note for the reader only: it never excuses an attempt; only
# the profile's [network] background, with its reason, does.
KNOWN_BROWSER_BACKGROUND = {
    "accounts.google.com": "Google account state check (ListAccounts)",
    "update.googleapis.com": "component updater",
    "clients2.google.com": "extension / component update checks",
    "clients2.googleusercontent.com": "extension downloads",
    "content-autofill.googleapis.com": "autofill field-type predictions (sends form signatures)",
    "connectivitycheck.gstatic.com": "captive-portal / connectivity check",
    "www.gstatic.com": "static resources for browser features",
    "safebrowsing.googleapis.com": "Safe Browsing list updates",
    "optimizationguide-pa.googleapis.com": "optimization hints",
    "redirector.gvt1.com": "component downloads",
    "edgedl.me.gvt1.com": "component downloads",
    "www.google.com": "search / network time / promos",
    "android.clients.google.com": "Google services",
}


def judge_attempts(
    attempts: Iterable[Attempt],
    endpoints: Iterable[tuple[str, int] | tuple[str, int, str]],
    background: Iterable[tuple[str, int, str] | tuple[str, int, str, str]] = (),
) -> list[dict]:
    """One row per destination with ``status``: "declared" (a declared endpoint), "declared-background"
    (``note`` = the declared reason), "harness" (the suite's own positive control) or "undeclared"
    (``note`` = what it is known to be, if anything).

    ``endpoints`` are (host, port[, protocol]) and ``background`` (host, port, reason[, protocol]); the
    protocol is "tcp" unless given. A DNS lookup is declared when its name is the host of a declared
    endpoint (or background endpoint) of any port and protocol.
    """
    endpoints = [(e[0], e[1], e[2] if len(e) > 2 else "tcp") for e in endpoints]
    background = [(b[0], b[1], b[2], b[3] if len(b) > 3 else "tcp") for b in background]

    def matches(attempt: Attempt, host: str, port: int, protocol: str) -> bool:
        if attempt.protocol == "dns":
            return endpoint_matches(attempt.host, 0, [(host, 0)])
        return protocol == attempt.protocol and endpoint_matches(attempt.host, attempt.port, [(host, port)])

    rows = []
    for attempt in attempts:
        reasons = [r for h, p, r, proto in background if matches(attempt, h, p, proto)]
        if any(matches(attempt, h, p, proto) for h, p, proto in endpoints):
            status, note = "declared", ""
        elif reasons:
            status, note = "declared-background", reasons[0]
        elif (attempt.host, attempt.port) == POSITIVE_CONTROL_PEER:
            status, note = "harness", "the suite's positive control of the namespace, before any candidate ran"
        else:
            status, note = "undeclared", KNOWN_BROWSER_BACKGROUND.get(attempt.host, "")
        rows.append({"status": status, "note": note, **attempt.row(), "first": _iso(attempt.first),
                     "last": _iso(attempt.last)})  # fmt: skip
    return rows


def findings_table(rows: Iterable[dict]) -> str:
    """``judge_attempts`` rows as a fixed-width text table for the evidence folder."""
    head = f"{'status':<20} {'endpoint':<42} {'n':>3}  {'kinds':<36} {'first':<29} note"
    lines = [head, "-" * len(head)]
    for row in rows:
        kinds = ",".join(row["kinds"]) + (" (refused by oracle)" if row["refused_by_proxy"] else "")
        lines.append(
            f"{row['status']:<20} {row['endpoint']:<42} {row['count']:>3}  {kinds:<36} {row['first']:<29} {row['note']}"
        )
    return "\n".join(lines)


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def _quiet_cancellations(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


class UdpSink:
    """A loopback UDP socket that swallows what the oracle relays to non-fixture destinations."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address: tuple[str, int] = self.sock.getsockname()
        self._thread = threading.Thread(target=self._drain, name="udp-sink", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                self.sock.recv(65536)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


class NetworkOracle:
    """Context manager running mitmproxy in-process: a proxy listener on a loopback port chosen for the
    run and, given a ``TerminalNamespace``, a TUN device that is the terminal namespace's only route."""

    def __init__(self, confdir: Path, upstream_ca: Path, terminal: TerminalNamespace | None = None,
                 fallback_reason: str = "") -> None:  # fmt: skip
        self.confdir = confdir
        self.upstream_ca = upstream_ca
        self.terminal = terminal
        # Why the run is observed through the proxy only (namespace mode could not be had), for the verdicts.
        self.fallback_reason = fallback_reason
        self.recorder = FlowRecorder()
        self.names = NameService(self.recorder)
        self.routes = FixtureRoutes(self.recorder, self.names)
        self.transport = TerminalTransport(self.recorder, self.names)
        self.port = 0
        self.tun_name = ""
        self._sink: UdpSink | None = None
        self._master: DumpMaster | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._crash: list[BaseException] = []

    @property
    def observation(self) -> str:
        """How the candidate's traffic is observed: "namespace" (all of it) or "proxy" (what it proxies)."""
        return "namespace" if self.terminal is not None else "proxy"

    def unobservable(self) -> str:
        """What this run cannot see, in one sentence for a verdict's reason ("" in namespace mode)."""
        if self.terminal is not None:
            return ""
        why = f" ({self.fallback_reason})" if self.fallback_reason else ""
        return (f"observed through the proxy only{why}: traffic that bypasses the proxy (UDP, QUIC, WebRTC, "
                "DNS, direct connections) was not observable / プロキシを迂回する通信は観測できなかった")  # fmt: skip

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_cert_path(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    @property
    def spki(self) -> str:
        return tls.spki_pin(self.ca_cert_path.read_bytes())

    def __enter__(self) -> NetworkOracle:
        self.confdir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        modes = [f"regular@127.0.0.1:{self.port}"]
        if self.terminal is not None:
            self.tun_name = f"cft{os.getpid() % 100000}x{self.port % 1000}"  # IFNAMSIZ: at most 15 characters
            modes.append(f"tun:{self.tun_name}")
            self._sink = UdpSink()
            self.routes.udp_sink = self._sink.address
        ready = threading.Event()

        def run() -> None:
            async def main() -> None:
                opts = options.Options(confdir=str(self.confdir))
                self._master = DumpMaster(opts, with_termlog=False, with_dumper=False)
                self._master.addons.add(self.routes, self.names, self.transport, self.recorder)
                # Verify the fixture site's certificate upstream: interception never means ssl_insecure.
                self._master.options.update(
                    mode=modes,
                    ssl_verify_upstream_trusted_ca=str(self.upstream_ca),
                    # A terminal connection routed to this proxy listener (a gateway proxy) is relayed as bytes.
                    ignore_hosts=[rf"^127\.0\.0\.1:{self.port}$"],
                )
                self._loop = asyncio.get_running_loop()
                # Connections cancelled at shutdown are expected; keep them out of the user's terminal.
                self._loop.set_exception_handler(_quiet_cancellations)
                ready.set()
                await self._master.run()

            try:
                asyncio.run(main())
            except BaseException as exc:  # surfaced by alive()
                self._crash.append(exc)
                ready.set()

        self._thread = threading.Thread(target=run, name="network-oracle", daemon=True)
        self._thread.start()
        ready.wait(20)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._crash:
                break
            if self._accepts() and self.ca_cert_path.exists() and self._tun_ready():
                if self.terminal is not None:
                    try:
                        self.terminal.adopt(self.tun_name)
                    except HarnessError:
                        self.__exit__()
                        raise
                return self
            time.sleep(0.05)
        self.__exit__()
        raise HarnessError("mitmproxy", f"proxy did not come up: {self._crash[0] if self._crash else 'timeout'}")

    def __exit__(self, *exc: object) -> None:
        if self.terminal is not None and self.terminal.link:
            # No more packets (the kernel's own IPv6 neighbour traffic included) while the TUN reader stops.
            with contextlib.suppress(HarnessError):
                self.terminal.link_down()
        if self._master is not None and self._loop is not None and self._loop.is_running():
            # mitmproxy's shutdown leaves its servers running; a TUN device still served by mitmproxy_rs's own
            # threads when the interpreter exits crashes it (SIGSEGV in garbage collection). Stop them first.
            servers = self._master.addons.get("proxyserver").servers
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(servers.update([]), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._master.shutdown)
        if self._thread is not None:
            self._thread.join(10)
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    def _tun_ready(self) -> bool:
        if self.terminal is None:
            return True
        try:  # netlink-free and namespace-true (/sys/class/net may show another namespace's devices)
            return socket.if_nametoindex(self.tun_name) > 0
        except OSError:
            return False

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def alive(self) -> bool:
        return bool(self._thread and self._thread.is_alive() and not self._crash and self._accepts())

    def require_alive(self) -> None:
        if not self.alive():
            raise HarnessError("mitmproxy", "the interception proxy is not running; no network evidence")

    def route(self, host: str, port: int, target: tuple[str, int], passthrough: bool = False) -> None:
        """Send (host, port) to a loopback listener. A route to the oracle's own proxy listener (a gateway
        proxy the candidate is configured with) is relayed byte for byte: the listener records its CONNECTs."""
        self.routes.route(host, port, target, passthrough)

    @contextmanager
    def cut(self, endpoints: Iterable[tuple[str, int]]) -> Iterator[None]:
        """Refuse every connection to ``endpoints`` for the duration of a block, then restore their routes:
        the path to a gateway or platform fails as a broken line would (NET-04)."""
        saved = {key: (self.routes.routes[key], key[0] in self.routes.passthrough_hosts)
                 for key in endpoints if key in self.routes.routes}  # fmt: skip
        for host, port in saved:
            self.routes.unroute(host, port)
        # A broken line breaks the connections already open too: an idle connection the candidate opened
        # before the cut (a preconnect to its gateway) must not carry the request made after it.
        self._close_live(list(saved))
        try:
            yield
        finally:
            for (host, port), (target, passthrough) in saved.items():
                self.route(host, port, target, passthrough)

    def _close_live(self, keys: list[tuple[str, int]]) -> None:
        clients = set().union(*(self.routes.carrying.get(key, set()) for key in keys)) if keys else set()
        if not clients or self._master is None or self._loop is None:
            return
        handlers = self._master.addons.get("proxyserver").connections

        def close() -> None:
            for client_id in clients:
                handler = handlers.get(client_id)
                if handler is not None:
                    handler.close_connection(handler.client)

        async def close_now() -> None:
            close()

        try:
            asyncio.run_coroutine_threadsafe(close_now(), self._loop).result(10)
        except Exception as exc:  # the oracle's loop is gone: the case errors on require_alive
            raise HarnessError("mitmproxy", f"could not break the open connections to {keys}: {exc}") from exc

    def trust_upstream(self, ca_pem: Path) -> None:
        """Also trust ``ca_pem`` for upstream servers (a vendor's gateway CA from the profile): a bundle of
        the fixture site's CA and it, in the oracle's own folder. Verification stays on."""
        bundle = self.confdir / "upstream-ca-bundle.pem"
        current = Path(self._master.options.ssl_verify_upstream_trusted_ca) if self._master else self.upstream_ca
        bundle.write_bytes(current.read_bytes().rstrip(b"\n") + b"\n" + Path(ca_pem).read_bytes())
        if self._master is None or self._loop is None:
            raise HarnessError("mitmproxy", "the interception proxy is not running")
        self._loop.call_soon_threadsafe(
            lambda: self._master.options.update(  # type: ignore[union-attr]
                ssl_verify_upstream_trusted_ca=str(bundle)
            )
        )

    @contextmanager
    def rerouted(self, host: str, port: int, target: tuple[str, int], passthrough: bool = False) -> Iterator[None]:
        """Send (host, port) to another listener for the duration of a block, then restore the run's
        route: for a case that puts another server in the candidate's path, as an attacker on the path
        would (e.g. a rogue-CA server under a declared name, NET-02)."""
        before = self.routes.routes.get((host, port))
        was_passthrough = host in self.routes.passthrough_hosts
        self.route(host, port, target, passthrough)
        try:
            yield
        finally:
            if before is None:
                self.routes.unroute(host, port)
            else:
                self.route(host, port, before, was_passthrough)

    # -- reading the evidence -------------------------------------------------------------------
    def records(self, since: float = 0.0) -> list[FlowRecord]:
        return self.recorder.records(since)

    def requests_to(self, host: str, path_prefix: str = "", since: float = 0.0) -> list[FlowRecord]:
        return [
            r for r in self.records(since) if r.kind == "http" and r.host == host and r.path.startswith(path_prefix)
        ]

    def wait_for(self, predicate, timeout: float, since: float = 0.0) -> list[FlowRecord]:  # type: ignore[no-untyped-def]
        """Poll until ``predicate(records)`` is truthy; returns the records it matched on (or [])."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.records(since)
            found = predicate(records)
            if found:
                return list(found) if isinstance(found, Iterable) and not isinstance(found, bool) else records
            if time.monotonic() >= deadline:
                return []
            time.sleep(0.1)

    def dump(self, path: Path, since: float = 0.0) -> Path:
        """Write the flows as JSON lines (bodies truncated) for the evidence folder."""
        with path.open("w", encoding="utf-8") as out:
            for record in self.records(since):
                out.write(json.dumps(record.summary(), ensure_ascii=False) + "\n")
        return path
