"""The candidate profile: one TOML file describing one candidate and what it claims.

It is validated completely before anything starts. A problem raises ``InputError`` naming the file,
the field (``driver.policies``, ``network.endpoints[2].port``) and what is expected. This module, like
the catalog, imports nothing else of the package but the error types.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from conformance.errors import InputError, dotted, read_toml

KINDS = ("secure-browser", "screen-transfer")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CandidateInfo(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    vendor: str
    version: str
    kind: Literal["secure-browser", "screen-transfer"]
    description: str = ""
    catalog_profiles: list[str] = []  # catalog profiles claimed, e.g. ["SB-CORE"]; empty = all of the kind


class Endpoint(_Strict):
    """A declared 特定通信 endpoint: host (fixture or real FQDN), port and transport, with its purpose."""

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"  # "udp" declares e.g. a product's own QUIC or DTLS transport
    # "gateway": the relay all other traffic goes through (the product's platform, a proxy); NET-04 cuts it.
    role: Literal["endpoint", "gateway"] = "endpoint"
    purpose: str = ""


class BackgroundEndpoint(Endpoint):
    """Traffic the product itself makes (update, licence, telemetry), declared with a reason."""

    reason: str = Field(min_length=1)


class Network(_Strict):
    endpoints: list[Endpoint] = []
    background: list[BackgroundEndpoint] = []


class MaintenanceEndpoint(_Strict):
    """A maintenance or update endpoint of the platform (MNT-02, MNT-03). The URL's host is the name its TLS
    certificate must carry; on the suite's test network it is reached at the platform host's address."""

    url: str = Field(pattern=r"^(https?)://[^/\s:]+(:\d{1,5})?(/\S*)?$")
    role: Literal["admin", "update"] = "admin"
    purpose: str = ""


class Maintenance(_Strict):
    """The platform's maintenance side. ``start`` runs it on the platform host of the suite's test network (one
    leg on the user segment, one on the management segment); where it listens is the product's own choice."""

    endpoints: list[MaintenanceEndpoint] = []
    # argv with placeholders {user_address} {management_address} {tls_cert} {tls_key} {ca_cert} {state_dir}
    # {profile_dir} {python}; empty: the endpoints are already running in a real lab (--allow-lab-address)
    start: list[str] = []
    ready_timeout: float = Field(default=30, gt=0, le=600)
    admin_ports: list[int] = []  # the product's own admin ports, scanned from the user segment with common ones
    # ports the platform serves users on (e.g. its gateway on 443): open from the user segment by design, so not a
    # finding — unless an admin endpoint or admin port uses the same port
    service_ports: list[int] = []
    ca: str = ""  # PEM of the CA that issued the endpoints' certificates, when not the run's CA (relative path)
    engine_patch_lag_days: int | None = Field(default=None, ge=0, le=3650)  # MNT-05: the lag the vendor declares

    @field_validator("admin_ports", "service_ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        bad = [p for p in value if not 1 <= p <= 65535]
        if bad:
            raise ValueError(f"ports must be 1-65535, got {bad}")
        return value


class WlanException(_Strict):
    """A business exception to terminal isolation (the catalog's 申告した業務上の例外), e.g. a shared printer."""

    port: int = Field(ge=1, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"
    purpose: str = Field(min_length=1)


class Wlan(_Strict):
    """The wireless-LAN segment WLAN-02 examines.

    ``reference-bridge``: the suite's own segment, a Linux bridge in a namespace of its test network (the
    reference access point) with ``isolation`` as its setting. ``lab``: the real wireless LAN; this machine is
    one test terminal (its interface ``device``), the other runs ``conformance wlan-peer`` at ``peer`` and answers
    on ``peer_control`` over another path (a wired port), which proves it listens and tells what reached it.
    """

    segment: Literal["reference-bridge", "lab"] = "reference-bridge"
    isolation: Literal["port-isolation", "none"] | None = None  # reference-bridge only
    device: str = ""  # lab: this machine's wireless interface
    peer: str = ""  # lab: the other test terminal's wireless address
    gateway: str = ""  # lab: the segment's gateway, which isolation never cuts (the positive control)
    peer_control: str = ""  # lab: ADDRESS:PORT of `conformance wlan-peer --control` on the other terminal
    exceptions: list[WlanException] = []

    @model_validator(mode="after")
    def _complete(self) -> Wlan:
        if self.segment == "reference-bridge" and self.isolation is None:
            raise ValueError('segment "reference-bridge" needs isolation = "port-isolation" or "none"')
        if self.segment == "lab":
            missing = [f for f in ("device", "peer", "gateway", "peer_control") if not getattr(self, f)]
            if missing:
                raise ValueError(f'segment "lab" needs {", ".join(missing)} (README, "Wireless LAN in a lab")')
            if self.isolation is not None:
                raise ValueError("isolation is the reference bridge's setting; in a lab the access point decides")
        return self


class CandidateProfile(_Strict):
    candidate: CandidateInfo
    claims: dict[str, str] = {}
    driver: dict[str, Any]
    network: Network = Network()
    maintenance: Maintenance = Maintenance()
    wlan: Wlan | None = None
    # Attestations of the manual requirements (TOML, relative to the profile); see docs/attestations.md.
    attestations: str | None = None

    # Filled in by ``load_profile``; not part of the TOML.
    path: Path = Path()
    sha256: str = ""

    @field_validator("driver")
    @classmethod
    def _driver_named(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("name"), str):
            raise ValueError("the [driver] table needs name = \"chromium\" or \"webvdi\"")
        return value

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def kind(self) -> str:
        return self.candidate.kind

    @property
    def name(self) -> str:
        return self.candidate.name

    def declared_endpoints(self) -> set[tuple[str, int]]:
        return {(e.host, e.port) for e in self.network.endpoints} | {
            (e.host, e.port) for e in self.network.background
        }


_FIXES = {
    "extra_forbidden": "remove the field or check its spelling",
    "missing": "add the field",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "see README.md, 'Writing a candidate profile'",
}


def load_profile(path: str | Path) -> CandidateProfile:
    path = Path(path)
    raw, data = read_toml(path, "candidate profile")
    try:
        profile = CandidateProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = dotted(first["loc"])
        fix = _FIXES.get(first["type"], f"correct {field}; see README.md, 'Writing a candidate profile'")
        raise InputError(str(path), field, first["msg"], fix) from None
    profile.path = path.resolve()
    profile.sha256 = hashlib.sha256(raw).hexdigest()
    return profile
