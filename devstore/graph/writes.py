"""Write-back mutations: code discounts (amount off, free shipping), metafieldsSet, tags, consent.

Inputs are read the way Shopify documents them (2026-10): every problem found becomes a
`userErrors` entry with the path of the offending input field, and nothing is stored when
there is one. Codes are unique per shop, case-insensitively.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Optional

from graphql import GraphQLError

from .. import payloads
from ..events import advance
from ..formats import gid, iso_utc, parse_gid, parse_money, parse_time
from ..models import Customer, Discount, Metafield
from ..shopstate import ShopState
from .context import Ctx
from .fields import FIELDS, NODE_TYPES
from .operations import LOOKUPS, lookup

MAX_CODE_LENGTH = 255
MAX_TITLE_LENGTH = 255
MAX_USAGE_LIMIT = 99_999_999
MAX_METAFIELDS = 25
MAX_TAG_LENGTH = 255
MAX_TAGS = 250
TAKEN_MESSAGE = "Code must be unique. Please try a different code."
BASIC = "BASIC"
FREE_SHIPPING = "FREE_SHIPPING"
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
# Owners whose metafields devstore keeps: GID type -> owner type name.
METAFIELD_OWNERS = {"Customer": "CUSTOMER"}


# --- helpers ----------------------------------------------------------------------------------


class _Errors:
    """Collect userErrors of one mutation input."""

    def __init__(self, element_index: bool = False) -> None:
        self.items: list[dict[str, Any]] = []
        self._element_index = element_index

    def add(self, field: Optional[list[str]], message: str, code: str,
            index: Optional[int] = None) -> None:
        """Record one user error."""
        error: dict[str, Any] = {"field": field, "message": message, "code": code}
        if self._element_index:
            error["elementIndex"] = index
        self.items.append(error)

    def __bool__(self) -> bool:
        return bool(self.items)


def _time(value: Any, path: list[str], label: str, errors: _Errors) -> Optional[int]:
    """Parse a DateTime input into epoch seconds (None when absent or invalid)."""
    if value is None:
        return None
    try:
        return parse_time(str(value))
    except ValueError:
        errors.add(path, f"{label} is invalid", "INVALID")
        return None


def _cents(value: Any, path: list[str], label: str, errors: _Errors) -> Optional[int]:
    """Parse a positive Decimal input into cents (None when absent or invalid)."""
    if value is None:
        return None
    try:
        cents = parse_money(value)
    except ValueError:
        errors.add(path, f"{label} is invalid", "INVALID")
        return None
    if cents <= 0:
        errors.add(path, f"{label} must be greater than 0", "GREATER_THAN")
        return None
    return cents


def _status(discount: Discount, now: Optional[float] = None) -> str:
    """Return ACTIVE, SCHEDULED or EXPIRED."""
    now = time.time() if now is None else now
    if discount.starts_at > now:
        return "SCHEDULED"
    if discount.ends_at is not None and discount.ends_at <= now:
        return "EXPIRED"
    return "ACTIVE"


@dataclass(frozen=True)
class RedeemCode:
    """The single redeem code of a discount, as the `codes` connection shows it."""

    id: int
    code: str


# --- discounts ---------------------------------------------------------------------------------


def _read_buyers(ctx: Ctx, data: dict, root: str, errors: _Errors) -> Optional[tuple[bool, tuple[int, ...]]]:
    """Return (all customers, customer ids) from `context` or the deprecated `customerSelection`."""
    context, selection = data.get("context"), data.get("customerSelection")
    if context is not None and selection is not None:
        errors.add([root, "context"], "Only one of context or customerSelection can be given",
                   "CONFLICT")
        return None
    if context is None and selection is None:
        errors.add([root, "context"], "Context can't be blank", "BLANK")
        return None
    name = "context" if context is not None else "customerSelection"
    given = context if context is not None else selection
    everyone = given.get("all")
    everyone = everyone == "ALL" if name == "context" else bool(everyone)
    chosen = [k for k in ("customers", "customerSegments") if given.get(k) is not None]
    if everyone + len(chosen) != 1:
        errors.add([root, name], "Exactly one of all, customers or customerSegments must be given",
                   "INVALID")
        return None
    if everyone:
        return True, ()
    if chosen[0] == "customerSegments":
        errors.add([root, name, "customerSegments"],
                   "Customer segments are not supported by devstore", "INVALID")
        return None
    added = given["customers"].get("add") or []
    if not added:
        errors.add([root, name, "customers", "add"], "Customers can't be blank", "BLANK")
        return None
    ids: list[int] = []
    for index, value in enumerate(added):
        customer = lookup(ctx, value, "Customer")
        if customer is None:
            errors.add([root, name, "customers", "add", str(index)],
                       f"Customer {value} does not exist", "INVALID")
        elif customer.id not in ids:
            ids.append(customer.id)
    return False, tuple(ids)


def _read_minimum(data: dict, root: str, errors: _Errors) -> tuple[Optional[int], Optional[int]]:
    """Return (minimum subtotal cents, minimum quantity)."""
    requirement = data.get("minimumRequirement")
    if not requirement:
        return None, None
    subtotal, quantity = requirement.get("subtotal"), requirement.get("quantity")
    path = [root, "minimumRequirement"]
    if subtotal is not None and quantity is not None:
        errors.add(path, "Specify a minimum subtotal or a quantity, but not both",
                   "MINIMUM_SUBTOTAL_AND_QUANTITY_RANGE_BOTH_PRESENT")
        return None, None
    if subtotal is not None:
        return _cents(subtotal.get("greaterThanOrEqualToSubtotal"),
                      path + ["subtotal", "greaterThanOrEqualToSubtotal"], "Minimum subtotal",
                      errors), None
    if quantity is not None:
        raw = quantity.get("greaterThanOrEqualToQuantity")
        try:
            count = int(str(raw))
        except ValueError:
            count = 0
        if count <= 0:
            errors.add(path + ["quantity", "greaterThanOrEqualToQuantity"],
                       "Minimum quantity must be greater than 0", "GREATER_THAN")
            return None, None
        return None, count
    return None, None


def _read_common(ctx: Ctx, data: dict, root: str, kind: str, errors: _Errors) -> Discount:
    """Read the fields both code discount kinds share into an unsaved Discount."""
    shop = ctx.shop
    code = data.get("code")
    if code is None or not str(code).strip():
        errors.add([root, "code"], "Code can't be blank", "BLANK")
        code = ""
    elif len(code) > MAX_CODE_LENGTH:
        errors.add([root, "code"], f"Code is too long (maximum is {MAX_CODE_LENGTH} characters)",
                   "TOO_LONG")
    elif "\n" in code or "\r" in code:
        errors.add([root, "code"], "Code cannot contain newline characters", "INVALID")
    elif code.lower() in shop.discount_codes:
        errors.add([root, "code"], TAKEN_MESSAGE, "TAKEN")
    title = data.get("title")
    if title is None or not str(title).strip():
        errors.add([root, "title"], "Title can't be blank", "BLANK")
        title = ""
    elif len(title) > MAX_TITLE_LENGTH:
        errors.add([root, "title"],
                   f"Title is too long (maximum is {MAX_TITLE_LENGTH} characters)", "TOO_LONG")
    starts_at = _time(data.get("startsAt"), [root, "startsAt"], "Starts at", errors)
    if data.get("startsAt") is None:
        errors.add([root, "startsAt"], "Starts at can't be blank", "BLANK")
    ends_at = _time(data.get("endsAt"), [root, "endsAt"], "Ends at", errors)
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        errors.add([root, "endsAt"], "Ends at needs to be after starts_at",
                   "END_DATE_BEFORE_START_DATE")
    usage_limit = data.get("usageLimit")
    if usage_limit is not None and usage_limit < 1:
        errors.add([root, "usageLimit"], "Usage limit must be greater than 0", "GREATER_THAN")
    elif usage_limit is not None and usage_limit > MAX_USAGE_LIMIT:
        errors.add([root, "usageLimit"],
                   f"Usage limit must be less than or equal to {MAX_USAGE_LIMIT}",
                   "LESS_THAN_OR_EQUAL_TO")
    buyers = _read_buyers(ctx, data, root, errors)
    minimum_subtotal, minimum_quantity = _read_minimum(data, root, errors)
    combines = data.get("combinesWith") or {}
    now = int(time.time())
    discount = Discount(0, 0, kind, code, title, starts_at or now, ctx.client_id, now)
    discount.ends_at = ends_at
    discount.usage_limit = usage_limit
    discount.applies_once_per_customer = bool(data.get("appliesOncePerCustomer"))
    if buyers is not None:
        discount.all_customers, discount.customer_ids = buyers
    discount.combines_order = bool(combines.get("orderDiscounts"))
    discount.combines_product = bool(combines.get("productDiscounts"))
    discount.combines_shipping = bool(combines.get("shippingDiscounts"))
    discount.minimum_subtotal = minimum_subtotal
    discount.minimum_quantity = minimum_quantity
    return discount


def _read_items(ctx: Ctx, items: Optional[dict], path: list[str], discount: Discount,
               errors: _Errors) -> None:
    """Read `customerGets.items`: every item, or products and variants (no collections)."""
    items = items or {}
    given = [k for k in ("all", "products", "collections") if items.get(k) not in (None, False)]
    if not given:
        errors.add(path, "Items can't be blank", "BLANK")
        return
    if len(given) > 1:
        errors.add(path, "Only one of all, products or collections can be given", "INVALID")
        return
    if given[0] == "all":
        return
    if given[0] == "collections":
        errors.add(path + ["collections"], "Collections are not supported by devstore", "INVALID")
        return
    products = items["products"]
    found: dict[str, set[int]] = {"Product": set(), "ProductVariant": set()}
    refused = False
    for field, type_name, label in (("productsToAdd", "Product", "Product"),
                                    ("productVariantsToAdd", "ProductVariant", "Product variant")):
        for index, value in enumerate(products.get(field) or []):
            obj = lookup(ctx, value, type_name)
            if obj is None:
                errors.add(path + ["products", field, str(index)], f"{label} {value} does not exist",
                           "INVALID")
                refused = True
            else:
                found[type_name].add(obj.id)
    if not refused and not found["Product"] and not found["ProductVariant"]:
        errors.add(path + ["products"], "Products or product variants can't be blank", "BLANK")
    discount.product_ids = tuple(sorted(found["Product"]))
    discount.variant_ids = tuple(sorted(found["ProductVariant"]))


def _read_customer_gets(ctx: Ctx, data: dict, root: str, discount: Discount,
                        errors: _Errors) -> None:
    """Read `customerGets` of an amount off discount into the discount."""
    gets = data.get("customerGets")
    path = [root, "customerGets"]
    if gets is None:
        errors.add(path, "Customer gets can't be blank", "BLANK")
        return
    value = gets.get("value") or {}
    percentage, amount = value.get("percentage"), value.get("discountAmount")
    if percentage is None and amount is None:
        errors.add(path + ["value"], "Value can't be blank", "BLANK")
    elif percentage is not None and amount is not None:
        errors.add(path + ["value"], "Only one of percentage or discountAmount can be given",
                   "INVALID")
    elif percentage is not None:
        if not 0 < percentage <= 1:
            errors.add(path + ["value", "percentage"],
                       "Value must be greater than 0.0 and less than or equal to 1.0",
                       "VALUE_OUTSIDE_RANGE")
        discount.percentage = float(percentage)
    else:
        if amount.get("amount") is None:
            errors.add(path + ["value", "discountAmount", "amount"], "Amount can't be blank",
                       "BLANK")
        discount.amount = _cents(amount.get("amount"),
                                 path + ["value", "discountAmount", "amount"], "Amount", errors)
        discount.applies_on_each_item = bool(amount.get("appliesOnEachItem"))
    _read_items(ctx, gets.get("items"), path + ["items"], discount, errors)
    if gets.get("appliesOnOneTimePurchase") is not None:
        discount.applies_on_one_time_purchase = bool(gets["appliesOnOneTimePurchase"])
    if gets.get("appliesOnSubscription") is not None:
        discount.applies_on_subscription = bool(gets["appliesOnSubscription"])


def _save(shop: ShopState, discount: Discount) -> Discount:
    """Give the discount its ids and store it."""
    discount.id = shop.next_id("DiscountCodeNode")
    discount.redeem_code_id = shop.next_id("DiscountRedeemCode")
    shop.discounts[discount.id] = discount
    shop.discount_codes[discount.code.lower()] = discount
    return discount


def basic_create(ctx: Ctx, args: dict) -> dict:
    """Create an amount off (percentage or fixed amount) code discount."""
    root = "basicCodeDiscount"
    data = args.get(root) or {}
    errors = _Errors()
    with ctx.shop.lock:
        discount = _read_common(ctx, data, root, BASIC, errors)
        _read_customer_gets(ctx, data, root, discount, errors)
        if errors:
            return {"codeDiscountNode": None, "userErrors": errors.items}
        return {"codeDiscountNode": _save(ctx.shop, discount), "userErrors": []}


def free_shipping_create(ctx: Ctx, args: dict) -> dict:
    """Create a free shipping code discount."""
    root = "freeShippingCodeDiscount"
    data = args.get(root) or {}
    errors = _Errors()
    with ctx.shop.lock:
        discount = _read_common(ctx, data, root, FREE_SHIPPING, errors)
        if not (data.get("destination") or {}).get("all"):
            errors.add([root, "destination"],
                       "Destination can't be blank (devstore supports only all: true)", "BLANK")
        discount.maximum_shipping_price = _cents(
            data.get("maximumShippingPrice"), [root, "maximumShippingPrice"],
            "Maximum shipping price", errors)
        if data.get("appliesOnOneTimePurchase") is not None:
            discount.applies_on_one_time_purchase = bool(data["appliesOnOneTimePurchase"])
        if data.get("appliesOnSubscription") is not None:
            discount.applies_on_subscription = bool(data["appliesOnSubscription"])
        if errors:
            return {"codeDiscountNode": None, "userErrors": errors.items}
        return {"codeDiscountNode": _save(ctx.shop, discount), "userErrors": []}


def by_code(ctx: Ctx, args: dict) -> Optional[Discount]:
    """Return the discount with this code (case-insensitive), if any."""
    with ctx.shop.lock:
        return ctx.shop.discount_codes.get(str(args.get("code", "")).lower())


# --- metafields -------------------------------------------------------------------------------


def _valid_json(value: str) -> bool:
    """Tell whether a value parses as JSON."""
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def _valid_decimal(value: str) -> bool:
    """Tell whether a value is a finite decimal number."""
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


def _valid_date(value: str) -> bool:
    """Tell whether a value is a `YYYY-MM-DD` calendar date."""
    if not _DATE_RE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _valid_date_time(value: str) -> bool:
    """Tell whether a value is an ISO 8601 date and time."""
    try:
        parse_time(value)
    except ValueError:
        return False
    return True


METAFIELD_TYPES: dict[str, Callable[[str], bool]] = {
    "single_line_text_field": lambda v: "\n" not in v and "\r" not in v,
    "multi_line_text_field": lambda v: True,
    "number_integer": lambda v: bool(re.fullmatch(r"-?\d{1,18}", v)),
    "number_decimal": _valid_decimal,
    "boolean": lambda v: v in ("true", "false"),
    "json": _valid_json,
    "date": _valid_date,
    "date_time": _valid_date_time,
    "url": lambda v: v.startswith(("http://", "https://")),
    "color": lambda v: bool(_COLOR_RE.match(v)),
}


def compare_digest(metafield: Metafield) -> str:
    """Return the digest a compare-and-set must present to overwrite this metafield."""
    return hashlib.sha256(f"{metafield.type}\0{metafield.value}".encode()).hexdigest()


def app_namespace(ctx: Ctx) -> str:
    """Return the app-reserved namespace used when an input gives none."""
    return f"app--{ctx.client_id}"


def _name_error(value: str, label: str, low: int, high: int) -> Optional[tuple[str, str]]:
    """Return (message, code) when a namespace or key is malformed."""
    if len(value) < low:
        return f"{label} is too short (minimum is {low} characters)", "TOO_SHORT"
    if len(value) > high:
        return f"{label} is too long (maximum is {high} characters)", "TOO_LONG"
    if not _NAME_RE.match(value):
        return f"{label} contains invalid characters (allowed: letters, digits, - and _)", "INVALID"
    return None


def metafields_set(ctx: Ctx, args: dict) -> dict:
    """Create or update up to 25 metafields atomically."""
    inputs = args.get("metafields") or []
    errors = _Errors(element_index=True)
    if len(inputs) > MAX_METAFIELDS:
        errors.add(["metafields"],
                   f"Exceeded the maximum metafields input limit of {MAX_METAFIELDS}.",
                   "LESS_THAN_OR_EQUAL_TO")
        return {"metafields": None, "userErrors": errors.items}
    shop = ctx.shop
    with shop.lock:
        planned: list[tuple[tuple[str, int, str, str], str, str]] = []
        for index, item in enumerate(inputs):
            path = ["metafields", str(index)]
            parsed = parse_gid(item.get("ownerId") or "")
            owner = None
            if parsed is None or parsed[0] not in METAFIELD_OWNERS:
                errors.add(path + ["ownerId"], "Owner type is not supported", "INVALID", index)
            else:
                owner = lookup(ctx, item["ownerId"], parsed[0])
                if owner is None:
                    errors.add(path + ["ownerId"], "Owner does not exist.", "INVALID", index)
            namespace = item.get("namespace") or app_namespace(ctx)
            key = item.get("key") or ""
            for value, label, field, low, high in ((namespace, "Namespace", "namespace", 2, 255),
                                                    (key, "Key", "key", 2, 64)):
                problem = _name_error(value, label, low, high)
                if problem:
                    errors.add(path + [field], problem[0], problem[1], index)
            if owner is None:
                continue
            slot = (parsed[0], owner.id, namespace, key)
            existing = shop.metafield_keys.get(slot)
            type_name = item.get("type") or (existing.type if existing else None)
            value = item.get("value")
            if type_name is None:
                errors.add(path + ["type"], "Type can't be blank", "BLANK", index)
            elif type_name not in METAFIELD_TYPES:
                errors.add(path + ["type"], f"Type '{type_name}' is not a valid metafield type",
                           "INVALID_TYPE", index)
            if value is None or value == "":
                errors.add(path + ["value"], "Value can't be blank", "BLANK", index)
            elif type_name in METAFIELD_TYPES and not METAFIELD_TYPES[type_name](value):
                errors.add(path + ["value"], f"Value is invalid for type {type_name}",
                           "INVALID_VALUE", index)
            if "compareDigest" in item:
                current = compare_digest(existing) if existing else None
                if item["compareDigest"] != current:
                    errors.add(path + ["compareDigest"],
                               "The resource has been updated since it was loaded. Try again "
                               "with an updated `compareDigest` value.", "STALE_OBJECT", index)
            if any(slot == other[0] for other in planned):
                errors.add(path, "The same namespace and key are given more than once",
                           "INVALID", index)
            planned.append((slot, type_name or "", value or ""))
        if errors:
            return {"metafields": None, "userErrors": errors.items}
        now = int(time.time())
        written: list[Metafield] = []
        for slot, type_name, value in planned:
            metafield = shop.metafield_keys.get(slot)
            if metafield is None:
                metafield = Metafield(shop.next_id("Metafield"), slot[0], slot[1], slot[2],
                                      slot[3], type_name, value, now)
                shop.metafields[metafield.id] = metafield
                shop.metafield_keys[slot] = metafield
            elif metafield.value != value or metafield.type != type_name:
                metafield.type, metafield.value = type_name, value
                metafield.updated_at = max(now, metafield.updated_at)
            written.append(metafield)
        return {"metafields": written, "userErrors": []}


def _owner_metafield(ctx: Ctx, owner_type: str, owner_id: int, args: dict) -> Optional[Metafield]:
    """Return one metafield of an owner by namespace (default: the app's) and key."""
    namespace = args.get("namespace") or app_namespace(ctx)
    return ctx.shop.metafield_keys.get((owner_type, owner_id, namespace, args["key"]))


def _owner_metafields(ctx: Ctx, owner_type: str, owner_id: int, args: dict) -> list[Metafield]:
    """Return an owner's metafields, filtered by namespace or `namespace.key` keys."""
    found = ctx.shop.owner_metafields(owner_type, owner_id)
    if args.get("namespace"):
        found = [m for m in found if m.namespace == args["namespace"]]
    if args.get("keys"):
        wanted = set(args["keys"])
        found = [m for m in found if f"{m.namespace}.{m.key}" in wanted]
    return found


# --- tags -------------------------------------------------------------------------------------


def _read_tags(args: dict) -> tuple[list[str], list[dict[str, Any]]]:
    """Return the tags of a tagsAdd/tagsRemove call (each element split on commas) and errors."""
    tags: list[str] = []
    for element in args.get("tags") or []:
        for tag in (part.strip() for part in str(element).split(",")):
            if tag and tag not in tags:
                tags.append(tag)
    if not tags:
        return [], [{"field": ["tags"], "message": "Tags can't be blank"}]
    if any(len(tag) > MAX_TAG_LENGTH for tag in tags):
        return [], [{"field": ["tags"],
                     "message": f"Tag is too long (maximum is {MAX_TAG_LENGTH} characters)"}]
    return tags, []


def _tagged_customer(ctx: Ctx, args: dict) -> tuple[Optional[Customer], list[dict[str, Any]]]:
    """Return the customer a tags mutation names, or the userErrors saying why there is none."""
    parsed = parse_gid(str(args.get("id") or ""))
    if parsed is None or parsed[0] != "Customer":
        return None, [{"field": ["id"], "message": "devstore supports tags on customers only"}]
    customer = lookup(ctx, args["id"], "Customer")
    if customer is None:
        return None, [{"field": ["id"], "message": "Customer does not exist"}]
    return customer, []


def _retag(ctx: Ctx, customer: Customer, tags: tuple[str, ...]) -> None:
    """Give a customer new tags: it is updated (customers/update), as in Shopify."""
    shop = ctx.shop
    customer.tags = tags
    customer.updated_at = advance(customer.updated_at)
    shop.customers.touched()
    ctx.store.emit(shop, "customers/update", payloads.customer(shop, customer))


def tags_add(ctx: Ctx, args: dict) -> dict:
    """Add tags to a customer; tags it has already are left as they are."""
    with ctx.shop.lock:
        customer, errors = _tagged_customer(ctx, args)
        tags, tag_errors = _read_tags(args)
        if customer is None or tag_errors:
            return {"node": None, "userErrors": errors + tag_errors}
        new = [tag for tag in tags if tag not in customer.tags]
        if len(customer.tags) + len(new) > MAX_TAGS:
            return {"node": None, "userErrors": [
                {"field": ["tags"], "message": f"A resource can have at most {MAX_TAGS} tags"}]}
        if new:
            _retag(ctx, customer, customer.tags + tuple(new))
        return {"node": customer, "userErrors": []}


def tags_remove(ctx: Ctx, args: dict) -> dict:
    """Remove tags from a customer; tags it does not have are no change."""
    with ctx.shop.lock:
        customer, errors = _tagged_customer(ctx, args)
        tags, tag_errors = _read_tags(args)
        if customer is None or tag_errors:
            return {"node": None, "userErrors": errors + tag_errors}
        kept = tuple(tag for tag in customer.tags if tag not in tags)
        if kept != customer.tags:
            _retag(ctx, customer, kept)
        return {"node": customer, "userErrors": []}


# --- email marketing consent --------------------------------------------------------------------

# The states the mutation sets; NOT_SUBSCRIBED, INVALID and REDACTED are Shopify's to set.
CONSENT_INPUT_STATES = ("SUBSCRIBED", "UNSUBSCRIBED", "PENDING")
_CONSENT_PATH = ["input", "emailMarketingConsent"]


def email_consent_update(ctx: Ctx, args: dict) -> dict:
    """Record a customer's email marketing consent (customerEmailMarketingConsentUpdate).

    The customer's state reflects the consent record with the most recent `consentUpdatedAt`
    (the time of the call when none is given): an older record, or the state the customer is
    in already, changes nothing and sends nothing. A change moves `updatedAt` and sends
    customers/email_marketing_consent_update and customers/update.
    """
    if not ctx.has_scope("write_customers"):
        raise GraphQLError(
            "Access denied for customerEmailMarketingConsentUpdate field. Required access: "
            "`write_customers` access scope.",
            extensions={"code": "ACCESS_DENIED", "requiredAccess": "`write_customers` access scope.",
                        "documentation": "https://shopify.dev/api/usage/access-scopes"})
    data = args.get("input") or {}
    consent = data.get("emailMarketingConsent") or {}
    shop = ctx.shop
    with shop.lock:
        errors: list[dict[str, Any]] = []
        customer = lookup(ctx, str(data.get("customerId") or ""), "Customer")
        if customer is None:
            errors.append({"field": ["input", "customerId"], "message": "Customer not found",
                           "code": "INVALID"})
        elif not customer.email:
            errors.append({"field": ["input", "customerId"],
                           "message": "The customer must have an email address", "code": "INVALID"})
        state = consent.get("marketingState")
        if state not in CONSENT_INPUT_STATES:
            errors.append({"field": [*_CONSENT_PATH, "marketingState"],
                           "message": f"Marketing state must be one of {', '.join(CONSENT_INPUT_STATES)}",
                           "code": "INCLUSION"})
        at: Optional[int] = None
        if consent.get("consentUpdatedAt") is not None:
            try:
                at = parse_time(str(consent["consentUpdatedAt"]))
            except ValueError:
                errors.append({"field": [*_CONSENT_PATH, "consentUpdatedAt"],
                               "message": "Consent updated at is invalid", "code": "INVALID"})
        if errors or customer is None:
            return {"customer": None, "userErrors": errors}
        at = at if at is not None else int(time.time())
        older = customer.consent_updated_at is not None and at < customer.consent_updated_at
        if older or state == customer.marketing_state:
            return {"customer": customer, "userErrors": []}
        customer.marketing_state = state
        customer.consent_updated_at = at
        customer.updated_at = advance(customer.updated_at)
        shop.customers.touched()
        ctx.store.emit(shop, "customers/email_marketing_consent_update", payloads.consent(shop, customer))
        ctx.store.emit(shop, "customers/update", payloads.customer(shop, customer))
        return {"customer": customer, "userErrors": []}


# --- GraphQL wiring ---------------------------------------------------------------------------


def _bag(cents: Optional[int], ctx: Ctx) -> Optional[tuple[int, str]]:
    """Return the MoneyV2 representation (cents, currency), or None."""
    return None if cents is None else (cents, ctx.shop.currency)


def resolve_abstract(obj: Any, info: Any, abstract: Any) -> Optional[str]:
    """Return the concrete type of a discount union member."""
    if isinstance(obj, Discount):
        name = abstract.name
        if name == "DiscountCode":
            return "DiscountCodeBasic" if obj.kind == BASIC else "DiscountCodeFreeShipping"
        if name == "DiscountContext":
            return "DiscountBuyerSelectionAll" if obj.all_customers else "DiscountCustomers"
        if name == "DiscountCustomerGetsValue":
            return "DiscountPercentage" if obj.percentage is not None else "DiscountAmount"
        if name == "DiscountItems":
            return "DiscountProducts" if obj.product_ids or obj.variant_ids else "AllDiscountItems"
        if name == "DiscountMinimumRequirement":
            return ("DiscountMinimumSubtotal" if obj.minimum_subtotal is not None
                    else "DiscountMinimumQuantity")
        if name == "DiscountShippingDestinationSelection":
            return "DiscountCountryAll"
        if name == "Node":
            return "DiscountCodeNode"
    return NODE_TYPES.get(type(obj))


UNIONS = ("DiscountCode", "DiscountContext", "DiscountCustomerGetsValue", "DiscountItems",
          "DiscountMinimumRequirement", "DiscountShippingDestinationSelection")

_DISCOUNT_COMMON = {
    "title": lambda o, a, c: o.title,
    "status": lambda o, a, c: _status(o),
    "startsAt": lambda o, a, c: iso_utc(o.starts_at),
    "endsAt": lambda o, a, c: iso_utc(o.ends_at),
    "createdAt": lambda o, a, c: iso_utc(o.created_at),
    "updatedAt": lambda o, a, c: iso_utc(o.updated_at),
    "usageLimit": lambda o, a, c: o.usage_limit,
    "appliesOncePerCustomer": lambda o, a, c: o.applies_once_per_customer,
    "asyncUsageCount": lambda o, a, c: 0,
    "codes": lambda o, a, c: [RedeemCode(o.redeem_code_id, o.code)],
    "codesCount": lambda o, a, c: {"count": 1},
    "combinesWith": lambda o, a, c: o,
    "context": lambda o, a, c: o,
    "minimumRequirement": lambda o, a, c:
        o if o.minimum_subtotal is not None or o.minimum_quantity is not None else None,
}

FIELDS.update({
    "DiscountCodeNode": {
        "id": lambda o, a, c: gid("DiscountCodeNode", o.id),
        "codeDiscount": lambda o, a, c: o,
    },
    "DiscountCodeBasic": {**_DISCOUNT_COMMON, "customerGets": lambda o, a, c: o},
    "DiscountCodeFreeShipping": {
        **_DISCOUNT_COMMON,
        "appliesOnOneTimePurchase": lambda o, a, c: o.applies_on_one_time_purchase,
        "appliesOnSubscription": lambda o, a, c: o.applies_on_subscription,
        "destinationSelection": lambda o, a, c: o,
        "maximumShippingPrice": lambda o, a, c: _bag(o.maximum_shipping_price, c),
    },
    "DiscountRedeemCode": {
        "id": lambda o, a, c: gid("DiscountRedeemCode", o.id),
        "code": lambda o, a, c: o.code,
        "asyncUsageCount": lambda o, a, c: 0,
    },
    "DiscountCombinesWith": {
        "orderDiscounts": lambda o, a, c: o.combines_order,
        "productDiscounts": lambda o, a, c: o.combines_product,
        "shippingDiscounts": lambda o, a, c: o.combines_shipping,
    },
    "DiscountBuyerSelectionAll": {"all": lambda o, a, c: "ALL"},
    "DiscountCustomers": {
        "customers": lambda o, a, c: [x for x in (c.shop.customers.get(i) for i in o.customer_ids)
                                      if x is not None],
    },
    "DiscountCustomerGets": {
        "value": lambda o, a, c: o,
        "items": lambda o, a, c: o,
        "appliesOnOneTimePurchase": lambda o, a, c: o.applies_on_one_time_purchase,
        "appliesOnSubscription": lambda o, a, c: o.applies_on_subscription,
    },
    "DiscountPercentage": {"percentage": lambda o, a, c: o.percentage},
    "DiscountAmount": {
        "amount": lambda o, a, c: _bag(o.amount, c),
        "appliesOnEachItem": lambda o, a, c: o.applies_on_each_item,
    },
    "AllDiscountItems": {"allItems": lambda o, a, c: True},
    "DiscountProducts": {
        "products": lambda o, a, c: [x for x in (c.shop.products.get(i) for i in o.product_ids)
                                     if x is not None],
        "productVariants": lambda o, a, c: [x for x in (c.shop.variants.get(i) for i in o.variant_ids)
                                            if x is not None],
    },
    "DiscountMinimumSubtotal": {
        "greaterThanOrEqualToSubtotal": lambda o, a, c: _bag(o.minimum_subtotal, c),
    },
    "DiscountMinimumQuantity": {
        "greaterThanOrEqualToQuantity": lambda o, a, c: str(o.minimum_quantity),
    },
    "DiscountCountryAll": {"allCountries": lambda o, a, c: True},
    "Metafield": {
        "id": lambda o, a, c: gid("Metafield", o.id),
        "namespace": lambda o, a, c: o.namespace,
        "key": lambda o, a, c: o.key,
        "value": lambda o, a, c: o.value,
        "type": lambda o, a, c: o.type,
        "ownerType": lambda o, a, c: METAFIELD_OWNERS[o.owner_type],
        "compareDigest": lambda o, a, c: compare_digest(o),
        "createdAt": lambda o, a, c: iso_utc(o.created_at),
        "updatedAt": lambda o, a, c: iso_utc(o.updated_at),
    },
})
FIELDS["Customer"].update({
    "metafield": lambda o, a, c: _owner_metafield(c, "Customer", o.id, a),
    "metafields": lambda o, a, c: _owner_metafields(c, "Customer", o.id, a),
})
FIELDS["QueryRoot"].update({
    "codeDiscountNode": lambda o, a, c: lookup(c, a["id"], "DiscountCodeNode"),
    "codeDiscountNodeByCode": lambda o, a, c: by_code(c, a),
})
NODE_TYPES.update({Discount: "DiscountCodeNode", Metafield: "Metafield"})
LOOKUPS.update({
    "DiscountCodeNode": lambda s, i: s.discounts.get(i),
    "Metafield": lambda s, i: s.metafields.get(i),
})

MUTATIONS: dict[str, Callable[[Ctx, dict], dict]] = {
    "discountCodeBasicCreate": basic_create,
    "discountCodeFreeShippingCreate": free_shipping_create,
    "metafieldsSet": metafields_set,
    "tagsAdd": tags_add,
    "tagsRemove": tags_remove,
    "customerEmailMarketingConsentUpdate": email_consent_update,
}
