"""WordPress-style REST errors: `{"code", "message", "data": {"status"}}`."""

from __future__ import annotations

from typing import Any, Optional


class WooError(Exception):
    """A REST error answered as WordPress JSON."""

    def __init__(self, code: str, message: str, status: int = 400,
                 extra: Optional[dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """Return the error as a WordPress REST body."""
        return {"code": self.code, "message": self.message,
                "data": {"status": self.status, **self.extra}}


def invalid_params(errors: dict[str, str]) -> WooError:
    """Return the rest_invalid_param error for some parameters."""
    details = {name: {"code": "rest_invalid_param", "message": msg, "data": None}
               for name, msg in errors.items()}
    return WooError("rest_invalid_param", f"Invalid parameter(s): {', '.join(errors)}", 400,
                    {"params": dict(errors), "details": details})


def not_found(code: str, message: str = "Invalid ID.") -> WooError:
    """Return a 404 for a missing resource."""
    return WooError(code, message, 404)
