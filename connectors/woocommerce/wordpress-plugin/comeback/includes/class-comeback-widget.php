<?php
/**
 * The storefront widget: its configuration and the app's widget script.
 *
 * @package Comeback
 */

defined( 'ABSPATH' ) || exit;

/**
 * Prints the widget configuration in the footer, enqueues <app_url>/widget/comeback.js and
 * applies coupons from the widget's links (?comeback_apply_coupon=<code>).
 *
 * The plugin sets no cookie of its own. The configuration carries a customer token (the
 * X-Comeback-Customer header the widget sends) only for a logged-in shopper: common full-page
 * caches (WP Super Cache, W3 Total Cache, WP Rocket, LiteSpeed, Varnish/hosting rules keyed on
 * the wordpress_logged_in_ cookie) never serve cached pages to logged-in users, and guests get
 * no such header, so a cached guest page never holds anyone's token. nocache_headers() for every visitor would defeat caching of the whole
 * shop for nothing; for logged-in pages we additionally set DONOTCACHEPAGE, which those caching
 * plugins honour, in case one was configured to cache logged-in users too.
 */
final class Comeback_Widget {

	const HANDLE = 'comeback-widget';

	const APPLY_COUPON_PARAM = 'comeback_apply_coupon';

	/**
	 * Hook in on the front end only.
	 */
	public static function init() {
		if ( is_admin() ) {
			return;
		}
		add_action( 'template_redirect', array( __CLASS__, 'keep_token_pages_out_of_caches' ) );
		add_action( 'template_redirect', array( __CLASS__, 'maybe_apply_coupon' ), 5 );
		add_action( 'wp_enqueue_scripts', array( __CLASS__, 'enqueue' ) );
		add_action( 'wp_footer', array( __CLASS__, 'print_config' ), 5 );
		add_filter( 'script_loader_tag', array( __CLASS__, 'add_async_attribute' ), 10, 2 );
	}

	/**
	 * Whether the widget should load on this request.
	 *
	 * @return bool
	 */
	private static function is_active() {
		return Comeback_Settings::is_configured() && ! is_admin() && ! wp_doing_ajax();
	}

	/**
	 * Ask page caches not to store a page that will carry a customer token.
	 */
	public static function keep_token_pages_out_of_caches() {
		if ( self::is_active() && is_user_logged_in() && ! defined( 'DONOTCACHEPAGE' ) ) {
			define( 'DONOTCACHEPAGE', true );
		}
	}

	/**
	 * Enqueue the widget script from the app, async (strategy on WP 6.3+, attribute before).
	 */
	public static function enqueue() {
		if ( ! self::is_active() ) {
			return;
		}
		$src = Comeback_Settings::app_url() . '/widget/comeback.js';
		if ( self::has_script_strategies() ) {
			wp_enqueue_script(
				self::HANDLE,
				$src,
				array(),
				null, // phpcs:ignore WordPress.WP.EnqueuedResourceParameters.MissingVersion -- served and versioned by the app.
				array(
					'in_footer' => true,
					'strategy'  => 'async',
				)
			);
			return;
		}
		wp_enqueue_script( self::HANDLE, $src, array(), null, true ); // phpcs:ignore WordPress.WP.EnqueuedResourceParameters.MissingVersion
	}

	/**
	 * Whether wp_enqueue_script() understands a loading strategy (WordPress 6.3+).
	 *
	 * @return bool
	 */
	private static function has_script_strategies() {
		return version_compare( (string) get_bloginfo( 'version' ), '6.3', '>=' );
	}

	/**
	 * Add "async" to the widget's script tag on WordPress before 6.3.
	 *
	 * @param string $tag    The script tag.
	 * @param string $handle Its handle.
	 * @return string
	 */
	public static function add_async_attribute( $tag, $handle ) {
		if ( self::HANDLE !== $handle || self::has_script_strategies() || false !== strpos( $tag, ' async' ) ) {
			return $tag;
		}
		return str_replace( '<script ', '<script async ', $tag );
	}

	/**
	 * The configuration the widget reads from #comeback-config.
	 *
	 * The same shape on every platform: the widget calls `api` with `headers` on every request
	 * (here the store id, and the customer token for a logged-in shopper) and builds its links
	 * from `links`; applyCode holds the literal placeholder {code}.
	 *
	 * @return array
	 */
	public static function config() {
		$headers = array( 'X-Comeback-Store' => Comeback_Settings::store_id() );
		$token   = self::customer_token();
		if ( null !== $token ) {
			$headers['X-Comeback-Customer'] = $token;
		}
		$account = wc_get_page_permalink( 'myaccount' );
		return array(
			'api'      => Comeback_Settings::app_url() . '/proxy',
			'headers'  => $headers,
			'signedIn' => is_user_logged_in(),
			'locale'   => str_replace( '_', '-', determine_locale() ),
			'currency' => get_woocommerce_currency(),
			'rate'     => null,
			'links'    => array(
				'join'      => $account,
				'signIn'    => $account,
				'cart'      => wc_get_cart_url(),
				'applyCode' => self::apply_coupon_url(),
			),
		);
	}

	/**
	 * The link that applies a coupon: <home>/?comeback_apply_coupon={code}, "{code}" kept literal.
	 *
	 * @return string
	 */
	private static function apply_coupon_url() {
		$home = home_url( '/' );
		return $home . ( false === strpos( $home, '?' ) ? '?' : '&' ) . self::APPLY_COUPON_PARAM . '={code}';
	}

	/**
	 * Apply the coupon of a widget link to the cart, then open the cart page.
	 *
	 * WooCommerce checks the code and leaves its own notice for the cart page ("Coupon code
	 * applied successfully.", 'Coupon "x" does not exist!', ...). No nonce: like a coupon typed
	 * on the cart page, the link only changes the visitor's own cart.
	 */
	public static function maybe_apply_coupon() {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- see above: a link that only touches the visitor's own cart.
		if ( ! isset( $_GET[ self::APPLY_COUPON_PARAM ] ) ) {
			return;
		}
		$raw = is_string( $_GET[ self::APPLY_COUPON_PARAM ] ) ? wp_unslash( $_GET[ self::APPLY_COUPON_PARAM ] ) : ''; // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- sanitized by wc_format_coupon_code below.
		// phpcs:enable WordPress.Security.NonceVerification.Recommended
		$code = wc_format_coupon_code( $raw );
		if ( ! function_exists( 'WC' ) || ! WC()->cart instanceof WC_Cart ) {
			return;
		}
		// A guest has no WooCommerce session until the cart is used: start one so the coupon is kept.
		if ( WC()->session instanceof WC_Session_Handler && ! WC()->session->has_session() ) {
			WC()->session->set_customer_session_cookie( true );
		}
		WC()->cart->apply_coupon( $code );
		wp_safe_redirect( wc_get_cart_url() );
		exit;
	}

	/**
	 * A fresh customer token for the logged-in user; null for guests.
	 *
	 * @return string|null
	 */
	private static function customer_token() {
		$user = wp_get_current_user();
		if ( ! $user->exists() || '' === (string) $user->user_email ) {
			return null;
		}
		try {
			return Comeback_Signing::sign_customer_token(
				Comeback_Settings::secret(),
				Comeback_Settings::store_id(),
				(int) $user->ID,
				(string) $user->user_email,
				time() + Comeback_Signing::TOKEN_LIFETIME_SECONDS
			);
		} catch ( InvalidArgumentException $e ) {
			return null; // An address the token cannot carry (contains "|"): the widget runs as for a guest.
		}
	}

	/**
	 * Print the configuration as JSON that cannot close the script element.
	 */
	public static function print_config() {
		if ( ! self::is_active() ) {
			return;
		}
		$json = wp_json_encode( self::config(), JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT | JSON_UNESCAPED_SLASHES );
		if ( false === $json ) {
			return;
		}
		// JSON_HEX_TAG escapes "<" and ">", so the data cannot end the element; esc_html would corrupt the JSON.
		echo '<script id="comeback-config" type="application/json">' . $json . '</script>' . "\n"; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped
	}
}
