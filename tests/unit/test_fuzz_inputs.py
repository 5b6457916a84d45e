"""Property-based tests of the input files (issue 12): every malformed input is bad input, never a crash.

Each loader (candidate profile, attestation file, waiver file, and the CLI's whole pre-run validation) gets a
valid document — parsed from the shipped examples — with random mutations: a key deleted, renamed or added, a value
of another type (int, float, bool, list, table, date, time, empty or blank text, very long text, Japanese, control
characters), a list entry duplicated, a date moved to the past or the future, and the TOML text itself corrupted
(truncated, random bytes, invalid UTF-8, a BOM, UTF-16, a duplicated line, deep nesting). The property: the loader
returns a well-formed object (the mutation happened to be valid) or raises ``InputError`` naming that file, a field
(or, for a syntax or encoding error, the line) and a fix — never KeyError, TypeError, ValueError, OSError,
pydantic's ValidationError, UnicodeDecodeError or RecursionError. At the command line the same inputs exit 2
before anything is written.

CI runs a fixed set of examples (derandomized: the same on every run, so a failure reproduces). To search harder
locally, e.g.::

    FUZZ_EXAMPLES=5000 FUZZ_RANDOM=1 python3 -m pytest -q tests/unit/test_fuzz_inputs.py

``FUZZ_EXAMPLES`` sets the examples per property test (default 120, about 10 s for the file); ``FUZZ_RANDOM=1``
draws new examples on every run (``--hypothesis-seed=N`` repeats a run). A failure prints the shrunk file content
(``data=b'…'``): written to a file, it reproduces the failure. ``--hypothesis-show-statistics`` shows how many
examples loaded and which fields the errors named.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from conformance.attestation import AttestationSet, load_attestations, load_for_profile
from conformance.catalog import load_catalog
from conformance.cli import _validate
from conformance.errors import InputError
from conformance.profile import KINDS, CandidateProfile, load_profile
from conformance.waivers import EXIT_POLICIES, WaiverSet, load_waivers

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
TODAY = dt.date(2026, 12, 5)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    database=None,  # nothing written into the work tree; a failure is reproduced from the printed example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
_names = itertools.count()

# -- a TOML writer (the standard library only reads TOML) ---------------------------------------------------------
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _string(text: str) -> str:
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if value != value else {float("inf"): "inf", float("-inf"): "-inf"}.get(value, repr(value))
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def dump(doc: dict[str, Any]) -> str:
    """Top-level values first, then ``[table]`` and ``[[array of tables]]`` sections, as a person writes them."""
    head, tail = [], []
    for key, value in doc.items():
        if isinstance(value, dict):
            tail += ["", f"[{_key(key)}]", *(f"{_key(k)} = {_value(v)}" for k, v in value.items())]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for entry in value:
                tail += ["", f"[[{_key(key)}]]", *(f"{_key(k)} = {_value(v)}" for k, v in entry.items())]
        else:
            head.append(f"{_key(key)} = {_value(value)}")
    return "\n".join(head + tail) + "\n"


def parse(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


# -- values, keys and mutations ---------------------------------------------------------------------------------
JAPANESE = st.text(st.characters(min_codepoint=0x3041, max_codepoint=0x30FF) | st.sampled_from("漢字東京都庁　"),
                   min_size=1, max_size=12)
CONTROL = st.text(st.characters(max_codepoint=0x1F) | st.just("\x7f"), min_size=1, max_size=6)
LONG = st.builds(lambda unit, n: unit * n, st.sampled_from(["x", "あ", "a/", "../", "\x00", " ", "9"]),
                 st.integers(200, 20_000))
TEXTS = st.one_of(st.text(max_size=16), st.sampled_from(["", " ", "\t", "\u3000", "\n", " \n\t"]), JAPANESE, CONTROL,
                  LONG)
ZONES = st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=9))])
DATES = st.one_of(
    st.dates(),
    st.sampled_from([TODAY - dt.timedelta(days=1), TODAY, TODAY + dt.timedelta(days=1), dt.date.min, dt.date.max]),
    st.integers(-3650, 3650).map(lambda days: TODAY + dt.timedelta(days=days)),
    st.datetimes(timezones=ZONES),  # a date with a time is another type
)
SCALARS = st.one_of(st.integers(), st.floats(), st.booleans(), TEXTS, st.dates(), st.datetimes(timezones=ZONES),
                    st.times())
KEYS = st.one_of(
    st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
    st.text(max_size=8),
    JAPANESE,
    st.sampled_from(["", " ", "name", "kind", "evidence", "requirement", "policy", "exit", "waiver", "attestation",
                     "candidate", "driver", "expires", "date", "approved"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                      max_leaves=5)
MUTATIONS = ("delete", "replace", "add", "rename", "duplicate", "date")
CORRUPTIONS = ("truncate", "insert", "invalid-utf8", "bom", "double-bom", "utf16", "dup-line", "drop-line", "nul",
               "deep", "empty", "crlf")


def _nodes(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every value below ``node`` with its path of keys and indexes."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield (*path, key), value
        yield from _nodes(value, (*path, key))


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _renamed(key: str) -> st.SearchStrategy[str]:
    near = [key.upper(), key + "s", key[:-1], key.replace("_", "-"), key.replace("_", ""), f" {key}", key + "\u3000",
            key.title()]
    return st.one_of(st.sampled_from(near), KEYS)


def _mutate(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    kind = draw(st.sampled_from(MUTATIONS))
    nodes = list(_nodes(doc))
    if kind == "duplicate":
        lists = [(path, value) for path, value in nodes if isinstance(value, list) and value]
        if lists:
            _, target = draw(st.sampled_from(lists))
            entry = copy.deepcopy(target[draw(st.integers(0, len(target) - 1))])
            target.insert(draw(st.integers(0, len(target))), entry)
            return kind
        kind = "add"
    if kind == "date":
        dated = [path for path, value in nodes if isinstance(value, dt.date)]
        if dated:
            path = draw(st.sampled_from(dated))
            _at(doc, path[:-1])[path[-1]] = draw(DATES)
            return kind
        kind = "replace"
    if kind == "add" or not nodes:
        containers = [doc, *(value for _, value in nodes if isinstance(value, dict | list))]
        target = draw(st.sampled_from(containers))
        if isinstance(target, dict):
            target[draw(KEYS)] = draw(VALUES)
        else:
            target.insert(draw(st.integers(0, len(target))), draw(VALUES))
        return "add"
    path, _ = draw(st.sampled_from(nodes))
    parent, key = _at(doc, path[:-1]), path[-1]
    if kind == "delete":
        del parent[key]
    elif kind == "rename" and isinstance(parent, dict):
        parent[draw(_renamed(key))] = parent.pop(key)
    else:
        parent[key] = draw(VALUES)
    return kind


def _corrupt(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(CORRUPTIONS))
    event(f"corruption: {kind}")
    at = draw(st.integers(0, len(data)))
    lines = data.split(b"\n")
    line = draw(st.integers(0, len(lines) - 1))
    if kind == "truncate":
        return data[:at]
    if kind == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    if kind == "invalid-utf8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xe3\x81", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80"]))
        return data[:at] + bad + data[at:]
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "double-bom":
        return b"\xef\xbb\xbf\xef\xbb\xbf" + data
    if kind == "utf16":
        return data.decode("utf-8").encode(draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32"])))
    if kind == "dup-line":
        return b"\n".join([*lines[: line + 1], lines[line], *lines[line + 1 :]])
    if kind == "drop-line":
        return b"\n".join(lines[:line] + lines[line + 1 :])
    if kind == "nul":
        return data[:at] + b"\x00" + data[at:]
    if kind == "deep":
        depth = draw(st.sampled_from([20, 200, 600, 2000, 20_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{ a = ", " }")]))
        nested = b"deep = " + (opener * depth + "1" + closer * depth).encode()
        return b"\n".join([*lines[:line], nested, *lines[line:]])
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b"   \n\t\n", b"# only a comment\n", b"\xef\xbb\xbf"]))
    return data.replace(b"\n", b"\r\n")  # crlf: valid, changes nothing but the bytes


@st.composite
def mutated(draw: st.DrawFn, bases: list[dict[str, Any]]) -> bytes:
    """A valid document with 0-3 structural mutations, then perhaps a corruption of its text; one change at least."""
    doc = copy.deepcopy(draw(st.sampled_from(bases)))
    count = draw(st.integers(0, 3))
    corrupt = draw(st.integers(0, 3)) == 0  # a quarter of the examples are corrupted text
    for _ in range(count if count or corrupt else 1):
        event(f"mutation: {_mutate(draw, doc)}")
    data = dump(doc).encode("utf-8")
    return _corrupt(draw, data) if corrupt else data


# -- the property ------------------------------------------------------------------------------------------------
_INDEXES = re.compile(r"\[.*?\]")


def assert_bad_input(exc: InputError, named: Callable[[str], bool]) -> None:
    """Names the file, a field (or the line of a syntax or encoding error) and a fix."""
    assert named(exc.file), f"names {exc.file!r}, not the input file: {exc}"
    assert exc.field.strip(), f"names no field: {exc}"
    assert exc.problem.strip(), f"says no problem: {exc}"
    assert exc.fix.strip(), f"gives no fix: {exc}"
    text = str(exc)
    assert text.startswith(f"{exc.file}: {exc.field}: ") and text.endswith(f"(fix: {exc.fix})"), text
    if exc.problem.startswith(("not valid TOML", "not UTF-8")):
        assert re.fullmatch(r"line \d+", exc.field), f"a syntax or encoding error names its line: {exc}"
    if currently_in_test_context():  # the statistics (--hypothesis-show-statistics) of a property test
        event(f"InputError at {_INDEXES.sub('[…]', exc.field)}")


def inside(folder: Path) -> Callable[[str], bool]:
    """For a file that points to others (a profile to its attestations): any input file in ``folder``."""
    return lambda file: Path(file).resolve().is_relative_to(folder.resolve())


def check(load: Callable[[Path], Any], path: Path, data: bytes, well_formed: Callable[[Any, Path, bytes], None],
          named: Callable[[str], bool] | None = None) -> None:
    """Load ``data`` written to ``path``: a well-formed result or an InputError; anything else fails the test."""
    path.write_bytes(data)
    try:
        result = load(path)
    except InputError as exc:
        assert_bad_input(exc, named or (lambda file: file == str(path)))
        return
    event("loaded")
    well_formed(result, path, data)


@functools.cache
def catalog() -> Any:
    return load_catalog()  # not a fixture: hypothesis would print the whole catalog with a failing example


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped fixtures (profiles, attestations with their evidence, the maintenance console), so
    mutated files are read beside the files they point to. Hypothesis reuses it across examples (module scope)."""
    base = tmp_path_factory.mktemp("fuzz") / "fixtures"
    for name in ("candidates", "attestations", "maintenance-console", "waivers"):
        shutil.copytree(FIXTURES / name, base / name)
    return base


def fresh(folder: Path, sub: str) -> Path:
    return folder / sub / f"fuzz-{next(_names)}.toml"


# -- the candidate profile --------------------------------------------------------------------------------------
PROFILES = [parse(p) for p in sorted((FIXTURES / "candidates").glob("*.toml")) if p.stem != "chromium-stale"]
GOOD_PROFILE = """
[candidate]
name = "demo"
vendor = "ACME"
version = "1.0"
kind = "secure-browser"

[driver]
name = "chromium"
executable = "/bin/sh"
"""
LAB = GOOD_PROFILE + """
[wlan]
segment = "lab"
device = "wlan0"
peer = "10.0.0.2"
gateway = "10.0.0.1"
peer_control = "10.0.0.2:7070"
"""
# The CLI's check also starts from a minimal profile and one of a wireless LAN in a lab (--allow-lab-address).
VALIDATED = [*PROFILES, tomllib.loads(GOOD_PROFILE), tomllib.loads(LAB)]


def _profile_ok(profile: Any, path: Path, data: bytes) -> None:
    assert isinstance(profile, CandidateProfile)
    assert profile.path == path.resolve() and profile.sha256 == hashlib.sha256(data).hexdigest()
    assert profile.kind in KINDS and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", profile.name)
    assert isinstance(profile.driver["name"], str)
    assert all(1 <= port <= 65535 for _, port in profile.declared_endpoints())
    CandidateProfile.model_validate(profile.model_dump(exclude={"path", "sha256"}))  # what loaded is valid again


@FUZZ
@given(data=mutated(PROFILES))
def test_profile_loader_raises_only_input_error(folder: Path, data: bytes) -> None:
    check(load_profile, fresh(folder, "candidates"), data, _profile_ok)


@FUZZ
@given(data=mutated(VALIDATED))
def test_cli_validation_raises_only_input_error(folder: Path, data: bytes) -> None:
    """The whole check `conformance run` and `conformance validate` make before anything starts: the profile, its
    driver settings, wire protocol, maintenance side, wireless LAN, claimed catalog profiles and attestations."""
    allow_lab = bool(data[-1] & 1) if data else False  # with and without --allow-lab-address

    def ok(profiles: Any, path: Path, data: bytes) -> None:
        assert len(profiles) == 1
        _profile_ok(profiles[0], path, data)

    # An error in the attestation file the profile points to names that file.
    check(lambda p: _validate([p], allow_lab), fresh(folder, "candidates"), data, ok, inside(folder))


# -- the attestation file ---------------------------------------------------------------------------------------
ATTESTATIONS = [parse(FIXTURES / "attestations" / "reference-hardened.toml")]


def _attestations_ok(known: Any) -> Callable[[Any, Path, bytes], None]:
    def ok(loaded: Any, path: Path, data: bytes) -> None:
        assert isinstance(loaded, AttestationSet)
        assert loaded.path == path.resolve() and loaded.sha256 == hashlib.sha256(data).hexdigest()
        assert loaded.entries
        for rid, attested in loaded.entries.items():
            assert attested.entry.requirement == rid and known.requirements[rid].verification == "manual"
            assert attested.entry.date <= TODAY and attested.entry.expires > attested.entry.date
            assert attested.evidence and all(e.file.is_file() and e.file.is_relative_to(path.parent.resolve())
                                             for e in attested.evidence)
        json.dumps([loaded.records(TODAY), loaded.provenance(TODAY)], ensure_ascii=False)  # conformance.json

    return ok


@FUZZ
@given(data=mutated(ATTESTATIONS))
def test_attestation_loader_raises_only_input_error(folder: Path, data: bytes) -> None:
    check(lambda p: load_attestations(p, catalog(), TODAY), fresh(folder, "attestations"), data,
          _attestations_ok(catalog()))


# Where a profile's ``attestations`` may point: missing files, folders, odd names, other types.
POINTERS = st.one_of(
    st.sampled_from(["../attestations/reference-hardened.toml", "", ".", "..", "/", "/nonexistent/a.toml",
                     "../attestations", "../attestations/evidence/gov-01-risk-assessment.txt", "~/a.toml",
                     "../attestations/reference-hardened.toml\x00", "a" * 300, "a/" * 3000, "あ" * 100]),
    TEXTS,
    VALUES,
)


@FUZZ
@given(pointer=POINTERS)
def test_attestation_pointer_raises_only_input_error(folder: Path, pointer: Any) -> None:
    """``load_for_profile``: the profile's ``attestations`` names a missing file, a folder, a bad path, a non-path."""
    doc = copy.deepcopy(PROFILES[0])
    doc["attestations"] = pointer

    def load(path: Path) -> Any:
        return load_for_profile(load_profile(path), catalog(), TODAY)

    def ok(loaded: Any, path: Path, data: bytes) -> None:
        assert loaded is None or isinstance(loaded, AttestationSet)

    path = fresh(folder, "candidates")
    check(load, path, dump(doc).encode(), ok, lambda file: file == str(path) or inside(folder)(file))


# -- the waiver file --------------------------------------------------------------------------------------------
WAIVERS = [
    parse(FIXTURES / "waivers" / "example.toml"),
    {
        "policy": {"exit": "fail"},
        "waiver": [
            {"requirement": "PRN-01", "justification": "印刷は運用で制限する / restricted by procedure",
             "approver": "情報政策課長 山田", "approved": dt.date(2026, 11, 1), "expires": dt.date(2027, 3, 31)},
            {"requirement": "PRN-01", "justification": "this candidate only", "approver": "CISO",
             "approved": TODAY, "expires": TODAY, "candidate": "chromium-open", "reference": "決裁番号 1"},
        ],
    },
]


def _waivers_ok(known: Any) -> Callable[[Any, Path, bytes], None]:
    def ok(loaded: Any, path: Path, data: bytes) -> None:
        assert isinstance(loaded, WaiverSet)
        assert loaded.path == path.resolve() and loaded.sha256 == hashlib.sha256(data).hexdigest()
        assert loaded.exit in EXIT_POLICIES and loaded.entries
        for waived in loaded.entries:
            entry = waived.entry
            assert known.requirements[entry.requirement].verification != "manual"
            assert entry.approved <= TODAY <= entry.expires
        for name in ["chromium-open", *loaded.candidates]:
            json.dumps([loaded.for_candidate(name), loaded.provenance(name)], ensure_ascii=False)

    return ok


@FUZZ
@given(data=mutated(WAIVERS))
def test_waiver_loader_raises_only_input_error(folder: Path, data: bytes) -> None:
    check(lambda p: load_waivers(p, catalog(), TODAY), fresh(folder, "waivers"), data, _waivers_ok(catalog()))


# -- the mutations themselves -----------------------------------------------------------------------------------
@pytest.mark.parametrize("base", VALIDATED + ATTESTATIONS + WAIVERS,
                         ids=[f"profile{i}" for i in range(len(VALIDATED))] + ["attestations", "waivers0", "waivers1"])
def test_the_writer_round_trips_the_valid_documents(base: dict[str, Any]) -> None:
    assert tomllib.loads(dump(base)) == base


def test_the_unmutated_documents_load(folder: Path) -> None:
    """The bases are valid: a failing property is a mutation's doing, not a broken starting point."""
    for doc in VALIDATED:
        path = _written(fresh(folder, "candidates"), doc)
        _profile_ok(_validate([path], allow_lab_address=True)[0], path, path.read_bytes())
    path = _written(fresh(folder, "attestations"), ATTESTATIONS[0])
    _attestations_ok(catalog())(load_attestations(path, catalog(), TODAY), path, path.read_bytes())
    for doc in WAIVERS:
        path = _written(fresh(folder, "waivers"), doc)
        _waivers_ok(catalog())(load_waivers(path, catalog(), TODAY), path, path.read_bytes())


def _written(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump(doc), encoding="utf-8")
    return path


# -- the command line -------------------------------------------------------------------------------------------
BAD_PROFILES = {
    "syntax": (GOOD_PROFILE + "\n[broken\n").encode(),
    "unknown-field": GOOD_PROFILE.replace('version = "1.0"', 'version = "1.0"\ncolour = "赤"').encode(),
    "not-utf8": GOOD_PROFILE.replace("ACME", "ACME \udcff").encode("utf-8", "surrogateescape"),
    "truncated": GOOD_PROFILE.encode()[:40],
}
WAIVER = """
[policy]
exit = "accept"

[[waiver]]
requirement = "PRN-01"
justification = "印刷は運用で制限する / restricted by procedure"
approver = "情報政策課長 山田"
approved = 2020-01-01
expires = 2099-12-31
"""
BAD_WAIVERS = {
    "expired": WAIVER.replace("2099-12-31", "2021-01-01").encode(),
    "manual": WAIVER.replace('"PRN-01"', '"GOV-01"').encode(),
    "bom-and-garbage": b"\xef\xbb\xbf" + WAIVER.encode() + b"\n\xff\xfe",
    "quoted-date": WAIVER.replace("approved = 2020-01-01", 'approved = "2020-01-01"').encode(),
}


def conformance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


# A safety net in every `run` below: should the bad file ever be accepted, the unknown requirement is still bad
# input, checked before the run starts, so no test here can start a run (and the assertion on the file fails).
NEVER_RUN = ("--requirement", "NONE-00", "--artifacts", "none")


@pytest.mark.parametrize("case", BAD_PROFILES)
def test_run_with_a_bad_candidate_exits_2_and_writes_nothing(tmp_path: Path, case: str) -> None:
    bad, out = tmp_path / "bad.toml", tmp_path / "out"
    bad.write_bytes(BAD_PROFILES[case])
    result = conformance("run", "--candidate", str(bad), "--out", str(out), *NEVER_RUN)
    assert result.returncode == 2, result.stderr
    assert str(bad) in result.stderr and "(fix: " in result.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@pytest.mark.parametrize("case", BAD_WAIVERS)
def test_run_with_bad_waivers_exits_2_and_writes_nothing(tmp_path: Path, case: str) -> None:
    good, bad, out = tmp_path / "good.toml", tmp_path / "waivers.toml", tmp_path / "out"
    good.write_text(GOOD_PROFILE, encoding="utf-8")
    bad.write_bytes(BAD_WAIVERS[case])
    result = conformance("run", "--candidate", str(good), "--waivers", str(bad), "--out", str(out), *NEVER_RUN)
    assert result.returncode == 2, result.stderr
    assert str(bad) in result.stderr and "(fix: " in result.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["good.toml", "waivers.toml"]


def test_validate_names_the_bad_file_among_good_ones(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(GOOD_PROFILE, encoding="utf-8")
    bad.write_bytes(GOOD_PROFILE.replace('kind = "secure-browser"', "kind = 2026-12-05").encode())
    result = conformance("validate", str(good), str(bad))
    assert result.returncode == 2 and result.stdout == ""
    assert f"{bad}: candidate.kind: " in result.stderr and "(fix: " in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "good.toml"]


# -- what the fuzzing found, kept as plain examples -------------------------------------------------------------
def _lines(text: str) -> int:
    return text.count("\n") + 1


DEEP = "x = " + "[" * 5000 + "]" * 5000 + "\n"
# (what, the candidate profile, --allow-lab-address, the field the InputError names); each escaped as another
# exception type (or named no field, or gave no fix) before it was fixed
FOUND_IN_PROFILES = [
    ("executable-not-text", GOOD_PROFILE.replace('"/bin/sh"', "[]").encode(), False, "driver.executable"),
    ("executable-of-unknown-user", GOOD_PROFILE.replace("/bin/sh", "~nosuchuser-fuzz/chromium").encode(), False,
     "driver.executable"),
    ("executable-name-too-long", GOOD_PROFILE.replace("/bin/sh", "x" * 300).encode(), False, "driver.executable"),
    ("ca-name-too-long", (GOOD_PROFILE + f'\n[maintenance]\nca = "{"x" * 300}"\n').encode(), False, "maintenance.ca"),
    ("attestations-name-too-long", (f'attestations = "{"a" * 300}"\n' + GOOD_PROFILE).encode(), False,
     "attestations"),
    ("lab-port-superscript-two", LAB.replace(":7070", ":²").encode(), True, "wlan.peer_control"),
    ("blank-key", ('" " = 1\n' + GOOD_PROFILE).encode(), False, '" "'),
    ("wrong-type-without-fix", GOOD_PROFILE.replace('version = "1.0"', "version = 1").encode(), False,
     "candidate.version"),
    ("nested-too-deeply", (GOOD_PROFILE + DEEP).encode(), False, f"line {_lines(GOOD_PROFILE)}"),
    ("end-of-document", (GOOD_PROFILE + "[").encode(), False, f"line {_lines(GOOD_PROFILE)}"),
    ("not-utf8-after-a-bom", b"\xef\xbb\xbf" + GOOD_PROFILE.encode() + b"\xff", False, f"line {_lines(GOOD_PROFILE)}"),
]


@pytest.mark.parametrize(("data", "allow_lab", "field"), [case[1:] for case in FOUND_IN_PROFILES],
                         ids=[case[0] for case in FOUND_IN_PROFILES])
def test_found_profile_inputs_are_bad_input(folder: Path, data: bytes, allow_lab: bool, field: str) -> None:
    path = fresh(folder, "candidates")
    path.write_bytes(data)
    with pytest.raises(InputError) as caught:
        _validate([path], allow_lab)
    assert_bad_input(caught.value, lambda file: file == str(path))
    assert caught.value.field == field


def test_an_encoding_error_counts_the_bom_in_its_byte(folder: Path) -> None:
    path = fresh(folder, "candidates")
    path.write_bytes(b"\xef\xbb\xbfa = 1\n\xff")
    with pytest.raises(InputError, match="not UTF-8 at byte 9") as caught:
        load_profile(path)
    assert caught.value.field == "line 2"


@pytest.mark.parametrize("evidence", ["evidence/\x00.txt", "x" * 300, "a/" * 3000], ids=["nul", "name", "path"])
def test_found_evidence_paths_are_bad_input(folder: Path, evidence: str) -> None:
    doc = copy.deepcopy(ATTESTATIONS[0])
    doc["attestation"][0]["evidence"] = [evidence]
    path = _written(fresh(folder, "attestations"), doc)
    with pytest.raises(InputError) as caught:
        load_attestations(path, catalog(), TODAY)
    assert_bad_input(caught.value, lambda file: file == str(path))
    assert caught.value.field == "attestation[NET-06].evidence[0]"


@pytest.mark.parametrize("key", ["", " ", "免除"])
def test_an_odd_top_level_key_is_named_as_written(folder: Path, key: str) -> None:
    for sub, doc, load in (("waivers", WAIVERS[0], load_waivers), ("attestations", ATTESTATIONS[0], load_attestations)):
        path = _written(fresh(folder, sub), {key: 1, **doc})
        with pytest.raises(InputError) as caught:
            load(path, catalog(), TODAY)
        assert caught.value.field == json.dumps(key, ensure_ascii=False)
