"""Write what a run decided: ``conformance.json``, ``report.html``, ``catalog.html`` and the Allure
environment, with the attestations of the manual requirements (their evidence copied into ``evidence/`` and one
Allure result each). Reads result data and the catalog only; knows nothing of drivers or oracles."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import importlib.metadata
import json
import platform
import shutil
import unicodedata
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.attestation import EXAMPLE_LABEL, STATUS_LABELS, copy_evidence, write_allure_results
from conformance.verdicts import aggregate, attestation_counts, counts, exit_code, unused_waivers

SCHEMA = "lgwan-conformance/result-v1"
VERDICT_LABELS = {
    "pass": ("適合", "pass"),
    "fail": ("不適合", "fail"),
    "error": ("判定不能", "error"),
    "not_applicable": ("対象外", "not applicable"),
    "manual": ("要証跡", "manual"),
    "not_tested": ("未試験", "not tested"),
    "waived": ("免除", "waived"),  # a failure someone accepted for a while: never shown as pass
}
LEVEL_LABELS = {"must": ("必須", "must"), "should": ("推奨", "should"), "optional": ("オプション", "optional")}
EXIT_MEANING = {
    0: ("全ての必須要件に適合", "every applicable must-level requirement passed"),
    1: ("必須要件に不適合あり", "a must-level requirement failed"),
    3: ("判定できない必須要件あり", "some must-level requirements could not be decided"),
}


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run_date(run: Any) -> dt.date:
    """The day attestations are judged on (expired or not): the local date the run started."""
    return run.started.astimezone().date()


def build_document(run: Any) -> dict[str, Any]:
    profile, catalog = run.profile, run.catalog
    attestations = getattr(run, "attestations", None)  # conformance.attestation.AttestationSet, or None
    waivers = getattr(run, "waivers", None)  # conformance.waivers.WaiverSet, or None
    waived = waivers.for_candidate(profile.name) if waivers is not None else None
    today = run_date(run)
    verdicts = aggregate(
        catalog, profile.kind, profile.claims, profile.candidate.catalog_profiles, run.results.values(),
        attestations.records(today) if attestations is not None else None, waived,
    )
    if run.selected is not None:  # --requirement: only what was asked for is decided and reported
        verdicts = {rid: verdict for rid, verdict in verdicts.items() if rid in run.selected}
    return {
        "schema": SCHEMA,
        "suite": {
            "name": "lgwan-conformance",
            "version": __version__,
            "catalog_version": catalog.version,
            "catalog_sha256": catalog.sha256,
        },
        "candidate": {
            "name": profile.name,
            "vendor": profile.candidate.vendor,
            "version": profile.candidate.version,
            "kind": profile.kind,
            "profile_path": str(profile.path),
            "profile_sha256": profile.sha256,
            "catalog_profiles": profile.candidate.catalog_profiles,
            "claims": profile.claims,
        },
        "started": run.started.isoformat(timespec="seconds"),
        "finished": run.finished.isoformat(timespec="seconds"),
        "duration_s": round((run.finished - run.started).total_seconds(), 1),
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "playwright": _version("playwright"),
            "mitmproxy": _version("mitmproxy"),
            "pytest": _version("pytest"),
            "terminal_env": dict(run.terminal_env),
            "driver": dict(getattr(run, "driver_facts", {}) or {}),
            # conformance run -n N: the cases ran on this many worker processes (evidence/workers/ says which where)
            **({"workers": run.workers} if getattr(run, "workers", 0) else {}),
        },
        "network": dict(getattr(run, "network", {}) or {"observation": None}),
        "selection": run.selected,
        # Ctrl-C: the cases that did not finish are errors, and the run is not a whole one (the CLI exits 130).
        "incomplete": bool(getattr(run, "interrupted", "")),
        "incomplete_reason": getattr(run, "interrupted", "") or None,
        "attestations": attestations.provenance(today) if attestations is not None else None,
        "waivers": ({**waivers.provenance(profile.name), "unused": unused_waivers(verdicts, waived)}
                    if waivers is not None else None),
        "inputs": {},  # filled by write_run: the copies of the input files in the run folder
        "summary": {
            "counts": counts(verdicts),
            # Never part of the exit code: manual requirements do not block 0, attested or not.
            "attestations": attestation_counts(verdicts),
            "exit_code": _exit_code(verdicts, run.collection_errors),
        },
        "collection_errors": list(run.collection_errors),
        "requirements": {rid: verdict.to_json() for rid, verdict in verdicts.items()},
    }


def _exit_code(verdicts: Any, collection_errors: list[str]) -> int:
    code = exit_code(verdicts)
    # Cases that could not even be collected leave requirements undecided, whatever the rest says.
    return 3 if collection_errors and code == 0 else code


def write_run(run: Any) -> dict[str, Any]:
    from conformance.catalog.render import render_html

    document = build_document(run)
    out: Path = run.out_dir
    (out / "conformance.json").unlink(missing_ok=True)  # an earlier run's result must never stand for this one
    # Copied first: the hashes in conformance.json are those of the copies a reader opens.
    copy_evidence(getattr(run, "attestations", None), document, out)
    document["inputs"] = copy_inputs(run, out)
    hash_evidence(document, out)
    (out / "catalog.html").write_text(render_html(run.catalog), encoding="utf-8")
    (out / "report.html").write_text(render_report_html(document, run.catalog), encoding="utf-8")
    allure_dir = out / "allure-results"
    if allure_dir.is_dir():
        write_allure_environment(allure_dir, document)
        write_allure_results(allure_dir, document, run.catalog)
    # Last, and whole or not at all: a conformance.json is there only when everything of the run was written.
    result, partial = out / "conformance.json", out / "conformance.json.partial"
    try:
        partial.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
        partial.replace(result)
    finally:
        partial.unlink(missing_ok=True)
    return document


def copy_inputs(run: Any, out: Path) -> dict[str, dict[str, str]]:
    """The files the run was decided with, copied into ``inputs/`` so that the run folder (and its signed
    bundle) holds them: the catalog, the profile, and the attestation, waiver and engine-release files."""
    folder = out / "inputs"
    shutil.rmtree(folder, ignore_errors=True)
    sources = {
        "catalog": run.catalog.path,
        "profile": run.profile.path,
        "attestations": getattr(getattr(run, "attestations", None), "path", None),
        "waivers": getattr(getattr(run, "waivers", None), "path", None),
        "engine_releases": getattr(getattr(run, "engine_releases", None), "path", None),
    }
    copied: dict[str, dict[str, str]] = {}
    for role, source in sources.items():
        if not source or not Path(source).is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{role}-{Path(source).name}"
        shutil.copyfile(source, target)
        copied[role] = {"path": target.relative_to(out).as_posix(), "source": str(source),
                        "sha256": hashlib.sha256(target.read_bytes()).hexdigest()}  # fmt: skip
    return copied


def hash_evidence(document: dict[str, Any], out: Path) -> None:
    """Each case's evidence files pinned by SHA-256 (``evidence_sha256``), as the statement and compare show."""
    for entry in document["requirements"].values():
        for case in entry["cases"]:
            case["evidence_sha256"] = {
                path: hashlib.sha256((out / path).read_bytes()).hexdigest()
                for path in case.get("evidence", []) if (out / path).is_file()
            }  # fmt: skip


def write_allure_environment(allure_dir: Path, document: dict[str, Any]) -> None:
    suite, candidate = document["suite"], document["candidate"]
    lines = {
        "suite.version": suite["version"],
        "catalog.version": suite["catalog_version"],
        "catalog.sha256": suite["catalog_sha256"],
        "candidate.name": candidate["name"],
        "candidate.vendor": candidate["vendor"],
        "candidate.version": candidate["version"],
        "candidate.kind": candidate["kind"],
        "candidate.profile_sha256": candidate["profile_sha256"],
        **{f"env.{k}": v for k, v in document["environment"].items()},
    }
    text = "".join(f"{key}={str(value).replace(chr(10), ' ')}\n" for key, value in lines.items())
    (allure_dir / "environment.properties").write_text(text, encoding="utf-8")
    # The categories are in the report's configuration (conformance.allure_report.CATEGORIES), Allure 3's place.


# -- terminal summary ------------------------------------------------------------------------------
def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def render_summary(document: dict[str, Any], catalog: Any) -> str:
    """A bilingual table of verdicts, must-level first, for the terminal."""
    rows = []
    for rid, entry in document["requirements"].items():
        if entry["verdict"] == "not_applicable":
            continue  # counted in the totals; listed with reasons in report.html
        requirement = catalog.requirements.get(rid)
        title = requirement.title("ja") if requirement else ""
        ja, en = VERDICT_LABELS[entry["verdict"]]
        level_ja, level_en = LEVEL_LABELS[entry["level"]]
        verdict = f"{ja}/{en}"
        if entry.get("attestation"):  # manual: say at once whether evidence was handed in
            verdict += f" {attestation_label(entry['attestation'], sep='/')}"
        rows.append((rid, f"{level_ja}/{level_en}", verdict, title))
    order = {"fail": 0, "waived": 1, "error": 2, "not_tested": 3, "pass": 4, "manual": 5, "not_applicable": 6}
    rows.sort(key=lambda r: (order[document["requirements"][r[0]]["verdict"]], r[0]))
    headers = ("ID", "水準/level", "判定/verdict", "要件/requirement")
    widths = [max(_width(row[i]) for row in [headers, *rows]) for i in range(3)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers[:3], widths, strict=True)) + "  " + headers[3]]
    lines.append("-" * (sum(widths) + 30))
    lines += ["  ".join(_pad(c, w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3] for row in rows]
    candidate, summary = document["candidate"], document["summary"]
    tally = ", ".join(f"{VERDICT_LABELS[k][0]}/{VERDICT_LABELS[k][1]} {v}" for k, v in summary["counts"].items() if v)
    ja, en = EXIT_MEANING[summary["exit_code"]]
    for error in document.get("collection_errors", []):
        lines.append(f"収集エラー / collection error: {error}")
    if document.get("incomplete"):
        lines.append(f"不完全な結果 / incomplete result: {document.get('incomplete_reason')}")
    lines += [
        "",
        f"候補 / candidate: {candidate['name']} ({candidate['kind']}, {candidate['vendor']} {candidate['version']})",
        f"集計 / totals: {tally}",
    ]
    attested = _attestation_totals(document)
    if attested:
        lines.append(f"証跡 / attestations: {attested}")
    waivers = document.get("waivers")
    if waivers:
        counted = "不適合扱い / counted as failures" if waivers["exit"] == "fail" else "許容 / accepted"
        lines.append(f"免除 / waivers: {Path(waivers['file']).name}, {waivers['entries']} 件 / entries, "
                     f"終了コードでは{counted}")
        if waivers.get("unused"):
            unused = ", ".join(waivers["unused"])
            lines.append(f"  未使用の免除 (不適合ではなかった) / unused waivers (did not fail): {unused}")
    lines.append(f"結果 / result: {ja} / {en} (exit {summary['exit_code']})")
    return "\n".join(lines)


def attestation_label(record: dict[str, Any], sep: str = " / ") -> str:
    """E.g. "証跡確認済/attested", "証跡確認済(例)/attested (example)"."""
    ja, en = STATUS_LABELS[record["status"]]
    if record.get("example"):
        ja, en = f"{ja}({EXAMPLE_LABEL[0]})", f"{en} ({EXAMPLE_LABEL[1]})"
    return f"{ja}{sep}{en}"


def _attestation_totals(document: dict[str, Any]) -> str:
    """The summary's attestation counts as one line ("" when the run has no manual requirement)."""
    tally = document["summary"].get("attestations") or {}
    parts = [f"{STATUS_LABELS[k][0]}/{STATUS_LABELS[k][1]} {tally.get(k, 0)}" for k in STATUS_LABELS]
    if not any(tally.get(k) for k in (*STATUS_LABELS, "not_applicable")):
        return ""
    if tally.get("example"):
        parts.append(f"うち例/of which examples {tally['example']}")
    if tally.get("not_applicable"):
        parts.append(f"対象外の要件への証跡/for requirements not applicable {tally['not_applicable']}")
    where = document.get("attestations") or {}
    if where.get("file"):
        parts.append(f"({where['file']}, sha256 {where['sha256'][:16]}…)")
    return ", ".join(parts)


# -- HTML report -----------------------------------------------------------------------------------
_CSS = """
body{font-family:"Noto Sans CJK JP","Noto Sans",system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#17324d;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.85}main{padding:20px 28px}
.note{color:#8a5a00;font-weight:600}header .note{color:#ffd27a}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:18px}
.card{background:#fff;border-radius:8px;padding:12px 16px;min-width:110px;box-shadow:0 1px 3px #0002}
.card b{display:block;font-size:26px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 3px #0002;border-radius:8px}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #e6e8ec;vertical-align:top;font-size:14px}
th{background:#eef1f5}.v{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600;font-size:12px}
.pass{background:#d8f3dc;color:#1b5e20}.fail{background:#fddede;color:#8b0000}.error{background:#fff1c2;color:#7a4f00}
.not_applicable{background:#eceff1;color:#455a64}.manual{background:#e3e7fd;color:#283593}
.not_tested{background:#ffe0b2;color:#8d4b00}details{margin:4px 0}code{font-size:12px}
.result{font-size:18px;font-weight:700;margin:8px 0 16px}small{color:#5b6573}
.att-attested{background:#d0ecf5;color:#0b4f6c;border:1px solid #0b4f6c}.att-pending{background:#ffe0b2;color:#8d4b00}
.att-expired{background:#fddede;color:#8b0000;border:1px solid #8b0000}
.example{background:#fff;color:#5b6573;border:1px dashed #5b6573}
.attestation{margin:6px 0;padding:6px 8px;border-left:3px solid #283593;background:#f7f8fe}
.attestation ul{margin:4px 0;padding-left:18px}
.waived{background:#f3d9fa;color:#6a1b9a;border:1px dashed #6a1b9a}
.waiver{margin:6px 0;padding:6px 8px;border-left:3px solid #6a1b9a;background:#fbf5fd}
"""


def _observation_line(network: dict[str, Any]) -> str:
    """How the candidate's traffic was observed, in the header: a reader must see a proxy-only run at once."""
    observation = network.get("observation")
    if observation == "namespace":
        return ("<p>通信の観測: 端末のネットワーク名前空間（全パケット）/ network observation: the terminal's "
                "network namespace (every packet)</p>")
    if observation == "proxy":
        return (f'<p class="note">⚠ 通信の観測: プロキシ経由のみ / network observation: proxy only — '
                f"{html.escape(network.get('not_observable', ''))}</p>")
    return ""


def attestation_badges(record: dict[str, Any] | None) -> str:
    """The badge shown next to 要証跡 manual: 証跡確認済 / 未提出 / 期限切れ, and 例 for a shipped example."""
    if not record:
        return ""
    esc = html.escape
    ja, en = STATUS_LABELS[record["status"]]
    badges = f' <span class="v att-{esc(record["status"])}" title="{esc(en)}">{esc(ja)}</span>'
    badges += f"<br><small>{esc(en)}</small>"
    if record.get("example"):
        badges += (f' <span class="v example" title="an example, not real evidence">{esc(EXAMPLE_LABEL[0])} / '
                   f"{esc(EXAMPLE_LABEL[1])}</span>")
    return badges


def attestation_details(record: dict[str, Any] | None) -> str:
    """Who attested what, until when, and every evidence file with its hash (a link to the run's copy)."""
    if not record or record["status"] == "pending":
        return ""
    esc = html.escape
    parts = ['<div class="attestation">']
    if record.get("example"):
        parts.append('<p class="note">⚠ 例であり実際の証跡ではない / an example, not real evidence</p>')
    if record.get("applicable") is False:
        parts.append('<p class="note">対象外の要件への証跡（判定には使わない）/ an attestation for a requirement '
                     "that does not apply to this candidate (kept, not used)</p>")
    who = esc(record["attested_by"])
    if record.get("organisation"):
        who += f"（{esc(record['organisation'])}）"
    facts = [who, esc(record["role"])]
    if record.get("registration_number"):
        facts.append(f"登録番号 / registration no. {esc(record['registration_number'])}")
    validity = "失効 / expired" if record["status"] == "expired" else "まで有効 / valid until"
    facts.append(f"{esc(record['date'])} → {esc(record['expires'])} {validity}")
    parts.append(f"<b>証跡 / attestation:</b> {esc(record['statement'])}<br><small>{' · '.join(facts)}</small>")
    files = "".join(
        f'<li><a href="{esc(e["path"])}">{esc(e["source"])}</a> <small>{e["bytes"]} bytes · sha256 '
        f'<code>{esc(e["sha256"])}</code></small></li>'
        for e in record.get("evidence", [])
    )
    parts.append(f"<ul>{files}</ul>")
    parts += [f'<p class="note">⚠ {esc(note)}</p>' for note in record.get("notes", [])]
    parts.append("</div>")
    return "".join(parts)


def waiver_details(record: dict[str, Any] | None) -> str:
    """Who accepted a failure, why and until when ("" when the requirement was not waived)."""
    if not record:
        return ""
    esc = html.escape
    counted = "終了コードでは不適合扱い / still a failure for the exit code" if record["exit"] == "fail" else (
        "終了コードでは許容 / accepted for the exit code")
    reference = f" · {esc(record['reference'])}" if record.get("reference") else ""
    return (f'<div class="waiver"><b>免除 / waiver:</b> {esc(record["justification"])}<br><small>'
            f"{esc(record['approver'])} · {esc(record['approved'])} → {esc(record['expires'])}{reference} · "
            f"{counted}</small></div>")


def _waiver_header(document: dict[str, Any]) -> str:
    where = document.get("waivers")
    if not where:
        return ""
    esc = html.escape
    unused = (f"; 未使用 / unused: {esc(', '.join(where['unused']))}" if where.get("unused") else "")
    return (f"<p>免除ファイル / waiver file: {esc(Path(where['file']).name)} <small>sha256 "
            f"{esc(where['sha256'][:16])}…, {where['entries']} 件 / entries{unused}</small></p>")


def _attestation_header(document: dict[str, Any]) -> str:
    """Which attestation file the run used; examples are flagged where nobody can miss them."""
    where = document.get("attestations")
    if not where:
        return ""
    esc = html.escape
    line = (f"<p>証跡ファイル / attestation file: {esc(Path(where['file']).name)} "
            f"<small>sha256 {esc(where['sha256'][:16])}…, {esc(where['checked_on'])} 時点 / as of "
            f"{esc(where['checked_on'])}</small></p>")
    if where.get("examples"):
        line += (f'<p class="note">⚠ 証跡 {where["examples"]} 件は例であり実際の証跡ではない / '
                 f"{where['examples']} attestations are examples, not real evidence</p>")
    return line


def render_report_html(document: dict[str, Any], catalog: Any) -> str:
    esc = html.escape
    candidate, suite, summary = document["candidate"], document["suite"], document["summary"]
    cards = "".join(
        f'<div class="card"><span class="v {k}">{esc(VERDICT_LABELS[k][0])} / {esc(VERDICT_LABELS[k][1])}</span>'
        f"<b>{v}</b></div>"
        for k, v in summary["counts"].items()
    )
    tally = summary.get("attestations") or {}
    if any(tally.get(k) for k in STATUS_LABELS):  # manual requirements: how many were attested
        cards += "".join(
            f'<div class="card"><span class="v manual">要証跡</span> <span class="v att-{k}">'
            f"{esc(STATUS_LABELS[k][0])} / {esc(STATUS_LABELS[k][1])}</span><b>{tally.get(k, 0)}</b></div>"
            for k in STATUS_LABELS
        )
    ja, en = EXIT_MEANING[summary["exit_code"]]
    rows, hidden = [], []
    for rid, entry in document["requirements"].items():
        requirement = catalog.requirements.get(rid)
        verdict = entry["verdict"]
        target = hidden if verdict == "not_applicable" else rows
        cases = []
        for case in entry["cases"]:
            links = " ".join(f'<a href="{esc(p)}">{esc(Path(p).name)}</a>' for p in case["evidence"])
            message = f"<pre>{esc(case['message'])}</pre>" if case["message"] else ""
            message += "".join(f'<p class="note">⚠ {esc(note)}</p>' for note in case.get("notes", []))
            cases.append(
                f'<details><summary><span class="v {case["outcome"]}">{esc(case["outcome"])}</span> '
                f"{esc(case['title'])}</summary><small><code>{esc(case['nodeid'])}</code></small>{message}"
                f"<div>{links}</div></details>"
            )
        title = ""
        if requirement:
            title = f"{esc(requirement.title('ja'))}<br><small>{esc(requirement.title('en'))}</small>"
        level = LEVEL_LABELS[entry["level"]]
        target.append(
            f'<tr id="{esc(rid)}"><td><a href="catalog.html#{esc(rid)}">{esc(rid)}</a></td><td>{title}</td>'
            f"<td>{esc(level[0])}<br><small>{esc(level[1])}</small></td>"
            f'<td><span class="v {verdict}">{esc(VERDICT_LABELS[verdict][0])}</span><br>'
            f"<small>{esc(VERDICT_LABELS[verdict][1])}</small>{attestation_badges(entry.get('attestation'))}</td>"
            f"<td><small>{esc(entry['reason'])}</small>{attestation_details(entry.get('attestation'))}"
            f"{waiver_details(entry.get('waiver'))}{''.join(cases)}</td></tr>"
        )
    return f"""<!doctype html><html lang="ja"><head><meta charset="utf-8">
<title>適合性試験結果 / Conformance result: {esc(candidate['name'])}</title><style>{_CSS}</style></head><body>
<header><h1>適合性試験結果 / Conformance result — {esc(candidate['name'])}</h1>
<p>{esc(candidate['vendor'])} {esc(candidate['version'])} · {esc(candidate['kind'])} ·
catalog {esc(suite['catalog_version'])} <small>sha256 {esc(suite['catalog_sha256'][:16])}…</small> ·
suite {esc(suite['version'])} · {esc(document['started'])} → {esc(document['finished'])}</p>
{_observation_line(document.get("network") or {})}{_attestation_header(document)}{_waiver_header(document)}</header>
<main><div class="result">{esc(ja)} / {esc(en)} (exit {summary['exit_code']})</div>
<div class="cards">{cards}</div>
<table><tr><th>ID</th><th>要件 / requirement</th><th>水準 / level</th><th>判定 / verdict</th>
<th>根拠・試験 / reason and cases</th></tr>{''.join(rows)}</table>
<details><summary>対象外の要件 {len(hidden)} 件 / {len(hidden)} requirements not applicable to this candidate</summary>
<table>{''.join(hidden)}</table></details>
<p><small>profile sha256 {esc(candidate['profile_sha256'])} · <a href="conformance.json">conformance.json</a> ·
<a href="junit.xml">junit.xml</a> · <a href="allure-report/index.html">Allure</a></small></p></main></body></html>"""
