"""In-memory store objects, kept small with __slots__ so a million orders fit."""

from __future__ import annotations

from typing import Optional


class Variant:
    """One product variant."""

    __slots__ = ("id", "product", "title", "sku", "price", "inventory", "updated_at")

    def __init__(self, id: int, product: "Product", title: str, sku: str,
                 price: int, inventory: int, updated_at: int) -> None:
        self.id = id
        self.product = product
        self.title = title
        self.sku = sku
        self.price = price
        self.inventory = inventory
        self.updated_at = updated_at


class ProductImage:
    """A product's featured image (a MediaImage; a WordPress attachment in the Woo dialect)."""

    __slots__ = ("id", "created_at", "alt")

    WIDTH = HEIGHT = 64  # the PNG devstore serves for every image

    def __init__(self, id: int, created_at: int, alt: str = "") -> None:
        self.id = id
        self.created_at = created_at
        self.alt = alt


class Product:
    """One product with its variants.

    `image` is the featured image (None: the product has none); `category` names an entry
    of `taxonomy.CATEGORIES` (Shopify's standard taxonomy) or is None; `published_at` is when
    it was published on the Online Store (None: not published); `categories` are the
    WooCommerce dialect's category names.
    """

    __slots__ = ("id", "title", "handle", "status", "vendor", "product_type", "tags",
                 "created_at", "updated_at", "variants", "deleted", "image", "category",
                 "published_at", "categories")

    def __init__(self, id: int, title: str, handle: str, vendor: str, product_type: str,
                 tags: tuple[str, ...], created_at: int, status: str = "ACTIVE") -> None:
        self.id = id
        self.title = title
        self.handle = handle
        self.status = status
        self.vendor = vendor
        self.product_type = product_type
        self.tags = tags
        self.created_at = created_at
        self.updated_at = created_at
        self.variants: list[Variant] = []
        self.deleted = False
        self.image: Optional[ProductImage] = None
        self.category: Optional[str] = None
        self.published_at: Optional[int] = created_at
        self.categories: tuple[str, ...] = (product_type,) if product_type else ()


class Address:
    """A mailing address (shared by the orders of a customer, so a million orders fit)."""

    __slots__ = ("first_name", "last_name", "address1", "address2", "city", "province_code",
                 "zip", "country_code")

    def __init__(self, first_name: str, last_name: str, address1: str, address2: str,
                 city: str, province_code: str, zip: str, country_code: str) -> None:
        self.first_name = first_name
        self.last_name = last_name
        self.address1 = address1
        self.address2 = address2
        self.city = city
        self.province_code = province_code
        self.zip = zip
        self.country_code = country_code


class Customer:
    """One customer with running purchase totals."""

    __slots__ = ("id", "first_name", "last_name", "email", "phone", "state", "tags",
                 "marketing_state", "consent_updated_at", "created_at", "updated_at",
                 "orders_count", "spent", "last_order", "verified_email", "default_address")

    def __init__(self, id: int, first_name: str, last_name: str, email: Optional[str],
                 phone: Optional[str], created_at: int) -> None:
        self.id = id
        self.first_name = first_name
        self.last_name = last_name
        self.email = email
        self.phone = phone
        self.state = "ENABLED"
        self.tags: tuple[str, ...] = ()
        self.marketing_state = "NOT_SUBSCRIBED"
        self.consent_updated_at: Optional[int] = None
        self.created_at = created_at
        self.updated_at = created_at
        self.orders_count = 0
        self.spent = 0
        self.last_order: Optional["Order"] = None
        self.verified_email = True
        self.default_address: Optional[Address] = None


class LineItem:
    """One order or checkout line."""

    __slots__ = ("id", "variant", "quantity", "price", "discount")

    def __init__(self, id: int, variant: Variant, quantity: int, price: int,
                 discount: int = 0) -> None:
        self.id = id
        self.variant = variant
        self.quantity = quantity
        self.price = price
        self.discount = discount

    @property
    def discounted_total(self) -> int:
        """Return the line total after its discount allocation."""
        return self.price * self.quantity - self.discount

    def unit_net(self) -> int:
        """Return the per-unit price after discount, rounded down."""
        return self.discounted_total // self.quantity if self.quantity else 0


class RefundLine:
    """One refunded quantity of a line item."""

    __slots__ = ("id", "line_item", "quantity", "subtotal", "tax")

    def __init__(self, id: int, line_item: LineItem, quantity: int, subtotal: int,
                 tax: int) -> None:
        self.id = id
        self.line_item = line_item
        self.quantity = quantity
        self.subtotal = subtotal
        self.tax = tax


class Refund:
    """One refund of an order.

    `gift_card` is the part (cents) that went back to gift cards, through its own transaction
    `gift_card_transaction_id`; the rest went back through `transaction_id`.
    """

    __slots__ = ("id", "order", "created_at", "note", "lines", "amount", "transaction_id",
                 "gift_card", "gift_card_transaction_id")

    def __init__(self, id: int, order: "Order", created_at: int, note: Optional[str],
                 lines: list[RefundLine], amount: int, transaction_id: int) -> None:
        self.id = id
        self.order = order
        self.created_at = created_at
        self.note = note
        self.lines = lines
        self.amount = amount
        self.transaction_id = transaction_id
        self.gift_card = 0
        self.gift_card_transaction_id: Optional[int] = None


class Fulfillment:
    """One shipment of all of an order's items; `status` as the GraphQL FulfillmentStatus."""

    __slots__ = ("id", "order", "created_at", "updated_at", "status")

    def __init__(self, id: int, order: "Order", created_at: int, status: str = "SUCCESS") -> None:
        self.id = id
        self.order = order
        self.created_at = created_at
        self.updated_at = created_at
        self.status = status

    @property
    def name(self) -> str:
        """Return the merchant-facing name (`#1001.1`)."""
        position = (self.order.fulfillments or [self]).index(self) + 1
        return f"{self.order.name}.{position}"


class Order:
    """One order with its lines and refunds; money in integer cents.

    `gift_card` is what gift cards paid of the total when the order was placed (the rest was
    paid, or is owed, through the card gateway); `shipping_address` is None for an order that
    ships nowhere; `fulfillments` (None: none yet) are its shipments, oldest first.
    """

    __slots__ = ("id", "number", "customer", "email", "created_at", "updated_at",
                 "cancelled_at", "financial_status", "fulfillment_status", "tags",
                 "discount_code", "discount", "subtotal", "tax", "shipping", "total",
                 "line_items", "refunds", "test", "checkout", "gift_card", "shipping_address",
                 "fulfillments")

    def __init__(self, id: int, number: int, customer: Optional[Customer],
                 email: Optional[str], created_at: int, line_items: list[LineItem]) -> None:
        self.id = id
        self.number = number
        self.customer = customer
        self.email = email
        self.created_at = created_at
        self.updated_at = created_at
        self.cancelled_at: Optional[int] = None
        self.financial_status = "PAID"
        self.fulfillment_status = "UNFULFILLED"
        self.tags: tuple[str, ...] = ()
        self.discount_code: Optional[str] = None
        self.discount = 0
        self.subtotal = 0
        self.tax = 0
        self.shipping = 0
        self.total = 0
        self.line_items = line_items
        self.refunds: Optional[list[Refund]] = None
        self.test = False
        self.checkout: Optional["Checkout"] = None
        self.gift_card = 0
        self.shipping_address: Optional[Address] = customer.default_address if customer else None
        self.fulfillments: Optional[list[Fulfillment]] = None

    @property
    def name(self) -> str:
        """Return the merchant-facing order name."""
        return f"#{self.number}"

    def refunded(self) -> int:
        """Return the total refunded amount in cents."""
        return sum(r.amount for r in self.refunds) if self.refunds else 0


class Checkout:
    """One checkout, abandoned until completed."""

    __slots__ = ("id", "token", "customer", "email", "created_at", "updated_at",
                 "completed_at", "line_items", "total", "order")

    def __init__(self, id: int, token: str, customer: Optional[Customer],
                 email: Optional[str], created_at: int, line_items: list[LineItem]) -> None:
        self.id = id
        self.token = token
        self.customer = customer
        self.email = email
        self.created_at = created_at
        self.updated_at = created_at
        self.completed_at: Optional[int] = None
        self.line_items = line_items
        self.total = sum(li.price * li.quantity for li in line_items)
        self.order: Optional[Order] = None


class Discount:
    """One code discount (amount off or free shipping) with a single redeem code.

    `kind` is "BASIC" (DiscountCodeBasic) or "FREE_SHIPPING" (DiscountCodeFreeShipping);
    a basic discount has either `percentage` (0 < p <= 1) or `amount` (cents). Times are
    epoch seconds; `customer_ids` is empty when every buyer may use the code; `product_ids`
    and `variant_ids` (sorted) are both empty when the discount applies to every item.
    """

    __slots__ = ("id", "redeem_code_id", "kind", "code", "title", "percentage", "amount",
                 "applies_on_each_item", "starts_at", "ends_at", "usage_limit",
                 "applies_once_per_customer", "all_customers", "customer_ids",
                 "product_ids", "variant_ids", "combines_order", "combines_product", "combines_shipping",
                 "minimum_subtotal", "minimum_quantity", "maximum_shipping_price",
                 "applies_on_one_time_purchase", "applies_on_subscription", "client_id",
                 "created_at", "updated_at")

    def __init__(self, id: int, redeem_code_id: int, kind: str, code: str, title: str,
                 starts_at: int, client_id: str, created_at: int) -> None:
        self.id = id
        self.redeem_code_id = redeem_code_id
        self.kind = kind
        self.code = code
        self.title = title
        self.percentage: Optional[float] = None
        self.amount: Optional[int] = None
        self.applies_on_each_item = False
        self.starts_at = starts_at
        self.ends_at: Optional[int] = None
        self.usage_limit: Optional[int] = None
        self.applies_once_per_customer = False
        self.all_customers = True
        self.customer_ids: tuple[int, ...] = ()
        self.product_ids: tuple[int, ...] = ()
        self.variant_ids: tuple[int, ...] = ()
        self.combines_order = False
        self.combines_product = False
        self.combines_shipping = False
        self.minimum_subtotal: Optional[int] = None
        self.minimum_quantity: Optional[int] = None
        self.maximum_shipping_price: Optional[int] = None
        self.applies_on_one_time_purchase = True
        self.applies_on_subscription = False
        self.client_id = client_id
        self.created_at = created_at
        self.updated_at = created_at


class Metafield:
    """One metafield of an owner (e.g. a customer), unique per owner, namespace and key."""

    __slots__ = ("id", "owner_type", "owner_id", "namespace", "key", "type", "value",
                 "created_at", "updated_at")

    def __init__(self, id: int, owner_type: str, owner_id: int, namespace: str, key: str,
                 type: str, value: str, created_at: int) -> None:
        self.id = id
        self.owner_type = owner_type
        self.owner_id = owner_id
        self.namespace = namespace
        self.key = key
        self.type = type
        self.value = value
        self.created_at = created_at
        self.updated_at = created_at
