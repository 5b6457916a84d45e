"""The reference maintenance console and the maintenance oracle against real servers (loopback only).

The console runs as a subprocess on 127.0.0.x with ``--port 0`` (its ports are read from its stdout), TLS
servers with deliberately bad certificates run in-process. The oracle always connects to an explicit
address and names ``console.maint.test`` (SNI, certificate name, Host header), as on the test network.
Every process started here is stopped by PID in a ``finally``, also when a test fails.
"""

from __future__ import annotations

import datetime as dt
import errno
import http.server
import re
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conformance.environment.tls import CertPair, make_ca, make_leaf
from conformance.oracles import maintenance as m

CONSOLE = Path(__file__).resolve().parents[2] / "fixtures" / "maintenance-console" / "console.py"
HOST = "console.maint.test"
MANAGEMENT = "127.0.0.2"  # stands for the platform's management-side address
USER_SIDE = "127.0.0.3"  # stands for the platform's user-side address


@dataclass
class Console:
    process: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int]  # bind address -> port

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def start_console(tmp_path: Path) -> Iterator[Callable[..., Console]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*arguments: str) -> Console:
        log = tmp_path / f"console-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, str(CONSOLE), "--port", "0", *arguments],
                                       stdout=out, stderr=subprocess.STDOUT)
        started.append(process)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = log.read_text(encoding="utf-8", errors="replace")
            if "\nready" in text or text.startswith("ready"):
                ports = {a: int(p) for a, p in re.findall(r"listening https?://\[?([^\]\s]+?)\]?:(\d+)", text)}
                return Console(process, log, ports)
            if process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the console did not come up (rc={process.poll()}):\n{log.read_text()}")

    try:
        yield start
    finally:
        for process in started:
            _stop(process)
        assert all(process.poll() is not None for process in started), "a console survived its test"


@pytest.fixture
def ca(tmp_path: Path) -> CertPair:
    return make_ca(tmp_path / "pki", "maint-ca", "maintenance test CA")


def _make_cert(
    folder: Path, stem: str, names: list[str], issuer: CertPair | None, not_before: dt.datetime,
    not_after: dt.datetime,
) -> CertPair:
    """A leaf with chosen dates; self-signed when ``issuer`` is None."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    if issuer is None:
        issuer_name, signing_key = subject, key
    else:
        issuer_name = x509.load_pem_x509_certificate(issuer.cert_pem).subject
        signing_key = serialization.load_pem_private_key(issuer.key_path.read_bytes(), password=None)  # type: ignore[assignment]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(signing_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    pair = CertPair(folder / f"{stem}.pem", folder / f"{stem}-key.pem")
    pair.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return pair


@contextmanager
def tls_server(cert: CertPair, *, legacy: bool = False) -> Iterator[int]:
    """An in-process TLS server on 127.0.0.1 that completes handshakes and closes; yields its port.
    ``legacy``: also accepts TLS 1.0 / 1.1 (the finding MNT-03 looks for)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert.cert_path), str(cert.key_path))
    if legacy:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(2)
            try:
                with context.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1)  # until the client closes
            except OSError:
                pass  # a refused handshake is what several tests want
            finally:
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


# --------------------------------------------------------------------------------------------------
# The console, open and hardened
# --------------------------------------------------------------------------------------------------


def test_open_console_plain_http_default_login(start_console: Callable[..., Console]) -> None:
    console = start_console("--bind", MANAGEMENT, "--bind", USER_SIDE)
    port = console.ports[MANAGEMENT]
    url = f"http://{HOST}:{port}/admin"
    address = (MANAGEMENT, port)

    probe = m.probe_authentication(url, address, None)
    assert (probe["status"], probe["auth_required"], probe["auth_scheme"]) == (401, True, "basic")
    assert 'realm="maintenance-console"' in probe["headers"]["www-authenticate"]
    health = m.probe_authentication(f"http://{HOST}:{port}/healthz", address, None)
    assert (health["status"], health["auth_required"]) == (200, False)

    trials = m.try_credentials(url, address, None, list(m.DEFAULT_CREDENTIALS))
    accepted = [(t["username"], t["password"]) for t in trials if t["accepted"]]
    assert accepted == [("admin", "admin")]
    assert all(t["accepted"] is False and t["status"] == 401 for t in trials if t["password"] != "admin")

    inspection = m.inspect_tls(url, address, None)
    assert (inspection["scheme"], inspection["tls"], inspection["plain_http_answered"]) == ("http", False, True)

    user_port = console.ports[USER_SIDE]
    control = socket.create_server((USER_SIDE, 0))  # the harness's own listener: the scan can see something
    with control:
        control_port = control.getsockname()[1]
        scan = m.scan_ports(USER_SIDE, [*m.ports_to_scan([user_port]), control_port])
    user_scan = {p: s for p, s in scan.items() if p != control_port}
    user_probe = m.probe_authentication(f"http://{HOST}:{user_port}/admin", (USER_SIDE, user_port), None)
    exposure = m.judge_admin_exposure(
        user_address=USER_SIDE, user_scan=user_scan, declared_ports=[user_port], auth_probes=[probe],
        credential_trials=trials, user_side_probes=[user_probe], scan_control={control_port: scan[control_port]},
    )
    assert exposure.outcome == "fail"
    assert f"{USER_SIDE}:{user_port} (declared admin port)" in exposure.findings[0]
    assert any("admin/admin" in f for f in exposure.findings)
    assert m.judge_transport([inspection]).findings == [
        f"{HOST}:{port} は平文の HTTP で応答 / answers in plain HTTP (no TLS)"
    ]

    log = console.text()
    assert f'host={HOST}:{port} "GET /admin" 401 user=-' in log  # the URL's name went into Host
    assert f'host={HOST}:{port} "GET /admin" 200 user=admin' in log
    _stop(console.process)
    assert console.process.returncode == 0
    assert console.text().rstrip().endswith("stopped")


def test_hardened_console_tls_and_generated_password(
    tmp_path: Path, ca: CertPair, start_console: Callable[..., Console]
) -> None:
    leaf = make_leaf(tmp_path / "pki", "console", ca, [HOST])
    password_file = tmp_path / "state" / "admin-password"
    password_file.parent.mkdir()
    console = start_console("--bind", MANAGEMENT, "--tls-cert", str(leaf.cert_path), "--tls-key",
                            str(leaf.key_path), "--password-file", str(password_file))
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    assert len(password) >= 20 and password != "admin"
    port = console.ports[MANAGEMENT]
    url = f"https://{HOST}:{port}/admin"
    address = (MANAGEMENT, port)

    inspection = m.inspect_tls(url, address, ca.cert_path)
    assert inspection["verified"] is True, inspection
    assert inspection["version"] in ("TLSv1.2", "TLSv1.3")
    assert inspection["cipher"]["name"]
    assert HOST in inspection["certificate"]["san_dns"]
    assert "CN=maintenance test CA" in inspection["certificate"]["issuer"]
    assert inspection["certificate_problems"] == []
    assert inspection["legacy_tls"]["accepted"] is False, inspection["legacy_tls"]

    probe = m.probe_authentication(url, address, ca.cert_path)
    assert (probe["status"], probe["auth_required"], probe["tls_verified"]) == (401, True, True)
    # without the run's CA the certificate does not validate, but the question asked is still answered
    unverified = m.probe_authentication(url, address, None)
    assert (unverified["auth_required"], unverified["tls_verified"]) == (True, False)
    assert unverified["tls_error"].startswith("certificate verify failed")
    trials = m.try_credentials(url, address, ca.cert_path, list(m.DEFAULT_CREDENTIALS))
    assert [t["accepted"] for t in trials] == [False] * len(m.DEFAULT_CREDENTIALS)
    control = m.try_credentials(url, address, ca.cert_path, [("admin", password)], record_passwords=False)
    assert (control[0]["accepted"], control[0]["status"], control[0]["password"]) == (True, 200, "(not recorded)")

    # nothing on the user side: the port is refused there
    scan = m.scan_ports(USER_SIDE, m.ports_to_scan([], [url]))
    assert scan[port] == "refused"
    assert m.judge_admin_exposure(user_address=USER_SIDE, user_scan=scan, auth_probes=[probe],
                                  credential_trials=trials).outcome == "pass"
    assert m.judge_transport([inspection]).outcome == "pass"
    assert "SSL error occurred" in console.text()  # the refused TLS 1.1 handshake is in the console's log


def test_console_refuses_half_tls_arguments(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(CONSOLE), "--bind", MANAGEMENT, "--tls-cert", "x.pem"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2 and "--tls-cert and --tls-key go together" in result.stderr


# --------------------------------------------------------------------------------------------------
# inspect_tls against bad certificates
# --------------------------------------------------------------------------------------------------


def _bad_certificate(kind: str, folder: Path, ca: CertPair) -> CertPair:
    now = dt.datetime.now(dt.UTC)
    if kind == "expired":
        return _make_cert(folder, kind, [HOST], ca, now - dt.timedelta(days=30), now - dt.timedelta(days=1))
    if kind == "not_yet_valid":
        return _make_cert(folder, kind, [HOST], ca, now + dt.timedelta(days=1), now + dt.timedelta(days=30))
    if kind == "self_signed":
        return _make_cert(folder, kind, [HOST], None, now - dt.timedelta(hours=1), now + dt.timedelta(days=1))
    if kind == "wrong_name":
        return make_leaf(folder, kind, ca, ["other.maint.test"])
    rogue = make_ca(folder, "rogue-ca", "rogue CA")
    return make_leaf(folder, kind, rogue, [HOST])


@pytest.mark.parametrize("kind", ["expired", "not_yet_valid", "self_signed", "wrong_name", "untrusted"])
def test_inspect_tls_classifies_bad_certificates(tmp_path: Path, ca: CertPair, kind: str) -> None:
    cert = _bad_certificate(kind, tmp_path / "bad", ca)
    with tls_server(cert) as port:
        result = m.inspect_tls(f"https://{HOST}:{port}/", ("127.0.0.1", port), ca.cert_path)
    assert result["verified"] is False
    assert result["failure"] == kind, result["verify_error"]
    assert result["verify_error"]["code"] and result["verify_error"]["message"]
    # the second, non-validating handshake still recorded what was offered
    assert result["version"] in ("TLSv1.2", "TLSv1.3") and result["cipher"]["name"]
    certificate = result["certificate"]
    expected_sha = x509.load_pem_x509_certificate(cert.cert_pem).fingerprint(hashes.SHA256()).hex()
    assert certificate["sha256"] == expected_sha
    assert kind in result["certificate_problems"] or kind == "untrusted"
    assert certificate["self_signed"] is (kind == "self_signed")
    findings = m.judge_transport([result]).findings
    assert len(findings) == 1 and "certificate does not validate" in findings[0]


def test_inspect_tls_finds_accepted_tls11(tmp_path: Path, ca: CertPair) -> None:
    leaf = make_leaf(tmp_path / "pki", "legacy", ca, [HOST])
    with tls_server(leaf, legacy=True) as port:
        result = m.inspect_tls(f"https://{HOST}:{port}/", ("127.0.0.1", port), ca.cert_path)
    assert result["verified"] is True
    assert result["legacy_tls"]["accepted"] is True, result["legacy_tls"]
    assert result["legacy_tls"]["version"] in ("TLSv1", "TLSv1.1")
    assert any("accepts a TLS 1.1 handshake" in f for f in m.judge_transport([result]).findings)


def test_inspect_tls_nobody_listening_is_an_error_not_a_finding() -> None:
    port = _closed_port("127.0.0.1")
    result = m.inspect_tls(f"https://{HOST}:{port}/", ("127.0.0.1", port), None)
    assert result["error"].startswith("no TLS connection")
    judgement = m.judge_transport([result])
    assert (judgement.findings, judgement.outcome) == ([], "error")


# --------------------------------------------------------------------------------------------------
# scan_ports, redirects and form logins
# --------------------------------------------------------------------------------------------------


def _closed_port(address: str) -> int:
    with socket.create_server((address, 0)) as probe:
        return int(probe.getsockname()[1])  # closed again when we return


def test_scan_ports_open_and_refused() -> None:
    listener = socket.create_server(("127.0.0.4", 0))
    with listener:
        open_port = listener.getsockname()[1]
        closed = _closed_port("127.0.0.4")
        assert m.scan_ports("127.0.0.4", [open_port, closed]) == {open_port: "open", closed: "refused"}
    with pytest.raises(ValueError):
        m.scan_ports("console.maint.test", [22])  # never DNS
    assert m._port_state(errno.EHOSTUNREACH) == "unreachable"


class _FormLoginSite(http.server.BaseHTTPRequestHandler):
    """/admin redirects to /admin/ which redirects to /login (a form); /open serves a page."""

    def do_GET(self) -> None:
        pages = {"/admin": (302, "/admin/"), "/admin/": (302, "/login?next=/admin/"), "/open": (200, None),
                 "/login": (200, None)}
        status, location = pages.get(self.path.split("?")[0], (404, None))
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


def test_redirect_to_a_login_page_and_credentials_on_a_form_login() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FormLoginSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        address = ("127.0.0.1", port)
        probe = m.probe_authentication(f"http://{HOST}:{port}/admin", address, None)
        assert probe["auth_required"] is True and "login page" in probe["decided_by"]
        assert [r["location"] for r in probe["redirects"]] == [
            f"http://{HOST}:{port}/admin/", f"http://{HOST}:{port}/login?next=/admin/"]
        assert m.probe_authentication(f"http://{HOST}:{port}/open", address, None)["auth_required"] is False
        missing = m.probe_authentication(f"http://{HOST}:{port}/nothing", address, None)
        assert (missing["status"], missing["auth_required"]) == (404, None)
        trials = m.try_credentials(f"http://{HOST}:{port}/admin", address, None, [("admin", "admin")])
        assert trials[0]["accepted"] is None and "not an HTTP Basic endpoint" in trials[0]["error"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
