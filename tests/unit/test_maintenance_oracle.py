"""The maintenance oracle's pure parts: MNT-02 / MNT-03 judging, failure classes, the default-credentials list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.errors import InputError
from conformance.oracles import maintenance as m

USER = "192.0.2.10"
ADMIN_URL = "https://console.maint.test:8443/admin"


def auth_probe(required: bool | None, status: int | None = 401, url: str = ADMIN_URL, **extra: Any) -> dict[str, Any]:
    return {"url": url, "status": status, "auth_required": required, "decided_by": "test", "error": None, **extra}


def trial(username: str, password: str, accepted: bool | None, url: str = ADMIN_URL, **extra: Any) -> dict[str, Any]:
    status = {True: 200, False: 401, None: None}[accepted]
    return {"url": url, "username": username, "password": password, "status": status, "accepted": accepted,
            "error": None, **extra}


def closed_scan(*ports: int) -> dict[int, str]:
    return {port: "refused" for port in (ports or m.COMMON_ADMIN_PORTS)}


def hardened(**overrides: Any) -> m.Judgement:
    arguments: dict[str, Any] = {
        "user_address": USER,
        "user_scan": closed_scan(),
        "auth_probes": [auth_probe(True)],
        "credential_trials": [trial(u, p, False) for u, p in m.DEFAULT_CREDENTIALS],
        "scan_control": {40000: "open"},
    }
    arguments.update(overrides)
    return m.judge_admin_exposure(**arguments)


# --------------------------------------------------------------------------------------------------
# The data file
# --------------------------------------------------------------------------------------------------


def test_default_credentials_load() -> None:
    assert len(m.DEFAULT_CREDENTIALS) == 10
    for pair in [("admin", "admin"), ("admin", ""), ("root", "toor"), ("support", "support")]:
        assert pair in m.DEFAULT_CREDENTIALS
    assert m.load_default_credentials() == list(m.DEFAULT_CREDENTIALS)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('label = "x"\n', "credential"),
        ('[[credential]]\nusername = ""\npassword = "x"\n', "credential[0]"),
        ('[[credential]]\nusername = "a"\n', "credential[0]"),
        ('[[credential]]\nusername = "a"\npassword = "b"\n[[credential]]\nusername = "a"\npassword = "b"\n',
         "credential[1]"),
    ],
)
def test_bad_credentials_file_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "creds.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        m.load_default_credentials(path)
    assert caught.value.field == field


def test_ports_to_scan_merges_common_declared_and_endpoint_ports() -> None:
    ports = m.ports_to_scan([4444], ["https://console.maint.test:9999/admin", "http://updates.maint.test/m.json"])
    assert {22, 3389, 5900, 8443, 4444, 9999, 80} <= set(ports)
    assert ports == sorted(set(ports))
    assert m.ADMIN_PORT_NAMES[3389] == "rdp" and 3389 in m.COMMON_ADMIN_PORTS


@pytest.mark.parametrize(
    ("code", "expected"),
    [(10, "expired"), (9, "not_yet_valid"), (18, "self_signed"), (19, "untrusted"), (20, "untrusted"),
     (21, "untrusted"), (62, "wrong_name"), (64, "wrong_name"), (23, "other"), (None, "other")],
)
def test_classify_verify_failure(code: int | None, expected: str) -> None:
    assert m.classify_verify_failure(code, "") == expected


# --------------------------------------------------------------------------------------------------
# MNT-02
# --------------------------------------------------------------------------------------------------


def test_admin_exposure_passes_when_nothing_is_exposed() -> None:
    judgement = hardened()
    assert (judgement.findings, judgement.unobservable, judgement.outcome) == ([], [], "pass")
    json.dumps(judgement.as_dict())  # JSON-ready as it is


def test_open_common_port_on_the_user_side_fails() -> None:
    scan = closed_scan() | {22: "open", 5900: "timeout"}
    judgement = hardened(user_scan=scan)
    assert judgement.outcome == "fail"
    assert judgement.findings == [f"{USER}:22 (ssh) が利用者セグメントから到達可能 / reachable from the user segment"]


def test_declared_admin_port_fails_and_service_ports_are_exempt() -> None:
    scan = closed_scan() | {4444: "open", 443: "open", 8443: "open"}
    # 443 is the product's user-facing service: exempt. 8443 is the admin endpoint's port: never exempt.
    judgement = hardened(user_scan=scan, declared_ports=[4444], service_ports=[443, 8443])
    assert len(judgement.findings) == 2
    assert any("192.0.2.10:4444 (declared admin port)" in f for f in judgement.findings)
    assert any("192.0.2.10:8443 (https-alt)" in f for f in judgement.findings)
    assert judgement.evidence["service_ports (exempt)"] == [443]


def test_admin_interface_answering_on_the_user_side_fails() -> None:
    answered = auth_probe(True, 401, connect_address=f"{USER}:8443")
    missing = auth_probe(None, 404, url="https://console.maint.test:9000/admin", connect_address=f"{USER}:9000")
    judgement = hardened(user_side_probes=[answered, missing])
    assert judgement.findings == [
        f"{ADMIN_URL} の管理画面が利用者セグメント（{USER}:8443）から応答 (401) / the admin interface answers from "
        "the user segment"
    ]
    # the same port already reported by the scan is not reported twice
    assert len(hardened(user_scan=closed_scan() | {8443: "open"}, user_side_probes=[answered]).findings) == 1


def test_unauthenticated_admin_endpoint_fails() -> None:
    judgement = hardened(auth_probes=[auth_probe(False, 200)], credential_trials=[])
    assert judgement.findings == [f"{ADMIN_URL} が認証なしで応答 (200) / answers without authentication"]
    assert judgement.unobservable == []  # no credentials to try where none are asked for


def test_accepted_default_credentials_fail() -> None:
    trials = [trial("admin", "admin", True), trial("admin", "", True), trial("root", "root", False)]
    judgement = hardened(credential_trials=trials)
    assert judgement.outcome == "fail"
    assert judgement.findings[0] == (
        f"{ADMIN_URL} が既定の認証情報 admin/admin を受け付けた (200) / accepts default credentials"
    )
    assert "admin/（空 / empty）" in judgement.findings[1]


def test_undecidable_observations_are_unobservable_not_findings() -> None:
    form_login = "https://form.maint.test/admin"
    judgement = hardened(
        auth_probes=[auth_probe(None, None, error="timeout"), auth_probe(True, 302, url=form_login)],
        credential_trials=[trial("admin", "admin", None, error="not an HTTP Basic endpoint")],
    )
    assert judgement.findings == []
    assert judgement.outcome == "error"
    assert len(judgement.unobservable) == 3
    assert "could not observe whether authentication is required: timeout" in judgement.unobservable[0]
    assert "1 default credential pair(s) could not be decided: not an HTTP Basic endpoint" in judgement.unobservable[1]
    assert judgement.unobservable[2].startswith(f"{form_login}: 既定の認証情報を試していない")


def test_scan_without_a_working_control_is_unobservable() -> None:
    judgement = hardened(scan_control={40000: "unreachable"})
    assert judgement.outcome == "error"
    assert "control listener" in judgement.unobservable[0]
    assert hardened(user_scan=None).outcome == "error"
    assert hardened(user_scan={}).outcome == "error"


def test_a_finding_wins_over_the_unobservable() -> None:
    judgement = hardened(user_scan=closed_scan() | {3389: "open"}, scan_control={40000: "timeout"})
    assert judgement.outcome == "fail"
    assert judgement.unobservable


def test_no_declared_admin_endpoint_is_noted() -> None:
    judgement = hardened(auth_probes=[], credential_trials=[])
    assert judgement.outcome == "pass"
    assert "only the user-side scan applies" in judgement.evidence["note"]


# --------------------------------------------------------------------------------------------------
# MNT-03
# --------------------------------------------------------------------------------------------------


def good_tls(url: str = ADMIN_URL, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "url": url, "scheme": "https", "tls": True, "verified": True, "version": "TLSv1.3", "failure": None,
        "verify_error": None, "handshake_error": None, "error": None,
        "legacy_tls": {"accepted": False, "version": None, "error": "TLS error: TLSV1_ALERT_PROTOCOL_VERSION"},
    }
    item.update(overrides)
    return item


def test_transport_passes_with_validated_modern_tls() -> None:
    judgement = m.judge_transport([good_tls(), good_tls("https://updates.maint.test/manifest.json")])
    assert (judgement.findings, judgement.unobservable, judgement.outcome) == ([], [], "pass")
    json.dumps(judgement.as_dict())


def test_plain_http_fails_and_silent_http_is_unobservable() -> None:
    answered = {"url": "http://console.maint.test:8080/admin", "scheme": "http", "tls": False,
                "plain_http_answered": True, "status": 401, "error": None}
    silent = {**answered, "url": "http://updates.maint.test/m.json", "plain_http_answered": False, "status": None,
              "error": "ConnectionRefusedError: [Errno 111] Connection refused"}
    judgement = m.judge_transport([answered, silent])
    assert judgement.findings == ["console.maint.test:8080 は平文の HTTP で応答 / answers in plain HTTP (no TLS)"]
    assert judgement.unobservable[0].startswith("updates.maint.test:80: 保守セグメントから応答がない")


@pytest.mark.parametrize(
    ("failure", "words"),
    [("expired", "（期限切れ）/ certificate does not validate (expired)"),
     ("not_yet_valid", "（有効期間前）/ certificate does not validate (not yet valid)"),
     ("self_signed", "（自己署名）/ certificate does not validate (self-signed)"),
     ("wrong_name", "（名前が一致しない）/ certificate does not validate (wrong name)"),
     ("untrusted", "（信頼されない発行者）/ certificate does not validate (untrusted issuer)"),
     ("other", "（その他）/ certificate does not validate (other)")],
)
def test_certificate_failures_are_findings_with_their_class(failure: str, words: str) -> None:
    item = good_tls(verified=False, failure=failure, verify_error={"code": 0, "message": "why"})
    judgement = m.judge_transport([item])
    assert judgement.findings == [f"console.maint.test:8443 の証明書を検証できない{words}: why"]


def test_old_versions_and_legacy_acceptance_fail() -> None:
    item = good_tls(verified=False, version="TLSv1.1", handshake_error="TLS error: UNSUPPORTED_PROTOCOL",
                    legacy_tls={"accepted": True, "version": "TLSv1.1", "error": None})
    findings = m.judge_transport([item]).findings
    assert len(findings) == 3
    assert "a default TLS client cannot complete a handshake: TLS error: UNSUPPORTED_PROTOCOL" in findings[0]
    assert findings[1] == "console.maint.test:8443 が TLSv1.1 で接続（TLS 1.2 未満）/ negotiated TLSv1.1 (< TLS 1.2)"
    assert findings[2].endswith("accepts a TLS 1.1 handshake (TLSv1.1)")
    legacy_only = good_tls(legacy_tls={"accepted": True, "version": "TLSv1", "error": None})
    assert m.judge_transport([legacy_only]).outcome == "fail"


def test_unobservable_transport() -> None:
    unreachable = good_tls(verified=None, version=None, error="no TLS connection: timeout", legacy_tls=None)
    untested = good_tls(legacy_tls={"accepted": None, "version": None, "error": "this client cannot offer TLS 1.1"})
    judgement = m.judge_transport([unreachable, untested])
    assert judgement.findings == []
    assert judgement.outcome == "error"
    assert "TLS could not be observed: no TLS connection: timeout" in judgement.unobservable[0]
    assert "could not test a TLS 1.1 handshake: this client cannot offer TLS 1.1" in judgement.unobservable[1]
    assert m.judge_transport([]).outcome == "error"
