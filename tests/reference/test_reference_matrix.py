"""The reference matrix: the real suite against the bundled reference candidates, end to end.

Each reference is run once per test session through the real CLI (`conformance run`, real Chromium,
mitmproxy, Xvfb, CUPS, VNC). The expected verdicts live in ``expected/<channel>.toml``, one file per
channel: every check must FAIL on the reference that is open on that channel and PASS on the hardened
one. Evidence must exist for every failing case.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from conformance.environment.terminal_netns import unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = ROOT / "fixtures" / "candidates"
EXPECTED_DIR = Path(__file__).parent / "expected"
NAMESPACE_UNAVAILABLE = unavailable_reason()
NAMESPACE_ONLY = ("NET-04", "NET-05")  # decided only by observing the terminal's namespace: else `error`
TEST_NETWORK_ONLY = ("MNT-02", "MNT-03", "WLAN-02")  # decided only on the suite's test network: else `error`
ENGINE_RELEASES = ROOT / "fixtures" / "engine-releases.toml"  # the run configuration MNT-05 measures against


def expected_verdicts() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(EXPECTED_DIR.glob("*.toml")):
        for candidate, table in tomllib.loads(path.read_text(encoding="utf-8")).items():
            merged.setdefault(candidate, {}).update(table)
    return merged


EXPECTED = expected_verdicts()
for _name, _table in EXPECTED.items():  # a mistyped ID would otherwise leave a verdict in the default run unnoticed
    _unknown = set(_table.get("_slow_requirements", [])) - set(_table)
    if _unknown:
        raise ValueError(f"expected/*.toml [{_name}] _slow_requirements names {sorted(_unknown)}, which the table "
                         "does not list: give each its expected verdict, or remove it")
# Keys of a candidate's table that are settings, not requirement IDs:
#   _scope = "listed"          a reference variant open on one channel is run for its listed requirements only;
#   _slow = true               a costly variant, left out of the default run (`pytest -m slow`);
#   _slow_requirements = [ID]  these verdicts of the candidate are asserted with `-m slow` only (what another
#                              reference already proves in the default run); the default run leaves them out.
SETTINGS = ("_scope", "_slow", "_slow_requirements")


def _marks(candidate: str, requirement: str | None = None) -> list[pytest.MarkDecorator]:
    slow = EXPECTED[candidate].get("_slow") or requirement in EXPECTED[candidate].get("_slow_requirements", [])
    return [pytest.mark.slow] if slow else []


def _verdicts(candidate: str) -> dict[str, str]:
    return {k: v for k, v in EXPECTED[candidate].items() if k not in SETTINGS}


CASES = [pytest.param(c, rid, v, marks=_marks(c, rid), id=f"{c}-{rid}")
         for c in sorted(EXPECTED) for rid, v in sorted(_verdicts(c).items())]
CANDIDATE_PARAMS = [pytest.param(c, marks=_marks(c), id=c) for c in sorted(EXPECTED)]


class ReferenceRuns:
    """Each reference candidate is run once, when a selected test first needs it (slow ones only with -m slow),
    for the requirements whose verdict tests this session selected: all of them is a full run."""

    def __init__(self, out: Path, selected: dict[str, set[str]]) -> None:
        self.out = out
        self.selected = selected
        self.documents: dict[str, dict[str, Any] | AssertionError] = {}

    def requirements(self, name: str) -> list[str]:
        """The --requirement options of the run: none for a full run."""
        expected = set(_verdicts(name))
        wanted = self.selected.get(name) or expected
        if wanted == expected and EXPECTED[name].get("_scope") != "listed":
            return []
        return sorted(wanted)

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name not in self.documents:
            try:
                self.documents[name] = self._run(name)
            except AssertionError as exc:  # a run that went wrong is not repeated for each of its tests
                self.documents[name] = exc
        found = self.documents[name]
        if isinstance(found, AssertionError):
            raise found
        return found

    def _run(self, name: str) -> dict[str, Any]:
        target = self.out / name
        proc = subprocess.run(
            [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(CANDIDATES / f"{name}.toml"),
             "--out", str(target), f"--engine-releases={ENGINE_RELEASES}",
             *(f"--requirement={rid}" for rid in self.requirements(name))],
            capture_output=True, text=True, timeout=1200,
        )  # fmt: skip
        print(proc.stdout[-6000:], proc.stderr[-3000:], sep="\n")
        assert proc.returncode in (0, 1, 3), f"{name}: conformance run exited {proc.returncode}\n{proc.stderr}"
        # The terminal namespace and the test network are never named: nothing may show here, during or after.
        named = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout.strip()
        assert not named, f"{name}: the run left named network namespaces: {named}"
        document = json.loads((target / "conformance.json").read_text(encoding="utf-8"))
        document["_dir"] = str(target)
        document["_exit"] = proc.returncode
        return document


@pytest.fixture(scope="session")
def reference_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ReferenceRuns:
    selected: dict[str, set[str]] = {}
    for item in request.session.items:
        params = getattr(item, "callspec", None) and item.callspec.params
        if params and item.originalname == "test_reference_verdict":
            selected.setdefault(params["candidate"], set()).add(params["requirement"])
    return ReferenceRuns(tmp_path_factory.mktemp("reference-runs"), selected)


@pytest.mark.reference
@pytest.mark.parametrize(("candidate", "requirement", "verdict"), CASES)
def test_reference_verdict(reference_runs: ReferenceRuns, candidate: str, requirement: str, verdict: str) -> None:
    entry = reference_runs[candidate]["requirements"][requirement]
    if NAMESPACE_UNAVAILABLE is not None and requirement in NAMESPACE_ONLY:
        # A machine without a terminal namespace (no root, no /dev/net/tun): the suite must say it could not
        # look, never pass or fail. The table's verdict is what a namespace run gives.
        assert entry["verdict"] == "error" and "not observable" in entry["reason"], entry
        return
    if NAMESPACE_UNAVAILABLE is not None and requirement in TEST_NETWORK_ONLY:
        assert entry["verdict"] == "error" and "test network" in entry["reason"], entry
        return
    messages = [f"{c['outcome']}: {c['message'][:300]}" for c in entry["cases"]]
    assert entry["verdict"] == verdict, f"{candidate} {requirement}: {entry['reason']}\n" + "\n".join(messages)
    if verdict == "fail":  # a failure a person cannot check is not evidence
        failing = [c for c in entry["cases"] if c["outcome"] == "fail"]
        assert failing and all(c["evidence"] for c in failing)
        run_dir = Path(reference_runs[candidate]["_dir"])
        assert all((run_dir / p).is_file() for c in failing for p in c["evidence"])


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
