"""HTTP blueprints: thin views over the domain functions."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from app.web import (
        admin,
        analytics_admin,
        auth,
        customers_admin,
        errors,
        flows_admin,
        health,
        loyalty_admin,
        loyalty_referrals_admin,
        message_tracking,
        messaging_admin,
        onboarding_admin,
        pages,
        refusals,
        segments_admin,
        storefront,
        storefront_api,
        unsubscribe,
        webhooks,
        widget_assets,
    )

    errors.register(app)
    app.after_request(admin.no_store)
    app.after_request(refusals.translate_response)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(webhooks.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(storefront.blueprint)
    app.register_blueprint(storefront_api.blueprint)
    app.register_blueprint(widget_assets.blueprint)
    app.register_blueprint(loyalty_admin.blueprint)
    app.register_blueprint(loyalty_referrals_admin.blueprint)
    app.register_blueprint(unsubscribe.blueprint)
    app.register_blueprint(message_tracking.blueprint)
    app.register_blueprint(flows_admin.blueprint)
    app.register_blueprint(analytics_admin.blueprint)
    app.register_blueprint(messaging_admin.blueprint)
    app.register_blueprint(segments_admin.blueprint)
    app.register_blueprint(customers_admin.blueprint)
    app.register_blueprint(onboarding_admin.blueprint)
    app.register_blueprint(pages.blueprint)
