"""Files through a screen-transfer client (DL-01, PRN-01, UL-01): downloads and prints stay on the remote side,
and no terminal file reaches it.

Download (DL-01). The remote probe's DOWNLOAD link (a blob: a[download]) and DL URL link (a server download,
``Content-Disposition: attachment``) are clicked through the canvas; and, where the profile gives the product's
own server-to-client push as a hook (``push_file``: Xpra's ``send-file``), a file holding the shown canary is
pushed with it (a non-zero exit is the product refusing, recorded; without a hook that variant is not
applicable). The remote side proves a download happened: the probe reports the click and, where the suite
sees the remote download folder (the bundled references), a file carrying the shown canary lands there.
Terminal-side oracles: the session's download roots (home and temp) diffed and scanned for the canary, and
Playwright's ``download`` event on the client page. Positive control in the same case: the client page itself
then starts a download, which must land in the terminal's download root and fire the event, so "nothing landed"
cannot be a terminal browser that saves nothing anyway.

Print (PRN-01). The probe's PRINT button (``window.print()``) is clicked, or Ctrl+P typed, through the canvas.
The proof is the remote kiosk browser's PDF in its download folder (``--kiosk-printing``) where the suite sees
it, else the probe's print / afterprint report. Terminal-side oracles: the run's private CUPS, the terminal
browser's only printer (new jobs, spooled files and cups-pdf output), new PDFs in the session's download roots,
and observers in the client page (calls of ``window.print``, ``beforeprint`` events, new windows). Positive
control: ``printer_oracle`` printed a job with ``lp`` and found it before any case relied on it.

Upload (UL-01). First what the client page offers a user, recorded as evidence: file inputs and file-like
controls. A terminal file (a canary file in the session's home) is then handed to the client as a person would
(``remote_desktop.hand_over_file``): through the client's own upload UI where the profile names it
(``upload_steps``: real clicks up to the native GTK file dialog, which is answered on the terminal's display),
else dropped onto the canvas and pasted as a file with a ``DataTransfer`` built in the client page (a browser
turns a real drop into exactly this DOM event; under Xvfb there is no file manager to drag from; limitation: the
events are not ``isTrusted``). Oracles: the wire (the canary from the client, raw or in any decoded non-input
message), the remote side (probe reports, and where the suite sees them the remote selections and folders), and
every server the terminal reached (proxy records, fixture site log). A marker typed afterwards must show up in
the decoded key events: the wire capture really covers the time after the hand-over.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from conformance import waits
from conformance.cases.observation import Observation
from conformance.cases.remote_desktop import hand_over_file, outbound_wire
from conformance.detectors import scan
from conformance.drivers.base import ScreenTransferDriver, ScreenTransferSession
from conformance.errors import HarnessError
from conformance.oracles import files
from conformance.plugin import not_applicable

pytestmark = pytest.mark.candidate_kind("screen-transfer")

DOWNLOADS = {"download": "download", "downloadurl": "download-url"}  # probe element -> its report event
PRINTS = ("print-button", "ctrl-p")
REMOTE_TIMEOUT = 30.0  # the remote browser saves a download or a PDF (a PDF takes seconds when loaded)
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


def remote_landed(folder: Path, before: files.FileSnapshot, needle: str | None,
                  suffixes: tuple[str, ...]) -> list[Path]:
    fresh = files.diff(before, files.snapshot([folder])).changed
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

    landed = waits.until(lambda: event() and finished(), CONTROL_TIMEOUT, page=session.page) or finished()
    seen_event = event()
    if not landed or not seen_event:
        raise HarnessError("chromium", f"positive control: a download started by the client page itself "
                                       f"(landed={[str(p) for p in landed]}, download event={seen_event}) was not "
                                       "seen on the terminal; an empty download root proves nothing")
    for path in landed:
        path.unlink(missing_ok=True)  # not evidence of the candidate, and not residue for later cases
    return {"token": token, "landed": [str(p) for p in landed], "download_event": seen_event}


def push_file(driver: ScreenTransferDriver, shown: str, folder: Path) -> dict[str, Any]:
    """The product's own server-to-client push (the profile's push_file hook) of a file holding the canary."""
    hook = driver.remote.hook("push_file")
    if hook is None:
        not_applicable("the profile declares no push_file hook: the product's own file push is not exercised "
                       "(the remote browser's downloads are) / プッシュ用フックの宣言なし")
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"pushed-{secrets.token_hex(4)}.txt"
    source.write_text(f"{shown}\n", encoding="utf-8")
    result = hook(file=str(source))
    if result.returncode in (126, 127):
        raise HarnessError("webvdi", f"the push_file hook could not run (exit {result.returncode}): {result.output}")
    return {"hook": dataclasses.asdict(result), "file": str(source),
            "accepted_by_product": result.ran,
            "note": "a non-zero exit is the product refusing the push; the terminal side decides either way"}


@pytest.mark.requirement("DL-01")
@pytest.mark.parametrize("trigger", [*DOWNLOADS, "push-hook"])
def test_remote_download_stays_remote(
    trigger: str, candidate_session: ScreenTransferSession, driver: ScreenTransferDriver, run_dir: Path,
    evidence: Any, crossing_times: Any,
) -> None:
    """リモート側のダウンロードが端末に保存されない / a remote download does not land on the terminal"""
    probe, remote_folder = driver.remote.probe, driver.remote.downloads_dir
    shown = probe.canary
    roots = list(candidate_session.download_roots)
    events = ClientPageEvents(candidate_session)
    before = files.snapshot(roots)
    remote_before = files.snapshot([remote_folder]) if remote_folder is not None else None
    since = time.time()
    observation: dict[str, Any] = {"trigger": trigger, "shown_canary": shown, "terminal_roots": [str(r) for r in roots]}
    if trigger == "push-hook":
        observation["push"] = push_file(driver, shown, run_dir / "pushed")
        names: tuple[str, ...] = (Path(observation["push"]["file"]).stem,)
    else:
        candidate_session.click_remote(*probe.target(trigger))
        observation["remote_report"] = probe.wait_for(DOWNLOADS[trigger], "", since, REPORT_TIMEOUT)
        if remote_folder is not None and remote_before is not None:
            remote = waits.until(lambda: remote_landed(remote_folder, remote_before, shown, ()), REMOTE_TIMEOUT,
                                 page=candidate_session.page)
            if not remote:
                raise HarnessError("remote-chromium", f"the remote '{trigger}' download never landed in "
                                                      f"{remote_folder}; nothing was tested")
            observation["remote_landed"] = [str(p) for p in remote]
            names = tuple({p.name.split(" (")[0].rsplit(".", 1)[0] for p in remote})
        else:
            observation["remote_landed"] = "not visible to the suite: the probe's report is the act's proof"
            names = ("remote-canary", "canary")
    watched = waits.watch(lambda: terminal_landed(roots, before, shown, names), crossing_times.bound("st-files"),
                          crossed=lambda found: bool(found or events.downloads or events.pages),
                          page=candidate_session.page)
    landed = watched.value
    observation["watch"] = watched.evidence()
    observation.update({"terminal_landed": [str(p) for p in landed], "client_download_events": list(events.downloads),
                        "client_new_windows": list(events.pages)})
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
    act: str, candidate_session: ScreenTransferSession, driver: ScreenTransferDriver, printer_oracle: Any,
    evidence: Any, crossing_times: Any,
) -> None:
    """リモート側の印刷が端末のプリンタ・PDFに出ない / printing inside the remote desktop never reaches the terminal"""
    probe, remote_folder = driver.remote.probe, driver.remote.downloads_dir
    shown = probe.canary
    roots = list(candidate_session.download_roots)
    events = ClientPageEvents(candidate_session)
    candidate_session.page.evaluate(PRINT_OBSERVER)
    spool = printer_oracle.snapshot()
    before = files.snapshot(roots)
    remote_before = files.snapshot([remote_folder]) if remote_folder is not None else None
    since = time.time()
    if act == "print-button":
        candidate_session.click_remote(*probe.target("print"))
        proof = probe.wait_for("print", "", since, REPORT_TIMEOUT)
    else:
        candidate_session.click_remote(*probe.target("typebox"))
        proof = probe.wait_for("click", "typebox", since, REPORT_TIMEOUT)
        candidate_session.press_remote("Control+p")
    if remote_folder is not None and remote_before is not None:
        remote: Any = waits.until(lambda: remote_landed(remote_folder, remote_before, None, (".pdf",)),
                                  REMOTE_TIMEOUT, page=candidate_session.page)
        if not remote:
            raise HarnessError("remote-chromium", f"the remote print ({act}) produced no PDF in {remote_folder}; "
                                                  "nothing was tested")
        remote = [str(p) for p in remote]
    else:  # a vendor's remote side: the probe's print (or afterprint) report is the act's proof
        if act == "ctrl-p":
            proof = probe.wait_for("afterprint", "", since, REMOTE_TIMEOUT)
        remote = "not visible to the suite: the probe's report is the act's proof"

    def terminal() -> dict[str, Any]:
        return {"jobs": printer_oracle.new_jobs(spool),
                "files": terminal_landed(roots, before, shown, ("remote-probe",), (".pdf",)),
                "client_page": candidate_session.page.evaluate("window.__stPrint || null")}

    def printed(seen: dict[str, Any]) -> bool:
        page = seen["client_page"] or {}
        return bool(seen["jobs"] or seen["files"] or page.get("calls") or page.get("beforeprint"))

    watched = waits.watch(terminal, crossing_times.bound("st-files"),
                          crossed=lambda seen: printed(seen) or bool(events.downloads or events.pages),
                          page=candidate_session.page)
    seen = watched.value
    crossed = printed(seen) or bool(events.downloads or events.pages)
    evidence.screenshot(candidate_session, f"{act}.png")
    evidence.json("observation.json", {
        "act": act, "proof": proof, "remote_pdf": remote,
        "afterprint_reported": bool(probe.reports_since(since, "afterprint")),
        "terminal_print_jobs": [{"id": j.job_id, "title": j.title, "state": j.state, "files": [str(p) for p in j.paths]}
                                for j in seen["jobs"]],
        "terminal_files": [str(p) for p in seen["files"]], "client_page_print": seen["client_page"],
        "client_download_events": events.downloads, "client_new_windows": events.pages,
        "watch": watched.evidence(),
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
    candidate_session: ScreenTransferSession, driver: ScreenTransferDriver, fixture_site: Any, network_oracle: Any,
    desktop: Any, canary: str, evidence: Any, crossing_times: Any,
) -> None:
    """端末のファイルがリモート側に届かない / no terminal file reaches the remote desktop"""
    probe, selections = driver.remote.probe, driver.remote.selections
    remote_roots = list(driver.remote.file_roots)
    remote_before = files.snapshot(remote_roots) if remote_roots else None
    since = time.time()
    handed = hand_over_file(candidate_session, driver, desktop, canary, evidence)
    observation = Observation()  # evidence first: a remote hit decides even when the capture has a gap
    model, on_wire, marker, watch = outbound_wire(candidate_session, driver, network_oracle, canary, observation,
                                                  crossing_times, "ULMARK")
    remote: dict[str, Any] = {
        "probe_reports": [r for r in probe.reports_since(since) if canary in json.dumps(r)],
        "remote_selections": ({s: selections.read(s) for s in ("clipboard", "primary")}
                              if selections is not None else "not visible to the suite"),
        "remote_files": ([str(p) for p in canary_files(files.diff(remote_before, files.snapshot(remote_roots)).changed,
                                                        canary)] if remote_before is not None else
                         "not visible to the suite"),
    }
    held = remote["remote_selections"].values() if isinstance(remote["remote_selections"], dict) else []
    remote_hits = bool(remote["probe_reports"] or (isinstance(remote["remote_files"], list) and remote["remote_files"])
                       or any(canary in (v or "") for v in held))
    servers = canary_requests(fixture_site, network_oracle, canary, since)
    evidence.screenshot(candidate_session, "after-hand-over.png")
    evidence.json("observation.json", {
        "canary": canary, "hand_over": handed, "typed_after": marker, "wire_hits": on_wire, "wire_watch": watch,
        "messages_on_wire": model.rows() if model is not None else None,
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
