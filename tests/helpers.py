"""Test helpers: drive devstore's control API, run queued jobs, install through real OAuth."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from rq import SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from app.extensions import redis_holder
from jobs.queues import QUEUE_NAMES, queue


class DevstoreShop:
    """One shop on the devstore, driven through its control API."""

    def __init__(self, base_url: str, domain: str):
        self.base_url = base_url
        self.domain = domain
        self.http = httpx.Client(base_url=base_url, timeout=60)

    def control(self, method: str, path: str, **json: Any) -> Any:
        response = self.http.request(method, f"/_devstore/shops/{self.domain}{path}", json=json or None)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def create(self) -> None:
        response = self.http.post("/_devstore/shops", json={"domain": self.domain})
        assert response.status_code in (200, 201), response.text

    def generate(self, **spec: Any) -> Any:
        return self.control("POST", "/generate", **spec)

    def drain_deliveries(self) -> None:
        response = self.http.post("/_devstore/delivery/drain", json={"timeout": 30})
        assert response.status_code == 200, response.text

    def deliveries(self, topic: str | None = None) -> list[dict[str, Any]]:
        params = {"shop": self.domain}
        if topic:
            params["topic"] = topic
        response = self.http.get("/_devstore/deliveries", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def session_token(self, client_id: str, **extra: Any) -> str:
        return self.control("POST", "/session-token", client_id=client_id, **extra)["token"]


class WooStore:
    """One WooCommerce store on the devstore, driven through its control API."""

    def __init__(self, base_url: str, tls_url: str, handle: str):
        self.handle = handle
        self.url = f"{base_url}/woo/{handle}"
        self.https_url = f"{tls_url}/woo/{handle}"
        self.http = httpx.Client(base_url=base_url, timeout=60)

    def control(self, method: str, path: str, **json: Any) -> Any:
        response = self.http.request(method, f"/_devstore/woo/stores/{self.handle}{path}", json=json or None)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def create(self, **flags: Any) -> None:
        response = self.http.post("/_devstore/woo/stores", json={"handle": self.handle})
        assert response.status_code in (200, 201), response.text
        if flags:
            self.control("POST", "", **flags)

    def summary(self) -> dict[str, Any]:
        return self.control("GET", "")

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "/stats")

    def generate(self, **spec: Any) -> Any:
        return self.control("POST", "/generate", **spec)

    def drain_deliveries(self) -> None:
        response = self.http.post("/_devstore/woo/delivery/drain", json={"timeout": 30})
        assert response.status_code == 200, response.text

    def deliveries(self, topic: str | None = None) -> list[dict[str, Any]]:
        params = {"store": self.handle, **({"topic": topic} if topic else {})}
        response = self.http.get("/_devstore/woo/deliveries", params=params)
        assert response.status_code == 200, response.text
        return response.json()


def connect_woo(client, store: WooStore) -> Any:
    """Connect ``store`` through wc-auth as a merchant's browser would; return the return page."""
    response = client.get("/auth/woocommerce/install", query_string={"store": store.url})
    assert response.status_code == 302, response.get_data(as_text=True)
    # devstore approves, posts the keys to our (live) callback, then redirects the browser back.
    approval = store.http.get(response.headers["Location"], follow_redirects=False)
    assert approval.status_code == 302, approval.text
    back = urlsplit(approval.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of an embedded-admin request."""
    return {"Authorization": f"Bearer {token}"}


def run_jobs(max_rounds: int = 400) -> list[str]:
    """Run every queued job (scheduled ones too, at once) until none is left; return failures."""
    connection = redis_holder.get()
    queues = [queue(name) for name in QUEUE_NAMES]
    for _ in range(max_rounds):
        promoted = 0
        for q in queues:
            registry = ScheduledJobRegistry(queue=q)
            for job_id in registry.get_job_ids():
                job = Job.fetch(job_id, connection=connection)
                registry.remove(job)
                q.enqueue_job(job)
                promoted += 1
        if not promoted and not any(q.count for q in queues):
            break
        if promoted:
            time.sleep(0.05)
        SimpleWorker(queues, connection=connection).work(burst=True, logging_level="WARNING")
    failed = []
    for q in queues:
        for job_id in FailedJobRegistry(queue=q).get_job_ids():
            job = Job.fetch(job_id, connection=connection)
            failed.append(f"{job.func_name}: {(job.exc_info or '').strip().splitlines()[-1:]}")
    return failed


def install(client, store: DevstoreShop, platform: str = "shopify") -> str:
    """Install the app into ``store`` through the real OAuth redirects; return the callback path."""
    response = client.get(f"/auth/{platform}/install", query_string={"shop": store.domain})
    assert response.status_code == 302, response.get_data(as_text=True)
    approval = store.http.get(response.headers["Location"], follow_redirects=False)
    assert approval.status_code == 302, approval.text
    callback = urlsplit(approval.headers["Location"])
    result = client.get(f"{callback.path}?{callback.query}")
    assert result.status_code == 302, result.get_data(as_text=True)
    return f"{callback.path}?{callback.query}"


def signed_webhook(secret: str, shop: str, topic: str, payload: dict[str, Any] | bytes,
                   webhook_id: str | None = None) -> tuple[dict[str, str], bytes]:
    """Build a delivery as the platform sends it: raw body and signed headers."""
    import base64
    import hashlib
    import hmac
    import json
    import uuid

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": digest,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        # A duplicate delivery repeats the event id; a distinct delivery gets its own.
        "X-Shopify-Event-Id": f"event-{webhook_id}" if webhook_id else str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2026-11-30T10:00:00Z",
    }
    return headers, body


def order_payload(order_id: int, updated_at: str, *, financial_status: str = "paid", total: str = "50.00",
                  customer_id: int = 7001, email: str = "ada@example.com", refunds: list | None = None,
                  lines: int = 2) -> dict[str, Any]:
    """An order webhook payload in the platform's REST shape."""
    line_items = [
        {"id": order_id * 10 + i, "product_id": 900 + i, "variant_id": 9000 + i, "title": f"Item {i}",
         "quantity": 1, "price": f"{Decimal(total) / lines:.2f}",
         "sku": f"SKU-{i}", "total_discount": "0.00"}
        for i in range(lines)
    ]
    return {
        "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}", "name": f"#{order_id}",
        "email": email, "created_at": "2026-11-01T10:00:00+00:00", "updated_at": updated_at,
        "processed_at": "2026-11-01T10:00:00+00:00", "cancelled_at": None,
        "financial_status": financial_status, "fulfillment_status": None, "currency": "USD",
        "total_price": total, "subtotal_price": total, "total_discounts": "0.00", "total_tax": "0.00",
        "test": False, "tags": "", "discount_codes": [],
        "customer": {"id": customer_id, "email": email, "first_name": "Ada", "last_name": "Lovelace"},
        "line_items": line_items, "refunds": refunds or [],
    }


def record_call(name: str) -> None:
    """A job that notes that it ran, in order (queue-priority tests)."""
    redis_holder.get().rpush("test:calls", name)


def proxy_query(domain: str, customer: str | None = None, *, secret: str, at: float | None = None,
                **params: str) -> str:
    """A storefront query string as Shopify's app proxy sends it, signed with the app's secret."""
    from urllib.parse import urlencode

    from connectors.shopify.app_proxy import signature

    query = urlencode({**params, "shop": domain, "logged_in_customer_id": customer or "",
                       "path_prefix": "/apps/comeback", "timestamp": str(int(at if at is not None else time.time()))})
    return f"{query}&signature={signature(query, secret)}"
