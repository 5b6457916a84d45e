"""Driver for a Chromium-based secure browser: launched with Playwright, or attached to over CDP.

Launch mode gives every session a fresh profile, home and temp folder inside the run folder, so the
file-system oracles can tell exactly what the session left behind. Managed policies apply to the
candidate's process only: a private mount namespace binds a run-local copy of /etc/chromium over the
real one (the host's /etc is never written).

The candidate is started as deployed: none of Playwright's ~35 default switches (``ignore_default_args=True``),
only the profile's own ``args`` and the few switches the harness cannot do without, each with its reason.
The browser's real command line is read back from /proc and kept as ``launch_record`` (``launch.json`` in the
session folder). What a used installation has and a fresh profile lacks (the first run is over) is prepared in
the profile's files, not faked with switches.

Playwright's own download handling (``Browser.setDownloadBehavior``) bypasses the browser's download
policy, so every session resets it to the browser's native behaviour: what lands on disk is then what a
user would get.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from itertools import count
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from conformance.drivers.base import (
    CandidateDriver,
    CandidateSession,
    DriverContext,
    DriverSettings,
    resolve_path,
)
from conformance.errors import HarnessError

USER_EXIT_TIMEOUT = 60.0  # exit-time clean-up (ClearBrowsingDataOnExitList) on a loaded machine
HELPER_EXIT_TIMEOUT = 10.0
WINDOW_CLOSE_TIMEOUT = 20.0
WINDOW_APPEAR_TIMEOUT = 5.0  # a visible window of a running browser, looked for again under load
MAX_WINDOWS = 8
_WRAPPERS = count(1)
FIRST_PAGE_TIMEOUT = 30.0
# Switches of the harness a profile may not set itself: the session's profile folder and Playwright's channel.
HARNESS_ONLY_SWITCHES = ("--user-data-dir", "--remote-debugging-pipe")


class ChromiumSettings(DriverSettings):
    mode: Literal["launch", "attach"] = "launch"
    executable: Path = Path("/usr/lib/chromium/chromium")
    args: list[str] = Field(default_factory=list)  # the product's own switches: all it gets besides the harness's few
    # Obsolete: it removed switches from Playwright's defaults, and the candidate now gets none of them. Accepted so
    # that older profiles still load (what they asked for, no such switch, now always holds); it has no effect.
    ignore_default_args: list[str] = Field(default_factory=list)
    policies: Path | None = None  # JSON object of managed policies, applied to this process only
    extensions: list[Path] = Field(default_factory=list)  # unpacked extension folders the product ships
    cdp_url: str | None = None  # attach mode: http://127.0.0.1:PORT of a browser the vendor started
    window_size: tuple[int, int] = (1280, 900)

    @field_validator("executable", "policies", mode="before")
    @classmethod
    def _path(cls, value: Any, info: ValidationInfo) -> Any:
        return None if value is None else resolve_path(value, info)

    @field_validator("extensions", mode="before")
    @classmethod
    def _paths(cls, value: Any, info: ValidationInfo) -> Any:
        return [resolve_path(item, info) for item in value] if isinstance(value, list) else value

    @field_validator("args")
    @classmethod
    def _own_switches(cls, value: list[str]) -> list[str]:
        # Playwright used to refuse these itself; with its defaults off, the driver does.
        for arg in value:
            if not arg.startswith("-"):
                raise ValueError(f"{arg!r} is not a switch; the harness opens the first page itself (remove it)")
            if arg.split("=", 1)[0] in HARNESS_ONLY_SWITCHES:
                raise ValueError(f"{arg.split('=', 1)[0]} is set by the harness for every session (remove it)")
        return value

    @model_validator(mode="after")
    def _check(self) -> ChromiumSettings:
        if self.mode == "attach" and not self.cdp_url:
            raise ValueError("attach mode needs cdp_url (e.g. http://127.0.0.1:9222)")
        if self.mode == "launch" and not self.executable.exists():
            raise ValueError(f"executable {self.executable} does not exist")
        if self.policies is not None:
            if not self.policies.is_file():
                raise ValueError(f"policies file {self.policies} does not exist")
            try:
                if not isinstance(json.loads(self.policies.read_text(encoding="utf-8")), dict):
                    raise ValueError(f"policies file {self.policies} must hold a JSON object")
            except json.JSONDecodeError as exc:
                raise ValueError(f"policies file {self.policies} is not valid JSON: {exc}") from None
        for extension in self.extensions:
            if not (extension / "manifest.json").is_file():
                raise ValueError(f"extension folder {extension} has no manifest.json")
        return self


def _extension_id(folder: Path) -> str:
    """Chromium's id of an unpacked extension without a "key": sha256 of its real path, 32 hex digits as a-p."""
    digest = hashlib.sha256(os.path.realpath(folder).encode()).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


class ChromiumSession(CandidateSession):
    def __init__(self, driver: ChromiumDriver, folder: Path) -> None:
        self.driver = driver
        self.folder = folder
        self.user_data_dir = folder / "profile"
        self.home = folder / "home"
        self.tmp = folder / "tmp"
        self.downloads = self.home / "Downloads"
        self.disk_roots = [self.home, self.user_data_dir, self.tmp]
        # The profile holds the HTTP cache and history, which carry page content by design; whether
        # they survive the session is RES-01's question, not a download.
        self.download_roots = [self.home, self.tmp]
        for path in (self.user_data_dir / "Default", self.downloads, self.tmp):
            path.mkdir(parents=True, exist_ok=True)
        self._closed = False
        self._desktop: Any = None  # the display as driven by xdotool (environment.desktop.Desktop), made on first use
        self._browser_started: str | None = None  # start time of the browser process (crashed())
        self.close_record: dict[str, Any] = {}  # how close_as_user ended the session (evidence)
        self.launch_record: dict[str, Any] = {}  # how the browser was started (evidence); {} in attach mode
        if driver.settings.mode == "launch":
            self.context = self._launch()
            self.page = self._first_page()
            self._record_launch()
        else:
            self.context = self._attach()
            self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self._native_downloads()

    # -- starting ----------------------------------------------------------------------------------
    def _preferences(self) -> None:
        # What a user would have configured: downloads go to ~/Downloads without asking, and "Save as PDF"
        # offers ~/Downloads. The print destination is left alone: a fresh profile preselects the system's
        # default printer (the run's private CUPS, via CUPS_SERVER). Deliberately no --kiosk-printing: a
        # vendor's product has no such flag, and it would skip the print dialog a user sees; the print
        # cases confirm that dialog with real key presses instead (conformance/cases/test_print.py).
        prefs = {
            "download": {"default_directory": str(self.downloads), "prompt_for_download": False},
            "savefile": {"default_directory": str(self.downloads)},
            "profile": {"exit_type": "Normal", "exited_cleanly": True},
            # The product's own extensions also run in incognito windows, as an installer would set up;
            # no policy can allow that, and a product that forces incognito would otherwise lose them.
            "extensions": {
                "settings": {_extension_id(p): {"incognito": True} for p in self.driver.settings.extensions}
            },
        }
        (self.user_data_dir / "Default" / "Preferences").write_text(json.dumps(prefs), encoding="utf-8")
        # The first run is over, as on any installation a person has used before: Chromium writes this sentinel
        # at the end of its first run, and without it starts the first-run experience (instead of --no-first-run).
        (self.user_data_dir / "First Run").touch()

    def _launch(self) -> Any:
        settings: ChromiumSettings = self.driver.settings  # type: ignore[assignment]
        context = self.driver.context
        self._preferences()
        env = {
            **os.environ,
            **context.env,
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
        }
        # Everything the candidate gets besides its profile's own args: Playwright adds nothing
        # (ignore_default_args=True), so each switch here is one the harness cannot do without, with its reason.
        harness: list[tuple[str, str]] = [
            (f"--user-data-dir={self.user_data_dir}",
             "the session's own fresh profile, inside the session folder the file oracles scan"),
            ("--remote-debugging-pipe", "Playwright's control channel: CDP over inherited pipes (fds 3, 4), no port"),
        ]
        if os.geteuid() == 0:
            harness.append(("--no-sandbox", "the harness runs as root, and Chromium will not start its sandbox as "
                            "root; a deployed browser runs as the user, sandboxed"))
        if not context.headed:
            harness.append(("--headless", "--headless run (debugging only): there is no display"))
        if context.terminal_network is None:  # proxy observation: only what the candidate proxies is seen
            harness += [
                (f"--proxy-server={context.proxy_url}", "the network oracle (proxy observation: the machine allows "
                 "no terminal namespace): every proxied connection goes through it"),
                ("--proxy-bypass-list=<-loopback>", "loopback too goes through the oracle"),
            ]
        harness += [
            (f"--ignore-certificate-errors-spki-list={context.proxy_spki}",
             "trust the oracle's interception CA only (the fixture hosts' TLS is terminated by the proxy)"),
            (f"--window-size={settings.window_size[0]},{settings.window_size[1]}",
             "a known window geometry on the run's display (screenshots, xdotool)"),
            ("--window-position=0,0", "the window at the display's origin (screenshots, xdotool)"),
        ]
        extensions: list[tuple[str, str]] = []
        if settings.extensions:
            folders = ",".join(str(path) for path in settings.extensions)
            extensions = [
                (f"--load-extension={folders}",
                 "the product's own extensions (profile `extensions`), unpacked, as its installer would install them"),
                (f"--disable-extensions-except={folders}", "the same folders: no other unpacked extension"),
            ]
        # Positional, last (as Playwright's persistent context has it): the first tab, which the session drives.
        first_tab = ("about:blank", "the first tab, which Playwright drives: blank, the session opens its pages in it")
        args = [arg for arg, _ in harness] + list(settings.args) + [arg for arg, _ in extensions] + [first_tab[0]]
        self._harness_switches = {_switch_key(arg): why for arg, why in [*harness, *extensions, first_tab]}
        self._launch_args = args
        try:
            return context.playwright.chromium.launch_persistent_context(
                str(self.user_data_dir),
                executable_path=str(self.driver.executable_for_launch()),
                headless=not context.headed,
                args=args,
                ignore_default_args=True,  # none of Playwright's own switches (ignoreAllDefaultArgs)
                env=env,
                viewport=None,
                timeout=30_000,
            )
        except Exception as exc:
            raise HarnessError("chromium", f"candidate did not start: {str(exc).splitlines()[0]}") from exc

    def _first_page(self) -> Any:
        """The tab the browser opened for ``about:blank``. With its defaults off, Playwright does not wait for it
        (no loadDefaultContext): it may appear only after the launch returned, so it is waited for, never opened."""
        try:
            page = self.context.pages[0] if self.context.pages else self.context.wait_for_event(
                "page", timeout=FIRST_PAGE_TIMEOUT * 1000)
            page.wait_for_load_state("load", timeout=FIRST_PAGE_TIMEOUT * 1000)
        except Exception as exc:
            with contextlib.suppress(Exception):
                self.context.close()
            raise HarnessError("chromium", f"the browser showed no first tab: {str(exc).splitlines()[0]}") from exc
        return page

    def _record_launch(self) -> None:
        """Evidence of the command line the browser really got (/proc/<pid>/cmdline), kept as ``launch_record``
        and written to ``launch.json`` in the session folder."""
        settings: ChromiumSettings = self.driver.settings  # type: ignore[assignment]
        pid = self._browser_pid()
        argv: list[str] | None = None
        if pid is not None:
            with contextlib.suppress(OSError):
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
        self._browser_started = _start_time(pid) if pid is not None else None
        record: dict[str, Any] = {
            "browser_pid": pid,
            "argv": argv,
            "harness_switches": self._harness_switches,
            "profile_args": list(settings.args),
        }
        started = self.driver.executable_for_launch()
        if started != settings.executable:  # the terminal's namespaces: how the process got into them
            record["started_through"] = started.read_text(encoding="utf-8").splitlines()[-1]
        if argv is not None:  # a vendor's launcher may change what it was given: say so
            missing = [arg for arg in self._launch_args if arg not in argv]
            if missing:
                record["given_but_not_in_argv"] = missing
        if settings.ignore_default_args:
            record["obsolete_setting_ignored"] = {"ignore_default_args": list(settings.ignore_default_args)}
        self.launch_record = record
        (self.folder / "launch.json").write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
        self.driver.note_launch(record)

    def _attach(self) -> Any:
        settings: ChromiumSettings = self.driver.settings  # type: ignore[assignment]
        try:
            browser = self.driver.context.playwright.chromium.connect_over_cdp(settings.cdp_url)
        except Exception as exc:
            raise HarnessError("chromium", f"cannot attach to {settings.cdp_url}: {exc}") from exc
        self._browser = browser
        return browser.contexts[0] if browser.contexts else browser.new_context()

    def _native_downloads(self) -> None:
        try:
            cdp = self.context.new_cdp_session(self.page)
            cdp.send("Browser.setDownloadBehavior", {"behavior": "default"})
            cdp.detach()
        except Exception as exc:
            raise HarnessError("chromium", f"cannot restore native download behaviour: {exc}") from exc

    # -- acting ------------------------------------------------------------------------------------
    def open(self, url: str) -> Any:
        self.page.goto(url, wait_until="load", timeout=20_000)
        return self.page

    def crashed(self) -> str:
        pid = self.launch_record.get("browser_pid")
        if self._closed or pid is None or _running(pid, self._browser_started):
            return ""
        return (f"[chromium] the candidate's browser (pid {pid}) exited during the case although the session was not "
                "closed: it crashed or was killed / 試験中に候補のブラウザが終了した")

    def pids(self) -> list[int]:
        marker = str(self.user_data_dir)
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
        return sorted(found)

    def close_as_user(self) -> None:
        """Close the browser window the way a person does, then let the browser exit by itself.

        How: a real key press (XTEST) of Ctrl+Shift+W, Chromium's "close window" shortcut, with the
        pointer over the window and X focus on it. Not ``xdotool windowclose`` (XDestroyWindow from
        outside: the window is torn away, no close handler runs), not a kill (SIGTERM skips the exit-time
        clean-up, which gives false residue fails), not Playwright's ``context.close()`` (a CDP command,
        not a user action). A window manager's close button would send WM_DELETE_WINDOW, which Chromium
        handles exactly like this shortcut; there is no window manager under Xvfb.

        Then wait for the browser process to exit on its own; only after that time-out are leftovers
        stopped. What happened is kept in ``close_record`` for cases that need a user close (residue).
        Never raises: it is also every session's teardown.
        """
        if self._closed:
            return
        self._closed = True
        if self.driver.settings.mode == "attach":  # type: ignore[attr-defined]
            self._browser.close()  # disconnects only; the vendor's browser keeps running
            self.close_record = {"method": "cdp-disconnect (attach mode)", "user_close": False}
            return
        record: dict[str, Any] = {"method": "xdotool key ctrl+shift+w (XTEST)", "user_close": False}
        self.close_record = record
        started = time.monotonic()
        browser_pid = self._browser_pid()
        record["browser_pid"] = browser_pid
        try:
            record["windows"] = self._press_close(browser_pid)
            record["user_close"] = True
        except HarnessError as exc:
            record["not_a_user_close"] = str(exc)
        exited = browser_pid is not None and _wait_exit(browser_pid, USER_EXIT_TIMEOUT if record["user_close"] else 0)
        if not record["user_close"] or not exited:
            # No user close was possible (headless, no xdotool) or the window ignored it: Playwright's close.
            with contextlib.suppress(Exception):
                self.context.close()
        # Helpers (zygotes, crashpad) follow the browser within a moment once it has gone.
        deadline = time.monotonic() + HELPER_EXIT_TIMEOUT
        while self._session_processes() and time.monotonic() < deadline:
            time.sleep(0.1)
        record["exited_by_itself"] = bool(exited and not self._session_processes())
        record["exit_seconds"] = round(time.monotonic() - started, 2)
        leftovers = self._session_processes()
        record["leftovers_stopped"] = leftovers
        # Only now, and only what is still ours: the session folder is in each leftover's command line.
        for pid in leftovers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.context.close()  # release Playwright's side of a browser that is already gone

    def _press_close(self, browser_pid: int | None) -> list[str]:
        """Press Ctrl+Shift+W on each of the browser's windows until none is left; the window ids."""
        if not self.driver.context.headed or "DISPLAY" not in self.driver.context.env:
            raise HarnessError("chromium", "headless: there is no window a user could close")
        if browser_pid is None:
            raise HarnessError("chromium", "the browser process is not running")
        closed: list[str] = []
        # Under load the window may be unmapped for a moment (seen once in a full run of the suite's tests): look
        # again for a bounded time before saying there is none.
        deadline = time.monotonic() + WINDOW_APPEAR_TIMEOUT
        while not self.window_ids(browser_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        for _ in range(MAX_WINDOWS):
            windows = self.window_ids(browser_pid)
            if not windows and not closed:  # nothing was closed: no user act happened
                raise HarnessError("chromium", f"no visible window of the browser (pid {browser_pid}) to close")
            if not windows:
                return closed
            window = windows[0]
            geometry = self._xdotool("getwindowgeometry", "--shell", window)
            size = dict(line.split("=", 1) for line in geometry.splitlines() if "=" in line)
            x, y = int(size.get("WIDTH", "400")) // 2, int(size.get("HEIGHT", "400")) // 2
            # No window manager: keys go to the focus window, and with PointerRoot to what is under the pointer.
            self._xdotool("mousemove", "--window", window, str(x), str(y))
            self._xdotool("windowfocus", window)
            self._xdotool("key", "--clearmodifiers", "ctrl+shift+w")
            deadline = time.monotonic() + WINDOW_CLOSE_TIMEOUT
            while window in self.window_ids(browser_pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if window in self.window_ids(browser_pid):
                raise HarnessError("chromium", f"window {window} still open {WINDOW_CLOSE_TIMEOUT}s after Ctrl+Shift+W")
            closed.append(window)
        raise HarnessError("chromium", f"more than {MAX_WINDOWS} windows to close")

    def window_ids(self, pid: int | None = None) -> list[str]:
        """Visible top-level X windows of the browser process (``_NET_WM_PID``), as xdotool ids.

        HarnessError when xdotool is missing: "no window" must never be mistaken for "window closed".
        """
        pid = pid if pid is not None else self._browser_pid()
        if pid is None:
            return []
        return self._xdotool("search", "--onlyvisible", "--pid", str(pid), check=False).split()

    def _xdotool(self, *args: str, check: bool = True) -> str:
        """One xdotool command on the candidate's display, through the suite's one OS-input wrapper."""
        from conformance.environment.desktop import Desktop

        if self._desktop is None:  # HarnessError when xdotool is missing or the display does not answer
            self._desktop = Desktop(self.driver.context.env, timeout=15.0)
        return self._desktop.run(list(args), check=check).stdout

    def _browser_pid(self) -> int | None:
        """The browser (main) process: of the processes naming the session's profile, the root of their tree (its
        parent is none of them) that is no helper; the earliest started if there were several.

        Not "the lowest pid without a ``--type=`` argument": Chromium's helpers rewrite their command line into one
        string (setproctitle), so their ``--type=`` is no argument of its own, and after a pid wraparound a helper
        has a lower pid than the browser. Two runs side by side wrap the pids often enough to hit it: RES-01 ended
        "no visible window of the browser (pid 304)", the zygote started just after the wrap (pids restart at 300).
        """
        marker = str(self.user_data_dir)
        found: dict[int, tuple[int, int, str]] = {}  # pid -> (parent, start time, command line)
        for pid in self.pids():
            try:
                text = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                found[pid] = (int(fields[1]), int(fields[19]), text)
            except (OSError, IndexError, ValueError):
                continue
        return browser_process(found, marker)

    def _session_processes(self) -> list[int]:
        """Live processes naming this session's folder (also crashpad, which names only HOME)."""
        marker = str(self.folder)
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if marker not in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    continue
                state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":  # a zombie has exited; its parent reaps it
                found.append(int(entry.name))
        return sorted(found)


def _switch_key(arg: str) -> str:
    """``--name=`` for a switch with a value (its value is in argv), else the argument itself."""
    return arg.split("=", 1)[0] + "=" if arg.startswith("--") and "=" in arg else arg


def browser_process(processes: Mapping[int, tuple[int, int, str]], marker: str) -> int | None:
    """Which of ``processes`` (pid -> parent pid, start time, command line as read from /proc) is the browser whose
    command line names ``marker`` (its profile): the root of their tree that is no ``--type=`` helper, the earliest
    started if there were several (a pid says nothing of the order once the pids have wrapped around)."""
    roots = [pid for pid, (parent, _, text) in processes.items()
             if parent not in processes and marker in text and "--type=" not in text]  # fmt: skip
    return min(roots, key=lambda pid: (processes[pid][1], pid)) if roots else None


def _start_time(pid: int) -> str | None:
    """The process's start time (/proc/PID/stat field 22): tells it from a later process given the same PID."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def _running(pid: int, started: str | None) -> bool:
    """The process that started at ``started`` is still there and not a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return False
    return fields[0] != "Z" and (started is None or fields[19] == started)


def _wait_exit(pid: int, timeout: float) -> bool:
    """Wait (event-based, pidfd) until ``pid`` has exited; True when it did within ``timeout``."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except OSError:
        return not Path(f"/proc/{pid}").exists()
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    finally:
        os.close(fd)


class ChromiumDriver(CandidateDriver):
    name = "chromium"
    kinds = ("secure-browser",)
    Settings = ChromiumSettings

    def __init__(self, settings: ChromiumSettings, context: DriverContext) -> None:
        super().__init__(settings, context)
        self._numbers = count(1)
        self._wrapper: Path | None = None
        self._last_launch: dict[str, Any] = {}  # the launch_record of the latest session (facts())

    def start(self) -> None:
        settings: ChromiumSettings = self.settings  # type: ignore[assignment]
        if settings.mode == "launch" and (settings.policies is not None or self.context.terminal_network):
            self._wrapper = self._terminal_wrapper(settings)

    def executable_for_launch(self) -> Path:
        return self._wrapper or self.settings.executable  # type: ignore[attr-defined]

    def _terminal_wrapper(self, settings: ChromiumSettings) -> Path:
        """A script that starts the browser as it runs on the terminal: in the terminal's network namespace
        (if the run has one) and in a private mount namespace in which the run's copy of /etc/chromium
        (managed policies) and the terminal's /etc/resolv.conf are bound over the real ones. The binds are
        visible to this process tree only and vanish with it; the host's /etc is never written."""
        if shutil.which("unshare") is None:
            raise HarnessError("unshare", "util-linux unshare is needed to apply policies per process")
        binds: list[tuple[Path, str]] = []
        if settings.policies is not None:
            etc = self.context.run_dir / "candidate-etc-chromium"
            managed = etc / "policies" / "managed"
            managed.mkdir(parents=True, exist_ok=True)
            shutil.copy(settings.policies, managed / "conformance.json")
            if Path("/etc/chromium/master_preferences").exists():
                shutil.copy("/etc/chromium/master_preferences", etc / "master_preferences")
            binds.append((etc, "/etc/chromium"))
        network = self.context.terminal_network
        if network is not None:
            binds.append((network.resolv_conf, "/etc/resolv.conf"))
        inner = " && ".join(f"mount --bind {shlex.quote(str(src))} {dst}" for src, dst in binds) + ' && exec "$@"'
        enter = " ".join(shlex.quote(arg) for arg in network.enter_argv) + " " if network is not None else ""
        wrapper = self.context.run_dir / "bin" / f"chromium-on-terminal-{next(_WRAPPERS)}"
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(
            "#!/bin/sh\n"
            f"exec {enter}unshare --mount --propagation private /bin/sh -c {shlex.quote(inner)} "
            f"chromium {shlex.quote(str(settings.executable))} \"$@\"\n",
            encoding="utf-8",
        )
        wrapper.chmod(0o755)
        probe = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True
        )
        if probe.returncode != 0:
            raise HarnessError("unshare", f"cannot create a mount namespace: {probe.stderr.strip()}")
        return wrapper

    def new_session(self) -> ChromiumSession:
        folder = self.context.run_dir / "sessions" / f"{next(self._numbers):03d}"
        return ChromiumSession(self, folder)

    def note_launch(self, record: dict[str, Any]) -> None:
        self._last_launch.clear()
        self._last_launch.update(record)

    def facts(self) -> dict[str, Any]:
        """The candidate's real command line (the session folders, with their launch.json, go with the run's
        work folder). The dict is filled in as sessions start: every session is started alike, only its
        folder and pid differ, and the latest one is kept."""
        return {"launch": self._last_launch}
