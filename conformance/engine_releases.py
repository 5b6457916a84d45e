"""Stable releases of browser engines, and the patch-lag rule of MNT-05.

The run configuration (``--engine-releases FILE``) lists the stable releases of each engine with the day each
became available, and where that date comes from (``fixtures/engine-releases.toml``)::

    source = "Debian chromium changelog (bookworm-security)"   # optional default for every release
    compiled = 2026-12-05                                      # optional: the day the list was made
    [[release]]
    engine = "Chromium"             # the brand as User-Agent Client Hints name it
    version = "156.0.8078.114"      # dotted integers
    date = 2026-11-26               # a TOML date: first available as a stable/security release
    source = "..."                  # needed unless the file has a top-level source

It is validated completely before the run starts: a problem raises ``InputError`` naming the file and the field
(``release[2].version``). A version listed twice for one engine is refused.

The lag rule (``patch_lag``), for the candidate's engine E at full version V, on the day ``as_of``:

* only releases of E dated on or before ``as_of`` count (a release that did not exist yet is no lag);
* none of them is newer than V (V is the newest listed release, or newer than everything listed: the list is
  older than the product) -> lag 0;
* otherwise lag = ``as_of`` minus the date of the first release newer than V (the earliest-dated one; for a
  list in release order, the next version after V): the candidate has been behind at least since then;
* no release of E listed at all -> not judgeable (``HarnessError``), never a product failure.

``judge`` passes iff lag <= the bound the candidate declared (``[maintenance] engine_patch_lag_days``); a
missing bound is not judgeable either. The rule is deliberately simple and gives the candidate the benefit of
the doubt where it can: it does not know which releases fixed security bugs (every newer stable release counts),
and it does not model parallel release lines (an extended-stable line is judged against the newest releases).

A version read with less precision than the full four parts (``Chrome/156.0.0.0`` of a reduced User-Agent
string, ``Firefox/128.0``) is a version *prefix*: it is read in the candidate's favour, as the newest listed
release with that prefix, so the lag is what the candidate has certainly missed.

Like the profile model, this module imports nothing else of the package but the error types.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from conformance.errors import HarnessError, InputError, dotted, read_toml

VERSION_PATTERN = r"^\d{1,9}(\.\d{1,9}){0,5}$"
RULE = (
    "lag_days = 0 when no release of the engine dated on or before as_of is newer than the candidate's version; "
    "otherwise as_of minus the date of the first (earliest-dated) listed release newer than it. "
    "Pass iff lag_days <= [maintenance] engine_patch_lag_days."
)
# GREASE brands (UA-CH spec): "Not" + a separator + "A" + a separator + "Brand", e.g. "Not A;Brand",
# "Not_A Brand", "Not)A;Brand", "Not/A)Brand"; never an engine.
_GREASE = re.compile(r"^\s*Not[^A-Za-z0-9]{1,2}A[^A-Za-z0-9]{1,2}Brand\s*$", re.IGNORECASE)
ENGINE_BRANDS = ("Chromium",)  # brands that name an engine rather than a product built on it


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Release(_Strict):
    engine: str = Field(min_length=1)
    version: str = Field(pattern=VERSION_PATTERN)
    date: dt.date
    source: str = ""

    @property
    def parts(self) -> tuple[int, ...]:
        return version_tuple(self.version)


class EngineReleases(_Strict):
    release: list[Release] = Field(min_length=1)
    source: str = ""  # default source of every release
    compiled: dt.date | None = None  # the day the list was made (releases after it are unknown to it)

    # Filled in by ``load_engine_releases``; not part of the TOML.
    path: Path = Path()
    sha256: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> EngineReleases:
        seen: dict[tuple[str, tuple[int, ...]], int] = {}
        for i, item in enumerate(self.release):
            if not (item.source or self.source):
                raise _FieldError(f"release[{i}].source", "no source for this release's date",
                                  "add source = \"...\" to the release, or a top-level source for all")
            key = (item.engine, item.parts)
            if key in seen:
                raise _FieldError(f"release[{i}].version",
                                  f"{item.engine} {item.version} is already listed as release[{seen[key]}]",
                                  "list each version once, with the day it first became available")
            seen[key] = i
        return self

    def engines(self) -> list[str]:
        return list(dict.fromkeys(r.engine for r in self.release))

    def of(self, engine: str) -> list[Release]:
        """The releases of ``engine`` in version order."""
        return sorted((r for r in self.release if r.engine == engine), key=lambda r: r.parts)

    def source_of(self, release: Release) -> str:
        return release.source or self.source


class _FieldError(ValueError):
    """A consistency problem of the file, with the field it belongs to (raised inside validation)."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.field, self.problem, self.fix = field, problem, fix


_FIXES = {
    "extra_forbidden": "remove the field or check its spelling",
    "missing": "add the field",
    "string_pattern_mismatch": "write the version as dotted integers, e.g. \"156.0.8078.114\"",
    "date_type": "write the date as a TOML date without quotes, e.g. 2026-11-26",
    "too_short": "add at least one [[release]]",
}


def load_engine_releases(path: str | Path) -> EngineReleases:
    """Load and validate the release list; ``InputError`` names the file, the field and the fix."""
    path = Path(path)
    raw, data = read_toml(path, "engine release list", "check the path given to --engine-releases")
    try:
        releases = EngineReleases.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, _FieldError):
            raise InputError(str(path), cause.field, cause.problem, cause.fix) from None
        problem = first["msg"]
        if first["type"] == "date_type" and isinstance(first.get("input"), str):
            problem += f" (got the string {first['input']!r})"
        raise InputError(str(path), dotted(first["loc"]), problem, _FIXES.get(first["type"], "")) from None
    releases.path = path.resolve()
    releases.sha256 = hashlib.sha256(raw).hexdigest()
    return releases


# -- the candidate's engine version ------------------------------------------------------------------
@dataclass(frozen=True)
class EngineVersion:
    """The engine and version read inside the candidate. ``known_parts`` < the version's length: only that
    prefix is known (the rest was zeroed or frozen by the browser), read in the candidate's favour."""

    engine: str
    version: str
    via: str  # "ua-ch fullVersionList", "ua-ch uaFullVersion", "user-agent string"
    known_parts: int
    notes: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.known_parts >= len(version_tuple(self.version))


def is_grease(brand: str) -> bool:
    return bool(_GREASE.match(brand or ""))


def _brand_list(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return []
    found = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("brand"), str) and isinstance(item.get("version"), str):
            found.append((item["brand"], item["version"]))
    return found


def read_engine_version(ua_ch: dict[str, Any] | None, user_agent: str, listed: list[str]) -> EngineVersion:
    """The engine version from the page's User-Agent Client Hints (high-entropy values), else from the
    User-Agent string. ``listed``: the engines the release list knows (preferred when several brands fit).
    ``HarnessError`` when nothing can be read."""
    notes: list[str] = []
    if ua_ch:
        full = [(b, v) for b, v in _brand_list(ua_ch.get("fullVersionList")) if not is_grease(b)]
        grease = [b for b, _ in _brand_list(ua_ch.get("fullVersionList")) if is_grease(b)]
        if grease:
            notes.append(f"GREASE brands ignored: {grease}")
        chosen = _choose(full, listed)
        if chosen is not None and re.match(VERSION_PATTERN, chosen[1]):
            return EngineVersion(chosen[0], chosen[1], "ua-ch fullVersionList", len(version_tuple(chosen[1])), notes)
        brands = [(b, v) for b, v in _brand_list(ua_ch.get("brands")) if not is_grease(b)]
        full_version = ua_ch.get("uaFullVersion")
        # uaFullVersion is the version of the browser's own brand: it is the engine's only when that is the sole brand.
        if len(brands) == 1 and brands[0][0] in (*ENGINE_BRANDS, *listed) and isinstance(full_version, str) \
                and re.match(VERSION_PATTERN, full_version) and full_version.split(".")[0] == brands[0][1]:
            notes.append("no usable fullVersionList; uaFullVersion of the only brand used")
            return EngineVersion(brands[0][0], full_version, "ua-ch uaFullVersion",
                                 len(version_tuple(full_version)), notes)
        notes.append("User-Agent Client Hints gave no engine version; the User-Agent string was parsed")
    else:
        notes.append("no User-Agent Client Hints (navigator.userAgentData); the User-Agent string was parsed")
    parsed = _from_user_agent(user_agent or "")
    if parsed is None:
        raise HarnessError("engine-version", f"no engine version readable in the candidate: User-Agent Client "
                                             f"Hints {'gave none' if ua_ch else 'absent'}, User-Agent string "
                                             f"{user_agent!r}")
    engine, version, known, why = parsed
    notes.append(why)
    return EngineVersion(engine, version, "user-agent string", known, notes)


def _choose(brands: list[tuple[str, str]], listed: list[str]) -> tuple[str, str] | None:
    """The engine among the brands: Chromium when the list knows it, else a brand the list knows (in list order),
    else Chromium (which the rule then finds unlisted)."""
    by_name = dict(brands)
    for engine in (*[e for e in ENGINE_BRANDS if e in listed], *listed, *ENGINE_BRANDS):
        if engine in by_name:
            return engine, by_name[engine]
    return None


def _from_user_agent(user_agent: str) -> tuple[str, str, int, str] | None:
    chrome = re.search(r"\b(?:Chrome|Chromium|HeadlessChrome)/(\d+)\.(\d+)\.(\d+)\.(\d+)", user_agent)
    if chrome:
        version = ".".join(chrome.groups())
        if chrome.group(2, 3, 4) == ("0", "0", "0"):
            return "Chromium", version, 1, ("the User-Agent string is reduced (only the major version is real): "
                                            "read as the newest listed release of that major version")
        return "Chromium", version, 4, "full version from the User-Agent string's Chrome/ token"
    firefox = re.search(r"\bFirefox/(\d+)\.(\d+)", user_agent)
    if firefox:
        return "Firefox", ".".join(firefox.groups()), 1, ("Firefox's User-Agent string carries the major version "
                                                          "only: read as the newest listed release of it")
    return None


# -- the lag rule -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lag:
    engine: str
    version: str
    as_of: dt.date
    lag_days: int
    newest: Release  # the newest listed release of the engine dated on or before as_of
    first_newer: Release | None  # the earliest-dated listed release newer than the candidate's version
    newer_than_list: bool  # the candidate's version is newer than every listed release
    older_than_list: bool  # ... older than every listed release (the lag is a lower bound of a lower bound)
    counted: int  # releases of the engine dated on or before as_of


def _compare(release: tuple[int, ...], version: tuple[int, ...], known_parts: int) -> int:
    """-1, 0 or 1 as ``release`` is older than, equal to or newer than ``version``, of which only the first
    ``known_parts`` parts are known (a prefix: equal when the release has that prefix)."""
    width = max(len(release), len(version)) if known_parts >= len(version) else known_parts

    def cut(parts: tuple[int, ...]) -> tuple[int, ...]:
        return parts[:width] + (0,) * (width - len(parts))

    a, b = cut(release), cut(version)
    return (a > b) - (a < b)


def patch_lag(engine: str, version: str, releases: EngineReleases, as_of: dt.date,
              known_parts: int | None = None) -> Lag:
    """The rule of the module docstring. ``HarnessError`` when the list has no release of ``engine``."""
    if not re.match(VERSION_PATTERN, version):
        raise HarnessError("engine-version", f"{engine} version {version!r} is not dotted integers")
    listed = releases.of(engine)
    counted = [r for r in listed if r.date <= as_of]
    if not counted:
        known = ", ".join(releases.engines())
        when = f" dated on or before {as_of}" if listed else ""
        raise HarnessError("engine-releases", f"the release list {releases.path} has no release of {engine}{when} "
                                     f"(it lists {known}): the lag cannot be measured / 遅れを計算できない")
    parts = version_tuple(version)
    known = len(parts) if known_parts is None else known_parts
    newer = [r for r in counted if _compare(r.parts, parts, known) > 0]
    first = min(newer, key=lambda r: (r.date, r.parts)) if newer else None
    return Lag(
        engine=engine,
        version=version,
        as_of=as_of,
        lag_days=max(0, (as_of - first.date).days) if first is not None else 0,
        newest=counted[-1],
        first_newer=first,
        newer_than_list=all(_compare(r.parts, parts, known) < 0 for r in listed),
        older_than_list=all(_compare(r.parts, parts, known) > 0 for r in listed),
        counted=len(counted),
    )


def judge(lag: Lag, declared: int | None) -> tuple[bool, str]:
    """Pass iff the lag is within the declared bound; ``HarnessError`` when the candidate declared none."""
    if declared is None:
        raise HarnessError("profile", "the candidate declares no patch lag: add [maintenance] engine_patch_lag_days "
                                     "to its profile (the harness cannot judge without it) / 申告値がない")
    if lag.lag_days <= declared:
        return True, f"{lag.engine} {lag.version}: lag {lag.lag_days} days <= declared {declared}"
    first = lag.first_newer
    newer = f"{first.version} ({first.date})" if first is not None else "-"
    return False, (
        f"ブラウザエンジンの修正適用の遅れが申告を超える: {lag.engine} {lag.version} は {newer} 以降の安定版を"
        f"適用しておらず、{lag.as_of} 時点で {lag.lag_days} 日遅れ（申告 {declared} 日以内） / "
        f"engine patch lag exceeds the declared bound: {lag.engine} {lag.version} has lacked the stable release "
        f"{newer} for {lag.lag_days} days as of {lag.as_of} (declared at most {declared} days)"
    )
