"""Stability mode: identical verdicts over the repetitions keep the run's exit code; any difference exits 4 with
the differing evidence; a repetition without a result makes it undecided, never stable."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.stability import check_stability
from conformance.verdicts import EXIT_UNDECIDED, EXIT_UNSTABLE
from tests.unit.test_compare import FAILED_SPOOL, SPOOL, document, failing, write_run


def _runs(tmp_path: Path, *documents: dict | None) -> list[Path]:
    folders = []
    for index, doc in enumerate(documents, start=1):
        folder = tmp_path / f"repeat-{index:02d}"
        if doc is None:
            folder.mkdir()  # a repetition that wrote no result
        else:
            failed = doc["requirements"]["PRN-01"]["verdict"] == "fail"  # a job in the spool: different evidence
            write_run(folder, doc, {SPOOL: FAILED_SPOOL} if failed else None)
        folders.append(folder)
    return folders


def test_identical_verdicts_keep_the_runs_exit_code(tmp_path: Path) -> None:
    stability = check_stability(tmp_path, _runs(tmp_path, document(), document(), document()))
    assert stability.unstable == [] and stability.exit_code == document()["summary"]["exit_code"]
    assert "identical in all 3 runs" in stability.render()
    written = json.loads((tmp_path / "stability.json").read_text(encoding="utf-8"))
    assert written["identical"] is True and written["exit_code"] == stability.exit_code


def test_a_differing_verdict_exits_4_with_the_differing_evidence(tmp_path: Path) -> None:
    stability = check_stability(tmp_path, _runs(tmp_path, document(), failing(document()), document()))
    assert stability.unstable == ["PRN-01"]
    assert stability.exit_code == EXIT_UNSTABLE
    text = (tmp_path / "stability.txt").read_text(encoding="utf-8")
    assert "≠ PRN-01" in text and "pass ×2" in text and "fail ×1" in text
    assert "spool.json" in text  # the evidence that differs, from compare


def test_a_repetition_without_a_result_is_undecided(tmp_path: Path) -> None:
    stability = check_stability(tmp_path, _runs(tmp_path, document(), None))
    assert stability.exit_code == EXIT_UNDECIDED
    assert "no result" in stability.render()


def test_a_case_that_changes_under_an_unchanged_verdict_is_unstable_too(tmp_path: Path) -> None:
    """CLIP-01 decided by two cases, one failing in every run: the other flipping between pass and error leaves the
    verdict `fail` each time, but a harness whose case outcomes flip is not stable."""

    def two_cases(second: str) -> dict:
        doc = document()
        clip = doc["requirements"]["CLIP-01"]
        clip["verdict"] = "fail"
        clip["cases"] = [
            dict(clip["cases"][0], outcome="fail"),
            dict(clip["cases"][0], nodeid="cases/test_clipboard.py::test_copy[japanese]", outcome=second),
        ]
        return doc

    stability = check_stability(tmp_path, _runs(tmp_path, two_cases("pass"), two_cases("error"), two_cases("pass")))
    assert stability.unstable == []  # the verdict did not change
    assert stability.changed_cases == ["cases/test_clipboard.py::test_copy[japanese]"]
    assert stability.exit_code == EXIT_UNSTABLE
    text = stability.render()
    assert "CLIP-01 case cases/test_clipboard.py::test_copy[japanese]: pass ×2, error ×1" in text
    written = json.loads((tmp_path / "stability.json").read_text(encoding="utf-8"))
    assert written["identical"] is False
    assert written["changed_cases"] == {"cases/test_clipboard.py::test_copy[japanese]": ["pass", "error", "pass"]}
    assert len(stability.differences) == 1  # the second run against the first: compare's text, once
