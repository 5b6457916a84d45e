"""Wall time and peak memory of full conformance runs against the reference candidates.

Runs ``conformance run`` per candidate in a subprocess and samples the PSS of its whole process tree
(pytest, Chromium, Xvfb, cupsd, VNC stack) every 0.5 s. The floor for memory is one bare headless
Chromium showing a blank page, measured in the same run; the report gives the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["chromium-open", "chromium-hardened", "novnc-open", "novnc-hardened"]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def tree_pss_mb(root: int) -> float:
    tree, total, stack = _children(), 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(tree.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def measure(argv: list[str]) -> tuple[float, float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_pss_mb(proc.pid))
        time.sleep(0.5)
    return time.perf_counter() - start, peak, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("candidates", nargs="*", default=DEFAULT)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-full-"))
    floor_argv = [
        "/usr/lib/chromium/chromium", "--headless", "--no-sandbox", "--disable-gpu",
        f"--user-data-dir={work / 'floor'}", "--remote-debugging-port=0", "about:blank",
    ]  # fmt: skip
    # HOME inside the work folder: Crashpad writes ~/.config/chromium even with --user-data-dir.
    floor_env = {**os.environ, "HOME": str(work / "floor-home")}
    floor = subprocess.Popen(floor_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=floor_env)
    time.sleep(3)
    floor_mb = tree_pss_mb(floor.pid)
    floor.terminate()
    floor.wait()
    results = {"floor_chromium_pss_mb": round(floor_mb, 1), "runs": {}}
    for name in args.candidates:
        profile = ROOT / "fixtures" / "candidates" / f"{name}.toml"
        wall, peak, code = measure(
            [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(profile), "--out", str(work / name)]
        )
        document = json.loads((work / name / "conformance.json").read_text()) if code in (0, 1, 3) else {}
        cases = sum(len(r["cases"]) for r in document.get("requirements", {}).values())
        results["runs"][name] = {
            "wall_s": round(wall, 1), "peak_pss_mb": round(peak, 1), "exit": code, "cases": cases,
            "peak_vs_floor": round(peak / floor_mb, 1) if floor_mb else None,
        }  # fmt: skip
        print(f"{name:<20} wall {wall:6.1f} s  peak {peak:6.0f} MB ({peak / floor_mb:4.1f}x floor)  "
              f"cases {cases}  exit {code}", flush=True)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"full_run-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
