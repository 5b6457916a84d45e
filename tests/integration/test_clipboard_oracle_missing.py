"""A missing clipboard oracle tool makes CLIP-01 and CLIP-02 an error, never a pass.

The real CLI runs one copy and one paste case against the hardened reference (which would pass them) with
a PATH that holds every program of /usr/local and /usr except ``xclip``: the terminal's X selections can
then be neither read nor owned, so "nothing reached the clipboard" and "nothing was pasted" would be
claims of a harness that could not have seen anything. Both must come out as ``error``, naming xclip.
The drag-out case needs an X drop target (a Python with GTK 3); without one it is an error as well.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.harness import CANDIDATES, run_conformance

HARDENED = CANDIDATES / "chromium-hardened.toml"


def assert_error(document: dict, requirement: str, names: str) -> None:
    entry = document["requirements"][requirement]
    messages = [c["message"] for c in entry["cases"]]
    assert entry["cases"], f"no case of {requirement} ran"
    assert entry["verdict"] == "error", f"{requirement}: {entry['verdict']} {messages}"
    assert all(c["outcome"] == "error" for c in entry["cases"]), messages
    assert all(names in m for m in messages), f"the error does not name {names}: {messages}"


def test_without_xclip_clipboard_cases_are_errors(tmp_path: Path) -> None:
    assert Path("/usr/bin/xclip").exists() or Path("/usr/local/bin/xclip").exists(), "xclip is not installed"
    document = run_conformance(HARDENED, tmp_path / "run", k="clipboard and keyboard and ascii", missing=["xclip"])[1]
    assert_error(document, "CLIP-01", "xclip")
    assert_error(document, "CLIP-02", "xclip")


def test_without_a_drop_target_drag_out_is_an_error(tmp_path: Path) -> None:
    env = {"CONFORMANCE_GTK_PYTHON": str(tmp_path / "no-such-python")}
    document = run_conformance(HARDENED, tmp_path / "run", k="clipboard and drag-out and ascii", env=env)[1]
    assert_error(document, "CLIP-01", "drop-target")
