"""Compare finished runs: ``conformance compare A B [C …]``.

Each input is a run folder written by ``conformance run`` (holding ``conformance.json``) or that file itself.
Nothing is run again; only the results (and, for hashes a result does not record, the evidence files in the
run folder) are read.

Two views, chosen by the candidates' names:

- **Same candidate** (every run names the same candidate), e.g. before and after an update, or a re-run to
  check that a verdict holds: first the identities that make a comparison weaker when they differ (suite
  version, catalog, candidate profile); then every requirement whose verdict differs, with both verdicts and
  reasons and the differing evidence (the cases whose outcome or message differ, the evidence files present in
  one run only or with a different SHA-256); then the requirements that are not in every run (a
  ``--requirement`` selection), which are not compared. :func:`exit_code` is 0 only when the runs agree on
  every verdict they share and on the identities, else 1.
- **Several candidates**: a matrix, requirements × candidates, for procurement (調達比較表). A row is
  highlighted when the verdicts differ between candidates. Suite and catalog mismatches are called out at the
  top (candidate profiles differ by nature). It is a view, not a check: :func:`exit_code` is 0.

Like the report, this module reads result data and the catalog only.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from conformance.attestation import STATUS_LABELS
from conformance.catalog import load_catalog
from conformance.errors import InputError
from conformance.report import LEVEL_LABELS, SCHEMA, VERDICT_LABELS
from conformance.verdicts import VERDICTS

RESULT_FILE = "conformance.json"
REPORT_FILE = "report.html"
SCHEMAS = frozenset({SCHEMA, "lgwan-conformance/result-v1"})
LABELS: dict[str, tuple[str, str]] = VERDICT_LABELS
KNOWN_VERDICTS: tuple[str, ...] = VERDICTS
SHORT_HASH = 12  # hex digits of a SHA-256 shown to a person
_RUN_FIX = (
    "give a run folder written by `conformance run` (e.g. reports/latest/chromium-hardened) or its conformance.json"
)
_SHAPE_FIX = "give a conformance.json written by `conformance run`; this one is incomplete or was edited"


# -- reading a run ---------------------------------------------------------------------------------
def _known_verdict(value: str) -> str:
    if value not in KNOWN_VERDICTS:
        raise ValueError(f"{value!r} is not a verdict (one of: {', '.join(KNOWN_VERDICTS)})")
    return value


class _Shape(BaseModel):
    """What the comparison reads of conformance.json; anything else may be there too."""

    model_config = ConfigDict(extra="allow", strict=True)


class _Suite(_Shape):
    version: str
    catalog_version: str
    catalog_sha256: str


class _Candidate(_Shape):
    name: str
    kind: str
    profile_sha256: str
    vendor: str = ""
    version: str = ""


class _Summary(_Shape):
    exit_code: int


class _Case(_Shape):
    nodeid: str
    outcome: str
    message: str = ""
    title: str = ""
    evidence: list[str] = Field(default_factory=list)
    evidence_sha256: dict[str, str] = Field(default_factory=dict)


class _Entry(_Shape):
    verdict: Annotated[str, AfterValidator(_known_verdict)]
    level: Literal["must", "should", "optional"]
    reason: str
    cases: list[_Case] = Field(default_factory=list)


class _Document(_Shape):
    suite: _Suite
    candidate: _Candidate
    started: str
    summary: _Summary
    requirements: dict[str, _Entry]


def _field(loc: Sequence[Any]) -> str:
    """A pydantic location as a person finds it in the file: ``requirements[PRN-01].cases[0].outcome``."""
    text = ""
    for i, part in enumerate(loc):
        keyed = isinstance(part, int) or (i > 0 and loc[i - 1] in ("requirements", "evidence_sha256"))
        text += f"[{part}]" if keyed else (f".{part}" if text else str(part))
    return text or "(top level)"


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Run:
    """One run's results: its conformance.json (``path``) and the folder around it."""

    path: Path  # the conformance.json file, resolved
    document: dict[str, Any]
    _hashes: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)

    @property
    def folder(self) -> Path:
        """The run folder: evidence paths and report.html are relative to it."""
        return self.path.parent

    @property
    def name(self) -> str:
        return str(self.document["candidate"]["name"])

    @property
    def candidate(self) -> dict[str, Any]:
        return dict(self.document["candidate"])

    @property
    def suite(self) -> dict[str, Any]:
        return dict(self.document["suite"])

    @property
    def requirements(self) -> dict[str, dict[str, Any]]:
        return dict(self.document["requirements"])

    @property
    def report_html(self) -> Path:
        return self.folder / REPORT_FILE

    def evidence_sha256(self, case: Mapping[str, Any], path: str) -> str | None:
        """The SHA-256 of one evidence file of ``case``: as the result records it, else computed from the file in
        the run folder; None when neither is possible (the file is not there, or leads out of the run folder)."""
        recorded = (case.get("evidence_sha256") or {}).get(path)
        if recorded:
            return str(recorded)
        if path not in self._hashes:
            target = (self.folder / path).resolve()
            digest = None
            if target.is_relative_to(self.folder.resolve()) and target.is_file():
                try:
                    digest = _hash_file(target)
                except OSError:
                    digest = None
            self._hashes[path] = digest
        return self._hashes[path]


def load_run(path: str | Path) -> Run:
    """A run folder (or its conformance.json) read and checked. Raises InputError naming the path otherwise."""
    given = Path(path)
    file = given / RESULT_FILE if given.is_dir() else given
    if given.is_dir() and not file.is_file():
        nested = sorted(str(p.parent) for p in given.glob(f"*/{RESULT_FILE}"))
        fix = (
            f"this looks like a folder of several runs; give the run folders themselves: {' '.join(nested)}"
            if nested
            else _RUN_FIX
        )
        raise InputError(str(given), "", f"no {RESULT_FILE} in this folder", fix)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise InputError(str(given), "", "no such file or folder", _RUN_FIX) from None
    except OSError as exc:
        raise InputError(str(file), "", f"cannot read the results: {exc.strerror or exc}", _RUN_FIX) from None
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(str(file), "", f"not UTF-8 at byte {exc.start}", _RUN_FIX) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            str(file),
            f"line {exc.lineno}",
            f"not valid JSON: {exc.msg}",
            "give a complete conformance.json; the run may have been cut short",
        ) from None
    if not isinstance(document, dict):
        raise InputError(str(file), "(top level)", "not a JSON object", _RUN_FIX)
    schema = document.get("schema")
    if schema not in SCHEMAS:
        expected = " or ".join(sorted(SCHEMAS))
        raise InputError(str(file), "schema", f"{schema!r} is not a conformance result (expected {expected})", _RUN_FIX)
    try:
        _Document.model_validate(document)
    except ValidationError as exc:
        err = exc.errors()[0]
        problem = "required field is missing" if err["type"] == "missing" else err["msg"]
        raise InputError(str(file), _field(err["loc"]), problem, _SHAPE_FIX) from None
    return Run(file.resolve(), document)


# -- comparing -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mismatch:
    """An identity the runs do not share: the comparison is weaker for it."""

    field: str  # e.g. "suite.catalog_sha256"
    label: tuple[str, str]  # (ja, en)
    values: tuple[str, ...]  # per run, as shown
    consequence: tuple[str, str]  # (ja, en): why the comparison is weaker


@dataclass(frozen=True)
class CaseDiff:
    """A case whose outcome or message differs between the runs (None: not in that run)."""

    nodeid: str
    title: str
    sides: tuple[tuple[str, str] | None, ...]  # (outcome, message) per run


@dataclass(frozen=True)
class EvidenceDiff:
    """An evidence file of a requirement that is not the same in every run.

    Per run: None when the run has no such file, "" when it lists the file but its hash is unknown (not
    recorded and not in the run folder), else the SHA-256."""

    path: str
    nodeid: str  # the case that lists it (the first one)
    sides: tuple[str | None, ...]


@dataclass(frozen=True)
class RequirementDiff:
    """A requirement whose verdict differs between runs of the same candidate."""

    id: str
    title: tuple[str, str]
    level: str
    sides: tuple[tuple[str, str], ...]  # (verdict, reason) per run
    cases: tuple[CaseDiff, ...]
    evidence: tuple[EvidenceDiff, ...]
    # Evidence every run lists but whose hash is unknown in some run (not recorded, file not in its folder).
    uncompared: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    """One requirement across the runs (the matrix). A cell is the run's entry, None when it is not in the run."""

    id: str
    title: tuple[str, str]
    level: str
    cells: tuple[dict[str, Any] | None, ...]

    @property
    def verdicts(self) -> tuple[str | None, ...]:
        return tuple(cell["verdict"] if cell else None for cell in self.cells)

    @property
    def differs(self) -> bool:
        return len(set(self.verdicts)) > 1

    @property
    def outcomes_differ(self) -> bool:
        """A case of the requirement has another outcome in some run (or is in some runs only)."""
        runs = [{case["nodeid"]: case["outcome"] for case in (cell or {}).get("cases", [])} for cell in self.cells]
        return any(run != runs[0] for run in runs[1:])

    @property
    def partial(self) -> bool:
        """Not in every run (e.g. a --requirement selection): not compared."""
        return None in self.verdicts

    @property
    def applies_somewhere(self) -> bool:
        return any(v not in (None, "not_applicable") for v in self.verdicts)


@dataclass(frozen=True)
class Comparison:
    runs: tuple[Run, ...]
    labels: tuple[str, ...]  # A, B, C … in the order given
    same_candidate: bool
    mismatches: tuple[Mismatch, ...]
    notes: tuple[tuple[str, str], ...]  # (ja, en): differences worth knowing that are not identities
    differing: tuple[RequirementDiff, ...]  # same candidate only: verdicts that differ, with evidence
    partial: tuple[Row, ...]  # requirements not in every run: not compared
    rows: tuple[Row, ...]  # every requirement of any run, in catalog order

    @property
    def agrees(self) -> bool:
        return not self.differing and not self.mismatches


def _label(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else str(index + 1)


def _catalog_text(run: Run) -> str:
    suite = run.suite
    return f"{suite['catalog_version']} ({suite['catalog_sha256'][:SHORT_HASH]})"


@dataclass(frozen=True)
class _Identity:
    """Something two runs must share for their verdicts to mean the same."""

    field: str
    label: tuple[str, str]
    show: Callable[[Run], str]
    consequence: tuple[str, str]
    across_candidates: bool  # also checked between different candidates (a profile differs by nature)


_IDENTITIES = (
    _Identity("suite.version", ("スイートの版", "suite version"), lambda run: str(run.suite["version"]),
              ("試験の内容・判定方法が異なりうる", "the cases and how they decide may differ"), True),
    _Identity("suite.catalog_sha256", ("要件カタログ", "requirement catalog"), _catalog_text,
              ("要件の文言・水準・適用範囲が異なりうる", "the requirements' wording, levels and scope may differ"),
              True),
    _Identity("candidate.profile_sha256", ("候補プロファイル", "candidate profile"),
              lambda run: str(run.candidate["profile_sha256"])[:SHORT_HASH],
              ("候補の申告（宛先・主張・設定）が異なる",
               "what the candidate declares (endpoints, claims, set-up) differs"), False),
)  # fmt: skip


def compare(runs: Sequence[Run], catalog: Any = None) -> Comparison:
    """Compare two or more runs (see the module's description). ``catalog`` gives titles and the row order
    (default: the packaged catalog)."""
    if len(runs) < 2:
        where = str(runs[0].path) if runs else "conformance compare"
        raise InputError(where, "", "needs at least two runs to compare", "give two or more run folders")
    catalog = catalog if catalog is not None else load_catalog()
    runs = tuple(runs)
    same = len({run.name for run in runs}) == 1
    mismatches = tuple(
        Mismatch(identity.field, identity.label, values, identity.consequence)
        for identity in _IDENTITIES
        if (same or identity.across_candidates) and len(set(values := tuple(map(identity.show, runs)))) > 1
    )
    rows = tuple(_rows(runs, catalog))
    # Same candidate: a requirement differs when its verdict does, or when one of its cases' outcome does under an
    # unchanged verdict (a case flipping between pass and error while another case fails: the verdict held by luck).
    differing = tuple(_diff(runs, row) for row in rows
                      if same and not row.partial and (row.differs or row.outcomes_differ))  # fmt: skip
    return Comparison(
        runs=runs,
        labels=tuple(_label(i) for i in range(len(runs))),
        same_candidate=same,
        mismatches=mismatches,
        notes=tuple(_notes(runs)),
        differing=differing,
        partial=tuple(row for row in rows if row.partial),
        rows=rows,
    )


def exit_code(comparison: Comparison) -> int:
    """0: the runs of one candidate agree on every verdict they share and on suite, catalog and profile; 1: a
    verdict or an identity differs. A matrix of several candidates is a view, not a check: always 0."""
    if not comparison.same_candidate:
        return 0
    return 0 if comparison.agrees else 1


def _rows(runs: Sequence[Run], catalog: Any) -> Iterable[Row]:
    seen = [rid for run in runs for rid in run.requirements]
    ordered = [rid for rid in catalog.requirements if rid in seen]
    ordered += [rid for rid in dict.fromkeys(seen) if rid not in catalog.requirements]
    for rid in ordered:
        cells = tuple(run.requirements.get(rid) for run in runs)
        requirement = catalog.requirements.get(rid)
        title = (requirement.title("ja"), requirement.title("en")) if requirement else ("", "")
        level = next(cell["level"] for cell in cells if cell)  # as judged in the runs
        yield Row(rid, title, level, cells)


def _notes(runs: Sequence[Run]) -> Iterable[tuple[str, str]]:
    observations = [str((run.document.get("network") or {}).get("observation") or "-") for run in runs]
    if len(set(observations)) > 1:
        shown = ", ".join(f"{_label(i)} {value}" for i, value in enumerate(observations))
        yield (
            f"通信の観測方法が異なる（{shown}）: proxy の実行では迂回通信を観測していない",
            f"network observation differs ({shown}): a proxy run did not observe traffic around the proxy",
        )


def _diff(runs: Sequence[Run], row: Row) -> RequirementDiff:
    entries = [cell for cell in row.cells if cell is not None]  # every run has it: partial rows are not diffed
    sides = tuple((str(e["verdict"]), str(e["reason"])) for e in entries)
    evidence, uncompared = _evidence_diffs(runs, entries)
    return RequirementDiff(row.id, row.title, row.level, sides, tuple(_case_diffs(entries)), evidence, uncompared)


def _case_diffs(entries: Sequence[Mapping[str, Any]]) -> Iterable[CaseDiff]:
    by_run = [{case["nodeid"]: case for case in entry.get("cases", [])} for entry in entries]
    for nodeid in dict.fromkeys(nodeid for cases in by_run for nodeid in cases):
        sides = tuple((c["outcome"], c.get("message", "")) if (c := cases.get(nodeid)) else None for cases in by_run)
        if len(set(sides)) > 1:
            title = next(cases[nodeid].get("title", "") for cases in by_run if nodeid in cases)
            yield CaseDiff(nodeid, title, sides)


def _evidence_diffs(
    runs: Sequence[Run], entries: Sequence[Mapping[str, Any]]
) -> tuple[tuple[EvidenceDiff, ...], tuple[str, ...]]:
    """The evidence files listed by some runs only or with different hashes, and those that cannot be compared."""
    listed: list[dict[str, str]] = []  # per run: evidence path → its hash ("" when unknown)
    owner: dict[str, str] = {}  # evidence path → the case that lists it
    for run, entry in zip(runs, entries, strict=True):
        files: dict[str, str] = {}
        for case in entry.get("cases", []):
            for path in [*case.get("evidence", []), *(case.get("evidence_sha256") or {})]:
                files[path] = run.evidence_sha256(case, path) or ""
                owner.setdefault(path, case["nodeid"])
        listed.append(files)
    diffs, uncompared = [], []
    for path in owner:
        sides = tuple(files.get(path) for files in listed)
        if None not in sides and "" in sides:
            uncompared.append(path)
        elif len(set(sides)) > 1:
            diffs.append(EvidenceDiff(path, owner[path], sides))
    return tuple(diffs), tuple(uncompared)


_NO_CASE_DIFFERS = (
    "試験・証跡に差はない（判定の差は適用範囲・判定規則・カタログ・プロファイルによる）",
    "no case or evidence differs (the difference comes from applicability, the rules, the catalog or the profile)",
)


# -- text ------------------------------------------------------------------------------------------
def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def verdict_label(verdict: str | None, sep: str = "/") -> str:
    """E.g. "適合/pass"; "—" for a requirement that is not in a run."""
    if verdict is None:
        return "—"
    ja, en = LABELS.get(verdict, (verdict, verdict))
    return f"{ja}{sep}{en}"


def _level_label(level: str, sep: str = "/") -> str:
    ja, en = LEVEL_LABELS.get(level, (level, level))
    return f"{ja}{sep}{en}"


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _hash_text(sha256: str | None) -> str:
    if sha256 is None:
        return "なし/absent"
    return sha256[:SHORT_HASH] if sha256 else "ハッシュ不明/hash unknown"


def _shown_path(path: Path) -> str:
    """A path relative to the working folder when it is inside it (shorter to read), else absolute."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def _run_lines(comparison: Comparison) -> list[str]:
    lines = []
    for label, run in zip(comparison.labels, comparison.runs, strict=True):
        candidate, summary = run.candidate, run.document["summary"]
        lines.append(
            f"  {label}  {run.name} — {candidate.get('vendor', '')}, {candidate.get('version', '')} · "
            f"{run.document['started']} · exit {summary['exit_code']} · {_shown_path(run.path)}"
        )
    return lines


def _mismatch_lines(comparison: Comparison) -> list[str]:
    if not comparison.mismatches and not comparison.notes:
        return []
    lines = [""]
    if comparison.mismatches:
        lines.append("⚠ 比較の前提が異なる（比較の意味が弱まる）/ identity mismatch (the comparison is weaker):")
        for m in comparison.mismatches:
            values = " ≠ ".join(f"{label} {value}" for label, value in zip(comparison.labels, m.values, strict=True))
            lines.append(f"  {m.label[0]} / {m.label[1]}: {values}")
            lines.append(f"    → {m.consequence[0]} / {m.consequence[1]}")
    lines += [f"注記 / note: {ja} / {en}" for ja, en in comparison.notes]
    return lines


def render_text(comparison: Comparison) -> str:
    """The comparison for the terminal, bilingual ("日本語 / English")."""
    if comparison.same_candidate:
        return _same_text(comparison)
    return _matrix_text(comparison)


def _same_text(c: Comparison) -> str:
    lines = [f"実行の比較 / run comparison: {c.runs[0].name} ({len(c.runs)} 回の実行 / runs)", *_run_lines(c)]
    lines += _mismatch_lines(c)
    lines += ["", f"判定か試験結果が異なる要件 / requirements whose verdict or cases differ: {len(c.differing)}"]
    for diff in c.differing:
        lines.append(f"  {diff.id}  {_level_label(diff.level)}  {diff.title[0]} / {diff.title[1]}".rstrip(" /"))
        for label, (verdict, reason) in zip(c.labels, diff.sides, strict=True):
            lines.append(f"    {label}: {verdict_label(verdict)} — {_one_line(reason)}")
        if diff.cases:
            lines.append("    異なる試験 / cases that differ:")
        for case in diff.cases:
            lines.append(f"      {case.nodeid}")
            for label, side in zip(c.labels, case.sides, strict=True):
                shown = "なし/absent" if side is None else (side[0] + (f" — {_one_line(side[1])}" if side[1] else ""))
                lines.append(f"        {label}: {shown}")
        if diff.evidence:
            lines.append("    異なる証跡 / evidence that differs (sha256):")
        for evidence in diff.evidence:
            hashes = "  ".join(f"{label} {_hash_text(h)}" for label, h in zip(c.labels, evidence.sides, strict=True))
            lines.append(f"      {evidence.path}: {hashes}")
        if diff.uncompared:
            lines.append(
                f"    比較できない証跡 {len(diff.uncompared)} 件（ハッシュ未記録で実行フォルダにもない）/ "
                f"{len(diff.uncompared)} evidence file(s) not compared (no recorded hash, not in the run folder)"
            )
        if not diff.cases and not diff.evidence:
            lines.append(f"    {_NO_CASE_DIFFERS[0]} / {_NO_CASE_DIFFERS[1]}")
    if c.partial:
        lines += [
            "",
            f"一部の実行にしかない要件（比較していない）/ requirements not in every run (not compared): "
            f"{len(c.partial)}",
        ]
        for row in c.partial:
            cells = "  ".join(f"{label}: {verdict_label(v)}" for label, v in zip(c.labels, row.verdicts, strict=True))
            lines.append(f"  {row.id}  {cells}")
    lines.append("")
    if c.agrees:
        lines.append("結果 / result: 差異なし / no differences (exit 0)")
    elif c.differing:
        lines.append(
            f"結果 / result: 差異あり {len(c.differing)} 件 / {len(c.differing)} requirement(s) differ (exit 1)"
        )
    else:
        lines.append(
            "結果 / result: 判定の差異はないが前提が異なる / no verdict differs, but the identities do not "
            "match (exit 1)"
        )
    return "\n".join(lines)


def _matrix_text(c: Comparison) -> str:
    lines = [f"候補比較 / candidate matrix: {len(c.runs)} 候補 / candidates", *_run_lines(c)]
    lines += _mismatch_lines(c)
    shown = [row for row in c.rows if row.applies_somewhere]
    headers = ["", "ID", "水準/level", *c.labels]
    table = [
        [("≠" if row.differs else ""), row.id, _level_label(row.level), *map(verdict_label, row.verdicts)]
        for row in shown
    ]
    widths = [max(_width(r[i]) for r in [headers, *table]) for i in range(len(headers))]
    lines += ["", "  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)) + "  要件/requirement"]
    lines.append("-" * (sum(widths) + 2 * len(widths) + 16))
    for row, cells in zip(shown, table, strict=True):
        lines.append("  ".join(_pad(v, w) for v, w in zip(cells, widths, strict=True)) + f"  {row.title[0]}")
    hidden = len(c.rows) - len(shown)
    lines.append("")
    if hidden:
        lines.append(
            f"どの候補にも対象外の要件 {hidden} 件は省略 / {hidden} requirements that apply to no "
            "candidate are left out"
        )
    differ = sum(row.differs for row in shown)
    lines.append(f"≠ 候補間で判定が異なる要件 / verdicts differ between candidates: {differ}")
    lines.append("調達のための比較表で、合否の判定ではない (exit 0) / a procurement view, not a check (exit 0)")
    return "\n".join(lines)


# -- HTML ------------------------------------------------------------------------------------------
_CSS = """
body{font-family:"Noto Sans CJK JP","Noto Sans",system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#17324d;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.85}main{padding:20px 28px}h2{font-size:17px;margin:24px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 3px #0002;margin-bottom:12px}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #e6e8ec;vertical-align:top;font-size:14px}
th{background:#eef1f5}small{color:#5b6573}code{font-size:12px}pre{white-space:pre-wrap;font-size:12px;margin:4px 0}
.v{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600;font-size:12px}
.pass{background:#d8f3dc;color:#1b5e20}.fail{background:#fddede;color:#8b0000}.error{background:#fff1c2;color:#7a4f00}
.not_applicable{background:#eceff1;color:#455a64}.manual{background:#e3e7fd;color:#283593}
.not_tested{background:#ffe0b2;color:#8d4b00}.waived{background:#f3e5f5;color:#6a1b9a;border:1px dashed #6a1b9a}
.absent{background:#fff;color:#5b6573;border:1px dashed #b0b7c0}
.warn{background:#fff4e5;border-left:5px solid #c25e00;padding:10px 14px;margin:0 0 16px}
.warn h2{margin:0 0 6px;color:#8a3b00}.warn ul{margin:0;padding-left:20px}
.result{font-size:18px;font-weight:700;margin:8px 0 16px}.ok{color:#1b5e20}.bad{color:#8b0000}
tr.differs td{background:#fff8e1}tr.differs td:first-child{border-left:5px solid #c25e00}
.mark{color:#c25e00;font-weight:700}.diff{background:#fff;padding:8px 12px;margin:0 0 12px;
box-shadow:0 1px 3px #0002;border-left:5px solid #8b0000}.legend span{margin-right:6px}
a.cell{text-decoration:none;color:inherit}
"""


def _href(target: Path, out_path: Path) -> str:
    """A link to ``target`` relative to the folder the HTML is written to (works from file://)."""
    relative = os.path.relpath(target.resolve(), Path(out_path).resolve().parent)
    return urllib.parse.quote(Path(relative).as_posix(), safe="/._-~")


def _badge(verdict: str | None) -> str:
    esc = html.escape
    if verdict is None:
        return '<span class="v absent">—</span><br><small>この実行に含まれない / not in this run</small>'
    ja, en = LABELS.get(verdict, (verdict, verdict))
    return f'<span class="v {esc(verdict)}">{esc(ja)}</span><br><small>{esc(en)}</small>'


def _cell_extra(cell: Mapping[str, Any]) -> str:
    """What a cell says besides its verdict: the attestation status or the waiver."""
    esc = html.escape
    attestation, waiver = cell.get("attestation"), cell.get("waiver")
    parts = []
    if cell.get("verdict") == "manual" and isinstance(attestation, Mapping) and attestation.get("status"):
        status = str(attestation["status"])
        ja, en = STATUS_LABELS.get(status, (status, status))
        example = "（例 / example）" if attestation.get("example") else ""
        parts.append(f"<small>{esc(ja)} / {esc(en)}{example}</small>")
    if isinstance(waiver, Mapping):
        parts.append(
            f"<small>免除 {esc(str(waiver.get('expires', '')))} まで / waived until "
            f"{esc(str(waiver.get('expires', '')))}</small>"
        )
    return "".join(f"<br>{part}" for part in parts)


def _warnings(c: Comparison) -> str:
    esc = html.escape
    if not c.mismatches and not c.notes:
        return ""
    items = []
    for m in c.mismatches:
        values = " ≠ ".join(
            f"<b>{esc(label)}</b> <code>{esc(value)}</code>" for label, value in zip(c.labels, m.values, strict=True)
        )
        items.append(
            f"<li><b>{esc(m.label[0])} / {esc(m.label[1])}</b>: {values}<br>"
            f"<small>{esc(m.consequence[0])} / {esc(m.consequence[1])}</small></li>"
        )
    items += [f"<li>{esc(ja)}<br><small>{esc(en)}</small></li>" for ja, en in c.notes]
    title = (
        "比較の前提が異なる（比較の意味が弱まる）/ Identity mismatch: the comparison is weaker"
        if c.mismatches
        else "注記 / Note"
    )
    return f'<section class="warn"><h2>⚠ {title}</h2><ul>{"".join(items)}</ul></section>'


def _column_head(label: str, run: Run, out_path: Path) -> str:
    esc = html.escape
    name = esc(run.name)
    if run.report_html.is_file():
        name = f'<a href="{esc(_href(run.report_html, out_path))}">{name}</a>'
    else:
        name += "<br><small>report.html なし / no report.html</small>"
    facts = f"{esc(run.candidate['kind'])} · {esc(run.document['started'])}"
    return f"<th>{esc(label)} {name}<br><small>{facts}</small></th>"


def _runs_table(c: Comparison, out_path: Path) -> str:
    esc = html.escape
    rows = []
    for label, run in zip(c.labels, c.runs, strict=True):
        candidate, suite = run.candidate, run.suite
        link = esc(run.name)
        if run.report_html.is_file():
            link = f'<a href="{esc(_href(run.report_html, out_path))}">{link}</a>'
        rows.append(
            f"<tr><td><b>{esc(label)}</b></td><td>{link}<br><small>{esc(str(candidate.get('vendor', '')))} "
            f"{esc(str(candidate.get('version', '')))}</small></td><td>{esc(candidate['kind'])}</td>"
            f"<td>{esc(run.document['started'])}</td><td>{esc(suite['version'])}</td>"
            f"<td>{esc(suite['catalog_version'])}<br><small><code>{esc(suite['catalog_sha256'][:SHORT_HASH])}</code>"
            f"</small></td><td><code>{esc(candidate['profile_sha256'][:SHORT_HASH])}</code></td>"
            f"<td>{run.document['summary']['exit_code']}</td><td><small>{esc(str(run.path))}</small></td></tr>"
        )
    return (
        "<h2>実行 / Runs</h2><table><tr><th></th><th>候補 / candidate</th><th>種別 / kind</th>"
        "<th>開始 / started</th><th>スイート / suite</th><th>カタログ / catalog</th><th>プロファイル / profile</th>"
        f"<th>終了コード / exit</th><th>結果ファイル / results</th></tr>{''.join(rows)}</table>"
    )


def _matrix_table(c: Comparison, rows: Sequence[Row], out_path: Path) -> str:
    esc = html.escape
    head = "".join(_column_head(label, run, out_path) for label, run in zip(c.labels, c.runs, strict=True))
    body = []
    for row in rows:
        cells = []
        for run, cell in zip(c.runs, row.cells, strict=True):
            if cell is None:
                cells.append(f"<td>{_badge(None)}</td>")
                continue
            badge = _badge(cell["verdict"])
            if run.report_html.is_file():
                badge = f'<a class="cell" href="{esc(_href(run.report_html, out_path))}#{esc(row.id)}">{badge}</a>'
            cells.append(f'<td title="{esc(str(cell.get("reason", "")))}">{badge}{_cell_extra(cell)}</td>')
        marker = '<span class="mark" title="判定が異なる / verdicts differ">≠</span> ' if row.differs else ""
        level = LEVEL_LABELS.get(row.level, (row.level, row.level))
        title = f"{esc(row.title[0])}<br><small>{esc(row.title[1])}</small>" if row.title[0] else ""
        differs = ' class="differs"' if row.differs else ""
        body.append(
            f'<tr id="{esc(row.id)}"{differs}><td>{marker}<b>{esc(row.id)}</b>'
            f"</td><td>{title}</td><td>{esc(level[0])}<br><small>{esc(level[1])}</small></td>{''.join(cells)}</tr>"
        )
    return f"<table><tr><th>ID</th><th>要件 / requirement</th><th>水準 / level</th>{head}</tr>{''.join(body)}</table>"


def _legend() -> str:
    esc = html.escape
    badges = "".join(f'<span class="v {esc(v)}">{esc(ja)} / {esc(en)}</span>' for v, (ja, en) in LABELS.items())
    return (
        f'<p class="legend"><small>凡例 / legend:</small> {badges}<br><small><span class="mark">≠</span> '
        "行の強調: 判定が異なる / highlighted row: the verdicts differ</small></p>"
    )


def _differences(c: Comparison) -> str:
    esc = html.escape
    if not c.differing:
        return "<h2>判定か試験結果が異なる要件 / Requirements whose verdict or cases differ: 0</h2>"
    blocks = [f"<h2>判定か試験結果が異なる要件 / Requirements whose verdict or cases differ: {len(c.differing)}</h2>"]
    for diff in c.differing:
        verdicts = "".join(
            f"<tr><td><b>{esc(label)}</b></td><td>{_badge(verdict)}</td><td><small>{esc(reason)}</small></td></tr>"
            for label, (verdict, reason) in zip(c.labels, diff.sides, strict=True)
        )
        parts = [
            f'<div class="diff" id="diff-{esc(diff.id)}"><h3>{esc(diff.id)} {esc(diff.title[0])}<br>'
            f"<small>{esc(diff.title[1])} · {esc(_level_label(diff.level, ' / '))}</small></h3>"
            f"<table><tr><th></th><th>判定 / verdict</th><th>理由 / reason</th></tr>{verdicts}</table>"
        ]
        if diff.cases:
            rows = []
            for case in diff.cases:
                sides = "".join(
                    "<td>なし / absent</td>"
                    if side is None
                    else f'<td><span class="v {esc(side[0])}">{esc(side[0])}</span><pre>{esc(side[1])}</pre></td>'
                    for side in case.sides
                )
                rows.append(
                    f"<tr><td><code>{esc(case.nodeid)}</code><br><small>{esc(case.title)}</small></td>{sides}</tr>"
                )
            head = "".join(f"<th>{esc(label)}</th>" for label in c.labels)
            parts.append(f"<table><tr><th>異なる試験 / cases that differ</th>{head}</tr>{''.join(rows)}</table>")
        if diff.evidence:
            rows = []
            for evidence in diff.evidence:
                sides = "".join(f"<td><code>{esc(_hash_text(h))}</code></td>" for h in evidence.sides)
                rows.append(f"<tr><td><code>{esc(evidence.path)}</code></td>{sides}</tr>")
            head = "".join(f"<th>{esc(label)} sha256</th>" for label in c.labels)
            parts.append(f"<table><tr><th>異なる証跡 / evidence that differs</th>{head}</tr>{''.join(rows)}</table>")
        if diff.uncompared:
            files = "".join(f"<li><code>{esc(path)}</code></li>" for path in diff.uncompared)
            parts.append(
                f"<details><summary>比較できない証跡 {len(diff.uncompared)} 件（ハッシュ未記録で実行フォルダにも"
                f"ない）/ {len(diff.uncompared)} evidence file(s) not compared (no recorded hash, not in the "
                f"run folder)</summary><ul>{files}</ul></details>"
            )
        if not diff.cases and not diff.evidence:
            parts.append(f"<p><small>{esc(_NO_CASE_DIFFERS[0])} / {esc(_NO_CASE_DIFFERS[1])}</small></p>")
        parts.append("</div>")
        blocks.append("".join(parts))
    return "".join(blocks)


def render_html(comparison: Comparison, out_path: Path) -> str:
    """The comparison as one self-contained page (no external assets, works from file://). ``out_path`` is where
    the caller will write it: links to each run's report.html are relative to its folder. Nothing is written."""
    c, esc = comparison, html.escape
    shown = [row for row in c.rows if row.applies_somewhere]
    hidden = [row for row in c.rows if not row.applies_somewhere]
    if c.same_candidate:
        title_ja, title_en = f"実行の比較 — {c.runs[0].name}", f"Run comparison — {c.runs[0].name}"
        if c.agrees:
            result = '<div class="result ok">差異なし / no differences (exit 0)</div>'
        elif c.differing:
            result = (
                f'<div class="result bad">差異あり {len(c.differing)} 件 / {len(c.differing)} '
                "requirement(s) differ (exit 1)</div>"
            )
        else:
            result = (
                '<div class="result bad">判定の差異はないが前提が異なる / no verdict differs, but the '
                "identities do not match (exit 1)</div>"
            )
        partial = ""
        if c.partial:
            ids = ", ".join(f'<a href="#{esc(row.id)}">{esc(row.id)}</a>' for row in c.partial)
            partial = (
                f"<h2>一部の実行にしかない要件（比較していない）/ Requirements not in every run (not compared): "
                f"{len(c.partial)}</h2><p>{ids}</p>"
            )
        body = f"{result}{_differences(c)}{partial}<h2>全要件 / All requirements</h2>"
    else:
        title_ja, title_en = "候補比較表", "Candidate comparison matrix"
        differ = sum(row.differs for row in shown)
        body = (
            f'<p class="result">{len(c.runs)} 候補・要件 {len(shown)} 件、うち判定が異なる {differ} 件 / '
            f"{len(c.runs)} candidates, {len(shown)} requirements, {differ} with differing verdicts</p>"
            "<p><small>調達のための比較表で、合否の判定ではない / a procurement view, not a pass/fail check"
            "</small></p>"
        )
    hidden_html = ""
    if hidden:
        none = "どの実行" if c.same_candidate else "どの候補"
        hidden_html = (
            f"<details><summary>{none}にも対象外の要件 {len(hidden)} 件 / "
            f"{len(hidden)} requirements that apply to none</summary>"
            f"{_matrix_table(c, hidden, out_path)}</details>"
        )
    suites = sorted({f"suite {run.suite['version']} · catalog {_catalog_text(run)}" for run in c.runs})
    return f"""<!doctype html><html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title_ja)} / {esc(title_en)}</title><style>{_CSS}</style></head><body>
<header><h1>{esc(title_ja)} / {esc(title_en)}</h1><p>{esc(" | ".join(suites))}</p></header>
<main>{_warnings(c)}{_runs_table(c, out_path)}{body}{_matrix_table(c, shown, out_path)}{hidden_html}{_legend()}
</main></body></html>
"""
