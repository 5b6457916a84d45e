"""A missing oracle tool ends RES-01 / MNT-01 in ``error``, never in ``pass`` (real CLI, real Chromium).

Each test runs ``conformance run`` against the HARDENED reference (where both checks would pass) with a
PATH that holds every executable of the normal PATH except the tool under test, as symlinks. So the only
difference from a passing run is the missing tool, and the case must say it could not decide.

Needs Xvfb, chromium, Playwright and util-linux ``unshare`` (as the reference runs do); ~20-60 s each.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import CANDIDATES, run_conformance

HARDENED = CANDIDATES / "chromium-hardened.toml"


def run_case(tmp_path: Path, selection: str, missing: str) -> dict[str, Any]:
    return run_conformance(HARDENED, tmp_path / "o", k=selection, missing=[missing])[1]


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
