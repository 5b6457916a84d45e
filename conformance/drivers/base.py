"""The small interface every candidate driver implements.

Cases talk to a ``CandidateSession`` only: open a page as a user would, act, and end the session the
way a user ends it. Where the candidate writes on the terminal's disk (``disk_roots``) is what the
file-system oracles scan; the driver never observes anything itself.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationInfo


class DriverSettings(BaseModel):
    """Base for a driver's ``[driver]`` table; paths resolve against the profile's folder."""

    model_config = ConfigDict(extra="forbid")

    name: str


NAME_MAX, PATH_MAX = 255, 4096  # Linux: longer names make every look-up fail (ENAMETOOLONG)


def resolve_path(value: Any, info: ValidationInfo) -> Path:
    """Resolve a profile path against the profile's folder (validation context ``base_dir``).

    A value that cannot be a path (not text, a NUL, a name too long for the file system, ~ of an unknown user)
    raises ValueError, which pydantic reports as a validation error of the field.
    """
    if not isinstance(value, str | Path):
        raise ValueError(f"expected a path as text, not {type(value).__name__}")
    try:
        path = Path(value).expanduser()
    except RuntimeError as exc:  # "~someone" of no such user
        raise ValueError(f"{value!r}: {exc}") from None
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if "\x00" in str(path) or len(os.fsencode(path)) >= PATH_MAX or any(
        len(os.fsencode(part)) > NAME_MAX for part in path.parts
    ):
        raise ValueError(f"{str(value)[:80]!r} is not a usable path (a NUL byte, or a name too long)")
    return path


@dataclass(frozen=True)
class TerminalNetwork:
    """The terminal's network namespace as a driver uses it (``environment.terminal_netns``)."""

    enter_argv: tuple[str, ...]  # prefix that runs a command inside the namespace
    resolv_conf: Path  # the terminal's /etc/resolv.conf, to bind over the real one


@dataclass(frozen=True)
class DriverContext:
    """What the harness hands a driver: where to write, how to reach the network, the display."""

    run_dir: Path
    proxy_url: str
    proxy_spki: str
    env: Mapping[str, str]
    playwright: Any  # playwright.sync_api.Playwright
    headed: bool = True
    # Namespace observation: run the terminal's programs inside it (then they need no proxy setting).
    # None: proxy observation, the candidate is told to use ``proxy_url``.
    terminal_network: TerminalNetwork | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class CandidateSession(ABC):
    """One user session on the candidate."""

    page: Any  # playwright.sync_api.Page the user acts through
    disk_roots: list[Path]  # everywhere this session could leave files on the terminal (residue)
    download_roots: list[Path]  # where a user's files land: the home first, then temp; the browser's own store excluded
    # How the last close_as_user went (method, exited by itself, leftovers): evidence for residue checks.
    close_record: dict[str, Any] = {}  # noqa: RUF012 - replaced per instance by drivers that close for real
    # How the candidate was started: its real command line and why each switch the harness added is there
    # (evidence: "the candidate as deployed"); {} where the harness did not start it.
    launch_record: dict[str, Any] = {}  # noqa: RUF012 - replaced per instance by drivers that launch

    @abstractmethod
    def open(self, url: str) -> Any:
        """Open ``url`` in the candidate as a user would (address bar / bookmark) and return the page."""

    @abstractmethod
    def close_as_user(self) -> None:
        """End the session the way a person does (close the window), not by killing the process."""

    def pids(self) -> list[int]:
        """Processes of the candidate on this terminal (for the ports oracle)."""
        return []

    def crashed(self) -> str:
        """Why the candidate is gone although nobody closed the session (a crash, a kill), naming it; "" while it
        runs. A case during which this became true decided nothing (plugin: ``_lost_during``)."""
        return ""

    def unresponsive(self, timeout: float = 3.0) -> str:
        """Why the page the user acts on does not answer now, naming it; "" when it answers, or when it cannot be
        asked (no page, the browser gone: ``crashed`` says that). Asked after a case ended in an error: a time-out
        names what the case waited for, this what hung."""
        page = getattr(self, "page", None)
        if page is None or self.crashed():
            return ""
        try:
            page.wait_for_function("true", timeout=timeout * 1000)  # evaluate has no time-out; this has one
        except Exception as exc:
            if "Timeout" not in type(exc).__name__ + str(exc):
                return ""  # closed, navigated away: not a hang
            return (f"[candidate] the candidate's page stopped answering: it ran no script within {timeout:.0f} s (a "
                    "script that never ends, a hung renderer) / 候補のページが応答しなくなった")
        return ""

    def screenshot(self, path: Path) -> Path | None:
        try:
            self.page.screenshot(path=str(path))
        except Exception:  # a screenshot is supporting evidence only
            return None
        return path


class CandidateDriver(ABC):
    name: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]
    Settings: ClassVar[type[DriverSettings]]

    def __init__(self, settings: DriverSettings, context: DriverContext) -> None:
        self.settings = settings
        self.context = context

    def start(self) -> None:  # noqa: B027 - optional hook
        """Start what the whole run shares (e.g. a reference stack)."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop what ``start`` started."""

    @abstractmethod
    def new_session(self) -> CandidateSession: ...

    def facts(self) -> dict[str, Any]:
        """What the harness did to or around the candidate that a reader of the result must know (evidence:
        "the candidate as deployed"); recorded in conformance.json under ``environment.driver``."""
        return {}

    def platform_pids(self) -> list[int]:
        """Processes of a remote platform the suite runs on this machine (a reference stack): information
        for the ports oracle, never the candidate's own."""
        return []

    def lost(self) -> str:
        """What the driver started for the whole run (a reference stack's server, gateway, remote browser) and has
        since died, as "[component] why"; "" while all of it runs. A case during which this became true decided
        nothing, and no later case can (plugin: ``_lost_during``)."""
        return ""

    @contextmanager
    def session(self) -> Iterator[CandidateSession]:
        session = self.new_session()
        try:
            yield session
        finally:
            session.close_as_user()


# -- screen transfer: what a case may use -------------------------------------------------------------
# A screen-transfer case sees three capabilities and nothing else: the client's canvas (a person's mouse
# and keyboard), the remote side (the suite's probe page shown on the remote desktop, the product's own
# hooks, and supporting oracles where the remote platform is on this machine), and where the wire runs
# (the cases decode what the network oracle recorded there into one neutral model). Which product is
# behind them is the driver's business.


class ScreenTransferSession(CandidateSession):
    """A person at the terminal using a screen-transfer client: the canvas is all they touch."""

    connected_at: float  # epoch seconds when the client was connected (the wire is taken from here)

    @abstractmethod
    def connect(self) -> Any:
        """(Re)load the client page and wait until it is connected and its canvas shows the remote side."""

    @abstractmethod
    def click_remote(self, rx: float, ry: float, button: str = "left") -> None:
        """Click at canvas pixel (rx, ry) as a person's mouse would."""

    @abstractmethod
    def type_remote(self, text: str, delay_ms: int = 20) -> None:
        """Type ``text`` on the keyboard while the canvas has the focus."""

    @abstractmethod
    def press_remote(self, keys: str) -> None:
        """Press a key chord (Playwright notation, ``Control+c``) while the canvas has the focus."""

    @abstractmethod
    def to_page(self, rx: float, ry: float) -> tuple[float, float]:
        """Canvas pixel → terminal page coordinates (for a drop at that point)."""

    @abstractmethod
    def client_clipboard_text(self) -> str | None:
        """What the client's own clipboard panel holds; None when the client has no panel."""

    @abstractmethod
    def set_client_clipboard(self, text: str) -> bool:
        """Type ``text`` into the client's clipboard panel as a user would; False when it has none."""

    @abstractmethod
    def open_clipboard_panel(self) -> bool:
        """Show the client's clipboard panel; False when it has none."""

    @abstractmethod
    def paste_into_clipboard_panel(self) -> str | None:
        """Paste the terminal's OS clipboard into the client's panel with Ctrl+V, as a user would, and close
        it (the client sends on change). Returns what the panel then holds; None when it has none."""

    @abstractmethod
    def upload_controls(self) -> list[str]:
        """Selectors of the client's own upload UI (a file input or a menu entry), in the order to use."""

    @abstractmethod
    def open_upload_dialog(self) -> list[str]:
        """Walk the client's own upload UI with real clicks until the native file dialog opens (the case
        answers the dialog on the terminal's display). Returns the steps done; HarnessError when a step
        could not be done."""

    def canvas_crop(self, path: Path, rx: int, ry: int, width: int, height: int) -> Path | None:
        """A PNG of a canvas rectangle (supporting evidence); None when the canvas cannot be read."""
        return None


@dataclass(frozen=True)
class HookResult:
    """What a product hook (a command of the remote platform) did: evidence, and whether it ran."""

    name: str
    argv: list[str]
    returncode: int | None
    output: str
    seconds: float

    @property
    def ran(self) -> bool:
        return self.returncode == 0


class RemoteProbe(Protocol):
    """The suite's probe page on the remote desktop: what it shows and what it reports back (implemented by
    ``oracles.remote.ProbeReports``; a Protocol, so the oracle layer needs nothing from the drivers)."""

    canary: str  # the SHOWN canary: text the probe displays, copies and downloads

    def target(self, name: str) -> tuple[int, int]:
        """Centre of a probe element in canvas pixels, from the geometry the probe itself reported."""

    def rect(self, name: str) -> tuple[int, int, int, int]:
        """x, y, w, h of a probe element in canvas pixels (from the probe's own report)."""

    def reports_since(self, since: float, event: str | None = None) -> list[dict[str, Any]]:
        """Reports the probe sent since ``since`` (epoch seconds), optionally of one event."""

    def wait_for(self, event: str, contains: str, since: float, timeout: float = 15.0,
                 predicate: Any = None) -> dict[str, Any]:
        """The first report of ``event`` since ``since`` whose value holds ``contains``; HarnessError after
        ``timeout``, naming a dead remote side when the probe stopped reporting altogether."""

    def loaded(self) -> dict[str, Any] | None:
        """The probe's newest "loaded" report (its layout and window metrics), None before it loaded."""

    def ensure_alive(self) -> None:
        """Before a case: the probe still reports (reopened once if not); HarnessError saying the remote
        side died otherwise, and at once for every later case."""


class RemoteSelections(Protocol):
    """The remote desktop's X selections, where the remote platform runs on this machine (supporting;
    implemented by ``oracles.remote.XSelections``)."""

    def read(self, selection: str = "clipboard") -> str | None: ...

    def own(self, selection: str, text: str) -> None:
        """A remote application owns ``selection`` with ``text`` (returns once it reads back)."""


class ProbeFactory(Protocol):
    """Made by the harness (the oracle layer) for a driver: the probe's reports for ``canary``."""

    def __call__(self, canary: str, canvas_shows: str, reopen: Any) -> RemoteProbe: ...


@dataclass
class RemoteSide:
    """The far end of the session as the suite sees it. ``probe`` exists for every product (the remote-side
    contract of the profile); ``selections`` and the folders only where the remote platform runs here (the
    bundled references, a lab machine the profile points at): they are supporting oracles, never needed."""

    probe: RemoteProbe
    selections: RemoteSelections | None = None
    downloads_dir: Path | None = None  # where the remote browser saves downloads and PDFs
    file_roots: list[Path] = field(default_factory=list)  # every remote folder a file could land in
    hooks: Mapping[str, Any] = field(default_factory=dict)  # name -> callable(**values) -> HookResult
    pids: Any = None  # callable() -> list[int]: processes of the remote platform on this machine

    def hook(self, name: str) -> Any:
        """The product hook ``name`` (``push_file``, ``print_file``) or None when the profile has none."""
        return self.hooks.get(name)

    def platform_pids(self) -> list[int]:
        return list(self.pids()) if self.pids is not None else []


@dataclass(frozen=True)
class WireEndpoint:
    """Where the screen-transfer wire runs and how it is spoken: the cases take the recorded websocket
    messages to ``host`` from the network oracle and decode them with ``protocol`` (``oracles.wire``).
    The driver declares it; it never reads what the oracle recorded."""

    host: str
    port: int
    protocol: str  # a key of oracles.wire.DECODERS, or "opaque"


class ScreenTransferDriver(CandidateDriver):
    """A driver for a screen-transfer client; cases use only ``remote``, ``wire`` and the session."""

    remote: RemoteSide
    wire: WireEndpoint

    @abstractmethod
    def new_session(self, connect: bool = True) -> ScreenTransferSession: ...

    def platform_pids(self) -> list[int]:
        return self.remote.platform_pids()
