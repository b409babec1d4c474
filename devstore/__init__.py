"""devstore: a local fake Shopify (OAuth, GraphQL Admin API, webhooks) over real HTTP."""

from .server import RunningServer, create_app, serve_in_thread

__all__ = ["RunningServer", "create_app", "serve_in_thread"]
