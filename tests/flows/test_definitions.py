"""Flow definitions: built-in defaults, field-named refusals, one version per change."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.flows import definitions
from app.store.models import Flow
from app.store.types import utcnow

CART = definitions.ABANDONED_CART


def test_every_shop_gets_every_built_in_enabled_with_its_defaults_once(session, shop):
    installed = utcnow() - dt.timedelta(hours=3)
    flows = definitions.ensure_all(session, shop.id, installed)
    session.commit()
    assert list(flows) == list(definitions.KEYS) == [
        "abandoned_cart", "post_purchase", "win_back", "birthday", "points_earned", "reward_available",
        "points_expiring", "tier_upgrade"]
    assert all(flow.version == 1 and flow.is_enabled and flow.enabled_since == installed and
               flow.created_by == "install" for flow in flows.values())
    cart = flows[CART]
    assert [(s["id"], s["delay_hours"], s["template"], s["incentive"]) for s in cart.steps] == [
        ("reminder-1", 1, "cart_reminder", None), ("reminder-2", 24, "cart_reminder", None),
        ("reminder-3", 72, "cart_reminder", None)]
    assert (cart["holdout_share"], cart["priority"]) == (0.10, 30)
    post = flows[definitions.POST_PURCHASE]
    assert [(s["template"], s["delay_hours"], s["enabled"]) for s in post.steps] == [
        ("thank_you", 1, True), ("review_request", 336, True), ("cross_sell", 720, False)]
    win_back = flows[definitions.WIN_BACK]
    assert (win_back["trigger"], win_back.steps[0]["incentive"]) == (
        {"lapsed_days": 90, "churn_risk_percent": 0, "segment": None}, {"kind": "percentage", "value": "15", "expires_hours": 336, "minimum_subtotal": None})
    assert {flows[key]["holdout_share"] for key in ("points_earned", "reward_available", "points_expiring",
                                                    "tier_upgrade")} == {0.0}
    for key, flow in flows.items():
        definitions.validate(key, flow.settings)  # the defaults pass their own rules
    # a second call (a second worker) adds nothing
    definitions.ensure_all(session, shop.id)
    session.commit()
    assert session.execute(select(func.count()).select_from(Flow)).scalar_one() == len(definitions.KEYS)


def test_a_change_is_a_new_version_and_runs_keep_theirs(session, shop):
    definitions.ensure_all(session, shop.id)
    changed = definitions.update(session, shop.id, CART, {"steps": {"0": {"delay_hours": 2}}, "holdout_share": 0.2},
                                 actor="admin:test")
    session.commit()
    assert (changed.version, changed.steps[0]["delay_hours"], changed.steps[1]["delay_hours"],
            changed["holdout_share"], changed.created_by) == (2, 2, 24, 0.2, "admin:test")
    assert definitions.version(session, shop.id, CART, 1).steps[0]["delay_hours"] == 1
    # the same settings again: no new version
    assert definitions.update(session, shop.id, CART, {"holdout_share": 0.2}, actor="x").version == 2
    # a whole list of steps replaces them (one step only)
    one = definitions.update(session, shop.id, CART, {"steps": [
        {"id": "only", "delay_hours": 3, "template": "cart_reminder"}]}, actor="x")
    assert [(s["id"], s["enabled"], s["conditions"]) for s in one.steps] == [
        ("only", True, {"min_total": None, "unless_clicked": False})]


def test_enabled_since_runs_from_the_last_time_the_flow_was_switched_on(session, shop):
    start = utcnow() - dt.timedelta(days=2)
    definitions.ensure_all(session, shop.id, start)
    assert definitions.update(session, shop.id, CART, {"priority": 5}, actor="x").enabled_since == start
    off = definitions.update(session, shop.id, CART, {"enabled": False}, actor="x")
    assert off.enabled_since is None
    later = utcnow()
    on = definitions.update(session, shop.id, CART, {"enabled": True}, actor="x", now=later)
    assert on.enabled_since == later


@pytest.mark.parametrize(("key", "changes", "field", "message"), [
    (CART, {"steps": {"0": {"delay_hours": -1}}}, "steps[0].delay_hours", "must be from 0 to 8760"),
    (CART, {"steps": {"1": {"delay_hours": 0.5}}}, "steps[1].delay_hours", "must not be less than the step before's"),
    (CART, {"steps": {"0": {"incentive": {"kind": "percentage", "value": "10", "expires_hours": 48}}}},
     "steps[0].incentive", "only the last step may offer a code"),
    (CART, {"steps": {"2": {"incentive": {"kind": "percentage", "value": "80", "expires_hours": 48}}}},
     "steps[2].incentive.value", "a percentage at most 50"),
    (CART, {"steps": {"2": {"incentive": {"kind": "bogo", "expires_hours": 48}}}}, "steps[2].incentive.kind",
     "must be one of percentage, fixed_amount, free_shipping"),
    (CART, {"steps": {"2": {"incentive": {"kind": "fixed_amount", "value": 5.5, "expires_hours": 48}}}},
     "steps[2].incentive.value", "as text"),
    (CART, {"steps": {"2": {"incentive": {"kind": "free_shipping", "expires_hours": 0}}}},
     "steps[2].incentive.expires_hours", "from 1 to 2160"),
    (CART, {"steps": {"0": {"template": "win_back"}}}, "steps[0].template", "must be one of cart_reminder"),
    (CART, {"steps": {"0": {"subject": "x" * 151}}}, "steps[0].subject", "1 to 150 characters"),
    (CART, {"steps": {"0": {"colour": "red"}}}, "steps[0].colour", "unknown step setting"),
    (CART, {"steps": {"7": {"delay_hours": 1}}}, "steps.7", "no such step"),
    (CART, {"steps": {"0": {"conditions": {"min_total": "lots"}}}}, "steps[0].conditions.min_total", "an amount"),
    (CART, {"steps": [{"id": "a", "delay_hours": 1, "template": "cart_reminder", "enabled": False}]}, "steps",
     "at least one step must be enabled"),
    (CART, {"steps": []}, "steps", "1 to 5 steps"),
    (CART, {"holdout_share": 0.9}, "holdout_share", "from 0 to 0.5"),
    (CART, {"holdout_share": "10%"}, "holdout_share", "must be a number"),
    (CART, {"priority": True}, "priority", "whole number"),
    (CART, {"enabled": "yes"}, "enabled", "true or false"),
    (CART, {"delay": 1}, "delay", "unknown setting"),
    (CART, [], "flow", "send a JSON object"),
    (definitions.WIN_BACK, {"steps": {"0": {"incentive": None}}}, "steps[0].incentive", "is required"),
    (definitions.WIN_BACK, {"trigger": {"lapsed_days": 5}}, "trigger.lapsed_days", "from 14 to 730"),
    (definitions.WIN_BACK, {"trigger": {"days": 30}}, "trigger", "must be an object with lapsed_days"),
    (definitions.WIN_BACK, {"trigger": "soon"}, "trigger", "must be an object with lapsed_days"),
    (CART, {"steps": {"0": None}}, "steps.0", "must be an object"),
    (CART, {"steps": ["x"]}, "steps[0]", "must be an object"),
    (CART, {"steps": {"0": {"conditions": "always"}}}, "steps[0].conditions", "must be an object"),
    (definitions.POST_PURCHASE, {"trigger": {"review_url": "javascript:alert(1)"}}, "trigger.review_url",
     "http(s) address"),
    (definitions.POINTS_EARNED, {"steps": {"0": {"incentive": {"kind": "percentage", "value": "5",
                                                               "expires_hours": 24}}}},
     "steps[0].incentive", "this flow offers no incentive"),
])
def test_a_change_a_merchant_could_not_have_meant_is_refused_naming_the_field(session, shop, key, changes, field,
                                                                              message):
    definitions.ensure_all(session, shop.id)
    session.commit()
    with pytest.raises(definitions.FlowError) as refused:
        definitions.update(session, shop.id, key, changes, actor="x")
    assert refused.value.field == field
    assert message in str(refused.value)
    session.rollback()
    assert definitions.current(session, shop.id, key).version == 1  # nothing stored


def test_an_unknown_flow_is_refused(session, shop):
    with pytest.raises(definitions.FlowError) as refused:
        definitions.update(session, shop.id, "newsletter", {"enabled": True}, actor="x")
    assert refused.value.field == "key"


def test_a_cart_reminder_cannot_wait_longer_than_its_restore_link_lives(session, flow_shop):
    steps = [{"id": "r1", "delay_hours": 1, "template": "cart_reminder"},
             {"id": "r2", "delay_hours": 7 * 24 + 1, "template": "cart_reminder"}]
    with pytest.raises(definitions.FlowError) as error:
        definitions.update(session, flow_shop.id, definitions.ABANDONED_CART, {"steps": steps}, actor="test")
    assert error.value.field == "steps[1].delay_hours" and "restore link lives 7 days" in str(error.value)
    steps[1]["delay_hours"] = 7 * 24
    flow = definitions.update(session, flow_shop.id, definitions.ABANDONED_CART, {"steps": steps}, actor="test")
    assert [step["delay_hours"] for step in flow.steps] == [1, 168]
