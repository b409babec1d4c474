"""The WooCommerce dialect of devstore: stores addressed under /woo/<handle>."""
