"""Stability mode (``conformance run --repeat N``): the same plan run N times against one candidate, and per
requirement whether the verdict was identical each time.

A verdict that decides a procurement must not depend on the run: any difference is reported with the
differing evidence (``conformance compare`` of the first run against each run that differs) and exits 4
(``EXIT_UNSTABLE``). A repetition that wrote no result makes the check undecided (exit 3), never stable.
Writes ``stability.json`` and ``stability.txt`` beside the ``repeat-NN`` folders.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.report import VERDICT_LABELS
from conformance.verdicts import EXIT_UNDECIDED, EXIT_UNSTABLE


@dataclass
class Stability:
    folders: list[Path]
    verdicts: dict[str, list[str | None]] = field(default_factory=dict)  # requirement ID → verdict per run
    # case node ID → (its requirement IDs, its outcome per run): a case can change while its requirement's verdict
    # does not (one failing case of several); the harness is then not stable either.
    cases: dict[str, tuple[list[str], list[str | None]]] = field(default_factory=dict)
    exit_codes: list[int | None] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)  # compare's text, first run against each differing run

    @property
    def unfinished(self) -> list[Path]:
        return [folder for folder, code in zip(self.folders, self.exit_codes, strict=True) if code is None]

    @property
    def unstable(self) -> list[str]:
        return sorted(rid for rid, seen in self.verdicts.items() if len(set(seen)) > 1)

    @property
    def changed_cases(self) -> list[str]:
        return sorted(nodeid for nodeid, (_, seen) in self.cases.items() if len(set(seen)) > 1)

    @property
    def exit_code(self) -> int:
        if self.unfinished:
            return EXIT_UNDECIDED
        if self.unstable or self.changed_cases or len(set(self.exit_codes)) > 1:
            return EXIT_UNSTABLE
        return int(self.exit_codes[0] or 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": [str(f) for f in self.folders],
            "exit_codes": self.exit_codes,
            "identical": not self.unstable and not self.changed_cases and not self.unfinished,
            "unstable": self.unstable,
            "changed_cases": {nodeid: self.cases[nodeid][1] for nodeid in self.changed_cases},
            "unfinished": [str(f) for f in self.unfinished],
            "verdicts": self.verdicts,
            "exit_code": self.exit_code,
        }

    def render(self) -> str:
        n = len(self.folders)
        lines = [f"安定性 / stability: {n} 回 / runs, 要件 {len(self.verdicts)} 件 / requirements"]
        for folder in self.unfinished:
            lines.append(f"  結果なし / no result: {folder} — 安定性は判定不能 / stability undecided")
        for rid in self.unstable:
            tally = Counter(v or "no result" for v in self.verdicts[rid])
            seen = ", ".join(f"{VERDICT_LABELS.get(v, (v, v))[1]} ×{count}" for v, count in tally.most_common())
            lines.append(f"  ≠ {rid}: {seen}")
        for nodeid in self.changed_cases:
            rids, outcomes = self.cases[nodeid]
            tally = Counter(v or "no result" for v in outcomes)
            seen = ", ".join(f"{v} ×{count}" for v, count in tally.most_common())
            lines.append(f"  ≠ {','.join(rids)} case {nodeid}: {seen} / 試験結果が回によって異なる")
        if not self.unstable and not self.changed_cases and not self.unfinished:
            lines.append(f"  全ての判定と試験結果が {n} 回とも同一 / every verdict and case outcome identical in all "
                         f"{n} runs")
        lines += self.differences
        return "\n".join(lines)


def check_stability(target: Path, folders: list[Path]) -> Stability:
    """Read each repetition's conformance.json and compare; writes stability.json and stability.txt in
    ``target``."""
    from conformance.compare import compare, load_run, render_text

    stability = Stability(list(folders))
    documents: list[dict[str, Any] | None] = []
    for folder in folders:
        result = folder / "conformance.json"
        document = json.loads(result.read_text(encoding="utf-8")) if result.is_file() else None
        documents.append(document)
        stability.exit_codes.append(document["summary"]["exit_code"] if document else None)
    ids = sorted({rid for d in documents if d for rid in d["requirements"]})
    for rid in ids:
        stability.verdicts[rid] = [(d["requirements"].get(rid) or {}).get("verdict") if d else None for d in documents]
    outcomes = [case_outcomes(d) if d else {} for d in documents]
    for nodeid in sorted(set().union(*outcomes)):
        rids = next(found[nodeid][0] for found in outcomes if nodeid in found)
        stability.cases[nodeid] = (rids, [found[nodeid][1] if nodeid in found else None for found in outcomes])
    finished = [(index, folder) for index, (folder, d) in enumerate(zip(folders, documents, strict=True)) if d]
    if len(finished) > 1:
        first_index, first_folder = finished[0]
        first = load_run(first_folder)
        for index, folder in finished[1:]:
            differs = [rid for rid in ids if stability.verdicts[rid][index] != stability.verdicts[rid][first_index]]
            differs += [nodeid for nodeid, (_, seen) in stability.cases.items() if seen[index] != seen[first_index]]
            if differs:
                stability.differences.append(render_text(compare([first, load_run(folder)])))
    target.mkdir(parents=True, exist_ok=True)
    (target / "stability.json").write_text(json.dumps(stability.to_json(), ensure_ascii=False, indent=2),
                                           encoding="utf-8")  # fmt: skip
    (target / "stability.txt").write_text(stability.render() + "\n", encoding="utf-8")
    return stability


def case_outcomes(document: dict[str, Any]) -> dict[str, tuple[list[str], str]]:
    """Each case of a run: node ID → (the requirement IDs it decides, its outcome)."""
    found: dict[str, tuple[list[str], str]] = {}
    for rid, entry in document["requirements"].items():
        for case in entry.get("cases", []):
            rids, outcome = found.get(case["nodeid"], ([], case["outcome"]))
            found[case["nodeid"]] = ([*rids, rid], outcome)
    return found
