"""Evidence first (conformance/cases/observation.py): a crossing seen by any oracle decides ``fail``,
a missing oracle only makes ``error`` when nothing was seen."""

from __future__ import annotations

import pytest

from conformance.cases.observation import Observation
from conformance.errors import HarnessError


def _undecodable() -> list[str]:
    raise HarnessError("rfb", "the server stream does not start with an RFB ProtocolVersion")


def test_a_crossing_fails_even_when_another_oracle_could_not_look() -> None:
    observation = Observation()
    assert observation.read("wire", _undecodable, []) == []
    observation.saw("remote probe reports", "paste of CNRY-1")
    with pytest.raises(AssertionError) as info:
        observation.decide("the terminal's clipboard reached the remote")
    assert "remote probe reports: paste of CNRY-1" in str(info.value)
    assert "not observable: wire" in str(info.value)


def test_nothing_seen_with_a_missing_oracle_is_a_harness_error() -> None:
    observation = Observation()
    observation.read("wire", _undecodable, None)
    with pytest.raises(HarnessError) as info:
        observation.decide("unused")
    assert info.value.component == "rfb" and "wire oracle could not look" in info.value.reason


def test_every_oracle_looked_and_saw_nothing_passes() -> None:
    observation = Observation()
    assert observation.read("clipboard", lambda: "", "") == ""
    observation.decide("unused")  # returns: pass
    assert observation.to_json() == {"crossings": {}, "not_observable": {}}


def test_a_later_successful_read_clears_the_gap_and_blind_records_one() -> None:
    observation = Observation()
    observation.read("wire", _undecodable, None)
    assert observation.read("wire", lambda: ["ok"], None) == ["ok"]
    observation.decide("unused")
    observation.blind("capture", HarnessError("rfb", "typed marker missing"))
    with pytest.raises(HarnessError):
        observation.decide("unused")


def test_only_harness_errors_are_absorbed() -> None:
    observation = Observation()
    with pytest.raises(ZeroDivisionError):
        observation.read("broken", lambda: 1 / 0, None)  # a suite bug is not "could not look"


def test_a_finding_only_oracle_that_could_not_look_does_not_make_error() -> None:
    observation = Observation()
    observation.read("wire", _undecodable, None)
    observation.finding_only("wire")
    observation.decide("unused")  # returns: every deciding oracle looked and saw nothing
