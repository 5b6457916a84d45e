"""Reading /proc for the reference stacks (``vnc_stack``, ``xpra_stack``): a process's state, who has a path on
its command line, what is still running of a family seen earlier, its memory, and the tail of a log.

A family is ``{pid: start time}``: a pid with another start time is a reused number, never the process seen.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

ProcStat = tuple[str, int, int, int]  # (state, ppid, pgrp, start time in clock ticks)


def proc_stat(pid: int) -> ProcStat | None:
    """(state, ppid, pgrp, starttime) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # comm may contain spaces and parentheses
    return fields[0], int(fields[1]), int(fields[2]), int(fields[19])


def all_stats() -> dict[int, ProcStat]:
    """Every process on the machine: pid → its stat."""
    out: dict[int, ProcStat] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := proc_stat(int(entry))) is not None:
            out[int(entry)] = stat
    return out


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def pids_with_arg(marker: str) -> dict[int, int]:
    """Live processes whose command line contains ``marker`` (a path unique to one stack): pid → starttime."""
    needle = marker.encode()
    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and needle in cmdline(int(entry)):
            stat = proc_stat(int(entry))
            if stat is not None and stat[0] != "Z":
                out[int(entry)] = stat[3]
    return out


def still_running(family: Mapping[int, int]) -> dict[int, int]:
    """The members of ``family`` that still run (same start time, not a zombie)."""
    return {pid: start for pid, start in family.items()
            if (stat := proc_stat(pid)) is not None and stat[3] == start and stat[0] != "Z"}  # fmt: skip


def pss_bytes(pid: int) -> int:
    """The process's proportional set size (from smaps_rollup); 0 when it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    found = re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else 0


def log_tail(path: Path | None, lines: int = 6, skip: str | None = None) -> str:
    """The last ``lines`` non-empty lines of a log, joined with " | " for an error message; lines starting with
    ``skip`` (a tool's routine warning) left out."""
    if path is None:
        return ""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    tail = [line.strip() for line in text.splitlines() if line.strip() and not (skip and line.startswith(skip))]
    return " | ".join(tail[-lines:])
