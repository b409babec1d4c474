"""The home page: its figures are the analytics' figures, each defined; empty states; languages; isolation."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.analytics import cohorts, common, customers
from app.extensions import db, redis_holder
from app.flows import reports
from app.loyalty import ledger, program
from app.store.models import CustomerMetrics, FlowRun, LoyaltyMember, Order, Redemption
from app.store.types import utcnow
from app.web.pages import home
from jobs.segmentation import recompute_due_shops, recompute_segments
from tests.helpers import run_jobs
from tests.pages.conftest import open_admin

CARDS = ("repeat_rate", "returning_revenue", "members", "redemption_rate", "liability", "churn_risk")


def _text(fragment: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def _card(page: str, key: str) -> str:
    start = page.index(f'data-metric="{key}"')
    return page[start:page.index("</details>", start)]


def _value(page: str, key: str) -> str | None:
    found = re.search(r'<p class="value" data-value>(.*?)</p>', _card(page, key))
    return html_lib.unescape(found.group(1)) if found else None


def _section(page: str, section: str) -> str:
    start = page.index(f'id="{section}"')
    return page[start:page.index('<details class="definition">', start)]


def _row(flows: str, key: str) -> str:
    start = flows.index(f'data-flow="{key}"')
    return _text(flows[start:flows.index("</tr>", start)])


def _words(admin, language: str = "en") -> home.Words:
    currency = common.report_currency(db.session(), admin.shop)
    return home.Words(language, currency, admin.shop.timezone)


def _months(shop) -> common.Months:
    timezone = common.zone(shop)
    year, month = common.month_of(utcnow(), timezone)
    return common.months_ending(year, month, home.COHORT_MONTHS, timezone)


def _add_loyalty(shop_id: int) -> list[LoyaltyMember]:
    """Three members with 500 points each; the first redeemed a reward, the second was refused one."""
    session = db.session()
    current = program.ensure(session, shop_id)
    members = [ledger.member_for(session, shop_id, customer_external_id=None, email=f"member{n}@example.com")
               for n in range(3)]
    for member in members:
        assert ledger.award(session, shop_id, member.id, 500, cause="signup", key=f"signup:{member.id}",
                            program=current)
    now = utcnow()
    for member, status in ((members[0], "issued"), (members[1], "refused")):
        session.add(Redemption(shop_id=shop_id, member_id=member.id, idempotency_key=uuid.uuid4().hex,
                               reward_id="five-off", reward={"kind": "fixed_amount", "value": "5"}, points=0,
                               code=f"CB-{uuid.uuid4().hex[:10].upper()}", status=status,
                               expires_at=now + dt.timedelta(days=30), created_at=now))
    session.commit()
    return [member for member in members if member is not None]


def _add_runs(shop_id: int, flow_key: str, holdout: int, recipients: int) -> None:
    """Runs that reached their first step now: ``holdout`` held out, ``recipients`` sent."""
    session = db.session()
    at = utcnow()
    for n in range(holdout + recipients):
        held = n < holdout
        session.add(FlowRun(shop_id=shop_id, flow_key=flow_key, flow_version=1, trigger_key=f"test:{n}",
                            subject_kind="customer", subject_id=f"s{n}", email=f"run{n}@example.com",
                            reference_at=at, started_at=at, is_holdout=held, state="completed",
                            steps=[{"outcome": "held_out" if held else "sent", "at": at.isoformat()}]))
    session.commit()


def test_the_metric_cards_show_what_the_analytics_compute(admin):
    # given the generated store's orders and three loyalty members, one of whom redeemed
    _add_loyalty(admin.shop_id)
    session = db.session()
    now = utcnow()
    repeat = customers.repeat_rate(session, admin.shop, home.WINDOW_DAYS, now)
    split = cohorts.revenue_split(session, admin.shop, _months(admin.shop))
    owed = ledger.liability(session, admin.shop_id)
    high = session.execute(select(func.count()).select_from(CustomerMetrics).where(
        CustomerMetrics.shop_id == admin.shop_id, CustomerMetrics.churn_band == "high")).scalar_one()
    buyers = session.execute(select(func.count()).select_from(CustomerMetrics).where(
        CustomerMetrics.shop_id == admin.shop_id, CustomerMetrics.order_count > 0)).scalar_one()
    words = _words(admin)

    # when the merchant opens the home page
    page = admin.html("/admin")

    # then every card shows the domain's figure, in the shop's currency, with its definition
    assert repeat["customers"] > 0 and buyers > 0
    assert _value(page, "repeat_rate") == words.percent(repeat["rate"])
    assert (f"{repeat['repeat_customers']} of {repeat['customers']} customers ordered twice or more"
            in _text(_card(page, "repeat_rate")))
    returning = sum((Decimal(value) for value in split["returning"]["revenue"]), Decimal("0"))
    total = sum((Decimal(value) for value in split["total"]["revenue"]), Decimal("0"))
    assert total > 0
    assert _value(page, "returning_revenue") == words.money(returning)
    assert f"of {words.money(total)} in the last 12 months" in _text(_card(page, "returning_revenue"))
    assert _value(page, "members") == "3"
    assert _value(page, "redemption_rate") == "33.3%"
    assert "1 of 3 members redeemed a reward" in _text(_card(page, "redemption_rate"))
    assert owed.points == 1500 and owed.amount == Decimal("15.00")
    assert _value(page, "liability") == words.money(Decimal("15.00"))
    assert "1,500 points owed to members" in _text(_card(page, "liability"))
    assert _value(page, "churn_risk") == str(high)
    assert f"of {buyers} customers who ordered" in _text(_card(page, "churn_risk"))
    for key in CARDS:
        assert "<summary>What this means</summary>" in _card(page, key)
    assert "since " in _text(_card(page, "repeat_rate")) and "(the last 365 days)" in _text(_card(page, "repeat_rate"))


def test_the_charts_hold_the_cohorts_the_revenue_split_and_the_rfm_grid(admin):
    # given the generated store, its cohorts, revenue split and computed RFM scores
    session = db.session()
    months = _months(admin.shop)
    found = cohorts.cohorts(session, admin.shop, months)
    split = cohorts.revenue_split(session, admin.shop, months)
    grid = dict(((r, f), count) for r, f, count in session.execute(
        select(CustomerMetrics.r_score, CustomerMetrics.f_score, func.count())
        .where(CustomerMetrics.shop_id == admin.shop_id, CustomerMetrics.r_score.is_not(None))
        .group_by(CustomerMetrics.r_score, CustomerMetrics.f_score)))
    words = _words(admin)

    # when the page opens
    page = admin.html("/admin")

    # then the cohort heatmap has a row per cohort with customers, its size and its shares
    table = _section(page, "cohorts")
    assert '<table class="heatmap">' in table
    rows = re.findall(r'<tr><th scope="row">(.*?)</th><td class="size">(.*?)</td>(.*?)</tr>', table, re.S)
    expected = [cohort for cohort in found["cohorts"] if cohort["customers"]]
    assert [(html_lib.unescape(label), size) for label, size, _ in rows] == [
        (words.month(cohort["cohort"]), str(cohort["customers"])) for cohort in expected]
    for (_, _, cells), cohort in zip(rows, expected, strict=True):
        shown = re.findall(r'<td style="background:#[0-9a-f]{6};color:#(?:000000|ffffff)"[^>]*>(.*?)</td>', cells)
        assert shown == [words.percent(share, 0) for share in cohort["retention"]]
        assert shown[0] == "100%"
    # the revenue chart's data and its table are the split's months
    data = re.search(r'<script type="application/json" id="revenue-data">(.*?)</script>', page, re.S).group(1)
    assert f'"months": {str(split["months"]).replace(chr(39), chr(34))}' in data
    assert [float(value) for value in split["returning"]["revenue"]] == [
        float(value) for value in re.search(r'"returning": \[(.*?)\]', data).group(1).split(", ")]
    table_text = _text(_section(page, "revenue"))
    for label, new, returning in zip(split["months"], split["new"]["revenue"], split["returning"]["revenue"],
                                     strict=True):
        assert f"{words.month(label)} {words.money(new)} {words.money(returning)}" in table_text
    assert 'src="/admin/static/vendor/uPlot.iife.min.js?v=' in page and 'src="/admin/static/home.js?v=' in page
    # and the RFM grid counts customers per (R, F) as their computed scores say
    rfm = _section(page, "rfm")
    cells = [re.findall(r"<td style=[^>]*>(.*?)</td>", row)
             for row in re.findall(r'<tr><th scope="row">R\d</th>(.*?)</tr>', rfm, re.S)]
    assert cells == [[str(grid.get((r, f), 0)) for f in range(1, 6)] for r in (5, 4, 3, 2, 1)]
    assert sum(grid.values()) > 0


def test_flow_lift_shows_its_interval_or_says_the_holdout_is_too_small(admin):
    # given a win-back with 60 customers held out and 40 reached, and a cart flow with only 10 held out
    _add_runs(admin.shop_id, "win_back", holdout=60, recipients=40)
    _add_runs(admin.shop_id, "abandoned_cart", holdout=10, recipients=5)
    _add_runs(admin.shop_id, "points_earned", holdout=0, recipients=7)
    measured = reports.report(db.session(), admin.shop_id, "win_back")
    words = _words(admin)

    # when the page opens
    flows = _section(admin.html("/admin"), "flows")

    # then the win-back's lift is the report's, with its interval and the holdout in words
    win_back = _row(flows, "win_back")
    lower, upper = measured["lift"]["ci95"]
    assert measured["conversion"]["holdout"]["runs"] == 60
    assert f"{words.points(measured['lift']['difference'])} points" in win_back
    assert f"(95 % interval {words.points(lower)} to {words.points(upper)})" in win_back
    assert "Measured against a holdout of 60 customers: 0.0% of 40 recipients ordered, against 0.0% of the holdout." \
        in win_back
    assert words.money("0") in win_back
    # the cart flow says its holdout is too small instead of a number, the notice that it has none
    cart = _row(flows, "abandoned_cart")
    assert cart.startswith('data-flow="abandoned_cart"> Abandoned cart')
    assert "The holdout is too small to measure yet: 10 of the 50 customers needed." in cart
    assert "interval" not in cart and "points" not in cart
    assert "Lift can't be measured: this flow holds nobody out (7 customers received it)." in _row(flows, "points_earned")
    # and flows that never ran are not listed
    assert 'data-flow="birthday"' not in flows


@pytest.mark.parametrize("platform", ["shopify", "woocommerce"])
def test_a_new_shop_is_told_what_will_appear_and_when(platform, app, client, devstore, live_app):
    # given a shop that has just installed, with no orders yet
    fresh = open_admin(platform, app, client, devstore)

    # when its home page opens
    page = fresh.html("/admin")

    # then no card shows a number, each says what will appear, and the charts explain themselves
    for key in CARDS:
        assert _value(page, key) is None
        assert "Appears " in _text(_card(page, key))
    assert "Appears after your first 30 days of orders" in _text(_section(page, "cohorts"))
    assert 'data-empty="revenue"' in page and "Appears after your first orders" in _text(_section(page, "revenue"))
    assert 'data-empty="rfm"' in page and 'data-empty="flows"' in page
    assert "revenue-data" not in page and "uPlot.iife.min.js" not in page
    assert '<table class="heatmap">' not in page


def test_the_page_speaks_the_merchants_language(admin):
    # given a shop with three members holding 1,500 points
    _add_loyalty(admin.shop_id)
    repeat = customers.repeat_rate(db.session(), admin.shop, home.WINDOW_DAYS, utcnow())

    # when it opens in German and in French
    german = admin.html("/admin", locale="de")
    french = admin.html("/admin", locale="fr")

    # then the words and the numbers are written the language's way
    assert "<h1>Übersicht</h1>" in german and '<html lang="de">' in german
    assert "Wiederkaufrate" in german and "<summary>Was das bedeutet</summary>" in german
    assert _value(german, "liability") == _words(admin, "de").money(Decimal("15.00"))
    assert "1.500 Punkte, die Mitgliedern zustehen" in _text(_card(german, "liability"))
    assert _value(german, "redemption_rate") == "33,3 %"
    assert (f"{repeat['repeat_customers']} von {repeat['customers']} Kunden haben zweimal oder öfter bestellt"
            in _text(_card(german, "repeat_rate")))
    assert "<h1>Accueil</h1>" in french and "Taux de réachat" in french
    assert "<summary>Ce que cela signifie</summary>" in french
    assert _value(french, "redemption_rate") == "33,3 %"
    assert "1\u202f500 points dus aux membres" in _card(french, "liability")
    assert "Fidélisation par cohorte" in french


def test_another_shops_session_never_sees_this_shops_figures(admin, other_admin):
    # given this shop's loyalty members and flow runs, and another shop of the same platform
    _add_loyalty(admin.shop_id)
    _add_runs(admin.shop_id, "win_back", holdout=60, recipients=40)
    mine = admin.html("/admin")
    session = db.session()
    theirs_repeat = customers.repeat_rate(session, other_admin.shop, home.WINDOW_DAYS, utcnow())
    my_repeat = customers.repeat_rate(session, admin.shop, home.WINDOW_DAYS, utcnow())
    assert theirs_repeat["customers"] != my_repeat["customers"]

    # when the other shop's merchant opens their home page
    theirs = other_admin.html("/admin")

    # then they see their own figures, none of this shop's members, points, flows or name
    assert (f"{theirs_repeat['repeat_customers']} of {theirs_repeat['customers']} customers"
            in _text(_card(theirs, "repeat_rate")))
    assert (f"{my_repeat['repeat_customers']} of {my_repeat['customers']} customers"
            not in _text(_card(theirs, "repeat_rate")))
    assert _value(mine, "members") == "3" and _value(theirs, "members") is None
    assert _value(theirs, "liability") is None
    assert 'data-flow="win_back"' in mine and 'data-flow="win_back"' not in theirs
    assert (admin.shop.name or admin.shop.domain) not in theirs


def test_order_figures_are_kept_for_minutes_but_a_change_in_kind_shows_at_once(admin):
    # given the page seen once (its order figures now kept for a few minutes)
    session = db.session()
    before = customers.repeat_rate(session, admin.shop, home.WINDOW_DAYS, utcnow())
    first = admin.html("/admin")
    assert "Figures as of " in first

    # when an order is cancelled: then the next view within minutes shows the kept figures and their time
    order = session.execute(select(Order).where(Order.shop_id == admin.shop_id, Order.cancelled_at.is_(None))
                            .order_by(func.coalesce(Order.processed_at, Order.source_created_at).desc())
                            .limit(1)).scalar_one()
    order.cancelled_at = order.updated_at = utcnow()
    session.commit()
    after = customers.repeat_rate(session, admin.shop, home.WINDOW_DAYS, utcnow())
    assert after["orders"] == before["orders"] - 1
    split = cohorts.revenue_split(session, admin.shop, _months(admin.shop))
    total = sum((Decimal(value) for value in split["total"]["revenue"]), Decimal("0"))
    shown_total = f"of {_words(admin).money(total)} in the last 12 months"
    assert shown_total not in _text(_card(first, "returning_revenue"))
    kept = admin.html("/admin")
    assert _card(kept, "repeat_rate") == _card(first, "repeat_rate")
    assert _card(kept, "returning_revenue") == _card(first, "returning_revenue")
    assert re.search(r"Figures as of [^<]*\.", kept).group(0) == re.search(r"Figures as of [^<]*\.", first).group(0)
    # but the shop's first flow runs (a change in kind) are counted at once, with the cancellation
    _add_runs(admin.shop_id, "win_back", holdout=3, recipients=2)
    fresh = admin.html("/admin")
    assert 'data-flow="win_back"' not in _section(first, "flows")
    assert 'data-flow="win_back"' in _section(fresh, "flows")
    assert (f"{after['repeat_customers']} of {after['customers']} customers ordered twice or more"
            in _text(_card(fresh, "repeat_rate")))
    assert shown_total in _text(_card(fresh, "returning_revenue"))


def _kept_keys(shop_id: int) -> list[str]:
    return sorted(key.decode() if isinstance(key, bytes) else key
                  for key in redis_holder.get().scan_iter(f"cb:home:{shop_id}:*"))


def _counts(repeat: dict) -> dict:
    """A repeat rate without its window's limits (which move with the clock)."""
    return {key: value for key, value in repeat.items() if key not in ("from", "to")}


def _squash(markup: str) -> str:
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", markup)).strip()


@pytest.fixture()
def large(admin, monkeypatch):
    """``admin``'s shop treated as too large to compute its order figures while the page renders, none kept."""
    monkeypatch.setattr(home, "INLINE_ORDERS", 1)
    client = redis_holder.get()
    for key in client.scan_iter("cb:home:*"):
        client.delete(key)


def test_a_large_shops_first_view_reserves_boxes_and_the_api_gives_the_figures(admin, large):
    # given a large shop (as far as the page knows) whose order figures are not kept, with three members
    _add_loyalty(admin.shop_id)
    _add_runs(admin.shop_id, "win_back", holdout=60, recipients=40)
    session = db.session()
    now = utcnow()
    repeat = customers.repeat_rate(session, admin.shop, home.WINDOW_DAYS, now)
    split = cohorts.revenue_split(session, admin.shop, _months(admin.shop))
    found = cohorts.cohorts(session, admin.shop, _months(admin.shop))
    words = _words(admin)
    assert repeat["customers"] > 0

    # when the merchant opens the home page
    first = admin.html("/admin")

    # then the live cards show their figures, the order-based ones and charts say "Calculating…" in
    # reserved boxes, an aria-live region and a hidden retry wait for home.js, and nothing was computed
    assert _value(first, "members") == "3" and _value(first, "redemption_rate") == "33.3%"
    for key in ("repeat_rate", "returning_revenue"):
        assert _value(first, key) is None
        assert "Calculating…" in _text(_card(first, key)) and "data-pending-card" in _card(first, key)
        assert "<summary>What this means</summary>" in _card(first, key)
    for section in ("flows", "revenue", "cohorts"):
        assert f'data-pending="{section}"' in _section(first, section)
    assert "The figures from your orders are being calculated." in first and "Figures as of" not in first
    assert 'aria-live="polite"' in first and 'data-source="/api/admin/analytics/home"' in first
    assert re.search(r'<div class="banner critical" role="alert" data-failed hidden>', first)
    assert 'src="/admin/static/vendor/uPlot.iife.min.js?v=' in first and 'src="/admin/static/home.js?v=' in first
    assert "revenue-data" not in first and 'data-flow="win_back"' not in first
    assert _kept_keys(admin.shop_id) == []

    # when home.js asks the API for them
    response = admin.api("GET", "/api/admin/analytics/home?locale=en")

    # then they are the analytics' figures, worded as the page words them, and now kept
    assert response.status_code == 200
    data = response.get_json()
    assert _counts(data["figures"]["repeat"]) == _counts(repeat)
    assert data["figures"]["split"]["months"] == split["months"]
    assert data["figures"]["split"]["returning"]["revenue"] == [str(value) for value in split["returning"]["revenue"]]
    assert [row["customers"] for row in data["figures"]["cohorts"]["cohorts"]] == [
        row["customers"] for row in found["cohorts"]]
    assert data["figures"]["flows"]["win_back"]["runs"] == 100
    assert data["subtitle"].startswith("How many customers come back") and "Figures as of " in data["subtitle"]
    cards = data["html"]["cards"]
    assert sorted(cards) == ["repeat_rate", "returning_revenue"]
    assert f'<p class="value" data-value>{words.percent(repeat["rate"])}</p>' in cards["repeat_rate"]
    assert 'data-flow="win_back"' in data["html"]["flows"]
    assert 'id="revenue-data"' in data["html"]["revenue"] and '<table class="heatmap">' in data["html"]["cohorts"]
    assert len(_kept_keys(admin.shop_id)) == 1

    # when the page is opened again, then it is rendered from what the API kept: the same markup
    second = admin.html("/admin")
    assert "data-pending" not in second and 'id="home-figures"' not in second
    for key in ("repeat_rate", "returning_revenue"):
        assert _squash(cards[key]) in _squash(second)
    for section in ("flows", "revenue", "cohorts"):
        assert _squash(data["html"][section]) in _squash(second)
    assert f'<p class="subdued">{html_lib.escape(data["subtitle"], quote=False)}</p>' in second
    assert _value(second, "repeat_rate") == words.percent(repeat["rate"])


def test_the_home_figures_api_speaks_the_asked_language_and_only_of_its_own_shop(admin, other_admin):
    # given two shops of the same platform with different customers
    session = db.session()
    mine = customers.repeat_rate(session, admin.shop, home.WINDOW_DAYS, utcnow())
    theirs = customers.repeat_rate(session, other_admin.shop, home.WINDOW_DAYS, utcnow())
    assert mine["customers"] != theirs["customers"]

    # when each asks for the home figures (one in German, one with a language the app lacks)
    german = admin.api("GET", "/api/admin/analytics/home?locale=de")
    other = other_admin.api("GET", "/api/admin/analytics/home?locale=xx")

    # then each gets its own shop's figures, in German or, for the unknown language, in English
    assert german.status_code == 200 and other.status_code == 200
    assert _counts(german.get_json()["figures"]["repeat"]) == _counts(mine)
    assert _counts(other.get_json()["figures"]["repeat"]) == _counts(theirs)
    assert german.get_json()["subtitle"].startswith("Wie viele Kunden wiederkommen") and "Stand: " in german.get_json()["subtitle"]
    assert other.get_json()["subtitle"].startswith("How many customers come back")
    assert len(_kept_keys(admin.shop_id)) == 1 and len(_kept_keys(other_admin.shop_id)) == 1


def test_the_home_figures_api_needs_a_session(client):
    # when the API is called without a session token or cookie, then it refuses and computes nothing
    response = client.get("/api/admin/analytics/home")
    assert response.status_code == 401
    assert list(redis_holder.get().scan_iter("cb:home:*")) == []


def test_the_hourly_warm_up_keeps_the_figures_of_shops_whose_home_is_opened(admin, large):
    # given a large shop whose merchant opened the home page (cold: nothing computed)
    assert "data-pending" in admin.html("/admin")
    assert _kept_keys(admin.shop_id) == []

    # when the hourly segments cron runs and its jobs are worked off
    recompute_due_shops()
    assert run_jobs() == []

    # then the shop's order figures are kept until after the next warm-up, and the page shows them at once
    keys = _kept_keys(admin.shop_id)
    assert len(keys) == 1
    assert home.CACHE_SECONDS < redis_holder.get().ttl(keys[0]) <= home.WARM_SECONDS
    repeat = customers.repeat_rate(db.session(), admin.shop, home.WINDOW_DAYS, utcnow())
    page = admin.html("/admin")
    assert "data-pending" not in page and "Figures as of " in page
    assert _value(page, "repeat_rate") == _words(admin).percent(repeat["rate"])


def test_a_full_segments_run_warms_the_home_figures(admin, large):
    # given a large shop whose order figures are not kept
    assert _kept_keys(admin.shop_id) == []

    # when its full segments run is done (as the daily cron or the merchant queues it)
    recompute_segments(admin.shop_id)
    assert run_jobs() == []

    # then its home figures are kept for the warm-up's time and the first view is rendered with them
    keys = _kept_keys(admin.shop_id)
    assert len(keys) == 1 and redis_holder.get().ttl(keys[0]) > home.CACHE_SECONDS
    page = admin.html("/admin")
    assert "data-pending" not in page and _value(page, "repeat_rate") is not None


def test_heatmap_shades_keep_text_readable():
    # given every intensity from 0 to 1, then the chosen text colour contrasts at least 4.5:1
    def luminance(hex_colour: str) -> float:
        def channel(value: int) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
        r, g, b = (int(hex_colour[i:i + 2], 16) for i in (0, 2, 4))
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    for step in range(101):
        style = home._shade(step / 100)
        background, text = re.fullmatch(r"background:#([0-9a-f]{6});color:#([0-9a-f]{6})", style).groups()
        light, dark = sorted((luminance(background), luminance(text)), reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 4.5, style
