"""Unit tests of the requirement catalog: data, input errors, applicability, renderers, released contract."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conformance.catalog import (
    DEFAULT_CATALOG_PATH,
    FORMATS,
    Catalog,
    check_released,
    display_width,
    load_catalog,
    load_released,
    meaning_digest,
    released_snapshot,
    render,
    render_html,
)
from conformance.errors import InputError

# (applies_to, level, verification) that other parts of the product rely on.
REQUIRED: dict[str, tuple[str, str, str]] = {
    "CLIP-01": ("both", "must", "automated"),
    "CLIP-02": ("both", "must", "automated"),
    "DL-01": ("both", "must", "automated"),
    "DL-02": ("secure-browser", "optional", "automated"),
    "UL-01": ("both", "must", "automated"),
    "PRN-01": ("both", "must", "automated"),
    "LEAK-01": ("both", "must", "automated"),
    "NET-01": ("both", "must", "automated"),
    "NET-02": ("both", "must", "automated"),
    "RES-01": ("both", "must", "automated"),
    "ST-01": ("screen-transfer", "must", "automated"),
    "ST-03": ("screen-transfer", "must", "automated"),
    "MNT-01": ("both", "must", "automated"),
    "MNT-02": ("both", "must", "automated"),
    "MNT-03": ("both", "should", "automated"),
    "WLAN-01": ("environment", "should", "manual"),
    "WLAN-02": ("environment", "should", "automated"),
    "GOV-01": ("environment", "should", "manual"),
}
SB_CORE = ["CLIP-01", "CLIP-02", "DL-01", "DL-02", "UL-01", "PRN-01", "LEAK-01", "NET-01", "NET-02", "RES-01",
           "MNT-01"]
ST_CORE = ["CLIP-01", "CLIP-02", "DL-01", "UL-01", "PRN-01", "ST-01", "ST-03", "LEAK-01", "NET-01", "RES-01", "MNT-01"]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def source_text() -> str:
    return DEFAULT_CATALOG_PATH.read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# Packaged data
# --------------------------------------------------------------------------------------------------


def test_packaged_catalog_loads(catalog: Catalog) -> None:
    import hashlib

    assert len(catalog.requirements) >= 35
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", catalog.version)
    assert catalog.path == DEFAULT_CATALOG_PATH
    assert catalog.sha256 == hashlib.sha256(DEFAULT_CATALOG_PATH.read_bytes()).hexdigest()
    assert load_catalog(DEFAULT_CATALOG_PATH).sha256 == catalog.sha256


@pytest.mark.parametrize("req_id", sorted(REQUIRED))
def test_required_ids_keep_their_meaning(catalog: Catalog, req_id: str) -> None:
    req = catalog.requirements[req_id]
    assert (req.applies_to, req.level, req.verification) == REQUIRED[req_id]


def test_core_profiles_are_exact(catalog: Catalog) -> None:
    assert sorted(catalog.profile_requirements("SB-CORE")) == sorted(SB_CORE)
    assert sorted(catalog.profile_requirements("ST-CORE")) == sorted(ST_CORE)
    assert catalog.profiles["SB-CORE"].kind == "secure-browser"
    assert catalog.profiles["ST-CORE"].kind == "screen-transfer"


def test_profile_placement_of_special_ids(catalog: Catalog) -> None:
    reqs = catalog.requirements
    assert sorted(reqs["NET-02"].profiles) == ["MAINT", "SB-CORE"]
    assert reqs["MNT-02"].profiles == ["MAINT"]
    assert reqs["MNT-03"].profiles == ["MAINT"]
    assert "ENV-WLAN" in reqs["WLAN-02"].profiles
    assert "GOV" in reqs["GOV-01"].profiles
    cond = reqs["DL-02"].applicable_when
    assert cond is not None and (cond.claim, cond.equals) == ("download", "sanitized")


def test_every_requirement_is_complete(catalog: Catalog) -> None:
    for rid, req in catalog.requirements.items():
        assert re.fullmatch(r"[A-Z]{2,5}-\d{2}", rid)
        assert req.sources, rid
        assert all(ref.key in catalog.sources for ref in req.sources), rid
        for lang in ("ja", "en"):
            assert req.title(lang).strip() and req.text(lang).strip() and req.oracle(lang).strip(), rid
    # Every profile has members, and every source is cited at least once.
    assert all(catalog.profile_requirements(pid) for pid in catalog.profiles)
    cited = {ref.key for req in catalog.requirements.values() for ref in req.sources}
    assert cited == set(catalog.sources)


def test_labels_and_lang(catalog: Catalog) -> None:
    assert catalog.requirements["CLIP-01"].level_label("ja") == "必須"
    assert catalog.requirements["MNT-03"].level_label("ja") == "推奨"
    assert catalog.requirements["DL-02"].level_label("ja") == "オプション"
    assert catalog.requirements["DL-02"].level_label("en") == "optional"
    req = catalog.requirements["DL-01"]
    assert req.title("ja") == req.title_ja and req.text("en") == req.text_en
    with pytest.raises(ValueError, match="ja, en"):
        req.title("fr")


# --------------------------------------------------------------------------------------------------
# Validation errors on malformed copies
# --------------------------------------------------------------------------------------------------


def _swap(old: str, new: str) -> Callable[[str], str]:
    def apply(text: str) -> str:
        assert old in text, f"test fixture out of date: {old!r} not in catalog"
        return text.replace(old, new, 1)

    return apply


MALFORMED = [
    # name, mutation, expected field, text expected in the message
    ("bad-level", _swap('level = "must"', 'level = "mandatory"'), "requirement[CLIP-01].level",
     "use one of: must, should, optional"),
    ("unknown-field", _swap('id = "CLIP-02"\n', 'id = "CLIP-02"\ncolour = "red"\n'),
     "requirement[CLIP-02].colour", "unknown field"),
    ("duplicate-id", _swap('id = "CLIP-02"', 'id = "CLIP-01"'), "requirement[CLIP-01].id", "duplicate"),
    ("unknown-source-key",
     _swap('{ key = "MS-AVD-CLIP", locator = "CSClipLevel', '{ key = "NOPE", locator = "x'),
     "requirement[CLIP-02].sources[1].key", "unknown source key 'NOPE'"),
    ("unknown-profile",
     _swap('profiles = ["SB-CORE", "ST-CORE", "MYN-ST"]', 'profiles = ["SB-CORE", "XX-CORE"]'),
     "requirement[CLIP-01].profiles[1]", "unknown profile 'XX-CORE'"),
    ("bad-id", _swap('id = "UL-02"', 'id = "upload-2"'), "requirement[7].id", "CLIP-01"),
    ("missing-en", _swap('text_en = "Content on the terminal', 'note_en = "Content on the terminal'),
     "requirement[CLIP-02].note_en", "text_en"),
    ("removed-en", _swap('title_en = "No clipboard transfer from the terminal into the candidate"\n', ""),
     "requirement[CLIP-02].title_en", "English"),
    ("blank-ja", _swap('title_ja = "端末から候補側へのクリップボード転送がない"', 'title_ja = "  "'),
     "requirement[CLIP-02].title_ja", "empty"),
    ("bad-profile-kind", _swap('kind = "environment"', 'kind = "env"'), "profile[MAINT].kind",
     "secure-browser, screen-transfer, environment"),
    ("wrong-kind-profile", _swap('profiles = ["SB-CORE"]\n', 'profiles = ["ST-CORE"]\n'),
     "requirement[DL-02].profiles[0]", "cannot be in screen-transfer profile"),
    ("bad-when", _swap('equals = "sanitized"', 'eq = "sanitized"'), "requirement[DL-02].applicable_when.eq",
     "claim, equals"),
    ("unknown-table", lambda t: t + "\n[extra]\na = 1\n", "extra", "[[requirement]]"),
]


@pytest.mark.parametrize(("name", "mutate", "field", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_catalog_names_file_and_field(
    tmp_path: Path, source_text: str, name: str, mutate: Callable[[str], str], field: str, expected: str
) -> None:
    path = tmp_path / f"{name}.toml"
    path.write_text(mutate(source_text), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_catalog(path)
    err = info.value
    assert err.file == str(path)
    assert err.field == field
    message = str(err)
    assert str(path) in message and field in message
    assert expected in message
    assert err.fix, "every catalog error must say how to fix it"


def test_toml_syntax_error_names_line(tmp_path: Path, source_text: str) -> None:
    broken = source_text.replace('id = "DL-01"', 'id = "DL-01', 1)
    line = broken.splitlines().index('id = "DL-01') + 1
    path = tmp_path / "syntax.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_catalog(path)
    assert info.value.file == str(path)
    assert info.value.field == f"line {line}"
    assert str(path) in str(info.value) and "TOML" in str(info.value)


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_catalog(tmp_path / "nope.toml")


# --------------------------------------------------------------------------------------------------
# Applicability
# --------------------------------------------------------------------------------------------------


def _bilingual(reason: str) -> None:
    ja, sep, en = reason.partition(" / ")
    assert sep and ja and en
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", ja), "first half must be Japanese"


def test_applies_in_claimed_profile(catalog: Catalog) -> None:
    ok, reason = catalog.applicability("CLIP-01", "secure-browser", {}, ["SB-CORE"])
    assert ok and "SB-CORE" in reason
    _bilingual(reason)


def test_kind_mismatch(catalog: Catalog) -> None:
    ok, reason = catalog.applicability("ST-01", "secure-browser", {}, ["SB-CORE"])
    assert not ok and "screen-transfer" in reason
    _bilingual(reason)


def test_environment_applies_only_when_its_profile_is_claimed(catalog: Catalog) -> None:
    ok, reason = catalog.applicability("WLAN-02", "secure-browser", {}, ["SB-CORE"])
    assert not ok and "environment" in reason and "ENV-WLAN" in reason
    _bilingual(reason)
    ok, _ = catalog.applicability("WLAN-02", "secure-browser", {}, [])  # the kind's defaults hold no environment
    assert not ok
    ok, _ = catalog.applicability("WLAN-02", "screen-transfer", {}, ["ST-CORE", "ENV-WLAN"])
    assert ok


def test_applicable_when_claim(catalog: Catalog) -> None:
    ok, reason = catalog.applicability("DL-02", "secure-browser", {"download": "blocked"}, ["SB-CORE"])
    assert not ok and "download=sanitized" in reason and "blocked" in reason
    _bilingual(reason)
    ok, _ = catalog.applicability("DL-02", "secure-browser", {}, ["SB-CORE"])
    assert not ok
    ok, _ = catalog.applicability("DL-02", "secure-browser", {"download": "sanitized"}, ["SB-CORE"])
    assert ok


def test_not_in_claimed_profiles(catalog: Catalog) -> None:
    ok, reason = catalog.applicability("MNT-02", "secure-browser", {}, ["SB-CORE"])
    assert not ok and "SB-CORE" in reason
    _bilingual(reason)
    ok, _ = catalog.applicability("MNT-02", "secure-browser", {}, ["SB-CORE", "MAINT"])
    assert ok


def test_default_profiles_follow_kind(catalog: Catalog) -> None:
    # No claim: every profile of the candidate's kind, never the environment profiles.
    assert catalog.applicability("NET-03", "secure-browser", {}, [])[0]
    assert catalog.applicability("ST-01", "screen-transfer", {}, [])[0]
    ok, reason = catalog.applicability("NET-02", "screen-transfer", {}, [])
    assert not ok and "default" in reason
    assert not catalog.applicability("MNT-02", "secure-browser", {}, [])[0]
    assert catalog.applicability("NET-02", "screen-transfer", {}, ["ST-CORE", "MAINT"])[0]


def test_bad_claims_are_input_errors(catalog: Catalog) -> None:
    with pytest.raises(InputError) as info:
        catalog.applicability("CLIP-01", "secure-browser", {}, ["NOPE"])
    assert info.value.field == "profiles[0]" and "SB-CORE" in info.value.fix
    with pytest.raises(InputError, match="is for screen-transfer"):
        catalog.applicability("CLIP-01", "secure-browser", {}, ["SB-CORE", "ST-CORE"])
    with pytest.raises(InputError) as info:
        catalog.applicability("CLIP-01", "fat-client", {}, [])
    assert info.value.field == "kind"
    with pytest.raises(InputError) as info:
        catalog.validate_claims("secure-browser", ["X"], file="cand.toml")
    assert info.value.file == "cand.toml"
    with pytest.raises(KeyError):
        catalog.applicability("NOPE-01", "secure-browser", {}, [])


# --------------------------------------------------------------------------------------------------
# Renderers
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_format_lists_every_requirement(catalog: Catalog, fmt: str, lang: str) -> None:
    out = render(catalog, lang, fmt)
    for rid in catalog.requirements:
        assert rid in out
    title = catalog.requirements["CLIP-01"].title(lang)
    if fmt != "csv":  # csv carries both languages
        assert title in out


def _column_starts(line: str) -> list[int]:
    """Display offsets where a cell begins: first char, or a non-blank after two or more blanks."""
    starts, col, blanks = [], 0, 2
    for ch in line:
        if ch != " " and blanks >= 2:
            starts.append(col)
        blanks = blanks + 1 if ch == " " else 0
        col += display_width(ch)
    return starts


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_table_is_aligned_by_display_width(catalog: Catalog, lang: str) -> None:
    lines = render(catalog, lang, "table").splitlines()
    assert len(lines) == len(catalog.requirements) + 2
    header = _column_starts(lines[0])
    assert len(header) == 5
    for line in lines[1:]:
        assert _column_starts(line)[:5] == header, line
        assert line == line.rstrip()
    if lang == "ja":
        # Wide characters are present, so character offsets differ from display offsets.
        row = next(ln for ln in lines[2:] if "オプション" in ln)
        assert row.index(row.split()[2]) != header[2]


def test_csv_has_all_fields(catalog: Catalog) -> None:
    rows = list(csv.DictReader(io.StringIO(render(catalog, "ja", "csv"))))
    assert [r["id"] for r in rows] == list(catalog.requirements)
    clip = rows[0]
    assert clip["level"] == "must" and clip["level_label"] == "必須"
    assert clip["text_ja"] and clip["text_en"] and clip["oracle_en"]
    assert "IPA-LGWAN-TW: " in clip["sources"]
    assert clip["profiles"] == "SB-CORE;ST-CORE;MYN-ST"
    dl2 = next(r for r in rows if r["id"] == "DL-02")
    assert dl2["applicable_when"] == "download=sanitized"
    assert dl2["meaning_sha256"] == meaning_digest(catalog.requirements["DL-02"])


def test_markdown_has_table_sections_and_links(catalog: Catalog) -> None:
    md = render(catalog, "en", "markdown")
    assert "| ID | level | applies | verification | title |" in md
    assert '<a id="DL-01"></a>' in md and "[DL-01](#DL-01)" in md
    assert "(https://telework.cyber.ipa.go.jp/lgwan/terms/)" in md
    assert catalog.sha256 in md


def test_json_is_complete(catalog: Catalog) -> None:
    data = json.loads(render(catalog, "en", "json"))
    assert data["catalog"]["version"] == catalog.version
    assert data["catalog"]["sha256"] == catalog.sha256
    assert [r["id"] for r in data["requirements"]] == list(catalog.requirements)
    dl2 = next(r for r in data["requirements"] if r["id"] == "DL-02")
    assert dl2["applicable_when"] == {"claim": "download", "equals": "sanitized"}
    sb = next(p for p in data["profiles"] if p["id"] == "SB-CORE")
    assert sorted(sb["requirements"]) == sorted(SB_CORE)
    assert {s["key"] for s in data["sources"]} == set(catalog.sources)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.ids += [v for k, v in attrs if k == "id" and v]


def test_html_is_self_contained_with_anchors(catalog: Catalog) -> None:
    page = render_html(catalog)
    parser = _Anchors()
    parser.feed(page)
    assert len(parser.ids) == len(set(parser.ids)), "anchors must be unique"
    for rid, req in catalog.requirements.items():
        assert rid in parser.ids
        assert req.text_ja in page
    assert "script" not in parser.tags and "link" not in parser.tags  # no external assets
    assert "<style>" in page
    assert 'href="https://telework.cyber.ipa.go.jp/lgwan/terms/"' in page
    # English text is HTML-escaped (apostrophes become &#x27;).
    assert "terminal&#x27;s OS clipboard" in page


def test_unknown_fmt_or_lang(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="table, csv, markdown, json"):
        render(catalog, "ja", "yaml")
    with pytest.raises(ValueError, match="ja, en"):
        render(catalog, "de", "table")


# --------------------------------------------------------------------------------------------------
# Released contract
# --------------------------------------------------------------------------------------------------


def test_released_ids_keep_their_meaning(catalog: Catalog) -> None:
    diff = check_released(catalog, load_released())
    if diff.new:
        print(f"new requirement IDs not yet in released.json (fine; freeze them on release): {diff.new}")
    assert not diff.removed, (
        f"released requirement IDs disappeared from the catalog: {diff.removed}. A released ID is a "
        "contract: restore it. To retire a requirement keep the ID and its meaning; add a new ID instead."
    )
    assert not diff.changed, (
        f"the meaning (text_ja, text_en, applies_to, level, verification) of released IDs changed: "
        f"{diff.changed}. Do not edit a released meaning: restore it and add a new ID instead."
    )


def test_released_contract_covers_required_ids() -> None:
    released = load_released()
    assert set(REQUIRED) <= set(released)


def test_contract_detects_changes(tmp_path: Path, source_text: str, catalog: Catalog) -> None:
    released = released_snapshot(catalog)["requirements"]
    edited = tmp_path / "edited.toml"
    edited.write_text(source_text.replace('level = "must"', 'level = "should"', 1), encoding="utf-8")
    assert check_released(load_catalog(edited), released).changed == ["CLIP-01"]
    # A title is not part of the meaning.
    retitled = catalog.requirements["CLIP-01"].model_copy(update={"title_en": "Other title"})
    assert meaning_digest(retitled) == meaning_digest(catalog.requirements["CLIP-01"])
    diff = check_released(catalog, {**released, "OLD-01": "0" * 64})
    assert diff.removed == ["OLD-01"] and not diff.ok
    fewer = {k: v for k, v in released.items() if k != "GOV-02"}
    assert check_released(catalog, fewer).new == ["GOV-02"]
    # Regenerating keeps every previously released ID.
    assert "OLD-01" in released_snapshot(catalog, {"OLD-01": "0" * 64})["requirements"]
