"""Wireless LAN (WLAN-02): terminals on one wireless LAN cannot reach each other, except declared business exceptions.

Two test terminals on the profile's wireless segment (``environment/wlan.py``: the suite's reference bridge,
or the real wireless LAN of a lab, where the second terminal runs ``conformance wlan-peer``). The other terminal
keeps TCP listeners open on the ports a terminal typically offers on a LAN and on every declared exception
port; terminal A probes it with ARP (``arping``), ICMP echo (``ping``) and TCP connections, and on the reference
bridge the other terminal probes A the same way. Every reach that no declared exception covers is a finding,
and so is any connection the other terminal itself saw from A.

Positive controls first, so that "nothing reached" means isolation and not a broken segment, probe or peer:
the peer's listeners are up (on the reference each terminal connects to its own; in a lab the peer's control
endpoint, reached over another path, says so), and the probing terminals reach the segment's gateway (which
isolation never cuts, as wireless clients still reach their router) with the same probes.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.errors import HarnessError
from conformance.oracles import reachability
from conformance.oracles.reachability import PEER_PORTS, ExceptedPort


@pytest.mark.requirement("WLAN-02")
def test_wlan_terminals_cannot_reach_each_other(candidate: Any, wlan_segment: Any, evidence: Any) -> None:
    """無線LAN上の端末同士が通信できない / terminals on the wireless LAN cannot reach each other"""
    if isinstance(wlan_segment, HarnessError):
        raise wlan_segment
    missing = reachability.tools_missing()
    if missing:
        raise HarnessError(missing[0], f"{', '.join(missing)} not found (Debian packages iputils-ping, arping)")
    setup = wlan_segment
    exceptions = [ExceptedPort(e.port, e.protocol, e.purpose) for e in candidate.wlan.exceptions]
    ports = sorted(set(PEER_PORTS) | {e.port for e in exceptions if e.protocol == "tcp"})
    probers = [(setup.terminal, setup.peer_address, setup.terminal_address)]
    if setup.reverse is not None:
        probers.append((setup.reverse, setup.terminal_address, setup.peer_address))
    with setup.listening(ports) as (peer, gateway_ports):
        own = ([r for prober, _, address in probers for r in reachability.tcp_all(prober, address, ports)]
               if setup.reverse is not None else [])
        controls = reachability.survey_all([(prober, setup.gateway_address, gateway_ports)
                                            for prober, _, _ in probers], setup.device)
        reaches = reachability.survey_all([(prober, target, ports) for prober, target, _ in probers], setup.device)
        seen_by_peer = peer.accepted()
    findings, allowed = reachability.judge_isolation(reaches, exceptions)
    excepted = {e.port for e in exceptions if e.protocol == "tcp"}
    findings += [f"{setup.peer_address}:{port} が {source} からの接続を受けた / the other terminal accepted a "
                 f"connection from {source}" for port, sources in sorted(seen_by_peer.items()) if port not in excepted
                 for source in sources if source == setup.terminal_address]
    evidence.json("wlan-probes.json", {
        "setup": {"mode": setup.mode, **setup.facts},
        "declared": {"isolation": candidate.wlan.isolation, "exceptions": [e.__dict__ for e in exceptions]},
        "terminal": setup.terminal_address, "peer": setup.peer_address, "gateway": setup.gateway_address,
        "positive_control_peer_listening": peer.listening(),
        "positive_control_own_listeners": [r.to_json() for r in own],
        "positive_control_gateway": [r.to_json() for r in controls],
        "probes": [r.to_json() for r in reaches],
        "seen_by_peer": {str(port): sources for port, sources in seen_by_peer.items()},
        "findings": findings,
        "allowed_by_exception": allowed,
    })
    unreached = [r for r in own + controls if not r.reached]
    if unreached:
        raise HarnessError("wlan", "positive control failed, so an unreached terminal would prove nothing / 陽性対照の"
                           "失敗: " + "; ".join(f"{r.source} → {r.target} {r.probe}: {r.detail}" for r in unreached))
    if findings:
        raise AssertionError("無線LAN上の端末同士が到達できる / terminals on the wireless LAN reach each other: "
                             + "; ".join(findings))
