"""Maintenance-side oracle (MNT-02, MNT-03): what the platform's admin and update endpoints expose, and how.

Observations, each a plain synchronous function that opens its own sockets:

* ``scan_ports``: a TCP connect scan of one address (run from the user segment: nothing may answer);
* ``probe_authentication``: an unauthenticated GET of an endpoint (run from the management segment: it must
  ask for credentials);
* ``try_credentials``: HTTP Basic logins with well-known default pairs (``DEFAULT_CREDENTIALS``), all refused;
* ``inspect_tls``: the endpoint's TLS as a validating client sees it — version, cipher, certificate, why it
  does not validate — and whether it still accepts a TLS 1.1 handshake.

The test network has no DNS: every function connects to an explicit ``connect_address`` (ip, port) and uses
the URL's host only as the name a client would use — SNI, certificate-name check, ``Host`` header. Cases
call them inside a host of the test network through ``in_netns_of(pid, lambda: ...)``, so nothing here
keeps state between calls or starts threads.

The results are JSON-ready dicts. What a product does (a refused connection, a certificate that does not
validate) is data, never an exception; only the harness's own faults (a missing CA bundle, a socket that
cannot be made) raise ``HarnessError``. The pure ``judge_*`` functions turn observations into a
``Judgement``: findings (the requirement fails), and separately what could not be observed (the case is
``error``, never ``pass``).
"""

from __future__ import annotations

import base64
import datetime as dt
import errno
import http.client
import ipaddress
import selectors
import socket
import ssl
import time
import tomllib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urljoin, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conformance.errors import HarnessError, InputError

__all__ = [
    "ADMIN_PORT_NAMES",
    "COMMON_ADMIN_PORTS",
    "DEFAULT_CREDENTIALS",
    "DEFAULT_CREDENTIALS_FILE",
    "Judgement",
    "classify_verify_failure",
    "inspect_tls",
    "judge_admin_exposure",
    "judge_transport",
    "load_default_credentials",
    "ports_to_scan",
    "probe_authentication",
    "scan_ports",
    "try_credentials",
]

# --------------------------------------------------------------------------------------------------
# What is looked for
# --------------------------------------------------------------------------------------------------

# Ports where a platform typically offers remote administration. [INFER] our selection: the services named
# in NIST SP 800-53 MA-4 discussions (remote shell, remote desktop) plus the usual web-console ports of
# appliances and hypervisors. TCP only: the scan is a connect scan.
ADMIN_PORT_NAMES: dict[int, str] = {
    22: "ssh",
    23: "telnet",
    80: "http",
    443: "https",
    2222: "ssh-alt",
    2375: "docker",  # Docker Engine API, plain
    2376: "docker-tls",
    3389: "rdp",
    5900: "vnc",
    5901: "vnc-1",
    5985: "winrm",
    5986: "winrm-tls",
    8000: "http-alt",
    8080: "http-alt",
    8443: "https-alt",
    9090: "cockpit",
    9443: "https-alt",
    10000: "webmin",
}
COMMON_ADMIN_PORTS: tuple[int, ...] = tuple(ADMIN_PORT_NAMES)

# Shipped inside the package so an installed suite still has it (like test-numbers.toml).
DEFAULT_CREDENTIALS_FILE = Path(__file__).resolve().parent.parent / "data" / "default-credentials.toml"

PortState = Literal["open", "refused", "timeout", "unreachable"]

# Paths a login redirect typically goes to (a form login instead of HTTP Basic).
_LOGIN_WORDS = ("login", "logon", "signin", "sign-in", "sign_in", "auth", "sso", "session")

# Response headers worth keeping as evidence (never Set-Cookie: it may carry a session).
_HEADERS_OF_INTEREST = (
    "www-authenticate",
    "location",
    "server",
    "content-type",
    "strict-transport-security",
)

_OLD_VERSIONS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")

# OpenSSL X509_V_ERR_* codes (x509_vfy.h) -> our classes.
_VERIFY_CLASSES: dict[int, str] = {
    2: "untrusted",  # UNABLE_TO_GET_ISSUER_CERT
    9: "not_yet_valid",  # CERT_NOT_YET_VALID
    10: "expired",  # CERT_HAS_EXPIRED
    18: "self_signed",  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: "untrusted",  # SELF_SIGNED_CERT_IN_CHAIN: a root nobody trusts
    20: "untrusted",  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: "untrusted",  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    62: "wrong_name",  # HOSTNAME_MISMATCH
    64: "wrong_name",  # IP_ADDRESS_MISMATCH
}
_CLASS_TEXT = {
    "expired": ("期限切れ", "expired"),
    "not_yet_valid": ("有効期間前", "not yet valid"),
    "self_signed": ("自己署名", "self-signed"),
    "wrong_name": ("名前が一致しない", "wrong name"),
    "untrusted": ("信頼されない発行者", "untrusted issuer"),
    "other": ("その他", "other"),
}


def load_default_credentials(path: Path = DEFAULT_CREDENTIALS_FILE) -> list[tuple[str, str]]:
    """The (username, password) pairs of ``path`` (``[[credential]]`` tables), validated."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(str(path), "", f"cannot read the default-credentials list: {exc}") from exc
    entries = document.get("credential")
    if not isinstance(entries, list) or not entries:
        raise InputError(str(path), "credential", "no [[credential]] entries", "add username/password pairs")
    pairs: list[tuple[str, str]] = []
    for index, entry in enumerate(entries):
        username, password = entry.get("username"), entry.get("password")
        if not isinstance(username, str) or not username or not isinstance(password, str):
            raise InputError(str(path), f"credential[{index}]", "needs a non-empty username and a password string")
        if (username, password) in pairs:
            raise InputError(str(path), f"credential[{index}]", f"duplicate pair {username!r}/{password!r}")
        pairs.append((username, password))
    return pairs


DEFAULT_CREDENTIALS: tuple[tuple[str, str], ...] = tuple(load_default_credentials())


def ports_to_scan(declared_ports: Iterable[int] = (), endpoint_urls: Iterable[str] = ()) -> list[int]:
    """The common admin ports, the product's declared ones and the ports of its endpoint URLs, sorted."""
    ports = set(COMMON_ADMIN_PORTS) | set(declared_ports)
    ports |= {_parse(url).port for url in endpoint_urls}
    return sorted(ports)


# --------------------------------------------------------------------------------------------------
# Port scan
# --------------------------------------------------------------------------------------------------


def _port_state(code: int) -> PortState:
    if code == 0:
        return "open"
    if code == errno.ECONNREFUSED:
        return "refused"
    if code == errno.ETIMEDOUT:
        return "timeout"
    # EHOSTUNREACH / ENETUNREACH (no route, or a firewall's ICMP reject), EACCES / EPERM (a local filter), and
    # anything else: no connection, never "open"
    return "unreachable"


def scan_ports(address: str, ports: Iterable[int], timeout: float = 1.0) -> dict[int, PortState]:
    """TCP connect scan of ``address`` (an IP literal: no DNS): "open", "refused", "timeout" or "unreachable".

    All connects run at once on non-blocking sockets in this thread (so the whole scan takes at most about
    ``timeout`` per 256 ports, and stays in the caller's network namespace).
    """
    ip = ipaddress.ip_address(address)  # ValueError for a name: the test network has no DNS
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    wanted = sorted(set(ports))
    bad = [p for p in wanted if not 1 <= p <= 65535]
    if bad:
        raise ValueError(f"ports must be 1-65535, got {bad}")
    states: dict[int, PortState] = {}
    for start in range(0, len(wanted), 256):
        states.update(_scan_batch(family, str(ip), wanted[start : start + 256], timeout))
    return {port: states[port] for port in wanted}


def _scan_batch(family: socket.AddressFamily, address: str, ports: list[int], timeout: float) -> dict[int, PortState]:
    states: dict[int, PortState] = {}
    with selectors.DefaultSelector() as selector:
        pending: dict[socket.socket, int] = {}
        try:
            for port in ports:
                try:
                    sock = socket.socket(family, socket.SOCK_STREAM)
                except OSError as exc:
                    raise HarnessError("port-scan", f"cannot make a socket: {exc}") from exc
                sock.setblocking(False)
                code = sock.connect_ex((address, port))
                if code in (errno.EINPROGRESS, errno.EAGAIN):
                    pending[sock] = port
                    selector.register(sock, selectors.EVENT_WRITE)
                else:
                    states[port] = _port_state(code)
                    sock.close()
            deadline = time.monotonic() + timeout
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                for key, _ in selector.select(remaining):
                    done = cast(socket.socket, key.fileobj)
                    selector.unregister(done)
                    # the connect's outcome: 0 (a SYN-ACK came back) or the errno of the failure
                    states[pending.pop(done)] = _port_state(done.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
                    done.close()
            for port in pending.values():
                states[port] = "timeout"  # no answer at all: dropped by a filter, or nobody routes it back
        finally:
            for sock in pending:
                sock.close()
    return states


# --------------------------------------------------------------------------------------------------
# HTTP(S) to an explicit address
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # as a client would name it: SNI, certificate name, Host header
    port: int
    path: str

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _parse(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(parts.scheme, parts.hostname, port, path)


def _address_text(address: tuple[str, int]) -> str:
    host = f"[{address[0]}]" if ":" in address[0] else address[0]
    return f"{host}:{address[1]}"


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP(S) to ``connect_address`` while naming ``host`` (Host header, SNI, certificate check)."""

    def __init__(
        self, target: _Target, connect_address: tuple[str, int], context: ssl.SSLContext | None, timeout: float
    ) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.default_port = 443 if context is not None else 80  # so Host omits the scheme's default port
        self._connect_address = connect_address
        self._tls_context = context
        self.tls_version: str | None = None

    def connect(self) -> None:
        sock = socket.create_connection(self._connect_address, timeout=self.timeout)
        if self._tls_context is not None:
            try:
                sock = self._tls_context.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
            self.tls_version = sock.version()
        self.sock = sock


def _verifying_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """A client as the platform's own maintenance tools should be: system defaults, our trust anchors."""
    if ca_bundle is not None and not Path(ca_bundle).is_file():
        raise HarnessError("maintenance", f"CA bundle {ca_bundle} does not exist: nothing to validate against")
    try:
        return ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle is not None else None)
    except ssl.SSLError as exc:
        raise HarnessError("maintenance", f"CA bundle {ca_bundle} cannot be loaded: {exc}") from exc


def _permissive_context(maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """No validation, every protocol and cipher our OpenSSL still has: to see what the server offers."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1_1 is deprecated: that is the point
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        if maximum is not None:
            context.maximum_version = maximum
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS < 1.2 (SHA-1 signatures) above level 0
    return context


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message} (code {exc.verify_code})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return f"{type(exc).__name__}: {exc}"


def _send(
    target: _Target,
    connect_address: tuple[str, int],
    context: ssl.SSLContext | None,
    headers: Mapping[str, str],
    timeout: float,
) -> dict[str, Any]:
    connection = _PinnedConnection(target, connect_address, context, timeout)
    try:
        connection.request("GET", target.path, headers={"User-Agent": "conformance-maintenance-oracle", **headers})
        response = connection.getresponse()
        body = response.read(65536)
        return {
            "status": response.status,
            "reason": response.reason,
            "headers": {name: response.headers[name] for name in _HEADERS_OF_INTEREST if name in response.headers},
            "body_excerpt": body[:200].decode("utf-8", "replace"),
            "tls_version": connection.tls_version,
        }
    finally:
        connection.close()


def _exchange(
    url: str,
    connect_address: tuple[str, int],
    ca_bundle: Path | None,
    headers: Mapping[str, str],
    timeout: float,
) -> dict[str, Any]:
    """One GET. For https, first with a validating client; when TLS fails, again without validation, so the
    question asked (does it want a password?) is still answered: the TLS failure is MNT-03's, kept as data."""
    target = _parse(url)
    answer: dict[str, Any] = {"status": None, "tls_verified": None, "tls_error": None, "error": None}
    if target.scheme == "http":
        try:
            return {**answer, **_send(target, connect_address, None, headers, timeout)}
        except (OSError, http.client.HTTPException) as exc:
            return {**answer, "error": _describe(exc)}
    try:
        return {**answer, **_send(target, connect_address, _verifying_context(ca_bundle), headers, timeout),
                "tls_verified": True}
    except ssl.SSLError as exc:  # certificate or protocol: retry to observe the rest
        answer.update(tls_verified=False, tls_error=_describe(exc))
    except (OSError, http.client.HTTPException) as exc:
        return {**answer, "error": _describe(exc)}
    try:
        return {**answer, **_send(target, connect_address, _permissive_context(), headers, timeout)}
    except (OSError, http.client.HTTPException) as exc:
        return {**answer, "error": _describe(exc)}


def _is_login_location(location: str) -> bool:
    path = urlsplit(location).path.lower()
    return any(word in path for word in _LOGIN_WORDS)


def _challenge_scheme(headers: Mapping[str, str]) -> str | None:
    challenge = headers.get("www-authenticate", "").strip()
    return challenge.split(None, 1)[0].lower() if challenge else None


def probe_authentication(
    url: str,
    connect_address: tuple[str, int],
    ca_bundle: Path | None,
    timeout: float = 5.0,
    max_redirects: int = 3,
) -> dict[str, Any]:
    """An unauthenticated GET of ``url`` sent to ``connect_address``: does the endpoint ask for credentials?

    ``auth_required``: True for 401/403 or a redirect to a login page, False for a 2xx answer, None when the
    answer says nothing (no answer, 404, 5xx, a redirect elsewhere) — ``decided_by`` says which. Redirects
    to the same host are followed (its address stays ``connect_address``'s, the port the redirect's).
    """
    result: dict[str, Any] = {
        "url": url,
        "connect_address": _address_text(connect_address),
        "status": None,
        "reason": "",
        "headers": {},
        "auth_required": None,
        "auth_scheme": None,
        "decided_by": "",
        "redirects": [],
        "tls_verified": None,
        "tls_error": None,
        "error": None,
    }
    current, address = url, connect_address
    for hop in range(max_redirects + 1):
        answer = _exchange(current, address, ca_bundle, {}, timeout)
        if hop == 0:
            result["tls_verified"], result["tls_error"] = answer["tls_verified"], answer["tls_error"]
        if answer["error"]:
            result["error"] = answer["error"]
            result["decided_by"] = f"no answer from {current}"
            return result
        status, headers = answer["status"], answer["headers"]
        result.update(status=status, reason=answer["reason"], headers=headers, auth_scheme=_challenge_scheme(headers))
        if status in (401, 403):
            result.update(auth_required=True, decided_by=f"{status} {answer['reason']}".strip())
            return result
        if 200 <= status < 300:
            result.update(auth_required=False, decided_by=f"{status}: served without credentials")
            return result
        location = headers.get("location")
        if 300 <= status < 400 and location:
            following = urljoin(current, location)
            result["redirects"].append({"status": status, "location": following})
            if _is_login_location(following):
                result.update(auth_required=True, decided_by=f"{status}: redirect to a login page {following}")
                return result
            nxt = _parse(following)
            if nxt.host != _parse(current).host or hop == max_redirects:
                result["decided_by"] = f"{status}: redirect to {following}, not followed"
                return result
            current, address = following, (connect_address[0], nxt.port)
            continue
        result["decided_by"] = f"{status}: says nothing about authentication"
        return result
    return result  # pragma: no cover - the loop always returns


def try_credentials(
    url: str,
    connect_address: tuple[str, int],
    ca_bundle: Path | None,
    credentials: Sequence[tuple[str, str]],
    timeout: float = 5.0,
    record_passwords: bool = True,
) -> list[dict[str, Any]]:
    """HTTP Basic logins to ``url``, one per pair: ``accepted`` True (2xx), False (401/403, or a redirect to a
    login page), None (could not tell). Only meaningful for a Basic endpoint: when the unauthenticated request
    is not answered with a Basic challenge, every pair is None and ``error`` says why.

    ``record_passwords=False`` keeps passwords out of the result (for a positive control with a real one).
    """
    baseline = _exchange(url, connect_address, ca_bundle, {}, timeout)
    scheme = _challenge_scheme(baseline.get("headers") or {})
    not_basic: str | None = None
    if baseline["error"]:
        not_basic = f"no answer without credentials: {baseline['error']}"
    elif baseline["status"] != 401 or scheme != "basic":
        not_basic = (f"not an HTTP Basic endpoint (status {baseline['status']}, challenge {scheme or 'none'}): "
                     "default credentials cannot be tried here")
    trials: list[dict[str, Any]] = []
    for username, password in credentials:
        trial: dict[str, Any] = {
            "url": url,
            "username": username,
            "password": password if record_passwords else "(not recorded)",
            "status": None,
            "accepted": None,
            "tls_verified": baseline["tls_verified"],
            "error": not_basic,
        }
        if not_basic is None:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            answer = _exchange(url, connect_address, ca_bundle, {"Authorization": f"Basic {token}"}, timeout)
            status = answer["status"]
            trial.update(status=status, error=answer["error"], tls_verified=answer["tls_verified"])
            if status is not None:
                location = answer["headers"].get("location", "")
                if 200 <= status < 300:
                    trial["accepted"] = True
                elif status in (401, 403) or (300 <= status < 400 and _is_login_location(location)):
                    trial["accepted"] = False
                else:
                    trial["error"] = f"status {status}: neither accepted nor refused"
        trials.append(trial)
    return trials


# --------------------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------------------


def classify_verify_failure(verify_code: int | None, verify_message: str = "") -> str:
    """"expired", "not_yet_valid", "self_signed", "wrong_name", "untrusted" or "other" for OpenSSL's code."""
    if verify_code in _VERIFY_CLASSES:
        return _VERIFY_CLASSES[verify_code]
    message = verify_message.lower()
    if "mismatch" in message:
        return "wrong_name"
    return "other"


def _name_matches(host: str, dns_names: list[str], ips: list[str]) -> bool:
    try:
        return str(ipaddress.ip_address(host)) in ips
    except ValueError:
        pass
    host = host.lower().rstrip(".")
    for name in dns_names:
        name = name.lower().rstrip(".")
        if name == host:
            return True
        # RFC 6125: a wildcard stands for exactly one left-most label
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _certificate_facts(der: bytes, host: str) -> tuple[dict[str, Any], list[str]]:
    """The certificate as evidence, and what is wrong with it by itself (dates, issuer, name)."""
    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = [str(n) for n in sans.get_values_for_type(x509.DNSName)]
        ips = [str(n) for n in sans.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns_names, ips = [], []
    self_signed = False
    if cert.issuer == cert.subject:
        try:
            cert.verify_directly_issued_by(cert)
            self_signed = True
        except (InvalidSignature, ValueError, TypeError):  # signed by another key, or a key type it cannot check
            self_signed = False
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key_text = f"RSA {key.key_size}"
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_text = f"EC {key.curve.name}"
    else:
        key_text = type(key).__name__
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    facts = {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "san_dns": dns_names,
        "san_ip": ips,
        "not_before": not_before.isoformat(),
        "not_after": not_after.isoformat(),
        "self_signed": self_signed,
        "public_key": key_text,
        "signature_hash": cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else None,
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
    }
    now = dt.datetime.now(dt.UTC)
    problems = []
    if now > not_after:
        problems.append("expired")
    if now < not_before:
        problems.append("not_yet_valid")
    if self_signed:
        problems.append("self_signed")
    if not _name_matches(host, dns_names, ips):
        problems.append("wrong_name")
    return facts, problems


def _handshake(
    target: _Target, connect_address: tuple[str, int], context: ssl.SSLContext, timeout: float
) -> dict[str, Any]:
    with socket.create_connection(connect_address, timeout=timeout) as raw, context.wrap_socket(
        raw, server_hostname=target.host
    ) as tls:
        cipher = tls.cipher()
        return {
            "version": tls.version(),
            "cipher": {"name": cipher[0], "protocol": cipher[1], "bits": cipher[2]} if cipher else None,
            "der": tls.getpeercert(binary_form=True),
        }


def _legacy_probe(target: _Target, connect_address: tuple[str, int], timeout: float) -> dict[str, Any]:
    """Does the server complete a handshake capped at TLS 1.1? accepted: True / False / None (not observed)."""
    try:
        raw = socket.create_connection(connect_address, timeout=timeout)
    except OSError as exc:
        return {"accepted": None, "version": None, "error": f"no connection: {_describe(exc)}"}
    try:
        with _permissive_context(maximum=ssl.TLSVersion.TLSv1_1).wrap_socket(raw, server_hostname=target.host) as tls:
            return {"accepted": True, "version": tls.version(), "error": None}
    except ssl.SSLError as exc:
        if exc.reason in ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO_SUITABLE_SIGNATURE_ALGORITHM"):
            # our own OpenSSL could not offer TLS 1.1: nothing was asked of the server
            return {"accepted": None, "version": None, "error": f"this client cannot offer TLS 1.1: {exc.reason}"}
        return {"accepted": False, "version": None, "error": _describe(exc)}
    except TimeoutError:
        return {"accepted": None, "version": None, "error": "timeout during the TLS 1.1 handshake"}
    except OSError as exc:  # reset or closed in answer to the TLS 1.1 hello: refused
        return {"accepted": False, "version": None, "error": _describe(exc)}
    finally:
        raw.close()


def inspect_tls(
    url: str, connect_address: tuple[str, int], ca_bundle: Path | None, timeout: float = 5.0
) -> dict[str, Any]:
    """The endpoint's transport as a validating client sees it (MNT-03).

    http://: ``{"scheme": "http", "tls": False, ...}`` plus whether a plain request was answered.
    https://: a handshake with the default client context (trust = ``ca_bundle``, or the system store when
    None; the URL host as SNI and certificate name). ``verified``, ``version``, ``cipher``, ``certificate``.
    When validation fails: ``verify_error`` (OpenSSL's code and message), ``failure`` (its class) and a
    second, non-validating handshake for the certificate and the version. ``handshake_error``: the default
    client failed for another reason (protocol, cipher). ``legacy_tls``: a handshake capped at TLS 1.1.
    ``error``: the endpoint could not be examined at all (not a finding).
    """
    target = _parse(url)
    base: dict[str, Any] = {"url": url, "connect_address": _address_text(connect_address), "host": target.host}
    if target.scheme == "http":
        answer = _exchange(url, connect_address, None, {}, timeout)
        return {
            **base,
            "scheme": "http",
            "tls": False,
            "plain_http_answered": answer["status"] is not None,
            "status": answer["status"],
            "headers": answer.get("headers", {}),
            "error": answer["error"],
        }
    result: dict[str, Any] = {
        **base,
        "scheme": "https",
        "tls": True,
        "verified": None,
        "version": None,
        "cipher": None,
        "certificate": None,
        "certificate_problems": [],
        "verify_error": None,
        "failure": None,
        "handshake_error": None,
        "legacy_tls": None,
        "error": None,
    }
    details: dict[str, Any] | None = None
    try:
        details = _handshake(target, connect_address, _verifying_context(ca_bundle), timeout)
        result["verified"] = True
    except ssl.SSLCertVerificationError as exc:
        result["verified"] = False
        result["verify_error"] = {"code": exc.verify_code, "message": exc.verify_message}
        result["failure"] = classify_verify_failure(exc.verify_code, exc.verify_message or "")
    except ssl.SSLError as exc:
        result["verified"] = False
        result["handshake_error"] = _describe(exc)
    except OSError as exc:
        result["error"] = f"no TLS connection: {_describe(exc)}"
        return result
    if details is None:
        try:
            details = _handshake(target, connect_address, _permissive_context(), timeout)
        except OSError as exc:
            result["error"] = f"not even a non-validating handshake completed: {_describe(exc)}"
    if details is not None:
        result["version"], result["cipher"] = details["version"], details["cipher"]
        if details["der"]:
            result["certificate"], result["certificate_problems"] = _certificate_facts(details["der"], target.host)
    result["legacy_tls"] = _legacy_probe(target, connect_address, timeout)
    return result


# --------------------------------------------------------------------------------------------------
# Judging (pure)
# --------------------------------------------------------------------------------------------------


@dataclass
class Judgement:
    """What the observations say about one requirement.

    ``findings``: bilingual lines, each a reason to fail. ``unobservable``: what could not be observed; with
    no finding the case is ``error`` (never ``pass``). ``evidence``: JSON-ready, for evidence.json.
    """

    requirement: str
    findings: list[str] = field(default_factory=list)
    unobservable: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> Literal["pass", "fail", "error"]:
        # a finding is a finding even if something else could not be observed
        if self.findings:
            return "fail"
        return "error" if self.unobservable else "pass"

    def as_dict(self) -> dict[str, Any]:
        return {
            "requirement": self.requirement,
            "outcome": self.outcome,
            "findings": list(self.findings),
            "unobservable": list(self.unobservable),
            "evidence": self.evidence,
        }


def _netloc(url: str) -> str:
    try:
        return _parse(url).netloc
    except ValueError:
        return url


def judge_admin_exposure(
    *,
    user_address: str,
    user_scan: Mapping[int, str] | None,
    declared_ports: Iterable[int] = (),
    service_ports: Iterable[int] = (),
    auth_probes: Sequence[Mapping[str, Any]] = (),
    credential_trials: Sequence[Mapping[str, Any]] = (),
    user_side_probes: Sequence[Mapping[str, Any]] = (),
    scan_control: Mapping[int, str] | None = None,
) -> Judgement:
    """MNT-02: the admin interface is unreachable from the user segment, authenticated, without default logins.

    * ``user_scan``: ``scan_ports(user_address, ports_to_scan(...))`` run from the user segment (the terminal
      host). Every open port fails, except ``service_ports`` — the product's user-facing service, which the
      terminal must reach — unless it is also a declared admin port or an admin endpoint's port.
    * ``scan_control``: the same scan of a listener the harness opened on ``user_address``; when it is not
      "open" the user-side scan shows nothing (unobservable).
    * ``user_side_probes``: ``probe_authentication`` of the admin URLs at (``user_address``, port), from the
      user segment: any HTTP answer but 404/421 means the admin interface answers there.
    * ``auth_probes``: ``probe_authentication`` of each declared admin endpoint (role "admin") from the
      management segment; ``credential_trials``: the ``try_credentials`` results of those endpoints, flat.
    """
    judgement = Judgement("MNT-02")
    declared = set(declared_ports)
    endpoint_ports = {_parse(p["url"]).port for p in auth_probes}
    admin_ports = declared | endpoint_ports
    exempt = set(service_ports) - admin_ports
    judgement.evidence = {
        "user_address": user_address,
        "user_scan": {str(port): state for port, state in (user_scan or {}).items()},
        "scan_control": {str(port): state for port, state in scan_control.items()} if scan_control else None,
        "declared_admin_ports": sorted(declared),
        "service_ports (exempt)": sorted(exempt),
        "user_side_probes": [dict(p) for p in user_side_probes],
        "auth_probes": [dict(p) for p in auth_probes],
        "credential_trials": [dict(t) for t in credential_trials],
    }
    if not auth_probes:
        judgement.evidence["note"] = "no admin endpoint declared: only the user-side scan applies"

    # 1. unreachable from the user segment
    if scan_control is not None and (not scan_control or any(s != "open" for s in scan_control.values())):
        judgement.unobservable.append(
            f"{user_address} の対照リスナーに利用者セグメントから届かない（走査は無意味）/ the control listener on "
            f"{user_address} is not reachable from the user segment, so the scan shows nothing: {dict(scan_control)}"
        )
    if not user_scan:
        judgement.unobservable.append("利用者セグメントからの走査がない / the user segment was not scanned")
    reported: set[int] = set()
    for port, state in sorted((user_scan or {}).items()):
        if state != "open" or port in exempt:
            continue
        name = ADMIN_PORT_NAMES.get(port) or ("admin endpoint" if port in endpoint_ports else "declared admin port")
        reported.add(port)
        judgement.findings.append(
            f"{_address_text((user_address, port))} ({name}) が利用者セグメントから到達可能 / "
            "reachable from the user segment"
        )
    for probe in user_side_probes:
        port = int(str(probe.get("connect_address", "")).rpartition(":")[2] or 0)
        status = probe.get("status")
        if status is None or status in (404, 421) or port in reported:
            continue
        judgement.findings.append(
            f"{probe['url']} の管理画面が利用者セグメント（{probe.get('connect_address')}）から応答 ({status}) / "
            "the admin interface answers from the user segment"
        )

    # 2. authentication required
    for probe in auth_probes:
        url = probe["url"]
        if probe.get("auth_required") is False:
            judgement.findings.append(
                f"{url} が認証なしで応答 ({probe.get('status')}) / answers without authentication"
            )
        elif probe.get("auth_required") is None:
            judgement.unobservable.append(
                f"{url}: 認証の要否を観測できない / could not observe whether authentication is required: "
                f"{probe.get('error') or probe.get('decided_by')}"
            )

    # 3. no default credentials
    by_url: dict[str, list[Mapping[str, Any]]] = {}
    for trial in credential_trials:
        by_url.setdefault(trial["url"], []).append(trial)
    for url, trials in by_url.items():
        for trial in trials:
            if trial.get("accepted") is True:
                password = trial.get("password") or "（空 / empty）"
                judgement.findings.append(
                    f"{url} が既定の認証情報 {trial['username']}/{password} を受け付けた ({trial.get('status')}) / "
                    "accepts default credentials"
                )
        undecided = [t for t in trials if t.get("accepted") is None]
        if undecided:
            reasons = sorted({str(t.get("error")) for t in undecided})
            judgement.unobservable.append(
                f"{url}: 既定の認証情報 {len(undecided)} 組を判定できない / {len(undecided)} default credential "
                f"pair(s) could not be decided: {'; '.join(reasons)}"
            )
    for probe in auth_probes:
        if probe.get("auth_required") is True and probe["url"] not in by_url:
            judgement.unobservable.append(
                f"{probe['url']}: 既定の認証情報を試していない / default credentials were not tried"
            )
    return judgement


def judge_transport(inspections: Sequence[Mapping[str, Any]]) -> Judgement:
    """MNT-03: every maintenance and update endpoint uses validated TLS 1.2 or later.

    ``inspections``: ``inspect_tls`` of every declared endpoint (admin and update), from the management
    segment. Fails on plain HTTP, a certificate that does not validate, a default client that cannot
    complete a handshake, a negotiated version below TLS 1.2, an accepted TLS 1.1 handshake.
    """
    judgement = Judgement("MNT-03", evidence={"inspections": [dict(i) for i in inspections]})
    if not inspections:
        judgement.unobservable.append(
            "保守・更新の通信先が申告されていない / no maintenance or update endpoint declared"
        )
    for item in inspections:
        where = _netloc(item["url"])
        if item.get("scheme") == "http":
            if item.get("plain_http_answered"):
                judgement.findings.append(f"{where} は平文の HTTP で応答 / answers in plain HTTP (no TLS)")
            else:
                judgement.unobservable.append(
                    f"{where}: 保守セグメントから応答がない / no answer from the management segment: "
                    f"{item.get('error')}"
                )
            continue
        if item.get("error") and item.get("version") is None:
            judgement.unobservable.append(
                f"{where}: TLS を観測できない / TLS could not be observed: {item['error']}"
            )
            continue
        failure = item.get("failure")
        if failure:
            ja, en = _CLASS_TEXT.get(failure, _CLASS_TEXT["other"])
            message = (item.get("verify_error") or {}).get("message") or ""
            judgement.findings.append(
                f"{where} の証明書を検証できない（{ja}）/ certificate does not validate ({en}): {message}".rstrip(": ")
            )
        elif item.get("handshake_error"):
            judgement.findings.append(
                f"{where} と既定設定のクライアントで TLS を確立できない / a default TLS client cannot complete a "
                f"handshake: {item['handshake_error']}"
            )
        version = item.get("version")
        if version in _OLD_VERSIONS:
            judgement.findings.append(f"{where} が {version} で接続（TLS 1.2 未満）/ negotiated {version} (< TLS 1.2)")
        legacy = item.get("legacy_tls") or {}
        if legacy.get("accepted") is True:
            judgement.findings.append(
                f"{where} が TLS 1.1 のハンドシェイクを受け付けた / accepts a TLS 1.1 handshake "
                f"({legacy.get('version')})"
            )
        elif legacy.get("accepted") is None:
            judgement.unobservable.append(
                f"{where}: TLS 1.1 を受け付けるか観測できない / could not test a TLS 1.1 handshake: "
                f"{legacy.get('error')}"
            )
    return judgement
