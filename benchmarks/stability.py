"""Stability of every bundled reference: ``conformance run --repeat N`` on each reference candidate, over the
requirements the reference matrix (``tests/reference/expected``) runs it for, then one table.

    flock /tmp/conformance-run.lock python benchmarks/stability.py [--repeat 10] [-n 2] [--only NAME ...]

Per reference: how many runs wrote a result, whether every verdict was identical in all of them (the CLI's own
stability mode, ``stability.json``), whether each run's verdicts are the ones the matrix expects, and the wall
minutes per run as context. A reference the matrix runs for its listed requirements only (``_scope = "listed"``)
is run for those; every other one is a full run. Written as it goes: ``OUT/stability.md`` and
``OUT/stability.json``; each reference's ``repeat-NN`` folders and its log under ``OUT/<name>``.
Nothing is asserted: this is the figure the README and a closing note quote.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: this tree's tests and conformance, not an installed copy
    sys.path.insert(0, str(ROOT))

from conformance.stability import case_outcomes  # noqa: E402
from tests.reference.matrix import CANDIDATES, ENGINE_RELEASES, EXPECTED, verdicts_of  # noqa: E402

# The order of the run: the open/hardened pairs first, so that a run cut short still has the figures that matter.
ORDER = ("chromium-open", "chromium-hardened", "novnc-open", "novnc-hardened", "xpra-open", "xpra-hardened",
         "x11vnc-recv-only", "x11vnc-send-only", "chromium-stale", "chromium-print-allowed",
         "chromium-gateway-fallback", "chromium-gateway-strict")  # fmt: skip


@dataclass
class ReferenceStability:
    name: str
    requirements: list[str]  # empty: a full run
    runs: int = 0  # repetitions that wrote a conformance.json
    exit_code: int | None = None  # the stability run's: 4 when a verdict differed, 3 when a repetition wrote nothing
    unstable: list[str] = field(default_factory=list)  # requirements whose verdict differed between runs
    unexpected: dict[str, list[str]] = field(default_factory=dict)  # requirement → verdicts seen, if not as expected
    changed_cases: dict[str, list[str]] = field(default_factory=dict)  # case → its outcome per run, where it differed
    cases: int = 0  # distinct cases seen
    minutes_per_run: float | None = None  # median of the runs' own duration_s

    def row(self, repeat: int) -> str:
        scope = "full" if not self.requirements else ", ".join(self.requirements)
        if self.runs == 0:
            identical = "—"
        elif self.unstable:
            identical = "no: " + ", ".join(self.unstable)
        else:
            identical = "yes" if self.runs == repeat else "undecided"
        seen = "; ".join(f"{rid} {'/'.join(sorted(set(v)))}" for rid, v in self.unexpected.items())
        expected = "—" if self.runs == 0 else (f"no: {seen}" if seen else "yes")
        changed = "—" if self.runs == 0 else f"{len(self.changed_cases)} of {self.cases}"
        minutes = "—" if self.minutes_per_run is None else f"{self.minutes_per_run:.1f}"
        return f"| {self.name} | {scope} | {self.runs}/{repeat} | {identical} | {expected} | {changed} | {minutes} |"


HEADER = ("| reference | requirements | runs with a result | every verdict identical | as the matrix expects | "
          "cases whose outcome differed | min per run |\n|---|---|---|---|---|---|---|")  # fmt: skip


def order(names: list[str]) -> list[str]:
    unknown = sorted(set(names) - set(EXPECTED))
    if unknown:
        raise SystemExit(f"--only: {unknown} are not reference candidates ({', '.join(sorted(EXPECTED))})")
    known = [name for name in ORDER if name in names]
    return known + sorted(set(names) - set(known))


def scope_of(name: str) -> list[str]:
    """The --requirement options the reference matrix runs ``name`` with: none for a full run."""
    return sorted(verdicts_of(name)) if EXPECTED[name].get("_scope") == "listed" else []


def assess(name: str, requirements: list[str], folder: Path, repeat: int,
           exit_code: int | None = None) -> ReferenceStability:  # fmt: skip
    """Read what the stability run of one reference left in ``folder`` (``exit_code``: the process's, used when
    the run wrote no stability.json)."""
    found = ReferenceStability(name, requirements, exit_code=exit_code)
    documents: list[dict[str, Any]] = []
    for index in range(1, repeat + 1):
        result = folder / f"repeat-{index:02d}" / "conformance.json"
        if result.is_file():
            documents.append(json.loads(result.read_text(encoding="utf-8")))
    found.runs = len(documents)
    stability = folder / "stability.json"
    if stability.is_file():
        written = json.loads(stability.read_text(encoding="utf-8"))
        found.unstable = written["unstable"]
        found.exit_code = written.get("exit_code", exit_code)
    for rid, verdict in verdicts_of(name).items():
        seen = [doc["requirements"].get(rid, {}).get("verdict", "absent") for doc in documents]
        if any(v != verdict for v in seen):
            found.unexpected[rid] = seen
    runs = [case_outcomes(doc) for doc in documents]
    nodeids = set().union(*runs)
    outcomes = {nodeid: [ran[nodeid][1] if nodeid in ran else "absent" for ran in runs] for nodeid in nodeids}
    found.cases = len(outcomes)
    found.changed_cases = {nodeid: seen for nodeid, seen in sorted(outcomes.items()) if len(set(seen)) > 1}
    durations = [doc["duration_s"] for doc in documents if doc.get("duration_s") is not None]
    found.minutes_per_run = statistics.median(durations) / 60 if durations else None
    return found


def write_table(out: Path, rows: list[ReferenceStability], repeat: int, workers: str, started: str) -> None:
    lines = [
        f"# Stability of the references / リファレンスの安定性 ({started}, --repeat {repeat}, -n {workers})",
        "",
        HEADER,
        *(row.row(repeat) for row in rows),
    ]
    (out / "stability.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "stability.json").write_text(json.dumps({"repeat": repeat, "workers": workers, "started": started,
                                                    "references": [asdict(row) for row in rows]}, indent=2) + "\n",
                                        encoding="utf-8")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, metavar="N")
    parser.add_argument("-n", "--workers", default="2", help="workers per run, as `conformance run -n`")
    parser.add_argument("--only", nargs="+", default=sorted(EXPECTED), metavar="NAME", help="these references only")
    parser.add_argument("--out", type=Path, help="default: reports/stability-<stamp>")
    parser.add_argument("--read", action="store_true", help="run nothing: tabulate the runs already in --out")
    args = parser.parse_args(argv)
    if args.read and args.out is None:
        parser.error("--read needs --out, the folder of an earlier stability run")
    started = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = (args.out or ROOT / "reports" / f"stability-{started}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    rows: list[ReferenceStability] = []
    for name in order(args.only):
        requirements = scope_of(name)
        code = None if args.read else run_reference(name, requirements, out, args.repeat, args.workers)
        if args.read and not (out / name).is_dir():
            continue
        rows.append(assess(name, requirements, out / name, args.repeat, code))
        write_table(out, rows, args.repeat, args.workers, started)
        print("   " + rows[-1].row(args.repeat), flush=True)
    write_table(out, rows, args.repeat, args.workers, started)
    print((out / "stability.md").read_text(encoding="utf-8"))
    for row in rows:
        for nodeid, seen in row.changed_cases.items():
            print(f"{row.name}: {nodeid}: {' '.join(seen)}")
    unsettled = [row for row in rows if row.unstable or row.changed_cases or row.runs < args.repeat or row.unexpected]
    if not rows:
        print(f"{out}: no stability run of these references here / 安定性の実行結果がない", file=sys.stderr)
    return 1 if unsettled or not rows else 0


def run_reference(name: str, requirements: list[str], out: Path, repeat: int, workers: str) -> int:
    """``conformance run --repeat`` of one reference into ``out/<name>``, its output in ``out/<name>.log``; only
    the progress lines are shown. Returns its exit code."""
    command = [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(CANDIDATES / f"{name}.toml"),
               "--out", str(out / name), f"--engine-releases={ENGINE_RELEASES}", "--artifacts=none",
               f"--repeat={repeat}", "-n", workers, *(f"--requirement={rid}" for rid in requirements)]  # fmt: skip
    print(f"== {name} ({'full' if not requirements else ', '.join(requirements)}) × {repeat}", flush=True)
    (out / name).mkdir(parents=True, exist_ok=True)
    with (out / f"{name}.log").open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if line.startswith(("-- ", "安定性", "  ≠", "  全て", "  結果なし")):
                print("   " + line.rstrip(), flush=True)
        return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
