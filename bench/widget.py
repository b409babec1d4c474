"""Benchmark 8: what the storefront widget costs a store's pages.

1. The widget's size: the loader every page view fetches and the panel fetched on first open,
   as served (gzip), against the 10 KB budget for what loads on page view.
2. Lighthouse's performance score of a devstore Shopify storefront page with the app embed
   switched on and off, in the same run (median of ``--runs`` each, Lighthouse's default
   mobile profile with simulated throttling), and what the widget adds to that page view:
   requests and bytes, from Lighthouse's own network log.

The stack: devstore, the app under gunicorn on PostgreSQL + Redis, the app installed in a
devstore shop through OAuth, the page opened on the shop's own host name (as
``<shop>.myshopify.com.localhost``, which devstore answers for the shop) so the widget loads
through the app proxy as on a real store.
Lighthouse comes from the npm registry into ``bench/.node/`` on first use (``--lighthouse``
names another one); Chromium is the system's (``/usr/bin/chromium``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.common import PYTHON, ROOT, bench_environ, free_port, start

SHOP = "bench-widget.myshopify.com"
BUDGET = 10 * 1024
CHROMIUM = os.environ.get("COMEBACK_CHROMIUM", "/usr/bin/chromium")
FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update "
         "--disable-sync --no-first-run --disable-quic")


def lighthouse_command(given: str | None) -> list[str]:
    if given:
        return [given]
    folder = ROOT / "bench" / ".node"
    binary = folder / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        print("installing lighthouse from the npm registry into bench/.node …", flush=True)
        subprocess.run(["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "lighthouse@12"],
                       check=True, capture_output=True)
    return [str(binary)]


def served_size(url: str) -> tuple[int, int]:
    """Bytes on the wire (gzip) and after decoding of one widget file."""
    with httpx.Client(timeout=10) as client:
        response = client.get(url, headers={"Accept-Encoding": "gzip"})
        response.raise_for_status()
        return response.num_bytes_downloaded, len(response.content)


def lighthouse(command: list[str], url: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        done = subprocess.run([*command, url, "--only-categories=performance", "--output=json",
                               f"--output-path={report}", "--quiet", f"--chrome-flags={FLAGS}"],
                              env={**os.environ, "CHROME_PATH": CHROMIUM}, capture_output=True, timeout=240)
        if done.returncode:
            raise SystemExit(f"lighthouse failed: {done.stderr.decode()[-2000:]}")
        data = json.loads(report.read_text())
    if data.get("runtimeError"):
        raise SystemExit(f"lighthouse: {data['runtimeError']}")
    audits = data["audits"]
    requests = audits["network-requests"]["details"]["items"]
    widget = [r for r in requests if "/apps/comeback/" in r["url"]]
    return {"score": round(data["categories"]["performance"]["score"] * 100),
            "lcp": audits["largest-contentful-paint"]["numericValue"],
            "tbt": audits["total-blocking-time"]["numericValue"],
            "cls": audits["cumulative-layout-shift"]["numericValue"],
            "widget_requests": len(widget), "widget_bytes": sum(r.get("transferSize", 0) for r in widget)}


def install(app_url: str) -> None:
    """Follow the install redirects as a merchant's browser would."""
    browser = httpx.Client(timeout=30, follow_redirects=False)
    step = browser.get(f"{app_url}/auth/shopify/install", params={"shop": SHOP})
    for _ in range(6):
        if step.status_code != 302:
            break
        location = step.headers["Location"]
        location = f"{app_url}{location}" if location.startswith("/") else location
        if urlsplit(location).path in ("/admin", "/admin/onboarding"):
            return
        step = browser.get(location)
    raise SystemExit(f"install did not finish: {step.status_code} {step.text[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lighthouse", default=None, help="a lighthouse executable (default: bench/.node)")
    args = parser.parse_args()
    devstore_port, app_port = free_port(), free_port()
    devstore_url, app_url = f"http://127.0.0.1:{devstore_port}", f"http://127.0.0.1:{app_port}"
    environ = bench_environ("widget", APP_URL=app_url, SHOPIFY_API_ORIGIN=devstore_url)
    processes = []
    try:
        processes.append(start([PYTHON, "-m", "devstore", "--host", "127.0.0.1", "--port", str(devstore_port)],
                               environ, f"{devstore_url}/_devstore/health"))
        control = httpx.Client(base_url=devstore_url, timeout=60)
        control.post("/_devstore/apps", json={
            "client_id": environ["SHOPIFY_API_KEY"], "client_secret": environ["SHOPIFY_API_SECRET"],
            "compliance_uri": f"{app_url}/webhooks/shopify",
            "app_proxy": {"url": f"{app_url}/proxy", "prefix": "apps", "subpath": "comeback"},
            "extensions": [str(ROOT / "extensions" / "comeback-widget")]}).raise_for_status()
        control.post("/_devstore/shops", json={"domain": SHOP}).raise_for_status()
        control.post(f"/_devstore/shops/{SHOP}/generate",
                     json={"seed": 1, "customers": 50, "products": 12, "orders": 100}).raise_for_status()
        processes.append(start([PYTHON, "-m", "gunicorn", "--workers", "2", "--threads", "4", "--bind",
                                f"127.0.0.1:{app_port}", "wsgi:app"], environ, f"{app_url}/healthz"))
        install(app_url)

        loader = served_size(f"{app_url}/widget/comeback.js")
        panel = served_size(f"{app_url}/widget/panel.js")
        print("widget files as served (gzip on the wire / decoded):")
        print(f"  comeback.js (every page view): {loader[0]:,} B / {loader[1]:,} B — "
              f"{loader[0] / BUDGET:.2f} of the 10 KB budget")
        print(f"  panel.js (first open only):    {panel[0]:,} B / {panel[1]:,} B")

        if not Path(CHROMIUM).exists():
            print(f"no Chromium at {CHROMIUM}: Lighthouse not run")
            return
        command = lighthouse_command(args.lighthouse)
        page = f"http://{SHOP}.localhost:{devstore_port}/"  # browsers resolve *.localhost to loopback
        results: dict[str, list[dict]] = {"without": [], "with": []}
        for _ in range(args.runs):  # alternate, so that a slower moment of the machine hits both
            for state in ("without", "with"):
                control.post(f"/_devstore/shops/{SHOP}/app-embeds", json={
                    "client_id": environ["SHOPIFY_API_KEY"], "block": "app-embed",
                    "enabled": state == "with"}).raise_for_status()
                results[state].append(lighthouse(command, page))
        print(f"\nLighthouse performance of {page} (median of {args.runs}; mobile profile, simulated throttling):")
        print("| Page | Score | LCP ms | TBT ms | CLS | Widget requests | Widget bytes |")
        print("|---|---|---|---|---|---|---|")
        for state in ("without", "with"):
            runs = results[state]
            median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            print(f"| {state} widget | {median['score']:.0f} | {median['lcp']:.0f} | {median['tbt']:.0f} | "
                  f"{median['cls']:.3f} | {median['widget_requests']:.0f} | {median['widget_bytes']:,.0f} |")
        scores = {state: statistics.median(r["score"] for r in results[state]) for state in results}
        print(f"score cost of the widget: {scores['without'] - scores['with']:.0f} points "
              f"(all runs: without {[r['score'] for r in results['without']]}, "
              f"with {[r['score'] for r in results['with']]})")
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
