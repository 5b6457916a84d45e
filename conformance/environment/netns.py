"""A network namespace held by a process of the suite: the building block of the terminal and the test network.

The namespace is held by a shell started with ``unshare --net`` that waits for the end of its stdin, a pipe
from the suite. It never gets a name, so ``ip netns list`` never shows it and nothing in /run or /etc is
written. When the suite ends, however it ends, the pipe closes and the holder exits; the kernel removes the
namespace, and every interface in it (TUN devices, veth ends, bridges), when its last process has gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from conformance.errors import HarnessError


class NamespaceHolder:
    """Context manager: a fresh, empty network namespace with its loopback up."""

    def __init__(self, label: str) -> None:
        self.label = label  # for messages only: the namespace itself has no name
        self._holder: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._holder is None:
            raise HarnessError("netns", f"the {self.label} namespace is not running")
        return self._holder.pid

    @property
    def alive(self) -> bool:
        return self._holder is not None and self._holder.poll() is None

    @property
    def net_path(self) -> Path:
        """The namespace as a file (``nsenter --net=``, ``ip link set … netns``)."""
        return Path(f"/proc/{self.pid}/ns/net")

    def enter_argv(self) -> list[str]:
        """The command prefix that runs a program inside the namespace."""
        return ["nsenter", f"--net={self.net_path}", "--"]

    def inside(self, *argv: str) -> str:
        """Run a command (``ip …``) inside the namespace; its stdout, or HarnessError."""
        return run_checked([*self.enter_argv(), *argv])

    def __enter__(self) -> NamespaceHolder:
        own = os.readlink("/proc/self/ns/net")
        self._holder = subprocess.Popen(
            ["unshare", "--net", "--", "/bin/sh", "-c", "read _"],  # exits when the suite's end of stdin closes
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{self._holder.pid}/ns/net") != own:  # unshare made it and exec'd the shell
                    break
            if self._holder.poll() is not None:
                break
            time.sleep(0.02)
        else:
            self.__exit__()
            raise HarnessError("netns", f"the {self.label} namespace holder did not enter a new namespace in 10 s")
        if self._holder.poll() is not None:
            self._holder = None
            raise HarnessError("netns", f"unshare --net exited at once: no {self.label} namespace")
        try:
            self.inside("ip", "link", "set", "lo", "up")
        except HarnessError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        holder, self._holder = self._holder, None
        if holder is None:
            return
        if holder.stdin is not None:
            holder.stdin.close()  # the shell's read ends: the holder exits by itself
        try:
            holder.wait(5)
        except subprocess.TimeoutExpired:
            holder.send_signal(signal.SIGKILL)
            holder.wait(10)


def run_checked(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
    if done.returncode != 0:
        raise HarnessError("netns", f"{' '.join(argv)} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout
