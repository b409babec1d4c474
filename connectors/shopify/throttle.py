"""Keep each shop's GraphQL cost bucket, shared by every worker through Redis."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

_KEY_PREFIX = "comeback:shopify:throttle:"
_KEY_TTL_SECONDS = 3600

# KEYS[1] = bucket hash; ARGV = cost. Estimate what the bucket holds now from the last known
# state and its restore rate; take the cost if it fits (so concurrent workers do not all
# spend the same points) and return 0, else return the seconds to wait. Unknown → fits.
_RESERVE = """
local state = redis.call('HMGET', KEYS[1], 'available', 'restore', 'maximum', 'ts')
if not state[1] then return '0' end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local available = tonumber(state[1])
local restore = tonumber(state[2])
local maximum = tonumber(state[3])
local estimate = math.min(maximum, available + math.max(0, now - tonumber(state[4])) * restore)
local cost = tonumber(ARGV[1])
if estimate >= cost or cost > maximum then
  redis.call('HSET', KEYS[1], 'available', tostring(estimate - math.min(cost, estimate)), 'ts', tostring(now))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
  return '0'
end
if restore <= 0 then return '1' end
return tostring((cost - estimate) / restore)
"""

# KEYS[1] = bucket hash; ARGV = available, restore, maximum: what Shopify just reported.
_UPDATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSET', KEYS[1], 'available', ARGV[1], 'restore', ARGV[2], 'maximum', ARGV[3], 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""


@dataclass(frozen=True, slots=True)
class ThrottleStatus:
    """A bucket as Shopify reports it in ``extensions.cost.throttleStatus``."""

    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def from_extensions(cls, extensions: Any) -> "ThrottleStatus | None":
        """Return the status in a GraphQL ``extensions`` object, or ``None`` if absent."""
        try:
            status = extensions["cost"]["throttleStatus"]
            return cls(float(status["maximumAvailable"]), float(status["currentlyAvailable"]),
                       float(status["restoreRate"]))
        except (KeyError, TypeError, ValueError):
            return None

    def seconds_until(self, cost: float) -> float:
        """Return how long until ``cost`` points are available."""
        if self.currently_available >= cost or self.restore_rate <= 0:
            return 0.0
        return (cost - self.currently_available) / self.restore_rate


class Budget(Protocol):
    def reserve(self, shop: str, cost: float) -> float: ...
    def update(self, shop: str, status: ThrottleStatus) -> None: ...


class RedisBudget:
    """A cost bucket per shop in a Redis hash, updated atomically by Lua scripts."""

    def __init__(self, redis: Any):
        self._reserve = redis.register_script(_RESERVE)
        self._update = redis.register_script(_UPDATE)

    def reserve(self, shop: str, cost: float) -> float:
        """Take ``cost`` points if they are there and return 0, else return seconds to wait."""
        wait = self._reserve(keys=[_KEY_PREFIX + shop], args=[cost, _KEY_TTL_SECONDS])
        return float(wait)

    def update(self, shop: str, status: ThrottleStatus) -> None:
        """Record the bucket Shopify just reported."""
        self._update(keys=[_KEY_PREFIX + shop],
                     args=[status.currently_available, status.restore_rate,
                           status.maximum_available, _KEY_TTL_SECONDS])


class LocalBudget:
    """The same bucket kept in this process, for use without Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[ThrottleStatus, float]] = {}

    def reserve(self, shop: str, cost: float) -> float:
        """Take ``cost`` points if they are there and return 0, else return seconds to wait."""
        with self._lock:
            known = self._state.get(shop)
            if known is None:
                return 0.0
            status, at = known
            now = time.monotonic()
            estimate = min(status.maximum_available,
                           status.currently_available + (now - at) * status.restore_rate)
            if estimate >= cost or cost > status.maximum_available:
                left = estimate - min(cost, estimate)
                self._state[shop] = (ThrottleStatus(status.maximum_available, left,
                                                    status.restore_rate), now)
                return 0.0
            if status.restore_rate <= 0:
                return 1.0
            return (cost - estimate) / status.restore_rate

    def update(self, shop: str, status: ThrottleStatus) -> None:
        """Record the bucket Shopify just reported."""
        with self._lock:
            self._state[shop] = (status, time.monotonic())


def key_for(shop: str) -> str:
    """Return the Redis key of a shop's bucket (tests clean it up)."""
    return _KEY_PREFIX + shop
