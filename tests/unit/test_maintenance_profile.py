"""The profile's [maintenance] and [wlan] sections: refused before the run when a probe would leave the suite's
own network, naming the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.cli import main
from conformance.environment.maintenance_platform import declared_endpoints, validate_maintenance
from conformance.errors import InputError
from conformance.profile import load_profile

BASE = '''[candidate]
name = "demo"
vendor = "ACME"
version = "1.0"
kind = "secure-browser"

[driver]
name = "chromium"
executable = "/usr/lib/chromium/chromium"
'''


def _profile(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "candidate.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    return path


START = 'start = ["{python}", "console.py", "--bind", "{management_address}"]\n'


@pytest.mark.parametrize(
    ("section", "field", "words"),
    [
        ('[maintenance]\n' + START + 'endpoints = [{ url = "https://198.51.100.99:8443/" }]\n',
         "maintenance.endpoints[0].url", "address"),
        ('[maintenance]\nendpoints = [{ url = "https://console.acme.test/" }]\n',
         "maintenance.endpoints[0].url", "--allow-lab-address"),
        ('[maintenance]\nstart = ["console", "{password}"]\nendpoints = [{ url = "https://c.test/" }]\n',
         "maintenance.start", "placeholder"),
        ('[maintenance]\n' + START + 'ca = "missing-ca.pem"\n', "maintenance.ca", "not a file"),
    ],
)
def test_maintenance_section_refused_before_the_run(tmp_path: Path, section: str, field: str, words: str) -> None:
    path = _profile(tmp_path, section)
    with pytest.raises(InputError) as caught:
        validate_maintenance(load_profile(path), allow_lab_address=False, file=str(path))
    assert caught.value.field == field and words in str(caught.value)


def test_a_real_lab_needs_the_flag(tmp_path: Path) -> None:
    path = _profile(tmp_path, '[maintenance]\nendpoints = [{ url = "https://console.acme.test:8443/admin" }]\n')
    validate_maintenance(load_profile(path), allow_lab_address=True, file=str(path))  # accepted with the flag
    (endpoint,) = declared_endpoints(load_profile(path))
    assert (endpoint.host, endpoint.port, endpoint.role) == ("console.acme.test", 8443, "admin")


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ('[maintenance]\nendpoints = [{ url = "ssh://console.acme.test/" }]\n', "maintenance.endpoints[0].url"),
        ('[maintenance]\nadmin_ports = [70000]\n', "maintenance.admin_ports"),
        ('[maintenance]\nengine_patch_lag_days = -1\n', "maintenance.engine_patch_lag_days"),
        ('[wlan]\nisolation = "mac-filter"\n', "wlan.isolation"),
        ('[wlan]\nisolation = "none"\nexceptions = [{ port = 9100 }]\n', "wlan.exceptions[0].purpose"),
    ],
)
def test_malformed_sections_exit_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, field: str
) -> None:
    path = _profile(tmp_path, section)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and field in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["candidate.toml"]  # nothing written


def test_the_references_sections_are_valid() -> None:
    root = Path(__file__).resolve().parents[2] / "fixtures" / "candidates"
    for name in ("chromium-open", "chromium-hardened"):
        profile = load_profile(root / f"{name}.toml")
        validate_maintenance(profile, allow_lab_address=False, file=name)
        assert profile.wlan is not None and profile.maintenance.start
        assert {e.role for e in profile.maintenance.endpoints} == {"admin", "update"}


def test_the_catalog_names_the_ports_the_scan_really_uses() -> None:
    """MNT-02's catalog text lists the common admin ports: it must say what the check really does."""
    import re

    from conformance.catalog import load_catalog
    from conformance.oracles.maintenance import COMMON_ADMIN_PORTS

    requirement = load_catalog().requirements["MNT-02"]
    for text in (requirement.oracle_en, requirement.oracle_ja):
        listed = re.search(r"[（(]((?:\d+[、,]\s*)+\d+)[）)]", text)
        assert listed is not None, text
        assert sorted(int(n) for n in re.split(r"[、,]\s*", listed.group(1))) == sorted(COMMON_ADMIN_PORTS)
