"""The terminal's CUPS client environment: only the run's server, and the libcups regression handled."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.environment import cups


def test_terminal_env_names_only_the_private_server_and_hides_host_configuration(tmp_path: Path) -> None:
    env = cups.terminal_cups_env("127.0.0.1:4631", tmp_path / "client")
    assert env["CUPS_SERVER"] == "127.0.0.1:4631"
    root = Path(env["CUPS_SERVERROOT"])
    assert root == tmp_path / "client" and root != cups.HOST_CUPS_ETC
    assert "ServerName 127.0.0.1:4631" in (root / "client.conf").read_text(encoding="utf-8")
    bus = env["DBUS_SYSTEM_BUS_ADDRESS"]
    assert bus.startswith("unix:path=") and not Path(bus.removeprefix("unix:path=")).exists()


def test_regressed_libcups_is_replaced_only_once_fetched(tmp_path: Path) -> None:
    regressed, replacement = next(iter(cups.REGRESSED_LIBCUPS.items()))
    assert cups.client_library_fix("2.4.2-3+deb12u9", tools=tmp_path) is None  # a working build needs nothing
    assert cups.client_library_fix(regressed, tools=tmp_path) == (replacement, None)  # needed, not fetched
    lib = tmp_path / "libcups" / replacement / "usr" / "lib" / "x86_64-linux-gnu" / "libcups.so.2"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"\x7fELF")
    assert cups.client_library_fix(regressed, tools=tmp_path) == (replacement, lib.parent)


def test_replacement_library_comes_first_and_keeps_the_machines_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    regressed, replacement = next(iter(cups.REGRESSED_LIBCUPS.items()))
    lib = tmp_path / "libcups" / replacement / "lib" / "libcups.so.2"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"\x7fELF")
    monkeypatch.setattr(cups, "installed_libcups", lambda package="libcups2": regressed)
    monkeypatch.setattr(cups, "TOOLS_DIR", tmp_path)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/vendor/lib")
    env = cups.terminal_cups_env("127.0.0.1:4631", tmp_path / "client")
    assert env["LD_LIBRARY_PATH"] == f"{lib.parent}:/opt/vendor/lib"
    assert cups.client_library_problem() is None
