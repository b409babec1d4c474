"""Store URLs: normalise what a merchant typed, and refuse addresses we must never call.

A WooCommerce store is named by its WordPress site URL, which the merchant types in. We call
that URL from our servers, so an unchecked one is a server-side request forgery: a hostname
that resolves to a private, loopback or link-local address (the cloud metadata service at
169.254.169.254, a database on 10.0.0.5) is refused unless the deployment allows private
stores (the embedded default and devstore, where stores run on this machine).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from connectors.base import InvalidShopError

Resolver = Callable[[str, int], list[str]]


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidShopError(f"the store's host {host!r} does not resolve: {error}") from error
    return sorted({str(info[4][0]) for info in infos})


def normalize_store_url(raw: str, *, https_only: bool, allow_private: bool,
                        resolve: Resolver = _resolve) -> str:
    """Return ``scheme://host[:port][/path]`` in lower case without a trailing slash.

    Raises ``InvalidShopError`` with the reason for anything else: another scheme, plain
    HTTP when only HTTPS is allowed, credentials, a query or fragment, or a host that is (or
    resolves to) an address we must not call.
    """
    value = (raw or "").strip()
    if not value:
        raise InvalidShopError("the store URL is empty")
    if "://" not in value:
        value = "https://" + value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        raise InvalidShopError(f"the store URL {raw!r} is not a valid URL: {error}") from error
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidShopError(f"the store URL must start with https:// (got {parts.scheme!r})")
    if scheme == "http" and https_only:
        raise InvalidShopError("the store URL must use https://: keys and webhooks never travel in clear")
    if parts.username or parts.password:
        raise InvalidShopError("the store URL must not contain a user name or password")
    if parts.query or parts.fragment:
        raise InvalidShopError("the store URL must not contain a query or fragment: give the site's address")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidShopError("the store URL has no host")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise InvalidShopError(f"the store's host {host!r} is not a valid name") from error
    check_host(host, port or (443 if scheme == "https" else 80), allow_private=allow_private, resolve=resolve)
    path = parts.path.rstrip("/")
    for suffix in ("/wp-admin", "/wp-json"):
        if path.lower().endswith(suffix):
            path = path[: -len(suffix)]
    netloc = host if ":" not in host else f"[{host}]"
    if port and port != (443 if scheme == "https" else 80):
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, path, "", ""))


def check_host(host: str, port: int, *, allow_private: bool, resolve: Resolver = _resolve) -> None:
    """Refuse a host that is, or resolves to, an address outside the public internet."""
    if allow_private:
        return
    if host == "localhost" or host.endswith(".localhost") or host.endswith(".local") \
            or host.endswith(".internal"):
        raise InvalidShopError(f"the store's host {host!r} is a local name, not a public store")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolve(host, port)
    for address in addresses:
        if not is_public_address(address):
            raise InvalidShopError(f"the store's host {host!r} is a private, loopback or link-local "
                                   f"address ({address}): only public stores can be connected")


def is_public_address(address: str) -> bool:
    """Return whether an IP address is globally routable.

    IPv6 forms that carry an IPv4 address (mapped, 6to4, Teredo) are judged by that address.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not is_public_address(str(embedded)):
            return False
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback
                                 or ip.is_link_local or ip.is_private or ip.is_unspecified)


class PublicOnlyBackend(httpcore.SyncBackend):
    """Open connections only to public addresses, checked on the address actually dialled.

    Checking a name before the request is not enough: it can resolve elsewhere a moment later
    (DNS rebinding). This backend resolves the name itself, refuses it if any address is not
    public, and connects to the checked address; TLS still verifies the certificate against
    the name.
    """

    def __init__(self, resolve: Resolver = _resolve):
        self._resolve = resolve

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        try:
            addresses = [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            try:
                addresses = self._resolve(host, port)
            except InvalidShopError as error:
                raise httpcore.ConnectError(str(error)) from error
        refused = [address for address in addresses if not is_public_address(address)]
        if refused or not addresses:
            raise httpcore.ConnectError(f"refusing to connect to {host}: not a public address ({', '.join(refused)})")
        return super().connect_tcp(addresses[0], port, timeout=timeout, local_address=local_address,
                                   socket_options=socket_options)


def public_only_transport(verify: Any, limits: httpx.Limits) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes to a public address only."""
    transport = httpx.HTTPTransport(verify=verify, limits=limits)
    # httpx builds its connection pool without a way to pass a network backend: set it on the
    # pool it made (httpx is pinned; a test proves the guard is in effect).
    transport._pool._network_backend = PublicOnlyBackend()  # noqa: SLF001
    return transport


def is_https(store_url: str) -> bool:
    return store_url.lower().startswith("https://")
