"""A vendor's gateway: the suite's own Xpra started by the test *outside* the suite, as a vendor's product is.

The profile the test writes is what a vendor of an Xpra-based product would hand in: ``gateway_address`` (the
product listens there), ``gateway_ca`` (its HTTPS gateway's CA, which the suite verifies), the xpra client
preset, ``wire_protocol = "xpra"`` and the remote-side contract (the probe opened with the product's own
``xpra control … start``, its file push as the ``push_file`` hook). No ``reference_stack``: the suite has no
remote oracle of its own here, only the probe's reports, the terminal and the wire.

Every ST-CORE requirement the remote side is needed for must be *decided* (no ``error``), and the channels this
product has open must fail.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conformance.environment.tls import make_ca, make_leaf
from conformance.environment.xpra_stack import XpraStack, xpra_installed

pytestmark = [pytest.mark.reference, pytest.mark.slow,
              pytest.mark.skipif(not xpra_installed(), reason="Debian's xpra is not installed")]

DECIDED = ["CLIP-01", "CLIP-02", "DL-01", "UL-01", "PRN-01", "ST-01", "ST-03"]
# Clipboard and file transfer are on; ST-01 fails on every Xpra: window titles cross as text.
OPEN = {"CLIP-01", "CLIP-02", "DL-01", "UL-01", "ST-01", "ST-03"}
REMOTE_CHROMIUM = ("/usr/lib/chromium/chromium --no-sandbox --test-type --no-first-run --no-default-browser-check "
                   "--disable-background-networking --disable-component-update --password-store=basic --disable-gpu "
                   "--kiosk-printing --force-device-scale-factor=1 --window-size=1280,600 --window-position=0,100")


def vendor_profile(folder: Path, stack: XpraStack, ca_pem: Path) -> Path:
    control = f"socket:{stack.control_socket}"
    remote = f"{REMOTE_CHROMIUM} --user-data-dir={shlex.quote(str(stack.remote_profile_dir))} --app='{{probe_url}}'"
    profile = folder / "vendor-xpra.toml"
    profile.write_text(f"""
[candidate]
name = "vendor-xpra"
vendor = "a vendor (the suite's Xpra, started outside the suite)"
version = "3.1.3"
kind = "screen-transfer"
catalog_profiles = ["ST-CORE"]

[driver]
name = "webvdi"
preset = "xpra"
client_path = "/index.html?server={{host}}&port={{port}}&ssl=true&sound=false&reconnect=false&submit=false"
terminal_permissions = ["clipboard-read", "clipboard-write"]
gateway_address = "127.0.0.1:{stack.websocket_port}"
gateway_ca = {json.dumps(str(ca_pem))}

[driver.remote]
open = "command"
open_command = ["xpra", "control", {json.dumps(control)}, "start", {json.dumps(remote)}]
push_file = ["xpra", "control", {json.dumps(control)}, "send-file", "{{file}}", "false"]

[network]
endpoints = [{{ host = "gateway.test", port = 443, purpose = "vendor gateway" }}]
""", encoding="utf-8")
    return profile


def test_vendor_xpra_gets_decided_verdicts(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    ca = make_ca(tmp_path / "tls", "vendor-ca", "a vendor's gateway CA")
    leaf = make_leaf(tmp_path / "tls", "gateway", ca, ["gateway.test"])
    # A short folder: Chromium's singleton socket path under the stack's TMPDIR must fit in 107 bytes.
    work = Path(tempfile.mkdtemp(prefix="vendor-xpra-"))
    request.addfinalizer(lambda: shutil.rmtree(work, ignore_errors=True))
    with XpraStack(work, clipboard=True, file_transfer=True, printing=False, open_url=False,
                   tls=(leaf.cert_path, leaf.key_path)) as stack:
        profile = vendor_profile(tmp_path, stack, ca.cert_path)
        out = tmp_path / "run"
        proc = subprocess.run(
            [sys.executable, "-m", "conformance.cli", "run", "--candidate", str(profile), "--out", str(out),
             *(f"--requirement={rid}" for rid in DECIDED)],
            capture_output=True, text=True, timeout=1200)
        print(proc.stdout[-6000:], proc.stderr[-3000:], sep="\n")
    assert proc.returncode in (0, 1, 3), proc.stderr
    document = json.loads((out / "conformance.json").read_text(encoding="utf-8"))
    verdicts = {rid: document["requirements"][rid]["verdict"] for rid in DECIDED}
    reasons = {rid: document["requirements"][rid]["reason"][:300] for rid in DECIDED}
    assert "error" not in verdicts.values(), reasons
    assert {rid for rid, v in verdicts.items() if v == "fail"} == OPEN, (verdicts, reasons)
