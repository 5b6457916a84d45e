"""The reference matrix runs the CLI as a child (tests/reference/matrix.run_cli): Ctrl-C in the test session gives
the run one SIGINT and time to clean up, instead of killing it at once and leaving its work folders behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.reference.matrix import run_cli

CHILD = """
import os, pathlib, signal, sys, time
folder = pathlib.Path(sys.argv[1])
def clean_up(*_):
    (folder / "cleaned").write_text("removed its work folder")
    sys.exit(130)
signal.signal(signal.SIGINT, clean_up)
(folder / "ready").write_text(str(os.getpid()))
time.sleep(60)
"""


def _interrupt_when(ready: Path) -> threading.Thread:
    def interrupt() -> None:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C reaches the test session

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_gives_the_run_one_sigint_and_waits_for_it(tmp_path: Path) -> None:
    thread = _interrupt_when(tmp_path / "ready")
    begun = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_cli([sys.executable, "-c", CHILD, str(tmp_path)], timeout=60)
    thread.join()
    assert (tmp_path / "cleaned").read_text() == "removed its work folder"
    assert time.monotonic() - begun < 30  # it ended on the SIGINT, not after its 60 s sleep


def test_a_run_that_ignores_ctrl_c_is_killed_after_the_grace(tmp_path: Path) -> None:
    stubborn = CHILD.replace("signal.signal(signal.SIGINT, clean_up)", "signal.signal(signal.SIGINT, signal.SIG_IGN)")
    thread = _interrupt_when(tmp_path / "ready")
    with pytest.raises(KeyboardInterrupt):
        run_cli([sys.executable, "-c", stubborn, str(tmp_path)], timeout=60, grace=1)
    thread.join()
    assert not (tmp_path / "cleaned").exists()
    assert not Path(f"/proc/{(tmp_path / 'ready').read_text()}").exists()  # killed and reaped, not left running


def test_output_and_exit_code_are_returned_as_subprocess_run_does() -> None:
    done = run_cli([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"], 30)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    with pytest.raises(subprocess.TimeoutExpired):
        run_cli([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
