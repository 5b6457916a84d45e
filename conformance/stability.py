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
    exit_codes: list[int | None] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)  # compare's text, first run against each differing run

    @property
    def unfinished(self) -> list[Path]:
        return [folder for folder, code in zip(self.folders, self.exit_codes, strict=True) if code is None]

    @property
    def unstable(self) -> list[str]:
        return sorted(rid for rid, seen in self.verdicts.items() if len(set(seen)) > 1)

    @property
    def exit_code(self) -> int:
        if self.unfinished:
            return EXIT_UNDECIDED
        if self.unstable or len(set(self.exit_codes)) > 1:
            return EXIT_UNSTABLE
        return int(self.exit_codes[0] or 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": [str(f) for f in self.folders],
            "exit_codes": self.exit_codes,
            "identical": not self.unstable and not self.unfinished,
            "unstable": self.unstable,
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
        if not self.unstable and not self.unfinished:
            lines.append(f"  全ての判定が {n} 回とも同一 / every verdict identical in all {n} runs")
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
    finished = [(folder, d) for folder, d in zip(folders, documents, strict=True) if d is not None]
    if len(finished) > 1:
        first = load_run(finished[0][0])
        for folder, document in finished[1:]:
            if any(document["requirements"].get(rid, {}).get("verdict") != stability.verdicts[rid][0] for rid in ids):
                stability.differences.append(render_text(compare([first, load_run(folder)])))
    target.mkdir(parents=True, exist_ok=True)
    (target / "stability.json").write_text(json.dumps(stability.to_json(), ensure_ascii=False, indent=2),
                                           encoding="utf-8")  # fmt: skip
    (target / "stability.txt").write_text(stability.render() + "\n", encoding="utf-8")
    return stability
