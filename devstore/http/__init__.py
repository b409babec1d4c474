"""Flask blueprints: the Shopify-facing routes and the /_devstore control API."""
