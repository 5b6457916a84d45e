"""A screen-transfer stack that cannot come up ends every ST requirement in ``error``, naming the component.

Real CLI, real Chromium, mitmproxy, Xvfb and CUPS: ``conformance run`` against a copy of the hardened noVNC
reference whose ``[driver.reference_stack] binaries`` points one component at an executable that does not
exist. The driver cannot start, so no case can decide: each ST-CORE requirement must be ``error`` (never
``pass``, ``fail`` or ``not_tested``), every case message must name the failing component, the run must exit
"undecided", and nothing the stack started may be left running.

Needs Xtigervnc, websockify, noVNC, Xvfb and chromium (as the reference runs do); ~30-90 s per component.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARDENED = ROOT / "fixtures" / "candidates" / "novnc-hardened.toml"
CATALOG = ROOT / "conformance" / "catalog" / "requirements.toml"
NEEDED = ("Xtigervnc", "websockify", "Xvfb", "xdotool", "xclip")
missing_tools = [tool for tool in NEEDED if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(bool(missing_tools), reason=f"missing tools for the stack: {missing_tools}")


def st_core() -> list[str]:
    catalog = tomllib.loads(CATALOG.read_text(encoding="utf-8"))
    return [r["id"] for r in catalog["requirement"] if "ST-CORE" in r.get("profiles", [])]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short folder: Chromium's singleton socket path must fit in 108 bytes (sun_path)."""
    folder = Path(tempfile.mkdtemp(prefix="stf-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def broken_profile(folder: Path, component: str) -> Path:
    """The hardened reference, with ``component`` pointed at an executable that does not exist."""
    text = HARDENED.read_text(encoding="utf-8")
    # the copy lives elsewhere: the profile's relative references (attestations, the console) made absolute
    fixtures = HARDENED.parent.parent
    text = text.replace('"../', f'"{fixtures}/').replace('"{profile_dir}/../', f'"{fixtures}/')
    anchor = 'clipboard = "none"\n'
    assert anchor in text, "the hardened profile changed: update this test"
    missing = folder / "missing" / component
    profile = folder / "novnc-broken.toml"
    profile.write_text(text.replace(anchor, f'{anchor}binaries = {{ {component} = "{missing}" }}\n'),
                       encoding="utf-8")
    return profile


def processes_mentioning(marker: str) -> list[str]:
    """Live processes with ``marker`` in their command line or in the target of their stdout/stderr (the
    stack logs every component into the run folder, also those whose command line does not name it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            outputs = [os.readlink(entry / "fd" / fd) for fd in ("1", "2") if (entry / "fd" / fd).exists()]
        except OSError:
            continue
        if cmdline and (marker in cmdline or any(marker in target for target in outputs)):
            found.append(f"{entry.name}: {cmdline[:160]}")
    return found


@pytest.mark.parametrize("component", ["Xtigervnc", "websockify"])
def test_stack_failure_is_error_naming_component(short_dir: Path, component: str) -> None:
    out = short_dir / "o"
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(broken_profile(short_dir, component)),
         "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )  # fmt: skip
    print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n")
    assert (out / "conformance.json").is_file(), f"no result written (exit {proc.returncode})"
    document = json.loads((out / "conformance.json").read_text(encoding="utf-8"))
    assert document["summary"]["exit_code"] == 3, document["summary"]
    for rid in st_core():
        entry = document["requirements"][rid]
        assert entry["verdict"] == "error", f"{rid}: {entry['verdict']} ({entry['reason']})"
        assert entry["cases"], f"{rid}: no case ran"
        for case in entry["cases"]:
            assert case["outcome"] == "error", f"{rid} {case['nodeid']}: {case['outcome']}"
            assert f"[{component}]" in case["message"], f"{rid} {case['nodeid']}: {case['message'][:300]}"
    # Whatever came up before the failing piece was stopped again (the run folder is in every command line).
    assert not processes_mentioning(str(out)), processes_mentioning(str(out))
