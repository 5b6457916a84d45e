"""The terminal's network namespace: every packet the candidate sends goes to the network oracle.

The candidate (a secure browser, or the terminal browser of a web screen-transfer client) runs in a
network namespace made for the run. Its only interface is a TUN device served by mitmproxy (``tun``
mode, in the suite's process): the device is created in the suite's namespace, moved into the
terminal's, and made the default route there. So every TCP connection, UDP datagram and DNS query of the
candidate reaches the oracle, whether or not the candidate honours a proxy setting, and nothing can
reach any other network: the namespace has no other way out.

Addresses inside (RFC 2544 benchmarking range, never routed on the Internet; the TUN device answers
for all of them):

- ``TERMINAL_ADDRESS``  the terminal's own address on the TUN link;
- ``RESOLVER_ADDRESS``  the terminal's name server (the oracle answers every query itself);
- names resolve to addresses the oracle hands out (``oracles.network.NameService``).

The namespace is held by an unnamed holder process (``environment/netns.py``): ``ip netns list`` never
shows it, and it disappears with the TUN device in it when the suite ends, however it ends.

``in_netns_of`` runs a piece of the suite's own work (a positive control, the ports oracle's listing and
probes) inside the namespace of a given process, in a thread of its own.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from conformance.environment.netns import NamespaceHolder, run_checked
from conformance.errors import HarnessError

TERMINAL_ADDRESS = "198.18.0.2"
TERMINAL_PREFIX = 15  # 198.18.0.0/15: the whole benchmarking range is "on the link", i.e. the oracle
RESOLVER_ADDRESS = "198.18.0.53"
TERMINAL_ADDRESS6 = "fd00:198:18::2"  # a ULA, so IPv6 attempts reach the oracle as well
TOOLS = ("ip", "unshare", "nsenter")


def unavailable_reason(tun_device: Path = Path("/dev/net/tun"), euid: int | None = None) -> str | None:
    """Why a terminal namespace cannot be made on this machine, or None when it can.

    Checked before the run so that the suite can fall back to proxy observation and say why.
    """
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        return f"not running as root (euid {euid}): creating a network namespace and a TUN device needs root"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found on PATH (Debian packages iproute2, util-linux)"
    if not tun_device.exists():
        return f"{tun_device} does not exist (TUN driver not available in this kernel or container)"
    try:
        os.close(os.open(tun_device, os.O_RDWR))
    except OSError as exc:
        return f"{tun_device} cannot be opened: {exc.strerror}"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"cannot create a network namespace (unshare --net): {probe.stderr.strip() or probe.returncode}"
    return None


class TerminalNamespace:
    """Context manager: a fresh network namespace for the terminal; ``adopt`` moves the TUN device in."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._namespace = NamespaceHolder("terminal")
        self.link = ""

    @property
    def pid(self) -> int:
        return self._namespace.pid

    @property
    def net_path(self) -> Path:
        """The namespace as a file (``nsenter --net=``)."""
        return self._namespace.net_path

    @property
    def resolv_conf(self) -> Path:
        """The terminal's /etc/resolv.conf (bound over the real one in the candidate's mount namespace)."""
        return self.folder / "resolv.conf"

    def enter_argv(self) -> list[str]:
        """The command prefix that runs a program inside the namespace."""
        return self._namespace.enter_argv()

    def __enter__(self) -> TerminalNamespace:
        reason = unavailable_reason()
        if reason:
            raise HarnessError("netns", reason)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.resolv_conf.write_text(
            f"# the terminal's name server: the network oracle (conformance suite)\nnameserver {RESOLVER_ADDRESS}\n",
            encoding="utf-8",
        )
        self._namespace.__enter__()
        return self

    def adopt(self, link: str) -> None:
        """Move the TUN device ``link`` (made in the suite's namespace) in, address it, route all through it."""
        run_checked(["ip", "link", "set", link, "netns", str(self.pid)])
        self.link = link
        self._inside("ip", "addr", "add", f"{TERMINAL_ADDRESS}/{TERMINAL_PREFIX}", "dev", link)
        self._inside("ip", "link", "set", link, "up")
        self._inside("ip", "route", "add", "default", "dev", link)
        # IPv6 as well, so that an IPv6 attempt is recorded rather than failing unseen ("nodad": usable at once).
        self._inside("ip", "-6", "addr", "add", f"{TERMINAL_ADDRESS6}/64", "dev", link, "nodad")
        self._inside("ip", "-6", "route", "add", "default", "dev", link)

    def link_down(self) -> None:
        """Take the TUN link down (before the oracle stops reading it)."""
        if self._namespace.alive and self.link:
            self._inside("ip", "link", "set", self.link, "down")

    def facts(self) -> dict[str, object]:
        """How the terminal was connected, for conformance.json."""
        return {
            "link": self.link,
            "terminal_address": TERMINAL_ADDRESS,
            "terminal_address6": TERMINAL_ADDRESS6,
            "name_server": RESOLVER_ADDRESS,
            "enter": " ".join(self.enter_argv()),
            "interfaces_and_routes": self.routes().splitlines(),
        }

    def routes(self) -> str:
        """The namespace's interfaces and routes (evidence: how the terminal was connected)."""
        return self._inside("ip", "addr") + self._inside("ip", "route") + self._inside("ip", "-6", "route")

    def __exit__(self, *exc: object) -> None:
        self._namespace.__exit__()

    def _inside(self, *argv: str) -> str:
        return self._namespace.inside(*argv)


T = TypeVar("T")
CLONE_NEWNET = 0x40000000


def netns_of(pid: int) -> str:
    """The network namespace of ``pid`` (e.g. "net:[4026531840]"); "" when the process has gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return ""


def in_netns_of(pid: int, work: Callable[[], T]) -> T:
    """``work()`` run inside the network namespace of ``pid``: its sockets, and the processes it starts.

    setns(2) changes the namespace of the calling thread only, so ``work`` runs in a thread of its own
    that ends afterwards; the rest of the suite stays where it is.
    """
    target = netns_of(pid)
    if not target:
        raise HarnessError("netns", f"process {pid} has gone: its network namespace cannot be entered")
    if target == netns_of(os.getpid()):
        return work()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                    raise HarnessError("netns", f"setns into {target} failed: {os.strerror(ctypes.get_errno())}")
            finally:
                os.close(fd)
            outcome["value"] = work()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"netns-of-{pid}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
