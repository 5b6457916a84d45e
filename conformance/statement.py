"""The conformance statement (適合性確認結果): what a vendor hands to a municipality to sign off, one document per
language (``statement-ja`` and ``statement-en``), as self-contained HTML and as PDF printed by the suite's own
Chromium.

Reads a finished run's document (``conformance.json``) and the catalog only; verdict, level and exit-code labels
are report.py's. Every evidence file is named with its SHA-256: the one the document records (a case's
``evidence_sha256``, an attestation file's ``sha256``) or, for a run written before cases recorded it, the hash
of the file in the run folder. The checklist (conformance/checklist.py) shares this vocabulary.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.attestation import EXAMPLE_LABEL, STATUS_LABELS
from conformance.catalog.model import APPLIES_LABELS, check_lang
from conformance.errors import HarnessError
from conformance.report import EXIT_MEANING, LEVEL_LABELS, VERDICT_LABELS

CHROMIUM = Path("/usr/lib/chromium/chromium")
PDF_TIMEOUT_S = 60.0
SHORT_HASH = 12  # hex digits shown in tables; the full hash is in the title attribute and the bundle's manifest
NOT_RUN = "not_run"  # a catalog requirement this run did not decide (a --requirement run); not a verdict
# Labels report.py may not have: whatever happens, a waived requirement is never labelled as a pass.
_MORE_VERDICT_LABELS = {"waived": ("免除", "waived"), NOT_RUN: ("今回の実行対象外", "not in this run")}
VERDICT_ORDER = ("pass", "fail", "error", "waived", "manual", "not_tested", "not_applicable")
# (background, text) per verdict, as in report.html; the checklist fills its cells with them.
VERDICT_COLOURS = {
    "pass": ("d8f3dc", "1b5e20"),
    "fail": ("fddede", "8b0000"),
    "error": ("fff1c2", "7a4f00"),
    "waived": ("f3d9fa", "6a1b9a"),
    "manual": ("e3e7fd", "283593"),
    "not_tested": ("ffe0b2", "8d4b00"),
    "not_applicable": ("eceff1", "455a64"),
    NOT_RUN: ("ffffff", "5b6573"),
}
# A waiver file's [policy] exit (conformance/waivers.py).
WAIVER_EXIT_LABELS = {
    "accept": ("免除した不適合は終了コードに影響しない", "a waived failure does not make the exit code 1"),
    "fail": ("免除した不適合も終了コード 1 とする", "a waived failure still makes the exit code 1"),
}


# -- shared with the checklist -----------------------------------------------------------------------
def verdict_labels(verdict: str) -> tuple[str, str]:
    """(Japanese, English) label of a verdict."""
    return VERDICT_LABELS.get(verdict) or _MORE_VERDICT_LABELS.get(verdict) or (verdict, verdict)


def level_labels(level: str) -> tuple[str, str]:
    return LEVEL_LABELS.get(level, (level, level))


def exit_meaning(code: int) -> tuple[str, str]:
    return EXIT_MEANING.get(code) or (f"終了コード {code}", f"exit code {code}")


def waiver_exit_labels(policy: str | None) -> tuple[str, str]:
    return WAIVER_EXIT_LABELS.get(policy or "", (str(policy), str(policy)))


def ordered_counts(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """The summary's counts: known verdicts in a fixed order, then any other."""
    return [(v, counts[v]) for v in VERDICT_ORDER if v in counts] + [
        (v, n) for v, n in counts.items() if v not in VERDICT_ORDER
    ]


def requirement_entries(document: Mapping[str, Any], catalog: Any) -> list[tuple[str, Any, dict[str, Any]]]:
    """(ID, catalog requirement or None, entry) for every catalog requirement in catalog order, then any the
    catalog does not know (a document of another catalog). A requirement the run did not decide (a
    ``--requirement`` run) gets a ``not_run`` entry, so nobody takes a partial run for a whole one."""
    entries = document["requirements"]
    rows = []
    for rid, requirement in catalog.requirements.items():
        entry = entries.get(rid) or {
            "verdict": NOT_RUN,
            "level": requirement.level,
            "reason": "この実行では選択されていない / not selected in this run",
            "cases": [],
        }
        rows.append((rid, requirement, entry))
    rows += [(rid, None, entry) for rid, entry in entries.items() if rid not in catalog.requirements]
    return rows


def problem_cases(entry: Mapping[str, Any]) -> list[str]:
    """One line per case that failed or could not decide: outcome, title, the first line of its message."""
    lines = []
    for case in entry.get("cases", []):
        if case["outcome"] in ("fail", "error"):
            message = (case.get("message") or "").strip().splitlines()
            detail = f" — {message[0][:300]}" if message else ""
            lines.append(f"{case['outcome']}: {case.get('title') or case['nodeid']}{detail}")
    return lines


def file_sha256(path: Path) -> str | None:
    """The file's SHA-256, or None when it cannot be read."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


@dataclass(frozen=True)
class EvidenceRef:
    path: str  # relative to the run folder
    sha256: str | None  # None: neither recorded nor readable in the run folder

    @property
    def short(self) -> str:
        return self.sha256[:SHORT_HASH] if self.sha256 else "—"


class EvidenceHashes:
    """The evidence files of a requirement with their SHA-256: as the document records them, else hashed from the
    run folder (each file once). A path that leads out of the run folder is never read."""

    def __init__(self, run_dir: Path | None) -> None:
        self.run_dir = run_dir.resolve() if run_dir is not None else None
        self._hashed: dict[str, str | None] = {}

    def _hash(self, relative: str) -> str | None:
        if self.run_dir is None:
            return None
        if relative not in self._hashed:
            path = (self.run_dir / relative).resolve()
            self._hashed[relative] = file_sha256(path) if path.is_relative_to(self.run_dir) else None
        return self._hashed[relative]

    def of_cases(self, entry: Mapping[str, Any]) -> list[EvidenceRef]:
        """Every file the requirement's cases kept, once each, in order."""
        refs: dict[str, EvidenceRef] = {}
        for case in entry.get("cases", []):
            recorded = case.get("evidence_sha256") or {}
            for path in case.get("evidence", []):
                if path not in refs:
                    refs[path] = EvidenceRef(path, recorded.get(path) or self._hash(path))
        return list(refs.values())

    def of_attestation(self, entry: Mapping[str, Any]) -> list[EvidenceRef]:
        """The attestation's evidence files (copied into the run folder and hashed when the run was written)."""
        record = entry.get("attestation") or {}
        return [EvidenceRef(e["path"], e.get("sha256") or self._hash(e["path"])) for e in record.get("evidence", [])]


def write_atomically(path: Path, data: bytes) -> Path:
    """Write through a temporary file in the same folder, then rename: a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


# -- HTML --------------------------------------------------------------------------------------------
# The longer sentences of the statement, (Japanese, English); short labels are written where they are used.
_PHRASES = {
    "subtitle": (
        "「{catalog_ja}」第 {version} 版に基づく試験結果（conformance statement）",
        "Results of testing against the {catalog_en}, version {version}",
    ),
    "namespace": (
        "端末のネットワーク名前空間（namespace）: 全パケットを観測",
        "the terminal's network namespace: every packet observed",
    ),
    "proxy": (
        "プロキシ経由の通信のみ（proxy）: 特定通信の要件の適合はプロキシを通った通信についてだけの判定",
        "proxy only: the 特定通信 verdicts cover proxied traffic only",
    ),
    "partial": (
        "部分実行: 選択された要件（{ids}）だけを判定した。その他の要件は判定していない。",
        "Partial run: only the selected requirements ({ids}) were decided; the others were not.",
    ),
    "other_catalog": (
        "この結果は別の要件カタログ（SHA-256 {sha}…）で判定された。要件名は現在のカタログ（{version}）のもの。",
        "The run was decided against another catalog (SHA-256 {sha}…); titles are those of catalog {version}.",
    ),
    "proxy_warning": (
        "通信はプロキシ経由でのみ観測した。特定通信の要件は名前空間で観測した（namespace）結果でのみ受け入れること。",
        "Traffic was observed through the proxy only: accept the 特定通信 requirements only from a run observed "
        "in the terminal's namespace.",
    ),
    "examples": (
        "証跡 {n} 件は例（example）であり実際の証跡ではない。署名の前に実際の証跡に差し替えること。",
        "{n} attestations are examples, not real evidence: replace them before signing.",
    ),
    "scope": (
        "判定は独立した観測（オラクル）に基づく自動試験の結果。要証跡（manual）の要件は試験では判定されず、"
        "提出された文書の内容の確認は読む人が行う。",
        "Verdicts come from automated cases judged by independent observers (oracles). Manual requirements are "
        "never decided by the suite: the documents handed in are for the reader to assess.",
    ),
    "quoted": (
        "判定理由と試験名は試験記録（conformance.json）のまま。証跡ファイルの SHA-256 は先頭 {n} 桁。",
        "Reasons and case titles are quoted from the run record (conformance.json). Evidence SHA-256: first {n} "
        "hex digits.",
    ),
    "attested_scope": (
        "スイートは形式・日付・ファイルのハッシュを確認した。文書の内容の確認は読む人が行う。",
        "The suite checked form, dates and file hashes; the documents themselves are for the reader to assess.",
    ),
    "waived_scope": (
        "免除（waived）は適合（pass）ではない。本来の判定を併記する。",
        "A waived requirement is not a pass; its original verdict is shown with it.",
    ),
    "bundle": (
        "署名付き証跡バンドル（evidence-bundle.zip）の manifest.json は、本書・試験記録（conformance.json）・"
        "証跡を含む実行フォルダのすべてのファイルを SHA-256 で固定し、Ed25519 で署名される。本書の短縮ハッシュは"
        "全 64 桁の先頭であり、照合はマニフェストの全桁で行う"
        "（conformance verify evidence-bundle.zip --pubkey 公開鍵）。",
        "The signed evidence bundle (evidence-bundle.zip) holds manifest.json, which pins every file of the run "
        "folder — this statement, the run record (conformance.json) and all evidence — by its SHA-256 and is "
        "signed with Ed25519. The short hashes here are the first digits of those 64; check against the "
        "manifest's full hashes (conformance verify evidence-bundle.zip --pubkey KEY.pub).",
    ),
    "signoff": (
        "上記の試験結果、証跡及び免除の内容を確認した。",
        "We have reviewed the results, attestations and waivers above.",
    ),
}
_FONTS = {
    "ja": '"Noto Sans CJK JP","Noto Sans JP","Noto Sans",sans-serif',
    "en": '"Noto Sans","Noto Sans CJK JP",sans-serif',  # reasons and titles quoted from the run are bilingual
}
_MONO = '"Noto Sans Mono CJK JP","DejaVu Sans Mono",monospace'
_CSS = """
@page{size:A4;margin:14mm 12mm 16mm}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{font-family:%(font)s;font-size:9.5pt;line-height:1.45;color:#1d2430;margin:0}
@media screen{body{max-width:210mm;margin:0 auto;padding:10mm 12mm}}
h1{font-size:19pt;margin:0}h1 small{font-size:11pt;font-weight:400;color:#5b6573;margin-left:8pt}
.subtitle{margin:2pt 0 10pt;color:#5b6573}
h2{font-size:12.5pt;margin:16pt 0 6pt;padding-bottom:2pt;border-bottom:2px solid #17324d;break-after:avoid}
table{border-collapse:collapse;width:100%%;margin:4pt 0}thead{display:table-header-group}
tr,tbody.req,.keep{break-inside:avoid;page-break-inside:avoid}
th,td{border:1px solid #c9ced6;padding:3pt 5pt;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}table.facts th{width:28%%}
code,.hash{font-family:%(mono)s;font-size:7.5pt;word-break:break-all}
small{font-size:7.5pt;color:#5b6573}p.small{font-size:8pt;color:#5b6573}
.v{display:inline-block;padding:1pt 6pt;border-radius:8pt;font-weight:700}
%(verdicts)s
.att-attested{background:#d0ecf5;color:#0b4f6c}.att-pending{background:#ffe0b2;color:#8d4b00}
.att-expired{background:#fddede;color:#8b0000;border:1px solid #8b0000}
.result{font-size:13pt;font-weight:700;margin:6pt 0}.note{color:#8a5a00;font-weight:600}
.warn{border:1.5pt solid #8b0000;color:#8b0000;padding:4pt 6pt;margin:4pt 0;font-weight:600}
.example{display:inline-block;border:1.5pt dashed #8b0000;color:#8b0000;font-weight:700;padding:0 4pt;margin-top:2pt}
table.counts td{text-align:center}table.counts b{font-size:13pt;display:block}
ul.ev{margin:1pt 0 0;padding:0;list-style:none}ul.ev li{break-inside:avoid;padding-left:10pt;text-indent:-10pt}
section.requirements{break-before:page}.date{white-space:nowrap}
ul.files{margin:2pt 0 0;padding:0;list-style:none}
td.evidence{background:#fafbfc}ul.cases{margin:2pt 0 0;padding-left:12pt;color:#8b0000}
.sign{display:flex;gap:10mm;margin-top:6pt}.sign .box{flex:1;border:1px solid #8a93a0;padding:6pt 8pt}
.sign h3{margin:0 0 6pt;font-size:10.5pt}.line{border-bottom:1px solid #1d2430;min-height:20pt;margin:2pt 0 8pt}
.line span{font-size:8pt;color:#5b6573}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


class _Page:
    """The text and markup helpers of one language."""

    def __init__(self, lang: str) -> None:
        self.lang = check_lang(lang)
        self.index = 0 if self.lang == "ja" else 1

    def t(self, ja: str, en: str) -> str:
        """The text of this page's language (not escaped)."""
        return (ja, en)[self.index]

    def h(self, ja: str, en: str) -> str:
        """The text of this page's language, escaped for HTML."""
        return esc((ja, en)[self.index])

    def say(self, key: str, **values: Any) -> str:
        """A phrase of _PHRASES in this page's language, escaped."""
        return esc(_PHRASES[key][self.index].format(**values))

    def pair(self, labels: tuple[str, str]) -> str:
        """A label: Japanese with the English term in parentheses, or English alone. Escaped."""
        return f"{esc(labels[0])} <small>({esc(labels[1])})</small>" if self.index == 0 else esc(labels[1])

    def verdict(self, verdict: str) -> str:
        return f'<span class="v {esc(verdict)}">{self.pair(verdict_labels(verdict))}</span>'

    def hash_ref(self, ref: EvidenceRef) -> str:
        """The short hash, with the full path and hash in its title attribute."""
        if not ref.sha256:
            return f'<span class="note" title="{esc(ref.path)}">{self.h("ファイルなし", "file missing")}</span>'
        return f'<span class="hash" title="{esc(ref.path)} sha256 {esc(ref.sha256)}">{esc(ref.short)}</span>'

    def evidence(self, refs: list[EvidenceRef]) -> str:
        """Evidence files grouped by folder: each folder once, then its files with their short hashes."""
        folders: dict[str, list[str]] = {}
        for ref in refs:
            folder, _, name = ref.path.rpartition("/")
            folders.setdefault(folder, []).append(f"<code>{esc(name)}</code> {self.hash_ref(ref)}")
        items = "".join(
            f"<li><code>{esc(folder)}/</code> {' · '.join(files)}</li>" for folder, files in folders.items()
        )
        return f'<ul class="ev">{items}</ul>'

    def heading(self, ja: str, en: str) -> str:
        return f"<h2>{self.h(ja, en)}</h2>"

    def table(self, headers: list[tuple[str, int]], rows: list[str]) -> str:
        """A table with a repeated header; ``headers``: (text, width in %, 0 for the rest)."""
        cols = "".join(f'<col style="width:{w}%">' if w else "<col>" for _, w in headers)
        head = "".join(f"<th>{esc(h)}</th>" for h, _ in headers)
        return f"<table><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>{''.join(rows)}</table>"

    def facts(self, rows: list[tuple[str, str]]) -> str:
        """A two-column table of label and value (the value is HTML already)."""
        body = "".join(f"<tr><th>{esc(label)}</th><td>{value}</td></tr>" for label, value in rows)
        return f'<table class="facts">{body}</table>'


def _css(lang: str) -> str:
    verdicts = "".join(f".{v}{{background:#{bg};color:#{fg}}}" for v, (bg, fg) in VERDICT_COLOURS.items())
    verdicts += f".waived{{border:1px dashed #6a1b9a}}.{NOT_RUN}{{border:1px dashed #5b6573}}"
    return _CSS % {"font": _FONTS[lang], "mono": _MONO, "verdicts": verdicts}


def _duration(seconds: float | None, page: _Page) -> str:
    if seconds is None:
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    return page.t(f"{seconds} 秒（{minutes} 分 {rest} 秒）", f"{seconds} s ({minutes} min {rest} s)")


def _stamp(value: str | None) -> str:
    return esc(value.replace("T", " ")) if value else "—"


def _observation(network: Mapping[str, Any], page: _Page) -> str:
    observation = network.get("observation")
    if observation == "namespace":
        return page.say("namespace")
    if observation == "proxy":
        why = network.get("fallback_reason") or network.get("not_observable") or ""
        return f'<span class="note">⚠ {page.say("proxy")}</span>' + (f"<br><small>{esc(why)}</small>" if why else "")
    return page.h("記録なし", "not recorded")


def _identity(document: Mapping[str, Any], page: _Page) -> str:
    candidate, suite, t = document["candidate"], document["suite"], page.t
    kind = APPLIES_LABELS[page.lang].get(candidate["kind"], candidate["kind"])
    claims = ", ".join(f"{k} = {v}" for k, v in (candidate.get("claims") or {}).items())
    candidate_rows = [
        (t("製品名", "Name"), f"<b>{esc(candidate['name'])}</b>"),
        (t("ベンダー（事業者）", "Vendor"), esc(candidate["vendor"])),
        (t("バージョン", "Version"), esc(candidate["version"])),
        (t("種別", "Kind"), esc(kind)),
        (
            t("申告したカタログプロファイル", "Catalog profiles claimed"),
            esc(", ".join(candidate.get("catalog_profiles") or [])),
        ),
        (t("申告事項（claims）", "Claims"), esc(claims) or "—"),
        (
            t("候補プロファイルの SHA-256", "Candidate profile SHA-256"),
            f"<code>{esc(candidate['profile_sha256'])}</code>",
        ),
    ]
    env = document.get("environment") or {}
    versions = ", ".join(f"{k} {env[k]}" for k in ("python", "playwright", "mitmproxy", "pytest") if k in env)
    run_rows = [
        (t("試験スイート", "Suite"), f"{esc(suite['name'])} {esc(suite['version'])}"),
        (t("要件カタログの版", "Requirement catalog version"), esc(suite["catalog_version"])),
        (t("要件カタログの SHA-256", "Requirement catalog SHA-256"), f"<code>{esc(suite['catalog_sha256'])}</code>"),
        (t("開始", "Started"), _stamp(document.get("started"))),
        (t("終了", "Finished"), _stamp(document.get("finished"))),
        (t("所要時間", "Duration"), esc(_duration(document.get("duration_s"), page))),
        (t("通信の観測方式", "Network observation"), _observation(document.get("network") or {}, page)),
        (t("実行環境", "Environment"), f"{esc(env.get('platform', '—'))}<br><small>{esc(versions)}</small>"),
    ]
    inputs = document.get("inputs") or {}
    if inputs:  # the input files the run folder keeps copies of
        files = "".join(
            f"<li>{esc(role)}: <code>{esc(item.get('path'))}</code> <small>sha256</small> "
            f"<code>{esc(item.get('sha256'))}</code></li>"
            for role, item in inputs.items()
        )
        run_rows.append((t("入力ファイル", "Input files"), f'<ul class="files">{files}</ul>'))
    return (
        f"{page.heading('1. 候補製品', '1. Candidate')}{page.facts(candidate_rows)}"
        f"{page.heading('2. 試験スイートと実行', '2. Suite and run')}{page.facts(run_rows)}"
    )


def _warnings(document: Mapping[str, Any], catalog: Any, page: _Page) -> list[str]:
    """What a signer must know before trusting the result, said once at the top (escaped)."""
    out = []
    if document.get("selection") is not None:
        out.append(page.say("partial", ids=", ".join(document["selection"])))
    out += [
        esc(page.t("試験の収集エラー: ", "Collection error: ") + e) for e in document.get("collection_errors") or []
    ]
    if document["suite"]["catalog_sha256"] != catalog.sha256:
        out.append(
            page.say("other_catalog", sha=document["suite"]["catalog_sha256"][:SHORT_HASH], version=catalog.version)
        )
    if (document.get("network") or {}).get("observation") == "proxy":
        out.append(page.say("proxy_warning"))
    examples = sum(1 for e in document["requirements"].values() if (e.get("attestation") or {}).get("example"))
    if examples:
        out.append(page.say("examples", n=examples))
    return out


def _result(document: Mapping[str, Any], catalog: Any, page: _Page) -> str:
    summary = document["summary"]
    code = summary["exit_code"]
    counts = "".join(f"<td>{page.verdict(v)}<b>{n}</b></td>" for v, n in ordered_counts(summary.get("counts") or {}))
    warnings = "".join(f'<div class="warn">⚠ {text}</div>' for text in _warnings(document, catalog, page))
    return (
        f"{page.heading('3. 総合結果', '3. Overall result')}"
        f'<div class="result">{esc(exit_meaning(code)[page.index])} '
        f"<small>({esc(page.t('終了コード', 'exit code'))} {esc(code)})</small></div>"
        f'{warnings}<table class="counts keep"><tr>{counts}</tr></table><p class="small">{page.say("scope")}</p>'
    )


def _requirement_row(rid: str, requirement: Any, entry: Mapping[str, Any], page: _Page, hashes: EvidenceHashes) -> str:
    title = esc(requirement.title(page.lang)) if requirement else page.h("（カタログにない）", "(not in the catalog)")
    reason = f"<small>{esc(entry.get('reason', ''))}</small>"
    problems = problem_cases(entry)
    if problems:
        reason += '<ul class="cases">' + "".join(f"<li><small>{esc(p)}</small></li>" for p in problems) + "</ul>"
    waiver = entry.get("waiver")
    if waiver:
        original = page.verdict(waiver.get("original_verdict") or "fail")
        see = page.h("本来の判定（詳細は 6. 免除）", "Original verdict (see 6. Waivers)")
        reason += f"<br><small>{see}:</small> {original}"
    refs = hashes.of_cases(entry) + hashes.of_attestation(entry)
    evidence = ""
    if refs:
        label = page.h("証跡ファイル", "Evidence files")
        evidence = f'<tr><td class="evidence" colspan="5"><small>{label}</small>{page.evidence(refs)}</td></tr>'
    return (
        f'<tbody class="req" id="req-{esc(rid)}"><tr><td><b>{esc(rid)}</b></td><td>{title}</td>'
        f"<td>{page.pair(level_labels(entry['level']))}</td><td>{page.verdict(entry['verdict'])}</td>"
        f"<td>{reason}</td></tr>{evidence}</tbody>"
    )


def _requirements(document: Mapping[str, Any], catalog: Any, page: _Page, hashes: EvidenceHashes) -> str:
    t = page.t
    rows = [_requirement_row(*row, page, hashes) for row in requirement_entries(document, catalog)]
    headers = [("ID", 9), (t("要件", "Requirement"), 27), (t("水準", "Level"), 10), (t("判定", "Verdict"), 14)]
    table = page.table([*headers, (t("判定理由", "Reason"), 0)], rows)
    return (
        f'<section class="requirements">{page.heading("4. 要件ごとの判定", "4. Verdict per requirement")}'
        f'<p class="small">{page.say("quoted", n=SHORT_HASH)}</p>{table}</section>'
    )


def _attestation_row(rid: str, requirement: Any, record: Mapping[str, Any], page: _Page) -> str:
    status = record["status"]
    badges = f'<span class="v att-{esc(status)}">{page.pair(STATUS_LABELS.get(status, (status, status)))}</span>'
    if record.get("example"):
        not_real = page.h("実際の証跡ではない", "not real evidence")
        badges += f'<br><span class="example">{page.pair(EXAMPLE_LABEL)}: {not_real}</span>'
    if record.get("applicable") is False:
        badges += (
            f"<br><small>{page.h('対象外の要件（判定に使わない）', 'requirement not applicable (not used)')}</small>"
        )
    requirement_cell = (
        f"<td><b>{esc(rid)}</b><br><small>{esc(requirement.title(page.lang) if requirement else '')}</small></td>"
    )
    if record["status"] == "pending":
        nothing = page.h("証跡は提出されていない", "nothing was handed in")
        return f'<tr>{requirement_cell}<td>{badges}</td><td colspan="3">{nothing}</td></tr>'
    who = esc(record.get("attested_by"))
    if record.get("organisation"):
        who += f"<br><small>{esc(record['organisation'])}</small>"
    who += f"<br>{esc(record.get('role'))}"
    if record.get("registration_number"):
        who += f"<br><small>{page.h('登録番号', 'Registration no.')}</small> {esc(record['registration_number'])}"
    files = "".join(
        f"<li><code>{esc(e['path'])}</code><br><small>{esc(e.get('bytes', '?'))} bytes · sha256</small> "
        f"<code>{esc(e.get('sha256'))}</code></li>"
        for e in record.get("evidence", [])
    )
    notes = "".join(f'<br><span class="note">⚠ {esc(n)}</span>' for n in record.get("notes", []))
    return (
        f"<tr>{requirement_cell}<td>{badges}</td><td>{who}</td>"
        f"<td class='date'>{esc(record.get('date'))}<br>→ {esc(record.get('expires'))}</td>"
        f'<td><small>{esc(record.get("statement"))}</small><ul class="files">{files}</ul>{notes}</td></tr>'
    )


def _attestations(document: Mapping[str, Any], catalog: Any, page: _Page) -> str:
    t = page.t
    heading = page.heading("5. 証跡による確認事項（要証跡）", "5. Attested manual requirements")
    rows = [
        _attestation_row(rid, requirement, entry["attestation"], page)
        for rid, requirement, entry in requirement_entries(document, catalog)
        if entry.get("attestation")
    ]
    if not rows:
        return f"{heading}<p>{page.h('なし', 'None')}</p>"
    where = document.get("attestations") or {}
    source = ""
    if where.get("file"):
        source = (
            f'<p class="small">{page.h("証跡ファイル", "Attestation file")}: {esc(Path(where["file"]).name)} · '
            f"sha256 <code>{esc(where.get('sha256'))}</code> · {page.h('判定日', 'judged on')} "
            f"{esc(where.get('checked_on'))}</p>"
        )
    headers = [
        (t("要件", "Requirement"), 14),
        (t("状態", "Status"), 14),
        (t("証明者・役割", "Attested by, role"), 20),
        (t("日付 → 有効期限", "Date → expires"), 12),
        (t("証明内容・証跡ファイル", "Statement, evidence files"), 0),
    ]
    return f'{heading}{source}<p class="small">{page.say("attested_scope")}</p>{page.table(headers, rows)}'


def _waiver_row(rid: str, requirement: Any, entry: Mapping[str, Any], candidate: str, page: _Page) -> str:
    t, waiver = page.t, entry["waiver"]
    other = ""
    if waiver.get("candidate") and waiver["candidate"] != candidate:
        other = f'<br><span class="note">⚠ {page.h("別の候補向け", "issued for another candidate")}</span>'
    original = waiver.get("original_verdict")
    policy = waiver_exit_labels(waiver.get("exit"))[page.index]
    applies_to = waiver.get("candidate") or t("全候補", "all")
    return (
        f"<tr><td><b>{esc(rid)}</b><br><small>{esc(requirement.title(page.lang) if requirement else '')}</small></td>"
        f"<td>{page.verdict(entry['verdict'])}<br><small>{page.h('本来の判定', 'original')}:</small> "
        f"{page.verdict(original) if original else '—'}</td>"
        f"<td>{esc(waiver.get('justification'))}<br><small>{page.h('決裁・参照', 'reference')}: "
        f"{esc(waiver.get('reference') or '—')}<br>{esc(policy)}</small></td>"
        f"<td>{esc(waiver.get('approver'))}<br><small>{esc(waiver.get('approved'))}</small></td>"
        f"<td>{esc(waiver.get('expires'))}</td><td>{esc(applies_to)}{other}</td></tr>"
    )


def _waivers(document: Mapping[str, Any], catalog: Any, page: _Page) -> str:
    t = page.t
    heading = page.heading("6. 免除", "6. Waivers")
    where = document.get("waivers") or {}
    source = ""
    if where.get("file"):
        unused = ", ".join(where.get("unused") or []) or "—"
        source = (
            f'<p class="small">{page.h("免除ファイル", "Waiver file")}: {esc(Path(where["file"]).name)} · sha256 '
            f"<code>{esc(where.get('sha256'))}</code> · {page.h('件数', 'entries')} {esc(where.get('entries'))} · "
            f"{page.h('確認日', 'checked on')} {esc(where.get('checked_on'))}<br>"
            f"{esc(waiver_exit_labels(where.get('exit'))[page.index])} · "
            f"{page.h('未使用（不適合ではなかった）', 'unused (did not fail)')}: {esc(unused)}</p>"
        )
    candidate = document["candidate"]["name"]
    rows = [
        _waiver_row(rid, requirement, entry, candidate, page)
        for rid, requirement, entry in requirement_entries(document, catalog)
        if entry.get("waiver")
    ]
    if not rows:
        return f"{heading}{source}<p>{page.h('免除なし', 'None')}</p>"
    headers = [
        (t("要件", "Requirement"), 14),
        (t("判定", "Verdict"), 14),
        (t("理由", "Justification"), 0),
        (t("承認者・承認日", "Approved by, on"), 16),
        (t("期限", "Expires"), 10),
        (t("対象候補", "Candidate"), 12),
    ]
    return f'{heading}{source}<p class="small">{page.say("waived_scope")}</p>{page.table(headers, rows)}'


def _bundle(page: _Page, run_dir: Path | None) -> str:
    record = ""
    digest = file_sha256(run_dir / "conformance.json") if run_dir is not None else None
    if digest:
        record = f'<p class="small">conformance.json sha256 <code>{esc(digest)}</code></p>'
    return f"{page.heading('7. 証跡一式', '7. Evidence bundle')}<p>{page.say('bundle')}</p>{record}"


def _signoff(document: Mapping[str, Any], page: _Page) -> str:
    t = page.t

    def box(title: str, organisation: str = "") -> str:
        lines = [
            (t("団体名・事業者名", "Organisation"), organisation),
            (t("所属・役職", "Department, title"), ""),
            (t("氏名", "Name"), ""),
            (t("日付", "Date"), ""),
            (t("署名又は記名押印", "Signature"), ""),
        ]
        fields = "".join(f'<div class="line"><span>{esc(label)}</span> {esc(value)}</div>' for label, value in lines)
        return f'<div class="box"><h3>{esc(title)}</h3>{fields}</div>'

    vendor = box(t("ベンダー（事業者）", "Vendor"), document["candidate"]["vendor"])
    municipality = box(t("地方公共団体", "Municipality"))
    return (
        f'<div class="keep">{page.heading("8. 確認・承認", "8. Sign-off")}<p>{page.say("signoff")}</p>'
        f'<div class="sign">{vendor}{municipality}</div></div>'
    )


def render_statement_html(document: Mapping[str, Any], catalog: Any, lang: str, *, run_dir: Path | None = None) -> str:
    """The statement in one language ("ja" or "en"): one self-contained page (inline CSS, nothing to load).

    ``run_dir``: the run folder, to hash the evidence files a case recorded no hash for (and conformance.json);
    without it those show "file missing"."""
    page = _Page(lang)
    candidate = document["candidate"]
    hashes = EvidenceHashes(run_dir)
    title = page.t("適合性確認結果", "Conformance statement")
    subtitle = page.say(
        "subtitle",
        catalog_ja=catalog.title("ja"),
        catalog_en=catalog.title("en"),
        version=document["suite"]["catalog_version"],
    )
    return f"""<!doctype html><html lang="{page.lang}"><head><meta charset="utf-8">
<title>{esc(title)} — {esc(candidate["name"])}</title><style>{_css(page.lang)}</style></head><body>
<h1>{esc(title)}<small>{esc(candidate["name"])}</small></h1><p class="subtitle">{subtitle}</p>
{_identity(document, page)}
{_result(document, catalog, page)}
{_requirements(document, catalog, page, hashes)}
{_attestations(document, catalog, page)}
{_waivers(document, catalog, page)}
{_bundle(page, run_dir)}
{_signoff(document, page)}
</body></html>
"""


# -- PDF ---------------------------------------------------------------------------------------------
def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _stderr_tail(stderr: bytes, lines: int = 12) -> str:
    # Chromium's complaints about a missing D-Bus are noise here; whatever else it said is the reason.
    text = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip() and "dbus" not in line]
    return " | ".join(text[-lines:])[-1500:] or "(nothing on stderr)"


def _drain(process: subprocess.Popen[bytes]) -> bytes:
    """What a killed process wrote to stderr, without waiting on a stray process that still holds the pipe."""
    try:
        return process.communicate(timeout=5)[1] or b""
    except subprocess.TimeoutExpired:
        if process.stderr is not None:
            process.stderr.close()
        process.wait()
        return b""


def _complete_pdf(path: Path) -> bool:
    """A PDF from its header to its end-of-file marker (Chromium writes it in one go when it has finished)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]


def render_pdf(html_path: Path, pdf_path: Path, chromium: Path = CHROMIUM, timeout: float = PDF_TIMEOUT_S) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium, in a throw-away profile folder that is also its
    HOME. The PDF appears complete or not at all (printed to a temporary name, checked, renamed); otherwise
    HarnessError("statement", ...) says why, with the end of Chromium's stderr."""
    partial = pdf_path.with_name(f".{pdf_path.name}.{os.getpid()}.part")
    partial.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="conformance-statement-", ignore_cleanup_errors=True) as home:
        argv = [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--user-data-dir={home}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--print-to-pdf={partial}",
            html_path.resolve().as_uri(),
        ]
        env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": f"{home}/.config", "XDG_CACHE_HOME": f"{home}/.cache"}
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise HarnessError("statement", f"cannot start {chromium}: {exc.strerror or exc}") from None
        timed_out = False
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process.pid)
            stderr = _drain(process)
        finally:
            _kill_group(process.pid)  # helpers Chromium may leave behind, so that its profile folder can go
    outcome = f"timed out after {timeout:g} s" if timed_out else f"exit {process.returncode}"
    if timed_out or not _complete_pdf(partial):  # a PDF cut short by the time-out is no PDF either
        partial.unlink(missing_ok=True)
        raise HarnessError("statement", f"no PDF of {html_path.name} ({outcome}): {_stderr_tail(stderr)}")
    os.replace(partial, pdf_path)
    return pdf_path


def write_statement(run_dir: Path, document: Mapping[str, Any], catalog: Any, chromium: Path = CHROMIUM) -> list[Path]:
    """Write statement-ja.html and statement-en.html into the run folder and print each to PDF with ``chromium``.

    Returns [statement-ja.html, statement-ja.pdf, statement-en.html, statement-en.pdf]."""
    written = []
    for lang in ("ja", "en"):
        page = run_dir / f"statement-{lang}.html"
        write_atomically(page, render_statement_html(document, catalog, lang, run_dir=run_dir).encode("utf-8"))
        written += [page, render_pdf(page, run_dir / f"statement-{lang}.pdf", chromium)]
    return written
