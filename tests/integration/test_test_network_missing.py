"""Without the tools of the test network, MNT-02, MNT-03 and WLAN-02 end in ``error``, never ``pass``.

``conformance run`` against the HARDENED reference (where all three pass) with a PATH that lacks one tool:
``ip`` (no test network can be built: no namespace, no bridge) or ``arping`` (WLAN-02's ARP probe). Only the
requirements' own cases run (``--requirement``), so no browser is started.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.harness import CANDIDATES, run_conformance

HARDENED = CANDIDATES / "chromium-hardened.toml"


def test_without_ip_the_test_network_requirements_are_errors(tmp_path: Path) -> None:
    selection = [arg for rid in ("MNT-02", "MNT-03", "WLAN-02") for arg in ("--requirement", rid)]
    _, document = run_conformance(HARDENED, tmp_path / "o", missing=["ip"], args=selection)
    for rid in ("MNT-02", "MNT-03", "WLAN-02"):
        entry = document["requirements"][rid]
        assert entry["verdict"] == "error", entry
        assert "test network" in entry["reason"] and "ip" in entry["reason"], entry["reason"]


def test_without_arping_wlan02_is_an_error(tmp_path: Path) -> None:
    _, document = run_conformance(HARDENED, tmp_path / "o", missing=["arping"], args=["--requirement", "WLAN-02"])
    entry = document["requirements"]["WLAN-02"]
    assert entry["verdict"] == "error", entry
    assert "arping" in entry["reason"], entry["reason"]
