"""conformance.waits and conformance.oracles.site_reports: bounds, polling, the per-case ledger."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from conformance import waits
from conformance.errors import HarnessError, InputError
from conformance.oracles.site_reports import Reports
from conformance.waits import Crossing, CrossingTimes, load_crossings


def test_package_figures_load_and_cover_every_channel_the_cases_watch() -> None:
    crossings = load_crossings()
    cases = Path(waits.__file__).parent / "cases"
    used = set()
    for source in cases.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        used |= {part.split('"')[1] for part in text.split('.bound(')[1:]}
    used |= {"st-wire"}  # remote_desktop.outbound_wire asks through a variable-free call as well
    assert used <= set(crossings), f"channels without a figure: {used - set(crossings)}"
    for crossing in crossings.values():
        assert crossing.seconds > 0 and crossing.floor > 0 and crossing.measured_on


def test_bound_is_factor_times_slowest_crossing_never_below_floor() -> None:
    times = CrossingTimes({"a": Crossing("a", 0.1, 1.0, "ref"), "b": Crossing("b", 2.0, 1.0, "ref")}, factor=3)
    assert times.bound("a").seconds == 1.0  # floor
    assert times.bound("b").seconds == pytest.approx(6.0)
    evidence = times.bound("b").evidence()
    assert evidence["watched_seconds"] == 6.0 and "3 × 2.0 s" in evidence["basis"] and evidence["measured_on"] == "ref"


def test_positive_control_in_the_run_raises_the_bound_but_never_lowers_it() -> None:
    times = CrossingTimes({"a": Crossing("a", 1.0, 0.5, "ref")}, factor=3)
    times.record("a", 0.2, "control")
    assert times.bound("a").seconds == pytest.approx(3.0)
    times.record("a", 2.0, "control")
    bound = times.bound("a")
    assert bound.seconds == pytest.approx(6.0) and "this run (control)" in bound.crossing.measured_on


def test_unknown_channel_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        CrossingTimes({}).bound("nope")


@pytest.mark.parametrize("body, field", [
    ('[channel.a]\nseconds = "1"\nfloor = 1\nmeasured_on = "x"\n', "channel.a.seconds"),
    ('[channel.a]\nseconds = 1\nfloor = 0\nmeasured_on = "x"\n', "channel.a.floor"),
    ('[channel.a]\nseconds = 1\nfloor = 1\n', "channel.a.measured_on"),
    ("[channel]\na = 3\n", "channel.a"),
    ("[channel.a\n", ""),
])
def test_malformed_figures_are_rejected_naming_the_field(tmp_path: Path, body: str, field: str) -> None:
    path = tmp_path / "crossing-times.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_crossings(path)
    assert info.value.file == str(path) and info.value.field == field


def test_until_returns_the_first_truthy_value_and_counts_the_wait() -> None:
    calls = iter([None, 0, "found"])
    with waits.ledger() as book:
        assert waits.until(lambda: next(calls), 5, interval=0.01) == "found"
    assert book.waits == 1 and 0 < book.seconds < 5 and set(book.by_kind) == {"event"}


def test_until_gives_up_at_the_timeout_with_the_last_value() -> None:
    started = time.monotonic()
    assert waits.until(lambda: [], 0.05, interval=0.01) == []
    assert time.monotonic() - started >= 0.05


def test_watch_ends_at_the_bound_when_nothing_crosses_and_early_when_it_does() -> None:
    bound = CrossingTimes({"a": Crossing("a", 0.01, 0.05, "ref")}).bound("a")
    quiet = waits.watch(lambda: [], bound, interval=0.01)
    assert not quiet.crossed and quiet.seconds >= 0.05
    seen = iter([[], ["hit"]])
    crossed = waits.watch(lambda: next(seen, ["hit"]), bound, interval=0.01)
    assert crossed.crossed and crossed.value == ["hit"]
    assert crossed.evidence()["crossed"] is True and crossed.evidence()["channel"] == "a"


def test_a_wait_inside_a_wait_is_counted_once() -> None:
    with waits.ledger() as book:
        waits.until(lambda: waits.until(lambda: True, 1) and True, 1)
        waits.pause(0.01)
    assert book.waits == 2 and set(book.by_kind) == {"event", "pause"}


def test_waits_outside_a_case_are_not_counted_anywhere() -> None:
    waits.pause(0)  # no ledger open: nothing to count into, nothing raised
    with waits.ledger() as book:
        pass
    assert book.seconds == 0 and book.waits == 0


class Site:
    def __init__(self, reports: list[dict[str, Any]]) -> None:
        self._reports = reports

    def reports(self) -> list[dict[str, Any]]:
        return list(self._reports)


def test_reports_match_tags_events_and_time() -> None:
    site = Site([
        {"page": "upload", "probe": "p1", "event": "loaded", "received": 10},
        {"page": "upload", "probe": "p2", "event": "loaded", "received": 11},
        {"page": "upload", "probe": "p1", "event": "clicked", "received": 5},
        {"page": "upload", "probe": "p1", "event": "files", "received": 12, "value": 2},
    ])
    reports = Reports(site, since=9, page="upload", probe="p1")
    assert [r["event"] for r in reports.all()] == ["loaded", "files"]
    assert reports.first({"files", "cancel"})["value"] == 2
    assert reports.first("clicked") is None  # before ``since``
    assert reports.all("files", where=lambda r: r["value"] > 5) == []


def test_require_names_what_was_awaited() -> None:
    with pytest.raises(HarnessError) as info:
        Reports(Site([]), page="x").require("loaded", what="the page ran its script", timeout=0.05)
    assert info.value.component == "probe-page" and "the page ran its script" in info.value.reason


def test_the_figures_script_collects_crossings_from_evidence(tmp_path: Path) -> None:
    import importlib.util
    import json

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "crossing_times.py"
    spec = importlib.util.spec_from_file_location("crossing_times", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    case = tmp_path / "run" / "evidence" / "case"
    case.mkdir(parents=True)
    (case / "observation.json").write_text(json.dumps({
        "terminal": {"watch": {"channel": "clipboard", "crossed": True, "seconds_after_act": 0.2}},
        "watches": [{"preview": {"channel": "print-preview", "crossed": False, "seconds_after_act": 2.0}},
                    {"channel": "clipboard", "crossed": True, "seconds_after_act": 0.05}],
    }), encoding="utf-8")
    (case / "broken.json").write_text("{", encoding="utf-8")
    assert module.crossings([tmp_path / "run"]) == {"clipboard": [0.2, 0.05]}
    assert module.main([str(tmp_path / "run")]) == 0
    assert module.main([str(tmp_path / "nothing")]) == 2
