"""Verdict aggregation and exit codes (a fake catalog isolates the rules from the real data)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from conformance.verdicts import CaseResult, aggregate, decide, exit_code


@dataclass
class FakeRequirement:
    level: str
    verification: str = "automated"


class FakeCatalog:
    def __init__(self, **requirements: FakeRequirement) -> None:
        self.requirements = {k.replace("_", "-"): v for k, v in requirements.items()}
        self.not_applicable: set[str] = set()

    def applicability(self, rid, kind, claims, profiles):  # type: ignore[no-untyped-def]
        return (rid not in self.not_applicable, "excluded by test")


def case(outcome: str, *ids: str) -> CaseResult:
    return CaseResult(nodeid=f"t::{outcome}", requirement_ids=list(ids), outcome=outcome, message=outcome)


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["pass", "pass"], "pass"),
        (["pass", "fail"], "fail"),
        (["error", "fail"], "fail"),  # an observed failure outweighs a harness problem
        (["pass", "error"], "error"),
        ([], "not_tested"),
        (["not_applicable"], "not_tested"),  # nothing ran: never pass
        (["not_applicable", "pass"], "pass"),
    ],
)
def test_decide(outcomes: list[str], expected: str) -> None:
    assert decide([case(o, "X-01") for o in outcomes])[0] == expected


def test_aggregate_per_requirement() -> None:
    catalog = FakeCatalog(DL_01=FakeRequirement("must"), GOV_01=FakeRequirement("should", "manual"),
                          NET_01=FakeRequirement("must"), ST_01=FakeRequirement("must"))
    catalog.not_applicable.add("ST-01")
    verdicts = aggregate(catalog, "secure-browser", {}, [], [case("fail", "DL-01"), case("pass", "DL-01")])
    assert verdicts["DL-01"].verdict == "fail"
    assert verdicts["GOV-01"].verdict == "manual"
    assert verdicts["NET-01"].verdict == "not_tested"
    assert verdicts["ST-01"].verdict == "not_applicable"
    assert len(verdicts["DL-01"].cases) == 2


def test_unknown_requirement_id_is_a_suite_bug() -> None:
    catalog = FakeCatalog(DL_01=FakeRequirement("must"))
    with pytest.raises(ValueError, match="XX-99"):
        aggregate(catalog, "secure-browser", {}, [], [case("pass", "XX-99")])


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        ({"A": ("pass", "must"), "B": ("fail", "should")}, 0),  # only must-level decides the exit code
        ({"A": ("pass", "must"), "B": ("fail", "must")}, 1),
        ({"A": ("error", "must"), "B": ("pass", "must")}, 3),
        ({"A": ("not_tested", "must")}, 3),
        ({"A": ("error", "must"), "B": ("fail", "must")}, 1),
        ({"A": ("manual", "must"), "B": ("not_applicable", "must")}, 0),
    ],
)
def test_exit_code(verdicts: dict[str, tuple[str, str]], code: int) -> None:
    assert exit_code({k: {"verdict": v, "level": lvl} for k, (v, lvl) in verdicts.items()}) == code


def _waiver(exit_policy: str) -> dict[str, str]:
    return {"requirement": "DL-01", "justification": "j", "approver": "a", "approved": "2026-11-01",
            "expires": "2027-03-31", "exit": exit_policy}  # fmt: skip


@pytest.mark.parametrize(("exit_policy", "code"), [("accept", 0), ("fail", 1)])
def test_a_waived_failure_is_waived_never_pass_and_counts_as_the_file_says(exit_policy: str, code: int) -> None:
    catalog = FakeCatalog(DL_01=FakeRequirement("must"), NET_01=FakeRequirement("must"))
    verdicts = aggregate(catalog, "secure-browser", {}, [], [case("fail", "DL-01"), case("pass", "NET-01")],
                         waivers={"DL-01": _waiver(exit_policy)})  # fmt: skip
    waived = verdicts["DL-01"]
    assert waived.verdict == "waived" and waived.waiver is not None
    assert waived.waiver["original_verdict"] == "fail"
    assert "waived failure" in waived.reason and "1 of 1 cases failed" in waived.reason
    assert waived.to_json()["waiver"]["exit"] == exit_policy
    assert exit_code(verdicts) == code
    assert exit_code({k: v.to_json() for k, v in verdicts.items()}) == code  # the same from conformance.json


@pytest.mark.parametrize("outcome", ["pass", "error"])
def test_a_waiver_never_touches_what_did_not_fail(outcome: str) -> None:
    from conformance.verdicts import unused_waivers

    catalog = FakeCatalog(DL_01=FakeRequirement("must"))
    waivers = {"DL-01": _waiver("accept")}
    verdicts = aggregate(catalog, "secure-browser", {}, [], [case(outcome, "DL-01")], waivers=waivers)
    assert verdicts["DL-01"].verdict == outcome and verdicts["DL-01"].waiver is None
    assert unused_waivers(verdicts, waivers) == ["DL-01"]


def test_a_waived_verdict_without_a_policy_counts_as_a_failure() -> None:
    # fail closed: a conformance.json edited to drop the policy never turns a failure into exit 0
    assert exit_code({"A": {"verdict": "waived", "level": "must", "waiver": {}}}) == 1
