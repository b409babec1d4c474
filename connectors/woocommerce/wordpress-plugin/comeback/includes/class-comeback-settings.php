<?php
/**
 * The three connection settings, their screen under WooCommerce and their WC REST API group.
 *
 * The app fills the settings in during "Connect to Comeback" over the WooCommerce REST API:
 * PUT /wp-json/wc/v3/settings/comeback/comeback_shared_secret {"value": "..."}. Once connected,
 * "Open Comeback" posts to admin-post.php?action=comeback_open, which signs the current user into
 * the Comeback admin with a link minted at that moment (it lives 60 seconds).
 *
 * @package Comeback
 */

defined( 'ABSPATH' ) || exit;

/**
 * Options, settings screen and REST settings group.
 */
final class Comeback_Settings {

	const APP_URL  = 'comeback_app_url';
	const STORE_ID = 'comeback_store_id';
	const SECRET   = 'comeback_shared_secret';
	const OPTIONS  = array( self::APP_URL, self::STORE_ID, self::SECRET );
	const GROUP    = 'comeback';
	const PAGE     = 'comeback';
	const OPEN     = 'comeback_open';

	/**
	 * Hook everything in.
	 */
	public static function init() {
		// Sanitizers run inside update_option(), so they also guard writes from the REST API.
		add_filter( 'sanitize_option_' . self::APP_URL, array( __CLASS__, 'sanitize_app_url' ), 10, 1 );
		add_filter( 'sanitize_option_' . self::STORE_ID, array( __CLASS__, 'sanitize_store_id' ), 10, 1 );
		add_filter( 'sanitize_option_' . self::SECRET, array( __CLASS__, 'sanitize_secret' ), 10, 1 );
		add_filter( 'woocommerce_settings_groups', array( __CLASS__, 'rest_groups' ) );
		add_filter( 'woocommerce_settings-' . self::GROUP, array( __CLASS__, 'rest_settings' ) );
		add_action( 'admin_init', array( __CLASS__, 'register' ) );
		add_action( 'admin_menu', array( __CLASS__, 'add_menu' ), 60 );
		add_action( 'admin_notices', array( __CLASS__, 'activation_notice' ) );
		add_action( 'admin_post_' . self::OPEN, array( __CLASS__, 'open_app' ) );
		add_filter( 'option_page_capability_' . self::GROUP, array( __CLASS__, 'capability' ) );
	}

	/* ------------------------------------------------------------------ values */

	/**
	 * The app URL without a trailing slash ('' when not set).
	 *
	 * @return string
	 */
	public static function app_url() {
		return untrailingslashit( (string) get_option( self::APP_URL, '' ) );
	}

	/**
	 * The app's store id ('' when not set).
	 *
	 * @return string
	 */
	public static function store_id() {
		return (string) get_option( self::STORE_ID, '' );
	}

	/**
	 * The shared secret ('' when not set).
	 *
	 * @return string
	 */
	public static function secret() {
		return (string) get_option( self::SECRET, '' );
	}

	/**
	 * Whether all three settings are present.
	 *
	 * @return bool
	 */
	public static function is_configured() {
		return '' !== self::app_url() && '' !== self::store_id() && '' !== self::secret();
	}

	/**
	 * The capability of every Comeback admin screen and of saving its form.
	 *
	 * @return string
	 */
	public static function capability() {
		return 'manage_woocommerce';
	}

	/* -------------------------------------------------------------- sanitizing */

	/**
	 * Accept an http(s) app URL; https is required except with WP_DEBUG or on localhost.
	 *
	 * @param mixed $value Submitted value.
	 * @return string The clean URL, or the previous value when the submission is not acceptable.
	 */
	public static function sanitize_app_url( $value ) {
		$url = untrailingslashit( esc_url_raw( trim( (string) $value ), array( 'https', 'http' ) ) );
		if ( '' === trim( (string) $value ) ) {
			return '';
		}
		if ( '' === $url || ! self::is_allowed_scheme( $url ) ) {
			self::reject( self::APP_URL, __( 'The Comeback app URL must be an https:// URL.', 'comeback' ) );
			return (string) get_option( self::APP_URL, '' );
		}
		return $url;
	}

	/**
	 * Whether the URL is https, or http on a development setup.
	 *
	 * @param string $url Candidate URL.
	 * @return bool
	 */
	private static function is_allowed_scheme( $url ) {
		$scheme = wp_parse_url( $url, PHP_URL_SCHEME );
		$host   = (string) wp_parse_url( $url, PHP_URL_HOST );
		if ( 'https' === $scheme ) {
			return '' !== $host;
		}
		$local = in_array( $host, array( 'localhost', '127.0.0.1', '[::1]' ), true ) || '.localhost' === substr( $host, -10 );
		return 'http' === $scheme && ( $local || ( defined( 'WP_DEBUG' ) && WP_DEBUG ) );
	}

	/**
	 * Accept a decimal store id.
	 *
	 * @param mixed $value Submitted value.
	 * @return string
	 */
	public static function sanitize_store_id( $value ) {
		$id = trim( (string) $value );
		if ( '' === $id || preg_match( '/^[0-9]{1,20}$/D', $id ) ) {
			return $id;
		}
		self::reject( self::STORE_ID, __( 'The Comeback store id must be a number.', 'comeback' ) );
		return self::store_id();
	}

	/**
	 * Accept a new secret; an empty submission keeps the current one (the field is masked).
	 *
	 * @param mixed $value Submitted value.
	 * @return string
	 */
	public static function sanitize_secret( $value ) {
		$secret = trim( sanitize_text_field( (string) $value ) );
		if ( '' === $secret ) {
			return self::secret();
		}
		if ( strlen( $secret ) < 16 ) {
			self::reject( self::SECRET, __( 'The Comeback shared secret is too short.', 'comeback' ) );
			return self::secret();
		}
		return $secret;
	}

	/**
	 * Report a rejected value on the settings screen (outside wp-admin there is no screen to report on).
	 *
	 * @param string $option  Option name.
	 * @param string $message Translated message.
	 */
	private static function reject( $option, $message ) {
		if ( function_exists( 'add_settings_error' ) ) {
			add_settings_error( $option, $option . '_invalid', $message );
		}
	}

	/* ----------------------------------------------------------- REST settings */

	/**
	 * Add the "comeback" group to the WooCommerce REST settings groups.
	 *
	 * @param array $groups Registered groups.
	 * @return array
	 */
	public static function rest_groups( $groups ) {
		$groups   = is_array( $groups ) ? $groups : array();
		$groups[] = array(
			'id'          => self::GROUP,
			'label'       => __( 'Comeback', 'comeback' ),
			'description' => __( 'Connection to the Comeback app.', 'comeback' ),
		);
		return $groups;
	}

	/**
	 * The settings of the "comeback" group; WooCommerce stores each in its option_key.
	 *
	 * @param array $settings Settings registered so far.
	 * @return array
	 */
	public static function rest_settings( $settings ) {
		$settings = is_array( $settings ) ? $settings : array();
		foreach ( self::fields() as $id => $field ) {
			$settings[] = array(
				'id'          => $id,
				'label'       => $field['label'],
				'description' => $field['description'],
				'type'        => $field['type'],
				'default'     => '',
				'option_key'  => $id,
			);
		}
		return $settings;
	}

	/**
	 * Label, description and type of each setting.
	 *
	 * @return array<string, array{label: string, description: string, type: string}>
	 */
	private static function fields() {
		return array(
			self::APP_URL  => array(
				'label'       => __( 'Comeback app URL', 'comeback' ),
				'description' => __( 'Base URL of the Comeback app, e.g. https://app.example.com.', 'comeback' ),
				'type'        => 'text',
			),
			self::STORE_ID => array(
				'label'       => __( 'Store id', 'comeback' ),
				'description' => __( 'The id Comeback gave this store.', 'comeback' ),
				'type'        => 'text',
			),
			self::SECRET   => array(
				'label'       => __( 'Shared secret', 'comeback' ),
				'description' => __( 'Signs what the store and Comeback send each other. Set by Comeback when you connect.', 'comeback' ),
				'type'        => 'password',
			),
		);
	}

	/* ---------------------------------------------------------- settings screen */

	/**
	 * Register the options with the Settings API (sanitizing is hooked in init()).
	 */
	public static function register() {
		foreach ( self::OPTIONS as $option ) {
			register_setting(
				self::GROUP,
				$option,
				array(
					'type'    => 'string',
					'default' => '',
				)
			);
		}
	}

	/**
	 * Add a top-level Comeback menu and WooCommerce → Comeback, both to the same screen.
	 */
	public static function add_menu() {
		add_menu_page(
			__( 'Comeback', 'comeback' ),
			__( 'Comeback', 'comeback' ),
			self::capability(),
			self::PAGE,
			array( __CLASS__, 'render' ),
			'dashicons-update',
			56
		);
		add_submenu_page(
			'woocommerce',
			__( 'Comeback', 'comeback' ),
			__( 'Comeback', 'comeback' ),
			self::capability(),
			self::PAGE,
			array( __CLASS__, 'render' )
		);
	}

	/**
	 * The URL of the app's WooCommerce install flow for this store ('' without an app URL).
	 *
	 * @return string
	 */
	public static function connect_url() {
		if ( '' === self::app_url() ) {
			return '';
		}
		return self::app_url() . '/auth/woocommerce/install?store=' . rawurlencode( home_url() );
	}

	/**
	 * Print the settings screen.
	 */
	public static function render() {
		if ( ! current_user_can( self::capability() ) ) {
			wp_die( esc_html__( 'You do not have permission to manage Comeback.', 'comeback' ), 403 );
		}
		echo '<div class="wrap"><h1>' . esc_html__( 'Comeback', 'comeback' ) . '</h1>';
		settings_errors();
		self::render_open();
		echo '<form method="post" action="' . esc_url( admin_url( 'options.php' ) ) . '">';
		settings_fields( self::GROUP );
		echo '<table class="form-table" role="presentation">';
		foreach ( self::fields() as $id => $field ) {
			self::render_row( $id, $field );
		}
		echo '</table>';
		submit_button();
		echo '</form>';
		self::render_connect();
		echo '</div>';
	}

	/**
	 * One row of the form; the secret is never printed, only whether one is saved.
	 *
	 * @param string $id    Option name.
	 * @param array  $field Label, description, type.
	 */
	private static function render_row( $id, array $field ) {
		$is_secret   = 'password' === $field['type'];
		$value       = $is_secret ? '' : (string) get_option( $id, '' );
		$placeholder = ( $is_secret && '' !== self::secret() )
			? __( 'Saved — type a new secret to replace it', 'comeback' )
			: '';
		printf(
			'<tr><th scope="row"><label for="%1$s">%2$s</label></th><td><input type="%3$s" class="regular-text" id="%1$s" name="%1$s" value="%4$s" placeholder="%5$s" autocomplete="off" /><p class="description">%6$s</p></td></tr>',
			esc_attr( $id ),
			esc_html( $field['label'] ),
			esc_attr( $field['type'] ),
			esc_attr( $value ),
			esc_attr( $placeholder ),
			esc_html( $field['description'] )
		);
	}

	/**
	 * The "Open Comeback" button, once connected: a form, so that the link is minted at click time.
	 */
	private static function render_open() {
		if ( ! self::is_configured() ) {
			return;
		}
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php?action=' . self::OPEN ) ) . '">';
		wp_nonce_field( self::OPEN );
		echo '<p>' . esc_html__( 'Your store is connected. Loyalty, reminder e-mails, segments and reports are managed in the Comeback admin.', 'comeback' ) . '</p>';
		echo '<p><button type="submit" class="button button-primary">' . esc_html__( 'Open Comeback', 'comeback' ) . '</button></p>';
		echo '</form>';
	}

	/**
	 * Sign the current user into the Comeback admin: redirect to a link that lives 60 seconds.
	 *
	 * The app URL is the merchant's own setting, so wp_redirect() (not wp_safe_redirect()) is right.
	 */
	public static function open_app() {
		if ( ! current_user_can( self::capability() ) ) {
			wp_die( esc_html__( 'You do not have permission to manage Comeback.', 'comeback' ), 403 );
		}
		check_admin_referer( self::OPEN );
		if ( ! self::is_configured() ) {
			self::refuse( __( 'This store is not connected to Comeback yet: save the app URL and click "Connect to Comeback" first.', 'comeback' ), 409 );
		}
		$email = Comeback_Signing::normalize_email( wp_get_current_user()->user_email );
		if ( ! Comeback_Signing::is_admin_address( $email ) ) {
			self::refuse( __( 'Your WordPress account has no usable e-mail address. Set one under Users → Profile, then open Comeback again.', 'comeback' ), 400 );
		}
		try {
			$url = Comeback_Signing::admin_link( self::app_url(), self::store_id(), self::secret(), $email, get_user_locale(), time() );
		} catch ( InvalidArgumentException $e ) {
			self::refuse( __( 'The Comeback app URL must not contain "?" or "#". Correct it on this screen, then open Comeback again.', 'comeback' ), 400 );
		}
		wp_redirect( $url ); // phpcs:ignore WordPress.Security.SafeRedirect.wp_redirect_wp_redirect -- the external app the merchant connected.
		exit;
	}

	/**
	 * Stop with a WordPress error page that links back to the Comeback screen.
	 *
	 * @param string $message Translated message.
	 * @param int    $status  HTTP status.
	 */
	private static function refuse( $message, $status ) {
		wp_die(
			esc_html( $message ),
			esc_html__( 'Comeback', 'comeback' ),
			array(
				'response'  => (int) $status,
				'link_url'  => admin_url( 'admin.php?page=' . self::PAGE ),
				'link_text' => esc_html__( 'Back to Comeback', 'comeback' ),
			)
		);
	}

	/**
	 * The "Connect to Comeback" button, once an app URL is saved.
	 */
	private static function render_connect() {
		$url = self::connect_url();
		echo '<h2>' . esc_html__( 'Connection', 'comeback' ) . '</h2>';
		if ( '' === $url ) {
			echo '<p>' . esc_html__( 'Save the Comeback app URL first.', 'comeback' ) . '</p>';
			return;
		}
		$status = self::is_configured() ? __( 'Connected.', 'comeback' ) : __( 'Not connected yet.', 'comeback' );
		echo '<p>' . esc_html( $status ) . '</p>';
		$class = self::is_configured() ? 'button' : 'button button-primary';
		$label = self::is_configured() ? __( 'Reconnect to Comeback', 'comeback' ) : __( 'Connect to Comeback', 'comeback' );
		echo '<p><a class="' . esc_attr( $class ) . '" href="' . esc_url( $url ) . '">' . esc_html( $label ) . '</a></p>';
	}

	/**
	 * After activation, point merchants who can manage the store at the settings screen.
	 */
	public static function activation_notice() {
		if ( ! get_transient( 'comeback_activation_notice' ) || ! current_user_can( self::capability() ) ) {
			return;
		}
		if ( self::is_configured() ) {
			delete_transient( 'comeback_activation_notice' );
			return;
		}
		$url = admin_url( 'admin.php?page=' . self::PAGE );
		echo '<div class="notice notice-info is-dismissible"><p>' . esc_html__( 'Comeback is active.', 'comeback' ) . ' <a href="' . esc_url( $url ) . '">' . esc_html__( 'Connect your store', 'comeback' ) . '</a></p></div>';
	}
}
