"""``conformance compare``: runs of one candidate are checked for differences (with the evidence that differs),
runs of several candidates become a procurement matrix. Synthetic results written into tmp_path."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from conformance.catalog import load_catalog
from conformance.compare import compare, exit_code, load_run, render_html, render_text
from conformance.errors import InputError

CATALOG_SHA = "4e1f" + "0" * 60
PROFILE_SHA = "7f74" + "1" * 60
PRINT_CASE = "cases/test_print.py::test_print_does_not_reach_terminal[ctrl-p]"
SPOOL = "evidence/test_print_ctrl-p/spool.json"


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog()


def case(nodeid: str, outcome: str = "pass", message: str = "", evidence: list[str] | None = None) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "outcome": outcome,
        "message": message,
        "evidence": evidence or [],
        "duration": 1.0,
        "title": "試験 / a case",
        "notes": [],
    }


def document(name: str = "acme-sb", kind: str = "secure-browser") -> dict[str, Any]:
    """A small result as `conformance run` writes it: PRN-01 and CLIP-01 pass, ST-01 does not apply."""
    return {
        "schema": "lgwan-conformance/result-v1",
        "suite": {
            "name": "lgwan-conformance",
            "version": "0.1.0",
            "catalog_version": "2026.12.2",
            "catalog_sha256": CATALOG_SHA,
        },
        "candidate": {
            "name": name,
            "vendor": "ACME",
            "version": "1.0",
            "kind": kind,
            "profile_path": f"/profiles/{name}.toml",
            "profile_sha256": PROFILE_SHA,
            "catalog_profiles": [],
            "claims": {},
        },
        "started": "2026-12-05T05:24:50+00:00",
        "finished": "2026-12-05T05:30:00+00:00",
        "network": {"observation": "namespace"},
        "selection": None,
        "summary": {"counts": {}, "exit_code": 0},
        "requirements": {
            "CLIP-01": {
                "verdict": "pass",
                "level": "must",
                "reason": "1 of 1 cases passed",
                "cases": [case("cases/test_clipboard.py::test_copy[ascii]")],
            },
            "PRN-01": {
                "verdict": "pass",
                "level": "must",
                "reason": "1 of 1 cases passed",
                "cases": [case(PRINT_CASE, evidence=[SPOOL])],
            },
            "ST-01": {
                "verdict": "not_applicable",
                "level": "must",
                "reason": "applies to screen-transfer",
                "cases": [],
            },
        },
    }


def write_run(folder: Path, doc: dict[str, Any], files: dict[str, bytes] | None = None) -> Path:
    """A run folder: conformance.json, report.html and evidence files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conformance.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    (folder / "report.html").write_text("<!doctype html><title>report</title>", encoding="utf-8")
    for path, content in ({SPOOL: b'{"jobs": []}'} if files is None else files).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(content)
    return folder


def failing(doc: dict[str, Any]) -> dict[str, Any]:
    """The same run with PRN-01 failing: its case failed and the spool held a job."""
    doc = copy.deepcopy(doc)
    doc["requirements"]["PRN-01"].update(verdict="fail", reason="1 of 1 cases failed")
    doc["requirements"]["PRN-01"]["cases"][0].update(outcome="fail", message="a job reached the terminal's queue")
    return doc


FAILED_SPOOL = b'{"jobs": ["ctrl-p.pdf"]}'


# -- same candidate ----------------------------------------------------------------------------------
def test_identical_runs_have_no_differences(tmp_path: Path, catalog: Any) -> None:
    a = load_run(write_run(tmp_path / "a", document()))
    b = load_run(write_run(tmp_path / "b", document()))
    comparison = compare([a, b], catalog)
    assert comparison.same_candidate and comparison.agrees
    assert exit_code(comparison) == 0
    text = render_text(comparison)
    assert "no differences" in text and "差異なし" in text and "exit 0" in text
    assert "差異なし / no differences" in render_html(comparison, tmp_path / "compare.html")


def test_one_verdict_differs_with_both_reasons_and_the_differing_evidence(tmp_path: Path, catalog: Any) -> None:
    a = load_run(write_run(tmp_path / "a", document()))
    b = load_run(write_run(tmp_path / "b", failing(document()), {SPOOL: FAILED_SPOOL}))
    comparison = compare([a, b], catalog)
    assert exit_code(comparison) == 1
    [diff] = comparison.differing
    assert diff.id == "PRN-01"
    assert diff.sides == (("pass", "1 of 1 cases passed"), ("fail", "1 of 1 cases failed"))
    [case_diff] = diff.cases
    assert case_diff.nodeid == PRINT_CASE and case_diff.sides[1] == ("fail", "a job reached the terminal's queue")
    [evidence] = diff.evidence
    short_a = hashlib.sha256(b'{"jobs": []}').hexdigest()[:12]
    short_b = hashlib.sha256(FAILED_SPOOL).hexdigest()[:12]
    assert evidence.path == SPOOL and (evidence.sides[0][:12], evidence.sides[1][:12]) == (short_a, short_b)

    text = render_text(comparison)
    assert "PRN-01" in text and "CLIP-01" not in text.split("differs")[1]
    assert "1 of 1 cases passed" in text and "1 of 1 cases failed" in text
    assert "適合/pass" in text and "不適合/fail" in text
    assert "a job reached the terminal's queue" in text
    assert f"A {short_a}" in text and f"B {short_b}" in text
    assert "exit 1" in text
    page = render_html(comparison, tmp_path / "compare.html")
    assert short_a in page and short_b in page and 'id="diff-PRN-01"' in page


def test_a_recorded_evidence_hash_is_used_before_the_file(tmp_path: Path, catalog: Any) -> None:
    recorded = "ab" * 32
    doc = failing(document())
    doc["requirements"]["PRN-01"]["cases"][0]["evidence_sha256"] = {SPOOL: recorded}
    a = load_run(write_run(tmp_path / "a", document()))
    b = load_run(write_run(tmp_path / "b", doc, files={}))  # the file itself is not there
    [evidence] = compare([a, b], catalog).differing[0].evidence
    assert evidence.sides[1] == recorded
    assert f"B {recorded[:12]}" in render_text(compare([a, b], catalog))


def test_evidence_in_one_run_only(tmp_path: Path, catalog: Any) -> None:
    doc = failing(document())
    doc["requirements"]["PRN-01"]["cases"][0]["evidence"].append("evidence/test_print_ctrl-p/job.pdf")
    a = load_run(write_run(tmp_path / "a", document()))
    b = load_run(
        write_run(tmp_path / "b", doc, {SPOOL: b'{"jobs": []}', "evidence/test_print_ctrl-p/job.pdf": b"%PDF"})
    )
    [evidence] = compare([a, b], catalog).differing[0].evidence  # the spool is the same in both
    assert evidence.path.endswith("job.pdf") and evidence.sides[0] is None
    assert evidence.sides[1] == hashlib.sha256(b"%PDF").hexdigest()
    assert "A なし/absent" in render_text(compare([a, b], catalog))


def test_evidence_whose_hash_cannot_be_known_is_said_not_compared(tmp_path: Path, catalog: Any) -> None:
    a = load_run(write_run(tmp_path / "a", document()))
    b = load_run(write_run(tmp_path / "b", failing(document()), files={}))
    diff = compare([a, b], catalog).differing[0]
    assert diff.evidence == () and diff.uncompared == (SPOOL,)
    assert "not compared" in render_text(compare([a, b], catalog))


def test_evidence_outside_the_run_folder_is_never_read(tmp_path: Path, catalog: Any) -> None:
    (tmp_path / "secret.txt").write_text("not evidence", encoding="utf-8")
    docs = [document(), failing(document())]
    for doc in docs:
        doc["requirements"]["PRN-01"]["cases"][0]["evidence"] = ["../secret.txt"]
    a, b = (load_run(write_run(tmp_path / label, doc, files={})) for label, doc in zip("ab", docs, strict=True))
    assert compare([a, b], catalog).differing[0].uncompared == ("../secret.txt",)


def test_catalog_hash_mismatch_is_called_out_first(tmp_path: Path, catalog: Any) -> None:
    changed = failing(document())
    changed["suite"]["catalog_sha256"] = "9" * 64
    a = load_run(write_run(tmp_path / "a", document()))
    b = load_run(write_run(tmp_path / "b", changed, {SPOOL: FAILED_SPOOL}))
    comparison = compare([a, b], catalog)
    assert [m.field for m in comparison.mismatches] == ["suite.catalog_sha256"]
    text = render_text(comparison)
    assert "4e1f00000000" in text and "999999999999" in text and "weaker" in text
    assert text.index("requirement catalog") < text.index("requirements whose verdict or cases differ")
    page = render_html(comparison, tmp_path / "compare.html")
    assert page.index('class="warn"') < page.index('id="diff-PRN-01"') < page.index('id="PRN-01"')


def test_an_identity_mismatch_alone_makes_exit_1(tmp_path: Path, catalog: Any) -> None:
    changed = document()
    changed["suite"]["version"] = "0.2.0"
    changed["candidate"]["profile_sha256"] = "5" * 64
    a = load_run(write_run(tmp_path / "a", document()))
    b = load_run(write_run(tmp_path / "b", changed))
    comparison = compare([a, b], catalog)
    assert comparison.differing == ()
    assert [m.field for m in comparison.mismatches] == ["suite.version", "candidate.profile_sha256"]
    assert exit_code(comparison) == 1
    assert "no verdict differs, but the identities do not match (exit 1)" in render_text(comparison)


def test_a_network_observation_difference_is_noted(tmp_path: Path, catalog: Any) -> None:
    proxied = document()
    proxied["network"] = {"observation": "proxy"}
    a = load_run(write_run(tmp_path / "a", document()))
    b = load_run(write_run(tmp_path / "b", proxied))
    comparison = compare([a, b], catalog)
    assert exit_code(comparison) == 0 and "A namespace, B proxy" in render_text(comparison)


def test_requirements_in_one_run_only_are_listed_separately(tmp_path: Path, catalog: Any) -> None:
    selected = document()
    selected["selection"] = ["PRN-01"]
    selected["requirements"] = {"PRN-01": selected["requirements"]["PRN-01"]}
    a = load_run(write_run(tmp_path / "a", document()))
    b = load_run(write_run(tmp_path / "b", selected))
    comparison = compare([a, b], catalog)
    assert [row.id for row in comparison.partial] == ["CLIP-01", "ST-01"]
    assert comparison.differing == () and exit_code(comparison) == 0
    text = render_text(comparison)
    assert "not in every run (not compared): 2" in text and "CLIP-01  A: 適合/pass  B: —" in text


def test_three_runs_of_one_candidate(tmp_path: Path, catalog: Any) -> None:
    runs = [
        load_run(write_run(tmp_path / "a", document())),
        load_run(write_run(tmp_path / "b", document())),
        load_run(write_run(tmp_path / "c", failing(document()), {SPOOL: FAILED_SPOOL})),
    ]
    comparison = compare(runs, catalog)
    assert [side[0] for side in comparison.differing[0].sides] == ["pass", "pass", "fail"]
    assert "C: 不適合/fail" in render_text(comparison)


def test_a_waived_verdict_is_read_and_labelled(tmp_path: Path, catalog: Any) -> None:
    waived = failing(document())
    waived["requirements"]["PRN-01"].update(verdict="waived", waiver={"expires": "2027-03-31"})
    a = load_run(write_run(tmp_path / "a", failing(document()), {SPOOL: FAILED_SPOOL}))
    b = load_run(write_run(tmp_path / "b", waived, {SPOOL: FAILED_SPOOL}))
    comparison = compare([a, b], catalog)
    assert comparison.differing[0].sides[1][0] == "waived"
    assert "免除/waived" in render_text(comparison)
    assert "2027-03-31" in render_html(comparison, tmp_path / "compare.html")


# -- several candidates: the matrix -----------------------------------------------------------------
def test_matrix_has_a_linked_column_per_candidate_and_highlights_differing_rows(tmp_path: Path, catalog: Any) -> None:
    names = ["alpha-sb", "beta-sb", "gamma-st"]
    docs = [document("alpha-sb"), failing(document("beta-sb")), document("gamma-st", "screen-transfer")]
    docs[2]["candidate"]["profile_sha256"] = "3" * 64  # profiles differ by nature: not a mismatch here
    docs[2]["requirements"]["ST-01"].update(verdict="pass", reason="1 of 1 cases passed")
    runs = [load_run(write_run(tmp_path / "runs" / name, doc)) for name, doc in zip(names, docs, strict=True)]
    out = tmp_path / "out" / "compare.html"
    comparison = compare(runs, catalog)
    assert not comparison.same_candidate and comparison.mismatches == ()
    assert exit_code(comparison) == 0  # a procurement view, not a check

    page = render_html(comparison, out)
    assert page.startswith("<!doctype html>") and '<html lang="ja">' in page
    header = re.search(r"<tr><th>ID</th>.*?</tr>", page, re.S)
    assert header is not None
    assert re.findall(r'<th>[A-C] <a href="([^"]+)">([^<]+)</a>', header.group(0)) == [
        (f"../runs/{name}/report.html", name) for name in names
    ]
    assert re.search(r'<tr id="PRN-01" class="differs">', page)  # beta fails
    assert re.search(r'<tr id="ST-01" class="differs">', page)  # applies to gamma only
    assert re.search(r'<tr id="CLIP-01">', page)  # the same everywhere
    assert "不適合" in page and "fail" in page and "適合" in page and "対象外" in page
    assert "候補比較表" in page and "Candidate comparison matrix" in page
    # self-contained: no scripts, style sheets, images or fonts from elsewhere
    assert not re.search(r"<script|<link|<img|@import|url\(|https?://", page)

    text = render_text(comparison)
    assert "procurement view" in text and "exit 0" in text
    assert re.search(r"^≠\s+PRN-01", text, re.M) and re.search(r"^\s+CLIP-01", text, re.M)


def test_matrix_calls_out_a_catalog_mismatch_at_the_top(tmp_path: Path, catalog: Any) -> None:
    other = document("beta-sb")
    other["suite"].update(catalog_version="2027.1.0", catalog_sha256="8" * 64)
    runs = [load_run(write_run(tmp_path / "a", document("alpha-sb"))), load_run(write_run(tmp_path / "b", other))]
    comparison = compare(runs, catalog)
    assert [m.field for m in comparison.mismatches] == ["suite.catalog_sha256"]
    assert exit_code(comparison) == 0
    page = render_html(comparison, tmp_path / "compare.html")
    assert page.index('class="warn"') < page.index("<tr><th>ID</th>")
    assert "2027.1.0" in page and "888888888888" in page


def test_a_run_without_report_html_is_not_linked(tmp_path: Path, catalog: Any) -> None:
    a = load_run(write_run(tmp_path / "a", document("alpha-sb")))
    b_folder = write_run(tmp_path / "b", document("beta-sb"))
    (b_folder / "report.html").unlink()
    page = render_html(compare([a, load_run(b_folder)], catalog), tmp_path / "compare.html")
    assert 'href="a/report.html"' in page and 'href="b/report.html"' not in page and "no report.html" in page


# -- loading -----------------------------------------------------------------------------------------
def test_a_run_is_a_folder_or_its_conformance_json(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "a", document())
    assert load_run(folder).path == load_run(folder / "conformance.json").path == (folder / "conformance.json")
    assert load_run(folder).name == "acme-sb"


def test_a_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_run(tmp_path / "nowhere")
    assert caught.value.file == str(tmp_path / "nowhere") and "no such file or folder" in caught.value.problem


def test_a_folder_without_results(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_run(tmp_path)
    assert caught.value.file == str(tmp_path) and "no conformance.json" in caught.value.problem


def test_a_folder_of_several_runs_names_them(tmp_path: Path) -> None:
    write_run(tmp_path / "alpha-sb", document("alpha-sb"))
    write_run(tmp_path / "beta-sb", document("beta-sb"))
    with pytest.raises(InputError) as caught:
        load_run(tmp_path)
    assert str(tmp_path / "alpha-sb") in caught.value.fix and str(tmp_path / "beta-sb") in caught.value.fix


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "conformance.json"
    path.write_text('{"schema": "lgwan-conformance/result-v1",\n "suite": ', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_run(path)
    assert (
        caught.value.file == str(path) and caught.value.field == "line 2" and "not valid JSON" in caught.value.problem
    )


def test_not_a_result(tmp_path: Path) -> None:
    path = tmp_path / "conformance.json"
    path.write_text(json.dumps({"name": "something else"}), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_run(path)
    assert caught.value.file == str(path) and caught.value.field == "schema"


@pytest.mark.parametrize(
    ("damage", "field"),
    [
        (lambda d: d["suite"].pop("catalog_sha256"), "suite.catalog_sha256"),
        (lambda d: d["candidate"].pop("name"), "candidate.name"),
        (lambda d: d["requirements"]["PRN-01"].update(verdict="passed"), "requirements[PRN-01].verdict"),
        (lambda d: d["requirements"]["PRN-01"]["cases"][0].pop("outcome"), "requirements[PRN-01].cases[0].outcome"),
    ],
)
def test_a_result_of_the_wrong_shape(tmp_path: Path, damage: Any, field: str) -> None:
    doc = document()
    damage(doc)
    folder = write_run(tmp_path / "a", doc)
    with pytest.raises(InputError) as caught:
        load_run(folder)
    assert caught.value.file == str(folder / "conformance.json") and caught.value.field == field


def test_compare_needs_two_runs(tmp_path: Path, catalog: Any) -> None:
    with pytest.raises(InputError, match="at least two runs"):
        compare([load_run(write_run(tmp_path / "a", document()))], catalog)


def test_a_case_that_differs_under_the_same_verdict_is_a_difference(tmp_path: Path, catalog: Any) -> None:
    """CLIP-01 fails in both runs through one case; its other case passed in A and could not decide in B: the verdict
    held, but the runs did not agree, and the case is shown."""

    def clip(second: str) -> dict[str, Any]:
        doc = document()
        entry = doc["requirements"]["CLIP-01"]
        entry.update(verdict="fail", reason="1 of 2 cases failed")
        entry["cases"] = [
            dict(entry["cases"][0], outcome="fail"),
            dict(entry["cases"][0], nodeid="cases/test_clipboard.py::test_copy[japanese]", outcome=second),
        ]
        return doc

    a = load_run(write_run(tmp_path / "a", clip("pass")))
    b = load_run(write_run(tmp_path / "b", clip("error")))
    comparison = compare([a, b], catalog)
    assert [diff.id for diff in comparison.differing] == ["CLIP-01"] and exit_code(comparison) == 1
    assert [case.nodeid for case in comparison.differing[0].cases] == ["cases/test_clipboard.py::test_copy[japanese]"]
    text = render_text(comparison)
    assert "requirements whose verdict or cases differ: 1" in text and "B: error" in text
    same = compare([a, load_run(write_run(tmp_path / "c", clip("pass")))], catalog)
    assert same.differing == () and exit_code(same) == 0
