"""The mirror keeps product media, URLs, categories and fulfilment times; unknown fields stay as stored.

The first half writes neutral records directly (below and above the PostgreSQL COPY threshold);
the second reads them from devstore through the connectors, over real HTTP, webhooks included.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.store import mirror
from app.store.models import Customer, Order, Product, Shop
from connectors import base
from tests.connectors.receiver import WebhookReceiver

T0 = dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)
UNKNOWN_MEDIA = frozenset({"image_url", "url", "categories"})


@pytest.fixture()
def shop(session):
    record = Shop(platform="shopify", domain="media.myshopify.com", status="active")
    session.add(record)
    session.commit()
    return record


@pytest.fixture()
def copies(session, monkeypatch) -> list[tuple[str, int]]:
    """Record (table, rows) of every upsert that went through COPY (PostgreSQL only)."""
    from app.store import upsert as upsert_module

    seen: list[tuple[str, int]] = []
    real = upsert_module.copy_upsert

    def recording(session, table, rows, **kwargs):
        seen.append((table.name, len(rows)))
        return real(session, table, rows, **kwargs)

    monkeypatch.setattr(upsert_module, "copy_upsert", recording)
    return seen


def _expect_copies(session, copies, table: str, groups: int, size: int) -> None:
    if session.get_bind().dialect.name == "postgresql" and size > 100:
        assert [name for name, _ in copies if name == table] == [table] * groups
    else:
        assert copies == []


def product(external_id: str, updated: dt.datetime, **fields) -> base.Product:
    values = {"image_url": f"https://cdn.example/{external_id}.png", "url": f"https://s.example/products/p{external_id}",
              "categories": ("Mugs", "Kitchen")}
    values.update(fields)
    return base.Product(external_id=external_id, title=f"P{external_id}", updated_at=updated, **values)


def order(external_id: str, updated: dt.datetime, **fields) -> base.Order:
    return base.Order(external_id=external_id, number=f"#{external_id}", created_at=T0, updated_at=updated,
                      currency="USD", total_price=Decimal("80.00"), subtotal_price=Decimal("70.00"), **fields)


def products(session, shop) -> dict[str, tuple]:
    session.expire_all()
    rows = session.execute(select(Product.external_id, Product.image_url, Product.url, Product.categories)
                           .where(Product.shop_id == shop.id)).all()
    return {external_id: (image, url, categories) for external_id, image, url, categories in rows}


def fulfilments(session, shop) -> dict[str, dt.datetime | None]:
    session.expire_all()
    rows = session.execute(select(Order.external_id, Order.fulfilled_at).where(Order.shop_id == shop.id)).all()
    return dict(rows)


# Below and above the COPY threshold on PostgreSQL (50 rows), for every group of columns a batch
# splits into: 160 records give groups of at least 53.
SIZES = [3, 160]


@pytest.mark.parametrize("size", SIZES)
def test_product_media_is_written_kept_when_unknown_and_cleared_when_empty(session, shop, size, copies):
    # given products read in full
    first = [product(str(n), T0) for n in range(size)]
    assert mirror.apply_products(session, shop.id, "shopify", first) == size
    session.commit()
    assert products(session, shop)["1"] == ("https://cdn.example/1.png", "https://s.example/products/p1",
                                           ["Mugs", "Kitchen"])
    # when newer versions arrive: the even ones from a source that cannot tell the URL (a new
    # image), the odd ones saying there is no image, no page and no category any more
    later = [product(str(n), T0 + HOUR, image_url=f"https://cdn.example/{n}-v2.png", url=None,
                     unknown_fields=frozenset({"url"})) if n % 2 == 0
             else product(str(n), T0 + HOUR, image_url=None, url=None, categories=())
             for n in range(size)]
    assert mirror.apply_products(session, shop.id, "shopify", later) == size
    session.commit()
    # then the unknown URL stays, the rest follows the platform (each group of columns its own COPY)
    _expect_copies(session, copies, "products", 3, size)
    rows = products(session, shop)
    assert rows["0"] == ("https://cdn.example/0-v2.png", "https://s.example/products/p0", ["Mugs", "Kitchen"])
    assert rows["1"] == (None, None, [])
    assert len(rows) == size


@pytest.mark.parametrize("size", SIZES)
def test_a_new_product_from_a_source_that_cannot_tell_starts_without(session, shop, size):
    partial = [product(str(n), T0, image_url=None, url=None, categories=(), unknown_fields=UNKNOWN_MEDIA)
               for n in range(size)]
    mirror.apply_products(session, shop.id, "shopify", partial)
    session.commit()
    assert set(products(session, shop).values()) == {(None, None, None)}
    # a later full read fills them in
    mirror.apply_products(session, shop.id, "shopify", [product(str(n), T0 + HOUR) for n in range(size)])
    session.commit()
    assert products(session, shop)["0"] == ("https://cdn.example/0.png", "https://s.example/products/p0",
                                           ["Mugs", "Kitchen"])


def test_an_older_product_changes_no_media(session, shop):
    mirror.apply_products(session, shop.id, "shopify", [product("1", T0 + HOUR)])
    assert mirror.apply_products(session, shop.id, "shopify", [product("1", T0, image_url=None)]) == 0
    session.commit()
    assert products(session, shop)["1"][0] == "https://cdn.example/1.png"


@pytest.mark.parametrize("size", SIZES)
def test_fulfilment_times_are_written_kept_when_unknown_and_cleared(session, shop, size, copies):
    shipped = T0 + dt.timedelta(days=2)
    mirror.apply_orders(session, shop.id, "shopify", [order(str(n), T0, fulfilled_at=shipped) for n in range(size)])
    session.commit()
    assert set(fulfilments(session, shop).values()) == {shipped}
    # when newer versions come: a third cannot tell (and one of those nor the gift card amount),
    # a third were cancelled (no fulfilment), a third shipped again later
    later = []
    for n in range(size):
        if n % 3 == 0:
            later.append(order(str(n), T0 + HOUR, unknown_fields=frozenset({"fulfilled_at"}),
                               gift_card_amount_known=n != 0, financial_status="refunded"))
        elif n % 3 == 1:
            later.append(order(str(n), T0 + HOUR, fulfilled_at=None))
        else:
            later.append(order(str(n), T0 + HOUR, fulfilled_at=shipped + HOUR))
    assert mirror.apply_orders(session, shop.id, "shopify", later) == size
    session.commit()
    rows = fulfilments(session, shop)
    # the first write, then the known group and the unknown one (the order that also cannot tell
    # its gift card amount is a group of one: no COPY)
    _expect_copies(session, copies, "orders", 3, size)
    assert (rows["0"], rows["1"], rows["2"]) == (shipped, None, shipped + HOUR)
    assert [rows[str(n)] for n in range(size)] == [shipped if n % 3 == 0 else None if n % 3 == 1 else shipped + HOUR
                                   for n in range(size)]
    statuses = dict(session.execute(select(Order.external_id, Order.financial_status)
                                    .where(Order.shop_id == shop.id)).all())
    assert {statuses[str(n)] for n in range(0, size, 3)} == {"refunded"}


def test_a_new_order_that_cannot_tell_starts_unfulfilled(session, shop):
    mirror.apply_orders(session, shop.id, "shopify", [order("1", T0, fulfilled_at=T0,
                                                            unknown_fields=frozenset({"fulfilled_at"}))])
    session.commit()
    assert fulfilments(session, shop) == {"1": None}


# --- from devstore, through the connectors ----------------------------------------------------


@pytest.fixture(scope="module")
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def _apply(session, shop_id: int, platform: str, records) -> None:
    mirror.apply_records(session, shop_id, platform, [r for r in records if not isinstance(r, base.CartCompletion)])
    session.commit()


def test_shopify_media_consent_and_fulfilment_reach_the_mirror(session, devstore, receiver):
    from tests.connectors.shopify.devstore_shop import Shop as ShopifyShop
    from tests.connectors.shopify.devstore_shop import register_app

    store = ShopifyShop(devstore, register_app(devstore, "mirror"), receiver,
                        "read_customers,write_customers,read_orders,read_products")
    try:
        row = Shop(platform="shopify", domain=store.domain, status="active")
        session.add(row)
        session.commit()
        made = store.control("POST", "/products", {"title": "Stoneware Mug", "product_type": "Kitchen",
                                                   "category": "Mugs"})
        placed = store.control("POST", "/orders", {"email": "ada@example.com"})
        # given the mirror filled by a page read
        _apply(session, row.id, "shopify", [*store.paged("products").values(), *store.paged("orders").values()])
        held = session.execute(select(Product).where(Product.shop_id == row.id)).scalar_one()
        assert (held.image_url, held.url, held.categories) == (
            made["image"]["src"], f"https://{store.domain}/products/stoneware-mug", ["Mugs", "Kitchen"])
        # when the product loses its image (a webhook: it cannot tell the URL) and the order ships
        store.control("PATCH", f"/products/{made['id']}", {"image": None})
        fulfillment = store.control("POST", f"/orders/{placed['id']}/fulfillments")
        (product_event,) = store.webhooks("products/update")
        (order_event,) = store.webhooks("orders/updated")
        _apply(session, row.id, "shopify", [*product_event.records, *order_event.records])
        # then the image is gone, the URL kept, and the order fulfilled when it shipped
        session.expire_all()
        held = session.execute(select(Product).where(Product.shop_id == row.id)).scalar_one()
        assert (held.image_url, held.url, held.categories) == (
            None, f"https://{store.domain}/products/stoneware-mug", ["Mugs", "Kitchen"])
        fulfilled = session.execute(select(Order.fulfilled_at).where(Order.shop_id == row.id)).scalar_one()
        assert fulfilled == dt.datetime.fromisoformat(fulfillment["created_at"])
        # when the shopper's unsubscribe is written back and its consent webhook comes
        customer_id = str(placed["customer"]["id"])
        unsubscribed_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(seconds=5)
        [result] = store.connector.set_email_consent(store.credentials, [
            base.ConsentUpdate("ada@example.com", None, base.CONSENT_UNSUBSCRIBED, unsubscribed_at)])
        assert result == base.ConsentResult("ada@example.com", customer_id, base.CONSENT_WRITTEN)
        (consent_event,) = store.webhooks("customers/email_marketing_consent_update")
        _apply(session, row.id, "shopify", consent_event.records)
        # then the mirror holds the store's new consent
        customer = session.execute(select(Customer).where(Customer.shop_id == row.id,
                                                          Customer.external_id == customer_id)).scalar_one()
        assert (customer.email_marketing_state, customer.consent_updated_at) == ("unsubscribed", unsubscribed_at)
    finally:
        store.close()


def test_woocommerce_media_consent_and_completion_reach_the_mirror(session, devstore, receiver, devstore_certificate):
    from tests.connectors.woocommerce.devstore_store import Store

    store = Store(devstore, receiver, devstore_certificate[0])
    try:
        row = Shop(platform="woocommerce", domain=store.credentials.shop_key, status="active")
        session.add(row)
        session.commit()
        made = store.control("POST", "/products", {"name": "Linen Apron", "categories": ["Kitchen", "Aprons"]})
        customer_id = str(store.control("POST", "/customers", {"email": "bo@example.com"})["id"])
        placed = store.control("POST", "/orders", {"customer_id": int(customer_id)})
        # given the mirror filled by a page read
        _apply(session, row.id, "woocommerce", [*store.read("products").values(), *store.read("orders").values(),
                                                *store.read("customers").values()])
        held = session.execute(select(Product).where(Product.shop_id == row.id)).scalar_one()
        assert (held.image_url, held.url, held.categories) == (
            made["images"][0]["src"], made["permalink"], ["Kitchen", "Aprons"])
        # when the order is completed and the shopper unsubscribes (written back as customer meta)
        completed = store.control("PATCH", f"/orders/{placed['id']}", {"status": "completed"})
        [result] = store.connector.set_email_consent(store.credentials, [
            base.ConsentUpdate("bo@example.com", customer_id, base.CONSENT_UNSUBSCRIBED, dt.datetime.now(dt.timezone.utc))])
        assert result.status == base.CONSENT_WRITTEN
        store.drained()
        events = [*store.webhooks("order.updated"), *store.webhooks("customer.updated")]
        _apply(session, row.id, "woocommerce", [r for e in events for r in e.records])
        # then the mirror knows when it was completed and that the shopper unsubscribed
        session.expire_all()
        fulfilled = session.execute(select(Order.fulfilled_at).where(Order.shop_id == row.id)).scalar_one()
        assert fulfilled == dt.datetime.fromisoformat(completed["date_completed_gmt"]).replace(tzinfo=dt.timezone.utc)
        state = session.execute(select(Customer.email_marketing_state).where(
            Customer.shop_id == row.id, Customer.external_id == customer_id)).scalar_one()
        assert state == "unsubscribed"
    finally:
        store.close()

