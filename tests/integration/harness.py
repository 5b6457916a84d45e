"""Shared by the integration tests: the real CLI run as a user would (with one tool taken away), and a private
environment for the tests' own browsers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = ROOT / "fixtures" / "candidates"


def path_without(folder: Path, *missing: str) -> str:
    """A PATH of one folder with symlinks to every executable on the current PATH (and the sbin folders),
    except ``missing``: the tool is gone for the run, and nothing else is."""
    folder.mkdir(parents=True, exist_ok=True)
    dirs = [*os.environ.get("PATH", os.defpath).split(os.pathsep), "/usr/local/sbin", "/usr/sbin", "/sbin"]
    for directory in dirs:
        if not directory or not Path(directory).is_dir():
            continue
        for entry in sorted(Path(directory).iterdir()):
            link = folder / entry.name
            if entry.name in missing or link.exists() or link.is_symlink():
                continue  # the first PATH entry wins, as in a shell
            if entry.is_file() and os.access(entry, os.X_OK):
                link.symlink_to(entry.resolve())
    return str(folder)


def run_conformance(
    candidate: Path,
    out: Path,
    k: str | None = None,
    missing: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
    args: Sequence[str] = (),
) -> tuple[int, dict[str, Any]]:
    """``conformance run`` in a subprocess; returns the exit code and conformance.json."""
    environment = {**os.environ, **(env or {})}
    if missing:
        environment["PATH"] = path_without(out.parent / f"bin-without-{'-'.join(missing)}", *missing)
    argv = [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(candidate), "--out", str(out)]
    if k:
        argv += ["-k", k]
    argv += list(args)
    proc = subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n")
    result = out / "conformance.json"
    if not result.is_file():
        raise AssertionError(f"the run wrote no result (exit {proc.returncode})")
    return proc.returncode, json.loads(result.read_text(encoding="utf-8"))


def private_browser_env(tmp_path_factory: Any) -> dict[str, str]:
    """An environment for a test's own Chromium: its crash-report, dconf, NSS, PulseAudio, shader-cache and
    singleton folders land in pytest's temporary folders, never in the real HOME or /tmp."""
    home, runtime, tmp = (tmp_path_factory.mktemp(name) for name in ("terminal-home", "terminal-run", "terminal-tmp"))
    runtime.chmod(0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update({"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "TMPDIR": str(tmp)})
    return env
