"""Residue (RES-01): once the user has ended the session, nothing of it is left on the terminal's disk.

The page ``residue.html`` puts a fresh canary in every place a browser keeps page state (title, body, URL,
localStorage, sessionStorage, IndexedDB, a cookie name, Cache Storage) and reports each store only after
reading the canary back, so "nothing found" is believed only after "everything was stored".

The session is then ended the way a user ends it (the driver's ``close_as_user``: the window is closed
with the keyboard and the browser exits by itself). Killing the browser is not a user close: it skips the
exit-time clean-up (ClearBrowsingDataOnExitList) and gives false fails. The scan runs right after the close
and before any restart (some products delete residue only at the next start, which a stolen or shared
terminal never sees).

Where: ``disk_roots`` of the session, i.e. the profile, HOME and TMPDIR, which the driver puts inside the
session's own folder. Crashpad (crash dumps) and the XDG config/cache folders are under HOME, so they are
scanned too. Each file is searched for the canary as UTF-8/ASCII and UTF-16 (LE/BE, as Chromium stores
session restore data). Cookie values are encrypted by Chromium, so the canary is also put in the cookie's
NAME, which is stored in clear text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.cases.residue_scan import residue_hits, summarize
from conformance.errors import HarnessError
from conformance.oracles import files
from conformance.oracles.site_reports import Reports

pytestmark = pytest.mark.candidate_kind("secure-browser")

STORES = ("title", "body", "url", "localStorage", "sessionStorage", "indexedDB", "cookie", "cacheStorage")
STORE_TIMEOUT = 30.0  # the page's writes and reports, on a loaded 2-core machine
MAX_EVIDENCE_FILES = 6
MAX_EVIDENCE_FILE_BYTES = 2 * files.MiB


def plant_canary(session: Any, site: Any, canary: str) -> dict[str, str]:
    """Open residue.html and wait until the page has stored (and read back) the canary in every store."""
    page = session.open(f"https://internet.test/pages/residue.html?canary={canary}")
    reports = Reports(site, tab=page, canary=canary)
    reports.wait("residue-done", timeout=STORE_TIMEOUT)  # no report: the check below names what is missing
    mine = reports.all()
    outcome = {str(r.get("value")): "stored" for r in mine if r.get("event") == "residue-stored"}
    failed = [r for r in mine if r.get("event") == "residue-failed"]
    outcome.update({str(r.get("value")): f"failed: {r.get('detail')}" for r in failed})
    missing = [store for store in STORES if outcome.get(store) != "stored"]
    if missing:
        detail = ", ".join(f"{store} ({outcome.get(store, 'no report')})" for store in missing)
        raise HarnessError("fixture-site", f"the page did not store the canary in: {detail}; nothing was tested")
    return outcome


def record(evidence: Any, observation: dict[str, Any], hits: list[dict[str, Any]]) -> None:
    evidence.json("observation.json", observation)
    copied: set[str] = set()
    for hit in hits:  # the smaller hit files themselves, so a person can open them
        path = Path(hit["path"])
        if hit["path"] in copied or len(copied) >= MAX_EVIDENCE_FILES:
            continue
        if (hit["size"] or 0) <= MAX_EVIDENCE_FILE_BYTES:
            copied.add(hit["path"])
            try:
                evidence.file(path, f"residue-{len(copied)}-{path.name}")
            except OSError:
                continue


@pytest.mark.requirement("RES-01")
def test_no_session_content_remains(
    candidate_session: Any, fixture_site: Any, network_oracle: Any, canary: str, evidence: Any
) -> None:
    """セッション終了後、端末に内容が残らない / no session content remains on the terminal after the session"""
    roots = list(candidate_session.disk_roots)
    if not roots:
        raise HarnessError("driver", "the driver names no disk roots for the session: nothing could be scanned")
    stores = plant_canary(candidate_session, fixture_site, canary)
    evidence.screenshot(candidate_session, "before-close.png")
    candidate_session.close_as_user()  # the fixture's teardown close is then a no-op
    close = dict(candidate_session.close_record or {})
    if not close.get("user_close"):
        raise HarnessError("driver", f"the session was not ended by a user close, so residue is not judged: {close}")
    hits = residue_hits(roots, [canary])  # before anything restarts the candidate
    scanned = files.snapshot(roots)
    scan_errors = scanned.errors
    observation = {
        "canary": canary,
        "stores": stores,
        "close": close,
        "scanned_roots": [str(r) for r in roots],
        "files_scanned": len(scanned),
        "encodings": list(files.ENCODINGS),
        "unreadable": [[str(p), e] for p, e in scan_errors],
        "residue": hits,
    }
    record(evidence, observation, hits)
    note = "" if close.get("exited_by_itself") else " (the candidate did not exit by itself after the close)"
    if scan_errors and not hits:  # an unread folder could hold the residue: no pass on a partial scan
        raise HarnessError("files", f"could not read part of the session's disk: {scan_errors[:3]}")
    if not len(scanned) and not hits:  # a browser that ran always leaves some file (even if clean): wrong roots?
        raise HarnessError("files", f"no file at all under the session's disk roots {roots}: nothing was scanned")
    if hits:  # an explicit AssertionError keeps the verdict message free of pytest's repr of the hit list
        raise AssertionError(
            f"session content remains on the terminal after the user closed it / セッション終了後に内容が残った{note}: "
            + summarize(hits, roots)
        )
