"""The floor: the reference run's launches, page loads and user acts as a bare Playwright script, no framework.

For each case of a reference run (read from its ``conformance.json``) this script does what the case
minimally needs of the browser, and nothing else:

Included (the same as the suite's chromium driver does it):
  * one launch of Debian's Chromium per case that starts a candidate session (NET-01 and NET-05 start their
    own, the others use ``candidate_session``: one each), headed on a private Xvfb, with a fresh profile,
    HOME and TMPDIR, the driver's preferences (first run over, the product's extensions allowed in incognito
    windows), none of Playwright's default switches, the
    candidate profile's own ``args``, managed ``policies`` (a private mount namespace binds a copy of
    /etc/chromium, as the driver does) and unpacked ``extensions``;
  * the page loads of the case (``goto``, ``wait_until="load"``) from the same static pages
    (``conformance/site/pages``), served over TLS on loopback by a minimal server of its own: the fixture host
    names are mapped to it with ``--host-resolver-rules`` and its certificate is trusted by SPKI, like the
    driver trusts the oracle's CA; every other name resolves to nothing (no traffic leaves loopback);
  * the user acts: clicks, key presses, selections, a drag, typed text, with the pacing a person's input
    needs (the drag's steps, xdotool's key delays), real X input (xdotool) where the case uses it;
  * the session's end as the driver does it: Ctrl+Shift+W on the window (XTEST), then the browser's own exit.

Excluded (the framework; exactly the overhead the full-run / floor ratio shows):
  * pytest, the conformance package (not imported), the verdicts, reports and artefacts;
  * the oracles and their "nothing crossed" waits and settle times (clipboard, files, print spool, network
    records), the waits for the page's reports that prove an act happened, positive controls, evidence
    (screenshots, JSON, flow dumps), the drop target of the drag-out case, the canary on the terminal's
    clipboard, the private CUPS, the network oracle (mitmproxy) and the terminal's network namespace, the
    maintenance platform and the WLAN segment;
  * the idle times the cases spend listening (NET-01's 12 s of background traffic, NET-05's late datagrams);
  * acts that only follow a candidate's reaction (confirming a print preview, choosing a file in a dialog,
    answering a permission prompt): the floor does the act that opens them and closes the browser. For a
    hardened candidate, which refuses, that is everything the case does; for an open one the floor is lower.
  * the WebRTC peer of the LEAK-01 and NET-05 pages (its datagrams would leave loopback).

Cases without a browser (MNT-02, MNT-03, WLAN-02) have an empty floor; ``not_applicable`` cases are skipped.

Usage: python benchmarks/floor.py --candidate fixtures/candidates/chromium-hardened.toml \
           --cases RUN/conformance.json --out floor.json
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "conformance" / "site" / "pages"
SITE_HOSTS = ("internet.test", "lgwan.test", "evil.test")
ROGUE_HOST = "untrusted.test"
EXIT_TIMEOUT = 60.0  # the browser's own exit after the user's close (exit-time clean-up), as the driver allows
_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


# -- the pages: a minimal TLS server on loopback ------------------------------------------------------
def _self_signed(folder: Path, name: str, hosts: list[str]) -> tuple[Path, Path, str]:
    """A self-signed leaf for ``hosts``: (cert, key, base64 SHA-256 of its SPKI, as Chromium's SPKI list takes)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert_path, key_path, base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _app(seen: list[str]) -> web.Application:
    """What the pages need of a server: the pages, the download files, /report, the sinks, a websocket.
    ``seen`` gets the path of every request (a count per case shows that the acts reached the server)."""

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append(request.path)
        return await handler(request)

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=f"<!doctype html><title>{request.host}</title><h1>{request.host}</h1>",
                            content_type="text/html")

    async def page(request: web.Request) -> web.StreamResponse:
        path = (PAGES / request.match_info["name"]).resolve()
        if path.parent != PAGES.resolve() or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "no-store"})

    async def file(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = f"floor file {name}\n{request.query.get('canary', '')}\n".encode()
        disposition = "inline" if request.query.get("inline") else f'attachment; filename="{name}"'
        return web.Response(body=body, headers={"Content-Type": "application/octet-stream",
                                                "Content-Disposition": disposition})

    async def report(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True}, headers={"Access-Control-Allow-Origin": "*"})

    async def sink(request: web.Request) -> web.Response:
        await request.read()
        headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}
        if request.method == "GET":
            return web.Response(body=_GIF, content_type="image/gif", headers=headers)
        return web.Response(status=204, headers=headers)

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await socket.send_str("ok")
        return socket

    app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[count])
    app.router.add_get("/", index)
    app.router.add_get("/pages/{name}", page)
    app.router.add_get("/files/{name}", file)
    app.router.add_post("/report", report)
    app.router.add_get("/ws", websocket)
    app.router.add_route("*", "/sink{tail:.*}", sink)
    return app


@contextlib.contextmanager
def pages_server(folder: Path) -> Iterator[dict[str, Any]]:
    """Two TLS listeners on 127.0.0.1: ``site`` (trusted by SPKI) and ``rogue`` (a certificate nobody trusts)."""
    site = _self_signed(folder, "site", [*SITE_HOSTS, "localhost"])
    rogue = _self_signed(folder, "rogue", [ROGUE_HOST, *SITE_HOSTS])
    loop = asyncio.new_event_loop()
    ports: dict[str, Any] = {"spki": site[2], "seen": []}
    runners: list[web.AppRunner] = []

    async def start() -> None:
        for name, (cert, key, _spki) in (("site", site), ("rogue", rogue)):
            runner = web.AppRunner(_app(ports["seen"]), access_log=None)
            await runner.setup()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            listener = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
            await listener.start()
            ports[name] = listener._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            runners.append(runner)

    loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, name="floor-pages", daemon=True)
    thread.start()
    try:
        yield ports
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        for runner in runners:
            loop.run_until_complete(runner.cleanup())
        loop.close()


# -- the display and the browser ------------------------------------------------------------------------
@contextlib.contextmanager
def xvfb(log: Path) -> Iterator[str]:
    """Xvfb on a display number it picks itself (-displayfd), the geometry the suite uses."""
    read_fd, write_fd = os.pipe()
    with log.open("wb") as out:
        proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0",
                                 "1600x1000x24", "-noreset"], pass_fds=(write_fd,), stdout=out, stderr=out)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as reader:
            number = reader.readline().strip().decode()
        if not number:
            raise RuntimeError(f"Xvfb did not start; see {log}")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)


def policy_wrapper(folder: Path, executable: str, policies: Path | None) -> str:
    """The executable to launch: with policies, a wrapper binding a copy of /etc/chromium in a private mount
    namespace (this process tree only), as the driver's; else the browser itself."""
    if policies is None:
        return executable
    etc = folder / "etc-chromium"
    (etc / "policies" / "managed").mkdir(parents=True)
    shutil.copy(policies, etc / "policies" / "managed" / "conformance.json")
    if Path("/etc/chromium/master_preferences").exists():
        shutil.copy("/etc/chromium/master_preferences", etc / "master_preferences")
    inner = f"mount --bind {shlex.quote(str(etc))} /etc/chromium && exec \"$@\""
    wrapper = folder / "chromium-with-policies"
    wrapper.write_text(f"#!/bin/sh\nexec unshare --mount --propagation private /bin/sh -c {shlex.quote(inner)} "
                       f"chromium {shlex.quote(executable)} \"$@\"\n", encoding="utf-8")
    wrapper.chmod(0o755)
    return str(wrapper)


class Floor:
    """What every case shares: Playwright, the display, the server, the candidate's launch settings."""

    def __init__(self, playwright: Any, work: Path, display: str, ports: dict[str, Any], profile: dict) -> None:
        self.playwright, self.work, self.display, self.ports = playwright, work, display, ports
        driver = profile.get("driver", {})
        base = Path(profile["_path"]).parent
        self.executable = policy_wrapper(work, str(base / driver.get("executable", "/usr/lib/chromium/chromium")),
                                         (base / driver["policies"]).resolve() if driver.get("policies") else None)
        self.args = list(driver.get("args", []))
        self.extensions = [str((base / e).resolve()) for e in driver.get("extensions", [])]
        self.sessions = 0
        self.notes: list[str] = []  # the notes of the sessions of the current case

    @contextlib.contextmanager
    def session(self, rogue_names: tuple[str, ...] = ()) -> Iterator[Session]:
        self.sessions += 1
        session = Session(self, self.work / "sessions" / f"{self.sessions:03d}", rogue_names)
        try:
            yield session
        finally:
            session.close_as_user()
            self.notes += session.notes


class Session:
    """One launch of the candidate's browser, as the driver starts it."""

    def __init__(self, floor: Floor, folder: Path, rogue_names: tuple[str, ...]) -> None:
        self.floor, self.folder, self.profile = floor, folder, folder / "profile"
        home, tmp = folder / "home", folder / "tmp"
        for path in (self.profile / "Default", home / "Downloads", tmp):
            path.mkdir(parents=True, exist_ok=True)
        # As the driver's: downloads to ~/Downloads, the first run over, and the product's extensions allowed in
        # incognito windows (as its installer sets up; a product that forces incognito would otherwise lose them).
        prefs = {"download": {"default_directory": str(home / "Downloads"), "prompt_for_download": False},
                 "savefile": {"default_directory": str(home / "Downloads")},
                 "profile": {"exit_type": "Normal", "exited_cleanly": True},
                 "extensions": {"settings": {_extension_id(e): {"incognito": True} for e in floor.extensions}}}
        (self.profile / "Default" / "Preferences").write_text(json.dumps(prefs), encoding="utf-8")
        (self.profile / "First Run").touch()
        site, rogue = floor.ports["site"], floor.ports["rogue"]
        rules = [f"MAP {name} 127.0.0.1:{rogue}" for name in (ROGUE_HOST, *rogue_names)]
        rules += [f"MAP {name} 127.0.0.1:{site}" for name in SITE_HOSTS]
        rules += [f"MAP *.{name} 127.0.0.1:{site}" for name in SITE_HOSTS]
        rules.append("MAP * ~NOTFOUND")  # nothing else resolves: no traffic leaves loopback
        args = [f"--user-data-dir={self.profile}", "--remote-debugging-pipe"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")
        args += [f"--host-resolver-rules={', '.join(rules)}",
                 f"--ignore-certificate-errors-spki-list={floor.ports['spki']}",
                 "--window-size=1280,900", "--window-position=0,0", *floor.args]
        if floor.extensions:
            folders = ",".join(floor.extensions)
            args += [f"--load-extension={folders}", f"--disable-extensions-except={folders}"]
        # No printer: the floor has no CUPS (a dead port, as the driver's fallback when CUPS did not start).
        env = {**os.environ, "DISPLAY": floor.display, "HOME": str(home), "TMPDIR": str(tmp),
               "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
               "CUPS_SERVER": "127.0.0.1:9"}
        self.env = env
        self.context = floor.playwright.chromium.launch_persistent_context(
            str(self.profile), executable_path=floor.executable, headless=False, args=[*args, "about:blank"],
            ignore_default_args=True, env=env, viewport=None, timeout=30_000)
        self.page = self.context.pages[0] if self.context.pages else self.context.wait_for_event("page")
        self.page.wait_for_load_state("load")
        cdp = self.context.new_cdp_session(self.page)  # native downloads, as the driver resets them
        cdp.send("Browser.setDownloadBehavior", {"behavior": "default"})
        cdp.detach()
        self.closed = False
        self.notes: list[str] = []  # what happened (page-load refusals, how the session ended): the JSON has it

    def goto(self, url: str) -> str:
        """Load ``url``; "" or the error the browser showed (a refusal is an outcome, not a failure). Like the
        network cases, once more when an error page interrupted the navigation."""
        for _ in range(2):
            try:
                self.page.goto(url, wait_until="load", timeout=20_000)
                return ""
            except Exception as exc:
                error = str(exc).splitlines()[0]
                if "interrupted by another navigation" not in error:
                    break
        self.notes.append(f"{url.split('?')[0]}: {error[:80]}")
        return error

    def xdo(self, *args: str) -> str:
        return subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=15,
                              check=False).stdout

    def screen_point(self, selector: str) -> tuple[int, int]:
        """Screen position of an element's centre (window at the origin, no window manager)."""
        x, y = self.page.evaluate(
            """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                return [window.screenX + r.left + r.width / 2,
                        window.screenY + (window.outerHeight - window.innerHeight) + r.top + r.height / 2]; }""",
            selector)
        return round(x), round(y)

    def browser_pid(self) -> int | None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            if any(str(self.profile) in a for a in argv) and not any(a.startswith("--type=") for a in argv):
                return int(entry.name)
        return None

    def close_as_user(self) -> None:
        """Ctrl+Shift+W on each window (XTEST), then the browser's own exit; Playwright's close only after."""
        if self.closed:
            return
        self.closed = True
        pid = self.browser_pid()
        deadline = time.monotonic() + EXIT_TIMEOUT
        if pid is not None:
            for window in self.xdo("search", "--onlyvisible", "--pid", str(pid)).split()[:8]:
                self.xdo("mousemove", "--window", window, "200", "200")
                self.xdo("windowfocus", window)
                self.xdo("key", "--clearmodifiers", "ctrl+shift+w")
            while Path(f"/proc/{pid}").exists() and _state(pid) != "Z" and time.monotonic() < deadline:
                time.sleep(0.05)
        exited = pid is not None and (not Path(f"/proc/{pid}").exists() or _state(pid) == "Z")
        self.notes.append("exited after the user's close" if exited else "did not exit by itself: Playwright closed it")
        with contextlib.suppress(Exception):
            self.context.close()


def _extension_id(folder: str) -> str:
    """Chromium's id of an unpacked extension without a "key": sha256 of its real path, 32 hex digits as a-p."""
    digest = hashlib.sha256(os.path.realpath(folder).encode()).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return "Z"


# -- the plans: what each case does with the browser ----------------------------------------------------
CLIPBOARD = "https://internet.test/pages/clipboard.html"


def _drag(s: Session, start: tuple[int, int], end: tuple[int, int], steps: int = 24) -> None:
    """A person's drag (the case's pacing): press, small steps past every threshold, release."""
    s.xdo("mousemove", "--sync", *map(str, start))
    time.sleep(0.2)
    s.xdo("mousedown", "1")
    time.sleep(0.3)
    for i in range(1, steps + 1):
        s.xdo("mousemove", str(round(start[0] + (end[0] - start[0]) * i / steps)),
              str(round(start[1] + (end[1] - start[1]) * i / steps)))
        time.sleep(0.04)
    time.sleep(0.5)
    s.xdo("mouseup", "1")


def copy_case(floor: Floor, method: str) -> None:
    with floor.session() as s:
        s.goto(f"{CLIPBOARD}?{urlencode({'case': secrets.token_hex(6), 'text': _canary()})}")
        page = s.page
        if method == "keyboard":
            page.click("#blank")
            page.evaluate("selectCanary('canary')")
            page.keyboard.press("Control+c")
        elif method == "context-menu":
            s.xdo("mousemove", *map(str, s.screen_point("#blank")))
            page.evaluate("selectCanary('canary')")
            box = page.locator("#canary").bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, button="right")
            s.xdo("key", "--clearmodifiers", "--delay", "80", "Escape")
        elif method == "exec-command":
            page.click("#exec-copy")
        elif method == "clipboard-api":
            page.click("#api-write")
        elif method == "selection":
            page.click("#canary", click_count=3)
        elif method == "selection-field":
            page.click("#field", click_count=3)
        elif method == "drag-out":
            page.evaluate("selectCanary('canary')")
            _drag(s, s.screen_point("#canary"), (1450, 300))  # to the right of the window, where the drop target is
        else:
            raise KeyError(method)


def paste_case(floor: Floor, method: str) -> None:
    with floor.session() as s:
        s.goto(f"{CLIPBOARD}?{urlencode({'case': secrets.token_hex(6)})}")
        if method == "keyboard":
            s.page.click("#paste-box")
            s.page.keyboard.press("Control+v")
        elif method == "middle-click":
            s.page.click("#paste-box", button="middle")
        elif method == "clipboard-api":
            s.page.click("#api-read")
        else:
            raise KeyError(method)


def download_case(floor: Floor, trigger: str) -> None:
    with floor.session() as s:
        s.goto(f"https://internet.test/pages/downloads.html?canary={_canary()}")
        s.page.click(f"#{trigger}", timeout=10_000)


def upload_case(floor: Floor, _param: str) -> None:
    with floor.session() as s:
        s.goto(f"https://internet.test/pages/upload.html?probe={secrets.token_hex(6)}")
        s.page.click("#file", timeout=10_000)


def print_case(floor: Floor, act: str) -> None:
    with floor.session() as s:
        s.goto(f"https://internet.test/pages/print.html?canary={_canary()}")
        if act == "window-print":  # a real click: Playwright's would wait on a page that window.print() paused
            s.xdo("mousemove", *map(str, s.screen_point("#print")), "click", "1")
        else:  # ctrl-p, save-as-pdf: Ctrl+P typed into the window (a preview is not confirmed, see the docstring)
            s.xdo("mousemove", *map(str, s.screen_point("h1")), "click", "1")
            s.xdo("key", "--clearmodifiers", "--delay", "80", "ctrl+p")


def leak_case(floor: Floor, _param: str) -> None:
    query = {"canary": _canary(), "name": "試験 太郎", "kana": "シケン タロウ", "address": "東京都千代田区1-1",
             "birth": "1980-01-01", "mynumber": "123456789018", "corporate": "1234567890123",
             "bad_mynumber": "123456789010", "bad_corporate": "1234567890120", "sink": "https://evil.test"}
    with floor.session() as s:
        s.goto(f"https://lgwan.test/pages/resident.html?{urlencode(query)}")
        s.page.click("#exfiltrate", timeout=10_000)


def _udp_page(s: Session) -> None:
    s.goto(f"https://internet.test/pages/udp.html?{urlencode({'canary': _canary(), 'sink': 'evil.test'})}")


def net01_case(floor: Floor, _param: str) -> None:
    tour = f"https://internet.test/pages/exfil.html?{urlencode({'target': 'https://evil.test', 'embed': '1'})}"
    with floor.session() as s:
        for url in ("https://internet.test/", "https://lgwan.test/", tour):
            s.goto(url)
        _udp_page(s)
        s.goto("https://evil.test/")


def _warned(error: str) -> bool:
    """The navigation ended on an error page a user might get past (as the case judges it): not a block."""
    return bool(error) and not any(code in error for code in ("ERR_ABORTED", "ERR_BLOCKED_BY_CLIENT",
                                                              "ERR_BLOCKED_BY_ADMINISTRATOR"))


def _click_through(page: Any) -> None:
    """What a user tries on a certificate warning: "Advanced", then "Proceed" or the typed bypass keyword."""
    with contextlib.suppress(Exception):
        page.locator("#details-button").click(timeout=8_000)
        if page.locator("#proceed-link").is_visible():
            page.locator("#proceed-link").click(timeout=5_000)
        else:
            page.keyboard.type("thisisunsafe", delay=30)


def net02_case(floor: Floor, server: str) -> None:
    host, form_host = ("lgwan.test", "internet.test") if server == "declared-name" else (ROGUE_HOST, "internet.test")
    with floor.session(rogue_names=(host,) if host != ROGUE_HOST else ()) as s:
        if _warned(s.goto(f"https://{host}/?probe={_canary()}")):
            _click_through(s.page)
        s.goto(f"https://{form_host}/pages/exfil.html?{urlencode({'target': f'https://{host}', 'canary': _canary()})}")
        try:
            with s.page.expect_navigation(wait_until="load", timeout=20_000):
                s.page.click("#post", timeout=10_000)
        except Exception as exc:
            s.notes.append(f"form POST: {str(exc).splitlines()[0][:80]}")
            if _warned(str(exc)):
                _click_through(s.page)


def net05_case(floor: Floor, _param: str) -> None:
    with floor.session() as s:
        _udp_page(s)


def residue_case(floor: Floor, _param: str) -> None:
    with floor.session() as s:
        s.goto(f"https://internet.test/pages/residue.html?canary={_canary()}")


def open_site_case(floor: Floor, _param: str) -> None:  # MNT-01: the browser in its normal browsing state
    with floor.session() as s:
        s.goto("https://internet.test/")


def engine_case(floor: Floor, _param: str) -> None:  # MNT-05: the page reads the engine's version
    with floor.session() as s:
        s.goto(f"https://internet.test/pages/engine.html?t={secrets.token_hex(8)}")


def no_browser(_floor: Floor, _param: str) -> None:
    """The case does not use the browser (maintenance platform, WLAN segment): nothing to do."""


PLANS: dict[str, Callable[[Floor, str], None]] = {
    "test_copy_does_not_reach_terminal": lambda f, p: copy_case(f, p.rsplit("-", 1)[0]),
    "test_terminal_clipboard_does_not_reach_page": lambda f, p: paste_case(f, p.rsplit("-", 1)[0]),
    "test_download_does_not_land": download_case,
    "test_only_sanitized_files_land": download_case,
    "test_file_input_upload_does_not_cross": upload_case,
    "test_print_does_not_reach_terminal": print_case,
    "test_resident_record_does_not_leave": leak_case,
    "test_connections_only_to_declared_endpoints": net01_case,
    "test_untrusted_tls_certificate_is_refused": net02_case,
    "test_no_udp_or_quic_bypass": net05_case,
    "test_no_session_content_remains": residue_case,
    "test_no_debug_endpoint_reachable": open_site_case,
    "test_engine_patch_lag_within_declared": engine_case,
    "test_admin_interface_not_exposed": no_browser,
    "test_maintenance_channels_use_validated_tls": no_browser,
    "test_wlan_terminals_cannot_reach_each_other": no_browser,
}


def _canary() -> str:
    return f"FLOOR-{secrets.token_hex(6).upper()}"


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """``cases/test_x.py::test_f[a-b]`` → (``test_f``, ``a-b``)."""
    match = re.fullmatch(r"(?:.*::)?([^\[]+)(?:\[(.*)\])?", nodeid)
    if match is None:
        return nodeid, ""
    return match.group(1), match.group(2) or ""


def cases_of(document: dict) -> list[dict]:
    """Every case entry of a conformance.json, in the run's order (requirements in catalog order)."""
    seen: dict[str, dict] = {}
    for requirement in document.get("requirements", {}).values():
        for case in requirement.get("cases", []):
            seen.setdefault(case["nodeid"], case)
    return list(seen.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidate", required=True, help="candidate profile (TOML) of the reference run")
    parser.add_argument("--cases", required=True, help="the reference run's conformance.json (its list of cases)")
    parser.add_argument("--out", required=True, help="where to write the per-case seconds (JSON)")
    args = parser.parse_args()
    profile_path = Path(args.candidate).resolve()
    profile = tomllib.loads(profile_path.read_text(encoding="utf-8"))
    profile["_path"] = str(profile_path)
    driver = profile.get("driver", {})
    if driver.get("name") != "chromium" or driver.get("mode", "launch") != "launch":
        parser.error("the floor covers the chromium driver in launch mode only / 下限は chromium（起動モード）のみ")
    cases = cases_of(json.loads(Path(args.cases).read_text(encoding="utf-8")))
    started = time.perf_counter()
    result: dict[str, Any] = {"cases": {}}
    work = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    try:
        with xvfb(work / "xvfb.log") as display, pages_server(work) as ports, sync_playwright() as pw:
            floor = Floor(pw, work, display, ports, profile)
            result["setup_s"] = time.perf_counter() - started
            for case in cases:
                name, param = split_nodeid(case["nodeid"])
                entry: dict[str, Any] = {}
                if case.get("outcome") == "not_applicable":
                    entry["skipped"] = "not_applicable"
                elif name not in PLANS:
                    entry["error"] = "no floor plan for this case / 下限の手順なし"
                else:
                    floor.notes = []
                    requests_before = len(ports["seen"])
                    before = time.perf_counter()
                    try:
                        PLANS[name](floor, param)
                    except Exception as exc:  # the floor's own failure: reported, the case's time still counts
                        entry["error"] = str(exc).splitlines()[0][:200]
                    entry["seconds"] = time.perf_counter() - before
                    entry["notes"] = floor.notes
                    entry["requests"] = len(ports["seen"]) - requests_before
                    if PLANS[name] is no_browser:
                        entry["no_browser"] = True
                result["cases"][case["nodeid"]] = entry
                print(f"{case['nodeid']:<90} {entry.get('seconds', 0):6.2f} s {entry.get('requests', 0):3} requests "
                      f"{entry.get('error', '')} "
                      f"{'; '.join(entry.get('notes', []))}", flush=True)
            result["launches"] = floor.sessions
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["total_s"] = time.perf_counter() - started
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
