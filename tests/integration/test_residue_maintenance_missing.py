"""A missing oracle tool ends RES-01 / MNT-01 in ``error``, never in ``pass`` (real CLI, real Chromium).

Each test runs ``conformance run`` against the HARDENED reference (where both checks would pass) with a
PATH that holds every executable of the normal PATH except the tool under test, as symlinks. So the only
difference from a passing run is the missing tool, and the case must say it could not decide.

Needs Xvfb, chromium, Playwright and util-linux ``unshare`` (as the reference runs do); ~20-60 s each.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARDENED = ROOT / "fixtures" / "candidates" / "chromium-hardened.toml"


def path_without(folder: Path, *missing: str) -> str:
    """A PATH of one folder with symlinks to every executable on the current PATH, except ``missing``."""
    folder.mkdir(parents=True, exist_ok=True)
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if not directory or not Path(directory).is_dir():
            continue
        for entry in Path(directory).iterdir():
            link = folder / entry.name
            if entry.name in missing or link.exists() or link.is_symlink():
                continue  # the first PATH entry wins, as in a shell
            if entry.is_file() and os.access(entry, os.X_OK):
                link.symlink_to(entry.resolve())
    return str(folder)


def run_case(tmp_path: Path, selection: str, missing: str) -> dict[str, Any]:
    path = path_without(tmp_path / "bin", missing)
    assert shutil.which(missing, path=path) is None, f"{missing} is still on the stripped PATH"
    out = tmp_path / "o"
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(HARDENED), "--out", str(out),
         "-k", selection],
        env={**os.environ, "PATH": path}, capture_output=True, text=True, timeout=900, cwd=ROOT,
    )  # fmt: skip
    print(proc.stdout[-3000:], proc.stderr[-2000:], sep="\n")
    assert (out / "conformance.json").is_file(), f"no result written (exit {proc.returncode})"
    return json.loads((out / "conformance.json").read_text(encoding="utf-8"))


def test_mnt01_errors_without_ss(tmp_path: Path) -> None:
    document = run_case(tmp_path, "maintenance", "ss")
    entry = document["requirements"]["MNT-01"]
    assert entry["verdict"] == "error", entry
    assert [c["outcome"] for c in entry["cases"]] == ["error"]
    assert "[ss]" in entry["cases"][0]["message"], entry["cases"][0]["message"]


def test_res01_errors_without_xdotool(tmp_path: Path) -> None:
    """Without xdotool no user close is possible; the residue case must not judge a Playwright close."""
    if shutil.which("xdpyinfo") is None:
        pytest.skip("the display check needs xdotool or xdpyinfo; without both nothing starts at all")
    document = run_case(tmp_path, "residue", "xdotool")
    entry = document["requirements"]["RES-01"]
    assert entry["verdict"] == "error", entry
    assert [c["outcome"] for c in entry["cases"]] == ["error"]
    assert "user close" in entry["cases"][0]["message"], entry["cases"][0]["message"]
