"""File upload (UL-01): no file of the terminal reaches the candidate's content or the internet side.

A canary file is put in the session's home (a terminal-side file). The probe page's file input is clicked
and the browser's own file dialog is used as a person uses it: the dialog is found on the candidate's X
display, the path typed, "Open" clicked (``conformance.environment.desktop``). The page then posts the
chosen file (multipart) to ``https://internet.test/sink/upload``.

Playwright's ``set_input_files`` and its ``filechooser`` event fill the input over CDP and skip the
browser's file-dialog gate (AllowFileSelectionDialogs), so neither is used, and no file-chooser listener
is registered: the click goes down the same path as a real one.

Oracles: the interception proxy and the fixture site's request log (did the canary bytes reach any
server, multipart and encodings included, via ``conformance.detectors.scan``) and the page's report of
``input.files`` (did the file reach the page at all). "Nothing crossed" is only believed after the page
reported the click on its input, so "no dialog appeared" cannot be a click that never landed.

Not covered: dragging a file from the terminal onto the page's drop zone. Under Xvfb there is no file
manager to drag from, and synthesising an XDND drag from outside is not what a user does; the drop zone
on upload.html stays for a manual check (UL-02 covers drag and drop).
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from conformance import waits
from conformance.detectors import scan
from conformance.environment.desktop import FILE_DIALOG_TITLES, Desktop, XWindow
from conformance.errors import HarnessError
from conformance.oracles.site_reports import Reports
from conformance.waits import QuietBound

pytestmark = pytest.mark.candidate_kind("secure-browser")

REPORT_TIMEOUT = 15.0  # a page report reaches the fixture site in well under a second when idle
DIALOG_TIMEOUT = 20.0  # the GTK dialog maps ~0.2 s after the click; first use on a loaded machine is slower
UPLOAD_TIMEOUT = 15.0
DIALOG_MIN_SIZE = (300, 200)  # smaller new windows are tooltips and status bubbles, not a file chooser


class PageReports(Reports):
    """The upload probe's reports for one probe id, as the fixture site received them."""

    def __init__(self, site: Any, probe: str) -> None:
        super().__init__(site, page="upload", probe=probe)


def terminal_file(session: Any, canary: str) -> Path:
    """A canary file in the session's home: where a user keeps files on the terminal."""
    home = session.download_roots[0]  # the user's home (drivers list it first)
    path = Path(home) / "Documents" / "terminal-canary.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"端末のファイル / a file of the terminal\n{canary}\n", encoding="utf-8")
    return path


def wait_for_dialog(desktop: Desktop, reports: PageReports, others: set[int], page_title: str,
                    refused_settle: QuietBound) -> XWindow | None:
    """The file dialog the click opened, or None. A browser that refuses cancels the input at once (the
    page reports ``cancel``: then a late dialog is watched for as long as ``refused_settle``, the bound a
    dialog takes to appear); otherwise only the full time-out shows that no dialog is coming.

    Fail closed: any new dialog-sized window counts, whatever its title (a vendor's own chooser); if the
    harness then cannot pick the file in it, the case errors instead of passing. The window that shows the
    page itself (its title carries the page's) is never the dialog, even when the display lists it only now:
    CI saw Chromium's own window appear as "new" after the click and be taken for the chooser."""
    found: dict[str, XWindow | None] = {"dialog": None}

    def dialog_or_refusal() -> bool:
        fresh = [w for w in desktop.windows()
                 if w.wid not in others and not (page_title and w.name.startswith(page_title))]
        titled = [w for w in fresh if FILE_DIALOG_TITLES.search(w.name)]
        sized = [w for w in fresh if w.width >= DIALOG_MIN_SIZE[0] and w.height >= DIALOG_MIN_SIZE[1]]
        if titled or sized:
            found["dialog"] = (titled or sized)[0]
            return True
        cancelled = reports.first("cancel")
        return cancelled is not None and time.time() - float(cancelled["received"]) >= refused_settle.seconds

    waits.until(dialog_or_refusal, DIALOG_TIMEOUT, interval=0.25)
    return found["dialog"]


def choose_file(desktop: Desktop, dialog: XWindow, path: Path, reports: PageReports) -> None:
    """Pick ``path`` in the dialog; the page must then report its ``input.files``."""
    for _attempt in range(2):
        waits.pause(1.0)  # GTK builds the dialog's contents after mapping the window; no event tells when
        desktop.pick_file(dialog, path)
        if reports.wait("files", timeout=REPORT_TIMEOUT) is not None:
            got = files_in_page(reports)
            if any(is_the_file(f, path) for f in got):
                return
            raise HarnessError("xdotool", f"the file dialog gave the page {got}, not {path}: the harness "
                                          "chose the wrong file, nothing was decided")
        if dialog.wid not in desktop.window_ids():
            break  # the dialog closed but the page got nothing
    raise HarnessError("xdotool", f"a file dialog '{dialog.name}' appeared but the harness could not choose "
                                  f"{path} in it: the upload was not tested")


def files_in_page(reports: PageReports) -> list[dict]:
    """Every file the page reported in ``input.files`` (name, size, type)."""
    return [f for r in reports.all() if r.get("event") == "files" for f in (r.get("value") or {}).get("files", [])]


def is_the_file(reported: dict, path: Path) -> bool:
    return reported.get("name") == path.name and reported.get("size") == path.stat().st_size


def canary_hits(data: bytes, canary: str) -> list[Any]:
    # scan() also reports check-digit-valid 13-digit numbers (法人番号), which a timestamp can be.
    return [hit for hit in scan(data, [canary]) if hit.kind == "canary"]


def crossings(site: Any, network: Any, canary: str, since: float) -> list[dict]:
    """Every request since ``since`` whose body carries the canary, as the site and the proxy saw it."""
    found = []
    for request in site.requests():
        if request.time < since:
            continue
        for data in (request.body, *request.websocket_messages):
            for hit in canary_hits(data, canary):
                found.append({"seen_by": "fixture-site", "host": request.host, "method": request.method,
                              "path": request.path, "encoding": hit.encoding, "matched": hit.matched})
    for record in network.records(since):
        for hit in canary_hits(record.request_body, canary):
            found.append({"seen_by": "proxy", "host": record.host, "method": record.method, "path": record.path,
                          "encoding": hit.encoding, "matched": hit.matched})
    return found


def display_screenshot(evidence: Any, desktop: Desktop, name: str) -> None:
    """The whole X display (a native dialog included) as supporting evidence."""
    # Supporting evidence only: the verdict never rests on it, so a failed screenshot is no error.
    with tempfile.TemporaryDirectory() as folder, contextlib.suppress(HarnessError):
        evidence.file(desktop.screenshot(Path(folder) / name), name)


@pytest.mark.requirement("UL-01")
def test_file_input_upload_does_not_cross(
    desktop: Desktop, network_oracle: Any, fixture_site: Any, candidate_session: Any, canary: str, evidence: Any,
    crossing_times: Any,
) -> None:
    """端末のファイルをファイル選択でアップロードできない / a terminal file cannot be uploaded through a file input"""
    path = terminal_file(candidate_session, canary)
    probe = secrets.token_hex(6)
    reports = PageReports(fixture_site, probe)
    started = time.time()
    page = candidate_session.open(f"https://internet.test/pages/upload.html?probe={probe}")
    if reports.wait("loaded", timeout=REPORT_TIMEOUT) is None:
        raise HarnessError("fixture-site", "the upload probe page never reported that it loaded")
    others = set(desktop.window_ids())  # every mapped window before the click, named or not
    page_title = page.title()
    page.click("#file", timeout=10_000)  # a trusted click; no file-chooser listener, so no CDP interception
    clicked_at = time.monotonic()
    if reports.wait("clicked", timeout=REPORT_TIMEOUT) is None:
        raise HarnessError("fixture-site", "the page never reported the click on its file input: nothing was tested")
    refused_settle = crossing_times.bound("file-dialog")
    dialog = wait_for_dialog(desktop, reports, others, page_title, refused_settle)
    dialog_watch = {**refused_settle.evidence(), "crossed": dialog is not None,
                    "seconds_after_act": round(time.monotonic() - clicked_at, 3)}
    dialog_seen = dialog.summary() if dialog is not None else None
    if dialog is not None:
        display_screenshot(evidence, desktop, "file-dialog.png")
        choose_file(desktop, dialog, path, reports)
        reports.wait({"uploaded", "upload-error"}, timeout=UPLOAD_TIMEOUT)
    else:
        display_screenshot(evidence, desktop, "no-file-dialog.png")
    crossed = crossings(fixture_site, network_oracle, canary, started)
    chosen = [f for f in files_in_page(reports) if is_the_file(f, path)]
    evidence.screenshot(candidate_session, "page.png")
    evidence.json("observation.json", {
        "terminal_file": str(path), "canary": canary, "probe": probe, "file_dialog": dialog_seen,
        "page_reports": reports.all(), "files_in_page": files_in_page(reports), "canary_seen_in_requests": crossed,
        "windows_now": [w.summary() for w in desktop.windows()],
        "watch": dialog_watch,
    })
    with tempfile.TemporaryDirectory() as folder:  # every request of the case as the proxy saw it
        evidence.file(network_oracle.dump(Path(folder) / "proxy-flows.jsonl", since=started))
    if dialog is not None and dialog.wid in desktop.window_ids():
        desktop.key(dialog, "Escape")  # never leave a modal dialog behind for the session's close
    assert not crossed, (
        "the terminal file's content reached a server / 端末のファイルの内容がサーバに届いた: "
        + ", ".join(sorted({f"{c['method']} {c['host']}{c['path']} ({c['seen_by']})" for c in crossed}))
    )
    assert not chosen, f"the terminal file reached the page's input.files / 端末のファイルがページに渡った: {chosen}"
