"""Integration tests for the environment services and the terminal oracles, with the real tools.

Needs root, Xvfb, xclip, xdotool, cups + cups-pdf, poppler-utils, chromium and Playwright. Everything
started here is stopped by PID; the autouse fixture checks that no descendant of pytest survives a test
and that the host's CUPS configuration and spool directories are unchanged.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.environment import Display, ManagedProcess, PrivateCups, free_port
from conformance.errors import HarnessError
from conformance.oracles import (
    ClipboardOracle,
    PrinterOracle,
    classify_banner,
    listeners,
    probe_banner,
    probe_cdp,
)
from conformance.oracles.ports import descendants, probe_address

CHROMIUM_BINARY = "/usr/lib/chromium/chromium"  # the real binary; /usr/bin/chromium is a shell wrapper
CHROMIUM_WRAPPER = "/usr/bin/chromium"
HOST_WATCHED = tuple(
    # /run/cups: a host scheduler's printcap and socket (the private cupsd writes its printcap elsewhere).
    Path(p) for p in ("/etc/cups", "/var/spool/cups-pdf", "/var/spool/cups", "/var/log/cups", "/run/cups")
)


def _host_state() -> dict[str, str]:
    """sha256 (or "dir") of every entry below the host's CUPS paths."""
    state: dict[str, str] = {}
    for root in HOST_WATCHED:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames:
                state[os.path.join(dirpath, name)] = "dir"
            for name in filenames:
                path = os.path.join(dirpath, name)
                if not os.path.isfile(path):  # a socket (cups.sock) has no content to compare
                    state[path] = "special"
                    continue
                with open(path, "rb") as handle:
                    state[path] = hashlib.sha256(handle.read()).hexdigest()
    return state


def _live_descendants() -> set[int]:
    """Non-zombie descendants of this pytest process."""
    alive: set[int] = set()
    for pid in descendants([os.getpid()]) - {os.getpid()}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields and fields[0] != "Z":
            alive.add(pid)
    return alive


def _gone(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return True
    return fields[0] == "Z"


def _processes_mentioning(text: str) -> dict[int, str]:
    """Live processes whose command line contains ``text`` (catches double-forked helpers such as
    chrome_crashpad_handler, which are re-parented to PID 1 and so are no longer our descendants)."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmdline and not _gone(int(entry.name)):
            found[int(entry.name)] = cmdline[:200]
    return found


@pytest.fixture(scope="module", autouse=True)
def host_untouched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    before = _host_state()
    home_config = Path.home() / ".config" / "chromium"
    had_home_config = home_config.exists()
    yield
    assert _host_state() == before, "host CUPS configuration or spool changed"
    assert home_config.exists() == had_home_config, "~/.config/chromium was created"
    basetemp = str(tmp_path_factory.getbasetemp())
    deadline = time.monotonic() + 5
    while (left := _processes_mentioning(basetemp)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes still using {basetemp}: {left}"


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    before = _live_descendants()
    yield
    deadline = time.monotonic() + 5
    while (left := _live_descendants() - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes left running: {left}"


@pytest.fixture(scope="module")
def display() -> Iterator[Display]:
    with Display() as disp:
        yield disp


@pytest.fixture()
def browser_env(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Keep Chromium's crashpad and config writes out of the real home directory, and its singleton folder out
    of /tmp (a short TMPDIR: the socket path inside must fit in 107 bytes)."""
    home = tmp_path / "home"
    home.mkdir()
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"), "TMPDIR": str(tmp_path_factory.mktemp("t"))}


def _canary(prefix: str = "CANARY") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- Xvfb ----------------------------------------------------------------------------------------------------


def test_display_starts_on_free_number_and_stops(tmp_path: Path) -> None:
    with Display(log_dir=tmp_path) as disp:
        assert disp.number is not None and disp.name == f":{disp.number}"
        assert disp.env == {"DISPLAY": disp.name}
        assert Path(f"/tmp/.X11-unix/X{disp.number}").exists()
        geometry = subprocess.run(["xdotool", "getdisplaygeometry"], env={**os.environ, **disp.env},
                                  capture_output=True, text=True, check=True).stdout.split()
        assert geometry == ["1600", "1000"]
        assert disp.process is not None
        pid = disp.process.pid
        assert disp.startup_seconds is not None and disp.startup_seconds < 10
    assert _gone(pid)
    assert not Path(f"/tmp/.X11-unix/X{disp.number}").exists()


def test_display_skips_taken_numbers(display: Display, tmp_path: Path) -> None:
    assert display.number is not None
    with Display([display.number, *range(display.number + 1, 200)], log_dir=tmp_path) as second:
        assert second.number != display.number


# -- clipboard -----------------------------------------------------------------------------------------------


def test_clipboard_round_trip_ascii_and_japanese(display: Display) -> None:
    oracle = ClipboardOracle(display.env)
    for selection in ("clipboard", "primary"):
        oracle.clear(selection)
        assert oracle.read(selection) is None
        for text in (_canary(), "機密情報テスト「カナリア」①", "multi\nline\ttext"):
            with oracle.own(selection, text) as owner:
                assert owner.running
                assert oracle.read(selection) == text
                assert "UTF8_STRING" in (oracle.targets(selection) or [])
            assert not owner.running
        assert oracle.read(selection) is None  # owner gone = no owner, not an error
    oracle.positive_control(_canary("PC"))
    oracle.positive_control("日本語カナリア-" + uuid.uuid4().hex[:6], selection="primary")


def test_clipboard_without_xclip_is_a_harness_error(
    display: Display, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(HarnessError) as info:
        ClipboardOracle(display.env)
    assert info.value.component == "xclip"


def test_clipboard_on_unreachable_display_is_a_harness_error(tmp_path: Path) -> None:
    number = next(n for n in range(199, 90, -1) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    # log_dir: the failed xclip's log is kept as evidence; keep it out of /tmp.
    oracle = ClipboardOracle({"DISPLAY": f":{number}"}, log_dir=tmp_path)
    with pytest.raises(HarnessError):
        oracle.read()
    with pytest.raises(HarnessError):
        oracle.positive_control(_canary())


# -- private CUPS --------------------------------------------------------------------------------------------


def test_private_cups_prints_to_its_own_output_dir(tmp_path: Path) -> None:
    work = tmp_path / "cups-work"  # below pytest's 0700 tmp dir on purpose: filters run as lp
    canary = _canary()
    with PrivateCups(work) as cups:
        assert cups.server.startswith("127.0.0.1:")
        assert cups.env == {"CUPS_SERVER": cups.server}
        assert cups.queue == "PDF"
        assert cups.output_dir.is_relative_to(work) and cups.spool_dir.is_relative_to(work)
        assert cups.ready_seconds is not None and cups.ready_seconds < 15
        assert cups.process is not None
        pid = cups.process.pid
        doc = tmp_path / "doc.txt"
        doc.write_text(f"hello {canary}\n", encoding="utf-8")
        oracle = PrinterOracle(cups)
        since = oracle.snapshot()
        subprocess.run(["lp", "-h", cups.server, "-d", "PDF", "-t", canary, str(doc)],
                       env={**os.environ, **cups.env}, check=True, capture_output=True)
        job = oracle.wait_for_job(20, since=since)
        assert job is not None
        assert job.state == "completed" and job.title == canary and job.user == "root"
        assert [p.parent for p in job.outputs] == [cups.output_dir]
        assert canary in job.outputs[0].name
        assert job.spooled and job.spooled[0].parent == cups.spool_dir
        assert oracle.contains(job, canary)
        assert not oracle.contains(job, _canary("ABSENT"))
        control = oracle.positive_control(_canary("PC"))
        assert control.outputs
        assert oracle.new_jobs() == []  # the positive control does not count as a finding
    assert _gone(pid)
    assert not cups.running


def test_private_cups_without_cupsd_is_a_harness_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(HarnessError) as info:
        PrivateCups(tmp_path / "work").start()
    assert info.value.component == "cupsd"


def test_headed_chromium_window_print_reaches_printer_oracle(
    display: Display, tmp_path: Path, browser_env: dict[str, str]
) -> None:
    from playwright.sync_api import sync_playwright

    canary = _canary("PRINT")
    with PrivateCups(tmp_path / "cups") as cups:
        oracle = PrinterOracle(cups)
        oracle.positive_control(_canary("PC"))
        since = oracle.snapshot()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM_WRAPPER,
                headless=False,
                env={**browser_env, **display.env, **cups.terminal_env()},
                args=["--kiosk-printing"],
            )
            try:
                page = browser.new_page()
                page.set_content(f"<title>{canary}</title><h1>{canary}</h1><p>印刷テスト 機密</p>")
                page.evaluate("() => { setTimeout(() => window.print(), 0); }")
                job = oracle.wait_for_job(30, since=since)
            finally:
                browser.close()
        assert job is not None, f"no print job; see {cups.error_log}"
        assert job.title is not None and canary in job.title
        assert job.document_format == "application/pdf"
        evidence = oracle.find(job, canary)
        assert "title" in evidence
        assert any(e.startswith("pdftotext:") for e in evidence), evidence  # real text from the original
        assert oracle.contains(job, "印刷テスト")


# -- ports ---------------------------------------------------------------------------------------------------


def test_chromium_cdp_port_is_listed_and_probed(tmp_path: Path, browser_env: dict[str, str]) -> None:
    port = free_port()
    with ManagedProcess(
        [CHROMIUM_BINARY, "--headless", "--no-sandbox", f"--remote-debugging-port={port}",
         f"--user-data-dir={tmp_path / 'profile'}", "--no-first-run", "about:blank"],
        component="chromium",
        log_dir=tmp_path,
        env=browser_env,
    ) as chromium:
        chromium.wait_until(lambda: probe_cdp("127.0.0.1", port) is not None, 20, "chromium CDP port")
        found = [item for item in listeners(pids=[chromium.pid]) if item.port == port]
        assert found, listeners(pids=[chromium.pid])
        assert found[0].proto == "tcp" and found[0].address == "127.0.0.1" and found[0].pid is not None
        info = probe_cdp(found[0].address, port)
        assert info is not None
        assert info["Browser"].startswith(("Chrome/", "HeadlessChrome/"))
        assert info["webSocketDebuggerUrl"].startswith("ws://")
        banner = probe_banner("127.0.0.1", port)
        assert classify_banner(banner) == "http"
        assert all(item.pid in descendants([chromium.pid]) for item in listeners(pids=[chromium.pid]))
        pid = chromium.pid
    assert _gone(pid)
    assert probe_cdp("127.0.0.1", port) is None


def _serve_once(greeting: bytes | None) -> tuple[int, threading.Thread]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def run() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                if greeting is not None:
                    conn.sendall(greeting)
                else:
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                conn.recv(1024)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return server.getsockname()[1], thread


def test_probe_banner_vnc_ssh_http_and_non_cdp() -> None:
    for greeting, kind in ((b"RFB 003.008\n", "vnc"), (b"SSH-2.0-OpenSSH_9.2\r\n", "ssh"), (None, "http")):
        port, thread = _serve_once(greeting)
        assert classify_banner(probe_banner("0.0.0.0", port)) == kind
        thread.join(5)
    port, thread = _serve_once(None)
    assert probe_cdp("127.0.0.1", port) is None  # HTTP, but not DevTools
    thread.join(5)
    assert probe_banner("127.0.0.1", free_port()) is None


def test_probes_refuse_addresses_beyond_loopback() -> None:
    for address in ("192.0.2.1", "10.0.0.1", "8.8.8.8", "2001:db8::1", "example.com"):
        with pytest.raises(ValueError):
            probe_cdp(address, 9222)
        with pytest.raises(ValueError):
            probe_banner(address, 5900)
    assert probe_address("0.0.0.0") == "127.0.0.1"
    assert probe_address("::") == "::1"
    assert probe_address("127.0.0.53") == "127.0.0.53"
    assert probe_address("::ffff:127.0.0.1") == "127.0.0.1"
