"""Requirement catalog: data model, loader with precise input errors, applicability and the released contract.

The catalog is data (``requirements.toml``); this module turns it into validated, immutable objects. Every
problem in the file becomes an :class:`~conformance.errors.InputError` naming the file, the field
(``requirement[CLIP-01].level``) and the fix, so an editor never has to read a pydantic traceback.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from conformance.errors import InputError, read_toml

Level = Literal["must", "should", "optional"]
AppliesTo = Literal["secure-browser", "screen-transfer", "both", "environment"]
Verification = Literal["automated", "manual"]
ProfileKind = Literal["secure-browser", "screen-transfer", "environment"]
CandidateKind = Literal["secure-browser", "screen-transfer"]
Lang = Literal["ja", "en"]

LANGS: tuple[str, ...] = get_args(Lang)
CANDIDATE_KINDS: tuple[str, ...] = get_args(CandidateKind)

REQ_ID_PATTERN = r"^[A-Z]{2,5}-\d{2}$"
PROFILE_ID_PATTERN = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$"
SOURCE_KEY_PATTERN = r"^[A-Z0-9][A-Z0-9]*(-[A-Z0-9]+)*$"
FAMILY_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
CLAIM_PATTERN = r"^[a-z][a-z0-9_.-]*$"
VERSION_PATTERN = r"^\d{4}\.\d{1,2}\.\d+$"
URL_PATTERN = r"^https?://\S+$"

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CATALOG_PATH = PACKAGE_DIR / "requirements.toml"
DEFAULT_RELEASED_PATH = PACKAGE_DIR / "released.json"

LEVEL_LABELS: dict[str, dict[str, str]] = {
    "ja": {"must": "必須", "should": "推奨", "optional": "オプション"},
    "en": {"must": "must", "should": "should", "optional": "optional"},
}
APPLIES_LABELS: dict[str, dict[str, str]] = {
    "ja": {"secure-browser": "セキュアブラウザ", "screen-transfer": "画面転送", "both": "両方",
           "environment": "環境"},
    "en": {"secure-browser": "secure-browser", "screen-transfer": "screen-transfer", "both": "both",
           "environment": "environment"},
}
VERIFICATION_LABELS: dict[str, dict[str, str]] = {
    "ja": {"automated": "自動", "manual": "手動"},
    "en": {"automated": "automated", "manual": "manual"},
}


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported; otherwise raise ValueError listing the choices."""
    if lang not in LANGS:
        raise ValueError(f"unknown lang {lang!r}; choose one of: {', '.join(LANGS)}")
    return lang


def _not_blank(value: str) -> str:
    # Whitespace-only text would pass min_length but says nothing testable.
    if not value.strip():
        raise ValueError("must not be empty or whitespace only")
    return value


Text = Annotated[str, Field(min_length=1), AfterValidator(_not_blank)]


class _Frozen(BaseModel):
    # strict: TOML already gives native types, so any coercion would hide an editing mistake.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Source(_Frozen):
    """A bibliography entry, cited by ``key``."""

    key: Annotated[str, Field(pattern=SOURCE_KEY_PATTERN)]
    title: Text
    url: Annotated[str, Field(pattern=URL_PATTERN)] | None = None
    note: str = ""


class SourceRef(_Frozen):
    """A citation: which source and where in it (section, quote or line)."""

    key: Annotated[str, Field(pattern=SOURCE_KEY_PATTERN)]
    locator: Text
    note: str = ""  # "[INFER] ..." marks wording that is our interpretation, not the source's


class ApplicableWhen(_Frozen):
    """The requirement applies only when the candidate claims ``claim = equals``."""

    claim: Annotated[str, Field(pattern=CLAIM_PATTERN)]
    equals: Text


class Profile(_Frozen):
    """A set of requirements a candidate can claim (membership is declared on each requirement)."""

    id: Annotated[str, Field(pattern=PROFILE_ID_PATTERN)]
    kind: ProfileKind
    title_ja: Text
    title_en: Text
    description_ja: Text
    description_en: Text

    def title(self, lang: str = "ja") -> str:
        return self.title_ja if check_lang(lang) == "ja" else self.title_en

    def description(self, lang: str = "ja") -> str:
        return self.description_ja if check_lang(lang) == "ja" else self.description_en


class Requirement(_Frozen):
    """One testable requirement. Its meaning (see :func:`meaning_digest`) is frozen once released."""

    id: Annotated[str, Field(pattern=REQ_ID_PATTERN)]
    family: Annotated[str, Field(pattern=FAMILY_PATTERN)]
    title_ja: Text
    title_en: Text
    text_ja: Text
    text_en: Text
    applies_to: AppliesTo
    level: Level
    verification: Verification
    oracle_ja: Text
    oracle_en: Text
    profiles: Annotated[list[Annotated[str, Field(pattern=PROFILE_ID_PATTERN)]], Field(min_length=1)]
    sources: Annotated[list[SourceRef], Field(min_length=1)]
    applicable_when: ApplicableWhen | None = None
    since: Annotated[str, Field(pattern=VERSION_PATTERN)]

    def title(self, lang: str = "ja") -> str:
        return self.title_ja if check_lang(lang) == "ja" else self.title_en

    def text(self, lang: str = "ja") -> str:
        return self.text_ja if check_lang(lang) == "ja" else self.text_en

    def oracle(self, lang: str = "ja") -> str:
        return self.oracle_ja if check_lang(lang) == "ja" else self.oracle_en

    def level_label(self, lang: str = "ja") -> str:
        return LEVEL_LABELS[check_lang(lang)][self.level]

    def applies_label(self, lang: str = "ja") -> str:
        return APPLIES_LABELS[check_lang(lang)][self.applies_to]

    def verification_label(self, lang: str = "ja") -> str:
        return VERIFICATION_LABELS[check_lang(lang)][self.verification]


class Catalog(BaseModel):
    """The loaded catalog. Dicts keep the file's order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    title_ja: str
    title_en: str
    sha256: str  # hex digest of the raw file bytes: pins results to the exact catalog text
    path: Path
    sources: dict[str, Source]
    profiles: dict[str, Profile]
    requirements: dict[str, Requirement]

    def title(self, lang: str = "ja") -> str:
        return self.title_ja if check_lang(lang) == "ja" else self.title_en

    def profile_requirements(self, profile_id: str) -> list[str]:
        """IDs of the requirements in ``profile_id``, in catalog order."""
        if profile_id not in self.profiles:
            raise KeyError(f"unknown profile {profile_id!r}; known: {', '.join(self.profiles)}")
        return [rid for rid, req in self.requirements.items() if profile_id in req.profiles]

    def select(self, selectors: Sequence[str], file: str = "--requirement") -> list[str]:
        """Requirement IDs named by ``selectors`` (requirement IDs or catalog profile IDs), in catalog order."""
        chosen: set[str] = set()
        for i, selector in enumerate(selectors):
            if selector in self.requirements:
                chosen.add(selector)
            elif selector in self.profiles:
                chosen.update(self.profile_requirements(selector))
            else:
                raise InputError(file, f"[{i}] {selector!r}", "neither a requirement ID nor a catalog profile ID",
                                 "see `conformance catalog` for the IDs, e.g. PRN-01 or SB-CORE")
        return [rid for rid in self.requirements if rid in chosen]

    def default_profiles(self, kind: str) -> list[str]:
        """Profiles a candidate of ``kind`` is held to when it claims none explicitly."""
        return [pid for pid, prof in self.profiles.items() if prof.kind == kind]

    def validate_claims(
        self, kind: str, claimed_profiles: Sequence[str], file: str = "candidate profile"
    ) -> list[str]:
        """Check a candidate's kind and claimed profiles; return the effective profile list.

        ``file`` names the candidate file in the InputError, so callers that know it should pass it.
        """
        if kind not in CANDIDATE_KINDS:
            raise InputError(file, "kind", f"unknown candidate kind {kind!r}",
                             f"use one of: {', '.join(CANDIDATE_KINDS)}")
        if not claimed_profiles:
            return self.default_profiles(kind)
        allowed = [pid for pid, prof in self.profiles.items() if prof.kind in (kind, "environment")]
        for i, pid in enumerate(claimed_profiles):
            if pid not in self.profiles:
                raise InputError(file, f"profiles[{i}]", f"unknown profile {pid!r}",
                                 f"use one of: {', '.join(allowed)}")
            if pid not in allowed:
                # Claiming the other kind's profile is always a mistake (e.g. ST-CORE on a secure browser).
                raise InputError(file, f"profiles[{i}]",
                                 f"profile {pid!r} is for {self.profiles[pid].kind}, candidate is {kind}",
                                 f"use one of: {', '.join(allowed)}")
        return list(dict.fromkeys(claimed_profiles))

    def applicability(
        self,
        req_id: str,
        kind: str,
        claims: Mapping[str, str],
        claimed_profiles: Sequence[str],
    ) -> tuple[bool, str]:
        """Whether ``req_id`` applies to a candidate, with a bilingual reason "日本語 / English"."""
        try:
            req = self.requirements[req_id]
        except KeyError:
            raise KeyError(f"unknown requirement {req_id!r}") from None
        profiles = self.validate_claims(kind, claimed_profiles)
        if req.applies_to == "environment":
            # The environment around the candidate (maintenance path, wireless LAN, governance) is assessed in a
            # candidate run only when the candidate's profile claims an environment profile that lists it.
            if not set(req.profiles) & set(claimed_profiles):
                listed = ", ".join(req.profiles)
                return False, (f"環境要件で、候補は該当するプロファイル（{listed}）を申告していない / environment "
                               f"requirement; the candidate claims none of its profiles ({listed})")
            return True, ""
        if req.applies_to not in (kind, "both"):
            return False, (f"{APPLIES_LABELS['ja'][req.applies_to]}向けの要件で、候補は"
                           f"{APPLIES_LABELS['ja'][kind]} / applies to {req.applies_to}, candidate is {kind}")
        hit = [pid for pid in req.profiles if pid in profiles]
        if not hit:
            listed = ", ".join(profiles) or "-"
            if claimed_profiles:
                return False, (f"申告したプロファイル（{listed}）に含まれない / "
                               f"not in the claimed profiles ({listed})")
            return False, (f"種別の既定プロファイル（{listed}）に含まれない / "
                           f"not in the default profiles for {kind} ({listed})")
        cond = req.applicable_when
        if cond is not None and claims.get(cond.claim) != cond.equals:
            got = claims.get(cond.claim)
            return False, (f"{cond.claim}={cond.equals} を申告した場合のみ適用"
                           f"（申告値: {got or '未申告'}） / "
                           f"applies only when the candidate claims {cond.claim}={cond.equals} "
                           f"(claimed: {got or 'nothing'})")
        joined = ", ".join(hit)
        return True, f"適用（プロファイル: {joined}） / applies (profile: {joined})"


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------

_TOP_LEVEL = ("catalog", "source", "profile", "requirement")
_ID_PATTERN = {"source": SOURCE_KEY_PATTERN, "profile": PROFILE_ID_PATTERN, "requirement": REQ_ID_PATTERN}
_CHOICES: dict[str, tuple[str, ...]] = {
    "level": get_args(Level),
    "applies_to": get_args(AppliesTo),
    "verification": get_args(Verification),
    "kind": get_args(ProfileKind),
}
_ID_FIX = {
    "requirement": "use 2-5 capital letters, a hyphen and two digits, e.g. CLIP-01",
    "profile": "use capital letters and digits joined by hyphens, e.g. SB-CORE",
    "source": "use capital letters and digits joined by hyphens, e.g. IPA-LGWAN-TW",
}
_PATTERN_FIX: dict[str, str] = {
    "key": _ID_FIX["source"],
    "profiles": "use a profile id such as SB-CORE",
    "family": "use lower-case words joined by hyphens, e.g. screen-transfer",
    "since": "use a catalog version such as 2026.11.0",
    "version": "use a catalog version such as 2026.11.0",
    "url": "use an absolute http(s) URL or leave url out",
    "claim": "use a lower-case claim name, e.g. download",
}
_NESTED: dict[str, type[BaseModel]] = {"sources": SourceRef, "applicable_when": ApplicableWhen}
_LANG_NAME = {"ja": "Japanese", "en": "English"}


class _CatalogHeader(_Frozen):
    version: Annotated[str, Field(pattern=VERSION_PATTERN)]
    title_ja: Text
    title_en: Text


def _fmt_loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel]:
    """The (nested) model that owns the last field of ``loc``, for listing allowed fields."""
    for part in loc[:-1]:
        if isinstance(part, str) and part in _NESTED:
            model = _NESTED[part]
    return model


def _explain(err: Mapping[str, Any], model: type[BaseModel]) -> tuple[str, str]:
    """Turn one pydantic error into (problem, fix) an editor can act on."""
    loc = tuple(err["loc"])
    name = next((p for p in reversed(loc) if isinstance(p, str)), "")
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = ", ".join(_model_at(model, loc).model_fields)
        return f"unknown field {name!r}", f"remove it or correct its name; allowed fields: {allowed}"
    if kind == "missing":
        lang = name.rsplit("_", 1)[-1]
        if lang in _LANG_NAME and name.rsplit("_", 1)[0] in ("title", "text", "oracle", "description"):
            return "missing text", f"add {name} with the {_LANG_NAME[lang]} text (ja and en are required)"
        if name in _CHOICES:
            return "required field is missing", f"add {name} = one of: {', '.join(_CHOICES[name])}"
        return "required field is missing", f"add {name}"
    if kind == "literal_error":
        choices = _CHOICES.get(name, ())
        return f"{value!r} is not allowed", f"use one of: {', '.join(choices)}"
    if kind == "string_pattern_mismatch":
        return (f"{value!r} does not match {err.get('ctx', {}).get('pattern', '')}",
                _PATTERN_FIX.get(name, "correct the format"))
    if kind in ("string_too_short", "value_error") and isinstance(value, str):
        return "text is empty", f"write the {name} text"
    if kind == "too_short":
        return "list is empty", f"list at least one entry in {name}"
    if kind in ("model_type", "dict_type"):
        return "expected a table", f"write {name} as an inline table {{ ... }} or a [table]"
    return err["msg"], f"correct {name or 'the value'}"


_M = TypeVar("_M", bound=BaseModel)


def _validate(model: type[_M], data: object, file: str, label: str, where: str) -> _M:
    if not isinstance(data, dict):
        raise InputError(file, label, f"expected a table, got {type(data).__name__}{where}",
                         f"write it as [[{label.split('[', 1)[0]}]] with key = value lines")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt field shows up as "unknown" plus "missing"; the unknown one explains both.
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        problem, fix = _explain(err, model)
        raise InputError(file, label + _fmt_loc(err["loc"]), problem + where, fix) from None


def _header_lines(text: str, table: str) -> list[int]:
    """1-based line numbers of every ``[[table]]`` header, so errors can point near the entry."""
    pat = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]", re.MULTILINE)
    return [text.count("\n", 0, m.start()) + 1 for m in pat.finditer(text)]


def _where(lines: list[int], index: int) -> str:
    if index < len(lines):
        return f" (entry #{index + 1}, near line {lines[index]})"
    return f" (entry #{index + 1})"


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate a catalog (default: the packaged ``requirements.toml``).

    Raises InputError for any problem, naming the file, the field and the fix.
    """
    path = Path(path) if path is not None else DEFAULT_CATALOG_PATH
    file = str(path)
    raw_bytes, data = read_toml(path, "catalog")
    text = raw_bytes.decode("utf-8-sig")  # for the line numbers of the tables (read_toml proved it decodes)

    for key in data:
        if key not in _TOP_LEVEL:
            raise InputError(file, key, f"unknown top-level table {key!r}",
                             f"use only: [catalog], {', '.join(f'[[{t}]]' for t in _TOP_LEVEL[1:])}")
    if "catalog" not in data:
        raise InputError(file, "catalog", "missing [catalog] table",
                         "add [catalog] with version, title_ja and title_en")
    header: _CatalogHeader = _validate(_CatalogHeader, data["catalog"], file, "catalog", "")
    for table in _TOP_LEVEL[1:]:
        entries = data.get(table)
        if not isinstance(entries, list) or not entries:
            raise InputError(file, table, f"missing or empty [[{table}]] list",
                             f"add at least one [[{table}]] entry")

    sources = _load_keyed(Source, data["source"], "key", file, "source", _header_lines(text, "source"))
    profiles = _load_keyed(Profile, data["profile"], "id", file, "profile", _header_lines(text, "profile"))
    req_lines = _header_lines(text, "requirement")
    requirements = _load_keyed(Requirement, data["requirement"], "id", file, "requirement", req_lines)

    for index, (rid, req) in enumerate(requirements.items()):
        label, where = f"requirement[{rid}]", _where(req_lines, index)
        for i, ref in enumerate(req.sources):
            if ref.key not in sources:
                raise InputError(file, f"{label}.sources[{i}].key",
                                 f"unknown source key {ref.key!r}{where}",
                                 f"add a [[source]] with key = {ref.key!r} "
                                 f"or use one of: {', '.join(sources)}")
        for i, pid in enumerate(req.profiles):
            if pid not in profiles:
                raise InputError(file, f"{label}.profiles[{i}]", f"unknown profile {pid!r}{where}",
                                 f"add a [[profile]] with id = {pid!r} or use one of: {', '.join(profiles)}")
            pkind = profiles[pid].kind
            if pkind != "environment" and req.applies_to not in (pkind, "both"):
                raise InputError(file, f"{label}.profiles[{i}]",
                                 f"a {req.applies_to} requirement cannot be in {pkind} profile "
                                 f"{pid!r}{where}",
                                 "move it to a profile of a matching kind or an environment profile")
        if len(set(req.profiles)) != len(req.profiles):
            raise InputError(file, f"{label}.profiles", f"profile listed twice{where}",
                             "list each profile once")
        if _version_tuple(req.since) > _version_tuple(header.version):
            raise InputError(file, f"{label}.since",
                             f"since {req.since} is later than the catalog version {header.version}{where}",
                             f"use since = {header.version!r} or earlier")
    for pid in profiles:
        if not any(pid in req.profiles for req in requirements.values()):
            raise InputError(file, f"profile[{pid}]", "profile has no requirements",
                             "list it in some requirement's profiles, or remove it")

    return Catalog(
        version=header.version,
        title_ja=header.title_ja,
        title_en=header.title_en,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        path=path,
        sources=sources,
        profiles=profiles,
        requirements=requirements,
    )


def _load_keyed(
    model: type[_M], entries: list[Any], key: str, file: str, table: str, lines: list[int]
) -> dict[str, _M]:
    """Validate each entry and index it by ``key``; duplicates are errors."""
    out: dict[str, _M] = {}
    first: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = _where(lines, index)
        ident = entry.get(key) if isinstance(entry, dict) else None
        ok = isinstance(ident, str) and re.match(_ID_PATTERN[table], ident) is not None
        # Name the entry by its id when the id itself is sound; otherwise by position.
        label = f"{table}[{ident}]" if ok else f"{table}[{index}]"
        if not ok and isinstance(entry, dict):
            if ident is None:
                raise InputError(file, f"{label}.{key}", f"required field is missing{where}", f"add {key}")
            raise InputError(file, f"{label}.{key}", f"{ident!r} is not a valid {key}{where}",
                             _ID_FIX[table])
        obj = _validate(model, entry, file, label, where)
        ident = getattr(obj, key)
        if ident in out:
            raise InputError(file, f"{label}.{key}",
                             f"duplicate {key} {ident!r}{where}; first defined as entry #{first[ident] + 1}",
                             f"give each {table} a unique {key}; never reuse a released id, add a new one")
        out[ident] = obj
        first[ident] = index
    return out


# --------------------------------------------------------------------------------------------------
# Released contract: an ID's meaning never changes once released.
# --------------------------------------------------------------------------------------------------

MEANING_FIELDS = ("text_ja", "text_en", "applies_to", "level", "verification")


def meaning_digest(req: Requirement) -> str:
    """sha256 over the fields that define what a requirement ID means.

    Titles, oracles, sources and profiles may be improved freely; these five may not.
    """
    doc = {name: getattr(req, name) for name in MEANING_FIELDS}
    blob = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def released_snapshot(catalog: Catalog, previous: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The content of ``released.json`` for ``catalog``, keeping every previously released ID."""
    digests = dict(previous or {})
    for rid, req in catalog.requirements.items():
        digests.setdefault(rid, meaning_digest(req))
    return {
        "comment": "Frozen meaning of every released requirement ID. Never edit an entry: add a new ID.",
        "algorithm": "sha256(json.dumps({text_ja,text_en,applies_to,level,verification}, sort_keys=True, "
                     "ensure_ascii=False, separators=(',', ':')).encode('utf-8'))",
        "catalog_version": catalog.version,
        "requirements": digests,
    }


def load_released(path: Path | None = None) -> dict[str, str]:
    """Released ID → meaning digest."""
    path = Path(path) if path is not None else DEFAULT_RELEASED_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(str(path), "", f"cannot read released contract: {exc}",
                         "restore released.json from version control") from None
    reqs = data.get("requirements") if isinstance(data, dict) else None
    if not isinstance(reqs, dict) or not all(isinstance(v, str) for v in reqs.values()):
        raise InputError(str(path), "requirements", "expected an object of ID to hex digest",
                         "restore released.json from version control")
    return dict(reqs)


@dataclass(frozen=True)
class ReleasedDiff:
    """Differences between the catalog and the released contract."""

    changed: list[str] = field(default_factory=list)  # released ID whose meaning changed: forbidden
    removed: list[str] = field(default_factory=list)  # released ID no longer in the catalog: forbidden
    new: list[str] = field(default_factory=list)  # not released yet: fine, freeze on release

    @property
    def ok(self) -> bool:
        return not self.changed and not self.removed


def check_released(catalog: Catalog, released: Mapping[str, str]) -> ReleasedDiff:
    """Compare the catalog with the released contract."""
    changed = [rid for rid, digest in released.items()
               if rid in catalog.requirements and meaning_digest(catalog.requirements[rid]) != digest]
    removed = [rid for rid in released if rid not in catalog.requirements]
    new = [rid for rid in catalog.requirements if rid not in released]
    return ReleasedDiff(changed=changed, removed=removed, new=new)
