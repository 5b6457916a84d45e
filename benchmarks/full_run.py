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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["chromium-open", "chromium-hardened", "novnc-open", "novnc-hardened"]
XDIST_WORKER_MARK = "exec(eval(sys.stdin.readline()))"  # execnet's bootstrap line: a pytest-xdist worker


def parse_pss_kb(smaps_rollup: str) -> int:
    """The ``Pss:`` line of /proc/PID/smaps_rollup, in kB (0 if there is none)."""
    for line in smaps_rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def subtree(root: int, children: dict[int, list[int]]) -> list[int]:
    """``root`` and all its descendants."""
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _pss_kb(pid: int) -> int:
    try:
        return parse_pss_kb(Path(f"/proc/{pid}/smaps_rollup").read_text())
    except OSError:  # gone, or a kernel thread
        return 0


def is_xdist_worker(cmdline: str) -> bool:
    return XDIST_WORKER_MARK in cmdline


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def worker_roots(root: int, children: dict[int, list[int]], cmdline: Callable[[int], str] = _cmdline) -> list[int]:
    """The pytest-xdist workers below ``root`` (python processes started by execnet); without any (a serial
    run) the whole tree is the one worker."""
    read = cmdline
    workers = []
    for pid in subtree(root, children)[1:]:
        try:
            if is_xdist_worker(read(pid)):
                workers.append(pid)
        except OSError:
            continue
    return workers or [root]


def tree_pss_mb(root: int) -> float:
    return sum(_pss_kb(pid) for pid in subtree(root, _children())) / 1024


@dataclass
class Measurement:
    """One process tree from start to end: wall time, exit code, peak PSS of the whole tree and of each worker."""

    wall_s: float
    exit: int
    peak_pss_mb: float
    peak_worker_pss_mb: dict[int, float] = field(default_factory=dict)  # worker pid -> its subtree's peak
    stderr_tail: str = ""


def measure(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
            log: Path | None = None, interval: float = 0.5) -> Measurement:
    """Run ``argv`` and sample the PSS of its whole process tree every ``interval`` s (stdout and stderr go to
    ``log``, else nowhere)."""
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        peak, workers = 0.0, {}
        while proc.poll() is None:
            children = _children()
            sizes = {pid: _pss_kb(pid) for pid in subtree(proc.pid, children)}
            peak = max(peak, sum(sizes.values()) / 1024)
            for worker in worker_roots(proc.pid, children):
                size = sum(sizes.get(pid, 0) for pid in subtree(worker, children)) / 1024
                workers[worker] = max(workers.get(worker, 0.0), size)
            time.sleep(interval)
        wall = time.perf_counter() - start
    finally:
        if log is not None:
            out.close()  # type: ignore[union-attr]
    tail = log.read_text(errors="replace")[-2000:] if log is not None else ""
    return Measurement(wall, proc.returncode, peak, workers, tail)


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
        run = measure(
            [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(profile), "--out", str(work / name)]
        )
        wall, peak, code = run.wall_s, run.peak_pss_mb, run.exit
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
