"""Helpers for devstore tests: constants, OAuth install and GraphQL calls."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

import httpx

CLIENT_ID = "test-client"
CLIENT_SECRET = "shpss_test_secret_0123456789abcdef0123"
SHOP = "demo-store.myshopify.com"
API = "/admin/api/2026-10/graphql.json"


@dataclass
class Received:
    """One request seen by the receiver."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Decode the body."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP server recording POSTs; answers from a queue of statuses (default 200)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_topic(self, topic: str) -> list[Received]:
        """Return requests with this X-Shopify-Topic."""
        with self.lock:
            return [r for r in self.requests if r.headers.get("x-shopify-topic") == topic]


def authorize(http: httpx.Client, shop: str = SHOP, scope: str = "read_orders",
              state: str = "nonce-1") -> dict[str, str]:
    """Run the authorize step and return the redirect's query parameters."""
    response = http.get("/admin/oauth/authorize", params={
        "shop": shop, "client_id": CLIENT_ID, "scope": scope,
        "redirect_uri": "https://app.example/auth/callback", "state": state})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {k: v[0] for k, v in query.items()}


def install(http: httpx.Client, shop: str = SHOP, expiring: bool = True) -> dict[str, Any]:
    """Install the app through OAuth and return the token response."""
    params = authorize(http, shop)
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": params["code"]}
    if expiring:
        body["expiring"] = "1"
    response = http.post("/admin/oauth/access_token", json=body, headers={"Host": shop})
    assert response.status_code == 200, response.text
    return response.json()


def gql(http: httpx.Client, token: str, query: str, variables: Optional[dict] = None,
        shop: str = SHOP) -> httpx.Response:
    """POST a GraphQL request as the shop."""
    return http.post(API, json={"query": query, "variables": variables or {}},
                     headers={"Host": shop, "X-Shopify-Access-Token": token})


def wait_bulk(http: httpx.Client, token: str, op_id: str, timeout: float = 60.0) -> dict:
    """Poll a bulk operation until it leaves CREATED/RUNNING and return it."""
    import time

    query = """query($id: ID!) { node(id: $id) { ... on BulkOperation { id status errorCode
        objectCount rootObjectCount fileSize url partialDataUrl createdAt completedAt } } }"""
    deadline = time.monotonic() + timeout
    while True:
        node = gql(http, token, query, {"id": op_id}).json()["data"]["node"]
        if node["status"] not in ("CREATED", "RUNNING") or time.monotonic() > deadline:
            return node
        time.sleep(0.05)


def subscribe(http: httpx.Client, token: str, topic: str, uri: str) -> dict:
    """Create a webhook subscription and return the mutation payload."""
    mutation = """mutation($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
      webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
        webhookSubscription { id topic uri } userErrors { field message } } }"""
    body = gql(http, token, mutation, {"topic": topic,
                                       "sub": {"uri": uri, "format": "JSON"}}).json()
    return body["data"]["webhookSubscriptionCreate"]
