"""A missing oracle tool makes PRN-01 and UL-01 an error, never a pass.

Each test runs the real CLI against the hardened reference (which would pass) with a PATH that holds
every program of /usr/local and /usr except one: ``cupsd`` (no private CUPS, so no print oracle) or
``xdotool`` (no way to drive or see the native file dialog). "Nothing was printed" or "no dialog
appeared" from a harness that could not have seen anything must come out as ``error``, naming the tool.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.harness import CANDIDATES, run_conformance

HARDENED = CANDIDATES / "chromium-hardened.toml"


def run_without(tool: str, k: str, tmp_path: Path) -> dict:
    return run_conformance(HARDENED, tmp_path / "run", k=k, missing=[tool])[1]


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
