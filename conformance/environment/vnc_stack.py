"""The reference screen-transfer (画面転送) stack: a remote desktop behind a VNC server, with noVNC as client.

Layout (all on 127.0.0.1; display numbers from 200-299, ports from bind(0)):

    remote X display :N  ──  kiosk Chromium showing the caller's start URL (e.g. remote-probe.html)
        │ tigervnc: Xtigervnc is X server and VNC server in one process
        │ x11vnc:   Xvfb + x11vnc attached to it
    VNC port  ──  websockify --web /usr/share/novnc  ──  noVNC (vnc.html) in the terminal's browser

Every process is started with ``start_new_session=True`` and stopped through its own process group
(plus any descendant that left the group), never by name. A component that fails to come up raises
:class:`HarnessError` naming it ("Xvfb", "Xtigervnc", "x11vnc", "remote-chromium", "websockify") and its
log file, after everything already started has been stopped.

Clipboard profiles (the names are from the remote desktop's point of view):

    open       both directions, CLIPBOARD and PRIMARY
    none       nothing crosses in either direction
    recv-only  the remote only receives (terminal → remote paste works, remote copies stay inside)
    send-only  the remote only sends (remote copies reach the client, nothing can be pasted in)

The switches for each server are in :data:`CLIPBOARD_FLAGS`; why they are these is in the research spike
(pitfall P2: ``-noclipboard -nosetclipboard`` alone leaks through PRIMARY; TigerVNC needs the PRIMARY
switches too, and its default ``AllowOverride`` would let a process inside the session undo them).
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from conformance.environment.display import display_is_free, remove_stale_server_files
from conformance.environment.proc_table import all_stats, log_tail, pids_with_arg, proc_stat, still_running
from conformance.environment.procs import free_port
from conformance.environment.remote_stack import RemoteStack, Selection
from conformance.errors import HarnessError

ServerKind = Literal["tigervnc", "x11vnc"]
ClipboardProfile = Literal["open", "none", "recv-only", "send-only"]

NOVNC_WEB = Path("/usr/share/novnc")
DISPLAY_RANGE = range(200, 300)
# A neutral desktop name: the default ("root@vm", "vm:96") leaks the remote host name to the client (P9).
DESKTOP_NAME = "conformance-remote"
# x11vnc holds back selections for 15 s after the first client connects (sel_waittime, spike P1).
X11VNC_SEL_WAIT = 16.0

DEFAULT_BINARIES: dict[str, str] = {
    "Xvfb": "Xvfb",
    "Xtigervnc": "Xtigervnc",
    "x11vnc": "x11vnc",
    # The real binary, not the /usr/bin wrapper, which adds flags from /etc/chromium.d.
    "remote-chromium": "/usr/lib/chromium/chromium",
    "websockify": "websockify",
    "xclip": "xclip",
    "xdotool": "xdotool",
}

CLIPBOARD_FLAGS: dict[ServerKind, dict[ClipboardProfile, tuple[str, ...]]] = {
    "tigervnc": {
        "open": ("-SendCutText=1", "-AcceptCutText=1", "-SendPrimary=1", "-SetPrimary=1"),
        # -noclipboard stops vncconfig from flipping Send/AcceptCutText; an empty AllowOverride stops
        # every other parameter (SendPrimary, SetPrimary, ...) from being changed from inside.
        "none": ("-SendCutText=0", "-AcceptCutText=0", "-SendPrimary=0", "-SetPrimary=0",
                 "-noclipboard", "-AllowOverride="),
        "recv-only": ("-SendCutText=0", "-AcceptCutText=1", "-SendPrimary=0", "-SetPrimary=1",
                      "-noclipboard", "-AllowOverride="),
        "send-only": ("-SendCutText=1", "-AcceptCutText=0", "-SendPrimary=1", "-SetPrimary=0",
                      "-noclipboard", "-AllowOverride="),
    },
    "x11vnc": {
        "open": (),
        # -nosel covers CLIPBOARD, PRIMARY and cut buffers; -noclipboard -nosetclipboard would not.
        "none": ("-nosel",),
        "recv-only": ("-seldir", "recv"),
        "send-only": ("-seldir", "send"),
    },
}

SERVER_COMPONENT: dict[ServerKind, str] = {"tigervnc": "Xtigervnc", "x11vnc": "x11vnc"}

_RFB_BANNER = re.compile(rb"^RFB \d{3}\.\d{3}\n$")


def tigervnc_installed() -> bool:
    """Debian package tigervnc-standalone-server provides Xtigervnc."""
    return shutil.which("Xtigervnc") is not None


def default_server() -> ServerKind:
    """TigerVNC when installed: it needs no clipboard warm-up and speaks Extended Clipboard."""
    return "tigervnc" if tigervnc_installed() else "x11vnc"


# --------------------------------------------------------------------------------------------------------
# process helper (the stack's own: it stops a family left behind by Chromium's double-forking helpers)


class _Proc:
    """One started process, leader of its own process group."""

    def __init__(self, component: str, argv: Sequence[str], log_path: Path, *,
                 env: Mapping[str, str] | None = None, pass_fds: Sequence[int] = (),
                 stdin_data: bytes | None = None) -> None:
        self.component = component
        self.argv = list(argv)
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} start: {' '.join(self.argv)}\n".encode())
            log.flush()
            try:
                self.popen = subprocess.Popen(
                    self.argv, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, env=dict(env) if env is not None else None,
                    start_new_session=True, pass_fds=tuple(pass_fds), close_fds=True)
            except OSError as exc:
                reason = f"cannot start {self.argv[0]!r}: {exc}; log: {log_path}"
                raise HarnessError(component, reason) from exc
        if stdin_data is not None and self.popen.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.popen.stdin.write(stdin_data)
            with contextlib.suppress(BrokenPipeError):
                self.popen.stdin.close()
        self._starttime = (proc_stat(self.pid) or ("", 0, 0, 0))[3]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def returncode(self) -> int | None:
        return self.popen.poll()

    def family(self) -> dict[int, int]:
        """Live (non-zombie) members of our process group plus descendants that left it: pid → starttime."""
        stats = all_stats()
        out: dict[int, int] = {}
        for pid, (state, _ppid, pgrp, start) in stats.items():
            if pgrp == self.pid and state != "Z":
                out[pid] = start
        # Descendants that called setsid() are no longer in the group but still ours.
        children: dict[int, list[int]] = {}
        for pid, (_state, ppid, _pgrp, _start) in stats.items():
            children.setdefault(ppid, []).append(pid)
        todo = [self.pid] if self.alive() else []
        todo += list(out)
        seen: set[int] = set()
        while todo:
            p = todo.pop()
            if p in seen:
                continue
            seen.add(p)
            st = stats.get(p)
            if st is not None and st[0] != "Z":
                out[p] = st[3]
            todo.extend(children.get(p, []))
        return out

    def stop(self, grace: float = 3.0, extra: Mapping[int, int] | None = None) -> None:
        """SIGTERM the leader alone first (Chromium then reaps its own children instead of leaving zombies),
        then the whole group and any descendant, then SIGKILL. ``extra``: more pid → starttime to stop."""
        family = {**self.family(), **(extra or {})}
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGTERM)
            if self._wait_gone(family, grace / 2):
                return
        if self._still_running(family):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGTERM)
            for pid, start in family.items():
                self._signal_if_same(pid, start, signal.SIGTERM)
            if self._wait_gone(family, grace / 2):
                return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        for pid, start in family.items():
            self._signal_if_same(pid, start, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=2)

    def _wait_gone(self, family: Mapping[int, int], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            self.popen.poll()  # reaps the leader once it exits
            if not self.alive() and not self._still_running(family):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.03)

    @staticmethod
    def _still_running(family: Mapping[int, int]) -> bool:
        return bool(still_running(family))

    @staticmethod
    def _signal_if_same(pid: int, starttime: int, sig: signal.Signals) -> None:
        # Guard against PID reuse: only signal the very process we saw (same start time).
        st = proc_stat(pid)
        if st is not None and st[3] == starttime:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


# --------------------------------------------------------------------------------------------------------
# minimal RFB client (readiness and x11vnc warm-up only; the wire oracle lives in conformance.oracles.rfb)


class _RawRfbClient:
    """Connects with security None and ClientInit shared=1, then only reads what the server sends."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.received = bytearray()
        try:
            version = self._read(12)
            if not _RFB_BANNER.match(version):
                raise OSError(f"not an RFB server: {version!r}")
            self.sock.sendall(b"RFB 003.008\n")
            (count,) = struct.unpack(">B", self._read(1))
            types = self._read(count) if count else b""
            if 1 not in types:
                raise OSError(f"security type None not offered: {list(types)}")
            self.sock.sendall(b"\x01")
            (result,) = struct.unpack(">I", self._read(4))
            if result != 0:
                raise OSError(f"security result {result}")
            self.sock.sendall(b"\x01")  # ClientInit: shared
            head = self._read(24)
            (name_len,) = struct.unpack(">I", head[20:24])
            self.desktop_name = self._read(name_len).decode("utf-8", "replace")
        except BaseException:
            self.sock.close()
            raise

    def _read(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise OSError("connection closed by the VNC server")
            buf += chunk
        return bytes(buf)

    def pump(self, seconds: float) -> None:
        """Read (and keep) whatever arrives for up to ``seconds``."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                return
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("connection closed by the VNC server")
            self.received += chunk

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _rfb_banner(port: int, timeout: float = 1.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = b""
        while len(data) < 12:
            chunk = s.recv(12 - len(data))
            if not chunk:
                break
            data += chunk
        return data


# --------------------------------------------------------------------------------------------------------


def seed_remote_browser_profile(profile_dir: Path, downloads_dir: Path) -> None:
    """A remote Chromium profile that saves downloads, and prints (``--kiosk-printing``) as PDF, into
    ``downloads_dir`` without asking: the remote side's proof that a download or a print happened."""
    default = profile_dir / "Default"
    default.mkdir(parents=True, exist_ok=True)
    downloads_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("SingletonLock", "SingletonSocket", "SingletonCookie"):
        with contextlib.suppress(OSError):
            (profile_dir / stale).unlink()
    dl = str(downloads_dir)
    print_state = {"version": 2, "selectedDestinationId": "Save as PDF",
                   "recentDestinations": [{"id": "Save as PDF", "origin": "local", "account": ""}]}
    prefs = {
        "download": {"default_directory": dl, "prompt_for_download": False, "directory_upgrade": True},
        "savefile": {"default_directory": dl},
        "profile": {"default_content_setting_values": {"automatic_downloads": 1}},
        "browser": {"has_seen_welcome_page": True},
        # --kiosk-printing prints to the sticky destination: save as PDF into the download folder.
        "printing": {"print_preview_sticky_settings": {"appState": json.dumps(print_state)}},
    }
    (default / "Preferences").write_text(json.dumps(prefs))


def remove_singleton_dir(profile_dir: Path) -> None:
    """Remove the folder a stopped Chromium kept its singleton socket in (``$TMPDIR/org.chromium.Chromium.*``):
    Chromium deletes it only on a clean exit, and the stack stops its remote browser with a signal. Only the
    folder the profile's own ``SingletonSocket`` link names is touched."""
    try:
        folder = Path(os.readlink(profile_dir / "SingletonSocket")).parent
    except OSError:
        return  # no link: the browser never started, or cleaned up itself
    if folder.name.startswith("org.chromium.Chromium.") and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)


class VncStack(RemoteStack):
    """Context manager for the reference screen-transfer stack; see the module docstring.

    ``start_url_for`` is the URL the remote kiosk Chromium opens, or a function of the stack facts
    (``display``, ``vnc_port``, ``websocket_port``, ``remote_downloads_dir``, ``work_dir``, ``server``,
    ``clipboard``, ``geometry``) that returns it. ``remote_ready`` tells when the remote page is up
    (e.g. "the probe page POSTed ``loaded``"); without it the stack waits for a visible Chromium window.
    ``binaries`` overrides executables by component name (tests use it for the failure path).
    """

    def __init__(self, work_dir: Path, start_url_for: Callable[[dict[str, Any]], str] | str, *,
                 server: ServerKind | None = None, clipboard: ClipboardProfile = "open",
                 geometry: tuple[int, int] = (1280, 800), remote_chromium_args: Sequence[str] = (),
                 remote_ready: Callable[[], bool] | None = None,
                 binaries: Mapping[str, str] | None = None, timeout: float = 30.0,
                 tls: tuple[Path, Path] | None = None) -> None:
        # (certificate, key): websockify then serves HTTPS/WSS, as a real gateway does.
        self.tls = tls
        chosen: ServerKind = server if server is not None else default_server()
        if chosen not in get_args(ServerKind):
            raise ValueError(f"server must be one of {get_args(ServerKind)}, not {server!r}")
        if clipboard not in get_args(ClipboardProfile):
            raise ValueError(f"clipboard must be one of {get_args(ClipboardProfile)}, not {clipboard!r}")
        self.server: ServerKind = chosen
        self.clipboard: ClipboardProfile = clipboard
        self.geometry = (int(geometry[0]), int(geometry[1]))
        self.work_dir = Path(work_dir).resolve()
        self.logs_dir = self.work_dir / "logs"
        self.remote_downloads_dir = self.work_dir / "remote-downloads"
        self.remote_profile_dir = self.work_dir / "remote-profile"
        self.remote_home = self.work_dir / "remote-home"
        self.remote_chromium_args = tuple(remote_chromium_args)
        self.timeout = timeout
        self.binaries = {**DEFAULT_BINARIES, **(binaries or {})}
        self.display: int | None = None
        self.vnc_port = 0
        self.websocket_port = 0
        self.start_url = ""
        self.bringup_seconds: dict[str, float] = {}
        self.clipboard_flags: tuple[str, ...] = CLIPBOARD_FLAGS[self.server][self.clipboard]
        self._start_url_for = start_url_for
        self._remote_ready = remote_ready
        # (component, pid) of every process ever started, for diagnostics and leak checks.
        self.started: list[tuple[str, int]] = []
        self._procs: dict[str, _Proc] = {}
        self._xclips: dict[str, _Proc] = {}
        self._started = False
        self._stopped = False

    # ----------------------------------------------------------------------------------- facts

    @property
    def server_component(self) -> str:
        return SERVER_COMPONENT[self.server]

    @property
    def remote_display_env(self) -> dict[str, str]:
        """Environment for a tool that must act on the remote display (xclip, xdotool, ...)."""
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XAUTHORITY")}
        env["DISPLAY"] = self.remote_display
        return env

    @property
    def client_origin(self) -> str:
        return f"http://127.0.0.1:{self.websocket_port}"

    @property
    def client_url(self) -> str:
        p = self.websocket_port
        return (f"{self.client_origin}/vnc.html?autoconnect=true&host=127.0.0.1&port={p}&path=websockify"
                "&resize=off&reconnect=false&logging=warn")

    def facts(self) -> dict[str, Any]:
        return {"display": self.remote_display if self.display is not None else None,
                "vnc_port": self.vnc_port, "websocket_port": self.websocket_port,
                "remote_downloads_dir": str(self.remote_downloads_dir), "work_dir": str(self.work_dir),
                "server": self.server, "clipboard": self.clipboard, "geometry": self.geometry,
                "client_url": self.client_url if self.websocket_port else None}

    def log_path(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"

    def pids(self) -> list[int]:
        """Every live process the stack started (group members and descendants), for the ports oracle."""
        out: set[int] = set()
        for pids in self.component_pids().values():
            out.update(pids)
        for proc in self._xclips.values():
            out.update(proc.family())
        return sorted(out)

    def component_pids(self) -> dict[str, list[int]]:
        out = {name: set(proc.family()) for name, proc in self._procs.items()}
        if "remote-chromium" in out:
            out["remote-chromium"].update(self._chromium_strays())
        return {name: sorted(pids) for name, pids in out.items()}

    def _chromium_strays(self) -> dict[int, int]:
        # chrome_crashpad_handler double-forks and calls setsid(): neither in our group nor our descendant.
        # Its --database lies under the remote HOME, which is unique to this stack.
        return {**pids_with_arg(f"{self.remote_home}/"), **pids_with_arg(str(self.remote_profile_dir))}

    # ----------------------------------------------------------------------------------- lifecycle

    def stop(self) -> None:
        """Stop everything started, newest first. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        failures: list[str] = []
        todo = [(f"xclip {sel}", p, None) for sel, p in self._xclips.items()]
        todo += [(name, p, "chromium" if name == "remote-chromium" else None)
                 for name, p in reversed(list(self._procs.items()))]
        for name, proc, kind in todo:
            try:  # one piece that cannot be stopped must not keep the others running
                proc.stop(grace=1.0 if name.startswith("xclip") else 3.0,
                          extra=self._chromium_strays() if kind == "chromium" else None)
            except Exception as exc:
                failures.append(f"{name}: {exc}")
        self._xclips.clear()
        x_server = self._procs.get("Xtigervnc") or self._procs.get("Xvfb")
        if self.display is not None and x_server is not None and not x_server.alive():  # a killed one: its socket
            remove_stale_server_files(self.display, x_server.pid)
        remove_singleton_dir(self.remote_profile_dir)
        atexit.unregister(self.stop)
        if failures:
            raise HarnessError("vnc-stack", "could not stop: " + "; ".join(failures))

    def _bring_up(self) -> None:
        t0 = time.monotonic()
        for d in (self.logs_dir, self.remote_downloads_dir, self.remote_home):
            d.mkdir(parents=True, exist_ok=True)
        self._seed_remote_profile()
        self.vnc_port = free_port()
        self.websocket_port = free_port()
        while self.websocket_port == self.vnc_port:
            self.websocket_port = free_port()

        t = time.monotonic()
        if self.server == "tigervnc":
            self._start_x("Xtigervnc", self._xtigervnc_argv)
        else:
            self._start_x("Xvfb", self._xvfb_argv)
        self.bringup_seconds["display"] = time.monotonic() - t

        url = self._start_url_for(self.facts()) if callable(self._start_url_for) else self._start_url_for
        self.start_url = url
        # The three remaining pieces start together; each is then awaited on its own.
        t = time.monotonic()
        self._spawn("remote-chromium", self._chromium_argv(url), env=self._chromium_env())
        if self.server == "x11vnc":
            self._spawn("x11vnc", self._x11vnc_argv(), env={**self.remote_display_env,
                                                            "X11VNC_AVOID_WINDOWS": "never"})
        tls_args = ["--cert", str(self.tls[0]), "--key", str(self.tls[1]), "--ssl-only"] if self.tls else []
        self._spawn("websockify", [self.binaries["websockify"], *tls_args, "--web", str(NOVNC_WEB),
                                   f"127.0.0.1:{self.websocket_port}", f"127.0.0.1:{self.vnc_port}"])
        comp = self.server_component
        self.bringup_seconds["vnc"] = self._wait(comp, self._vnc_answers, 10.0, "VNC port answering RFB")
        self.bringup_seconds["websockify"] = self._wait("websockify", self._websockify_answers, 10.0,
                                                        "noVNC page served")
        ready = self._remote_ready or self._chromium_window_visible
        self.bringup_seconds["remote-chromium"] = self._wait(
            "remote-chromium", ready, self.timeout, f"remote page ready ({url})")
        # Each wait above is measured from its own start; "since_spawn" is the wall time for all three.
        self.bringup_seconds["since_spawn"] = time.monotonic() - t
        self.bringup_seconds["total"] = time.monotonic() - t0

    # ----------------------------------------------------------------------------------- pieces

    def _spawn(self, component: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
               pass_fds: Sequence[int] = ()) -> _Proc:
        proc = _Proc(component, argv, self.log_path(component), env=env, pass_fds=pass_fds)
        self._procs[component] = proc
        self.started.append((component, proc.pid))
        return proc

    def _error(self, component: str, reason: str) -> HarnessError:
        log = self.log_path(component)
        tail = log_tail(log)
        return HarnessError(component, f"{reason}; log: {log}" + (f"; last lines: {tail}" if tail else ""))

    def _wait(self, component: str, check: Callable[[], bool], timeout: float, what: str) -> float:
        start = time.monotonic()
        proc = self._procs.get(component)
        while True:
            try:
                if check():
                    return time.monotonic() - start
            except (OSError, subprocess.SubprocessError, http.client.HTTPException):
                pass
            if proc is not None and not proc.alive():
                raise self._error(component, f"exited with code {proc.returncode()} before {what}")
            if time.monotonic() - start > timeout:
                raise self._error(component, f"no {what} within {timeout:.0f} s")
            time.sleep(0.05)

    def _start_x(self, component: str, argv_for: Callable[[int], list[str]]) -> None:
        """Start the X server on a free display of 200-299; -displayfd tells when it accepts clients."""
        tried: set[int] = set()
        for _attempt in range(5):
            n = next((d for d in DISPLAY_RANGE if d not in tried and display_is_free(d)), None)
            if n is None:
                span = f"{DISPLAY_RANGE.start}-{DISPLAY_RANGE.stop - 1}"
                raise self._error(component, f"no free X display in {span}")
            tried.add(n)
            rfd, wfd = os.pipe()
            try:
                try:
                    proc = self._spawn(component, [*argv_for(n), "-displayfd", str(wfd)], pass_fds=(wfd,))
                finally:
                    os.close(wfd)
                got = self._read_displayfd(rfd, 10.0, proc)
            finally:
                os.close(rfd)
            if got == str(n):
                self.display = n
                # Someone else's client must be able to connect: check as xdotool would.
                self._wait(component, self._display_answers, 5.0, f"display :{n} answering")
                return
            log = self.log_path(component).read_text(errors="replace")
            proc.stop()
            del self._procs[component]
            if re.search(r"already (active|running)", log):
                continue  # lost a race for this display number: try the next one
            if got is None:
                code = proc.returncode()
                raise self._error(component, f"exited with code {code} before display :{n} was up")
            raise self._error(component, f"display :{n} not ready within 10 s (displayfd said {got!r})")
        raise self._error(component, "could not claim a display after 5 attempts")

    @staticmethod
    def _read_displayfd(rfd: int, timeout: float, proc: _Proc) -> str | None:
        buf = b""
        end = time.monotonic() + timeout
        while b"\n" not in buf and (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([rfd], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(rfd, 64)
                if not chunk:
                    return None  # EOF: the server exited
                buf += chunk
            elif not proc.alive():
                return None
        return buf.decode(errors="replace").strip() if b"\n" in buf else ""

    def _xvfb_argv(self, n: int) -> list[str]:
        w, h = self.geometry
        return [self.binaries["Xvfb"], f":{n}", "-screen", "0", f"{w}x{h}x24", "-nolisten", "tcp", "-ac"]

    def _xtigervnc_argv(self, n: int) -> list[str]:
        w, h = self.geometry
        return [self.binaries["Xtigervnc"], f":{n}", "-geometry", f"{w}x{h}", "-depth", "24",
                "-rfbport", str(self.vnc_port), "-interface", "127.0.0.1", "-localhost",
                "-UseIPv6=0", "-SecurityTypes", "None", "-AlwaysShared", "-desktop", DESKTOP_NAME,
                "-nolisten", "tcp", "-ac", *self.clipboard_flags]

    def _x11vnc_argv(self) -> list[str]:
        return [self.binaries["x11vnc"], "-display", self.remote_display, "-rfbport", str(self.vnc_port),
                "-listen", "127.0.0.1", "-localhost", "-noipv6", "-nopw", "-forever", "-shared",
                "-ncache", "0", "-noxrecord", "-norc", "-desktop", DESKTOP_NAME, *self.clipboard_flags]

    def _chromium_argv(self, url: str) -> list[str]:
        w, h = self.geometry
        return [self.binaries["remote-chromium"], "--no-sandbox", "--kiosk", "--kiosk-printing",
                "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic", "--password-store=basic",
                "--disable-gpu", "--ozone-platform=x11", "--noerrdialogs", "--disable-session-crashed-bubble",
                "--disable-features=Translate,MediaRouter", "--force-device-scale-factor=1",
                f"--user-data-dir={self.remote_profile_dir}", f"--window-size={w},{h}",
                "--window-position=0,0", *self.remote_chromium_args, url]

    def _chromium_env(self) -> dict[str, str]:
        env = self.remote_display_env
        # Its own HOME: nothing the remote browser writes may land in the terminal user's home.
        env["HOME"] = str(self.remote_home)
        for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_DOWNLOAD_DIR"):
            env.pop(var, None)
        return env

    def _seed_remote_profile(self) -> None:
        seed_remote_browser_profile(self.remote_profile_dir, self.remote_downloads_dir)

    # ----------------------------------------------------------------------------------- checks

    def _display_answers(self) -> bool:
        r = subprocess.run([self.binaries["xdotool"], "getdisplaygeometry"], env=self.remote_display_env,
                           capture_output=True, timeout=5)
        return r.returncode == 0

    def _vnc_answers(self) -> bool:
        return bool(_RFB_BANNER.match(_rfb_banner(self.vnc_port)))

    def _websockify_answers(self) -> bool:
        conn: http.client.HTTPConnection
        if self.tls:  # the stack's own readiness probe: the certificate is checked by the terminal's proxy
            context = ssl._create_unverified_context()  # loopback readiness probe only
            conn = http.client.HTTPSConnection("127.0.0.1", self.websocket_port, timeout=2, context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.websocket_port, timeout=2)
        try:
            conn.request("GET", "/vnc.html")
            resp = conn.getresponse()
            resp.read()
            return resp.status == 200
        finally:
            conn.close()

    def _chromium_window_visible(self) -> bool:
        r = subprocess.run([self.binaries["xdotool"], "search", "--onlyvisible", "--class", "chromium"],
                           env=self.remote_display_env, capture_output=True, timeout=5)
        return r.returncode == 0 and bool(r.stdout.strip())

    def problems(self) -> list[str]:
        """What is wrong with a started stack right now (empty list: ready)."""
        if not self._started or self._stopped:
            return ["the stack is not running"]
        out = [f"{name} exited with code {p.returncode()} (log: {p.log_path})"
               for name, p in self._procs.items() if not p.alive()]
        checks: list[tuple[str, Callable[[], bool]]] = [
            ("X display", self._display_answers), ("VNC port", self._vnc_answers),
            ("websockify", self._websockify_answers)]
        for what, check in checks:
            try:
                ok = check()
            except (OSError, subprocess.SubprocessError, http.client.HTTPException):
                ok = False
            if not ok:
                out.append(f"{what} does not answer")
        return out

    def lost(self) -> str:
        """The first component of the started stack that has exited since (the server before what depends on it),
        as "[component] why"; "" while all run, and before start or after stop."""
        if not self._started or self._stopped:
            return ""
        for name, proc in self._procs.items():
            if not proc.alive():
                return (f"[{name}] the reference stack's {name} (pid {proc.pid}) exited with code {proc.returncode()}"
                        f" (log: {proc.log_path}): the remote side is gone / 画面転送の参照環境（{name}）が停止した")
        return ""

    # ----------------------------------------------------------------------------------- remote clipboard

    def _hold_selection(self, selection: Selection, text: str) -> None:
        old = self._xclips.pop(selection, None)
        if old is not None:
            old.stop(grace=1.0)
        # -quiet keeps xclip in the foreground: it stays our child until it loses the selection.
        proc = _Proc("xclip", [self.binaries["xclip"], "-display", self.remote_display, "-selection",
                               selection, "-i", "-quiet"], self.log_path("xclip"),
                     env=self.remote_display_env, stdin_data=text.encode("utf-8"))  # fmt: skip
        self._xclips[selection] = proc
        self.started.append(("xclip", proc.pid))

    def warm_up_clipboard(self, timeout: float = 25.0) -> float:
        """Hold a raw RFB client until x11vnc passes its 15 s selection hold-back (spike P1).

        Only x11vnc needs it (TigerVNC reacts to XFixes events at once: returns 0.0). When the profile
        lets the remote send, a positive control proves it: a fresh token is put on the remote CLIPBOARD
        until the held client receives it. Otherwise the client is held for :data:`X11VNC_SEL_WAIT`.
        Leaves the remote CLIPBOARD holding a ``warm-up-…`` token. Returns the seconds spent.
        """
        if self.server != "x11vnc":
            return 0.0
        start = time.monotonic()
        try:
            client = _RawRfbClient(self.vnc_port)
        except OSError as exc:
            raise self._error("x11vnc", f"warm-up client could not connect: {exc}") from exc
        try:
            if self.clipboard in ("open", "send-only"):
                prefix = f"warm-up-{os.getpid()}-"
                next_set = 0.0
                while time.monotonic() - start < timeout:
                    if time.monotonic() >= next_set:
                        # Re-own the selection now and then: x11vnc may only look at changes.
                        self.set_remote_clipboard("clipboard", f"{prefix}{time.monotonic_ns()}")
                        next_set = time.monotonic() + 3.0
                    client.pump(0.25)
                    if prefix.encode() in client.received:
                        return time.monotonic() - start
                raise self._error("x11vnc", f"warm-up: remote clipboard reached no client in {timeout:.0f} s")
            client.pump(X11VNC_SEL_WAIT)
            return time.monotonic() - start
        except OSError as exc:
            raise self._error("x11vnc", f"warm-up client lost: {exc}") from exc
        finally:
            client.close()
