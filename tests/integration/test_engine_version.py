"""MNT-05's oracle on real browsers: the fixture site's engine.html, opened in the stale and in the current Debian
Chromium (headless, through Playwright directly), reports the engine's full version through User-Agent Client
Hints, and the lag rule tells them apart against the shipped release list."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.engine_releases import judge, load_engine_releases, patch_lag, read_engine_version
from conformance.environment.fixture_site import FixtureSite
from tests.integration.harness import ROOT, private_browser_env

CURRENT = Path("/usr/lib/chromium/chromium")
STALE = ROOT / "tools" / "chromium-stale" / "usr" / "lib" / "chromium" / "chromium"
RELEASES = ROOT / "fixtures" / "engine-releases.toml"


def _version_of(binary: Path) -> str:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    return out.split()[1]  # "Chromium 156.0.8078.114"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureSite]:
    with FixtureSite(tmp_path_factory.mktemp("tls")) as running:
        yield running


@pytest.fixture(scope="module")
def pw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's driver keeps a folder per launch in its TMPDIR (read once, at start): pytest's, not /tmp.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(tmp_path_factory.mktemp("playwright-tmp")))
        manager = sync_playwright()
        instance = manager.start()
    try:
        yield instance
    finally:
        manager.__exit__(None, None, None)


def _report_from(binary: Path, site: FixtureSite, pw: Any, env: dict[str, str], token: str) -> dict:
    browser = pw.chromium.launch(executable_path=str(binary), headless=True, args=["--no-sandbox"], env=env)
    try:
        page = browser.new_page()
        # http://127.0.0.1 is a secure context, as https://internet.test is in a run: UA-CH are offered there.
        page.goto(site.plain_url(f"/pages/engine.html?t={token}"), wait_until="load", timeout=15_000)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = [r for r in site.reports() if r.get("page") == "engine" and r.get("value") == token]
            if found:
                return found[-1]["detail"]
            page.wait_for_timeout(100)
    finally:
        browser.close()
    raise AssertionError(f"{binary}: engine.html did not report")


@pytest.mark.parametrize("which", ["current", "stale"])
def test_engine_version_read_through_ua_ch(
    which: str, site: FixtureSite, pw: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    binary = CURRENT if which == "current" else STALE
    if not binary.is_file():
        pytest.skip(f"{binary} is absent: scripts/setup.sh unpacks Debian's older chromium there when apt offers one")
    expected = _version_of(binary)
    detail = _report_from(binary, site, pw, private_browser_env(tmp_path_factory), token=f"{which}-engine")
    releases = load_engine_releases(RELEASES)
    hints = detail["highEntropy"]
    assert hints is not None, detail  # UA-CH exist in a secure context of every Chromium
    read = read_engine_version(hints, detail["userAgent"], releases.engines())
    assert (read.engine, read.version, read.via) == ("Chromium", expected, "ua-ch fullVersionList"), detail
    assert ".0.0.0" in detail["userAgent"] or expected in detail["userAgent"]  # reduced or full: never another one

    lag = patch_lag(read.engine, read.version, releases, max(dt.datetime.now(dt.UTC).date(), releases.compiled))
    if which == "stale":
        assert read.version.startswith("150."), read.version
        assert lag.first_newer is not None and lag.lag_days > 30
        assert not judge(lag, 30)[0]
    else:
        assert read.version.startswith("156."), read.version
        assert lag.lag_days == 0 and judge(lag, 30)[0]
