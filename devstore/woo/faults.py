"""Answers for injected failures (429 with Retry-After, WordPress or proxy 5xx)."""

from __future__ import annotations

from flask import Response

from . import wpjson
from .state import Fault

CRITICAL = ("<p>There has been a critical error on this website.</p><p><a href=\"https://"
            "wordpress.org/documentation/article/faq-troubleshooting/\">Learn more about "
            "troubleshooting WordPress.</a></p>")
PROXY = {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}


def answer(fault: Fault) -> Response:
    """Return the response of an injected failure."""
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.status == 429:
        headers.setdefault("Retry-After", "1")
        return wpjson.response({"code": "woocommerce_rest_too_many_requests",
                                "message": "Too many requests. Please wait and try again.",
                                "data": {"status": 429}}, 429, headers)
    if fault.status == 500:
        return wpjson.response({"code": "internal_server_error", "message": CRITICAL,
                                "data": {"status": 500}, "additional_errors": []}, 500, headers)
    title = f"{fault.status} {PROXY.get(fault.status, 'Error')}"
    html = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}"
            f"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
    return Response(html, fault.status, headers, content_type="text/html")
