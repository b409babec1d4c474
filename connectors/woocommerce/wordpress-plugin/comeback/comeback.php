<?php
/**
 * Plugin Name:          Comeback for WooCommerce
 * Description:          Connects the store to Comeback: cart capture for reminder e-mails, signed cart-restore links and the storefront widget.
 * Version:              1.0.0
 * Requires at least:    6.2
 * Requires PHP:         7.4
 * Requires Plugins:     woocommerce
 * Author:               Comeback
 * License:              GPLv2 or later
 * License URI:          https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:          comeback
 * Domain Path:          /languages
 * WC requires at least: 7.0
 *
 * @package Comeback
 */

defined( 'ABSPATH' ) || exit;

define( 'COMEBACK_VERSION', '1.0.0' );
define( 'COMEBACK_PLUGIN_FILE', __FILE__ );
define( 'COMEBACK_PLUGIN_DIR', plugin_dir_path( __FILE__ ) );

require_once COMEBACK_PLUGIN_DIR . 'includes/class-comeback-signing.php';
require_once COMEBACK_PLUGIN_DIR . 'includes/class-comeback-cart-event.php';
require_once COMEBACK_PLUGIN_DIR . 'includes/class-comeback-settings.php';
require_once COMEBACK_PLUGIN_DIR . 'includes/class-comeback-widget.php';
require_once COMEBACK_PLUGIN_DIR . 'includes/class-comeback-carts.php';

/**
 * Start the plugin once WooCommerce is loaded; do nothing without it.
 */
function comeback_init() {
	if ( ! class_exists( 'WooCommerce' ) ) {
		return;
	}
	Comeback_Settings::init();
	Comeback_Widget::init();
	Comeback_Carts::init();
}
add_action( 'plugins_loaded', 'comeback_init' );

/**
 * Declare compatibility with WooCommerce's order tables (HPOS): orders are only read through WC_Order.
 */
function comeback_declare_compatibility() {
	if ( class_exists( '\Automattic\WooCommerce\Utilities\FeaturesUtil' ) ) {
		\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', COMEBACK_PLUGIN_FILE, true );
	}
}
add_action( 'before_woocommerce_init', 'comeback_declare_compatibility' );

/**
 * Create the options (not autoloaded twice if they exist) and ask the merchant to connect.
 */
function comeback_activate() {
	foreach ( Comeback_Settings::OPTIONS as $option ) {
		add_option( $option, '' );
	}
	set_transient( 'comeback_activation_notice', 1, DAY_IN_SECONDS );
}
register_activation_hook( __FILE__, 'comeback_activate' );

/**
 * Drop the "connect" notice; settings and saved carts stay until the plugin is deleted (uninstall.php).
 */
function comeback_deactivate() {
	delete_transient( 'comeback_activation_notice' );
}
register_deactivation_hook( __FILE__, 'comeback_deactivate' );
