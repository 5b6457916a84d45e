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
    hung = SimpleNamespace(stopped_answering=lambda: "it answered nothing for 5 s")
    assert _lost_during(_item(fixture_site=hung)).startswith("[fixture-site] the fixture site stopped answering (it")
    assert _lost_during(_item(fixture_site=SimpleNamespace(stopped_answering=lambda: ""))) == ""
    gone = "[websockify] the reference stack's websockify (pid 7) exited with code -9"
    assert _lost_during(_item(driver=SimpleNamespace(lost=lambda: gone))) == gone
    assert _lost_during(_item(driver=SimpleNamespace(lost=lambda: ""))) == ""


WATCHED = """
import subprocess, sys
import pytest

@pytest.fixture
def candidate_session():  # a stand-in candidate: a process the case waits on for ever, as on a page that hangs
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield type("Session", (), {"pids": lambda self: [child.pid]})()
    child.kill()
    child.wait()

@pytest.mark.requirement("DL-01")
def test_hangs(candidate_session):
    import os
    os.waitpid(candidate_session.pids()[0], 0)  # returns once the watchdog stopped the "candidate"

@pytest.mark.requirement("DL-01")
def test_then(candidate_session):
    pass

@pytest.mark.requirement("CLIP-01")
def test_never_ends():  # no candidate to stop: the run is ended, as by Ctrl-C
    import time
    time.sleep(600)
"""


def test_a_case_that_outruns_its_time_out_is_ended_as_an_error_naming_what_hung(tmp_path: Path) -> None:
    """The watchdog (--conformance-case-timeout) stops the candidate a hung case waits on: that case is ``error``
    saying so, the next one runs; a case that does not end even then ends the run, incomplete (exit INTERRUPTED)."""
    (tmp_path / "test_stand_in.py").write_text(WATCHED, encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--candidate={HARDENED}",
                           f"--conformance-out={out}", "--conformance-case-timeout=2", "test_stand_in.py"],
                          cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, proc.stdout[-2000:] + proc.stderr[-2000:]
    document = json.loads((out / "conformance.json").read_text(encoding="utf-8"))
    cases = {c["nodeid"].rsplit("::", 1)[-1]: c for r in document["requirements"].values() for c in r["cases"]}
    hung = cases["test_hangs"]
    assert hung["outcome"] == "error", hung
    assert hung["message"].startswith(
        "[candidate] the case did not end in 2 s: the candidate's page or browser stopped answering"
    ), hung["message"]
    assert "the suite stopped the candidate's processes [" in hung["message"]
    assert cases["test_then"]["outcome"] == "pass"
    never = cases["test_never_ends"]
    assert never["outcome"] == "error", never
    assert never["message"].startswith("[watchdog] the case did not end in 2 s: it waited on something"), never
    assert (
        document["incomplete"] is True and "not even after its candidate was stopped" in document["incomplete_reason"]
    )


def test_a_reference_stack_names_the_component_that_died(tmp_path: Path) -> None:
    """What the plugin asks after each case (``driver.lost()``): the first dead process of the noVNC stack, or the
    Xpra server; nothing before start or after stop."""
    from conformance.environment.vnc_stack import VncStack
    from conformance.environment.xpra_stack import XpraStack

    def proc(alive: bool) -> SimpleNamespace:
        return SimpleNamespace(alive=lambda: alive, pid=12, returncode=lambda: None if alive else -9,
                               log_path=tmp_path / "x.log")  # fmt: skip

    vnc = VncStack(tmp_path / "vnc", "http://127.0.0.1/")
    vnc._procs = {"Xtigervnc": proc(False), "websockify": proc(False)}  # type: ignore[dict-item]
    assert vnc.lost() == ""  # not started
    vnc._started = True
    assert vnc.lost().startswith("[Xtigervnc] the reference stack's Xtigervnc (pid 12) exited with code -9")
    vnc._procs = {"Xtigervnc": proc(True), "websockify": proc(False)}  # type: ignore[dict-item]
    assert vnc.lost().startswith("[websockify] ")
    vnc._procs = {"Xtigervnc": proc(True)}  # type: ignore[dict-item]
    assert vnc.lost() == ""
    xpra = XpraStack(tmp_path / "xpra", clipboard=False, file_transfer=False, printing=False, open_url=False, tls=None)
    xpra._server = SimpleNamespace(running=False, pid=13, returncode=-9, log_path=tmp_path / "x.log")  # type: ignore[assignment]
    xpra._started = True
    assert xpra.lost().startswith("[xpra] the reference stack's xpra server (pid 13) exited with code -9")
    xpra._stopped = True
    assert xpra.lost() == ""
