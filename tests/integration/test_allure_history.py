"""The single-file Allure report with Allure 3 itself: one index.html, and a history that stays bounded across
runs of one candidate in one folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.allure_report import build_report, find_allure

pytestmark = pytest.mark.skipif(find_allure() is None, reason="Allure 3 is not installed (scripts/setup.sh)")


def _run_folder(folder: Path, status: str) -> Path:
    results = folder / "allure-results"
    results.mkdir(parents=True)
    labels = [{"name": "requirement", "value": "DL-01"}, {"name": "severity", "value": "critical"}]
    result = {"uuid": "u1", "historyId": "h1", "testCaseId": "t1", "name": "DL-01 case", "fullName": "c#DL-01",
              "status": status, "start": 1, "stop": 2, "labels": labels}  # fmt: skip
    (results / "u1-result.json").write_text(json.dumps(result), encoding="utf-8")
    return folder


def test_one_file_and_a_bounded_history(tmp_path: Path) -> None:
    history = tmp_path / "history" / "candidate.jsonl"
    for index, status in enumerate(("passed", "failed", "passed")):
        run = _run_folder(tmp_path / f"run-{index}", status)
        document = {"requirements": {"DL-01": {"verdict": "pass" if status == "passed" else "fail", "cases": []}}}
        index_html = build_report(run, document, history, history_limit=2)
        assert [p.name for p in index_html.parent.iterdir() if p.suffix in (".js", ".css")] == []
        assert index_html.stat().st_size > 10_000
    lines = [line for line in history.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) == 2, f"the history keeps {len(lines)} runs, not the 2 it is bounded to"
