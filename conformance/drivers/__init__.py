"""Candidate drivers: how the suite acts on a candidate, one module per kind of target.

A driver is named in the candidate profile (``[driver] name = "chromium"``). The registry maps the name
to its module lazily, so a new driver is one new module plus one line here and never touches the cases.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from conformance.drivers.base import CandidateDriver
from conformance.errors import InputError

REGISTRY: dict[str, str] = {
    "chromium": "conformance.drivers.chromium:ChromiumDriver",
    "webvdi": "conformance.drivers.webvdi:WebVdiDriver",
}


def driver_class(name: str, profile_file: str = "<profile>") -> type[CandidateDriver]:
    if name not in REGISTRY:
        raise InputError(profile_file, "driver.name", f"unknown driver {name!r}", f"use one of: {', '.join(REGISTRY)}")
    module_name, _, class_name = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def validate_settings(name: str, settings: dict[str, Any], base_dir: Path, profile_file: str,
                      allow_lab_address: bool = False) -> Any:
    """Validate a profile's ``[driver]`` table with the driver's own settings model (before any run).
    ``allow_lab_address``: the user passed --allow-lab-address (a non-loopback address may be declared)."""
    cls = driver_class(name, profile_file)
    try:
        return cls.Settings.model_validate(settings, context={"base_dir": base_dir,
                                                              "allow_lab_address": allow_lab_address})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "driver." + ".".join(str(part) for part in first["loc"]) if first["loc"] else "driver"
        raise InputError(profile_file, field, first["msg"], _fix_hint(cls.Settings, first)) from None


def _fix_hint(settings_model: Any, error: dict) -> str:
    if error.get("type") == "extra_forbidden":
        return "remove it; known fields: " + ", ".join(settings_model.model_fields)
    return "see README.md, 'Writing a candidate profile'"
