"""Run the whole app on the embedded default next to a local devstore, with a demo shop.

Starts devstore, migrates, starts the web app and a worker (with the scheduler; the embedded
Redis comes up with the first of them), installs the app into a demo Shopify shop through the
real OAuth redirects and connects a demo WooCommerce store (same generated history) through
wc-auth, waits for both backfills, starts a trickle of live Shopify orders and prints the URLs.
Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not come up within {seconds:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--devstore-port", type=int, default=None, help="default: DEVSTORE_PORT (8100)")
    parser.add_argument("--shop", default="demo-shop.myshopify.com")
    parser.add_argument("--woo-store", default="demo-woo", help="handle of the WooCommerce store on devstore")
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--trickle-seconds", type=float, default=5.0)
    args = parser.parse_args()

    from app.config import load_settings

    devstore_port = args.devstore_port or load_settings().devstore_port
    devstore_url = f"http://127.0.0.1:{devstore_port}"
    app_url = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, "SHOPIFY_API_ORIGIN": devstore_url, "APP_URL": app_url}
    # The embedded default's generated secrets are the demo app's credentials at devstore.
    settings = load_settings(environ=env)
    processes: list[subprocess.Popen] = []
    embedded: list[object] = []  # the embedded Redis server this launcher started

    def start(*command: str) -> None:
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env))

    def stop(*_args: object) -> None:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for server in embedded:
            try:
                server.shutdown(nosave=True)  # type: ignore[attr-defined]
            except redis.RedisError:
                pass
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        start(PYTHON, "-m", "devstore", "--host", "127.0.0.1", "--port", str(devstore_port))
        wait_for(f"{devstore_url}/_devstore/shops/{args.shop}/stats")
        control = httpx.Client(base_url=devstore_url, timeout=120)
        # The app as shopify.app.toml declares it: its app proxy, and the theme app extension
        # whose app embed puts the storefront widget on the shop's pages.
        control.post("/_devstore/apps", json={
            "client_id": settings.shopify_api_key, "client_secret": settings.shopify_api_secret,
            "compliance_uri": f"{app_url}/webhooks/shopify",
            "app_proxy": {"url": f"{app_url}/proxy", "prefix": "apps", "subpath": "comeback"},
            "extensions": [str(ROOT / "extensions" / "comeback-widget")],
            "application_url": f"{app_url}/admin"}).raise_for_status()
        control.post("/_devstore/shops", json={"domain": args.shop}).raise_for_status()
        stats = control.get(f"/_devstore/shops/{args.shop}/stats").json()
        if not stats.get("orders"):
            print(f"generating {args.orders} orders of history in the demo shop…", flush=True)
            control.post(f"/_devstore/shops/{args.shop}/generate",
                         json={"seed": 1, "customers": max(10, args.orders // 4), "products": 40,
                               "orders": args.orders, "checkouts": max(5, args.orders // 50)}).raise_for_status()

        # The embedded Redis lives as long as this launcher; web and worker join it.
        from app.extensions import embedded_redis

        redis_server, redis_client = embedded_redis(settings)
        redis_client.ping()
        embedded.append(redis_server)
        subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", "migrate"], cwd=ROOT, env=env, check=True)
        start(PYTHON, "-m", "flask", "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", str(args.port),
              "--with-threads", "--no-reload")
        start(PYTHON, "-m", "flask", "--app", "wsgi", "worker")
        wait_for(f"{app_url}/healthz")

        # Install through the real redirects, as a merchant's browser would follow them.
        browser = httpx.Client(timeout=30, follow_redirects=False)
        step = browser.get(f"{app_url}/auth/shopify/install", params={"shop": args.shop})
        for _ in range(5):
            if step.status_code != 302:
                break
            location = step.headers["Location"]
            if location.startswith("/"):
                location = f"{app_url}{location}"
            if urlsplit(location).path in ("/admin", "/admin/onboarding"):
                break
            step = browser.get(location)
        # The merchant switches the widget's app embed on in the theme editor.
        control.post(f"/_devstore/shops/{args.shop}/app-embeds",
                     json={"client_id": settings.shopify_api_key, "block": "app-embed"}).raise_for_status()
        print("installed; backfilling…", flush=True)
        subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", "sync-progress", args.shop], cwd=ROOT, env=env,
                       check=False, timeout=900)

        # The WooCommerce store: same generator, its companion plugin present, connected through
        # wc-auth (devstore posts the keys to our callback, then sends the browser back).
        woo_url = f"{devstore_url}/woo/{args.woo_store}"
        control.post("/_devstore/woo/stores", json={"handle": args.woo_store}).raise_for_status()
        control.post(f"/_devstore/woo/stores/{args.woo_store}", json={"plugin_installed": True}).raise_for_status()
        if not control.get(f"/_devstore/woo/stores/{args.woo_store}/stats").json().get("orders"):
            control.post(f"/_devstore/woo/stores/{args.woo_store}/generate",
                         json={"seed": 1, "customers": max(10, args.orders // 4), "products": 40,
                               "orders": args.orders, "checkouts": max(5, args.orders // 50)}).raise_for_status()
        step = browser.get(f"{app_url}/auth/woocommerce/install", params={"store": woo_url})
        for _ in range(5):
            if step.status_code != 302:
                break
            step = browser.get(step.headers["Location"])
        if step.status_code != 200:
            raise SystemExit(f"connecting the WooCommerce store failed: {step.status_code} {step.text[:300]}")
        print("WooCommerce store connected; backfilling…", flush=True)
        subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", "sync-progress", woo_url], cwd=ROOT, env=env,
                       check=False, timeout=900)
        control.post(f"/_devstore/shops/{args.shop}/trickle",
                     json={"interval_seconds": args.trickle_seconds}).raise_for_status()
        print(f"""
Comeback is running on the embedded default.
  app:           {app_url}   (health: {app_url}/healthz)
  Shopify admin: http://{args.shop}.localhost:{devstore_port}/admin/apps/{settings.shopify_api_key}
                 (the shop's admin framing Comeback, with App Bridge and session tokens)
  Woo admin:     {woo_url}/wp-admin/admin.php?page=comeback   ("Open Comeback" signs you in)
  devstore:      {devstore_url}   (stats: {devstore_url}/_devstore/shops/{args.shop}/stats)
  Shopify store: http://{args.shop}.localhost:{devstore_port}/   (the storefront with the widget's app embed;
                 sign in as a customer: …/account/login?customer=<id>)
  sync progress: .venv/bin/flask --app wsgi sync-progress {args.shop}
  WooCommerce:   {woo_url}/   (storefront with the plugin's widget; ?customer=<id> signs in; stats:
                 {devstore_url}/_devstore/woo/stores/{args.woo_store}/stats; a live order:
                 curl -X POST {devstore_url}/_devstore/woo/stores/{args.woo_store}/orders -H 'Content-Type: application/json' -d '{{}}')
  sync progress: .venv/bin/flask --app wsgi sync-progress {woo_url}
A live order arrives every {args.trickle_seconds:g}s and reaches the app as a signed webhook.
Ctrl-C stops everything.""", flush=True)
        while all(process.poll() is None for process in processes):
            time.sleep(1)
        print("a process exited; stopping", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        stop()


if __name__ == "__main__":
    main()
