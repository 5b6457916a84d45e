"""Screen transfer carries only screen and input (ST-01).

A canary is typed into the remote desktop through the client's canvas and another is shown by the
remote probe. The probe proves both really happened (it reports what it received); the network oracle
recorded every websocket message between the client and the gateway, and the decoder of the protocol the
profile declares (``driver.wire.protocol``: RFB, Xpra) turns them into one neutral model. Neither canary
may travel as anything but key events: not in the raw bytes of either direction, not in any decoded
(decompressed) message that is not input. Evidence first: a hit in the raw bytes fails the case even when
the wire cannot be decoded; without a hit, an undecodable (encrypted, unknown) wire is ``error``.

Clipboard, file, print and URL messages on the wire are listed as findings in the evidence. This case copies
nothing itself: a remote copy crossing the wire is CLIP-01's question, terminal content sent to the platform
ST-03's. The decoder's in-case positive control is the typed canary, found in the decoded key events.

Supporting evidence only (never the verdict): the canvas crop of the shown canary read with tesseract,
which shows the canary was on the terminal's screen as pixels while it was not on the wire as text.
"""

from __future__ import annotations

import pytest

from conformance import waits
from conformance.cases.observation import Observation
from conformance.cases.remote_desktop import content_hits, decoded, ocr_shown_canary, session_wire, type_in_remote
from conformance.drivers.base import ScreenTransferDriver, ScreenTransferSession
from conformance.errors import HarnessError

pytestmark = pytest.mark.candidate_kind("screen-transfer")


@pytest.mark.requirement("ST-01")
def test_only_screen_and_input_cross(
    candidate_session: ScreenTransferSession, network_oracle: object, driver: ScreenTransferDriver, canary: str,
    evidence: object,
) -> None:
    """画面と入力以外の文字情報が経路に流れない / only screen and input cross the wire"""
    probe = driver.remote.probe
    typed = type_in_remote(candidate_session, driver, canary)
    evidence.json("typed.json", {"attempts": typed.attempts, "seconds": typed.seconds, "report": typed.report})
    waits.pause(0.5, page=candidate_session.page)  # let the screen update that shows the text go out
    evidence.screenshot(candidate_session, "canvas.png")
    model = session_wire(network_oracle, driver, candidate_session)
    evidence.json("wire-summary.json", model.summary())
    shown = probe.canary
    # Evidence first: the raw bytes are searched even when the wire cannot be decoded.
    hits = content_hits(model, [shown, canary], "from_server") + content_hits(model, [shown, canary], "from_client")
    evidence.json("messages-on-wire.json", {
        "findings": model.rows(),
        "note": "clipboard, file, print and URL messages decoded from the wire (decompressed)",
    })
    evidence.json("text-on-wire.json", hits)
    evidence.json("screen-ocr.json", ocr_shown_canary(candidate_session, driver, evidence))
    observation = Observation()
    if hits:
        observation.saw("wire", hits[:5])
    observation.read("decoded wire", lambda: decoded(model), None)
    if model.decodable and canary not in model.typed_text:
        observation.blind("decoded wire", HarnessError(f"wire-{model.protocol}", "the typed canary is not in the "
                                                       "decoded key events: the decoder missed input"))
    observation.decide("screen content crossed the wire as text / 画面内容が文字として転送された")
