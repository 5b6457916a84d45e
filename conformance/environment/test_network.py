"""The suite's test network: its own hosts (network namespaces) on its own segments (Linux bridges).

Maintenance and wireless-LAN requirements are about who can reach whom, so they need more than one host.
The suite builds a small network of namespaces it owns, and every probe stays inside it:

    user segment        192.0.2.0/24     the terminal's side: a "terminal" host, the platform's user leg
    management segment  198.51.100.0/24  the maintenance side: a "maintenance" host (the vendor's terminal),
                                         the platform's management leg
    wlan segment        203.0.113.0/24   two test terminals on one wireless LAN (the reference access point:
                                         a bridge, its ports isolated or not)

The "platform" host is dual-homed, like the server of a secure browser or a VDI gateway: it serves users on
one leg and is administered on the other. It does not forward between them (a new namespace has
forwarding off), so what the user segment can reach of it is decided by where its services listen: the
product's own choice, which MNT-02 observes.

The segments are bridges in a "switch" namespace; each host is joined to a segment by a veth pair made
inside the switch namespace, one end then moved into the host. Nothing is created in the suite's own
namespace, no namespace gets a name (``ip netns list`` stays empty), and everything disappears with the
holder processes when the run ends, however it ends (``environment/netns.py``). The addresses are the
documentation ranges: no route leads out of any of these namespaces, so nothing can leave the machine
even if a probe is wrong.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from conformance.environment.netns import NamespaceHolder, run_checked
from conformance.environment.terminal_netns import in_netns_of, unavailable_reason
from conformance.errors import HarnessError

USER, MANAGEMENT, WLAN = "user", "management", "wlan"
SUBNETS = {USER: "192.0.2.0/24", MANAGEMENT: "198.51.100.0/24", WLAN: "203.0.113.0/24"}
FIRST_HOST = 10  # host addresses are .10, .11, … in the order hosts join a segment

T = TypeVar("T")


@dataclass
class Segment:
    name: str
    subnet: ipaddress.IPv4Network
    isolated: bool  # the bridge's ports are isolated from each other (only non-isolated ports can talk to them)
    bridge: str
    next_host: int = FIRST_HOST
    ports: dict[str, str] = field(default_factory=dict)  # switch-side port -> host


@dataclass
class Host:
    """A host of the test network: one namespace, an address on each segment it joins."""

    name: str
    namespace: NamespaceHolder
    addresses: dict[str, str] = field(default_factory=dict)  # segment -> IPv4 address

    @property
    def pid(self) -> int:
        return self.namespace.pid

    def address(self, segment: str) -> str:
        if segment not in self.addresses:
            raise HarnessError("test-network", f"host {self.name} is not on the {segment} segment")
        return self.addresses[segment]

    def call(self, work: Callable[[], T]) -> T:
        """``work()`` inside this host's namespace: sockets it opens belong to the host."""
        return in_netns_of(self.pid, work)

    def enter_argv(self) -> list[str]:
        """The command prefix that runs a program on this host."""
        return self.namespace.enter_argv()

    def run(self, *argv: str) -> str:
        return self.namespace.inside(*argv)


class TestNetwork:
    """Context manager: the switch namespace; ``segment`` and ``host`` build the network inside it."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.segments: dict[str, Segment] = {}
        self.hosts: dict[str, Host] = {}
        self._stack = ExitStack()
        self._switch: NamespaceHolder | None = None

    def __enter__(self) -> TestNetwork:
        reason = unavailable_reason()
        if reason:
            raise HarnessError("test-network", f"cannot build the test network: {reason}")
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._switch = self._stack.enter_context(NamespaceHolder("switch"))
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()  # every holder exits: namespaces, bridges and veth pairs go with them
        self.hosts.clear()
        self.segments.clear()

    @property
    def switch(self) -> NamespaceHolder:
        if self._switch is None:
            raise HarnessError("test-network", "the test network is not running")
        return self._switch

    def segment(self, name: str, isolated: bool = False) -> Segment:
        """A segment: a bridge in the switch namespace. ``isolated`` sets every host port's isolation flag, as a
        wireless access point's client isolation does (hosts on it reach no other host of the segment)."""
        if name in self.segments:
            raise HarnessError("test-network", f"segment {name} exists already")
        bridge = f"br-{name}"[:15]
        self.switch.inside("ip", "link", "add", bridge, "type", "bridge")
        self.switch.inside("ip", "link", "set", bridge, "up")
        self.segments[name] = Segment(name, ipaddress.ip_network(SUBNETS[name]), isolated, bridge)
        return self.segments[name]

    def host(self, name: str, segments: Sequence[str], uplink: bool = False) -> Host:
        """A new host joined to ``segments`` (in this order: eth-<segment> in the host). An ``uplink`` port (the
        gateway's) is never isolated: isolated hosts still reach it, as wireless clients reach their router."""
        if name in self.hosts:
            raise HarnessError("test-network", f"host {name} exists already")
        namespace = self._stack.enter_context(NamespaceHolder(f"test-network host {name}"))
        host = Host(name, namespace)
        self.hosts[name] = host
        for segment_name in segments:
            self._join(host, self.segments[segment_name], isolated=self.segments[segment_name].isolated and not uplink)
        return host

    def _join(self, host: Host, segment: Segment, isolated: bool) -> None:
        index = len(self.hosts) * 8 + len(host.addresses)
        switch_end, host_end = f"sw{index}", f"h{index}"
        self.switch.inside("ip", "link", "add", switch_end, "type", "veth", "peer", "name", host_end)
        self.switch.inside("ip", "link", "set", switch_end, "master", segment.bridge)
        segment.ports[switch_end] = host.name
        if isolated:
            self.switch.inside("ip", "link", "set", "dev", switch_end, "type", "bridge_slave", "isolated", "on")
        self.switch.inside("ip", "link", "set", switch_end, "up")
        run_checked([*self.switch.enter_argv(), "ip", "link", "set", host_end, "netns", str(host.pid)])
        device = f"eth-{segment.name}"[:15]
        address = str(segment.subnet.network_address + segment.next_host)
        segment.next_host += 1
        host.run("ip", "link", "set", host_end, "name", device)
        host.run("ip", "addr", "add", f"{address}/{segment.subnet.prefixlen}", "dev", device)
        host.run("ip", "link", "set", device, "up")
        host.addresses[segment.name] = address

    def facts(self) -> dict[str, Any]:
        """The network as built, for evidence; each bridge port's isolation flag as the kernel reports it."""
        flags = self._isolation_flags()
        return {
            "segments": {
                s.name: {"subnet": str(s.subnet), "bridge": s.bridge,
                         "ports": [{"port": port, "host": host, "isolated": flags.get(port)}
                                   for port, host in s.ports.items()]}
                for s in self.segments.values()
            },
            "hosts": {h.name: dict(h.addresses) for h in self.hosts.values()},
        }

    def _isolation_flags(self) -> dict[str, bool]:
        """``bridge -d link show``: a port's line, then its flags line (``… isolated on …``)."""
        flags: dict[str, bool] = {}
        port = ""
        for line in self.switch.inside("bridge", "-d", "link", "show").splitlines():
            if not line.startswith(" "):
                port = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
            elif port and " isolated " in f" {line} ":
                flags[port] = " isolated on" in line
        return flags


def in_test_subnets(address: str) -> bool:
    """True for an address of one of the test network's segments."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(subnet) for subnet in SUBNETS.values())
