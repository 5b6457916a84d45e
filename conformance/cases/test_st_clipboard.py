"""Clipboard through a screen-transfer client (CLIP-01, CLIP-02): nothing crosses between the remote desktop
and the terminal.

Remote → terminal (CLIP-01). Something is copied inside the remote desktop, each way a person or a remote
application does it: the probe page's COPY button clicked through the canvas (``execCommand('copy')`` in the
remote browser, which also sets the remote PRIMARY), Ctrl+A and Ctrl+C typed through the canvas in the remote
text box, a remote application owning the remote CLIPBOARD, and a selection only (the remote PRIMARY). The act
is proven on the remote side (the probe reports ``copied`` — its copy button, or the copy event of Ctrl+C — or
the remote X selection holds the canary) before "nothing crossed" is believed. A remote application's own copy
needs the remote X display (``driver.remote.selections``): without it that method is not applicable.
Terminal-side oracles, independent of each other:

* the client's own clipboard panel (noVNC fills a text box the user can copy from with one Ctrl+C: the text is
  on the terminal, in a clipboard the client offers the user);
* the client's RFB ``clipboard`` event, when the client exposes it (noVNC's UI module);
* the wire: clipboard messages from the platform, decoded with the profile's protocol (RFB ServerCutText with
  Extended Clipboard inflated, spike P3; Xpra clipboard-token / clipboard-contents, decompressed), and the
  raw bytes, which still find the canary when the wire cannot be decoded;
* the terminal's OS clipboard, CLIPBOARD and PRIMARY (``clipboard_oracle``; noVNC 1.3 never writes it, P4).

The canary reaching any of them fails the case. When nothing arrives, the case has watched for the bound of
the ``st-clipboard`` channel after the act (``conformance.waits``: three times the slowest crossing these same
cases measured on the open references, at least the channel's floor); each hit's ``seconds_after_act_began``
and the bound with its basis are in the evidence.

Terminal → remote (CLIP-02). The canary is put on the terminal's OS clipboard with xclip (as any terminal
application would) or typed into the client's clipboard panel, then pasted inside the remote desktop with
Ctrl+V, the remote browser's context menu ("Paste") or a middle click through the canvas; the remote probe
reports the paste (the act's proof: the paste reached the remote text box). Oracles: the probe's paste and
paste-input reports, the remote X CLIPBOARD and PRIMARY where the remote platform runs on this machine
(``driver.remote.selections``, supporting), and the wire (a finding, see below).

Terminal clipboard text on the wire to the platform, while the remote side never holds it, is a finding
here and does not fail CLIP-02: CLIP-02 says content "cannot be pasted into the candidate's content", and
text the server dropped cannot be pasted anywhere inside. Whether it left the terminal at all is ST-03's
question (catalog 2026.12.0, ``test_st_outbound``), which these same acts feed.

After each case the remote selections are given a fresh neutral value, so a canary copied in one case cannot
reach the terminal in a later session (TigerVNC may offer its clipboard to a client as it connects).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from conformance import waits
from conformance.cases.observation import Observation
from conformance.cases.remote_desktop import (
    clipboard_texts,
    content_hits,
    decoded,
    paste_in_remote,
    session_wire,
    type_in_remote,
)
from conformance.detectors import make_canary
from conformance.drivers.base import ScreenTransferDriver, ScreenTransferSession
from conformance.errors import HarnessError
from conformance.plugin import not_applicable
from conformance.waits import QuietBound

pytestmark = pytest.mark.candidate_kind("screen-transfer")

COPY_METHODS = ["copy-button", "keyboard", "remote-app-clipboard", "primary-selection"]
PASTE_METHODS = ["remote-ctrl-v", "context-menu", "middle-click", "panel-ctrl-v", "panel-typed"]
CATCH_UP_SECONDS = 1.5  # once one oracle saw the canary, let the slower ones see it too (evidence)
ACT_TIMEOUT = 15.0  # the remote side's proof of the act, on a loaded machine
POLL_SECONDS = 0.2

RFB_LISTENER = """async () => {
  try {
    const UI = (await import('./app/ui.js')).default;
    if (!UI.rfb) return 'unavailable: the client has no RFB object';
    window.__stClipboard = [];
    UI.rfb.addEventListener('clipboard',
      (e) => window.__stClipboard.push({text: String(e.detail.text), t: Date.now()}));
    return 'listening';
  } catch (err) { return 'unavailable: ' + err; }
}"""


@pytest.fixture(autouse=True)
def neutral_remote_selections(driver: ScreenTransferDriver) -> Iterator[None]:
    """Remote CLIPBOARD and PRIMARY hold a fresh neutral value before and after each case, where the suite
    can reach them (no session is connected then: set up before, torn down after, the candidate session)."""
    selections = driver.remote.selections

    def reset() -> None:
        if selections is not None:
            for selection in ("clipboard", "primary"):
                selections.own(selection, make_canary("NEUTRAL"))

    reset()
    yield
    reset()


def listen_for_client_clipboard(session: ScreenTransferSession) -> str:
    """Subscribe to noVNC's own clipboard event where the client has it (an observer in the client page)."""
    try:
        return str(session.page.evaluate(RFB_LISTENER))
    except Exception as exc:  # an extra oracle only: the panel, the wire and the OS clipboard remain
        return f"unavailable: {str(exc).splitlines()[0]}"


def _contains(value: Any, text: str) -> bool:
    return value is not None and text in str(value)


# -- CLIP-01: remote → terminal ---------------------------------------------------------------------
class TerminalSide:
    """The terminal-side oracles of CLIP-01, read together; remembers when each first held the text."""

    def __init__(self, session: ScreenTransferSession, driver: ScreenTransferDriver, network_oracle: Any,
                 clipboard_oracle: Any, rfb_state: str) -> None:
        self.session = session
        self.driver = driver
        self.network_oracle = network_oracle
        self.clipboard_oracle = clipboard_oracle
        self.rfb_state = rfb_state
        self.first_seen: dict[str, float] = {}
        self.last: dict[str, Any] = {}
        self.observation = Observation()  # evidence first: an unreadable wire never hides a hit elsewhere
        self.wire: Any = None

    def read(self, text: str) -> dict[str, Any]:
        values: dict[str, Any] = {"client clipboard panel": self.session.client_clipboard_text()}
        if self.rfb_state == "listening":
            events = self.session.page.evaluate("window.__stClipboard || []")
            values["client clipboard event"] = [e["text"] for e in events]
        model = self.observation.read("wire", lambda: session_wire(self.network_oracle, self.driver, self.session),
                                      None)
        if model is not None:
            self.wire = model
            self.observation.read("wire", lambda: decoded(model), None)
            # Clipboard messages from the platform (decompressed); the raw bytes only when nothing could be
            # decoded (evidence first). Other text on the wire (a window title) is ST-01's business.
            values["wire from the platform"] = (
                [t for t in clipboard_texts(model, "from_server") if text in t] if model.decodable
                else [str(h) for h in content_hits(model, [text], "from_server")])
        values["terminal OS CLIPBOARD"] = self.clipboard_oracle.read("clipboard")
        values["terminal OS PRIMARY"] = self.clipboard_oracle.read("primary")
        self.last = values
        return values

    def hits(self, text: str, t0: float) -> list[str]:
        found = []
        for name, value in self.read(text).items():
            held = (bool(value) if name.startswith("wire") else any(_contains(v, text) for v in value)) \
                if isinstance(value, list) else _contains(value, text)
            if held:
                self.first_seen.setdefault(name, round(time.monotonic() - t0, 3))
                found.append(name)
        return found

    def watch(self, text: str, t0: float, bound: QuietBound) -> dict[str, Any]:
        """Poll every oracle from the end of the act until the text shows up (plus a catch-up) or ``bound``
        passes; times are said from ``t0``, when the act began."""
        deadline = time.monotonic() + bound.seconds

        def settled() -> bool:
            nonlocal deadline
            hits = self.hits(text, t0)
            now = time.monotonic()
            if hits:
                deadline = min(deadline, max(now, t0 + min(self.first_seen.values())) + CATCH_UP_SECONDS)
            return now >= deadline

        waits.until(settled, bound.seconds + CATCH_UP_SECONDS, page=self.session.page, interval=POLL_SECONDS)
        crossed = bool(self.first_seen)
        return {"hits": {name: {"seconds_after_act_began": s} for name, s in self.first_seen.items()},
                "waited_seconds": round(time.monotonic() - t0, 2), "last_values": self.last,
                "watch": {**bound.evidence(), "crossed": crossed,
                          "seconds_after_act": min(self.first_seen.values()) if crossed else None}}


def copy_by(method: str, session: ScreenTransferSession, driver: ScreenTransferDriver,
            canary: str) -> tuple[str, float, dict[str, Any]]:
    """Copy inside the remote desktop as a person or a remote application does. Returns the copied text,
    the moment the act began, and the remote side's proof (HarnessError when it did not happen)."""
    notes: dict[str, Any] = {}
    probe, selections = driver.remote.probe, driver.remote.selections
    if method == "copy-button":
        shown = probe.canary
        since, t0 = time.time(), time.monotonic()
        session.click_remote(*probe.target("copy"))
        report = probe.wait_for("copied", shown, since, ACT_TIMEOUT)
        if not (report.get("detail") or {}).get("ok"):
            raise HarnessError("remote-probe", f"the remote copy command failed: {report}; nothing was copied")
        notes["remote_report"] = report
        if selections is not None:
            notes["remote_clipboard"] = selections.read("clipboard")
        return shown, t0, notes
    if method == "keyboard":
        # An empty box (type_in_remote empties it): the copy holds this case's canary only.
        notes["typed"] = type_in_remote(session, driver, canary, ACT_TIMEOUT).report
        t0, copied_since = time.monotonic(), time.time()
        session.press_remote("Control+a")
        session.press_remote("Control+c")
        # The remote browser's copy event is the proof on any product; the remote CLIPBOARD, where the suite
        # can read it, must hold the canary too (a copy event alone does not show the selection was owned).
        notes["remote_report"] = probe.wait_for("copied", canary, copied_since, ACT_TIMEOUT)
        if selections is not None:
            copied = waits.until(lambda: _contains(selections.read("clipboard"), canary), ACT_TIMEOUT,
                                 page=session.page, interval=POLL_SECONDS)
            held = selections.read("clipboard")
            if not copied:
                raise HarnessError("remote-probe", f"Ctrl+A, Ctrl+C in the remote text box did not copy: the "
                                                   f"remote CLIPBOARD holds {held!r}; nothing was copied")
            notes["remote_clipboard"] = held
        return canary, t0, notes
    if method in ("remote-app-clipboard", "primary-selection"):
        if selections is None:
            not_applicable("a remote application's own copy needs the remote X display, which this remote "
                           "platform does not give the suite / リモート側のXディスプレイに届かない")
        selection = "clipboard" if method == "remote-app-clipboard" else "primary"
        t0 = time.monotonic()
        selections.own(selection, canary)  # returns once the remote selection reads back
        notes[f"remote_{selection}"] = selections.read(selection)
        return canary, t0, notes
    raise HarnessError("suite", f"unknown copy method {method}")  # pragma: no cover


@pytest.mark.requirement("CLIP-01")
@pytest.mark.parametrize("method", COPY_METHODS)
def test_remote_copy_does_not_reach_terminal(
    method: str, candidate_session: ScreenTransferSession, driver: ScreenTransferDriver, network_oracle: Any,
    clipboard_oracle: Any, canary: str, evidence: Any, crossing_times: Any,
) -> None:
    """リモート側でコピーした内容が端末に現れない / a copy inside the remote desktop never reaches the terminal"""
    rfb_state = listen_for_client_clipboard(candidate_session)
    terminal = TerminalSide(candidate_session, driver, network_oracle, clipboard_oracle, rfb_state)
    baseline = terminal.read(canary)  # before the act (evidence: nothing was there already)
    text, t0, act = copy_by(method, candidate_session, driver, canary)
    observed = terminal.watch(text, t0, crossing_times.bound("st-clipboard"))
    selections = driver.remote.selections
    if not observed["watch"]["crossed"] and selections is not None:
        # Evidence: the copy was still on offer when the watch ended (nothing on the remote side took it back).
        act["remote_after_watch"] = selections.read("primary" if method == "primary-selection" else "clipboard")
    evidence.screenshot(candidate_session, f"{method}.png")
    evidence.json("observation.json", {
        "requirement": "CLIP-01", "method": method, "canary": text, "act": act,
        "client_clipboard_event": rfb_state,
        "baseline": baseline, "terminal": observed,
        "messages_on_wire": terminal.wire.rows() if terminal.wire is not None else None,
        "not_observable": terminal.observation.to_json()["not_observable"],
    })
    for name, hit in observed["hits"].items():
        terminal.observation.saw(name, f"held {text!r} after {hit['seconds_after_act_began']} s")
    terminal.observation.decide(f"the remote copy ({method}) reached the terminal / "
                                "リモート側でコピーした内容が端末に現れた")


# -- CLIP-02: terminal → remote ---------------------------------------------------------------------
def paste_by(method: str, session: ScreenTransferSession, driver: ScreenTransferDriver, clipboard_oracle: Any,
             text: str, stack: ExitStack) -> tuple[dict[str, Any], str | None]:
    """Put the canary on the terminal side and paste it inside the remote desktop. Returns the act's proof and
    the terminal OS selection that must still hold the canary afterwards (None: the client panel was used)."""
    notes: dict[str, Any] = {}
    since = time.time()
    probe = driver.remote.probe
    if method == "remote-ctrl-v":
        stack.enter_context(clipboard_oracle.own("clipboard", text))
        notes["remote_paste"] = paste_in_remote(session, driver, since)
        return notes, "clipboard"
    if method == "context-menu":
        # Right click in the remote paste box, then "Paste" (P) in the remote browser's menu: what a person
        # does when Ctrl+V races with a client that syncs the clipboard on that very key press (Xpra).
        stack.enter_context(clipboard_oracle.own("clipboard", text))
        session.click_remote(*probe.target("pastebox"))
        probe.wait_for("click", "pastebox", since, ACT_TIMEOUT)
        waits.pause(1.0, page=session.page)  # the client sends the terminal's clipboard after the click
        session.click_remote(*probe.target("pastebox"), button="right")
        # The act's proof is the right click reaching the paste box: with nothing on the remote clipboard the
        # remote browser greys out "Paste" and no paste event follows, which is the hardened outcome.
        notes["remote_right_click"] = probe.wait_for("click", "pastebox", since, ACT_TIMEOUT,
                                                     lambda r: (r.get("detail") or {}).get("button") == 2)
        waits.pause(0.7, page=session.page)  # the remote context menu opens (drawn remotely: no event here)
        session.press_remote("p")
        return notes, "clipboard"
    if method == "middle-click":
        stack.enter_context(clipboard_oracle.own("primary", text))
        session.click_remote(*probe.target("pastebox"), button="middle")
        notes["remote_click"] = probe.wait_for("click", "pastebox", since, ACT_TIMEOUT,
                                               lambda r: (r.get("detail") or {}).get("button") == 1)
        return notes, "primary"
    if method == "panel-ctrl-v":
        stack.enter_context(clipboard_oracle.own("clipboard", text))
        held = session.paste_into_clipboard_panel()
        if held is None:
            not_applicable("the client has no clipboard panel to paste the terminal's clipboard into")
        notes["panel_after_ctrl_v"] = held
        notes["remote_paste"] = paste_in_remote(session, driver, since)
        return notes, "clipboard"
    if method == "panel-typed":
        # A server that sends its clipboard on connect (x11vnc) can overwrite the panel just after the typing;
        # a person who sees that types again. Twice at most, each overwrite recorded.
        for _attempt in range(2):
            if not session.set_client_clipboard(text):
                not_applicable("the client has no clipboard panel")
            notes["panel"] = session.client_clipboard_text()
            if _contains(notes["panel"], text):
                break
            notes.setdefault("panel_overwritten_by", []).append(notes["panel"])
        else:
            raise HarnessError("webvdi-client", f"the clipboard panel does not hold the canary: {notes['panel']!r}")
        notes["remote_paste"] = paste_in_remote(session, driver, since)
        return notes, None
    raise HarnessError("suite", f"unknown paste method {method}")  # pragma: no cover


class RemoteSide:
    """The remote-side oracles of CLIP-02 (the verdict) and the wire (a finding here, ST-03's verdict)."""

    def __init__(self, session: ScreenTransferSession, driver: ScreenTransferDriver, network_oracle: Any,
                 since: float) -> None:
        self.session, self.driver, self.network_oracle = session, driver, network_oracle
        self.since = since
        self.observation = Observation()  # evidence first: an unreadable wire never hides the remote probe's report
        self.wire: Any = None

    def read(self, text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        probe, selections = self.driver.remote.probe, self.driver.remote.selections
        remote: dict[str, Any] = {
            "remote probe reports": [r for r in probe.reports_since(self.since) if _contains(r.get("value"), text)]
        }
        if selections is not None:
            remote["remote CLIPBOARD"] = selections.read("clipboard")
            remote["remote PRIMARY"] = selections.read("primary")
        model = self.observation.read("wire", lambda: session_wire(self.network_oracle, self.driver, self.session),
                                      None)
        self.wire = model or self.wire
        return remote, content_hits(model, [text], "from_client") if model is not None else []

    def watch(self, text: str, t0: float, bound: QuietBound) -> dict[str, Any]:
        """Poll the remote side from the end of the act until the text shows up (plus a catch-up) or ``bound``
        passes; times are said from ``t0``, when the act began."""
        deadline = time.monotonic() + bound.seconds
        first: dict[str, float] = {}
        seen: dict[str, Any] = {"remote": {}, "wire": []}

        def settled() -> bool:
            nonlocal deadline
            remote, on_wire = self.read(text)
            seen["remote"], seen["wire"] = remote, on_wire
            now = time.monotonic()
            for name, value in remote.items():
                held = bool(value) if isinstance(value, list) else _contains(value, text)
                if held:
                    first.setdefault(name, round(now - t0, 3))
            if on_wire:
                first.setdefault("wire to the platform", round(now - t0, 3))
            if first:
                deadline = min(deadline, max(now, t0 + min(first.values())) + CATCH_UP_SECONDS)
            return now >= deadline

        waits.until(settled, bound.seconds + CATCH_UP_SECONDS, page=self.session.page, interval=POLL_SECONDS)
        wire_key = "wire to the platform"
        remote_hits = {k: {"seconds_after_act_began": v} for k, v in first.items() if k != wire_key}
        return {"remote_hits": remote_hits,
                "wire_finding": ({"seconds_after_act_began": first[wire_key], "hits": seen["wire"][:5]}
                                 if wire_key in first else None),
                "waited_seconds": round(time.monotonic() - t0, 2), "remote_last": seen["remote"],
                "watch": {**bound.evidence(), "crossed": bool(remote_hits),
                          "seconds_after_act": min(v["seconds_after_act_began"] for v in remote_hits.values())
                          if remote_hits else None}}


@pytest.mark.requirement("CLIP-02")
@pytest.mark.parametrize("method", PASTE_METHODS)
def test_terminal_clipboard_does_not_reach_remote(
    method: str, candidate_session: ScreenTransferSession, driver: ScreenTransferDriver, network_oracle: Any,
    clipboard_oracle: Any, canary: str, evidence: Any, crossing_times: Any,
) -> None:
    """端末のクリップボードの内容がリモート側に貼り付けられない / the terminal's clipboard never reaches the remote"""
    remote = RemoteSide(candidate_session, driver, network_oracle, time.time())
    t0 = time.monotonic()
    with ExitStack() as owned:
        act, selection = paste_by(method, candidate_session, driver, clipboard_oracle, canary, owned)
        observed = remote.watch(canary, t0, crossing_times.bound("st-clipboard"))
        # The source must still have been there: a lost selection would make "nothing pasted" meaningless.
        still = clipboard_oracle.read(selection) if selection else None
    evidence.screenshot(candidate_session, f"{method}.png")
    evidence.json("observation.json", {
        "requirement": "CLIP-02", "method": method, "canary": canary, "terminal_selection": selection,
        "act": act, "remote": observed,
        "terminal_selection_after": still,
        "messages_on_wire": remote.wire.rows() if remote.wire is not None else None,
        "not_observable": remote.observation.to_json()["not_observable"],
        "note": "a wire_finding alone (text sent, remote side never held it) is ST-03's verdict, not CLIP-02's",
    })
    hits = observed["remote_hits"]
    if not hits and selection and still != canary:
        raise HarnessError("xclip", f"the terminal's {selection} no longer held the canary after the paste "
                                    f"(now {still!r}); nothing was decided")
    for name, hit in hits.items():
        remote.observation.saw(name, f"after {hit['seconds_after_act_began']} s"
                                     + (" (and on the wire to the platform)" if observed["wire_finding"] else ""))
    # The wire is a finding only for CLIP-02 (module docstring): its absence alone cannot make this error.
    remote.observation.finding_only("wire")
    remote.observation.decide(f"the terminal's clipboard ({method}) reached the remote desktop / "
                              "端末のクリップボードの内容がリモート側に渡った")
