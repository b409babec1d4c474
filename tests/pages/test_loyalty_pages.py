"""The loyalty pages: the program in forms, saves through the API, previews, member counts, other shops."""

from __future__ import annotations

import copy
import html as markup
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.loyalty import ledger, referrals
from app.loyalty import program as programs
from app.store.models import LoyaltyMember, LoyaltyProgram, Referral
from app.web.pages import i18n

PAGES = ("/admin/loyalty", "/admin/loyalty/rewards", "/admin/loyalty/tiers", "/admin/loyalty/referrals",
         "/admin/loyalty/challenges")
PANEL = Path(__file__).resolve().parents[2] / "app" / "web" / "static" / "widget" / "panel.js"


def _program(shop_id: int) -> programs.Program:
    db.session().expire_all()
    found = programs.current(db.session(), shop_id)
    assert found is not None
    return found


def _change(shop_id: int, **changes) -> None:
    session = db.session()
    programs.update(session, shop_id, changes, actor="test")
    session.commit()


def _versions(shop_id: int) -> int:
    return db.session().execute(select(func.count()).select_from(LoyaltyProgram)
                                .where(LoyaltyProgram.shop_id == shop_id)).scalar_one()


def _inputs(page: str) -> set[str]:
    return set(re.findall(r'<(?:input|select|textarea)[^>]*\sname="([^"]+)"', page))


def _form_api(page: str) -> str:
    return markup.unescape(re.search(r'data-loyalty-api="([^"]+)"', page).group(1))


def _member(shop_id: int, external_id: str, points: int = 0, tier: str | None = None) -> LoyaltyMember:
    """A customer in the program with spendable points (an adjustment, as a merchant makes one)."""
    session = db.session()
    member = ledger.member_for(session, shop_id, customer_external_id=external_id, email=f"{external_id}@example.com")
    member.tier = tier
    if points:
        ledger.adjust(session, shop_id, member.id, points, key=f"gift-{external_id}", actor="test",
                      reason="welcome gift", program=programs.ensure(session, shop_id))
    session.commit()
    return member


def test_every_page_shows_the_current_program(admin):
    # given a program the merchant changed
    rewards = copy.deepcopy(programs.DEFAULTS["rewards"])
    rewards[0].update(name="Tote bag voucher", points=750)
    _change(admin.shop_id, points_per_unit=3, expiry_days=None, rewards=rewards,
            challenges=[{"id": "five-reviews", "name": "Five reviews", "kind": "reviews", "count": 5, "days": None,
                         "points": 80, "badge": "Critic"}])
    # when the merchant opens the pages
    earning, reward_page, tier_page, referral_page, challenge_page = (admin.html(path) for path in PAGES)
    # then the forms hold the stored values, and the preview data is the widget's for them
    assert re.search(r'name="points_per_unit" value="3"', earning)
    assert re.search(r'name="expiry_days" value=""', earning)
    assert 'value="Tote bag voucher"' in reward_page and re.search(r'name="rewards.0.points" value="750"', reward_page)
    assert re.search(r'name="tiers.2.name" value="Gold"', tier_page)
    assert re.search(r'name="referral_advocate_points" value="500"', referral_page)
    assert 'value="Five reviews"' in challenge_page and re.search(r'name="challenges.0.count" value="5"', challenge_page)
    data = json.loads(markup.unescape(re.search(r'id="loyalty-data">(.*?)</script>', reward_page, re.S).group(1)))
    assert data["preview"]["earn"]["per_unit"] == 3
    assert [(r["name"], r["points"]) for r in data["preview"]["rewards"]][0] == ("Tote bag voucher", 750)
    assert _form_api(earning) == "PUT /api/admin/loyalty/program"
    assert _form_api(reward_page) == "PUT /api/admin/loyalty/rewards"


def test_saving_through_the_forms_api_changes_the_stored_program(admin):
    # given the APIs the forms post to
    earning, reward_page, tier_page = (admin.html(path) for path in PAGES[:3])
    method, path = _form_api(earning).split()
    # when the merchant saves the earning rules, the rewards and the tiers as the forms send them
    saved = admin.api(method, path, {"points_per_unit": 2, "pending_days": 30, "expiry_days": None,
                                     "expiry_reminder_days": [14], "exclude_shipping": False,
                                     "widget": {"position": "bottom-left", "primary_color": "#112233"}})
    assert saved.status_code == 200, saved.get_json()
    rewards = copy.deepcopy(programs.DEFAULTS["rewards"])[:2]
    rewards[1].update(points=1200, minimum_subtotal="40")
    method, path = _form_api(reward_page).split()
    assert admin.api(method, path, rewards).status_code == 200
    tiers = copy.deepcopy(programs.DEFAULTS["tiers"])
    tiers[2].update(threshold=2500, perks=["free returns"])
    method, path = _form_api(tier_page).split()
    assert admin.api(method, path, {"tiers": tiers, "tier_grace_days": 10}).status_code == 200
    # then the database holds exactly what was sent
    program = _program(admin.shop_id)
    assert (program["points_per_unit"], program["pending_days"], program["expiry_days"],
            program["expiry_reminder_days"], program["exclude_shipping"]) == (2, 30, None, [14], False)
    assert (program["widget"]["position"], program["widget"]["primary_color"]) == ("bottom-left", "#112233")
    assert [(r["id"], r["points"], r["minimum_subtotal"]) for r in program["rewards"]] == [
        ("5-off", 500, None), ("10-percent", 1200, "40")]
    assert [(t["name"], t["threshold"], t["perks"]) for t in program["tiers"]][2] == ("Gold", 2500, ["free returns"])
    assert program["tier_grace_days"] == 10
    assert program.version == 4


@pytest.mark.parametrize(("page", "body", "field", "name"), [
    ("/admin/loyalty", {"pending_days": 400}, "pending_days", "pending_days"),
    ("/admin/loyalty", {"expiry_days": 10}, "expiry_days", "expiry_days"),
    ("/admin/loyalty", {"widget": {"primary_color": "green"}}, "widget.primary_color", "widget.primary_color"),
    ("/admin/loyalty/rewards", "second-reward-free", "rewards[1].points", "rewards.1.points"),
    ("/admin/loyalty/tiers", "gold-below-silver", "tiers[2].threshold", "tiers.2.threshold"),
    ("/admin/loyalty/referrals", {"referral_friend_reward": {"kind": "percentage", "value": "150",
                                                             "minimum_subtotal": None, "code_days": 30}},
     "referral_friend_reward.value", "referral_friend_reward.value"),
    ("/admin/loyalty/challenges", "challenge-of-nothing", "challenges[0].count", "challenges.0.count"),
])
def test_a_bad_value_is_refused_next_to_the_input_the_form_has(admin, page, body, field, name):
    # given the page's form
    html = admin.html(page)
    method, path = _form_api(html).split()
    if body == "second-reward-free":
        body = copy.deepcopy(programs.DEFAULTS["rewards"])
        body[1]["points"] = 0
    elif body == "gold-below-silver":
        tiers = copy.deepcopy(programs.DEFAULTS["tiers"])
        tiers[2]["threshold"] = 100
        body = {"tiers": tiers}
    elif body == "challenge-of-nothing":
        challenges = copy.deepcopy(programs.DEFAULTS["challenges"])
        challenges[0]["count"] = 0
        body = {"challenges": challenges}
    before = _versions(admin.shop_id)
    # when the bad value is sent where the form sends it
    refused = admin.api(method, path, body)
    # then a 422 names the field, the page has an input of that name, and nothing was stored
    assert (refused.status_code, refused.get_json()["field"]) == (422, field)
    assert name in _inputs(html)
    assert _versions(admin.shop_id) == before
    # and the preview refuses the same draft the same way
    draft = {"rewards": body} if page == "/admin/loyalty/rewards" else body
    previewed = admin.api("POST", "/api/admin/loyalty/preview", draft)
    assert (previewed.status_code, previewed.get_json()["field"]) == (422, field)


def test_the_preview_returns_the_drafts_widget_data_and_saves_nothing(admin):
    # given the stored program
    before = _program(admin.shop_id)
    versions = _versions(admin.shop_id)
    rewards = [{"id": "mug", "name": "A free mug", "kind": "free_product", "points": 900, "value": "0",
                "minimum_subtotal": "20", "code_days": 14, "products": ["p-1"]}]
    tiers = copy.deepcopy(programs.DEFAULTS["tiers"])
    tiers[1].update(name="Silver plus", threshold=800)
    # when the merchant previews a draft
    answer = admin.api("POST", "/api/admin/loyalty/preview", {
        "points_per_unit": 7, "signup_points": 0, "rewards": rewards, "tiers": tiers,
        "widget": {"title": "Club points", "background_color": "#000000"}})
    # then it is what the widget would be told for the draft
    assert answer.status_code == 200, answer.get_json()
    view = answer.get_json()
    assert (view["earn"]["per_unit"], view["earn"]["signup"]) == (7, 0)
    assert view["rewards"] == [{"id": "mug", "name": "A free mug", "kind": "free_product", "points": 900,
                                "products": ["p-1"], "code_days": 14,
                                "minimum_order": {"amount": "20.00", "currency": admin.shop.currency or "USD",
                                                  "shop_amount": "20",
                                                  "shop_currency": admin.shop.currency or "USD"}}]
    assert [(t["name"], t["threshold"]) for t in view["tiers"]] == [("Bronze", 0), ("Silver plus", 800), ("Gold", 2000)]
    assert (view["widget"]["title"], view["widget"]["text_color"]) == ("Club points", "#ffffff")
    # and the database still holds the program as it was
    assert _versions(admin.shop_id) == versions
    assert _program(admin.shop_id) == before


def test_a_change_that_reaches_members_names_how_many(admin):
    # given members: two in Gold, one in Silver, and what they can spend
    assert admin.api("POST", "/api/admin/loyalty/impact", {"expiry_days": 90}).get_json() == {"impacts": []}
    shop = admin.shop_id
    _member(shop, "m-gold-1", 600, "Gold")
    _member(shop, "m-gold-2", 1500, "Gold")
    _member(shop, "m-silver", 400, "Silver")
    _member(shop, "m-bronze", 0, None)
    tiers = copy.deepcopy(programs.DEFAULTS["tiers"])
    tiers[2].update(threshold=3000, multiplier="1.2")
    rewards = [r for r in copy.deepcopy(programs.DEFAULTS["rewards"]) if r["id"] != "5-off"]
    rewards[0]["points"] = 1600  # 10-percent: 1000 -> 1600
    # when the merchant asks what a change would do
    answer = admin.api("POST", "/api/admin/loyalty/impact", {
        "tiers": [tiers[0], tiers[2]], "expiry_days": 180, "rewards": rewards})
    # then each effect counts the members it reaches, from the database
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["impacts"] == [
        {"kind": "tier_removed", "count": 1, "tier": "Silver"},
        {"kind": "tier_threshold_raised", "count": 2, "tier": "Gold", "before": 2000, "after": 3000, "grace_days": 30},
        {"kind": "tier_multiplier_lowered", "count": 2, "tier": "Gold", "before": "1.5", "after": "1.2"},
        {"kind": "expiry_changed", "count": 3, "before": 365, "after": 180},
        {"kind": "reward_removed", "count": 2, "reward": "5 off your order"},
        {"kind": "reward_dearer", "count": 1, "reward": "10% off your order", "before": 1000, "after": 1600},
    ]
    # and nothing was saved; the tiers page shows the members per tier
    assert _versions(admin.shop_id) == 1
    page = admin.html("/admin/loyalty/tiers")
    customers = db.session().execute(select(func.count()).select_from(LoyaltyMember).where(
        LoyaltyMember.shop_id == shop, LoyaltyMember.customer_external_id.is_not(None),
        LoyaltyMember.tier.is_(None))).scalar_one()
    assert 'data-members="Gold">2 members<' in page and 'data-members="Silver">1 member<' in page
    assert f'data-members="Bronze">{customers:,} member' in page
    # and a bad draft is refused with its field, as a save would be
    bad = admin.api("POST", "/api/admin/loyalty/impact", {"tier_grace_days": -1})
    assert (bad.status_code, bad.get_json()["field"]) == (422, "tier_grace_days")


def _blocked_referral(shop_id: int, email: str) -> int:
    """A member refers their own address: the fraud checks hold it back."""
    session = db.session()
    advocate = ledger.member_for(session, shop_id, customer_external_id="advocate-1", email=email)
    code = referrals.code_for(session, advocate)
    made = referrals.invite(session, shop_id, code, email, ip="198.51.100.7")
    session.commit()
    assert made.status == "blocked"
    return made.id


def test_referrals_are_listed_and_decided_and_another_shop_gets_404(admin, other_admin):
    # given a referral held back in this shop
    referral_id = _blocked_referral(admin.shop_id, "self.referrer@example.com")
    page = admin.html("/admin/loyalty/referrals")
    assert f'data-referral="{referral_id}"' in page and "self.referrer@example.com" in page
    assert f'data-api="POST /api/admin/loyalty/referrals/{referral_id}/approve"' in page
    # when another shop's admin tries to approve it, or looks at its own pages
    refused = other_admin.api("POST", f"/api/admin/loyalty/referrals/{referral_id}/approve", {})
    theirs = [other_admin.html(path, status="all") if "referrals" in path else other_admin.html(path)
              for path in PAGES]
    # then it is not found, nothing changed, and no page of theirs shows it
    assert refused.status_code == 404
    db.session().expire_all()
    assert db.session().get(Referral, referral_id).status == "blocked"
    assert all("self.referrer@example.com" not in html and f'data-referral="{referral_id}"' not in html
               for html in theirs)
    # and this shop's admin approves it through the page's form
    approved = admin.api("POST", f"/api/admin/loyalty/referrals/{referral_id}/approve", {})
    assert approved.status_code == 200
    db.session().expire_all()
    assert db.session().get(Referral, referral_id).status == "invited"
    assert f'data-api="POST /api/admin/loyalty/referrals/{referral_id}/approve"' not in admin.html(
        "/admin/loyalty/referrals", status="all")


def test_another_shops_pages_show_none_of_this_shops_program_or_members(admin, other_admin):
    # given this shop's own reward and members in Gold
    rewards = copy.deepcopy(programs.DEFAULTS["rewards"])
    rewards[0]["name"] = "Only-in-shop-one voucher"
    _change(admin.shop_id, rewards=rewards)
    _member(admin.shop_id, "m-gold-1", 600, "Gold")
    _member(admin.shop_id, "m-gold-2", 900, "Gold")
    # when the other shop opens its pages and asks what raising Gold would do
    pages = [other_admin.html(path) for path in PAGES]
    tiers = copy.deepcopy(programs.DEFAULTS["tiers"])
    tiers[2]["threshold"] = 5000
    impact = other_admin.api("POST", "/api/admin/loyalty/impact", {"tiers": tiers, "expiry_days": 90})
    # then only its own program and counts are shown, never this shop's
    assert all("Only-in-shop-one voucher" not in html for html in pages)
    assert 'data-members="Gold">0 members<' in pages[2]
    theirs = db.session().execute(select(func.count()).select_from(LoyaltyMember).where(
        LoyaltyMember.shop_id == other_admin.shop_id, LoyaltyMember.customer_external_id.is_not(None))).scalar_one()
    assert f'data-metric="members">{theirs:,}<' in pages[0]
    assert (impact.status_code, impact.get_json()) == (200, {"impacts": []})
    assert "Only-in-shop-one voucher" in admin.html("/admin/loyalty/rewards")


def test_the_referral_list_pages_by_fifty(admin):
    # given 51 held-back referrals
    session = db.session()
    advocate = ledger.member_for(session, admin.shop_id, customer_external_id="advocate-2", email="adv@example.com")
    session.add_all([Referral(shop_id=admin.shop_id, advocate_id=advocate.id, friend_email=f"friend{i}@example.com",
                              status="blocked", reasons=["more referrals from one address than allowed"])
                     for i in range(51)])
    session.commit()
    # when the merchant opens the list and follows the link to older ones
    first = admin.html("/admin/loyalty/referrals")
    older = markup.unescape(re.search(r'href="([^"]*before=\d+[^"]*)"', first).group(1))
    before = re.search(r"before=(\d+)", older).group(1)
    second = admin.html("/admin/loyalty/referrals", status="blocked", before=before)
    # then fifty, then the last one, newest first
    assert first.count('data-referral="') == 50 and "friend50@example.com" in first
    assert second.count('data-referral="') == 1 and "friend0@example.com" in second
    assert admin.get("/admin/loyalty/referrals", status="nonsense").status_code == 404


def test_the_preview_uses_the_widgets_own_words():
    """The preview's wording is the widget's (panel.js TEXTS), in each language the admin has."""
    panel = PANEL.read_text(encoding="utf-8")
    keys = {"title": "title", "welcome": "welcome", "join": "join", "sign_in": "signIn", "tiers": "tiers",
            "from_points": "fromPoints", "from_spent": "fromSpent", "multiplier": "multiplier",
            "rewards": "rewards", "earn": "earn", "per_unit": "perUnit", "signup": "signup",
            "birthday": "birthday", "review": "review", "refer": "refer", "friend_gets": "friendGets",
            "off": "off", "free_shipping": "freeShipping", "free_product": "freeProduct",
            "variable_off": "variableOff", "min_order": "minOrder"}
    pairs = {"points": "points", "pending_days": "pendingDays"}
    for language in ("en", "de", "fr"):
        block = re.search(rf"\n  {language}: \{{(.*?)\n  \}},", panel, re.S).group(1)
        for ours, theirs in keys.items():
            found = re.search(rf'\b{theirs}: "([^"]*)"', block).group(1)
            assert i18n.translate(language, f"loyalty.w_{ours}") == found, (language, ours)
        for ours, theirs in pairs.items():
            one, other = re.search(rf'\b{theirs}: \[\s*"([^"]*)",\s*"([^"]*)"\]', block).groups()
            assert (i18n.translate(language, f"loyalty.w_{ours}_one"),
                    i18n.translate(language, f"loyalty.w_{ours}_other")) == (one, other), (language, ours)


@pytest.mark.parametrize(("language", "heading", "preview_word"), [("de", "Treueprogramm", "So sammeln Sie Punkte"),
                                                                    ("fr", "Fidélité", "Comment gagner des points")])
def test_the_pages_speak_the_merchants_language(admin, language, heading, preview_word):
    for path in PAGES:
        page = admin.html(path, locale=language)
        assert f"<h1>{heading}</h1>" in page, path
        data = json.loads(markup.unescape(re.search(r'id="loyalty-data">(.*?)</script>', page, re.S).group(1)))
        assert (data["language"], data["words"]["widget"]["earn"]) == (language, preview_word)
