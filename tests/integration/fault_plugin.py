"""Faults in the parts of a run that live inside its own process, for tests/integration/test_fault_injection.py.

The fixture site and the network oracle (mitmproxy) are event-loop threads of the ``conformance run`` process: no
signal from outside stops one of them alone. The fault-injection tests load this module into the run they start
(``PYTEST_ADDOPTS=-p tests.integration.fault_plugin``; the run is started from the repository root, so the module
imports) and say in ``CONFORMANCE_FAULT`` what to break and when::

    CONFORMANCE_FAULT=<fault>:<part of a node id>:<seconds into that case's call>

``site-hang``    the fixture site's event loop blocks until that case's teardown: the site accepts connections and
                 answers nothing (a hung server), then recovers, so that later cases can decide again.
``oracle-dies``  the network oracle's event loop is stopped: its thread ends as when mitmproxy crashes.

Nothing here is part of the suite: a run without ``CONFORMANCE_FAULT`` is unchanged by it.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import pytest

HANG_LIMIT = 600.0  # seconds: a site hung by this plugin answers again after this at the latest
FAULTS = ("site-hang", "oracle-dies")


def _parse() -> tuple[str, str, float] | None:
    text = os.environ.get("CONFORMANCE_FAULT", "")
    if not text:
        return None
    fault, part, seconds = text.split(":")
    if fault not in FAULTS:
        raise pytest.UsageError(f"CONFORMANCE_FAULT: unknown fault {fault!r}; one of {FAULTS}")
    return fault, part, float(seconds)


def _inject(fault: str, item: pytest.Item) -> None:
    used: dict[str, Any] = getattr(item, "funcargs", {})
    if fault == "site-hang":
        loop = used["fixture_site"]._loop
        loop.call_soon_threadsafe(_released.wait, HANG_LIMIT)
    else:
        loop = used["network_oracle"]._loop
        loop.call_soon_threadsafe(loop.stop)
    print(f"[fault_plugin] {fault} injected into {item.nodeid}", file=sys.stderr, flush=True)


_armed: list[pytest.Item] = []  # the case the fault was injected into
_released = threading.Event()  # set at that case's teardown: a hung site answers again


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    plan = _parse()
    if plan is None or _armed:
        return
    fault, part, seconds = plan
    if part in item.nodeid:
        _armed.append(item)
        timer = threading.Timer(seconds, _inject, (fault, item))
        timer.daemon = True
        timer.start()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    if _armed and _armed[0] is item:
        _released.set()
