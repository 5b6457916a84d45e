"""The suite's test network: segments, hosts, isolation, and that nothing of it outlives the context.

Real namespaces, bridges and veth pairs (needs root and iproute2; skipped with the reason otherwise). Every
address is inside the namespaces made here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conformance.environment.terminal_netns import netns_of, unavailable_reason
from conformance.environment.test_network import MANAGEMENT, USER, WLAN, TestNetwork
from conformance.oracles import reachability
from conformance.oracles.reachability import ExceptedPort, Listeners

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=f"no namespaces: {unavailable_reason()}")


def _connects(host: object, address: str, port: int) -> bool:
    return reachability.tcp_reach(host, address, port).reached  # type: ignore[arg-type]


def test_segments_reach_only_what_they_are_joined_to(tmp_path: Path) -> None:
    with TestNetwork(tmp_path / "net") as network:
        network.segment(USER)
        network.segment(MANAGEMENT)
        terminal = network.host("terminal", [USER])
        platform = network.host("platform", [USER, MANAGEMENT])
        maintenance = network.host("maintenance", [MANAGEMENT])
        assert platform.addresses == {USER: "192.0.2.11", MANAGEMENT: "198.51.100.10"}
        # the platform listens on its management leg only, as a hardened console does
        console = Listeners(platform.address(MANAGEMENT), [8443]).open_on(platform)
        try:
            assert _connects(maintenance, platform.address(MANAGEMENT), 8443)
            assert not _connects(terminal, platform.address(MANAGEMENT), 8443)  # no forwarding between legs
            assert not _connects(terminal, platform.address(USER), 8443)  # refused: nothing on the user leg
        finally:
            console.close()
        assert all(netns_of(h.pid) != netns_of(os.getpid()) for h in network.hosts.values())
        pids = [h.pid for h in network.hosts.values()] + [network.switch.pid]
    time.sleep(0.2)
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []  # every holder gone with the context
    assert subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.strip() == ""


@pytest.mark.parametrize("isolated", [False, True], ids=["open-segment", "isolated-ports"])
def test_port_isolation_separates_terminals_but_not_the_gateway(tmp_path: Path, isolated: bool) -> None:
    with TestNetwork(tmp_path / "net") as network:
        network.segment(WLAN, isolated=isolated)
        gateway = network.host("gw", [WLAN], uplink=True)
        a = network.host("a", [WLAN])
        b = network.host("b", [WLAN])
        listener = Listeners(b.address(WLAN), [445]).open_on(b)
        try:
            to_b = reachability.survey(a, b.address(WLAN), f"eth-{WLAN}", [445])
            to_gateway = reachability.survey(a, gateway.address(WLAN), f"eth-{WLAN}", [])
        finally:
            listener.close()
        assert all(r.reached for r in to_gateway)  # the positive control holds either way
        assert [r.reached for r in to_b] == [not isolated] * 3, to_b
        findings, _ = reachability.judge_isolation(to_b, [])
        assert bool(findings) is not isolated


def test_a_declared_exception_is_allowed_and_only_it(tmp_path: Path) -> None:
    with TestNetwork(tmp_path / "net") as network:
        network.segment(WLAN)
        a = network.host("a", [WLAN])
        b = network.host("b", [WLAN])
        listener = Listeners(b.address(WLAN), [9100, 445]).open_on(b)
        try:
            reaches = reachability.survey(a, b.address(WLAN), f"eth-{WLAN}", [9100])
            findings, allowed = reachability.judge_isolation(reaches, [ExceptedPort(9100, "tcp", "複合機 / printer")])
            assert len(allowed) == 2 and "icmp" in " ".join(findings)  # tcp/9100 and the ARP it needs; ping is not
            reaches.append(reachability.tcp_reach(a, b.address(WLAN), 445))
            findings, _ = reachability.judge_isolation(reaches, [ExceptedPort(9100, "tcp", "printer")])
            assert any("tcp/445" in f for f in findings)
        finally:
            listener.close()
        assert listener.sources.get(9100) == [a.address(WLAN)]  # the target's own view agrees with the prober's


def test_no_probe_address_is_routable_out_of_a_host(tmp_path: Path) -> None:
    """A host of the test network has no default route: an address outside its segments is unreachable."""
    with TestNetwork(tmp_path / "net") as network:
        network.segment(USER)
        terminal = network.host("terminal", [USER])

        def connect() -> str:
            try:
                socket.create_connection(("203.0.113.9", 80), timeout=1).close()
                return "connected"
            except OSError as exc:
                return exc.strerror or str(exc)

        assert terminal.call(connect) == "Network is unreachable"
        assert "default" not in terminal.run("ip", "route")
