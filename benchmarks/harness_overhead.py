"""What the harness costs a single check: bare Chromium vs Chromium behind the suite's proxy.

Floor: Playwright launches Debian's Chromium headless, loads a page from a loopback HTTPS server and
closes. Harness: the same page through the in-process mitmproxy (SPKI-pinned), with a per-session
profile and the native-download reset, as the chromium driver does. Reported: medians and the ratio.
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    with FixtureSite(work / "tls") as site, NetworkOracle(work / "mitm", site.site_ca.cert_path) as proxy:
        for host in SITE_HOSTS:
            proxy.route(host, 443, ("127.0.0.1", site.ports["tls"]))
        direct_url = f"https://127.0.0.1:{site.ports['tls']}/pages/downloads.html"
        with sync_playwright() as pw:

            def floor() -> None:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--ignore-certificate-errors"])
                page = browser.new_page()
                page.goto(direct_url, wait_until="load")
                browser.close()

            def harness() -> None:
                profile = Path(tempfile.mkdtemp(dir=work))
                context = pw.chromium.launch_persistent_context(
                    str(profile),
                    executable_path=CHROMIUM,
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
            rows = {"floor": [], "harness": []}
            for _ in range(args.repeat):  # interleaved so that machine noise hits both alike
                rows["floor"].append(timed(floor))
                rows["harness"].append(timed(harness))
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
