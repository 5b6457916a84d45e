"""What a bundled reference remote platform is to the screen-transfer driver, and what the two share: the VNC
stack (``vnc_stack.VncStack``: a VNC server with noVNC as client) and Xpra (``xpra_stack.XpraStack``: its HTML5
client). Either is started once, stopped with everything it started (also at interpreter exit when a run
crashed), ready when nothing is wrong with it, and holds the remote X selections the remote-side oracle reads.
"""

from __future__ import annotations

import atexit
import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Literal, Self

from conformance.environment.proc_table import pss_bytes
from conformance.errors import HarnessError

Selection = Literal["clipboard", "primary", "secondary"]


class RemoteStack(ABC):
    """A reference remote platform; a context manager. Each subclass sets these in ``__init__``."""

    work_dir: Path
    logs_dir: Path
    remote_home: Path
    remote_profile_dir: Path
    remote_downloads_dir: Path
    binaries: dict[str, str]  # executables by component name ("xclip" among them)
    display: int | None  # the remote X display's number, once started
    websocket_port: int  # where the client (noVNC or Xpra's HTML5 client) is served, once started
    started: list[tuple[str, int]]  # (component, pid) of every process ever started: diagnostics and leak checks
    _started: bool
    _stopped: bool

    # -- what each product does its own way ----------------------------------------------------------------
    @abstractmethod
    def _bring_up(self) -> None:
        """Start every component; raise ``HarnessError`` naming the one that did not come up."""

    @abstractmethod
    def stop(self) -> None:
        """Stop everything started, newest first. Idempotent."""

    @abstractmethod
    def problems(self) -> list[str]:
        """What is wrong with the started stack right now (empty: ready)."""

    @abstractmethod
    def lost(self) -> str:
        """The component that exited since the start, as "[component] why"; "" while all run, before start and
        after stop."""

    @abstractmethod
    def pids(self) -> list[int]:
        """Every live process of the stack (the ports oracle's view of the remote side)."""

    @abstractmethod
    def component_pids(self) -> dict[str, list[int]]:
        """Live processes by component."""

    @abstractmethod
    def facts(self) -> dict[str, Any]:
        """What the evidence says of the stack (display, ports, folders, switches)."""

    @property
    @abstractmethod
    def remote_display_env(self) -> dict[str, str]:
        """Environment for a tool acting on the remote display (xclip, xdotool)."""

    @abstractmethod
    def _hold_selection(self, selection: Selection, text: str) -> None:
        """Start xclip owning ``selection`` with ``text`` (in the foreground, stopped with the stack), replacing
        the one that held it before."""

    @abstractmethod
    def _error(self, component: str, reason: str) -> HarnessError:
        """A ``HarnessError`` naming the component and its log."""

    # -- shared ---------------------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Self:
        if self._started:
            raise RuntimeError(f"a {type(self).__name__} can be started once")
        self._started = True
        atexit.register(self.stop)  # a crashed test run must not leave the stack behind
        try:
            self._bring_up()
        except BaseException:  # includes KeyboardInterrupt
            self.stop()
            raise
        return self

    @property
    def remote_display(self) -> str:
        if self.display is None:
            raise RuntimeError("the stack has not been started")
        return f":{self.display}"

    def ready(self) -> bool:
        return not self.problems()

    def memory_pss(self) -> dict[str, int]:
        """PSS in bytes per component (from /proc/<pid>/smaps_rollup), plus ``total``."""
        out = {name: sum(pss_bytes(pid) for pid in pids) for name, pids in self.component_pids().items()}
        out["total"] = sum(out.values())
        return out

    def remote_clipboard(self, selection: Selection = "clipboard") -> str | None:
        """What the remote X selection holds (None: no owner or no text); the remote-side oracle."""
        argv = [self.binaries["xclip"], "-display", self.remote_display, "-selection", selection, "-o"]
        read = subprocess.run(argv, capture_output=True, timeout=5, env=self.remote_display_env, check=False)
        if read.returncode != 0:
            return None
        return read.stdout.decode("utf-8", "replace")

    def set_remote_clipboard(self, selection: Selection, text: str, timeout: float = 5.0) -> None:
        """Own the remote selection with ``text``; returns once the remote display says it holds it."""
        self._hold_selection(selection, text)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.remote_clipboard(selection) == text:
                return
            time.sleep(0.05)
        raise self._error("xclip", f"remote {selection} does not hold the text after {timeout:.0f} s")
