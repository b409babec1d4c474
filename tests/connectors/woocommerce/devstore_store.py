"""One WooCommerce store on devstore for connector tests: keys, webhooks to a receiver, reads."""

from __future__ import annotations

import secrets

import httpx

from connectors import base
from connectors.woocommerce.connector import WooCommerceConnector
from tests.connectors.receiver import WebhookReceiver


class Store:
    """One WooCommerce store on devstore with the connector's keys and webhooks to a receiver."""

    def __init__(self, devstore, receiver: WebhookReceiver, certificate: str):
        self.certificate = certificate
        self.handle = f"media-{secrets.token_hex(4)}"
        self.http = httpx.Client(base_url=devstore.url, timeout=60)
        self.http.post("/_devstore/woo/stores", json={"handle": self.handle}).raise_for_status()
        key = self.http.post(f"/_devstore/woo/stores/{self.handle}/keys", json={}).json()
        self.connector = WooCommerceConnector(https_only=False, allow_private=True)
        self.credentials = self.connector.verify_keys(f"{devstore.url}/woo/{self.handle}",
                                                      key["consumer_key"], key["consumer_secret"])
        self.secret = secrets.token_hex(16)
        self.path = f"/webhooks/woocommerce/{self.handle}"
        self.connector.register_webhooks(self.credentials, receiver.url + self.path, secret=self.secret)
        self.receiver = receiver

    def control(self, method: str, path: str, body: dict | None = None):
        response = self.http.request(method, f"/_devstore/woo/stores/{self.handle}{path}", json=body)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json()

    def home(self) -> str:
        """Return the store's home URL (its https URL once devstore has a TLS listener)."""
        return str(self.connector.client(self.credentials).root()["home"]).rstrip("/")

    def rest(self, path: str):
        return self.connector.client(self.credentials).get(path).data

    def webhooks(self, topic: str, count: int = 1) -> list[base.NormalizedEvent]:
        deliveries = self.receiver.wait(lambda d: d.path == self.path and d.header("X-WC-Webhook-Topic") == topic,
                                        count)
        events = []
        for delivery in deliveries:
            envelope = self.connector.verify_webhook(delivery.headers, delivery.body, shop_key=self.credentials.shop_key,
                                                     secret=self.secret)
            events.append(self.connector.parse_event(envelope.topic, envelope.body))
        return events

    def drained(self) -> None:
        assert self.http.post("/_devstore/woo/delivery/drain", json={"timeout": 15}).status_code == 200

    def read(self, resource: str) -> dict[str, object]:
        found, cursor = {}, None
        while True:
            page = self.connector.fetch_page(self.credentials, resource, cursor=cursor, updated_since=None)
            found.update({r.external_id: r for r in page.records
                          if isinstance(r, (base.Product, base.Order, base.Customer))})
            if (cursor := page.next_cursor) is None:
                return found

    def close(self) -> None:
        self.connector.close()
        self.http.close()
