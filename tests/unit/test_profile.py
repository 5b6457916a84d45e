"""Candidate profile validation: bad input names the file and the field, and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.cli import REFERENCE_DIR, main
from conformance.drivers import validate_settings
from conformance.errors import InputError
from conformance.profile import load_profile

GOOD = """
[candidate]
name = "demo"
vendor = "ACME"
version = "1.0"
kind = "secure-browser"

[driver]
name = "chromium"
executable = "/bin/sh"

[network]
endpoints = [{ host = "internet.test", port = 443 }]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "candidate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_reference_profiles_are_valid() -> None:
    for path in sorted(REFERENCE_DIR.glob("*.toml")):
        profile = load_profile(path)
        executable = str(profile.driver.get("executable", ""))
        if "tools/" in executable and not (profile.base_dir / executable).exists():
            continue  # set-up's unpacked build (chromium-stale): absent where apt offers no older chromium
        validate_settings(profile.driver["name"], profile.driver, profile.base_dir, str(path))
        assert profile.sha256 and profile.kind in ("secure-browser", "screen-transfer")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('kind = "secure-browser"', 'kind = "browser"', "candidate.kind"),
        ('version = "1.0"\n', 'version = "1.0"\ncolour = "red"\n', "candidate.colour"),
        ("port = 443", "port = 70000", "network.endpoints[0].port"),
        ('name = "demo"', 'name = "has space"', "candidate.name"),
        ('[driver]\nname = "chromium"', '[driver]\nname = 3', "driver"),
    ],
)
def test_bad_field_is_named(tmp_path: Path, old: str, new: str, field: str) -> None:
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(InputError) as caught:
        load_profile(path)
    assert caught.value.field == field
    assert str(path) in str(caught.value)


def test_toml_syntax_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not valid TOML"):
        load_profile(write(tmp_path, GOOD + "\n[broken"))


def test_driver_settings_are_validated_against_the_profile_folder(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, GOOD.replace('executable = "/bin/sh"', 'policies = "missing.json"')))
    with pytest.raises(InputError) as caught:
        validate_settings("chromium", profile.driver, profile.base_dir, str(profile.path))
    assert caught.value.field == "driver"
    assert str(tmp_path / "missing.json") in caught.value.problem


def test_unknown_driver_field(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, GOOD.replace('executable = "/bin/sh"', "headles = true")))
    with pytest.raises(InputError) as caught:
        validate_settings("chromium", profile.driver, profile.base_dir, str(profile.path))
    assert caught.value.field == "driver.headles"


@pytest.mark.parametrize("arg", ["--user-data-dir=/tmp/x", "--remote-debugging-pipe", "https://example.test/"])
def test_chromium_args_the_harness_owns_are_refused(tmp_path: Path, arg: str) -> None:
    # The candidate gets none of Playwright's switches; the harness's own profile folder, control pipe and
    # first tab cannot come from the profile.
    text = GOOD.replace('executable = "/bin/sh"', f'executable = "/bin/sh"\nargs = ["{arg}"]')
    profile = load_profile(write(tmp_path, text))
    with pytest.raises(InputError) as caught:
        validate_settings("chromium", profile.driver, profile.base_dir, str(profile.path))
    assert caught.value.field == "driver.args"


def test_chromium_obsolete_ignore_default_args_still_loads(tmp_path: Path) -> None:
    obsolete = 'ignore_default_args = ["--disable-extensions"]'
    text = GOOD.replace('executable = "/bin/sh"', f'executable = "/bin/sh"\n{obsolete}')
    profile = load_profile(write(tmp_path, text))
    settings = validate_settings("chromium", profile.driver, profile.base_dir, str(profile.path))
    assert settings.ignore_default_args == ["--disable-extensions"]


def test_cli_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, GOOD.replace('kind = "secure-browser"', 'kind = "browser"'))
    out = tmp_path / "out"
    assert main(["run", "--candidate", str(bad), "--out", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "candidate.kind" in err and str(bad) in err
