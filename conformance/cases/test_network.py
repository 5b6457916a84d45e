"""Network (NET-01, NET-02, NET-05): where the candidate connects, whether it trusts a server it cannot
verify, and whether anything goes around the inspection path.

NET-01's oracle is the network oracle's record of connection attempts. With namespace observation (the
candidate in the terminal's network namespace, whose only route is the oracle) that is every TCP
connection, UDP flow and DNS query, whether or not the candidate uses its proxy setting; with proxy
observation (the fallback) every CONNECT (including those the proxy refuses because the host is not a
fixture, such as a browser's update and sign-in hosts), every TLS connection passed through and every
plain-HTTP proxy request, and the verdict says that bypass traffic was not observable. The case judges
the traffic of its own candidate session only, from before the candidate starts until after it has shut
down, so the verdict does not depend on which cases ran before; what the whole run tried so far is
attached as a finding list of its own.

NET-05's oracle is the same record: with namespace observation, any UDP flow (QUIC, WebRTC/STUN, DNS to
a name server other than the terminal's) that the profile does not declare as UDP fails it. Without a
namespace it cannot be observed at all: ``error``, never a pass.

NET-02's oracle is the fixture site's request log for its rogue-CA listener (untrusted.test, whose TLS
the proxy passes through untouched): no request, and so no canary, may arrive there. The proxy's record
of the passed-through connection proves the candidate really tried.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import urllib3

from conformance import waits
from conformance.cases.observation import Observation
from conformance.environment.fixture_site import ROGUE_HOST, SITE_HOSTS, WEBRTC_PEER
from conformance.errors import HarnessError
from conformance.oracles.network import connection_attempts, findings_table, judge_attempts
from conformance.oracles.site_reports import Reports

pytestmark = pytest.mark.candidate_kind("secure-browser")

THIRD_PARTY = "evil.test"  # undeclared host the NET-01 tour's page embeds and the user types in
# Observation windows, not crossing bounds: they wait for traffic the candidate starts on its own (no act of
# the case to time a crossing from), so they are fixed, and said in the evidence.
UDP_SETTLE_SECONDS = 3.0  # late datagrams (ICE retransmissions every 0.5-1.6 s) still count
BACKGROUND_SECONDS = 12.0  # idle time for the browser's own background traffic
SHUTDOWN_SECONDS = 2.0  # traffic a browser sends while it exits still counts
EMBED_SECONDS = 8.0  # the tour page's embeds to end (each reports its outcome)
REPORT_TIMEOUT = 20.0


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def _reports(site: Any, since: float, page: str) -> Reports:
    return Reports(site, since=since, page=page)


def _try_goto(page: Any, url: str, timeout: float = 20_000) -> str:
    """Navigate as a user typing the address; return "" or the error the browser showed."""
    for _ in range(2):
        try:
            page.goto(url, wait_until="load", timeout=timeout)
            return ""
        except Exception as exc:  # a refusal is an expected outcome here, not a harness problem
            error = str(exc).splitlines()[0]
            # Leaving an error page can race with it (spike pitfall): try once more.
            if "interrupted by another navigation" not in error:
                return error
    return error


# -- NET-01 ----------------------------------------------------------------------------------------
def judge(records: list[Any], candidate: Any) -> list[dict]:
    """The profile's view of every destination in ``records`` (see ``network.judge_attempts``)."""
    rows = judge_attempts(
        connection_attempts(records),
        [(e.host, e.port, e.protocol) for e in candidate.network.endpoints],
        [(b.host, b.port, b.reason, b.protocol) for b in candidate.network.background],
    )
    for row in rows:  # say where the tour's own undeclared attempts came from
        if row["status"] == "undeclared" and not row["note"]:
            host = row["endpoint"].removesuffix(" (DNS)").rsplit(":", 1)[0]
            if host == THIRD_PARTY:
                row["note"] = "the tour: embedded content / a typed address"
            elif host.endswith("." + THIRD_PARTY):
                row["note"] = "the tour: a name under the undeclared host (data in a name, a WebRTC STUN server)"
            elif row["endpoint"].startswith(WEBRTC_PEER.split(":")[0] + ":"):
                row["note"] = "the tour: a page's WebRTC peer (ICE checks)"
            elif host in (*SITE_HOSTS, ROGUE_HOST):
                row["note"] = "fixture host, not declared"
    return rows


def _udp_page(session: Any, site: Any, host: str, canary: str, since: float) -> str:
    """Open udp.html (HTTP/3 invitation, then WebRTC to ``WEBRTC_PEER``); its URL once it reported done."""
    url = f"https://{host}/pages/udp.html?{urlencode({'canary': canary, 'peer': WEBRTC_PEER, 'sink': THIRD_PARTY})}"
    error = _try_goto(session.page, url)  # after an error page, like the typed address before it
    if error:
        raise HarnessError("chromium", f"udp.html did not open on {host}: {error}")
    _reports(site, since, "udp").require("done", what="udp.html tried its QUIC and WebRTC steps",
                                         component="fixture-site", timeout=REPORT_TIMEOUT)
    return url


@pytest.mark.requirement("NET-01")
@pytest.mark.usefixtures("bypass_caveat")
def test_connections_only_to_declared_endpoints(
    candidate: Any, driver: Any, fixture_site: Any, network_oracle: Any, evidence: Any, run_dir: Path, canary: str
) -> None:
    """通信先が申告した特定通信の宛先に限られる / connections go only to the declared endpoints"""
    network_oracle.require_alive()
    since = time.time()  # before the candidate starts: its start-up traffic counts
    fixture_endpoints = [(h, p) for h, p in ((e.host, e.port) for e in candidate.network.endpoints) if h in SITE_HOSTS]
    if not fixture_endpoints:
        raise HarnessError("profile", "no declared endpoint is a fixture host; the tour has nothing to open")
    steps: dict[str, str] = {}
    with driver.session() as session:
        for host, port in fixture_endpoints:  # 1. the declared sites, as a user opens them
            url = f"https://{host}/" if port == 443 else f"https://{host}:{port}/"
            session.open(url)
            steps[url] = "opened"
        # 2. a declared page that embeds content from an undeclared host (as pages embed CDNs, analytics)
        host = fixture_endpoints[0][0]
        tour = f"https://{host}/pages/exfil.html?{urlencode({'target': f'https://{THIRD_PARTY}', 'embed': '1'})}"
        session.open(tour)
        exfil = _reports(fixture_site, since, "exfil")
        exfil.require("loaded", what="exfil.html loaded its embeds", component="fixture-site", timeout=REPORT_TIMEOUT)
        waits.until(lambda: len(exfil.all("outcome")) >= 5, EMBED_SECONDS)  # let the embeds settle
        steps[tour] = "opened"
        # 3. a declared page that uses WebRTC and invites HTTP/3 (only where every datagram ends in the oracle)
        if network_oracle.observation == "namespace":
            steps[_udp_page(session, fixture_site, host, canary, since)] = "opened"
        # 4. the user types an undeclared address
        error = _try_goto(session.page, f"https://{THIRD_PARTY}/")
        steps[f"https://{THIRD_PARTY}/"] = error or "opened"
        # 5. idle: the browser's own background traffic
        waits.pause(BACKGROUND_SECONDS)
        evidence.screenshot(session, "last-page.png")
    waits.pause(SHUTDOWN_SECONDS)
    network_oracle.require_alive()  # a proxy that died on the way saw only part of the traffic
    records = network_oracle.records(since)
    # Prove the oracle saw this session: the declared sites were served and their tunnels recorded.
    served = {r.host for r in fixture_site.requests() if r.time >= since and r.path == "/"}
    tunnels = {r.host for r in records if r.kind in ("connect", "tcp") and not r.refused}
    observation = Observation()  # evidence first: an undeclared connection decides even if the tour was not seen
    for host, _port in fixture_endpoints:
        if host not in served or host not in tunnels:
            observation.blind(f"tour of {host}", HarnessError(
                "mitmproxy",
                f"the tour's visit to {host} was not seen (served={sorted(served)}, tunnels={sorted(tunnels)})",
            ))

    rows = judge(records, candidate)
    undeclared = [r for r in rows if r["status"] == "undeclared"]
    run_rows = judge(network_oracle.records(), candidate)
    evidence.json(
        "connections.json",
        {
            "window": {"from": _iso(since), "to": _iso(time.time())},
            "observation": network_oracle.observation,
            "not_observable_in_this_mode": network_oracle.unobservable(),
            "tour": steps,
            "page_outcomes": [{k: r.get(k) for k in ("event", "value", "detail")}
                              for r in _reports(fixture_site, since, "exfil").all()],
            "observation_windows_seconds": {"background": BACKGROUND_SECONDS, "shutdown": SHUTDOWN_SECONDS},
            "declared": [e.model_dump() for e in candidate.network.endpoints],
            "declared_background": [b.model_dump() for b in candidate.network.background],
            "this_session": rows,
            "whole_run_so_far": run_rows,
            "not_observable": observation.to_json()["not_observable"],
        },
    )
    evidence.text(
        "connections.txt",
        "この試験のセッション / this case's session:\n"
        + findings_table(rows)
        + "\n\n試験全体（ここまで） / whole run so far (not part of this verdict):\n"
        + findings_table(run_rows)
        + "\n",
    )
    evidence.file(network_oracle.dump(run_dir / f"net01-flows-{int(since)}.jsonl", since), "flows.jsonl")
    if undeclared:
        observation.saw("network oracle", f"{len(undeclared)} undeclared:\n" + "\n".join(
            f"{r['endpoint']} x{r['count']} {','.join(r['kinds'])} {r['note']}" for r in undeclared))
    observation.decide("connections to undeclared endpoints / 申告外の宛先への接続")


# -- NET-02 ----------------------------------------------------------------------------------------
# Refusals that happen before any TLS handshake: the candidate blocked the host itself.
BLOCKED_BEFORE_TLS = ("ERR_BLOCKED_BY_CLIENT", "ERR_BLOCKED_BY_ADMINISTRATOR")
WARNING_TIMEOUT = 8_000  # ms for Chromium's certificate warning to show after the failed navigation


def _click_through(page: Any) -> str:
    """Try what a user does on a certificate warning: "Advanced" then "Proceed", else the typed bypass
    keyword. Returns what was possible (for the evidence); the site log decides the verdict."""
    done: list[str] = []
    try:
        try:  # the warning page commits after the navigation has already failed: wait for it
            page.locator("#details-button").wait_for(state="visible", timeout=WARNING_TIMEOUT)
        except Exception:
            return "no warning page with a way on"
        page.locator("#details-button").click(timeout=5_000)
        done.append("advanced")
        waits.pause(0.3, page=page)  # the warning page expands its details
        if page.locator("#proceed-link").is_visible():
            page.locator("#proceed-link").click(timeout=5_000)
            done.append("proceed")
            page.wait_for_load_state("load", timeout=10_000)
            return "+".join(done)
        done.append("no proceed link")
        page.keyboard.type("thisisunsafe", delay=30)
        done.append("typed bypass keyword")
        waits.pause(1.5, page=page)  # the interstitial acts on the keyword (no event a page can see)
    except Exception as exc:  # whatever happened, the site log decides
        done.append(f"interaction failed: {str(exc).splitlines()[0]}")
    return "+".join(done)


def _warned(outcome: str) -> bool:
    """The step ended on an error page a user might get past (not on a page, not on a 204 No Content,
    not on a block page that has no way on)."""
    return outcome != "loaded" and not any(code in outcome for code in ("ERR_ABORTED", *BLOCKED_BEFORE_TLS))


def _rogue_log_control(site: Any) -> None:
    """Positive control: a request sent straight to the rogue listener shows up in its log, so an empty
    log later means that nothing arrived, not that the log is broken."""
    token = secrets.token_hex(8)
    pool = urllib3.HTTPSConnectionPool(
        "127.0.0.1", site.ports["rogue"], ca_certs=str(site.rogue_ca.cert_path), server_hostname=ROGUE_HOST,
        assert_hostname=ROGUE_HOST, timeout=10, retries=False,
    )  # fmt: skip
    try:
        pool.request("GET", f"/control?t={token}", headers={"Host": ROGUE_HOST})
    except urllib3.exceptions.HTTPError as exc:
        raise HarnessError("fixture-site", f"rogue listener positive control failed: {exc}") from exc
    finally:
        pool.close()
    if not any(token in r.query for r in site.requests(listener="rogue")):
        raise HarnessError("fixture-site", "the rogue listener did not log the positive-control request")


def _rogue_in_path(server: str, candidate: Any, site: Any, oracle: Any) -> tuple[str, str, Any]:
    """(rogue host name, host of the page that posts the form, context putting the rogue server there)."""
    declared = [e.host for e in candidate.network.endpoints if e.host in SITE_HOSTS and e.port == 443]
    if server == "undeclared-host":
        return ROGUE_HOST, (declared or ["internet.test"])[0], contextlib.nullcontext()
    if not declared:
        raise HarnessError(
            "profile", "no declared endpoint is a fixture host on 443; no name to put a rogue server under"
        )
    host = "lgwan.test" if "lgwan.test" in declared else declared[0]
    form_host = next((h for h in declared if h != host), "internet.test")
    # As an attacker on the path would: the declared name now leads to the rogue-CA server, TLS untouched.
    return host, form_host, oracle.rerouted(host, 443, ("127.0.0.1", site.ports["rogue"]), passthrough=True)


@pytest.mark.requirement("NET-02")
@pytest.mark.parametrize("server", ["declared-name", "undeclared-host"])
def test_untrusted_tls_certificate_is_refused(
    server: str,
    candidate: Any,
    candidate_session: Any,
    fixture_site: Any,
    network_oracle: Any,
    canary: str,
    evidence: Any,
    run_dir: Path,
) -> None:
    """検証できない証明書のサーバへ接続しない / a server whose certificate cannot be verified is refused"""
    host, form_host, in_path = _rogue_in_path(server, candidate, fixture_site, network_oracle)
    _rogue_log_control(fixture_site)
    since = time.time()
    steps: dict[str, str] = {}
    page = candidate_session.page
    with in_path:
        # 1. the user opens the address, and tries to click through the warning
        steps["navigate"] = _try_goto(page, f"https://{host}/?{urlencode({'probe': canary})}") or "loaded"
        if _warned(steps["navigate"]):
            steps["navigate: click-through"] = _click_through(page)
        evidence.screenshot(candidate_session, "navigate.png")
        # 2. a page on another host posts a form with the canary to it
        query = urlencode({"target": f"https://{host}", "canary": canary})
        form_error = _try_goto(page, f"https://{form_host}/pages/exfil.html?{query}")
        if form_error:
            raise HarnessError("chromium", f"the form page on {form_host} did not open: {form_error}")
        try:
            with page.expect_navigation(wait_until="load", timeout=20_000):
                page.click("#post", timeout=10_000)
            steps["form POST"] = "loaded"
        except Exception as exc:
            steps["form POST"] = str(exc).splitlines()[0]
        if _warned(steps["form POST"]):
            steps["form POST: click-through"] = _click_through(page)
        evidence.screenshot(candidate_session, "form-post.png")
        _reports(fixture_site, since, "exfil").wait("submit", timeout=5.0)

    network_oracle.require_alive()
    # Prove the attempts happened: TLS connections to the name were opened, or the candidate says it
    # blocked both before any connection (then the certificate was never the question: see evidence).
    tried = [r for r in network_oracle.records(since) if r.host == host and r.kind == "passthrough"]
    blocked = all(any(code in steps[k] for code in BLOCKED_BEFORE_TLS) for k in ("navigate", "form POST"))
    if not tried and not blocked:
        raise HarnessError("mitmproxy", f"no connection to {host} was recorded and no block was shown: {steps}")
    if _reports(fixture_site, since, "exfil").first("submit") is None:
        raise HarnessError("fixture-site", "exfil.html never reported the form submit; the POST was not tried")

    reached = [r for r in fixture_site.requests(listener="rogue") if r.time >= since]
    with_canary = [r for r in reached if canary in r.query or canary.encode() in r.body]
    cert_refusals = [k for k, v in steps.items() if "ERR_CERT" in v]
    evidence.json(
        "untrusted-tls.json",
        {
            "server": server,
            "rogue_server_name": host,
            "steps": steps,
            "refused_for_the_certificate": cert_refusals,
            "blocked_before_tls": blocked,
            "tls_connections_recorded": [{"time": _iso(r.time), "endpoint": r.endpoint} for r in tried],
            "requests_reaching_rogue_server": [
                {
                    "time": _iso(r.time),
                    "host": r.host,
                    "method": r.method,
                    "path": r.path,
                    "query": r.query,
                    "body": r.body[:500].decode("utf-8", "replace"),
                }
                for r in reached
            ],
            "canary": canary,
        },
    )
    evidence.file(network_oracle.dump(run_dir / f"net02-flows-{canary}.jsonl", since), "flows.jsonl")
    assert not reached, (
        f"the candidate sent {len(reached)} request(s) to a server whose certificate it cannot verify "
        f"({host}; {len(with_canary)} with the canary) / 検証できない証明書のサーバへ送信した: "
        + ", ".join(f"{r.method} {r.path}" for r in reached[:6])
    )


# -- NET-05 ----------------------------------------------------------------------------------------
def _require_namespace(network_oracle: Any) -> None:
    """What bypasses the proxy is observable only in the terminal's namespace: else ``error``, with why."""
    network_oracle.require_alive()
    if network_oracle.observation != "namespace":
        raise HarnessError("netns", network_oracle.unobservable())


def _undeclared_udp(records: list[Any], candidate: Any) -> list[dict]:
    """UDP destinations of ``records`` that the profile does not declare as UDP (NET-01's judgement)."""
    return [r for r in judge(records, candidate) if r["protocol"] == "udp" and r["status"] != "declared"]


@pytest.mark.requirement("NET-05")
def test_no_udp_or_quic_bypass(
    candidate: Any, driver: Any, fixture_site: Any, network_oracle: Any, evidence: Any, run_dir: Path, canary: str
) -> None:
    """QUIC・UDP で検査経路を迂回しない / no QUIC or UDP traffic around the inspection path"""
    _require_namespace(network_oracle)
    host = next((e.host for e in candidate.network.endpoints if e.host in SITE_HOSTS and e.port == 443), None)
    if host is None:
        raise HarnessError("profile", "no declared endpoint is a fixture host on 443; the probe page cannot be opened")
    since = time.time()
    with driver.session() as session:
        # The page answers with Alt-Svc h3 and asks again (QUIC), then opens WebRTC (STUN, ICE checks).
        url = _udp_page(session, fixture_site, host, canary, since)
        waits.pause(UDP_SETTLE_SECONDS)  # late datagrams (retransmitted checks) still count
        evidence.screenshot(session, "udp-page.png")
    network_oracle.require_alive()
    records = network_oracle.records(since)
    if not any(r.kind == "tcp" and r.host == host for r in records):
        raise HarnessError("netns", f"the visit to {host} was not seen in the terminal namespace; nothing to judge")
    rows = judge(records, candidate)
    udp = _undeclared_udp(records, candidate)
    outcomes = [{k: r.get(k) for k in ("event", "value", "detail")} for r in _reports(fixture_site, since, "udp").all()]
    evidence.json("udp.json", {"observation": network_oracle.observation, "page": url, "page_outcomes": outcomes,
                               "undeclared_udp": udp, "all_destinations": rows})  # fmt: skip
    evidence.text("connections.txt", findings_table(rows) + "\n")
    evidence.file(network_oracle.dump(run_dir / f"net05-flows-{canary}.jsonl", since), "flows.jsonl")
    assert not udp, (
        f"UDP around the inspection path / 検査経路を迂回する UDP 通信 ({len(udp)}): "
        + "; ".join(f"{r['endpoint']} x{r['count']} {r['datagrams']} datagrams {r['examples'][:1]} {r['note']}"
                    for r in udp[:6])
    )


# -- NET-04 ----------------------------------------------------------------------------------------
CUT_SECONDS = 8.0  # after the cut: time for a product to fail over (retries, fallback lists)
TERMINAL_KINDS = ("tcp", "udp", "dns", "passthrough")  # what the terminal itself sent (not a gateway's CONNECTs)


@pytest.mark.requirement("NET-04")
def test_no_direct_fallback_when_the_path_is_cut(
    candidate: Any, driver: Any, fixture_site: Any, network_oracle: Any, evidence: Any, run_dir: Path, canary: str
) -> None:
    """経路障害時に直接通信へ切り替えない / no fallback to direct connections when the path is cut"""
    _require_namespace(network_oracle)
    gateways = [(e.host, e.port) for e in candidate.network.endpoints if e.role == "gateway"]
    cut = gateways or [(e.host, e.port) for e in candidate.network.endpoints]
    sites = [h for h in SITE_HOSTS if h != ROGUE_HOST]
    before_url, after_url = (f"https://{sites[0]}/?{urlencode({'before': canary})}",
                             f"https://{sites[1]}/?{urlencode({'after': canary})}")  # fmt: skip
    steps: dict[str, str] = {}
    with driver.session() as session:
        # 1. the path works: a declared site opens (through the gateway, if the product has one)
        steps["before the cut: " + before_url] = _try_goto(session.page, before_url) or "loaded"
        if steps["before the cut: " + before_url] != "loaded":
            raise HarnessError("chromium", f"the declared path did not work before the cut: {steps}")
        # 2. the path fails; the user opens another site (no connection of the first one to reuse)
        cut_at = time.time()
        with network_oracle.cut(cut):
            steps["after the cut: " + after_url] = _try_goto(session.page, after_url) or "loaded"
            waits.pause(CUT_SECONDS)
            evidence.screenshot(session, "after-cut.png")
            cut_end = time.time()
    network_oracle.require_alive()
    during = [r for r in network_oracle.records(cut_at) if r.time <= cut_end and r.kind in TERMINAL_KINDS]
    rows = judge(during, candidate)
    direct = [r for r in rows if r["status"] != "declared"]
    tried_path = [r for r in rows if r["status"] == "declared" and r["protocol"] != "dns"]
    evidence.json("fail-closed.json", {
        "cut": [f"{h}:{p}" for h, p in cut], "gateways_declared": bool(gateways), "steps": steps,
        "window": {"from": _iso(cut_at), "to": _iso(cut_end)}, "terminal_attempts_during_the_cut": rows,
    })  # fmt: skip
    evidence.file(network_oracle.dump(run_dir / f"net04-flows-{canary}.jsonl", cut_at), "flows.jsonl")
    assert not direct, (
        "after the path was cut the terminal went elsewhere / 経路遮断後に申告外の宛先へ通信した: "
        + "; ".join(f"{r['endpoint']} x{r['count']} {','.join(r['kinds'])} {r['note']}".strip() for r in direct[:8])
    )
    if steps["after the cut: " + after_url] == "loaded":
        raise HarnessError("netns", f"the page loaded although {cut} was cut and nothing else was tried: the cut "
                                    "did not hold")
    if not tried_path:
        raise HarnessError("netns", f"no attempt to the cut path {cut} was seen: the user's request was not tried")
