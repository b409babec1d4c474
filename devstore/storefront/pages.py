"""HTML of the Shopify storefront pages: a plain theme around the shop's data."""

from __future__ import annotations

from html import escape
from typing import Optional

from .. import payloads
from ..formats import money
from ..models import Customer, Product
from ..shopstate import ShopState

HOME_PRODUCTS = 8


def layout(shop: ShopState, title: str, main: str, customer: Optional[Customer],
           embeds: dict[str, str], page_type: str) -> str:
    """Wrap a page's main content in the theme: header with sign-in/out and cart links."""
    if customer is not None:
        who = escape(f"{customer.first_name} {customer.last_name}".strip() or customer.email or "")
        account = (f'<span class="customer-name">{who}</span> '
                   f'<a class="sign-out" href="/account/logout">Sign out</a>')
    else:
        account = ('<a class="sign-in" href="/account/login">Sign in</a> '
                   '<a class="register" href="/account/register">Create account</a>')
    name = escape(shop.name)
    full_title = name if title == shop.name else f"{escape(title)} – {name}"
    head, body = (_lines(embeds.get(part, "")) for part in ("head", "body"))
    return (f'<!DOCTYPE html>\n<html lang="{escape(shop.locale)}">\n<head>\n'
            '<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<title>{full_title}</title>\n'
            # No favicon: browsers would ask for /favicon.ico and log the 404.
            '<link rel="icon" href="data:,">\n'
            f'{head}</head>\n'
            f'<body class="template-{escape(page_type.replace("/", "-"))}">\n'
            f'<header><a class="shop-name" href="/">{name}</a>\n'
            f'<nav>{account} <a class="cart-link" href="/cart">Cart</a></nav></header>\n'
            f'<main>\n{main}</main>\n{body}</body>\n</html>\n')


def _lines(html: str) -> str:
    """Return rendered embed HTML ending with a newline (nothing stays nothing)."""
    return html if not html or html.endswith("\n") else html + "\n"


def home(shop: ShopState) -> str:
    """Return the home page content: the newest active products with their prices."""
    with shop.lock:
        products = [p for p in shop.products if p.status == "ACTIVE" and not p.deleted
                    and p.variants]
        products.sort(key=lambda p: (p.created_at, p.id), reverse=True)
        items = "".join(
            f'<li class="product" data-product-id="{p.id}"><span class="title">'
            f'{escape(p.title)}</span> <span class="price">'
            f'{money(min(v.price for v in p.variants))} {escape(shop.currency)}</span></li>\n'
            for p in products[:HOME_PRODUCTS])
    return (f'<h1>{escape(shop.name)}</h1>\n'
            f'<ul class="products">\n{items}</ul>\n')


def product(shop: ShopState, item: Product) -> str:
    """Return a product page's content: title, featured image, lowest price."""
    with shop.lock:
        image = (f'<img class="featured-image" src="{escape(payloads.image_src(shop, item.image))}" '
                 f'alt="{escape(item.image.alt)}" width="{item.image.WIDTH}" height="{item.image.HEIGHT}">\n'
                 if item.image is not None else "")
        price = min((v.price for v in item.variants), default=0)
        return (f'<h1 class="product-title" data-product-id="{item.id}">{escape(item.title)}</h1>\n'
                f'{image}<p class="price">{money(price)} {escape(shop.currency)}</p>\n')


def login(message: Optional[str] = None, return_to: str = "/") -> str:
    """Return the sign-in form (a customer id or e-mail stands for the password check)."""
    error = f'<p class="form-error">{escape(message)}</p>\n' if message else ""
    return ('<h1>Sign in</h1>\n' + error +
            '<form method="post" action="/account/login">\n'
            f'<input type="hidden" name="return_to" value="{escape(return_to)}">\n'
            '<label>Customer id or e-mail <input name="customer_id" autocomplete="off"></label>\n'
            '<button type="submit">Sign in</button>\n</form>\n')


def register() -> str:
    """Return the (not simulated) registration page."""
    return ('<h1>Create account</h1>\n<p class="register-note">devstore does not create '
            'accounts from the storefront: add customers through the control API, then '
            '<a href="/account/login">sign in</a>.</p>\n')


def account(customer: Customer) -> str:
    """Return the account page of a signed-in customer."""
    return (f'<h1>Account</h1>\n<p class="customer" data-customer-id="{customer.id}">'
            f'{escape(customer.first_name)} {escape(customer.last_name)} '
            f'&lt;{escape(customer.email or "")}&gt;</p>\n')


def cart(code: Optional[str], valid: bool) -> str:
    """Return the (empty) cart with the discount code the shopper applied, if any."""
    discount = ""
    if code:
        discount = (f'<p class="cart-discount" data-code="{escape(code)}" '
                    f'data-valid="{"true" if valid else "false"}">Discount '
                    f'{escape(code)}: {"applied at checkout" if valid else "not valid"}</p>\n')
    return f'<h1>Your cart</h1>\n<p class="cart-empty">Your cart is empty.</p>\n{discount}'


def not_found() -> str:
    """Return the 404 page content."""
    return '<h1>Page not found</h1>\n'


def unavailable(message: str) -> str:
    """Return a plain error page (unknown shop, app proxy failure)."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
            f'<title>{escape(message)}</title></head>\n'
            f'<body><p class="error">{escape(message)}</p></body>\n</html>\n')
