"""Preparing a run's Allure results for the single-file report: waived failures tagged, large evidence referenced
by hash, categories that keep failures, findings, waived failures and harness errors apart; report steps outside
the verdict."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from conformance.allure_report import CATEGORIES, LARGE_ATTACHMENT, config, prepare_results
from conformance.artifacts import build_artifacts


def _result(results: Path, name: str, status: str, requirement: str, attachment: str = "") -> Path:
    body: dict[str, Any] = {"uuid": name, "name": name, "status": status, "statusDetails": {"message": "boom"},
                            "labels": [{"name": "requirement", "value": requirement}], "attachments": []}  # fmt: skip
    if attachment:
        body["attachments"].append({"name": "flows.jsonl", "source": attachment, "type": "application/json"})
    path = results / f"{name}-result.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def _document(verdicts: dict[str, str], evidence: dict[str, str] | None = None) -> dict[str, Any]:
    return {"requirements": {rid: {"verdict": v, "cases": [{"evidence_sha256": evidence or {}}]}
                             for rid, v in verdicts.items()}}  # fmt: skip


def test_waived_failures_are_tagged_and_say_so(tmp_path: Path) -> None:
    results = tmp_path / "allure-results"
    results.mkdir()
    waived = _result(results, "a", "failed", "DL-01")
    failed = _result(results, "b", "failed", "CLIP-01")
    changed = prepare_results(results, _document({"DL-01": "waived", "CLIP-01": "fail"}), tmp_path)
    assert changed == {"waived": 1, "referenced": 0}
    body = json.loads(waived.read_text(encoding="utf-8"))
    assert {"name": "tag", "value": "waived"} in body["labels"]
    assert body["status"] == "failed"  # waived is never shown as passed
    assert body["statusDetails"]["message"].startswith("免除された不適合 / waived failure (DL-01): boom")
    assert "tag" not in {label["name"] for label in json.loads(failed.read_text(encoding="utf-8"))["labels"]}


@pytest.mark.parametrize("is_case_evidence", [True, False])
def test_large_attachments_are_referenced_by_hash(tmp_path: Path, is_case_evidence: bool) -> None:
    results = tmp_path / "allure-results"
    results.mkdir()
    data = b"x" * (LARGE_ATTACHMENT + 1)
    (results / "big-attachment.txt").write_bytes(data)
    (results / "small-attachment.txt").write_bytes(b"small")
    sha = hashlib.sha256(data).hexdigest()
    big = _result(results, "a", "failed", "NET-01", "big-attachment.txt")
    small = _result(results, "b", "failed", "NET-01", "small-attachment.txt")
    evidence = {"evidence/case/flows.jsonl": sha} if is_case_evidence else {}
    assert prepare_results(results, _document({"NET-01": "fail"}, evidence), tmp_path)["referenced"] == 1
    attachment = json.loads(big.read_text(encoding="utf-8"))["attachments"][0]
    reference = (results / attachment["source"]).read_text(encoding="utf-8")
    assert f"sha256: {sha}" in reference and not (results / "big-attachment.txt").exists()
    kept = "evidence/case/flows.jsonl" if is_case_evidence else "evidence/allure-large/big-attachment.txt"
    assert f"file: {kept}" in reference
    if not is_case_evidence:  # moved beside the evidence, never lost
        assert (tmp_path / kept).read_bytes() == data
    assert json.loads(small.read_text(encoding="utf-8"))["attachments"][0]["source"] == "small-attachment.txt"


def test_config_is_one_file_in_japanese_with_bounded_history_and_separate_categories(tmp_path: Path) -> None:
    text = config(tmp_path, tmp_path / "history" / "x.jsonl", history_limit=7)
    settings = json.loads(text.removeprefix("export default ").rstrip().rstrip(";"))
    options = settings["plugins"]["awesome"]["options"]
    assert options["singleFile"] is True and options["reportLanguage"] == "ja"
    assert settings["historyLimit"] == 7 and settings["historyPath"].endswith("x.jsonl")
    ids = [c["id"] for c in CATEGORIES]
    # order matters (first match wins): waived before failures, must-level failures before findings
    assert ids.index("waived") < ids.index("product-failure") < ids.index("finding")
    assert "harness-error" in ids
    assert "historyPath" not in config(tmp_path, None)


def test_config_paths_are_absolute_for_a_relative_run_folder(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Allure runs with the run folder as its working directory: a relative path would point inside it again.
    monkeypatch.chdir(tmp_path)
    settings = json.loads(config(Path("reports/latest/x"), Path("reports/history/x.jsonl"))
                          .removeprefix("export default ").rstrip().rstrip(";"))  # fmt: skip
    assert settings["output"] == str(tmp_path / "reports/latest/x/allure-report")
    assert settings["historyPath"] == str(tmp_path / "reports/history/x.jsonl")


def test_a_failing_report_step_is_reported_and_the_others_still_run(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CONFORMANCE_ALLURE", str(tmp_path / "no-allure"))
    (tmp_path / "allure-results").mkdir()
    document = {"requirements": {}}
    results = build_artifacts(tmp_path, document, catalog=None, steps=("allure",))
    assert [(r.step, r.status) for r in results] == [("allure", "failed")]
    assert "Allure 3 is not installed" in results[0].reason
    assert "exit code are unchanged" in results[0].line()
    written = json.loads((tmp_path / "artifacts.json").read_text(encoding="utf-8"))
    assert written["steps"][0]["status"] == "failed"
