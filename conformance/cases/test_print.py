"""Printing (PRN-01): nothing inside the candidate comes out of the terminal's printers or as a PDF on it.

Acts, each the way a person does it, on a page whose <title> and body carry the canary:

* ``window-print``: the page's own "print" button calls ``window.print()``;
* ``ctrl-p``: Ctrl+P typed on the keyboard (real X input into the candidate's window);
* ``save-as-pdf``: Ctrl+P, then "Save as PDF" chosen as the destination and the file saved.

Together they print to every destination the preview offers on the harness's terminal: its only printer
(the run's private CUPS queue, preselected as the system default; the candidate's CUPS client sees no other,
see ``PrivateCups.terminal_env``) and Chromium's own "Save as PDF".

A print dialog is confirmed as a user would: Return on the print preview's focused "Print" button, the
destination picked with the keyboard, the GTK "Save" button clicked. The harness gives the candidate no
``--kiosk-printing`` (a vendor's product has no such flag, and it would skip the very dialog a user sees).

Oracles, none of them the browser: the run's private CUPS (the candidate's only printer; a spooled job is
a print) and the terminal's file system (a PDF in the session's home or temp). CDP ``printToPDF`` /
``page.pdf()`` ignore the printing policy, so they are never used. "Nothing came out" is only believed
after proof that the page asked to print: the page reports ``print-called`` before it calls
``window.print()``, and every key press it receives, before the browser acts on it.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance import waits
from conformance.environment.desktop import SAVE_DIALOG_TITLES, Desktop, XWindow
from conformance.errors import HarnessError
from conformance.oracles import files
from conformance.oracles.printer import PrinterSnapshot, PrintJob
from conformance.oracles.site_reports import Reports

pytestmark = pytest.mark.candidate_kind("secure-browser")

ACTS = ("window-print", "ctrl-p", "save-as-pdf")
REPORT_TIMEOUT = 15.0  # a page report reaches the fixture site in well under a second when idle
PREVIEW_TIMEOUT = 10.0  # Chromium fires beforeprint within ~0.1 s; a loaded 2-core machine is slower
STILL_TIMEOUT = 20.0  # until the print preview has stopped drawing (no readiness event exists)
OUTPUT_TIMEOUT = 30.0  # a cups-pdf job is spooled ~3 s after "Print" is pressed
# Chromium's print preview, keyboard only: from the focused "Print" button, 7 × Shift+Tab reach the
# destination list; with "Save as PDF" chosen (no "Copies" row), 6 × Tab reach the "Save" button.
TO_DESTINATION = ["shift+Tab"] * 7
DESTINATION_TO_SAVE = ["Tab"] * 6


class PageReports(Reports):
    """The print probe's reports (page events) for one canary, as the fixture site received them."""

    def __init__(self, site: Any, canary: str) -> None:
        super().__init__(site, page="print", canary=canary)

    def has(self, event: str) -> bool:
        return self.first(event) is not None

    def wait_event(self, events: set[str], timeout: float) -> str | None:
        """The first of ``events`` reported within ``timeout`` seconds, else None."""
        found = self.wait(events, timeout=timeout)
        return str(found["event"]) if found else None


@dataclass
class Outputs:
    """What came out: new print jobs in the private CUPS, new PDFs (or canary files) on the terminal."""

    jobs: list[PrintJob]
    landed: list[Path]

    def __bool__(self) -> bool:
        return bool(self.jobs or self.landed)


def outputs_since(printer: Any, since: PrinterSnapshot, roots: list[Path], before: files.FileSnapshot,
                  canary: str) -> Outputs:
    change = files.diff(before, files.snapshot(roots))
    fresh = [*change.created, *change.modified]
    carrying = {hit.path for hit in files.scan_for_text(fresh, [canary])}
    landed = sorted({p for p in fresh if p.suffix.lower() == ".pdf" or canary in p.name} | carrying)
    return Outputs(printer.new_jobs(since), landed)


def wait_for_outputs(printer: Any, since: PrinterSnapshot, roots: list[Path], before: files.FileSnapshot,
                     canary: str, timeout: float) -> Outputs:
    return waits.until(lambda: outputs_since(printer, since, roots, before, canary), timeout, interval=0.25)


def candidate_window(desktop: Desktop, canary: str) -> XWindow:
    """The candidate's browser window: its title carries the page title (and so the canary)."""
    window = desktop.wait_for_window(re.escape(canary), REPORT_TIMEOUT)
    if window is None:
        shown = [w.name for w in desktop.windows()]
        raise HarnessError("xdotool", f"no window titled with the page title on the display; windows: {shown}")
    return window


def click_page(desktop: Desktop, window: XWindow, page: Any, selector: str) -> None:
    """A real mouse click on an element, so the page (not the address bar) has the keyboard focus."""
    point = page.evaluate(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                      return [window.screenX + r.left + r.width / 2,
                              window.screenY + (window.outerHeight - window.innerHeight) + r.top + r.height / 2]; }""",
        selector,
    )
    desktop.click(window, int(point[0]) - window.x, int(point[1]) - window.y)


def press_ctrl_p(desktop: Desktop, window: XWindow, page: Any, reports: PageReports) -> None:
    """Ctrl+P on the keyboard; proves the key press reached the candidate's page."""
    click_page(desktop, window, page, "h1")
    desktop.key(window, "ctrl+p")
    if reports.wait_event({"keydown", "beforeprint"}, REPORT_TIMEOUT):
        return
    # A product may keep Ctrl+P from the page; a plain key then shows the keyboard reaches it at all.
    desktop.key(window, "k")
    if reports.wait_event({"keydown"}, REPORT_TIMEOUT) is None:
        raise HarnessError("xdotool", "no key press reached the page: Ctrl+P was not tested")


def confirm_print(desktop: Desktop, window: XWindow, reports: PageReports, watch: Any) -> dict[str, Any] | None:
    """Press Return on the print preview (its "Print" button has the focus) until something comes out. Returns
    the ``print-spool`` crossing it saw (from the press to the job or file), for the channel's figure."""
    for _attempt in range(3):
        desktop.wait_until_still(STILL_TIMEOUT)
        desktop.key(window, "Return")
        pressed = time.monotonic()
        if waits.until(lambda: bool(watch()) or reports.has("afterprint"), OUTPUT_TIMEOUT / 3, interval=0.25):
            out = bool(watch())
            return {"channel": "print-spool", "crossed": out,
                    "seconds_after_act": round(time.monotonic() - pressed, 3) if out else None}
    return None


def save_as_pdf(desktop: Desktop, window: XWindow, evidence: Any, watch: Any) -> None:
    """Choose "Save as PDF" in the print preview with the keyboard, then save in the GTK dialog."""
    others = set(desktop.window_ids())
    desktop.wait_until_still(STILL_TIMEOUT)
    desktop.key(window, *TO_DESTINATION)
    desktop.type_text(window, "Save as PDF")  # type-ahead selects the destination in the list
    desktop.key(window, *DESTINATION_TO_SAVE, "Return")
    dialog = desktop.wait_for_window(SAVE_DIALOG_TITLES, REPORT_TIMEOUT, exclude=others)
    if dialog is None:
        if watch():
            return  # saved without asking (file dialogs disabled, printing not): the oracles have it
        # Fail closed: keys that missed (e.g. on "Cancel") must not read as "the product refused".
        display_screenshot(evidence, desktop, "save-as-pdf-unconfirmed.png")
        desktop.key(window, "Escape")
        raise HarnessError("xdotool", "the print preview opened but no Save dialog followed the keyboard "
                                      "steps to Save as PDF: nothing was decided")
    waits.pause(1.0)  # GTK fills in the name and folder after mapping the window; no event tells when
    desktop.press_action_button(dialog)
    if not desktop.wait_until_gone(dialog, REPORT_TIMEOUT):
        desktop.key(dialog, "Escape")  # leave no modal dialog for the session's close
        raise HarnessError("xdotool", f"the '{dialog.name}' dialog did not take the click on its Save button: "
                                      "Save as PDF was not tested")


def display_screenshot(evidence: Any, desktop: Desktop, name: str) -> None:
    """The whole X display (print preview and GTK dialogs included) as supporting evidence."""
    # Supporting evidence only: the verdict never rests on it, so a failed screenshot is no error.
    with tempfile.TemporaryDirectory() as folder, contextlib.suppress(HarnessError):
        evidence.file(desktop.screenshot(Path(folder) / name), name)


def record(evidence: Any, desktop: Desktop, session: Any, act: str, reports: PageReports, printer: Any,
           found: Outputs, canary: str, roots: list[Path], watches: list[dict[str, Any]]) -> None:
    evidence.screenshot(session, f"{act}-page.png")
    display_screenshot(evidence, desktop, f"{act}-display.png")
    jobs = []
    for job in found.jobs:
        jobs.append({"job_id": job.job_id, "title": job.title, "user": job.user, "state": job.state,
                     "document_format": job.document_format, "spooled": [str(p) for p in job.spooled],
                     "outputs": [str(p) for p in job.outputs], "canary_found_in": printer.find(job, canary)})
    landed = [{"path": str(p), "canary_found_in": printer.find(PrintJob(job_id=None, outputs=(p,)), canary)}
              for p in found.landed]
    evidence.json("observation.json", {
        "act": act, "canary": canary, "page_reports": reports.all(), "print_jobs": jobs,
        "landed_files": landed, "scanned_roots": [str(r) for r in roots],
        "windows": [w.summary() for w in desktop.windows()], "watches": watches,
    })
    for job in found.jobs:
        for path in job.paths:
            if path.is_file():
                evidence.file(path, f"job{job.job_id}-{path.name}")
    for path in found.landed:
        if path.is_file():
            evidence.file(path, f"landed-{path.name}")


@pytest.mark.requirement("PRN-01")
@pytest.mark.parametrize("act", ACTS)
def test_print_does_not_reach_terminal(
    act: str, printer_oracle: Any, desktop: Desktop, fixture_site: Any, candidate_session: Any, canary: str,
    evidence: Any, crossing_times: Any,
) -> None:
    """端末のプリンタ・PDF へ印刷されない / nothing is printed on the terminal's printers or as a PDF"""
    roots = candidate_session.download_roots
    reports = PageReports(fixture_site, canary)
    page = candidate_session.open(f"https://internet.test/pages/print.html?canary={canary}")
    if reports.wait_event({"loaded"}, REPORT_TIMEOUT) is None:
        raise HarnessError("fixture-site", "the print probe page never reported that it loaded")
    window = candidate_window(desktop, canary)
    files_before = files.snapshot(roots)
    since = printer_oracle.snapshot()

    def watch() -> Outputs:
        return outputs_since(printer_oracle, since, roots, files_before, canary)

    acted = time.monotonic()
    if act == "window-print":
        # A real mouse click: Playwright's click would wait on a page that window.print() has paused.
        click_page(desktop, window, page, "#print")
        if reports.wait_event({"print-called"}, REPORT_TIMEOUT) is None:
            raise HarnessError("fixture-site", "the page never reported calling window.print(): nothing was tested")
    else:
        press_ctrl_p(desktop, window, page, reports)
    # beforeprint: a print preview is being made; print-returned without it: the browser refused at once.
    # window.print() always ends in one of them. A key press may end in neither (the browser kept the keys
    # to itself): there the absence of a preview is the observation, watched for as long as a preview takes.
    watches: list[dict[str, Any]] = []
    if act == "window-print":
        event = reports.wait_event({"beforeprint", "print-returned"}, PREVIEW_TIMEOUT)
    else:
        def preview_event() -> str | None:
            found = reports.first({"beforeprint", "print-returned"})
            return str(found["event"]) if found else None

        preview = waits.watch(preview_event, crossing_times.bound("print-preview"), started=acted)
        watches.append({"preview": preview.evidence()})
        event = preview.value
    if event is None and act == "window-print":
        # window.print() neither returned nor fired beforeprint: some other modal print UI holds the page.
        display_screenshot(evidence, desktop, f"{act}-unknown-dialog.png")
        desktop.key(window, "Escape")
        raise HarnessError("chromium", "window.print() neither returned nor opened a print preview "
                                       f"within {PREVIEW_TIMEOUT}s: an unknown print dialog may be open")
    if event == "beforeprint":
        if act == "save-as-pdf":
            save_as_pdf(desktop, window, evidence, watch)
        else:
            spooled = confirm_print(desktop, window, reports, watch)
            if spooled is not None:
                watches.append({"confirmed_print": spooled})
        found = wait_for_outputs(printer_oracle, since, roots, files_before, canary, OUTPUT_TIMEOUT)
        if not found and not reports.has("afterprint"):
            # The dialog is still open: the harness failed to confirm it, so "nothing came out" means nothing.
            display_screenshot(evidence, desktop, f"{act}-unconfirmed.png")
            desktop.key(window, "Escape")
            raise HarnessError("xdotool", "a print dialog opened (beforeprint) but the harness could not "
                                          "confirm it: nothing was decided")
    else:  # refused, or no preview: anything late (an asynchronous or silent print) still counts
        quiet = waits.watch(watch, crossing_times.bound("print-spool"), interval=0.25)
        watches.append({"output": quiet.evidence()})
        found = quiet.value
    if found.jobs:  # let the job finish so the evidence holds the spooled document and the PDF
        printer_oracle.wait_for_job(OUTPUT_TIMEOUT, since=since)
        found = watch()
    record(evidence, desktop, candidate_session, act, reports, printer_oracle, found, canary, roots, watches)
    where = [f"print job {j.job_id} '{j.title}' ({j.state})" for j in found.jobs]
    where += [f"file {p}" for p in found.landed]
    assert not found, f"'{act}' printed on the terminal / 端末に印刷された: " + ", ".join(where)
