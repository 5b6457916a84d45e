"""Stability mode end to end: `conformance run --repeat 3` of a short plan (MNT-05 on the stale reference, a
real Chromium launched three times) gives identical verdicts, keeps each repetition, and exits with the run's
own exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.harness import CANDIDATES, ROOT

STALE = ROOT / "tools" / "chromium-stale" / "usr" / "lib" / "chromium" / "chromium"
ENGINE_RELEASES = ROOT / "fixtures" / "engine-releases.toml"


@pytest.mark.skipif(not STALE.exists(), reason="the stale chromium is not unpacked (scripts/setup.sh)")
def test_three_repetitions_give_identical_verdicts(tmp_path: Path) -> None:
    out = tmp_path / "stability"
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(CANDIDATES / "chromium-stale.toml"),
         "--out", str(out), "--requirement=MNT-05", f"--engine-releases={ENGINE_RELEASES}", "--repeat=3"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    print(proc.stdout[-3000:], proc.stderr[-2000:], sep="\n")
    stability = json.loads((out / "stability.json").read_text(encoding="utf-8"))
    assert len(stability["runs"]) == 3 and stability["identical"], stability
    assert stability["verdicts"]["MNT-05"] == ["fail", "fail", "fail"]
    assert all((out / f"repeat-{i:02d}" / "conformance.json").is_file() for i in (1, 2, 3))
    first = json.loads((out / "repeat-01" / "conformance.json").read_text(encoding="utf-8"))
    assert proc.returncode == stability["exit_code"] == first["summary"]["exit_code"]
    assert "identical in all 3 runs" in proc.stdout
