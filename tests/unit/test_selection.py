"""`conformance run --requirement`: requirement or catalog profile IDs; an unknown one is bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.catalog import load_catalog
from conformance.cli import main
from conformance.errors import InputError


def test_select_takes_requirement_and_profile_ids_in_catalog_order() -> None:
    catalog = load_catalog()
    assert catalog.select(["PRN-01"]) == ["PRN-01"]
    in_profile = catalog.profile_requirements("SB-CORE")
    chosen = catalog.select(["PRN-01", "SB-CORE"])
    assert set(chosen) == {"PRN-01", *in_profile}
    assert chosen == [rid for rid in catalog.requirements if rid in chosen]


def test_an_unknown_id_names_the_option_and_the_fix() -> None:
    with pytest.raises(InputError) as info:
        load_catalog().select(["PRN-01", "PRN"])
    assert info.value.file == "--requirement" and "'PRN'" in info.value.field
    assert "conformance catalog" in info.value.fix


def test_run_with_an_unknown_requirement_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", "--requirement", "PRN", "--out", str(out)]) == 2
    assert "PRN" in capsys.readouterr().err
    assert not out.exists()
