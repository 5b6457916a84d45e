"""The conformance statement (適合性確認結果): identity, hashes, every requirement, fail shown as fail, a waived
requirement never shown as pass, attestations, escaping; and one real PDF printed by the suite's Chromium."""

from __future__ import annotations

import copy
import hashlib
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from conformance.catalog import load_catalog
from conformance.errors import HarnessError
from conformance.statement import CHROMIUM, render_pdf, render_statement_html, write_statement

CANDIDATE = "acme-secure-browser"
PINNED = b"observation recorded with its hash\n"
UNPINNED = b"observation hashed from the run folder\n"
ATTESTED = b"%PDF-1.4 risk assessment\n"
SCRIPT_REASON = "<script>alert('reason')</script> & more"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def case(nodeid: str, outcome: str, evidence: list[str], message: str = "", pinned: dict[str, str] | None = None):
    result: dict[str, Any] = {
        "nodeid": nodeid,
        "outcome": outcome,
        "message": message,
        "evidence": evidence,
        "duration": 1.0,
        "title": f"{nodeid} の試験 / case {nodeid}",
        "notes": [],
    }
    if pinned is not None:
        result["evidence_sha256"] = pinned
    return result


def attestation(status: str, **more: Any) -> dict[str, Any]:
    record = {
        "status": status,
        "example": False,
        "statement": "リスク評価を実施した / the risks were assessed",
        "attested_by": "山田 太郎",
        "organisation": "ACME 株式会社",
        "role": "情報処理安全確保支援士",
        "registration_number": None,
        "date": "2026-11-30",
        "expires": "2027-11-30",
        "evidence": [],
        "applicable": True,
    }
    return {**record, **more}


def make_document(catalog: Any, run_dir: Path) -> dict[str, Any]:
    """A finished run of every verdict: CLIP-01 pass, DL-01 fail, PRN-01 waived, NET-02 error (a reason with
    markup), GOV-01 attested (an example), WLAN-03 pending, MNT-06 expired; the rest not applicable."""
    files = {
        "evidence/clip/observation.json": PINNED,
        "evidence/clip/keyboard.png": UNPINNED,
        "evidence/dl/observation.json": b'{"landed": ["report.docm"]}\n',
        "evidence/attestations/GOV-01/evidence/report.pdf": ATTESTED,
    }
    for relative, data in files.items():
        (run_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / relative).write_bytes(data)
    requirements = {
        rid: {"verdict": "not_applicable", "level": req.level, "reason": "対象外 / not applicable", "cases": []}
        for rid, req in catalog.requirements.items()
    }
    requirements["CLIP-01"].update(
        verdict="pass",
        reason="1 of 1 cases passed",
        cases=[
            case(
                "cases/test_clipboard.py::test_copy",
                "pass",
                ["evidence/clip/observation.json", "evidence/clip/keyboard.png", "evidence/clip/gone.png"],
                pinned={"evidence/clip/observation.json": sha(PINNED)},
            )
        ],
    )
    requirements["DL-01"].update(
        verdict="fail",
        reason="1 of 1 cases failed",
        cases=[
            case("cases/test_download.py::test_land", "fail", ["evidence/dl/observation.json"], "report.docm landed")
        ],
    )
    waiver = {
        "requirement": "PRN-01",
        "justification": "印刷は運用で制限する / printing is restricted by procedure",
        "approver": "情報政策課長 山田",
        "approved": "2026-11-01",
        "expires": "2027-03-31",
        "candidate": CANDIDATE,
        "reference": "決裁 2026-123",
        "exit": "accept",
        "original_verdict": "fail",
    }
    requirements["PRN-01"].update(
        verdict="waived",
        reason="免除された不適合: 1 of 1 cases failed / waived failure: 1 of 1 cases failed",
        cases=[case("cases/test_print.py::test_print", "fail", [], "a job reached the queue")],
        waiver=waiver,
    )
    requirements["NET-02"].update(verdict="error", reason=SCRIPT_REASON)
    evidence = [
        {
            "path": "evidence/attestations/GOV-01/evidence/report.pdf",
            "source": "evidence/report.pdf",
            "sha256": sha(ATTESTED),
            "bytes": len(ATTESTED),
        }
    ]
    requirements["GOV-01"].update(
        verdict="manual",
        reason="証跡確認済 / attested",
        attestation=attestation("attested", example=True, registration_number="012345", evidence=evidence),
    )
    requirements["WLAN-03"].update(
        verdict="manual", reason="証跡未提出 / pending", attestation={"status": "pending", "applicable": True}
    )
    requirements["MNT-06"].update(
        verdict="manual",
        reason="証跡の期限切れ / expired",
        attestation=attestation("expired", attested_by="Jane Doe", role="product security lead", expires="2025-01-10"),
    )
    counts = dict.fromkeys(("pass", "fail", "error", "not_applicable", "manual", "not_tested", "waived"), 0)
    for entry in requirements.values():
        counts[entry["verdict"]] += 1
    return {
        "schema": "lgwan-conformance/result-v1",
        "suite": {
            "name": "lgwan-conformance",
            "version": "0.1.0",
            "catalog_version": catalog.version,
            "catalog_sha256": catalog.sha256,
        },
        "candidate": {
            "name": CANDIDATE,
            "vendor": "ACME 株式会社",
            "version": "4.2.1",
            "kind": "secure-browser",
            "profile_path": "/somewhere/acme.toml",
            "profile_sha256": "ab" * 32,
            "catalog_profiles": ["SB-CORE", "GOV"],
            "claims": {"download": "blocked"},
        },
        "started": "2026-12-05T05:24:50+00:00",
        "finished": "2026-12-05T05:28:44+00:00",
        "duration_s": 233.9,
        "environment": {"python": "3.11.7", "platform": "Linux-test"},
        "network": {"observation": "namespace", "fallback_reason": "", "not_observable": ""},
        "selection": None,
        "attestations": {
            "file": "/somewhere/attestations.toml",
            "sha256": "cd" * 32,
            "checked_on": "2026-12-05",
            "entries": 2,
            "examples": 1,
        },
        "waivers": {
            "file": "/somewhere/waivers.toml",
            "sha256": "ef" * 32,
            "exit": "accept",
            "entries": 1,
            "checked_on": "2026-12-05",
            "unused": [],
        },
        "summary": {"counts": counts, "exit_code": 1},
        "collection_errors": [],
        "requirements": requirements,
    }


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


def row(page: str, rid: str) -> str:
    """The HTML of one requirement in the verdict table."""
    match = re.search(rf'<tbody class="req" id="req-{re.escape(rid)}">.*?</tbody>', page, re.DOTALL)
    assert match, f"{rid} is not in the table"
    return match.group(0)


def section(page: str, number: int) -> str:
    """The HTML from heading ``number`` to the next heading."""
    match = re.search(rf"<h2>{number}\. .*?(?=<h2>|</body>)", page, re.DOTALL)
    assert match, f"no section {number}"
    return match.group(0)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_identity_and_catalog_hash(document: dict[str, Any], catalog: Any, run_dir: Path, lang: str) -> None:
    page = render_statement_html(document, catalog, lang, run_dir=run_dir)
    assert f'<html lang="{lang}">' in page
    assert ("適合性確認結果" if lang == "ja" else "Conformance statement") in page
    for value in (CANDIDATE, "ACME 株式会社", "4.2.1", "ab" * 32, catalog.sha256, catalog.version, "0.1.0"):
        assert value in page
    assert ("セキュアブラウザ" if lang == "ja" else "secure-browser") in page  # the kind, in the page's language
    assert "2026-12-05 05:24:50+00:00" in page and "233.9" in page
    assert ("名前空間" if lang == "ja" else "network namespace") in page
    meaning = "必須要件に不適合あり" if lang == "ja" else "a must-level requirement failed"
    assert meaning in section(page, 3)
    assert ("署名又は記名押印" if lang == "ja" else "Signature") in section(page, 8)
    assert "manifest.json" in section(page, 7)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_requirement_in_catalog_order(document: dict[str, Any], catalog: Any, lang: str) -> None:
    page = render_statement_html(document, catalog, lang)
    listed = re.findall(r'<tbody class="req" id="req-([A-Z]+-\d+)">', page)
    assert listed == list(catalog.requirements)
    assert catalog.requirements["DL-01"].title(lang) in row(page, "DL-01")


@pytest.mark.parametrize(("lang", "label"), [("ja", "不適合 <small>(fail)</small>"), ("en", ">fail</span>")])
def test_a_fail_is_shown_as_fail(document: dict[str, Any], catalog: Any, lang: str, label: str) -> None:
    dl = row(render_statement_html(document, catalog, lang), "DL-01")
    assert '<span class="v fail">' in dl and label in dl
    assert "report.docm landed" in dl  # the failing case and its message
    assert 'class="v pass"' not in dl


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_waived_requirement_is_never_shown_as_pass(document: dict[str, Any], catalog: Any, lang: str) -> None:
    page = render_statement_html(document, catalog, lang)
    prn = row(page, "PRN-01")
    assert '<span class="v waived">' in prn
    assert ("免除 <small>(waived)</small>" if lang == "ja" else ">waived</span>") in prn
    assert '<span class="v fail">' in prn  # the original verdict, said with it
    assert 'class="v pass"' not in prn and "(pass)" not in prn and ">pass<" not in prn
    waivers = section(page, 6)
    for value in (
        "印刷は運用で制限する",
        "情報政策課長 山田",
        "2027-03-31",
        "決裁 2026-123",
        "waivers.toml",
        "ef" * 32,
    ):
        assert value in waivers
    counts = section(page, 3)
    assert ("免除 <small>(waived)</small></span><b>1</b>" if lang == "ja" else ">waived</span><b>1</b>") in counts


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_no_waivers_says_none(document: dict[str, Any], catalog: Any, lang: str) -> None:
    document = copy.deepcopy(document)
    document["waivers"] = None
    del document["requirements"]["PRN-01"]["waiver"]
    document["requirements"]["PRN-01"]["verdict"] = "fail"
    waivers = section(render_statement_html(document, catalog, lang), 6)
    assert ("免除なし" if lang == "ja" else "None") in waivers
    assert "<table" not in waivers


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_attested_items(document: dict[str, Any], catalog: Any, lang: str) -> None:
    attested = section(render_statement_html(document, catalog, lang), 5)
    gov = attested[attested.index("GOV-01") :]
    gov = gov[: gov.index("</tr>")]
    for value in ("山田 太郎", "ACME 株式会社", "情報処理安全確保支援士", "012345", "2026-11-30", "2027-11-30"):
        assert value in gov
    assert "evidence/attestations/GOV-01/evidence/report.pdf" in gov and sha(ATTESTED) in gov
    assert 'class="example"' in gov and ("実際の証跡ではない" if lang == "ja" else "not real evidence") in gov
    assert ("未提出" if lang == "ja" else "pending") in attested  # WLAN-03
    assert ("期限切れ" if lang == "ja" else "expired") in attested and "Jane Doe" in attested  # MNT-06
    warning = "例（example）であり実際の証跡ではない" if lang == "ja" else "are examples, not real evidence"
    assert warning in section(render_statement_html(document, catalog, lang), 3)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_reasons_are_escaped(document: dict[str, Any], catalog: Any, lang: str) -> None:
    page = render_statement_html(document, catalog, lang)
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;reason&#x27;)&lt;/script&gt; &amp; more" in row(page, "NET-02")


def test_evidence_is_named_with_its_hash(document: dict[str, Any], catalog: Any, run_dir: Path) -> None:
    """A recorded hash is used as is; a file without one is hashed from the run folder; a missing file says so."""
    clip = row(render_statement_html(document, catalog, "en", run_dir=run_dir), "CLIP-01")
    assert "evidence/clip/" in clip
    assert f">{sha(PINNED)[:12]}</span>" in clip and f"sha256 {sha(PINNED)}" in clip  # full hash in the title
    assert f">{sha(UNPINNED)[:12]}</span>" in clip
    assert "gone.png" in clip and "file missing" in clip
    # Without the run folder, only the recorded hash is known.
    bare = row(render_statement_html(document, catalog, "en"), "CLIP-01")
    assert sha(PINNED)[:12] in bare and sha(UNPINNED)[:12] not in bare


def test_a_path_out_of_the_run_folder_is_never_read(document: dict[str, Any], catalog: Any, run_dir: Path) -> None:
    outside = run_dir.parent / "secret.txt"
    outside.write_bytes(b"not evidence")
    document["requirements"]["CLIP-01"]["cases"][0]["evidence"].append("../secret.txt")
    clip = row(render_statement_html(document, catalog, "en", run_dir=run_dir), "CLIP-01")
    assert sha(b"not evidence")[:12] not in clip


def test_partial_run_is_said(document: dict[str, Any], catalog: Any) -> None:
    document = copy.deepcopy(document)
    document["selection"] = ["DL-01"]
    document["requirements"] = {"DL-01": document["requirements"]["DL-01"]}
    page = render_statement_html(document, catalog, "ja")
    assert "部分実行" in section(page, 3)
    assert "今回の実行対象外" in row(page, "CLIP-01")
    assert '<span class="v fail">' in row(page, "DL-01")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_self_contained_and_printable(document: dict[str, Any], catalog: Any, lang: str) -> None:
    page = render_statement_html(document, catalog, lang)
    for external in ("http://", "https://", "src=", "href=", "url(", "@import", "<link", "<script"):
        assert external not in page
    assert "@page{size:A4" in page and "break-inside:avoid" in page
    fonts = re.search(r"body\{font-family:([^;]+);", page).group(1)
    assert fonts.startswith('"Noto Sans CJK JP"') == (lang == "ja")


def test_unknown_language_is_refused(document: dict[str, Any], catalog: Any) -> None:
    with pytest.raises(ValueError, match="unknown lang"):
        render_statement_html(document, catalog, "fr")


# -- PDF -------------------------------------------------------------------------------------------------
def fake_chromium(folder: Path, body: str) -> Path:
    script = folder / "fake-chromium"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("echo 'cannot open display' >&2; exit 1", "cannot open display"),
        # A file that is not a PDF at the --print-to-pdf path: never renamed into place.
        ('for a; do case "$a" in --print-to-pdf=*) printf "half" > "${a#--print-to-pdf=}";; esac; done', "exit 0"),
        # A PDF cut short (no end-of-file marker).
        (
            'for a; do case "$a" in --print-to-pdf=*) printf "%%PDF-1.4 1 0 obj" > "${a#--print-to-pdf=}";; esac; done',
            "exit 0",
        ),
    ],
)
def test_no_pdf_is_a_harness_error(tmp_path: Path, body: str, said: str) -> None:
    page = tmp_path / "statement-ja.html"
    page.write_text("<!doctype html><p>x</p>", encoding="utf-8")
    with pytest.raises(HarnessError, match=re.escape(said)) as raised:
        render_pdf(page, tmp_path / "statement-ja.pdf", fake_chromium(tmp_path, body))
    assert raised.value.component == "statement"
    assert not (tmp_path / "statement-ja.pdf").exists() and leftovers(tmp_path) == []


def test_a_hung_chromium_is_killed(tmp_path: Path) -> None:
    page = tmp_path / "statement-en.html"
    page.write_text("<!doctype html><p>x</p>", encoding="utf-8")
    marker = tmp_path / "child-alive"
    # A child in the same process group outlives the script unless the whole group is killed.
    body = f"(sleep 1.5; touch {marker}) & sleep 30"
    started = time.monotonic()
    with pytest.raises(HarnessError, match=r"timed out after 0\.5 s"):
        render_pdf(page, tmp_path / "statement-en.pdf", fake_chromium(tmp_path, body), timeout=0.5)
    assert time.monotonic() - started < 10
    time.sleep(2)
    assert not marker.exists(), "a process of the group survived the time-out"


def test_a_missing_chromium_is_a_harness_error(tmp_path: Path) -> None:
    page = tmp_path / "statement-en.html"
    page.write_text("<!doctype html>", encoding="utf-8")
    with pytest.raises(HarnessError, match="cannot start"):
        render_pdf(page, tmp_path / "statement-en.pdf", tmp_path / "no-such-chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (Debian package chromium)")
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext is not installed (poppler-utils)")
def test_write_statement_prints_real_pdfs(document: dict[str, Any], catalog: Any, run_dir: Path) -> None:
    profiles_before = set(Path(tempfile.gettempdir()).glob("conformance-statement-*"))
    written = write_statement(run_dir, document, catalog)
    assert [p.name for p in written] == [
        "statement-ja.html",
        "statement-ja.pdf",
        "statement-en.html",
        "statement-en.pdf",
    ]
    for pdf in written[1::2]:
        assert pdf.read_bytes().startswith(b"%PDF-")
    text = {}
    for lang in ("ja", "en"):
        pdf = run_dir / f"statement-{lang}.pdf"
        out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60)
        text[lang] = " ".join(out.stdout.split())
    assert "適合性確認結果" in text["ja"] and CANDIDATE in text["ja"]
    assert "Conformance statement" in text["en"] and CANDIDATE in text["en"]
    assert leftovers(run_dir) == []  # no partial file
    assert set(Path(tempfile.gettempdir()).glob("conformance-statement-*")) == profiles_before  # profile removed
