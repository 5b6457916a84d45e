"""Screen transfer carries only screen and input (ST-01).

A canary is typed into the remote desktop through the client's canvas and another is shown by the
remote page. The remote probe proves both really happened (it reports what it received); the network
oracle recorded every websocket message between the client and the gateway, and the RFB parser decodes
them. Neither canary may appear as text in what the gateway sends to the terminal, and the typed one
may leave the terminal only as key events. An undecodable (encrypted or unknown) wire is ``error``:
nothing can be said about what it carries.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from conformance.errors import HarnessError
from conformance.oracles import rfb

pytestmark = pytest.mark.candidate_kind("screen-transfer")

TYPEBOX = (320, 230)  # remote-probe.html layout, remote pixels


def wait_for_report(site: Any, event: str, contains: str, since: float, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for report in site.reports():
            recent = report.get("received", 0) >= since and report.get("event") == event
            if recent and contains in str(report.get("value", "")):
                return report
        time.sleep(0.1)
    raise HarnessError("remote-probe", f"the remote side never reported {event!r} with {contains!r}")


def gateway_wire(network_oracle: Any, gateway_host: str, since: float) -> rfb.WireReport:
    """The RFB stream of this session: the newest websocket to the gateway opened after ``since``.
    It is parsed whole, from its handshake, or it cannot be decoded at all."""
    flows = [r for r in network_oracle.records() if r.host == gateway_host and r.websocket and r.time >= since]
    if not flows:
        raise HarnessError("mitmproxy", f"no websocket traffic to {gateway_host} was recorded for this session")
    newest = max(flows, key=lambda r: r.time)
    return rfb.parse_messages(("from_client" if m.from_client else "from_server", m.content) for m in newest.websocket)


@pytest.mark.requirement("ST-01")
def test_only_screen_and_input_cross(
    candidate_session: Any, fixture_site: Any, network_oracle: Any, driver: Any, canary: str, evidence: Any
) -> None:
    """画面と入力以外の文字情報が経路に流れない / only screen and input cross the wire"""
    since = time.time()
    candidate_session.click_remote(*TYPEBOX)
    candidate_session.type_remote(canary)
    wait_for_report(fixture_site, "input", canary, since)
    candidate_session.page.wait_for_timeout(500)  # let the screen update that shows the text go out
    evidence.screenshot(candidate_session, "canvas.png")
    wire = gateway_wire(network_oracle, driver.settings.gateway_host, candidate_session.connected_at - 30)
    evidence.json("wire-summary.json", wire.summary())
    if not wire.decodable:
        raise HarnessError("rfb", f"the wire cannot be inspected: {'; '.join(wire.decode_errors[:3])}")
    if canary not in wire.typed_text:
        raise HarnessError("rfb", "the typed canary is not in the decoded key events: the parser missed input")
    shown = driver.remote_canary
    hits = rfb.find_text(wire, [canary, shown]) if shown else rfb.find_text(wire, [canary])
    text_hits = [h for h in hits if h.where != "from_client" or h.needle != canary]
    evidence.json("text-on-wire.json", [h.__dict__ for h in hits])
    assert not text_hits, f"screen content crossed the wire as text / 画面内容が文字として転送された: {text_hits[:5]}"
