"""Xpra 3.1.3 (Debian bookworm) as a bundled reference screen-transfer (画面転送) product.

Layout (all on 127.0.0.1; display numbers from 300-399, the port from bind(0)):

    remote X display :N (Xvfb, started and owned by the xpra server)
        │  programs opened later by a command, as a vendor's portal would:
        │  ``xpra control socket:<work_dir>/xpra.sock start "<shell command>"``
    xpra server  ──  one TCP port: websocket + the HTML5 client (/usr/share/xpra/www), https/wss with ``tls``
        └── unix control socket at the fixed path ``work_dir / "xpra.sock"``

One ``xpra start :N --daemon=no`` process (Debian's /usr/bin/xpra on /usr/bin/python3) is started with
``start_new_session=True``; everything of the stack is stopped through its process group, its descendants
(Xvfb is one, in a session of its own) and processes whose command line names the work folder (Chromium's
crashpad handlers double-fork and setsid), newest first, never by name. All state lives in ``work_dir``:
HOME (``remote-home``), XDG_RUNTIME_DIR, XAUTHORITY, socket dir, a private XDG_CONFIG_DIRS entry whose
``xpra/xpra.conf`` replaces the system's ``start = /etc/X11/Xsession true`` with ``start = /bin/true``
(``--start=`` on the command line would only append to it; as root ``~/.xpra/xpra.conf`` is ignored).

Facts verified on this machine (Xpra 3.1.3-0.1, Debian Chromium, Playwright's sync API, headless terminal):

* TLS + HTML5 client: ``--bind-ssl=127.0.0.1:PORT --ssl-cert=CERT --ssl-key=KEY --html=on`` serves
  ``https://127.0.0.1:PORT/index.html`` (the CA's chain verifies) and the client's websocket is
  ``wss://127.0.0.1:PORT/…`` on the same port; plain HTTP there gets 400 ("packet looks like a plain HTTP
  packet"). Without TLS: ``--bind-tcp=127.0.0.1:PORT --ssl=off`` (http/ws). The full argument list is
  :meth:`XpraStack.server_argv`: ``xpra start :N --daemon=no --bind=<work_dir>/xpra.sock <bind…> --html=on
  --socket-dirs=… --socket-dir=… --log-dir=… --chdir=<remote_home> --xvfb="Xvfb +extension Composite
  -screen 0 WxHx24+32 -dpi 96 -nolisten tcp -noreset -auth $XAUTHORITY" --mdns=no --pulseaudio=no
  --speaker=off --microphone=off --webcam=no --notifications=no --av-sync=no --systemd-run=no
  --dbus-launch= --dbus-proxy=no --dbus-control=no --rfb-upgrade=0 --terminate-children=yes
  --exit-with-children=no --start-new-commands=yes --clipboard=yes|no --clipboard-direction=both|disabled
  --file-transfer=yes|no --printing=yes|no --open-url=yes|no --open-files=no --resize-display=no``.
  The packaged default screen is 5760x2560; with the default ``--resize-display=yes`` the server resizes
  the display to the client's viewport (1280x720 for Playwright's default), so it is off by default here.
* Bring-up (spawn → control socket answers ``hello`` → index.html served): 1.2-1.6 s; HTML5 client
  ``goto`` → ``connected``: 1.4-2.5 s (TLS slower); ``control start`` → a canvas in ``div.window``:
  0.65-1.45 s (first Chromium start on a fresh profile is the slow one); remote clipboard → the client's
  websocket: 0.1-0.2 s; ``send-file`` → terminal download: 0.4-0.9 s; stop: 0.3-0.6 s for 14 processes.
  PSS: xpra ≈ 130-140 MiB, Xvfb ≈ 35-42 MiB (1280x800), one remote Chromium app window ≈ 180-240 MiB.
* HTML5 client URL (index.html, Utilities.getparam/getboolparam): ``server``, ``port``, ``ssl=true|false``
  (default: the page's own scheme), ``clipboard``, ``file_transfer``, ``printing`` (each default true),
  ``sound=false``, ``floating_menu=false``, ``reconnect=false``, ``submit=false`` (no jump to connect.html
  when the connection closes), ``encryption=AES&key=…``, ``username``/``password``, ``encoding``,
  ``keyboard_layout``. There is no ``open_url`` parameter (the client's ``open_url`` is always true).
  See :meth:`XpraStack.client_url`.
* Connected: ``window.client.connected === true``. Flags on ``window.client``: ``clipboard_enabled``,
  ``file_transfer``, ``printing``, ``open_url`` are the *client's* switches (from the URL); what the server
  grants is ``remote_file_transfer``, ``remote_printing``, ``remote_open_files`` (from its hello). The
  3.1.3 client ignores the server's clipboard capability: with ``--clipboard=no`` ``clipboard_enabled``
  stays true, but no ``clipboard-token`` packet ever reaches it (with the clipboard on, a remote copy
  arrives as a plain bencoded ``clipboard-token`` packet carrying the text).
* A remote window is ``div.window`` (id = the window id, classes include ``wmclass-…``) with its title in
  ``.windowtitle`` and its pixels in the ``canvas`` inside (1:1: 1000x700 for ``--window-size=1000,700``).
  The title is not always the page's ``<title>``: for ``--app=data:text/html,<title>T</title>hello`` it
  was ``T`` once and ``_text/html,Thello`` (the app name) in other runs: match with "contains".
* ``xpra control … start CMD…`` joins its arguments with spaces and runs them with ``/bin/sh -c``: quote
  the command (``shlex.join``; :meth:`start_program` does) or a ``data:text/html,<title>…`` URL becomes a
  shell redirection. Answer on stdout: ``new command started with pid=N`` (N is the ``sh``, in the server's
  process group). SIGTERM to the server alone takes every process of the stack with it in ≈ 0.5-0.7 s
  (``--terminate-children`` SIGTERMs the ``sh``; Chromium exits on "X connection error" when the server
  kills its Xvfb; the crashpad handlers follow); :meth:`stop` also stops the process group and strays.
* ``xpra control … send-file FILE false``: with file transfer on, exit 0 "send file of '…' to * initiated"
  and the HTML5 client saves it with a blob ``<a download>`` (``blob:https://127.0.0.1:PORT/…``, the file's
  name and bytes): a real download in the terminal's browser. With ``--file-transfer=no --printing=no``:
  exit 13, "server returned error code 127 … 'XpraServer' object has no attribute 'file_transfer'"; with
  ``--file-transfer=no --printing=yes``: exit 0 "initiated", and the server logs "does not support this
  feature" and sends nothing. ``open-url URL``: "url sent to 1 clients" and the client ``window.open``s a
  popup; with ``--open-url=no``: exit 0, "url sent to 0 clients", nothing.
* Printing: ``printing=True`` only announces the channel (``remote_printing`` true). No private cupsd is
  started: CUPS_SERVER points at a socket path in the work folder that nothing serves, so lpadmin never
  reaches (and changes) a scheduler of the host ("failed to add virtual printer 'HTML5 client'"). 3.1.3's
  HTML5 printing is broken anyway: ``xpra control … print FILE.pdf`` says "initiated", the job reaches the
  client without a mimetype and is dropped ("Received unsupported print data mimetype: ").
* ``xpra control … hello`` is the cheapest readiness probe of the control socket (≈ 0.3 s, a Python start;
  ``xpra info`` costs the same and lists no keys at all for a feature that is off).
* The remote display needs ``XAUTHORITY`` (Xvfb runs with ``-auth``): use :attr:`remote_display_env`.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from conformance.environment.display import X11_SOCKET_DIR, display_is_free
from conformance.environment.proc_table import all_stats, cmdline, comm, log_tail, proc_stat, still_running
from conformance.environment.procs import ManagedProcess, free_port
from conformance.environment.remote_stack import RemoteStack, Selection
from conformance.environment.vnc_stack import seed_remote_browser_profile
from conformance.errors import HarnessError

ClipboardDirection = Literal["both", "to-server", "to-client"]

DISPLAY_RANGE = range(300, 400)  # VncStack uses 200-299, Display 90-199
HTML5_WEB = Path("/usr/share/xpra/www")
SOCKET_PATH_MAX = 107  # sun_path is 108 bytes with the terminating NUL

DEFAULT_BINARIES: dict[str, str] = {
    "xpra": "/usr/bin/xpra",
    "Xvfb": "Xvfb",
    "xclip": "xclip",
    # The real binary, not the /usr/bin wrapper, which adds flags from /etc/chromium.d.
    "remote-chromium": "/usr/lib/chromium/chromium",
}

# Environment variables of ours that must not reach the server or the programs it starts.
_DROPPED_ENV = ("DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                "XDG_RUNTIME_DIR", "XDG_CONFIG_DIRS", "XDG_SESSION_TYPE", "DBUS_SESSION_BUS_ADDRESS",
                "PULSE_SERVER", "PULSE_RUNTIME_PATH", "SSH_AUTH_SOCK", "PYTHONPATH", "PYTHONHOME",
                "PYTHONSTARTUP", "VIRTUAL_ENV", "CUPS_SERVER", "XPRA_SOCKET_DIR")
# What xpra's log says when another process got the display number or the port between our check and its start
# (two parallel workers, or two runs, picking the same free number at once): its Xvfb finds the lock file or the
# socket taken, or xpra, polling the display before its own Xvfb has failed, reaches the other X server, which
# refuses this stack's cookie ("Invalid MIT-MAGIC-COOKIE"). Not xpra's own hint "if the display is already running,
# try a different one": it follows every Xvfb failure, also one that no other number would mend.
_ADDRESS_IN_USE = re.compile(r"already in use|server lock file|already active|server already running|"
                             r"Invalid MIT-MAGIC-COOKIE", re.IGNORECASE)
_STARTED_PID = re.compile(r"started with pid=(\d+)")
XPRA_NOISE = "Warning: running as"  # a log line xpra writes on every start as root: no reason for anything


def xpra_installed() -> bool:
    """Debian package ``xpra`` (it ships the HTML5 client in /usr/share/xpra/www)."""
    return Path(DEFAULT_BINARIES["xpra"]).is_file() and (HTML5_WEB / "index.html").is_file()


# --------------------------------------------------------------------------------------------------------
# process families (reading /proc: conformance.environment.proc_table)


def _ancestors_of_us() -> set[int]:
    out: set[int] = set()
    pid = os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        st = proc_stat(pid)
        if st is None:
            break
        pid = st[1]
    return out


def _family(leader: int, marker: bytes | None) -> dict[int, int]:
    """Live (non-zombie) processes of one stack: pid → starttime.

    Members of the leader's process group, every descendant of the leader (also those that called
    setsid(), such as Xvfb), and every process whose command line contains ``marker`` (the work folder:
    Chromium's crashpad handler double-forks and is nobody's descendant), with their descendants.
    """
    stats = all_stats()
    children: dict[int, list[int]] = {}
    for pid, (_state, ppid, _pgrp, _start) in stats.items():
        children.setdefault(ppid, []).append(pid)
    roots = [pid for pid, st in stats.items() if st[2] == leader or pid == leader]
    if marker:
        mine = _ancestors_of_us()  # never ourselves (pytest's argv may name the work folder)
        roots += [pid for pid in stats if pid not in mine and marker in cmdline(pid)]
    out: dict[int, int] = {}
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        st = stats.get(pid)
        if st is None:
            continue
        if st[0] != "Z":
            out[pid] = st[3]
        todo.extend(children.get(pid, []))
    return out


def _signal_family(family: Mapping[int, int], sig: signal.Signals) -> None:
    for pid in still_running(family):  # same start time: never a reused pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _wait_gone(family: Mapping[int, int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while still_running(family):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.03)
    return True



# --------------------------------------------------------------------------------------------------------


class XpraStack(RemoteStack):
    """Context manager for the Xpra reference screen-transfer product; see the module docstring.

    Channels are fixed at start: ``clipboard`` (``clipboard_direction`` narrows it, default both),
    ``file_transfer``, ``printing`` (announced only, see the docstring), ``open_url``; opening uploaded
    files is always off. ``tls`` = (certificate, key) serves the HTML5 client over https/wss.
    ``binaries`` overrides executables by component name (tests use it for the failure path).
    """

    def __init__(self, work_dir: Path, *, clipboard: bool, file_transfer: bool, printing: bool, open_url: bool,
                 tls: tuple[Path, Path] | None, geometry: tuple[int, int] = (1280, 800),
                 binaries: Mapping[str, str] | None = None, timeout: float = 30.0,
                 clipboard_direction: ClipboardDirection = "both", resize_display: bool = False) -> None:
        self.work_dir = Path(work_dir).resolve()
        self.clipboard = bool(clipboard)
        self.clipboard_direction: str = clipboard_direction if self.clipboard else "disabled"
        if self.clipboard_direction not in ("both", "to-server", "to-client", "disabled"):
            raise ValueError(f"clipboard_direction must be both, to-server or to-client, not {clipboard_direction!r}")
        self.file_transfer = bool(file_transfer)
        self.printing = bool(printing)
        self.open_url = bool(open_url)
        self.tls = (Path(tls[0]).resolve(), Path(tls[1]).resolve()) if tls else None
        self.geometry = (int(geometry[0]), int(geometry[1]))
        # Xpra's default resizes the remote display to the client's viewport: off keeps ``geometry``.
        self.resize_display = bool(resize_display)
        self.binaries = {**DEFAULT_BINARIES, **(binaries or {})}
        self.timeout = timeout
        self.logs_dir = self.work_dir / "logs"
        self.remote_home = self.work_dir / "remote-home"
        self.remote_downloads_dir = self.remote_home / "Downloads"
        self.remote_profile_dir = self.work_dir / "remote-profile"
        self.control_socket = self.work_dir / "xpra.sock"
        self.runtime_dir = self.work_dir / "run"
        self.socket_dir = self.work_dir / "sockets"
        self.config_dir = self.work_dir / "xdg-config"
        self.tmp_dir = self.work_dir / "tmp"
        self.xauthority = self.remote_home / ".Xauthority"
        self.display: int | None = None
        self.websocket_port = 0
        self.bringup_seconds: dict[str, float] = {}
        # (component, pid) of every process ever started, for diagnostics and leak checks.
        self.started: list[tuple[str, int]] = []
        self._server: ManagedProcess | None = None
        self._xclips: dict[str, ManagedProcess] = {}
        self._log_paths: dict[str, Path] = {}
        self._seen: dict[int, int] = {}  # every stack pid ever observed: stop() checks them all
        self._started = False
        self._stopped = False

    # ----------------------------------------------------------------------------------- facts

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def server_pid(self) -> int | None:
        return self._server.pid if self._server is not None else None

    @property
    def remote_display_env(self) -> dict[str, str]:
        """Environment for a tool that acts on the remote display (xclip, xdotool): Xvfb runs with -auth."""
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        env["DISPLAY"] = self.remote_display
        env["XAUTHORITY"] = str(self.xauthority)
        return env

    @property
    def env(self) -> dict[str, str]:
        """The server's environment (also for ``xpra control``): every piece of state in the work folder."""
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        user = pwd.getpwuid(os.getuid()).pw_name
        env.update({
            "HOME": str(self.remote_home), "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "XAUTHORITY": str(self.xauthority), "XDG_CONFIG_DIRS": f"{self.config_dir}:/etc/xdg",
            "TMPDIR": str(self.tmp_dir),
            # Mesa (GLX in xpra's Xvfb) would otherwise keep a shader cache in the real ~/.cache.
            "MESA_SHADER_CACHE_DIR": str(self.tmp_dir / "mesa"), "MESA_GLSL_CACHE_DIR": str(self.tmp_dir / "mesa"),
            "DBUS_SESSION_BUS_ADDRESS": "disabled:", "USER": user, "LOGNAME": user,
            # No scheduler answers here: lpadmin (printing=True) can never touch the host's CUPS.
            "CUPS_SERVER": str(self.work_dir / "no-cupsd.sock"),
        })
        return env

    @property
    def client_origin(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.websocket_port}"

    def client_url(self, *, clipboard: bool | None = None, file_transfer: bool | None = None,
                   printing: bool | None = None, **extra: str) -> str:
        """The HTML5 client's URL; a switch left at None is left to the client's default (on)."""
        params: dict[str, str] = {"server": "127.0.0.1", "port": str(self.websocket_port),
                                  "ssl": "true" if self.tls else "false", "sound": "false",
                                  "floating_menu": "false", "reconnect": "false", "submit": "false"}
        for name, value in (("clipboard", clipboard), ("file_transfer", file_transfer), ("printing", printing)):
            if value is not None:
                params[name] = "true" if value else "false"
        params.update(extra)
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.client_origin}/index.html?{query}"

    def facts(self) -> dict[str, Any]:
        return {"product": "xpra", "display": self.remote_display if self.display is not None else None,
                "websocket_port": self.websocket_port, "tls": self.tls is not None,
                "client_origin": self.client_origin if self.websocket_port else None,
                "client_url": self.client_url() if self.websocket_port else None,
                "control_socket": str(self.control_socket), "remote_home": str(self.remote_home),
                "remote_downloads_dir": str(self.remote_downloads_dir),
                "remote_profile_dir": str(self.remote_profile_dir), "work_dir": str(self.work_dir),
                "geometry": self.geometry, "clipboard": self.clipboard,
                "clipboard_direction": self.clipboard_direction, "file_transfer": self.file_transfer,
                "printing": self.printing, "open_url": self.open_url, "open_files": False}

    def log_path(self, component: str) -> Path:
        """The log of a component (its newest one for xclip); where it would be when never started."""
        return self._log_paths.get(component, self.logs_dir / f"{component}.log")

    def _marker(self) -> bytes:
        return f"{self.work_dir}/".encode()

    def pids(self) -> list[int]:
        """Every live process of the stack: server, Xvfb, programs opened with ``control start``, xclip."""
        return sorted(self._observe())

    def component_pids(self) -> dict[str, list[int]]:
        out: dict[str, set[int]] = {"xpra": set(), "Xvfb": set(), "remote-programs": set(), "xclip": set()}
        xclips = {pid for proc in self._xclips.values() for pid in _family(proc.pid, None)}
        server = self._server.pid if self._server is not None else None
        for pid in self._observe():
            if pid in xclips:
                out["xclip"].add(pid)
            elif pid == server:
                out["xpra"].add(pid)
            elif comm(pid).startswith("Xvfb"):
                out["Xvfb"].add(pid)
            else:
                out["remote-programs"].add(pid)
        return {name: sorted(pids) for name, pids in out.items()}

    def _observe(self) -> dict[int, int]:
        found: dict[int, int] = {}
        if self._server is not None:
            found.update(_family(self._server.pid, self._marker()))
        for proc in self._xclips.values():
            found.update(_family(proc.pid, None))
        self._seen.update(found)
        return found

    # ----------------------------------------------------------------------------------- lifecycle

    def stop(self) -> None:
        """Stop everything started, newest first (xclip, then the server and what it runs). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        failures: list[str] = []
        for selection, proc in reversed(list(self._xclips.items())):
            try:
                proc.stop(timeout=1.0)
            except Exception as exc:  # one piece that cannot be stopped must not keep the others running
                failures.append(f"xclip {selection}: {exc}")
        self._xclips.clear()
        if self._server is not None:
            try:
                self._stop_server(self._server)
            except Exception as exc:
                failures.append(f"xpra: {exc}")
        atexit.unregister(self.stop)
        if failures:
            raise HarnessError("xpra-stack", "could not stop: " + "; ".join(failures))

    def _stop_server(self, server: ManagedProcess) -> None:
        family = {**self._seen, **self._observe()}
        # The server alone first: it terminates its children, kills its Xvfb and removes its sockets.
        if server.running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(server.pid, signal.SIGTERM)
            deadline = time.monotonic() + 3.0
            while server.running and time.monotonic() < deadline:
                time.sleep(0.03)
        family.update(self._observe())
        server.stop(timeout=2.0)  # the process group: SIGTERM, then SIGKILL
        if not _wait_gone(family, 1.5):
            _signal_family(family, signal.SIGTERM)
            if not _wait_gone(family, 1.5):
                _signal_family(family, signal.SIGKILL)
                _wait_gone(family, 2.0)
        left = still_running(family)
        if left:
            raise HarnessError("xpra", f"processes survive SIGKILL: {sorted(left)}")
        self._remove_stale_display_files(family)

    def _remove_stale_display_files(self, family: Mapping[int, int]) -> None:
        """An Xvfb killed by SIGKILL leaves its socket and lock file behind: remove them if they are ours."""
        if self.display is None:
            return
        lock = Path(f"/tmp/.X{self.display}-lock")
        try:
            owner = int(lock.read_text().strip())
        except (OSError, ValueError):
            return
        if owner not in family or proc_stat(owner) is not None:
            return  # someone else's display, or still alive
        for path in (X11_SOCKET_DIR / f"X{self.display}", lock):
            with contextlib.suppress(OSError):
                path.unlink()

    def _bring_up(self) -> None:
        t0 = time.monotonic()
        if len(str(self.control_socket)) > SOCKET_PATH_MAX:
            raise self._error("xpra", f"control socket path longer than {SOCKET_PATH_MAX} bytes: "
                                      f"{self.control_socket} (use a shorter work folder)")
        if self.tls:
            for path in self.tls:
                if not path.is_file():
                    raise self._error("xpra", f"TLS file missing: {path}")
        self._prepare_dirs()
        binary = shutil.which(self.binaries["xpra"])
        if binary is None:
            self._note("xpra", f"xpra binary not found: {self.binaries['xpra']!r}")
            raise self._error("xpra", f"cannot start xpra: {self.binaries['xpra']!r} is not an executable")
        xvfb = shutil.which(self.binaries["Xvfb"], path=self.env.get("PATH"))
        if xvfb is None:
            self._note("xpra", f"Xvfb binary not found: {self.binaries['Xvfb']!r}")
            raise self._error("xpra", f"cannot start Xvfb: {self.binaries['Xvfb']!r} is not an executable")

        tried: set[int] = set()
        for _attempt in range(4):
            n = next((d for d in DISPLAY_RANGE if d not in tried and display_is_free(d)), None)
            if n is None:
                raise self._error("xpra", f"no free X display in {DISPLAY_RANGE.start}-{DISPLAY_RANGE.stop - 1}")
            tried.add(n)
            self.display = n
            self.websocket_port = free_port()
            server = self._spawn_server(binary, xvfb)
            try:
                self._wait_ready(server, t0)
                return
            except HarnessError:
                if server.running or not _ADDRESS_IN_USE.search(log_tail(server.log_path, 40, XPRA_NOISE)):
                    raise
                # Lost a race for the display number or the port: try the next pair.
                self._stop_server(server)
                self._server = None
        raise self._error("xpra", "could not claim a display and a port after 4 attempts")

    def _prepare_dirs(self) -> None:
        for d in (self.logs_dir, self.remote_home, self.remote_downloads_dir, self.socket_dir, self.tmp_dir,
                  self.config_dir / "xpra"):
            d.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.chmod(0o700)
        # Must exist before start, or xpra writes the cookie to the passwd home's .Xauthority.
        self.xauthority.touch()
        # Replaces the system's "start = /etc/X11/Xsession true" (which writes ~/.xsession-errors and more).
        (self.config_dir / "xpra" / "xpra.conf").write_text("start = /bin/true\n")
        with contextlib.suppress(OSError):
            self.control_socket.unlink()
        self._seed_remote_profile()

    def _seed_remote_profile(self) -> None:
        # The same remote profile as the noVNC stack's: downloads and --kiosk-printing PDFs into Downloads.
        seed_remote_browser_profile(self.remote_profile_dir, self.remote_downloads_dir)

    def server_argv(self, binary: str | None = None, xvfb: str | None = None) -> list[str]:
        """The complete ``xpra start`` command line for the current display and port."""
        w, h = self.geometry
        yes_no = {True: "yes", False: "no"}
        if self.tls:
            bind = [f"--bind-ssl=127.0.0.1:{self.websocket_port}", f"--ssl-cert={self.tls[0]}",
                    f"--ssl-key={self.tls[1]}"]
        else:
            bind = [f"--bind-tcp=127.0.0.1:{self.websocket_port}", "--ssl=off"]
        return [
            binary or self.binaries["xpra"], "start", self.remote_display, "--daemon=no",
            f"--bind={self.control_socket}", *bind, "--html=on",
            f"--socket-dirs={self.socket_dir}", f"--socket-dir={self.socket_dir}", f"--log-dir={self.logs_dir}",
            f"--chdir={self.remote_home}",
            f"--xvfb={xvfb or self.binaries['Xvfb']} +extension Composite -screen 0 {w}x{h}x24+32 -dpi 96 "
            "-nolisten tcp -noreset -auth $XAUTHORITY",
            "--mdns=no", "--pulseaudio=no", "--speaker=off", "--microphone=off", "--webcam=no",
            "--notifications=no", "--av-sync=no", "--systemd-run=no", "--dbus-launch=", "--dbus-proxy=no",
            "--dbus-control=no", "--rfb-upgrade=0",
            # Programs opened later by `control start` belong to the session and end with it; none now.
            "--terminate-children=yes", "--exit-with-children=no", "--start-new-commands=yes",
            f"--clipboard={yes_no[self.clipboard]}", f"--clipboard-direction={self.clipboard_direction}",
            f"--file-transfer={yes_no[self.file_transfer]}", f"--printing={yes_no[self.printing]}",
            f"--open-url={yes_no[self.open_url]}", "--open-files=no",
            f"--resize-display={yes_no[self.resize_display]}",
        ]

    def _spawn_server(self, binary: str, xvfb: str) -> ManagedProcess:
        try:
            server = ManagedProcess(self.server_argv(binary, xvfb), component="xpra", log_dir=self.logs_dir,
                                    env=self.env, cwd=self.remote_home, name="xpra")
        except HarnessError as exc:
            self._note("xpra", exc.reason)
            raise self._error("xpra", exc.reason) from exc
        self._server = server
        self._log_paths["xpra"] = server.log_path
        self.started.append(("xpra", server.pid))
        self._observe()
        return server

    def _wait_ready(self, server: ManagedProcess, t0: float) -> None:
        t = time.monotonic()
        self.bringup_seconds["control"] = self._wait(server, self._control_answers, self.timeout,
                                                     f"control socket {self.control_socket} answering hello")
        self.bringup_seconds["html"] = self._wait(server, self._html_answers, 10.0,
                                                  f"HTML5 client served at {self.client_origin}/index.html")
        self.bringup_seconds["display"] = self._wait(server, self._display_answers, 10.0,
                                                     f"X display {self.remote_display} answering")
        self.bringup_seconds["since_spawn"] = time.monotonic() - t
        self.bringup_seconds["total"] = time.monotonic() - t0
        self._observe()

    def _wait(self, server: ManagedProcess, check: Callable[[], bool], timeout: float, what: str) -> float:
        start = time.monotonic()
        while True:
            try:
                if check():
                    return time.monotonic() - start
            except (OSError, subprocess.SubprocessError, http.client.HTTPException, ssl.SSLError):
                pass
            if not server.running:
                raise self._error("xpra", f"exited with code {server.returncode} before {what}")
            if time.monotonic() - start > timeout:
                raise self._error("xpra", f"no {what} within {timeout:.0f} s")
            time.sleep(0.1)

    def _note(self, component: str, line: str) -> None:
        path = self.log_path(component)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} {line}\n")

    def _error(self, component: str, reason: str) -> HarnessError:
        log = self.log_path(component)
        tail = log_tail(log, 8, XPRA_NOISE)
        where = f"; log: {log}" if log.exists() else ""
        return HarnessError(component, f"{reason}{where}" + (f"; last lines: {tail}" if tail else ""))

    # ----------------------------------------------------------------------------------- checks

    def _control_answers(self) -> bool:
        if not self.control_socket.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:  # cheap before a Python start
            s.settimeout(1.0)
            s.connect(str(self.control_socket))
        return self.control("hello", timeout=10).returncode == 0

    def _html_answers(self) -> bool:
        conn: http.client.HTTPConnection
        if self.tls:  # the stack's own readiness probe: the certificate is the terminal's business
            context = ssl._create_unverified_context()  # loopback readiness probe only
            conn = http.client.HTTPSConnection("127.0.0.1", self.websocket_port, timeout=3, context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.websocket_port, timeout=3)
        try:
            conn.request("GET", "/index.html")
            resp = conn.getresponse()
            body = resp.read()
            return resp.status == 200 and b"XpraClient" in body
        finally:
            conn.close()

    @staticmethod
    def _server_exited(server: ManagedProcess) -> bool:
        if not server.running:
            return True
        st = proc_stat(server.pid)
        if st is None or st[0] == "Z":  # main thread gone, other threads still winding down
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.popen.wait(timeout=2)
            return True
        return False

    def _display_answers(self) -> bool:
        return (X11_SOCKET_DIR / f"X{self.display}").exists()

    def lost(self) -> str:
        """The xpra server (with its display) exited since the stack started, as "[xpra] why"; "" while it runs,
        and before start or after stop."""
        if not self._started or self._stopped or self._server is None or not self._server_exited(self._server):
            return ""
        server = self._server
        return (f"[xpra] the reference stack's xpra server (pid {server.pid}) exited with code {server.returncode} "
                f"(log: {server.log_path}): the remote side is gone / 画面転送の参照環境（xpra）が停止した")

    def problems(self) -> list[str]:
        """What is wrong with a started stack right now (empty list: ready)."""
        if not self._started or self._stopped or self._server is None:
            return ["the stack is not running"]
        server = self._server
        if self._server_exited(server):
            return [f"xpra server exited (code {server.returncode}); log {server.log_path}; "
                    f"last lines: {log_tail(server.log_path, 8, XPRA_NOISE)}"]
        out: list[str] = []
        checks: list[tuple[str, Callable[[], bool]]] = [
            (f"X display {self.remote_display}", self._display_answers),
            (f"control socket {self.control_socket}", self._control_answers),
            (f"HTML5 client at {self.client_origin}", self._html_answers)]
        for what, check in checks:
            try:
                ok = check()
            except (OSError, subprocess.SubprocessError, http.client.HTTPException, ssl.SSLError):
                ok = False
            if not ok:
                out.append(f"{what} does not answer")
        for selection, proc in self._xclips.items():
            if not proc.running:
                out.append(f"xclip ({selection}) exited (code {proc.returncode}): the selection has a new owner")
        return out

    # ----------------------------------------------------------------------------------- control

    def control(self, *args: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
        """``xpra control socket:<control_socket> ARGS…`` with the stack's environment (text output)."""
        argv = [self.binaries["xpra"], "control", f"socket:{self.control_socket}", *map(str, args)]
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout,
                                cwd=self._cwd(), check=False)
        self._observe()
        return result

    def _cwd(self) -> Path | None:
        return self.remote_home if self.remote_home.is_dir() else None

    def info(self, timeout: float = 15) -> dict[str, str]:
        """``xpra info socket:<control_socket>`` as key → value text (≈ 0.3 s; a feature that is off has
        no keys at all: its server mixin is not loaded)."""
        argv = [self.binaries["xpra"], "info", f"socket:{self.control_socket}"]
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout,
                                cwd=self._cwd(), check=False)
        if result.returncode != 0:
            raise self._error("xpra", f"xpra info failed (exit {result.returncode}): {result.stderr.strip()[-300:]}")
        return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)

    def start_program(self, argv: Sequence[str], timeout: float = 15) -> int:
        """Open a program on the remote display as a vendor's portal would (``control start``).

        Returns the pid the server reports (the ``/bin/sh`` that runs the quoted command)."""
        result = self.control("start", shlex.join(argv), timeout=timeout)
        m = _STARTED_PID.search(result.stdout)
        if result.returncode != 0 or m is None:
            raise self._error("xpra", f"control start failed (exit {result.returncode}): "
                                      f"{(result.stdout + result.stderr).strip()[-400:]}")
        return int(m.group(1))

    def remote_chromium_argv(self, url: str, *, window_size: tuple[int, int] = (1000, 700),
                             extra: Sequence[str] = ()) -> list[str]:
        """A remote Chromium in app mode on ``url``, with the stack's profile folder."""
        w, h = window_size
        return [self.binaries["remote-chromium"], "--no-sandbox", "--test-type", "--no-first-run",
                "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
                "--password-store=basic", f"--user-data-dir={self.remote_profile_dir}", f"--window-size={w},{h}",
                *extra, f"--app={url}"]

    # ----------------------------------------------------------------------------------- remote clipboard

    def _hold_selection(self, selection: Selection, text: str) -> None:
        old = self._xclips.pop(selection, None)
        if old is not None:
            old.stop(timeout=1.0)
        # -quiet keeps xclip in the foreground: it stays our child until it loses the selection.
        proc = ManagedProcess([self.binaries["xclip"], "-display", self.remote_display, "-selection", selection,
                               "-i", "-quiet"], component="xclip", log_dir=self.logs_dir,
                              env=self.remote_display_env, stdin_data=text.encode("utf-8"), name="xclip")  # fmt: skip
        self._xclips[selection] = proc
        self._log_paths["xclip"] = proc.log_path
        self.started.append(("xclip", proc.pid))
        self._observe()
