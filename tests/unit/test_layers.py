"""The layer rules that keep verdicts honest, checked on the source itself.

- Only a case's own assertion may turn into ``fail``; so drivers, oracles, environment pieces and
  detectors never use ``assert`` (a broken harness must become ``error``, never ``fail``).
- The catalog and the profile model import nothing else of the package but the error types.
- Drivers and oracles never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "conformance"
HARNESS = [
    *sorted((PACKAGE / "oracles").glob("*.py")),
    *sorted((PACKAGE / "drivers").glob("*.py")),
    *sorted((PACKAGE / "environment").glob("*.py")),
    PACKAGE / "detectors.py",
    PACKAGE / "verdicts.py",
]


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("conformance")}


@pytest.mark.parametrize("path", HARNESS, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_harness_code_never_asserts(path: Path) -> None:
    asserts = [n.lineno for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.Assert)]
    assert not asserts, f"{path.name}: use HarnessError instead of assert at lines {asserts}"


@pytest.mark.parametrize("path", [*sorted((PACKAGE / "catalog").glob("*.py")), PACKAGE / "profile.py"],
                         ids=lambda p: p.name)
def test_catalog_and_profile_import_nothing_of_the_package(path: Path) -> None:
    assert imports_of(path) <= {"conformance.errors", "conformance.catalog.model", "conformance.catalog.render"}


@pytest.mark.parametrize("path", sorted((PACKAGE / "oracles").glob("*.py")), ids=lambda p: p.name)
def test_oracles_do_not_import_drivers_or_cases(path: Path) -> None:
    bad = {m for m in imports_of(path) if m.startswith(("conformance.drivers", "conformance.cases"))}
    assert not bad


@pytest.mark.parametrize("path", sorted((PACKAGE / "drivers").glob("*.py")), ids=lambda p: p.name)
def test_drivers_do_not_import_oracles_or_cases(path: Path) -> None:
    bad = {m for m in imports_of(path) if m.startswith(("conformance.oracles", "conformance.cases"))}
    assert not bad
