"""The benchmark's pure helpers (benchmarks/): PSS parsing, the worker split, the ratio table. No timing here."""

from __future__ import annotations

from benchmarks.floor import PLANS, cases_of, split_nodeid
from benchmarks.full_run import Measurement, is_xdist_worker, parse_pss_kb, subtree, worker_roots
from benchmarks.run import case_rows, fmt, median, met, ratio, rejects_workers, render_table, width

SMAPS_ROLLUP = """\
55d0c8a2b000-7ffd3b5f4000 ---p 00000000 00:00 0                          [rollup]
Rss:              123456 kB
Pss:               98765 kB
Pss_Dirty:         45678 kB
Pss_Anon:          40000 kB
Pss_File:          58000 kB
Pss_Shmem:           765 kB
Shared_Clean:      30000 kB
Swap:                  0 kB
SwapPss:               0 kB
"""


def test_pss_is_read_from_the_pss_line_only() -> None:
    assert parse_pss_kb(SMAPS_ROLLUP) == 98765  # not Pss_Dirty, Pss_Anon, SwapPss
    assert parse_pss_kb("") == 0  # a kernel thread or a process that just exited


# cli (1) ─┬─ worker (2) ── chromium (4) ── renderer (5)
#          ├─ worker (3)
#          └─ Xvfb (6)
TREE = {1: [2, 3, 6], 2: [4], 4: [5]}
WORKER = "/usr/bin/python3 -c import sys;exec(eval(sys.stdin.readline()))"


def test_subtree_holds_the_root_and_every_descendant() -> None:
    assert sorted(subtree(1, TREE)) == [1, 2, 3, 4, 5, 6]
    assert sorted(subtree(2, TREE)) == [2, 4, 5]
    assert subtree(9, TREE) == [9]


def test_xdist_workers_are_found_by_execnets_bootstrap_line() -> None:
    lines = {2: WORKER, 3: WORKER, 4: "/usr/lib/chromium/chromium --user-data-dir=x", 5: "chromium --type=renderer",
             6: "Xvfb -displayfd 5"}
    assert sorted(worker_roots(1, TREE, lines.__getitem__)) == [2, 3]
    assert is_xdist_worker(WORKER)
    assert not is_xdist_worker("python3 fixtures/maintenance-console/console.py")  # a python child is no worker


def test_a_serial_run_is_one_worker() -> None:
    lines = dict.fromkeys([2, 3, 4, 5, 6], "python3 console.py")
    assert worker_roots(1, TREE, lines.__getitem__) == [1]


def test_median_and_ratio_leave_out_what_is_missing() -> None:
    assert median([3.0, None, 1.0, 2.0]) == 2.0
    assert median([None, None]) is None
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, 0.0) is None  # nothing to compare with, not a division error
    assert fmt(None) == "n/a"
    assert fmt(1.234, "x", 1) == "1.2x"


def test_targets_are_judged_in_their_direction() -> None:
    assert met(1.2, ("≤", 1.3)).startswith("yes")
    assert met(1.4, ("≤", 1.3)).startswith("no")
    assert met(1.8, ("≥", 1.7)).startswith("yes")
    assert met(1.0, ("≥", 1.7)).startswith("no")
    assert met(None, ("≥", 1.7)) == "n/a"


def test_table_columns_line_up_with_japanese_text() -> None:
    table = render_table(["項目 / measure", "ratio"], [["全体 / full", "1.50"], ["x", "12.00"]])
    lines = table.splitlines()
    assert width("全体") == 4
    assert {width(line) for line in lines} == {width(lines[1])}  # every line as wide as the rule
    assert lines[2].endswith(" 1.50") and lines[3].endswith("12.00")


def test_case_rows_say_na_without_waited_and_subtract_it_when_present() -> None:
    full = [{"cases/test_a.py::test_x": {"outcome": "pass", "duration": 5.0},
             "cases/test_a.py::test_na": {"outcome": "not_applicable", "duration": 0.001}},
            {"cases/test_a.py::test_x": {"outcome": "pass", "duration": 7.0}}]
    floor = [{"cases/test_a.py::test_x": {"seconds": 1.0}}, {"cases/test_a.py::test_x": {"seconds": 3.0}}]
    assert case_rows(full, floor) == [["test_a.py::test_x", "6.00", "n/a", "n/a", "2.00", "3.0x"]]
    full[0]["cases/test_a.py::test_x"]["waited"] = 4.0
    full[1]["cases/test_a.py::test_x"]["waited"] = 4.0
    assert case_rows(full, floor)[0][2:4] == ["4.00", "2.00"]
    floor[0]["cases/test_a.py::test_x"] = {"seconds": 0.0, "no_browser": True}
    assert case_rows(full, floor)[0][4:] == ["no browser", "n/a"]  # no ratio against nothing


def test_a_cli_without_workers_is_recognised() -> None:
    refused = Measurement(1.0, 2, 0.0, {}, "conformance: error: unrecognized arguments: -n 2\n")
    assert rejects_workers(refused)
    assert not rejects_workers(Measurement(1.0, 2, 0.0, {}, "--candidate x: bad input"))  # exit 2 for another reason


def test_floor_plans_are_found_from_node_ids() -> None:
    assert split_nodeid("cases/test_clipboard.py::test_copy_does_not_reach_terminal[drag-out-japanese]") == (
        "test_copy_does_not_reach_terminal", "drag-out-japanese")
    assert split_nodeid("cases/test_residue.py::test_no_session_content_remains") == (
        "test_no_session_content_remains", "")
    document = {"requirements": {"A-01": {"cases": [{"nodeid": "n1"}, {"nodeid": "n2"}]},
                                 "A-02": {"cases": [{"nodeid": "n1"}]}}}  # one case may serve two requirements
    assert [c["nodeid"] for c in cases_of(document)] == ["n1", "n2"]
    assert "test_no_session_content_remains" in PLANS
