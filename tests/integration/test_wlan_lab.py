"""WLAN-02 in a lab, end to end: `conformance run` on one terminal, `conformance wlan-peer` on the other.

The "lab" is built from the suite's own namespaces: a wireless segment (a bridge, client ports isolated or not)
with a gateway, and a second, wired segment over which the peer's control endpoint is reached. The run itself
is started inside terminal A's namespace, so the code path is exactly a real lab's (this machine's own network,
--allow-lab-address), while every packet stays inside namespaces made here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conformance.environment.terminal_netns import unavailable_reason
from conformance.environment.test_network import USER, WLAN, TestNetwork

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=f"no namespaces: {unavailable_reason()}")
CONTROL_PORT = 7000


def _profile(folder: Path, peer: str, gateway: str, control: str) -> Path:
    path = folder / "lab.toml"
    path.write_text(f'''[candidate]
name = "lab-terminal"
vendor = "municipality (lab)"
version = "1"
kind = "secure-browser"
catalog_profiles = ["SB-CORE", "ENV-WLAN"]

[driver]
name = "chromium"
executable = "/usr/lib/chromium/chromium"

[wlan]
segment = "lab"
device = "eth-{WLAN}"
peer = "{peer}"
gateway = "{gateway}"
peer_control = "{control}"
''', encoding="utf-8")
    return path


def _run_in(host: object, profile: Path, out: Path) -> dict:
    done = subprocess.run([*host.enter_argv(), sys.executable, "-m", "conformance.cli", "run",  # type: ignore[attr-defined]
                           "--candidate", str(profile), "--requirement", "WLAN-02", "--allow-lab-address",
                           "--out", str(out)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 1, 3), done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "conformance.json").read_text(encoding="utf-8"))["requirements"]["WLAN-02"]


@pytest.mark.parametrize(("isolated", "verdict"), [
    (True, "pass"),
    pytest.param(False, "fail", marks=pytest.mark.slow),  # the reference bridge proves the open case by default
], ids=["isolated", "open"])
def test_lab_run_against_a_wlan_peer(tmp_path: Path, isolated: bool, verdict: str) -> None:
    with TestNetwork(tmp_path / "net") as network:
        network.segment(WLAN, isolated=isolated)
        network.segment(USER)  # the wired path to the peer's control endpoint
        gateway = network.host("gateway", [WLAN], uplink=True)
        terminal = network.host("terminal", [WLAN, USER])
        peer = network.host("peer", [WLAN, USER])
        control = f"{peer.address(USER)}:{CONTROL_PORT}"
        served = subprocess.Popen([*peer.enter_argv(), sys.executable, "-m", "conformance.cli", "wlan-peer",
                                   "--control", control], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            _wait_for(terminal, control)
            profile = _profile(tmp_path, peer.address(WLAN), gateway.address(WLAN), control)
            entry = _run_in(terminal, profile, tmp_path / "out")
            assert entry["verdict"] == verdict, entry["reason"]
            evidence = json.loads((tmp_path / "out" / entry["cases"][0]["evidence"][0]).read_text(encoding="utf-8"))
            assert evidence["setup"]["mode"] == "lab"
            assert all(r["reached"] for r in evidence["positive_control_gateway"])
            assert set(evidence["positive_control_peer_listening"].values()) == {"bound"}
            if not isolated:  # the peer's own view names this terminal
                assert terminal.address(WLAN) in [s for v in evidence["seen_by_peer"].values() for s in v]
        finally:
            os.killpg(served.pid, signal.SIGINT)
            served.wait(10)
        # no peer: the run cannot tell isolation from absence, so it must not pass
        entry = _run_in(terminal, _profile(tmp_path, peer.address(WLAN), gateway.address(WLAN), control),
                        tmp_path / "out-no-peer")
        assert entry["verdict"] == "error" and "wlan-peer" in entry["reason"], entry["reason"]


def test_lab_segment_needs_the_lab_flag(tmp_path: Path) -> None:
    profile = _profile(tmp_path, "203.0.113.20", "203.0.113.1", "192.0.2.20:7000")
    done = subprocess.run([sys.executable, "-m", "conformance.cli", "validate", str(profile)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "wlan.segment" in done.stderr and "--allow-lab-address" in done.stderr


def _wait_for(host: object, control: str) -> None:
    def ask() -> bool:
        try:
            with urllib.request.urlopen(f"http://{control}/status", timeout=1):
                return True
        except OSError:
            return False

    deadline = time.monotonic() + 30
    while not host.call(ask):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "wlan-peer did not answer within 30 s"
        time.sleep(0.2)
