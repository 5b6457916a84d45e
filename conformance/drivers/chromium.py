"""Driver for a Chromium-based secure browser: launched with Playwright, or attached to over CDP.

Launch mode gives every session a fresh profile, home and temp folder inside the run folder, so the
file-system oracles can tell exactly what the session left behind. Managed policies apply to the
candidate's process only: a private mount namespace binds a run-local copy of /etc/chromium over the
real one (the host's /etc is never written).

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
import shutil
import signal
import subprocess
import time
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
MAX_WINDOWS = 8


class ChromiumSettings(DriverSettings):
    mode: Literal["launch", "attach"] = "launch"
    executable: Path = Path("/usr/lib/chromium/chromium")
    args: list[str] = Field(default_factory=list)
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
        self.close_record: dict[str, Any] = {}  # how close_as_user ended the session (evidence)
        self.context = self._launch() if driver.settings.mode == "launch" else self._attach()
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
        args = [
            f"--proxy-server={context.proxy_url}",
            "--proxy-bypass-list=<-loopback>",  # loopback too goes through the oracle
            f"--ignore-certificate-errors-spki-list={context.proxy_spki}",  # trust the run's proxy CA only
            f"--window-size={settings.window_size[0]},{settings.window_size[1]}",
            "--window-position=0,0",
            *settings.args,
        ]
        ignore_default_args = list(settings.ignore_default_args)
        if settings.extensions:
            folders = ",".join(str(path) for path in settings.extensions)
            args += [f"--load-extension={folders}", f"--disable-extensions-except={folders}"]
            ignore_default_args.append("--disable-extensions")
        try:
            return context.playwright.chromium.launch_persistent_context(
                str(self.user_data_dir),
                executable_path=str(self.driver.executable_for_launch()),
                headless=not context.headed,
                args=args,
                ignore_default_args=ignore_default_args or None,
                env=env,
                viewport=None,
                timeout=30_000,
            )
        except Exception as exc:
            raise HarnessError("chromium", f"candidate did not start: {str(exc).splitlines()[0]}") from exc

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
        env = {**os.environ, **self.driver.context.env}
        tool = shutil.which("xdotool", path=env.get("PATH"))
        if tool is None:
            raise HarnessError("xdotool", "xdotool not found on PATH: cannot act on the candidate's window")
        try:
            done = subprocess.run([tool, *args], env=env, capture_output=True, text=True, timeout=15)
        except subprocess.TimeoutExpired as exc:
            raise HarnessError("xdotool", f"xdotool {' '.join(args)} timed out") from exc
        if check and done.returncode != 0:
            raise HarnessError("xdotool", f"xdotool {' '.join(args)} rc={done.returncode}: {done.stderr.strip()}")
        return done.stdout

    def _browser_pid(self) -> int | None:
        """The browser (main) process: the session's profile on its command line, no ``--type=``."""
        marker = str(self.user_data_dir)
        for pid in self.pids():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            if any(marker in arg for arg in argv) and not any(arg.startswith("--type=") for arg in argv):
                return pid
        return None

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

    def start(self) -> None:
        settings: ChromiumSettings = self.settings  # type: ignore[assignment]
        if settings.mode == "launch" and settings.policies is not None:
            self._wrapper = self._policy_wrapper(settings)

    def executable_for_launch(self) -> Path:
        return self._wrapper or self.settings.executable  # type: ignore[attr-defined]

    def _policy_wrapper(self, settings: ChromiumSettings) -> Path:
        if shutil.which("unshare") is None:
            raise HarnessError("unshare", "util-linux unshare is needed to apply policies per process")
        etc = self.context.run_dir / "candidate-etc-chromium"
        managed = etc / "policies" / "managed"
        managed.mkdir(parents=True, exist_ok=True)
        shutil.copy(settings.policies, managed / "conformance.json")  # type: ignore[arg-type]
        if Path("/etc/chromium/master_preferences").exists():
            shutil.copy("/etc/chromium/master_preferences", etc / "master_preferences")
        wrapper = self.context.run_dir / "bin" / "chromium-with-policies"
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        # A private mount namespace: the bind is visible to this process tree only and vanishes with it.
        wrapper.write_text(
            "#!/bin/sh\n"
            "exec unshare --mount --propagation private /bin/sh -c "
            "'mount --bind \"$0\" /etc/chromium && exec \"$@\"' "
            f"'{etc}' '{settings.executable}' \"$@\"\n",
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
