"""The reference matrix: the real suite against the bundled reference candidates, end to end.

Each reference is run once per test session through the real CLI (`conformance run`, real Chromium,
mitmproxy, Xvfb, CUPS, VNC). The expected verdicts live in ``expected/<channel>.toml``, one file per
channel: every check must FAIL on the reference that is open on that channel and PASS on the hardened
one. Evidence must exist for every failing case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reference.matrix import (
    EXPECTED,
    NAMESPACE_UNAVAILABLE,
    ReferenceRuns,
    assert_verdict,
    marks_for,
    verdicts_of,
)

CASES = [pytest.param(c, rid, v, marks=marks_for(c, rid), id=f"{c}-{rid}")
         for c in sorted(EXPECTED) for rid, v in sorted(verdicts_of(c).items())]
CANDIDATE_PARAMS = [pytest.param(c, marks=marks_for(c), id=c) for c in sorted(EXPECTED)]


@pytest.mark.reference
@pytest.mark.parametrize(("candidate", "requirement", "verdict"), CASES)
def test_reference_verdict(reference_runs: ReferenceRuns, candidate: str, requirement: str, verdict: str) -> None:
    assert_verdict(reference_runs[candidate], requirement, verdict)


@pytest.mark.reference
@pytest.mark.parametrize("candidate", CANDIDATE_PARAMS)
def test_result_document_names_its_inputs(reference_runs: ReferenceRuns, candidate: str) -> None:
    document = reference_runs[candidate]
    assert document["candidate"]["name"] == candidate
    assert len(document["suite"]["catalog_sha256"]) == 64
    assert len(document["candidate"]["profile_sha256"]) == 64
    assert document["started"] <= document["finished"]
    run_dir = Path(document["_dir"])
    for name in ("junit.xml", "report.html", "catalog.html", "allure-results/environment.properties"):
        assert (run_dir / name).is_file(), name
    # How the network was observed is part of the result; where the machine allows it, every packet.
    network = document["network"]
    if network["observation"] is not None:
        assert network["observation"] == ("namespace" if NAMESPACE_UNAVAILABLE is None else "proxy"), network
        assert bool(network["fallback_reason"]) == (network["observation"] == "proxy")


@pytest.mark.reference
@pytest.mark.parametrize(("candidate", "status"), [("chromium-hardened", "attested"), ("chromium-open", "pending")])
def test_manual_requirements_show_their_attestation(reference_runs: ReferenceRuns, candidate: str, status: str) -> None:
    """The hardened reference hands in (example) attestations, the open one none: every applicable manual
    requirement stays `manual` and says which, with the evidence hashed into the run."""
    document = reference_runs[candidate]
    manual = {rid: e for rid, e in document["requirements"].items() if e["verdict"] == "manual"}
    assert manual, "the reference claims GOV, MAINT and ENV-WLAN: it has manual requirements"
    assert {e["attestation"]["status"] for e in manual.values()} == {status}, manual
    run_dir = Path(document["_dir"])
    for entry in manual.values():
        for item in entry["attestation"].get("evidence", []):
            assert (run_dir / item["path"]).is_file() and len(item["sha256"]) == 64


@pytest.mark.reference
@pytest.mark.parametrize("candidate", CANDIDATE_PARAMS)
def test_every_quiet_watch_says_its_bound_and_basis(reference_runs: ReferenceRuns, candidate: str) -> None:
    """Each "nothing crossed" watch ran for its channel's calibrated bound (conformance.waits) and the evidence
    says the bound, the measured figure it rests on and whether the canary crossed; each case's waiting time
    is part of its duration."""
    import json

    from conformance.waits import CrossingTimes, load_crossings

    document = reference_runs[candidate]
    run_dir = Path(document["_dir"])
    package = CrossingTimes(load_crossings())
    watches = []
    for path in (run_dir / "evidence").rglob("*.json"):
        stack = [json.loads(path.read_text(encoding="utf-8"))]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if {"channel", "watched_seconds", "basis"} <= item.keys():
                    watches.append(item)
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    for watch in watches:  # never shorter than the package's bound; longer only when this run measured slower
        assert watch["watched_seconds"] >= round(package.bound(watch["channel"]).seconds, 2) - 0.01, watch
        assert str(watch["slowest_crossing_seconds"]) in watch["basis"] and watch["measured_on"], watch
    cases = [case for entry in document["requirements"].values() for case in entry["cases"]]
    for case in cases:
        assert 0 <= case["waited"] <= case["duration"] + 0.5, case
    assert any(case["waited"] > 0 for case in cases if case["outcome"] in ("pass", "fail")) or not watches
