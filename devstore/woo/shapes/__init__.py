"""WooCommerce REST v3 shapes of devstore objects."""
