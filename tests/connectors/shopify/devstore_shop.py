"""One installed devstore shop for connector tests: OAuth, webhooks to a receiver, reads."""

from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qsl, urlsplit

import httpx

from connectors.base import Order, Product
from connectors.shopify.connector import ShopifyConnector
from tests.connectors.receiver import WebhookReceiver

REDIRECT_URI = "https://comeback.test/auth/callback"


def register_app(devstore, prefix: str) -> tuple[str, str]:
    """Register a fresh app on the devstore; return its client id and secret."""
    client_id, client_secret = f"{prefix}-{secrets.token_hex(4)}", "secret-" + secrets.token_hex(16)
    httpx.post(f"{devstore.url}/_devstore/apps", json={"client_id": client_id, "client_secret": client_secret},
               timeout=10).raise_for_status()
    return client_id, client_secret


class Shop:
    """One installed devstore shop: the connector, its credentials and the control API."""

    def __init__(self, devstore, app_keys, receiver: WebhookReceiver, scopes: str):
        self.domain = f"conn-{secrets.token_hex(4)}.myshopify.com"
        self.http = httpx.Client(base_url=devstore.url, timeout=30)
        self.http.post("/_devstore/shops", json={"domain": self.domain}).raise_for_status()
        self.connector = ShopifyConnector(api_key=app_keys[0], api_secret=app_keys[1], scopes=scopes,
                                          api_origin=devstore.url)
        request = self.connector.authorization_request(self.domain, REDIRECT_URI, "state-media")
        location = self.http.get(request.url, follow_redirects=False).headers["location"]
        query = dict(parse_qsl(urlsplit(location).query))
        self.credentials = self.connector.exchange_code(self.domain, query["code"], REDIRECT_URI)
        self.connector.register_webhooks(self.credentials, f"{receiver.url}/webhooks/shopify")
        self.receiver = receiver

    def control(self, method: str, path: str, body: dict | None = None):
        response = self.http.request(method, f"/_devstore/shops/{self.domain}{path}", json=body)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json()

    def webhooks(self, topic: str, count: int = 1):
        """Return the events of this shop's verified ``topic`` deliveries, oldest first."""
        deliveries = self.receiver.wait(lambda d: d.header("X-Shopify-Shop-Domain") == self.domain
                                        and d.header("X-Shopify-Topic") == topic, count)
        events = []
        for delivery in deliveries:
            envelope = self.connector.verify_webhook(delivery.headers, delivery.body)
            events.append(self.connector.parse_event(envelope.topic, envelope.body))
        return events

    def paged(self, resource: str) -> dict[str, object]:
        found, cursor = {}, None
        while True:
            page = self.connector.fetch_page(self.credentials, resource, cursor=cursor, updated_since=None)
            found.update({r.external_id: r for r in page.records if isinstance(r, (Product, Order))})
            if (cursor := page.next_cursor) is None:
                return found

    def bulk(self, resource: str) -> dict[str, object]:
        job = self.connector.start_backfill(self.credentials, resource)
        deadline = time.monotonic() + 60
        while job.status == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
            job = self.connector.poll_backfill(self.credentials, job)
        assert job.status == "completed", job
        return {r.external_id: r for r in self.connector.iter_backfill(job)}

    def close(self) -> None:
        self.connector.close()
        self.http.close()
