"""The WooCommerce implementation of ``connectors.base.Connector``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlencode

from connectors import base
from connectors.base import (
    CAP_ADMIN_LINK,
    CAP_CONSENT_WRITEBACK,
    CAP_KEY_CALLBACK,
    CAP_ORDER_LOOKUP,
    CAP_SHOP_WEBHOOK_SECRET,
    CAP_WEBHOOK_REPAIR,
    CAP_WEBHOOK_SUBSCRIPTIONS,
    AuthorizationRequest,
    AuthRevokedError,
    BackfillJob,
    Credentials,
    InvalidShopError,
    KeyGrant,
    NormalizedEvent,
    Page,
    TerminalError,
    WebhookEnvelope,
)
from connectors.woocommerce import mapping, plugin_signing, storefront, stores, webhooks
from connectors.woocommerce.client import MAX_PER_PAGE, NotFoundError, WooClient

logger = logging.getLogger(__name__)

REQUIRED_PERMISSIONS = "read_write"
SETTINGS_GROUP = "comeback"
_ALREADY_EXISTS = "woocommerce_rest_coupon_code_already_exists"
_DISCOUNT_TYPES = {base.DISCOUNT_PERCENTAGE: "percent", base.DISCOUNT_FIXED_AMOUNT: "fixed_cart",
                   base.DISCOUNT_FREE_SHIPPING: "fixed_cart", base.DISCOUNT_FREE_PRODUCT: "percent"}
_CLIENT_CACHE_SIZE = 256
# Orders a shopper placed (pending and draft orders are carts to us; cancelled and failed, unpaid).
_PLACED_STATUSES = ("processing", "on-hold", "completed", "refunded")
_INVALID_ID = "woocommerce_rest_invalid_id"  # a batch item naming no customer


class WooCommerceConnector:
    """Talk to WooCommerce stores: wc-auth keys, REST v3 pages, webhooks, coupons, customer meta."""

    platform: ClassVar[str] = "woocommerce"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {CAP_ADMIN_LINK, CAP_CONSENT_WRITEBACK, CAP_KEY_CALLBACK, CAP_ORDER_LOOKUP, CAP_SHOP_WEBHOOK_SECRET, CAP_WEBHOOK_REPAIR,
         CAP_WEBHOOK_SUBSCRIPTIONS})
    # Resources the platform cannot filter by modification time: read in full, less often.
    full_pass_resources: ClassVar[frozenset[str]] = frozenset({"customers"})

    def __init__(self, *, app_name: str = "Comeback", https_only: bool = True, allow_private: bool = False,
                 verify: bool | str = True, timeout: float = 20.0, max_attempts: int = 4,
                 full_pass_hours: int = 6, redis: Any = None, **_ignored: Any):
        self.app_name = app_name
        self.https_only = https_only
        self.allow_private = allow_private
        self.verify = verify
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.full_pass_interval = dt.timedelta(hours=full_pass_hours)
        self._lock = threading.Lock()
        self._clients: OrderedDict[tuple[str, str, str | None], WooClient] = OrderedDict()
        self._no_refunds_endpoint: set[str] = set()

    # --- plumbing ------------------------------------------------------------------------

    def client(self, credentials: Credentials) -> WooClient:
        """Return a (cached) REST client for the store the credentials belong to."""
        if not credentials.secret:
            raise AuthRevokedError(f"store {credentials.shop_key} has no consumer secret")
        key = (credentials.shop_key, credentials.access_token, credentials.auth_hint)
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
        client = self._build_client(credentials.shop_key, credentials.access_token, credentials.secret,
                                    credentials.auth_hint)
        with self._lock:
            self._clients[key] = client
            while len(self._clients) > _CLIENT_CACHE_SIZE:
                _, old = self._clients.popitem(last=False)
                old.close()
        return client

    def _build_client(self, store_url: str, key: str, secret: str, auth_hint: str | None) -> WooClient:
        # The host is checked again on every new client: a name may resolve elsewhere by now.
        self.normalize_shop_key(store_url)
        return WooClient(store_url, key, secret, auth=auth_hint or "auto", timeout=self.timeout,
                         verify=self.verify, max_attempts=self.max_attempts,
                         public_only=not self.allow_private)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            client.close()

    # --- install -------------------------------------------------------------------------

    def normalize_shop_key(self, raw: str) -> str:
        """Return the store's normalised site URL; ``InvalidShopError`` when it may not be called."""
        return stores.normalize_store_url(raw, https_only=self.https_only, allow_private=self.allow_private)

    def authorization_request(self, shop_key: str, redirect_uri: str, state: str, *,
                              return_url: str | None = None) -> AuthorizationRequest:
        """Return wc-auth's approval URL; the store posts the keys to ``redirect_uri``."""
        store = self.normalize_shop_key(shop_key)
        query = urlencode({"app_name": self.app_name, "scope": REQUIRED_PERMISSIONS, "user_id": state,
                           "return_url": return_url or redirect_uri, "callback_url": redirect_uri})
        return AuthorizationRequest(url=f"{store}/wc-auth/v1/authorize?{query}", state=state)

    def parse_key_callback(self, body: bytes) -> KeyGrant:
        """Read the keys wc-auth posts; ``TerminalError`` says what is wrong with the body."""
        try:
            payload = json.loads(body)
        except ValueError as error:
            raise TerminalError(f"the callback body is not JSON: {error}") from error
        if not isinstance(payload, dict):
            raise TerminalError("the callback body is not a JSON object")
        missing = [name for name in ("user_id", "consumer_key", "consumer_secret")
                   if not isinstance(payload.get(name), (str, int)) or payload.get(name) in ("", None)]
        if missing:
            raise TerminalError(f"the callback body lacks {', '.join(missing)}")
        key, secret = str(payload["consumer_key"]), str(payload["consumer_secret"])
        if not key.startswith("ck_") or not secret.startswith("cs_"):
            raise TerminalError("consumer_key must start with ck_ and consumer_secret with cs_")
        permissions = payload.get("key_permissions")
        return KeyGrant(state=str(payload["user_id"]), key=key, secret=secret,
                        permissions=str(permissions) if permissions is not None else None,
                        key_id=str(payload["key_id"]) if payload.get("key_id") not in (None, "") else None)

    def verify_keys(self, shop_key: str, key: str, secret: str) -> Credentials:
        """Prove the keys work with a real read; learn whether the store needs query-string keys.

        Some servers strip the ``Authorization`` header; WooCommerce then accepts the keys as
        query parameters over HTTPS, which we fall back to only after basic auth was refused.
        """
        store = self.normalize_shop_key(shop_key)
        hints: tuple[str | None, ...] = (None, "query") if stores.is_https(store) else (None,)
        last: AuthRevokedError | None = None
        for hint in hints:
            client = self._build_client(store, key, secret, hint)
            try:
                client.get("/orders", {"per_page": 1})
            except AuthRevokedError as error:
                last = error
                continue
            finally:
                client.close()
            logger.info("woocommerce keys verified store=%s auth=%s", store, hint or "default")
            return Credentials(shop_key=store, access_token=key, secret=secret, scope=REQUIRED_PERMISSIONS,
                               auth_hint=hint)
        raise AuthRevokedError(f"the store refused the keys: {last}")

    def verify_callback(self, query: Mapping[str, str]) -> str:
        raise TerminalError("WooCommerce posts keys to the callback; there is no code to verify")

    def exchange_code(self, shop_key: str, code: str, redirect_uri: str) -> Credentials:
        raise TerminalError("WooCommerce has no authorization code to exchange")

    def refresh_credentials(self, credentials: Credentials) -> Credentials | None:
        """WooCommerce keys do not expire."""
        return None

    def shop_info(self, credentials: Credentials) -> dict:
        """Return the store's name, currency and timezone."""
        client = self.client(credentials)
        site = client.root()
        currency = client.get("/settings/general/woocommerce_currency").data
        return {"name": site.get("name") if isinstance(site, dict) else None,
                "currency": (currency or {}).get("value") if isinstance(currency, dict) else None,
                "timezone": (site.get("timezone_string") or None) if isinstance(site, dict) else None}

    def configure_storefront(self, credentials: Credentials, values: Mapping[str, str]) -> bool:
        """Fill in the companion plugin's settings; ``False`` when the plugin is not installed."""
        updates = [{"id": f"comeback_{name}", "value": value} for name, value in values.items()]
        try:
            answer = self.client(credentials).post(f"/settings/{SETTINGS_GROUP}/batch",
                                                   json={"update": updates}).data
        except NotFoundError:
            logger.info("woocommerce companion plugin not found store=%s", credentials.shop_key)
            return False
        results = answer.get("update") if isinstance(answer, dict) else None
        if not isinstance(results, list) or len(results) != len(updates):
            logger.warning("woocommerce plugin settings answer unexpected store=%s", credentials.shop_key)
            return False
        refused = [item for item in results if not isinstance(item, dict) or item.get("error")]
        if refused:
            logger.warning("woocommerce plugin refused %d settings store=%s (an older plugin?)", len(refused),
                           credentials.shop_key)
            return False
        return True

    # --- webhooks ------------------------------------------------------------------------

    def webhook_topics(self) -> list[str]:
        return list(webhooks.SUBSCRIBED_TOPICS)

    def register_webhooks(self, credentials: Credentials, callback_url: str, *,
                          secret: str | None = None) -> list[str]:
        """Make sure one active webhook per topic delivers to ``callback_url`` signed with ``secret``.

        Run at connect and periodically: WooCommerce disables a webhook after repeated failed
        deliveries and never retries, so a disabled one is re-activated and a missing one made.
        """
        if not secret:
            raise TerminalError("WooCommerce webhooks need the store's own secret")
        client = self.client(credentials)
        ours: dict[str, list[dict[str, Any]]] = {}
        for hook in self._list_all(client, "/webhooks", {}):
            if hook.get("delivery_url") == callback_url:
                ours.setdefault(str(hook.get("topic")), []).append(hook)
        created = repaired = 0
        for topic in webhooks.SUBSCRIBED_TOPICS:
            existing = ours.pop(topic, [])
            if existing:
                keep, *extra = existing
                # The secret cannot be read back: it is set again, which also re-activates.
                client.put(f"/webhooks/{keep['id']}", json={"status": "active", "secret": secret})
                repaired += keep.get("status") != "active"
                for hook in extra:
                    client.delete(f"/webhooks/{hook['id']}", {"force": "true"})
                continue
            client.post("/webhooks", json={"name": f"{self.app_name} {topic}", "topic": topic,
                                            "delivery_url": callback_url, "secret": secret, "status": "active"})
            created += 1
        for hooks in ours.values():  # our URL on topics we no longer use
            for hook in hooks:
                client.delete(f"/webhooks/{hook['id']}", {"force": "true"})
        logger.info("woocommerce webhooks store=%s created=%d re-activated=%d", credentials.shop_key,
                    created, repaired)
        return self.webhook_topics()

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, *,
                       shop_key: str | None = None, secret: str | None = None) -> WebhookEnvelope:
        """Check a delivery against the store's own secret (a ping passes unsigned)."""
        return webhooks.verify(headers, body, shop_key=shop_key, secret=secret)

    def parse_event(self, topic: str, body: bytes) -> NormalizedEvent:
        if topic == storefront.CART_EVENT_TOPIC:
            return storefront.parse_cart_event(body)
        return webhooks.parse(topic, body)

    # --- storefront (the companion plugin) -----------------------------------------------

    def storefront_shop_id(self, headers: Mapping[str, str]) -> int | None:
        """Return the store id a signed plugin request names."""
        return storefront.shop_id_of(headers)

    def verify_admin_link(self, secret: str, store_id: str, params: Mapping[str, str], *, now: float) -> str:
        """Return the store user's address a signed admin link vouches for (``InvalidSignatureError``)."""
        return plugin_signing.verify_admin_link(secret, store_id, params.get("email", ""), params.get("expires", ""),
                                                params.get("signature"), now=now)

    def storefront_caller(self, query: str, headers: Mapping[str, str], *, now: float,
                          store_of: Callable[[int], tuple[str, str | None] | None]) -> base.StorefrontCaller | None:
        """Verify a widget request (the store it names, the plugin's customer token); None if not one."""
        return storefront.storefront_caller(headers, now=now, store_of=store_of)

    # The widget runs on the store's own pages and calls the app on another origin, naming the
    # store and carrying the shopper's token in these headers (a cross-origin request).
    storefront_request_headers = (storefront.HEADER_STORE, storefront.HEADER_CUSTOMER)

    def storefront_origins(self, shop_key: str) -> tuple[str, ...]:
        """The origins whose pages may call the storefront API for this store."""
        return storefront.storefront_origins(shop_key)

    def verify_storefront_event(self, headers: Mapping[str, str], body: bytes, *, shop_key: str,
                                secret: str | None) -> WebhookEnvelope:
        """Check a cart event the plugin signed and return it as an inbox envelope."""
        return storefront.verify_cart_event(headers, body, shop_key=shop_key, secret=secret)

    # --- reading -------------------------------------------------------------------------

    def fetch_page(self, credentials: Credentials, resource: str, *, cursor: str | None,
                   updated_since: dt.datetime | None) -> Page:
        """Return one page (100 records, oldest id first); the cursor is ``o<offset>:<total>``.

        Ordered by id, a listing changes under us in two ways: new records come at the end
        (harmless), and records that leave it (an order trashed, a draft placed) move the later
        ones up, which would skip as many records at the next page boundary. The listing's
        total tells: when it shrank since the last page, the page is read again from that many
        records earlier (re-reading is harmless, the mirror is idempotent).
        """
        offset, seen_total = _parse_cursor(cursor)
        params: dict[str, Any] = {"per_page": MAX_PER_PAGE, "orderby": "id", "order": "asc"}
        if resource == "customers":
            path = "/customers"
            params["role"] = "all"  # no date filter exists: a full pass, newer-wins in the mirror
        elif resource in ("orders", "carts", "products"):
            path = "/products" if resource == "products" else "/orders"
            if resource == "carts":
                params["status"] = "checkout-draft"
            if updated_since is not None:
                params["modified_after"] = _gmt(updated_since)
                params["dates_are_gmt"] = "true"
        else:
            raise TerminalError(f"unknown resource {resource!r}")
        client = self.client(credentials)
        response = client.get(path, {**params, "offset": offset})
        total = response.total
        if seen_total is not None and total is not None and total < seen_total and offset:
            offset = max(0, offset - (seen_total - total))
            response = client.get(path, {**params, "offset": offset})
            total = response.total
        items = _items(response.data, path)
        records = tuple(self._records(client, resource, items))
        passed = offset + len(items)
        more = passed < total if total is not None else len(items) >= MAX_PER_PAGE
        return Page(records=records, next_cursor=f"o{passed}:{total if total is not None else passed}"
                    if more and items else None, total=total)

    def _records(self, client: WooClient, resource: str, items: list[dict[str, Any]]) -> list[Any]:
        """Map a page; one malformed record is logged and skipped, never the whole page."""
        records: list[Any] = []
        refunded: list[dict[str, Any]] = []
        for item in items:
            try:
                if resource == "customers":
                    records.append(mapping.customer(item))
                elif resource == "products":
                    variations = self._variations(client, item) if item.get("type") == "variable" else None
                    records.append(mapping.product(item, variations))
                else:
                    mapped = mapping.order_records(item)
                    if mapping.refund_ids(item) and not mapping.is_cart(item):
                        refunded.append(item)
                    records.extend(mapped)
            except TerminalError as error:
                logger.warning("woocommerce %s record %r skipped store=%s: %s", resource, item.get("id"),
                               client.store_url, error)
        if refunded:
            records.extend(self._page_refunds(client, refunded))
        return records

    def _page_refunds(self, client: WooClient, orders: list[dict[str, Any]]) -> list[base.Refund]:
        """Read the refunds of a page's orders: one request through ``/refunds`` where it exists.

        An order lists its refunds' ids; the store-wide endpoint (WooCommerce 9.0+) answers
        those ids at once (``include``; it ignores a ``parent`` filter). An older store answers
        404 and its refunds are read order by order (remembered per store).
        """
        if client.store_url not in self._no_refunds_endpoint:
            owner = {refund_id: order for order in orders for refund_id in mapping.refund_ids(order)}
            try:
                found = list(self._list_all(client, "/refunds", {"include": ",".join(owner)}))
            except NotFoundError:
                self._no_refunds_endpoint.add(client.store_url)
            else:
                refunds = []
                for item in found:
                    order = owner.get(mapping.optional_id(item.get("id")) or "")
                    if order is not None:
                        currency = str(order.get("currency") or "").upper() or "USD"
                        refunds.append(mapping.refund(mapping.external_id(order.get("id")), item, currency))
                return refunds
        return [refund for order in orders for refund in self._refunds(client, order)]

    def _variations(self, client: WooClient, product: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return list(self._list_all(client, f"/products/{mapping.external_id(product.get('id'))}/variations", {}))

    def _refunds(self, client: WooClient, order: Mapping[str, Any]) -> list[base.Refund]:
        order_id = mapping.external_id(order.get("id"))
        currency = str(order.get("currency") or "").upper() or "USD"
        return [mapping.refund(order_id, item, currency)
                for item in self._list_all(client, f"/orders/{order_id}/refunds", {})]

    @staticmethod
    def _list_all(client: WooClient, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            response = client.get(path, {**params, "per_page": MAX_PER_PAGE, "page": page})
            items = _items(response.data, path)
            yield from items
            pages = response.total_pages
            if not items or (pages is not None and page >= pages) or (pages is None and len(items) < MAX_PER_PAGE):
                return
            page += 1

    def fetch_records(self, credentials: Credentials, refetch: base.Refetch) -> tuple[Any, ...]:
        """Read what a webhook only hinted at: an order's refunds, an order, or a product."""
        client = self.client(credentials)
        try:
            if refetch.resource == base.REFETCH_ORDER:
                order = _item(client.get(f"/orders/{mapping.external_id(refetch.external_id)}").data, "order")
                records = mapping.order_records(order)
                if mapping.refund_ids(order) and not mapping.is_cart(order):
                    records += tuple(self._refunds(client, order))
                return records
            if refetch.resource == base.REFETCH_ORDER_REFUNDS:
                order = _item(client.get(f"/orders/{mapping.external_id(refetch.external_id)}").data, "order")
                return tuple(self._refunds(client, order))
            if refetch.resource == base.REFETCH_PRODUCT:
                product = _item(client.get(f"/products/{mapping.external_id(refetch.external_id)}").data, "product")
                variations = self._variations(client, product) if product.get("type") == "variable" else None
                return (mapping.product(product, variations),)
        except NotFoundError:
            return ()
        raise TerminalError(f"unknown refetch resource {refetch.resource!r}")

    def orders_since(self, credentials: Credentials, *, email: str | None, customer_external_id: str | None,
                     since: dt.datetime) -> tuple[str, ...]:
        """Ids of up to five orders the address or the customer placed at or after ``since``, newest first.

        ``/orders?customer=<id>`` and ``/orders?search=<address>`` (the billing address is
        searched; the answer is checked for it), created ``after`` a second before ``since``
        (the bound is exclusive) and in a placed status: a pending order is still a cart, a
        cancelled or failed one was never paid.
        """
        if since.tzinfo is None:
            raise TerminalError("since must be timezone-aware")
        params = {"after": _gmt(since - dt.timedelta(seconds=1)), "dates_are_gmt": "true",
                  "status": ",".join(_PLACED_STATUSES), "orderby": "date", "order": "desc", "per_page": 5}
        client = self.client(credentials)
        found: dict[str, str] = {}
        searches: list[dict[str, Any]] = []
        if customer_external_id:
            searches.append({"customer": mapping.external_id(customer_external_id)})
        if email:
            searches.append({"search": email})
        for search in searches:
            for item in _items(client.get("/orders", {**params, **search}).data, "/orders"):
                billing = item.get("billing") if isinstance(item.get("billing"), dict) else {}
                if "search" in search and str(billing.get("email") or "").lower() != email.lower():  # type: ignore[union-attr]
                    continue  # the search also matches names and addresses
                found.setdefault(mapping.external_id(item.get("id")), str(item.get("date_created_gmt") or ""))
        ordered = sorted(found, key=lambda order_id: found[order_id], reverse=True)[:5]
        logger.info("woocommerce orders lookup store=%s found=%d", credentials.shop_key, len(ordered))
        return tuple(ordered)

    def start_backfill(self, credentials: Credentials, resource: str) -> BackfillJob:
        raise TerminalError("WooCommerce has no bulk export: the backfill reads pages")

    def poll_backfill(self, credentials: Credentials, job: BackfillJob) -> BackfillJob:
        raise TerminalError("WooCommerce has no bulk export: the backfill reads pages")

    def iter_backfill(self, job: BackfillJob, *, skip: int = 0) -> Iterator[Any]:
        raise TerminalError("WooCommerce has no bulk export: the backfill reads pages")

    # --- writing back --------------------------------------------------------------------

    def create_discounts(self, credentials: Credentials,
                         specs: Sequence[base.DiscountSpec]) -> list[base.DiscountResult]:
        """Create coupons in batches of 100; a code that exists already is found, not doubled.

        A free product is a coupon of 100 % off one item (``limit_usage_to_x_items``) among
        the entitled products; variations are products in WooCommerce, so one list names both.
        WooCommerce takes the item's own price off, so the spec's ``value`` is not sent.
        """
        results: list[base.DiscountResult | None] = [None] * len(specs)
        bodies: list[dict[str, Any]] = []
        positions: list[int] = []
        for index, spec in enumerate(specs):
            problem = _discount_problem(spec)
            if problem:
                results[index] = base.DiscountResult(spec.code, None, False, error=problem)
                continue
            bodies.append(_coupon(spec))
            positions.append(index)
        client = self.client(credentials)
        if bodies:
            answers = client.batch("/coupons", create=bodies).get("create", [])
            if len(answers) != len(bodies):
                raise TerminalError(f"the store answered {len(answers)} of {len(bodies)} coupons")
            for index, answer in zip(positions, answers, strict=True):
                results[index] = self._discount_result(client, specs[index], answer)
        logger.info("woocommerce coupons store=%s asked=%d", credentials.shop_key, len(specs))
        return [result for result in results if result is not None]

    @staticmethod
    def _discount_result(client: WooClient, spec: base.DiscountSpec, answer: Any) -> base.DiscountResult:
        if not isinstance(answer, dict):
            return base.DiscountResult(spec.code, None, False, error="the store gave no answer for this coupon")
        error = answer.get("error")
        if not error:
            if str(answer.get("code", "")).lower() != spec.code.lower():
                return base.DiscountResult(spec.code, None, False,
                                           error=f"the store answered for another code {answer.get('code')!r}")
            return base.DiscountResult(spec.code, mapping.external_id(answer.get("id")), True)
        if not isinstance(error, dict):
            error = {"message": str(error)}
        if error.get("code") == _ALREADY_EXISTS:
            for coupon in _items(client.get("/coupons", {"code": spec.code}).data, "/coupons"):
                if str(coupon.get("code", "")).lower() == spec.code.lower():
                    return base.DiscountResult(spec.code, mapping.external_id(coupon.get("id")), False)
        return base.DiscountResult(spec.code, None, False,
                                   error=f"{error.get('code', 'error')}: {error.get('message', '')}")

    def set_customer_attributes(self, credentials: Credentials,
                                updates: Sequence[base.CustomerAttributes]) -> int:
        """Write the values as customer meta (``comeback_<name>``) through the batch endpoint.

        WooCommerce customers have no tags: ``tags_add`` and ``tags_remove`` are ignored, since
        the same information (a tier, say) is in the meta values, which the caller always sends.
        Returns how many values were written; an update with no values is no call.
        """
        updates = [update for update in updates if update.values]
        if not updates:
            return 0
        body = [{"id": int(mapping.external_id(update.customer_external_id)),
                 "meta_data": [{"key": f"{mapping.META_PREFIX}{name}", "value": value}
                               for name, value in update.values]}
                for update in updates]
        answers = self.client(credentials).batch("/customers", update=body).get("update", [])
        failed = [answer for answer in answers if isinstance(answer, dict) and answer.get("error")]
        if failed:
            raise TerminalError("customer meta refused: " + "; ".join(
                f"{answer.get('id')}: {answer['error'].get('message')}" for answer in failed))
        return sum(len(update.values) for update in updates)

    def set_email_consent(self, credentials: Credentials,
                          updates: Sequence[base.ConsentUpdate]) -> list[base.ConsentResult]:
        """Write shoppers' email marketing consent as the customer meta ``comeback_email_consent``.

        "yes" or "no" through the customers batch endpoint, on the customer named, else the
        account with that address (``GET /customers?email=``; a guest has none). Several
        updates of one customer leave the most recent decision. A customer named that is gone
        is looked up by address once more. One result per update, in order.
        """
        results: list[base.ConsentResult | None] = [None] * len(updates)
        targets: dict[int, str] = {}
        for index, update in enumerate(updates):
            problem = base.consent_problem(update)
            if problem is None and update.customer_external_id is not None:
                try:
                    targets[index] = mapping.external_id(update.customer_external_id)
                except TerminalError:
                    problem = f"customer_external_id: invalid id {update.customer_external_id!r}"
            if problem is not None:
                results[index] = base.ConsentResult(update.email, update.customer_external_id,
                                                    base.CONSENT_ERROR, problem)
        client = self.client(credentials)
        for index, update in enumerate(updates):
            if results[index] is None and index not in targets:
                found = self._customer_by_email(client, update.email)
                if found is None:
                    results[index] = base.ConsentResult(update.email, None, base.CONSENT_NO_CUSTOMER)
                else:
                    targets[index] = found
        errors = self._write_consents(client, updates, targets)
        gone = [index for index, error in errors.items()
                if error is not None and error.get("code") == _INVALID_ID and updates[index].customer_external_id]
        retry: dict[int, str] = {}
        for index in gone:
            found = self._customer_by_email(client, updates[index].email)
            if found is None or found == targets[index]:
                results[index] = base.ConsentResult(updates[index].email, None, base.CONSENT_NO_CUSTOMER)
            else:
                retry[index] = found
        errors.update(self._write_consents(client, updates, retry))
        targets.update(retry)
        for index, error in errors.items():
            if results[index] is not None:
                continue
            update = updates[index]
            if error is None:
                results[index] = base.ConsentResult(update.email, targets[index], base.CONSENT_WRITTEN)
            else:
                results[index] = base.ConsentResult(update.email, targets[index], base.CONSENT_ERROR,
                                                    f"{error.get('code', 'error')}: {error.get('message', '')}")
        final = [result for result in results if result is not None]
        logger.info("woocommerce consent store=%s written=%d no_customer=%d failed=%d", credentials.shop_key,
                    sum(r.status == base.CONSENT_WRITTEN for r in final),
                    sum(r.status == base.CONSENT_NO_CUSTOMER for r in final),
                    sum(r.status == base.CONSENT_ERROR for r in final))
        return final

    @staticmethod
    def _customer_by_email(client: WooClient, email: str) -> str | None:
        """Return the id of the account whose address is ``email`` (any role), or None."""
        answer = client.get("/customers", {"email": email, "role": "all", "per_page": 10}).data
        wanted = email.casefold()
        for item in _items(answer, "/customers"):
            if str(item.get("email") or "").casefold() == wanted:
                return mapping.external_id(item.get("id"))
        return None

    @staticmethod
    def _write_consents(client: WooClient, updates: Sequence[base.ConsentUpdate],
                        targets: Mapping[int, str]) -> dict[int, dict[str, Any] | None]:
        """Set the consent meta of each target customer; return the store's error per update (None: written).

        One batch item per customer, with its most recent decision; the updates it stands for
        share its answer. An answer that does not hold the value sent is an error too.
        """
        latest: dict[str, int] = {}
        for index in sorted(targets, key=lambda i: updates[i].occurred_at):
            latest[targets[index]] = index
        if not latest:
            return {}
        customers = list(latest)
        values = [mapping.CONSENT_VALUES[updates[latest[customer_id]].state] for customer_id in customers]
        body = [{"id": int(customer_id), "meta_data": [{"key": mapping.CONSENT_META_KEY, "value": value}]}
                for customer_id, value in zip(customers, values, strict=True)]
        answers = client.batch("/customers", update=body).get("update", [])
        if len(answers) != len(body):
            raise TerminalError(f"the store answered {len(answers)} of {len(body)} customer updates")
        outcome: dict[str, dict[str, Any] | None] = {}
        for customer_id, value, answer in zip(customers, values, answers, strict=True):
            if not isinstance(answer, dict):
                outcome[customer_id] = {"code": "error", "message": "the store gave no answer for this customer"}
            elif answer.get("error"):
                error = answer["error"]
                outcome[customer_id] = error if isinstance(error, dict) else {"code": "error", "message": str(error)}
            elif mapping.meta_value(answer, mapping.CONSENT_META_KEY) != value:
                outcome[customer_id] = {"code": "error", "message": "the store did not keep the consent meta"}
            else:
                outcome[customer_id] = None
        return {index: outcome[customer_id] for index, customer_id in targets.items()}


def _parse_cursor(cursor: str | None) -> tuple[int, int | None]:
    """Read ``o<offset>:<total>`` (or a bare page number, as earlier runs stored it)."""
    if not cursor:
        return 0, None
    try:
        if cursor.startswith("o"):
            offset, _, total = cursor[1:].partition(":")
            return int(offset), int(total)
        return (int(cursor) - 1) * MAX_PER_PAGE, None
    except ValueError as error:
        raise TerminalError(f"invalid page cursor {cursor!r}") from error


def _items(data: Any, path: str) -> list[dict[str, Any]]:
    """Return a list answer's objects; anything but a list is refused (never read as the end)."""
    if not isinstance(data, list):
        raise TerminalError(f"the store answered {path} with a {type(data).__name__}, not a list")
    return [item for item in data if isinstance(item, dict)]


def _item(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TerminalError(f"the store answered a {what} with a {type(data).__name__}, not an object")
    return data


def _gmt(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise TerminalError("updated_since must be timezone-aware")
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _discount_problem(spec: base.DiscountSpec) -> str | None:
    if not spec.code or len(spec.code) > 255 or spec.code.strip() != spec.code:
        return "code: must be 1 to 255 characters without surrounding spaces"
    if spec.kind not in base.DISCOUNT_KINDS:
        return f"kind: unknown discount kind {spec.kind!r}"
    if spec.kind == base.DISCOUNT_PERCENTAGE and not Decimal("0") < spec.value <= Decimal("100"):
        return "value: a percentage must be more than 0 and at most 100"
    if spec.kind in (base.DISCOUNT_FIXED_AMOUNT, base.DISCOUNT_FREE_PRODUCT) and spec.value <= 0:
        return "value: an amount must be more than 0"
    if spec.usage_limit is not None and spec.usage_limit < 1:
        return "usage_limit: must be at least 1"
    return _entitled_problem(spec)


def _entitled_problem(spec: base.DiscountSpec) -> str | None:
    """Return what is wrong with the products a spec is restricted to, or ``None``."""
    if spec.kind != base.DISCOUNT_FREE_PRODUCT:
        if spec.product_external_ids or spec.variant_external_ids:
            return "product_external_ids: only a free product discount takes products"
        return None
    if not spec.product_external_ids and not spec.variant_external_ids:
        return "product_external_ids: a free product needs at least one product or variant"
    for name in ("product_external_ids", "variant_external_ids"):
        for external_id in getattr(spec, name):
            try:
                mapping.external_id(external_id)
            except TerminalError:
                return f"{name}: invalid id {external_id!r}"
    return None


def _coupon(spec: base.DiscountSpec) -> dict[str, Any]:
    free_shipping = spec.kind == base.DISCOUNT_FREE_SHIPPING
    free_product = spec.kind == base.DISCOUNT_FREE_PRODUCT
    body: dict[str, Any] = {
        "code": spec.code,
        "discount_type": _DISCOUNT_TYPES[spec.kind],
        "amount": "0" if free_shipping else "100" if free_product else format(spec.value, "f"),
        "free_shipping": free_shipping,
        "individual_use": not spec.combinable,
        "description": spec.title or "",
    }
    if spec.usage_limit is not None:
        body["usage_limit"] = spec.usage_limit
        body["usage_limit_per_user"] = spec.usage_limit
    if spec.expires_at is not None:
        body["date_expires_gmt"] = _gmt(spec.expires_at)
    if spec.customer_email:
        body["email_restrictions"] = [spec.customer_email.lower()]
    if spec.minimum_subtotal is not None:
        body["minimum_amount"] = format(spec.minimum_subtotal, "f")
    if free_product:
        entitled = (*spec.product_external_ids, *spec.variant_external_ids)
        body["product_ids"] = list(dict.fromkeys(int(mapping.external_id(i)) for i in entitled))
        body["limit_usage_to_x_items"] = 1
    return body


__all__ = ["WooCommerceConnector", "InvalidShopError"]
