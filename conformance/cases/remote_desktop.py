"""Steps shared by the screen-transfer cases: the remote probe's layout and reports, the gateway wire.

Not a test module (pytest collects ``test_*.py`` only); the cases import from here, never from each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from conformance.errors import HarnessError
from conformance.oracles import ocr, rfb

# remote-probe.html, in remote pixels: x, y, w, h (keep in sync with the page's layout table)
LAYOUT: dict[str, tuple[int, int, int, int]] = {
    "canary": (20, 16, 1240, 96),
    "typebox": (20, 130, 600, 200),
    "pastebox": (660, 130, 600, 200),
    "copy": (20, 350, 290, 110),
    "download": (330, 350, 290, 110),
    "downloadurl": (660, 350, 290, 110),
    "print": (970, 350, 290, 110),
    "selectable": (20, 480, 1240, 110),
}

TYPEBOX = (320, 230)  # kept for callers of the first version of this module


REPORT_TIMEOUT = 15.0  # a remote report reaches the fixture site in well under a second when idle


def target(driver: Any, name: str) -> tuple[int, int]:
    """Centre of a probe element in remote pixels: as the probe measured it, else from the table."""
    measured = driver.remote_layout().get(name) if hasattr(driver, "remote_layout") else None
    if measured:
        return int(measured["cx"]), int(measured["cy"])
    x, y, w, h = LAYOUT[name]
    return x + w // 2, y + h // 2


def reports_since(site: Any, since: float, event: str | None = None) -> list[dict]:
    return [
        r for r in site.reports()
        if r.get("received", 0) >= since and (event is None or r.get("event") == event)
    ]  # fmt: skip


def wait_for_report(
    site: Any, event: str, contains: str, since: float, timeout: float = REPORT_TIMEOUT,
    predicate: Callable[[dict], bool] | None = None,
) -> dict:
    """The first remote-probe report of ``event`` since ``since`` whose value holds ``contains``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for report in reports_since(site, since, event):
            if contains in str(report.get("value", "")) and (predicate is None or predicate(report)):
                return report
        time.sleep(0.1)
    raise HarnessError("remote-probe", f"the remote side never reported {event!r} with {contains!r}")


def wait_until(page: Any, predicate: Callable[[], Any], timeout: float, interval_ms: int = 200) -> Any:
    """Poll ``predicate`` until it is truthy or ``timeout`` passes; returns its last value. Waits with
    ``page.wait_for_timeout`` so that Playwright keeps delivering page events meanwhile (spike P5)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        page.wait_for_timeout(interval_ms)


def gateway_wire(network_oracle: Any, gateway_host: str, since: float) -> rfb.WireReport:
    """The RFB stream of this session: the newest websocket to the gateway opened after ``since``.
    It is parsed whole, from its handshake, or it cannot be decoded at all."""
    flows = [r for r in network_oracle.records() if r.host == gateway_host and r.websocket and r.time >= since]
    if not flows:
        raise HarnessError("mitmproxy", f"no websocket traffic to {gateway_host} was recorded for this session")
    newest = max(flows, key=lambda r: r.time)
    return rfb.parse_messages(("from_client" if m.from_client else "from_server", m.content) for m in newest.websocket)


def session_wire(network_oracle: Any, driver: Any, session: Any) -> rfb.WireReport:
    """The decoded wire of ``session``; an undecodable wire is a HarnessError (nothing can be said)."""
    wire = gateway_wire(network_oracle, driver.settings.gateway_host, session.connected_at - 30)
    if not wire.decodable:
        raise HarnessError("rfb", f"the wire cannot be inspected: {'; '.join(wire.decode_errors[:3])}")
    return wire


def reference_stack(driver: Any, what: str) -> Any:
    """The suite's own remote side (the reference stack), which ``what`` needs as its remote oracle."""
    stack = getattr(driver, "stack", None)
    if stack is None:
        raise HarnessError("webvdi", f"{what} needs the remote side of the suite's reference stack; "
                                     "this candidate names its own gateway, so nothing can be decided")
    return stack


def cut_text_rows(wire: rfb.WireReport) -> list[dict[str, Any]]:
    """Every clipboard message on the wire, decoded, one row each (evidence)."""
    rows = []
    for where, items in (("server→client", wire.server_cut_texts), ("client→server", wire.client_cut_texts)):
        for cut in items:
            rows.append({"direction": where, "action": cut.action, "extended": cut.extended,
                         "formats": list(cut.formats), "carries_data": cut.carries_data, "text": cut.text[:500],
                         "bytes": len(cut.data), "heuristic": cut.heuristic, "offset": cut.offset})
    return rows


def ocr_shown_canary(session: Any, evidence: Any, shown: str) -> dict[str, Any]:
    """Supporting evidence: the canvas crop of the shown canary, read with tesseract."""
    if not shown or not hasattr(session, "canvas_crop"):
        return {"ocr": "not attempted: no shown canary or no canvas"}
    if not ocr.available():
        return {"ocr": "not attempted: tesseract is not installed (Debian tesseract-ocr)"}
    x, y, w, h = LAYOUT["canary"]
    scratch = session.canvas_crop(evidence.path(".crop.png"), x, y, w, h)
    if scratch is None:
        return {"ocr": "not attempted: the canvas could not be read"}
    crop = evidence.file(scratch, "shown-canary-crop.png")
    scratch.unlink(missing_ok=True)
    try:
        read = ocr.read_text(crop, whitelist=ocr.CANARY_CHARS)
    except HarnessError as exc:  # supporting evidence only: never decides
        return {"ocr": f"failed: {exc}"}
    return {"ocr": read, "expected": shown, "similarity": ocr.similarity(read, shown)}
