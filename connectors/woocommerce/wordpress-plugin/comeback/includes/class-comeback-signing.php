<?php
/**
 * Signing and verification of everything the plugin exchanges with the Comeback app.
 *
 * Pure PHP on purpose: no WordPress function is used, so php-cli can load this file alone
 * (tests/signing-vectors.php) and check it against the vectors the Python side also uses
 * (connectors/woocommerce/plugin_signing.py). Keep both sides byte-for-byte identical.
 *
 * @package Comeback
 */

// No ABSPATH guard: this file only declares a class and must load outside WordPress.

if ( ! class_exists( 'Comeback_Signature_Exception' ) ) {
	/**
	 * A token, request or link failed verification; the message says why.
	 */
	class Comeback_Signature_Exception extends RuntimeException {
	}
}

if ( ! class_exists( 'Comeback_Signing' ) ) {
	/**
	 * Static helpers for the customer token, signed requests, restore links and admin links.
	 */
	final class Comeback_Signing {

		const TOKEN_VERSION              = 'v1';
		const TOKEN_LIFETIME_SECONDS     = 900;
		const TOKEN_MAX_LIFETIME_SECONDS = 3600;
		const REQUEST_WINDOW_SECONDS     = 300;
		const RESTORE_LIFETIME_SECONDS   = 604800;
		const RESTORE_PARAM              = 'comeback_restore';

		/** The plugin mints admin links for this long; the app refuses any beyond the maximum. */
		const ADMIN_LINK_LIFETIME_SECONDS     = 60;
		const ADMIN_LINK_MAX_LIFETIME_SECONDS = 120;
		const ADMIN_LINK_PATH                 = '/admin/enter';

		/** PHP trim()'s default characters; the Python side strips exactly these. */
		const TRIM_CHARS = " \t\n\r\0\x0B";

		/* ------------------------------------------------------------------ base64 */

		/**
		 * URL-safe base64 without padding.
		 *
		 * @param string $data Raw bytes.
		 * @return string
		 */
		public static function b64url_encode( $data ) {
			return rtrim( strtr( base64_encode( $data ), '+/', '-_' ), '=' );
		}

		/**
		 * Decode canonical unpadded URL-safe base64; null when it is not.
		 *
		 * @param string $text Encoded text.
		 * @return string|null Raw bytes.
		 */
		public static function b64url_decode( $text ) {
			if ( ! is_string( $text ) || ! preg_match( '/^[A-Za-z0-9_-]+$/D', $text ) || 1 === strlen( $text ) % 4 ) {
				return null;
			}
			$data = base64_decode( strtr( $text, '-_', '+/' ), true );
			if ( false === $data || self::b64url_encode( $data ) !== $text ) {
				return null;
			}
			return $data;
		}

		/**
		 * HMAC-SHA256, raw bytes.
		 *
		 * @param string $secret  Shared secret.
		 * @param string $message Message bytes.
		 * @return string
		 */
		private static function mac( $secret, $message ) {
			return hash_hmac( 'sha256', $message, (string) $secret, true );
		}

		/* ---------------------------------------------------------- customer token */

		/**
		 * Trim (trim()'s characters) and lower-case an e-mail address.
		 *
		 * Without mbstring only ASCII letters are lower-cased; the token stays valid either way.
		 *
		 * @param string $email Address as typed.
		 * @return string
		 */
		public static function normalize_email( $email ) {
			$email = trim( (string) $email, self::TRIM_CHARS );
			return function_exists( 'mb_strtolower' ) ? mb_strtolower( $email, 'UTF-8' ) : strtolower( $email );
		}

		/**
		 * Issue a customer token.
		 *
		 * @param string     $secret      Shared secret.
		 * @param string     $store_id    The app's store id.
		 * @param int|string $customer_id WordPress user id.
		 * @param string     $email       The user's e-mail address.
		 * @param int        $expires     Unix seconds.
		 * @return string
		 * @throws InvalidArgumentException When a field cannot be carried by the format.
		 */
		public static function sign_customer_token( $secret, $store_id, $customer_id, $email, $expires ) {
			$email = self::normalize_email( $email );
			if ( false !== strpos( $email, '|' ) ) {
				throw new InvalidArgumentException( "email must not contain '|'" );
			}
			if ( ! self::is_positive_id( (string) $customer_id ) ) {
				throw new InvalidArgumentException( 'customer id must be a positive integer' );
			}
			$payload = implode( '|', array( self::TOKEN_VERSION, (string) $store_id, (string) $customer_id, $email, (string) (int) $expires ) );
			return self::b64url_encode( $payload ) . '.' . self::b64url_encode( self::mac( $secret, $payload ) );
		}

		/**
		 * Verify a customer token.
		 *
		 * @param string $secret   Shared secret.
		 * @param string $store_id The app's store id.
		 * @param string $token    Token to check.
		 * @param int    $now      Unix seconds.
		 * @return array{customer_id: string, email: string, expires_at: int}
		 * @throws Comeback_Signature_Exception When the token is not acceptable.
		 */
		public static function verify_customer_token( $secret, $store_id, $token, $now ) {
			$parts = explode( '|', self::token_payload( $secret, $token ) );
			if ( count( $parts ) < 5 ) {
				throw new Comeback_Signature_Exception( 'customer token payload is malformed' );
			}
			$version     = $parts[0];
			$token_store = $parts[1];
			$customer_id = $parts[2];
			$expires     = $parts[ count( $parts ) - 1 ];
			$email       = implode( '|', array_slice( $parts, 3, -1 ) );
			if ( self::TOKEN_VERSION !== $version ) {
				throw new Comeback_Signature_Exception( 'customer token has an unsupported version' );
			}
			if ( (string) $store_id !== $token_store ) {
				throw new Comeback_Signature_Exception( 'customer token was issued for another store' );
			}
			if ( ! self::is_timestamp( $expires ) ) {
				throw new Comeback_Signature_Exception( 'customer token expiry is malformed' );
			}
			if ( (int) $expires <= $now ) {
				throw new Comeback_Signature_Exception( 'customer token has expired' );
			}
			if ( (int) $expires > $now + self::TOKEN_MAX_LIFETIME_SECONDS ) {
				throw new Comeback_Signature_Exception( 'customer token expires too far in the future' );
			}
			if ( ! self::is_positive_id( $customer_id ) ) {
				throw new Comeback_Signature_Exception( 'customer token customer id is not a positive integer' );
			}
			if ( false !== strpos( $email, '|' ) ) {
				throw new Comeback_Signature_Exception( "customer token email contains '|'" );
			}
			return array(
				'customer_id' => $customer_id,
				'email'       => $email,
				'expires_at'  => (int) $expires,
			);
		}

		/**
		 * The decoded payload of a token whose signature matches.
		 *
		 * @param string $secret Shared secret.
		 * @param mixed  $token  Token to check.
		 * @return string
		 * @throws Comeback_Signature_Exception When malformed or badly signed.
		 */
		private static function token_payload( $secret, $token ) {
			$pieces = is_string( $token ) ? explode( '.', $token ) : array();
			if ( 2 !== count( $pieces ) ) {
				throw new Comeback_Signature_Exception( 'customer token is malformed' );
			}
			$payload = self::b64url_decode( $pieces[0] );
			if ( null === $payload || null === self::b64url_decode( $pieces[1] ) ) {
				throw new Comeback_Signature_Exception( 'customer token is malformed' );
			}
			if ( ! hash_equals( self::b64url_encode( self::mac( $secret, $payload ) ), $pieces[1] ) ) {
				throw new Comeback_Signature_Exception( 'customer token signature is invalid' );
			}
			if ( ! preg_match( '//u', $payload ) ) {
				throw new Comeback_Signature_Exception( 'customer token payload is malformed' );
			}
			return $payload;
		}

		/* --------------------------------------------------------- signed requests */

		/**
		 * The X-Comeback-Signature value of a request body sent at $timestamp.
		 *
		 * @param string     $secret    Shared secret.
		 * @param int|string $timestamp Unix seconds, as sent in X-Comeback-Timestamp.
		 * @param string     $body      Raw body bytes.
		 * @return string Standard base64, padded.
		 */
		public static function sign_request( $secret, $timestamp, $body ) {
			return base64_encode( self::mac( $secret, (string) $timestamp . '.' . $body ) );
		}

		/**
		 * The three headers of a signed request.
		 *
		 * @param string $secret   Shared secret.
		 * @param string $store_id The app's store id.
		 * @param string $body     Raw body bytes.
		 * @param int    $now      Unix seconds.
		 * @return array<string, string>
		 */
		public static function request_headers( $secret, $store_id, $body, $now ) {
			$timestamp = (string) (int) $now;
			return array(
				'X-Comeback-Store'     => (string) $store_id,
				'X-Comeback-Timestamp' => $timestamp,
				'X-Comeback-Signature' => self::sign_request( $secret, $timestamp, $body ),
			);
		}

		/**
		 * Verify a signed request.
		 *
		 * @param string      $secret    Shared secret.
		 * @param string|null $timestamp X-Comeback-Timestamp.
		 * @param string|null $signature X-Comeback-Signature.
		 * @param string      $body      Raw body bytes, exactly as received.
		 * @param int         $now       Unix seconds.
		 * @param int         $window    Allowed clock difference in seconds.
		 * @throws Comeback_Signature_Exception When the request is not acceptable.
		 */
		public static function verify_request( $secret, $timestamp, $signature, $body, $now, $window = self::REQUEST_WINDOW_SECONDS ) {
			if ( null === $timestamp || '' === $timestamp ) {
				throw new Comeback_Signature_Exception( 'missing X-Comeback-Timestamp header' );
			}
			if ( null === $signature || '' === $signature ) {
				throw new Comeback_Signature_Exception( 'missing X-Comeback-Signature header' );
			}
			if ( ! self::is_timestamp( $timestamp ) ) {
				throw new Comeback_Signature_Exception( 'X-Comeback-Timestamp is not a unix timestamp' );
			}
			if ( abs( (int) $timestamp - $now ) > $window ) {
				throw new Comeback_Signature_Exception( 'X-Comeback-Timestamp is outside the allowed window' );
			}
			if ( ! hash_equals( self::sign_request( $secret, $timestamp, $body ), (string) $signature ) ) {
				throw new Comeback_Signature_Exception( 'X-Comeback-Signature is invalid' );
			}
		}

		/* ----------------------------------------------------------- restore links */

		/**
		 * The signature parameter of a restore link.
		 *
		 * @param string     $secret     Shared secret.
		 * @param string     $store_id   The app's store id.
		 * @param string     $cart_token Cart token.
		 * @param int|string $expires    Unix seconds.
		 * @return string
		 */
		public static function restore_signature( $secret, $store_id, $cart_token, $expires ) {
			return self::b64url_encode( self::mac( $secret, 'restore|' . $store_id . '|' . $cart_token . '|' . $expires ) );
		}

		/**
		 * A link that restores the cart until $expires.
		 *
		 * A site URL with a query already gets the parameters appended with "&"; otherwise they
		 * follow "<site_url>/?". No value needs encoding: all are base64url or digits.
		 *
		 * @param string $secret     Shared secret.
		 * @param string $store_id   The app's store id.
		 * @param string $site_url   The store's home URL.
		 * @param string $cart_token Cart token.
		 * @param int    $expires    Unix seconds.
		 * @return string
		 * @throws InvalidArgumentException For a malformed cart token or a URL with a fragment.
		 */
		public static function sign_restore_link( $secret, $store_id, $site_url, $cart_token, $expires ) {
			if ( ! self::is_cart_token( $cart_token ) ) {
				throw new InvalidArgumentException( 'cart token must match [A-Za-z0-9_-]{1,64}' );
			}
			$stamp = (string) (int) $expires;
			$query = self::RESTORE_PARAM . '=' . $cart_token . '&expires=' . $stamp
				. '&signature=' . self::restore_signature( $secret, $store_id, $cart_token, $stamp );
			return self::with_query_separator( (string) $site_url ) . $query;
		}

		/**
		 * The site URL ready for parameters to be appended.
		 *
		 * @param string $site_url The store's home URL.
		 * @return string
		 * @throws InvalidArgumentException For a URL with a fragment.
		 */
		private static function with_query_separator( $site_url ) {
			if ( false !== strpos( $site_url, '#' ) ) {
				throw new InvalidArgumentException( 'site url must not contain a fragment' );
			}
			if ( false === strpos( $site_url, '?' ) ) {
				return rtrim( $site_url, '/' ) . '/?';
			}
			$last = substr( $site_url, -1 );
			return ( '?' === $last || '&' === $last ) ? $site_url : $site_url . '&';
		}

		/**
		 * Verify the parameters of a restore link.
		 *
		 * @param string      $secret     Shared secret.
		 * @param string      $store_id   The app's store id.
		 * @param mixed       $cart_token comeback_restore parameter.
		 * @param mixed       $expires    expires parameter.
		 * @param string|null $signature  signature parameter.
		 * @param int         $now        Unix seconds.
		 * @throws Comeback_Signature_Exception When the link is not acceptable.
		 */
		public static function verify_restore_signature( $secret, $store_id, $cart_token, $expires, $signature, $now ) {
			if ( ! self::is_cart_token( $cart_token ) ) {
				throw new Comeback_Signature_Exception( 'restore link cart token is malformed' );
			}
			$stamp = is_int( $expires ) ? (string) $expires : $expires;
			if ( ! self::is_timestamp( $stamp ) ) {
				throw new Comeback_Signature_Exception( 'restore link expiry is malformed' );
			}
			if ( null === $signature || '' === $signature ) {
				throw new Comeback_Signature_Exception( 'restore link signature is missing' );
			}
			if ( ! is_string( $signature ) || ! hash_equals( self::restore_signature( $secret, $store_id, $cart_token, $stamp ), $signature ) ) {
				throw new Comeback_Signature_Exception( 'restore link signature is invalid' );
			}
			if ( (int) $stamp <= $now ) {
				throw new Comeback_Signature_Exception( 'restore link has expired' );
			}
		}

		/* ------------------------------------------------------------- admin links */

		/**
		 * The signature parameter of an admin link: b64url(HMAC(secret, "admin|<store>|<email>|<expires>")).
		 *
		 * @param string     $secret   Shared secret.
		 * @param string     $store_id The app's store id.
		 * @param string     $email    The store user's e-mail address (normalised here).
		 * @param int|string $expires  Unix seconds.
		 * @return string
		 */
		public static function admin_link_signature( $secret, $store_id, $email, $expires ) {
			return self::b64url_encode( self::mac( $secret, 'admin|' . $store_id . '|' . self::normalize_email( $email ) . '|' . $expires ) );
		}

		/**
		 * The link that signs the store user into the Comeback admin until $now + 60 s.
		 *
		 * <app_url>/admin/enter?store=&email=&expires=&signature=[&locale=], values encoded as
		 * rawurlencode() does (RFC 3986); the e-mail is sent normalised, as it was signed.
		 *
		 * @param string $app_url  The Comeback app URL (no query, no fragment).
		 * @param string $store_id The app's store id.
		 * @param string $secret   Shared secret.
		 * @param string $email    The store user's e-mail address.
		 * @param string $locale   The user's WordPress locale (e.g. de_DE); '' leaves it out.
		 * @param int    $now      Unix seconds.
		 * @return string
		 * @throws InvalidArgumentException For an address the app would refuse or an app URL with a query or fragment.
		 */
		public static function admin_link( $app_url, $store_id, $secret, $email, $locale, $now ) {
			$address = self::normalize_email( $email );
			if ( ! self::is_admin_address( $address ) ) {
				throw new InvalidArgumentException( 'admin link email is malformed' );
			}
			$app_url = (string) $app_url;
			if ( false !== strpos( $app_url, '?' ) || false !== strpos( $app_url, '#' ) ) {
				throw new InvalidArgumentException( 'app url must not contain a query or a fragment' );
			}
			$expires = (string) ( (int) $now + self::ADMIN_LINK_LIFETIME_SECONDS );
			$params  = array(
				'store'     => (string) $store_id,
				'email'     => $address,
				'expires'   => $expires,
				'signature' => self::admin_link_signature( $secret, $store_id, $address, $expires ),
			);
			if ( '' !== (string) $locale ) {
				$params['locale'] = (string) $locale;
			}
			return rtrim( $app_url, '/' ) . self::ADMIN_LINK_PATH . '?' . http_build_query( $params, '', '&', PHP_QUERY_RFC3986 );
		}

		/**
		 * Verify the parameters of an admin link, as the app does; the address it vouches for.
		 *
		 * The app is the verifier; this twin pins the plugin to the same rules in the vectors.
		 *
		 * @param string      $secret    Shared secret.
		 * @param string      $store_id  The app's store id.
		 * @param mixed       $email     email parameter.
		 * @param mixed       $expires   expires parameter.
		 * @param string|null $signature signature parameter.
		 * @param int         $now       Unix seconds.
		 * @return string The normalised address.
		 * @throws Comeback_Signature_Exception When the link is not acceptable.
		 */
		public static function verify_admin_link( $secret, $store_id, $email, $expires, $signature, $now ) {
			$address = self::normalize_email( is_string( $email ) ? $email : '' );
			if ( ! self::is_admin_address( $address ) ) {
				throw new Comeback_Signature_Exception( 'admin link email is malformed' );
			}
			$stamp = is_int( $expires ) ? (string) $expires : $expires;
			if ( ! self::is_timestamp( $stamp ) ) {
				throw new Comeback_Signature_Exception( 'admin link expiry is malformed' );
			}
			if ( null === $signature || '' === $signature ) {
				throw new Comeback_Signature_Exception( 'admin link signature is missing' );
			}
			if ( ! is_string( $signature ) || ! hash_equals( self::admin_link_signature( $secret, $store_id, $address, $stamp ), $signature ) ) {
				throw new Comeback_Signature_Exception( 'admin link signature is invalid' );
			}
			if ( (int) $stamp <= $now ) {
				throw new Comeback_Signature_Exception( "admin link has expired: open Comeback again from the store's admin" );
			}
			if ( (int) $stamp > $now + self::ADMIN_LINK_MAX_LIFETIME_SECONDS ) {
				throw new Comeback_Signature_Exception( 'admin link expires too far in the future' );
			}
			return $address;
		}

		/**
		 * Whether a normalised address can name a store user in an admin link (non-empty, an "@", no "|").
		 *
		 * @param string $address Normalised e-mail address.
		 * @return bool
		 */
		public static function is_admin_address( $address ) {
			return '' !== $address && false === strpos( $address, '|' ) && false !== strpos( $address, '@' );
		}

		/* ---------------------------------------------------------------- helpers */

		/**
		 * Whether $value is a cart token ([A-Za-z0-9_-]{1,64}).
		 *
		 * @param mixed $value Candidate.
		 * @return bool
		 */
		public static function is_cart_token( $value ) {
			return is_string( $value ) && 1 === preg_match( '/^[A-Za-z0-9_-]{1,64}$/D', $value );
		}

		/**
		 * Whether $value is 1 to 12 ASCII digits.
		 *
		 * @param mixed $value Candidate.
		 * @return bool
		 */
		private static function is_timestamp( $value ) {
			return is_string( $value ) && 1 === preg_match( '/^[0-9]{1,12}$/D', $value );
		}

		/**
		 * Whether $value is a positive decimal integer without leading zeros.
		 *
		 * @param mixed $value Candidate.
		 * @return bool
		 */
		private static function is_positive_id( $value ) {
			return is_string( $value ) && 1 === preg_match( '/^[1-9][0-9]{0,19}$/D', $value );
		}
	}
}
