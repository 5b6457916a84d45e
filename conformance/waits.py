"""Waiting, written once: how a case waits for something to happen, and how long it watches before it
concludes that nothing crossed.

Two kinds of wait, and only two:

* **for an event** (``until``): the page's report of an act, a window, a file. It ends as soon as the event
  is there; the timeout only bounds a harness that broke, and running into it is a ``HarnessError`` at the
  caller, never a verdict.
* **for quiet** (``watch`` with a ``QuietBound``): after an act, how long a case watches a channel before it
  may say "nothing crossed". The bound is not a constant: it is the slowest crossing measured for that
  channel (on the open reference, kept in ``data/crossing-times.toml``; or by a positive control earlier in
  the same run, whichever is slower) times ``SAFETY_FACTOR``, never below the channel's floor. The bound and
  its basis go into the evidence, so a reviewer can see why the case stopped watching when it did.

Every wait is counted for the case that runs it (``WaitLedger``): the result says how much of a case was
waiting and how much was acting (``benchmarks/``).
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from conformance.errors import InputError

T = TypeVar("T")

CROSSING_TIMES = Path(__file__).resolve().parent / "data" / "crossing-times.toml"
# The figures are already the slowest crossings seen on the open references, measured on a 2-core machine
# while the whole suite ran; the factor allows for a slower machine or a busier moment, and each channel's
# floor for what no open reference shows (a product's own queueing: a transfer dialog, a clipboard manager).
SAFETY_FACTOR = 3.0
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Crossing:
    """The slowest crossing measured on one channel, and where it was measured."""

    channel: str
    seconds: float
    floor: float  # a "nothing crossed" watch is never shorter than this, however fast the crossing
    measured_on: str  # e.g. "chromium-open, 2026-12-05, 28 crossings"


@dataclass(frozen=True)
class QuietBound:
    """How long a case watches ``channel`` after its act before it concludes that nothing crossed."""

    channel: str
    seconds: float
    crossing: Crossing
    factor: float

    def evidence(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "watched_seconds": round(self.seconds, 2),
            "slowest_crossing_seconds": self.crossing.seconds,
            "measured_on": self.crossing.measured_on,
            "safety_factor": self.factor,
            "floor_seconds": self.crossing.floor,
            "basis": f"max({self.crossing.floor} s, {self.factor:g} × {self.crossing.seconds} s, the slowest "
                     f"crossing measured on {self.crossing.measured_on})",
        }


def load_crossings(path: Path = CROSSING_TIMES) -> dict[str, Crossing]:
    """The package's crossing figures (``conformance/data/crossing-times.toml``). InputError when malformed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(str(path), "", f"cannot read the crossing figures: {exc}",
                         "restore the file from the package") from exc
    crossings: dict[str, Crossing] = {}
    for name, entry in (data.get("channel") or {}).items():
        where = f"channel.{name}"
        if not isinstance(entry, dict):
            raise InputError(str(path), where, "not a table", "write [channel.NAME] with seconds, floor, measured_on")
        seconds, floor, measured_on = entry.get("seconds"), entry.get("floor"), entry.get("measured_on")
        for key, value in (("seconds", seconds), ("floor", floor)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 120:
                raise InputError(str(path), f"{where}.{key}", f"{value!r} is not a number of seconds in (0, 120)",
                                 "give the measured seconds, e.g. 0.4")
        if not isinstance(measured_on, str) or not measured_on.strip():
            raise InputError(str(path), f"{where}.measured_on", "missing", "say which reference, when, how many")
        crossings[name] = Crossing(name, float(seconds), float(floor), measured_on)  # type: ignore[arg-type]
    return crossings


class CrossingTimes:
    """The crossing figures of one run: the package's, raised by positive controls measured in this run."""

    def __init__(self, package: dict[str, Crossing], factor: float = SAFETY_FACTOR) -> None:
        self._package = dict(package)
        self._measured: dict[str, Crossing] = {}
        self.factor = factor

    def record(self, channel: str, seconds: float, how: str) -> None:
        """A positive control in this run saw a crossing on ``channel`` take ``seconds``."""
        known = self._package.get(channel)
        floor = known.floor if known else 1.0
        previous = self._measured.get(channel)
        if previous is None or seconds > previous.seconds:
            self._measured[channel] = Crossing(channel, round(seconds, 3), floor, f"this run ({how})")

    def bound(self, channel: str) -> QuietBound:
        candidates = [c for c in (self._package.get(channel), self._measured.get(channel)) if c is not None]
        if not candidates:  # a programming error: every channel a case watches has a package figure
            raise KeyError(f"no crossing figure for channel {channel!r} in {CROSSING_TIMES.name}")
        slowest = max(candidates, key=lambda c: c.seconds)
        return QuietBound(channel, max(slowest.floor, self.factor * slowest.seconds), slowest, self.factor)


# -- the per-case ledger ------------------------------------------------------------------------------
@dataclass
class WaitLedger:
    """Seconds a case spent waiting (for events, for quiet, in deliberate pauses)."""

    seconds: float = 0.0
    waits: int = 0
    by_kind: dict[str, float] = field(default_factory=dict)
    depth: int = 0  # a wait inside a wait (a predicate that waits) is counted once, by the outer one

    def add(self, kind: str, seconds: float) -> None:
        self.seconds += seconds
        self.waits += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0.0) + seconds


_LEDGER: ContextVar[WaitLedger | None] = ContextVar("conformance_wait_ledger", default=None)


@contextmanager
def ledger() -> Iterator[WaitLedger]:
    """Count every wait inside the block (the plugin opens one per case)."""
    book = WaitLedger()
    token = _LEDGER.set(book)
    try:
        yield book
    finally:
        _LEDGER.reset(token)


def current_ledger() -> WaitLedger | None:
    """The ledger of the case running now (None outside a case)."""
    return _LEDGER.get()


@contextmanager
def _counted(kind: str) -> Iterator[None]:
    book = _LEDGER.get()
    if book is None:
        yield
        return
    started = time.monotonic()
    book.depth += 1
    try:
        yield
    finally:
        book.depth -= 1
        if book.depth == 0:
            book.add(kind, time.monotonic() - started)


def _sleep(seconds: float, page: Any | None) -> None:
    if seconds <= 0:
        return
    if page is not None:  # keeps Playwright delivering the page's events meanwhile, unlike time.sleep
        page.wait_for_timeout(max(1, round(seconds * 1000)))
    else:
        time.sleep(seconds)


# -- the waits ----------------------------------------------------------------------------------------
def until(predicate: Callable[[], T], timeout: float, *, page: Any | None = None,
          interval: float = POLL_SECONDS) -> T:
    """Poll ``predicate`` until it returns something truthy or ``timeout`` passes; return its last value.

    With ``page`` (a Playwright page), waits with ``page.wait_for_timeout`` so that page events keep coming."""
    with _counted("event"):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() >= deadline:
                return value
            _sleep(min(interval, max(0.0, deadline - time.monotonic())), page)


def pause(seconds: float, *, page: Any | None = None) -> None:
    """A deliberate fixed pause where no event exists to wait for (a native menu closing, GTK filling a
    field). Say why at the call site."""
    with _counted("pause"):
        _sleep(seconds, page)


@dataclass
class Watched(Generic[T]):
    """What a quiet watch saw: the last observation, whether it was a crossing, and after how long."""

    value: T
    crossed: bool
    seconds: float
    bound: QuietBound

    def evidence(self) -> dict[str, Any]:
        return {**self.bound.evidence(), "crossed": self.crossed, "seconds_after_act": round(self.seconds, 3)}


def watch(observe: Callable[[], T], bound: QuietBound, *, crossed: Callable[[T], bool] = bool,
          page: Any | None = None, interval: float = POLL_SECONDS, started: float | None = None) -> Watched[T]:
    """Observe a channel after an act until a crossing shows (``crossed(value)``) or ``bound`` passes.

    The bound always runs from the start of the watch. ``started`` (``time.monotonic()``) is when the act
    itself happened, if a wait for the act's proof came in between: the crossing time is said from then."""
    with _counted("quiet"):
        deadline = time.monotonic() + bound.seconds
        t0 = time.monotonic() if started is None else started
        while True:
            value = observe()
            now = time.monotonic()
            if crossed(value):
                return Watched(value, True, now - t0, bound)
            if now >= deadline:
                return Watched(value, False, now - t0, bound)
            _sleep(min(interval, max(0.0, deadline - now)), page)
