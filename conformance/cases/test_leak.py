"""Data leak (LEAK-01): a resident record shown on the LGWAN side never reaches an undeclared host.

The LGWAN-side page (``resident.html`` on lgwan.test) shows a fictitious resident record and, on a
click, tries every way a page script has to move it to evil.test, a host the candidate did not declare:
form POSTs (url-encoded and multipart with a file), fetch, sendBeacon, a websocket, an image URL and a
DNS label. Each channel uses another encoding (URL, base64, \\u escapes, UTF-16, full-width digits,
separators).

With namespace observation the page also tries WebRTC (``webrtc``): the canary as the DNS name of a STUN
server, and canary and numbers in the ICE username of every STUN check, UDP datagrams that no proxy
setting governs. With proxy observation that channel is not tried (its datagrams would leave the
machine) and the verdict says that traffic around the proxy was not observable.

The oracle is the network oracle: every flow, datagram and DNS query to a destination outside the
profile's declared ``[network] endpoints`` is scanned for the canary and the planted 個人番号 / 法人番号
(``oracles.leak``); a declared background endpoint excuses a connection (NET-01), never personal data in it. The page's
own reports prove that each channel was tried; the page request to lgwan.test, which carries every
planted value, is the in-case positive control of the scan; the fixture site's log is a cross-check.
A blocked navigation's bare CONNECT to evil.test carries nothing planted: that is NET-01's business.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from conformance import waits
from conformance.cases.observation import Observation
from conformance.detectors import load_test_numbers, scan
from conformance.environment.fixture_site import WEBRTC_PEER
from conformance.errors import HarnessError
from conformance.oracles.leak import LeakHit, LeakScanner
from conformance.oracles.site_reports import Reports

pytestmark = pytest.mark.candidate_kind("secure-browser")

PAGE = "https://lgwan.test/pages/resident.html"
SINK_HOST = "evil.test"
CHANNELS = ("form-urlencoded", "form-multipart", "fetch-json", "beacon", "websocket", "image", "hostname")
# Where each channel lands on the fixture site when the candidate lets it out ("hostname" never lands:
# the proxy refuses the made-up name, but records the attempt with the name in it).
SINK_PATHS = {
    "/sink/form": "form-urlencoded",
    "/sink/multipart": "form-multipart",
    "/sink/fetch": "fetch-json",
    "/sink/beacon": "beacon",
    "/ws": "websocket",
    "/sink/img": "image",
}
# Channels whose end the page can see (sendBeacon only says it queued the data).
WITH_OUTCOME = ("form-urlencoded", "form-multipart", "fetch-json", "websocket", "image", "hostname")
REPORT_TIMEOUT = 20.0  # a loaded machine delays the page's reports by seconds


def _channel_of(hit: LeakHit) -> str:
    """The page channel a hit belongs to, from the request it was found in."""
    if hit.channel.startswith("datagram") or (hit.channel == "host" and ".stun." in hit.destination):
        return "webrtc"
    if hit.channel == "host":
        return "hostname"
    path = hit.request.split(" ", 1)[-1].split(SINK_HOST, 1)[-1].split("?", 1)[0]
    return SINK_PATHS.get(path, path)


def _row(hit: LeakHit) -> dict:
    row = hit.row()
    row["time"] = dt.datetime.fromtimestamp(hit.time, dt.UTC).isoformat(timespec="milliseconds")
    row["page_channel"] = _channel_of(hit)
    return row


def _site_side_values(site: Any, since: float, canary: str, numbers: set[str]) -> set[str]:
    """Planted values the fixture site itself received as evil.test (independent of the proxy)."""
    found: set[str] = set()
    for request in site.requests(host=SINK_HOST):
        if request.time < since:
            continue
        for data in (request.path + "?" + request.query, request.body, *request.websocket_messages):
            found |= {h.value for h in scan(data, [canary]) if h.kind == "canary" or h.value in numbers}
    return found


@pytest.mark.requirement("LEAK-01")
@pytest.mark.usefixtures("bypass_caveat")
def test_resident_record_does_not_leave(
    candidate: Any,
    candidate_session: Any,
    fixture_site: Any,
    network_oracle: Any,
    canary: str,
    evidence: Any,
    run_dir: Path,
    crossing_times: Any,
) -> None:
    """住民記録が申告外の宛先へ送信されない / a resident record is not sent to an undeclared destination"""
    channels, with_outcome = CHANNELS, WITH_OUTCOME
    if network_oracle.observation == "namespace":  # only there do WebRTC's datagrams end in the oracle
        channels, with_outcome = (*CHANNELS, "webrtc"), (*WITH_OUTCOME, "webrtc")
    data = load_test_numbers()
    resident = data.resident
    mynumber = resident.get("mynumber") or data.mynumbers_valid[0]
    corporate = data.corporate_valid[0]
    planted = {mynumber, corporate}
    query = {
        "canary": canary,
        "name": resident["name_kanji"],
        "kana": resident["name_kana"],
        "address": resident["address"],
        "birth": resident["birth_date"],
        "mynumber": mynumber,
        "corporate": corporate,
        "bad_mynumber": data.mynumbers_invalid[0],  # negative controls: a wrong check digit is no hit
        "bad_corporate": data.corporate_invalid[0],
        "sink": f"https://{SINK_HOST}",
    }
    if "webrtc" in channels:
        query["webrtc_peer"] = WEBRTC_PEER
    since = time.time()
    page = candidate_session.open(f"{PAGE}?{urlencode(query)}")
    reports = Reports(fixture_site, since=since, tab=page, page="resident")
    reports.require("ready", what="resident.html ran its script", component="fixture-site")
    page.click("#exfiltrate", timeout=10_000)

    # Prove the act: the page says it tried every channel.
    def tried() -> set[str]:
        return {r.get("value") for r in reports.all("attempt")}

    waits.until(lambda: tried() >= set(channels) and reports.first("done"), REPORT_TIMEOUT, page=page)
    missing = set(channels) - tried()
    if missing:
        raise HarnessError("fixture-site", f"the page never tried {sorted(missing)}; nothing was tested there")

    # Let the channels land: stop early once every one that can land has (the open case); otherwise wait
    # for the page to see each channel end (a slow machine is slow both ways), then watch for the beacon,
    # whose end the page cannot see, as long as a request takes to reach the network oracle.
    def landed() -> bool:
        return set(SINK_PATHS) <= {r.path for r in fixture_site.requests(host=SINK_HOST) if r.time >= since}

    def ended() -> bool:
        outcomes = {r.get("value") for r in reports.all("outcome")}
        # WebRTC never lands on the site: its end is the page's own outcome (after its checks went out).
        return set(with_outcome) <= outcomes or (landed() and ("webrtc" not in channels or "webrtc" in outcomes))

    waits.until(ended, REPORT_TIMEOUT, page=page)
    watched = waits.watch(landed, crossing_times.bound("network"), page=page)
    # The channel's crossing figure: the beacon (the one channel watched for here) reaching the sink, after the
    # page's report that it queued it (both as the fixture site received them).
    queued = reports.first("attempt", where=lambda r: r.get("value") == "beacon")
    sunk = [r.time for r in fixture_site.requests(host=SINK_HOST) if r.time >= since and r.path == "/sink/beacon"]
    beacon = {"channel": "network", "crossed": bool(sunk), "seconds_after_act":
              round(max(0.0, min(sunk) - float(queued["received"])), 3) if sunk and queued else None}
    evidence.screenshot(candidate_session, "resident.png")

    network_oracle.require_alive()  # a proxy that died on the way saw only part of the traffic
    records = network_oracle.records(since)
    # Only the 特定通信 endpoints may receive the record: a declared [network] background endpoint
    # (update, licence, telemetry) excuses the connection, never personal data in it.
    endpoints = {(e.host, e.port) for e in candidate.network.endpoints}
    scanner = LeakScanner([canary], planted, endpoints)
    hits = scanner.scan(records)
    leaks = [h for h in hits if not h.declared]
    # Positive control: the page request to lgwan.test carries every planted value (URL-encoded).
    seen_declared = {h.value for h in hits if h.declared}
    observation = Observation()  # evidence first: a leak seen decides even when a control of the scan failed
    if not {canary, *planted} <= seen_declared:
        observation.blind("leak scan", HarnessError(
            "leak oracle", f"the scan missed {sorted({canary, *planted} - seen_declared)} in the page's own request"
        ))
    # Cross-check with the site's log: what it received must have been seen by the proxy scan too.
    site_values = _site_side_values(fixture_site, since, canary, planted)
    if site_values - {h.value for h in leaks}:
        observation.blind("site cross-check", HarnessError(
            "leak oracle", f"the site received {sorted(site_values)} but the proxy scan missed some"))

    outcomes = reports.all("outcome")
    evidence.json(
        "leak-hits.json",
        {
            "undeclared_hits": [_row(h) for h in leaks],
            "observation": network_oracle.observation,
            "not_observable_in_this_mode": network_oracle.unobservable(),
            "declared_endpoints": sorted(f"{h}:{p}" for h, p in endpoints),
            "planted": {"canary": canary, "mynumber": mynumber, "corporate": corporate},
            "negative_controls": [query["bad_mynumber"], query["bad_corporate"]],
            "channels_tried": sorted(tried()),
            "channels_leaked": sorted({_channel_of(h) for h in leaks}),
            "page_outcomes": [{k: r.get(k) for k in ("value", "detail")} for r in outcomes],
            "site_received_as_evil_test": sorted(site_values),
            "not_observable": observation.to_json()["not_observable"],
            "watch": watched.evidence(),
            "beacon_crossing": beacon,
        },
    )
    evidence.file(network_oracle.dump(run_dir / f"leak-flows-{canary}.jsonl", since), "flows.jsonl")
    lines = [
        f"{h.destination} {_channel_of(h)} {h.channel} {h.kind}={h.value} ({h.encoding}): {h.excerpt[:60]}"
        for h in leaks[:12]
    ]
    if leaks:
        observation.saw("network scan", f"{len(leaks)} hits, channels {sorted({_channel_of(h) for h in leaks})}:\n"
                        + "\n".join(lines))
    observation.decide("planted data reached an undeclared destination / 機微情報が申告外の宛先へ送信された")
