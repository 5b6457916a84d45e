"""Parallel runs give the serial verdicts (``conformance run -n 2``, conformance/parallel.py), end to end.

A reference candidate is run through the real CLI with two pytest-xdist workers, each with its own display, network
oracle and namespace, CUPS and browsers; its verdicts must be the expected ones of the reference matrix
(``expected/*.toml``, what a serial run gives). By default a subset of the hardened secure browser across four
channels, so that both workers have cases (about a minute); the whole of both hardened references with -m slow.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.reference.matrix import assert_verdict, run_reference, verdicts_of

# Four channels (download, clipboard, residue, maintenance): the cases of a channel go to one worker.
SUBSET = ["CLIP-02", "DL-01", "MNT-01", "RES-01"]


@pytest.mark.reference
@pytest.mark.parametrize(("candidate", "requirements"), [
    pytest.param("chromium-hardened", SUBSET, id="chromium-hardened-subset"),
    pytest.param("chromium-hardened", [], marks=pytest.mark.slow, id="chromium-hardened"),
    pytest.param("novnc-hardened", [], marks=pytest.mark.slow, id="novnc-hardened"),
])  # fmt: skip
def test_two_workers_give_the_serial_verdicts(candidate: str, requirements: list[str], tmp_path: Path) -> None:
    document = run_reference(candidate, tmp_path / candidate, requirements, extra=("-n", "2"))
    expected = {rid: v for rid, v in verdicts_of(candidate).items() if not requirements or rid in requirements}
    for requirement, verdict in sorted(expected.items()):
        assert_verdict(document, requirement, verdict)
    # Both workers ran cases, each in a session of its own; every case of the plan was decided once, in one document.
    assert document["environment"]["workers"] == 2
    sessions = sorted((tmp_path / candidate / "evidence" / "workers").glob("*/session.json"))
    assert [p.parent.name for p in sessions] == ["gw0", "gw1"]
    for entry in document["requirements"].values():
        assert len({c["nodeid"] for c in entry["cases"]}) == len(entry["cases"])
    cases = {c["nodeid"] for entry in document["requirements"].values() for c in entry["cases"]}
    progress = [(int(m[1]), int(m[2])) for m in re.finditer(r"^\[\s*(\d+)/(\d+)\]", document["_stdout"], re.M)]
    assert progress == [(n, len(cases)) for n in range(1, len(cases) + 1)]
    assert not document["incomplete"]
    # What the workers measured travels with their results: the cases' waiting time (conformance.waits).
    assert any(c["waited"] > 0 for entry in document["requirements"].values() for c in entry["cases"])
