"""Bad certification inputs are refused before the run (exit 2, naming the file and the field), and nothing is
written: an expired waiver, a signing key that cannot sign, an unknown artefact. Then the offline tools on a
run folder: keygen, sign and verify through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.harness import CANDIDATES, ROOT

EXPIRED = """[policy]
exit = "accept"
[[waiver]]
requirement = "DL-01"
justification = "downloads forbidden by procedure"
approver = "Head of IT policy"
approved = 2025-01-01
expires = 2025-06-30
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)  # fmt: skip


@pytest.mark.parametrize(
    ("option", "named"),
    [
        ("--waivers={expired}", "waiver[DL-01].expires: expired on 2025-06-30"),
        ("--sign-key={missing}", "no such private key file"),
        ("--artifacts=statement,pdf", "unknown artefact pdf"),
    ],
)
def test_bad_certification_input_exits_2_before_anything_is_written(tmp_path: Path, option: str, named: str) -> None:
    expired = tmp_path / "waivers.toml"
    expired.write_text(EXPIRED, encoding="utf-8")
    out = tmp_path / "out"
    argument = option.format(expired=expired, missing=tmp_path / "no.key")
    proc = _cli("run", "--candidate", str(CANDIDATES / "chromium-open.toml"), "--out", str(out), argument)
    assert proc.returncode == 2, proc.stderr
    assert named in proc.stderr
    assert not out.exists()


def test_keygen_sign_and_verify_a_run_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "evidence").mkdir(parents=True)
    (run / "conformance.json").write_text(json.dumps({
        "suite": {"name": "lgwan-conformance", "version": "0", "catalog_version": "x", "catalog_sha256": "0" * 64},
        "candidate": {"name": "c", "kind": "secure-browser", "profile_sha256": "1" * 64},
        "summary": {"exit_code": 0}}), encoding="utf-8")  # fmt: skip
    (run / "evidence" / "shot.png").write_bytes(b"\x89PNG fake")
    assert _cli("keygen", "--out", str(tmp_path / "keys" / "vendor")).returncode == 0
    assert (tmp_path / "keys" / "vendor.key").stat().st_mode & 0o077 == 0
    again = _cli("keygen", "--out", str(tmp_path / "keys" / "vendor"))
    assert again.returncode == 2 and "vendor.key" in again.stderr  # never overwrites a key
    assert _cli("sign", str(run), "--key", str(tmp_path / "keys" / "vendor.key")).returncode == 0
    bundle, pub = run / "evidence-bundle.zip", str(tmp_path / "keys" / "vendor.pub")
    assert _cli("verify", str(bundle), "--pubkey", pub).returncode == 0
    assert _cli("keygen", "--out", str(tmp_path / "keys" / "other")).returncode == 0
    other = _cli("verify", str(bundle), "--pubkey", str(tmp_path / "keys" / "other.pub"))
    assert other.returncode == 1, other.stdout
