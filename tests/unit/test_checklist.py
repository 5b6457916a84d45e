"""The checklist workbook (チェックリスト): reopened with openpyxl, one row per requirement in catalog order with
its verdict, evidence and remarks, empty columns for the staff member, and the identity sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from conformance.catalog import load_catalog
from conformance.checklist import CHECKLIST_SHEET, COLUMNS, IDENTITY_SHEET, write_checklist
from tests.unit.test_statement import ATTESTED, CANDIDATE, UNPINNED, make_document, sha


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    return folder


@pytest.fixture
def document(catalog: Any, run_dir: Path) -> dict[str, Any]:
    return make_document(catalog, run_dir)


@pytest.fixture
def workbook(document: dict[str, Any], catalog: Any, run_dir: Path) -> Any:
    return load_workbook(write_checklist(run_dir / "checklist.xlsx", document, catalog))


def rows_by_id(sheet: Worksheet) -> dict[str, dict[str, Any]]:
    header = [cell.value for cell in sheet[1]]
    return {row[0]: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)}


def identity(workbook: Any) -> dict[str, Any]:
    return {label: value for label, value in workbook[IDENTITY_SHEET].iter_rows(min_row=2, values_only=True)}


def test_sheets_header_and_one_row_per_requirement(workbook: Any, catalog: Any) -> None:
    assert workbook.sheetnames == [CHECKLIST_SHEET, IDENTITY_SHEET] == ["チェックリスト", "候補・試験 (identity)"]
    sheet = workbook[CHECKLIST_SHEET]
    assert [cell.value for cell in sheet[1]] == [header for header, _ in COLUMNS]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:I{len(catalog.requirements) + 1}"
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == list(catalog.requirements)
    assert sheet.column_dimensions["F"].width >= 60 and sheet["F2"].alignment.wrap_text


def test_a_row_in_both_languages_with_its_verdict(workbook: Any, catalog: Any) -> None:
    dl = rows_by_id(workbook[CHECKLIST_SHEET])["DL-01"]
    assert dl["要件"] == catalog.requirements["DL-01"].title("ja")
    assert dl["Requirement"] == catalog.requirements["DL-01"].title("en")
    assert dl["区分 / level"] == "必須"
    assert dl["判定 / verdict"] == "不適合 / fail"
    assert "report.docm landed" in dl["備考 / remarks"]
    assert dl["確認者 / checked by"] is None and dl["確認日 / date"] is None  # for the staff member
    sheet = workbook[CHECKLIST_SHEET]
    row = 1 + list(catalog.requirements).index("DL-01") + 1
    assert sheet.cell(row=row, column=5).fill.fgColor.rgb.endswith("FDDEDE")


def test_a_waived_row_is_labelled_waived_not_pass(workbook: Any) -> None:
    prn = rows_by_id(workbook[CHECKLIST_SHEET])["PRN-01"]
    assert prn["判定 / verdict"] == "免除 / waived"
    assert "pass" not in prn["判定 / verdict"] and "適合" not in prn["判定 / verdict"]
    remarks = prn["備考 / remarks"]
    for value in ("印刷は運用で制限する", "情報政策課長 山田", "2027-03-31", "不適合 / fail", "決裁 2026-123"):
        assert value in remarks


def test_evidence_and_attestations(workbook: Any) -> None:
    rows = rows_by_id(workbook[CHECKLIST_SHEET])
    clip = rows["CLIP-01"]["証跡 / evidence"].splitlines()
    assert f"evidence/clip/keyboard.png  [{sha(UNPINNED)[:12]}]" in clip  # hashed from the run folder
    assert any("gone.png" in line and "missing" in line for line in clip)
    gov = rows["GOV-01"]
    assert gov["判定 / verdict"] == "要証跡 / manual"
    assert f"evidence/attestations/GOV-01/evidence/report.pdf  [{sha(ATTESTED)[:12]}]" in gov["証跡 / evidence"]
    for value in (
        "証跡確認済 / attested",
        "例であり実際の証跡ではない",
        "山田 太郎",
        "012345",
        "2026-11-30 → 2027-11-30",
    ):
        assert value in gov["備考 / remarks"]
    assert "未提出 / pending" in rows["WLAN-03"]["備考 / remarks"]
    assert "期限切れ / expired" in rows["MNT-06"]["備考 / remarks"]


def test_identity_sheet(workbook: Any, document: dict[str, Any], catalog: Any) -> None:
    values = identity(workbook)
    assert values["候補名 / candidate name"] == CANDIDATE
    assert values["ベンダー / vendor"] == "ACME 株式会社"
    assert values["候補のバージョン / candidate version"] == "4.2.1"
    assert values["種別 / kind"] == "セキュアブラウザ / secure-browser"
    assert values["候補プロファイル SHA-256 / profile SHA-256"] == "ab" * 32
    assert values["スイートのバージョン / suite version"] == "0.1.0"
    assert values["要件カタログの版 / catalog version"] == catalog.version
    assert values["要件カタログ SHA-256 / catalog SHA-256"] == catalog.sha256
    assert values["開始 / started"] == document["started"] and values["終了 / finished"] == document["finished"]
    assert values["終了コード / exit code"] == 1
    assert values["終了コードの意味 / exit code meaning"] == "必須要件に不適合あり / a must-level requirement failed"
    assert values["判定 / verdict: 免除 / waived"] == 1 and values["判定 / verdict: 不適合 / fail"] == 1
    assert values["証跡ファイル / attestation file"] == "/somewhere/attestations.toml"
    assert values["免除ファイル / waiver file"] == "/somewhere/waivers.toml"
    assert values["免除ファイル SHA-256 / waiver file SHA-256"] == "ef" * 32
    assert "does not make the exit code 1" in values["終了コードの扱い / exit policy"]


def test_without_waivers_or_attestations(document: dict[str, Any], catalog: Any, tmp_path: Path) -> None:
    document["waivers"] = document["attestations"] = None
    values = identity(load_workbook(write_checklist(tmp_path / "c.xlsx", document, catalog)))
    assert values["免除ファイル / waiver file"] == "なし / none"
    assert values["証跡ファイル / attestation file"] == "なし / none"


def test_written_whole_and_rewritable(document: dict[str, Any], catalog: Any, run_dir: Path) -> None:
    target = run_dir / "checklist.xlsx"
    write_checklist(target, document, catalog)
    first = rows_by_id(load_workbook(target)[CHECKLIST_SHEET])
    assert write_checklist(target, document, catalog) == target  # replaces the old one
    assert rows_by_id(load_workbook(target)[CHECKLIST_SHEET]) == first  # same content
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []  # no partial file
