"""Certification artefacts of real reference runs (issue 11): the single-file Allure report opened from
``file://``, the statement in both languages as HTML and PDF, the checklist, the signed bundle that verifies and
names any change, compare (open vs hardened, a vendor's run vs an acceptance run with a waiver), and report steps
that never change the exit code.

The vendor's run is the matrix's full run of chromium-open; the municipality's acceptance run is a run of the
same profile for DL-01 only, with the example waiver file and a broken Allure, made here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import private_browser_env
from tests.reference.matrix import CANDIDATES, ROOT, ReferenceRuns

pytestmark = pytest.mark.reference
WAIVERS = ROOT / "fixtures" / "waivers" / "example.toml"
WAIVED = "DL-01"  # what the example waiver accepts for chromium-open (a fast case: one download)


def _conformance(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "conformance.cli", *args], capture_output=True, text=True,
                          timeout=900, cwd=ROOT, env=env)  # fmt: skip
    print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n")
    return proc


def _run_dir(reference_runs: ReferenceRuns, name: str) -> Path:
    return Path(reference_runs[name]["_dir"])


def _pdf_text(path: Path) -> str:
    """The PDF's text with runs of white space as one space (the layout spreads a title over the line)."""
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


@pytest.fixture(scope="module")
def acceptance_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The municipality's acceptance run: DL-01 of chromium-open with the example waivers, and an Allure that
    cannot run (a report step that fails)."""
    out = tmp_path_factory.mktemp("acceptance") / "chromium-open"
    env = {**os.environ, "CONFORMANCE_ALLURE": str(out.parent / "no-such-allure")}
    proc = _conformance("run", "--candidate", str(CANDIDATES / "chromium-open.toml"), "--out", str(out),
                        f"--requirement={WAIVED}", f"--waivers={WAIVERS}", env=env)  # fmt: skip
    return proc, out


def test_single_file_allure_report_opens_from_a_file_url(
    reference_runs: ReferenceRuns, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from playwright.sync_api import sync_playwright

    run_dir = _run_dir(reference_runs, "chromium-hardened")
    report = run_dir / "allure-report"
    assert sorted(p.name for p in report.iterdir() if p.suffix in (".js", ".css")) == [], "not a single file"
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/lib/chromium/chromium", args=["--no-sandbox"],
                                             env=private_browser_env(tmp_path_factory))  # fmt: skip
        try:
            page = browser.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto((report / "index.html").as_uri())
            # The tree of results: the candidate's suite and the Japanese UI, not a spinner.
            page.get_by_text("chromium-hardened (secure-browser)").first.wait_for(timeout=90_000)  # 7 MB inlined
            text = page.inner_text("body")
        finally:
            browser.close()
    assert "適合性試験 / Conformance" in text and "結果" in text, text[:500]
    assert not errors, errors
    config = (run_dir / "allurerc.mjs").read_text(encoding="utf-8")
    assert '"singleFile": true' in config and "historyPath" in config


def test_statement_in_both_languages_as_html_and_pdf(reference_runs: ReferenceRuns) -> None:
    document = reference_runs["chromium-hardened"]
    run_dir = Path(document["_dir"])
    ja_html = (run_dir / "statement-ja.html").read_text(encoding="utf-8")
    en_html = (run_dir / "statement-en.html").read_text(encoding="utf-8")
    for text in (ja_html, en_html):
        assert document["suite"]["catalog_sha256"] in text
        assert all(rid in text for rid in document["requirements"])
    ja_pdf, en_pdf = _pdf_text(run_dir / "statement-ja.pdf"), _pdf_text(run_dir / "statement-en.pdf")
    assert "適合性確認結果" in ja_pdf and "chromium-hardened" in ja_pdf
    assert "Conformance statement" in en_pdf and "chromium-hardened" in en_pdf
    assert "GOV-01" in ja_pdf and "GOV-01" in en_pdf  # the attested manual items are part of it


def test_checklist_has_one_row_per_requirement(reference_runs: ReferenceRuns) -> None:
    from openpyxl import load_workbook

    document = reference_runs["chromium-hardened"]
    book = load_workbook(Path(document["_dir"]) / "checklist.xlsx", read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    by_id = {row[0]: row for row in rows[1:] if row and row[0]}
    assert set(document["requirements"]) <= set(by_id)
    assert any("適合" in str(cell) for cell in by_id["DL-01"]), by_id["DL-01"]
    identity = " ".join(str(c) for row in book.worksheets[1].iter_rows(values_only=True) for c in row if c)
    assert "chromium-hardened" in identity and document["suite"]["catalog_sha256"] in identity


def test_the_signed_bundle_verifies_and_names_any_change(reference_runs: ReferenceRuns, tmp_path: Path) -> None:
    document = reference_runs["chromium-hardened"]
    run_dir = Path(document["_dir"])
    bundle, pubkey = run_dir / "evidence-bundle.zip", reference_runs.sign_key.with_suffix(".pub")
    assert _conformance("verify", str(bundle), "--pubkey", str(pubkey)).returncode == 0
    with zipfile.ZipFile(bundle) as archive:
        names = [n for n in archive.namelist() if n.startswith("run/")]
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["suite"]["catalog_sha256"] == document["suite"]["catalog_sha256"]
    kinds = ["run/conformance.json", "run/statement-ja.pdf", "run/checklist.xlsx", "run/allure-report/index.html",
             next(n for n in names if n.startswith("run/inputs/profile-")),
             next(n for n in names if n.startswith("run/evidence/") and n.endswith(".png"))]  # fmt: skip
    for name in kinds:
        tampered = tmp_path / f"changed-{Path(name).name}.zip"
        _rewrite(bundle, tampered, change=name)
        proc = _conformance("verify", str(tampered), "--pubkey", str(pubkey))
        assert proc.returncode == 1 and name in proc.stdout, (name, proc.stdout)
    added, removed = tmp_path / "added.zip", tmp_path / "removed.zip"
    _rewrite(bundle, added, add="run/evidence/extra.txt")
    _rewrite(bundle, removed, drop="run/report.html")
    for path, name in ((added, "run/evidence/extra.txt"), (removed, "run/report.html")):
        proc = _conformance("verify", str(path), "--pubkey", str(pubkey))
        assert proc.returncode == 1 and name in proc.stdout, proc.stdout


def _rewrite(source: Path, target: Path, change: str = "", add: str = "", drop: str = "") -> None:
    """A copy of the bundle with one byte of one member changed, a member added or one removed (not re-signed)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename == drop:
                continue
            data = old.read(info)
            if info.filename == change:
                data = data[:-1] + bytes([data[-1] ^ 0x01])
            new.writestr(info, data)
        if add:
            new.writestr(add, b"added after signing\n")


def test_compare_open_and_hardened(reference_runs: ReferenceRuns, tmp_path: Path) -> None:
    open_dir, hardened_dir = _run_dir(reference_runs, "chromium-open"), _run_dir(reference_runs, "chromium-hardened")
    out = tmp_path / "matrix.html"
    proc = _conformance("compare", str(open_dir), str(hardened_dir), "--out", str(out))
    assert proc.returncode == 0, proc.stderr  # several candidates: a procurement view, not a check
    page = out.read_text(encoding="utf-8")
    assert "chromium-open" in page and "chromium-hardened" in page and "DL-01" in page
    assert os.path.relpath(open_dir / "report.html", out.parent) in page


def test_vendor_run_against_an_acceptance_run_with_a_waiver(
    reference_runs: ReferenceRuns, acceptance_run: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    proc, out = acceptance_run
    document: dict[str, Any] = json.loads((out / "conformance.json").read_text(encoding="utf-8"))
    entry = document["requirements"][WAIVED]
    assert entry["verdict"] == "waived" and entry["waiver"]["original_verdict"] == "fail", entry
    assert document["summary"]["counts"]["pass"] == 0  # waived is never pass
    assert proc.returncode == document["summary"]["exit_code"]
    compared = _conformance("compare", reference_runs["chromium-open"]["_dir"], str(out))
    assert compared.returncode == 1, compared.stdout  # the verdicts differ
    assert WAIVED in compared.stdout and "waived" in compared.stdout
    # shown as waived, never as pass, wherever a person reads it
    assert 'class="v waived"' in (out / "report.html").read_text(encoding="utf-8")
    assert "waived" in (out / "statement-en.html").read_text(encoding="utf-8")
    from openpyxl import load_workbook

    rows = load_workbook(out / "checklist.xlsx", read_only=True).worksheets[0].iter_rows(values_only=True)
    row = next(r for r in rows if r and r[0] == WAIVED)
    assert any("免除" in str(cell) for cell in row) and not any("適合 / pass" in str(cell) for cell in row), row


def test_a_report_step_that_fails_never_changes_the_exit_code(
    acceptance_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, out = acceptance_run
    document = json.loads((out / "conformance.json").read_text(encoding="utf-8"))
    assert proc.returncode == document["summary"]["exit_code"]
    steps = json.loads((out / "artifacts.json").read_text(encoding="utf-8"))["steps"]
    assert [(s["step"], s["status"]) for s in steps] == [
        ("statement", "written"), ("checklist", "written"), ("allure", "failed")], steps
    assert "not built" in proc.stdout and "exit code are unchanged" in proc.stdout
    assert not (out / "allure-report").exists()
    shutil.rmtree(out / "allure-results", ignore_errors=True)
