<?php
/**
 * Compute every signing vector with the plugin's PHP and print the results as JSON.
 *
 * Usage: php tests/signing-vectors.php <vectors.json>
 *
 * Run by tests/connectors/woocommerce/test_plugin_signing.py, which compares the output with
 * the expected values in the vectors and with connectors/woocommerce/plugin_signing.py. A
 * "now" of null in a check means the current time; the "fresh" section issues a token, a
 * request signature, a restore link and an admin link at the current time for the Python side
 * to verify.
 *
 * @package Comeback
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}

require_once dirname( __DIR__ ) . '/includes/class-comeback-signing.php';
require_once dirname( __DIR__ ) . '/includes/class-comeback-cart-event.php';

/**
 * Run $check and describe its outcome: {"ok": true, ...$result} or {"ok": false, "error": ...}.
 *
 * @param callable $check Returns an array of extra fields, or null.
 * @return array
 */
function comeback_vectors_outcome( callable $check ) {
	try {
		$result = $check();
		return array_merge( array( 'ok' => true ), is_array( $result ) ? $result : array() );
	} catch ( Comeback_Signature_Exception $e ) {
		return array(
			'ok'    => false,
			'error' => $e->getMessage(),
		);
	} catch ( InvalidArgumentException $e ) {
		return array(
			'ok'    => false,
			'error' => $e->getMessage(),
		);
	}
}

/**
 * The clock of a check: its "now", or the current time when null.
 *
 * @param array $vector Check.
 * @return int
 */
function comeback_vectors_now( array $vector ) {
	return isset( $vector['now'] ) ? (int) $vector['now'] : time();
}

/**
 * Results of every section.
 *
 * @param array $vectors Decoded vectors file.
 * @return array
 */
function comeback_vectors_run( array $vectors ) {
	$out = array();
	foreach ( $vectors['customer_tokens'] as $v ) {
		$out['customer_tokens'][] = array(
			'name'    => $v['name'],
			'email'   => Comeback_Signing::normalize_email( $v['email'] ),
			'outcome' => comeback_vectors_outcome(
				function () use ( $v ) {
					return array( 'token' => Comeback_Signing::sign_customer_token( $v['secret'], $v['store_id'], $v['customer_id'], $v['email'], $v['expires'] ) );
				}
			),
		);
	}
	foreach ( $vectors['customer_token_checks'] as $v ) {
		$out['customer_token_checks'][] = array(
			'name'    => $v['name'],
			'outcome' => comeback_vectors_outcome(
				function () use ( $v ) {
					return Comeback_Signing::verify_customer_token( $v['secret'], $v['store_id'], $v['token'], comeback_vectors_now( $v ) );
				}
			),
		);
	}
	foreach ( $vectors['requests'] as $v ) {
		$out['requests'][] = array(
			'name'      => $v['name'],
			'signature' => Comeback_Signing::sign_request( $v['secret'], $v['timestamp'], $v['body'] ),
		);
	}
	foreach ( $vectors['request_checks'] as $v ) {
		$out['request_checks'][] = array(
			'name'    => $v['name'],
			'outcome' => comeback_vectors_outcome(
				function () use ( $v ) {
					$window = isset( $v['window'] ) ? (int) $v['window'] : Comeback_Signing::REQUEST_WINDOW_SECONDS;
					Comeback_Signing::verify_request( $v['secret'], $v['timestamp'], $v['signature'], $v['body'], comeback_vectors_now( $v ), $window );
					return null;
				}
			),
		);
	}
	foreach ( $vectors['restore_links'] as $v ) {
		$out['restore_links'][] = array(
			'name'    => $v['name'],
			'outcome' => comeback_vectors_outcome(
				function () use ( $v ) {
					return array(
						'url'       => Comeback_Signing::sign_restore_link( $v['secret'], $v['store_id'], $v['site_url'], $v['cart_token'], $v['expires'] ),
						'signature' => Comeback_Signing::restore_signature( $v['secret'], $v['store_id'], $v['cart_token'], $v['expires'] ),
					);
				}
			),
		);
	}
	foreach ( $vectors['restore_checks'] as $v ) {
		$out['restore_checks'][] = array(
			'name'    => $v['name'],
			'outcome' => comeback_vectors_outcome(
				function () use ( $v ) {
					Comeback_Signing::verify_restore_signature( $v['secret'], $v['store_id'], $v['cart_token'], $v['expires'], $v['signature'], comeback_vectors_now( $v ) );
					return null;
				}
			),
		);
	}
	foreach ( $vectors['admin_links'] as $v ) {
		$out['admin_links'][] = array(
			'name'    => $v['name'],
			'email'   => Comeback_Signing::normalize_email( $v['email'] ),
			'outcome' => comeback_vectors_outcome(
				function () use ( $v ) {
					return array(
						'url'       => Comeback_Signing::admin_link( $v['app_url'], $v['store_id'], $v['secret'], $v['email'], $v['locale'], $v['now'] ),
						'signature' => Comeback_Signing::admin_link_signature( $v['secret'], $v['store_id'], $v['email'], $v['now'] + Comeback_Signing::ADMIN_LINK_LIFETIME_SECONDS ),
					);
				}
			),
		);
	}
	foreach ( $vectors['admin_link_checks'] as $v ) {
		$out['admin_link_checks'][] = array(
			'name'    => $v['name'],
			'outcome' => comeback_vectors_outcome(
				function () use ( $v ) {
					return array( 'email' => Comeback_Signing::verify_admin_link( $v['secret'], $v['store_id'], $v['email'], $v['expires'], $v['signature'], comeback_vectors_now( $v ) ) );
				}
			),
		);
	}
	foreach ( $vectors['cart_events'] as $v ) {
		$out['cart_events'][] = array(
			'name' => $v['name'],
			'body' => Comeback_Cart_Event::encode( Comeback_Cart_Event::build( $v['input'] ) ),
		);
	}
	$out['fresh'] = comeback_vectors_fresh( $vectors['fresh'] );
	return $out;
}

/**
 * A token, a signed request, a restore link and an admin link issued now, as the plugin does.
 *
 * @param array $v secret, store_id, customer_id, email, body, site_url, cart_token, app_url, locale.
 * @return array
 */
function comeback_vectors_fresh( array $v ) {
	$now = time();
	return array(
		'now'          => $now,
		'token'        => Comeback_Signing::sign_customer_token( $v['secret'], $v['store_id'], $v['customer_id'], $v['email'], $now + Comeback_Signing::TOKEN_LIFETIME_SECONDS ),
		'headers'      => Comeback_Signing::request_headers( $v['secret'], $v['store_id'], $v['body'], $now ),
		'restore_url'  => Comeback_Signing::sign_restore_link( $v['secret'], $v['store_id'], $v['site_url'], $v['cart_token'], $now + Comeback_Signing::RESTORE_LIFETIME_SECONDS ),
		'admin_url'    => Comeback_Signing::admin_link( $v['app_url'], $v['store_id'], $v['secret'], $v['email'], $v['locale'], $now ),
	);
}

if ( $argc !== 2 || ! is_readable( $argv[1] ) ) {
	fwrite( STDERR, "usage: php tests/signing-vectors.php <vectors.json>\n" );
	exit( 2 );
}
$comeback_vectors = json_decode( (string) file_get_contents( $argv[1] ), true );
if ( ! is_array( $comeback_vectors ) ) {
	fwrite( STDERR, "vectors file is not a JSON object\n" );
	exit( 2 );
}
echo json_encode( comeback_vectors_run( $comeback_vectors ), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRETTY_PRINT ), "\n";
