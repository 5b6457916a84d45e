"""Ctrl-C of a parallel run (``conformance run -n 2``): the partial result is kept and marked incomplete, and no worker
leaves anything behind: each worker ends its case and stops its own browser, Xvfb, mitmproxy, CUPS and namespaces
before pytest-xdist takes it down (plugin ``DistributedRun.await_workers``; a worker takes one SIGINT only, so the
Ctrl-C a terminal sends to every process and the one the controller passes on do not break off its teardown).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.harness import WatchedRun
from tests.integration.test_fault_injection import (  # noqa: F401 - leftovers is a fixture
    BOUND,
    HARDENED,
    Before,
    assert_nothing_left,
    cases,
    leftovers,
    session_folder,
)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["group", "process"])
def test_ctrl_c_of_a_parallel_run_keeps_partial_results_and_leaves_nothing(target: str, tmp_path: Path,
                                                                           leftovers: Before) -> None:  # noqa: F811
    """Two workers, one with three download cases, one with NET-02; SIGINT during the second download case, to the
    whole process group or to the run process alone. Exit 130, the first download case kept, the unfinished ones
    errors, the run incomplete, nothing left."""
    run = WatchedRun(HARDENED, tmp_path / "run", ["--requirement", "DL-01", "--requirement", "NET-02", "-k",
                                                  "attachment or pdf or docm or undeclared-host", "--artifacts",
                                                  "none", "-n", "2"])  # fmt: skip
    try:
        run.wait_for_line(r"\[\s*1/4\]", timeout=180)
        session_folder(run, 2)  # the download worker's second session: its second case is running
        time.sleep(1)
        run.interrupt(target)
    finally:
        code = run.wait(timeout=BOUND)
    assert code == 130, f"exit {code}\n{run.stderr[-3000:]}"
    document = run.document()
    assert document["incomplete"] is True and "interrupted" in document["incomplete_reason"]
    assert document["environment"]["workers"] == 2
    dl01 = cases(document, "DL-01")
    assert dl01["attachment"]["outcome"] == "pass", dl01["attachment"]
    assert dl01["pdf"]["outcome"] == "error" and "interrupted" in dl01["pdf"]["message"], dl01["pdf"]
    assert dl01["docm"]["outcome"] == "error" and "not run" in dl01["docm"]["message"], dl01["docm"]
    assert document["requirements"]["DL-01"]["verdict"] == "error"
    assert_nothing_left(run, leftovers)
