"""The synced mirror, the inbox and the install records, as typed SQLAlchemy models."""

from app.store.models.admin import MagicLink, MerchantLogin, Onboarding
from app.store.models.base import Base
from app.store.models.carts import Cart
from app.store.models.customers import Customer
from app.store.models.flows import Flow, FlowCursor, FlowRun
from app.store.models.inbox import WebhookEvent
from app.store.models.loyalty import (
    LedgerEntry,
    LoyaltyCursor,
    LoyaltyEvent,
    LoyaltyMember,
    LoyaltyProgram,
    MemberBadge,
    Redemption,
    Referral,
)
from app.store.models.messaging import (
    ConsentWriteback,
    EmailSuppression,
    Message,
    MessageClick,
    MessagingSettings,
)
from app.store.models.orders import LineItem, Order, Refund, RefundLineItem
from app.store.models.privacy import PrivacyRequest
from app.store.models.products import Product, Variant
from app.store.models.recommendations import CountedOrder, ProductPair, ProductStat, RecommendationCursor
from app.store.models.segments import (
    CustomerMetrics,
    CustomerTagSync,
    Segment,
    SegmentEvent,
    SegmentMember,
    SegmentModel,
)
from app.store.models.shops import OAuthState, Shop
from app.store.models.sync import SyncRun

__all__ = [
    "Base", "Cart", "ConsentWriteback", "CountedOrder", "Customer", "CustomerMetrics", "CustomerTagSync",
    "EmailSuppression", "Flow", "FlowCursor", "FlowRun", "LedgerEntry", "LineItem", "LoyaltyCursor",
    "LoyaltyEvent", "LoyaltyMember", "MagicLink", "MerchantLogin", "LoyaltyProgram", "MemberBadge", "Message", "MessageClick",
    "MessagingSettings", "OAuthState", "Onboarding", "Order", "PrivacyRequest", "Product", "ProductPair", "ProductStat",
    "RecommendationCursor", "Redemption", "Referral", "Refund", "RefundLineItem", "Segment", "SegmentEvent",
    "SegmentMember", "SegmentModel", "Shop", "SyncRun", "Variant", "WebhookEvent",
]
