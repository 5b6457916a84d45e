"""Who reaches whom on a segment: ICMP echo (``ping``), ARP (``arping``) and TCP connections between hosts.

Used for WLAN-02 (terminals on one wireless LAN must not reach each other). Every probe runs inside a host of
the suite's test network (``environment/test_network.py``) and targets an address of that network, so no
packet can leave the machine. ``ping`` and ``arping`` are Debian's iputils-ping and arping: their own
output is the evidence. A "nothing reached" result is only trusted together with a positive control: the
same probes, from the same host, reach the segment's gateway (see the WLAN-02 case).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from conformance.errors import HarnessError

PROBE_TIMEOUT = 1.0  # per TCP connect and ICMP/ARP reply; on a bridge in one kernel a reply takes microseconds
PROBE_COUNT = 2  # echo requests and ARP requests per target: one lost first packet must not decide
# Ports a terminal typically offers another on a LAN: file sharing, remote desktop, remote shells, web.
PEER_PORTS = (22, 80, 135, 139, 445, 3389, 5900, 5985)


class NetworkHost(Protocol):
    """What the probes need of a host (``environment.test_network.Host``)."""

    name: str

    def call(self, work: Any) -> Any: ...
    def enter_argv(self) -> list[str]: ...


@dataclass
class Reach:
    """The outcome of one probe from one host to one address."""

    probe: str  # "icmp", "arp" or "tcp/PORT"
    source: str
    target: str
    reached: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Listeners:
    """TCP listeners a host keeps open as probe targets; who connected is kept (the target's own view)."""

    address: str
    ports: Sequence[int]
    sources: dict[int, list[str]] = field(default_factory=dict)  # port -> addresses that connected
    _sockets: list[socket.socket] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def open_on(self, host: NetworkHost) -> Listeners:
        """Listen inside ``host``'s namespace (sockets made there stay there)."""
        return self._serve(host.call(self._bind))

    def open_here(self) -> Listeners:
        """Listen in this process's own network (``conformance wlan-peer`` on a lab terminal)."""
        return self._serve(self._bind())

    def _bind(self) -> list[socket.socket]:
        return [socket.create_server((self.address, port), backlog=16) for port in self.ports]

    def _serve(self, sockets: list[socket.socket]) -> Listeners:
        self._sockets = sockets
        for sock in self._sockets:
            sock.settimeout(0.2)
            threading.Thread(target=self._accept, args=(sock,), daemon=True, name=f"listener-{self.address}").start()
        return self

    def _accept(self, sock: socket.socket) -> None:
        port = sock.getsockname()[1]
        while not self._stop.is_set():
            try:
                conn, peer = sock.accept()
            except (TimeoutError, OSError):
                continue
            self.sources.setdefault(port, []).append(peer[0])
            conn.close()

    def close(self) -> None:
        self._stop.set()
        for sock in self._sockets:
            sock.close()


def tools_missing() -> list[str]:
    return [tool for tool in ("ping", "arping") if shutil.which(tool) is None]


def tcp_reach(source: NetworkHost, address: str, port: int) -> Reach:
    def connect() -> tuple[bool, str]:
        try:
            with socket.create_connection((address, port), timeout=PROBE_TIMEOUT):
                return True, "connected"
        except TimeoutError:
            return False, "timeout"
        except OSError as exc:
            return False, exc.strerror or str(exc)

    reached, detail = source.call(connect)
    return Reach(f"tcp/{port}", source.name, address, reached, detail)


def icmp_reach(source: NetworkHost, address: str) -> Reach:
    done = _run(source, ["ping", "-n", "-c", str(PROBE_COUNT), "-i", "0.2", "-W", str(PROBE_TIMEOUT), address])
    return Reach("icmp", source.name, address, done.returncode == 0, _last_lines(done.stdout + done.stderr))


def arp_reach(source: NetworkHost, address: str, device: str) -> Reach:
    """ARP resolution of ``address`` on ``device``: a reply means the two hosts can address each other directly."""
    done = _run(source, ["arping", "-c", str(PROBE_COUNT), "-i", "0.2", "-w", "2", "-I", device, address])
    return Reach("arp", source.name, address, done.returncode == 0, _last_lines(done.stdout + done.stderr))


def survey(source: NetworkHost, address: str, device: str, ports: Sequence[int]) -> list[Reach]:
    """Every probe from ``source`` to ``address`` at once: ARP, ICMP echo and a TCP connect per port. An isolated
    target lets each probe run into its own time-out, so the wait is the longest of them, not their sum."""
    with ThreadPoolExecutor(max_workers=2 + len(ports)) as pool:
        arp = pool.submit(arp_reach, source, address, device)
        icmp = pool.submit(icmp_reach, source, address)
        tcp = [pool.submit(tcp_reach, source, address, port) for port in ports]
        return [arp.result(), icmp.result(), *(job.result() for job in tcp)]


def survey_all(jobs: Sequence[tuple[NetworkHost, str, Sequence[int]]], device: str) -> list[Reach]:
    """``survey`` of every (source, target, ports) at the same time; results in the order given."""
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        running = [pool.submit(survey, source, target, device, ports) for source, target, ports in jobs]
        return [reach for job in running for reach in job.result()]


def tcp_all(source: NetworkHost, address: str, ports: Sequence[int]) -> list[Reach]:
    """A TCP connect to every port at once."""
    if not ports:
        return []
    with ThreadPoolExecutor(max_workers=len(ports)) as pool:
        return list(pool.map(lambda port: tcp_reach(source, address, port), ports))


def _run(source: NetworkHost, argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([*source.enter_argv(), *argv], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HarnessError(argv[0], f"could not run {argv[0]} on {source.name}: {exc}") from exc


def _last_lines(text: str, count: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-count:])


@dataclass(frozen=True)
class ExceptedPort:
    """A declared business exception (profile ``[wlan] exceptions``)."""

    port: int
    protocol: str
    purpose: str


def judge_isolation(reaches: Sequence[Reach], exceptions: Sequence[ExceptedPort]) -> tuple[list[str], list[str]]:
    """(findings, allowed): every reach between terminals is a finding unless a declared exception covers it.

    ARP resolution is needed for any exception to work, so it is allowed only when a declared exception was
    actually reached; ping and every other port are never covered.
    """
    allowed_ports = {f"tcp/{e.port}": e for e in exceptions if e.protocol == "tcp"}
    reached = [r for r in reaches if r.reached]
    used_exceptions = [r for r in reached if r.probe in allowed_ports]
    findings: list[str] = []
    allowed: list[str] = []
    for reach in reached:
        where = f"{reach.source} → {reach.target} {reach.probe}"
        if reach.probe in allowed_ports:
            allowed.append(f"{where}: 申告した例外 / declared exception ({allowed_ports[reach.probe].purpose})")
        elif reach.probe == "arp" and any(u.source == reach.source and u.target == reach.target
                                          for u in used_exceptions):
            allowed.append(f"{where}: 例外の通信に必要 / needed by a declared exception")
        else:
            findings.append(f"{where}: 端末間で到達した / reached the other terminal ({reach.detail})")
    return findings, allowed
