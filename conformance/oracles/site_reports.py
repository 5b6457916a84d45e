"""The fixture site's reports, read as an oracle: what the suite's pages (and the remote probe) said they did.

Every page of ``site/pages`` posts JSON reports to the fixture site (``FixtureSite.reports()``), each with
``event``, ``value``, ``received`` (epoch seconds) and the tags the case gave the page (``page``, ``case``,
``canary``, ``probe``). ``Reports`` is one case's view of them: the reports matching its tags, received
since a moment; ``wait`` and ``require`` wait for one through ``conformance.waits`` (counted, page events kept
turning). A missing report is the harness's problem (``require`` raises ``HarnessError``), never a verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from conformance import waits
from conformance.errors import HarnessError

REPORT_TIMEOUT = 20.0  # a report reaches the site in well under a second; a loaded 2-core machine delays it by seconds
Predicate = Callable[[dict[str, Any]], bool]


class Reports:
    """The fixture site's reports whose tags equal ``tags`` (e.g. ``page="upload", probe=token``), received at
    or after ``since`` (epoch seconds). ``tab`` is the Playwright page to keep turning while waiting."""

    def __init__(self, site: Any, *, since: float = 0.0, tab: Any | None = None, **tags: Any) -> None:
        self.site = site
        self.since = since
        self.tab = tab
        self.tags = tags

    def all(self, event: str | Iterable[str] | None = None, where: Predicate | None = None) -> list[dict[str, Any]]:
        events = {event} if isinstance(event, str) else (set(event) if event is not None else None)
        return [
            r for r in self.site.reports()
            if r.get("received", 0) >= self.since
            and all(r.get(key) == value for key, value in self.tags.items())
            and (events is None or r.get("event") in events)
            and (where is None or where(r))
        ]  # fmt: skip

    def first(self, event: str | Iterable[str] | None = None, where: Predicate | None = None) -> dict[str, Any] | None:
        found = self.all(event, where)
        return found[0] if found else None

    def wait(self, event: str | Iterable[str], where: Predicate | None = None, *,
             timeout: float = REPORT_TIMEOUT) -> dict[str, Any] | None:
        """The first matching report, as soon as it is there; None after ``timeout``."""
        return waits.until(lambda: self.first(event, where), timeout, page=self.tab)

    def require(self, event: str | Iterable[str], where: Predicate | None = None, *, what: str,
                timeout: float = REPORT_TIMEOUT, component: str = "probe-page") -> dict[str, Any]:
        """As ``wait``, but no report is a ``HarnessError`` naming ``what`` the case was waiting for."""
        found = self.wait(event, where, timeout=timeout)
        if found is None:
            names = event if isinstance(event, str) else "/".join(sorted(event))
            raise HarnessError(component, f"{what}: no '{names}' report within {timeout:.0f} s; nothing was tested "
                                          "/ ページからの報告が届かなかった")
        return found
