"""A missing oracle tool makes PRN-01 and UL-01 an error, never a pass.

Each test runs the real CLI against the hardened reference (which would pass) with a PATH that holds
every program of /usr/local and /usr except one: ``cupsd`` (no private CUPS, so no print oracle) or
``xdotool`` (no way to drive or see the native file dialog). "Nothing was printed" or "no dialog
appeared" from a harness that could not have seen anything must come out as ``error``, naming the tool.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARDENED = ROOT / "fixtures" / "candidates" / "chromium-hardened.toml"
BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin")


def path_without(tool: str, folder: Path) -> str:
    """A bin folder of symlinks to every program on the system's PATH except ``tool``."""
    folder.mkdir()
    for directory in BIN_DIRS:
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            link = folder / name
            if name == tool or link.exists() or link.is_symlink():
                continue  # the first folder wins, as on a PATH
            link.symlink_to(Path(directory) / name)
    return str(folder)


def run_without(tool: str, k: str, tmp_path: Path) -> dict:
    env = {**os.environ, "PATH": path_without(tool, tmp_path / "bin")}
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(HARDENED), "--out", str(out), "-k", k],
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n")
    result = out / "conformance.json"
    assert result.is_file(), f"the run wrote no result (exit {proc.returncode})"
    return json.loads(result.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("tool", "k", "requirement"),
    [("cupsd", "print and window", "PRN-01"), ("xdotool", "upload", "UL-01")],
)
def test_missing_oracle_tool_is_an_error(tool: str, k: str, requirement: str, tmp_path: Path) -> None:
    document = run_without(tool, k, tmp_path)
    entry = document["requirements"][requirement]
    messages = [c["message"] for c in entry["cases"]]
    assert entry["cases"], f"no case of {requirement} ran"
    assert entry["verdict"] == "error", f"{requirement} with {tool} missing: {entry['verdict']} {messages}"
    assert all(c["outcome"] == "error" for c in entry["cases"]), messages
    assert all(tool in m for m in messages), f"the error does not name {tool}: {messages}"
