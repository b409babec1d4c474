"""Shopify connector: the only package that knows Shopify's API, topics and payloads."""
