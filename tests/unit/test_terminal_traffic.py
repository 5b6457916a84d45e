"""Unit tests for what namespace observation adds to the network and leak oracles: the oracle's own DNS
answers, UDP and DNS records folded into attempts and judged by protocol, datagrams and query names
scanned for planted data, the loopback-only routing rule, the fallback's stated reason, and the checks
that decide whether a terminal namespace can be made. Synthetic records only: no proxy, no browser."""

from __future__ import annotations

import base64
import ipaddress
from pathlib import Path

import pytest
from mitmproxy import dns
from mitmproxy.test import tflow

from conformance.environment import terminal_netns
from conformance.errors import HarnessError
from conformance.oracles.leak import LeakScanner
from conformance.oracles.network import (
    NAME_ADDRESSES,
    POSITIVE_CONTROL_PEER,
    FlowRecord,
    FlowRecorder,
    NameService,
    NetworkOracle,
    WebSocketMessage,
    connection_attempts,
    is_loopback,
    judge_attempts,
)
from conformance.verdicts import CaseResult, decide

CANARY = "CNRY-UNIT-0123456789"
MYNUMBER = "123456789018"
CORPORATE = "7123456789012"
DECLARED = [("internet.test", 443), ("lgwan.test", 443)]
T0 = 1_800_000_000.0


def record(kind: str, host: str, port: int, *, t: float = T0, fid: str = "r", datagrams: list[bytes] = (),
           method: str = "", address: str = "") -> FlowRecord:  # fmt: skip
    return FlowRecord(id=fid, time=t, kind=kind, host=host, port=port, method=method, address=address,
                      datagrams=[WebSocketMessage(True, d, t) for d in datagrams])  # fmt: skip


# -- the oracle's DNS --------------------------------------------------------------------------------
def _query(name: str, qtype: int) -> dns.DNSFlow:
    flow = tflow.tdnsflow()
    flow.request = dns.Message(
        timestamp=T0, id=7, query=True, op_code=dns.op_codes.QUERY, authoritative_answer=False, truncation=False,
        recursion_desired=True, recursion_available=False, reserved=0, response_code=dns.response_codes.NOERROR,
        questions=[dns.Question(name, qtype, dns.classes.IN)], answers=[], authorities=[], additionals=[],
    )  # fmt: skip
    flow.response = None
    return flow


def test_name_service_answers_every_query_itself_with_a_stable_address_and_records_it() -> None:
    recorder = FlowRecorder()
    names = NameService(recorder)
    first, again, other = _query("Internet.Test", dns.types.A), _query("internet.test.", dns.types.A), _query(
        "cnry-x.evil.test", dns.types.A)
    for flow in (first, again, other):
        names.dns_request(flow)
    address = str(first.response.answers[0].ipv4_address)
    assert address == str(again.response.answers[0].ipv4_address)  # one name, one address, all run long
    assert ipaddress.ip_address(address) in NAME_ADDRESSES
    assert str(other.response.answers[0].ipv4_address) != address
    assert names.name_of(address) == "internet.test"
    aaaa = _query("internet.test", dns.types.AAAA)
    names.dns_request(aaaa)
    assert aaaa.response is not None and aaaa.response.answers == []  # answered (empty), never forwarded
    kinds = [(r.kind, r.host, r.method) for r in recorder.records()]
    assert ("dns", "cnry-x.evil.test", "A") in kinds and ("dns", "internet.test", "AAAA") in kinds


def test_routes_lead_only_to_loopback(tmp_path: Path) -> None:
    oracle = NetworkOracle(tmp_path / "mitm", tmp_path / "ca.pem")
    oracle.route("internet.test", 443, ("127.0.0.1", 1001))
    with pytest.raises(HarnessError, match="only routes to loopback"):
        oracle.route("internet.test", 443, ("192.0.2.10", 443))
    assert is_loopback("127.0.0.5") and is_loopback("::1")
    assert not is_loopback("198.51.100.7") and not is_loopback("evil.test")


# -- attempts and judgement by protocol ---------------------------------------------------------------
def test_udp_flows_and_dns_lookups_are_attempts_of_their_own_protocol() -> None:
    records = [
        record("dns", "internet.test", 53, method="A", fid="d1"),
        record("tcp", "internet.test", 443, t=T0 + 0.1, fid="t1", address="198.19.0.1"),
        record("udp", "internet.test", 443, t=T0 + 0.2, fid="u1", datagrams=[b"\xc0quic"]),
        record("dns", "stun.evil.test", 53, t=T0 + 1, method="A", fid="d2"),
        record("udp", "198.51.100.7", 3478, t=T0 + 1.1, fid="u2", datagrams=[b"stun-1", b"stun-2"]),
        record("udp", *POSITIVE_CONTROL_PEER, t=T0 - 10, fid="pc", datagrams=[b"positive-control"]),
    ]
    attempts = {a.endpoint: a for a in connection_attempts(records)}
    assert set(attempts) == {"internet.test (DNS)", "internet.test:443", "internet.test:443/udp",
                             "stun.evil.test (DNS)", "198.51.100.7:3478/udp", "192.0.2.1:9/udp"}  # fmt: skip
    assert attempts["198.51.100.7:3478/udp"].datagrams == 2 and attempts["198.51.100.7:3478/udp"].payload_bytes == 12
    assert attempts["internet.test:443"].addresses == {"198.19.0.1"}
    rows = {r["endpoint"]: r for r in judge_attempts(attempts.values(), DECLARED)}
    assert rows["internet.test (DNS)"]["status"] == "declared"  # a lookup of a declared host
    assert rows["internet.test:443"]["status"] == "declared"
    assert rows["internet.test:443/udp"]["status"] == "undeclared"  # QUIC was not declared: TCP only
    assert rows["stun.evil.test (DNS)"]["status"] == "undeclared"
    assert rows["198.51.100.7:3478/udp"]["status"] == "undeclared"
    assert rows["192.0.2.1:9/udp"]["status"] == "harness"
    declared_udp = judge_attempts(attempts.values(), [*DECLARED, ("internet.test", 443, "udp")])
    assert {r["endpoint"]: r["status"] for r in declared_udp}["internet.test:443/udp"] == "declared"


# -- leak scan of datagrams and names --------------------------------------------------------------------
def test_datagram_payloads_and_dns_names_are_scanned_for_planted_data() -> None:
    ufrag = base64.b64encode(CANARY.encode()).decode().rstrip("=") + f"+{MYNUMBER}+{CORPORATE}"
    stun = b"\x00\x01\x00\x50\x21\x12\xa4\x42abcdefghijkl\x00\x06\x00\x40" + ufrag.encode() + b":AbCd"
    flows = [
        record("udp", "198.51.100.7", 3478, fid="u1", datagrams=[b"\x00\x01 nothing here", stun]),
        record("dns", CANARY.lower() + ".stun.evil.test", 53, method="A", fid="d1"),
        record("dns", "internet.test", 53, method="A", fid="d2"),
    ]
    scanner = LeakScanner([CANARY], {MYNUMBER, CORPORATE}, DECLARED)
    hits = scanner.undeclared(flows)
    where = {(h.destination, h.channel, h.kind) for h in hits}
    assert ("198.51.100.7:3478/udp", "datagram[1]", "canary") in where
    assert ("198.51.100.7:3478/udp", "datagram[1]", "mynumber") in where
    assert ("198.51.100.7:3478/udp", "datagram[1]", "corporate-number") in where
    assert (f"{CANARY.lower()}.stun.evil.test (DNS)", "host", "canary") in where
    assert not any(h.channel == "datagram[0]" for h in hits)  # the plain datagram carries nothing
    declared_name = LeakScanner([CANARY], set(), [(CANARY.lower() + ".stun.evil.test", 443)])
    assert declared_name.undeclared(flows[1:2]) == []  # a lookup of a declared name is declared


# -- fallback said out loud -----------------------------------------------------------------------------
def test_proxy_observation_states_what_it_cannot_see_and_the_reason_reaches_the_verdict(tmp_path: Path) -> None:
    proxy = NetworkOracle(tmp_path / "m", tmp_path / "ca.pem", fallback_reason="not running as root (euid 1000)")
    assert proxy.observation == "proxy"
    note = proxy.unobservable()
    assert "not running as root" in note and "UDP" in note and "DNS" in note
    passed = CaseResult("case", ["NET-01"], "pass", notes=[note])
    verdict, reason = decide([passed])
    assert verdict == "pass" and note in reason
    failed = CaseResult("case", ["NET-01"], "fail", message="evil.test", notes=[note])
    assert note in decide([failed, passed])[1]


def test_namespace_unavailable_reasons(tmp_path: Path) -> None:
    assert "not running as root" in terminal_netns.unavailable_reason(euid=1000)
    missing = tmp_path / "no-tun"
    reason = terminal_netns.unavailable_reason(tun_device=missing, euid=0)
    assert reason is not None and str(missing) in reason and "does not exist" in reason


def test_the_report_header_says_how_the_network_was_observed() -> None:
    from conformance.report import _observation_line

    assert "every packet" in _observation_line({"observation": "namespace"})
    proxy = _observation_line({"observation": "proxy", "not_observable": "UDP <not> observable"})
    assert "proxy only" in proxy and "UDP &lt;not&gt; observable" in proxy  # escaped
    assert _observation_line({"observation": None}) == ""
