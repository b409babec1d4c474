"""JSON encoded like WordPress `wp_json_encode` with its default flags."""

from __future__ import annotations

import json
from typing import Any

from flask import Response


def encode(value: Any) -> bytes:
    """Encode compactly with `/` as `\\/` and every non-ASCII character as `\\uXXXX`."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/").encode("ascii")


def response(value: Any, status: int = 200, headers: Any = None) -> Response:
    """Return a Flask response with a WordPress-encoded JSON body."""
    return Response(encode(value), status=status, headers=headers,
                    content_type="application/json; charset=UTF-8")
