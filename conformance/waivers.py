"""Waivers: a known failure that a municipality (or a vendor) accepts for a while, in writing.

A waiver never changes what the run observed: a waived failure is reported as ``waived`` (免除), never as
``pass`` (conformance/verdicts.py). It says: this requirement failed, and 誰が (who, ``approver``) accepted it,
何故 (why, ``justification``), from when (``approved``) until when (``expires``), for which candidate
(``candidate``, or every candidate when left out), with which decision record (``reference``). The file's
``[policy] exit`` says whether a waived failure still makes the exit code 1 (``"fail"``) or not (``"accept"``).

The file is TOML::

    [policy]
    exit = "accept"            # or "fail"; required

    [[waiver]]
    requirement = "PRN-01"
    justification = "印刷は別途の運用で制限する / printing is restricted by procedure until the 2027 upgrade"
    approver = "情報政策課長 山田 / Head of IT policy, Yamada"
    approved = 2026-11-01      # TOML dates, unquoted
    expires = 2027-03-31
    candidate = "chromium-open"   # optional: only this candidate
    reference = "決裁番号 …"      # optional: the decision record

Everything is checked before a run starts: every problem raises :class:`~conformance.errors.InputError`
naming the file, the field (``policy.exit``, ``waiver[PRN-01].expires``, or ``waiver[2].requirement`` while
the entry has no catalog ID yet; the index counts from 0, the message says "entry #3" and the line) and the
fix. An expired waiver is refused, not silently ignored: whoever runs the suite must renew or remove it.
Manual requirements are never waived: they are decided by attestations (conformance/attestation.py).

Like the attestation loader, this module imports nothing of the package but the error types and the catalog
model; the catalog is passed in.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conformance.catalog.model import Text
from conformance.errors import InputError, dotted, entry_lines, entry_where, read_toml, toml_key

ExitPolicy = Literal["accept", "fail"]
EXIT_POLICIES: tuple[str, ...] = ("accept", "fail")
CANDIDATE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"  # as a candidate profile's [candidate] name


class Policy(BaseModel):
    """The ``[policy]`` table: what a waived failure does to the exit code."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    exit: ExitPolicy


class Waiver(BaseModel):
    """One ``[[waiver]]`` table: an accepted failure of one requirement, for a limited time."""

    # strict: TOML already gives native types, so a quoted date is a mistake, not something to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    requirement: Text  # checked against the catalog by the loader, with suggestions
    justification: Text
    approver: Text
    approved: dt.date
    expires: dt.date
    candidate: Annotated[str, Field(pattern=CANDIDATE_NAME_PATTERN)] | None = None  # None: every candidate
    reference: Text | None = None


@dataclass(frozen=True)
class Waived:
    """A validated entry and its place in the file."""

    entry: Waiver
    index: int  # position in the file (0-based), for messages

    def record(self, exit_policy: str) -> dict[str, Any]:
        """What conformance.json says about this waiver (JSON-able)."""
        entry = self.entry
        return {
            "requirement": entry.requirement,
            "justification": entry.justification,
            "approver": entry.approver,
            "approved": entry.approved.isoformat(),
            "expires": entry.expires.isoformat(),
            "candidate": entry.candidate,
            "reference": entry.reference,
            "exit": exit_policy,
        }


@dataclass(frozen=True)
class WaiverSet:
    """A validated waiver file."""

    path: Path
    sha256: str
    exit: ExitPolicy
    entries: tuple[Waived, ...]  # in file order
    checked_on: dt.date  # the day the dates were judged (expired or not)

    def applicable(self, name: str) -> dict[str, Waived]:
        """Requirement ID → the entry that holds for candidate ``name``.

        An entry naming the candidate takes precedence over an entry for every candidate.
        """
        chosen: dict[str, Waived] = {}  # in file order
        for waived in self.entries:
            rid, scope = waived.entry.requirement, waived.entry.candidate
            if scope == name or (scope is None and rid not in chosen):
                chosen[rid] = waived
        return chosen

    @property
    def candidates(self) -> list[str]:
        """The candidate names the file scopes entries to (a run can warn when none of them is tested)."""
        return sorted({w.entry.candidate for w in self.entries if w.entry.candidate is not None})

    def for_candidate(self, name: str) -> dict[str, dict[str, Any]]:
        """Requirement ID → waiver record for candidate ``name`` (see :meth:`Waived.record`)."""
        return {rid: waived.record(self.exit) for rid, waived in self.applicable(name).items()}

    def provenance(self, name: str) -> dict[str, Any]:
        """The file itself, for conformance.json: which file, which bytes, which policy, judged on which day."""
        return {
            "file": str(self.path),
            "sha256": self.sha256,
            "exit": self.exit,
            "entries": len(self.applicable(name)),
            "checked_on": self.checked_on.isoformat(),
        }


# -- loading ---------------------------------------------------------------------------------------
_EXAMPLES = {
    "requirement": 'requirement = "PRN-01"',
    "justification": 'justification = "なぜ受け入れるか / why the failure is accepted"',
    "approver": 'approver = "情報政策課長 山田 / Head of IT policy, Yamada"',
    "approved": "approved = 2026-11-01",
    "expires": "expires = 2027-03-31",
    "candidate": 'candidate = "chromium-open"',
    "reference": 'reference = "決裁番号 …"',
}
_POLICY_FIX = 'write [policy] with exit = "accept" (a waived failure does not fail the run) or exit = "fail"'
_DOCS = "docs/attestations.md"


def _explain(err: Mapping[str, Any]) -> tuple[str, str]:
    """One pydantic error as (problem, fix) a person can act on."""
    loc = tuple(err["loc"])
    name = next((str(p) for p in loc if isinstance(p, str)), "")
    kind, value = err["type"], err.get("input")
    if name == "exit":
        if kind == "missing":
            return "required field is missing", _POLICY_FIX
        return f"{value!r} is not a policy", _POLICY_FIX
    example = _EXAMPLES.get(name, f"{name} = …")
    if kind == "extra_forbidden":
        return f"unknown field {name!r}", f"remove it or correct its name; allowed fields: {', '.join(_EXAMPLES)}"
    if kind == "missing":
        return "required field is missing", f"add {example}"
    if kind == "date_type":
        return f"{value!r} is not a TOML date", f"write the date unquoted, without a time: {example}"
    if kind == "string_type":
        return f"{value!r} is not text", f"write it as a quoted string: {example}"
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not a candidate name", f"use the name of the candidate profile's [candidate]: {example}"
    if kind in ("string_too_short", "value_error"):
        return "text is empty", f"write the {name}: {example}"
    return err["msg"], f"correct {name or 'the value'}"


def _validation_error(exc: ValidationError, file: str, label: str, where: str = "") -> InputError:
    errors = exc.errors()
    # A misspelt field shows up as "unknown" plus "missing"; the unknown one explains both.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    problem, fix = _explain(err)
    field = dotted(tuple(err["loc"])) if err["loc"] else ""  # a key as written in TOML
    return InputError(file, f"{label}.{field}" if field else label, problem + where, fix)


def _suggest(rid: str, known: list[str]) -> str:
    close = difflib.get_close_matches(rid.strip().upper(), known, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"{hint}use an ID of the catalog (`conformance catalog` lists them)"


def load_waivers(path: str | Path, catalog: Any, today: dt.date | None = None) -> WaiverSet:
    """Load and check a waiver file against ``catalog`` on ``today`` (default: the local date).

    Raises InputError for any problem: unknown keys, missing or mistyped fields, empty text, an ID that is not
    in the catalog or is manual, a duplicate for the same candidate scope, dates out of order, in the future or
    expired (a waiver is valid through the day it expires).
    """
    path = Path(path)
    file = str(path)
    today = today or dt.date.today()
    raw, data = read_toml(path, "waiver file")
    text = raw.decode("utf-8-sig")  # for the line of each entry in messages (read_toml proved it decodes)
    unknown = [key for key in data if key not in ("policy", "waiver")]
    if unknown:
        raise InputError(
            file,
            toml_key(unknown[0]),
            f"unknown top-level key {unknown[0]!r}",
            "write one [policy] table and one [[waiver]] table per accepted failure, nothing else",
        )
    policy = _policy(data.get("policy"), file)
    entries = data.get("waiver")
    if isinstance(entries, dict):
        raise InputError(
            file,
            "waiver",
            "[waiver] is a single table",
            "write each entry as [[waiver]] (double brackets), one per accepted failure",
        )
    if not isinstance(entries, list) or not entries:
        raise InputError(
            file,
            "waiver",
            "no [[waiver]] entries",
            "add one [[waiver]] table per accepted failure, or stop passing this file",
        )
    lines = entry_lines(text, "waiver")
    known = list(catalog.requirements)
    waived: list[Waived] = []
    seen: dict[tuple[str, str | None], int] = {}  # (requirement, candidate scope) → index of the first entry
    for index, raw_entry in enumerate(entries):
        where = entry_where(lines, index)
        if not isinstance(raw_entry, dict):
            raise InputError(
                file,
                f"waiver[{index}]",
                f"expected a table{where}",
                "write it as [[waiver]] followed by key = value lines",
            )
        rid = raw_entry.get("requirement")
        # Name the entry by its requirement once that is a catalog ID, by its position before.
        label = f"waiver[{rid}]" if isinstance(rid, str) and rid in catalog.requirements else f"waiver[{index}]"
        try:
            entry = Waiver.model_validate(raw_entry)
        except ValidationError as exc:
            raise _validation_error(exc, file, label, where) from None
        requirement = catalog.requirements.get(entry.requirement)
        if requirement is None:
            raise InputError(
                file,
                f"{label}.requirement",
                f"unknown requirement {entry.requirement!r}{where}",
                _suggest(entry.requirement, known),
            )
        if requirement.verification == "manual":
            raise InputError(
                file,
                f"{label}.requirement",
                f"{entry.requirement} is a manual requirement: it is attested, not waived{where}",
                "remove this entry and hand in an attestation for it instead "
                f'(`attestations = "…"` in the candidate profile, see {_DOCS})',
            )
        scope = (entry.requirement, entry.candidate)
        if scope in seen:
            whom = f"candidate {entry.candidate!r}" if entry.candidate else "every candidate"
            raise InputError(
                file,
                f"{label}.requirement",
                f"{entry.requirement} is waived twice for {whom}{where}; first as entry #{seen[scope] + 1}",
                "keep one entry per requirement and candidate",
            )
        _check_dates(entry, file, label, where, today)
        seen[scope] = index
        waived.append(Waived(entry, index))
    return WaiverSet(path.resolve(), hashlib.sha256(raw).hexdigest(), policy.exit, tuple(waived), today)


def _policy(value: object, file: str) -> Policy:
    if value is None:
        raise InputError(file, "policy", "missing [policy] table", _POLICY_FIX)
    if not isinstance(value, dict):
        raise InputError(file, "policy", "expected a table", _POLICY_FIX)
    try:
        return Policy.model_validate(value)
    except ValidationError as exc:
        raise _validation_error(exc, file, "policy") from None


def _check_dates(entry: Waiver, file: str, label: str, where: str, today: dt.date) -> None:
    """What one field alone cannot say: the dates in order, not in the future, not expired."""
    if entry.expires < entry.approved:
        raise InputError(
            file,
            f"{label}.expires",
            f"expires {entry.expires} is before approved {entry.approved}{where}",
            "give the last day the waiver holds, on or after the day it was approved",
        )
    if entry.approved > today:
        raise InputError(
            file,
            f"{label}.approved",
            f"approved {entry.approved} is in the future (today is {today}){where}",
            "give the day the waiver was approved",
        )
    if entry.expires < today:
        raise InputError(
            file,
            f"{label}.expires",
            f"expired on {entry.expires}; renew or remove it (checked on {today}){where}",
            "have the approver renew it with a new expires date, or remove the entry",
        )
