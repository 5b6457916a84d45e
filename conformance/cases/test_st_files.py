"""Files through a screen-transfer client (DL-01, PRN-01, UL-01): downloads and prints stay on the remote side,
and no terminal file reaches it.

Download (DL-01). The remote probe's DOWNLOAD link (a blob: a[download]) and DL URL link (a server download,
``Content-Disposition: attachment``) are clicked through the canvas. The remote side proves the download
happened: the probe reports the click, and a file carrying the shown canary lands in the remote browser's
download folder. Terminal-side oracles: the session's download roots (home and temp) diffed and scanned for the
canary, and Playwright's ``download`` event on the client page. Positive control in the same case: the client
page itself then starts a download, which must land in the terminal's download root and fire the event, so
"nothing landed" cannot be a terminal browser that saves nothing anyway.

Print (PRN-01). The probe's PRINT button (``window.print()``) is clicked, or Ctrl+P typed, through the canvas.
The remote kiosk browser prints silently to a PDF in its own download folder (``--kiosk-printing``), which is
the proof. Terminal-side oracles: the run's private CUPS, the terminal browser's only printer (new jobs, spooled
files and cups-pdf output), new PDFs in the session's download roots, and observers in the client page (calls of
``window.print``, ``beforeprint`` events, new windows). Positive control: ``printer_oracle`` printed a job with
``lp`` and found it before any case relied on it.

Upload (UL-01). First what the client page offers a user, recorded as evidence: file inputs, and drop or paste
listeners on the screen element and its ancestors (read with CDP ``DOMDebugger.getEventListeners``; noVNC 1.3 has
none). A client that offers a file input is not decided (``error``): the suite cannot drive a vendor's own file
transfer UI. Then a terminal file (a canary file in the session's home) is dropped onto the canvas, and pasted as
a file, with a ``DataTransfer`` built in the client page. Synthesizing these events in the client page is fair
here because the channel under test is the client's own handling of a drop: a browser turns a real drop from a
file manager into exactly this DOM event with File objects, and no browser gate is bypassed (unlike Playwright's
``set_input_files``, which skips the browser's file-dialog policy). Under Xvfb there is no file manager to drag
from. Limitation: the events are not ``isTrusted``; a client that ignores untrusted drops is not exercised.
Oracles: the wire (the canary as bytes from the client, or in a ClientCutText), the remote side (probe reports,
remote selections, the remote home, profile and download folders), and every server the terminal reached
(proxy records, fixture site log). The typed marker after the drop must show up in the decoded key events: the
wire capture really covers the time after the drop.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from conformance.cases.observation import Observation
from conformance.cases.remote_desktop import (
    cut_text_rows,
    reference_stack,
    reports_since,
    session_wire,
    target,
    wait_for_report,
    wait_until,
)
from conformance.detectors import scan
from conformance.errors import HarnessError
from conformance.oracles import files, rfb

pytestmark = pytest.mark.candidate_kind("screen-transfer")

DOWNLOADS = {"download": "download", "downloadurl": "download-url"}  # probe element -> its report event
PRINTS = ("print-button", "ctrl-p")
REMOTE_TIMEOUT = 30.0  # the remote browser saves a download or a PDF (a PDF takes seconds when loaded)
SETTLE_SECONDS = 5.0  # after the remote side has its file: time for anything to show up on the terminal
CONTROL_TIMEOUT = 20.0
REPORT_TIMEOUT = 15.0

PRINT_OBSERVER = """() => {
  if (window.__stPrint) return true;
  window.__stPrint = {calls: 0, beforeprint: 0};
  const original = window.print;
  window.print = function () { window.__stPrint.calls += 1; return original.apply(this, arguments); };
  window.addEventListener('beforeprint', () => { window.__stPrint.beforeprint += 1; });
  return true;
}"""


class ClientPageEvents:
    """Downloads and new windows of the terminal browser while the client page is used."""

    def __init__(self, session: Any) -> None:
        self.downloads: list[dict[str, Any]] = []
        self.pages: list[str] = []
        session.page.on("download", lambda d: self.downloads.append(
            {"url": d.url[:300], "suggested_filename": d.suggested_filename, "time": time.time()}))
        session.page.context.on("page", lambda p: self.pages.append(p.url))


def canary_files(paths: list[Path], needle: str) -> list[Path]:
    return sorted({hit.path for hit in files.scan_for_text(paths, [needle])})


def terminal_landed(roots: list[Path], before: files.FileSnapshot, needle: str, names: tuple[str, ...],
                    suffixes: tuple[str, ...] = ()) -> list[Path]:
    """New or changed files in the terminal's roots that carry the canary, or the download's name/suffix."""
    change = files.diff(before, files.snapshot(roots))
    fresh = change.changed
    by_name = {p for p in fresh if any(n in p.name for n in names) or p.suffix.lower() in suffixes}
    return sorted(set(canary_files(fresh, needle)) | by_name)


def remote_landed(stack: Any, before: files.FileSnapshot, needle: str | None, suffixes: tuple[str, ...]) -> list[Path]:
    fresh = files.diff(before, files.snapshot([stack.remote_downloads_dir])).changed
    fresh = [p for p in fresh if not p.name.endswith(".crdownload")]
    if needle is not None:
        return canary_files(fresh, needle)
    return [p for p in fresh if p.suffix.lower() in suffixes and _size(p) > 0]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # renamed or removed by the remote browser since the scan
        return 0


# -- DL-01 -----------------------------------------------------------------------------------------
def download_control(session: Any, events: ClientPageEvents, roots: list[Path]) -> dict[str, Any]:
    """Positive control: a download the client page itself starts lands in the terminal's download root."""
    token = f"ST-DL-CONTROL-{secrets.token_hex(6)}"
    name = f"st-download-control-{token[-12:]}.txt"
    before = files.snapshot(roots)
    session.page.evaluate("""([text, name]) => {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([text + '\\n'], {type: 'text/plain'}));
      a.download = name; document.body.appendChild(a); a.click(); a.remove();
    }""", [token, name])

    def finished() -> list[Path]:  # not Chromium's temporary names: the download must be complete
        fresh = canary_files(files.diff(before, files.snapshot(roots)).changed, token)
        return [p for p in fresh if not (p.name.startswith(".org.chromium.") or p.suffix == ".crdownload")]

    def event() -> bool:
        return any(d["suggested_filename"] == name for d in events.downloads)

    landed = wait_until(session.page, lambda: event() and finished(), CONTROL_TIMEOUT) or finished()
    seen_event = event()
    if not landed or not seen_event:
        raise HarnessError("chromium", f"positive control: a download started by the client page itself "
                                       f"(landed={[str(p) for p in landed]}, download event={seen_event}) was not "
                                       "seen on the terminal; an empty download root proves nothing")
    for path in landed:
        path.unlink(missing_ok=True)  # not evidence of the candidate, and not residue for later cases
    return {"token": token, "landed": [str(p) for p in landed], "download_event": seen_event}


@pytest.mark.requirement("DL-01")
@pytest.mark.parametrize("trigger", list(DOWNLOADS))
def test_remote_download_stays_remote(
    trigger: str, candidate_session: Any, driver: Any, fixture_site: Any, network_oracle: Any, evidence: Any
) -> None:
    """リモート側のダウンロードが端末に保存されない / a remote download does not land on the terminal"""
    stack = reference_stack(driver, "proving the remote download")
    shown = driver.remote_canary
    roots = list(candidate_session.download_roots)
    events = ClientPageEvents(candidate_session)
    before, remote_before = files.snapshot(roots), files.snapshot([stack.remote_downloads_dir])
    since = time.time()
    candidate_session.click_remote(*target(driver, trigger))
    report = wait_for_report(fixture_site, DOWNLOADS[trigger], "", since, REPORT_TIMEOUT)
    remote = wait_until(candidate_session.page, lambda: remote_landed(stack, remote_before, shown, ()), REMOTE_TIMEOUT)
    if not remote:
        raise HarnessError("remote-chromium", f"the remote '{trigger}' download never landed in "
                                              f"{stack.remote_downloads_dir}; nothing was tested")
    names = tuple({p.name.split(" (")[0].rsplit(".", 1)[0] for p in remote})
    landed = wait_until(candidate_session.page, lambda: terminal_landed(roots, before, shown, names), SETTLE_SECONDS)
    observation = {
        "trigger": trigger, "shown_canary": shown, "remote_report": report,
        "remote_landed": [str(p) for p in remote], "terminal_roots": [str(r) for r in roots],
        "terminal_landed": [str(p) for p in landed], "client_download_events": list(events.downloads),
        "client_new_windows": list(events.pages),
    }
    crossed = bool(landed or events.downloads or events.pages)
    if not crossed:
        observation["positive_control"] = download_control(candidate_session, events, roots)
    evidence.screenshot(candidate_session, f"{trigger}.png")
    evidence.json("observation.json", observation)
    for path in landed[:5]:
        evidence.file(path, f"landed-{path.name}")
    assert not crossed, (
        f"the remote '{trigger}' download reached the terminal / リモート側のダウンロードが端末に保存された: "
        f"files {[str(p) for p in landed]}, download events {events.downloads}, windows {events.pages}"
    )


# -- PRN-01 ----------------------------------------------------------------------------------------
@pytest.mark.requirement("PRN-01")
@pytest.mark.parametrize("act", PRINTS)
def test_remote_print_stays_remote(
    act: str, candidate_session: Any, driver: Any, fixture_site: Any, network_oracle: Any, printer_oracle: Any,
    evidence: Any,
) -> None:
    """リモート側の印刷が端末のプリンタ・PDFに出ない / printing inside the remote desktop never reaches the terminal"""
    stack = reference_stack(driver, "proving the remote print")
    shown = driver.remote_canary
    roots = list(candidate_session.download_roots)
    events = ClientPageEvents(candidate_session)
    candidate_session.page.evaluate(PRINT_OBSERVER)
    spool = printer_oracle.snapshot()
    before, remote_before = files.snapshot(roots), files.snapshot([stack.remote_downloads_dir])
    since = time.time()
    if act == "print-button":
        candidate_session.click_remote(*target(driver, "print"))
        proof = wait_for_report(fixture_site, "print", "", since, REPORT_TIMEOUT)
    else:
        candidate_session.click_remote(*target(driver, "typebox"))
        proof = wait_for_report(fixture_site, "click", "typebox", since, REPORT_TIMEOUT)
        candidate_session.press_remote("Control+p")
    remote = wait_until(candidate_session.page, lambda: remote_landed(stack, remote_before, None, (".pdf",)),
                        REMOTE_TIMEOUT)
    if not remote:
        raise HarnessError("remote-chromium", f"the remote print ({act}) produced no PDF in "
                                              f"{stack.remote_downloads_dir}; nothing was tested")

    def terminal() -> dict[str, Any]:
        return {"jobs": printer_oracle.new_jobs(spool),
                "files": terminal_landed(roots, before, shown, ("remote-probe",), (".pdf",)),
                "client_page": candidate_session.page.evaluate("window.__stPrint || null")}

    def printed(seen: dict[str, Any]) -> bool:
        page = seen["client_page"] or {}
        return bool(seen["jobs"] or seen["files"] or page.get("calls") or page.get("beforeprint"))

    wait_until(candidate_session.page, lambda: printed(terminal()), SETTLE_SECONDS)
    seen = terminal()
    crossed = printed(seen) or bool(events.downloads or events.pages)
    evidence.screenshot(candidate_session, f"{act}.png")
    evidence.json("observation.json", {
        "act": act, "proof": proof, "remote_pdf": [str(p) for p in remote],
        "afterprint_reported": bool(reports_since(fixture_site, since, "afterprint")),
        "terminal_print_jobs": [{"id": j.job_id, "title": j.title, "state": j.state, "files": [str(p) for p in j.paths]}
                                for j in seen["jobs"]],
        "terminal_files": [str(p) for p in seen["files"]], "client_page_print": seen["client_page"],
        "client_download_events": events.downloads, "client_new_windows": events.pages,
        "positive_control": "printer_oracle printed with lp and found the job before this case",
    })
    for job in seen["jobs"][:3]:
        for path in job.paths[:2]:
            evidence.file(path, f"job-{job.job_id}-{path.name}")
    assert not crossed, (
        f"the remote print ({act}) reached the terminal / リモート側の印刷が端末に出た: jobs "
        f"{[j.job_id for j in seen['jobs']]}, files {[str(p) for p in seen['files']]}, client page "
        f"{seen['client_page']}, downloads {events.downloads}, windows {events.pages}"
    )


# -- UL-01 -----------------------------------------------------------------------------------------
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


def canary_requests(site: Any, network_oracle: Any, canary: str, since: float) -> list[dict[str, Any]]:
    """Requests of the terminal (proxy) and to the fixture site (its log) carrying the canary."""
    found = []
    for record in network_oracle.records(since):
        places = [("body", record.request_body), ("url", record.path.encode())]
        places += [(f"websocket[{i}]", m.content) for i, m in enumerate(record.websocket) if m.from_client]
        for where, data in places:
            if any(h.kind == "canary" for h in scan(data, [canary])):
                found.append({"seen_by": "proxy", "flow": f"{record.method} {record.host}{record.path[:80]}",
                              "where": where})
    for request in site.requests():
        if request.time >= since:
            for where, data in (("body", request.body), ("query", request.query.encode()),
                                *((f"websocket[{i}]", m) for i, m in enumerate(request.websocket_messages))):
                if any(h.kind == "canary" for h in scan(data, [canary])):
                    found.append({"seen_by": "fixture-site", "host": request.host, "path": request.path,
                                  "where": where})
    return found


@pytest.mark.requirement("UL-01")
def test_terminal_file_does_not_reach_remote(
    candidate_session: Any, driver: Any, fixture_site: Any, network_oracle: Any, canary: str, evidence: Any
) -> None:
    """端末のファイルがリモート側に届かない / no terminal file reaches the remote desktop"""
    stack = reference_stack(driver, "the remote side's file oracle")
    page = candidate_session.page
    home = Path(candidate_session.download_roots[0])
    source = home / "Documents" / "terminal-canary.txt"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(f"端末のファイル / a file of the terminal\n{canary}\n", encoding="utf-8")
    offers = page.evaluate(OFFERS)
    listeners = event_listeners(candidate_session, driver.settings.canvas_selector)
    offers["listeners_by_node"] = listeners
    offers["drop_or_paste_listeners"] = {node: sorted(set(types) & LISTENER_TYPES)
                                         for node, types in listeners.items() if set(types) & LISTENER_TYPES}
    evidence.json("client-offers.json", offers)
    if offers["file_inputs"]:
        raise HarnessError("webvdi-client", f"the client offers file inputs {offers['file_inputs']}: uploading "
                                            "through the client's own file transfer is not automated; not decided")
    remote_roots = [stack.remote_downloads_dir, stack.remote_home, stack.remote_profile_dir]
    remote_before = files.snapshot(remote_roots)
    since = time.time()
    x, y = candidate_session.to_page(*target(driver, "typebox"))
    candidate_session.click_remote(*target(driver, "typebox"))  # the canvas has the focus, as after any use
    wait_for_report(fixture_site, "click", "typebox", since, REPORT_TIMEOUT)
    dropped = page.evaluate(DROP, [base64.b64encode(source.read_bytes()).decode(), source.name, x, y])
    if canary not in str(dropped.get("drop_file_text", "")):
        raise HarnessError("webvdi-client", f"the synthetic drop did not reach the client page with the file: "
                                            f"{dropped}; nothing was tested")
    marker = f"ULMARK{secrets.token_hex(4)}"
    observation = Observation()  # evidence first: a remote hit decides even when the capture has a gap
    candidate_session.type_remote(marker)  # after the drop: proves the session and the capture go on
    observation.read("typed marker", lambda: wait_for_report(fixture_site, "input", marker, since, REPORT_TIMEOUT),
                     None)
    page.wait_for_timeout(int(SETTLE_SECONDS * 1000))
    wire = observation.read("wire", lambda: session_wire(network_oracle, driver, candidate_session), None)
    if wire is not None and marker not in wire.typed_text:
        observation.blind("wire", HarnessError("rfb", "the key events typed after the drop are not in the decoded "
                                                      "wire: the capture does not cover the drop"))
    on_wire = [h.__dict__ for h in rfb.find_text(wire, [canary])] if wire is not None else []
    remote = {
        "probe_reports": [r for r in reports_since(fixture_site, since) if canary in json.dumps(r)],
        "remote_selections": {s: stack.remote_clipboard(s) for s in ("clipboard", "primary")},
        "remote_files": [str(p) for p in canary_files(files.diff(remote_before, files.snapshot(remote_roots)).changed,
                                                      canary)],
    }
    remote_hits = bool(remote["probe_reports"] or remote["remote_files"]
                       or any(canary in (v or "") for v in remote["remote_selections"].values()))
    servers = canary_requests(fixture_site, network_oracle, canary, since)
    evidence.screenshot(candidate_session, "after-drop.png")
    evidence.json("observation.json", {
        "terminal_file": str(source), "canary": canary, "drop": dropped, "typed_after_drop": marker,
        "wire_hits": on_wire, "clipboard_on_wire": cut_text_rows(wire) if wire is not None else None,
        "remote": remote, "servers_with_canary": servers, "remote_roots_scanned": [str(r) for r in remote_roots],
        "not_observable": observation.to_json()["not_observable"],
    })
    if on_wire:
        observation.saw("wire", on_wire[:3])
    if remote_hits:
        observation.saw("remote side", remote)
    if servers:
        observation.saw("servers", servers[:3])
    observation.decide("a terminal file's content left the terminal through the client / "
                       "端末のファイルの内容がクライアント経由で送られた")
