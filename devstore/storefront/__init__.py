"""The Shopify storefront: pages, shopper sessions, app embeds and the app proxy."""
