"""The one boundary between the platforms and the rest of Comeback.

Everything a connector hands upwards is one of the records below: platform-neutral, typed,
money as ``Decimal`` with its currency, datetimes timezone-aware. Nothing above this module
knows which platform produced a record; callers branch on ``Connector.capabilities``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, Protocol, runtime_checkable

# --- errors -------------------------------------------------------------------------------


class ConnectorError(Exception):
    """Base class of every error a connector raises."""


class RetryableError(ConnectorError):
    """The call may succeed later (timeout, 429, 5xx, throttled); ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class AuthRevokedError(ConnectorError):
    """The store no longer accepts our credentials: the shop must be re-authorized."""


class TerminalError(ConnectorError):
    """The call can never succeed as made (bad input, 4xx, user errors)."""


class InvalidSignatureError(ConnectorError):
    """A request claiming to come from the platform failed verification."""


class StaleTokenError(InvalidSignatureError):
    """A genuine token used outside its time window: a fresh one from the platform would do."""


class InvalidShopError(ConnectorError):
    """A shop identifier given by a caller is not acceptable."""


# --- neutral event kinds ------------------------------------------------------------------

ORDER_UPSERT = "order.upsert"
REFUND_CREATE = "refund.create"
CUSTOMER_UPSERT = "customer.upsert"
CUSTOMER_CONSENT = "customer.consent"
CUSTOMER_SUMMARY = "customer.summary"
CUSTOMER_DELETE = "customer.delete"
CART_UPSERT = "cart.upsert"
PRODUCT_UPSERT = "product.upsert"
PRODUCT_DELETE = "product.delete"
ORDER_DELETE = "order.delete"
# An order or product taken back out of the trash: the deletion is undone, then its records
# are applied.
ORDER_RESTORE = "order.restore"
PRODUCT_RESTORE = "product.restore"
APP_UNINSTALLED = "app.uninstalled"
# An unsigned liveness check some platforms send when a webhook is created: acknowledged,
# never stored.
PING = "ping"
PRIVACY_DATA_REQUEST = "privacy.data_request"
PRIVACY_CUSTOMER_REDACT = "privacy.customer_redact"
PRIVACY_SHOP_REDACT = "privacy.shop_redact"
IGNORED = "ignored"


# --- records ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency."""

    amount: Decimal
    currency: str


@dataclasses.dataclass(frozen=True, slots=True)
class Customer:
    external_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    state: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    tags: tuple[str, ...] | None = None
    # Marketing consent and purchasing summary come with their own timestamps, since some
    # platform versions deliver them apart from the customer.
    email_marketing_state: str | None = None
    consent_updated_at: dt.datetime | None = None
    order_count: int | None = None
    total_spent: Money | None = None
    # Where the customer's default address is: the ISO 3166-1 alpha-2 country and the
    # subdivision part of its ISO 3166-2 code as the platform spells it ("CA" for California,
    # "ON", "NSW"); None when the customer has no address or the address does not say.
    country_code: str | None = None
    province_code: str | None = None
    # Fields of ``CUSTOMER_OPTIONAL_FIELDS`` the source did not carry (a payload without the
    # address): the mirror keeps what it holds for them (see ``Product.unknown_fields``).
    unknown_fields: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True, slots=True)
class CustomerConsent:
    customer_external_id: str
    email_marketing_state: str
    consent_updated_at: dt.datetime | None
    email: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class CustomerSummary:
    customer_external_id: str
    order_count: int
    total_spent: Money
    updated_at: dt.datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class LineItem:
    external_id: str
    title: str
    quantity: int
    unit_price: Decimal
    total_discount: Decimal = Decimal("0")
    sku: str | None = None
    product_external_id: str | None = None
    variant_external_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RefundLineItem:
    line_item_external_id: str
    quantity: int
    subtotal: Decimal


@dataclasses.dataclass(frozen=True, slots=True)
class Refund:
    external_id: str
    order_external_id: str
    created_at: dt.datetime
    amount: Money
    note: str | None = None
    line_items: tuple[RefundLineItem, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Order:
    external_id: str
    number: str
    created_at: dt.datetime
    updated_at: dt.datetime
    currency: str
    total_price: Decimal  # what the order costs, however it was paid (gift cards included)
    subtotal_price: Decimal  # the line items after discounts, before shipping and taxes
    total_discounts: Decimal = Decimal("0")
    total_tax: Decimal = Decimal("0")
    financial_status: str | None = None
    fulfillment_status: str | None = None
    email: str | None = None
    customer_external_id: str | None = None
    processed_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    is_test: bool = False
    tags: tuple[str, ...] = ()
    discount_codes: tuple[str, ...] = ()
    line_items: tuple[LineItem, ...] = ()
    refunds: tuple[Refund, ...] = ()
    # False when the platform cut the list short (a page read caps nested lists): the lines
    # given are then merged into what is stored instead of replacing it.
    line_items_complete: bool = True
    # The part of the order paid with gift cards, in the shop's currency: what gift cards paid
    # when the order was paid, not lowered by refunds (each refund is a record of its own, so
    # a share of it going back to a gift card would otherwise be counted twice).
    gift_card_amount: Decimal = Decimal("0")
    # False when the source could not tell the amount (a Shopify webhook of an order paid in
    # part with a gift card, a page whose transactions were cut short): the amount stored is
    # kept, a new order starts at 0, and the next full read fills it in.
    gift_card_amount_known: bool = True
    # ``shipping_address_key()`` of the order's shipping address; None without one.
    shipping_address_key: str | None = None
    # When the order was first fulfilled (its earliest successful fulfilment, or the moment the
    # platform marked it complete); None while it is not fulfilled.
    fulfilled_at: dt.datetime | None = None
    # Fields of ``ORDER_OPTIONAL_FIELDS`` the source did not carry (see ``Product.unknown_fields``).
    unknown_fields: frozenset[str] = frozenset()


_ADDRESS_KEY_VERSION = "shipping-address-v1"  # a change of the normalisation changes every key
_WORD_CATEGORIES = frozenset("LNM")  # letters, digits and the marks that belong to letters
_KEY_SEPARATOR = "\x1f"  # a control character: never left in a normalised part


def _address_words(value: Any) -> str:
    """Return ``value`` NFKC-normalised and casefolded, each run of other characters one space."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", str(value)).casefold())
    words: list[str] = []
    gap = False
    for char in text:
        if unicodedata.category(char)[0] in _WORD_CATEGORIES:
            if gap and words:
                words.append(" ")
            words.append(char)
            gap = False
        else:
            gap = True
    return "".join(words)


def shipping_address_key(address1: Any, address2: Any, postal_code: Any, country_code: Any) -> str | None:
    """Return a one-way fingerprint (SHA-256 hex) of a shipping address; None without a street.

    Spellings of one address give one key: every part is NFKC-normalised and casefolded and
    each run of punctuation or whitespace becomes one space ("12 Main St." and "12  main st"
    match); the two address lines count as one text (a line split elsewhere still matches);
    the postal code and country code lose their separators ("SW1A 1AA" and "sw1a-1aa" match).
    Accents are kept ("é" is not "e"). An address without a street line (a country alone) is
    no address to compare: None. The key is unsalted, so it hides an address from a casual
    reader but not from someone who guesses it; it is compared only within one shop.
    """
    street = _address_words(f"{address1 or ''} {address2 or ''}")
    if not street:
        return None
    parts = (_ADDRESS_KEY_VERSION, street, _address_words(postal_code).replace(" ", ""),
             _address_words(country_code).replace(" ", ""))
    return hashlib.sha256(_KEY_SEPARATOR.join(parts).encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Variant:
    external_id: str
    title: str
    price: Decimal
    sku: str | None = None
    inventory_quantity: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Product:
    external_id: str
    title: str
    updated_at: dt.datetime
    handle: str | None = None
    status: str | None = None
    vendor: str | None = None
    product_type: str | None = None
    tags: tuple[str, ...] = ()
    created_at: dt.datetime | None = None
    variants: tuple[Variant, ...] = ()
    variants_complete: bool = True
    # The product's main image (absolute URL) and its page on the storefront (None when the
    # product has no image, or is not published on the storefront).
    image_url: str | None = None
    url: str | None = None
    # What the product is, as the platform groups products (category names, most specific
    # platform vocabulary first); empty when it is in none.
    categories: tuple[str, ...] = ()
    # Fields of ``PRODUCT_OPTIONAL_FIELDS`` the source did not carry (a webhook that has no
    # storefront URL, a partial payload): the mirror keeps what it holds for them. A field
    # not named here is what the platform says, empty values included.
    unknown_fields: frozenset[str] = frozenset()


# Fields a record may leave unknown (``unknown_fields``), by record type.
PRODUCT_OPTIONAL_FIELDS = frozenset({"image_url", "url", "categories"})
CUSTOMER_OPTIONAL_FIELDS = frozenset({"country_code", "province_code"})
ORDER_OPTIONAL_FIELDS = frozenset({"fulfilled_at"})


@dataclasses.dataclass(frozen=True, slots=True)
class CartLine:
    title: str
    quantity: int
    unit_price: Decimal
    product_external_id: str | None = None
    variant_external_id: str | None = None
    sku: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Cart:
    external_id: str
    updated_at: dt.datetime
    currency: str
    total_price: Decimal
    created_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    email: str | None = None
    customer_external_id: str | None = None
    recovery_url: str | None = None
    lines: tuple[CartLine, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class CartCompletion:
    """A cart that became an order: completes the stored cart, never creates one."""

    external_id: str
    completed_at: dt.datetime


@dataclasses.dataclass(frozen=True, slots=True)
class Deletion:
    """A resource the platform says is gone."""

    external_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class PrivacyRequest:
    """A compliance request: data export, customer erasure or shop erasure."""

    customer_external_id: str | None = None
    email: str | None = None
    order_external_ids: tuple[str, ...] = ()
    request_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookEnvelope:
    """A verified delivery, before it is parsed: what the inbox stores.

    ``delivery_key`` is unique per delivery across retries of the same delivery; the inbox
    keeps one row per key.
    """

    platform: str
    shop_key: str  # the shop's domain (or store id) as the platform names it
    topic: str  # the platform's own topic string, opaque above connectors/
    kind: str  # one of the neutral kinds above
    delivery_key: str
    body: bytes
    triggered_at: dt.datetime | None = None
    api_version: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Refetch:
    """A resource a webhook only hinted at: read it from the platform after the event applies.

    ``resource`` is one of ``REFETCH_RESOURCES``; ``expected_ids`` lets the reader skip the
    call when the mirror already holds every one of them (e.g. refunds of an order).
    """

    resource: str
    external_id: str
    expected_ids: tuple[str, ...] = ()


REFETCH_ORDER_REFUNDS = "order_refunds"
REFETCH_PRODUCT = "product"
# The whole order (with its refunds), where a webhook left a field unknown.
REFETCH_ORDER = "order"
REFETCH_RESOURCES = (REFETCH_ORDER_REFUNDS, REFETCH_PRODUCT, REFETCH_ORDER)


@dataclasses.dataclass(frozen=True, slots=True)
class NormalizedEvent:
    """What one webhook means, in neutral records."""

    kind: str
    records: tuple[Any, ...] = ()
    occurred_at: dt.datetime | None = None
    refetch: tuple[Refetch, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class StorefrontCaller:
    """Who a verified storefront request comes from: the store, and the signed-in shopper.

    ``customer_external_id`` is None for a visitor who is not signed in; the platform's proof
    is the only identity, whatever else the request says.
    """

    shop_key: str
    customer_external_id: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    """What a connector needs to call a store on a shop's behalf (decrypted, in memory only)."""

    shop_key: str
    access_token: str
    scope: str | None = None
    refresh_token: str | None = None
    expires_at: dt.datetime | None = None
    refresh_token_expires_at: dt.datetime | None = None
    # Key-pair platforms: the secret half of the key, and how the store wants it presented
    # (e.g. "query" for a server that strips the Authorization header).
    secret: str | None = None
    auth_hint: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class KeyGrant:
    """API keys a store posted to our install callback, bound to our state value."""

    state: str
    key: str
    secret: str
    permissions: str | None = None
    key_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the merchant's browser to approve the app."""

    url: str
    state: str


@dataclasses.dataclass(frozen=True, slots=True)
class BackfillJob:
    """A platform-side export in progress (e.g. a bulk operation)."""

    resource: str
    job_id: str
    status: str  # running | completed | failed
    object_count: int = 0
    root_object_count: int | None = None
    result_url: str | None = None
    error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    """One page of records and the cursor to the next page (``None`` when done)."""

    records: tuple[Any, ...]
    next_cursor: str | None
    total: int | None = None  # how many root records the whole listing holds, when the platform says


# --- write-back ---------------------------------------------------------------------------

DISCOUNT_PERCENTAGE = "percentage"
DISCOUNT_FIXED_AMOUNT = "fixed_amount"
DISCOUNT_FREE_SHIPPING = "free_shipping"
DISCOUNT_FREE_PRODUCT = "free_product"
DISCOUNT_KINDS = (DISCOUNT_PERCENTAGE, DISCOUNT_FIXED_AMOUNT, DISCOUNT_FREE_SHIPPING, DISCOUNT_FREE_PRODUCT)


@dataclasses.dataclass(frozen=True, slots=True)
class DiscountSpec:
    """A single-shopper discount code to create in the store (a reward, a reminder incentive).

    ``value`` is a percentage (0 < value <= 100) or an amount in the shop's currency; it is
    ignored for free shipping. ``combinable=False`` means the code cannot be used with others.

    A free product gives one unit of one of the entitled products or variants
    (``product_external_ids``, ``variant_external_ids``: the mirror's external ids; at least
    one is needed) for nothing, once per use of the code: ``value`` is the price of one unit,
    taken off once across the entitled items, never per item. Other kinds take no product ids.
    """

    code: str
    kind: str
    value: Decimal = Decimal("0")
    title: str | None = None
    starts_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    usage_limit: int | None = 1
    customer_external_id: str | None = None
    customer_email: str | None = None
    combinable: bool = False
    minimum_subtotal: Decimal | None = None
    product_external_ids: tuple[str, ...] = ()
    variant_external_ids: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class DiscountResult:
    """What became of one ``DiscountSpec``: ``created`` is False when the code already existed."""

    code: str
    external_id: str | None
    created: bool
    error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class CustomerAttributes:
    """Values to show on a customer in the store (points balance, tier) for themes to read.

    ``tags_add`` and ``tags_remove`` change the customer's tags where the platform has them
    (so that segments and flows in the store can use a tier); adding a tag that is there or
    removing one that is not is no change. A platform without customer tags ignores them:
    the same information always travels in ``values`` too.
    """

    customer_external_id: str
    values: tuple[tuple[str, str], ...]
    tags_add: tuple[str, ...] = ()
    tags_remove: tuple[str, ...] = ()


CONSENT_SUBSCRIBED = "subscribed"
CONSENT_UNSUBSCRIBED = "unsubscribed"
CONSENT_STATES = (CONSENT_SUBSCRIBED, CONSENT_UNSUBSCRIBED)


@dataclasses.dataclass(frozen=True, slots=True)
class ConsentUpdate:
    """A shopper's email marketing consent, changed here, to write to the store.

    ``customer_external_id`` names the store's customer when the mirror knows it; without it
    (or when that customer is gone) the customer is found by ``email``. ``occurred_at`` is
    when the shopper decided (aware); the store keeps the most recent decision.
    """

    email: str
    customer_external_id: str | None
    state: str  # one of CONSENT_STATES
    occurred_at: dt.datetime


def consent_problem(update: ConsentUpdate) -> str | None:
    """Return why a ``ConsentUpdate`` cannot be written to any store, or ``None``."""
    if update.state not in CONSENT_STATES:
        return f"state: must be one of {', '.join(CONSENT_STATES)}"
    email = update.email
    if not isinstance(email, str) or "@" not in email.strip("@") or email != email.strip() \
            or any(char.isspace() or unicodedata.category(char)[0] == "C" for char in email):
        return "email: not an email address"
    if not isinstance(update.occurred_at, dt.datetime) or update.occurred_at.tzinfo is None:
        return "occurred_at: must be a timezone-aware datetime"
    return None


CONSENT_WRITTEN = "written"
CONSENT_NO_CUSTOMER = "no_customer"  # the store has no customer with that id or address (a guest)
CONSENT_ERROR = "error"


@dataclasses.dataclass(frozen=True, slots=True)
class ConsentResult:
    """What became of one ``ConsentUpdate``: ``status`` is one of the ``CONSENT_*`` outcomes.

    ``customer_external_id`` is the customer written (also when found by address); ``error``
    says why the store refused an update (``status == CONSENT_ERROR``).
    """

    email: str
    customer_external_id: str | None
    status: str
    error: str | None = None


# --- capabilities -------------------------------------------------------------------------

CAP_BULK_EXPORT = "bulk_export"
CAP_EXPIRING_TOKENS = "expiring_tokens"
CAP_SESSION_TOKENS = "session_tokens"
CAP_WEBHOOK_SUBSCRIPTIONS = "webhook_subscriptions"
# The platform disables failing webhooks and never retries: webhooks are re-checked and
# re-activated periodically.
CAP_WEBHOOK_REPAIR = "webhook_repair"
# Install posts API keys to a callback (instead of redirecting with a code to exchange).
CAP_KEY_CALLBACK = "key_callback"
# Each shop signs its webhooks with its own secret (chosen by us), not the app's.
CAP_SHOP_WEBHOOK_SECRET = "shop_webhook_secret"
# The store answers "which orders did this address or customer place since a moment?" now
# (``orders_since``): a cart reminder asks it just before sending, so an order whose webhook
# has not arrived yet cannot be followed by a reminder.
CAP_ORDER_LOOKUP = "order_lookup"
# The store takes a shopper's email marketing consent written back (``set_email_consent``):
# an unsubscribe here reaches the store's own consent record.
CAP_CONSENT_WRITEBACK = "consent_writeback"
# The admin opens inside the platform's own admin frame (``admin_frame``), authenticated by
# the platform's session tokens; the pages take the platform's look.
CAP_EMBEDDED_ADMIN = "embedded_admin"
# The store's own admin opens Comeback with a short-lived signed link (``verify_admin_link``)
# that becomes a first-party session.
CAP_ADMIN_LINK = "admin_link"

RESOURCES = ("customers", "products", "orders", "carts")
# The record type a resource's progress is counted in (a page may carry others along).
ROOT_TYPES: dict[str, type] = {"customers": Customer, "products": Product, "orders": Order, "carts": Cart}


@runtime_checkable
class Connector(Protocol):
    """What every platform connector offers; see ``connectors/shopify`` for one."""

    platform: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]

    # install
    def normalize_shop_key(self, raw: str) -> str: ...
    def authorization_request(self, shop_key: str, redirect_uri: str, state: str) -> AuthorizationRequest: ...
    def verify_callback(self, query: Mapping[str, str]) -> str: ...
    def exchange_code(self, shop_key: str, code: str, redirect_uri: str) -> Credentials: ...
    def refresh_credentials(self, credentials: Credentials) -> Credentials | None: ...

    # webhooks
    def verify_webhook(self, headers: Mapping[str, str], body: bytes, *,
                       shop_key: str | None = None, secret: str | None = None) -> WebhookEnvelope: ...
    def parse_event(self, topic: str, body: bytes) -> NormalizedEvent: ...
    def register_webhooks(self, credentials: Credentials, callback_url: str, *,
                          secret: str | None = None) -> list[str]: ...

    # reading
    def fetch_page(
        self, credentials: Credentials, resource: str, *, cursor: str | None,
        updated_since: dt.datetime | None,
    ) -> Page: ...
    def start_backfill(self, credentials: Credentials, resource: str) -> BackfillJob: ...
    def poll_backfill(self, credentials: Credentials, job: BackfillJob) -> BackfillJob: ...
    def iter_backfill(self, job: BackfillJob, *, skip: int = 0) -> Iterator[Any]: ...
    def fetch_records(self, credentials: Credentials, refetch: Refetch) -> tuple[Any, ...]: ...

    # writing back
    def create_discounts(self, credentials: Credentials,
                         specs: Sequence[DiscountSpec]) -> list[DiscountResult]: ...
    def set_customer_attributes(self, credentials: Credentials,
                                updates: Sequence[CustomerAttributes]) -> int: ...

    # With CAP_ORDER_LOOKUP:
    # def orders_since(self, credentials: Credentials, *, email: str | None,
    #                  customer_external_id: str | None, since: dt.datetime) -> tuple[str, ...]
    # The ids of up to five orders (placed, not carts or drafts) the address or the customer
    # placed at or after ``since``, newest first; empty when there are none. Raises the neutral
    # errors (RetryableError when the store cannot answer now).

    # With CAP_CONSENT_WRITEBACK:
    # def set_email_consent(self, credentials: Credentials,
    #                       updates: Sequence[ConsentUpdate]) -> list[ConsentResult]
    # Write each shopper's email marketing consent to the store's customer (found by id, else
    # by address); one result per update, in order. Idempotent: writing a state the customer
    # has already is no change and answers CONSENT_WRITTEN. An address no customer has (a
    # guest) answers CONSENT_NO_CUSTOMER; an update the store refuses, or that cannot be sent
    # (an unknown state, a naive time), answers CONSENT_ERROR with the reason. A failure of a
    # call itself raises the neutral errors (RetryableError, AuthRevokedError, TerminalError);
    # the batch is safe to replay.
