"""Attestations of the manual requirements: the file is checked before anything starts, every evidence file
is hashed, and a manual requirement stays ``manual`` whatever is handed in (attested, pending or expired)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conformance.attestation import load_attestations, write_allure_results
from conformance.catalog import load_catalog
from conformance.cli import REFERENCE_DIR, main
from conformance.errors import InputError
from conformance.profile import load_profile
from conformance.report import build_document, render_report_html, render_summary, write_run
from conformance.verdicts import aggregate, attestation_counts, exit_code

TODAY = dt.date(2026, 12, 5)
EXAMPLE_FILE = REFERENCE_DIR.parent / "attestations" / "reference-hardened.toml"

GOOD = """
[[attestation]]
requirement = "GOV-01"
statement = "リスク評価を実施した / the risks were assessed"
attested_by = "山田 太郎"
organisation = "ACME 株式会社"
role = "情報処理安全確保支援士"
registration_number = "012345"
date = 2026-11-30
expires = 2027-11-30
evidence = ["evidence/gov-01-report.pdf", "evidence/scope.txt"]

[[attestation]]
requirement = "LOG-01"
statement = "遮断した転送は監査ログに残る / blocked transfers are logged"
attested_by = "Jane Doe"
role = "product security lead"
date = 2026-10-01
expires = 2027-10-01
evidence = ["evidence/log-01.txt"]
"""
# LOG-01 made on 2024-01-10 and valid through 2025-01-10: expired on TODAY, still loaded.
EXPIRED = GOOD.replace("date = 2026-10-01", "date = 2024-01-10").replace("expires = 2027-10-01", "expires = 2025-01-10")
EVIDENCE = {
    "evidence/gov-01-report.pdf": b"%PDF-1.4 risk assessment\n",
    "evidence/scope.txt": "評価範囲: 特定通信と保守経路\n".encode(),
    "evidence/log-01.txt": b"2026-10-01T10:00:00 user=u1 kind=clipboard blocked\n",
}


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog()


def write_set(folder: Path, text: str = GOOD, files: dict[str, bytes] | None = None) -> Path:
    """An attestation file with its evidence files in ``folder``."""
    for name, content in (EVIDENCE if files is None else files).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    path = folder / "attestations.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- loading ---------------------------------------------------------------------------------------
def test_valid_file_loads_and_hashes_every_evidence_file(tmp_path: Path, catalog: Any) -> None:
    loaded = load_attestations(write_set(tmp_path), catalog, TODAY)
    assert list(loaded.entries) == ["GOV-01", "LOG-01"]
    gov = loaded.entries["GOV-01"]
    assert gov.entry.registration_number == "012345" and gov.entry.example is False
    for evidence in gov.evidence + loaded.entries["LOG-01"].evidence:
        content = EVIDENCE[evidence.source]
        assert evidence.sha256 == hashlib.sha256(content).hexdigest()
        assert evidence.bytes == len(content)
    record = loaded.records(TODAY)["GOV-01"]
    assert record["status"] == "attested"
    assert record["evidence"][0]["path"] == "evidence/attestations/GOV-01/evidence/gov-01-report.pdf"
    assert loaded.sha256 == hashlib.sha256((tmp_path / "attestations.toml").read_bytes()).hexdigest()


def test_file_saved_with_a_bom_loads(tmp_path: Path, catalog: Any) -> None:
    path = write_set(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as some Windows editors save UTF-8
    assert list(load_attestations(path, catalog, TODAY).entries) == ["GOV-01", "LOG-01"]


BAD_CASES = [
    # (old, new, field, words in the problem)
    ('requirement = "LOG-01"', 'requirement = "XYZ-99"', "attestation[1].requirement", "unknown requirement"),
    ('requirement = "LOG-01"', 'requirement = "log1"', "attestation[1].requirement", "not a requirement ID"),
    ('requirement = "LOG-01"', 'requirement = "DL-01"', "attestation[DL-01].requirement", "automated"),
    ('requirement = "LOG-01"', 'requirement = "GOV-01"', "attestation[GOV-01].requirement", "attested twice"),
    ('attested_by = "Jane Doe"\n', "", "attestation[LOG-01].attested_by", "missing"),
    ('role = "product security lead"\n', "", "attestation[LOG-01].role", "missing"),
    ("evidence = [\"evidence/log-01.txt\"]\n", "", "attestation[LOG-01].evidence", "missing"),
    ("date = 2026-10-01\n", "", "attestation[LOG-01].date", "missing"),
    ('role = "product security lead"', 'role = "x"\ncolour = "red"', "attestation[LOG-01].colour", "unknown field"),
    ('registration_number = "012345"\n', "", "attestation[GOV-01].registration_number", "registration number"),
    ('registration_number = "012345"', 'registration_number = "12345"', "attestation[GOV-01].registration_number",
     "not valid"),
    ('registration_number = "012345"', 'registration_number = "第012345号"',
     "attestation[GOV-01].registration_number", "not valid"),
    ('registration_number = "012345"', 'registration_number = "０１２３４５"',
     "attestation[GOV-01].registration_number", "not valid"),
    ('registration_number = "012345"', 'registration_number = "012345\\n"',
     "attestation[GOV-01].registration_number", "not valid"),
    ('registration_number = "012345"', "registration_number = 123456", "attestation[GOV-01].registration_number",
     "not text"),
    ("expires = 2027-11-30", "expires = 2026-11-29", "attestation[GOV-01].expires", "not after"),
    ("expires = 2027-11-30", "expires = 2026-11-30", "attestation[GOV-01].expires", "not after"),
    ("date = 2026-11-30", "date = 2026-12-06", "attestation[GOV-01].date", "in the future"),
    ("date = 2026-11-30", 'date = "2026-11-30"', "attestation[GOV-01].date", "not a TOML date"),
    ("date = 2026-11-30", "date = 2026-11-30T09:00:00", "attestation[GOV-01].date", "not a TOML date"),
    ('statement = "リスク評価を実施した / the risks were assessed"', 'statement = "  "',
     "attestation[GOV-01].statement", "empty"),
    ('"evidence/gov-01-report.pdf", "evidence/scope.txt"', "", "attestation[GOV-01].evidence", "no evidence"),
    ('"evidence/scope.txt"', '"evidence/missing.pdf"', "attestation[GOV-01].evidence[1]", "cannot read"),
    ('"evidence/scope.txt"', '"../outside.txt"', "attestation[GOV-01].evidence[1]", "out of the attestation"),
    ('"evidence/scope.txt"', '"evidence/../../outside.txt"', "attestation[GOV-01].evidence[1]", "out of the"),
    ('"evidence/scope.txt"', '"/etc/hostname"', "attestation[GOV-01].evidence[1]", "absolute path"),
    ('"evidence/scope.txt"', '"evidence"', "attestation[GOV-01].evidence[1]", "folder"),
    ('"evidence/scope.txt"', '"evidence/gov-01-report.pdf"', "attestation[GOV-01].evidence", "listed twice"),
    ("date = 2026-10-01", 'date = 2026-10-01\nexample = "yes"', "attestation[LOG-01].example", "not true or false"),
    ('requirement = "GOV-01"', "requirement = GOV-01", "line 3", "not valid TOML"),
    ("[[attestation]]\nrequirement = \"GOV-01\"", "colour = 1\n[[attestation]]\nrequirement = \"GOV-01\"",
     "colour", "unknown top-level key"),
]


@pytest.mark.parametrize(("old", "new", "field", "problem"), BAD_CASES)
def test_malformed_attestation_is_rejected_naming_file_and_field(
    tmp_path: Path, catalog: Any, old: str, new: str, field: str, problem: str
) -> None:
    assert old in GOOD
    (tmp_path / "outside.txt").write_text("outside", encoding="utf-8")  # next to the vendor's folder, not in it
    (tmp_path / "vendor").mkdir()
    path = write_set(tmp_path / "vendor", GOOD.replace(old, new, 1))
    with pytest.raises(InputError) as caught:
        load_attestations(path, catalog, TODAY)
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert caught.value.fix  # every rejection says how to fix it


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "attestation"),
        ('[attestation]\nrequirement = "GOV-01"\n', "attestation"),
        ("attestation = []\n", "attestation"),
        ('attestation = ["GOV-01"]\n', "attestation[0]"),
    ],
)
def test_file_without_attestation_tables_is_rejected(tmp_path: Path, catalog: Any, text: str, field: str) -> None:
    with pytest.raises(InputError) as caught:
        load_attestations(write_set(tmp_path, text, {}), catalog, TODAY)
    assert caught.value.field == field


def test_evidence_symlink_out_of_the_folder_is_rejected(tmp_path: Path, catalog: Any) -> None:
    folder = tmp_path / "vendor"
    folder.mkdir()
    (tmp_path / "secret.txt").write_text("not the vendor's", encoding="utf-8")
    path = write_set(folder)
    (folder / "evidence" / "scope.txt").unlink()
    (folder / "evidence" / "scope.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(InputError) as caught:
        load_attestations(path, catalog, TODAY)
    assert caught.value.field == "attestation[GOV-01].evidence[1]"


def test_unreadable_or_missing_attestation_file(tmp_path: Path, catalog: Any) -> None:
    with pytest.raises(InputError) as caught:
        load_attestations(tmp_path / "nope.toml", catalog, TODAY)
    assert caught.value.file == str(tmp_path / "nope.toml")
    (tmp_path / "latin1.toml").write_bytes("statement = 'é'".encode("latin-1"))
    with pytest.raises(InputError, match="UTF-8"):
        load_attestations(tmp_path / "latin1.toml", catalog, TODAY)


def test_expired_attestation_loads_and_is_reported_expired(tmp_path: Path, catalog: Any) -> None:
    text = EXPIRED
    loaded = load_attestations(write_set(tmp_path, text), catalog, TODAY)
    assert loaded.entries["LOG-01"].status(TODAY) == "expired"
    assert loaded.entries["LOG-01"].status(dt.date(2025, 1, 10)) == "attested"  # valid through its last day
    verdicts = aggregate(catalog, "secure-browser", {}, ["SB-EXT"], [], loaded.records(TODAY))
    assert verdicts["LOG-01"].verdict == "manual"
    assert verdicts["LOG-01"].attestation["status"] == "expired"
    assert "expired" in verdicts["LOG-01"].reason and "期限切れ" in verdicts["LOG-01"].reason


# -- aggregation -----------------------------------------------------------------------------------
def test_pending_when_nothing_was_handed_in(catalog: Any) -> None:
    verdicts = aggregate(catalog, "secure-browser", {}, ["SB-EXT"], [], None)
    assert verdicts["AUTH-01"].verdict == "manual"
    assert verdicts["AUTH-01"].attestation == {"status": "pending", "applicable": True}
    assert verdicts["AUTH-01"].to_json()["attestation"]["status"] == "pending"
    assert "attestation" not in verdicts["CLIP-01"].to_json()  # automated: no attestation at all
    assert attestation_counts(verdicts)["pending"] == sum(1 for v in verdicts.values() if v.verdict == "manual")


@pytest.mark.parametrize("status", ["attested", "expired", "pending"])
def test_aggregation_never_turns_manual_into_pass(status: str) -> None:
    @dataclass
    class Requirement:
        level: str
        verification: str

    class Catalog:
        def __init__(self) -> None:
            self.requirements = {"AUTH-01": Requirement("must", "manual"), "GOV-01": Requirement("should", "manual")}

        def applicability(self, rid, kind, claims, profiles):  # type: ignore[no-untyped-def]
            return True, "applies"

    record = {"status": status, "example": False, "attested_by": "a", "role": "r", "date": "2026-01-01",
              "expires": "2027-01-01", "evidence": []}
    records = {} if status == "pending" else {"AUTH-01": record}
    verdicts = aggregate(Catalog(), "secure-browser", {}, [], [], records)
    assert {v.verdict for v in verdicts.values()} == {"manual"}
    assert verdicts["AUTH-01"].attestation["status"] == status
    assert exit_code(verdicts) == 0  # a must-level manual requirement never blocks 0, nor makes it


def test_attestation_for_an_automated_requirement_never_decides_it(tmp_path: Path, catalog: Any) -> None:
    with pytest.raises(InputError, match="automated"):
        load_attestations(write_set(tmp_path, GOOD.replace('"LOG-01"', '"CLIP-01"')), catalog, TODAY)
    # Past the loader it is a suite bug, never a pass.
    with pytest.raises(ValueError, match="CLIP-01"):
        aggregate(catalog, "secure-browser", {}, ["SB-CORE"], [], {"CLIP-01": {"status": "attested"}})


def test_attestation_for_a_requirement_that_does_not_apply_is_kept(tmp_path: Path, catalog: Any) -> None:
    text = GOOD.replace('requirement = "LOG-01"', 'requirement = "NET-07"')  # screen transfer only
    loaded = load_attestations(write_set(tmp_path, text), catalog, TODAY)
    verdicts = aggregate(catalog, "secure-browser", {}, ["SB-CORE", "NET-SPEC"], [], loaded.records(TODAY))
    assert verdicts["NET-07"].verdict == "not_applicable"
    assert verdicts["NET-07"].attestation["applicable"] is False
    assert verdicts["NET-07"].attestation["status"] == "attested"
    assert attestation_counts(verdicts)["not_applicable"] >= 1


# -- results ---------------------------------------------------------------------------------------
@dataclass
class FakeRun:
    """What report.write_run reads of a ConformanceRun."""

    profile: Any
    catalog: Any
    out_dir: Path
    attestations: Any
    results: dict[str, Any] = field(default_factory=dict)
    selected: list[str] | None = None
    started: dt.datetime = dt.datetime(2026, 12, 5, 1, 0, tzinfo=dt.UTC)
    finished: dt.datetime = dt.datetime(2026, 12, 5, 1, 30, tzinfo=dt.UTC)
    terminal_env: dict[str, str] = field(default_factory=dict)
    collection_errors: list[str] = field(default_factory=list)


def fake_run(tmp_path: Path, catalog: Any, text: str = GOOD) -> FakeRun:
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    profile = SimpleNamespace(
        kind="secure-browser", claims={"download": "blocked"}, name="acme", path=tmp_path / "acme.toml",
        sha256="0" * 64,
        candidate=SimpleNamespace(vendor="ACME", version="1", catalog_profiles=["SB-CORE", "SB-EXT"]),
    )
    attestations = load_attestations(write_set(vendor, text), catalog, TODAY)
    return FakeRun(profile, catalog, tmp_path / "run", attestations)


def test_results_carry_the_attestation_status(tmp_path: Path, catalog: Any) -> None:
    text = EXPIRED
    run = fake_run(tmp_path, catalog, text)
    run.out_dir.mkdir()
    (run.out_dir / "allure-results").mkdir()
    document = write_run(run)

    saved = json.loads((run.out_dir / "conformance.json").read_text(encoding="utf-8"))
    requirements = saved["requirements"]
    assert requirements["LOG-01"]["verdict"] == "manual"
    assert requirements["LOG-01"]["attestation"]["status"] == "expired"
    assert requirements["AUTH-01"]["attestation"] == {"status": "pending", "applicable": True}
    gov = requirements["GOV-01"]
    # The candidate claims no GOV profile: GOV-01 does not apply, and what was handed in for it is kept.
    assert gov["verdict"] == "not_applicable" and gov["attestation"]["applicable"] is False
    assert gov["attestation"]["registration_number"] == "012345"
    assert saved["summary"]["attestations"]["expired"] == 1
    assert saved["summary"]["attestations"]["pending"] >= 1
    assert saved["summary"]["attestations"]["not_applicable"] == 1
    assert saved["attestations"]["sha256"] == run.attestations.sha256
    assert saved["attestations"]["checked_on"] == "2026-12-05"
    assert not any(v["verdict"] == "pass" for v in requirements.values())  # no case ran: nothing passes
    assert saved["summary"]["exit_code"] == 3  # automated must-level requirements not tested; unchanged
    assert saved == json.loads(json.dumps(document, ensure_ascii=False))

    # Every evidence file is copied into the run folder, and the copy's hash is the one reported.
    for entry in (gov, requirements["LOG-01"]):
        for evidence in entry["attestation"]["evidence"]:
            copy = run.out_dir / evidence["path"]
            assert copy.is_file()
            assert hashlib.sha256(copy.read_bytes()).hexdigest() == evidence["sha256"]
            assert evidence["sha256"] == hashlib.sha256(EVIDENCE[evidence["source"]]).hexdigest()
            assert evidence["path"].startswith(f"evidence/attestations/{'GOV-01' if entry is gov else 'LOG-01'}/")

    page = (run.out_dir / "report.html").read_text(encoding="utf-8")
    assert "期限切れ" in page and "expired" in page
    assert "未提出" in page and "pending" in page
    assert "証跡確認済" in page  # GOV-01, among the requirements that do not apply
    assert "evidence/attestations/LOG-01/evidence/log-01.txt" in page
    assert hashlib.sha256(EVIDENCE["evidence/log-01.txt"]).hexdigest() in page

    summary = render_summary(saved, catalog)
    assert "要証跡/manual 期限切れ/expired" in summary and "未提出/pending" in summary
    assert "証跡 / attestations:" in summary

    allure = run.out_dir / "allure-results"
    results = [json.loads(p.read_text(encoding="utf-8")) for p in allure.glob("*-result.json")]
    manual = [rid for rid, v in requirements.items() if v["verdict"] == "manual"]
    assert sorted(label["value"] for r in results for label in r["labels"] if label["name"] == "requirement") == \
        sorted(manual)
    assert {r["status"] for r in results} == {"skipped"}  # never passed
    log = next(r for r in results if r["fullName"] == "attestations#LOG-01")
    assert log["name"] == "LOG-01 manual: expired / 期限切れ"
    assert "blocked transfers are logged" in log["statusDetails"]["message"]
    assert requirements["LOG-01"]["attestation"]["evidence"][0]["sha256"] in log["statusDetails"]["message"]
    assert {"name": "severity", "value": "normal"} in log["labels"]
    assert all((allure / a["source"]).is_file() for r in results for a in r["attachments"])


def test_example_attestations_are_marked(tmp_path: Path, catalog: Any) -> None:
    run = fake_run(tmp_path, catalog, GOOD.replace("date = 2026-10-01", "date = 2026-10-01\nexample = true"))
    document = build_document(run)
    record = document["requirements"]["LOG-01"]["attestation"]
    assert record["status"] == "attested" and record["example"] is True
    assert "an example, not real evidence" in document["requirements"]["LOG-01"]["reason"]
    assert document["summary"]["attestations"]["example"] == 1
    page = render_report_html(document, catalog)
    assert "例 / example" in page and "not real evidence" in page
    assert "証跡確認済(例)/attested (example)" in render_summary(document, catalog)
    allure = tmp_path / "allure"
    allure.mkdir()
    names = [json.loads(p.read_text(encoding="utf-8"))["name"] for p in write_allure_results(allure, document, catalog)]
    assert "LOG-01 manual: attested (example) / 証跡確認済" in names


def test_selection_reports_only_selected_attestations(tmp_path: Path, catalog: Any) -> None:
    run = fake_run(tmp_path, catalog)
    run.selected = ["LOG-01"]
    document = build_document(run)
    assert list(document["requirements"]) == ["LOG-01"]
    assert document["summary"]["attestations"]["attested"] == 1


def test_reference_example_attests_every_manual_requirement_of_the_hardened_claims(catalog: Any) -> None:
    loaded = load_attestations(EXAMPLE_FILE, catalog)
    claims = {"secure-browser": ["SB-CORE", "NET-SPEC", "MAINT", "ENV-WLAN", "GOV"],
              "screen-transfer": ["ST-CORE", "NET-SPEC", "MAINT", "ENV-WLAN", "GOV"]}
    wanted = {rid for profiles in claims.values() for p in profiles for rid in catalog.profile_requirements(p)
              if catalog.requirements[rid].verification == "manual"}
    assert set(loaded.entries) == wanted
    for attested in loaded.entries.values():
        assert attested.entry.example is True
        assert "EXAMPLE" in attested.entry.statement
        for evidence in attested.evidence:
            first = evidence.file.read_text(encoding="utf-8").splitlines()[0]
            assert "例" in first and "EXAMPLE" in first and "not real evidence" in first


# -- before the run --------------------------------------------------------------------------------
def profile_with(tmp_path: Path, attestations: Path) -> Path:
    """A copy of the hardened reference profile pointing to ``attestations`` (absolute paths throughout)."""
    text = (REFERENCE_DIR / "chromium-hardened.toml").read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("attestations ="))  # ours instead
    for folder in ("policies", "extensions"):
        text = text.replace(f'"{folder}/', f'"{REFERENCE_DIR}/{folder}/')
    text = text.replace('"{profile_dir}/', f'"{REFERENCE_DIR}/')  # the maintenance side's argv, if any
    path = tmp_path / "candidate.toml"
    path.write_text(f'attestations = "{attestations}"\n{text}', encoding="utf-8")  # a top-level key comes first
    return path


def test_validate_accepts_good_attestations(tmp_path: Path, catalog: Any) -> None:
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    text = GOOD.replace("date = 2026-11-30", "date = 2025-11-30").replace("date = 2026-10-01", "date = 2025-10-01")
    profile = profile_with(tmp_path, write_set(vendor, text))
    assert main(["validate", str(profile)]) == 0
    assert load_profile(profile).attestations is not None


def test_validate_and_run_exit_2_on_a_bad_attestation_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    bad = write_set(vendor, GOOD.replace('registration_number = "012345"\n', ""))
    profile = profile_with(tmp_path, bad)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    assert main(["validate", str(profile)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "attestation[GOV-01].registration_number" in err

    def never(*args: Any, **kwargs: Any) -> int:
        raise AssertionError("the run must not start on bad input")

    monkeypatch.setattr(pytest, "main", never)
    out = tmp_path / "out"
    assert main(["run", "--candidate", str(profile), "--out", str(out)]) == 2
    assert not out.exists()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_missing_attestation_file_names_the_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = profile_with(tmp_path, tmp_path / "absent.toml")
    assert main(["validate", str(profile)]) == 2
    err = capsys.readouterr().err
    assert str(profile) in err and "attestations" in err


def test_conformance_run_refuses_a_bad_attestation_before_creating_its_folder(tmp_path: Path) -> None:
    from conformance.plugin import ConformanceRun

    vendor = tmp_path / "vendor"
    vendor.mkdir()
    profile = profile_with(tmp_path, write_set(vendor, GOOD.replace("expires = 2027-11-30", "expires = 2020-01-01")))
    out = tmp_path / "out"
    options = {"--conformance-out": str(out), "--allow-lab-address": False, "--requirement": None,
               "--engine-releases": None, "--conformance-progress": False, "--conformance-headless": False}
    config = SimpleNamespace(getoption=lambda name, default=None: options.get(name, default))
    with pytest.raises(pytest.UsageError, match=r"attestation\[GOV-01\]\.expires"):
        ConformanceRun(config, profile)  # type: ignore[arg-type]
    assert not out.exists()


def test_attestation_module_keeps_to_its_layer() -> None:
    """Like the profile and the catalog: only the error types, the catalog's text types and the verdict vocabulary,
    and no assert."""
    import ast

    import conformance.attestation as module

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert {m for m in imported if m.startswith("conformance")} <= {"conformance.errors", "conformance.verdicts",
                                                                   "conformance.catalog.model"}
    assert not [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert)]
