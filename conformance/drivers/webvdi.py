"""Driver for the HTML5 client of a screen-transfer (画面転送 / VDI / DaaS) candidate.

The terminal side is an ordinary Chromium on the terminal (driven through the chromium driver, with no
policies: it is the municipality's browser, not the product); the candidate is the client page it
opens. Input goes only through the client's canvas, as a person's mouse and keyboard would, and the
driver waits until the click point really is the canvas (client overlays swallow clicks).

The gateway is reached by a fixture name (``gateway.test`` by default) that the network oracle maps
to the gateway's address, so every byte between client and gateway passes the oracle.

The remote side is the same for every product (the profile's ``[driver.remote]`` contract): the suite's
probe page, with this run's canary and report sink in its URL, is opened on the remote desktop by a
command the suite runs, keys typed through the canvas, or a person (``manual``), and reports back. For
the bundled references the driver also starts the remote platform (``[driver.reference_stack]``): noVNC
over TigerVNC/x11vnc, whose kiosk browser opens the probe itself, or Xpra, whose probe is opened through
the contract exactly as a vendor's would be.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import secrets
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from conformance.drivers.base import (
    DriverContext,
    DriverSettings,
    HookResult,
    RemoteSide,
    ScreenTransferDriver,
    ScreenTransferSession,
    WireEndpoint,
    resolve_path,
)
from conformance.drivers.chromium import ChromiumDriver, ChromiumSettings
from conformance.environment.remote_stack import RemoteStack
from conformance.errors import HarnessError

# What a client page looks like. Another client = another preset, or a profile with preset "custom" that
# sets the selectors itself (README, "Writing a profile for a new client").
PRESETS: dict[str, dict[str, Any]] = {
    "novnc": {  # Debian's noVNC 1.3
        "client_path": "/vnc.html?autoconnect=true&host={host}&port={port}&path=websockify"
        "&resize=off&reconnect=false&logging=warn",
        "connected_js": "document.documentElement.classList.contains('noVNC_connected')",
        "canvas_selector": "#noVNC_container canvas",
        "clipboard_panel": "#noVNC_clipboard_text",
        "clipboard_button": "#noVNC_clipboard_button",
        # The control bar slides out of view 2 s after connecting (app/ui.js, closeControlbarTimeout).
        "menu_handle": "#noVNC_control_bar_handle",
        "wire_protocol": "rfb",
        "canvas_shows": "screen",
    },
    "xpra": {  # the HTML5 client of Xpra 3.1 (Debian package xpra, /usr/share/xpra/www)
        "client_path": "/index.html?server={host}&port={port}&ssl=true&sound=false&reconnect=false",
        "connected_js": "window.client && window.client.connected === true",
        # One div.window per remote window: the probe's is the one titled after the probe page.
        "canvas_selector": "div.window:has(.windowtitle:has-text('remote-probe')) canvas",
        # The floating menu opens on a click, its submenus on hover (js/Menu.js).
        "upload_steps": ["click:#float_menu a[title=Xpra]", "hover:#menu_list a:text-is('Server')",
                         "click:#menu_list a:text-is('Upload file')"],
        "wire_protocol": "xpra",
        "canvas_shows": "window",
    },
}
CONTROL_TRY_MS = 5_000  # a click on the client's own control that takes longer finds it hidden: see _click_control
UPLOAD_ACTIONS = ("click", "hover")  # how one step of upload_steps is done (see WebVdiSettings)
REMOTE_PROBE = "/pages/remote-probe.html"
TERMINAL_ARGS = ("--test-type",)
OPEN_TIMEOUT = 60.0
LOOPBACK_NETS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def is_loopback(host: str) -> bool:
    try:
        return any(ipaddress.ip_address(host) in net for net in LOOPBACK_NETS)
    except ValueError:
        return host == "localhost"


class ReferenceStack(BaseModel):
    """The remote platform the suite starts for its own reference candidates."""

    model_config = ConfigDict(extra="forbid")
    product: Literal["novnc", "xpra"] = "novnc"
    server: Literal["tigervnc", "x11vnc"] = "tigervnc"  # noVNC only
    clipboard: Literal["open", "none", "recv-only", "send-only"] = "open"  # Xpra: open or none
    file_transfer: bool = False  # Xpra only
    printing: bool = False  # Xpra only
    open_url: bool = False  # Xpra only
    # Executables by component name ("Xtigervnc", "websockify", "xpra", ...); tests point one at a missing
    # file to prove that a stack that cannot come up ends the run's cases in ``error``, naming the component.
    binaries: dict[str, str] | None = None


class RemoteContract(BaseModel):
    """How the suite's probe gets onto the remote desktop of any product, and the product's own hooks.

    Templates (argv lists) may use ``{probe_url}``, ``{run_dir}`` and, for a hook, ``{file}``.
    """

    model_config = ConfigDict(extra="forbid")
    # Where the remote side reaches the probe page and its report sink. Port 0: chosen at run time (only a
    # remote side started by the suite can be told it). A non-loopback host is a lab address: refused
    # unless the run is started with --allow-lab-address.
    probe_address: str = "127.0.0.1:0"
    open: Literal["command", "keys", "manual", "reference"] = "command"
    open_command: list[str] | None = None  # e.g. xpra control socket:… start "chromium --app={probe_url}"
    open_keys: list[str] | None = None  # "key:Control+l", "text:{probe_url}", "key:Enter", "wait:1"
    open_timeout: float = Field(default=OPEN_TIMEOUT, gt=0, le=600)
    push_file: list[str] | None = None  # server → terminal file push (Xpra: xpra control … send-file {file})
    print_file: list[str] | None = None  # a print job started on the remote side
    hook_timeout: float = Field(default=30.0, gt=0, le=600)

    @field_validator("probe_address")
    @classmethod
    def _address(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("probe_address must be HOST:PORT, e.g. 127.0.0.1:18080 (port 0: any free port)")
        return value

    @model_validator(mode="after")
    def _method(self) -> RemoteContract:
        if self.open == "command" and not self.open_command:
            raise ValueError("open = 'command' needs open_command (an argv list using {probe_url})")
        if self.open == "keys" and not self.open_keys:
            raise ValueError("open = 'keys' needs open_keys (e.g. ['key:Control+l', 'text:{probe_url}', 'key:Enter'])")
        return self

    @property
    def probe_host(self) -> str:
        return self.probe_address.rpartition(":")[0].strip("[]")

    @property
    def probe_port(self) -> int:
        return int(self.probe_address.rpartition(":")[2])


class WebVdiSettings(DriverSettings):
    preset: Literal["novnc", "xpra", "custom"] = "novnc"
    gateway_host: str = "gateway.test"
    gateway_scheme: Literal["https", "http"] = "https"
    gateway_port: int = Field(default=443, ge=1, le=65535)
    gateway_address: str | None = None  # "127.0.0.1:PORT" of a vendor's gateway (not with reference_stack)
    gateway_ca: Path | None = None  # PEM CA that signs a vendor's HTTPS gateway (the suite verifies it)
    client_path: str | None = None  # path and query of the client page; {host} and {port} are filled in
    connected_js: str | None = None  # a JS expression that is true once the session is connected
    canvas_selector: str | None = None  # Playwright selector of the canvas that shows the probe
    canvas_shows: Literal["screen", "window"] | None = None  # the whole remote screen, or the probe's window
    clipboard_panel: str | None = None  # the client's own clipboard text box, if it has one
    clipboard_button: str | None = None  # what opens that panel
    # What brings the client's own controls back into view when its menu or bar has hidden them (noVNC hides its
    # control bar after connecting): clicked, as a user does, when a control is out of view.
    menu_handle: str | None = None
    # The client's own upload UI up to the file dialog: "click:SEL" or "hover:SEL", SEL a Playwright selector.
    upload_steps: list[str] | None = None
    wire_protocol: str | None = None  # a decoder of oracles.wire ("rfb", "xpra") or "opaque"
    # Permissions a user grants the client's origin when the browser asks ("clipboard-read", ...).
    terminal_permissions: list[str] = Field(default_factory=list)
    remote: RemoteContract | None = None
    reference_stack: ReferenceStack | None = None
    terminal_executable: Path = Path("/usr/lib/chromium/chromium")

    @field_validator("upload_steps")
    @classmethod
    def _upload_steps(cls, steps: list[str] | None) -> list[str] | None:
        for step in steps or []:
            action, _, selector = step.partition(":")
            if action not in UPLOAD_ACTIONS or not selector.strip():
                raise ValueError(f"upload step {step!r} is not ACTION:SELECTOR with ACTION one of "
                                 f"{', '.join(UPLOAD_ACTIONS)} (e.g. \"click:#menu a.upload\")")
        return steps

    @field_validator("gateway_ca", mode="before")
    @classmethod
    def _path(cls, value: Any, info: ValidationInfo) -> Any:
        return None if value is None else resolve_path(value, info)

    @model_validator(mode="after")
    def _lab_address(self, info: ValidationInfo) -> WebVdiSettings:
        allowed = bool((info.context or {}).get("allow_lab_address"))
        if self.remote is not None and not is_loopback(self.remote.probe_host) and not allowed:
            raise ValueError(f"remote.probe_address {self.remote.probe_address} is not a loopback address; the "
                             "suite serves the probe elsewhere only for a real lab: pass --allow-lab-address")
        return self

    @model_validator(mode="after")
    def _fill_preset(self) -> WebVdiSettings:
        for key, value in PRESETS.get(self.preset, {}).items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        self.canvas_shows = self.canvas_shows or "screen"
        missing = [k for k in ("client_path", "connected_js", "canvas_selector", "wire_protocol")
                   if getattr(self, k) is None]
        if missing:
            raise ValueError(f"preset 'custom' needs {', '.join(missing)}")
        # Whether a decoder of that name exists is checked with the oracles (oracles.wire.require_known).
        if (self.reference_stack is None) == (self.gateway_address is None):
            raise ValueError("give exactly one of gateway_address (a vendor gateway) or reference_stack")
        if self.gateway_ca is not None and not self.gateway_ca.is_file():
            raise ValueError(f"gateway_ca {self.gateway_ca} does not exist")
        novnc_reference = self.reference_stack is not None and self.reference_stack.product == "novnc"
        if self.remote is None:
            if not novnc_reference:
                raise ValueError("[driver.remote] is needed: how the suite's probe page gets opened on the remote "
                                 "desktop (open = 'command' | 'keys' | 'manual'), see README")
            self.remote = RemoteContract(open="reference")
        elif self.remote.open == "reference" and not novnc_reference:
            raise ValueError("remote.open = 'reference' is only for the bundled noVNC stack")
        return self


class WebVdiSession(ScreenTransferSession):
    """A person at the terminal using the HTML5 client: the canvas is all they touch."""

    def __init__(self, driver: WebVdiDriver, terminal: Any) -> None:
        self.driver = driver
        self.terminal = terminal
        self.page = terminal.page
        self.disk_roots = terminal.disk_roots
        self.download_roots = terminal.download_roots
        self.connected_at = 0.0
        self._canvas: dict[str, float] = {}

    @property
    def canvas(self) -> Any:
        # The newest match: a probe reopened on the remote desktop (its browser froze) is a new remote window
        # drawn over the old one, which some clients (Xpra) keep as a canvas of its own.
        return self.page.locator(self.driver.settings.canvas_selector).last

    # -- connecting --------------------------------------------------------------------------------
    def connect(self) -> Any:
        settings = self.driver.settings
        url = self.driver.client_url()
        try:
            if settings.terminal_permissions:  # what a user allows when the browser asks
                self.page.context.grant_permissions(settings.terminal_permissions, origin=self.driver.client_origin())
            self.page.goto(url, wait_until="load", timeout=30_000)
            self.page.wait_for_function(settings.connected_js, timeout=30_000)
            self.canvas.wait_for(state="visible", timeout=30_000)
            deadline = time.monotonic() + 30
            while not self.canvas.evaluate(_CANVAS_PAINTED):
                if time.monotonic() > deadline:
                    raise TimeoutError("the canvas stayed blank for 30 s")
                self.page.wait_for_timeout(200)
        except Exception as exc:
            raise HarnessError("webvdi-client", f"the client did not connect to {url}: "
                                                f"{str(exc).splitlines()[0]}") from exc
        self._canvas = self.canvas.evaluate(_CANVAS_GEOMETRY)
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

    def click_remote(self, rx: float, ry: float, button: str = "left") -> None:
        self._canvas = self.canvas.evaluate(_CANVAS_GEOMETRY)  # a remote window may have moved
        x, y = self.to_page(rx, ry)
        deadline = time.monotonic() + 10
        # Overlays (control bar, toasts, a menu, the clipboard panel fading out) must not take the click.
        while not self.canvas.evaluate("(c, [x, y]) => document.elementFromPoint(x, y) === c", [x, y]):
            if time.monotonic() > deadline:
                cover = self.page.evaluate(_ELEMENT_AT, [x, y])
                raise HarnessError("webvdi-client", f"the canvas is covered at ({rx}, {ry}) by {cover}")
            self.page.wait_for_timeout(200)
        self.page.mouse.move(x, y)
        self.page.mouse.down(button=button)  # type: ignore[arg-type]
        self.page.mouse.up(button=button)  # type: ignore[arg-type]

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
    def open_clipboard_panel(self) -> bool:
        settings = self.driver.settings
        if not settings.clipboard_panel or self.page.locator(settings.clipboard_panel).count() == 0:
            return False
        if settings.clipboard_button and not self.page.locator(settings.clipboard_panel).is_visible():
            self._click_control(settings.clipboard_button)
        return True

    def _click_control(self, selector: str) -> None:
        """Click one of the client's own controls. One that its menu hid (noVNC's bar slides out 2 s after
        connecting: a click racing the slide finds the button moving, then gone) is brought back as a user does,
        by ``menu_handle``, and clicked again; the last try has Playwright's full time-out and its error."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        handle = self.driver.settings.menu_handle
        if handle is not None:
            for _ in range(2):
                try:
                    self.page.click(selector, timeout=CONTROL_TRY_MS)
                    return
                except PlaywrightTimeoutError:
                    out_of_view = self.page.locator(selector).evaluate(
                        "e => { const r = e.getBoundingClientRect(); return r.right <= 0 || r.left >= innerWidth; }")
                    if out_of_view:
                        self.page.click(handle)
        self.page.click(selector)

    def paste_into_clipboard_panel(self) -> str | None:
        settings = self.driver.settings
        if not self.open_clipboard_panel():
            return None
        self.page.click(settings.clipboard_panel)
        self.page.keyboard.press("Control+a")
        self.page.keyboard.press("Control+v")  # the terminal browser's own paste from the OS clipboard
        held = self.client_clipboard_text()
        if settings.clipboard_button:
            self._click_control(settings.clipboard_button)  # close it: the client sends on change
        return held

    def client_clipboard_text(self) -> str | None:
        panel = self.driver.settings.clipboard_panel
        if not panel or self.page.locator(panel).count() == 0:
            return None
        return self.page.locator(panel).input_value()

    def set_client_clipboard(self, text: str) -> bool:
        """Paste text into the client's clipboard panel as a user would; False if it has none."""
        settings = self.driver.settings
        if not self.open_clipboard_panel():
            return False
        self.page.fill(settings.clipboard_panel, text)
        self.page.dispatch_event(settings.clipboard_panel, "change")
        if settings.clipboard_button:
            self._click_control(settings.clipboard_button)  # close the panel again so it stops covering the canvas
        return True

    # -- the client's own upload UI ----------------------------------------------------------------
    def upload_controls(self) -> list[str]:
        return list(self.driver.settings.upload_steps or [])

    def open_upload_dialog(self) -> list[str]:
        steps = self.upload_controls()
        if not steps:
            raise HarnessError("webvdi-client", "the profile names no upload_steps for the client's upload UI")
        done: list[str] = []
        for step in steps:
            action, _, selector = step.partition(":")
            try:
                target = self.page.locator(selector).first
                if action == "hover":
                    target.hover(timeout=10_000)
                else:
                    target.click(timeout=10_000)
            except Exception as exc:
                raise HarnessError("webvdi-client", f"upload step {step!r} failed after {done}: "
                                                    f"{str(exc).splitlines()[0]}") from exc
            done.append(step)
        return done

    # -- supporting evidence -----------------------------------------------------------------------
    def canvas_screenshot(self, path: Path) -> Path | None:
        try:
            self.canvas.screenshot(path=str(path), timeout=5_000)
        except Exception:  # supporting evidence only
            return None
        return path

    def canvas_crop(self, path: Path, rx: int, ry: int, width: int, height: int) -> Path | None:
        """A PNG of a rectangle of the canvas (remote pixels) as the client holds it.

        Read from the canvas itself, not from a page screenshot: the client's overlays (status toast,
        control bar) cover parts of the canvas on screen. None when the canvas cannot be read."""
        try:
            data_url = self.canvas.evaluate(_CANVAS_CROP, [rx, ry, width, height])
            path.write_bytes(base64.b64decode(str(data_url).split(",", 1)[1]))
        except Exception:  # supporting evidence only
            return None
        return path

    def screenshot(self, path: Path) -> Path | None:
        return self.canvas_screenshot(path) or super().screenshot(path)

    def pids(self) -> list[int]:
        return self.terminal.pids()

    @property
    def close_record(self) -> dict[str, Any]:  # type: ignore[override]
        """How ``close_as_user`` ended the terminal browser (see the chromium driver); {} before."""
        return dict(self.terminal.close_record or {})

    @property
    def launch_record(self) -> dict[str, Any]:  # type: ignore[override]
        """How the terminal browser was started (see the chromium driver)."""
        return dict(self.terminal.launch_record or {})

    def crashed(self) -> str:
        return self.terminal.crashed()  # the terminal's browser, which runs the client

    def close_as_user(self) -> None:
        self.terminal.close_as_user()


class WebVdiDriver(ScreenTransferDriver):
    name = "webvdi"
    kinds = ("screen-transfer",)
    Settings = WebVdiSettings

    def __init__(self, settings: WebVdiSettings, context: DriverContext) -> None:
        super().__init__(settings, context)
        self.settings: WebVdiSettings = settings
        # The terminal's browser, not the product. The harness starts it with --no-sandbox (root), whose warning
        # bar appears a moment after the page loaded and moves the whole page down under a click in flight
        # (seen: Xpra's menu clicked 50 px too high, one time in three); --test-type keeps that bar away. A
        # municipality's browser runs sandboxed and never shows it. Recorded in the evidence (facts()).
        terminal_settings = ChromiumSettings(name="chromium", executable=settings.terminal_executable,
                                             args=list(TERMINAL_ARGS))
        self.terminal = ChromiumDriver(terminal_settings, context)
        self.contract: RemoteContract = settings.remote  # type: ignore[assignment]  # filled by the validator
        self.wire = WireEndpoint(settings.gateway_host, settings.gateway_port, settings.wire_protocol or "opaque")
        self._platform: RemoteStack | None = None  # the reference stack, when the suite runs the remote platform
        self._selections: Any = None
        self.probe_url = ""
        self.open_record: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        route = self.context.extra.get("route")
        site = self.context.extra.get("fixture_site")
        if route is None or site is None:
            raise HarnessError("webvdi", "the harness gave no network route or fixture site to the driver")
        from conformance.detectors import make_canary

        if self.settings.gateway_ca is not None:
            trust = self.context.extra.get("trust_upstream")
            if trust is None:
                raise HarnessError("webvdi", "the harness cannot trust the profile's gateway_ca")
            trust(self.settings.gateway_ca)
        self.terminal.start()
        canary = make_canary("SHOWN")
        base = self._probe_base(site)
        # The canary travels in a config the probe fetches, never in its URL (a window title or a command line
        # the remote platform shows the terminal would otherwise carry it across as text).
        config = site.set_probe_config(secrets.token_hex(8), {
            "canary": canary, "report": f"{base}/report",
            "download_url": f"{base}/files/canary.txt?canary={canary}"})
        self.probe_url = f"{base}{REMOTE_PROBE}?{urllib.parse.urlencode({'config': config})}"
        make_probe = self.context.extra.get("remote_probe")
        self._make_selections = self.context.extra.get("x_selections")
        if make_probe is None or self._make_selections is None:
            raise HarnessError("webvdi", "the harness gave no remote-probe oracle to the driver")
        probe = make_probe(canary, self.settings.canvas_shows or "screen", self.open_probe)
        self.remote = RemoteSide(probe=probe, hooks=self._hooks())
        stack_settings = self.settings.reference_stack
        if stack_settings is None:
            host, _, port = (self.settings.gateway_address or "").rpartition(":")
            route(self.settings.gateway_host, self.settings.gateway_port, (host, int(port)))
        else:
            platform = self._start_reference(stack_settings, site, probe)
            route(self.settings.gateway_host, self.settings.gateway_port, ("127.0.0.1", platform.websocket_port))
        if self.contract.open != "reference":
            self.open_probe()

    def stop(self) -> None:
        try:
            if self._selections is not None:
                self._selections.stop()
            if self._platform is not None:
                self._platform.stop()
        finally:
            self.terminal.stop()

    def lost(self) -> str:
        return self._platform.lost() if self._platform is not None else ""

    def _probe_base(self, site: Any) -> str:
        host, port = self.contract.probe_host, self.contract.probe_port
        if not is_loopback(host) and not self.context.extra.get("allow_lab_address"):
            raise HarnessError("webvdi", f"remote.probe_address {host} is not loopback; a lab address is used only "
                                         "with --allow-lab-address")
        if port == 0 and is_loopback(host):
            return site.plain_url("").rstrip("/")
        return site.listen(host, port)

    def _start_reference(self, stack_settings: ReferenceStack, site: Any, probe: Any) -> RemoteStack:
        from conformance.environment import tls

        certificate = None
        if self.settings.gateway_scheme == "https":  # a gateway certificate from the run's site CA
            leaf = tls.make_leaf(self.context.run_dir / "tls", "gateway", site.site_ca, [self.settings.gateway_host])
            certificate = (leaf.cert_path, leaf.key_path)
        work = self.context.run_dir / "reference-stack"
        if stack_settings.product == "novnc":
            from conformance.environment.vnc_stack import VncStack

            vnc = VncStack(work, self.probe_url, server=stack_settings.server, clipboard=stack_settings.clipboard,
                           tls=certificate, remote_ready=lambda: probe.loaded() is not None,
                           binaries=stack_settings.binaries)  # fmt: skip
            self._platform = platform = vnc
            vnc.start()
            vnc.warm_up_clipboard()
            roots = [platform.remote_downloads_dir, platform.remote_home, platform.remote_profile_dir]
        else:
            from conformance.environment.xpra_stack import XpraStack

            self._platform = platform = XpraStack(
                work, clipboard=stack_settings.clipboard != "none", file_transfer=stack_settings.file_transfer,
                printing=stack_settings.printing, open_url=stack_settings.open_url, tls=certificate,
                binaries=stack_settings.binaries)  # fmt: skip
            platform.start()
            roots = [platform.remote_home, platform.remote_profile_dir]
        self._selections = self._make_selections(platform.remote_display_env, platform.logs_dir)
        self.remote.selections = self._selections
        self.remote.downloads_dir = platform.remote_downloads_dir
        self.remote.file_roots = roots
        self.remote.pids = platform.pids
        return platform

    # -- the remote-side contract -------------------------------------------------------------------
    def _values(self, **extra: str) -> dict[str, str]:
        return {"probe_url": self.probe_url, "run_dir": str(self.context.run_dir), **extra}

    def _run_template(self, name: str, template: list[str], timeout: float, **extra: str) -> HookResult:
        values = self._values(**extra)
        argv = [part.format(**values) for part in template]
        t0 = time.monotonic()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, start_new_session=True)
        except FileNotFoundError as exc:
            raise HarnessError("webvdi", f"the profile's {name} command cannot run: {exc}") from exc
        except subprocess.TimeoutExpired as exc:
            raise HarnessError("webvdi", f"the profile's {name} command did not finish in {timeout:.0f} s") from exc
        output = (done.stdout + done.stderr).strip()[-2000:]
        return HookResult(name, argv, done.returncode, output, round(time.monotonic() - t0, 2))

    def _hooks(self) -> dict[str, Callable[..., HookResult]]:
        """The product's own channels the profile gives a command for: name -> hook(file=...)."""
        templates = {"push_file": self.contract.push_file, "print_file": self.contract.print_file}
        return {name: functools.partial(self._run_template, name, template, self.contract.hook_timeout)
                for name, template in templates.items() if template}

    def open_probe(self) -> None:
        """Open the probe on the remote desktop by the contract's method; returns once it reported 'loaded'."""
        probe: Any = self.remote.probe
        since = time.time()
        method = self.contract.open
        record: dict[str, Any] = {"method": method, "probe_url": self.probe_url}
        if method == "reference":  # the noVNC stack's kiosk browser opens the probe itself, once
            raise HarnessError("remote-probe", "the reference stack's kiosk browser cannot be reopened")
        if method == "command":
            result = self._run_template("open_command", self.contract.open_command or [], self.contract.open_timeout)
            record["command"] = {"argv": result.argv, "returncode": result.returncode, "output": result.output}
            if not result.ran:
                raise HarnessError("webvdi", f"the profile's open_command failed (exit {result.returncode}): "
                                             f"{result.output[-300:]}")
        elif method == "keys":
            record["keys"] = self._open_by_keys()
        else:
            print(f"\n[conformance] リモートデスクトップで次のURLを開いてください / open this URL on the remote "
                  f"desktop:\n  {self.probe_url}\n  (waiting up to {self.contract.open_timeout:.0f} s)",
                  file=sys.stderr, flush=True)
        deadline = time.monotonic() + self.contract.open_timeout
        while time.monotonic() < deadline:
            report = probe.loaded()
            if report is not None and report.get("received", 0) >= since:
                record["seconds"] = round(time.time() - since, 2)
                self.open_record = record
                return
            time.sleep(0.2)
        raise HarnessError("remote-probe", f"the probe was opened ({method}) but never reported 'loaded' within "
                                           f"{self.contract.open_timeout:.0f} s: the remote side cannot reach "
                                           f"{self.probe_url.split('?')[0]}")

    def _open_by_keys(self) -> list[str]:
        session = self.new_session(check_remote=False)
        done = []
        try:
            for step in self.contract.open_keys or []:
                kind, _, value = step.partition(":")
                value = value.format(**self._values())
                if kind == "key":
                    session.press_remote(value)
                elif kind == "text":
                    session.type_remote(value)
                elif kind == "wait":
                    session.page.wait_for_timeout(int(float(value) * 1000))
                else:
                    raise HarnessError("webvdi", f"open_keys step {step!r}: use key:, text: or wait:")
                done.append(step[:80])
        finally:
            session.close_as_user()
        return done

    # -- sessions ----------------------------------------------------------------------------------
    def client_origin(self) -> str:
        settings = self.settings
        return f"{settings.gateway_scheme}://{settings.gateway_host}:{settings.gateway_port}"

    def client_url(self) -> str:
        settings = self.settings
        return self.client_origin() + (settings.client_path or "").format(host=settings.gateway_host,
                                                                          port=settings.gateway_port)

    def new_session(self, connect: bool = True, check_remote: bool = True) -> WebVdiSession:
        """A fresh terminal browser with the client connected; ``connect=False`` leaves the connecting to
        the caller (a case that must watch the client's very first request). First the remote probe must
        still be alive (reopened once if not): a dead remote side is said once, not rediscovered per case."""
        if check_remote:
            self.remote.probe.ensure_alive()
        session = WebVdiSession(self, self.terminal.new_session())
        if not connect:
            return session
        try:
            session.connect()
        except BaseException:
            session.close_as_user()
            raise
        return session

    def facts(self) -> dict[str, Any]:
        """What the evidence names about the remote side: how the probe was opened, the platform."""
        return {"terminal_browser_args": list(TERMINAL_ARGS), "terminal_browser": self.terminal.facts(),
                "probe_url": self.probe_url, "open": self.open_record,
                "wire_protocol": self.wire.protocol,
                "reference_stack": self._platform.facts() if self._platform is not None else None}


_ELEMENT_AT = """([x, y]) => {
  const e = document.elementFromPoint(x, y);
  if (!e) return 'nothing (outside the page)';
  const w = e.closest('div.window');
  return `${e.tagName}#${e.id}.${e.className}` + (w ? ` in window ${w.id} "${w.innerText.slice(0, 60)}"` : '');
}"""

_CANVAS_PAINTED = """(c) => {
  if (!c || c.width < 100) return false;
  const data = c.getContext('2d').getImageData(0, 0, Math.min(c.width, 400), Math.min(c.height, 200)).data;
  for (let i = 0; i < data.length; i += 4) if (data[i] || data[i + 1] || data[i + 2]) return true;
  return false;
}"""

_CANVAS_GEOMETRY = """(c) => {
  const r = c.getBoundingClientRect();
  return {w: c.width, h: c.height, x: r.x, y: r.y, cw: r.width, ch: r.height};
}"""

_CANVAS_CROP = """(c, [x, y, w, h]) => {
  const out = document.createElement('canvas');
  out.width = w; out.height = h;
  out.getContext('2d').drawImage(c, x, y, w, h, 0, 0, w, h);
  return out.toDataURL('image/png');
}"""
