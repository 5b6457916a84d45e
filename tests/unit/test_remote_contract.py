"""The remote-side contract of a screen-transfer profile, and the probe's reports as the remote oracle.

Validation: a vendor profile must say how the probe gets opened; a lab address needs --allow-lab-address; an
unknown wire protocol is bad input before the run. The probe oracle: click targets come only from the geometry
the probe reported (placed in the canvas by ``canvas_shows``), and a probe that stopped reporting is a dead
remote side, said once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from conformance.drivers import validate_settings
from conformance.errors import HarnessError, InputError
from conformance.oracles.remote import ALIVE_WITHIN, ProbeReports, XSelections
from conformance.oracles.wire import require_known

VENDOR = {"name": "webvdi", "preset": "xpra", "gateway_address": "127.0.0.1:8443"}
OPEN_BY_COMMAND = {"open": "command", "open_command": ["portal", "open", "{probe_url}"]}


def validate(driver: dict[str, Any], allow_lab_address: bool = False) -> Any:
    return validate_settings("webvdi", driver, Path("."), "vendor.toml", allow_lab_address)


def test_a_vendor_profile_must_say_how_the_probe_is_opened() -> None:
    with pytest.raises(InputError) as exc:
        validate(VENDOR)
    assert exc.value.field == "driver" and "[driver.remote]" in exc.value.problem
    settings = validate({**VENDOR, "remote": OPEN_BY_COMMAND})
    assert settings.remote.open == "command" and settings.wire_protocol == "xpra"
    assert settings.canvas_shows == "window"  # from the preset


def test_open_command_is_required_for_the_command_method() -> None:
    with pytest.raises(InputError) as exc:
        validate({**VENDOR, "remote": {"open": "command"}})
    assert "open_command" in exc.value.problem


def test_a_lab_address_needs_the_explicit_flag() -> None:
    remote = {**OPEN_BY_COMMAND, "probe_address": "192.0.2.10:18080"}
    with pytest.raises(InputError) as exc:
        validate({**VENDOR, "remote": remote})
    assert "--allow-lab-address" in exc.value.problem
    assert validate({**VENDOR, "remote": remote}, allow_lab_address=True).remote.probe_port == 18080
    assert validate({**VENDOR, "remote": {**remote, "probe_address": "127.0.0.1:18080"}}).remote.probe_host


@pytest.mark.parametrize("step", ["tap:#menu a", "click:", "#menu a", "hover: "])
def test_a_malformed_upload_step_is_refused(step: str) -> None:
    with pytest.raises(InputError) as exc:
        validate({**VENDOR, "remote": OPEN_BY_COMMAND, "upload_steps": ["click:#menu", step]})
    assert exc.value.field.startswith("driver.upload_steps") and "click, hover" in exc.value.problem


def test_upload_steps_take_clicks_and_hovers() -> None:
    steps = ["click:#menu", "hover:text=Server", "click:a:text-is('Upload file')"]
    assert validate({**VENDOR, "remote": OPEN_BY_COMMAND, "upload_steps": steps}).upload_steps == steps


def test_a_malformed_probe_address_is_refused() -> None:
    with pytest.raises(InputError) as exc:
        validate({**VENDOR, "remote": {**OPEN_BY_COMMAND, "probe_address": "localhost"}})
    assert exc.value.field.startswith("driver.remote")


def test_unknown_wire_protocol_is_bad_input() -> None:
    require_known("rfb", "p.toml")
    require_known(None, "p.toml")  # not a screen-transfer profile
    with pytest.raises(InputError) as exc:
        require_known("rdp", "p.toml")
    assert exc.value.field == "driver.wire_protocol" and "xpra" in exc.value.fix


def test_cli_refuses_an_unknown_wire_protocol_before_anything_runs(tmp_path: Path) -> None:
    profile = tmp_path / "vendor.toml"
    profile.write_text("""
[candidate]
name = "vendor"
vendor = "v"
version = "1"
kind = "screen-transfer"
[driver]
name = "webvdi"
preset = "custom"
client_path = "/c.html"
connected_js = "true"
canvas_selector = "canvas"
wire_protocol = "rdp"
gateway_address = "127.0.0.1:8443"
[driver.remote]
open = "manual"
""", encoding="utf-8")
    assert main(["validate", str(profile)]) == 2
    assert not (tmp_path / "reports").exists()


class Site:
    """The fixture site's report log, as the probe oracle reads it."""

    def __init__(self) -> None:
        self.log: list[dict[str, Any]] = []

    def reports(self) -> list[dict[str, Any]]:
        return list(self.log)

    def report(self, event: str, value: str, detail: dict[str, Any] | None = None, age: float = 0.0) -> None:
        self.log.append({"event": event, "value": value, "detail": detail or {}, "received": time.time() - age})


LOADED = {"layout": {"copy": {"x": 20, "y": 350, "w": 290, "h": 110}},
          "innerWidth": 1280, "innerHeight": 690, "outerWidth": 1280, "outerHeight": 720, "screenX": 0, "screenY": 60}


def test_targets_come_from_the_probes_own_report() -> None:
    site = Site()
    window = ProbeReports(site, "CNRY-X", "window")
    with pytest.raises(HarnessError):
        window.target("copy")  # nothing reported yet: no fixed table to fall back on
    site.report("loaded", "CNRY-X", LOADED)
    assert window.target("copy") == (165, 405 + 30)  # below the browser's own 30 px title bar
    assert ProbeReports(site, "CNRY-X", "screen").target("copy") == (165, 405 + 30 + 60)  # plus the window position
    site.report("loaded", "CNRY-OTHER", {**LOADED, "screenY": 0})  # another run's probe does not count
    assert window.target("copy") == (165, 435)


def test_a_silent_probe_is_a_dead_remote_side_said_once() -> None:
    site = Site()
    site.report("loaded", "CNRY-X", LOADED, age=ALIVE_WITHIN + 5)
    reopened: list[int] = []

    def reopen() -> None:
        reopened.append(1)
        raise HarnessError("webvdi", "open_command failed")

    probe = ProbeReports(site, "CNRY-X", "window", reopen=reopen)
    with pytest.raises(HarnessError) as exc:
        probe.ensure_alive()
    assert "died" in exc.value.reason and reopened == [1]
    with pytest.raises(HarnessError):
        probe.ensure_alive()
    assert reopened == [1]  # not retried for every later case


def test_a_heartbeat_keeps_the_probe_alive_and_a_reopen_revives_it() -> None:
    site = Site()
    site.report("alive", "CNRY-X", age=1)
    probe = ProbeReports(site, "CNRY-X", "screen", reopen=lambda: site.report("loaded", "CNRY-X", LOADED))
    probe.ensure_alive()
    site.log.clear()
    site.report("alive", "CNRY-X", age=ALIVE_WITHIN + 1)
    probe.ensure_alive()  # reopened: a fresh "loaded" arrived
    assert probe.reopened == 1


def test_waiting_on_a_dead_probe_says_it_is_dead() -> None:
    site = Site()
    site.report("loaded", "CNRY-X", LOADED, age=ALIVE_WITHIN + 5)
    with pytest.raises(HarnessError) as exc:
        ProbeReports(site, "CNRY-X").wait_for("input", "abc", time.time(), timeout=0.2)
    assert "stopped or froze" in exc.value.reason


# -- the remote X selections (supporting oracle): "nothing there" only from an xclip that could look -------------
def fake_xclip(folder: Path, body: str) -> str:
    tool = folder / "xclip"
    tool.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    tool.chmod(0o755)
    return str(tool)


def test_remote_selections_read_text_or_none_when_nothing_is_offered(tmp_path: Path) -> None:
    holds = XSelections({}, tmp_path, xclip=fake_xclip(tmp_path, "printf 'held text'"))
    assert holds.read("clipboard") == "held text"
    nothing = "echo 'Error: target STRING not available' >&2; exit 1"  # xclip 0.13: no owner, or no text offered
    empty = XSelections({}, tmp_path, xclip=fake_xclip(tmp_path, nothing))
    assert empty.read("primary") is None


@pytest.mark.parametrize("body", ["kill -KILL $$", "echo \"Error: Can't open display: :99\" >&2; exit 1"])
def test_remote_selections_that_cannot_be_read_are_a_harness_error(tmp_path: Path, body: str) -> None:
    """A killed xclip, a remote display that is gone: never None ("nothing crossed"), a HarnessError naming xclip."""
    dead = XSelections({}, tmp_path, xclip=fake_xclip(tmp_path, body))
    with pytest.raises(HarnessError) as failed:
        dead.read("clipboard")
    assert failed.value.component == "xclip" and "reading the remote clipboard" in failed.value.reason
