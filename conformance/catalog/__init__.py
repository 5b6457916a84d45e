"""Requirement catalog: the IDs every test case, report and waiver refers to.

Data lives in ``requirements.toml``; ``released.json`` freezes the meaning of every released ID.
This layer depends on nothing else in the package except :mod:`conformance.errors`.
"""

from conformance.catalog.model import (
    DEFAULT_CATALOG_PATH,
    DEFAULT_RELEASED_PATH,
    LANGS,
    ApplicableWhen,
    Catalog,
    Profile,
    ReleasedDiff,
    Requirement,
    Source,
    SourceRef,
    check_released,
    load_catalog,
    load_released,
    meaning_digest,
    released_snapshot,
)
from conformance.catalog.render import FORMATS, catalog_data, display_width, render, render_html

__all__ = [
    "DEFAULT_CATALOG_PATH",
    "DEFAULT_RELEASED_PATH",
    "FORMATS",
    "LANGS",
    "ApplicableWhen",
    "Catalog",
    "Profile",
    "ReleasedDiff",
    "Requirement",
    "Source",
    "SourceRef",
    "catalog_data",
    "check_released",
    "display_width",
    "load_catalog",
    "load_released",
    "meaning_digest",
    "released_snapshot",
    "render",
    "render_html",
]
