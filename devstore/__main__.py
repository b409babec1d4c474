"""Command line: `python -m devstore --port 8100 --app ID:SECRET --shop demo --seed 1`."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from typing import Optional

from werkzeug.serving import run_simple

from .generator import GenerateSpec, generate
from .server import create_app, serve_in_thread, store_of
from .woo.context import registry_of
from .woo.seed import generate as generate_woo
from .woo.tls import make_self_signed, server_context

log = logging.getLogger("devstore")


def _app_spec(value: str) -> dict:
    """Parse CLIENT_ID:CLIENT_SECRET[:COMPLIANCE_URI]."""
    parts = value.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise argparse.ArgumentTypeError("expected CLIENT_ID:CLIENT_SECRET[:COMPLIANCE_URI]")
    return {"client_id": parts[0], "client_secret": parts[1],
            "compliance_uri": parts[2] if len(parts) == 3 else None}


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Parse command line arguments."""
    parser = argparse.ArgumentParser(prog="python -m devstore",
                                     description="A local fake Shopify over HTTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--public-url", help="base URL put in bulk result links")
    parser.add_argument("--app", action="append", type=_app_spec, default=[],
                        metavar="CLIENT_ID:CLIENT_SECRET[:COMPLIANCE_URI]")
    parser.add_argument("--shop", action="append", default=[], metavar="DOMAIN")
    parser.add_argument("--seed", type=int, help="generate history in every --shop")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--products", type=int, default=30)
    parser.add_argument("--checkouts", type=int, default=50)
    parser.add_argument("--woo-store", action="append", default=[], metavar="HANDLE",
                        help="a WooCommerce store served under /woo/HANDLE")
    parser.add_argument("--tls-port", type=int,
                        help="also serve over HTTPS (self-signed) on this port")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> None:
    """Run the devstore server."""
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    public_url = args.public_url or f"http://{args.host}:{args.port}"
    app = create_app({"public_url": public_url, "apps": args.app, "shops": args.shop,
                      "woo_stores": args.woo_store})
    devstore = store_of(app)
    woo = registry_of(app)
    if args.seed is not None:
        spec = GenerateSpec(seed=args.seed, customers=args.customers, products=args.products,
                            orders=args.orders, checkouts=args.checkouts)
        for domain in args.shop:
            shop, _ = devstore.ensure_shop(domain)
            log.info("seeded %s: %s", shop.domain, generate(shop, spec))
        for handle in args.woo_store:
            log.info("seeded woo/%s: %s", handle, generate_woo(woo.get(handle), spec))
    if args.tls_port is not None:
        certfile, keyfile = make_self_signed(tempfile.mkdtemp(prefix="devstore-tls-"))
        serve_in_thread(app, args.host, args.tls_port, server_context(certfile, keyfile))
        log.info("devstore TLS listener on https://%s:%s (certificate %s)", args.host,
                 args.tls_port, certfile)
    woo.refresh_all()
    log.info("devstore listening on %s", public_url)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
