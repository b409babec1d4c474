<?php
/**
 * The cart event body the plugin POSTs to <app_url>/proxy/cart-events.
 *
 * Pure PHP like class-comeback-signing.php, so php-cli can check the shape against the vectors;
 * Comeback_Carts gathers the values from WooCommerce and hands them to build().
 *
 * @package Comeback
 */

// No ABSPATH guard: this file only declares a class and must load outside WordPress.

if ( ! class_exists( 'Comeback_Cart_Event' ) ) {
	/**
	 * Builds and encodes cart events (see README.md for the schema).
	 */
	final class Comeback_Cart_Event {

		/**
		 * The event as an array ready for encode().
		 *
		 * @param array $args {
		 *     @type string      $cart_token  Stable cart token of the WC session.
		 *     @type int         $updated_at  Unix seconds.
		 *     @type string      $currency    ISO 4217 code.
		 *     @type float|string $total      Cart total.
		 *     @type int         $decimals    Decimals of the currency (wc_get_price_decimals()).
		 *     @type string|null $email       Only with the shopper's consent.
		 *     @type bool        $consent     Whether the shopper opted in to reminders.
		 *     @type int|null    $customer_id Logged-in WP user id.
		 *     @type array       $lines       Each: product_id, variation_id, name, quantity, price.
		 *     @type string      $restore_url Signed restore link.
		 *     @type int|null    $order_id    Set once the cart became an order.
		 * }
		 * @return array
		 */
		public static function build( array $args ) {
			$decimals = isset( $args['decimals'] ) ? max( 0, (int) $args['decimals'] ) : 2;
			$consent  = ! empty( $args['consent'] );
			$lines    = array();
			foreach ( isset( $args['lines'] ) ? (array) $args['lines'] : array() as $line ) {
				$lines[] = self::line( (array) $line, $decimals );
			}
			return array(
				'cart_token'  => (string) $args['cart_token'],
				'updated_at'  => gmdate( 'Y-m-d\TH:i:s\Z', (int) $args['updated_at'] ),
				'currency'    => strtoupper( (string) $args['currency'] ),
				'total'       => self::money( isset( $args['total'] ) ? $args['total'] : 0, $decimals ),
				'email'       => ( $consent && ! empty( $args['email'] ) ) ? (string) $args['email'] : null,
				'consent'     => $consent,
				'customer_id' => self::nullable_id( isset( $args['customer_id'] ) ? $args['customer_id'] : null ),
				'lines'       => $lines,
				'restore_url' => (string) $args['restore_url'],
				'order_id'    => self::nullable_id( isset( $args['order_id'] ) ? $args['order_id'] : null ),
			);
		}

		/**
		 * The JSON body; raw UTF-8, slashes unescaped (the signature covers the bytes as sent).
		 *
		 * @param array $event From build().
		 * @return string
		 */
		public static function encode( array $event ) {
			$json = json_encode( $event, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE );
			return false === $json ? '' : $json;
		}

		/**
		 * One cart line.
		 *
		 * @param array $line     product_id, variation_id, name, quantity, price.
		 * @param int   $decimals Currency decimals.
		 * @return array
		 */
		private static function line( array $line, $decimals ) {
			return array(
				'product_id'   => (int) $line['product_id'],
				'variation_id' => self::nullable_id( isset( $line['variation_id'] ) ? $line['variation_id'] : null ),
				'name'         => (string) $line['name'],
				'quantity'     => (int) $line['quantity'],
				'price'        => self::money( isset( $line['price'] ) ? $line['price'] : 0, $decimals ),
			);
		}

		/**
		 * An amount as a decimal string with the currency's decimals ("12.50").
		 *
		 * @param float|int|string $amount   Amount.
		 * @param int              $decimals Decimals.
		 * @return string
		 */
		public static function money( $amount, $decimals ) {
			return number_format( (float) $amount, (int) $decimals, '.', '' );
		}

		/**
		 * A positive id, or null for 0/empty.
		 *
		 * @param mixed $value Candidate.
		 * @return int|null
		 */
		private static function nullable_id( $value ) {
			$id = (int) $value;
			return $id > 0 ? $id : null;
		}
	}
}
