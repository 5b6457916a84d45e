"""benchmarks/stability.py's pure parts: which references run over what, and how a stability run is read.
No run here: the folders are written by the test as the CLI's stability mode writes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.stability import ORDER, assess, order, scope_of, write_table
from tests.reference.matrix import EXPECTED, verdicts_of


def test_every_reference_is_in_the_order_and_pairs_come_first() -> None:
    assert set(ORDER) == set(EXPECTED)  # a new reference would otherwise be left out of the figure unnoticed
    assert order(["chromium-stale", "chromium-open"]) == ["chromium-open", "chromium-stale"]
    with pytest.raises(SystemExit, match="no-such"):
        order(["no-such"])


def test_listed_references_run_their_requirements_and_the_others_a_full_plan() -> None:
    assert scope_of("chromium-stale") == sorted(verdicts_of("chromium-stale"))
    assert scope_of("chromium-hardened") == []


def _stability_run(folder: Path, verdicts: list[str | None], unstable: list[str]) -> None:
    """What `conformance run --repeat N` leaves: repeat-NN/conformance.json (none for a run that wrote nothing)."""
    for index, verdict in enumerate(verdicts, start=1):
        run = folder / f"repeat-{index:02d}"
        run.mkdir(parents=True)
        if verdict is not None:
            document = {"requirements": {"MNT-05": {"verdict": verdict}}}
            (run / "conformance.json").write_text(json.dumps(document), encoding="utf-8")
    (folder / "stability.json").write_text(json.dumps({"unstable": unstable}), encoding="utf-8")


def test_identical_expected_verdicts_are_stable_and_as_expected(tmp_path: Path) -> None:
    expected = verdicts_of("chromium-stale")["MNT-05"]
    _stability_run(tmp_path, [expected] * 3, [])
    found = assess("chromium-stale", ["MNT-05"], tmp_path, 0, 180.0, 3)
    assert (found.runs, found.unstable, found.unexpected) == (3, [], {})
    assert found.row(3) == "| chromium-stale | MNT-05 | 3/3 | yes | yes | 1.0 |"


def test_a_differing_verdict_and_a_missing_run_are_both_shown(tmp_path: Path) -> None:
    expected = verdicts_of("chromium-stale")["MNT-05"]
    other = "error" if expected != "error" else "pass"
    _stability_run(tmp_path, [expected, other, None], ["MNT-05"])
    found = assess("chromium-stale", ["MNT-05"], tmp_path, 4, 60.0, 3)
    assert found.runs == 2
    assert found.unexpected == {"MNT-05": [expected, other]}
    assert f"| 2/3 | no: MNT-05 | no: MNT-05 {'/'.join(sorted({expected, other}))} |" in found.row(3)
    write_table(tmp_path, [found], 3, "2", "stamp")
    assert json.loads((tmp_path / "stability.json").read_text(encoding="utf-8"))["references"][0]["exit_code"] == 4
    assert "no: MNT-05" in (tmp_path / "stability.md").read_text(encoding="utf-8")


def test_runs_that_all_wrote_nothing_are_undecided_not_stable(tmp_path: Path) -> None:
    _stability_run(tmp_path, [None, None], [])
    found = assess("chromium-stale", ["MNT-05"], tmp_path, 3, 10.0, 2)
    assert "| 0/2 | — | — |" in found.row(2)
