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
