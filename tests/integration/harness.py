"""Shared by the integration tests: the real CLI run as a user would (with one tool taken away), and a private
environment for the tests' own browsers."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = ROOT / "fixtures" / "candidates"


def path_without(folder: Path, *missing: str) -> str:
    """A PATH of one folder with symlinks to every executable on the current PATH (and the sbin folders),
    except ``missing``: the tool is gone for the run, and nothing else is."""
    folder.mkdir(parents=True, exist_ok=True)
    dirs = [*os.environ.get("PATH", os.defpath).split(os.pathsep), "/usr/local/sbin", "/usr/sbin", "/sbin"]
    for directory in dirs:
        if not directory or not Path(directory).is_dir():
            continue
        for entry in sorted(Path(directory).iterdir()):
            link = folder / entry.name
            if entry.name in missing or link.exists() or link.is_symlink():
                continue  # the first PATH entry wins, as in a shell
            if entry.is_file() and os.access(entry, os.X_OK):
                link.symlink_to(entry.resolve())
    return str(folder)


def run_conformance(
    candidate: Path,
    out: Path,
    k: str | None = None,
    missing: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
    args: Sequence[str] = (),
) -> tuple[int, dict[str, Any]]:
    """``conformance run`` in a subprocess; returns the exit code and conformance.json."""
    environment = {**os.environ, **(env or {})}
    if missing:
        environment["PATH"] = path_without(out.parent / f"bin-without-{'-'.join(missing)}", *missing)
    argv = [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(candidate), "--out", str(out)]
    if k:
        argv += ["-k", k]
    argv += list(args)
    proc = subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n")
    result = out / "conformance.json"
    if not result.is_file():
        raise AssertionError(f"the run wrote no result (exit {proc.returncode})")
    return proc.returncode, json.loads(result.read_text(encoding="utf-8"))


def private_browser_env(tmp_path_factory: Any) -> dict[str, str]:
    """An environment for a test's own Chromium: its crash-report, dconf, NSS, PulseAudio, shader-cache and
    singleton folders land in pytest's temporary folders, never in the real HOME or /tmp."""
    home, runtime, tmp = (tmp_path_factory.mktemp(name) for name in ("terminal-home", "terminal-run", "terminal-tmp"))
    runtime.chmod(0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update({"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "TMPDIR": str(tmp)})
    return env


# -- watching a run's processes (tests/integration/test_hygiene.py, test_fault_injection.py) --------------------
# The run is started by a small wrapper that makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER) and
# waits for it: a process the run orphans (Chromium's crashpad handler double-forks) is re-parented to the wrapper,
# not to init, so it is still found among the wrapper's descendants. A no-op SIGINT handler (reset by exec, unlike
# SIG_IGN) keeps the wrapper alive through a Ctrl-C sent to the whole group.
_SUBREAPER = """
import ctypes, os, signal, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
signal.signal(signal.SIGINT, lambda *_: None)
run = subprocess.Popen(sys.argv[1:])
while True:
    try:
        pid, status = os.wait()
    except InterruptedError:
        continue
    if pid == run.pid:
        sys.exit(os.waitstatus_to_exitcode(status))
"""


def proc_stat(pid: int) -> tuple[int, int, str, str] | None:
    """(ppid, start time in clock ticks, state, comm) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19]), fields[0], comm


def descendants(pid: int) -> dict[int, tuple[int, str]]:
    """Every live process whose parent chain reaches ``pid``: pid -> (start time, comm). Zombies left out."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None:
                stats[int(entry.name)] = stat
    children: dict[int, list[int]] = {}
    for child, (ppid, _, _, _) in stats.items():
        children.setdefault(ppid, []).append(child)
    found, todo = {}, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        ppid, start, state, comm = stats[child]
        if state != "Z":
            found[child] = (start, comm)
        todo += children.get(child, [])
    return found


def alive(pid: int, start: int) -> bool:
    """The process that had this start time is still running (not reused, not a zombie)."""
    stat = proc_stat(pid)
    return stat is not None and stat[1] == start and stat[2] != "Z"


_WORK_DIR = re.compile(re.escape(tempfile.gettempdir()) + r"/conformance-[A-Za-z0-9_]+(?=/)")
_DISPLAY = re.compile(r"(?:^|\0)DISPLAY=:(\d+)")


def _environ(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def temp_run_folders() -> set[Path]:
    """The runs' private work folders (and temporary logs) in the temporary folder: ``conformance-*``."""
    return set(Path(tempfile.gettempdir()).glob("conformance-*"))


def x_sockets() -> set[Path]:
    """The X servers' sockets in the temporary folder: a killed Xvfb leaves its own behind unless the run removes it."""
    return set(Path(tempfile.gettempdir(), ".X11-unix").glob("X*"))


def x_socket(display: str) -> Path:
    return Path(tempfile.gettempdir(), ".X11-unix", f"X{display}")


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (from /proc/PID/task/*/children): quick enough to catch a process that lives
    for a few milliseconds, which the full scan of ``descendants`` misses."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def netns_list() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout


class WatchedRun:
    """``conformance run`` in a subprocess, its process tree sampled every 0.2 s while it runs (``seen``: every
    process it started, by (pid, start time)), its output read line by line (``lines``)."""

    def __init__(self, candidate: Path, out: Path, args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                 prefix: Sequence[str] = ()) -> None:  # fmt: skip
        argv = [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(candidate), "--out", str(out)]
        self.out = out
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-c", _SUBREAPER, *prefix, *argv, *args],
                                     env={**os.environ, **(env or {})}, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
        self.seen: dict[tuple[int, int], str] = {}
        # The run's private work folders (conformance-* in the temporary folder), as its processes name them: told
        # apart from the folders of other runs and unit tests that come and go meanwhile.
        self.work_dirs: set[Path] = set()
        # The X displays its processes were given (DISPLAY in their environment): the run's own X sockets, told
        # apart from those of other runs meanwhile (Xvfb takes its number through -displayfd, so no command line
        # names it).
        self.displays: set[str] = set()
        self.lines: list[str] = []
        self.stderr = ""
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._sample, daemon=True),
                         threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]  # fmt: skip
        for thread in self._threads:
            thread.start()

    def _sample(self) -> None:
        while self.proc.poll() is None:
            for pid, (start, comm) in descendants(self.proc.pid).items():
                with self._lock:
                    new = (pid, start) not in self.seen
                    self.seen[(pid, start)] = comm
                if new:
                    try:
                        text = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").replace("\0", " ")
                    except OSError:
                        continue
                    self.work_dirs |= {Path(found) for found in _WORK_DIR.findall(text)}
                    self.displays |= set(_DISPLAY.findall(_environ(pid)))
            time.sleep(0.2)

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def _read_stderr(self) -> None:
        self.stderr = self.proc.stderr.read()  # type: ignore[union-attr]

    @property
    def run_pid(self) -> int | None:
        """The ``conformance run`` process itself: the wrapper's first child (orphans re-parented to it start later)."""
        tree = self.tree()
        children = [(start, pid) for pid, (start, _) in tree.items() if (proc_stat(pid) or (0,))[0] == self.proc.pid]
        return min(children)[1] if children else None

    def tree(self) -> dict[int, tuple[int, str]]:
        return descendants(self.proc.pid)

    def interrupt(self, target: str) -> None:
        """Ctrl-C as a terminal sends it (``group``: every process of the run) or to the ``conformance run``
        process ``alone`` (as a CI runner that signals the job's process does)."""
        if target == "group":
            os.killpg(self.proc.pid, signal.SIGINT)
            return
        pid = self.run_pid
        assert pid is not None and (proc_stat(pid) or (0, 0, "", ""))[3].startswith("python")
        os.kill(pid, signal.SIGINT)

    def wait_for_line(self, pattern: str, timeout: float) -> str:
        """The first output line matching ``pattern`` (a regular expression); AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [line for line in self.lines if re.search(pattern, line)]
            if found:
                return found[0]
            if self.proc.poll() is not None and not self._threads[1].is_alive():
                break
            time.sleep(0.1)
        raise AssertionError(f"no output line matched {pattern!r}:\n" + "\n".join(self.lines[-20:]) + self.stderr)

    def wait(self, timeout: float) -> int:
        """The exit code; on ``timeout`` everything of the run is killed and the test fails (a hang)."""
        try:
            code = self.proc.wait(timeout=max(1.0, timeout - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self.kill()
            tail = "\n".join(self.lines[-20:])
            raise AssertionError(f"the run did not end within {timeout:.0f} s:\n{tail}") from None
        for thread in self._threads:
            thread.join(10)
        print("\n".join(self.lines[-60:]), self.stderr[-3000:], sep="\n")
        return code

    def survivors(self, grace: float = 3.0) -> list[str]:
        """The processes the run started that are still running ``grace`` seconds after it ended."""
        deadline = time.monotonic() + grace
        while True:
            left = [f"{pid} {comm}" for (pid, start), comm in sorted(self.seen.items()) if alive(pid, start)]
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL whatever of the run still runs (the test's own clean-up: only processes it saw the run start)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for (pid, start), _ in list(self.seen.items()):
            if alive(pid, start):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)

    def document(self) -> dict[str, Any]:
        return json.loads((self.out / "conformance.json").read_text(encoding="utf-8"))
