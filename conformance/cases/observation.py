"""Evidence first: how a case combines several oracles into one outcome.

A crossing that any oracle saw decides the case as ``fail``, even when another oracle of the same case
could not run (an undecodable wire, a remote side that cannot be read). Only when nothing was seen does
a missing oracle make the case ``error``; and only when every oracle ran and saw nothing does it pass.
Cases read each fallible oracle through ``Observation.read`` so that one broken oracle never hides
what the others saw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from conformance.errors import HarnessError

T = TypeVar("T")


class Observation:
    """What the oracles of one case saw (``crossings``) and which of them could not look (``missing``)."""

    def __init__(self) -> None:
        self.crossings: dict[str, Any] = {}  # oracle name -> what it saw cross
        self.missing: dict[str, HarnessError] = {}  # oracle name -> why it could not look (first reason)

    def read(self, oracle: str, reader: Callable[[], T], default: T) -> T:
        """``reader()``, or ``default`` when the oracle cannot look (the reason is kept for ``decide``).
        A later successful read clears it: oracles read here report their whole history (a recorded wire)."""
        try:
            value = reader()
        except HarnessError as exc:
            self.missing.setdefault(oracle, exc)
            return default
        self.missing.pop(oracle, None)
        return value

    def blind(self, oracle: str, error: HarnessError) -> None:
        """Record that ``oracle`` could not look, found by the case itself (e.g. a capture with a gap)."""
        self.missing.setdefault(oracle, error)

    def finding_only(self, oracle: str) -> None:
        """``oracle`` reports findings but does not decide: that it could not look makes no ``error``."""
        self.missing.pop(oracle, None)

    def saw(self, oracle: str, detail: Any) -> None:
        """Record a crossing ``oracle`` observed (the first detail per oracle is kept)."""
        self.crossings.setdefault(oracle, detail)

    def decide(self, message: str) -> None:
        """Fail on any crossing, else raise the first missing oracle's HarnessError, else return (pass)."""
        if self.crossings:
            seen = ", ".join(f"{name}: {detail}" for name, detail in self.crossings.items())
            also = f" (not observable: {', '.join(self.missing)})" if self.missing else ""
            raise AssertionError(f"{message}: {seen}{also}")
        if self.missing:
            name, first = next(iter(self.missing.items()))
            raise HarnessError(first.component, f"nothing was seen, but the {name} oracle could not look: "
                                                f"{first.reason}")

    def to_json(self) -> dict[str, Any]:
        return {"crossings": self.crossings, "not_observable": {k: str(v) for k, v in self.missing.items()}}
