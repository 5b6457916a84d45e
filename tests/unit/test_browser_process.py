"""Which process of a session is Chromium's browser (drivers/chromium.py ``browser_process``), from what /proc says.

Chromium's helpers rewrite their command line into one string (setproctitle), so their ``--type=`` is no argument of
its own; after a pid wraparound (pids restart at 300) a helper has a lower pid than the browser. Two runs side by
side wrap the pids often: RES-01 then ended "no visible window of the browser (pid 304) to close", pid 304 being the
zygote (the table below is what /proc showed when that was reproduced by starting the browser just below pid_max).
"""

from __future__ import annotations

from conformance.drivers.chromium import browser_process

PROFILE = "/tmp/conformance-x/sessions/001/profile"
BROWSER = f"/usr/lib/chromium/chromium\0--user-data-dir={PROFILE}\0--remote-debugging-pipe\0--no-sandbox\0about:blank\0"


def helper(kind: str) -> str:
    """A helper's command line as Chromium leaves it: one string, then a NUL."""
    return f"/usr/lib/chromium/chromium --type={kind} --no-sandbox --user-data-dir={PROFILE} --change-stack-guard\0"


NODE = 4100  # Playwright's driver, the browser's parent: it names no profile


def test_the_browser_is_found_after_a_pid_wraparound() -> None:
    processes = {
        32765: (NODE, 1000, BROWSER),
        304: (32765, 1003, helper("zygote")),
        305: (32765, 1003, helper("zygote")),
        328: (32765, 1010, helper("gpu-process")),
        390: (304, 1020, helper("renderer")),
    }
    assert browser_process(processes, PROFILE) == 32765


def test_the_browser_is_found_without_a_wraparound() -> None:
    processes = {5000: (NODE, 1000, BROWSER), 5008: (5000, 1003, helper("zygote")),
                 5020: (5008, 1020, helper("renderer"))}
    assert browser_process(processes, PROFILE) == 5000


def test_a_child_forked_but_not_yet_executed_is_not_the_browser() -> None:
    """Between fork and exec a child shows its parent's command line: it is the browser's child, not the browser."""
    processes = {32767: (NODE, 1000, BROWSER), 301: (32767, 1005, BROWSER)}
    assert browser_process(processes, PROFILE) == 32767


def test_helpers_left_after_the_browser_exited_are_no_browser() -> None:
    """Orphaned helpers (re-parented) are roots of the tree, but helpers."""
    processes = {304: (1, 1003, helper("zygote")), 390: (304, 1020, helper("renderer"))}
    assert browser_process(processes, PROFILE) is None


def test_of_two_browsers_of_one_profile_the_earliest_started_counts() -> None:
    processes = {300: (NODE, 2000, BROWSER), 32000: (NODE, 1000, BROWSER)}
    assert browser_process(processes, PROFILE) == 32000


def test_another_profile_is_not_this_session() -> None:
    processes = {5000: (NODE, 1000, BROWSER.replace("/001/", "/002/"))}
    assert browser_process(processes, PROFILE) is None
