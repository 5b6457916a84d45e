"""Crossing times measured by the cases themselves: the figures of ``conformance/data/crossing-times.toml``.

Every "nothing crossed" watch writes into its case's evidence a ``watch`` record (``conformance.waits``):
channel, whether the canary crossed and after how many seconds. On the open references they cross; this
script collects those crossings from one or more run folders and prints, per channel, how many were seen,
the median and the slowest, and the TOML lines to paste into the package's figures.

    python benchmarks/crossing_times.py reports/open/chromium-open reports/open/xpra-open ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def watch_records(document: Any) -> Iterator[dict[str, Any]]:
    """Every ``watch`` record (a dict with channel, crossed, seconds_after_act) anywhere in ``document``."""
    if isinstance(document, dict):
        if {"channel", "crossed", "seconds_after_act"} <= document.keys():
            yield document
        for value in document.values():
            yield from watch_records(value)
    elif isinstance(document, list):
        for value in document:
            yield from watch_records(value)


def crossings(runs: list[Path]) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for run in runs:
        for path in sorted((run / "evidence").rglob("*.json")):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for record in watch_records(document):
                seconds = record.get("seconds_after_act")
                if record.get("crossed") and isinstance(seconds, int | float):
                    found.setdefault(str(record["channel"]), []).append(float(seconds))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (with evidence/) of the open references")
    args = parser.parse_args(argv)
    missing = [str(r) for r in args.runs if not (r / "evidence").is_dir()]
    if missing:
        print(f"not a run folder (no evidence/): {', '.join(missing)}", file=sys.stderr)
        return 2
    found = crossings(args.runs)
    if not found:
        print("no crossing in these runs: run the open references (they cross on every channel)", file=sys.stderr)
        return 1
    print(f"{'channel':<16}{'n':>4}{'median s':>10}{'slowest s':>11}")
    for channel, seconds in sorted(found.items()):
        print(f"{channel:<16}{len(seconds):>4}{statistics.median(seconds):>10.3f}{max(seconds):>11.3f}")
    names = ", ".join(r.name for r in args.runs)
    today = dt.date.today().isoformat()
    print("\n# for conformance/data/crossing-times.toml (keep each channel's floor):")
    for channel, seconds in sorted(found.items()):
        print(f"[channel.{channel}]\nseconds = {max(seconds):.2f}\n"
              f'measured_on = "{names}, {today}, {len(seconds)} crossings"\n')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
