"""Waivers: the file is checked before anything starts, and every problem names the file, the field and the fix."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest

from conformance.catalog import load_catalog
from conformance.errors import InputError
from conformance.waivers import load_waivers

TODAY = dt.date(2026, 12, 5)
EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "waivers" / "example.toml"

GOOD = """
[policy]
exit = "accept"

[[waiver]]
requirement = "PRN-01"
justification = "印刷は別途の運用で制限する / printing is restricted by procedure until the 2027 upgrade"
approver = "情報政策課長 山田 / Head of IT policy, Yamada"
approved = 2026-11-01
expires = 2027-03-31
candidate = "chromium-open"
reference = "決裁番号 情政-2026-0123"

[[waiver]]
requirement = "DL-01"
justification = "無害化サーバ導入まで / until the sanitising server is in place"
approver = "CISO 佐藤 / CISO Sato"
approved = 2026-10-01
expires = 2027-01-31
"""


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog()


def write(folder: Path, text: str) -> Path:
    path = folder / "waivers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def rejected(folder: Path, catalog: Any, text: str) -> InputError:
    path = write(folder, text)
    with pytest.raises(InputError) as caught:
        load_waivers(path, catalog, TODAY)
    assert caught.value.file == str(path)
    assert str(path) in str(caught.value)
    return caught.value


# -- a good file -----------------------------------------------------------------------------------
def test_good_file_loads(tmp_path: Path, catalog: Any) -> None:
    path = write(tmp_path, GOOD)
    waivers = load_waivers(path, catalog, TODAY)
    assert waivers.path == path.resolve()
    assert waivers.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert waivers.exit == "accept"
    assert [w.entry.requirement for w in waivers.entries] == ["PRN-01", "DL-01"]
    assert waivers.candidates == ["chromium-open"]


def test_record_shape_is_json_ready(tmp_path: Path, catalog: Any) -> None:
    waivers = load_waivers(write(tmp_path, GOOD), catalog, TODAY)
    assert waivers.for_candidate("chromium-open")["PRN-01"] == {
        "requirement": "PRN-01",
        "justification": "印刷は別途の運用で制限する / printing is restricted by procedure until the 2027 upgrade",
        "approver": "情報政策課長 山田 / Head of IT policy, Yamada",
        "approved": "2026-11-01",
        "expires": "2027-03-31",
        "candidate": "chromium-open",
        "reference": "決裁番号 情政-2026-0123",
        "exit": "accept",
    }
    assert waivers.for_candidate("chromium-open")["DL-01"]["candidate"] is None
    assert waivers.for_candidate("chromium-open")["DL-01"]["reference"] is None


def test_for_candidate_scoping(tmp_path: Path, catalog: Any) -> None:
    waivers = load_waivers(write(tmp_path, GOOD), catalog, TODAY)
    assert list(waivers.for_candidate("chromium-open")) == ["PRN-01", "DL-01"]
    assert list(waivers.for_candidate("novnc-hardened")) == ["DL-01"]  # the unscoped entry only


def test_a_candidate_entry_takes_precedence_over_the_unscoped_one(tmp_path: Path, catalog: Any) -> None:
    unscoped = GOOD.split("[[waiver]]")[2].replace('"DL-01"', '"PRN-01"').replace("CISO 佐藤", "課長 鈴木")
    text = GOOD + "[[waiver]]" + unscoped
    waivers = load_waivers(write(tmp_path, text), catalog, TODAY)
    assert waivers.for_candidate("chromium-open")["PRN-01"]["candidate"] == "chromium-open"
    assert waivers.for_candidate("novnc-hardened")["PRN-01"]["approver"].startswith("課長 鈴木")


def test_provenance(tmp_path: Path, catalog: Any) -> None:
    path = write(tmp_path, GOOD.replace('exit = "accept"', 'exit = "fail"'))
    waivers = load_waivers(path, catalog, TODAY)
    assert waivers.provenance("chromium-open") == {
        "file": str(path.resolve()),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "exit": "fail",
        "entries": 2,
        "checked_on": "2026-12-05",
    }
    assert waivers.provenance("novnc-hardened")["entries"] == 1
    assert waivers.for_candidate("novnc-hardened")["DL-01"]["exit"] == "fail"


def test_valid_through_the_day_it_expires(tmp_path: Path, catalog: Any) -> None:
    waivers = load_waivers(write(tmp_path, GOOD), catalog, dt.date(2027, 1, 31))
    assert "DL-01" in waivers.for_candidate("x")


def test_the_shipped_example_loads_and_is_marked_as_an_example(catalog: Any) -> None:
    waivers = load_waivers(EXAMPLE_FILE, catalog, TODAY)
    record = waivers.for_candidate("chromium-open")["DL-01"]
    assert "EXAMPLE" in record["justification"] and "例" in record["justification"]
    assert record["expires"].startswith("2027-")
    requirement = catalog.requirements["DL-01"]
    assert requirement.verification == "automated" and requirement.level == "must"
    assert requirement.applies_to in ("secure-browser", "both")
    assert waivers.for_candidate("chromium-hardened") == {}


# -- each rejection --------------------------------------------------------------------------------
def test_unknown_top_level_key(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, 'owner = "me"\n' + GOOD)
    assert error.field == "owner" and "unknown top-level key" in error.problem


def test_unknown_field_in_an_entry(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace('reference = "決裁番号', 'colour = "red"\nreference = "決裁番号'))
    assert error.field == "waiver[PRN-01].colour" and "unknown field" in error.problem
    assert "entry #1" in error.problem


def test_unknown_field_in_policy(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace('exit = "accept"', 'exit = "accept"\nstrict = true'))
    assert error.field == "policy.strict" and "unknown field" in error.problem


def test_policy_missing(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace('[policy]\nexit = "accept"\n', ""))
    assert error.field == "policy" and "missing" in error.problem and 'exit = "accept"' in error.fix


def test_policy_exit_missing(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace('exit = "accept"\n', ""))
    assert error.field == "policy.exit" and "missing" in error.problem


def test_policy_exit_unknown_value(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace('exit = "accept"', 'exit = "ignore"'))
    assert error.field == "policy.exit" and "'ignore'" in error.problem and '"fail"' in error.fix


@pytest.mark.parametrize("name", ["justification", "approver", "approved", "expires", "requirement"])
def test_required_field_missing(tmp_path: Path, catalog: Any, name: str) -> None:
    second = GOOD.split("[[waiver]]")[2]
    line = next(line for line in second.splitlines() if line.startswith(f"{name} ="))
    error = rejected(tmp_path, catalog, GOOD.replace(second, second.replace(line + "\n", "")))
    label = "waiver[1]" if name == "requirement" else "waiver[DL-01]"
    assert error.field == f"{label}.{name}" and "missing" in error.problem and "entry #2" in error.problem


@pytest.mark.parametrize("name", ["approved", "expires"])
def test_quoted_date(tmp_path: Path, catalog: Any, name: str) -> None:
    text = GOOD.replace(f"{name} = 2027-01-31", f'{name} = "2027-01-31"').replace(
        f"{name} = 2026-10-01", f'{name} = "2026-10-01"'
    )
    error = rejected(tmp_path, catalog, text)
    assert error.field == f"waiver[DL-01].{name}" and "not a TOML date" in error.problem
    assert "unquoted" in error.fix


def test_date_with_a_time(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace("expires = 2027-01-31", "expires = 2027-01-31T17:00:00"))
    assert error.field == "waiver[DL-01].expires" and "not a TOML date" in error.problem


def test_text_that_is_not_a_string(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace('reference = "決裁番号 情政-2026-0123"', "reference = 123"))
    assert error.field == "waiver[PRN-01].reference" and "not text" in error.problem


@pytest.mark.parametrize("name", ["justification", "approver"])
@pytest.mark.parametrize("blank", ['""', '"   "', '"\\t\\n"'])
def test_empty_or_whitespace_text(tmp_path: Path, catalog: Any, name: str, blank: str) -> None:
    second = GOOD.split("[[waiver]]")[2]
    line = next(line for line in second.splitlines() if line.startswith(f"{name} ="))
    error = rejected(tmp_path, catalog, GOOD.replace(line, f"{name} = {blank}"))
    assert error.field == f"waiver[DL-01].{name}" and "empty" in error.problem


def test_unknown_requirement_suggests_close_ids(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace('requirement = "PRN-01"', 'requirement = "PRN-10"'))
    assert error.field == "waiver[0].requirement" and "unknown requirement 'PRN-10'" in error.problem
    assert "PRN-01" in error.fix and "did you mean" in error.fix


def test_lower_case_requirement_suggests_the_catalog_id(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace('requirement = "PRN-01"', 'requirement = "prn-01"'))
    assert error.field == "waiver[0].requirement" and "PRN-01" in error.fix


def test_manual_requirement_points_to_attestations(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace('requirement = "DL-01"', 'requirement = "GOV-01"'))
    assert error.field == "waiver[GOV-01].requirement" and "manual" in error.problem
    assert "attestation" in error.fix and "docs/attestations.md" in error.fix


def test_duplicate_for_the_same_candidate(tmp_path: Path, catalog: Any) -> None:
    first = GOOD.split("[[waiver]]")[1]
    error = rejected(tmp_path, catalog, GOOD + "[[waiver]]" + first)
    assert error.field == "waiver[PRN-01].requirement" and "waived twice for candidate 'chromium-open'" in error.problem
    assert "entry #3" in error.problem and "first as entry #1" in error.problem


def test_duplicate_for_every_candidate(tmp_path: Path, catalog: Any) -> None:
    second = GOOD.split("[[waiver]]")[2]
    error = rejected(tmp_path, catalog, GOOD + "[[waiver]]" + second)
    assert error.field == "waiver[DL-01].requirement" and "every candidate" in error.problem


def test_the_same_requirement_for_two_candidates_is_fine(tmp_path: Path, catalog: Any) -> None:
    first = GOOD.split("[[waiver]]")[1]
    text = GOOD + "[[waiver]]" + first.replace('candidate = "chromium-open"', 'candidate = "xpra-open"')
    waivers = load_waivers(write(tmp_path, text), catalog, TODAY)
    assert waivers.for_candidate("xpra-open")["PRN-01"]["candidate"] == "xpra-open"


def test_invalid_candidate_name(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace('candidate = "chromium-open"', 'candidate = "chromium open"'))
    assert error.field == "waiver[PRN-01].candidate" and "not a candidate name" in error.problem


def test_expired(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace("expires = 2027-01-31", "expires = 2026-12-04"))
    assert error.field == "waiver[DL-01].expires"
    assert "expired on 2026-12-04; renew or remove it" in error.problem


def test_expires_before_approved(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace("expires = 2027-03-31", "expires = 2026-10-31"))
    assert error.field == "waiver[PRN-01].expires" and "before approved 2026-11-01" in error.problem


def test_approved_in_the_future(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace("approved = 2026-11-01", "approved = 2026-12-06"))
    assert error.field == "waiver[PRN-01].approved" and "in the future" in error.problem


def test_no_waiver_entries(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, '[policy]\nexit = "accept"\n')
    assert error.field == "waiver" and "no [[waiver]] entries" in error.problem


def test_single_bracket_waiver_table(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, '[policy]\nexit = "accept"\n[waiver]\nrequirement = "PRN-01"\n')
    assert error.field == "waiver" and "[[waiver]]" in error.fix


def test_not_toml(tmp_path: Path, catalog: Any) -> None:
    error = rejected(tmp_path, catalog, GOOD.replace('exit = "accept"', "exit = accept"))
    assert error.field == "line 3" and "not valid TOML" in error.problem


def test_missing_file(tmp_path: Path, catalog: Any) -> None:
    with pytest.raises(InputError) as caught:
        load_waivers(tmp_path / "nowhere.toml", catalog, TODAY)
    assert caught.value.file == str(tmp_path / "nowhere.toml") and "cannot read the waiver file" in caught.value.problem
