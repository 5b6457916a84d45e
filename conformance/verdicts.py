"""From case outcomes to one verdict per requirement, and from verdicts to an exit code.

This layer knows the catalog and result data only, nothing of drivers or oracles.

Rules (fail closed):
- a requirement that does not apply to the candidate (kind, claimed profiles, claims) is
  ``not_applicable``; a manual one is ``manual`` (it needs attested evidence);
- otherwise any failing case makes it ``fail``; else any case in error makes it ``error``;
  it is ``pass`` only when at least one case ran and every case that ran passed;
- an automated requirement with no case that ran is ``not_tested``, never ``pass``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

OUTCOMES = ("pass", "fail", "error", "not_applicable")
VERDICTS = ("pass", "fail", "error", "not_applicable", "manual", "not_tested")

EXIT_OK, EXIT_FAIL, EXIT_INPUT, EXIT_UNDECIDED = 0, 1, 2, 3


@dataclass
class CaseResult:
    nodeid: str
    requirement_ids: list[str]
    outcome: str  # one of OUTCOMES
    message: str = ""
    evidence: list[str] = field(default_factory=list)  # paths relative to the run folder
    duration: float = 0.0
    title: str = ""
    # What the verdict could not take into account, said with it whatever the outcome (e.g. traffic that
    # bypasses the proxy when the run could only observe the proxy).
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RequirementVerdict:
    id: str
    verdict: str
    level: str
    reason: str
    cases: list[CaseResult]

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "level": self.level,
            "reason": self.reason,
            "cases": [
                {k: v for k, v in case.to_json().items() if k != "requirement_ids"} for case in self.cases
            ],
        }


def decide(cases: Sequence[CaseResult]) -> tuple[str, str]:
    """The verdict of an applicable automated requirement from its cases."""
    ran = [c for c in cases if c.outcome != "not_applicable"]
    if not ran:
        return "not_tested", "no case ran for this requirement / この要件を判定する試験が実行されていない"
    notes = list(dict.fromkeys(note for c in ran for note in c.notes))
    also = "".join(f"; {note}" for note in notes)
    failing = [c for c in ran if c.outcome == "fail"]
    if failing:
        return "fail", f"{len(failing)} of {len(ran)} cases failed{also}"
    errors = [c for c in ran if c.outcome == "error"]
    if errors:
        return "error", f"{len(errors)} of {len(ran)} cases could not decide: {errors[0].message[:200]}{also}"
    return "pass", f"{len(ran)} of {len(ran)} cases passed{also}"


def aggregate(
    catalog: Any,
    kind: str,
    claims: Mapping[str, str],
    claimed_profiles: Sequence[str],
    results: Iterable[CaseResult],
) -> dict[str, RequirementVerdict]:
    by_requirement: dict[str, list[CaseResult]] = {rid: [] for rid in catalog.requirements}
    for result in results:
        for rid in result.requirement_ids:
            by_requirement.setdefault(rid, []).append(result)
    verdicts: dict[str, RequirementVerdict] = {}
    for rid, requirement in catalog.requirements.items():
        cases = by_requirement[rid]
        applicable, why = catalog.applicability(rid, kind, claims, claimed_profiles)
        if not applicable:
            verdict, reason = "not_applicable", why
        elif requirement.verification == "manual":
            verdict, reason = "manual", "needs attested evidence / 証跡の提出による確認が必要"
        else:
            verdict, reason = decide(cases)
        verdicts[rid] = RequirementVerdict(rid, verdict, requirement.level, reason, cases)
    unknown = set(by_requirement) - set(catalog.requirements)
    if unknown:  # a case names an ID the catalog does not have: a suite bug, never silently dropped
        raise ValueError(f"cases refer to requirement IDs not in the catalog: {sorted(unknown)}")
    return verdicts


def exit_code(verdicts: Mapping[str, RequirementVerdict] | Mapping[str, Mapping[str, Any]]) -> int:
    """0 when every applicable must-level requirement passes, 1 when any fails, 3 when undecided.

    ``manual`` must-level requirements do not block 0: they are listed for attestation.
    """
    must = [_as_pair(v) for v in verdicts.values()]
    must = [verdict for verdict, level in must if level == "must"]
    if "fail" in must:
        return EXIT_FAIL
    if any(v in ("error", "not_tested") for v in must):
        return EXIT_UNDECIDED
    return EXIT_OK


def _as_pair(value: RequirementVerdict | Mapping[str, Any]) -> tuple[str, str]:
    if isinstance(value, RequirementVerdict):
        return value.verdict, value.level
    return value["verdict"], value["level"]


def counts(verdicts: Mapping[str, RequirementVerdict]) -> dict[str, int]:
    tally = dict.fromkeys(VERDICTS, 0)
    for verdict in verdicts.values():
        tally[verdict.verdict] += 1
    return tally
