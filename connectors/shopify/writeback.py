"""Write to Shopify on a shop's behalf: code discounts, customer metafields, tags and consent.

Discounts are keyed by their code, which Shopify keeps unique per shop: creating a code that
exists answers with a ``TAKEN`` user error, which is taken to mean "already done" and
answered with the existing discount. Metafields are set, tags added or removed, and email
marketing consent written, to a state rather than by a delta. So a batch may be replayed
after any failure.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from connectors.base import (
    CONSENT_ERROR,
    CONSENT_NO_CUSTOMER,
    CONSENT_SUBSCRIBED,
    CONSENT_WRITTEN,
    DISCOUNT_FIXED_AMOUNT,
    DISCOUNT_FREE_PRODUCT,
    DISCOUNT_FREE_SHIPPING,
    DISCOUNT_KINDS,
    DISCOUNT_PERCENTAGE,
    ConsentResult,
    ConsentUpdate,
    Credentials,
    CustomerAttributes,
    DiscountResult,
    DiscountSpec,
    TerminalError,
    consent_problem,
)
from connectors.shopify import queries
from connectors.shopify.graphql import GraphQLClient, user_errors
from connectors.shopify.values import external_id as numeric_id
from connectors.shopify.values import to_gid

logger = logging.getLogger(__name__)

MAX_CODE_LENGTH = 255
METAFIELDS_PER_CALL = 25  # Shopify's limit for one metafieldsSet
METAFIELD_NAMESPACE = "comeback"
METAFIELD_TYPE = "single_line_text_field"
MAX_TAG_LENGTH = 255
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
_CENT = Decimal("0.01")
_HUNDRED = Decimal("100")
_TAKEN_CODES = frozenset({"TAKEN"})
_TAKEN_WORDS = ("must be unique", "already been taken", "is taken")


# --- discounts ----------------------------------------------------------------------------


def spec_error(spec: DiscountSpec) -> str | None:
    """Return why a spec can never be created (``"<field>: <reason>"``), or ``None``."""
    code = spec.code
    if not isinstance(code, str) or not code.strip():
        return "code: must not be empty"
    if len(code) > MAX_CODE_LENGTH:
        return f"code: longer than {MAX_CODE_LENGTH} characters"
    if "\n" in code or "\r" in code:
        return "code: must not contain line breaks"
    if spec.kind not in DISCOUNT_KINDS:
        return f"kind: unknown discount kind {spec.kind!r}"
    if spec.kind != DISCOUNT_FREE_SHIPPING:
        if not isinstance(spec.value, Decimal) or not spec.value.is_finite():
            return "value: must be a finite Decimal"
        if spec.kind == DISCOUNT_PERCENTAGE and not Decimal("0") < spec.value <= _HUNDRED:
            return "value: percentage must be greater than 0 and at most 100"
        if spec.kind in (DISCOUNT_FIXED_AMOUNT, DISCOUNT_FREE_PRODUCT):
            if spec.value <= 0:
                return "value: amount must be positive"
            if _money(spec.value) is None:
                return "value: amount has more than 2 decimal places"
    if spec.minimum_subtotal is not None:
        if not isinstance(spec.minimum_subtotal, Decimal) or not spec.minimum_subtotal.is_finite() \
                or spec.minimum_subtotal <= 0:
            return "minimum_subtotal: must be a positive amount"
        if _money(spec.minimum_subtotal) is None:
            return "minimum_subtotal: has more than 2 decimal places"
    if spec.usage_limit is not None and spec.usage_limit < 1:
        return "usage_limit: must be at least 1"
    for name in ("starts_at", "expires_at"):
        moment = getattr(spec, name)
        if moment is not None and moment.tzinfo is None:
            return f"{name}: must be timezone-aware"
    if spec.starts_at and spec.expires_at and spec.expires_at <= spec.starts_at:
        return "expires_at: must be after starts_at"
    if spec.customer_external_id is not None:
        try:
            to_gid("Customer", spec.customer_external_id)
        except TerminalError:
            return f"customer_external_id: invalid id {spec.customer_external_id!r}"
    return _entitled_error(spec)


def _entitled_error(spec: DiscountSpec) -> str | None:
    """Return why the products a spec is restricted to are wrong, or ``None``."""
    if spec.kind != DISCOUNT_FREE_PRODUCT:
        if spec.product_external_ids or spec.variant_external_ids:
            return "product_external_ids: only a free product discount takes products"
        return None
    if not spec.product_external_ids and not spec.variant_external_ids:
        return "product_external_ids: a free product needs at least one product or variant"
    for name, type_name in (("product_external_ids", "Product"), ("variant_external_ids", "ProductVariant")):
        for external_id in getattr(spec, name):
            try:
                to_gid(type_name, external_id)
            except TerminalError:
                return f"{name}: invalid id {external_id!r}"
    return None


def _money(amount: Decimal) -> str | None:
    """Format an amount with two decimals, or ``None`` if that would round it."""
    rounded = amount.quantize(_CENT)
    return str(rounded) if rounded == amount else None


def _time(moment: dt.datetime) -> str:
    """Format an aware datetime as a UTC ``DateTime``."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def discount_input(spec: DiscountSpec, now: dt.datetime) -> dict[str, Any]:
    """Return the ``DiscountCodeBasicInput`` or ``DiscountCodeFreeShippingInput`` of a valid spec."""
    data: dict[str, Any] = {
        "title": spec.title or spec.code,
        "code": spec.code,
        "startsAt": _time(spec.starts_at or now),
        "endsAt": _time(spec.expires_at) if spec.expires_at else None,
        "usageLimit": spec.usage_limit,
        "appliesOncePerCustomer": True,
        # `context` replaced the deprecated `customerSelection` (2025-01 and later).
        "context": ({"customers": {"add": [to_gid("Customer", spec.customer_external_id)]}}
                    if spec.customer_external_id is not None else {"all": "ALL"}),
    }
    if spec.minimum_subtotal is not None:
        data["minimumRequirement"] = {
            "subtotal": {"greaterThanOrEqualToSubtotal": _money(spec.minimum_subtotal)}}
    if spec.kind == DISCOUNT_FREE_SHIPPING:
        data["destination"] = {"all": True}
        # A shipping discount stacks with product and order discounts only; asking it to
        # combine with other shipping discounts is left out on purpose.
        data["combinesWith"] = {"orderDiscounts": spec.combinable,
                                "productDiscounts": spec.combinable,
                                "shippingDiscounts": False}
        return data
    if spec.kind == DISCOUNT_PERCENTAGE:
        value: dict[str, Any] = {"percentage": float(spec.value / _HUNDRED)}
    else:
        # Not on each item: a free product's price comes off once, however many entitled
        # items the cart holds.
        value = {"discountAmount": {"amount": _money(spec.value), "appliesOnEachItem": False}}
    data["customerGets"] = {"value": value, "items": _items(spec)}
    data["combinesWith"] = {"orderDiscounts": spec.combinable,
                            "productDiscounts": spec.combinable,
                            "shippingDiscounts": spec.combinable}
    return data


def _items(spec: DiscountSpec) -> dict[str, Any]:
    """Return the ``DiscountItemsInput`` of a spec: every item, or the entitled products."""
    if spec.kind != DISCOUNT_FREE_PRODUCT:
        return {"all": True}
    products: dict[str, list[str]] = {}
    if spec.product_external_ids:
        products["productsToAdd"] = [to_gid("Product", i) for i in spec.product_external_ids]
    if spec.variant_external_ids:
        products["productVariantsToAdd"] = [to_gid("ProductVariant", i) for i in spec.variant_external_ids]
    return {"products": products}


def _is_taken(error: dict[str, Any]) -> bool:
    """Tell whether a user error says the code already exists."""
    field = error.get("field") or []
    message = str(error.get("message") or "").lower()
    on_code = not field or field[-1] == "code"
    return on_code and (error.get("code") in _TAKEN_CODES or any(w in message for w in _TAKEN_WORDS))


def _describe(errors: list[dict[str, Any]]) -> str:
    """Return user errors as ``"<field>: <message>"`` joined by ``"; "``."""
    parts = []
    for error in errors:
        field = ".".join(str(part) for part in error.get("field") or ()) or "input"
        parts.append(f"{field}: {error.get('message')}")
    return "; ".join(parts)


def create_discount(client: GraphQLClient, credentials: Credentials, spec: DiscountSpec,
                    now: dt.datetime) -> DiscountResult:
    """Create one code discount; an existing code answers with its discount, ``created=False``."""
    shop = credentials.shop_key
    problem = spec_error(spec)
    if problem is not None:
        logger.info("shopify discount refused before sending shop=%s reason=%s", shop, problem)
        return DiscountResult(code=spec.code, external_id=None, created=False, error=problem)
    free_shipping = spec.kind == DISCOUNT_FREE_SHIPPING
    document = queries.DISCOUNT_FREE_SHIPPING_CREATE if free_shipping else queries.DISCOUNT_BASIC_CREATE
    field = "discountCodeFreeShippingCreate" if free_shipping else "discountCodeBasicCreate"
    data = client.execute(credentials, document, {"discount": discount_input(spec, now)})
    payload = data.get(field) or {}
    errors = user_errors(payload)
    if not errors:
        node = payload.get("codeDiscountNode") or {}
        if not node.get("id"):
            raise TerminalError(f"shop {shop}: {field} answered without a discount or errors")
        return DiscountResult(code=spec.code, external_id=node["id"], created=True)
    if any(_is_taken(error) for error in errors):
        existing = client.execute(credentials, queries.DISCOUNT_BY_CODE, {"code": spec.code})
        node = existing.get("codeDiscountNodeByCode") or {}
        if node.get("id"):
            logger.info("shopify discount code exists shop=%s id=%s", shop, node["id"])
            return DiscountResult(code=spec.code, external_id=node["id"], created=False)
        return DiscountResult(code=spec.code, external_id=None, created=False,
                              error="code: taken, but no code discount has it")
    logger.info("shopify discount refused shop=%s errors=%s", shop, _describe(errors))
    return DiscountResult(code=spec.code, external_id=None, created=False,
                          error=_describe(errors))


def create_discounts(client: GraphQLClient, credentials: Credentials,
                     specs: Sequence[DiscountSpec], *, now: dt.datetime | None = None) -> list[DiscountResult]:
    """Create each spec in order; one result per spec (see ``create_discount``).

    A spec Shopify refuses gives an error result and the batch goes on; a failure of the
    call itself (``RetryableError``, ``AuthRevokedError``, ``TerminalError``) stops the batch,
    which is safe to replay.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    results = [create_discount(client, credentials, spec, now) for spec in specs]
    logger.info("shopify discounts shop=%s created=%d existing=%d failed=%d",
                credentials.shop_key, sum(r.created for r in results),
                sum(not r.created and r.error is None for r in results),
                sum(r.error is not None for r in results))
    return results


# --- customer metafields and tags ---------------------------------------------------------


def metafield_inputs(updates: Sequence[CustomerAttributes]) -> list[dict[str, Any]]:
    """Return the ``MetafieldsSetInput`` list of the updates (a later value of a key wins)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for update in updates:
        owner = to_gid("Customer", update.customer_external_id)
        for key, value in update.values:
            if not isinstance(key, str) or not _KEY_RE.match(key):
                raise TerminalError(f"customer attribute name {key!r} is not a valid metafield key")
            if not isinstance(value, str) or not value or "\n" in value or "\r" in value:
                raise TerminalError(f"customer attribute {key!r} needs a non-empty single-line value")
            latest.pop((owner, key), None)
            latest[(owner, key)] = {"ownerId": owner, "namespace": METAFIELD_NAMESPACE,
                                    "key": key, "type": METAFIELD_TYPE, "value": value}
    return list(latest.values())


def set_customer_attributes(client: GraphQLClient, credentials: Credentials,
                            updates: Sequence[CustomerAttributes]) -> int:
    """Write the values as ``comeback.<name>`` metafields, then change tags; return the values set.

    Shopify takes at most 25 metafields per call, and one customer's tags to add (or to remove)
    per call, each call atomic; user errors raise a ``TerminalError`` listing them (calls
    before it have been applied and may be replayed). Every input is checked before the first
    call. Tags are not counted, so the count is the same on a platform without tags.
    """
    shop = credentials.shop_key
    inputs = metafield_inputs(updates)
    changes = tag_changes(updates)
    written = 0
    for start in range(0, len(inputs), METAFIELDS_PER_CALL):
        chunk = inputs[start:start + METAFIELDS_PER_CALL]
        data = client.execute(credentials, queries.METAFIELDS_SET, {"metafields": chunk})
        errors = user_errors(data.get("metafieldsSet"))
        if errors:
            logger.info("shopify metafields refused shop=%s errors=%s", shop, _describe(errors))
            raise TerminalError(f"shop {shop}: metafieldsSet refused: {_describe(errors)[:500]}")
        written += len(chunk)
    for owner, added, removed in changes:
        if added:
            _change_tags(client, credentials, queries.TAGS_ADD, "tagsAdd", owner, added)
        if removed:
            _change_tags(client, credentials, queries.TAGS_REMOVE, "tagsRemove", owner, removed)
    logger.info("shopify customer attributes set shop=%s metafields=%d calls=%d tagged_customers=%d", shop,
                written, -(-len(inputs) // METAFIELDS_PER_CALL), len(changes))
    return written


def _tag_error(tag: Any) -> str | None:
    """Return why a value cannot travel as exactly one Shopify tag, or ``None``."""
    if not isinstance(tag, str) or not tag.strip():
        return "must be a non-empty string"
    # Shopify trims tags and splits them on commas: either would store another tag than asked.
    if tag != tag.strip():
        return "must not start or end with spaces"
    if "," in tag:
        return "must not contain a comma"
    if "\n" in tag or "\r" in tag:
        return "must not contain line breaks"
    if len(tag) > MAX_TAG_LENGTH:
        return f"is longer than {MAX_TAG_LENGTH} characters"
    return None


def tag_changes(updates: Sequence[CustomerAttributes]) -> list[tuple[str, list[str], list[str]]]:
    """Return ``(customer GID, tags to add, tags to remove)`` per customer that changes tags.

    A later update of the same customer and tag wins, as for metafields; one update that
    both adds and removes a tag says nothing clear and is refused.
    """
    wanted: dict[str, dict[str, bool]] = {}
    for update in updates:
        if not update.tags_add and not update.tags_remove:
            continue
        owner = to_gid("Customer", update.customer_external_id)
        for tag in (*update.tags_add, *update.tags_remove):
            problem = _tag_error(tag)
            if problem is not None:
                raise TerminalError(f"customer tag {tag!r} {problem}")
        both = set(update.tags_add) & set(update.tags_remove)
        if both:
            raise TerminalError(f"customer tags {sorted(both)!r} are both added and removed in one update")
        present = wanted.setdefault(owner, {})
        for tags, is_added in ((update.tags_add, True), (update.tags_remove, False)):
            for tag in tags:
                present.pop(tag, None)
                present[tag] = is_added
    return [(owner, [tag for tag, is_added in present.items() if is_added],
             [tag for tag, is_added in present.items() if not is_added])
            for owner, present in wanted.items()]


def _change_tags(client: GraphQLClient, credentials: Credentials, document: str, field: str,
                 owner: str, tags: list[str]) -> None:
    """Add or remove one customer's tags (``field`` names the mutation); user errors raise."""
    shop = credentials.shop_key
    data = client.execute(credentials, document, {"id": owner, "tags": tags})
    payload = data.get(field) or {}
    errors = user_errors(payload)
    if errors:
        logger.info("shopify %s refused shop=%s errors=%s", field, shop, _describe(errors))
        raise TerminalError(f"shop {shop}: {field} refused: {_describe(errors)[:500]}")
    if not (payload.get("node") or {}).get("id"):
        raise TerminalError(f"shop {shop}: {field} answered without the customer or errors")


# --- email marketing consent ----------------------------------------------------------------

_MARKETING_STATES = {"subscribed": "SUBSCRIBED", "unsubscribed": "UNSUBSCRIBED"}


def email_search(email: str) -> str:
    """Return the ``customers(query:)`` term matching one address, quoted and escaped.

    Shopify's search syntax takes a quoted value and backslash escapes inside it; a quote or
    backslash in the address is escaped, so it cannot end the value or add terms.
    """
    escaped = email.replace("\\", "\\\\").replace('"', '\\"')
    return f'email:"{escaped}"'


def customer_by_email(client: GraphQLClient, credentials: Credentials, email: str) -> str | None:
    """Return the GID of the customer whose address is ``email`` (case-insensitively), or None."""
    data = client.execute(credentials, queries.CUSTOMERS_BY_EMAIL, {"query": email_search(email)})
    wanted = email.casefold()
    for node in (data.get("customers") or {}).get("nodes") or ():
        address = (node.get("defaultEmailAddress") or {}).get("emailAddress")
        if isinstance(address, str) and address.casefold() == wanted and node.get("id"):
            return str(node["id"])
    return None


def consent_input(customer_gid: str, update: ConsentUpdate) -> dict[str, Any]:
    """Return the ``CustomerEmailMarketingConsentUpdateInput`` of a valid update."""
    consent: dict[str, Any] = {"marketingState": _MARKETING_STATES[update.state],
                               "consentUpdatedAt": _time(update.occurred_at)}
    if update.state == CONSENT_SUBSCRIBED:
        # The shopper asked for it themselves, once: single opt-in.
        consent["marketingOptInLevel"] = "SINGLE_OPT_IN"
    return {"customerId": customer_gid, "emailMarketingConsent": consent}


def _write_consent(client: GraphQLClient, credentials: Credentials, customer_gid: str,
                   update: ConsentUpdate) -> list[dict[str, Any]]:
    """Send one consent update; return its user errors (none: written)."""
    data = client.execute(credentials, queries.EMAIL_CONSENT_UPDATE,
                          {"input": consent_input(customer_gid, update)})
    payload = data.get("customerEmailMarketingConsentUpdate") or {}
    errors = user_errors(payload)
    if not errors and not (payload.get("customer") or {}).get("id"):
        raise TerminalError(f"shop {credentials.shop_key}: customerEmailMarketingConsentUpdate "
                            "answered without the customer or errors")
    return errors


def _names_customer(errors: list[dict[str, Any]]) -> bool:
    """Tell whether user errors are about the customer id (no such customer)."""
    return any((error.get("field") or [None])[-1] == "customerId" for error in errors)


def write_consent(client: GraphQLClient, credentials: Credentials, update: ConsentUpdate) -> ConsentResult:
    """Write one valid update to the customer it names, else the one with its address."""
    named = to_gid("Customer", update.customer_external_id) if update.customer_external_id else None
    target = named or customer_by_email(client, credentials, update.email)
    if target is None:
        return ConsentResult(update.email, None, CONSENT_NO_CUSTOMER)
    errors = _write_consent(client, credentials, target, update)
    if errors and named is not None and _names_customer(errors):
        # The customer we knew is gone: the address may belong to another one now.
        found = customer_by_email(client, credentials, update.email)
        if found is None:
            return ConsentResult(update.email, None, CONSENT_NO_CUSTOMER)
        if found != named:
            target = found
            errors = _write_consent(client, credentials, target, update)
    if errors:
        logger.info("shopify consent refused shop=%s errors=%s", credentials.shop_key, _describe(errors))
        return ConsentResult(update.email, numeric_id(target), CONSENT_ERROR, _describe(errors))
    return ConsentResult(update.email, numeric_id(target), CONSENT_WRITTEN)


def set_email_consent(client: GraphQLClient, credentials: Credentials,
                      updates: Sequence[ConsentUpdate]) -> list[ConsentResult]:
    """Write each update's email marketing consent; one result per update, in order.

    Updates are sent oldest decision first, so that two for one shopper leave the newer one;
    Shopify itself keeps the consent record with the most recent ``consentUpdatedAt``. An
    update that cannot be sent is an error result and the batch goes on; a failure of a call
    stops the batch (the neutral errors), which is safe to replay.
    """
    results: list[ConsentResult | None] = [None] * len(updates)
    valid: list[int] = []
    for index, update in enumerate(updates):
        problem = consent_problem(update)
        if problem is None and update.customer_external_id is not None:
            try:
                to_gid("Customer", update.customer_external_id)
            except TerminalError:
                problem = f"customer_external_id: invalid id {update.customer_external_id!r}"
        if problem is None:
            valid.append(index)
        else:
            results[index] = ConsentResult(update.email, update.customer_external_id, CONSENT_ERROR, problem)
    for index in sorted(valid, key=lambda i: updates[i].occurred_at):
        results[index] = write_consent(client, credentials, updates[index])
    final = [result for result in results if result is not None]
    logger.info("shopify consent shop=%s written=%d no_customer=%d failed=%d", credentials.shop_key,
                sum(r.status == CONSENT_WRITTEN for r in final),
                sum(r.status == CONSENT_NO_CUSTOMER for r in final),
                sum(r.status == CONSENT_ERROR for r in final))
    return final
