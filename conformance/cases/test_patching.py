"""Engine patch lag (MNT-05): the isolated browser's engine is no further behind its stable line than declared.

The oracle is the browser's own account of itself, read inside the candidate: ``engine.html`` on internet.test (a
secure context) reads the high-entropy User-Agent Client Hints (``fullVersionList``: the full version of each brand)
and ``navigator.userAgent`` and reports them to the fixture site. The engine is the ``Chromium`` brand (GREASE
brands such as "Not A;Brand" are never an engine); without UA-CH (a non-Chromium engine) the User-Agent string is
parsed, which the evidence says.

The stable releases and their dates are the run configuration (``--engine-releases``, validated before the run);
the lag rule is ``conformance.engine_releases``: 0 when no listed release (dated by the day of the run) is newer
than the candidate's version, else the days since the first newer release. The verdict compares it with the
candidate's declaration, ``[maintenance] engine_patch_lag_days``:

* lag <= declared -> pass; lag > declared -> fail;
* no release list, no release of the engine in it, no readable version, or no declaration -> error (the harness
  cannot judge; never a product failure).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest

from conformance import waits
from conformance.engine_releases import RULE, judge, patch_lag, read_engine_version
from conformance.errors import HarnessError
from conformance.oracles.site_reports import Reports

pytestmark = pytest.mark.candidate_kind("secure-browser")

PAGE = "https://internet.test/pages/engine.html"
REPORT_TIMEOUT = 20.0  # the report is sent as soon as the page has read its hints; a loaded machine delays it
STALE_LIST_DAYS = 60  # a list compiled longer ago than this is named in the verdict: later releases are unknown to it


def _wait_report(site: Any, token: str, page: Any) -> dict | None:
    """The page's newest report for ``token`` (it reports once it has read its hints)."""
    reports = Reports(site, tab=page, page="engine", value=token)
    return waits.until(lambda: (reports.all() or [None])[-1], REPORT_TIMEOUT, page=page)


@pytest.mark.requirement("MNT-05")
def test_engine_patch_lag_within_declared(
    candidate: Any,
    candidate_session: Any,
    fixture_site: Any,
    engine_releases: Any,
    evidence: Any,
    verdict_notes: list[str],
) -> None:
    """ブラウザエンジンの修正適用の遅れが申告の範囲内 / engine patch lag within the declared bound"""
    if engine_releases is None:
        raise HarnessError("engine-releases", "no stable release list was given (--engine-releases) / "
                                              "安定版の一覧が与えられていない")
    declared = candidate.maintenance.engine_patch_lag_days
    as_of = dt.datetime.now(dt.UTC).date()
    record: dict[str, Any] = {
        "verdict": "error",  # until the rule decided
        "rule": RULE,
        "as_of": as_of.isoformat(),
        "declared_engine_patch_lag_days": declared,
        "release_list": {
            "path": str(engine_releases.path),
            "sha256": engine_releases.sha256,
            "source": engine_releases.source,
            "compiled": engine_releases.compiled,
        },
    }

    token = secrets.token_hex(8)
    page = candidate_session.open(f"{PAGE}?t={token}")
    report = _wait_report(fixture_site, token, page)
    evidence.screenshot(candidate_session, "engine.png")
    if report is None:
        evidence.json("patch-lag.json", record)
        raise HarnessError("fixture-site", f"engine.html never reported in {REPORT_TIMEOUT:.0f} s; nothing was read")
    detail = report.get("detail") or {}
    record["reported"] = detail  # userAgent, uaData (low entropy), highEntropy (fullVersionList, ...), error

    try:
        ua_ch = detail.get("highEntropy") or detail.get("uaData")
        read = read_engine_version(ua_ch, str(detail.get("userAgent") or ""), engine_releases.engines())
        record["engine"] = {"brand": read.engine, "version": read.version, "via": read.via,
                            "exact": read.exact, "notes": read.notes}
        if read.via != "ua-ch fullVersionList":
            verdict_notes.append(f"the engine version was read from the {read.via}, not from User-Agent Client Hints")
        record["release_list"]["releases_of_engine"] = [
            {"version": r.version, "date": r.date, "source": engine_releases.source_of(r)}
            for r in engine_releases.of(read.engine)
        ]
        lag = patch_lag(read.engine, read.version, engine_releases, as_of,
                        known_parts=None if read.exact else read.known_parts)
        first = lag.first_newer
        record.update({
            "newest_listed_release": {"version": lag.newest.version, "date": lag.newest.date},
            "first_newer_release": (
                {"version": first.version, "date": first.date, "source": engine_releases.source_of(first)}
                if first is not None else None
            ),
            "lag_days": lag.lag_days,
            "newer_than_every_listed_release": lag.newer_than_list,
            "older_than_every_listed_release": lag.older_than_list,
        })
        if lag.newer_than_list:
            verdict_notes.append(f"{read.engine} {read.version} is newer than every release in the list "
                                 f"(newest listed: {lag.newest.version}); the list is older than the product")
        compiled = engine_releases.compiled
        if compiled is not None and (as_of - compiled).days > STALE_LIST_DAYS:
            verdict_notes.append(f"the release list was compiled on {compiled}: releases since then are not counted")
        ok, message = judge(lag, declared)
        record["verdict"] = "pass" if ok else "fail"
        record["message"] = message
    finally:
        evidence.json("patch-lag.json", record)
    if not ok:
        raise AssertionError(message)
