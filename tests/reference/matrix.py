"""The reference matrix's shared parts: the expected verdicts (``expected/*.toml``) and the runs of the
reference candidates, each made once per test session through the real CLI."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from conformance.environment.terminal_netns import unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = ROOT / "fixtures" / "candidates"
EXPECTED_DIR = Path(__file__).parent / "expected"
NAMESPACE_UNAVAILABLE = unavailable_reason()
NAMESPACE_ONLY = ("NET-04", "NET-05")  # decided only by observing the terminal's namespace: else `error`
TEST_NETWORK_ONLY = ("MNT-02", "MNT-03", "WLAN-02")  # decided only on the suite's test network: else `error`
ENGINE_RELEASES = ROOT / "fixtures" / "engine-releases.toml"  # the run configuration MNT-05 measures against
# The reference whose run also builds every artefact and is signed (tests/reference/test_certification.py); the
# others skip the artefacts, which do not depend on the candidate, to keep the default run short.
CERTIFIED = ("chromium-hardened",)


def expected_verdicts() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(EXPECTED_DIR.glob("*.toml")):
        for candidate, table in tomllib.loads(path.read_text(encoding="utf-8")).items():
            merged.setdefault(candidate, {}).update(table)
    return merged


EXPECTED = expected_verdicts()
for _name, _table in EXPECTED.items():  # a mistyped ID would otherwise leave a verdict in the default run unnoticed
    _unknown = set(_table.get("_slow_requirements", [])) - set(_table)
    if _unknown:
        raise ValueError(f"expected/*.toml [{_name}] _slow_requirements names {sorted(_unknown)}, which the table "
                         "does not list: give each its expected verdict, or remove it")
# Keys of a candidate's table that are settings, not requirement IDs:
#   _scope = "listed"          a reference variant open on one channel is run for its listed requirements only;
#   _slow = true               a costly variant, left out of the default run (`pytest -m slow`);
#   _slow_requirements = [ID]  these verdicts of the candidate are asserted with `-m slow` only (what another
#                              reference already proves in the default run); the default run leaves them out.
SETTINGS = ("_scope", "_slow", "_slow_requirements")


def marks_for(candidate: str, requirement: str | None = None) -> list[pytest.MarkDecorator]:
    slow = EXPECTED[candidate].get("_slow") or requirement in EXPECTED[candidate].get("_slow_requirements", [])
    return [pytest.mark.slow] if slow else []


def verdicts_of(candidate: str) -> dict[str, str]:
    return {k: v for k, v in EXPECTED[candidate].items() if k not in SETTINGS}


def assert_verdict(document: dict[str, Any], requirement: str, verdict: str) -> None:
    """The run's verdict of ``requirement`` is the expected one (on a machine without a terminal namespace or test
    network: ``error`` saying so); a failure comes with evidence files a person can open."""
    entry = document["requirements"][requirement]
    if NAMESPACE_UNAVAILABLE is not None and requirement in NAMESPACE_ONLY:
        # A machine without a terminal namespace (no root, no /dev/net/tun): the suite must say it could not
        # look, never pass or fail. The table's verdict is what a namespace run gives.
        assert entry["verdict"] == "error" and "not observable" in entry["reason"], entry
        return
    if NAMESPACE_UNAVAILABLE is not None and requirement in TEST_NETWORK_ONLY:
        assert entry["verdict"] == "error" and "test network" in entry["reason"], entry
        return
    messages = [f"{c['outcome']}: {c['message'][:300]}" for c in entry["cases"]]
    candidate = document["candidate"]["name"]
    assert entry["verdict"] == verdict, f"{candidate} {requirement}: {entry['reason']}\n" + "\n".join(messages)
    if verdict == "fail":  # a failure a person cannot check is not evidence
        failing = [c for c in entry["cases"] if c["outcome"] == "fail"]
        assert failing and all(c["evidence"] for c in failing)
        run_dir = Path(document["_dir"])
        assert all((run_dir / p).is_file() for c in failing for p in c["evidence"])


class ReferenceRuns:
    """Each reference candidate is run once, when a selected test first needs it (slow ones only with -m slow),
    for the requirements whose verdict tests this session selected: all of them is a full run."""

    def __init__(self, out: Path, selected: dict[str, set[str]], sign_key: Path) -> None:
        self.out = out
        self.selected = selected
        self.sign_key = sign_key
        self.documents: dict[str, dict[str, Any] | AssertionError] = {}

    def requirements(self, name: str) -> list[str]:
        """The --requirement options of the run: none for a full run."""
        expected = set(verdicts_of(name))
        wanted = self.selected.get(name) or expected
        if wanted == expected and EXPECTED[name].get("_scope") != "listed":
            return []
        return sorted(wanted)

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name not in self.documents:
            try:
                self.documents[name] = self._run(name)
            except AssertionError as exc:  # a run that went wrong is not repeated for each of its tests
                self.documents[name] = exc
        found = self.documents[name]
        if isinstance(found, AssertionError):
            raise found
        return found

    def _run(self, name: str) -> dict[str, Any]:
        return run_reference(name, self.out / name, self.requirements(name),
                             self.sign_key if name in CERTIFIED else None)  # fmt: skip


def run_reference(name: str, target: Path, requirements: list[str], sign_key: Path | None = None,
                  extra: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    """One reference candidate through the real CLI (``extra``: more options, e.g. ``-n 2``); its conformance.json
    with ``_dir``, ``_exit`` and ``_stdout``. Signed with every artefact when ``sign_key`` is given."""
    proc = run_cli(
        [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(CANDIDATES / f"{name}.toml"),
         "--out", str(target), f"--engine-releases={ENGINE_RELEASES}",
         *((f"--sign-key={sign_key}",) if sign_key is not None else ("--artifacts=none",)),
         *(f"--requirement={rid}" for rid in requirements), *extra],
        timeout=1200,
    )  # fmt: skip
    print(proc.stdout[-6000:], proc.stderr[-3000:], sep="\n")
    assert proc.returncode in (0, 1, 3), f"{name}: conformance run exited {proc.returncode}\n{proc.stderr}"
    # The terminal namespace and the test network are never named: nothing may show here, during or after.
    named = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout.strip()
    assert not named, f"{name}: the run left named network namespaces: {named}"
    document = json.loads((target / "conformance.json").read_text(encoding="utf-8"))
    document["_dir"] = str(target)
    document["_exit"] = proc.returncode
    document["_stdout"] = proc.stdout
    return document


def run_cli(argv: list[str], timeout: float, grace: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``argv`` with its output captured, like ``subprocess.run``, except on Ctrl-C: the run is in a session of its
    own, gets one SIGINT and up to ``grace`` seconds to end its case and remove its work folders, as a user's
    Ctrl-C allows it; ``subprocess.run`` would kill it at once and leave them behind."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:  # fmt: skip
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=grace)
            except subprocess.TimeoutExpired:
                _kill_session(proc.pid)
                proc.wait()  # Popen's exit does not reap a child on KeyboardInterrupt
            raise
        except subprocess.TimeoutExpired:
            _kill_session(proc.pid)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def _kill_session(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
