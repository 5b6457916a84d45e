"""Clipboard (CLIP-01, CLIP-02): nothing crosses between the isolated page and the terminal's clipboard.

Page → terminal (CLIP-01): the oracle is the terminal itself, the X selections CLIPBOARD and PRIMARY read
with xclip (``clipboard_oracle``), and for drag-and-drop an X drop target on the same display (another X
client, as a terminal application would be). Terminal → page (CLIP-02): the canary is put on the terminal's
clipboard with xclip, and the oracle is what the probe page reported to the fixture site plus the value of
its text field. Playwright's clipboard helpers and permission overrides are never used: they bypass the
browser's own gates.

The acts are a person's: keys and clicks through the page, the native context menu and permission prompt
through real X input (xdotool). Each act is proven before "nothing crossed" is believed: the page reports
the key, the click, the menu's right click, the button handler. What the candidate then did with the act
(e.g. refused to select the text) is its control, and is recorded as evidence.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from secrets import token_hex
from typing import Any
from urllib.parse import urlencode

import pytest

from conformance import waits
from conformance.detectors import make_japanese_canary
from conformance.environment.desktop import Desktop
from conformance.errors import HarnessError
from conformance.oracles.site_reports import Reports
from conformance.waits import QuietBound

pytestmark = pytest.mark.candidate_kind("secure-browser")

PAGE = "https://internet.test/pages/clipboard.html"
SCRIPTS = ["ascii", "japanese"]
COPY_METHODS = ["keyboard", "context-menu", "exec-command", "clipboard-api", "selection", "selection-field",
                "drag-out"]
PASTE_METHODS = ["keyboard", "middle-click", "clipboard-api"]
ACT_TIMEOUT = 15.0  # the page's report of an act (slow, shared machine)
MENU_TIMEOUT = 8.0  # the native context menu to appear
PROMPT_SECONDS = 3.0  # readText() still pending after this: a permission prompt is waiting for the user
# A Python with PyGObject + GTK 3 for the X drop target (Debian: python3-gi, gir1.2-gtk-3.0).
GTK_PYTHON = os.environ.get("CONFORMANCE_GTK_PYTHON", "/usr/bin/python3")


def case_text(canary: str, script: str) -> str:
    """The canary of one case: ASCII, or with kanji and katakana (the clipboard must carry Japanese)."""
    return canary if script == "ascii" else make_japanese_canary("CLIP")


# -- the probe page ---------------------------------------------------------------------------------
class Probe:
    """The probe page of one case, and what it reported to the fixture site (tagged with a case token)."""

    def __init__(self, session: Any, site: Any, text: str | None) -> None:
        self.text = text
        self.token = token_hex(6)
        # A CLIP-02 page is never told its canary: it can only have it if it crossed.
        query = {"case": self.token, **({"text": text} if text else {})}
        self.page = session.open(f"{PAGE}?{urlencode(query)}")
        self.site_reports = Reports(site, tab=self.page, case=self.token)
        self.wait_for("loaded", what="the probe page ran its script")

    def reports(self) -> list[dict]:
        return self.site_reports.all()

    def maybe(self, event: str, predicate: Callable[[dict], bool] | None = None,
              timeout: float = ACT_TIMEOUT) -> dict | None:
        return self.site_reports.wait(event, predicate, timeout=timeout)

    def wait_for(self, event: str, predicate: Callable[[dict], bool] | None = None, *, what: str,
                 timeout: float = ACT_TIMEOUT) -> dict:
        return self.site_reports.require(event, predicate, what=what, timeout=timeout)

    def select_canary(self) -> dict:
        """Have the page's own script put the canary in the selection; prove that it was asked for.

        The range is what was asked; ``selection`` is what the candidate let be selected (a candidate may
        refuse selection altogether, which is one way to keep text off PRIMARY and the clipboard).
        """
        started = time.monotonic()
        self.page.evaluate("selectCanary('canary')")
        report = self.wait_for("selected", what="the page selected the canary")
        detail = report.get("detail") or {}
        if self.text not in (detail.get("range") or ""):
            raise HarnessError("probe-page", f"the selection range does not hold the canary: {detail}")
        detail["seconds"] = round(time.monotonic() - started, 2)
        return detail

    def center(self, selector: str) -> tuple[float, float]:
        box = self.page.locator(selector).bounding_box(timeout=10_000)
        if box is None:
            raise HarnessError("probe-page", f"{selector} is not visible")
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


# -- real X input (xdotool) -------------------------------------------------------------------------
class XInput:
    """Real X input on the candidate's display, for what CDP input cannot reach: native menus, prompts,
    drags that leave the browser window."""

    def __init__(self, display: Any) -> None:
        if display is None:
            raise HarnessError("Xvfb", "native menus, prompts and drag-out need the candidate's display")
        self.desktop = Desktop(display.env)  # HarnessError when xdotool is missing
        self.offset: tuple[int, int] | None = None

    def move(self, x: float, y: float) -> None:
        self.desktop.move_pointer(x, y)

    def key(self, *keys: str) -> None:
        # No window manager: keys go to the window under the pointer, which the caller placed.
        self.desktop.press_keys(*keys)

    def visible_windows(self) -> set[int]:
        return self.desktop.visible_window_ids()

    def calibrate(self, probe: Probe) -> tuple[int, int]:
        """Screen position of the page's (0, 0): move the real pointer over the page and read where the
        page saw it (no window manager, no decorations: the page's own numbers are the truth)."""
        guess = probe.page.evaluate(
            "[screenX + outerWidth / 2, screenY + (outerHeight - innerHeight) + innerHeight * 0.75]")
        for attempt in range(3):
            x, y = round(guess[0]) + attempt, round(guess[1]) + attempt
            self.move(x, y)
            self.move(x + 1, y + 1)

            def seen_there(x: int = x, y: int = y) -> dict | None:
                seen = probe.page.evaluate("window.lastPointer")
                return seen if seen and seen["screenX"] == x + 1 and seen["screenY"] == y + 1 else None

            seen = waits.until(seen_there, 3)
            if seen:
                self.offset = (x + 1 - round(seen["clientX"]), y + 1 - round(seen["clientY"]))
                return self.offset
        raise HarnessError("xdotool", "the page never saw the real pointer: cannot map page to screen coordinates")

    def to_screen(self, point: tuple[float, float]) -> tuple[int, int]:
        if self.offset is None:
            raise HarnessError("xdotool", "calibrate() first")
        return round(point[0] + self.offset[0]), round(point[1] + self.offset[1])

    def drag(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        self.desktop.drag(start, end)

    def wait_window_change(self, before: set[int], appear: bool, timeout: float) -> set[int]:
        """Windows that appeared (``appear``) or are still there (not ``appear``) once that happened."""
        state: dict[str, set[int]] = {}

        def changed() -> bool:
            now = self.visible_windows()
            state["changed"] = (now - before) if appear else (before & now)
            return bool(state["changed"]) == appear

        waits.until(changed, timeout, interval=0.15)
        return state["changed"]


# -- the X drop target (drag-out oracle) ------------------------------------------------------------
DROP_TARGET_SCRIPT = r'''
"""X drop target (and a drag source for its positive control). argv: OUT_JSONL CONTROL X Y."""
import json
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk

out_path, control, x0, y0 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
out = open(out_path, "a", encoding="utf-8")


def emit(event, **fields):
    out.write(json.dumps({"event": event, **fields}, ensure_ascii=False) + "\n")
    out.flush()


def window(title, x, y, w, h, text):
    win = Gtk.Window(title=title)
    win.set_default_size(w, h)
    win.move(x, y)
    box = Gtk.EventBox()
    box.add(Gtk.Label(label=text))
    win.add(box)
    return win, box


target, _ = window("conformance-drop-target", x0, y0, 260, 300, "drop here")
target.drag_dest_set(Gtk.DestDefaults.ALL, [], Gdk.DragAction.COPY | Gdk.DragAction.MOVE | Gdk.DragAction.LINK)
target.drag_dest_add_text_targets()
target.drag_dest_add_uri_targets()
inside = []


def received(widget, context, x, y, data, info, time):
    inside.clear()
    emit("drop", text=data.get_text(), uris=list(data.get_uris() or []),
         targets=[str(t) for t in context.list_targets()],
         raw=bytes(data.get_data() or b"").decode("utf-8", "replace"))


def motion(widget, context, x, y, time):
    if not inside:  # once per drag: a drag reached the target (with these formats)
        inside.append(1)
        emit("enter", targets=[str(t) for t in context.list_targets()])
    return False


target.connect("drag-data-received", received)
target.connect("drag-motion", motion)
target.connect("drag-leave", lambda *args: inside.clear())
source, source_box = window("conformance-drag-source", x0, y0 + 340, 260, 200, "drag me")
source_box.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
source_box.drag_source_add_text_targets()
source_box.connect("drag-data-get", lambda w, c, data, i, t: data.set_text(control, -1))
mapped = set()


def on_map(win, event, name):
    mapped.add(name)
    if len(mapped) == 2:
        geometry = {}
        for key, w in (("target", target), ("source", source)):
            origin = w.get_window().get_origin()
            geometry[key] = [origin[1], origin[2], w.get_allocated_width(), w.get_allocated_height()]
        emit("ready", **geometry)
    return False


for name, win in (("target", target), ("source", source)):
    win.connect("map-event", on_map, name)
    win.connect("destroy", Gtk.main_quit)
    win.show_all()
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, 15, Gtk.main_quit)
Gtk.main()
'''


class DropTarget:
    """An X client that accepts drops of text and URIs, as any terminal application would, and records them.

    Proven before use: a drag from its own source window, done with the same real X input, must land.
    """

    def __init__(self, folder: Path, display: Any, xinput: XInput, crossing_times: Any) -> None:
        self.folder = folder
        home = folder / "drop-target-home"  # GTK writes dconf and caches under HOME: keep them in the run
        self.env = {**os.environ, **display.env, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
                    "XDG_CONFIG_HOME": str(home / ".config")}
        self.xinput = xinput
        self.crossing_times = crossing_times
        self.log = folder / "drops.jsonl"
        self.proc: subprocess.Popen[bytes] | None = None
        self.target: list[int] = []
        self.control_events = 0  # events up to and including the positive control's drop

    def events(self, kind: str | None = None, *, after_control: bool = False) -> list[dict]:
        try:
            lines = self.log.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        events = []
        for line in lines:
            with suppress(ValueError):  # a line still being written
                events.append(json.loads(line))
        if after_control:
            events = events[self.control_events:]
        return [e for e in events if kind is None or e["event"] == kind]

    def _wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        def done() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise HarnessError("drop-target", f"the drop target exited rc={self.proc.returncode}; see {self.log}")
            return predicate()

        return waits.until(done, timeout, interval=0.05)

    def start(self) -> None:
        try:
            probe = subprocess.run([GTK_PYTHON, "-c", "import gi; gi.require_version('Gtk', '3.0')"],
                                   capture_output=True, text=True, env=self.env, timeout=30, check=False)
            failure = probe.stderr.strip()[-200:] if probe.returncode != 0 else ""
        except (OSError, subprocess.TimeoutExpired) as exc:
            failure = str(exc)
        if failure:
            raise HarnessError("drop-target", f"{GTK_PYTHON} cannot run GTK 3 through PyGObject (Debian: python3-gi,"
                                              f" gir1.2-gtk-3.0; or set CONFORMANCE_GTK_PYTHON): {failure}")
        self.folder.mkdir(parents=True, exist_ok=True)
        script = self.folder / "drop_target.py"
        script.write_text(DROP_TARGET_SCRIPT, encoding="utf-8")
        control = f"DROP-CONTROL-{token_hex(4)}"
        width = int(self.xinput.desktop.run(["getdisplaygeometry"]).stdout.split()[0])
        with (self.folder / "drop_target.stderr").open("ab") as stderr:
            # Own session: stopped by its PID's group, nothing else.
            self.proc = subprocess.Popen([GTK_PYTHON, str(script), str(self.log), control, str(width - 280), "40"],
                                         env=self.env, stdout=subprocess.DEVNULL, stderr=stderr,
                                         start_new_session=True)
        if not self._wait(lambda: bool(self.events("ready")), 15):
            raise HarnessError("drop-target", "the drop target window did not appear within 15s")
        ready = self.events("ready")[0]
        self.target = ready["target"]
        sx, sy, sw, sh = ready["source"]
        self.xinput.drag((sx + sw // 2, sy + sh // 2), self.center())
        released = time.monotonic()
        if not self._wait(lambda: any(e.get("text") == control for e in self.events("drop")), 5):
            raise HarnessError("drop-target", "positive control: a drag between two X windows did not land")
        # The same run's drag-out crossing: a slower machine watches a refused drag-out longer (conformance.waits).
        self.crossing_times.record("drag-out", time.monotonic() - released, "the drop target's positive control")
        self.control_events = len(self.events())

    def center(self) -> tuple[int, int]:
        x, y, w, h = self.target
        return x + w // 2, y + h // 2

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@contextmanager
def drop_target(folder: Path, display: Any, xinput: XInput, crossing_times: Any) -> Iterator[DropTarget]:
    target = DropTarget(folder, display, xinput, crossing_times)
    try:
        target.start()
        yield target
    finally:
        target.stop()


# -- CLIP-01: page → terminal -----------------------------------------------------------------------
def copy_by(method: str, probe: Probe, ctx: dict[str, Any]) -> dict[str, Any]:
    """Do one kind of copy as a person would; return what proves it happened (HarnessError if it did not)."""
    page = probe.page
    notes: dict[str, Any] = {}
    if method == "keyboard":
        page.click("#blank")  # keyboard focus in the page, nothing selected
        notes["selection"] = probe.select_canary()
        page.keyboard.press("Control+c")
        notes["key"] = probe.wait_for("keydown", lambda r: str(r["value"]).lower() == "c" and r["detail"]["ctrl"],
                                      what="Control+C reached the page")
    elif method == "context-menu":
        xinput = ctx["xinput"]()
        xinput.calibrate(probe)
        xinput.move(*xinput.to_screen(probe.center("#blank")))  # pointer away from where the menu opens
        notes["selection"] = probe.select_canary()
        before = xinput.visible_windows()
        page.mouse.click(*probe.center("#canary"), button="right")
        notes["right_click"] = probe.wait_for("mousedown", lambda r: r["value"] == 2,
                                              what="the right click reached the page")
        menu = xinput.wait_window_change(before, appear=True, timeout=MENU_TIMEOUT)
        notes["menu_windows"] = sorted(menu)
        if not menu:
            notes["menu"] = "the candidate showed no context menu"
        else:
            ctx["desktop_shot"](xinput, "context-menu.png")
            if probe.text in (notes["selection"].get("selection") or ""):
                xinput.key("c")  # "&Copy" / 「コピー(&C)」: the menu's keyboard accelerator
                notes["menu"] = "chose Copy with its accelerator key"
            else:  # nothing selected: a menu without "Copy"; close it
                xinput.key("Escape")
                notes["menu"] = "no text selected, so no Copy item: closed the menu"
            if xinput.wait_window_change(menu, appear=False, timeout=5):
                xinput.key("Escape")
                raise HarnessError("context-menu", "the context menu did not close after choosing an item")
    elif method == "exec-command":
        page.click("#exec-copy")
        notes["handler"] = probe.wait_for("exec-copy", what="the page's copy button ran")
    elif method == "clipboard-api":
        page.click("#api-write")
        notes["call"] = probe.wait_for("api-write", what="the page called navigator.clipboard.writeText()")
        notes["result"] = probe.maybe("api-write-result", timeout=5)
    elif method == "selection":
        page.click("#canary", click_count=3)
        notes["clicks"] = probe.wait_for(
            "mousedown", lambda r: r["value"] == 0 and r["detail"]["detail"] >= 3
            and r["detail"]["target"] in ("canary", "para"), what="the triple click on the canary reached the page")
        notes["selection_after"] = page.evaluate("String(getSelection())")
    elif method == "selection-field":
        page.click("#field", click_count=3)
        notes["clicks"] = probe.wait_for(
            "mousedown", lambda r: r["value"] == 0 and r["detail"]["detail"] >= 3 and r["detail"]["target"] == "field",
            what="the triple click in the text field reached the page")
        notes["selection_after"] = page.evaluate(
            "(() => { const f = document.getElementById('field');"
            " return f.value.slice(f.selectionStart, f.selectionEnd); })()")
    elif method == "drag-out":
        xinput = ctx["xinput"]()
        target: DropTarget = ctx["drop_target"](xinput)
        xinput.calibrate(probe)
        notes["selection"] = probe.select_canary()
        start = xinput.to_screen(probe.center("#canary"))
        xinput.drag(start, target.center())
        press = probe.wait_for("mousedown", lambda r: r["value"] == 0 and r["detail"]["target"] == "canary",
                               what="the drag's press on the canary reached the page")
        # Either the drag ran (dragend) or the candidate refused it and the press ended as a plain release.
        notes["press"] = press
        notes["end"] = probe.maybe("dragend", timeout=2) or probe.wait_for(
            "mouseup", lambda r: r["ts"] >= press["ts"], what="the drag ended in the page (no dragend, no mouseup)")
        notes["drags_into_target"] = target.events("enter", after_control=True)
    else:  # pragma: no cover - parametrization and this function are kept in sync
        raise HarnessError("suite", f"unknown copy method {method}")
    return notes


def terminal_holds(oracle: Any, text: str, bound: QuietBound,
                   extra: Callable[[], list[dict]] | None = None) -> dict[str, Any]:
    """Watch the terminal's selections (and drops) until the canary shows up or ``bound`` passes."""

    def observe() -> dict[str, Any]:
        seen = {"clipboard": oracle.read("clipboard"), "primary": oracle.read("primary")}
        drops = extra() if extra else []
        hits = [f"X selection {name.upper()}" for name, value in seen.items() if value and text in value]
        hits += ["a drop on another X client (formats " + ", ".join(d.get("targets") or []) + ")"
                 for d in drops if text in json.dumps(d, ensure_ascii=False)]
        return {"hits": hits, "seen": seen, "drops": drops}

    watched = waits.watch(observe, bound, crossed=lambda seen: bool(seen["hits"]))
    return {**watched.value, "seconds_after_act": round(watched.seconds, 2), "watch": watched.evidence(),
            "observed_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "targets": {name: oracle.targets(name) for name in ("clipboard", "primary")}}


def desktop_shot(evidence: Any, xinput: XInput, folder: Path, name: str) -> None:
    """The whole display (native menus and prompts are not in a page screenshot); evidence only."""
    with suppress(Exception):
        folder.mkdir(parents=True, exist_ok=True)
        evidence.file(xinput.desktop.screenshot(folder / f"{token_hex(4)}.png"), name)


@pytest.mark.requirement("CLIP-01")
@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("method", COPY_METHODS)
def test_copy_does_not_reach_terminal(
    method: str, script: str, candidate_session: Any, fixture_site: Any, network_oracle: Any, display: Any,
    clipboard_oracle: Any, run_dir: Path, canary: str, evidence: Any, crossing_times: Any,
) -> None:
    """ページでコピーした内容が端末のクリップボードに現れない / a copy in the page never reaches the terminal"""
    text = case_text(canary, script)
    work = run_dir / "clipboard" / token_hex(4)
    made: dict[str, Any] = {}
    with ExitStack() as stack:
        def xinput() -> XInput:
            if "xinput" not in made:
                made["xinput"] = XInput(display)
            return made["xinput"]

        def target(xi: XInput) -> DropTarget:
            made["drop_target"] = stack.enter_context(drop_target(work, display, xi, crossing_times))
            return made["drop_target"]

        probe = Probe(candidate_session, fixture_site, text)
        notes = copy_by(method, probe, {"xinput": xinput, "drop_target": target,
                                        "desktop_shot": lambda xi, name: desktop_shot(evidence, xi, work, name)})
        dropped = made.get("drop_target")
        bound = crossing_times.bound("drag-out" if method == "drag-out" else "clipboard")
        observed = terminal_holds(clipboard_oracle, text, bound,
                                  (lambda: dropped.events("drop", after_control=True)) if dropped else None)
    evidence.screenshot(candidate_session, f"{method}.png")
    evidence.json("observation.json", {"requirement": "CLIP-01", "method": method, "canary": text, "act": notes,
                                       "terminal": observed, "page_reports": probe.reports()})
    assert not observed["hits"], (
        f"the canary copied in the page by '{method}' reached the terminal / ページでコピーした内容が端末に現れた: "
        + "; ".join(observed["hits"]) + f" held {text!r} {observed['seconds_after_act']}s after the act"
    )


# -- CLIP-02: terminal → page -----------------------------------------------------------------------
def answer_permission_prompt(xinput: XInput, probe: Probe) -> str:
    """Answer a browser permission prompt as a person using the keyboard: F6 to the toolbar, Shift+Tab to the
    prompt's last button ("Allow" in Chromium's bubble), Return."""
    xinput.calibrate(probe)  # leaves the pointer over the page: the keys go to the browser window
    xinput.key("F6")
    waits.pause(0.4)  # the focus moves to the toolbar; Chromium gives no event a page can see
    xinput.key("shift+Tab")
    waits.pause(0.4)
    xinput.key("Return")
    return "pressed F6, Shift+Tab, Return"


def paste_by(method: str, probe: Probe, oracle: Any, text: str, ctx: dict[str, Any]) -> dict[str, Any]:
    page = probe.page
    notes: dict[str, Any] = {}
    if method == "keyboard":
        page.click("#paste-box")
        notes["focus"] = probe.wait_for("focus", lambda r: r["value"] == "paste-box",
                                        what="the text field took the focus")
        page.keyboard.press("Control+v")
        notes["key"] = probe.wait_for("keydown", lambda r: str(r["value"]).lower() == "v" and r["detail"]["ctrl"],
                                      what="Control+V reached the page")
    elif method == "middle-click":
        page.click("#paste-box", button="middle")
        notes["click"] = probe.wait_for("mousedown", lambda r: r["value"] == 1 and r["detail"]["target"] == "paste-box",
                                        what="the middle click on the text field reached the page")
    elif method == "clipboard-api":
        page.click("#api-read")
        notes["call"] = probe.wait_for("api-read", what="the page called navigator.clipboard.readText()")
        result = probe.maybe("api-read-result", timeout=PROMPT_SECONDS)
        if result is None:  # pending: the browser asks the user; answer as a user who allows it
            ctx["desktop_shot"]("permission-prompt.png")
            notes["prompt"] = answer_permission_prompt(ctx["xinput"](), probe)
            result = probe.maybe("api-read-result", timeout=10)
        if result is None:
            raise HarnessError("probe-page", "navigator.clipboard.readText() neither resolved nor was rejected, even "
                                             "after answering a permission prompt; nothing was decided")
        notes["result"] = result
    else:  # pragma: no cover
        raise HarnessError("suite", f"unknown paste method {method}")
    return notes


def page_holds(probe: Probe, text: str, bound: QuietBound) -> dict[str, Any]:
    """What the page got: its reports (paste, input, readText) until the canary shows up or ``bound`` passes,
    then the values of its text fields (read in the page, and reported by it)."""
    watched = waits.watch(lambda: any(text in json.dumps(r, ensure_ascii=False) for r in probe.reports()), bound,
                          page=probe.page)
    fields = probe.page.evaluate("reportState()")
    probe.wait_for("state", what="the page reported its fields")
    reported = [r for r in probe.reports() if text in json.dumps(r, ensure_ascii=False)]
    return {"reports_with_canary": reported, "fields": fields,
            "fields_with_canary": [name for name, value in fields.items() if text in (value or "")],
            "seconds_after_act": round(watched.seconds, 2), "watch": watched.evidence(),
            "observed_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")}


@pytest.mark.requirement("CLIP-02")
@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("method", PASTE_METHODS)
def test_terminal_clipboard_does_not_reach_page(
    method: str, script: str, candidate_session: Any, fixture_site: Any, network_oracle: Any, display: Any,
    clipboard_oracle: Any, run_dir: Path, canary: str, evidence: Any, crossing_times: Any,
) -> None:
    """端末のクリップボードの内容がページに貼り付けられない / the terminal's clipboard never reaches the page"""
    text = case_text(canary, script)
    selection = "primary" if method == "middle-click" else "clipboard"
    made: dict[str, XInput] = {}

    def xinput() -> XInput:
        made.setdefault("x", XInput(display))
        return made["x"]

    work = run_dir / "clipboard" / token_hex(4)
    probe = Probe(candidate_session, fixture_site, None)
    with clipboard_oracle.own(selection, text):
        notes = paste_by(method, probe, clipboard_oracle, text, {
            "xinput": xinput, "desktop_shot": lambda name: desktop_shot(evidence, xinput(), work, name)})
        observed = page_holds(probe, text, crossing_times.bound("clipboard"))
        # The source must still have been there: a lost selection would make "nothing pasted" meaningless.
        still = clipboard_oracle.read(selection)
    evidence.screenshot(candidate_session, f"{method}.png")
    evidence.json("observation.json", {"requirement": "CLIP-02", "method": method, "selection": selection,
                                       "canary": text, "act": notes, "page": observed,
                                       "terminal_selection_after": still, "page_reports": probe.reports()})
    crossed = observed["reports_with_canary"] or observed["fields_with_canary"]
    if not crossed and still != text:
        raise HarnessError("xclip", f"the terminal's {selection} no longer held the canary after the paste "
                                    f"(now {still!r}); nothing was decided")
    assert not crossed, (
        f"the terminal's {selection} reached the page by '{method}' / 端末のクリップボードの内容がページに渡った: "
        f"fields {observed['fields_with_canary']}, reports "
        + ", ".join(sorted({str(r.get('event')) for r in observed["reports_with_canary"]}))
    )
