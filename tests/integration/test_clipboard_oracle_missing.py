"""A missing clipboard oracle tool makes CLIP-01 and CLIP-02 an error, never a pass.

The real CLI runs one copy and one paste case against the hardened reference (which would pass them) with
a PATH that holds every program of /usr/local and /usr except ``xclip``: the terminal's X selections can
then be neither read nor owned, so "nothing reached the clipboard" and "nothing was pasted" would be
claims of a harness that could not have seen anything. Both must come out as ``error``, naming xclip.
The drag-out case needs an X drop target (a Python with GTK 3); without one it is an error as well.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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


def run(k: str, env: dict[str, str]) -> dict:
    # A short run folder: Chromium's singleton socket lives under the session's TMPDIR, and a UNIX socket
    # path longer than 107 bytes (pytest's tmp_path is deep) makes the browser fail to start at all.
    out = Path(tempfile.mkdtemp(prefix="clip-", dir="/tmp")) / "run"
    try:
        return _run(k, env, out)
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def _run(k: str, env: dict[str, str], out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(HARDENED), "--out", str(out), "-k", k],
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n")
    result = out / "conformance.json"
    assert result.is_file(), f"the run wrote no result (exit {proc.returncode})"
    return json.loads(result.read_text(encoding="utf-8"))


def assert_error(document: dict, requirement: str, names: str) -> None:
    entry = document["requirements"][requirement]
    messages = [c["message"] for c in entry["cases"]]
    assert entry["cases"], f"no case of {requirement} ran"
    assert entry["verdict"] == "error", f"{requirement}: {entry['verdict']} {messages}"
    assert all(c["outcome"] == "error" for c in entry["cases"]), messages
    assert all(names in m for m in messages), f"the error does not name {names}: {messages}"


def test_without_xclip_clipboard_cases_are_errors(tmp_path: Path) -> None:
    assert Path("/usr/bin/xclip").exists() or Path("/usr/local/bin/xclip").exists(), "xclip is not installed"
    env = {**os.environ, "PATH": path_without("xclip", tmp_path / "bin")}
    document = run("clipboard and keyboard and ascii", env)
    assert_error(document, "CLIP-01", "xclip")
    assert_error(document, "CLIP-02", "xclip")


def test_without_a_drop_target_drag_out_is_an_error(tmp_path: Path) -> None:
    env = {**os.environ, "CONFORMANCE_GTK_PYTHON": str(tmp_path / "no-such-python")}
    document = run("clipboard and drag-out and ascii", env)
    assert_error(document, "CLIP-01", "drop-target")
