"""benchmarks/stability.py's pure parts: which references run over what, and how a stability run is read.
No run here: the folders are written by the test as the CLI's stability mode writes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.stability import ORDER, assess, main, order, scope_of, write_table
from tests.reference.matrix import EXPECTED, verdicts_of


def test_every_reference_is_in_the_order_and_pairs_come_first() -> None:
    assert set(ORDER) == set(EXPECTED)  # a new reference would otherwise be left out of the figure unnoticed
    assert order(["chromium-stale", "chromium-open"]) == ["chromium-open", "chromium-stale"]
    with pytest.raises(SystemExit, match="no-such"):
        order(["no-such"])


def test_listed_references_run_their_requirements_and_the_others_a_full_plan() -> None:
    assert scope_of("chromium-stale") == sorted(verdicts_of("chromium-stale"))
    assert scope_of("chromium-hardened") == []


def _stability_run(folder: Path, verdicts: list[str | None], unstable: list[str], exit_code: int = 0,
                   outcomes: list[str] | None = None) -> None:  # fmt: skip
    """What `conformance run --repeat N` leaves: repeat-NN/conformance.json (none for a run that wrote nothing) and
    stability.json. ``outcomes``: the one case's outcome per run (default: pass)."""
    for index, verdict in enumerate(verdicts, start=1):
        run = folder / f"repeat-{index:02d}"
        run.mkdir(parents=True)
        if verdict is not None:
            case = {"nodeid": "cases/test_patching.py::test_lag", "outcome": (outcomes or ["pass"] * 9)[index - 1]}
            document = {"duration_s": 60.0 * index, "requirements": {"MNT-05": {"verdict": verdict, "cases": [case]}}}
            (run / "conformance.json").write_text(json.dumps(document), encoding="utf-8")
    written = {"unstable": unstable, "exit_code": exit_code}
    (folder / "stability.json").write_text(json.dumps(written), encoding="utf-8")


def test_identical_expected_verdicts_are_stable_and_as_expected(tmp_path: Path) -> None:
    expected = verdicts_of("chromium-stale")["MNT-05"]
    _stability_run(tmp_path, [expected] * 3, [])
    found = assess("chromium-stale", ["MNT-05"], tmp_path, 3)
    assert (found.runs, found.unstable, found.unexpected, found.changed_cases) == (3, [], {}, {})
    assert found.row(3) == "| chromium-stale | MNT-05 | 3/3 | yes | yes | 0 of 1 | 2.0 |"  # the median run: 120 s


def test_a_differing_verdict_and_a_missing_run_are_both_shown(tmp_path: Path) -> None:
    expected = verdicts_of("chromium-stale")["MNT-05"]
    other = "error" if expected != "error" else "pass"
    _stability_run(tmp_path, [expected, other, None], ["MNT-05"], 4, ["pass", "error"])
    found = assess("chromium-stale", ["MNT-05"], tmp_path, 3)
    assert (found.runs, found.exit_code) == (2, 4)
    assert found.unexpected == {"MNT-05": [expected, other]}
    assert found.changed_cases == {"cases/test_patching.py::test_lag": ["pass", "error"]}
    assert f"| 2/3 | no: MNT-05 | no: MNT-05 {'/'.join(sorted({expected, other}))} | 1 of 1 |" in found.row(3)
    write_table(tmp_path, [found], 3, "2", "stamp")
    assert json.loads((tmp_path / "stability.json").read_text(encoding="utf-8"))["references"][0]["exit_code"] == 4
    assert "no: MNT-05" in (tmp_path / "stability.md").read_text(encoding="utf-8")


def test_runs_that_all_wrote_nothing_are_undecided_not_stable(tmp_path: Path) -> None:
    _stability_run(tmp_path, [None, None], [], 3)
    found = assess("chromium-stale", ["MNT-05"], tmp_path, 2)
    assert "| 0/2 | — | — | — | — |" in found.row(2)


def test_read_tabulates_an_earlier_run_without_running_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = verdicts_of("chromium-stale")["MNT-05"]
    _stability_run(tmp_path / "chromium-stale", [expected, expected], [])
    assert main(["--read", "--out", str(tmp_path), "--repeat", "2", "--only", "chromium-stale", "chromium-open"]) == 0
    table = (tmp_path / "stability.md").read_text(encoding="utf-8")
    assert "| chromium-stale | MNT-05 | 2/2 | yes | yes | 0 of 1 |" in table
    assert "chromium-open" not in table  # not run, so not in the table: nothing was started
    assert "chromium-stale" in capsys.readouterr().out
