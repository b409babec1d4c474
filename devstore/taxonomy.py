"""The categories of Shopify's standard product taxonomy that devstore's products fall into.

Names and paths follow the published taxonomy's style; the ids (`dv-<n>`) are devstore's own,
not the taxonomy's, so nothing should rely on them naming the same node on Shopify.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class TaxonomyCategory:
    """One taxonomy category: its id, leaf name and full path."""

    id: str
    name: str
    full_name: str

    @property
    def gid(self) -> str:
        """Return the category's GID (`gid://shopify/TaxonomyCategory/<id>`)."""
        return f"gid://shopify/TaxonomyCategory/{self.id}"


_PATHS = (
    "Apparel & Accessories > Clothing > Clothing Tops > T-Shirts",
    "Apparel & Accessories > Clothing > Clothing Tops > Hoodies",
    "Apparel & Accessories > Clothing Accessories > Hats > Beanies",
    "Luggage & Bags > Tote Bags",
    "Luggage & Bags > Backpacks",
    "Home & Garden > Kitchen & Dining > Tableware > Drinkware > Mugs",
    "Home & Garden > Decor > Home Fragrances > Candles",
    "Home & Garden > Linens & Bedding > Bedding > Blankets > Throw Blankets",
    "Food, Beverages & Tobacco > Beverages > Coffee",
    "Food, Beverages & Tobacco > Beverages > Tea & Infusions",
    "Food, Beverages & Tobacco > Food Items > Grains, Rice & Cereal > Cereal & Granola",
    "Office Supplies > General Office Supplies > Paper Products > Notebooks & Notepads",
    "Home & Garden > Kitchen & Dining > Tableware > Drinkware > Water Bottles",
    "Apparel & Accessories > Clothing > Underwear & Socks > Socks",
    "Health & Beauty > Personal Care > Cosmetics > Skin Care > Facial Serums",
    "Health & Beauty > Personal Care > Cosmetics > Skin Care > Lotions & Moisturizers",
    "Sporting Goods > Exercise & Fitness > Yoga & Pilates > Yoga Mats",
    "Apparel & Accessories > Clothing Accessories > Sunglasses",
)
CATEGORIES: dict[str, TaxonomyCategory] = {
    path.rsplit(" > ", 1)[-1]: TaxonomyCategory(f"dv-{index}", path.rsplit(" > ", 1)[-1], path)
    for index, path in enumerate(_PATHS, 1)
}
# The generator's product nouns (names.PRODUCT_NOUNS) and the category each is in.
NOUN_CATEGORIES = {
    "Tee": "T-Shirts", "Hoodie": "Hoodies", "Beanie": "Beanies", "Tote Bag": "Tote Bags",
    "Backpack": "Backpacks", "Mug": "Mugs", "Candle": "Candles", "Throw Blanket": "Throw Blankets",
    "Coffee Beans": "Coffee", "Green Tea": "Tea & Infusions", "Granola": "Cereal & Granola",
    "Notebook": "Notebooks & Notepads", "Water Bottle": "Water Bottles", "Socks": "Socks",
    "Face Serum": "Facial Serums", "Hand Cream": "Lotions & Moisturizers", "Yoga Mat": "Yoga Mats",
    "Sunglasses": "Sunglasses",
}
_BY_FOLDED_NAME = {name.casefold(): name for name in CATEGORIES}


def find(name: str) -> Optional[str]:
    """Return the category named `name` (case-insensitively), or None."""
    return _BY_FOLDED_NAME.get(name.strip().casefold())


def of(key: Optional[str]) -> Optional[TaxonomyCategory]:
    """Return the category a product names, or None."""
    return CATEGORIES.get(key) if key else None
