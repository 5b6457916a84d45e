"""File download (DL-01, DL-02): nothing from the internet side lands on the terminal's disk.

The oracle is the terminal's file system (the session's home and temp folders), never Playwright's
download event: the event fires even when the browser's policy blocks the file. The site's own request
log (or the page's report, for blob: and data: downloads) proves that each download really started,
so "nothing landed" is only believed after "something was sent".
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from conformance.errors import HarnessError
from conformance.oracles import files
from conformance.site.files import danger_markers_in

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
SETTLE_SECONDS = 4.0  # a small file lands in well under a second when the channel is open


def start_download(session: Any, site: Any, trigger: str, canary: str) -> Any:
    """Click one download control and prove that the download really started."""
    page = session.open(f"https://internet.test/pages/downloads.html?canary={canary}")
    page.click(f"#{trigger}", timeout=10_000)
    deadline = time.monotonic() + 10
    path = TRIGGERS[trigger]
    while time.monotonic() < deadline:
        if path is not None:
            if any(r.path == path and canary in r.query for r in site.requests(host="internet.test")):
                return page
        elif any(r.get("event") == "clicked" and r.get("value") == trigger for r in site.reports()):
            return page
        page.wait_for_timeout(100)
    raise HarnessError("fixture-site", f"the '{trigger}' download never started; nothing was tested")


def _is_temporary(path: Path) -> bool:
    return path.name.startswith(".org.chromium.") or path.suffix == ".crdownload"


def landed_files(roots: list[Path], before: files.FileSnapshot, canary: str) -> tuple[list[Path], list[Path]]:
    """(landed, transient): files carrying the canary that are on disk at the end of the settle time,
    and files that carried it for a moment and were deleted again (a browser that blocks a download
    after the response started writes, then removes, a temporary file)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    seen: set[Path] = set()
    while True:
        change = files.diff(before, files.snapshot(roots))
        hits = {Path(h.path) for h in files.scan_for_text([*change.created, *change.modified], [canary])}
        seen |= hits
        # A finished download (not a temporary name) will not go away again: no need to wait longer.
        if any(not _is_temporary(path) for path in hits) or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    landed = sorted(path for path in hits if path.exists())
    return landed, sorted(seen - set(landed))


def record(evidence: Any, session: Any, trigger: str, landed: list[Path], transient: list[Path],
           roots: list[Path]) -> None:
    evidence.screenshot(session, f"{trigger}.png")
    evidence.json(
        "observation.json",
        {
            "trigger": trigger,
            "scanned_roots": [str(r) for r in roots],
            "landed": [str(p) for p in landed],
            "transient_then_deleted": [str(p) for p in transient],
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
    trigger: str, candidate_session: Any, fixture_site: Any, network_oracle: Any, canary: str, evidence: Any
) -> None:
    """ダウンロードが端末に保存されない / a download does not land on the terminal"""
    roots = candidate_session.download_roots
    before = files.snapshot(roots)
    start_download(candidate_session, fixture_site, trigger, canary)
    landed, transient = landed_files(roots, before, canary)
    record(evidence, candidate_session, trigger, landed, transient, roots)
    assert not landed, (
        f"the '{trigger}' download landed on the terminal / 端末にファイルが保存された: "
        + ", ".join(str(p) for p in landed)
    )


@pytest.mark.requirement("DL-02")
@pytest.mark.parametrize("trigger", ["pdf", "docm", "eicar"])
def test_only_sanitized_files_land(
    trigger: str, candidate_session: Any, fixture_site: Any, network_oracle: Any, canary: str, evidence: Any
) -> None:
    """無害化されたファイルのみ保存される / only sanitized files land"""
    roots = candidate_session.download_roots
    before = files.snapshot(roots)
    start_download(candidate_session, fixture_site, trigger, canary)
    change = files.diff(before, _settled(roots))
    dangerous = {}
    for path in [*change.created, *change.modified]:
        try:
            markers = danger_markers_in(Path(path).read_bytes())
        except OSError:
            continue
        if markers:
            dangerous[str(path)] = markers
    evidence.json("sanitization.json", {"trigger": trigger, "unsanitized": dangerous})
    for path in dangerous:
        evidence.file(Path(path), f"unsanitized-{Path(path).name}")
    assert not dangerous, f"unsanitized files landed / 無害化されていないファイル: {dangerous}"


def _settled(roots: list[Path]) -> files.FileSnapshot:
    time.sleep(SETTLE_SECONDS)
    return files.snapshot(roots)
