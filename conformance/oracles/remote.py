"""Remote-side oracles of a screen-transfer session: the suite's probe page and the remote X selections.

The probe (``site/pages/remote-probe.html``) runs in a browser on the remote desktop of *any* product: the
profile's remote-side contract says how it gets opened there. It reports to the fixture site's sink what
happened inside the remote desktop (loaded with its own measured layout, click, input, paste, copied,
download, print, and a heartbeat every 2 s). Those reports are the remote side's oracle for every product.

Where the remote platform runs on this machine (the bundled references), the remote X display's selections
are a supporting oracle as well (:class:`XSelections`, xclip on the remote display).
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from conformance import waits
from conformance.environment.procs import ManagedProcess
from conformance.errors import HarnessError
from conformance.oracles.clipboard import NOT_AVAILABLE

HEARTBEAT_SECONDS = 2.0  # the probe's "alive" interval
ALIVE_WITHIN = 3 * HEARTBEAT_SECONDS  # no heartbeat for this long: the remote side stopped
CanvasShows = Literal["screen", "window"]


class ProbeReports:
    """The probe's reports, read from the fixture site's sink, for the probe showing ``canary``
    (``drivers.base.RemoteProbe``).

    ``canvas_shows`` says what the client's canvas holds: the whole remote ``screen`` (noVNC) or only the
    probe's ``window`` (Xpra draws one canvas per remote window). With the window metrics of the probe's
    "loaded" report this turns the probe's viewport geometry into canvas pixels. ``reopen`` opens the probe
    again on the remote desktop (the contract's open method) and returns when it is loaded.
    """

    def __init__(self, site: Any, canary: str, canvas_shows: CanvasShows = "screen",
                 reopen: Callable[[], None] | None = None) -> None:
        self.site = site
        self.canary = canary
        self.canvas_shows = canvas_shows
        self._reopen = reopen
        self.dead: str | None = None  # why the remote side is considered dead (then every case errors at once)
        self.reopened = 0

    # -- reports -------------------------------------------------------------------------------------
    def reports_since(self, since: float, event: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.site.reports()
                if r.get("received", 0) >= since and (event is None or r.get("event") == event)]

    def last_heard(self) -> float:
        """Epoch seconds of the probe's newest report of this run's canary (0: never)."""
        mine = [r.get("received", 0) for r in self.site.reports()
                if r.get("event") in ("alive", "loaded") and r.get("value") == self.canary]
        return max(mine, default=0.0)

    def loaded(self) -> dict[str, Any] | None:
        for report in reversed(self.site.reports()):
            if report.get("event") == "loaded" and report.get("value") == self.canary:
                return report
        return None

    def wait_for(self, event: str, contains: str, since: float, timeout: float = 15.0,
                 predicate: Any = None) -> dict[str, Any]:
        def matching() -> dict[str, Any] | None:
            return next((r for r in self.reports_since(since, event)
                         if contains in str(r.get("value", "")) and (predicate is None or predicate(r))), None)

        found = waits.until(matching, timeout)
        if found is not None:
            return found
        silent = time.time() - self.last_heard()
        if silent > ALIVE_WITHIN:
            raise HarnessError("remote-probe", f"the remote side never reported {event!r}: the probe has sent "
                                               f"nothing for {silent:.0f} s, the remote side stopped or froze")
        raise HarnessError("remote-probe", f"the remote side never reported {event!r} with {contains!r}")

    # -- liveness ------------------------------------------------------------------------------------
    def alive(self) -> bool:
        return time.time() - self.last_heard() <= ALIVE_WITHIN

    def ensure_alive(self) -> None:
        if self.dead is not None:
            raise HarnessError("remote-probe", self.dead)
        if self.alive():
            return
        silent = time.time() - self.last_heard()
        if self._reopen is not None:
            try:
                self._reopen()
                self.reopened += 1
                if self.alive():
                    return
            except HarnessError as exc:
                self.dead = (f"the remote side died: no report from the probe for {silent:.0f} s, and opening it "
                             f"again failed ({exc.reason}); nothing more can be decided / リモート側が停止した")
                raise HarnessError("remote-probe", self.dead) from exc
        self.dead = (f"the remote side died: no report from the probe for {silent:.0f} s; nothing more can be "
                     "decided / リモート側が停止した")
        raise HarnessError("remote-probe", self.dead)

    # -- geometry ------------------------------------------------------------------------------------
    def rect(self, name: str) -> tuple[int, int, int, int]:
        report = self.loaded()
        detail = (report or {}).get("detail") or {}
        element = (detail.get("layout") or {}).get(name)
        if not element:
            raise HarnessError("remote-probe", f"the probe never reported where {name!r} is (no 'loaded' report "
                                               "with its layout): nothing can be clicked")
        ox, oy = self.viewport_origin(detail)
        return element["x"] + ox, element["y"] + oy, element["w"], element["h"]

    def target(self, name: str) -> tuple[int, int]:
        x, y, w, h = self.rect(name)
        return x + w // 2, y + h // 2

    def viewport_origin(self, detail: Mapping[str, Any]) -> tuple[int, int]:
        """Where the probe's viewport starts in the canvas: the browser's frame (title bar, borders) is
        outer minus inner size; a canvas of the whole screen adds the window's position."""
        inner_w, inner_h = int(detail.get("innerWidth") or 0), int(detail.get("innerHeight") or 0)
        outer_w, outer_h = int(detail.get("outerWidth") or inner_w), int(detail.get("outerHeight") or inner_h)
        border = max(0, (outer_w - inner_w) // 2)
        top = max(0, outer_h - inner_h - border)
        if self.canvas_shows == "screen":
            return int(detail.get("screenX") or 0) + border, int(detail.get("screenY") or 0) + top
        return border, top


class XSelections:
    """The remote X display's selections, read and owned with xclip (supporting oracle of a local platform)."""

    def __init__(self, display_env: Mapping[str, str], log_dir: Path, xclip: str = "xclip") -> None:
        self.env = dict(display_env)
        self.log_dir = log_dir
        self.xclip = xclip
        self._owners: dict[str, ManagedProcess] = {}

    def read(self, selection: str = "clipboard") -> str | None:
        """The text in the remote ``selection``; None only when nobody owns it or it offers no text. Any other
        failure (the remote display gone, xclip killed or hanging) is a HarnessError: "nothing crossed" is never
        concluded from an oracle that could not look."""
        argv = [self.xclip, "-selection", selection, "-o"]
        try:
            r = subprocess.run(argv, capture_output=True, timeout=5, env=self.env)
        except subprocess.TimeoutExpired as exc:
            raise HarnessError("xclip", f"reading the remote {selection}: {' '.join(argv)} timed out after 5 s "
                                        "/ リモート側のクリップボードを読めなかった") from exc
        except OSError as exc:
            raise HarnessError("xclip", f"cannot run xclip on the remote display: {exc}") from exc
        if r.returncode == 0:
            return r.stdout.decode("utf-8", "replace")
        stderr = r.stderr.decode("utf-8", "replace").strip()
        if NOT_AVAILABLE.search(stderr):
            return None
        raise HarnessError("xclip", f"reading the remote {selection}: {' '.join(argv)} failed rc={r.returncode}: "
                                    f"{stderr[:200]} / リモート側のクリップボードを読めなかった")

    def own(self, selection: str, text: str, timeout: float = 5.0) -> None:
        """A new owner takes ``selection`` from the one before, as an application's copy does (one owner change);
        the one before, which has lost it and exited, is reaped afterwards. Stopping it first would leave the
        selection without an owner for a moment: two owner changes, which no copy makes."""
        old = self._owners.pop(selection, None)
        # -quiet keeps xclip in the foreground: it stays our child until it loses the selection.
        self._owners[selection] = ManagedProcess([self.xclip, "-selection", selection, "-i", "-quiet"],
                                                 component="xclip", log_dir=self.log_dir, env=self.env,
                                                 stdin_data=text.encode("utf-8"), name=f"xclip-remote-{selection}")
        try:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if self.read(selection) == text:
                    return
                time.sleep(0.05)
            raise HarnessError("xclip", f"the remote {selection} does not hold the text after {timeout:.0f} s")
        finally:
            if old is not None:
                old.stop()  # it lost the selection and has exited by itself: this reaps it

    def stop(self) -> None:
        for owner in self._owners.values():
            with contextlib.suppress(Exception):
                owner.stop()
        self._owners.clear()
