"""File download (DL-01, DL-02): nothing from the internet side lands on the terminal's disk.

The oracle is the terminal's file system (the session's home and temp folders), never Playwright's
download event: the event fires even when the browser's policy blocks the file. The site's own request
log (or the page's report, for blob: and data: downloads) proves that each download really started,
so "nothing landed" is only believed after "something was sent".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance import waits
from conformance.errors import HarnessError
from conformance.oracles import files
from conformance.oracles.site_reports import Reports
from conformance.site.files import danger_markers_in
from conformance.waits import QuietBound, Watched

pytestmark = pytest.mark.candidate_kind("secure-browser")

# trigger id on downloads.html -> the site path it fetches (None: made in the page, no request)
TRIGGERS: dict[str, str | None] = {
    "attachment": "/files/canary.txt",
    "pdf": "/files/report.pdf",
    "docm": "/files/macro.docm",
    "eicar": "/files/eicar.com.txt",
    "a-download": "/files/canary.txt",
    "data-url": None,
    "blob": None,
}
START_TIMEOUT = 10.0  # the click's request (or the page's report) reaches the fixture site


def start_download(session: Any, site: Any, trigger: str, canary: str) -> Any:
    """Click one download control and prove that the download really started."""
    page = session.open(f"https://internet.test/pages/downloads.html?canary={canary}")
    page.click(f"#{trigger}", timeout=10_000)
    path = TRIGGERS[trigger]
    clicked = Reports(site, tab=page, event="clicked", value=trigger)

    def started() -> bool:
        if path is not None:
            return any(r.path == path and canary in r.query for r in site.requests(host="internet.test"))
        return clicked.first() is not None

    if not waits.until(started, START_TIMEOUT, page=page):
        raise HarnessError("fixture-site", f"the '{trigger}' download never started; nothing was tested")
    return page


def _is_temporary(path: Path) -> bool:
    return path.name.startswith(".org.chromium.") or path.suffix == ".crdownload"


def landed_files(roots: list[Path], before: files.FileSnapshot, canary: str,
                 bound: QuietBound) -> tuple[list[Path], list[Path], Watched[set[Path]]]:
    """(landed, transient, watch): files carrying the canary that are on disk when the watch ends, and files
    that carried it for a moment and were deleted again (a browser that blocks a download after the
    response started writes, then removes, a temporary file)."""
    seen: set[Path] = set()

    def carrying_canary() -> set[Path]:
        change = files.diff(before, files.snapshot(roots))
        hits = {Path(h.path) for h in files.scan_for_text([*change.created, *change.modified], [canary])}
        seen.update(hits)
        return hits

    # A finished download (not a temporary name) will not go away again: no need to watch longer.
    watched = waits.watch(carrying_canary, bound, crossed=lambda hits: any(not _is_temporary(p) for p in hits),
                          interval=0.25)
    landed = sorted(path for path in watched.value if path.exists())
    return landed, sorted(seen - set(landed)), watched


def record(evidence: Any, session: Any, trigger: str, landed: list[Path], transient: list[Path],
           roots: list[Path], watched: Watched[Any]) -> None:
    evidence.screenshot(session, f"{trigger}.png")
    evidence.json(
        "observation.json",
        {
            "trigger": trigger,
            "scanned_roots": [str(r) for r in roots],
            "landed": [str(p) for p in landed],
            "transient_then_deleted": [str(p) for p in transient],
            "watch": watched.evidence(),
        },
    )
    for path in landed[:5]:
        try:
            evidence.file(path, f"landed-{path.name}")
        except FileNotFoundError:  # deleted between the scan and the copy; still listed above
            continue


@pytest.mark.requirement("DL-01")
@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_download_does_not_land(
    trigger: str, candidate_session: Any, fixture_site: Any, network_oracle: Any, canary: str, evidence: Any,
    crossing_times: Any,
) -> None:
    """ダウンロードが端末に保存されない / a download does not land on the terminal"""
    roots = candidate_session.download_roots
    before = files.snapshot(roots)
    start_download(candidate_session, fixture_site, trigger, canary)
    landed, transient, watched = landed_files(roots, before, canary, crossing_times.bound("download"))
    record(evidence, candidate_session, trigger, landed, transient, roots, watched)
    assert not landed, (
        f"the '{trigger}' download landed on the terminal / 端末にファイルが保存された: "
        + ", ".join(str(p) for p in landed)
    )


@pytest.mark.requirement("DL-02")
@pytest.mark.parametrize("trigger", ["pdf", "docm", "eicar"])
def test_only_sanitized_files_land(
    trigger: str, candidate_session: Any, fixture_site: Any, network_oracle: Any, canary: str, evidence: Any,
    crossing_times: Any,
) -> None:
    """無害化されたファイルのみ保存される / only sanitized files land"""
    roots = candidate_session.download_roots
    before = files.snapshot(roots)
    start_download(candidate_session, fixture_site, trigger, canary)
    # Whatever lands (the file, or a sanitizer's rewrite of it) is finished once it has a final name.
    watched = waits.watch(lambda: files.diff(before, files.snapshot(roots)), crossing_times.bound("download"),
                          crossed=lambda change: any(not _is_temporary(Path(p)) for p in change.created),
                          interval=0.25)
    change = watched.value
    dangerous = {}
    for path in [*change.created, *change.modified]:
        try:
            markers = danger_markers_in(Path(path).read_bytes())
        except OSError:
            continue
        if markers:
            dangerous[str(path)] = markers
    evidence.json("sanitization.json", {"trigger": trigger, "unsanitized": dangerous, "watch": watched.evidence()})
    for path in dangerous:
        evidence.file(Path(path), f"unsanitized-{Path(path).name}")
    assert not dangerous, f"unsanitized files landed / 無害化されていないファイル: {dangerous}"

