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
