"""Validate REST query parameters the way WordPress does (rest_invalid_param)."""

from __future__ import annotations

from typing import Optional

from werkzeug.datastructures import MultiDict

from .. import timefmt
from ..errors import invalid_params

TRUE = ("1", "true", "yes")
FALSE = ("0", "false", "no", "")


def _one_of(values: tuple[str, ...]) -> str:
    """Join choices like WordPress: `a, b, and c` (`a and b` for two)."""
    if len(values) == 2:
        return f"{values[0]} and {values[1]}"
    return ", ".join(values[:-1]) + f", and {values[-1]}"


class Params:
    """Collect parameter errors and raise them together."""

    def __init__(self, args: MultiDict) -> None:
        self.args = args
        self.errors: dict[str, str] = {}

    def integer(self, name: str, default: Optional[int], minimum: Optional[int] = None,
                maximum: Optional[int] = None) -> Optional[int]:
        """Read an integer within bounds."""
        raw = self.args.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            self.errors[name] = f"{name} is not of type integer."
            return default
        if maximum is not None and minimum is not None and not minimum <= value <= maximum:
            self.errors[name] = (f"{name} must be between {minimum} (inclusive) and "
                                 f"{maximum} (inclusive)")
        elif minimum is not None and value < minimum:
            self.errors[name] = f"{name} must be greater than or equal to {minimum}"
        return value

    def enum(self, name: str, choices: tuple[str, ...], default: str) -> str:
        """Read one of a set of strings."""
        value = self.args.get(name) or default
        if value not in choices:
            self.errors[name] = f"{name} is not one of {_one_of(choices)}."
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        """Read a boolean (`true`, `1`, `false`, `0`)."""
        raw = self.args.get(name)
        if raw is None:
            return default
        if raw.lower() in TRUE:
            return True
        if raw.lower() not in FALSE:
            self.errors[name] = f"{name} is not of type boolean."
        return False

    def strings(self, name: str) -> Optional[list[str]]:
        """Read a list given as `a,b`, repeated `name=` or `name[]=`."""
        raw = self.args.getlist(name) + self.args.getlist(f"{name}[]")
        if not raw:
            return None
        return [part.strip() for item in raw for part in item.split(",") if part.strip()]

    def ids(self, name: str) -> Optional[set[int]]:
        """Read a list of integer ids."""
        values = self.strings(name)
        if values is None:
            return None
        if not all(v.isdigit() for v in values):
            self.errors[name] = f"{name}[0] is not of type integer."
            return None
        return {int(v) for v in values}

    def date(self, name: str, timezone: str, is_gmt: bool) -> Optional[int]:
        """Read an ISO 8601 date (GMT when is_gmt, else store-local unless it has an offset)."""
        raw = self.args.get(name)
        if not raw:
            return None
        try:
            return timefmt.parse(raw, timezone, is_gmt)
        except ValueError:
            self.errors[name] = "Invalid date."
            return None

    def check(self) -> None:
        """Raise rest_invalid_param if any parameter was invalid."""
        if self.errors:
            raise invalid_params(self.errors)
