"""Parallel runs (``conformance run -n N``): the plan of one candidate split over pytest-xdist workers.

Each worker is a process with its own session fixtures, so it has its own Xvfb display, fixture site and ports,
network oracle (mitmproxy) in its own terminal network namespace, private CUPS, test network, Playwright and
candidate driver, and its own work folder (``<run work folder>/<worker id>``). Each proves its oracles itself (the
network oracle's positive controls when it starts, the printer's on first use, the clipboard's before each case),
and ``_lost_during`` watches the parts of the worker that ran the case. The controller (the process the CLI runs
pytest in) starts no fixture: it gathers the workers' case results, prints the progress lines and writes the one
``conformance.json``, junit.xml and Allure environment of the run, exactly as a serial run does.

This module is the controller's side as plain data (no pytest, no processes), so that the gathering is tested
without browsers (tests/unit/test_parallel.py): a worker puts each case's result and its session facts on the
pytest report it sends anyway; the controller turns them back into ``CaseResult`` and merges the facts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from conformance.verdicts import CaseResult

# Attributes a worker sets on each TestReport (pytest-xdist serialises a report's attributes): the case's result so
# far (CaseResult as JSON) and the worker's session facts (what the candidate's environment was, how the network was
# observed). The controller decides nothing itself: it takes what the worker decided.
CASE_ATTRIBUTE = "conformance_case"
FACTS_ATTRIBUTE = "conformance_facts"
# How xdist hands out the cases: by case module, i.e. by channel (clipboard, download, print, ...). Deliberately not
# case by case ("load"): a channel's cases share session parts that start on first use (the printer oracle's positive
# control through the private CUPS, the test network and the maintenance platform of MNT-02/MNT-03/WLAN-02), which
# would otherwise start on every worker; and a channel's cases then run in the order of a serial run, one after the
# other on one worker's display, so no case meets a neighbour it would not meet serially. Channels share nothing (each
# worker has its own display, oracle, namespaces and CUPS), so two channels may run side by side. Two cases of one
# worker never run at the same time. The cost: the largest channel bounds the run (clipboard, about 40 % of the
# secure-browser reference).
DIST_MODE = "loadfile"
# How long the controller waits, after Ctrl-C, for the workers to end their case and stop what they started (browser,
# Xvfb, mitmproxy, CUPS, namespaces) before pytest-xdist takes them down (which kills a worker after a few seconds).
WORKER_STOP_TIMEOUT = 180.0
WORKERS_FOLDER = "workers"  # evidence/workers/<worker id>/session.json: what each worker's session was


def parse_workers(text: str | None) -> int:
    """``-n``: a number of workers, or ``auto`` (one per CPU). ValueError for anything else."""
    if text is None:
        return 1
    if text.strip().lower() == "auto":
        return max(1, os.cpu_count() or 1)
    value = int(text)  # ValueError for "two", "1.5", ""
    if value < 1:
        raise ValueError(f"{value} is not a number of workers")
    return value


def split_workers(workers: int, candidates: int) -> list[int]:
    """Several candidates side by side: how many workers each one's run gets (at most ``workers`` runs at once, each
    with at least one worker; the first ones get what does not divide evenly). One entry per run slot."""
    slots = max(1, min(workers, candidates))
    return [workers // slots + (1 if index < workers % slots else 0) for index in range(slots)]


def parallel_obstacle(profile: Any) -> str:
    """Why this candidate's cases must not be split over workers ("" when they may): a part every worker would share
    instead of having its own. Then its run is serial, saying why (conformance run -n)."""
    driver = profile.driver
    if driver.get("mode") == "attach":
        return "the driver attaches to one browser the vendor started (mode = \"attach\"): every worker would drive it"
    if driver.get("name") == "webvdi" and driver.get("reference_stack") is None:
        return ("its remote desktop is the product's own (no reference_stack): every worker would type into the same "
                "remote session")
    wlan = getattr(profile, "wlan", None)
    if wlan is not None and getattr(wlan, "segment", None) == "lab":
        return "WLAN-02 probes a real wireless LAN and its peer terminal ([wlan] segment = \"lab\"), which are one"
    maintenance = getattr(profile, "maintenance", None)
    if maintenance is not None and getattr(maintenance, "endpoints", None) and not getattr(maintenance, "start", None):
        return "the maintenance side is a real platform in a lab ([maintenance] without start), which is one"
    return ""


def plain(data: Any) -> Any:
    """``data`` as JSON types only (paths and other objects as text), as pytest-xdist can send it."""
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


def case_of_report(report: Any) -> CaseResult | None:
    """The case result a worker put on its report; None for a report no worker made (a crashed worker's case)."""
    data = getattr(report, CASE_ATTRIBUTE, None)
    if not isinstance(data, Mapping):
        return None
    fields = {name: data[name] for name in CaseResult.__dataclass_fields__ if name in data}
    return CaseResult(**fields)


def lost_case(nodeid: str, planned: Mapping[str, tuple[list[str], str]], longrepr: str) -> CaseResult:
    """A case whose worker died under it (pytest-xdist reports it failed with the crash): it decides nothing."""
    ids, title = planned.get(nodeid, ([], nodeid))
    last = next((line.strip() for line in reversed(longrepr.strip().splitlines()) if line.strip()), "")
    return CaseResult(nodeid, list(ids), "error", f"[xdist] the worker running this case stopped / 試験中にワーカーが"
                      f"停止した: {last[:300]}", title=title)  # fmt: skip


def in_plan_order(results: Mapping[str, CaseResult], planned: Iterable[str]) -> dict[str, CaseResult]:
    """The results in the order of the plan (a serial run's order), whatever order the workers finished them in;
    results of cases the plan does not name (none expected) last, as they came."""
    order = {nodeid: index for index, nodeid in enumerate(planned)}
    ranked = sorted(results.items(), key=lambda item: order.get(item[0], len(order)))
    return dict(ranked)


def merge_network(per_worker: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One ``network`` entry for the run from each worker's: the weakest observation wins (a worker that could only
    observe through its proxy makes the run a proxy-observed one: claiming namespace observation for cases it ran
    would be false); between equals, the first worker's (its terminal namespace stands for the others')."""
    observed = [(worker, dict(facts)) for worker, facts in sorted(per_worker.items()) if facts.get("observation")]
    if not observed:
        return {"observation": None}
    proxied = [facts for _, facts in observed if facts["observation"] != "namespace"]
    return proxied[0] if proxied else observed[0][1]


def merge_facts(per_worker: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The run's ``terminal_env``, ``driver`` and ``network`` from each worker's session facts (evidence/workers/ keeps
    every worker's own): the first worker that has each, the network by ``merge_network``."""
    workers = sorted(per_worker)
    terminal_env = next((dict(per_worker[w]["terminal_env"]) for w in workers if per_worker[w].get("terminal_env")), {})
    driver = next((dict(per_worker[w]["driver"]) for w in workers if per_worker[w].get("driver")), {})
    network = merge_network({w: per_worker[w].get("network") or {} for w in workers})
    return {"terminal_env": terminal_env, "driver": driver, "network": network}
