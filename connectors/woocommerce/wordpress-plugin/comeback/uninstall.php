<?php
/**
 * Delete the plugin's options when the plugin is deleted from the Plugins screen.
 *
 * Saved carts are transients (comeback_cart_*) that expire on their own within 7 days.
 *
 * @package Comeback
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

foreach ( array( 'comeback_app_url', 'comeback_store_id', 'comeback_shared_secret' ) as $comeback_option ) {
	delete_option( $comeback_option );
}
delete_transient( 'comeback_activation_notice' );
