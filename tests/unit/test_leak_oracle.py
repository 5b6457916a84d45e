"""Unit tests for the leak oracle and the pure parts of the network oracle (synthetic FlowRecords only:
no proxy, no browser)."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from conformance.oracles.leak import LeakScanner, body_places, decode_content_encoding, multipart_parts
from conformance.oracles.network import (
    FlowRecord,
    NetworkOracle,
    WebSocketMessage,
    connection_attempts,
    endpoint_matches,
    findings_table,
    judge_attempts,
)

CANARY = "CNRY-UNIT-0123456789"
MYNUMBER = "123456789018"  # synthetic, from conformance/data/test-numbers.toml
CORPORATE = "7123456789012"
BAD_MYNUMBER = "123456789012"  # wrong check digit: the negative control
BAD_CORPORATE = "1123456789012"
OTHER_VALID = "111111111118"  # valid but not planted
DECLARED = {("internet.test", 443), ("lgwan.test", 443)}
T0 = 1_800_000_000.0


def flow(
    host: str = "evil.test",
    path: str = "/sink",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    kind: str = "http",
    port: int = 443,
    method: str = "POST",
    time: float = T0,
    websocket: list[WebSocketMessage] | None = None,
    fid: str = "f1",
) -> FlowRecord:
    return FlowRecord(
        id=fid,
        time=time,
        kind=kind,
        host=host,
        port=port,
        method=method if kind == "http" else "CONNECT",
        scheme="https" if kind == "http" else "",
        path=path if kind == "http" else "",
        request_headers=headers or {},
        request_body=body,
        websocket=websocket or [],
    )


def scanner(numbers: set[str] | None = None) -> LeakScanner:
    return LeakScanner([CANARY], {MYNUMBER, CORPORATE} if numbers is None else numbers, DECLARED)


def found(hits: list, kind: str | None = None) -> set[tuple[str, str, str]]:
    return {(h.channel, h.kind, h.value) for h in hits if kind in (None, h.kind)}


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# -- places and encodings --------------------------------------------------------------------------
def test_url_encoded_query_to_undeclared_host_is_a_leak_with_destination_and_time() -> None:
    record = flow(path="/sink/img?d=" + quote(f"氏名=架空 太郎&整理番号={CANARY}&番号={MYNUMBER}"), method="GET")
    hits = scanner().undeclared([record])
    assert found(hits) == {("url", "canary", CANARY), ("url", "mynumber", MYNUMBER)}
    hit = hits[0]
    assert (hit.destination, hit.declared, hit.time, hit.flow_id) == ("evil.test:443", False, T0, "f1")
    assert hit.request.startswith("GET https://evil.test/sink/img?d=")
    assert CANARY in hits[0].excerpt or MYNUMBER in hits[0].excerpt


def test_declared_destination_is_reported_but_is_not_a_leak() -> None:
    record = flow(host="lgwan.test", path=f"/pages/resident.html?canary={CANARY}&mynumber={MYNUMBER}")
    leak = scanner()
    assert {h.declared for h in leak.scan([record])} == {True}
    assert leak.undeclared([record]) == []
    # Host names compare case-insensitively, a trailing dot included.
    assert leak.is_declared("LGWAN.test.", 443)
    assert not leak.is_declared("lgwan.test", 8443)


def test_base64_fullwidth_and_separated_numbers_are_found_with_their_encoding() -> None:
    payload = json.dumps({"個人番号": MYNUMBER, "整理番号": CANARY}, ensure_ascii=False)
    bodies = {
        "base64": base64.b64encode(payload.encode()),
        "fullwidth": fullwidth(f"{MYNUMBER} {CANARY}").encode(),
        "plain": b"n=1234-5678-9018&c=7-1234-5678-9012",
    }
    hits = {name: scanner().undeclared([flow(body=body)]) for name, body in bodies.items()}
    assert {h.encoding for h in hits["base64"]} == {"base64"}
    assert found(hits["base64"]) == {("body", "mynumber", MYNUMBER), ("body", "canary", CANARY)}
    assert {h.encoding for h in hits["fullwidth"]} == {"fullwidth"}
    assert found(hits["fullwidth"]) == {("body", "mynumber", MYNUMBER), ("body", "canary", CANARY)}
    assert found(hits["plain"]) == {("body", "mynumber", MYNUMBER), ("body", "corporate-number", CORPORATE)}


def test_json_unicode_escapes_are_looked_through() -> None:
    escaped = "".join(f"\\u{ord(c):04x}" for c in CANARY)
    body = ('{"\\u6c0f\\u540d":"\\u67b6\\u7a7a","d":"' + escaped + '","n":"' + MYNUMBER + '"}').encode()
    hits = scanner().undeclared([flow(body=body, headers={"Content-Type": "application/json"})])
    assert found(hits) == {("body", "canary", CANARY), ("body", "mynumber", MYNUMBER)}
    assert any(h.encoding.startswith("json") for h in hits if h.kind == "canary")


def test_negative_controls_and_unplanted_numbers() -> None:
    body = f"bad={BAD_MYNUMBER}&bad2={BAD_CORPORATE}&other={OTHER_VALID}&ts=1732612345678".encode()
    assert scanner().undeclared([flow(body=body)]) == []  # wrong check digits never; unplanted valid not counted
    every_valid = LeakScanner([CANARY], None, DECLARED).undeclared([flow(body=body)])
    assert OTHER_VALID in {h.value for h in every_valid}
    assert not {BAD_MYNUMBER, BAD_CORPORATE} & {h.value for h in every_valid}


def test_headers_are_scanned_each_with_its_name() -> None:
    headers = {"Referer": f"https://lgwan.test/r?c={CANARY}", "Cookie": f"n={MYNUMBER}", "Host": "evil.test"}
    hits = scanner().undeclared([flow(headers=headers, body=b"")])
    assert found(hits) == {("header:Referer", "canary", CANARY), ("header:Cookie", "mynumber", MYNUMBER)}


def test_gzip_request_body_is_decoded() -> None:
    body = gzip.compress(f"d={CANARY}".encode())
    headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain"}
    assert decode_content_encoding(headers, body) == f"d={CANARY}".encode()
    hits = scanner().undeclared([flow(body=body, headers=headers)])
    assert found(hits) == {("body", "canary", CANARY)}
    # A mislabelled body is scanned as sent.
    assert decode_content_encoding({"Content-Encoding": "gzip"}, b"not gzip") == b"not gzip"


# -- multipart -------------------------------------------------------------------------------------
BOUNDARY = "----WebKitFormBoundaryUNIT"


def multipart(*parts: tuple[str, str | None, bytes, str]) -> bytes:
    out = b""
    for name, filename, content, extra in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n{extra}\r\n".encode() + content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def test_multipart_hits_name_their_field_including_file_parts_and_file_names() -> None:
    body = multipart(
        ("氏名", None, "架空 太郎".encode(), ""),
        ("個人番号", None, fullwidth(MYNUMBER).encode(), ""),
        ("attachment", f"{CANARY}.csv", f"番号,{CORPORATE}\n".encode(), "Content-Type: text/csv\r\n"),
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    hits = scanner().undeclared([flow(body=body, headers=headers)])
    assert found(hits) == {
        ("body:multipart[個人番号]", "mynumber", MYNUMBER),
        ("body:multipart[attachment]", "canary", CANARY),
        ("body:multipart[attachment]", "corporate-number", CORPORATE),
    }
    assert next(h for h in hits if h.kind == "mynumber").encoding == "fullwidth"


def test_multipart_quoted_printable_part_and_unparsable_body() -> None:
    qp = f"=43=4E=52=59{CANARY[4:]}".encode()  # "CNRY" written as quoted-printable escapes
    body = multipart(("note", None, qp, "Content-Transfer-Encoding: quoted-printable\r\n"))
    parts = dict(multipart_parts(f"multipart/form-data; boundary={BOUNDARY}", body))
    assert parts["body:multipart[note]+quoted-printable"] == CANARY.encode()
    hits = scanner().undeclared(
        [flow(body=body, headers={"Content-Type": f'multipart/form-data; boundary="{BOUNDARY}"'})]
    )
    assert ("body:multipart[note]+quoted-printable", "canary", CANARY) in found(hits)
    # A wrong boundary: the body is scanned whole instead of being skipped.
    places = body_places({"Content-Type": "multipart/form-data; boundary=nope"}, f"x={CANARY}".encode())
    assert places == [("body", f"x={CANARY}".encode())]


# -- websocket and host names ----------------------------------------------------------------------
def test_websocket_messages_from_the_client_are_scanned_each_with_its_time() -> None:
    utf16 = json.dumps({"c": CANARY, "n": MYNUMBER}).encode("utf-16-le")
    messages = [
        WebSocketMessage(True, b'{"type":"hello"}', T0 + 1),
        WebSocketMessage(True, utf16, T0 + 2),
        WebSocketMessage(False, f"echo {CANARY}".encode(), T0 + 3),  # inbound: not a leak
    ]
    record = flow(method="GET", path="/ws", websocket=messages)
    hits = scanner().undeclared([record])
    assert found(hits) == {("websocket[1]", "canary", CANARY), ("websocket[1]", "mynumber", MYNUMBER)}
    assert {h.time for h in hits} == {T0 + 2}
    assert {h.encoding for h in hits} == {"utf-16le"}


def test_canary_in_a_host_name_is_found_once_per_destination() -> None:
    name = f"{CANARY.lower()}.evil.test"
    tunnel = flow(host=name, kind="connect", fid="c1")
    inside = flow(host=name, path="/x.gif", method="GET", time=T0 + 0.5, fid="f2")
    hits = scanner().undeclared([inside, tunnel])
    assert found(hits) == {("host", "canary", CANARY)}  # the value is the planted canary, not its lower case
    assert hits[0].request == f"CONNECT {name}:443"
    assert len(hits) == 1


def test_a_bare_connect_to_an_undeclared_host_carries_nothing() -> None:
    assert scanner().undeclared([flow(kind="connect"), flow(kind="passthrough", host="untrusted.test")]) == []


# -- network oracle: attempts and routes -----------------------------------------------------------
def test_connection_attempts_fold_tunnels_requests_and_refusals() -> None:
    records = [
        flow(host="internet.test", kind="connect", time=T0, fid="c1"),
        flow(host="internet.test", path="/", method="GET", time=T0 + 0.1, fid="r1"),
        flow(host="Accounts.Google.com", kind="connect", time=T0 + 0.2, fid="c2"),
        flow(host="accounts.google.com", kind="connect", time=T0 + 5, fid="c3"),
        flow(
            host="evil.test",
            path="/ws",
            method="GET",
            time=T0 + 1,
            fid="r2",
            websocket=[WebSocketMessage(True, b"x", T0 + 1.5)],
        ),
        flow(host="untrusted.test", kind="passthrough", time=T0 + 2, fid="c4"),
    ]
    records[2].refused = records[3].refused = True
    plain = flow(host="update.googleapis.com", port=80, path="/service/update2/json", time=T0 + 3, fid="r3")
    plain.scheme, plain.refused = "http", True
    attempts = {a.endpoint: a for a in connection_attempts([*records, plain])}
    assert list(attempts) == [
        "internet.test:443",
        "accounts.google.com:443",
        "evil.test:443",
        "untrusted.test:443",
        "update.googleapis.com:80",
    ]
    assert attempts["internet.test:443"].count == 1 and attempts["internet.test:443"].examples == [
        "GET https://internet.test/"
    ]
    google = attempts["accounts.google.com:443"]
    assert (google.count, google.refused_by_proxy, google.kinds) == (2, True, {"CONNECT"})
    assert google.last - google.first == pytest.approx(4.8)
    assert attempts["evil.test:443"].kinds == {"websocket"} and attempts["evil.test:443"].count == 1
    assert attempts["untrusted.test:443"].kinds == {"TLS passthrough"}
    assert attempts["update.googleapis.com:80"].kinds == {"plain HTTP"}
    assert attempts["update.googleapis.com:80"].refused_by_proxy


def test_endpoint_matches_host_and_port_exactly() -> None:
    assert endpoint_matches("LGWAN.TEST", 443, DECLARED)
    assert not endpoint_matches("lgwan.test", 80, DECLARED)
    assert not endpoint_matches("x.lgwan.test", 443, DECLARED)


def test_judge_attempts_separates_declared_background_and_undeclared() -> None:
    records = [
        flow(host="internet.test", kind="connect", fid="c1"),
        flow(host="accounts.google.com", kind="connect", time=T0 + 1, fid="c2"),
        flow(host="update.googleapis.com", kind="connect", time=T0 + 2, fid="c3"),
        flow(host="update.googleapis.com", kind="connect", port=8443, time=T0 + 3, fid="c4"),
    ]
    background = [("update.googleapis.com", 443, "component update check, no user data")]
    rows = {r["endpoint"]: r for r in judge_attempts(connection_attempts(records), DECLARED, background)}
    assert rows["internet.test:443"]["status"] == "declared"
    assert rows["update.googleapis.com:443"]["status"] == "declared-background"
    assert rows["update.googleapis.com:443"]["note"] == "component update check, no user data"
    assert rows["update.googleapis.com:8443"]["status"] == "undeclared"  # the port is part of the declaration
    assert rows["accounts.google.com:443"]["status"] == "undeclared"
    assert rows["accounts.google.com:443"]["note"]  # known browser background: a note, not an excuse
    assert rows["internet.test:443"]["first"].startswith("2027-01-15T08:00:00")
    table = findings_table(rows.values())
    assert "undeclared" in table and "accounts.google.com:443" in table


def test_rerouted_restores_the_run_route_and_passthrough(tmp_path: Path) -> None:
    oracle = NetworkOracle(tmp_path / "mitm", tmp_path / "ca.pem")  # not started: routes are plain data
    oracle.route("lgwan.test", 443, ("127.0.0.1", 1001))
    with oracle.rerouted("lgwan.test", 443, ("127.0.0.1", 2002), passthrough=True):
        assert oracle.routes.routes[("lgwan.test", 443)] == ("127.0.0.1", 2002)
        assert "lgwan.test" in oracle.routes.passthrough_hosts
    assert oracle.routes.routes[("lgwan.test", 443)] == ("127.0.0.1", 1001)
    assert "lgwan.test" not in oracle.routes.passthrough_hosts
    with pytest.raises(RuntimeError), oracle.rerouted("new.test", 443, ("127.0.0.1", 3003)):
        raise RuntimeError("the case failed inside")
    assert ("new.test", 443) not in oracle.routes.routes
