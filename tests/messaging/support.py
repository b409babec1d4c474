"""Contexts of every template, as a flow would give them."""

from __future__ import annotations

CART = {
    "first_name": "Ana",
    "items": [
        {"name": "Mug <Nord>", "quantity": 2, "price": "12.50", "image_url": "https://cdn.example.com/mug.png",
         "url": "https://nord.example.com/products/mug"},
        {"name": "Tea", "quantity": 1, "price": "4", "image_url": "https://cdn.example.com/tea.png"},
    ],
    "total": "29.00",
    "recovery_url": "https://nord.example.com/cart/recover?token=abc&step=2",
    "coupon": {"code": "BACK10", "expires_at": "2026-12-10T23:30:00Z", "description": "10% off"},
}

CONTEXTS = {
    "cart_reminder": CART,
    "thank_you": {"order_number": "#1001", "points_earned": 120, "rewards_url": "https://nord.example.com/rewards",
                  "recommendations": [{"name": "Teapot", "url": "https://nord.example.com/products/teapot",
                                       "price": "35", "image_url": "https://cdn.example.com/teapot.png"}]},
    "review_request": {"review_url": "https://nord.example.com/reviews/new?order=1001", "points": 25,
                       "products": [{"name": "Mug", "url": "https://nord.example.com/products/mug"}]},
    "cross_sell": {"bought": ["Mug"], "recommendations": [
        {"name": "Teapot", "url": "https://nord.example.com/products/teapot", "price": "35",
         "image_url": "https://cdn.example.com/teapot.png"}]},
    "win_back": {"coupon": {"code": "MISSYOU", "expires_at": "2026-12-31", "description": "15% off"}},
    "birthday": {"points": 100, "coupon": {"code": "BDAY", "expires_at": "2027-01-05"}},
    "points_earned": {"points": 1250, "balance": 3400, "reason": "for your order #1001"},
    "reward_available": {"reward_name": "5 off your order", "points": 500, "balance": 620},
    "points_expiring": {"points": 300, "expires_on": "2027-01-15"},
    "tier_upgrade": {"tier": "Gold", "perks": ["1.5 points per unit spent", "early access"]},
}
