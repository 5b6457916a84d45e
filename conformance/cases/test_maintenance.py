"""Maintenance path (保守経路): debugging endpoints of the candidate (MNT-01) and the platform's maintenance side
(MNT-02 admin exposure, MNT-03 validated TLS).

MNT-01's oracle is the terminal's socket table (``ss``), filtered to the candidate's process tree, plus a
plain-socket probe of each TCP listener: ``GET /json/version`` answering with ``webSocketDebuggerUrl``
is a Chrome DevTools Protocol endpoint, which gives full control of the browser (every page, cookie
and file it can reach) to whoever connects. The verdict:

* a DevTools endpoint reachable over TCP, on any address (loopback too: every local process and any
  port forward can drive it) -> fail;
* any TCP listener of the candidate on a non-loopback address (0.0.0.0, ::, a LAN address) -> fail:
  it is reachable from the network whatever it speaks.

Probes only touch loopback (a wildcard listener is probed via 127.0.0.1 / ::1); a listener bound to a
specific non-loopback address is judged from ``ss`` alone and not probed. The suite itself drives the
candidate over a pipe (``--remote-debugging-pipe``, file descriptors 3 and 4 inherited from Playwright):
that is not a network endpoint and does not show up here. Before judging, the case proves that ``ss``
attributes sockets to processes: it opens a listener of its own and must find it.

One case for every kind: for a screen-transfer candidate the processes judged are the terminal-side
client's (the terminal browser showing the HTML5 client); the reference stack's own listeners are the
remote platform's and are listed as information only.

MNT-02 and MNT-03 look at the platform's maintenance side, started by the profile's ``[maintenance] start`` on
the dual-homed platform host of the suite's test network (``environment/maintenance_platform.py``): a scan
and the admin endpoints from the user segment's terminal host (after a listener of the suite on the same
address proved the scan would see one), authentication, default credentials and TLS from the management
segment's maintenance host. The observations are ``oracles/maintenance.py``'s; what could not be observed
makes the case ``error``, never ``pass``.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.cases.debug_endpoints import debug_arguments, endpoints_of, judge, listener_positive_control
from conformance.environment.test_network import MANAGEMENT, USER
from conformance.errors import HarnessError
from conformance.oracles import maintenance, ports


@pytest.mark.requirement("MNT-01")
def test_no_debug_endpoint_reachable(candidate: Any, candidate_session: Any, driver: Any, evidence: Any) -> None:
    """リモートデバッグ・自動操作の口がネットワークから届かない / no debugging or automation port on the network"""
    if candidate.kind == "secure-browser":
        candidate_session.open("https://internet.test/")  # the browser in its normal browsing state
    # (a screen-transfer session is already connected: its client page is the normal state)
    pids = candidate_session.pids()
    if not pids:
        raise HarnessError(driver.name, "no process of the candidate found: nothing to inspect")
    control = listener_positive_control()
    endpoints = endpoints_of(pids)
    findings = judge(endpoints)
    platform_pids = driver.platform_pids()
    platform = (
        sorted({f"{i.proto} {i.address}:{i.port} {i.process}" for i in ports.listeners(pids=platform_pids, udp=False)})
        if platform_pids
        else []
    )
    evidence.json(
        "endpoints.json",
        {
            "candidate_pids": pids,
            "process_tree": sorted(ports.descendants(pids)),
            "debug_arguments": {str(pid): args for pid, args in debug_arguments(pids).items()},
            "positive_control": control,
            "listeners": endpoints,
            "findings": findings,
            "platform_listeners (information)": platform,
            "note": "the suite drives the candidate over --remote-debugging-pipe (fds 3/4), not over a socket",
        },
    )
    if findings:  # explicit: the verdict message carries the findings, not pytest's repr of the list
        raise AssertionError(
            "a debugging or network endpoint of the candidate is reachable / リモートデバッグ等の口に到達できる: "
            + "; ".join(findings)
        )


def _running(platform: Any) -> Any:
    """The maintenance platform, or the reason it is not there (an error, never a verdict)."""
    if isinstance(platform, HarnessError):
        raise platform
    if not platform.running:
        raise HarnessError("maintenance", f"the platform's maintenance side stopped during the run; its log ends:\n"
                                          f"{platform.log_tail()}")
    return platform


def _decide(judgement: maintenance.Judgement) -> None:
    if judgement.findings:
        raise AssertionError("; ".join(dict.fromkeys(judgement.findings)))  # admin and update may share a port
    if judgement.unobservable:
        raise HarnessError("maintenance", "could not observe / 観測できない: " + "; ".join(judgement.unobservable))


@pytest.mark.requirement("MNT-02")
def test_admin_interface_not_exposed(candidate: Any, maintenance_platform: Any, evidence: Any) -> None:
    """管理インタフェースは利用者セグメントから届かず既定の認証情報を受け付けない / admin interface not exposed"""
    platform = _running(maintenance_platform)
    admin = [e for e in platform.endpoints if e.role == "admin"]
    if not admin:
        raise HarnessError("profile", "the candidate claims MNT-02 but declares no admin endpoint ([maintenance] "
                                      "endpoints with role = \"admin\")")
    user, management = platform.vantage(USER), platform.vantage(MANAGEMENT)
    user_address = platform.address(admin[0], USER)
    declared = candidate.maintenance.admin_ports
    ports_scanned = maintenance.ports_to_scan(declared, [e.url for e in admin])
    with platform.control_listener(USER) as control_port:
        scan_control = (user.call(lambda: maintenance.scan_ports(user_address, [control_port]))
                        if control_port is not None else None)
        user_scan = user.call(lambda: maintenance.scan_ports(user_address, ports_scanned))
    user_side = [user.call(lambda e=e: maintenance.probe_authentication(
        e.url, (platform.address(e, USER), e.port), platform.ca_bundle)) for e in admin]
    auth = [management.call(lambda e=e: maintenance.probe_authentication(
        e.url, (platform.address(e, MANAGEMENT), e.port), platform.ca_bundle)) for e in admin]
    trials = [trial for e, probe in zip(admin, auth, strict=True) if probe.get("auth_required") is True
              for trial in management.call(lambda e=e: maintenance.try_credentials(
                  e.url, (platform.address(e, MANAGEMENT), e.port), platform.ca_bundle,
                  list(maintenance.DEFAULT_CREDENTIALS)))]
    judgement = maintenance.judge_admin_exposure(
        user_address=user_address, user_scan=user_scan, declared_ports=declared,
        service_ports=candidate.maintenance.service_ports, auth_probes=auth,
        credential_trials=trials, user_side_probes=user_side, scan_control=scan_control,
    )
    evidence.json("admin-exposure.json", {"platform": platform.facts(), **judgement.as_dict(),
                                          "platform_log_tail": platform.log_tail().splitlines()})
    _decide(judgement)


@pytest.mark.requirement("MNT-03")
def test_maintenance_channels_use_validated_tls(candidate: Any, maintenance_platform: Any, evidence: Any) -> None:
    """保守・更新経路は検証された TLS 1.2 以上を使う / maintenance and update channels use validated TLS"""
    platform = _running(maintenance_platform)
    if not platform.endpoints:
        raise HarnessError("profile", "the candidate claims MNT-03 but declares no maintenance or update endpoint "
                                      "([maintenance] endpoints)")
    management = platform.vantage(MANAGEMENT)
    inspections = [management.call(lambda e=e: maintenance.inspect_tls(
        e.url, (platform.address(e, MANAGEMENT), e.port), platform.ca_bundle)) for e in platform.endpoints]
    judgement = maintenance.judge_transport(inspections)
    evidence.json("tls-handshakes.json", {"platform": platform.facts(), **judgement.as_dict()})
    _decide(judgement)
