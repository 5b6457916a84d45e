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
import json
import os
import signal
import shutil
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
        self.context = self._launch() if driver.settings.mode == "launch" else self._attach()
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self._native_downloads()

    # -- starting ----------------------------------------------------------------------------------
    def _preferences(self) -> None:
        # What a user would have configured: downloads go to ~/Downloads without asking, and
        # "Save as PDF" is the default print destination when printing is allowed at all.
        prefs = {
            "download": {"default_directory": str(self.downloads), "prompt_for_download": False},
            "savefile": {"default_directory": str(self.downloads)},
            "profile": {"exit_type": "Normal", "exited_cleanly": True},
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
        """Close every window the way a user does; the browser then shuts down on its own."""
        if self._closed:
            return
        self._closed = True
        if self.driver.settings.mode == "attach":  # type: ignore[attr-defined]
            self._browser.close()  # disconnects only; the vendor's browser keeps running
            return
        try:
            for page in list(self.context.pages):
                page.close(run_before_unload=False)
            self.context.close()
        except Exception:
            pass
        # If the candidate ignored the close, stop what is left so no process outlives the session.
        deadline = time.monotonic() + 5
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


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
