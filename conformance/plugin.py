"""The pytest plugin: options, markers, the fixture ladder, and result collection.

Registered through the ``pytest11`` entry point, so an installed suite runs its cases with plain
``pytest --pyargs conformance.cases --candidate PROFILE``. Fixture scopes, as in pytest-playwright:

    run_dir, display, fixture_site, network_oracle, playwright  (session)
      -> candidate (session, from --candidate) -> driver (session)
        -> candidate_session, canary, evidence, oracles (function)

A user who wants to change one rung overrides that fixture, nothing else. The plugin itself keeps no
global state: everything of one run hangs on ``config.stash``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from conformance.errors import HarnessError, InputError
from conformance.verdicts import CaseResult

NOT_APPLICABLE = "not applicable: "
RUN_KEY = pytest.StashKey["ConformanceRun"]()
EVIDENCE_KEY = pytest.StashKey[list]()
NOTES_KEY = pytest.StashKey[list]()
FIXTURE_HOSTS_TLS = ("internet.test", "lgwan.test", "evil.test")
# A forward proxy a profile may declare as its gateway (e.g. --proxy-server=gateway-proxy.test:3128): the
# oracle's own proxy listener, reached byte for byte, so its CONNECTs are recorded as in proxy observation.
GATEWAY_PROXY = ("gateway-proxy.test", 3128)
OBSERVATION_CHOICES = ("auto", "namespace", "proxy")
# The longest case of the reference runs takes about 20 s: a case still running after this waits on something that
# hung (a page whose script never ends; Playwright's evaluate has no time-out of its own).
CASE_TIMEOUT = 300.0
STOP_GRACE = 30.0  # seconds (at most) a case has to end once its candidate was stopped; then the run is ended
# The parts of the run every case shares (session fixtures): one that died is still dead for every later case.
SHARED_PARTS = ("display", "private_cups", "network_oracle", "fixture_site", "driver")


def not_applicable(reason: str) -> None:
    """End a case as not applicable (a claim or the candidate's kind excludes it)."""
    pytest.skip(NOT_APPLICABLE + reason)


# -- options and markers ---------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "conformance suite (セキュアブラウザ / 画面転送)")
    group.addoption("--candidate", default=None, help="candidate profile (TOML) to test")
    group.addoption("--conformance-out", default=None, help="folder for conformance.json, evidence/, reports")
    group.addoption("--requirement", action="append", default=None, metavar="ID",
                    help="only the cases of this requirement ID or catalog profile ID (repeatable)")
    group.addoption("--conformance-progress", action="store_true", help="print one line per finished case")
    group.addoption("--allow-lab-address", action="store_true",
                    help="allow a non-loopback remote.probe_address in the profile (a real lab)")
    group.addoption("--network-observation", choices=OBSERVATION_CHOICES, default="auto",
                    help="namespace: the candidate in a network namespace whose only route is the oracle (needs "
                         "root, iproute2, /dev/net/tun); proxy: the oracle as its HTTP proxy only; auto: namespace "
                         "where possible, else proxy, saying why")
    group.addoption("--engine-releases", default=None, metavar="TOML",
                    help="stable releases of browser engines with their dates (MNT-05 measures the candidate's "
                         "patch lag against them); see fixtures/engine-releases.toml")
    group.addoption("--waivers", default=None, metavar="TOML",
                    help="accepted failures with justification, approver and expiry (docs/certification.md); a waived "
                         "failure is reported as waived, never as pass")
    group.addoption("--conformance-case-timeout", type=float, default=CASE_TIMEOUT, metavar="SECONDS",
                    help="a case still running after this is ended as an error, its candidate stopped "
                         f"(default {CASE_TIMEOUT:.0f})")
    group.addoption(
        "--conformance-headless",
        action="store_true",
        help="run the candidate headless (debugging only: clipboard and print oracles need a display)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): the catalog requirement IDs a case decides")
    config.addinivalue_line("markers", "candidate_kind(*kinds): the candidate kinds a case applies to")
    profile_path = config.getoption("--candidate", None)
    if profile_path:
        run = ConformanceRun(config, Path(profile_path))
        config.stash[RUN_KEY] = run
        config.pluginmanager.register(run, "conformance-run")
        if run.controller:  # conformance run -n N: this process gathers what its pytest-xdist workers decide
            config.pluginmanager.register(DistributedRun(run), "conformance-distributed-run")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    # A pytest-xdist worker gets the controller's arguments: its --clean-alluredir would delete the results another
    # worker already wrote. The controller cleaned the folder before any worker started.
    if _xdist_worker(config) and getattr(config.option, "clean_alluredir", False):
        config.option.clean_alluredir = False


def _xdist_worker(config: pytest.Config) -> str:
    """The pytest-xdist worker id ("gw0", ...) of this process, "" when it is none."""
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput.get("workerid", "gw?")) if isinstance(workerinput, dict) else ""


def _xdist_controller(config: pytest.Config) -> bool:
    """This process hands the cases to pytest-xdist workers and runs none itself (``-n N``)."""
    return (not _xdist_worker(config) and getattr(config.option, "dist", "no") != "no"
            and not config.getoption("collectonly", False))  # fmt: skip


class ConformanceRun:
    """One run against one candidate: loads inputs, collects case results, writes the result."""

    def __init__(self, config: pytest.Config, profile_path: Path) -> None:
        from conformance.catalog import load_catalog
        from conformance.drivers import validate_settings
        from conformance.profile import load_profile

        self.config = config
        self.case_timeout = float(config.getoption("--conformance-case-timeout", None) or CASE_TIMEOUT)
        if not 0 < self.case_timeout < float("inf"):
            raise pytest.UsageError(f"bad input / 入力エラー: --conformance-case-timeout={self.case_timeout}: give "
                                    "seconds, e.g. 300")
        try:
            self.catalog = load_catalog()
            self.profile = load_profile(profile_path)
            self.catalog.validate_claims(
                self.profile.kind, self.profile.candidate.catalog_profiles, file=str(profile_path)
            )
            self.allow_lab_address = bool(config.getoption("--allow-lab-address", False))
            self.driver_settings = validate_settings(
                self.profile.driver["name"], self.profile.driver, self.profile.base_dir, str(profile_path),
                self.allow_lab_address,
            )
            from conformance.oracles.wire import require_known

            require_known(getattr(self.driver_settings, "wire_protocol", None), str(profile_path))
            from conformance.environment.maintenance_platform import validate_maintenance

            validate_maintenance(self.profile, self.allow_lab_address, str(profile_path))
            from conformance.environment.wlan import validate_wlan

            validate_wlan(self.profile, self.allow_lab_address, str(profile_path))
            from conformance.attestation import load_for_profile

            # The manual requirements' attestations (docs/attestations.md): checked and hashed before the run.
            self.attestations = load_for_profile(self.profile, self.catalog)
            selectors = config.getoption("--requirement", None)
            # None: every requirement; else only these are run and reported (a rerun of one requirement).
            self.selected: list[str] | None = self.catalog.select(selectors) if selectors else None
            from conformance.engine_releases import load_engine_releases

            releases_path = config.getoption("--engine-releases", None)  # MNT-05's stable releases (run config)
            self.engine_releases = load_engine_releases(releases_path) if releases_path else None
            from conformance.waivers import load_waivers

            waivers_path = config.getoption("--waivers", None)  # checked before the run, like every input
            self.waivers = load_waivers(Path(waivers_path), self.catalog, dt.date.today()) if waivers_path else None
        except InputError as exc:
            raise pytest.UsageError(f"bad input / 入力エラー: {exc}") from None
        out = config.getoption("--conformance-out")
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out_dir = Path(out) if out else Path("reports") / f"{self.profile.name}-{stamp}"
        self.out_dir = self.out_dir.resolve()
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise pytest.UsageError(f"bad input / 入力エラー: {self.out_dir}: cannot make the output folder: "
                                    f"{exc.strerror or exc}") from None
        # conformance run -n N (conformance/parallel.py): a worker runs cases and sends what it decided with its
        # reports; the controller runs none, gathers them and writes the result. Neither: a serial run.
        self.worker = _xdist_worker(config)
        self.controller = _xdist_controller(config)
        if not self.worker:  # (a worker starts after the controller cleaned up, and must not delete another's)
            shutil.rmtree(self.out_dir / "evidence", ignore_errors=True)  # a re-run must not mix in old evidence
            # nor leave an old result that a run ending without one (a crash, a full disk) would seem to have written
            (self.out_dir / "conformance.json").unlink(missing_ok=True)
        # Profiles, homes, keys and spools of the run: outside the output folder and short, because
        # Chromium's singleton socket path must fit in 107 bytes. Deleted when the run ends. A worker's is a
        # folder of the controller's (<work>/gw0), so that the controller removes whatever a worker left.
        given = getattr(config, "workerinput", {}).get("conformance_work") if self.worker else None
        self.work_dir = Path(given) if given else Path(tempfile.mkdtemp(prefix="conformance-"))
        self.progress = bool(config.getoption("--conformance-progress")) and not self.worker  # the controller's
        self.display_name: str | None = None  # the candidate's X display (evidence of a worker's session)
        self.headed = not config.getoption("--conformance-headless")
        self.started = dt.datetime.now(dt.UTC)
        self.results: dict[str, CaseResult] = {}
        # What the harness sets in the candidate's environment (evidence: "the candidate as deployed").
        self.terminal_env: dict[str, str] = {}
        self.driver_facts: dict[str, Any] = {}  # what the driver did around the candidate (evidence)
        self.network: dict[str, Any] = {"observation": None}  # how the network was observed (network_oracle)
        self.collection_errors: list[str] = []
        self.total = 0
        self.done = 0
        self.planned: dict[str, tuple[list[str], str]] = {}  # nodeid -> (requirement IDs, title) of every kept case
        self.finished_cases: set[str] = set()  # whose setup, call and teardown all reported
        self.interrupted = ""  # why the run ended before its last case (Ctrl-C); "" when it did not
        self.overdue: dict[str, str] = {}  # nodeid -> why a case that outran case_timeout was ended
        self.parts: dict[str, Any] = {}  # the shared parts (SHARED_PARTS) as the cases got them
        self.workers = 0  # the controller of a parallel run: how many workers ran the cases
        self.worker_facts: dict[str, dict[str, Any]] = {}  # the controller: each worker's session facts
        if self.worker:
            self._start_worker()

    def _start_worker(self) -> None:
        """A pytest-xdist worker: its work folder, with its pid for the controller, and a Ctrl-C that is taken once.
        A second SIGINT (a person pressing Ctrl-C twice, the controller passing one on, execnet's own at shutdown)
        would break off the teardown the first one started and leave the browser, Xvfb or CUPS running."""
        import json
        import signal

        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "worker.json").write_text(json.dumps({"pid": os.getpid()}), encoding="utf-8")
        interrupted: list[bool] = []

        def interrupt_once(signum: int, frame: Any) -> None:
            if not interrupted:
                interrupted.append(True)
                raise KeyboardInterrupt

        with contextlib.suppress(ValueError):  # not the main thread: Python's own handler stays
            signal.signal(signal.SIGINT, interrupt_once)

    def session_facts(self) -> dict[str, Any]:
        """What a worker's session was (sent to the controller with each report, kept in evidence/workers/)."""
        return {"terminal_env": self.terminal_env, "driver": self.driver_facts, "network": self.network,
                "display": self.display_name}  # fmt: skip

    # -- collection --------------------------------------------------------------------------------
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # A case module that cannot be imported must never look like "not tested" by itself: say so loudly.
        if report.failed:
            text = f"{report.nodeid}: {str(report.longrepr).strip().splitlines()[-1]}"
            self.collection_errors.append(text)
            if not self.worker:  # a worker's collection errors reach the controller, which says them once
                print(f"収集エラー / collection error: {text}", file=sys.stderr, flush=True)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep, drop = [], []
        for item in items:
            ids = requirement_ids(item)
            if not ids and _is_case(item):
                raise pytest.UsageError(f"{item.nodeid}: a conformance case must carry @pytest.mark.requirement")
            kinds = [k for m in item.iter_markers("candidate_kind") for k in m.args]
            unselected = self.selected is not None and not set(ids) & set(self.selected)
            if unselected or (kinds and self.profile.kind not in kinds):
                drop.append(item)
                continue
            unknown = [rid for rid in ids if rid not in self.catalog.requirements]
            if unknown:
                raise pytest.UsageError(f"{item.nodeid}: requirement IDs not in the catalog: {unknown}")
            self._label(item, ids)
            reasons = [self._applicability(rid) for rid in ids]
            if ids and not any(ok for ok, _ in reasons):
                item.add_marker(pytest.mark.skip(reason=NOT_APPLICABLE + reasons[0][1]))
            keep.append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep
        self.total = len(keep)
        self.planned = {item.nodeid: (requirement_ids(item), case_title(item)) for item in keep}
        if self.worker:  # the controller's plan (progress total, order, the cases a Ctrl-C left undecided)
            import json

            plan = self.work_dir / "plan.json"
            plan.with_suffix(".partial").write_text(json.dumps(self.planned, ensure_ascii=False), encoding="utf-8")
            plan.with_suffix(".partial").replace(plan)

    def _label(self, item: pytest.Item, ids: list[str]) -> None:
        """Requirement ID, channel, severity and candidate as Allure labels, from the catalog (no drift).
        Added as markers at collection so that skipped (not applicable) cases carry them too."""
        if not ids:
            return
        import allure

        first = self.catalog.requirements[ids[0]]
        severity = {"must": "critical", "should": "normal", "optional": "minor"}[first.level]
        marks = [
            allure.parent_suite(f"{self.profile.name} ({self.profile.kind})"),
            allure.suite(first.family),
            allure.feature(first.family),
            allure.severity(allure.severity_level(severity)),
        ]
        for rid in ids:
            marks.append(allure.label("requirement", rid))
            marks.append(allure.link(f"../catalog.html#{rid}", name=f"{rid} (catalog {self.catalog.version})"))
        for mark in marks:
            item.add_marker(mark)

    def _applicability(self, rid: str) -> tuple[bool, str]:
        return self.catalog.applicability(
            rid, self.profile.kind, self.profile.claims, self.profile.candidate.catalog_profiles
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A shared part that died in an earlier case (the display, the network oracle, …) is still gone: the case
        ends at once as an error naming it, before its candidate starts, instead of each case finding out slowly."""
        used = {name: part for name, part in self.parts.items() if name in item.fixturenames}
        lost = _lost_part(used, printing="printer_oracle" in item.fixturenames)
        if lost is not None:
            raise HarnessError(lost.component, _noted(lost.reason, " (earlier in the run: this case was not started)"))

    def _overrun(self, item: pytest.Item, ended: threading.Event) -> None:
        """The watchdog's thread: say what the case waited on, and end the wait by stopping the candidate's browser
        (its processes, by pid: Playwright's pending call then fails). A case that does not end even then ends the
        run as Ctrl-C does (partial results, marked incomplete)."""
        if ended.is_set():  # it ended just as the time ran out
            return
        used = getattr(item, "funcargs", {})
        lost = _lost_part(used, printing="printer_oracle" in used)
        session = used.get("candidate_session")
        pids = session.pids() if session is not None else []
        if lost is not None:
            component, why = lost.component, lost.reason
        elif session is not None:
            component, why = "candidate", ("the candidate's page or browser stopped answering (a script that never "
                                           "ends, a hung renderer) / 候補のページが応答しなくなった")
        else:
            component, why = "watchdog", "it waited on something that never answered / 試験が終わらなかった"
        stopped = f"; the suite stopped the candidate's processes {pids}" if pids else ""
        self.overdue[item.nodeid] = f"[{component}] the case did not end in {self.case_timeout:.0f} s: " + _noted(
            why, stopped)
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        grace = min(STOP_GRACE, self.case_timeout)
        if not ended.wait(grace):
            self.interrupted = (f"{item.nodeid} did not end within {self.case_timeout + grace:.0f} s, not even "
                                "after its candidate was stopped: the run was ended / 試験が終わらず中断した")
            os.kill(os.getpid(), signal.SIGINT)

    def pytest_runtest_call(self, item: pytest.Item) -> None:
        # allure-pytest sets the test name after setup, so the readable title is given here, in the call.
        ids = requirement_ids(item)
        if ids:
            import allure

            allure.dynamic.title(f"{' '.join(ids)} {case_title(item)}")

    # -- results -----------------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        result = self.results.setdefault(
            item.nodeid, CaseResult(item.nodeid, requirement_ids(item), "pass", title=case_title(item))
        )
        try:
            self._record(item, call, report, result)
        finally:
            from conformance import waits

            book = waits.current_ledger()
            if book is not None:  # up to this report: the teardown's is the whole case
                result.waited = round(book.seconds, 2)
            if self.worker:  # what this worker decided travels with the report to the controller
                from conformance.parallel import CASE_ATTRIBUTE, FACTS_ATTRIBUTE, plain

                setattr(report, CASE_ATTRIBUTE, plain(result.to_json()))
                setattr(report, FACTS_ATTRIBUTE, plain(self.session_facts()))

    def _record(self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport,
                result: CaseResult) -> None:  # fmt: skip
        result.duration += report.duration
        if item.nodeid in self.overdue:  # ended by the watchdog: whatever it raised on the way out is no verdict
            result.outcome, result.message = "error", self.overdue[item.nodeid]
            return
        if report.when == "call":
            used = getattr(item, "funcargs", {})
            self.parts.update({name: used[name] for name in SHARED_PARTS if name in used})
        observed_failure = report.failed and call.excinfo is not None and call.excinfo.errisinstance(AssertionError)
        during_call = report.when == "call" and not observed_failure and not report.skipped
        if during_call or (report.when == "setup" and report.failed):
            # A part the case relied on died while it ran: nothing it saw (or did not see) is a verdict. A failure
            # observed before that stays a failure: what was seen was seen. One that died while the case was set
            # up is named too, not the time-out it caused (a client that could not connect to a dead server).
            lost = _lost_during(item)
            if lost:
                result.outcome, result.message = "error", lost
                return
        if report.skipped:
            reason = _skip_reason(report)
            if reason.startswith(NOT_APPLICABLE):
                result.outcome, result.message = "not_applicable", reason[len(NOT_APPLICABLE) :]
            else:  # any other skip means the case did not decide: fail closed
                result.outcome, result.message = "error", f"skipped: {reason}"
        elif report.failed:
            excinfo = call.excinfo
            if report.when == "call" and excinfo is not None and excinfo.errisinstance(AssertionError):
                result.outcome, result.message = "fail", _first_lines(str(excinfo.value))
            elif result.outcome == "error" and result.message:  # the first error is the cause; what follows is not
                pass
            elif result.outcome != "fail":  # a teardown error never hides an observed failure
                result.outcome = "error"
                result.message = f"{report.when}: {_describe(excinfo)}"
                named = excinfo is not None and excinfo.errisinstance(HarnessError)  # already says what failed
                hung = _unresponsive(item) if report.when == "call" and not named else ""
                if hung:  # a time-out of Playwright's names what it waited for: name what hung first
                    result.message = f"{hung}; {result.message}"
        result.evidence = list(item.stash.get(EVIDENCE_KEY, []))
        result.notes = list(dict.fromkeys(item.stash.get(NOTES_KEY, [])))

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self.done += 1
        self.finished_cases.add(nodeid)
        result = self.results.get(nodeid)
        if not self.progress or result is None:
            return
        mark = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "not_applicable": "N/A"}[result.outcome]
        line = f"[{self.done:>3}/{self.total}] {mark:<5} {','.join(result.requirement_ids):<14} {result.title}"
        if result.outcome in ("fail", "error") and result.message:
            line += f"\n          -> {result.message.splitlines()[0][:160]}"
        print(line, flush=True)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
        """Each case (set-up, call, teardown) runs under a watchdog: past ``case_timeout`` it is ended
        (``_overrun``), never waited for. A reporter that cannot write its part of the output folder (read-only,
        full, gone: allure's result files) ends the run after this case, saying so, not as pytest's internal error
        with a traceback: nothing after it could be recorded. The cases not run are then errors, and the result (if
        it can be written) is incomplete."""
        from conformance import waits

        ended = threading.Event()
        watchdog = threading.Timer(self.case_timeout, self._overrun, (item, ended))
        watchdog.daemon = True
        watchdog.start()
        try:
            # Every wait of the case (conformance.waits) is counted; read at each report (which a worker sends on).
            with waits.ledger():
                return (yield)
        except OSError as exc:
            problem = f"{exc.filename or self.out_dir}: {exc.strerror or exc}"
            self.interrupted = (f"the output folder {self.out_dir} could not be written ({problem}): the run stopped "
                                "/ 出力フォルダに書けないため中断した")
            print(f"出力フォルダに書けない / cannot write to the output folder {self.out_dir} ({problem}): the run "
                  "stops", file=sys.stderr, flush=True)
            if item.nodeid in self.results:
                self.finished_cases.add(item.nodeid)
            item.session.shouldstop = self.interrupted
            return True
        finally:
            ended.set()
            watchdog.cancel()

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupted = self.interrupted or "the run was interrupted (Ctrl-C) / 実行が中断された（Ctrl-C）"

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Iterator[None]:
        # A wrapper, so that the result is written and the work folder removed after every other plugin's
        # session finish (the fixtures' teardown included), also when one of them raised (junit.xml on a full disk).
        from conformance import report

        distributed = self.config.pluginmanager.get_plugin("conformance-distributed-run")
        if distributed is not None and (self.interrupted or exitstatus == pytest.ExitCode.INTERRUPTED):
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C ends the wait, not the writing of the result
                distributed.await_workers()  # before pytest-xdist takes its workers down: they stop and clean up first
        try:
            return (yield)
        finally:
            try:
                if self.worker:  # the controller writes the run's result; a worker, what its session was
                    self._write_worker_evidence()
                else:
                    if self.interrupted or exitstatus == pytest.ExitCode.INTERRUPTED:
                        self._mark_unfinished()
                    if distributed is not None:
                        distributed.gather()
                    self.finished = dt.datetime.now(dt.UTC)
                    self.document = report.write_run(self)
            except OSError as exc:  # the output folder: full, gone, read-only
                print(f"結果を書けなかった / the result could not be written to {self.out_dir}: "
                      f"{exc.strerror or exc}", file=sys.stderr, flush=True)
            finally:
                if os.environ.get("CONFORMANCE_KEEP_WORK") != "1":  # set it to debug a run's profiles and logs
                    shutil.rmtree(self.work_dir, ignore_errors=True)

    def _write_worker_evidence(self) -> None:
        """evidence/workers/<worker>/session.json: the display, network namespace, CUPS and driver this worker's cases
        ran with, and which cases they were (a parallel run's session-level evidence)."""
        import json

        folder = self.out_dir / "evidence" / "workers" / self.worker
        folder.mkdir(parents=True, exist_ok=True)
        facts = {"worker": self.worker, "pid": os.getpid(), "work_dir": str(self.work_dir),
                 "started": self.started.isoformat(timespec="seconds"),
                 "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                 **self.session_facts(), "cases": [n for n in self.results if n in self.finished_cases]}  # fmt: skip
        (folder / "session.json").write_text(json.dumps(facts, ensure_ascii=False, indent=2, default=str),
                                             encoding="utf-8")  # fmt: skip

    def _mark_unfinished(self) -> None:
        """An interrupted run: the case that was running and those never started are errors, so that no requirement
        is decided on part of its cases; a failure already observed stays. The result says it is incomplete."""
        self.interrupted = self.interrupted or "the run was interrupted / 実行が中断された"
        for nodeid, (ids, title) in self.planned.items():
            if nodeid in self.finished_cases:
                continue
            result = self.results.get(nodeid)
            if result is None:
                self.results[nodeid] = CaseResult(nodeid, ids, "error", "not run: the run was interrupted before "
                                                  "this case / 中断のため未実行", title=title)  # fmt: skip
            elif result.outcome != "fail":
                result.outcome = "error"
                result.message = self.overdue.get(nodeid) or ("interrupted during this case: nothing it saw is a "
                                                              "verdict / 試験中に中断された")


class DistributedRun:
    """The controller's side of a parallel run (``conformance run -n N``, conformance/parallel.py): it hands each
    worker its work folder, takes the plan from the first worker that collected, turns each report a worker sent back
    into the case result that worker decided, and after Ctrl-C lets the workers stop before xdist takes them down."""

    def __init__(self, run: ConformanceRun) -> None:
        self.run = run
        self.nodes: dict[str, Any] = {}  # worker id -> xdist WorkerController, while it is up

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["conformance_work"] = str(self.run.work_dir / node.gateway.id)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodeready(self, node: Any) -> None:
        self.nodes[node.gateway.id] = node
        self.run.workers = max(self.run.workers, len(self.nodes))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        self.nodes.pop(node.gateway.id, None)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        import json

        self.run.total = len(ids)  # every worker collects the same plan (xdist checks it)
        if self.run.planned:
            return
        try:
            plan = json.loads((self.run.work_dir / node.gateway.id / "plan.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            plan = {}
        self.run.planned = {nodeid: (list(ids_), title) for nodeid, (ids_, title) in plan.items()}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from conformance.parallel import FACTS_ATTRIBUTE, case_of_report, lost_case

        case = case_of_report(report)
        if case is not None:
            self.run.results[report.nodeid] = case
            facts = getattr(report, FACTS_ATTRIBUTE, None)
            worker = getattr(report, "worker_id", None)  # set by pytest-xdist on every report a worker sends
            if isinstance(facts, dict) and isinstance(worker, str):
                self.run.worker_facts[worker] = facts
        elif report.failed:  # made by the controller: the worker died during this case
            self.run.results[report.nodeid] = lost_case(report.nodeid, self.run.planned, str(report.longrepr))

    def gather(self) -> None:
        """The results in the plan's order (a serial run's), and the run's facts from its workers' (parallel.py)."""
        from conformance.parallel import in_plan_order, merge_facts

        self.run.results = in_plan_order(self.run.results, self.run.planned)
        facts = merge_facts(self.run.worker_facts)
        self.run.terminal_env, self.run.driver_facts, self.run.network = (
            facts["terminal_env"], facts["driver"], facts["network"])

    def await_workers(self) -> None:
        """Ctrl-C: every worker ends its case and stops what it started (its session's teardown), bounded. Pressed in a
        terminal, the workers got the SIGINT themselves; sent to this process alone, it is passed on (a worker takes
        one SIGINT only). Their last reports are taken in meanwhile: a case that finished still counts."""
        import json
        import queue
        import signal
        import time

        from conformance.parallel import WORKER_STOP_TIMEOUT

        dsession = self.run.config.pluginmanager.get_plugin("dsession")
        events = getattr(dsession, "queue", None)
        if events is None or not self.nodes:
            return
        for worker in list(self.nodes):
            try:
                pid = json.loads((self.run.work_dir / worker / "worker.json").read_text(encoding="utf-8"))["pid"]
                os.kill(int(pid), signal.SIGINT)
            except (OSError, ValueError, KeyError, TypeError):
                continue
        print("ワーカーの終了を待っています / waiting for the workers to stop", file=sys.stderr, flush=True)
        pending = set(self.nodes.values())
        deadline = time.monotonic() + WORKER_STOP_TIMEOUT
        while pending and time.monotonic() < deadline:
            try:
                name, kwargs = events.get(timeout=0.5)
            except queue.Empty:
                continue
            if name in ("workerfinished", "errordown"):
                pending.discard(kwargs.get("node"))
            elif name in ("testreport", "logstart", "logfinish"):
                getattr(dsession, f"worker_{name}")(**kwargs)


def _lost_during(item: pytest.Item) -> str:
    """What a case relied on and lost while it ran (the display, the private CUPS, the proxy, the fixture site, a
    reference stack, the candidate's browser), as an error message naming it; "" when all it used is still there."""
    used = getattr(item, "funcargs", {})
    lost = _lost_part(used, printing="printer_oracle" in used)
    if lost is not None:
        return str(lost)
    session = used.get("candidate_session")
    crashed = getattr(session, "crashed", None)
    return crashed() if crashed is not None else ""


def _lost_part(used: Mapping[str, Any], printing: bool) -> HarnessError | None:
    """The first shared part among ``used`` (fixture name -> value) that is gone, naming it; None when all run. The
    private CUPS only counts for a case that uses the print oracle (``printing``)."""
    display = used.get("display")
    if display is not None and display.process is not None and not display.process.running:
        return HarnessError("Xvfb", f"the display stopped (exit code {display.process.returncode}): nothing could be "
                                    "shown, seen or typed on it / 画面（Xvfb）が停止した")
    cups = used.get("private_cups") if printing else None
    if cups is not None and not isinstance(cups, HarnessError) and not cups.running:
        code = cups.process.returncode if cups.process is not None else None
        return HarnessError("cupsd", f"the private CUPS stopped (exit code {code}): the print oracle could not have "
                                     "seen a job / CUPS が停止した")
    oracle = used.get("network_oracle")
    if oracle is not None and not oracle.alive():  # nothing it recorded, or did not record, can be trusted
        return HarnessError("mitmproxy", "the network oracle (mitmproxy) stopped: what it recorded, or did not, "
                                         "is no evidence, and the candidate's traffic had nowhere to go "
                                         "/ 通信の観測（mitmproxy）が停止した")
    site = used.get("fixture_site")
    silent = site.stopped_answering() if site is not None else ""
    if silent:
        return HarnessError("fixture-site", f"the fixture site stopped answering ({silent}): the pages the case "
                                            "opened and the reports it waited for were not served "
                                            "/ テスト用サイトが応答しなくなった")
    driver = used.get("driver")
    gone = driver.lost() if driver is not None else ""
    if gone:
        component, _, reason = gone.removeprefix("[").partition("] ")
        return HarnessError(component, reason)
    return None


def _noted(reason: str, note: str) -> str:
    """``reason`` ("English / 日本語") with ``note`` added to its English part."""
    english, slash, japanese = reason.rpartition(" / ")
    return f"{english}{note}{slash}{japanese}" if slash else reason + note


def _unresponsive(item: pytest.Item) -> str:
    """Whether the candidate's page still answers, asked after a case ended in an error (a time-out names what it
    waited for, not what hung); "" when it answers or the case had no session."""
    session = getattr(item, "funcargs", {}).get("candidate_session")
    check = getattr(session, "unresponsive", None)
    return check() if check is not None else ""


def _is_case(item: pytest.Item) -> bool:
    module = getattr(getattr(item, "module", None), "__name__", "")
    return module.startswith("conformance.cases")


def requirement_ids(item: pytest.Item) -> list[str]:
    return [rid for marker in item.iter_markers("requirement") for rid in marker.args]


def case_title(item: pytest.Item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else item.name
    param = getattr(getattr(item, "callspec", None), "id", None)
    return f"{first} [{param}]" if param else first


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _describe(excinfo: pytest.ExceptionInfo[BaseException] | None) -> str:
    if excinfo is None:
        return "unknown error"
    error, more = excinfo.value, ""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:  # several finalizers failed: the first says why
        if not more and len(error.exceptions) > 1:
            more = f" (and {len(error.exceptions) - 1} more)"
        error = error.exceptions[0]
    if isinstance(error, HarnessError):
        return str(error) + more
    return f"{type(error).__name__}: {_first_lines(str(error))}{more}"


def _first_lines(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[:lines])


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def conformance_run(request: pytest.FixtureRequest) -> ConformanceRun:
    run = request.config.stash.get(RUN_KEY, None)
    if run is None:
        raise pytest.UsageError("conformance cases need --candidate PROFILE.toml")
    return run


@pytest.fixture(scope="session")
def candidate(conformance_run: ConformanceRun) -> Any:
    return conformance_run.profile


@pytest.fixture(scope="session")
def engine_releases(conformance_run: ConformanceRun) -> Any:
    """The stable engine releases of --engine-releases (``engine_releases.EngineReleases``), None without it."""
    return conformance_run.engine_releases


@pytest.fixture(scope="session")
def run_dir(conformance_run: ConformanceRun) -> Path:
    conformance_run.work_dir.mkdir(parents=True, exist_ok=True)
    return conformance_run.work_dir


@pytest.fixture(scope="session")
def display(conformance_run: ConformanceRun) -> Iterator[Any]:
    from conformance.environment.display import Display

    if not conformance_run.headed:
        yield None
        return
    with Display(log_dir=conformance_run.work_dir / "logs") as screen:
        conformance_run.display_name = screen.name
        yield screen


@pytest.fixture(scope="session")
def fixture_site(run_dir: Path) -> Iterator[Any]:
    from conformance.environment.fixture_site import FixtureSite

    with FixtureSite(run_dir / "tls") as site:
        yield site


@pytest.fixture(scope="session")
def network_oracle(conformance_run: ConformanceRun, run_dir: Path, fixture_site: Any) -> Iterator[Any]:
    """The network oracle, observing the candidate's network namespace where the machine allows it."""
    from contextlib import ExitStack

    from conformance.environment.fixture_site import ROGUE_HOST
    from conformance.environment.terminal_netns import TerminalNamespace, unavailable_reason
    from conformance.oracles.network import NetworkOracle

    wanted = conformance_run.config.getoption("--network-observation", "auto")
    fallback = "--network-observation=proxy was given" if wanted == "proxy" else (unavailable_reason() or "")
    if fallback and wanted == "namespace":
        raise HarnessError("netns", f"--network-observation=namespace, but {fallback}")
    with ExitStack() as stack:
        terminal = None if fallback else stack.enter_context(TerminalNamespace(run_dir / "terminal-netns"))
        oracle = stack.enter_context(NetworkOracle(run_dir / "mitmproxy", fixture_site.site_ca.cert_path,
                                                   terminal, fallback_reason=fallback))  # fmt: skip
        for host in FIXTURE_HOSTS_TLS:
            oracle.route(host, 443, ("127.0.0.1", fixture_site.ports["tls"]))
        oracle.route(ROGUE_HOST, 443, ("127.0.0.1", fixture_site.ports["rogue"]), passthrough=True)
        oracle.route(*GATEWAY_PROXY, ("127.0.0.1", oracle.port))
        _network_positive_control(oracle)
        conformance_run.network = {
            "observation": oracle.observation,
            "fallback_reason": fallback,
            "not_observable": oracle.unobservable(),
            "terminal": terminal.facts() if terminal is not None else None,
        }
        yield oracle


def _network_positive_control(oracle: Any) -> None:
    """Prove the oracle sees a request with a body before any case relies on it not seeing one."""
    import requests

    token = secrets.token_hex(8)
    proxies = {"https": oracle.proxy_url}
    try:
        requests.post(
            f"https://internet.test/sink/positive-control?t={token}",
            data=f"control={token}",
            proxies=proxies,
            verify=str(oracle.ca_cert_path),
            timeout=10,
        )
    except requests.RequestException as exc:
        raise HarnessError("mitmproxy", f"positive control request failed: {exc}") from exc
    seen = [r for r in oracle.records() if token.encode() in r.request_body]
    if not seen:
        raise HarnessError("mitmproxy", "positive control: the proxy did not record a request body")
    if oracle.terminal is not None:
        _namespace_positive_control(oracle, token)


def _namespace_positive_control(oracle: Any, token: str) -> None:
    """Prove that a datagram sent inside the terminal's namespace, to an address nothing routes to, reaches
    the oracle with its payload, before any case relies on seeing no UDP."""
    import socket
    import time

    from conformance.environment.terminal_netns import in_netns_of
    from conformance.oracles.network import POSITIVE_CONTROL_PEER

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(f"positive-control {token}".encode(), POSITIVE_CONTROL_PEER)

    in_netns_of(oracle.terminal.pid, send)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(r.kind == "udp" and any(token.encode() in d.content for d in r.datagrams) for r in oracle.records()):
            return
        time.sleep(0.05)
    raise HarnessError("netns", "positive control: a datagram sent in the terminal namespace was not recorded")


@pytest.fixture(scope="session")
def playwright(run_dir: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's driver makes a folder per browser launch in its TMPDIR and may leave it when a browser
    # ends unexpectedly: its TMPDIR is the run's work folder, deleted with the run (the driver reads it once).
    folder = run_dir / "playwright-tmp"
    folder.mkdir(parents=True, exist_ok=True)
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(folder)
    try:
        manager = sync_playwright()
        instance = manager.start()
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved
    try:
        yield instance
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture(scope="session")
def private_cups(run_dir: Path) -> Iterator[Any]:
    """A private CUPS with a cups-pdf queue. Its failure is kept, not raised, so that only the cases
    that need a printer end in error; the candidate then sees no printer at all."""
    from conformance.environment.cups import PrivateCups

    try:
        with PrivateCups(run_dir / "cups") as cups:
            yield cups
    except HarnessError as exc:
        yield exc


@pytest.fixture(scope="session")
def driver(
    conformance_run: ConformanceRun,
    run_dir: Path,
    network_oracle: Any,
    fixture_site: Any,
    display: Any,
    playwright: Any,
    private_cups: Any,
) -> Iterator[Any]:
    from conformance.drivers import driver_class
    from conformance.drivers.base import DriverContext
    from conformance.environment.cups import terminal_cups_env
    from conformance.oracles.remote import ProbeReports, XSelections

    env: dict[str, str] = {}
    if display is not None:
        env.update(display.env)
    # The terminal's only printer is the run's private CUPS (a dead port when it failed to start).
    if isinstance(private_cups, HarnessError):
        env.update(terminal_cups_env("127.0.0.1:9", run_dir / "cups-client"))
    else:
        env.update(private_cups.terminal_env())
    conformance_run.terminal_env = {k: v for k, v in env.items() if k != "DISPLAY"}
    context = DriverContext(
        run_dir=run_dir,
        proxy_url=network_oracle.proxy_url,
        proxy_spki=network_oracle.spki,
        terminal_network=_terminal_network(network_oracle.terminal),
        env=env,
        playwright=playwright,
        headed=conformance_run.headed,
        # A driver may add routes for its own gateway, never read what the oracle recorded.
        extra={"route": network_oracle.route, "trust_upstream": network_oracle.trust_upstream,
               "fixture_site": fixture_site, "allow_lab_address": conformance_run.allow_lab_address,
               # Oracles a screen-transfer driver hands its remote side (drivers never import oracles).
               "remote_probe": lambda canary, shows, reopen: ProbeReports(fixture_site, canary, shows, reopen),
               "x_selections": XSelections},
    )
    profile = conformance_run.profile
    instance = driver_class(profile.driver["name"])(conformance_run.driver_settings, context)
    instance.start()
    conformance_run.driver_facts = instance.facts()
    try:
        yield instance
    finally:
        instance.stop()


def _terminal_network(terminal: Any) -> Any:
    from conformance.drivers.base import TerminalNetwork

    if terminal is None:
        return None
    return TerminalNetwork(enter_argv=tuple(terminal.enter_argv()), resolv_conf=terminal.resolv_conf)


@pytest.fixture
def candidate_session(driver: Any) -> Iterator[Any]:
    with driver.session() as session:
        yield session


@pytest.fixture(scope="session")
def crossing_times() -> Any:
    """How long a crossing takes on each channel (the package's figures, raised by this run's positive
    controls): the bound of every "nothing crossed" watch (conformance.waits)."""
    from conformance.waits import CrossingTimes, load_crossings

    return CrossingTimes(load_crossings())


@pytest.fixture
def verdict_notes(request: pytest.FixtureRequest) -> list[str]:
    """A case appends what its verdict could not take into account; the requirement's reason says it."""
    return request.node.stash.setdefault(NOTES_KEY, [])


@pytest.fixture
def bypass_caveat(network_oracle: Any, verdict_notes: list[str]) -> str:
    """For a case judged on all the candidate's traffic: with proxy observation, its verdict says what could not
    be seen (use with ``@pytest.mark.usefixtures("bypass_caveat")``)."""
    note = network_oracle.unobservable()
    if note:
        verdict_notes.append(note)
    return note


@pytest.fixture
def canary(request: pytest.FixtureRequest) -> str:
    from conformance.detectors import make_canary

    label = re.sub(r"[^A-Z0-9]", "", request.node.name.upper())[:10] or "CASE"
    return make_canary(label)


class Evidence:
    """Files a person can check, kept under ``evidence/<case>/`` and attached to the Allure report."""

    def __init__(self, out_dir: Path, item: pytest.Item) -> None:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", item.nodeid.split("::", 1)[-1])[:120]
        self.out_dir = out_dir
        self.folder = out_dir / "evidence" / slug
        self.item = item
        self.paths: list[str] = item.stash.setdefault(EVIDENCE_KEY, [])

    def _register(self, path: Path, name: str) -> Path:
        import allure

        self.paths.append(str(path.relative_to(self.out_dir)))
        allure.attach.file(str(path), name=name, attachment_type=_attachment_type(path))
        return path

    def path(self, name: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / name

    def file(self, source: Path, name: str | None = None) -> Path:
        target = self.path(name or source.name)
        shutil.copyfile(source, target)
        return self._register(target, target.name)

    def text(self, name: str, content: str) -> Path:
        target = self.path(name)
        target.write_text(content, encoding="utf-8")
        return self._register(target, name)

    def json(self, name: str, data: Any) -> Path:
        import json

        return self.text(name, json.dumps(data, ensure_ascii=False, indent=2, default=str))

    def screenshot(self, session: Any, name: str = "screen.png") -> Path | None:
        shot = session.screenshot(self.path(name))
        return self._register(shot, name) if shot else None


def _attachment_type(path: Path) -> Any:
    import allure

    return {
        ".png": allure.attachment_type.PNG,
        ".json": allure.attachment_type.JSON,
        ".txt": allure.attachment_type.TEXT,
        ".jsonl": allure.attachment_type.TEXT,
        ".html": allure.attachment_type.HTML,
    }.get(path.suffix.lower())


@pytest.fixture
def evidence(conformance_run: ConformanceRun, request: pytest.FixtureRequest) -> Evidence:
    return Evidence(conformance_run.out_dir, request.node)


# -- channel oracles (function scope: each proves itself before a case relies on it) ---------------
@pytest.fixture
def clipboard_oracle(display: Any, conformance_run: ConformanceRun) -> Any:
    """The X selections of the candidate's display, after a positive control on this display."""
    from conformance.detectors import make_canary
    from conformance.oracles.clipboard import ClipboardOracle

    if display is None:
        raise HarnessError("Xvfb", "the clipboard oracle needs a display; do not run headless")
    oracle = ClipboardOracle(display.env, log_dir=conformance_run.work_dir / "logs")  # xclip's logs: not in /tmp
    for selection in ("clipboard", "primary"):
        oracle.positive_control(make_canary("CONTROL"), selection)
        oracle.clear(selection)
    return oracle


@pytest.fixture(scope="session")
def _printer_oracle_session(private_cups: Any) -> Any:
    from conformance.detectors import make_canary
    from conformance.environment.cups import client_library_problem
    from conformance.oracles.printer import PrinterOracle

    if isinstance(private_cups, HarnessError):
        raise private_cups
    problem = client_library_problem()
    if problem:
        raise HarnessError("libcups", problem)
    oracle = PrinterOracle(private_cups)
    oracle.positive_control(make_canary("PRINTCONTROL"))
    return oracle


@pytest.fixture
def printer_oracle(_printer_oracle_session: Any, private_cups: Any) -> Any:
    """The private CUPS spool and cups-pdf output: proven once per run with an ``lp`` job."""
    if not private_cups.running:
        raise HarnessError("cupsd", "the private CUPS stopped during the run")
    return _printer_oracle_session


@pytest.fixture
def desktop(display: Any) -> Any:
    """The candidate's X display driven with real input events (xdotool): native dialogs, menus, keys."""
    from conformance.environment.desktop import Desktop

    return Desktop(display.env if display is not None else None)


# -- the suite's test network (maintenance path, wireless LAN) ------------------------------------------
@pytest.fixture(scope="session")
def test_network(run_dir: Path) -> Iterator[Any]:
    """The suite's own hosts (environment/test_network.py): a terminal on the user segment, the dual-homed platform,
    a maintenance terminal on the management segment. A failure (no root, no iproute2) is kept, not raised, so that
    only the cases that need the network end in error, saying why."""
    from conformance.environment.test_network import MANAGEMENT, USER, TestNetwork

    try:
        with TestNetwork(run_dir / "test-network") as network:
            network.segment(USER)
            network.segment(MANAGEMENT)
            network.host("terminal", [USER])
            network.host("platform", [USER, MANAGEMENT])
            network.host("maintenance", [MANAGEMENT])
            yield network
    except HarnessError as exc:
        yield exc


@pytest.fixture(scope="session")
def maintenance_platform(
    conformance_run: ConformanceRun, request: pytest.FixtureRequest, run_dir: Path
) -> Iterator[Any]:
    """The profile's [maintenance] start command running on the platform host (a real lab: nothing started)."""
    from conformance.environment.maintenance_platform import MaintenancePlatform

    profile = conformance_run.profile
    network = None
    if profile.maintenance.start:
        network = request.getfixturevalue("test_network")
        if isinstance(network, HarnessError):
            yield network
            return
    try:
        with MaintenancePlatform(profile, network, run_dir / "maintenance") as platform:
            yield platform
    except HarnessError as exc:
        yield exc


@pytest.fixture(scope="session")
def wlan_segment(conformance_run: ConformanceRun, request: pytest.FixtureRequest) -> Any:
    """The two test terminals of the profile's [wlan] section (environment/wlan.py): on the reference bridge of the
    test network, or this machine and a `conformance wlan-peer` on a lab's real wireless LAN."""
    from conformance.environment.wlan import lab_setup, reference_setup

    wlan = conformance_run.profile.wlan
    if wlan is None:
        return HarnessError("profile", "the candidate claims WLAN-02 but its profile has no [wlan] section: declare "
                                       "the segment (README, 'Writing a candidate profile')")
    try:
        if wlan.segment == "lab":
            return lab_setup(wlan)
        network = request.getfixturevalue("test_network")
        if isinstance(network, HarnessError):
            return network
        return reference_setup(network, isolated=wlan.isolation == "port-isolation")
    except HarnessError as exc:
        return exc
