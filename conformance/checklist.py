"""The checklist (チェックリスト): a finished run as a spreadsheet for municipal IT staff, one row per requirement
with its verdict, evidence and remarks, and empty columns for who checked it and when.

Two sheets: 「チェックリスト」 (the requirements, in catalog order) and 「候補・試験 (identity)」 (which candidate,
which suite and catalog, which run, what the result means, where attestations and waivers came from). Excel
forbids "/" in a sheet's name, hence the parentheses. Reads the run's document and the catalog only; labels
and evidence hashes are the statement's (conformance/statement.py), so both say the same.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from conformance.attestation import STATUS_LABELS
from conformance.catalog.model import APPLIES_LABELS
from conformance.statement import (
    VERDICT_COLOURS,
    EvidenceHashes,
    EvidenceRef,
    exit_meaning,
    level_labels,
    ordered_counts,
    problem_cases,
    requirement_entries,
    verdict_labels,
    waiver_exit_labels,
    write_atomically,
)

CHECKLIST_SHEET = "チェックリスト"
IDENTITY_SHEET = "候補・試験 (identity)"
# (header, column width in characters); the last two are for the staff member who checks the row.
COLUMNS = (
    ("ID", 10),
    ("要件", 38),
    ("Requirement", 38),
    ("区分 / level", 10),
    ("判定 / verdict", 18),
    ("証跡 / evidence", 70),
    ("備考 / remarks", 60),
    ("確認者 / checked by", 16),
    ("確認日 / date", 13),
)
VERDICT_COLUMN = 5  # 1-based
CELL_LIMIT = 32_000  # Excel keeps at most 32,767 characters in a cell

_HEADER_FILL = PatternFill("solid", fgColor="17324D")
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_SECTION_FONT = Font(bold=True, color="17324D", size=12)
_WRAP = Alignment(wrap_text=True, vertical="top")
_THIN = Side(style="thin", color="C9CED6")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def _cell_text(lines: list[str]) -> str:
    text = "\n".join(line for line in lines if line)
    return text if len(text) <= CELL_LIMIT else text[: CELL_LIMIT - 1] + "…"


def _evidence(refs: list[EvidenceRef]) -> str:
    return _cell_text([f"{ref.path}  [{ref.short if ref.sha256 else 'ファイルなし / missing'}]" for ref in refs])


def _remarks(entry: Mapping[str, Any]) -> str:
    """The reason, then what a reader must know: the cases that failed, the waiver, the attestation."""
    lines = [entry.get("reason", ""), *problem_cases(entry)]
    waiver = entry.get("waiver")
    if waiver:
        original = verdict_labels(waiver.get("original_verdict") or "fail")
        lines += [
            f"免除 / waived: {waiver.get('justification', '')}",
            f"本来の判定 / original verdict: {original[0]} / {original[1]}",
            f"承認 / approved by: {waiver.get('approver', '')} ({waiver.get('approved', '')}), "
            f"期限 / expires {waiver.get('expires', '')}",
        ]
        if waiver.get("reference"):
            lines.append(f"決裁・参照 / reference: {waiver['reference']}")
    record = entry.get("attestation")
    if record:
        ja, en = STATUS_LABELS.get(record["status"], (record["status"], record["status"]))
        line = f"証跡 / attestation: {ja} / {en}"
        if record.get("example"):
            line += " — 例であり実際の証跡ではない / an example, not real evidence"
        lines.append(line)
        if record["status"] != "pending":
            who = f"{record.get('attested_by')}（{record.get('role')}）"
            if record.get("registration_number"):
                who += f" 登録番号 / reg. no. {record['registration_number']}"
            lines.append(f"{who}, {record.get('date')} → {record.get('expires')}")
        lines += [f"⚠ {note}" for note in record.get("notes", [])]
    return _cell_text(lines)


def _checklist_sheet(sheet: Worksheet, document: Mapping[str, Any], catalog: Any, run_dir: Path | None) -> None:
    sheet.append([header for header, _ in COLUMNS])
    for index, (_, width) in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.fill, cell.font, cell.alignment, cell.border = _HEADER_FILL, _HEADER_FONT, _WRAP, _BORDER
        sheet.column_dimensions[get_column_letter(index)].width = width
    hashes = EvidenceHashes(run_dir)
    for rid, requirement, entry in requirement_entries(document, catalog):
        verdict = entry["verdict"]
        ja, en = verdict_labels(verdict)
        sheet.append(
            [
                rid,
                requirement.title("ja") if requirement else "",
                requirement.title("en") if requirement else "",
                level_labels(entry["level"])[0],
                f"{ja} / {en}",
                _evidence(hashes.of_cases(entry) + hashes.of_attestation(entry)),
                _remarks(entry),
                None,
                None,
            ]
        )
        row = sheet.max_row
        for index in range(1, len(COLUMNS) + 1):
            cell = sheet.cell(row=row, column=index)
            cell.alignment, cell.border = _WRAP, _BORDER
        background, text = VERDICT_COLOURS.get(verdict, ("FFFFFF", "000000"))
        verdict_cell = sheet.cell(row=row, column=VERDICT_COLUMN)
        verdict_cell.fill = PatternFill("solid", fgColor=background.upper())
        verdict_cell.font = Font(bold=True, color=text.upper())
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{sheet.max_row}"
    # Printed: landscape A4, as wide as the page, the header on every page.
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"


_OBSERVATION = {
    "namespace": "namespace — 端末のネットワーク名前空間 / the terminal's network namespace (every packet)",
    "proxy": "proxy — プロキシ経由の通信のみ / proxied traffic only",
}


def identity_rows(document: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) rows of the identity sheet, each label once; a row without a value heads a section."""
    candidate, suite, summary = document["candidate"], document["suite"], document["summary"]
    observation = (document.get("network") or {}).get("observation")
    kind = candidate["kind"]
    code = summary["exit_code"]
    rows: list[tuple[str, Any]] = [
        ("候補 / candidate", None),
        ("候補名 / candidate name", candidate["name"]),
        ("ベンダー / vendor", candidate["vendor"]),
        ("候補のバージョン / candidate version", candidate["version"]),
        ("種別 / kind", f"{APPLIES_LABELS['ja'].get(kind, kind)} / {kind}"),
        ("候補プロファイル / candidate profile", candidate.get("profile_path", "")),
        ("候補プロファイル SHA-256 / profile SHA-256", candidate["profile_sha256"]),
        ("申告プロファイル / catalog profiles claimed", ", ".join(candidate.get("catalog_profiles") or [])),
        ("試験スイート / suite", None),
        ("スイート名 / suite name", suite["name"]),
        ("スイートのバージョン / suite version", suite["version"]),
        ("要件カタログの版 / catalog version", suite["catalog_version"]),
        ("要件カタログ SHA-256 / catalog SHA-256", suite["catalog_sha256"]),
        ("実行 / run", None),
        ("開始 / started", document.get("started")),
        ("終了 / finished", document.get("finished")),
        ("所要時間（秒）/ duration (s)", document.get("duration_s")),
        (
            "通信の観測 / network observation",
            _OBSERVATION.get(observation or "", observation or "記録なし / not recorded"),
        ),
        ("選択 / selection", ", ".join(document["selection"]) if document.get("selection") else "全要件 / all"),
    ]
    for role, item in (document.get("inputs") or {}).items():
        rows.append((f"入力ファイル / input file: {role}", f"{item.get('path')} (sha256 {item.get('sha256')})"))
    rows += [
        ("結果 / result", None),
        ("終了コード / exit code", code),
        ("終了コードの意味 / exit code meaning", " / ".join(exit_meaning(code))),
    ]
    rows += [(f"判定 / verdict: {' / '.join(verdict_labels(v))}", n) for v, n in ordered_counts(summary["counts"])]
    rows += [
        (f"収集エラー / collection error {i}", e) for i, e in enumerate(document.get("collection_errors") or [], 1)
    ]
    attestations = document.get("attestations") or {}
    rows += [
        ("証跡 / attestations", None),
        ("証跡ファイル / attestation file", attestations.get("file") or "なし / none"),
    ]
    if attestations:
        rows += [
            ("証跡ファイル SHA-256 / attestation file SHA-256", attestations.get("sha256")),
            ("証跡の判定日 / attestations judged on", attestations.get("checked_on")),
            ("証跡の件数 / attestation entries", attestations.get("entries")),
            ("うち例（実際の証跡ではない）/ of which examples (not real evidence)", attestations.get("examples")),
        ]
    waivers = document.get("waivers") or {}
    rows += [("免除 / waivers", None), ("免除ファイル / waiver file", waivers.get("file") or "なし / none")]
    if waivers:
        rows += [
            ("免除ファイル SHA-256 / waiver file SHA-256", waivers.get("sha256")),
            ("免除の確認日 / waivers checked on", waivers.get("checked_on")),
            ("免除の件数 / waiver entries", waivers.get("entries")),
            ("終了コードの扱い / exit policy", " / ".join(waiver_exit_labels(waivers.get("exit")))),
            ("未使用の免除 / unused waivers", ", ".join(waivers.get("unused") or []) or "なし / none"),
        ]
    return rows


def _identity_sheet(sheet: Worksheet, document: Mapping[str, Any]) -> None:
    sheet.append(["項目 / item", "値 / value"])
    for cell in sheet[1]:
        cell.fill, cell.font = _HEADER_FILL, _HEADER_FONT
    for label, value in identity_rows(document):
        sheet.append([label, value])
        if value is None:
            sheet.cell(row=sheet.max_row, column=1).font = _SECTION_FONT
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = _WRAP
    sheet.column_dimensions["A"].width = 40
    sheet.column_dimensions["B"].width = 90
    sheet.freeze_panes = "A2"


def _finished(document: Mapping[str, Any]) -> dt.datetime | None:
    try:
        stamp = dt.datetime.fromisoformat(document["finished"])
    except (KeyError, TypeError, ValueError):
        return None
    return stamp.astimezone(dt.UTC).replace(tzinfo=None)  # the workbook's properties are naive UTC


def write_checklist(path: Path, document: Mapping[str, Any], catalog: Any, *, run_dir: Path | None = None) -> Path:
    """Write the checklist workbook to ``path`` (written to a temporary name, then renamed) and return ``path``.

    ``run_dir``: the run folder, to hash the evidence files a case recorded no hash for (default: the folder
    ``path`` is in, where the run writes it)."""
    workbook = Workbook()
    checklist = workbook.active
    checklist.title = CHECKLIST_SHEET
    _checklist_sheet(checklist, document, catalog, run_dir if run_dir is not None else path.parent)
    _identity_sheet(workbook.create_sheet(IDENTITY_SHEET), document)
    properties = workbook.properties
    properties.creator = f"{document['suite']['name']} {document['suite']['version']}"
    properties.title = f"チェックリスト / checklist: {document['candidate']['name']}"
    properties.created = _finished(document) or properties.created
    buffer = io.BytesIO()
    workbook.save(buffer)
    return write_atomically(path, buffer.getvalue())
