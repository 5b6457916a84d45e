"""Maintenance (MNT-01): no remote-debugging or automation endpoint of the candidate is reachable over the network.

The oracle is the terminal's socket table (``ss``), filtered to the candidate's process tree, plus a
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
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.cases.debug_endpoints import debug_arguments, endpoints_of, judge, listener_positive_control
from conformance.errors import HarnessError
from conformance.oracles import ports


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
