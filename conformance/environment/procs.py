"""Child processes the harness starts (Xvfb, cupsd, xclip, a browser) and must always stop again.

Every process gets its own session (``start_new_session=True``) so that it, and everything it forks,
can be stopped as one process group without touching anything else on the machine. A registry plus
``atexit`` stops whatever an exception or KeyboardInterrupt left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from conformance.errors import HarnessError

_LIVE: set[ManagedProcess] = set()
_LIVE_LOCK = threading.Lock()
_COUNTER = itertools.count(1)


def require_tool(name: str, component: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """Absolute path of ``name`` on PATH (of ``env`` if given, else of this process), or HarnessError.

    A missing tool must surface as a harness error, never as "nothing observed".
    """
    search_path = (env or os.environ).get("PATH", os.defpath)
    found = shutil.which(name, path=search_path)
    if found is None:
        raise HarnessError(component or name, f"required tool {name!r} not found on PATH={search_path!r}")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the OS considers free right now (bind to port 0). Small race window, by design."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when a TCP connect to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class ManagedProcess:
    """A started command with a log file, stoppable by process group; use as a context manager.

    The process is started by the constructor (like ``subprocess.Popen``). ``argv[0]`` is resolved via
    PATH (of ``env``) and a missing executable raises ``HarnessError(component, ...)``.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        component: str,
        log_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        pass_fds: Sequence[int] = (),
        stdin_data: bytes | None = None,
        name: str | None = None,
    ) -> None:
        if not argv:
            raise ValueError("argv must not be empty")
        self.component = component
        self.env: dict[str, str] = dict(os.environ if env is None else env)
        executable = require_tool(argv[0], component, self.env)
        self.argv: list[str] = [executable, *argv[1:]]
        self.name = name or Path(argv[0]).name
        self._own_log = log_dir is None
        self.log_path = self._make_log_path(log_dir)
        self._failed = False
        self._stopped = False
        log = self.log_path.open("ab")
        try:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=cwd,
                stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=tuple(pass_fds),
                start_new_session=True,  # own process group: stop() can kill all its children, nothing else
            )
        except OSError as exc:
            raise HarnessError(component, f"cannot start {self.argv!r}: {exc}") from exc
        finally:
            log.close()  # the child has its own copy of the fd
        with _LIVE_LOCK:
            _LIVE.add(self)
        if stdin_data is not None and self.popen.stdin is not None:
            # A child that died early breaks the pipe; wait_until()/returncode will report it.
            with contextlib.suppress(BrokenPipeError):
                self.popen.stdin.write(stdin_data)
            with contextlib.suppress(BrokenPipeError):
                self.popen.stdin.close()

    def _make_log_path(self, log_dir: Path | None) -> Path:
        if log_dir is None:
            fd, name = tempfile.mkstemp(prefix=f"conformance-{self.name}-", suffix=".log")
            os.close(fd)
            return Path(name)
        log_dir.mkdir(parents=True, exist_ok=True)
        return log_dir / f"{self.name}-{os.getpid()}-{next(_COUNTER)}.log"

    # -- state -------------------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, max_chars: int = 2000) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[-max_chars:]

    # -- readiness ---------------------------------------------------------------------------------------

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
    ) -> float:
        """Poll ``predicate`` until true; return the seconds it took. HarnessError on timeout or exit."""
        start = time.monotonic()
        deadline = start + timeout
        last_error = ""
        while True:
            try:
                if predicate():
                    return time.monotonic() - start
            except (OSError, subprocess.TimeoutExpired) as exc:  # e.g. refused while still starting
                last_error = f" (last error: {exc})"
            rc = self.popen.poll()
            if rc is not None:
                self._failed = True
                raise HarnessError(
                    self.component,
                    f"{what} not ready: {self.name} exited with rc={rc}{last_error}; see {self.log_path}",
                )
            if time.monotonic() >= deadline:
                self._failed = True
                raise HarnessError(
                    self.component, f"{what} not ready after {timeout}s{last_error}; see {self.log_path}"
                )
            time.sleep(interval)

    def mark_failed(self) -> None:
        """Keep the (temporary) log after stop(): something went wrong and it is evidence."""
        self._failed = True

    # -- stopping ----------------------------------------------------------------------------------------

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)  # pgid == pid thanks to start_new_session
        except ProcessLookupError:
            pass
        except PermissionError:
            # Should not happen for our own session; fall back to the direct child only.
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM to the process group, SIGKILL after ``timeout``; returns the exit code. Idempotent."""
        if not self._stopped:
            self._stopped = True
            if self.popen.poll() is None:
                self._signal_group(signal.SIGTERM)
                try:
                    self.popen.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    with contextlib.suppress(subprocess.TimeoutExpired):  # unkillable (D state): give up
                        self.popen.wait(timeout=5.0)
            # The leader may have exited on its own while children of the group live on.
            if _group_alive(self.popen.pid):
                self._signal_group(signal.SIGKILL)
            with _LIVE_LOCK:
                _LIVE.discard(self)
            if self._own_log and not self._failed:
                self.log_path.unlink(missing_ok=True)
        return self.popen.returncode

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self._failed = True
        self.stop()

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, pid={self.popen.pid}, rc={self.popen.poll()})"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_all(timeout: float = 2.0) -> None:
    """Stop every ManagedProcess still running (last resort, also registered with atexit)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            proc.stop(timeout=timeout)


atexit.register(stop_all)
