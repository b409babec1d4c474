"""The WooCommerce connector: wc-auth keys, REST v3, webhooks, coupons, customer meta."""
