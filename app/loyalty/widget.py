"""The storefront widget's look: the merchant's colours, position and texts, kept readable.

The merchant picks a main colour and a panel background; the text drawn on each is chosen here
(near-black, black or white, whichever is readable), so that every text the widget draws meets the
WCAG AA ratio of 4.5:1 whatever colours were picked.
"""

from __future__ import annotations

import re
from typing import Any

POSITIONS = ("bottom-right", "bottom-left")
DARK, LIGHT = "#1a1a1a", "#ffffff"
DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "position": "bottom-right",
    "primary_color": "#2e6b57",  # the launcher and the panel's buttons
    "background_color": "#ffffff",  # the panel
    "launcher_label": None,  # None: "Rewards" in the shopper's language
    "title": None,  # the panel's heading; None: as the launcher
    "welcome": None,  # the line under the heading for visitors; None: a translated invitation
}
_TEXTS = {"launcher_label": 30, "title": 60, "welcome": 200}
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


class WidgetError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = f"widget.{field}" if field else "widget"
        self.message = message
        super().__init__(f"{self.field}: {message}")


def _luminance(colour: str) -> float:
    """Relative luminance (WCAG 2) of ``#rrggbb``."""
    def channel(pair: str) -> float:
        value = int(pair, 16) / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, other: str) -> float:
    """The WCAG contrast ratio of two colours, from 1 to 21."""
    high, low = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable_on(background: str) -> str:
    """The text colour (near-black or white) that contrasts more with ``background``.

    Pure black or white always reaches at least 4.58:1; near-black is preferred where it is
    enough, and pure black stands in on the mid greys where it is not.
    """
    best = DARK if contrast(DARK, background) >= contrast(LIGHT, background) else LIGHT
    return best if contrast(best, background) >= 4.5 else "#000000"


def with_defaults(settings: Any) -> dict[str, Any]:
    """A stored widget setting with the fields added since, at their defaults (never fails)."""
    return {**DEFAULTS, **(settings if isinstance(settings, dict) else {})}


def validate(settings: Any) -> dict[str, Any]:
    """Refuse what the widget cannot show; colours are normalised to lower case."""
    if not isinstance(settings, dict):
        raise WidgetError("", "must be an object")
    settings = with_defaults(settings)
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise WidgetError(unknown[0], f"unknown setting (known: {', '.join(sorted(DEFAULTS))})")
    if not isinstance(settings["enabled"], bool):
        raise WidgetError("enabled", "must be true or false")
    if settings["position"] not in POSITIONS:
        raise WidgetError("position", f"must be one of {', '.join(POSITIONS)}")
    for name in ("primary_color", "background_color"):
        value = settings[name]
        if not isinstance(value, str) or not _HEX.fullmatch(value):
            raise WidgetError(name, "must be a colour written #rrggbb")
        settings[name] = value.lower()
    for name, longest in _TEXTS.items():
        value = settings[name]
        if value is not None and (not isinstance(value, str) or not 1 <= len(value.strip()) <= longest
                                  or not value.isprintable()):
            raise WidgetError(name, f"must be 1 to {longest} printable characters, or null")
    return settings


def view(settings: dict[str, Any]) -> dict[str, Any]:
    """What the widget is told: the merchant's choices and the text colours that stay readable."""
    widget = with_defaults(settings)
    return {**widget, "primary_text": readable_on(widget["primary_color"]),
            "text_color": readable_on(widget["background_color"])}
