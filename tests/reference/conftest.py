"""The session's reference runs, shared by the matrix and the certification tests. With
``CONFORMANCE_REPORTS_DIR`` set (as .ci/run does) the run folders are kept there, reports included."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reference.matrix import ReferenceRuns


@pytest.fixture(scope="session")
def reference_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ReferenceRuns:
    selected: dict[str, set[str]] = {}
    for item in request.session.items:
        params = getattr(item, "callspec", None) and item.callspec.params
        if params and item.originalname == "test_reference_verdict":
            selected.setdefault(params["candidate"], set()).add(params["requirement"])
    from conformance.bundle import generate_keypair

    keys = tmp_path_factory.mktemp("signing-key")
    generate_keypair(keys / "reference.key", keys / "reference.pub")
    kept = os.environ.get("CONFORMANCE_REPORTS_DIR")
    out = Path(kept).resolve() if kept else tmp_path_factory.mktemp("reference-runs")
    return ReferenceRuns(out, selected, keys / "reference.key")
