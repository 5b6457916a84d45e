"""Driver for the HTML5 client of a screen-transfer (画面転送 / VDI / DaaS) candidate.

The terminal side is an ordinary Chromium on the terminal (driven through the chromium driver, with no
policies: it is the municipality's browser, not the product); the candidate is the client page it
opens. Input goes only through the client's canvas, as a person's mouse and keyboard would, and the
driver waits until the click point really is the canvas (client overlays swallow clicks).

The gateway is reached by a fixture name (``gateway.test`` by default) that the network oracle maps
to the gateway's loopback address, so every byte between client and gateway passes the oracle.

For the bundled references the driver also starts the remote side (``[driver.reference_stack]``):
an X display with a kiosk Chromium showing the fixture site's remote probe, a VNC server and
websockify serving Debian's noVNC. A vendor's profile names its own gateway instead.
"""

from __future__ import annotations

import base64
import time
import urllib.parse
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from conformance.drivers.base import CandidateDriver, CandidateSession, DriverContext, DriverSettings
from conformance.drivers.chromium import ChromiumDriver, ChromiumSettings
from conformance.errors import HarnessError

# What a noVNC client page looks like (Debian's noVNC 1.3). Another client = another preset or a
# profile that sets the selectors itself.
PRESETS: dict[str, dict[str, Any]] = {
    "novnc": {
        "client_path": "/vnc.html?autoconnect=true&host={host}&port={port}&path=websockify"
        "&resize=off&reconnect=false&logging=warn",
        "connected_js": "document.documentElement.classList.contains('noVNC_connected')",
        "canvas_selector": "#noVNC_container canvas",
        "clipboard_panel": "#noVNC_clipboard_text",
        "clipboard_button": "#noVNC_clipboard_button",
    },
}
REMOTE_PROBE = "/pages/remote-probe.html"


class ReferenceStack(BaseModel):
    """The remote side the suite starts for its own reference candidates."""

    model_config = ConfigDict(extra="forbid")
    server: Literal["tigervnc", "x11vnc"] = "tigervnc"
    clipboard: Literal["open", "none", "recv-only", "send-only"] = "open"
    # Executables by component name ("Xtigervnc", "websockify", ...); tests point one at a missing file
    # to prove that a stack that cannot come up ends the run's cases in ``error``, naming the component.
    binaries: dict[str, str] | None = None


class WebVdiSettings(DriverSettings):
    preset: Literal["novnc", "custom"] = "novnc"
    gateway_host: str = "gateway.test"
    gateway_scheme: Literal["https", "http"] = "https"
    gateway_port: int = Field(default=443, ge=1, le=65535)
    gateway_address: str | None = None  # "127.0.0.1:PORT" of a vendor's gateway (not with reference_stack)
    client_path: str | None = None  # path and query of the client page; {host} and {port} are filled in
    connected_js: str | None = None  # a JS expression that is true once the session is connected
    canvas_selector: str | None = None
    clipboard_panel: str | None = None  # the client's own clipboard text box, if it has one
    clipboard_button: str | None = None  # what opens that panel
    reference_stack: ReferenceStack | None = None
    terminal_executable: Path = Path("/usr/lib/chromium/chromium")

    @model_validator(mode="after")
    def _fill_preset(self) -> WebVdiSettings:
        for key, value in PRESETS.get(self.preset, {}).items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        missing = [k for k in ("client_path", "connected_js", "canvas_selector") if getattr(self, k) is None]
        if missing:
            raise ValueError(f"preset 'custom' needs {', '.join(missing)}")
        if (self.reference_stack is None) == (self.gateway_address is None):
            raise ValueError("give exactly one of gateway_address (a vendor gateway) or reference_stack")
        return self


class WebVdiSession(CandidateSession):
    """A person at the terminal using the HTML5 client: the canvas is all they touch."""

    def __init__(self, driver: WebVdiDriver, terminal: CandidateSession) -> None:
        self.driver = driver
        self.terminal = terminal
        self.page = terminal.page
        self.disk_roots = terminal.disk_roots
        self.download_roots = terminal.download_roots
        self.connected_at = 0.0
        self._canvas: dict[str, float] = {}

    # -- connecting --------------------------------------------------------------------------------
    def connect(self) -> Any:
        settings = self.driver.settings
        path = settings.client_path.format(host=settings.gateway_host, port=settings.gateway_port)
        url = f"{settings.gateway_scheme}://{settings.gateway_host}:{settings.gateway_port}{path}"
        try:
            self.page.goto(url, wait_until="load", timeout=30_000)
            self.page.wait_for_function(settings.connected_js, timeout=30_000)
            self.page.wait_for_function(_CANVAS_PAINTED, arg=settings.canvas_selector, timeout=30_000)
        except Exception as exc:
            raise HarnessError("webvdi-client", f"the client did not connect to {url}: {exc}") from exc
        self._canvas = self.page.evaluate(_CANVAS_GEOMETRY, settings.canvas_selector)
        self.connected_at = time.time()
        return self.page

    def open(self, url: str) -> Any:
        """Screen transfer has no address bar on the terminal: "open" means connect the client."""
        return self.connect()

    # -- input through the canvas ------------------------------------------------------------------
    def to_page(self, rx: float, ry: float) -> tuple[float, float]:
        c = self._canvas
        if not c:
            raise HarnessError("webvdi-client", "not connected: no canvas geometry")
        return c["x"] + rx * c["cw"] / c["w"], c["y"] + ry * c["ch"] / c["h"]

    def click_remote(self, rx: float, ry: float, button: Literal["left", "middle", "right"] = "left") -> None:
        x, y = self.to_page(rx, ry)
        try:  # overlays (control bar, toasts, the clipboard panel fading out) must not take the click
            self.page.wait_for_function(
                "([x, y]) => document.elementFromPoint(x, y)?.tagName === 'CANVAS'", arg=[x, y], timeout=10_000
            )
        except Exception as exc:
            raise HarnessError("webvdi-client", f"the canvas is covered at ({rx}, {ry})") from exc
        self.page.mouse.move(x, y)
        self.page.mouse.down(button=button)
        self.page.mouse.up(button=button)

    def type_remote(self, text: str, delay_ms: int = 20) -> None:
        # A modifier the remote side still holds would turn the letters into shortcuts (Ctrl+R reloads,
        # Ctrl+F opens the find bar): x11vnc keeps Control down after a Ctrl+P that the remote print
        # dialog answered. A tap of each modifier, as a user's stray key press, releases it there.
        for modifier in ("Control", "Shift"):
            self.page.keyboard.down(modifier)
            self.page.keyboard.up(modifier)
        self.page.keyboard.type(text, delay=delay_ms)

    def press_remote(self, keys: str) -> None:
        self.page.keyboard.press(keys)

    # -- the client's own clipboard UI (a channel of its own) ---------------------------------------
    def client_clipboard_text(self) -> str | None:
        panel = self.driver.settings.clipboard_panel
        if not panel or self.page.locator(panel).count() == 0:
            return None
        return self.page.locator(panel).input_value()

    def set_client_clipboard(self, text: str) -> bool:
        """Paste text into the client's clipboard panel as a user would; False if it has none."""
        settings = self.driver.settings
        if not settings.clipboard_panel or self.page.locator(settings.clipboard_panel).count() == 0:
            return False
        if settings.clipboard_button and not self.page.locator(settings.clipboard_panel).is_visible():
            self.page.click(settings.clipboard_button)
        self.page.fill(settings.clipboard_panel, text)
        self.page.dispatch_event(settings.clipboard_panel, "change")
        if settings.clipboard_button:
            self.page.click(settings.clipboard_button)  # close the panel again so it stops covering the canvas
        return True

    def canvas_screenshot(self, path: Path) -> Path | None:
        try:
            self.page.locator(self.driver.settings.canvas_selector).screenshot(path=str(path))
        except Exception:  # supporting evidence only
            return None
        return path

    def canvas_crop(self, path: Path, rx: int, ry: int, width: int, height: int) -> Path | None:
        """A PNG of a rectangle of the remote screen (remote pixels) as the client's canvas holds it.

        Read from the canvas itself, not from a page screenshot: the client's overlays (status toast,
        control bar) cover parts of the canvas on screen. None when the canvas cannot be read."""
        try:
            data_url = self.page.evaluate(_CANVAS_CROP, [self.driver.settings.canvas_selector, rx, ry, width, height])
            path.write_bytes(base64.b64decode(str(data_url).split(",", 1)[1]))
        except Exception:  # supporting evidence only
            return None
        return path

    def screenshot(self, path: Path) -> Path | None:
        return self.canvas_screenshot(path) or super().screenshot(path)

    def pids(self) -> list[int]:
        return self.terminal.pids()

    @property
    def close_record(self) -> dict[str, Any]:
        """How ``close_as_user`` ended the terminal browser (see the chromium driver); {} before."""
        return dict(getattr(self.terminal, "close_record", {}) or {})

    def close_as_user(self) -> None:
        self.terminal.close_as_user()


class WebVdiDriver(CandidateDriver):
    name = "webvdi"
    kinds = ("screen-transfer",)
    Settings = WebVdiSettings

    def __init__(self, settings: WebVdiSettings, context: DriverContext) -> None:
        super().__init__(settings, context)
        self.settings: WebVdiSettings = settings
        terminal_settings = ChromiumSettings(name="chromium", executable=settings.terminal_executable)
        self.terminal = ChromiumDriver(terminal_settings, context)
        self.stack: Any = None
        self.remote_canary = ""

    def start(self) -> None:
        route = self.context.extra.get("route")
        site = self.context.extra.get("fixture_site")
        if route is None or site is None:
            raise HarnessError("webvdi", "the harness gave no network route or fixture site to the driver")
        self.terminal.start()
        if self.settings.reference_stack is None:
            host, _, port = (self.settings.gateway_address or "").rpartition(":")
            route(self.settings.gateway_host, self.settings.gateway_port, (host, int(port)))
            return
        from conformance.detectors import make_canary
        from conformance.environment import tls
        from conformance.environment.vnc_stack import VncStack

        self.remote_canary = make_canary("SHOWN")
        query = urllib.parse.urlencode(
            {
                "canary": self.remote_canary,
                "report": site.plain_url("/report"),
                "download_url": site.plain_url(f"/files/canary.txt?canary={self.remote_canary}"),
            }
        )
        reports_before = len(site.reports())

        def remote_loaded() -> bool:
            return any(r.get("event") == "loaded" for r in site.reports()[reports_before:])

        stack_settings = self.settings.reference_stack
        certificate = None
        if self.settings.gateway_scheme == "https":  # a gateway certificate from the run's site CA
            leaf = tls.make_leaf(self.context.run_dir / "tls", "gateway", site.site_ca, [self.settings.gateway_host])
            certificate = (leaf.cert_path, leaf.key_path)
        self.stack = VncStack(
            self.context.run_dir / "reference-stack",
            site.plain_url(f"{REMOTE_PROBE}?{query}"),
            server=stack_settings.server,
            clipboard=stack_settings.clipboard,
            remote_ready=remote_loaded,
            tls=certificate,
            binaries=stack_settings.binaries,
        )
        self.stack.start()
        self.stack.warm_up_clipboard()
        route(self.settings.gateway_host, self.settings.gateway_port, ("127.0.0.1", self.stack.websocket_port))

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
        self.terminal.stop()

    def new_session(self, connect: bool = True) -> WebVdiSession:
        """A fresh terminal browser with the client connected; ``connect=False`` leaves the connecting to
        the caller (a case that must watch the client's very first request)."""
        session = WebVdiSession(self, self.terminal.new_session())
        if not connect:
            return session
        try:
            session.connect()
        except BaseException:
            session.close_as_user()
            raise
        return session

    def remote_layout(self) -> dict[str, dict[str, int]]:
        """Where the remote probe's targets are, in remote pixels (x, y, w, h and the centre cx, cy), as the
        probe measured them in its "loaded" report; empty when the remote side is not the suite's probe."""
        site = self.context.extra.get("fixture_site")
        if site is None or not self.remote_canary:
            return {}
        for report in reversed(site.reports()):
            if report.get("event") == "loaded" and report.get("value") == self.remote_canary:
                layout = (report.get("detail") or {}).get("layout") or {}
                return {
                    name: {**rect, "cx": rect["x"] + rect["w"] // 2, "cy": rect["y"] + rect["h"] // 2}
                    for name, rect in layout.items()
                }
        return {}


_CANVAS_PAINTED = """(selector) => {
  const c = document.querySelector(selector);
  if (!c || c.width < 100) return false;
  const data = c.getContext('2d').getImageData(0, 0, Math.min(c.width, 400), Math.min(c.height, 200)).data;
  for (let i = 0; i < data.length; i += 4) if (data[i] || data[i + 1] || data[i + 2]) return true;
  return false;
}"""

_CANVAS_GEOMETRY = """(selector) => {
  const c = document.querySelector(selector); const r = c.getBoundingClientRect();
  return {w: c.width, h: c.height, x: r.x, y: r.y, cw: r.width, ch: r.height};
}"""

_CANVAS_CROP = """([selector, x, y, w, h]) => {
  const c = document.querySelector(selector); const out = document.createElement('canvas');
  out.width = w; out.height = h;
  out.getContext('2d').drawImage(c, x, y, w, h, 0, 0, w, h);
  return out.toDataURL('image/png');
}"""
