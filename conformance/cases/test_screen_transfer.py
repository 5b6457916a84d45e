"""Screen transfer carries only screen and input (ST-01), and the helpers the screen-transfer cases share.

A canary is typed into the remote desktop through the client's canvas and another is shown by the
remote page. The remote probe proves both really happened (it reports what it received); the network
oracle recorded every websocket message between the client and the gateway, and the RFB parser decodes
them. Neither canary may appear as text in what the gateway sends to the terminal, and the typed one
may leave the terminal only as key events. An undecodable (encrypted or unknown) wire is ``error``:
nothing can be said about what it carries.

Clipboard messages on the wire (ServerCutText / ClientCutText, Extended Clipboard inflated) are decoded
and listed as findings in the evidence; one that carries either canary is text on the wire and fails the
case like any other hit. This case does not copy anything itself: a remote copy crossing the wire is
CLIP-01's question (its wire oracle is the same decoder, and the open reference fails it there, which is
the decoder's positive control on Extended Clipboard). Here the decoder's in-case positive control is the
typed canary, which must be found in the decoded key events.

Supporting evidence only (never the verdict): the canvas crop of the shown canary read with tesseract,
which shows the canary was on the terminal's screen as pixels while it was not on the wire as text.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from conformance.cases.remote_desktop import (
    cut_text_rows,
    gateway_wire,
    ocr_shown_canary,
    target,
    wait_for_report,
)
from conformance.errors import HarnessError
from conformance.oracles import rfb

pytestmark = pytest.mark.candidate_kind("screen-transfer")

# remote-probe.html layout (remote pixels): the table at the top of the page; the probe's own "loaded"
# report measures it again and ``target`` prefers that measurement.




# -- ST-01 -----------------------------------------------------------------------------------------
@pytest.mark.requirement("ST-01")
def test_only_screen_and_input_cross(
    candidate_session: Any, fixture_site: Any, network_oracle: Any, driver: Any, canary: str, evidence: Any
) -> None:
    """画面と入力以外の文字情報が経路に流れない / only screen and input cross the wire"""
    since = time.time()
    candidate_session.click_remote(*target(driver, "typebox"))
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
    clipboard = cut_text_rows(wire)
    evidence.json("clipboard-on-wire.json", {
        "findings": clipboard,
        "with_data": [row for row in clipboard if row["carries_data"]],
        "note": "clipboard messages decoded from the wire (Extended Clipboard inflated); caps/notify carry no text",
    })
    evidence.json("text-on-wire.json", [h.__dict__ for h in hits])
    evidence.json("screen-ocr.json", ocr_shown_canary(candidate_session, evidence, shown))
    assert not text_hits, f"screen content crossed the wire as text / 画面内容が文字として転送された: {text_hits[:5]}"
