"""What the harness costs a single check: bare Chromium vs Chromium behind the suite's proxy.

Floor: Playwright launches Debian's Chromium headless, loads a page from a loopback HTTPS server and
closes. Harness: the same page through the in-process mitmproxy (SPKI-pinned), with a per-session
profile and the native-download reset, as the chromium driver does. Reported: medians and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from conformance.environment.fixture_site import SITE_HOSTS, FixtureSite
from conformance.oracles.network import NetworkOracle

CHROMIUM = "/usr/lib/chromium/chromium"


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def page_loads(repeat: int, work: Path) -> dict[str, list[float]]:
    """Seconds of launch + page load + close, ``repeat`` times each, interleaved: {"floor": [..], "harness": [..]}.
    Floor: bare Chromium, the page straight from the loopback server; harness: through the network oracle."""
    with FixtureSite(work / "tls") as site, NetworkOracle(work / "mitm", site.site_ca.cert_path) as proxy:
        for host in SITE_HOSTS:
            proxy.route(host, 443, ("127.0.0.1", site.ports["tls"]))
        direct_url = f"https://127.0.0.1:{site.ports['tls']}/pages/downloads.html"
        # HOME inside the work folder: Crashpad writes ~/.config/chromium even with --user-data-dir.
        env = {**os.environ, "HOME": str(work / "home")}
        with sync_playwright() as pw:

            def floor() -> None:
                browser = pw.chromium.launch(executable_path=CHROMIUM, env=env, args=[
                    "--ignore-certificate-errors",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # nothing leaves loopback
                ])
                page = browser.new_page()
                page.goto(direct_url, wait_until="load")
                browser.close()

            def harness() -> None:
                profile = Path(tempfile.mkdtemp(dir=work))
                context = pw.chromium.launch_persistent_context(
                    str(profile),
                    executable_path=CHROMIUM,
                    env=env,
                    args=[
                        f"--proxy-server={proxy.proxy_url}",
                        "--proxy-bypass-list=<-loopback>",
                        f"--ignore-certificate-errors-spki-list={proxy.spki}",
                    ],
                )
                page = context.pages[0]
                cdp = context.new_cdp_session(page)
                cdp.send("Browser.setDownloadBehavior", {"behavior": "default"})
                page.goto("https://internet.test/pages/downloads.html", wait_until="load")
                context.close()

            floor()
            harness()  # warm-up: page cache, first launch
            rows: dict[str, list[float]] = {"floor": [], "harness": []}
            for _ in range(repeat):  # interleaved so that machine noise hits both alike
                rows["floor"].append(timed(floor))
                rows["harness"].append(timed(harness))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        rows = page_loads(args.repeat, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {name: statistics.median(values) for name, values in rows.items()}
    result["ratio"] = result["harness"] / result["floor"]
    print(f"floor   median {result['floor'] * 1000:7.0f} ms  (n={args.repeat})")
    print(f"harness median {result['harness'] * 1000:7.0f} ms")
    print(f"ratio harness/floor: {result['ratio']:.2f}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"harness_overhead-{stamp}.json").write_text(json.dumps({"samples": rows, **result}, indent=2))


if __name__ == "__main__":
    main()
