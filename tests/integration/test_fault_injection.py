"""Faults during a real run (issue 12): the run says what broke and decides the rest, and leaves nothing behind.

Each test starts ``conformance run`` on a reference with a small selection and breaks one part of it: the output
folder (made impossible, filled up, made read-only), the candidate's browser (killed, or its pages stopped), the run
itself (Ctrl-C), the private CUPS, Xvfb, the clipboard oracle's xclip, a screen-transfer reference's remote stack.
Processes are looked up in the run's own process tree when the fault is due and signalled by pid (never pkill). The
affected requirements must be ``error`` with a reason that names the part, the others still decided; the run ends
within a bound; no process it started, no namespace (``ip netns list``) and no temporary folder (``/tmp/conformance-*``,
an X socket) is left.

The fixture site and the network oracle (mitmproxy) are threads of the run's own process: no signal from outside
stops one of them alone. They are broken from inside by ``tests/integration/fault_plugin.py``, loaded into the run
with ``PYTEST_ADDOPTS`` (the suite itself has no such hook).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.harness import (
    CANDIDATES,
    WatchedRun,
    children,
    descendants,
    netns_list,
    proc_stat,
    temp_run_folders,
    x_socket,
    x_sockets,
)
from tests.reference.matrix import verdicts_of

HARDENED = CANDIDATES / "chromium-hardened.toml"
# `ip netns list`, the conformance-* temporary folders and the X sockets before a run
Before = tuple[str, set[Path], set[Path]]
BOUND = 300  # seconds: a run of four cases takes about a minute; a hang is a failure, not a wait
# Three DL-01 cases and a NET-02 case: a fault in the second DL-01 case (pdf) leaves one decided case before it and,
# where the part survives, two after it.
DL01_NET02 = ["--requirement", "DL-01", "--requirement", "NET-02", "-k", "attachment or pdf or docm or undeclared-host",
              "--artifacts", "none"]  # fmt: skip


@pytest.fixture
def leftovers() -> Before:
    """What the machine has before the run: compared with what it has after (``assert_nothing_left``). The suite's
    own tests run one after another, so a new ``conformance-*`` folder is the run's."""
    return netns_list(), temp_run_folders(), x_sockets()


def assert_nothing_left(run: WatchedRun, before: Before) -> None:
    namespaces, temps, sockets = before
    assert len(run.seen) > 3, f"the run's process tree was not seen: {run.seen}"
    assert run.survivors() == [], "processes of the run outlived it"
    assert netns_list() == namespaces
    # Only the run's own: unit tests running meanwhile make (and remove) conformance-* folders of their own.
    assert run.work_dirs, "the run's work folder was not seen in its processes' command lines"
    assert (temp_run_folders() - temps) & run.work_dirs == set(), "the run's work folder was left"
    # Only the run's own displays: other runs on the machine meanwhile make X sockets of their own.
    x_servers = [comm for comm in run.seen.values() if comm in ("Xvfb", "Xtigervnc")]
    assert run.displays or not x_servers, f"the run started {x_servers} but no process of it was given a DISPLAY"
    left = {x_socket(display) for display in run.displays} & (x_sockets() - sockets)
    assert left == set(), f"the X socket of the run's display was left: {sorted(left)}"


def session_folder(run: WatchedRun, number: int, timeout: float = 120) -> Path:
    """The folder of the candidate's session ``number``, once its browser has started and shown its first tab
    (``launch.json``): its case is then running. Found through the run's own processes (the browser's
    ``--user-data-dir``), not by guessing which temporary folder is the run's."""
    deadline = time.monotonic() + timeout
    suffix = f"/sessions/{number:03d}/profile"
    while time.monotonic() < deadline:
        for pid in run.tree():
            for arg in cmdline(pid):
                if arg.startswith("--user-data-dir=") and arg.endswith(suffix):
                    folder = Path(arg.removeprefix("--user-data-dir=")).parent
                    if (folder / "launch.json").exists():
                        return folder
        time.sleep(0.05)
    raise AssertionError(f"session {number} never started:\n" + "\n".join(run.lines[-10:]))


def kill_during_case(run: WatchedRun, number: int, of: int, find: Callable[[], list[int]], settle: float = 2.0,
                     timeout: float = 180) -> None:  # fmt: skip
    """SIGKILL the one process ``find`` names, ``settle`` seconds after case ``number`` of ``of`` has started its
    session (the session's set-up is one CDP call; a case takes 4 s at least): the fault falls inside that case."""
    run.wait_for_line(rf"\[\s*{number - 1}/{of}\]", timeout=timeout)
    session_folder(run, number)
    time.sleep(settle)
    targets = find()
    assert len(targets) == 1, targets
    os.kill(targets[0], signal.SIGKILL)


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def cases(document: dict, requirement: str) -> dict[str, dict]:
    """A requirement's cases by their parameter (the part of the node id in brackets)."""
    return {c["nodeid"].rsplit("[", 1)[-1].rstrip("]"): c for c in document["requirements"][requirement]["cases"]}


# -- 1. the output folder ----------------------------------------------------------------------------------
def test_an_output_folder_that_cannot_be_made_is_bad_input(tmp_path: Path, leftovers: Before) -> None:
    """``--out`` below a regular file: no user can make that folder (ENOTDIR). A read-only folder (chmod 0555)
    would not do: root writes into it anyway (CAP_DAC_OVERRIDE). Exit 2, naming the folder, before anything
    starts; nothing claims a verdict."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    out = blocker / "run"
    run = WatchedRun(HARDENED, out, ["--requirement", "DL-01", "--artifacts", "none"])
    code = run.wait(timeout=60)
    assert code == 2, run.stderr
    assert str(out) in run.stderr and os.strerror(errno.ENOTDIR) in run.stderr, run.stderr
    assert not any("適合/pass" in line or "不適合/fail" in line for line in run.lines), run.lines
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"
    namespaces, temps, _ = leftovers
    assert run.survivors() == [] and netns_list() == namespaces and temp_run_folders() - temps == set()


@pytest.mark.slow
def test_a_full_output_folder_mid_run_is_undecided(tmp_path: Path, leftovers: Before) -> None:
    """The disk of the output folder fills up after the first case (a tmpfs of the run's own mount namespace,
    filled from outside through /proc/PID/root: nothing on the machine is mounted). The run must not exit 0 or 1:
    what it decided cannot be written, and it says so, naming the folder."""
    out = tmp_path / "run"
    out.mkdir()
    mount = 'mount -t tmpfs -o size=32m conformance-fault "$0" && exec "$@"'
    run = WatchedRun(HARDENED, out, ["--requirement", "DL-01", "-k", "attachment or pdf or docm", "--artifacts",
                                     "none"], prefix=["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                                      mount, str(out)])  # fmt: skip
    try:
        run.wait_for_line(r"\[\s*1/3\]", timeout=180)
        pid = run.run_pid
        assert pid is not None
        filler = Path(f"/proc/{pid}/root{out}/filler")
        with filler.open("wb") as handle, pytest.raises(OSError) as full:
            while True:
                handle.write(b"\0" * (1 << 20))
                handle.flush()
        assert full.value.errno == errno.ENOSPC
    finally:
        code = run.wait(timeout=BOUND)
    assert code == 3, f"exit {code}"
    message = run.stderr + "\n".join(run.lines)
    assert str(out) in message and os.strerror(errno.ENOSPC) in message, message[-3000:]
    assert not any("適合/pass" in line or "不適合/fail" in line for line in run.lines), run.lines
    assert_nothing_left(run, leftovers)


# -- 2. the candidate crashes -------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_candidate_crashing_mid_case_is_an_error_naming_it(tmp_path: Path, leftovers: Before) -> None:
    """SIGKILL the browser of the second DL-01 case while it runs: that case is ``error`` naming the candidate's
    browser; the next case and NET-02 still decide (each case has a session, so a browser, of its own)."""
    run = WatchedRun(HARDENED, tmp_path / "run", ["--requirement", "DL-01", "--requirement", "NET-02", "-k",
                                                  "attachment or pdf or docm or undeclared-host", "--artifacts",
                                                  "none"])  # fmt: skip
    try:
        kill_during_case(run, 2, of=4, find=lambda: [session_browser(run, 2)])
    finally:
        code = run.wait(timeout=BOUND)
    document = run.document()
    dl01 = cases(document, "DL-01")
    assert dl01["attachment"]["outcome"] == "pass", dl01["attachment"]
    crashed = dl01["pdf"]
    assert crashed["outcome"] == "error", crashed
    assert crashed["message"].startswith("[chromium] the candidate's browser"), crashed["message"]
    assert "exited during the case" in crashed["message"]
    assert dl01["docm"]["outcome"] == "pass", dl01["docm"]
    assert document["requirements"]["DL-01"]["verdict"] == "error"
    assert document["requirements"]["NET-02"]["verdict"] == "pass", document["requirements"]["NET-02"]
    assert code == 3
    assert_nothing_left(run, leftovers)


def is_browser(pid: int, profile: str) -> bool:
    """Chromium's browser process of the session whose profile is ``profile`` (not a ``--type=`` child: Chromium
    rewrites a child's command line into one string, so the whole of it is searched)."""
    text = " ".join(cmdline(pid))
    return f"--user-data-dir={profile}" in text and "--type=" not in text


# -- 3. Ctrl-C ------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("target", ["group", "process"])
def test_ctrl_c_keeps_partial_results_marked_incomplete(target: str, tmp_path: Path, leftovers: Before) -> None:
    """SIGINT during the second of three cases: to the whole process group as a terminal's Ctrl-C does
    (Playwright's driver gets it too), or to the run process alone. Exit 130; conformance.json keeps the first
    case's verdict, is marked incomplete, and no requirement is decided on the cases that did not finish."""
    run = WatchedRun(HARDENED, tmp_path / "run", ["--requirement", "DL-01", "-k", "attachment or pdf or docm",
                                                  "--artifacts", "none"])  # fmt: skip
    try:
        run.wait_for_line(r"\[\s*1/3\]", timeout=180)
        session_folder(run, 2)
        time.sleep(1)  # into the case
        run.interrupt(target)
    finally:
        code = run.wait(timeout=BOUND)
    assert code == 130, f"exit {code}"
    assert "中断しました / interrupted" in run.stderr
    document = run.document()
    assert document["incomplete"] is True and "interrupted" in document["incomplete_reason"], document.get(
        "incomplete_reason"
    )
    dl01 = cases(document, "DL-01")
    assert dl01["attachment"]["outcome"] == "pass", dl01["attachment"]
    assert dl01["pdf"]["outcome"] == "error" and "interrupted" in dl01["pdf"]["message"], dl01["pdf"]
    assert dl01["docm"]["outcome"] == "error" and "not run" in dl01["docm"]["message"], dl01["docm"]
    assert document["requirements"]["DL-01"]["verdict"] == "error"
    assert not any("適合/pass" in line and "DL-01" in line for line in run.lines), run.lines
    assert_nothing_left(run, leftovers)


# -- 4. the private CUPS dies ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_cupsd_dying_mid_case_makes_print_cases_errors(tmp_path: Path, leftovers: Before) -> None:
    """SIGKILL the run's cupsd while the first PRN-01 case runs: both PRN-01 cases are ``error`` naming cupsd
    (a print oracle without its server saw nothing, which is no evidence that nothing was printed); NET-02 is
    still decided."""
    run = WatchedRun(HARDENED, tmp_path / "run", ["--requirement", "PRN-01", "--requirement", "NET-02", "-k",
                                                  "window-print or ctrl-p or undeclared-host", "--artifacts",
                                                  "none"])  # fmt: skip
    try:
        kill_during_case(run, 2, of=3, settle=0, find=lambda: named_in_tree(run, "cupsd"))
    finally:
        code = run.wait(timeout=BOUND)
    document = run.document()
    prn01 = cases(document, "PRN-01")
    for act in ("window-print", "ctrl-p"):
        assert prn01[act]["outcome"] == "error" and "[cupsd]" in prn01[act]["message"], prn01[act]
    assert document["requirements"]["PRN-01"]["verdict"] == "error"
    assert document["requirements"]["NET-02"]["verdict"] == "pass", document["requirements"]["NET-02"]
    assert code == 3
    assert_nothing_left(run, leftovers)


# -- helpers of the faults below -------------------------------------------------------------------------------
def injected(fault: str, case: str, seconds: float) -> dict[str, str]:
    """The environment that loads tests/integration/fault_plugin.py into the run, breaking ``fault`` ``seconds``
    into the call of the case whose node id holds ``case``."""
    return {"PYTEST_ADDOPTS": "-p tests.integration.fault_plugin", "CONFORMANCE_FAULT": f"{fault}:{case}:{seconds}"}


def named_in_tree(run: WatchedRun, comm: str) -> list[int]:
    return [pid for pid, (_, name) in run.tree().items() if name == comm]


def session_browser(run: WatchedRun, number: int) -> int:
    """The browser process of the candidate's session ``number``, once that session has started."""
    profile = str(session_folder(run, number) / "profile")
    browsers = [pid for pid, (_, comm) in run.tree().items() if comm == "chromium" and is_browser(pid, profile)]
    assert len(browsers) == 1, browsers
    return browsers[0]


def xclips(run_pid: int, option: str) -> list[int]:
    """The run's xclip processes started with ``option`` (``-i``: one holding a selection, ``-o``: one reading)."""
    found = []
    for pid in children(run_pid):
        argv = cmdline(pid)
        if argv and argv[0].endswith("xclip") and option in argv:
            found.append(pid)
    return found


def wait_for_owner(run_pid: int, lived: float, timeout: float = 120) -> int:
    """The first xclip that has held a selection for ``lived`` seconds: the case's own (the clipboard oracle's
    positive control takes and releases the selections within a fraction of a second)."""
    first: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = time.monotonic()
        for pid in xclips(run_pid, "-i"):
            if now - first.setdefault(pid, now) >= lived:
                return pid
        time.sleep(0.01)
    raise AssertionError("no xclip held a selection for long")


def positive_control_done(run_pid: int, timeout: float = 60) -> None:
    """Once the clipboard oracle's positive control of a case is over: four xclip owners (a canary, then an empty
    value, on CLIPBOARD and on PRIMARY), each come and gone (oracles/clipboard.py ``positive_control``)."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = set(xclips(run_pid, "-i"))
        seen |= live
        if len(seen) >= 4 and not live:
            return
        time.sleep(0.002)
    raise AssertionError(f"the positive control did not end: {len(seen)} xclip owners seen")


def no_verdict_after(run: WatchedRun, index: int) -> None:
    """No case after the ``index``-th decided pass or fail (the progress lines)."""
    later = []
    for line in run.lines:
        progress = re.match(r"\[\s*(\d+)/\d+\] (PASS|FAIL)", line)
        if progress and int(progress.group(1)) > index:
            later.append(line)
    assert later == [], later


# -- the liveness checks the run relies on (cheap: nothing but the part itself is started) ----------------------
def test_a_blocked_fixture_site_says_it_stopped_answering(tmp_path: Path) -> None:
    """The check after each case (plugin ``_lost_part``): a site whose event loop is blocked answers nothing; once
    free again it answers, and the check itself left nothing in the site's request log (an oracle of its own)."""
    from conformance.environment.fixture_site import FixtureSite

    with FixtureSite(tmp_path / "tls") as site:
        assert site.stopped_answering() == ""
        release = threading.Event()
        site._loop.call_soon_threadsafe(release.wait, 60)  # type: ignore[union-attr]
        try:
            assert site.stopped_answering(timeout=1) == "it answered nothing for 1 s"
        finally:
            release.set()
        assert site.stopped_answering() == ""
        assert site.requests() == []
    assert site.stopped_answering() == "its thread has ended"


def test_a_killed_xvfb_leaves_no_socket_behind(tmp_path: Path) -> None:
    """An Xvfb killed (SIGKILL) cannot remove its socket; the display's stop does, else the number stays taken."""
    from conformance.environment.display import Display

    display = Display(log_dir=tmp_path).start()
    socket = Path(f"/tmp/.X11-unix/X{display.number}")
    try:
        assert display.process is not None and socket.exists()
        os.kill(display.process.pid, signal.SIGKILL)
        display.process.popen.wait(10)
        assert socket.exists(), "the killed server removed its socket: nothing to test"
    finally:
        display.stop()
    assert not socket.exists()


# -- 5. the page hangs -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_fixture_site_that_stops_answering_is_an_error_naming_it(tmp_path: Path, leftovers: Before) -> None:
    """The fixture site's event loop blocks from the start of the second DL-01 case to its teardown (a hung server:
    connections accepted, nothing answered; fault_plugin ``site-hang``). That case is ``error`` naming the fixture
    site, within the page load's own time-out; the site answers again and the later cases decide."""
    run = WatchedRun(HARDENED, tmp_path / "run", DL01_NET02, env=injected("site-hang", "[pdf]", 0))
    code = run.wait(timeout=BOUND)
    document = run.document()
    dl01 = cases(document, "DL-01")
    assert dl01["attachment"]["outcome"] == "pass", dl01["attachment"]
    hung = dl01["pdf"]
    assert hung["outcome"] == "error", hung
    assert hung["message"].startswith("[fixture-site] the fixture site stopped answering (it answered nothing"), hung
    assert dl01["docm"]["outcome"] == "pass", dl01["docm"]
    assert document["requirements"]["NET-02"]["verdict"] == "pass", document["requirements"]["NET-02"]
    assert code == 3
    assert_nothing_left(run, leftovers)


CASE_TIMEOUT = 45  # seconds: the watchdog's bound for this test (a case here takes about 5 s; the default is 300)


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["before-load", "after-act"])
def test_a_page_that_stops_answering_is_an_error_naming_it(moment: str, tmp_path: Path, leftovers: Before) -> None:
    """The renderers of the second case's browser are stopped (SIGSTOP, by pid): the page answers nothing any more,
    as when its script never ends. before-load: as soon as the session started (DL-01): the page load times out, and
    the case's error says first that the page stopped answering. after-act: once the CLIP-02 case holds the
    terminal's clipboard and has pasted: Playwright's evaluate then waits for ever (the run hung for good before the
    case watchdog), and the case is ended after ``--conformance-case-timeout``. Either way that case is ``error``
    naming the candidate's page, the first case stays decided and the run goes on to decide the later ones."""
    if moment == "before-load":
        args, requirement, first, hung_case = DL01_NET02, "DL-01", "attachment", "pdf"
    else:
        args = ["--requirement", "CLIP-02", "--requirement", "NET-02", "-k",
                "keyboard-ascii or middle-click-ascii or undeclared-host", "--artifacts", "none"]  # fmt: skip
        requirement, first, hung_case = "CLIP-02", "keyboard-ascii", "middle-click-ascii"
    run = WatchedRun(HARDENED, tmp_path / "run", args,
                     env={"PYTEST_ADDOPTS": f"--conformance-case-timeout={CASE_TIMEOUT}"})  # fmt: skip
    try:
        run.wait_for_line(r"\[\s*1/\d\]", timeout=180)
        browser = session_browser(run, 2)
        if moment == "after-act":
            run_pid = run.run_pid
            assert run_pid is not None
            wait_for_owner(run_pid, lived=1.0)
            time.sleep(0.3)  # the middle click is done: the case waits for what the page got
        renderers = [pid for pid in descendants(browser) if "--type=renderer" in " ".join(cmdline(pid))]
        assert renderers, "the browser has no renderer"
        for pid in renderers:
            os.kill(pid, signal.SIGSTOP)
    finally:
        code = run.wait(timeout=BOUND)
    document = run.document()
    decided = cases(document, requirement)
    assert decided[first]["outcome"] == "pass", decided[first]
    hung = decided[hung_case]
    assert hung["outcome"] == "error", hung
    assert hung["message"].startswith("[candidate]"), hung["message"]
    assert "the candidate's page" in hung["message"] and "stopped answering" in hung["message"], hung["message"]
    if moment == "before-load":
        assert decided["docm"]["outcome"] == "pass", decided["docm"]
    assert document["requirements"]["NET-02"]["verdict"] == "pass", document["requirements"]["NET-02"]
    assert code == 3
    assert_nothing_left(run, leftovers)


# -- 6. the network oracle dies ----------------------------------------------------------------------------------
def test_the_network_oracle_dying_mid_case_decides_nothing_after_it(tmp_path: Path, leftovers: Before) -> None:
    """mitmproxy's event loop stops a second into the second DL-01 case (its thread ends, as in a crash;
    fault_plugin ``oracle-dies``). That case and every later one is ``error`` naming the network oracle (the later
    ones at once, before their candidate starts); no pass or fail is decided on a dead oracle; the run ends."""
    run = WatchedRun(HARDENED, tmp_path / "run", DL01_NET02, env=injected("oracle-dies", "[pdf]", 1))
    code = run.wait(timeout=BOUND)
    document = run.document()
    dl01 = cases(document, "DL-01")
    assert dl01["attachment"]["outcome"] == "pass", dl01["attachment"]
    died = dl01["pdf"]
    assert died["outcome"] == "error" and died["message"].startswith("[mitmproxy] the network oracle"), died
    for later in (dl01["docm"], cases(document, "NET-02")["undeclared-host"]):
        assert later["outcome"] == "error", later
        assert later["message"].startswith("setup: [mitmproxy] the network oracle"), later["message"]
        assert "earlier in the run" in later["message"]
    no_verdict_after(run, 1)
    assert code == 3
    assert_nothing_left(run, leftovers)


# -- 7. Xvfb dies ------------------------------------------------------------------------------------------------
def test_xvfb_dying_mid_case_is_an_error_naming_it(tmp_path: Path, leftovers: Before) -> None:
    """SIGKILL the run's Xvfb (found by pid in its tree) while the second DL-01 case runs: that case is ``error``
    naming Xvfb, every later case too (at once, not as a browser that "did not start"), and the killed server's
    socket does not stay in /tmp/.X11-unix (it would mark the display number taken for good)."""
    run = WatchedRun(HARDENED, tmp_path / "run", DL01_NET02)
    try:
        kill_during_case(run, 2, of=4, find=lambda: named_in_tree(run, "Xvfb"))
    finally:
        code = run.wait(timeout=BOUND)
    document = run.document()
    dl01 = cases(document, "DL-01")
    assert dl01["attachment"]["outcome"] == "pass", dl01["attachment"]
    died = dl01["pdf"]
    assert died["outcome"] == "error" and died["message"].startswith("[Xvfb] the display stopped (exit code -9)"), died
    for later in (dl01["docm"], cases(document, "NET-02")["undeclared-host"]):
        assert later["outcome"] == "error" and later["message"].startswith("setup: [Xvfb] the display stopped"), later
    no_verdict_after(run, 1)
    assert code == 3
    assert_nothing_left(run, leftovers)


# -- 8. the clipboard oracle's xclip dies or hangs ------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("fault", ["dies", "hangs"])
def test_xclip_dying_or_hanging_mid_case_is_an_error_naming_it(fault: str, tmp_path: Path, leftovers: Before) -> None:
    """dies: the xclip that holds the canary on the terminal's PRIMARY for the second CLIP-02 case is killed (SIGKILL)
    once it holds it: the page could no longer have been offered the canary, so "nothing crossed" says nothing.
    hangs: the first xclip that reads a selection in the second CLIP-01 case is stopped (SIGSTOP): the oracle gives up
    after its own time-out. Either way that case is ``error`` naming xclip, never pass, and NET-02 is decided."""
    if fault == "dies":
        requirement, methods = "CLIP-02", "keyboard-ascii or middle-click-ascii"
    else:
        requirement, methods = "CLIP-01", "keyboard-ascii or exec-command-ascii"
    run = WatchedRun(HARDENED, tmp_path / "run", ["--requirement", requirement, "--requirement", "NET-02", "-k",
                                                  f"{methods} or undeclared-host", "--artifacts", "none"])  # fmt: skip
    try:
        run.wait_for_line(r"\[\s*1/3\]", timeout=180)  # the second case starts its browser (a second or two)
        run_pid = run.run_pid
        assert run_pid is not None
        if fault == "dies":
            os.kill(wait_for_owner(run_pid, lived=0.5), signal.SIGKILL)
        else:
            positive_control_done(run_pid)
            time.sleep(1.0)  # the page opens and the copy is made: the case now reads what the terminal holds
            deadline = time.monotonic() + 60
            while True:
                assert time.monotonic() < deadline, "no xclip read a selection"
                readers = xclips(run_pid, "-o")
                if readers:
                    try:
                        os.kill(readers[0], signal.SIGSTOP)
                        break
                    except ProcessLookupError:  # it ended in between: the next read
                        pass
                time.sleep(0.002)
    finally:
        code = run.wait(timeout=BOUND)
    document = run.document()
    decided = cases(document, requirement)
    assert decided["keyboard-ascii"]["outcome"] == "pass", decided["keyboard-ascii"]
    broken = decided["middle-click-ascii" if fault == "dies" else "exec-command-ascii"]
    assert broken["outcome"] == "error", broken
    assert broken["message"].startswith("call: [xclip]"), broken["message"]
    assert ("no longer held the canary" if fault == "dies" else "timed out") in broken["message"], broken["message"]
    assert document["requirements"]["NET-02"]["verdict"] == "pass", document["requirements"]["NET-02"]
    assert code == 3
    assert_nothing_left(run, leftovers)


# -- 9. the output folder becomes read-only --------------------------------------------------------------------------
def test_an_output_folder_made_read_only_mid_run_is_undecided(tmp_path: Path, leftovers: Before) -> None:
    """After the first case the output folder is bound read-only over itself (in the run's own mount namespace,
    entered through its pid: nothing on the machine is mounted; chmod would not do, root writes anyway). The run
    must not exit 0 or 1: it says that the folder cannot be written, naming it, without a traceback."""
    out = tmp_path / "run"
    out.mkdir()
    run = WatchedRun(HARDENED, out, ["--requirement", "DL-01", "-k", "attachment or pdf or docm", "--artifacts",
                                     "none"], prefix=["unshare", "--mount", "--propagation", "private"])  # fmt: skip
    try:
        run.wait_for_line(r"\[\s*1/3\]", timeout=180)
        pid = run.run_pid
        assert pid is not None
        subprocess.run(["nsenter", f"--target={pid}", "--mount", "mount", "-o", "bind,ro", str(out), str(out)],
                       check=True, timeout=30)  # fmt: skip
    finally:
        code = run.wait(timeout=BOUND)
    assert code == 3, f"exit {code}"
    message = run.stderr + "\n".join(run.lines)
    assert str(out) in message and os.strerror(errno.EROFS) in message, message[-3000:]
    assert "Traceback" not in run.stderr and "INTERNALERROR" not in run.stderr, run.stderr[-3000:]
    assert not any("適合/pass" in line or "不適合/fail" in line for line in run.lines), run.lines
    assert not (out / "conformance.json").exists()
    assert_nothing_left(run, leftovers)


# -- 10. a screen-transfer reference's remote stack dies ----------------------------------------------------------
NOVNC_TOOLS = pytest.mark.skipif(not all(shutil.which(tool) for tool in ("Xtigervnc", "websockify")),
                                 reason="the noVNC reference stack needs Xtigervnc and websockify")  # fmt: skip
XPRA_TOOL = pytest.mark.skipif(shutil.which("xpra") is None, reason="the Xpra reference needs Debian's xpra")


@pytest.mark.slow
@pytest.mark.parametrize(("reference", "component", "named"), [
    pytest.param("novnc-hardened", "Xtigervnc", "[Xtigervnc] the reference stack's Xtigervnc", marks=NOVNC_TOOLS,
                 id="novnc-Xtigervnc"),
    pytest.param("novnc-hardened", "websockify", "[websockify] the reference stack's websockify", marks=NOVNC_TOOLS,
                 id="novnc-websockify"),
    pytest.param("xpra-hardened", "xpra", "[xpra] the reference stack's xpra server", marks=XPRA_TOOL,
                 id="xpra-server"),
])  # fmt: skip
def test_the_remote_stack_dying_mid_case_is_an_error_naming_it(reference: str, component: str, named: str,
                                                               tmp_path: Path, leftovers: Before) -> None:  # fmt: skip
    """SIGKILL one process of a screen-transfer reference's remote stack (noVNC's VNC server that is the remote
    desktop or its websockify gateway; the xpra server; the run's own child of that name, by pid) while the second
    case (DL-01) runs: that case is ``error`` naming the component, the later DL-01 case too (at once), the first
    case (ST-01) keeps its verdict, and the rest of the stack is stopped with the run, the killed server's X socket
    included."""
    run = WatchedRun(CANDIDATES / f"{reference}.toml", tmp_path / "run", [
        "--requirement", "DL-01", "--requirement", "ST-01", "-k", "not push-hook", "--artifacts", "none"])  # fmt: skip
    def stack_process() -> list[int]:
        # The run's own child: websockify forks one more per connection, all of the same name.
        run_pid = run.run_pid
        assert run_pid is not None
        return [pid for pid in children(run_pid) if (proc_stat(pid) or (0, 0, "", ""))[3] == component]

    try:  # two seconds in, the client is connected: the case acts on the remote desktop
        kill_during_case(run, 2, of=3, find=stack_process, timeout=240)
    finally:
        code = run.wait(timeout=BOUND)
    document = run.document()
    st01 = document["requirements"]["ST-01"]
    assert st01["verdict"] == verdicts_of(reference)["ST-01"], st01  # decided before the fault, as without it
    dl01 = cases(document, "DL-01")
    died = dl01["download"]
    assert died["outcome"] == "error", died
    assert died["message"].startswith(named), died["message"]
    later = dl01["downloadurl"]
    assert later["outcome"] == "error", later
    assert later["message"].startswith(f"setup: {named}"), later["message"]
    assert "earlier in the run" in later["message"]
    no_verdict_after(run, 1)
    assert code == (1 if st01["verdict"] == "fail" else 3)  # a must-level fail outranks the undecided DL-01
    assert_nothing_left(run, leftovers)
