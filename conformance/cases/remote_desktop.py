"""Steps shared by the screen-transfer cases: the session's decoded wire, polling, the shown canary's OCR.

Not a test module (pytest collects ``test_*.py`` only); the cases import from here, never from each other.
The remote side (probe, hooks, supporting oracles) is ``driver.remote`` (``drivers/base.py``); where the
wire runs and how it is spoken is ``driver.wire``. Nothing here knows which product is behind them.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance import waits
from conformance.drivers.base import ScreenTransferDriver, ScreenTransferSession
from conformance.errors import HarnessError
from conformance.oracles import ocr, wire
from conformance.oracles.wire import WireModel

UPLOAD_ATTEMPTS = 3
DIALOG_TIMEOUT = 30.0  # GTK's first file chooser of a session takes seconds on a loaded machine
REPORT_TIMEOUT = 15.0  # a remote report reaches the fixture site in well under a second when idle


def session_wire(network_oracle: Any, driver: ScreenTransferDriver, session: ScreenTransferSession) -> WireModel:
    """The session's wire decoded with the profile's protocol: the newest websocket to the gateway opened
    since the session connected. Undecodable is a model with ``decodable=False`` (the raw bytes are still
    there to search); only a wire that was not recorded at all is a HarnessError."""
    since = session.connected_at - 30
    flows = [r for r in network_oracle.records() if r.host == driver.wire.host and r.websocket and r.time >= since]
    if not flows:
        raise HarnessError("mitmproxy", f"no websocket traffic to {driver.wire.host} was recorded for this session")
    newest = max(flows, key=lambda r: r.time)
    return wire.decode(driver.wire.protocol,
                       (("from_client" if m.from_client else "from_server", m.content) for m in newest.websocket))


def decoded(model: WireModel) -> WireModel:
    """``model`` if it could be decoded; HarnessError (nothing can be said from it) otherwise."""
    if not model.decodable:
        reasons = "; ".join(model.decode_errors[:3])
        raise HarnessError(f"wire-{model.protocol}", f"the wire cannot be inspected: {reasons}")
    return model


def content_hits(model: WireModel, needles: list[str], direction: str) -> list[dict[str, Any]]:
    """Where ``needles`` travel in ``direction`` other than as input events: decoded messages of any other
    kind (decompressed), and the raw bytes (which find a needle even when nothing could be decoded)."""
    out = []
    for hit in wire.find(model, needles):
        if hit.encoding == "decoded":
            msg_direction, kind, _ = hit.where.split(":", 2)
            if msg_direction == direction and kind != "input":
                out.append(hit.__dict__)
        elif hit.where == direction:
            out.append(hit.__dict__)
    return out


@dataclass(frozen=True)
class Typed:
    """Text typed into the remote text box: the probe's report of it, and how long it took to arrive after the
    typing began (the attempt that arrived; an upper bound of the ``st-wire`` channel's crossing)."""

    report: dict[str, Any]
    seconds: float
    attempts: int


def type_in_remote(session: ScreenTransferSession, driver: ScreenTransferDriver, text: str,
                   timeout: float = REPORT_TIMEOUT) -> Typed:
    """Click the remote text box through the canvas, empty it (it keeps what earlier cases typed) and type
    ``text``; the probe's ``input`` report is the proof. The click's own report comes first, so that a lost click
    and lost keys are told apart. Keys that never arrived while the probe kept reporting are typed once more, as
    a user would: the act is the harness's, not a requirement's question (seen once in 10 runs on x11vnc on a
    loaded machine). A probe that has gone silent is not retried: ``wait_for`` says the remote side froze."""
    probe = driver.remote.probe
    for attempt in (1, 2):
        since = time.time()
        session.click_remote(*probe.target("typebox"))
        probe.wait_for("click", "typebox", since, timeout)
        session.press_remote("Control+a")
        session.press_remote("Delete")
        typed = time.monotonic()
        session.type_remote(text)
        try:
            report = probe.wait_for("input", text, since, timeout)
        except HarnessError:
            if attempt == 2 or not probe.alive():
                raise
            continue
        return Typed(report, round(time.monotonic() - typed, 3), attempt)
    raise AssertionError("unreachable")


def paste_in_remote(session: ScreenTransferSession, driver: ScreenTransferDriver, since: float,
                    timeout: float = REPORT_TIMEOUT) -> dict:
    """Click the remote paste box through the canvas and press Ctrl+V; the remote paste event is the proof."""
    probe = driver.remote.probe
    session.click_remote(*probe.target("pastebox"))
    probe.wait_for("click", "pastebox", since, timeout)
    session.press_remote("Control+v")
    return probe.wait_for("paste", "", since, timeout)


def outbound_wire(session: ScreenTransferSession, driver: ScreenTransferDriver, network_oracle: Any, canary: str,
                  observation: Any, crossing_times: Any, marker_prefix: str
                  ) -> tuple[WireModel | None, list, str, dict[str, Any]]:
    """After an act that handed terminal content to the client: type a marker through the canvas (the capture's
    positive control: it must be in the decoded key events, and its trip to the remote side is this run's
    crossing time of the ``st-wire`` channel), watch for the channel's bound, and find ``canary`` going from the
    client to the platform other than as input. Fills ``observation`` (an ``Observation``); returns the wire
    model, the hits, the marker and the bound watched (evidence)."""
    marker = f"{marker_prefix}{secrets.token_hex(4)}"
    control: dict[str, Any] = {"channel": "st-wire", "crossed": False, "seconds_after_act": None}
    if typed := observation.read("typed marker", lambda: type_in_remote(session, driver, marker), None):
        control.update(crossed=True, seconds_after_act=typed.seconds, attempts=typed.attempts)
        crossing_times.record("st-wire", typed.seconds, "the typed marker's trip to the remote side")
    bound = crossing_times.bound("st-wire")
    # The wire is decoded once, after the bound: decoding it on every poll would cost more than the bound.
    waits.pause(bound.seconds, page=session.page)
    model = observation.read("wire", lambda: session_wire(network_oracle, driver, session), None)
    hits = content_hits(model, [canary], "from_client") if model is not None else []
    if model is not None:
        observation.read("wire", lambda: decoded(model), None)
        if model.decodable and marker not in model.typed_text:
            observation.blind("wire", HarnessError(f"wire-{model.protocol}", "the marker typed after the act is "
                                                   "not in the decoded key events: the capture has a gap"))
    return model, hits, marker, {**bound.evidence(), "positive_control": control}


def clipboard_texts(model: WireModel, direction: str) -> list[str]:
    """Texts of the clipboard messages in ``direction`` that carry content (payload decoded as text too)."""
    out = []
    for message in model.of_kind("clipboard", direction):  # type: ignore[arg-type]
        if message.carries_data:
            out.append(message.text or message.payload.decode("utf-8", "replace"))
    return out


def ocr_shown_canary(session: ScreenTransferSession, driver: ScreenTransferDriver, evidence: Any) -> dict[str, Any]:
    """Supporting evidence: the canvas crop of the shown canary, read with tesseract."""
    shown = driver.remote.probe.canary
    if not ocr.available():
        return {"ocr": "not attempted: tesseract is not installed (Debian tesseract-ocr)"}
    try:
        x, y, w, h = driver.remote.probe.rect("canary")
    except HarnessError as exc:
        return {"ocr": f"not attempted: {exc.reason}"}
    scratch = session.canvas_crop(evidence.path(".crop.png"), x, y, w, h)
    if scratch is None:
        return {"ocr": "not attempted: the canvas could not be read"}
    crop = evidence.file(scratch, "shown-canary-crop.png")
    scratch.unlink(missing_ok=True)
    try:
        read = ocr.read_text(crop, whitelist=ocr.CANARY_CHARS)
    except HarnessError as exc:  # supporting evidence only: never decides
        return {"ocr": f"failed: {exc}"}
    return {"ocr": read, "expected": shown, "similarity": ocr.similarity(read, shown)}


# -- a terminal file handed to the client (UL-01, ST-03) -------------------------------------------------
OFFERS = """() => {
  const visible = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const inputs = [...document.querySelectorAll('input[type=file]')].map(e => ({id: e.id, name: e.name,
    accept: e.accept, visible: visible(e)}));
  const words = /upload|file|transfer|ファイル|転送|アップロード/i;
  const selector = 'button, a, [role=button], input[type=button], input[type=image], li, div[title]';
  const controls = [...document.querySelectorAll(selector)]
    .filter(e => words.test([e.title, e.getAttribute('alt'), e.getAttribute('aria-label'),
                             e.children.length ? '' : e.textContent].join(' ')))
    .map(e => ({tag: e.tagName, id: e.id, title: e.title, text: (e.textContent || '').trim().slice(0, 60),
                visible: visible(e)}));
  return {file_inputs: inputs, file_like_controls: controls};
}"""

DROP = """async ([b64, name, x, y]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const make = () => { const dt = new DataTransfer();
    dt.items.add(new File([bytes], name, {type: 'text/plain'})); return dt; };
  const seen = {};
  // Capture-phase observer: proves the event reached the page with the file in it (read back as text).
  const read = (e) => { const f = e.dataTransfer?.files?.[0] || e.clipboardData?.files?.[0];
    if (f) f.text().then(t => { seen[e.type + '_file_text'] = t; }); };
  window.addEventListener('drop', read, true);
  window.addEventListener('paste', read, true);
  const target = document.elementFromPoint(x, y);
  seen.target = target ? target.tagName + (target.id ? '#' + target.id : '') : null;
  const dt = make();
  for (const type of ['dragenter', 'dragover', 'drop']) {
    const ev = new DragEvent(type, {bubbles: true, cancelable: true, composed: true, dataTransfer: dt,
                                    clientX: x, clientY: y});
    seen[type + '_default_prevented'] = !target.dispatchEvent(ev);
  }
  const focus = document.activeElement || document.body;
  seen.paste_target = focus.tagName + (focus.id ? '#' + focus.id : '');
  const paste = new ClipboardEvent('paste', {bubbles: true, cancelable: true, composed: true,
                                             clipboardData: make()});
  seen.paste_default_prevented = !focus.dispatchEvent(paste);
  await new Promise(r => setTimeout(r, 300));
  window.removeEventListener('drop', read, true);
  window.removeEventListener('paste', read, true);
  return seen;
}"""

LISTENER_TYPES = {"drop", "dragover", "dragenter", "paste"}


def event_listeners(session: Any, canvas_selector: str) -> dict[str, list[str]]:
    """Every event type listened to on the screen element, its ancestors, document and window (CDP), by node."""
    found: dict[str, list[str]] = {}
    cdp = session.page.context.new_cdp_session(session.page)
    try:
        chain = ["window", "document"] + [
            f"(() => {{ let e = document.querySelector({json.dumps(canvas_selector)}); const out = [];"
            f" while (e) {{ out.push(e); e = e.parentElement; }} return out[{i}]; }})()" for i in range(12)]
        for index, expression in enumerate(chain):
            result = cdp.send("Runtime.evaluate", {"expression": expression})["result"]
            object_id = result.get("objectId")
            if not object_id:
                continue
            name = result.get("description", f"#{index}")
            listeners = cdp.send("DOMDebugger.getEventListeners", {"objectId": object_id})["listeners"]
            found[f"{index}:{name}"] = sorted({entry["type"] for entry in listeners})
    finally:
        cdp.detach()
    return found




def terminal_file(session: ScreenTransferSession, canary: str) -> Path:
    """A file of the terminal user holding ``canary`` (in the session's home, as a user's document)."""
    source = Path(session.download_roots[0]) / "Documents" / f"terminal-canary-{canary[-8:]}.txt"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(f"端末のファイル / a file of the terminal\n{canary}\n", encoding="utf-8")
    return source


FILE_INPUT_OBSERVER = """() => {
  window.__stFileInput = window.__stFileInput || [];
  window.__stPointer = window.__stPointer || [];
  for (const type of ['mousedown', 'mouseup', 'click']) document.addEventListener(type, (e) => {
    const t = e.target;
    window.__stPointer.push([type, e.clientX, e.clientY, t.tagName, (t.textContent || '').trim().slice(0, 20)]);
  }, true);
  document.querySelectorAll('input[type=file]').forEach((input) => input.addEventListener('click', () =>
    window.__stFileInput.push({id: input.id, activation: navigator.userActivation.isActive,
                               focused: document.hasFocus()}), true));
}"""


def page_scroll(session: ScreenTransferSession) -> str:
    """Whether the client page scrolls: a page that scrolls moves under the pointer between press and release
    (Xpra's client focuses a hidden text box on every press), so a click can land on something else."""
    x, y, height, inner = session.page.evaluate(
        "[scrollX, scrollY, document.documentElement.scrollHeight, innerHeight]")
    return f"page scrolled to ({x}, {y}), {height} px high in a {inner} px viewport"


def answer_file_dialog(session: ScreenTransferSession, desktop: Any, path: Path) -> dict[str, Any]:
    """The client's upload UI opens the native file dialog: type the path and press Open, as a person would.

    A click that did not reach the client's file input (the page moved under the pointer) is done again, as a
    person clicks again; every attempt is evidence. The dialog itself must then appear, or nothing was tested."""
    from conformance.environment.desktop import FILE_DIALOG_TITLES

    before = set(desktop.window_ids())
    page_errors: list[str] = []  # a client script that throws on the click is evidence of why nothing opened
    session.page.on("pageerror", lambda exc: page_errors.append(str(exc)[:300]))
    session.page.on("console", lambda m: page_errors.append(f"console.{m.type}: {m.text[:300]}")
                    if m.type in ("error", "warning") else None)
    session.page.evaluate(FILE_INPUT_OBSERVER)
    attempts: list[list[str]] = []
    for _ in range(UPLOAD_ATTEMPTS):
        attempts.append(session.open_upload_dialog())
        if waits.until(lambda: session.page.evaluate("window.__stFileInput.length"), 3.0, page=session.page):
            break
        waits.pause(1.0, page=session.page)  # let the menu close and the page settle before clicking again
    dialog = waits.until(lambda: next(
        (w for w in desktop.windows() if w.wid not in before and FILE_DIALOG_TITLES.match(w.name)), None),
        DIALOG_TIMEOUT, page=session.page)
    inputs = session.page.evaluate("window.__stFileInput")
    if dialog is None:
        fresh = [w.summary() for w in desktop.windows() if w.wid not in before]
        raise HarnessError("native-dialog", f"the client's upload UI ({attempts[-1]}) opened no file dialog in "
                                            f"{len(attempts)} attempts (file input clicks: {inputs}; new windows: "
                                            f"{fresh}; page errors: {page_errors[-5:]}; pointer: "
                                            f"{session.page.evaluate('window.__stPointer')[-9:]}; "
                                            f"{page_scroll(session)})")
    desktop.pick_file(dialog, path)
    return {"attempts": attempts, "file_input_clicks": inputs, "dialog": dialog.summary(),
            "dialog_closed": desktop.wait_until_gone(dialog, 10)}


def hand_over_file(session: ScreenTransferSession, driver: ScreenTransferDriver, desktop: Any, canary: str,
                   evidence: Any) -> dict[str, Any]:
    """Give a terminal file holding ``canary`` to the client as a person would: through the client's own upload
    UI when it has one (real clicks, the native file dialog), else dropped on the canvas and pasted as a file
    (a DataTransfer built in the client page: a browser turns a real drop into exactly this event; under Xvfb
    there is no file manager to drag from). What the client offers is recorded first (evidence)."""
    source = terminal_file(session, canary)
    page = session.page
    offers = page.evaluate(OFFERS)
    evidence.json("client-offers.json", offers)
    if session.upload_controls():
        try:
            upload = answer_file_dialog(session, desktop, source)
        except HarnessError as first:
            scratch = desktop.screenshot(evidence.path(".display.png"))  # what the terminal's screen showed
            evidence.file(scratch, "display-no-file-dialog.png")
            scratch.unlink(missing_ok=True)
            # A person whose menu does nothing reloads the client and tries again; once, recorded. (Seen with Xpra
            # when the remote window was taller than the page: the page scrolled between press and release.)
            try:
                session.connect()
                upload = answer_file_dialog(session, desktop, source)
            except HarnessError as second:
                raise HarnessError(second.component, f"{second.reason} (also before reconnecting: {first.reason})") \
                    from second
            upload["reconnected_after"] = first.reason
        return {"method": "client upload UI", "source": str(source), "offers": offers, "upload": upload}
    probe = driver.remote.probe
    since = time.time()
    x, y = session.to_page(*probe.target("typebox"))
    session.click_remote(*probe.target("typebox"))  # the canvas has the focus, as after any use
    probe.wait_for("click", "typebox", since, REPORT_TIMEOUT)
    dropped = page.evaluate(DROP, [base64.b64encode(source.read_bytes()).decode(), source.name, x, y])
    if canary not in str(dropped.get("drop_file_text", "")):
        raise HarnessError("webvdi-client", f"the synthetic drop did not reach the client page with the file: "
                                            f"{dropped}; nothing was tested")
    return {"method": "drop and paste on the canvas", "source": str(source), "offers": offers, "drop": dropped}
