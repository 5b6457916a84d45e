"""The small interface every candidate driver implements.

Cases talk to a ``CandidateSession`` only: open a page as a user would, act, and end the session the
way a user ends it. Where the candidate writes on the terminal's disk (``disk_roots``) is what the
file-system oracles scan; the driver never observes anything itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo


class DriverSettings(BaseModel):
    """Base for a driver's ``[driver]`` table; paths resolve against the profile's folder."""

    model_config = ConfigDict(extra="forbid")

    name: str


def resolve_path(value: str | Path, info: ValidationInfo) -> Path:
    """Resolve a profile path against the profile's folder (validation context ``base_dir``)."""
    path = Path(value).expanduser()
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


@dataclass(frozen=True)
class DriverContext:
    """What the harness hands a driver: where to write, how to reach the network, the display."""

    run_dir: Path
    proxy_url: str
    proxy_spki: str
    env: Mapping[str, str]
    playwright: Any  # playwright.sync_api.Playwright
    headed: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)


class CandidateSession(ABC):
    """One user session on the candidate."""

    page: Any  # playwright.sync_api.Page the user acts through
    disk_roots: list[Path]  # everywhere this session could leave files on the terminal (residue)
    download_roots: list[Path]  # where a user's files land (home, temp), the browser's own store excluded
    # How the last close_as_user went (method, exited by itself, leftovers): evidence for residue checks.
    close_record: dict[str, Any] = {}  # noqa: RUF012 - replaced per instance by drivers that close for real

    @abstractmethod
    def open(self, url: str) -> Any:
        """Open ``url`` in the candidate as a user would (address bar / bookmark) and return the page."""

    @abstractmethod
    def close_as_user(self) -> None:
        """End the session the way a person does (close the window), not by killing the process."""

    def pids(self) -> list[int]:
        """Processes of the candidate on this terminal (for the ports oracle)."""
        return []

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

    @contextmanager
    def session(self) -> Iterator[CandidateSession]:
        session = self.new_session()
        try:
            yield session
        finally:
            session.close_as_user()
