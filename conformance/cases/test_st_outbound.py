"""No terminal content leaves over the screen-transfer wire (ST-03, catalog 2026.12.0).

CLIP-02 and UL-01 ask whether terminal content reached the remote desktop; a municipality's question is
earlier: did LGWAN-side data leave the terminal at all? A server that drops a pasted text or an uploaded file
has still received it. So each act puts terminal content where the client could pick it up and send it:

* ``os-clipboard``: the canary on the terminal's OS clipboard (xclip, as any terminal application would), then
  a paste inside the remote desktop (click into the remote paste box, Ctrl+V through the canvas), which is
  when a client that synchronises clipboards sends it;
* ``clipboard-panel``: the canary typed into the client's own clipboard panel (noVNC), then the same paste;
* ``file``: a terminal file holding the canary given to the client's own upload UI (Xpra's menu, the native
  file dialog) or dropped on the canvas (the upload helper of UL-01).

Oracle: every message from the client to the platform, decoded with the profile's protocol, except input
events (a paste shortcut is input, its text is not), decompressed, and the raw bytes of that direction —
the raw search finds the canary even when the wire cannot be decoded, and a hit fails the case then too
(evidence first). Positive control: a marker typed after the act is found in the decoded key events, so the
capture covers the time after the act. Without a hit, an undecodable wire is ``error``.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Any

import pytest

from conformance.cases.observation import Observation
from conformance.cases.remote_desktop import hand_over_file, outbound_wire, paste_in_remote
from conformance.drivers.base import ScreenTransferDriver, ScreenTransferSession
from conformance.errors import HarnessError
from conformance.plugin import not_applicable

pytestmark = pytest.mark.candidate_kind("screen-transfer")

ACTS = ["os-clipboard", "clipboard-panel", "file"]
ACT_TIMEOUT = 15.0


def act(name: str, session: ScreenTransferSession, driver: ScreenTransferDriver, clipboard_oracle: Any,
        desktop: Any, canary: str, evidence: Any, owned: ExitStack) -> dict[str, Any]:
    """Put terminal content within the client's reach as a user would; returns what was done (evidence)."""
    since = time.time()
    if name == "os-clipboard":
        owned.enter_context(clipboard_oracle.own("clipboard", canary))
        return {"paste": _paste(session, driver, since)}
    if name == "clipboard-panel":
        if not session.set_client_clipboard(canary):
            not_applicable("the client has no clipboard panel / クライアントにクリップボード欄がない")
        return {"panel": session.client_clipboard_text(), "paste": _paste(session, driver, since)}
    return {"file": hand_over_file(session, driver, desktop, canary, evidence)}


def _paste(session: ScreenTransferSession, driver: ScreenTransferDriver, since: float) -> Any:
    """The paste is the moment a synchronising client sends; that the remote side then shows it is CLIP-02's."""
    try:
        return paste_in_remote(session, driver, since, ACT_TIMEOUT)
    except HarnessError as exc:  # no paste event (nothing to paste remotely) still means Ctrl+V was pressed
        if "click" in exc.reason and "pastebox" in exc.reason:
            raise
        return {"paste_event": None, "note": exc.reason}


@pytest.mark.requirement("ST-03")
@pytest.mark.parametrize("name", ACTS)
def test_terminal_content_does_not_leave(
    name: str, candidate_session: ScreenTransferSession, driver: ScreenTransferDriver, network_oracle: Any,
    clipboard_oracle: Any, desktop: Any, canary: str, evidence: Any, crossing_times: Any,
) -> None:
    """端末の内容が画面転送の通信路で送出されない / no terminal content leaves over the wire"""
    observation = Observation()
    with ExitStack() as owned:  # the terminal clipboard stays owned until the capture is taken
        done = act(name, candidate_session, driver, clipboard_oracle, desktop, canary, evidence, owned)
        model, hits, marker, watch = outbound_wire(candidate_session, driver, network_oracle, canary, observation,
                                                   crossing_times, "STMARK")
    evidence.json("observation.json", {
        "requirement": "ST-03", "act": name, "canary": canary, "done": done, "typed_after": marker,
        "wire_hits": hits, "wire_watch": watch, "messages_to_platform": model.rows() if model is not None else None,
        "wire": model.summary() if model is not None else None,
        "not_observable": observation.to_json()["not_observable"],
    })
    if hits:
        observation.saw("wire to the platform", hits[:3])
    observation.decide(f"terminal content ({name}) left the terminal over the wire / "
                       "端末の内容が通信路で基盤へ送られた")
