"""Command line: `python -m devstore --port 8100 --app ID:SECRET --shop demo --seed 1`."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional

from werkzeug.serving import run_simple

from .generator import GenerateSpec, generate
from .server import create_app, store_of

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
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> None:
    """Run the devstore server."""
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    public_url = args.public_url or f"http://{args.host}:{args.port}"
    app = create_app({"public_url": public_url, "apps": args.app, "shops": args.shop})
    devstore = store_of(app)
    if args.seed is not None:
        for domain in args.shop:
            shop, _ = devstore.ensure_shop(domain)
            counts = generate(shop, GenerateSpec(seed=args.seed, customers=args.customers,
                                                 products=args.products, orders=args.orders,
                                                 checkouts=args.checkouts))
            log.info("seeded %s: %s", shop.domain, counts)
    log.info("devstore listening on %s", public_url)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
