"""The whole benchmark in one run, on one machine: the suite against its floor, as ratios.

    python benchmarks/run.py [--candidate chromium-hardened] [--repeat 3] [--page-loads 7] [--workers 2]

Measured, interleaved per repeat so that machine noise hits every side alike:

* the full reference run (``conformance run`` of one candidate, one worker) versus the floor
  (``benchmarks/floor.py``: the same launches, page loads and user acts as a bare Playwright script);
* one page load through the network oracle versus direct (``harness_overhead.page_loads``);
* the full run with ``-n WORKERS`` versus one worker (pytest-xdist; "n/a" where the CLI has no ``-n``);
* peak memory: PSS of the whole process tree, and of each worker's subtree (``full_run.measure``);
* per case: its duration, the time it spent in the shared wait helpers (``waited`` in conformance.json, where
  the tree records it) and the rest, acting; next to the floor's seconds for the same case.

Printed: medians over the repeats as ratios, absolute seconds only as context. Written:
``benchmarks/results/run-<stamp>.json`` with every sample. Nothing here is asserted: the machine is shared.
Run it under the shared lock (``flock /tmp/conformance-run.lock python benchmarks/run.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: this tree's benchmarks and conformance, not an installed copy
    sys.path.insert(0, str(ROOT))

from benchmarks.floor import cases_of  # noqa: E402
from benchmarks.full_run import Measurement, measure  # noqa: E402

TARGETS = {"full": ("≤", 1.3), "page": ("≤", 1.15), "speedup": ("≥", 1.7)}
NO_WORKERS = "n/a: this tree has no -n"
ENGINE_RELEASES = ROOT / "fixtures" / "engine-releases.toml"


# -- pure helpers (tests/unit/test_benchmarks.py) -----------------------------------------------------------
def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def met(value: float | None, target: tuple[str, float]) -> str:
    if value is None:
        return "n/a"
    sign, bound = target
    ok = value <= bound if sign == "≤" else value >= bound
    return "yes / 達成" if ok else "no / 未達"


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: kanji and kana (East Asian wide / full-width) take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: columns as wide as their widest cell, the first left-aligned, the others right."""
    widths = [max(width(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        cells = []
        for i, (cell, w) in enumerate(zip(row, widths, strict=True)):
            pad = " " * (w - width(str(cell)))
            cells.append(f"{cell}{pad}" if i == 0 else f"{pad}{cell}")
        return "  ".join(cells).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def case_rows(full_runs: list[dict[str, dict]], floor_runs: list[dict[str, dict]]) -> list[list[str]]:
    """Per case: duration, waited, acting (= duration − waited), the floor's seconds, duration / floor ("no browser"
    for a case the floor has nothing to do in).
    ``full_runs``: per repeat {nodeid: case entry of conformance.json}; ``floor_runs``: per repeat floor.py's
    {nodeid: {"seconds": ...}}. Medians over the repeats; "n/a" where a figure is missing."""
    rows = []
    for nodeid, case in full_runs[0].items():
        if case.get("outcome") == "not_applicable":
            continue
        duration = median([run.get(nodeid, {}).get("duration") for run in full_runs])
        waited = median([run.get(nodeid, {}).get("waited") for run in full_runs])
        acting = None if duration is None or waited is None else duration - waited
        if any(run.get(nodeid, {}).get("no_browser") for run in floor_runs):  # nothing to compare with
            rows.append([nodeid.removeprefix("cases/"), fmt(duration), fmt(waited), fmt(acting), "no browser", "n/a"])
            continue
        floor = median([run.get(nodeid, {}).get("seconds") for run in floor_runs])
        rows.append([nodeid.removeprefix("cases/"), fmt(duration), fmt(waited), fmt(acting), fmt(floor),
                     fmt(ratio(duration, floor), "x", 1)])
    return rows


# -- the measurements ----------------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(
        os.pathsep)}


def full_run(profile: Path, out: Path, extra: list[str]) -> tuple[Measurement, dict | None]:
    # As the reference matrix runs it: MNT-05 needs the release list (without it the case is error, not measured).
    argv = [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(profile), "--out", str(out),
            f"--engine-releases={ENGINE_RELEASES}", *extra]
    run = measure(argv, env=_env(), cwd=ROOT, log=out.with_suffix(".log"))
    result = out / "conformance.json"
    return run, json.loads(result.read_text(encoding="utf-8")) if result.exists() else None


def rejects_workers(run: Measurement) -> bool:
    """The CLI refused ``-n`` (argparse: exit 2, unrecognised argument)."""
    return run.exit == 2 and "unrecognized arguments" in run.stderr_tail and "-n" in run.stderr_tail


def summary(m: list[Measurement]) -> dict[str, Any]:
    return {"wall_s": [round(x.wall_s, 2) for x in m], "exit": [x.exit for x in m],
            "peak_pss_mb": [round(x.peak_pss_mb, 1) for x in m],
            "peak_worker_pss_mb": [{str(k): round(v, 1) for k, v in x.peak_worker_pss_mb.items()} for x in m]}


def worker_peak(m: Measurement) -> float | None:
    return max(m.peak_worker_pss_mb.values()) if m.peak_worker_pss_mb else None


def main() -> int:
    parser = argparse.ArgumentParser(description="suite vs floor, in one run / 下限との比較")
    parser.add_argument("--candidate", default="chromium-hardened", help="reference candidate name or profile path")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of the full run, the floor and -n (median)")
    parser.add_argument("--page-loads", type=int, default=7, help="page loads per side (direct, through the oracle)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the parallel run (-n)")
    parser.add_argument("--artifacts", default=None, help="passed to conformance run (default: its own, all)")
    parser.add_argument("--requirement", action="append", default=[],
                        help="only this requirement ID (repeatable; a quick check, not the benchmark)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (run folders, logs)")
    args = parser.parse_args()
    profile = Path(args.candidate)
    if not profile.suffix:
        profile = ROOT / "fixtures" / "candidates" / f"{args.candidate}.toml"
    profile = profile.resolve()
    name = profile.stem
    extra = ["--artifacts", args.artifacts] if args.artifacts else []
    extra += [f"--requirement={rid}" for rid in args.requirement]
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        from benchmarks.harness_overhead import page_loads

        print(f"page loads / ページ読込み: {args.page_loads} per side", flush=True)
        loads = page_loads(args.page_loads, work / "page-loads")
        fulls, floors, parallels = [], [], []
        full_cases: list[dict[str, dict]] = []
        floor_cases: list[dict[str, dict]] = []
        durations: list[float] = []
        workers_note = ""
        for index in range(1, args.repeat + 1):
            print(f"-- {index}/{args.repeat} full run / 全体実行 ({name}, 1 worker)", flush=True)
            run, document = full_run(profile, work / f"full-{index}", extra)
            if document is None:
                print(f"the full run wrote no conformance.json (exit {run.exit}):\n{run.stderr_tail}", file=sys.stderr)
                return 3
            fulls.append(run)
            full_cases.append({c["nodeid"]: c for c in cases_of(document)})
            durations.append(float(document.get("duration_s") or 0))
            print(f"   {run.wall_s:.1f} s, exit {run.exit}", flush=True)
            print(f"-- {index}/{args.repeat} floor / 下限 (bare Playwright)", flush=True)
            out = work / f"floor-{index}.json"
            floor = measure([sys.executable, str(ROOT / "benchmarks" / "floor.py"), "--candidate", str(profile),
                             "--cases", str(work / "full-1" / "conformance.json"), "--out", str(out)],
                            env=_env(), cwd=ROOT, log=work / f"floor-{index}.log")
            if floor.exit != 0 or not out.exists():
                print(f"the floor failed (exit {floor.exit}):\n{floor.stderr_tail}", file=sys.stderr)
                return 3
            floors.append(floor)
            floor_cases.append(json.loads(out.read_text(encoding="utf-8"))["cases"])
            print(f"   {floor.wall_s:.1f} s", flush=True)
            if not workers_note:
                print(f"-- {index}/{args.repeat} full run with -n {args.workers} / 並列実行", flush=True)
                run, _document = full_run(profile, work / f"parallel-{index}", ["-n", str(args.workers), *extra])
                if rejects_workers(run):
                    workers_note = NO_WORKERS
                    print(f"   {NO_WORKERS}", flush=True)
                else:
                    parallels.append(run)
                    print(f"   {run.wall_s:.1f} s, exit {run.exit}", flush=True)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    wall_full = median([m.wall_s for m in fulls])
    wall_floor = median([m.wall_s for m in floors])
    wall_par = median([m.wall_s for m in parallels]) if parallels else None
    cases_full = median([sum(c.get("duration") or 0 for c in run.values()) for run in full_cases])
    cases_floor = median([sum(c.get("seconds") or 0 for c in run.values()) for run in floor_cases])
    waited = [[c.get("waited") for c in run.values() if c.get("outcome") != "not_applicable"] for run in full_cases]
    waited_total = median([sum(w) for w in waited if w and None not in w])
    page_direct, page_proxied = median(loads["floor"]), median(loads["harness"])
    pss_full, pss_floor = median([m.peak_pss_mb for m in fulls]), median([m.peak_pss_mb for m in floors])
    pss_par = median([m.peak_pss_mb for m in parallels]) if parallels else None
    figures = {
        "full_over_floor": ratio(wall_full, wall_floor),
        "cases_over_floor_cases": ratio(cases_full, cases_floor),
        "page_proxied_over_direct": ratio(page_proxied, page_direct),
        "speedup": ratio(wall_full, wall_par),
        "pss_full_over_floor": ratio(pss_full, pss_floor),
    }
    ratio_rows = [
        ["full run / floor (wall) / 全体実行÷下限", fmt(figures["full_over_floor"]), "≤ 1.30",
         met(figures["full_over_floor"], TARGETS["full"]), f"{fmt(wall_full, ' s', 1)} vs {fmt(wall_floor, ' s', 1)}"],
        ["cases only / floor's cases / 試験のみ÷下限", fmt(figures["cases_over_floor_cases"]), "", "",
         f"{fmt(cases_full, ' s', 1)} vs {fmt(cases_floor, ' s', 1)}"],
        ["  of which waited / うち待ち", fmt(ratio(waited_total, cases_full)), "", "",
         fmt(waited_total, " s", 1) if waited_total is not None else "n/a: no 'waited' in conformance.json"],
        ["cases' acting / floor's cases / 操作のみ÷下限",
         fmt(ratio(cases_full - waited_total, cases_floor) if waited_total is not None and cases_full is not None
             else None), "", "", "the cases without their waits: what the harness itself costs"],
        ["page load through oracle / direct / 経由÷直接", fmt(figures["page_proxied_over_direct"]), "≤ 1.15",
         met(figures["page_proxied_over_direct"], TARGETS["page"]),
         f"{fmt(page_proxied, ' s')} vs {fmt(page_direct, ' s')}"],
        [f"speed-up {args.workers} workers / 並列の速度比", workers_note or fmt(figures["speedup"]), "≥ 1.70",
         "n/a" if workers_note else met(figures["speedup"], TARGETS["speedup"]),
         f"{fmt(wall_full, ' s', 1)} vs {fmt(wall_par, ' s', 1)} on {os.cpu_count()} cores"],
        ["peak PSS full run / floor / 最大PSS", fmt(figures["pss_full_over_floor"]), "", "",
         f"{fmt(pss_full, ' MB', 0)} vs {fmt(pss_floor, ' MB', 0)}"],
        ["peak PSS per worker, 1 worker / ワーカー毎", fmt(median([worker_peak(m) for m in fulls]), " MB", 0), "", "",
         "the pytest process tree"],
        [f"peak PSS per worker, {args.workers} workers", workers_note or fmt(
            median([worker_peak(m) for m in parallels]), " MB", 0), "", "",
         f"whole tree {fmt(pss_par, ' MB', 0)}" if parallels else ""],
    ]
    head = (f"Benchmark / 性能測定: {name}, {args.repeat} repeat(s), {args.page_loads} page loads per side, "
            f"{os.cpu_count()} cores, {started}\nmedians; ratios are the figures, seconds only context / "
            "中央値・比が結果、秒は参考\n")
    table = render_table(["measure / 項目", "ratio / 比", "target / 目標", "met / 達成", "context (median) / 参考"],
                         ratio_rows)
    cases = render_table(["case / 試験", "duration s", "waited s", "acting s", "floor s", "dur/floor"],
                         case_rows(full_cases, floor_cases))
    print("\n" + head + "\n" + table + "\n\n時間の内訳 / per case: acting = duration − waited "
          "(waited: seconds in the shared wait helpers)\n" + cases, flush=True)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    path = results / f"run-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({
        "candidate": name, "started": started, "repeat": args.repeat, "cores": os.cpu_count(),
        "workers": args.workers, "workers_note": workers_note, "figures": figures, "targets": TARGETS,
        "page_loads": loads, "full": summary(fulls) | {"duration_s": durations}, "floor": summary(floors),
        "parallel": summary(parallels), "floor_cases": floor_cases,
        "full_cases": [{k: {f: c.get(f) for f in ("outcome", "duration", "waited")} for k, c in run.items()}
                       for run in full_cases],
    }, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\n{path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
