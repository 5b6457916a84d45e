"""Parallel runs (``conformance run -n N``, conformance/parallel.py): the controller gathers what its workers decided.

Without browsers: the merge functions on data, and the plugin in a pytest of its own with pytest-xdist workers and
stand-in cases (nothing started), whose result must be the serial run's, case for case. The real runs are in
tests/reference/test_parallel_reference.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conformance.cli import main
from conformance.parallel import (
    CASE_ATTRIBUTE,
    case_of_report,
    in_plan_order,
    lost_case,
    merge_facts,
    merge_network,
    parallel_obstacle,
    parse_workers,
    split_workers,
)
from conformance.verdicts import CaseResult

ROOT = Path(__file__).resolve().parents[2]
HARDENED = ROOT / "fixtures" / "candidates" / "chromium-hardened.toml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's plugin, whichever one is installed
NAMESPACE = {"observation": "namespace", "fallback_reason": "", "terminal": {"enter": "nsenter --net=/proc/1/ns/net"}}
PROXY = {"observation": "proxy", "fallback_reason": "no /dev/net/tun", "not_observable": "UDP, QUIC"}


# -- the merge, on data ----------------------------------------------------------------------------------------
def test_a_case_comes_back_as_the_worker_decided_it() -> None:
    case = CaseResult("cases/test_download.py::test_x[pdf]", ["DL-01"], "fail", "a file landed",
                      ["evidence/x/observation.json"], 1.5, "title", ["note"])  # fmt: skip
    report = SimpleNamespace(**{CASE_ATTRIBUTE: json.loads(json.dumps(case.to_json()))})
    assert case_of_report(report) == case


def test_a_report_no_worker_made_carries_no_case() -> None:
    assert case_of_report(SimpleNamespace(nodeid="x")) is None
    assert case_of_report(SimpleNamespace(**{CASE_ATTRIBUTE: "not a case"})) is None


def test_a_case_whose_worker_died_is_an_error_with_its_requirements() -> None:
    planned = {"cases/test_print.py::test_p": (["PRN-01"], "nothing is printed")}
    case = lost_case("cases/test_print.py::test_p", planned, "worker 'gw1' crashed while running 'test_p'\n")
    assert (case.outcome, case.requirement_ids, case.title) == ("error", ["PRN-01"], "nothing is printed")
    assert "worker 'gw1' crashed" in case.message and "ワーカー" in case.message


def test_results_are_put_in_the_serial_order_whatever_order_they_finished_in() -> None:
    plan = ["a::1", "a::2", "b::1", "c::1"]
    finished = {nodeid: CaseResult(nodeid, ["DL-01"], "pass") for nodeid in ["b::1", "a::2", "c::1", "a::1"]}
    assert list(in_plan_order(finished, plan)) == plan
    assert list(in_plan_order({"z::9": CaseResult("z::9", [], "pass"), **finished}, plan)) == [*plan, "z::9"]


def test_one_worker_observing_by_proxy_makes_the_run_proxy_observed() -> None:
    """Claiming namespace observation for cases a proxy-only worker ran would be false: the weakest wins."""
    assert merge_network({"gw0": NAMESPACE, "gw1": PROXY})["observation"] == "proxy"
    assert merge_network({"gw0": PROXY, "gw1": NAMESPACE})["observation"] == "proxy"
    assert merge_network({"gw1": NAMESPACE, "gw0": {**NAMESPACE, "terminal": {"enter": "gw0's"}}})["terminal"] == {
        "enter": "gw0's"}
    assert merge_network({"gw0": {"observation": None}, "gw1": NAMESPACE}) == NAMESPACE
    assert merge_network({}) == {"observation": None}


def test_the_run_facts_are_the_first_workers_that_has_them() -> None:
    facts = merge_facts({
        "gw1": {"terminal_env": {"CUPS_SERVER": "gw1"}, "driver": {"launch": {"argv": ["b"]}}, "network": NAMESPACE},
        "gw0": {"terminal_env": {}, "driver": {}, "network": {"observation": None}},
    })  # fmt: skip
    assert facts == {"terminal_env": {"CUPS_SERVER": "gw1"}, "driver": {"launch": {"argv": ["b"]}},
                     "network": NAMESPACE}  # fmt: skip


@pytest.mark.parametrize(("text", "workers"), [(None, 1), ("1", 1), ("3", 3), ("auto", max(1, os.cpu_count() or 1))])
def test_workers(text: str | None, workers: int) -> None:
    assert parse_workers(text) == workers


@pytest.mark.parametrize("text", ["0", "-2", "two", "1.5", ""])
def test_a_bad_number_of_workers_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_workers(text)


@pytest.mark.parametrize(("workers", "candidates", "slots"),
                         [(2, 2, [1, 1]), (4, 2, [2, 2]), (5, 2, [3, 2]), (2, 3, [1, 1]), (8, 1, [8])])  # fmt: skip
def test_workers_are_shared_between_candidates(workers: int, candidates: int, slots: list[int]) -> None:
    assert split_workers(workers, candidates) == slots


def _profile(driver: dict[str, Any], wlan: Any = None, maintenance: Any = None) -> Any:
    return SimpleNamespace(driver=driver, wlan=wlan,
                           maintenance=maintenance or SimpleNamespace(endpoints=[], start=[]))  # fmt: skip


def test_a_part_every_worker_would_share_keeps_the_run_serial() -> None:
    assert parallel_obstacle(_profile({"name": "chromium"})) == ""
    assert parallel_obstacle(_profile({"name": "webvdi", "reference_stack": {"server": "tigervnc"}})) == ""
    assert "attach" in parallel_obstacle(_profile({"name": "chromium", "mode": "attach"}))
    assert "remote" in parallel_obstacle(_profile({"name": "webvdi"}))
    assert "wireless" in parallel_obstacle(_profile({"name": "chromium"}, wlan=SimpleNamespace(segment="lab")))
    lab = SimpleNamespace(endpoints=["https://console.example/"], start=[])
    assert "maintenance" in parallel_obstacle(_profile({"name": "chromium"}, maintenance=lab))


def test_a_bad_number_of_workers_is_bad_input_before_anything_runs(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--candidate", str(HARDENED), "--out", str(tmp_path / "run"), "-n", "zero"]) == 2
    assert "-n" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# -- the plugin with real pytest-xdist workers and stand-in cases -----------------------------------------------
CASES = {
    "test_download.py": """
import time
import pytest

@pytest.mark.requirement("DL-01")
@pytest.mark.parametrize("n", ["first", "second", "third"])
def test_download(n, tmp_path):
    time.sleep(0.2)
    assert n != "third", "a download landed"
""",
    "test_print.py": """
import pytest

@pytest.mark.requirement("PRN-01")
def test_print():
    raise RuntimeError("cupsd gone")

@pytest.mark.requirement("UL-01")
def test_upload():
    pass

@pytest.mark.requirement("NET-04")
def test_cut():
    pytest.skip("not applicable: no gateway declared")
""",
    "test_clipboard.py": """
import pytest

@pytest.mark.requirement("CLIP-01")
@pytest.mark.parametrize("n", range(4))
def test_copy(n):
    pass
""",
}


# The run's own plugins only (pytest-benchmark, where installed, warns in every worker that xdist disables it).
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:benchmark", "-p", "no:terminal",
          "--conformance-progress", f"--candidate={HARDENED}"]  # fmt: skip


def _pytest(folder: Path, out: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PYTEST, f"--conformance-out={out}", f"--junitxml={out}/junit.xml",
                           f"--alluredir={out}/allure-results", "--clean-alluredir", *extra, *CASES],
                          cwd=folder, env=ENV, capture_output=True, text=True, timeout=120)  # fmt: skip


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    """A result without what differs between any two runs (times, durations, the workers' count)."""
    document = json.loads(json.dumps(document))
    for key in ("started", "finished", "duration_s"):
        document.pop(key)
    document["environment"].pop("workers", None)
    for entry in document["requirements"].values():
        for case in entry["cases"]:
            case.pop("duration")
    return document


def test_a_parallel_run_writes_the_serial_runs_result(tmp_path: Path) -> None:
    for name, text in CASES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    serial = _pytest(tmp_path, "serial")
    parallel = _pytest(tmp_path, "parallel", "-n", "2", "--dist", "loadfile")
    assert serial.returncode == parallel.returncode == 1, parallel.stdout[-2000:] + parallel.stderr[-2000:]
    documents = [json.loads((tmp_path / run / "conformance.json").read_text(encoding="utf-8"))
                 for run in ("serial", "parallel")]  # fmt: skip
    assert documents[1]["environment"]["workers"] == 2 and "workers" not in documents[0]["environment"]
    assert _comparable(documents[0]) == _comparable(documents[1])
    assert documents[1]["requirements"]["DL-01"]["verdict"] == "fail"
    assert documents[1]["requirements"]["PRN-01"]["verdict"] == "error"
    # the same progress lines, each case once, numbered as they finished
    lines = [line for line in parallel.stdout.splitlines() if line.startswith("[")]
    assert sorted(line.split("]", 1)[1] for line in lines) == sorted(
        line.split("]", 1)[1] for line in serial.stdout.splitlines() if line.startswith("["))
    assert [line.split("]")[0] for line in lines] == [f"[{n:>3}/10" for n in range(1, 11)]
    # one junit.xml and one Allure result per case, as serially; each worker's session in the evidence
    for run in ("serial", "parallel"):
        assert (tmp_path / run / "junit.xml").read_text(encoding="utf-8").count("<testcase ") == 10
        assert len(list((tmp_path / run / "allure-results").glob("*-result.json"))) == 10 + 9  # + the 9 attested
    workers = sorted(p.parent.name for p in (tmp_path / "parallel" / "evidence" / "workers").glob("*/session.json"))
    assert workers == ["gw0", "gw1"]
    ran = [json.loads((tmp_path / "parallel" / "evidence" / "workers" / w / "session.json").read_text())["cases"]
           for w in workers]  # fmt: skip
    assert sorted(ran[0] + ran[1]) == sorted(c["nodeid"] for e in documents[0]["requirements"].values()
                                             for c in e["cases"])  # fmt: skip


@pytest.mark.parametrize("target", ["controller", "group"])
def test_ctrl_c_of_a_parallel_run_keeps_its_partial_result_marked_incomplete(tmp_path: Path, target: str) -> None:
    """SIGINT to the controller alone (passed on to the workers) or to the whole process group (a terminal's Ctrl-C:
    each worker takes it once): the finished cases keep their verdicts, the others are errors, the run incomplete."""
    slow = "import time\nimport pytest\n\n@pytest.mark.requirement('{rid}')\n@pytest.mark.parametrize('n', range(40))" \
           "\ndef test_{name}(n):\n    time.sleep(0.25)\n"  # fmt: skip
    for name, rid in (("download", "DL-01"), ("print", "PRN-01")):
        (tmp_path / f"test_{name}.py").write_text(slow.format(rid=rid, name=name), encoding="utf-8")
    proc = subprocess.Popen([*PYTEST, "--conformance-out=out", "-n", "2", "--dist", "loadfile", "test_download.py",
                             "test_print.py"],
                            cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    assert proc.stdout is not None
    finished = 0
    for line in proc.stdout:  # a few cases done on each worker
        finished += line.startswith("[")
        if finished >= 4:
            break
    if target == "group":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGINT)
    started = time.monotonic()
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == pytest.ExitCode.INTERRUPTED, rest[-2000:]
    assert time.monotonic() - started < 30, "the workers went on with their cases"
    document = json.loads((tmp_path / "out" / "conformance.json").read_text(encoding="utf-8"))
    assert document["incomplete"] is True and "interrupted" in document["incomplete_reason"]
    cases = [c for r in document["requirements"].values() for c in r["cases"]]
    assert len(cases) == 80
    assert sum(c["outcome"] == "pass" for c in cases) >= 4
    unfinished = [c for c in cases if c["outcome"] != "pass"]
    assert unfinished and all(c["outcome"] == "error" for c in unfinished)
    assert document["requirements"]["DL-01"]["verdict"] == document["requirements"]["PRN-01"]["verdict"] == "error"


# -- several candidates side by side (cli._run_side_by_side), with stand-in runs ---------------------------------
FAKE_RUN = """
import json, subprocess, sys, time
from pathlib import Path

args = sys.argv[sys.argv.index("run") + 1:]
value = lambda name: next(a.split("=", 1)[1] for a in args if a.startswith(name + "="))
out, workers = Path(value("--out")), int(args[args.index("-n") + 1])
started = time.time()
proc = subprocess.run({pytest!r} + [f"--candidate={{value('--candidate')}}", f"--conformance-out={{out}}",
                      *(["-n", str(workers), "--dist", "loadfile"] if workers > 1 else []), "test_download.py"],
                      capture_output=True, text=True)
print(proc.stdout, end="")
time.sleep(1.5)  # long enough for the other run to start meanwhile
(out / "times.json").write_text(json.dumps([started, time.time(), workers, args]))
sys.exit(json.loads((out / "conformance.json").read_text())["summary"]["exit_code"])
"""


def test_several_candidates_run_side_by_side_and_still_get_their_matrix(tmp_path: Path, monkeypatch:
                                                                         pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Two candidates and -n 2: each run is a process of its own with one worker, both at once; their lines are
    passed on with the candidate's name; the exit code and index.html are those of the runs one after the other."""
    (tmp_path / "test_download.py").write_text(CASES["test_download.py"], encoding="utf-8")
    (tmp_path / "fake_run.py").write_text(FAKE_RUN.format(pytest=PYTEST[:-1]), encoding="utf-8")
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\ncd {tmp_path}\nexec {sys.executable} {tmp_path / 'fake_run.py'} \"$@\"\n")
    python.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(python))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    open_profile = ROOT / "fixtures" / "candidates" / "chromium-open.toml"
    out = tmp_path / "runs"
    code = main(["run", "--candidate", str(HARDENED), "--candidate", str(open_profile), "--out", str(out), "-n", "2",
                 "--artifacts", "none"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 1  # a stand-in download case fails
    times = {name: json.loads((out / name / "times.json").read_text()) for name in ("chromium-hardened",
                                                                                   "chromium-open")}  # fmt: skip
    (a_start, a_end, a_workers, a_args), (b_start, b_end, b_workers, _) = times.values()
    assert a_start < b_end and b_start < a_end, "the runs did not overlap"
    assert a_workers == b_workers == 1
    assert "--artifacts=none" in a_args and any(arg.startswith("--allure-history=") for arg in a_args)
    assert "[chromium-hardened] [  1/3]" in printed and "[chromium-open] [  1/3]" in printed
    assert (out / "index.html").is_file() and "matrix:" in printed
