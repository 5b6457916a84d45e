"""The candidate profile: one TOML file describing one candidate and what it claims.

It is validated completely before anything starts. A problem raises ``InputError`` naming the file,
the field (``driver.policies``, ``network.endpoints[2].port``) and what is expected. This module, like
the catalog, imports nothing else of the package but the error types.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from conformance.errors import InputError

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
    url: str = Field(pattern=r"^(https?|ssh|vnc|rdp|tcp)://")
    purpose: str = ""


class Maintenance(_Strict):
    endpoints: list[MaintenanceEndpoint] = []


class CandidateProfile(_Strict):
    candidate: CandidateInfo
    claims: dict[str, str] = {}
    driver: dict[str, Any]
    network: Network = Network()
    maintenance: Maintenance = Maintenance()

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
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problem = f"cannot read the candidate profile: {exc.strerror}"
        raise InputError(str(path), "", problem, "check the path") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(str(path), "", f"not valid TOML: {exc}", "fix the syntax at the position shown") from None
    try:
        profile = CandidateProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _dotted(first["loc"])
        raise InputError(str(path), field, first["msg"], _FIXES.get(first["type"], "")) from None
    profile.path = path.resolve()
    profile.sha256 = hashlib.sha256(raw).hexdigest()
    return profile


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"
