"""The Shopify implementation of ``connectors.base.Connector``."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, NoReturn
from urllib.parse import urlsplit

import httpx
from shopify_app import AppConfig, refresh_access_token, token_exchange

from connectors.base import (
    CAP_BULK_EXPORT,
    CAP_CONSENT_WRITEBACK,
    CAP_EMBEDDED_ADMIN,
    CAP_EXPIRING_TOKENS,
    CAP_ORDER_LOOKUP,
    CAP_SESSION_TOKENS,
    CAP_WEBHOOK_SUBSCRIPTIONS,
    REFETCH_ORDER,
    REFETCH_ORDER_REFUNDS,
    REFETCH_PRODUCT,
    AuthorizationRequest,
    AuthRevokedError,
    BackfillJob,
    ConsentResult,
    ConsentUpdate,
    Credentials,
    CustomerAttributes,
    DiscountResult,
    DiscountSpec,
    InvalidSignatureError,
    NormalizedEvent,
    Page,
    Refetch,
    RetryableError,
    StorefrontCaller,
    TerminalError,
    WebhookEnvelope,
)
from connectors.shopify import app_proxy, bulk, mapping, oauth, queries, session_tokens, webhooks, writeback
from connectors.shopify.graphql import GraphQLClient, user_errors
from connectors.shopify.transport import make_client
from connectors.shopify.values import external_id, to_gid

logger = logging.getLogger(__name__)

REFRESH_MARGIN = dt.timedelta(minutes=5)
_ALREADY_TAKEN = "already been taken"
_RETRYABLE_EXCHANGE_CODES = frozenset({"network_error", "rate_limit_exceeded", "server_error"})
_REVOKED_EXCHANGE_CODES = frozenset({"invalid_grant", "invalid_client", "refresh_token_expired"})
# The handle of the storefront widget's app embed block (its file name in the theme app extension).
APP_EMBED_BLOCK = "app-embed"


class ShopifyConnector:
    """Talk to Shopify stores: install, webhooks, GraphQL reads and bulk exports."""

    platform: ClassVar[str] = "shopify"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {CAP_BULK_EXPORT, CAP_CONSENT_WRITEBACK, CAP_EMBEDDED_ADMIN, CAP_EXPIRING_TOKENS, CAP_ORDER_LOOKUP,
         CAP_SESSION_TOKENS, CAP_WEBHOOK_SUBSCRIPTIONS})

    def __init__(self, *, api_key: str, api_secret: str, scopes: str, api_origin: str | None = None,
                 api_version: str = "2026-10", redis: Any = None, timeout: float = 10.0,
                 old_api_secret: str | None = None, max_throttle_wait: float = 30.0):
        if not api_key or not api_secret:
            raise ValueError("api_key and api_secret are required")
        self.api_key = api_key
        self._api_secret = api_secret
        self._old_api_secret = old_api_secret or None
        self.scopes = scopes
        self.api_origin = api_origin.rstrip("/") if api_origin else None
        self.api_version = api_version
        self.timeout = timeout
        self._redis = redis
        self._max_throttle_wait = max_throttle_wait
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None
        self._graphql: GraphQLClient | None = None

    # --- plumbing ------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = make_client(self.api_origin, self.timeout)
            return self._http

    def graphql(self) -> GraphQLClient:
        """Return the throttled GraphQL client of this connector."""
        client = self._client()
        with self._lock:
            if self._graphql is None:
                self._graphql = GraphQLClient(
                    api_version=self.api_version, http_client=client, redis=self._redis,
                    max_throttle_wait=self._max_throttle_wait)
            return self._graphql

    def close(self) -> None:
        """Close the connection pool."""
        with self._lock:
            if self._http is not None:
                self._http.close()
            self._http = None
            self._graphql = None

    @property
    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._api_secret, self._old_api_secret) if s)

    @property
    def _app_config(self) -> AppConfig:
        return {"client_id": self.api_key, "client_secret": self._api_secret,
                "old_client_secret": self._old_api_secret}

    # --- install -------------------------------------------------------------------------

    def normalize_shop_key(self, raw: str) -> str:
        """Return the lower-case ``*.myshopify.com`` domain; ``InvalidShopError`` otherwise."""
        return oauth.normalize_shop(raw)

    def authorization_request(self, shop_key: str, redirect_uri: str, state: str) -> AuthorizationRequest:
        """Return the URL that asks the merchant to approve the app."""
        shop = self.normalize_shop_key(shop_key)
        return oauth.authorize_url(shop, api_key=self.api_key, scopes=self.scopes,
                                   redirect_uri=redirect_uri, state=state, api_origin=self.api_origin)

    def verify_callback(self, query: Mapping[str, str]) -> str:
        """Check the OAuth callback's HMAC and return its shop domain."""
        return oauth.verify_callback(query, self._secrets)

    def exchange_code(self, shop_key: str, code: str, redirect_uri: str) -> Credentials:
        """Trade the callback's code for an expiring offline token and refresh token."""
        shop = self.normalize_shop_key(shop_key)
        credentials = oauth.exchange_code(
            shop, code, redirect_uri, api_key=self.api_key, api_secret=self._api_secret,
            api_origin=self.api_origin, timeout=self.timeout)
        logger.info("shopify code exchanged shop=%s expiring=%s", shop, credentials.expires_at is not None)
        return credentials

    def refresh_credentials(self, credentials: Credentials,
                            *, now: dt.datetime | None = None) -> Credentials | None:
        """Refresh an access token expiring within 5 minutes; ``None`` when still good."""
        now = now or dt.datetime.now(dt.timezone.utc)
        if credentials.expires_at is None or credentials.expires_at - now > REFRESH_MARGIN:
            return None
        if not credentials.refresh_token:
            raise AuthRevokedError(f"shop {credentials.shop_key} has an expiring token but no refresh token")
        token = {
            "shop": credentials.shop_key.removesuffix(".myshopify.com"),
            "refresh_token": credentials.refresh_token,
            # shopify_app skips tokens valid for 60 more seconds by its own clock; we refresh
            # 5 minutes ahead, so hand it an expired time to make the decision ours.
            "expires": "1970-01-01T00:00:00Z",
            "refresh_token_expires": (credentials.refresh_token_expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                                      if credentials.refresh_token_expires_at else ""),
            "access_mode": "offline",
        }
        result = refresh_access_token(token, self._app_config, self._client())
        if not result.ok or result.access_token is None:
            self._raise_exchange_error(credentials.shop_key, "token refresh", result.log.code)
        fresh = result.access_token
        logger.info("shopify token refreshed shop=%s", credentials.shop_key)
        return Credentials(
            shop_key=credentials.shop_key,
            access_token=fresh.token,
            scope=fresh.scope or credentials.scope,
            refresh_token=fresh.refresh_token or None,
            expires_at=_parse_sdk_time(fresh.expires),
            refresh_token_expires_at=_parse_sdk_time(fresh.refresh_token_expires),
        )

    # --- embedded admin ------------------------------------------------------------------

    def verify_session_token(self, authorization_header: str | None, url: str = "",
                             *, now: float | None = None) -> tuple[str, dict]:
        """Return ``(shop domain, claims)`` of the request's App Bridge session token.

        ``url`` is the request URL (kept for parity with ``verify_app_home_req``; the token in
        the header is all that is checked). ``now`` (epoch seconds) exists for test vectors.
        """
        token = session_tokens.bearer_token(authorization_header)
        return session_tokens.verify(token, api_key=self.api_key, secrets=self._secrets, now=now)

    def exchange_session_token(self, session_token: str, shop_key: str) -> Credentials:
        """Exchange a session token for an expiring offline access token (token exchange)."""
        shop = self.normalize_shop_key(shop_key)
        token_shop, claims = session_tokens.verify(session_token, api_key=self.api_key,
                                                   secrets=self._secrets)
        if token_shop != shop:
            raise InvalidSignatureError("session token belongs to another shop")
        result = token_exchange(
            "offline", self._app_config,
            id_token={"exchangeable": True, "token": session_token, "claims": claims},
            expiring=True, http_client=self._client())
        if not result.ok or result.access_token is None:
            if result.log.code == "invalid_subject_token":
                raise InvalidSignatureError("Shopify rejected the session token")
            self._raise_exchange_error(shop, "token exchange", result.log.code)
        access = result.access_token
        logger.info("shopify session token exchanged shop=%s", shop)
        return Credentials(
            shop_key=shop, access_token=access.token, scope=access.scope or None,
            refresh_token=access.refresh_token or None,
            expires_at=_parse_sdk_time(access.expires),
            refresh_token_expires_at=_parse_sdk_time(access.refresh_token_expires),
        )

    @staticmethod
    def _raise_exchange_error(shop: str, what: str, code: str) -> NoReturn:
        logger.info("shopify %s failed shop=%s code=%s", what, shop, code)
        if code in _RETRYABLE_EXCHANGE_CODES:
            raise RetryableError(f"{what} for {shop} failed: {code}")
        if code in _REVOKED_EXCHANGE_CODES:
            raise AuthRevokedError(f"{what} for {shop} refused: {code}")
        raise TerminalError(f"{what} for {shop} failed: {code}")

    def frame_ancestors(self, shop_key: str) -> list[str]:
        """Return the origins allowed to frame the embedded app for this shop."""
        shop = self.normalize_shop_key(shop_key)
        origins = [f"https://{shop}", "https://admin.shopify.com"]
        if self.api_origin:
            # An emulated platform (devstore) serves the shop's admin on its own port.
            # A person's browser may name it <shop>.localhost, which resolves to loopback.
            parts = urlsplit(self.api_origin)
            port = f":{parts.port}" if parts.port else ""
            origins += [f"{parts.scheme}://{shop}.localhost{port}", f"{parts.scheme}://{shop}{port}"]
        return origins

    def admin_frame(self, shop_key: str) -> dict[str, str]:
        """What a page needs to live in the shop's admin: App Bridge (always from Shopify's CDN,
        as Shopify requires), the app's client id, and the admin address that embeds the app."""
        shop = self.normalize_shop_key(shop_key)
        if self.api_origin:  # an emulated platform (devstore) serves its own App Bridge and admin
            return {"script": f"{self.api_origin}/cdn/shopifycloud/app-bridge.js", "api_key": self.api_key,
                    "embed_url": f"{self.frame_ancestors(shop)[-1]}/admin/apps/{self.api_key}"}
        return {"script": "https://cdn.shopify.com/shopifycloud/app-bridge.js", "api_key": self.api_key,
                "embed_url": f"https://{shop}/admin/apps/{self.api_key}"}

    def app_embed_link(self, shop_key: str) -> str | None:
        """Return the theme editor address that switches the storefront widget's app embed on.

        The embed is ``extensions/comeback-widget/blocks/<APP_EMBED_BLOCK>.liquid``; the editor
        opens the live theme at App embeds with it activated, and the merchant saves. Whether it
        is on cannot be read back without the ``read_themes`` scope, which the app does not ask for.
        """
        shop = self.normalize_shop_key(shop_key)
        origin = self.frame_ancestors(shop)[-1] if self.api_origin else f"https://{shop}"  # devstore's own admin
        return (f"{origin}/admin/themes/current/editor?context=apps"
                f"&activateAppId={self.api_key}/{APP_EMBED_BLOCK}")

    def shop_info(self, credentials: Credentials) -> dict:
        """Return the shop's name, currency, timezone and email."""
        shop = self.graphql().execute(credentials, queries.SHOP).get("shop") or {}
        return {"name": shop.get("name"), "currency": shop.get("currencyCode"),
                "timezone": shop.get("ianaTimezone"), "email": shop.get("email")}

    # --- webhooks ------------------------------------------------------------------------

    def webhook_topics(self) -> list[str]:
        """Return the topics ``register_webhooks`` subscribes to (compliance topics excluded)."""
        return list(webhooks.SUBSCRIBED_TOPICS)

    def register_webhooks(self, credentials: Credentials, callback_url: str, *,
                          secret: str | None = None) -> list[str]:
        """Subscribe ``callback_url`` to every topic, skipping subscriptions that exist.

        ``secret`` is ignored: Shopify signs every delivery with the app's secret.
        """
        client = self.graphql()
        data = client.execute(credentials, queries.WEBHOOK_LIST)
        existing = {(node.get("topic"), node.get("uri"))
                    for node in mapping.nodes(data.get("webhookSubscriptions"))}
        created = 0
        for topic, enum in webhooks.SUBSCRIBED_TOPICS.items():
            if (enum, callback_url) in existing:
                continue
            result = client.execute(credentials, queries.WEBHOOK_CREATE,
                                    {"topic": enum, "uri": callback_url})
            errors = user_errors(result.get("webhookSubscriptionCreate"))
            if errors and not all(_ALREADY_TAKEN in str(e.get("message", "")).lower() for e in errors):
                raise TerminalError(f"webhook {topic} refused: "
                                    + "; ".join(str(e.get("message")) for e in errors))
            created += 0 if errors else 1
        logger.info("shopify webhooks registered shop=%s created=%d", credentials.shop_key, created)
        return self.webhook_topics()

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, *,
                       shop_key: str | None = None, secret: str | None = None) -> WebhookEnvelope:
        """Check a delivery's HMAC and return its envelope.

        ``shop_key`` and ``secret`` are ignored: the shop is named in the delivery's headers
        and the HMAC is made with the app's secret (or the previous one while rotating).
        """
        return webhooks.verify(headers, body, api_key=self.api_key, api_secret=self._api_secret,
                               old_api_secret=self._old_api_secret)

    # Storefront requests come through the shop's app proxy: every visitor has the proxy's address.
    storefront_proxied = True

    def storefront_caller(self, query: str, headers: Mapping[str, str], *, now: float,
                          store_of: Callable[[int], tuple[str, str | None] | None] | None = None
                          ) -> StorefrontCaller | None:
        """Verify an app proxy request (its ``signature`` query parameter); None when it has none.

        ``store_of`` is not needed: the app's own secret signs every shop's requests.

        Raises ``InvalidSignatureError`` for a signature that does not match, a stale timestamp
        or a request naming more than one shop.
        """
        if "signature=" not in query:
            return None
        verified = app_proxy.verify(query, (self._api_secret, self._old_api_secret or ""), now=now)
        return StorefrontCaller(shop_key=verified.shop, customer_external_id=verified.logged_in_customer_id)

    def parse_event(self, topic: str, body: bytes) -> NormalizedEvent:
        """Return the neutral event a verified delivery carries."""
        return webhooks.parse(topic, body)

    # --- reading -------------------------------------------------------------------------

    def fetch_page(self, credentials: Credentials, resource: str, *, cursor: str | None,
                   updated_since: dt.datetime | None) -> Page:
        """Return one page of ``resource`` updated since ``updated_since``, oldest first."""
        document = queries.PAGE_QUERIES.get(resource)
        if document is None:
            raise TerminalError(f"unknown resource {resource!r}")
        variables: dict[str, Any] = {"first": queries.PAGE_SIZES[resource], "after": cursor,
                                     "query": _updated_since_filter(updated_since)}
        data = self.graphql().execute(credentials, document, variables)
        connection = data.get(queries.PAGE_FIELDS[resource])
        if connection is None:
            raise TerminalError(f"{resource} page answered without its connection")
        records = tuple(mapping.record(resource, node) for node in mapping.nodes(connection))
        info = connection.get("pageInfo") or {}
        next_cursor = info.get("endCursor") if info.get("hasNextPage") else None
        return Page(records=records, next_cursor=next_cursor)

    def start_backfill(self, credentials: Credentials, resource: str) -> BackfillJob:
        """Start a bulk export of ``resource``."""
        return bulk.start(self.graphql(), credentials, resource)

    def poll_backfill(self, credentials: Credentials, job: BackfillJob) -> BackfillJob:
        """Return the export's current state."""
        return bulk.poll(self.graphql(), credentials, job)

    def iter_backfill(self, job: BackfillJob, *, skip: int = 0) -> Iterator[Any]:
        """Stream the export's records, one per root object, after the first ``skip``."""
        return bulk.iter_records(self._client(), job, skip=skip)

    def fetch_records(self, credentials: Credentials, refetch: Refetch) -> tuple[Any, ...]:
        """Read what a webhook only hinted at: ``(Product,)``, ``(Order,)`` or an order's refunds.

        A product or order that is gone gives an empty tuple.
        """
        shop = credentials.shop_key
        if refetch.resource == REFETCH_PRODUCT:
            data = self.graphql().execute(credentials, queries.PRODUCT,
                                          {"id": to_gid("Product", refetch.external_id)})
            node = data.get("product")
            records: tuple[Any, ...] = (mapping.record("products", node),) if node else ()
        elif refetch.resource == REFETCH_ORDER:
            data = self.graphql().execute(credentials, queries.ORDER, {"id": to_gid("Order", refetch.external_id)})
            node = data.get("order")
            records = (mapping.record("orders", node),) if node else ()
        elif refetch.resource == REFETCH_ORDER_REFUNDS:
            data = self.graphql().execute(credentials, queries.ORDER_REFUNDS,
                                          {"id": to_gid("Order", refetch.external_id)})
            node = data.get("order")
            records = mapping.refunds(node) if node else ()
            if node and not all(mapping.is_complete(refund.get("refundLineItems"))
                                for refund in node.get("refunds") or ()):
                logger.warning("shopify refund lines cut short shop=%s order=%s limit=%d",
                               shop, refetch.external_id, queries.REFETCH_REFUND_LINES_FIRST)
        else:
            raise TerminalError(f"unknown refetch resource {refetch.resource!r}")
        logger.info("shopify refetch shop=%s resource=%s id=%s records=%d", shop,
                    refetch.resource, refetch.external_id, len(records))
        return records

    def orders_since(self, credentials: Credentials, *, email: str | None, customer_external_id: str | None,
                     since: dt.datetime) -> tuple[str, ...]:
        """Ids of up to five orders the address or the customer placed at or after ``since``, newest first.

        One ``orders(query:)`` search per identity (the search's ``OR`` is not relied on), each
        ``created_at:>='<since>' -status:cancelled`` and ``email:"<address>"`` or ``customer_id:<id>``.
        """
        terms = []
        if email:
            if any(c in email for c in '"\\') or any(c.isspace() for c in email):
                raise TerminalError("email: cannot be searched for")
            terms.append(f'email:"{email}"')
        if customer_external_id:
            terms.append(f"customer_id:{external_id(customer_external_id)}")
        if not terms:
            return ()
        if since.tzinfo is None:
            raise TerminalError("since must be timezone-aware")
        moment = f"created_at:>='{since.astimezone(dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}'"
        found: dict[str, str] = {}
        for term in terms:
            data = self.graphql().execute(credentials, queries.ORDERS_SINCE,
                                          {"query": f"{moment} -status:cancelled {term}"})
            for node in mapping.nodes(data.get("orders")):
                found.setdefault(external_id(node.get("id")), str(node.get("createdAt") or ""))
        ordered = sorted(found, key=lambda order_id: found[order_id], reverse=True)[:5]
        logger.info("shopify orders lookup shop=%s found=%d", credentials.shop_key, len(ordered))
        return tuple(ordered)

    # --- writing back --------------------------------------------------------------------

    def create_discounts(self, credentials: Credentials,
                         specs: Sequence[DiscountSpec]) -> list[DiscountResult]:
        """Create single-shopper discount codes; one result per spec, in order.

        An existing code answers ``created=False`` with its id, so a batch can be replayed.
        """
        return writeback.create_discounts(self.graphql(), credentials, specs)

    def set_customer_attributes(self, credentials: Credentials,
                                updates: Sequence[CustomerAttributes]) -> int:
        """Write values as ``comeback.<name>`` customer metafields and change the customer's tags.

        Returns how many values were written (tags are not counted).
        """
        return writeback.set_customer_attributes(self.graphql(), credentials, updates)

    def set_email_consent(self, credentials: Credentials,
                          updates: Sequence[ConsentUpdate]) -> list[ConsentResult]:
        """Write shoppers' email marketing consent to their customers (needs ``write_customers``).

        ``customerEmailMarketingConsentUpdate`` per update, on the customer named, else the
        one found by address (``customers(query: "email:…")``); one result per update.
        """
        return writeback.set_email_consent(self.graphql(), credentials, updates)


def _updated_since_filter(updated_since: dt.datetime | None) -> str | None:
    if updated_since is None:
        return None
    if updated_since.tzinfo is None:
        raise TerminalError("updated_since must be timezone-aware")
    moment = updated_since.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"updated_at:>='{moment}'"


def _parse_sdk_time(value: str | None) -> dt.datetime | None:
    """Parse shopify_app's ``%Y-%m-%dT%H:%M:%SZ`` timestamps."""
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
