"""The platform's maintenance side, started on the test network as the profile says (MNT-02, MNT-03).

A secure-browser server or a VDI gateway is administered through a console and fetches its updates over some
channel. The profile's ``[maintenance]`` section declares those endpoints and a ``start`` command; the suite
runs that command on the "platform" host of its test network, which has one leg on the user segment and one
on the management segment (``environment/test_network.py``). Where the product then listens, with which
certificate and which credentials, is the product's own doing: the cases observe it from a host on each
segment. The harness hands the command what a municipality's network would give it, and nothing else:

    {user_address} {management_address}  the platform's two addresses
    {tls_cert} {tls_key} {ca_cert}       a certificate for the endpoints' names from the run's own CA (as
                                         the municipality's PKI would issue one); the product may ignore it
    {state_dir} {profile_dir} {python}   a folder for its state, the profile's folder, this Python

With no ``start`` command the endpoints are taken to run already in a real lab: that needs
``--allow-lab-address``, and the probes then go out from this machine (documented in the README).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from conformance.environment import tls
from conformance.environment.test_network import MANAGEMENT, USER, TestNetwork
from conformance.errors import HarnessError, InputError

PLACEHOLDERS = ("user_address", "management_address", "tls_cert", "tls_key", "ca_cert", "state_dir", "profile_dir",
                "python")


class Vantage(Protocol):
    """Where a probe is sent from: a host of the test network, or this machine in a real lab."""

    name: str

    def call(self, work: Any) -> Any: ...


@dataclass(frozen=True)
class DeclaredEndpoint:
    url: str
    role: str
    purpose: str
    host: str  # the name in the URL: what the certificate must carry
    port: int


class ThisMachine:
    """The vantage of a real-lab run: this machine's own network (the tester places it on the user segment)."""

    name = "this-machine"

    def call(self, work: Any) -> Any:
        return work()


def declared_endpoints(profile: Any) -> list[DeclaredEndpoint]:
    endpoints = []
    for endpoint in profile.maintenance.endpoints:
        parts = urlsplit(endpoint.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        endpoints.append(DeclaredEndpoint(endpoint.url, endpoint.role, endpoint.purpose, parts.hostname or "", port))
    return endpoints


def validate_maintenance(profile: Any, allow_lab_address: bool, file: str) -> None:
    """Refuse, before the run, a maintenance section whose probes would leave the suite's own network."""
    section = profile.maintenance
    if section.ca and not _is_file(profile.base_dir / section.ca):
        raise InputError(file, "maintenance.ca", f"{section.ca} is not a file", "give the PEM of the endpoints' CA")
    for i, endpoint in enumerate(declared_endpoints(profile)):
        literal = _address_literal(endpoint.host)
        if section.start and literal is not None:
            raise InputError(file, f"maintenance.endpoints[{i}].url", f"{endpoint.host} is an address",
                             "use the name the certificate carries (e.g. console.maint.test): with `start` the "
                             "suite reaches it at the platform host of its test network")
        if not section.start and not allow_lab_address:
            raise InputError(file, f"maintenance.endpoints[{i}].url",
                             "no [maintenance] start command, so the endpoint would be probed in a real network",
                             "add `start` (the suite runs it on its test network), or pass --allow-lab-address "
                             "when this machine really is on the user segment of a lab")
    if section.start:
        unknown = [p for arg in section.start for p in _fields(arg) if p not in PLACEHOLDERS]
        if unknown:
            raise InputError(file, "maintenance.start", f"unknown placeholder {{{unknown[0]}}}",
                             f"use only {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. a name too long for the file system: no such file either
        return False


def _fields(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def _address_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class MaintenancePlatform:
    """Context manager: the profile's ``start`` command running on the platform host; stopped afterwards."""

    def __init__(self, profile: Any, network: TestNetwork | None, folder: Path) -> None:
        self.profile = profile
        self.network = network
        self.folder = folder
        self.endpoints = declared_endpoints(profile)
        self.lab = not profile.maintenance.start
        self.argv: list[str] = []
        self.log_path = folder / "platform.log"
        self.ca_bundle: Path | None = None
        self._ca: tls.CertPair | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- where probes come from and go to ----------------------------------------------------------
    def vantage(self, segment: str) -> Vantage:
        """The host a probe from ``segment`` is sent from."""
        if self.lab or self.network is None:
            return ThisMachine()
        return self.network.hosts["terminal" if segment == USER else "maintenance"]

    def address(self, endpoint: DeclaredEndpoint, segment: str) -> str:
        """Where ``endpoint`` is reached from ``segment``: the platform's address there (in a lab, the address the
        URL's host resolves to on this machine)."""
        if self.lab or self.network is None:
            try:
                return socket.gethostbyname(endpoint.host)
            except OSError as exc:
                raise HarnessError("maintenance", f"{endpoint.host} does not resolve on this machine: {exc}") from exc
        return self.network.hosts["platform"].address(segment)

    @contextlib.contextmanager
    def control_listener(self, segment: str) -> Iterator[int | None]:
        """A listener of the suite on the platform's address on ``segment`` (its port; None in a lab, where the
        platform is not ours): a scan from that segment must find it, or finding nothing proves nothing."""
        if self.lab or self.network is None:
            yield None
            return
        platform = self.network.hosts["platform"]
        address = platform.address(segment)
        listener = platform.call(lambda: socket.create_server((address, 0)))
        try:
            yield listener.getsockname()[1]
        finally:
            listener.close()

    @property
    def running(self) -> bool:
        return self.lab or (self._process is not None and self._process.poll() is None)

    def facts(self) -> dict[str, Any]:
        return {
            "mode": "real lab (--allow-lab-address)" if self.lab else "test network (profile's start command)",
            "started": self.argv,
            "pid": self._process.pid if self._process else None,
            "platform_addresses": (self.network.hosts["platform"].addresses if self.network and not self.lab
                                   else {}),
            "endpoints": [e.__dict__ for e in self.endpoints],
            "trusted_ca_bundle": str(self.ca_bundle) if self.ca_bundle else None,
        }

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        return ""

    # -- life cycle --------------------------------------------------------------------------------
    def __enter__(self) -> MaintenancePlatform:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_bundle = self._trust()
        if self.lab:
            return self
        if self.network is None:
            raise HarnessError("test-network", "the maintenance platform needs the test network")
        platform = self.network.hosts["platform"]
        values = self._placeholders(platform.address(USER), platform.address(MANAGEMENT))
        self.argv = [arg.format(**values) for arg in self.profile.maintenance.start]
        with self.log_path.open("wb") as log:
            try:
                self._process = subprocess.Popen(
                    [*platform.enter_argv(), *self.argv], stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, cwd=self.profile.base_dir, start_new_session=True,
                )
            except OSError as exc:
                raise HarnessError("maintenance", f"could not start {self.argv[0]}: {exc}") from exc
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def _placeholders(self, user_address: str, management_address: str) -> dict[str, str]:
        names = sorted({e.host for e in self.endpoints} | {user_address, management_address})
        if self._ca is None:  # made by _trust() first
            raise HarnessError("maintenance", "the run's CA was not made before the certificate")
        leaf = tls.make_leaf(self.folder / "pki", "platform", self._ca, names)
        state = self.folder / "state"
        state.mkdir(exist_ok=True)
        return {"user_address": user_address, "management_address": management_address,
                "tls_cert": str(leaf.cert_path), "tls_key": str(leaf.key_path), "ca_cert": str(self._ca.cert_path),
                "state_dir": str(state), "profile_dir": str(self.profile.base_dir), "python": sys.executable}

    def _trust(self) -> Path:
        """The CAs a probe trusts: the run's own (it issued {tls_cert}) and the profile's ``ca``, nothing else."""
        ca = self._ca = tls.make_ca(self.folder / "pki", "run-ca", "conformance run maintenance PKI (test only)")
        bundle = self.folder / "pki" / "trusted.pem"
        pem = ca.cert_pem
        if self.profile.maintenance.ca:
            pem += (self.profile.base_dir / self.profile.maintenance.ca).read_bytes()
        bundle.write_bytes(pem)
        return bundle

    def _wait_ready(self) -> None:
        """Until every endpoint's port accepts a connection from one of the segments, or the bound runs out."""
        if self.network is None or self._process is None:
            raise HarnessError("maintenance", "the platform was not started")
        deadline = time.monotonic() + self.profile.maintenance.ready_timeout
        waiting = list(self.endpoints)
        while waiting:
            waiting = [e for e in waiting if not any(self._accepts(e, segment) for segment in (MANAGEMENT, USER))]
            if not waiting:
                return
            if self._process.poll() is not None:
                raise HarnessError("maintenance", f"the start command exited with {self._process.returncode} before "
                                   f"its endpoints answered; its log ends:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                names = ", ".join(e.url for e in waiting)
                raise HarnessError("maintenance", f"{names} did not accept a connection from either segment within "
                                   f"{self.profile.maintenance.ready_timeout:g} s; the log ends:\n{self.log_tail()}")
            time.sleep(0.2)

    def _accepts(self, endpoint: DeclaredEndpoint, segment: str) -> bool:
        address = self.address(endpoint, segment)

        def connect() -> bool:
            try:
                with socket.create_connection((address, endpoint.port), timeout=0.5):
                    return True
            except OSError:
                return False

        return bool(self.vantage(segment).call(connect))
