"""The network oracle: an in-process mitmproxy that every candidate connection goes through.

Two addons, one concern each (as mitmproxy's own addons are written):

- ``FixtureRoutes`` resolves the fixture host names to loopback listeners, so no DNS or /etc/hosts
  change is needed, and refuses everything else: the proxy never opens a connection off this machine.
  A refused CONNECT is still recorded, because what a candidate *tried* is evidence (observe mode).
- ``FlowRecorder`` keeps every connection attempt, HTTP flow and websocket message.

``NetworkOracle`` runs mitmproxy's master in a thread with its own event loop; the candidate trusts its
CA only by SPKI pin.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mitmproxy import http, options
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.tls import ClientHelloData
from mitmproxy.tools.dump import DumpMaster

from conformance.environment import tls
from conformance.errors import HarnessError


@dataclass
class WebSocketMessage:
    from_client: bool
    content: bytes
    time: float


@dataclass
class FlowRecord:
    """One HTTP exchange or connection attempt as the proxy saw it."""

    id: str
    time: float
    kind: str  # "connect" (CONNECT tunnel), "http" (a request), "passthrough" (TLS not inspected)
    host: str
    port: int
    method: str = ""
    scheme: str = ""
    path: str = ""
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: bytes = b""
    status: int | None = None
    refused: bool = False
    websocket: list[WebSocketMessage] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def summary(self) -> dict:
        data = asdict(self)
        data["request_body"] = self.request_body[:2048].decode("utf-8", "replace")
        data["websocket"] = [
            {"from_client": m.from_client, "bytes": len(m.content), "time": m.time} for m in self.websocket
        ]
        return data


class FixtureRoutes:
    """Map fixture (host, port) pairs to loopback addresses; refuse all others; pass some TLS through."""

    def __init__(self, recorder: FlowRecorder) -> None:
        self.recorder = recorder
        self.routes: dict[tuple[str, int], tuple[str, int]] = {}
        self.passthrough_hosts: set[str] = set()

    def route(self, host: str, port: int, target: tuple[str, int], passthrough: bool = False) -> None:
        # Passthrough is decided by the TLS SNI, so it applies to the host name on every port.
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
        address = data.server.address
        target = self.routes.get((address[0], address[1])) if address else None
        if target is None:
            data.server.error = "conformance proxy: refusing a connection that is not to a fixture host"
            return
        data.server.address = target

    def tls_clienthello(self, data: ClientHelloData) -> None:
        if data.client_hello.sni in self.passthrough_hosts:
            data.ignore_connection = True


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


@dataclass
class Attempt:
    """Every try of the candidate to reach one destination (host:port), folded together."""

    host: str
    port: int
    first: float
    last: float
    count: int = 0  # tunnels opened or plain-HTTP requests sent
    kinds: set[str] = field(default_factory=set)  # "CONNECT", "TLS passthrough", "plain HTTP", "websocket"
    refused_by_proxy: bool = False  # not a fixture host: the proxy refused, but the attempt left the candidate
    examples: list[str] = field(default_factory=list)  # a few "METHOD scheme://host/path" lines

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def row(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "first": self.first,
            "last": self.last,
            "count": self.count,
            "kinds": sorted(self.kinds),
            "refused_by_proxy": self.refused_by_proxy,
            "examples": self.examples,
        }


def connection_attempts(records: Iterable[FlowRecord]) -> list[Attempt]:
    """Fold the records into one ``Attempt`` per destination, in order of the first attempt.

    A tunnel (CONNECT, refused or not; TLS passed through) or a plain-HTTP proxy request counts as an
    attempt. Requests inside a tunnel add examples only; one seen without its tunnel still counts, so
    no destination the proxy saw is ever dropped.
    """
    found: dict[tuple[str, int], Attempt] = {}
    for record in sorted(records, key=lambda r: r.time):
        key = (record.host.lower(), record.port)
        attempt = found.setdefault(key, Attempt(key[0], record.port, record.time, record.time))
        attempt.last = max(attempt.last, record.time)
        if record.kind == "connect":
            attempt.count += 1
            attempt.kinds.add("CONNECT")
        elif record.kind == "passthrough":
            attempt.count += 1
            attempt.kinds.add("TLS passthrough")
        elif record.scheme == "http":  # absolute-form proxy request: no tunnel precedes it
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
    endpoints: Iterable[tuple[str, int]],
    background: Iterable[tuple[str, int, str]] = (),
) -> list[dict]:
    """One row per destination with ``status``: "declared" (a declared endpoint), "declared-background"
    (``note`` = the declared reason) or "undeclared" (``note`` = what it is known to be, if anything)."""
    endpoints, background = list(endpoints), list(background)
    rows = []
    for attempt in attempts:
        reasons = [r for h, p, r in background if endpoint_matches(attempt.host, attempt.port, [(h, p)])]
        if endpoint_matches(attempt.host, attempt.port, endpoints):
            status, note = "declared", ""
        elif reasons:
            status, note = "declared-background", reasons[0]
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
        kinds = ",".join(row["kinds"]) + (" (refused by proxy)" if row["refused_by_proxy"] else "")
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


class NetworkOracle:
    """Context manager running mitmproxy in-process on a loopback port chosen for the run."""

    def __init__(self, confdir: Path, upstream_ca: Path) -> None:
        self.confdir = confdir
        self.upstream_ca = upstream_ca
        self.recorder = FlowRecorder()
        self.routes = FixtureRoutes(self.recorder)
        self.port = 0
        self._master: DumpMaster | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._crash: list[BaseException] = []

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
        ready = threading.Event()

        def run() -> None:
            async def main() -> None:
                opts = options.Options(listen_host="127.0.0.1", listen_port=self.port, confdir=str(self.confdir))
                self._master = DumpMaster(opts, with_termlog=False, with_dumper=False)
                self._master.addons.add(self.routes, self.recorder)
                # Verify the fixture site's certificate upstream: interception never means ssl_insecure.
                self._master.options.update(ssl_verify_upstream_trusted_ca=str(self.upstream_ca))
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
            if self._accepts() and self.ca_cert_path.exists():
                return self
            time.sleep(0.05)
        self.__exit__()
        raise HarnessError("mitmproxy", f"proxy did not come up: {self._crash[0] if self._crash else 'timeout'}")

    def __exit__(self, *exc: object) -> None:
        if self._master is not None and self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._master.shutdown)
        if self._thread is not None:
            self._thread.join(10)

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
        self.routes.route(host, port, target, passthrough)

    def trust_upstream(self, ca_pem: Path) -> None:
        """Also trust ``ca_pem`` for upstream servers (a vendor's gateway CA from the profile): a bundle of
        the fixture site's CA and it, in the oracle's own folder. Verification stays on."""
        bundle = self.confdir / "upstream-ca-bundle.pem"
        current = Path(self._master.options.ssl_verify_upstream_trusted_ca) if self._master else self.upstream_ca
        bundle.write_bytes(current.read_bytes().rstrip(b"\n") + b"\n" + Path(ca_pem).read_bytes())
        if self._master is None or self._loop is None:
            raise HarnessError("mitmproxy", "the interception proxy is not running")
        self._loop.call_soon_threadsafe(lambda: self._master.options.update(  # type: ignore[union-attr]
            ssl_verify_upstream_trusted_ca=str(bundle)))

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
            r
            for r in self.records(since)
            if r.kind == "http" and r.host == host and r.path.startswith(path_prefix)
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
