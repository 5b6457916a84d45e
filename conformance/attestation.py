"""Attestations: the evidence a vendor hands in for the catalog's ``manual`` requirements.

A run cannot observe a risk assessment, a maintenance terminal or a wireless-LAN key erasure, so these
requirements stay ``manual`` whatever is handed in. What the suite can do is check the attestation's form
before anything starts (the requirement exists and is manual, the dates make sense, GOV-01 names the
assessor's registration number, every evidence file is there) and pin each evidence file by its SHA-256 in
the results, so a municipality knows exactly which documents it has to read. See docs/attestations.md.

The file is TOML, one ``[[attestation]]`` table per attested requirement; the candidate profile points to it
with ``attestations = "path.toml"``. Every problem raises :class:`~conformance.errors.InputError` naming the
file, the entry (``attestation[GOV-01].expires``, or ``attestation[2].requirement`` while the entry has no
usable ID yet) and the fix. Like the profile and the catalog, it imports nothing of the package but the error
types and the verdict vocabulary; the catalog is passed in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conformance.catalog.model import REQ_ID_PATTERN, Text
from conformance.errors import InputError, dotted, entry_lines, entry_where, read_toml, toml_key
from conformance.verdicts import ATTESTATION_STATUSES, PENDING

STATUSES = ATTESTATION_STATUSES
STATUS_LABELS = {
    "attested": ("証跡確認済", "attested"),
    "pending": ("未提出", "pending"),
    "expired": ("期限切れ", "expired"),
}
EXAMPLE_LABEL = ("例", "example")
# GOV-01 asks for a risk assessment by a 情報処理安全確保支援士; the register (IPA) numbers them with 6 digits.
REGISTRATION_PATTERN = r"[0-9]{6}"  # ASCII digits only (re's \d would take full-width ones too)
REGISTERED_SPECIALIST_REQUIREMENTS = ("GOV-01",)
# Where the copies go in a run folder: evidence/attestations/<ID>/<path inside the attestation folder>.
EVIDENCE_FOLDER = PurePosixPath("evidence") / "attestations"


class Attestation(BaseModel):
    """One ``[[attestation]]`` table: who attests what about one manual requirement, with which files."""

    # strict: TOML already gives native types, so a quoted date or a numeric registration number is a mistake.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    requirement: Annotated[str, Field(pattern=REQ_ID_PATTERN)]
    statement: Text  # what is attested (ja or en)
    attested_by: Text
    organisation: Text | None = None
    role: Text
    registration_number: Text | None = None  # required for GOV-01 (6 digits)
    date: dt.date
    expires: dt.date
    evidence: Annotated[list[Text], Field(min_length=1)]
    example: bool = False  # a shipped example, never real evidence


@dataclass(frozen=True)
class EvidenceFile:
    """One evidence file, read and hashed when the attestation was validated."""

    source: str  # as written in the attestation file
    relative: str  # its place inside the attestation folder (POSIX), kept in the run's copy
    file: Path  # resolved
    sha256: str
    bytes: int

    def destination(self, requirement: str) -> str:
        """Where the run keeps its copy, relative to the run folder."""
        return str(EVIDENCE_FOLDER / requirement / self.relative)


@dataclass(frozen=True)
class Attested:
    """A validated entry with its evidence files."""

    entry: Attestation
    evidence: tuple[EvidenceFile, ...]
    index: int  # position in the file (0-based), for messages

    def status(self, today: dt.date) -> str:
        # Valid through the day it expires; an expired attestation is reported, never rejected.
        return "expired" if self.entry.expires < today else "attested"

    def record(self, today: dt.date) -> dict[str, Any]:
        """What conformance.json says about this attestation (``applicable`` is added by the aggregation)."""
        entry = self.entry
        return {
            "status": self.status(today),
            "example": entry.example,
            "statement": entry.statement,
            "attested_by": entry.attested_by,
            "organisation": entry.organisation,
            "role": entry.role,
            "registration_number": entry.registration_number,
            "date": entry.date.isoformat(),
            "expires": entry.expires.isoformat(),
            "evidence": [
                {"path": e.destination(entry.requirement), "source": e.source, "sha256": e.sha256, "bytes": e.bytes}
                for e in self.evidence
            ],
        }


@dataclass(frozen=True)
class AttestationSet:
    """A validated attestation file."""

    path: Path
    sha256: str
    entries: dict[str, Attested]  # requirement ID → entry, in file order

    def records(self, today: dt.date) -> dict[str, dict[str, Any]]:
        return {rid: attested.record(today) for rid, attested in self.entries.items()}

    def provenance(self, today: dt.date) -> dict[str, Any]:
        """The file itself, for conformance.json: which file, which bytes, judged on which day."""
        return {
            "file": str(self.path),
            "sha256": self.sha256,
            "checked_on": today.isoformat(),
            "entries": len(self.entries),
            "examples": sum(1 for a in self.entries.values() if a.entry.example),
        }


# -- loading ---------------------------------------------------------------------------------------
_EXAMPLES = {
    "requirement": 'requirement = "GOV-01"',
    "statement": 'statement = "what is attested / 何を証明するか"',
    "attested_by": 'attested_by = "山田 太郎"',
    "role": 'role = "情報処理安全確保支援士"',
    "registration_number": 'registration_number = "012345"',
    "date": "date = 2026-11-30",
    "expires": "expires = 2027-11-30",
    "evidence": 'evidence = ["evidence/report.pdf"]',
    "example": "example = false",
    "organisation": 'organisation = "ACME 株式会社"',
}


def _explain(err: Mapping[str, Any]) -> tuple[str, str]:
    """One pydantic error as (problem, fix) a vendor can act on."""
    loc = tuple(err["loc"])
    name = next((str(p) for p in loc if isinstance(p, str)), "")
    kind, value = err["type"], err.get("input")
    example = _EXAMPLES.get(name, f"{name} = …")
    if kind == "extra_forbidden":
        return f"unknown field {name!r}", f"remove it or correct its name; allowed fields: {', '.join(_EXAMPLES)}"
    if kind == "missing":
        return "required field is missing", f"add {example}"
    if kind == "date_type":
        return (f"{value!r} is not a TOML date",
                f"write the date unquoted, without a time: {example}")
    if kind == "string_type":
        return f"{value!r} is not text", f"write it as a quoted string: {example}"
    if kind == "bool_type":
        return f"{value!r} is not true or false", "write example = true or example = false"
    if kind == "list_type":
        return "expected a list of file paths", f"write {example}"
    if kind == "too_short":
        return "no evidence file is listed", f"list at least one file: {example}"
    if kind == "string_pattern_mismatch":
        return (f"{value!r} is not a requirement ID",
                "use an ID of the catalog such as GOV-01 (`conformance catalog` lists them)")
    if kind in ("string_too_short", "value_error"):
        return "text is empty", f"write the {name} text"
    return err["msg"], f"correct {name or 'the value'}"


def _hash(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _reason(exc: Exception) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def _evidence(written: str, base: Path, file: str, field: str, where: str) -> EvidenceFile:
    """Resolve, check and hash one evidence path (relative to the attestation file's folder)."""
    fix_path = "write the path relative to the attestation file's folder, e.g. evidence/report.pdf"
    if PurePosixPath(written).is_absolute() or Path(written).is_absolute():
        raise InputError(file, field, f"{written!r} is an absolute path{where}", fix_path)
    try:
        target = (base / written).resolve()
        folder = target.is_dir()
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long for the file system
        raise InputError(file, field, f"{written[:80]!r} is not a usable path: {_reason(exc)}{where}",
                         fix_path) from None
    # Evidence must travel with the attestation file: a path out of its folder (.., a symlink) is refused.
    if not target.is_relative_to(base):
        raise InputError(file, field, f"{written!r} leads out of the attestation folder {base}{where}",
                         f"put the file inside {base} and {fix_path}")
    if folder:
        raise InputError(file, field, f"{written!r} is a folder, not a file{where}", "name one file per entry")
    try:
        sha256, size = _hash(target)
    except OSError as exc:
        raise InputError(file, field, f"cannot read {written!r}: {exc.strerror or exc}{where}",
                         f"put the file there or correct the path ({fix_path})") from None
    return EvidenceFile(written, target.relative_to(base).as_posix(), target, sha256, size)


def load_attestations(path: str | Path, catalog: Any, today: dt.date | None = None) -> AttestationSet:
    """Load and check an attestation file against ``catalog``. Raises InputError for any problem.

    ``today`` (default: the local date) rejects attestations dated in the future; expiry is judged later,
    on the day of the run, and never rejects.
    """
    path = Path(path)
    file = str(path)
    today = today or dt.date.today()
    raw, data = read_toml(path, "attestation file", "check the path (relative to the candidate profile's folder)")
    text = raw.decode("utf-8-sig")  # for the line of each entry in messages (read_toml proved it decodes)
    unknown = [key for key in data if key != "attestation"]
    if unknown:
        raise InputError(file, toml_key(unknown[0]), f"unknown top-level key {unknown[0]!r}",
                         "write one [[attestation]] table per attested requirement, nothing else")
    entries = data.get("attestation")
    if not isinstance(entries, list) or not entries:
        raise InputError(file, "attestation", "no [[attestation]] entries",
                         "add one [[attestation]] table per attested requirement, or remove `attestations` "
                         "from the candidate profile")
    lines, base = entry_lines(text, "attestation"), path.resolve().parent
    attested: dict[str, Attested] = {}
    for index, raw_entry in enumerate(entries):
        where = entry_where(lines, index)
        if not isinstance(raw_entry, dict):
            raise InputError(file, f"attestation[{index}]", f"expected a table{where}",
                             "write it as [[attestation]] followed by key = value lines")
        rid = raw_entry.get("requirement")
        # Name the entry by its requirement once that is a catalog ID, by its position before.
        label = f"attestation[{rid}]" if isinstance(rid, str) and rid in catalog.requirements else \
            f"attestation[{index}]"
        try:
            entry = Attestation.model_validate(raw_entry)
        except ValidationError as exc:
            errors = exc.errors()
            err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
            problem, fix = _explain(err)
            field = dotted(tuple(err["loc"])) if err["loc"] else ""  # evidence[0], a key as written in TOML
            raise InputError(file, f"{label}.{field}" if field else label, problem + where, fix) from None
        requirement = catalog.requirements.get(entry.requirement)
        if requirement is None:
            raise InputError(file, f"{label}.requirement", f"unknown requirement {entry.requirement!r}{where}",
                             "use an ID of the catalog (`conformance catalog` lists them)")
        if requirement.verification != "manual":
            manual = ", ".join(r for r, req in catalog.requirements.items() if req.verification == "manual")
            raise InputError(file, f"{label}.requirement",
                             f"{entry.requirement} is decided by the automated run; an attestation never "
                             f"decides an automated requirement{where}",
                             f"remove this entry; attestations are for the manual requirements only: {manual}")
        if entry.requirement in attested:
            first = attested[entry.requirement].index
            raise InputError(file, f"{label}.requirement",
                             f"{entry.requirement} is attested twice{where}; first as entry #{first + 1}",
                             "keep one entry per requirement (list every evidence file in its evidence)")
        _check_entry(entry, file, label, where, today)
        if len(set(entry.evidence)) != len(entry.evidence):
            raise InputError(file, f"{label}.evidence", f"a file is listed twice{where}", "list each file once")
        evidence = tuple(
            _evidence(written, base, file, f"{label}.evidence[{i}]", where) for i, written in enumerate(entry.evidence)
        )
        attested[entry.requirement] = Attested(entry, evidence, index)
    return AttestationSet(path.resolve(), hashlib.sha256(raw).hexdigest(), attested)


def _check_entry(entry: Attestation, file: str, label: str, where: str, today: dt.date) -> None:
    """What one field alone cannot say: GOV-01's registration number and the dates."""
    if entry.requirement in REGISTERED_SPECIALIST_REQUIREMENTS and (
        entry.registration_number is None or not re.fullmatch(REGISTRATION_PATTERN, entry.registration_number)
    ):
        got = "missing" if entry.registration_number is None else f"{entry.registration_number!r} is not valid"
        raise InputError(file, f"{label}.registration_number",
                         f"{got}: {entry.requirement} needs the 情報処理安全確保支援士 registration number{where}",
                         'write the 6 digits of the 登録番号 as a string, e.g. registration_number = "012345"')
    if entry.expires <= entry.date:
        raise InputError(file, f"{label}.expires",
                         f"expires {entry.expires} is not after date {entry.date}{where}",
                         "give the day until which the attestation holds, after the day it was made")
    if entry.date > today:
        raise InputError(file, f"{label}.date", f"date {entry.date} is in the future (today is {today}){where}",
                         "give the day the attestation was made")


def load_for_profile(profile: Any, catalog: Any, today: dt.date | None = None) -> AttestationSet | None:
    """The attestations a candidate profile points to (``attestations = "…"``, relative to its folder)."""
    if profile.attestations is None:
        return None
    path = Path(profile.attestations)
    if not path.is_absolute():
        path = profile.base_dir / path
    try:
        found = path.is_file()
    except OSError:  # e.g. a name too long for the file system
        found = False
    if not found:
        raise InputError(str(profile.path), "attestations", f"no attestation file at {str(path)[:200]}",
                         "give the path of the attestation TOML, relative to the profile's folder")
    return load_attestations(path, catalog, today)


# -- after the run ---------------------------------------------------------------------------------
def copy_evidence(attestations: AttestationSet | None, document: dict[str, Any], out_dir: Path) -> None:
    """Copy every evidence file the document reports into the run folder and hash the copy.

    A copy that differs from what was validated (the file changed during the run) is said in the record:
    the hash in the results is always the hash of the file a reader opens.
    """
    if attestations is None:
        return
    for rid, entry in document["requirements"].items():
        record, attested = entry.get("attestation"), attestations.entries.get(rid)
        if not record or attested is None:
            continue
        for item, evidence in zip(record["evidence"], attested.evidence, strict=True):
            target = out_dir / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(evidence.file, target)
                sha256, size = _hash(target)
            except OSError as exc:
                record.setdefault("notes", []).append(
                    f"{evidence.source}: コピーできなかった / could not be copied: {exc.strerror or exc}")
                continue
            if (sha256, size) != (item["sha256"], item["bytes"]):
                item.update(sha256=sha256, bytes=size, sha256_at_validation=evidence.sha256)
                record.setdefault("notes", []).append(
                    f"{evidence.source}: 検証後に変更された / changed after validation (the hash is the copy's)")


def status_text(record: Mapping[str, Any]) -> str:
    """E.g. "証跡確認済 / attested" or "証跡確認済（例）/ attested (example)"."""
    ja, en = STATUS_LABELS[record["status"]]
    if record.get("example"):
        return f"{ja}（{EXAMPLE_LABEL[0]}）/ {en} ({EXAMPLE_LABEL[1]})"
    return f"{ja} / {en}"


def write_allure_results(allure_dir: Path, document: dict[str, Any], catalog: Any) -> list[Path]:
    """One Allure result per manual requirement (allure-pytest writes results for test items only).

    Always ``skipped``: a manual requirement is never decided by the run, attested or not.
    """
    candidate, written = document["candidate"], []
    stamp = _millis(document.get("finished"))
    for rid, entry in document["requirements"].items():
        if entry["verdict"] != "manual":
            continue
        record = entry.get("attestation") or PENDING
        requirement = catalog.requirements.get(rid)
        family = requirement.family if requirement else "manual"
        severity = {"must": "critical", "should": "normal", "optional": "minor"}.get(entry["level"], "normal")
        result_id, attachment = str(uuid.uuid4()), f"{uuid.uuid4()}-attachment.json"
        (allure_dir / attachment).write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        labels = {
            "parentSuite": f"{candidate['name']} ({candidate['kind']})",
            "suite": family,
            "feature": family,
            "severity": severity,
            "requirement": rid,
            "tag": "manual",
        }
        links = [{"type": "link", "url": f"../catalog.html#{rid}",
                  "name": f"{rid} (catalog {document['suite']['catalog_version']})"}]
        links += [{"type": "link", "url": f"../{e['path']}", "name": e["source"]} for e in record.get("evidence", [])]
        title = f"{requirement.title('ja')} / {requirement.title('en')}" if requirement else rid
        ja, en = STATUS_LABELS[record["status"]]
        example = f" ({EXAMPLE_LABEL[1]})" if record.get("example") else ""
        result = {
            "uuid": result_id,
            "name": f"{rid} manual: {en}{example} / {ja}",
            "fullName": f"attestations#{rid}",
            "historyId": _md5(f"{candidate['name']}:{rid}:attestation"),
            "testCaseId": _md5(f"attestation:{rid}"),
            "status": "skipped",
            "statusDetails": {"message": _allure_message(record), "trace": entry["reason"]},
            "description": title,
            "labels": [{"name": name, "value": value} for name, value in labels.items()],
            "links": links,
            "attachments": [{"name": "attestation.json", "source": attachment, "type": "application/json"}],
            "parameters": [],
            "start": stamp,
            "stop": stamp,
            "titlePath": ["attestations"],
        }
        target = allure_dir / f"{result_id}-result.json"
        target.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        written.append(target)
    return written


def _allure_message(record: Mapping[str, Any]) -> str:
    lines = [f"要証跡 {status_text(record)}"]
    if record["status"] == "pending":
        lines.append("証跡が提出されていない / no attestation was handed in")
        return "\n".join(lines)
    if record.get("example"):
        lines.append("例であり実際の証跡ではない / an example, not real evidence")
    who = record["attested_by"] + (f", {record['organisation']}" if record.get("organisation") else "")
    number = f", 登録番号 / registration {record['registration_number']}" if record.get("registration_number") else ""
    lines += [
        f"{record['statement']}",
        f"{who} ({record['role']}{number}), {record['date']} → {record['expires']}",
        *(f"sha256 {e['sha256']}  {e['bytes']} bytes  {e['path']}" for e in record.get("evidence", [])),
        *record.get("notes", []),
    ]
    return "\n".join(lines)


def _md5(text: str) -> str:
    # Allure's history and test-case ids are md5 hex digests by convention; no security rests on them.
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _millis(stamp: str | None) -> int:
    try:
        return int(dt.datetime.fromisoformat(stamp).timestamp() * 1000) if stamp else 0
    except ValueError:
        return 0
