"""OS clipboard oracle: the X selections of one display, read and owned with xclip.

Only a headed browser talks to the X clipboard (headless Chromium keeps a private one), so this oracle
is meaningful with a real display. ``read`` returns None only when the selection has no owner or no
text; every other failure (xclip missing, display unreachable, owner not answering) is a HarnessError.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from conformance.environment.procs import ManagedProcess, require_tool
from conformance.errors import HarnessError

Selection = Literal["clipboard", "primary"]
_SELECTIONS = ("clipboard", "primary")
# xclip's message when the owner does not offer the target, or nobody owns the selection. Note that
# xclip 0.13 names STRING here even when UTF8_STRING was asked for.
NOT_AVAILABLE = re.compile(r"target \S+ not available")


class ClipboardOracle:
    """X clipboard/primary selection of the display in ``display_env`` (e.g. ``Display.env``)."""

    def __init__(
        self, display_env: Mapping[str, str], *, timeout: float = 5.0, log_dir: Path | None = None
    ) -> None:
        self.env: dict[str, str] = {**os.environ, **display_env}
        if not self.env.get("DISPLAY"):
            raise HarnessError("xclip", "no DISPLAY in display_env: the clipboard oracle needs an X display")
        self.timeout = timeout
        self.log_dir = log_dir
        self.xclip = require_tool("xclip", "xclip", self.env)

    @staticmethod
    def _check(selection: str) -> None:
        if selection not in _SELECTIONS:
            raise ValueError(f"selection must be one of {_SELECTIONS}, not {selection!r}")

    def _xclip_out(self, selection: str, target: str) -> bytes | None:
        """Bytes of ``target`` in ``selection``; None when not available (no owner / not offered)."""
        argv = [self.xclip, "-o", "-selection", selection, "-t", target]
        try:
            result = subprocess.run(argv, env=self.env, capture_output=True, timeout=self.timeout,
                                    check=False)
        except subprocess.TimeoutExpired as exc:
            # An owner that never answers is not "empty clipboard": we could not observe.
            raise HarnessError("xclip", f"{' '.join(argv)} timed out after {self.timeout}s") from exc
        except OSError as exc:
            raise HarnessError("xclip", f"cannot run xclip: {exc}") from exc
        if result.returncode == 0:
            return result.stdout
        stderr = result.stderr.decode("utf-8", "replace").strip()
        if NOT_AVAILABLE.search(stderr):
            return None
        raise HarnessError("xclip", f"{' '.join(argv)} failed rc={result.returncode}: {stderr}")

    def targets(self, selection: Selection = "clipboard") -> list[str] | None:
        """Targets (formats) the owner offers, or None when the selection has no owner."""
        self._check(selection)
        data = self._xclip_out(selection, "TARGETS")
        if data is None:
            return None
        return [t for t in data.decode("ascii", "replace").split() if t]

    def read(self, selection: Selection = "clipboard") -> str | None:
        """Text in the selection; None when nobody owns it or the owner offers no text."""
        self._check(selection)
        data = self._xclip_out(selection, "UTF8_STRING")
        if data is not None:
            return data.decode("utf-8", "replace")
        offered = self.targets(selection)
        if not offered:
            return None
        # Owners that predate UTF8_STRING: try the other text targets before declaring "no text".
        for target, encoding in (("text/plain;charset=utf-8", "utf-8"), ("STRING", "latin-1"),
                                 ("TEXT", "utf-8"), ("text/plain", "utf-8")):
            if target in offered:
                data = self._xclip_out(selection, target)
                if data is not None:
                    return data.decode(encoding, "replace")
        return None

    @contextmanager
    def own(self, selection: Selection, text: str) -> Iterator[ManagedProcess]:
        """Own ``selection`` with ``text`` (xclip -quiet stays in the foreground) until the block ends.

        Yields the xclip process (stoppable by PID). Ready once the value reads back. Ownership also ends
        when another client (e.g. the browser on copy) takes the selection; xclip then exits by itself.
        """
        self._check(selection)
        proc = ManagedProcess(
            # -quiet: stay in the foreground with a PID we can stop (without it xclip forks, leaves zombies)
            ["xclip", "-quiet", "-i", "-selection", selection],
            component="xclip",
            env=self.env,
            log_dir=self.log_dir,
            stdin_data=text.encode("utf-8"),
            name=f"xclip-{selection}",
        )
        try:
            proc.wait_until(lambda: self.read(selection) == text, self.timeout, f"xclip owning {selection}")
            yield proc
        except BaseException:
            proc.mark_failed()
            raise
        finally:
            proc.stop(timeout=2.0)

    def clear(self, selection: Selection = "clipboard") -> None:
        """Leave ``selection`` without owner: take it over with an empty value, then let go."""
        self._check(selection)
        with self.own(selection, ""):
            pass
        self._wait_for(lambda: self.read(selection) is None, f"{selection} cleared")

    def _wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise HarnessError("xclip", f"{what}: not observed within {self.timeout}s")
            time.sleep(0.05)

    def positive_control(self, canary: str, selection: Selection = "clipboard") -> None:
        """Prove the oracle works on this display now: own ``canary``, read it back, release it."""
        self._check(selection)
        try:
            with self.own(selection, canary):
                seen = self.read(selection)
                if seen != canary:
                    raise HarnessError("xclip", f"positive control: owned {canary!r} but read {seen!r}")
            self._wait_for(lambda: self.read(selection) != canary, f"positive control: {selection} released")
        except HarnessError as exc:
            if exc.component == "xclip":
                msg = f"positive control failed on {self.env['DISPLAY']}: {exc.reason}"
                raise HarnessError("xclip", msg) from exc
            raise HarnessError("xclip", f"positive control failed: {exc}") from exc
