<?php
/**
 * Cart capture, the checkout opt-in, the final order event and cart-restore links.
 *
 * @package Comeback
 */

defined( 'ABSPATH' ) || exit;

/**
 * Sends cart events to <app_url>/proxy/cart-events and restores carts from signed links.
 *
 * Cart hooks fire several times per request (and woocommerce_cart_updated on every cart
 * page view), so they only mark the cart as changed; one event is sent at shutdown, and only
 * when its content differs from the last event sent for this session.
 */
final class Comeback_Carts {

	const SESSION_TOKEN     = 'comeback_cart_token';
	const SESSION_HASH      = 'comeback_last_event_hash';
	const SESSION_EMAIL     = 'comeback_email';
	const SESSION_CONSENT   = 'comeback_consent';
	const TRANSIENT_PREFIX  = 'comeback_cart_';
	const AJAX_ACTION       = 'comeback_capture_email';
	const OPT_IN_FIELD      = 'comeback_reminder_opt_in';
	const ORDER_META_TOKEN  = '_comeback_cart_token';
	const ORDER_META_SENT   = '_comeback_order_event_sent';
	const SCRIPT_HANDLE     = 'comeback-capture';
	const CART_CHANGE_HOOKS = array(
		'woocommerce_cart_updated',
		'woocommerce_add_to_cart',
		'woocommerce_cart_item_removed',
		'woocommerce_after_cart_item_quantity_update',
	);

	/**
	 * Whether a cart hook fired during this request.
	 *
	 * @var bool
	 */
	private static $changed = false;

	/**
	 * Hook in when the store is connected.
	 */
	public static function init() {
		if ( ! Comeback_Settings::is_configured() ) {
			return;
		}
		foreach ( self::CART_CHANGE_HOOKS as $hook ) {
			add_action( $hook, array( __CLASS__, 'mark_changed' ), 20, 0 );
		}
		add_action( 'shutdown', array( __CLASS__, 'send_if_changed' ), 5 );
		add_filter( 'woocommerce_checkout_fields', array( __CLASS__, 'add_opt_in_field' ) );
		add_action( 'wp_enqueue_scripts', array( __CLASS__, 'enqueue_capture_script' ) );
		add_action( 'wp_ajax_' . self::AJAX_ACTION, array( __CLASS__, 'ajax_capture_email' ) );
		add_action( 'wp_ajax_nopriv_' . self::AJAX_ACTION, array( __CLASS__, 'ajax_capture_email' ) );
		add_action( 'woocommerce_checkout_order_processed', array( __CLASS__, 'order_processed' ), 20, 1 );
		add_action( 'woocommerce_store_api_checkout_order_processed', array( __CLASS__, 'order_processed' ), 20, 1 );
		add_action( 'woocommerce_thankyou', array( __CLASS__, 'order_processed' ), 20, 1 );
		add_action( 'template_redirect', array( __CLASS__, 'maybe_restore' ), 5 );
	}

	/* --------------------------------------------------------------- capture */

	/**
	 * Note that the cart changed; the event goes out once, at shutdown.
	 */
	public static function mark_changed() {
		self::$changed = true;
	}

	/**
	 * Send the cart event if the cart changed during this request.
	 */
	public static function send_if_changed() {
		if ( self::$changed ) {
			self::$changed = false;
			self::send_cart_event( false );
		}
	}

	/**
	 * Send the current cart unless it is unchanged since the last event (or $force).
	 *
	 * An empty cart gets no token: only a cart that was sent before reports being emptied.
	 *
	 * @param bool $force Send even when the content is unchanged (consent just changed).
	 */
	private static function send_cart_event( $force ) {
		$session = self::session();
		$cart    = function_exists( 'WC' ) ? WC()->cart : null;
		if ( null === $session || ! $cart instanceof WC_Cart ) {
			return;
		}
		if ( $cart->is_empty() && '' === (string) $session->get( self::SESSION_TOKEN, '' ) ) {
			$session->set( self::SESSION_HASH, null );
			return;
		}
		$token = self::cart_token( $session );
		$lines = self::lines_from_cart( $cart );
		$event = self::event( $token, $lines, (float) $cart->get_total( 'edit' ), get_woocommerce_currency(), null );
		$hash  = self::content_hash( $event );
		if ( ! $force && $session->get( self::SESSION_HASH ) === $hash ) {
			return;
		}
		$session->set( self::SESSION_TOKEN, $token );
		$session->set( self::SESSION_HASH, $hash );
		self::remember_lines( $token, $lines );
		self::post( $event );
	}

	/**
	 * The cart token of the WC session, or a new one (32 random letters and digits).
	 *
	 * A new token is stored in the session only once an event carrying it is sent.
	 *
	 * @param WC_Session $session The WooCommerce session.
	 * @return string
	 */
	private static function cart_token( $session ) {
		$token = (string) $session->get( self::SESSION_TOKEN, '' );
		return Comeback_Signing::is_cart_token( $token ) ? $token : wp_generate_password( 32, false, false );
	}

	/**
	 * The WooCommerce session, or null outside a front-end request.
	 *
	 * @return WC_Session|null
	 */
	private static function session() {
		if ( ! function_exists( 'WC' ) || ! WC()->session instanceof WC_Session ) {
			return null;
		}
		return WC()->session;
	}

	/**
	 * Cart lines as sent, plus what restoring needs (variation attributes).
	 *
	 * @param WC_Cart $cart The cart.
	 * @return array
	 */
	private static function lines_from_cart( $cart ) {
		$lines = array();
		foreach ( $cart->get_cart() as $item ) {
			$product = isset( $item['data'] ) ? $item['data'] : null;
			if ( ! $product instanceof WC_Product ) {
				continue;
			}
			$lines[] = array(
				'product_id'   => (int) $item['product_id'],
				'variation_id' => (int) $item['variation_id'],
				'name'         => $product->get_name(),
				'quantity'     => (int) $item['quantity'],
				'price'        => (float) wc_get_price_to_display( $product ),
				'variation'    => isset( $item['variation'] ) ? (array) $item['variation'] : array(),
			);
		}
		return $lines;
	}

	/**
	 * The lines of an order, in the same shape.
	 *
	 * @param WC_Order $order The order.
	 * @return array
	 */
	private static function lines_from_order( $order ) {
		$incl_tax = 'incl' === get_option( 'woocommerce_tax_display_cart' );
		$lines    = array();
		foreach ( $order->get_items() as $item ) {
			if ( ! $item instanceof WC_Order_Item_Product ) {
				continue;
			}
			$lines[] = array(
				'product_id'   => (int) $item->get_product_id(),
				'variation_id' => (int) $item->get_variation_id(),
				'name'         => $item->get_name(),
				'quantity'     => (int) $item->get_quantity(),
				'price'        => (float) $order->get_item_subtotal( $item, $incl_tax ),
				'variation'    => array(),
			);
		}
		return $lines;
	}

	/**
	 * The event for the given cart content (see Comeback_Cart_Event and README.md).
	 *
	 * @param string   $token    Cart token.
	 * @param array    $lines    From lines_from_cart() or lines_from_order().
	 * @param float    $total    Total.
	 * @param string   $currency Currency code.
	 * @param int|null $order_id Order the cart became, if any.
	 * @return array
	 */
	private static function event( $token, array $lines, $total, $currency, $order_id ) {
		$session = self::session();
		$consent = null !== $session && true === $session->get( self::SESSION_CONSENT, false );
		return Comeback_Cart_Event::build(
			array(
				'cart_token'  => $token,
				'updated_at'  => time(),
				'currency'    => $currency,
				'total'       => $total,
				'decimals'    => wc_get_price_decimals(),
				'email'       => $consent ? (string) $session->get( self::SESSION_EMAIL, '' ) : null,
				'consent'     => $consent,
				'customer_id' => get_current_user_id(),
				'lines'       => $lines,
				'restore_url' => self::restore_url( $token ),
				'order_id'    => $order_id,
			)
		);
	}

	/**
	 * A hash of the cart content of an event (not its token, time or fresh link).
	 *
	 * Without the token, a cart left as it was after its order (payment pending at a gateway)
	 * is not sent again under the new token; a change to it is.
	 *
	 * @param array $event The event.
	 * @return string
	 */
	private static function content_hash( array $event ) {
		unset( $event['cart_token'], $event['updated_at'], $event['restore_url'] );
		return md5( (string) wp_json_encode( $event ) );
	}

	/**
	 * A signed restore link for the cart, valid for 7 days (filter comeback_restore_link_lifetime).
	 *
	 * @param string $token Cart token.
	 * @return string
	 */
	private static function restore_url( $token ) {
		$lifetime = (int) apply_filters( 'comeback_restore_link_lifetime', Comeback_Signing::RESTORE_LIFETIME_SECONDS );
		try {
			return Comeback_Signing::sign_restore_link(
				Comeback_Settings::secret(),
				Comeback_Settings::store_id(),
				home_url( '/' ),
				$token,
				time() + max( 60, $lifetime )
			);
		} catch ( InvalidArgumentException $e ) {
			return '';
		}
	}

	/**
	 * Keep the lines last sent for this cart for 7 days, so that its restore link works.
	 *
	 * @param string $token Cart token.
	 * @param array  $lines Lines with variation attributes.
	 */
	private static function remember_lines( $token, array $lines ) {
		set_transient( self::TRANSIENT_PREFIX . $token, $lines, Comeback_Signing::RESTORE_LIFETIME_SECONDS );
	}

	/**
	 * POST the event to the app, signed, without waiting for the answer.
	 *
	 * @param array $event The event.
	 */
	private static function post( array $event ) {
		$body    = Comeback_Cart_Event::encode( $event );
		$headers = Comeback_Signing::request_headers( Comeback_Settings::secret(), Comeback_Settings::store_id(), $body, time() );
		wp_remote_post(
			Comeback_Settings::app_url() . '/proxy/cart-events',
			array(
				'timeout'     => 3,
				'blocking'    => false,
				'headers'     => array_merge( array( 'Content-Type' => 'application/json' ), $headers ),
				'body'        => $body,
				'data_format' => 'body',
			)
		);
	}

	/* ---------------------------------------------------------- checkout opt-in */

	/**
	 * Add the reminder opt-in checkbox right after the billing e-mail field.
	 *
	 * @param array $fields Checkout fields.
	 * @return array
	 */
	public static function add_opt_in_field( $fields ) {
		if ( ! is_array( $fields ) || ! isset( $fields['billing'] ) ) {
			return $fields;
		}
		$after   = isset( $fields['billing']['billing_email']['priority'] ) ? (int) $fields['billing']['billing_email']['priority'] : 110;
		$session = self::session();
		$fields['billing'][ self::OPT_IN_FIELD ] = array(
			'type'     => 'checkbox',
			'label'    => apply_filters( 'comeback_opt_in_text', __( "Email me a reminder if I don't finish my order", 'comeback' ) ),
			'required' => false,
			'class'    => array( 'form-row-wide' ),
			'priority' => $after + 1,
			'default'  => ( null !== $session && true === $session->get( self::SESSION_CONSENT, false ) ) ? 1 : 0,
		);
		return $fields;
	}

	/**
	 * Load the capture script on the checkout page.
	 */
	public static function enqueue_capture_script() {
		if ( ! function_exists( 'is_checkout' ) || ! is_checkout() || is_order_received_page() ) {
			return;
		}
		wp_enqueue_script(
			self::SCRIPT_HANDLE,
			plugins_url( 'assets/comeback-capture.js', COMEBACK_PLUGIN_FILE ),
			array(),
			COMEBACK_VERSION,
			true
		);
		$config = array(
			'ajaxUrl' => admin_url( 'admin-ajax.php' ),
			'action'  => self::AJAX_ACTION,
			'nonce'   => wp_create_nonce( self::AJAX_ACTION ),
			'emailId' => 'billing_email',
			'boxId'   => self::OPT_IN_FIELD,
		);
		wp_add_inline_script( self::SCRIPT_HANDLE, 'window.comebackCapture = ' . wp_json_encode( $config, JSON_HEX_TAG ) . ';', 'before' );
	}

	/**
	 * Record the shopper's e-mail and consent (or its withdrawal) and send the cart at once.
	 */
	public static function ajax_capture_email() {
		check_ajax_referer( self::AJAX_ACTION, 'nonce' );
		if ( null === WC()->cart && function_exists( 'wc_load_cart' ) ) {
			wc_load_cart();
		}
		$session = self::session();
		if ( null === $session ) {
			wp_send_json_error( array( 'message' => 'no session' ), 400 );
		}
		$consent = isset( $_POST['consent'] ) && '1' === sanitize_text_field( wp_unslash( $_POST['consent'] ) );
		$email   = isset( $_POST['email'] ) ? sanitize_email( wp_unslash( $_POST['email'] ) ) : '';
		if ( $consent && ! is_email( $email ) ) {
			wp_send_json_error( array( 'message' => 'invalid email' ), 400 );
		}
		$session->set( self::SESSION_CONSENT, $consent );
		$session->set( self::SESSION_EMAIL, $consent ? $email : '' );
		self::send_cart_event( true );
		wp_send_json_success();
	}

	/* ------------------------------------------------------------ final event */

	/**
	 * Send the final event of a cart that became an order, once per order; start a new cart token.
	 *
	 * Hooked to woocommerce_checkout_order_processed (classic checkout), its Store API twin
	 * (block checkout) and woocommerce_thankyou as a fallback.
	 *
	 * @param int|WC_Order $order_or_id The order or its id.
	 */
	public static function order_processed( $order_or_id ) {
		$order = $order_or_id instanceof WC_Order ? $order_or_id : wc_get_order( $order_or_id );
		if ( ! $order instanceof WC_Order || $order->get_meta( self::ORDER_META_SENT ) ) {
			return;
		}
		$session = self::session();
		$token   = (string) $order->get_meta( self::ORDER_META_TOKEN );
		if ( '' === $token && null !== $session ) {
			$token = (string) $session->get( self::SESSION_TOKEN, '' );
		}
		if ( ! Comeback_Signing::is_cart_token( $token ) ) {
			return;
		}
		$event = self::event( $token, self::lines_from_order( $order ), (float) $order->get_total(), $order->get_currency(), $order->get_id() );
		if ( $event['consent'] && '' !== $order->get_billing_email() ) {
			$event['email'] = $order->get_billing_email();
		}
		$order->update_meta_data( self::ORDER_META_TOKEN, $token );
		$order->update_meta_data( self::ORDER_META_SENT, 1 );
		$order->save();
		self::post( $event );
		if ( null !== $session && $session->get( self::SESSION_TOKEN ) === $token ) {
			$session->set( self::SESSION_TOKEN, null ); // The next cart is a new cart; the hash is kept (see content_hash()).
		}
		self::$changed = false;
	}

	/* ------------------------------------------------------------------ restore */

	/**
	 * Restore the cart of a signed link, then go to the cart page (with a notice if it failed).
	 */
	public static function maybe_restore() {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- the link carries an HMAC signature instead of a nonce.
		if ( ! isset( $_GET[ Comeback_Signing::RESTORE_PARAM ] ) ) {
			return;
		}
		$token     = sanitize_text_field( wp_unslash( $_GET[ Comeback_Signing::RESTORE_PARAM ] ) );
		$expires   = isset( $_GET['expires'] ) ? sanitize_text_field( wp_unslash( $_GET['expires'] ) ) : '';
		$signature = isset( $_GET['signature'] ) ? sanitize_text_field( wp_unslash( $_GET['signature'] ) ) : '';
		// phpcs:enable WordPress.Security.NonceVerification.Recommended
		try {
			Comeback_Signing::verify_restore_signature( Comeback_Settings::secret(), Comeback_Settings::store_id(), $token, $expires, $signature, time() );
		} catch ( Comeback_Signature_Exception $e ) {
			self::redirect_to_cart( __( 'This cart link has expired or is not valid any more.', 'comeback' ) );
		}
		$lines = get_transient( self::TRANSIENT_PREFIX . $token );
		if ( ! is_array( $lines ) || array() === $lines || ! self::refill_cart( $token, $lines ) ) {
			self::redirect_to_cart( __( 'We could not find the products of this cart any more.', 'comeback' ) );
		}
		self::redirect_to_cart( '' );
	}

	/**
	 * Empty the cart, add the saved lines and adopt the link's cart token for this session.
	 *
	 * @param string $token Cart token.
	 * @param array  $lines Saved lines.
	 * @return bool Whether at least one line could be added.
	 */
	private static function refill_cart( $token, array $lines ) {
		$session = self::session();
		$cart    = WC()->cart;
		if ( null === $session || ! $cart instanceof WC_Cart ) {
			return false;
		}
		if ( ! $session->has_session() ) {
			$session->set_customer_session_cookie( true );
		}
		$cart->empty_cart();
		$added = 0;
		foreach ( $lines as $line ) {
			$added += self::add_line( $cart, (array) $line ) ? 1 : 0;
		}
		$session->set( self::SESSION_TOKEN, $token );
		return $added > 0;
	}

	/**
	 * Add one saved line to the cart; false when the product cannot be bought any more.
	 *
	 * @param WC_Cart $cart The cart.
	 * @param array   $line product_id, variation_id, quantity, variation.
	 * @return bool
	 */
	private static function add_line( $cart, array $line ) {
		$product_id = isset( $line['product_id'] ) ? absint( $line['product_id'] ) : 0;
		$quantity   = isset( $line['quantity'] ) ? max( 1, absint( $line['quantity'] ) ) : 1;
		if ( 0 === $product_id ) {
			return false;
		}
		try {
			return false !== $cart->add_to_cart(
				$product_id,
				$quantity,
				isset( $line['variation_id'] ) ? absint( $line['variation_id'] ) : 0,
				isset( $line['variation'] ) ? (array) $line['variation'] : array()
			);
		} catch ( Exception $e ) {
			return false; // add_to_cart() throws for products that were deleted or cannot be purchased.
		}
	}

	/**
	 * Redirect to the cart page, with a notice when given, and stop.
	 *
	 * @param string $notice Translated notice, or ''.
	 */
	private static function redirect_to_cart( $notice ) {
		if ( '' !== $notice && function_exists( 'wc_add_notice' ) ) {
			wc_add_notice( $notice, 'notice' );
		}
		wp_safe_redirect( wc_get_cart_url() );
		exit;
	}
}
