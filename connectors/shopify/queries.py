"""The GraphQL documents the connector sends (pinned to the fields in docs/shopify-subset.md)."""

from __future__ import annotations

_MONEY = "shopMoney { amount currencyCode }"

CUSTOMER_FIELDS = """
  id firstName lastName
  defaultEmailAddress { emailAddress marketingState }
  defaultPhoneNumber { phoneNumber }
  createdAt updatedAt state tags numberOfOrders
  amountSpent { amount currencyCode }
  emailMarketingConsent { marketingState consentUpdatedAt }
  defaultAddress { countryCodeV2 provinceCode }
"""

ORDER_FIELDS = f"""
  id name email createdAt updatedAt processedAt cancelledAt
  displayFinancialStatus displayFulfillmentStatus currencyCode test tags
  customer {{ id }} discountCodes
  totalPriceSet {{ {_MONEY} }} subtotalPriceSet {{ {_MONEY} }} totalDiscountsSet {{ {_MONEY} }}
  totalTaxSet {{ {_MONEY} }} totalShippingPriceSet {{ {_MONEY} }} currentTotalPriceSet {{ {_MONEY} }}
  shippingAddress {{ address1 address2 zip countryCodeV2 }} transactionsCount {{ count }}
  fulfillmentsCount {{ count }}
"""
# `Order.transactions` is a list, not a connection: bulk exports give it inline and whole, a
# page caps it with `first` (transactionsCount tells when the cap cut it short).
TRANSACTION_FIELDS = f"kind status gateway amountSet {{ {_MONEY} }}"
LINE_ITEM_FIELDS = f"""
  id title quantity sku variant {{ id }} product {{ id }}
  originalUnitPriceSet {{ {_MONEY} }} discountedTotalSet {{ {_MONEY} }}
"""
# `Order.fulfillments` is a list too (oldest first); fulfillmentsCount (cancelled ones
# included) tells when a page's cap cut it short.
FULFILLMENT_FIELDS = "createdAt status"
REFUND_FIELDS = f"id createdAt note totalRefundedSet {{ {_MONEY} }}"
REFUND_LINE_FIELDS = f"lineItem {{ id }} quantity subtotalSet {{ {_MONEY} }}"

# `featuredMedia` replaced the deprecated `featuredImage`; its preview image is an image for
# every kind of media (a video's poster too). `onlineStoreUrl` is null while the product is
# not published on the Online Store; `category` is the standard product taxonomy category.
PRODUCT_FIELDS = """
  id title handle status vendor productType tags createdAt updatedAt
  featuredMedia { preview { image { url } } } onlineStoreUrl category { name }
"""
VARIANT_FIELDS = "id title sku price inventoryQuantity"

CART_FIELDS = f"""
  id abandonedCheckoutUrl createdAt updatedAt completedAt customer {{ id }}
  totalPriceSet {{ {_MONEY} }}
"""
CART_LINE_FIELDS = f"id title quantity variant {{ id }} product {{ id }} originalUnitPriceSet {{ {_MONEY} }}"

# Page sizes keep each query's requested cost (2 + first × node cost) under Shopify's
# 1000-point single-query limit; nested connections and lists are capped the same way. An
# order costs 196: itself 14, lineItems 2 + 15 × 7, refunds 3 + 2 + 10 × 4, shippingAddress,
# transactionsCount and fulfillmentsCount 1 each, transactions 8 × 3, fulfillments 3 × 1;
# five of them make a page of 982 points. A product costs 17: itself 1, variants 2 + 10 × 1,
# featuredMedia with its preview and image 3, category 1; fifty make a page of 852. A customer
# costs 6 (itself and five objects): a hundred make a page of 602.
PAGE_SIZES = {"customers": 100, "products": 50, "orders": 5, "carts": 8}
ORDER_LINES_FIRST = 15
REFUND_LINES_FIRST = 10
ORDER_TRANSACTIONS_FIRST = 8
ORDER_FULFILLMENTS_FIRST = 3
VARIANTS_FIRST = 10
CART_LINES_FIRST = 20

_PAGE = """
query Page($first: Int!, $after: String, $query: String) {
  %(field)s(first: $first, after: $after, query: $query%(sort)s) {
    nodes { %(fields)s }
    pageInfo { hasNextPage endCursor }
  }
}
"""

PAGE_QUERIES = {
    "customers": _PAGE % {"field": "customers", "sort": ", sortKey: UPDATED_AT",
                          "fields": CUSTOMER_FIELDS},
    "orders": _PAGE % {
        "field": "orders", "sort": ", sortKey: UPDATED_AT",
        "fields": ORDER_FIELDS
        + f" lineItems(first: {ORDER_LINES_FIRST}) {{ nodes {{ {LINE_ITEM_FIELDS} }} pageInfo {{ hasNextPage }} }}"
        + f" refunds {{ {REFUND_FIELDS} refundLineItems(first: {REFUND_LINES_FIRST})"
          f" {{ nodes {{ {REFUND_LINE_FIELDS} }} }} }}"
        + f" transactions(first: {ORDER_TRANSACTIONS_FIRST}) {{ {TRANSACTION_FIELDS} }}"
        + f" fulfillments(first: {ORDER_FULFILLMENTS_FIRST}) {{ {FULFILLMENT_FIELDS} }}",
    },
    "products": _PAGE % {
        "field": "products", "sort": ", sortKey: UPDATED_AT",
        "fields": PRODUCT_FIELDS
        + f" variants(first: {VARIANTS_FIRST}) {{ nodes {{ {VARIANT_FIELDS} }} pageInfo {{ hasNextPage }} }}",
    },
    "carts": _PAGE % {
        "field": "abandonedCheckouts", "sort": "",
        "fields": CART_FIELDS + f" lineItems(first: {CART_LINES_FIRST}) {{ nodes {{ {CART_LINE_FIELDS} }} }}",
    },
}
PAGE_FIELDS = {"customers": "customers", "orders": "orders", "products": "products",
               "carts": "abandonedCheckouts"}

# Bulk documents: connections as edges { node }, no `first`.
BULK_QUERIES = {
    "customers": f"{{ customers {{ edges {{ node {{ {CUSTOMER_FIELDS} }} }} }} }}",
    "orders": (
        f"{{ orders {{ edges {{ node {{ {ORDER_FIELDS}"
        f" lineItems {{ edges {{ node {{ {LINE_ITEM_FIELDS} }} }} }}"
        f" refunds {{ {REFUND_FIELDS} refundLineItems {{ edges {{ node {{ {REFUND_LINE_FIELDS} }} }} }} }}"
        f" transactions {{ {TRANSACTION_FIELDS} }}"
        f" fulfillments {{ {FULFILLMENT_FIELDS} }}"
        " } } } }"
    ),
    "products": (
        f"{{ products {{ edges {{ node {{ {PRODUCT_FIELDS}"
        f" variants {{ edges {{ node {{ {VARIANT_FIELDS} }} }} }} }} }} }} }}"
    ),
    "carts": (
        f"{{ abandonedCheckouts {{ edges {{ node {{ {CART_FIELDS}"
        f" lineItems {{ edges {{ node {{ {CART_LINE_FIELDS} }} }} }} }} }} }} }}"
    ),
}

BULK_RUN = """
mutation BulkRun($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

BULK_NODE = """
query BulkNode($id: ID!) {
  node(id: $id) {
    ... on BulkOperation {
      id status errorCode objectCount rootObjectCount fileSize url partialDataUrl createdAt completedAt
    }
  }
}
"""

SHOP = "query Shop { shop { id name myshopifyDomain currencyCode ianaTimezone email } }"

WEBHOOK_LIST = """
query Webhooks {
  webhookSubscriptions(first: 100) { nodes { id topic uri } }
}
"""

WEBHOOK_CREATE = """
mutation WebhookCreate($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""


# --- refetch ------------------------------------------------------------------------------

# A refetch reads one order's refunds outside a page, so it affords more refund lines.
REFETCH_REFUND_LINES_FIRST = 50
# A whole order read on its own affords more lines, transactions and fulfillments too (659
# points).
REFETCH_ORDER_LINES_FIRST = 50
REFETCH_TRANSACTIONS_FIRST = 25
REFETCH_FULFILLMENTS_FIRST = 10

PRODUCT = f"""
query Product($id: ID!) {{
  product(id: $id) {{
    {PRODUCT_FIELDS}
    variants(first: {VARIANTS_FIRST}) {{ nodes {{ {VARIANT_FIELDS} }} pageInfo {{ hasNextPage }} }}
  }}
}}
"""

ORDER_REFUNDS = f"""
query OrderRefunds($id: ID!) {{
  order(id: $id) {{
    id currencyCode
    refunds {{
      {REFUND_FIELDS}
      refundLineItems(first: {REFETCH_REFUND_LINES_FIRST}) {{
        nodes {{ {REFUND_LINE_FIELDS} }} pageInfo {{ hasNextPage }}
      }}
    }}
  }}
}}
"""

ORDER = f"""
query Order($id: ID!) {{
  order(id: $id) {{
    {ORDER_FIELDS}
    lineItems(first: {REFETCH_ORDER_LINES_FIRST}) {{ nodes {{ {LINE_ITEM_FIELDS} }} pageInfo {{ hasNextPage }} }}
    refunds {{
      {REFUND_FIELDS}
      refundLineItems(first: {REFETCH_REFUND_LINES_FIRST}) {{
        nodes {{ {REFUND_LINE_FIELDS} }} pageInfo {{ hasNextPage }}
      }}
    }}
    transactions(first: {REFETCH_TRANSACTIONS_FIRST}) {{ {TRANSACTION_FIELDS} }}
    fulfillments(first: {REFETCH_FULFILLMENTS_FIRST}) {{ {FULFILLMENT_FIELDS} }}
  }}
}}
"""

# Orders by one address or customer since a moment (the cart reminder's re-check): few, newest first.
ORDERS_SINCE = """
query OrdersSince($query: String!) {
  orders(first: 5, query: $query, sortKey: CREATED_AT, reverse: true) {
    nodes { id name createdAt }
  }
}
"""

# --- write-back ---------------------------------------------------------------------------

_DISCOUNT_PAYLOAD = "codeDiscountNode { id } userErrors { field message code }"

DISCOUNT_BASIC_CREATE = f"""
mutation DiscountCodeBasicCreate($discount: DiscountCodeBasicInput!) {{
  discountCodeBasicCreate(basicCodeDiscount: $discount) {{ {_DISCOUNT_PAYLOAD} }}
}}
"""

DISCOUNT_FREE_SHIPPING_CREATE = f"""
mutation DiscountCodeFreeShippingCreate($discount: DiscountCodeFreeShippingInput!) {{
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $discount) {{ {_DISCOUNT_PAYLOAD} }}
}}
"""

DISCOUNT_BY_CODE = """
query DiscountByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) { id }
}
"""

METAFIELDS_SET = """
mutation MetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key }
    userErrors { field message code elementIndex }
  }
}
"""

# Shopify splits each element of `tags` on commas: writeback.py refuses a tag with one.
_TAGS_PAYLOAD = "node { id } userErrors { field message }"

TAGS_ADD = f"""
mutation TagsAdd($id: ID!, $tags: [String!]!) {{
  tagsAdd(id: $id, tags: $tags) {{ {_TAGS_PAYLOAD} }}
}}
"""

TAGS_REMOVE = f"""
mutation TagsRemove($id: ID!, $tags: [String!]!) {{
  tagsRemove(id: $id, tags: $tags) {{ {_TAGS_PAYLOAD} }}
}}
"""

# --- email marketing consent ----------------------------------------------------------------

# The customers an address belongs to (the search matches more loosely than equality: the
# answer is compared with the address asked for).
CUSTOMERS_BY_EMAIL_FIRST = 5
CUSTOMERS_BY_EMAIL = f"""
query CustomersByEmail($query: String!) {{
  customers(first: {CUSTOMERS_BY_EMAIL_FIRST}, query: $query) {{
    nodes {{ id defaultEmailAddress {{ emailAddress }} }}
  }}
}}
"""

# Needs write_customers. Only SUBSCRIBED, UNSUBSCRIBED and PENDING may be set.
EMAIL_CONSENT_UPDATE = """
mutation EmailConsentUpdate($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) {
    customer { id emailMarketingConsent { marketingState consentUpdatedAt } }
    userErrors { field message code }
  }
}
"""
