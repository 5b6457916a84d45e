"""Render the requirement catalog as a terminal table, CSV, Markdown, JSON or a bilingual HTML page.

The HTML page is what reports link to (``catalog.html#DL-01``), so every requirement gets an anchor equal
to its ID and the page has no external assets.
"""

from __future__ import annotations

import csv
import html
import io
import json
import unicodedata
from typing import Any

from conformance.catalog.model import (
    APPLIES_LABELS,
    LEVEL_LABELS,
    VERIFICATION_LABELS,
    Catalog,
    Requirement,
    check_lang,
    meaning_digest,
)

FORMATS: tuple[str, ...] = ("table", "csv", "markdown", "json")

_HEADERS = {
    "ja": ("ID", "水準", "対象", "検証", "タイトル"),
    "en": ("ID", "level", "applies", "verification", "title"),
}
_CSV_FIELDS = (
    "id", "family", "level", "level_label", "applies_to", "verification", "title_ja", "title_en",
    "text_ja", "text_en", "oracle_ja", "oracle_en", "profiles", "sources", "applicable_when", "since",
    "meaning_sha256",
)
_MD_LABELS = {
    "ja": {"text": "要件", "oracle": "確認方法", "profiles": "プロファイル", "sources": "出典",
           "family": "分類", "when": "適用条件", "since": "初出", "version": "版", "requirements": "要件一覧",
           "details": "各要件"},
    "en": {"text": "Requirement", "oracle": "Oracle / evidence", "profiles": "Profiles", "sources": "Sources",
           "family": "Family", "when": "Applies when", "since": "Since", "version": "Version",
           "requirements": "Requirements", "details": "Details"},
}


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: East Asian wide/fullwidth count 2, combining marks 0."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def render(catalog: Catalog, lang: str = "ja", fmt: str = "table") -> str:
    """Render ``catalog`` in ``lang`` ("ja"/"en") as ``fmt`` (table, csv, markdown, json)."""
    check_lang(lang)
    if fmt not in FORMATS:
        raise ValueError(f"unknown fmt {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if fmt == "table":
        return _table(catalog, lang)
    if fmt == "csv":
        return _csv(catalog, lang)
    if fmt == "markdown":
        return _markdown(catalog, lang)
    return json.dumps(catalog_data(catalog, lang), ensure_ascii=False, indent=2) + "\n"


def _table(catalog: Catalog, lang: str) -> str:
    rows = [_HEADERS[lang]]
    for req in catalog.requirements.values():
        rows.append((req.id, req.level_label(lang), req.applies_label(lang), req.verification_label(lang),
                     req.title(lang)))
    widths = [max(display_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        # The last column is not padded: no trailing blanks.
        cells = [_pad(cell, widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _sources_joined(req: Requirement) -> str:
    parts = [f"{ref.key}: {ref.locator}" + (f" ({ref.note})" if ref.note else "") for ref in req.sources]
    return "; ".join(parts)


def _when(req: Requirement) -> str:
    cond = req.applicable_when
    return f"{cond.claim}={cond.equals}" if cond else ""


def _csv(catalog: Catalog, lang: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_CSV_FIELDS)
    for req in catalog.requirements.values():
        writer.writerow([
            req.id, req.family, req.level, req.level_label(lang), req.applies_to, req.verification,
            req.title_ja, req.title_en, req.text_ja, req.text_en, req.oracle_ja, req.oracle_en,
            ";".join(req.profiles), _sources_joined(req), _when(req), req.since, meaning_digest(req),
        ])
    return buf.getvalue()


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(catalog: Catalog, lang: str) -> str:
    lab = _MD_LABELS[lang]
    head = _HEADERS[lang]
    out = [f"# {catalog.title(lang)}", "",
           f"{lab['version']}: `{catalog.version}` — sha256 `{catalog.sha256}`", "",
           f"## {lab['requirements']}", "",
           "| " + " | ".join(head) + " |",
           "|" + "|".join("---" for _ in head) + "|"]
    for req in catalog.requirements.values():
        out.append(f"| [{req.id}](#{req.id}) | {req.level_label(lang)} | {req.applies_label(lang)} "
                   f"| {req.verification_label(lang)} | {_md_cell(req.title(lang))} |")
    out += ["", f"## {lab['details']}", ""]
    for req in catalog.requirements.values():
        out += [f'<a id="{req.id}"></a>', "", f"### {req.id} {req.title(lang)}", "",
                f"- {head[1]}: **{req.level_label(lang)}** · {head[2]}: {req.applies_label(lang)} · "
                f"{head[3]}: {req.verification_label(lang)} · {lab['family']}: `{req.family}` · "
                f"{lab['since']}: {req.since}",
                f"- {lab['profiles']}: " + ", ".join(f"`{p}`" for p in req.profiles)]
        if req.applicable_when:
            out.append(f"- {lab['when']}: `{_when(req)}`")
        out += ["", f"**{lab['text']}**: {req.text(lang)}", "",
                f"**{lab['oracle']}**: {req.oracle(lang)}", "",
                f"**{lab['sources']}**:", ""]
        for ref in req.sources:
            src = catalog.sources[ref.key]
            title = src.title.replace("[", "\\[").replace("]", "\\]")
            cite = f"[{title}]({src.url})" if src.url else title
            note = f" — _{ref.note}_" if ref.note else ""
            out.append(f"- {cite} — {ref.locator}{note}")
        out.append("")
    return "\n".join(out)


def catalog_data(catalog: Catalog, lang: str = "ja") -> dict[str, Any]:
    """Everything in the catalog as plain JSON-able data (used by the json format)."""
    check_lang(lang)
    return {
        "catalog": {"version": catalog.version, "sha256": catalog.sha256, "file": catalog.path.name,
                    "title_ja": catalog.title_ja, "title_en": catalog.title_en, "lang": lang},
        "sources": [src.model_dump() for src in catalog.sources.values()],
        "profiles": [{**prof.model_dump(), "requirements": catalog.profile_requirements(pid)}
                     for pid, prof in catalog.profiles.items()],
        "requirements": [{**req.model_dump(), "level_label": req.level_label(lang),
                          "meaning_sha256": meaning_digest(req)}
                         for req in catalog.requirements.values()],
    }


# --------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------

_CSS = """
:root{--fg:#1d2430;--muted:#5b6575;--bg:#f6f7f9;--card:#fff;--line:#dde1e7;--accent:#1f5fbf;
--must:#b42318;--should:#b54708;--optional:#475467;--auto:#067647;--manual:#6941c6}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);line-height:1.65;
font-family:"Hiragino Sans","Noto Sans JP","Yu Gothic UI","Meiryo",system-ui,-apple-system,"Segoe UI",
sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 20px 64px}
header.top{border-bottom:3px solid var(--accent);margin-bottom:24px;padding-bottom:12px}
h1{font-size:1.6rem;margin:0 0 4px}h1 small{display:block;font-size:1rem;color:var(--muted);font-weight:500}
h2{font-size:1.25rem;margin:40px 0 12px;padding-bottom:4px;border-bottom:1px solid var(--line)}
.meta{color:var(--muted);font-size:.9rem}.meta code{font-size:.8rem;word-break:break-all}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
table{border-collapse:collapse;width:100%;background:var(--card);font-size:.92rem}
th,td{border:1px solid var(--line);padding:6px 10px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;white-space:nowrap}
td.nw{white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}
.badge{display:inline-block;border-radius:999px;padding:1px 10px;font-size:.78rem;font-weight:600;
color:#fff;white-space:nowrap;margin:1px 4px 1px 0}
.must{background:var(--must)}.should{background:var(--should)}.optional{background:var(--optional)}
.automated{background:var(--auto)}.manual{background:var(--manual)}
.tag{display:inline-block;border:1px solid var(--line);border-radius:4px;padding:0 6px;font-size:.8rem;
background:#fff;margin:1px 4px 1px 0;white-space:nowrap}
.profiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
.profile{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px}
.profile h3{margin:0 0 4px;font-size:1rem}
.profile p{margin:4px 0;font-size:.9rem}
section.req{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--optional);
border-radius:8px;padding:14px 18px;margin:16px 0;scroll-margin-top:12px}
section.req.lv-must{border-left-color:var(--must)}section.req.lv-should{border-left-color:var(--should)}
section.req:target{box-shadow:0 0 0 3px var(--accent)}
section.req h3{margin:0 0 6px;font-size:1.1rem}
section.req h3 .id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;margin-right:8px}
.bi{display:grid;grid-template-columns:1fr 1fr;gap:18px;margin-top:10px}
.bi>div{min-width:0}
.bi h4{margin:0 0 2px;font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.bi .title{font-weight:600;margin:0 0 6px}
.bi .text{margin:0 0 8px}
.bi .oracle{margin:0;font-size:.9rem;color:#364152;background:#f4f6f9;border-radius:6px;padding:6px 10px}
ul.src{margin:10px 0 0;padding-left:20px;font-size:.88rem}
ul.src .note{color:var(--muted);font-style:italic}
.when{font-size:.88rem;margin-top:6px}
dl.bib{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;font-size:.9rem}
dl.bib dt{font-family:ui-monospace,monospace;font-weight:600}dl.bib dd{margin:0}
dl.bib :target{background:#fff6d6}
footer{margin-top:48px;color:var(--muted);font-size:.82rem}
@media (max-width:760px){.bi{grid-template-columns:1fr}}
@media print{body{background:#fff}section.req{break-inside:avoid;box-shadow:none}}
""".strip()


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _badges(req: Requirement) -> str:
    return (f'<span class="badge {req.level}">{_e(LEVEL_LABELS["ja"][req.level])} / {req.level}</span>'
            f'<span class="badge {req.verification}">{_e(VERIFICATION_LABELS["ja"][req.verification])}'
            f" / {req.verification}</span>"
            f'<span class="tag">{_e(APPLIES_LABELS["ja"][req.applies_to])} / {req.applies_to}</span>'
            f'<span class="tag">{_e(req.family)}</span><span class="tag">since {_e(req.since)}</span>')


def _source_link(catalog: Catalog, key: str) -> str:
    src = catalog.sources[key]
    title = _e(src.title)
    link = f'<a href="{_e(src.url)}" rel="noopener">{title}</a>' if src.url else title
    return f'{link} <a href="#src-{_e(key)}" class="tag" title="bibliography">{_e(key)}</a>'


def _req_section(catalog: Catalog, req: Requirement) -> str:
    profiles = "".join(f'<a class="tag" href="#profile-{_e(p)}">{_e(p)}</a>' for p in req.profiles)
    when = ""
    if req.applicable_when:
        c = req.applicable_when
        expr = f"<code>{_e(c.claim)} = {_e(c.equals)}</code>"
        when = (f'<div class="when">適用条件 / applies when: 候補が {expr} を申告 / '
                f"the candidate claims {expr}</div>")
    refs = []
    for ref in req.sources:
        note = f' <span class="note">{_e(ref.note)}</span>' if ref.note else ""
        refs.append(f"<li>{_source_link(catalog, ref.key)} — {_e(ref.locator)}{note}</li>")
    return f"""<section class="req lv-{req.level}" id="{_e(req.id)}">
<h3><a class="id" href="#{_e(req.id)}">{_e(req.id)}</a>{_badges(req)}</h3>
<div>プロファイル / profiles: {profiles}</div>{when}
<div class="bi">
<div lang="ja"><h4>日本語</h4><p class="title">{_e(req.title_ja)}</p><p class="text">{_e(req.text_ja)}</p>
<h4>確認方法</h4><p class="oracle">{_e(req.oracle_ja)}</p></div>
<div lang="en"><h4>English</h4><p class="title">{_e(req.title_en)}</p><p class="text">{_e(req.text_en)}</p>
<h4>Oracle / evidence</h4><p class="oracle">{_e(req.oracle_en)}</p></div>
</div>
<h4 style="margin:12px 0 0;font-size:.8rem;color:var(--muted)">出典 / sources</h4>
<ul class="src">{"".join(refs)}</ul>
</section>"""


def render_html(catalog: Catalog) -> str:
    """A self-contained bilingual HTML page with an anchor per requirement ID (``catalog.html#DL-01``)."""
    rows = []
    for req in catalog.requirements.values():
        rows.append(
            f'<tr><td class="nw"><a href="#{_e(req.id)}"><code>{_e(req.id)}</code></a></td>'
            f'<td class="nw"><span class="badge {req.level}">{_e(req.level_label("ja"))}</span></td>'
            f'<td class="nw">{_e(req.applies_label("ja"))}</td>'
            f'<td class="nw">{_e(req.verification_label("ja"))}</td>'
            f'<td lang="ja">{_e(req.title_ja)}</td><td lang="en">{_e(req.title_en)}</td></tr>')
    cards = []
    for pid, prof in catalog.profiles.items():
        members = catalog.profile_requirements(pid)
        ids = "".join(f'<a class="tag" href="#{_e(r)}">{_e(r)}</a>' for r in members)
        cards.append(
            f'<div class="profile" id="profile-{_e(pid)}"><h3><code>{_e(pid)}</code> {_e(prof.title_ja)}'
            f' / {_e(prof.title_en)}</h3><span class="tag">{_e(prof.kind)}</span>'
            f'<p lang="ja">{_e(prof.description_ja)}</p><p lang="en">{_e(prof.description_en)}</p>'
            f"<div>{ids}</div></div>")
    bib = []
    for key, src in catalog.sources.items():
        title = f'<a href="{_e(src.url)}" rel="noopener">{_e(src.title)}</a>' if src.url else _e(src.title)
        note = f' <span class="meta">{_e(src.note)}</span>' if src.note else ""
        bib.append(f'<dt id="src-{_e(key)}">{_e(key)}</dt><dd>{title}{note}</dd>')
    sections = "\n".join(_req_section(catalog, req) for req in catalog.requirements.values())
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(catalog.title_ja)} {_e(catalog.version)}</title>
<style>
{_CSS}
</style>
</head>
<body>
<main>
<header class="top">
<h1>{_e(catalog.title_ja)}<small lang="en">{_e(catalog.title_en)}</small></h1>
<div class="meta">版 / version <strong>{_e(catalog.version)}</strong> ·
要件 {len(catalog.requirements)} 件 / {len(catalog.requirements)} requirements ·
sha256 <code>{_e(catalog.sha256)}</code></div>
<div class="meta">水準 / level: <span class="badge must">必須 / must</span>
<span class="badge should">推奨 / should</span>
<span class="badge optional">オプション / optional</span> · 検証 / verification:
<span class="badge automated">自動 / automated</span>
<span class="badge manual">手動 / manual</span></div>
</header>
<nav>
<h2 id="index">要件一覧 / Requirements</h2>
<table>
<thead><tr><th>ID</th><th>水準</th><th>対象</th><th>検証</th><th>タイトル</th><th>Title</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody>
</table>
</nav>
<h2 id="profiles">プロファイル / Profiles</h2>
<div class="profiles">
{"".join(cards)}
</div>
<h2 id="requirements">各要件 / Requirement details</h2>
{sections}
<h2 id="sources">出典 / Sources</h2>
<dl class="bib">
{"".join(bib)}
</dl>
<footer>[INFER] は本カタログによる解釈・提案を示す /
[INFER] marks wording that is this catalog's interpretation. Generated from {_e(catalog.path.name)}.</footer>
</main>
</body>
</html>
"""
