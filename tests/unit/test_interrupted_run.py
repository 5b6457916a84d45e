"""A run that is interrupted or loses a part while a case runs decides nothing on what it did not finish (issue 12).

The plugin runs here in a pytest of its own with stand-in cases (no browser, nothing started): one that passes, one
during which SIGINT arrives, one never reached. The real runs are in tests/integration/test_fault_injection.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance.cli import main
from conformance.errors import HarnessError
from conformance.plugin import _lost_during

ROOT = Path(__file__).resolve().parents[2]
HARDENED = ROOT / "fixtures" / "candidates" / "chromium-hardened.toml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's plugin, whichever one is installed
CASES = """
import os, signal, time
import pytest

@pytest.mark.requirement("DL-01")
@pytest.mark.parametrize("n", ["first", "second", "third"])
def test_download(n):
    if n == "second":
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)

@pytest.mark.requirement("CLIP-01")
def test_zz_clipboard():
    pass
"""


def test_an_interrupted_run_is_incomplete_and_decides_nothing_unfinished(tmp_path: Path) -> None:
    (tmp_path / "test_stand_in.py").write_text(CASES, encoding="utf-8")
    out = tmp_path / "run"
    out.mkdir()
    (out / "conformance.json").write_text('{"stale": true}', encoding="utf-8")  # an earlier run's result
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--candidate={HARDENED}",
                           f"--conformance-out={out}", "test_stand_in.py"],
                          cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, proc.stdout[-2000:] + proc.stderr[-2000:]
    document = json.loads((out / "conformance.json").read_text(encoding="utf-8"))
    assert document["incomplete"] is True and "Ctrl-C" in document["incomplete_reason"]
    cases = {c["nodeid"].rsplit("::", 1)[-1]: c for r in document["requirements"].values() for c in r["cases"]}
    assert cases["test_download[first]"]["outcome"] == "pass"
    assert cases["test_download[second]"]["outcome"] == "error"
    assert cases["test_download[second]"]["message"].startswith("interrupted during this case")
    assert cases["test_download[third]"]["outcome"] == "error"
    assert cases["test_download[third]"]["message"].startswith("not run")
    assert cases["test_zz_clipboard"]["outcome"] == "error"
    assert document["requirements"]["DL-01"]["verdict"] == "error"
    assert document["requirements"]["CLIP-01"]["verdict"] == "error"
    assert not (out / "conformance.json.partial").exists()


def test_a_run_that_completes_is_not_incomplete(tmp_path: Path) -> None:
    (tmp_path / "test_stand_in.py").write_text(CASES.replace('n == "second"', "False"), encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--candidate={HARDENED}",
                           f"--conformance-out={out}", "test_stand_in.py"],
                          cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    document = json.loads((out / "conformance.json").read_text(encoding="utf-8"))
    assert document["incomplete"] is False and document["incomplete_reason"] is None
    assert document["requirements"]["DL-01"]["verdict"] == "pass"


def test_an_output_folder_below_a_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Root writes into a read-only folder; no one makes a folder below a file. Exit 2 before anything starts."""
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    assert main(["run", "--candidate", str(HARDENED), "--out", str(blocker / "run"), "--artifacts", "none"]) == 2
    err = capsys.readouterr().err
    assert str(blocker / "run") in err and "Not a directory" in err


def _item(**funcargs: object) -> SimpleNamespace:
    return SimpleNamespace(funcargs=funcargs)


def test_a_part_lost_during_a_case_is_named() -> None:
    dead = SimpleNamespace(running=False, process=SimpleNamespace(returncode=-9))
    alive = SimpleNamespace(running=True, process=SimpleNamespace(running=True, returncode=None))
    assert _lost_during(_item(printer_oracle=object(), private_cups=dead)).startswith("[cupsd]")
    assert _lost_during(_item(private_cups=dead)) == ""  # a case without the print oracle does not rely on it
    assert _lost_during(_item(printer_oracle=object(), private_cups=HarnessError("cupsd", "never started"))) == ""
    stopped = SimpleNamespace(running=False, returncode=1)
    assert _lost_during(_item(display=SimpleNamespace(process=stopped))).startswith("[Xvfb]")
    assert _lost_during(_item(display=SimpleNamespace(process=alive), network_oracle=SimpleNamespace(
        alive=lambda: False))).startswith("[mitmproxy]")  # fmt: skip
    crashed = SimpleNamespace(crashed=lambda: "[chromium] the candidate's browser (pid 1) exited")
    assert _lost_during(_item(candidate_session=crashed)).startswith("[chromium]")
    assert _lost_during(_item(candidate_session=SimpleNamespace(crashed=lambda: ""))) == ""
