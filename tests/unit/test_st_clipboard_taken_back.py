"""CLIP-01 on a screen transfer: a copy that the client's own terminal-to-remote sync took back during the watch
(``undone_by_the_terminal``) is made again, never believed as "nothing crossed"; an emptied or other value is the
product's own business (it may block a copy so)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from conformance.cases.test_st_clipboard import undone_by_the_terminal

CANARY = "CNRY-TESTREMOTE-650f603297"
EARLIER = "CNRY-TESTREMOTE-d13913ed09"  # the previous case's canary, still on the terminal


class Selections:
    """The remote X selections as the driver offers them (read, own), held in memory."""

    def __init__(self, **held: str | None) -> None:
        self.held = held

    def read(self, selection: str = "clipboard") -> str | None:
        return self.held.get(selection)

    def own(self, selection: str, text: str) -> None:
        self.held[selection] = text


def driver(selections: Selections | None) -> Any:
    return SimpleNamespace(remote=SimpleNamespace(selections=selections))


def observed(clipboard: str | None, primary: str | None = None) -> dict[str, Any]:
    return {"last_values": {"terminal OS CLIPBOARD": clipboard, "terminal OS PRIMARY": primary}}


@pytest.mark.parametrize(("method", "selection"), [("remote-app-clipboard", "clipboard"), ("keyboard", "clipboard"),
                                                    ("primary-selection", "primary")])  # fmt: skip
def test_a_copy_replaced_with_what_the_terminal_holds_was_taken_back(method: str, selection: str) -> None:
    after = undone_by_the_terminal(method, driver(Selections(**{selection: EARLIER})), CANARY, observed(EARLIER))
    assert after == {"selection": selection, "holds": EARLIER, "undone": True}


@pytest.mark.parametrize("held", [CANARY, None, "", "CNRY-NEUTRAL-1234"])
def test_a_copy_still_held_or_emptied_or_replaced_otherwise_was_not(held: str | None) -> None:
    after = undone_by_the_terminal("remote-app-clipboard", driver(Selections(clipboard=held)), CANARY,
                                   observed(EARLIER, EARLIER))  # fmt: skip
    assert after is not None and after["undone"] is False and after["holds"] == held


def test_an_empty_terminal_never_makes_an_empty_remote_side_taken_back() -> None:
    after = undone_by_the_terminal("remote-app-clipboard", driver(Selections(clipboard=None)), CANARY, observed(None))
    assert after is not None and after["undone"] is False


def test_without_the_remote_selections_nothing_is_said() -> None:
    assert undone_by_the_terminal("remote-app-clipboard", driver(None), CANARY, observed(EARLIER)) is None
