"""Only connectors/ knows a platform: no SDK import, header or topic name anywhere else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = [
    re.compile(r"^\s*(from|import)\s+(shopify_app|shopify)\b", re.M),
    re.compile(r"X-Shopify-", re.I),
    re.compile(r"myshopify\.com"),
    re.compile(r"admin\.shopify\.com"),
    re.compile(r"\b(orders|customers|products|checkouts|refunds)/(create|update|updated|paid|cancelled|delete|redact|data_request)\b"),
    re.compile(r"\b(app/uninstalled|shop/redact)\b"),
    re.compile(r"\bgid://shopify"),
    re.compile(r"graphql\.json"),
    re.compile(r"X-WC-", re.I),
    re.compile(r"X-Comeback-(Store|Signature|Timestamp)", re.I),
    re.compile(r"wc-auth|wp-json|wc/v3|woocommerce_rest_"),
    re.compile(r"\b(order|customer|product|coupon)\.(created|updated|deleted|restored)\b"),
    re.compile(r"checkout-draft"),
]


def _offences(folder: str) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        text = path.read_text()
        for pattern in FORBIDDEN:
            match = pattern.search(text)
            if match:
                found.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    return found


def test_app_and_jobs_do_not_know_a_platform():
    assert _offences("app") + _offences("jobs") + _offences("migrations") == []


def test_the_check_catches_an_offence(tmp_path):
    # The patterns must fire on what they are meant to catch.
    sample = ("import shopify_app\nheaders['X-Shopify-Topic']\ntopic = 'orders/create'\n"
              "headers['X-WC-Webhook-Signature']\ntopic = 'order.updated'\nurl = '/wp-json/wc/v3/orders'\n")
    assert all(any(p.search(line) for p in FORBIDDEN) for line in sample.splitlines())
