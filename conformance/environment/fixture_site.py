"""The fixture site: the internet side, the LGWAN side and the exfiltration sink, on loopback.

One aiohttp application serves every fixture host; the host name decides the role. It listens three
times: TLS with a leaf from the run's site CA (reached only through the interception proxy, which maps
the fixture names to it), TLS with a leaf from a rogue CA (for the certificate-refusal check, passed
through the proxy unchanged), and plain HTTP for the remote side of the screen-transfer stack.

Every request is recorded here too, so the site is a server-side oracle independent of the proxy.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from aiohttp import WSMsgType, web

from conformance.environment import tls
from conformance.errors import HarnessError
from conformance.site.files import FILE_NAMES, make_file

PAGES_DIR = Path(__file__).resolve().parent.parent / "site" / "pages"
# Names the proxy resolves to this site. *.test is reserved (RFC 2606): never a real host.
SITE_HOSTS = ("internet.test", "lgwan.test", "evil.test")
ROGUE_HOST = "untrusted.test"
# The ICE peer the probe pages' WebRTC talks to (TEST-NET-2, routed nowhere). Named to a page only with namespace
# observation, where every datagram ends in the network oracle; a candidate on the real network would send it out.
WEBRTC_PEER = "198.51.100.7:3478"
_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


@dataclass(frozen=True)
class SiteRequest:
    """One request as the site saw it (the server-side record)."""

    listener: str
    host: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    time: float
    websocket_messages: tuple[bytes, ...] = ()


@dataclass
class _Log:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[SiteRequest] = field(default_factory=list)
    reports: list[dict] = field(default_factory=list)


class FixtureSite:
    """Context manager: start the site's three listeners in a private event-loop thread."""

    def __init__(self, tls_dir: Path, pages_dir: Path = PAGES_DIR) -> None:
        self.tls_dir = tls_dir
        self.pages_dir = pages_dir
        self._log = _Log()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self.ports: dict[str, int] = {}
        self._probe_configs: dict[str, dict[str, str]] = {}
        self.site_ca: tls.CertPair | None = None
        self.rogue_ca: tls.CertPair | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> FixtureSite:
        self.site_ca = tls.make_ca(self.tls_dir, "site-ca", "conformance fixture site CA")
        site_leaf = tls.make_leaf(self.tls_dir, "site", self.site_ca, [*SITE_HOSTS, "localhost", "127.0.0.1"])
        self.rogue_ca = tls.make_ca(self.tls_dir, "rogue-ca", "untrusted rogue CA")
        # The rogue leaf names the fixture hosts too: put in the path of a declared name (NET-02), it is
        # refused only for its issuer, not for a name mismatch.
        rogue_leaf = tls.make_leaf(self.tls_dir, "rogue", self.rogue_ca, [ROGUE_HOST, *SITE_HOSTS])
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._start(site_leaf, rogue_leaf))
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fixture-site", daemon=True)
        self._thread.start()
        if not started.wait(15) or failure:
            raise HarnessError("fixture-site", f"did not start: {failure[0] if failure else 'timeout'}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _start(self, site_leaf: tls.CertPair, rogue_leaf: tls.CertPair) -> None:
        for listener, leaf in (("tls", site_leaf), ("rogue", rogue_leaf), ("plain", None)):
            runner = web.AppRunner(self._app(listener), access_log=None)
            await runner.setup()
            context = None
            if leaf is not None:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(leaf.cert_path, leaf.key_path)
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
            await site.start()
            self.ports[listener] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._runners.append(runner)

    async def _cleanup(self) -> None:
        for runner in self._runners:
            await runner.cleanup()

    def stopped_answering(self, timeout: float = 5.0) -> str:
        """Why the site would not answer a request now ("" while it would): its thread ended, or its event loop
        (which serves every listener) did not run a no-op within ``timeout`` seconds, as when a handler blocks it.
        Asked in-process, so the site's request log, an oracle of its own, records nothing for it."""
        if self._loop is None or self._thread is None or not self._thread.is_alive() or self._loop.is_closed():
            return "its thread has ended"

        async def nothing() -> None:
            return None

        try:
            future = asyncio.run_coroutine_threadsafe(nothing(), self._loop)
        except RuntimeError as exc:  # the loop closed in between
            return f"its event loop stopped ({exc})"
        try:
            future.result(timeout)
        except TimeoutError:
            future.cancel()
            return f"it answered nothing for {timeout:.0f} s"
        return ""

    # -- what tests read ---------------------------------------------------------------------------
    def requests(self, host: str | None = None, listener: str | None = None) -> list[SiteRequest]:
        with self._log.lock:
            found = list(self._log.requests)
        return [r for r in found if (host is None or r.host == host) and (listener in (None, r.listener))]

    def reports(self) -> list[dict]:
        with self._log.lock:
            return list(self._log.reports)

    def plain_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.ports['plain']}{path}"

    def listen(self, host: str, port: int) -> str:
        """One more plain listener at ``host:port`` (the remote-side contract's probe address: a port a
        vendor's remote desktop can be told in advance). Returns its base URL; HarnessError when taken."""
        if self._loop is None:
            raise HarnessError("fixture-site", "not started")

        async def add() -> int:
            runner = web.AppRunner(self._app("plain"), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, host, port)
            try:
                await site.start()
            except OSError:
                await runner.cleanup()
                raise
            self._runners.append(runner)
            return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        try:
            bound = asyncio.run_coroutine_threadsafe(add(), self._loop).result(10)
        except OSError as exc:
            raise HarnessError("fixture-site", f"cannot listen on {host}:{port} for the remote probe: {exc}") from exc
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{bound}"

    # -- the application ---------------------------------------------------------------------------
    def _app(self, listener: str) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app["listener"] = listener
        app.router.add_get("/", self._index)
        app.router.add_get("/pages/{name}", self._page)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_post("/report", self._report)
        app.router.add_get("/probe-config/{token}", self._probe_config)
        app.router.add_get("/reports", self._reports)
        app.router.add_get("/ws", self._websocket)
        app.router.add_route("*", "/sink{tail:.*}", self._sink)
        app.middlewares.append(self._record)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        if request.path == "/ws":
            return await handler(request)  # the websocket handler records its own messages
        body = await request.read()
        self._add(request, body)
        return await handler(request)

    def _add(self, request: web.Request, body: bytes, messages: tuple[bytes, ...] = ()) -> SiteRequest:
        entry = SiteRequest(
            listener=request.app["listener"],
            host=(request.host or "").split(":")[0],
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=dict(request.headers),
            body=body,
            time=time.time(),
            websocket_messages=messages,
        )
        with self._log.lock:
            self._log.requests.append(entry)
        return entry

    async def _index(self, request: web.Request) -> web.Response:
        host = (request.host or "").split(":")[0]
        return web.Response(text=f"<!doctype html><title>{host}</title><h1>{host}</h1>", content_type="text/html")

    async def _page(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = (self.pages_dir / name).resolve()
        if path.parent != self.pages_dir.resolve() or not path.is_file():
            raise web.HTTPNotFound()
        headers = {"Cache-Control": "no-store"}
        if name == "udp.html":  # the NET-05 probe: invite a browser that has QUIC to use it (HTTP/3 over UDP 443)
            headers["Alt-Svc"] = 'h3=":443"; ma=3600'
        return web.FileResponse(path, headers=headers)

    async def _file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in FILE_NAMES:
            raise web.HTTPNotFound()
        made = make_file(name, request.query.get("canary", "no-canary"))
        disposition = "inline" if request.query.get("inline") else f'attachment; filename="{made.name}"'
        return web.Response(
            body=made.body, headers={"Content-Type": made.content_type, "Content-Disposition": disposition}
        )

    def set_probe_config(self, token: str, config: dict[str, str]) -> str:
        """Serve ``config`` to the remote probe at ``/probe-config/<token>``; returns that path."""
        self._probe_configs[token] = dict(config)
        return f"/probe-config/{token}"

    async def _probe_config(self, request: web.Request) -> web.Response:
        config = self._probe_configs.get(request.match_info["token"])
        if config is None:
            raise web.HTTPNotFound()
        return web.json_response(config)

    async def _report(self, request: web.Request) -> web.Response:
        try:
            report = await request.json()
        except ValueError:
            report = {"event": "unparsable", "value": (await request.text())[:200]}
        report["received"] = time.time()
        with self._log.lock:
            self._log.reports.append(report)
        return web.json_response({"ok": True}, headers={"Access-Control-Allow-Origin": "*"})

    async def _reports(self, request: web.Request) -> web.Response:
        return web.json_response(self.reports())

    async def _sink(self, request: web.Request) -> web.Response:
        headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}
        if request.method == "GET":
            return web.Response(body=_GIF, content_type="image/gif", headers=headers)
        return web.Response(status=204, headers=headers)

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        # Logged at the upgrade and updated per message: a case reads the log while the socket is still
        # open (the candidate need not close it, and may never do so).
        entry = self._add(request, b"")
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                entry = self._append_message(entry, message.data.encode())
            elif message.type == WSMsgType.BINARY:
                entry = self._append_message(entry, message.data)
            await socket.send_str("ok")
        return socket

    def _append_message(self, entry: SiteRequest, data: bytes) -> SiteRequest:
        updated = replace(entry, websocket_messages=(*entry.websocket_messages, data))
        with self._log.lock:
            index = next(i for i, r in enumerate(self._log.requests) if r is entry)
            self._log.requests[index] = updated
        return updated
