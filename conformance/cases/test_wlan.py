"""Wireless LAN (WLAN-02): terminals on one wireless LAN cannot reach each other, except declared business exceptions.

Two test terminals join the profile's wireless segment (``[wlan]``: for the references, a Linux bridge of the
suite's test network standing in for the access point, its client ports isolated or not). Each terminal keeps
TCP listeners open on the ports a terminal typically offers on a LAN and on every declared exception port; each
probes the other with ARP (``arping``), ICMP echo (``ping``) and TCP connections. Every reach that no declared
exception covers is a finding.

Positive controls first, so that "nothing reached" means isolation and not a broken segment or probe: each
terminal's listeners accept a connection from the terminal itself, and both terminals reach the segment's
gateway (an uplink port, which isolation never cuts, as wireless clients still reach their router) with the
same three probes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from conformance.environment.test_network import WLAN
from conformance.errors import HarnessError
from conformance.oracles import reachability
from conformance.oracles.reachability import PEER_PORTS, ExceptedPort, Listeners, Reach

DEVICE = f"eth-{WLAN}"
CONTROL_PORT = 8080  # the gateway's listener for the positive control


@pytest.mark.requirement("WLAN-02")
def test_wlan_terminals_cannot_reach_each_other(candidate: Any, wlan_segment: Any, evidence: Any) -> None:
    """無線LAN上の端末同士が通信できない / terminals on the wireless LAN cannot reach each other"""
    if isinstance(wlan_segment, HarnessError):
        raise wlan_segment
    missing = reachability.tools_missing()
    if missing:
        raise HarnessError(missing[0], f"{', '.join(missing)} not found (Debian packages iputils-ping, arping)")
    hosts = wlan_segment.hosts
    gateway, terminal_a, terminal_b = hosts["wlan-gateway"], hosts["wlan-terminal-a"], hosts["wlan-terminal-b"]
    exceptions = [ExceptedPort(e.port, e.protocol, e.purpose) for e in candidate.wlan.exceptions]
    ports = sorted(set(PEER_PORTS) | {e.port for e in exceptions if e.protocol == "tcp"})
    listeners = [Listeners(h.address(WLAN), ports).open_on(h) for h in (terminal_a, terminal_b)]
    listeners.append(Listeners(gateway.address(WLAN), [CONTROL_PORT]).open_on(gateway))
    try:
        own = [_tcp_all(h, h.address(WLAN), ports) for h in (terminal_a, terminal_b)]
        controls = [reach for t in (terminal_a, terminal_b)
                    for reach in reachability.survey(t, gateway.address(WLAN), DEVICE, [CONTROL_PORT])]
        pairs = [(terminal_a, terminal_b), (terminal_b, terminal_a)]
        reaches = [reach for source, target in pairs
                   for reach in [reachability.arp_reach(source, target.address(WLAN), DEVICE),
                                 reachability.icmp_reach(source, target.address(WLAN)),
                                 *_tcp_all(source, target.address(WLAN), ports)]]
    finally:
        for listener in listeners:
            listener.close()
    findings, allowed = reachability.judge_isolation(reaches, exceptions)
    evidence.json("wlan-probes.json", {
        "segment": wlan_segment.facts()["segments"].get(WLAN),
        "declared": {"isolation": candidate.wlan.isolation, "exceptions": [e.__dict__ for e in exceptions]},
        "terminals": {h.name: h.address(WLAN) for h in (terminal_a, terminal_b)},
        "gateway": gateway.address(WLAN),
        "positive_control_own_listeners": [r.to_json() for group in own for r in group],
        "positive_control_gateway": [r.to_json() for r in controls],
        "probes": [r.to_json() for r in reaches],
        "accepted_by_listener": {lst.address: lst.accepted for lst in listeners},
        "findings": findings,
        "allowed_by_exception": allowed,
    })
    unreached = [r for group in own for r in group if not r.reached] + [r for r in controls if not r.reached]
    if unreached:
        raise HarnessError("wlan", "positive control failed, so an unreached terminal would prove nothing / 陽性対照の"
                           "失敗: " + "; ".join(f"{r.source} → {r.target} {r.probe}: {r.detail}" for r in unreached))
    if findings:
        raise AssertionError("無線LAN上の端末同士が到達できる / terminals on the wireless LAN reach each other: "
                             + "; ".join(findings))


def _tcp_all(source: Any, address: str, ports: list[int]) -> list[Reach]:
    """Every port at once: an isolated target lets each connect run into its timeout, so one bound for all."""
    with ThreadPoolExecutor(max_workers=len(ports)) as pool:
        return list(pool.map(lambda port: reachability.tcp_reach(source, address, port), ports))
