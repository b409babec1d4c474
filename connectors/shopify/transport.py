"""Build the HTTP clients that reach a shop, optionally routed to a local origin."""

from __future__ import annotations

import httpx

_SHOP_SUFFIX = ".myshopify.com"


class OriginRewriteTransport(httpx.HTTPTransport):
    """Send requests for ``*.myshopify.com`` to one origin, keeping path, query and Host."""

    def __init__(self, origin: str, **kwargs):
        super().__init__(**kwargs)
        target = httpx.URL(origin)
        self._scheme = target.scheme
        self._host = target.host
        self._port = target.port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Rewrite the request's scheme, host and port, then send it."""
        host = request.url.host
        if host.endswith(_SHOP_SUFFIX):
            request.url = request.url.copy_with(scheme=self._scheme, host=self._host, port=self._port)
            request.headers["Host"] = host
        return super().handle_request(request)


def transport_for(api_origin: str | None) -> httpx.HTTPTransport:
    """Return the transport for shop requests: direct, or rewritten to ``api_origin``."""
    if api_origin:
        return OriginRewriteTransport(api_origin.rstrip("/"))
    return httpx.HTTPTransport()


def make_client(api_origin: str | None, timeout: float) -> httpx.Client:
    """Return an ``httpx.Client`` for shop requests with an explicit timeout."""
    return httpx.Client(transport=transport_for(api_origin), timeout=timeout)
