"""Side channels of a screen-transfer session on the terminal: network (NET-01), data leak (LEAK-01) and
residue (RES-01). Maintenance endpoints (MNT-01) are judged for every kind in ``test_maintenance``.

NET-01. The candidate's terminal side is the client page in an ordinary browser. The proxy records every
connection the terminal makes, but the browser also talks by itself (a stock Chromium contacts
accounts.google.com, update and Safe Browsing hosts): that is the terminal's browser, the municipality's own
software, not the candidate. So each recorded destination is attributed: a destination the client page
requested (Playwright ``request`` events of the session's browser context, and the page's websockets, watched
from before the client's first request) is the candidate's, and must be a declared endpoint of the profile; a
destination the page never requested is reported as a finding ("terminal browser, not attributed to the client
page"), with the known background hosts named, and does not fail the candidate. Limitation: a connection the
page causes without any request (``<link rel=preconnect>``) cannot be attributed; it is listed among the
findings for a person to judge. The remote platform's own traffic (the remote browser loading the probe page)
does not pass the terminal and is out of this oracle's view.

LEAK-01. A canary and a 個人番号 / 法人番号 with valid check digits are typed into the remote desktop (the
probe reports them, which proves the act); the remote page shows another canary. Every flow the terminal sent
during the session is scanned (``oracles.leak``: URL, headers, bodies, websocket messages, encodings peeled);
a hit in a flow to a destination that is not declared fails. The key events to the declared gateway carry
the typed text by design (that is input, ST-01's business). The catalog also names the terminal's clipboard and
disk: the terminal's X selections and the session's download roots are scanned for the planted values too.
The scanner's positive control runs in the case: a synthetic flow holding every planted value must be found.
A remote copy reaching the terminal is CLIP-01's question; this case copies nothing.

RES-01. The typed and the shown canaries are the session's content. After ``close_as_user`` (the terminal
browser's window closed with the keyboard, the browser exits by itself) the session's disk roots (profile, home,
temp) are scanned for both, UTF-8 and UTF-16. A control file with a marker is put in a root before the close and
must be found by the same scan, so "nothing found" means the scan ran over readable roots. The client page's
own address (the gateway URL in the history) is the candidate's configuration, not session content; its traces
are listed as information.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from conformance import waits
from conformance.cases.remote_desktop import type_in_remote
from conformance.cases.residue_scan import residue_hits, summarize
from conformance.detectors import load_test_numbers, scan
from conformance.errors import HarnessError
from conformance.oracles import files
from conformance.oracles.leak import LeakScanner
from conformance.oracles.network import (
    FlowRecord,
    connection_attempts,
    endpoint_matches,
    judge_attempts,
)

pytestmark = pytest.mark.candidate_kind("screen-transfer")

BACKGROUND_SECONDS = 10.0  # idle with the client connected: keep-alives, reconnects, the browser's own traffic
SHUTDOWN_SECONDS = 2.0  # traffic a browser sends while it exits still counts
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def _endpoint(url: str) -> tuple[str, int] | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None  # data:, blob:, about: never leave the browser
    return parts.hostname.lower(), parts.port or DEFAULT_PORTS[parts.scheme]


def _first(items: list[str], n: int) -> dict[str, Any]:
    return {"count": len(items), "first": items[:n]}


# -- NET-01 ----------------------------------------------------------------------------------------
class ClientRequests:
    """What the client page requested (the candidate's own traffic), watched from before it connects."""

    def __init__(self, session: Any) -> None:
        self.seen: list[dict[str, Any]] = []
        session.page.context.on("request", lambda r: self._add(r.url, r.method, r.resource_type))
        session.page.on("websocket", lambda ws: self._add(ws.url, "GET", "websocket"))

    def _add(self, url: str, method: str, kind: str) -> None:
        self.seen.append({"url": url[:300], "method": method, "type": kind, "time": time.time(),
                          "endpoint": _endpoint(url)})

    def endpoints(self) -> set[tuple[str, int]]:
        return {r["endpoint"] for r in self.seen if r["endpoint"] is not None}


TERMINAL_BROWSER = "terminal browser (not attributed to the client page)"


def attribute(attempts: list[Any], client: set[tuple[str, int]], candidate: Any) -> list[dict[str, Any]]:
    """One row per destination the oracle saw: whose it is and whether it is declared (NET-01's judgement,
    ``network.judge_attempts``; then attributed to the client page when the page itself asked for it)."""
    judged = judge_attempts(
        attempts,
        [(e.host, e.port, e.protocol) for e in candidate.network.endpoints],
        [(b.host, b.port, b.reason, b.protocol) for b in candidate.network.background],
    )
    rows = []
    for attempt, row in zip(attempts, judged, strict=True):
        if attempt.protocol == "dns":  # a lookup is the page's when the page asked for that name
            mine = any(endpoint_matches(attempt.host, 0, [(host, 0)]) for host, _ in client)
        else:
            mine = endpoint_matches(attempt.host, attempt.port, client)
        if row["status"] == "undeclared":
            row["status"] = "undeclared (client page)" if mine else TERMINAL_BROWSER
        rows.append({**row, "requested_by_client_page": mine})
    return rows


@pytest.mark.requirement("NET-01")
@pytest.mark.usefixtures("bypass_caveat")
def test_client_connects_only_to_declared_endpoints(
    candidate: Any, driver: Any, network_oracle: Any, canary: str, evidence: Any, run_dir: Path
) -> None:
    """クライアントの通信先が申告した宛先に限られる / the client connects only to its declared endpoints"""
    network_oracle.require_alive()
    since = time.time()  # before the terminal browser starts: its start-up traffic is seen too
    session = driver.new_session(connect=False)
    try:
        client = ClientRequests(session)
        session.connect()
        type_in_remote(session, driver, canary)  # the session in use, not only idle
        waits.pause(BACKGROUND_SECONDS, page=session.page)
        evidence.screenshot(session, "session.png")
    finally:
        session.close_as_user()
    waits.pause(SHUTDOWN_SECONDS)
    network_oracle.require_alive()  # a proxy that died on the way saw only part of the traffic
    records = network_oracle.records(since)
    gateway = driver.wire.host
    # Prove the oracle saw this session: the client's websocket to the gateway went through the proxy.
    if not any(r.host == gateway and r.websocket for r in records):
        raise HarnessError("mitmproxy", f"no websocket to {gateway} was recorded for this session; nothing can be "
                                        "judged")
    if not any(e[0] == gateway for e in client.endpoints()):
        raise HarnessError("playwright", "the client page's requests were not observed; nothing can be attributed")
    attempts = connection_attempts(records)
    rows = attribute(attempts, client.endpoints(), candidate)
    seen_by_proxy = {(a.host, a.port) for a in attempts}
    declared = [(e.host, e.port) for e in candidate.network.endpoints]
    # A request of the page that the proxy never saw (cache or a bypass) still names where the client goes.
    unseen = sorted(e for e in client.endpoints() if not endpoint_matches(e[0], e[1], seen_by_proxy))
    undeclared = [r for r in rows if r["status"] == "undeclared (client page)"]
    undeclared += [{"endpoint": f"{h}:{p}", "status": "undeclared (client page, not seen by the proxy)",
                    "count": 0, "kinds": ["page request"], "note": ""}
                   for h, p in unseen if not endpoint_matches(h, p, declared)]
    terminal = [r for r in rows if r["status"].startswith("terminal browser")]
    evidence.json("connections.json", {
        "window": {"from": _iso(since), "to": _iso(time.time())},
        "declared": [e.model_dump() for e in candidate.network.endpoints],
        "declared_background": [b.model_dump() for b in candidate.network.background],
        "destinations": rows,
        "client_page_requests": client.seen,
        "client_endpoints_not_seen_by_proxy": [f"{h}:{p}" for h, p in unseen],
        "findings_terminal_browser": [f"{r['endpoint']} x{r['count']} {r['note']}".strip() for r in terminal],
    })
    evidence.file(network_oracle.dump(run_dir / f"st-net01-flows-{int(since)}.jsonl", since), "flows.jsonl")
    assert not undeclared, (
        f"the client connects to undeclared endpoints / クライアントが申告外の宛先へ接続した ({len(undeclared)}): "
        + ", ".join(f"{r['endpoint']} ({r['status']})" for r in undeclared)
    )


# -- LEAK-01 ---------------------------------------------------------------------------------------
@pytest.mark.requirement("LEAK-01")
@pytest.mark.usefixtures("bypass_caveat")
def test_planted_data_does_not_leave(
    candidate: Any, candidate_session: Any, driver: Any, network_oracle: Any,
    clipboard_oracle: Any, canary: str, evidence: Any, run_dir: Path,
) -> None:
    """リモート側の機微情報が申告外の宛先・端末に出ない / planted data does not leave to undeclared places"""
    data = load_test_numbers()
    mynumber, corporate = data.mynumbers_valid[0], data.corporate_valid[0]
    shown = driver.remote.probe.canary
    canaries = [c for c in (canary, shown) if c]
    since = candidate_session.connected_at - 60  # the session's start-up traffic included
    typed = type_in_remote(candidate_session, driver, f"{canary} {mynumber} {corporate}").report
    waits.pause(BACKGROUND_SECONDS, page=candidate_session.page)
    evidence.screenshot(candidate_session, "remote.png")
    network_oracle.require_alive()
    scanner = LeakScanner(canaries, {mynumber, corporate}, candidate.declared_endpoints())
    # Positive control of the scanner: a flow holding every planted value is found, each value.
    control = FlowRecord(id="control", time=time.time(), kind="http", host="control.invalid", port=443,
                         method="POST", scheme="https", path="/control",
                         request_body=f"c={'&c='.join(canaries)}&m={mynumber}&k={corporate}".encode())
    found = {h.value for h in scanner.scan([control])}
    if not {*canaries, mynumber, corporate} <= found:
        raise HarnessError("leak oracle", f"positive control: the scanner missed "
                                          f"{sorted({*canaries, mynumber, corporate} - found)}")
    records = network_oracle.records(since)
    if not any(r.host == driver.wire.host and r.websocket for r in records):
        raise HarnessError("mitmproxy", "the session's websocket to the gateway was not recorded; nothing to scan")
    hits = scanner.scan(records)
    leaks = [h for h in hits if not h.declared]
    planted = [*canaries, mynumber, corporate]
    selections = {s: clipboard_oracle.read(s) for s in ("clipboard", "primary")}
    on_clipboard = {s: v for s, v in selections.items()
                    if v and any(h.kind == "canary" or h.value in planted for h in scan(v, canaries))}
    on_disk = [{"path": str(h.path), "needle": h.needle, "encoding": h.encoding}
               for h in files.scan_for_text(candidate_session.download_roots, planted)]
    evidence.json("leak-hits.json", {
        "planted": {"typed": typed.get("value"), "shown_canary": shown, "mynumber": mynumber, "corporate": corporate},
        "flows_scanned": len(records), "undeclared_hits": [h.row() for h in leaks],
        "declared_hits": [h.row() for h in hits if h.declared],
        "terminal_selections_with_planted": on_clipboard, "terminal_files_with_planted": on_disk,
        "declared_endpoints": sorted(f"{h}:{p}" for h, p in candidate.declared_endpoints()),
    })
    evidence.file(network_oracle.dump(run_dir / f"st-leak-flows-{canary}.jsonl", since), "flows.jsonl")
    assert not (leaks or on_clipboard or on_disk), (
        "planted data left the remote side / 機微情報が申告外の宛先・端末に出た: "
        + "; ".join([f"{h.destination} {h.channel} {h.kind}={h.value}" for h in leaks[:8]]
                    + [f"terminal {s}" for s in on_clipboard] + [f"file {d['path']}" for d in on_disk[:5]])
    )


# -- RES-01 ----------------------------------------------------------------------------------------
@pytest.mark.requirement("RES-01")
def test_no_session_content_remains(
    candidate_session: Any, driver: Any, network_oracle: Any, canary: str, evidence: Any
) -> None:
    """セッション終了後、端末に画面転送の内容が残らない / no content of the remote session remains on the terminal"""
    roots = [Path(r) for r in candidate_session.disk_roots]
    if not roots:
        raise HarnessError("driver", "the driver names no disk roots for the session: nothing could be scanned")
    shown = driver.remote.probe.canary
    typed = type_in_remote(candidate_session, driver, canary).report
    waits.pause(1.0, page=candidate_session.page)  # the screen shows the typed text too
    evidence.screenshot(candidate_session, "before-close.png")
    marker = f"RESCONTROL{secrets.token_hex(6)}"
    control = roots[-1] / f"residue-control-{marker}.txt"
    control.parent.mkdir(parents=True, exist_ok=True)
    control.write_text(marker, encoding="utf-8")
    candidate_session.close_as_user()  # the fixture's teardown close is then a no-op
    close = dict(candidate_session.close_record or {})
    if not close.get("user_close"):
        raise HarnessError("driver", f"the session was not ended by a user close, so residue is not judged: {close}")
    content = [c for c in (canary, shown) if c]
    gateway = driver.wire.host
    found = residue_hits(roots, [*content, marker, gateway])
    if not any(h["needle"] == marker for h in found):
        raise HarnessError("files", f"positive control: the scan did not find the marker file {control}")
    control.unlink(missing_ok=True)
    hits = [h for h in found if h["needle"] in content]
    scanned = files.snapshot(roots)
    evidence.json("observation.json", {
        "typed_canary": canary, "typed_report": typed, "shown_canary": shown, "close": close,
        "scanned_roots": [str(r) for r in roots], "files_scanned": len(scanned),
        "unreadable": [[str(p), e] for p, e in scanned.errors], "residue": hits,
        "client_address_traces (information, not session content)": _first(
            sorted({h["path"] for h in found if h["needle"] == gateway}), 12),
    })
    if scanned.errors and not hits:  # an unread folder could hold the residue: no pass on a partial scan
        raise HarnessError("files", f"could not read part of the session's disk: {scanned.errors[:3]}")
    assert not hits, (
        "content of the remote session remains on the terminal / 画面転送の内容が端末に残った: "
        + summarize(hits, roots)
    )
