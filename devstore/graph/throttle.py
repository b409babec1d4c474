"""Leaky-bucket rate limiting of GraphQL cost per shop and app."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from ..shopstate import ShopState


@dataclass
class Bucket:
    """Points available to one app on one shop."""

    maximum: float
    restore_rate: float
    available: float
    updated: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _refill(self) -> None:
        """Restore points for the time elapsed; call with the lock held."""
        now = time.monotonic()
        self.available = min(self.maximum,
                             self.available + (now - self.updated) * self.restore_rate)
        self.updated = now

    def try_take(self, cost: int) -> bool:
        """Charge cost if that many points are available."""
        with self.lock:
            self._refill()
            if cost > self.available:
                return False
            self.available -= cost
            return True

    def give_back(self, points: int) -> None:
        """Return unused points after a query ran."""
        with self.lock:
            self._refill()
            self.available = min(self.maximum, self.available + max(0, points))

    def status(self) -> dict:
        """Return Shopify's throttleStatus object."""
        with self.lock:
            self._refill()
            return {"maximumAvailable": float(self.maximum),
                    "currentlyAvailable": int(self.available),
                    "restoreRate": float(self.restore_rate)}


def bucket_for(shop: ShopState, client_id: str) -> Bucket:
    """Return (creating) the bucket of an app on a shop."""
    with shop.lock:
        bucket = shop.buckets.get(client_id)
        if bucket is None:
            settings = shop.throttle
            initial = settings.initial_available
            bucket = Bucket(settings.maximum_available, settings.restore_rate,
                            settings.maximum_available if initial is None
                            else min(initial, settings.maximum_available))
            shop.buckets[client_id] = bucket
        return bucket


def configure(shop: ShopState, maximum: Optional[float], restore: Optional[float],
              current: Optional[float]) -> dict:
    """Change the shop's bucket parameters for existing and future buckets."""
    with shop.lock:
        if maximum is not None:
            shop.throttle.maximum_available = maximum
        if restore is not None:
            shop.throttle.restore_rate = restore
        shop.throttle.initial_available = current
        for bucket in shop.buckets.values():
            with bucket.lock:
                bucket._refill()
                bucket.maximum = shop.throttle.maximum_available
                bucket.restore_rate = shop.throttle.restore_rate
                bucket.available = min(bucket.available, bucket.maximum) \
                    if current is None else min(current, bucket.maximum)
        return {"maximumAvailable": shop.throttle.maximum_available,
                "restoreRate": shop.throttle.restore_rate}
