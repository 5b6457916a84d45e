"""From case outcomes to one verdict per requirement, and from verdicts to an exit code.

This layer knows the catalog and result data only, nothing of drivers or oracles.

Rules (fail closed):
- a requirement that does not apply to the candidate (kind, claimed profiles, claims) is
  ``not_applicable``; a manual one is ``manual`` (it needs attested evidence);
- otherwise any failing case makes it ``fail``; else any case in error makes it ``error``;
  it is ``pass`` only when at least one case ran and every case that ran passed;
- an automated requirement with no case that ran is ``not_tested``, never ``pass``;
- an attestation (conformance/attestation.py) never changes a verdict: a manual requirement stays ``manual``
  and carries its attestation status (``attested``, ``pending``, ``expired``); an attestation for an automated
  requirement is a suite bug (the loader refuses it), never a way to pass;
- a waiver (conformance/waivers.py) turns a ``fail`` into ``waived``, never into ``pass``; the waiver file says
  whether a waived failure still makes the exit code 1 (``exit = "fail"``) or not (``exit = "accept"``). A waiver
  of a requirement that did not fail changes nothing and is reported as unused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

OUTCOMES = ("pass", "fail", "error", "not_applicable")
VERDICTS = ("pass", "fail", "error", "not_applicable", "manual", "not_tested", "waived")

ATTESTATION_STATUSES = ("attested", "pending", "expired")
PENDING: dict[str, Any] = {"status": "pending"}  # a manual requirement nothing was handed in for

EXIT_OK, EXIT_FAIL, EXIT_INPUT, EXIT_UNDECIDED = 0, 1, 2, 3
EXIT_UNSTABLE = 4  # stability mode (--repeat): a verdict or a case's outcome differed between repetitions of a plan


@dataclass
class CaseResult:
    nodeid: str
    requirement_ids: list[str]
    outcome: str  # one of OUTCOMES
    message: str = ""
    evidence: list[str] = field(default_factory=list)  # paths relative to the run folder
    duration: float = 0.0
    waited: float = 0.0  # of the duration, seconds spent waiting (conformance.waits); the rest is acting
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
    # For a manual requirement (and an attested one that does not apply): its attestation record, with
    # ``status`` and ``applicable``. None for automated requirements.
    attestation: dict[str, Any] | None = None
    # For a waived failure: the waiver record (conformance.waivers) with ``original_verdict``.
    waiver: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        document = {
            "verdict": self.verdict,
            "level": self.level,
            "reason": self.reason,
            "cases": [
                {k: v for k, v in case.to_json().items() if k != "requirement_ids"} for case in self.cases
            ],
        }
        if self.attestation is not None:
            document["attestation"] = self.attestation
        if self.waiver is not None:
            document["waiver"] = self.waiver
        return document


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
    attestations: Mapping[str, Mapping[str, Any]] | None = None,
    waivers: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, RequirementVerdict]:
    """One verdict per catalog requirement. ``attestations``: requirement ID → attestation record (a dict
    with ``status`` "attested" or "expired", from conformance.attestation), for manual requirements only.
    ``waivers``: requirement ID → waiver record (conformance.waivers, with ``exit``) for this candidate."""
    by_requirement: dict[str, list[CaseResult]] = {rid: [] for rid in catalog.requirements}
    for result in results:
        for rid in result.requirement_ids:
            by_requirement.setdefault(rid, []).append(result)
    records = dict(attestations or {})
    verdicts: dict[str, RequirementVerdict] = {}
    for rid, requirement in catalog.requirements.items():
        cases = by_requirement[rid]
        record = records.pop(rid, None)
        attestation: dict[str, Any] | None = None
        applicable, why = catalog.applicability(rid, kind, claims, claimed_profiles)
        if record is not None and requirement.verification != "manual":
            # The loader refuses these; reaching here is a suite bug, and it must never become a pass.
            raise ValueError(f"an attestation never decides an automated requirement: {rid}")
        if not applicable:
            verdict, reason = "not_applicable", why
            if record is not None:  # kept, so what was handed in is never silently lost
                attestation = {**record, "applicable": False}
        elif requirement.verification == "manual":
            attestation = {**(record or PENDING), "applicable": True}
            verdict, reason = "manual", manual_reason(attestation)
        else:
            verdict, reason = decide(cases)
        waiver: dict[str, Any] | None = None
        if verdict == "fail" and waivers and rid in waivers:
            waiver = {**waivers[rid], "original_verdict": verdict}
            verdict, reason = "waived", waived_reason(waiver, reason)
        verdicts[rid] = RequirementVerdict(rid, verdict, requirement.level, reason, cases, attestation, waiver)
    unknown = set(by_requirement) - set(catalog.requirements)
    if unknown:  # a case names an ID the catalog does not have: a suite bug, never silently dropped
        raise ValueError(f"cases refer to requirement IDs not in the catalog: {sorted(unknown)}")
    if records:
        raise ValueError(f"attestations refer to requirement IDs not in the catalog: {sorted(records)}")
    return verdicts


def unused_waivers(verdicts: Mapping[str, RequirementVerdict], waivers: Mapping[str, Any] | None) -> list[str]:
    """The waived requirement IDs that did not fail in this run (nothing to waive): reported, never silent."""
    return sorted(rid for rid in waivers or {} if rid not in verdicts or verdicts[rid].verdict != "waived")


def waived_reason(waiver: Mapping[str, Any], reason: str) -> str:
    """The reason of a waived verdict: the failure first (it is still a failure), then who waived it until when."""
    counts_as = "終了コードでは不適合扱い / still a failure for the exit code" if waiver["exit"] == "fail" else (
        "終了コードでは許容 / accepted for the exit code")
    return (f"免除された不適合: {reason} / waived failure: {reason}; "
            f"承認 / approved by {waiver['approver']}, {waiver['expires']} まで / until {waiver['expires']}; "
            f"{counts_as}")


def manual_reason(record: Mapping[str, Any]) -> str:
    """The reason of a manual verdict, saying what was handed in. Bilingual, "日本語 / English"."""
    status = record["status"]
    if status == "pending":
        return "証跡未提出: 証跡の提出による確認が必要 / pending: needs attested evidence"
    who = f"{record['attested_by']}（{record['role']}）"
    who_en = f"{record['attested_by']} ({record['role']})"
    files = len(record.get("evidence", []))
    if status == "expired":
        text = (f"証跡の期限切れ: {who}、{record['date']} 付、{record['expires']} に失効、証跡 {files} 件 / "
                f"expired: attested by {who_en} on {record['date']}, expired {record['expires']}, "
                f"{files} evidence file(s)")
    else:
        text = (f"証跡確認済: {who}、{record['date']} 付、{record['expires']} まで有効、証跡 {files} 件 / "
                f"attested by {who_en} on {record['date']}, valid until {record['expires']}, "
                f"{files} evidence file(s)")
    if record.get("example"):
        text += "（例であり実際の証跡ではない / an example, not real evidence）"
    # The suite checked form, dates and file hashes; what the documents say is for a person to read.
    return text + "; 内容の確認は読む人が行う / the documents themselves are for the reader to assess"


def exit_code(verdicts: Mapping[str, RequirementVerdict] | Mapping[str, Mapping[str, Any]]) -> int:
    """0 when every applicable must-level requirement passes, 1 when any fails, 3 when undecided.

    ``manual`` must-level requirements do not block 0, attested or not: they are listed for attestation,
    and an attestation (or its absence, or its expiry) never changes the exit code. A ``waived`` failure counts
    as the waiver file says: as a failure (``exit = "fail"``) or not (``exit = "accept"``).
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
        verdict, level, waiver = value.verdict, value.level, value.waiver
    else:
        verdict, level, waiver = value["verdict"], value["level"], value.get("waiver")
    if verdict == "waived" and (waiver or {}).get("exit") != "accept":  # fail closed: only "accept" accepts
        return "fail", level
    return verdict, level


def counts(verdicts: Mapping[str, RequirementVerdict]) -> dict[str, int]:
    tally = dict.fromkeys(VERDICTS, 0)
    for verdict in verdicts.values():
        tally[verdict.verdict] += 1
    return tally


def attestation_counts(verdicts: Mapping[str, RequirementVerdict]) -> dict[str, int]:
    """How the manual requirements stand: attested / pending / expired (of those that apply), how many of
    those attestations are examples, and how many attestations were kept for requirements that do not apply."""
    tally = {**dict.fromkeys(ATTESTATION_STATUSES, 0), "example": 0, "not_applicable": 0}
    for verdict in verdicts.values():
        record = verdict.attestation
        if record is None:
            continue
        if verdict.verdict != "manual":
            tally["not_applicable"] += 1
            continue
        tally[record["status"]] += 1
        tally["example"] += bool(record.get("example"))
    return tally
