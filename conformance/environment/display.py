"""A private Xvfb display for headed browsers, the X clipboard oracle and xdotool.

The display number is picked automatically from a range so that parallel runs (and other developers on
the same machine) do not collide; a number whose socket or lock file exists is considered taken.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from conformance.environment.procs import ManagedProcess, require_tool
from conformance.errors import HarnessError

X11_SOCKET_DIR = Path("/tmp/.X11-unix")
DEFAULT_NUMBERS = range(90, 200)
# Xvfb messages meaning "someone else got this display number first" (a race, not a failure).
_TAKEN_MARKERS = ("already active", "Cannot establish any listening sockets", "server lock file")


def display_is_free(number: int) -> bool:
    """No X socket and no lock file for ``:number`` (stale files count as taken: safe side)."""
    return not (X11_SOCKET_DIR / f"X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists()


def remove_stale_server_files(number: int, pid: int) -> None:
    """What the X server ``pid``, now exited, left for ``:number`` in /tmp: its socket (and its lock file, if it made
    one). A server that ends normally removes them itself; one that is killed (SIGKILL, a crash) cannot. They are its
    own: the number was free when it started, and no server takes a number whose socket exists. Left behind, they
    would mark the number taken for good."""
    lock = Path(f"/tmp/.X{number}-lock")
    with contextlib.suppress(OSError, ValueError):
        if int(lock.read_text().strip()) == pid:
            lock.unlink()
    if not lock.exists():  # a lock of another server: not ours to touch
        (X11_SOCKET_DIR / f"X{number}").unlink(missing_ok=True)


class Display:
    """Xvfb on the first free display number; context manager. Attributes: ``name``, ``number``, ``env``."""

    def __init__(
        self,
        numbers: Iterable[int] = DEFAULT_NUMBERS,
        *,
        width: int = 1600,
        height: int = 1000,
        depth: int = 24,
        log_dir: Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.numbers = list(numbers)
        if not self.numbers:
            raise ValueError("numbers must not be empty")
        self.geometry = f"{width}x{height}x{depth}"
        self.log_dir = log_dir
        self.timeout = timeout
        self.number: int | None = None
        self.process: ManagedProcess | None = None
        self.startup_seconds: float | None = None

    @property
    def name(self) -> str:
        if self.number is None:
            raise HarnessError("Xvfb", "display not started")
        return f":{self.number}"

    @property
    def env(self) -> dict[str, str]:
        """Only what a client needs on top of its own environment (merge with os.environ yourself)."""
        return {"DISPLAY": self.name}

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> Display:
        require_tool("Xvfb", "Xvfb")
        checker = self._checker()
        tried: list[str] = []
        start = time.monotonic()
        try:
            for number in self.numbers:
                if not display_is_free(number):
                    continue
                proc = self._try_start(number, tried)
                if proc is None:
                    continue  # lost a race for this number: try the next one
                self.process, self.number = proc, number
                proc.wait_until(lambda: self._responds(checker), self.timeout, f"X display :{number}")
                self.startup_seconds = time.monotonic() - start
                return self
        except BaseException:
            self.stop()  # also on KeyboardInterrupt: never leave an orphaned Xvfb
            raise
        raise HarnessError("Xvfb", f"no free display in {self.numbers[0]}..{self.numbers[-1]}; tried {tried}")

    def _try_start(self, number: int, tried: list[str]) -> ManagedProcess | None:
        read_fd, write_fd = os.pipe()
        try:
            proc = ManagedProcess(
                # -displayfd: Xvfb writes the number once it accepts connections (no polling needed).
                ["Xvfb", f":{number}", "-displayfd", str(write_fd), "-nolisten", "tcp",
                 "-screen", "0", self.geometry, "-noreset"],
                component="Xvfb",
                log_dir=self.log_dir,
                pass_fds=(write_fd,),
                name=f"Xvfb-{number}",
            )
        finally:
            os.close(write_fd)
        try:
            data = self._read_displayfd(read_fd, proc)
        finally:
            os.close(read_fd)
        if data.strip() == str(number).encode():
            return proc
        proc.mark_failed()
        proc.stop()
        tried.append(f":{number} rc={proc.returncode} log={proc.log_path}")
        if any(marker in proc.log_tail() for marker in _TAKEN_MARKERS):
            return None
        raise HarnessError("Xvfb", f"Xvfb :{number} did not come up in {self.timeout}s; see {proc.log_path}")

    def _read_displayfd(self, read_fd: int, proc: ManagedProcess) -> bytes:
        deadline = time.monotonic() + self.timeout
        data = b""
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return data
            ready, _, _ = select.select([read_fd], [], [], min(remaining, 0.5))
            if ready:
                chunk = os.read(read_fd, 64)
                if not chunk:  # EOF: Xvfb exited (our copy of the write end is closed)
                    return data
                data += chunk
            elif not proc.running:
                return data
        return data

    @staticmethod
    def _checker() -> list[str]:
        for argv in (["xdotool", "getdisplaygeometry"], ["xdpyinfo"]):
            path = shutil.which(argv[0])
            if path is not None:
                return [path, *argv[1:]]
        raise HarnessError("Xvfb", "neither xdotool nor xdpyinfo found on PATH: cannot verify the display")

    def _responds(self, checker: list[str]) -> bool:
        env = {**os.environ, **self.env}
        result = subprocess.run(checker, env=env, capture_output=True, timeout=5, check=False)
        return result.returncode == 0

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is not None:
            self.process.stop(timeout)
            self._remove_stale_files()

    def _remove_stale_files(self) -> None:
        if self.number is not None and self.process is not None and not self.process.running:
            remove_stale_server_files(self.number, self.process.pid)

    def __enter__(self) -> Display:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None and self.process is not None:
            self.process.mark_failed()
        self.stop()

    def __repr__(self) -> str:
        return f"Display({self.number and self.name}, pid={self.process and self.process.pid})"
