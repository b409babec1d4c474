/**
 * Comeback: send the checkout e-mail to the store once the shopper opts in to a reminder.
 *
 * Same-origin POST to admin-ajax.php (action comeback_capture_email, nonce-checked); unticking
 * the box withdraws the consent. Nothing is sent while the box has never been ticked.
 */
( function () {
	'use strict';

	var config = window.comebackCapture;
	if ( ! config || ! window.fetch || ! window.URLSearchParams ) {
		return;
	}
	var lastSent = '0|';

	function post( consent, email ) {
		var key = ( consent ? '1' : '0' ) + '|' + email;
		if ( key === lastSent ) {
			return;
		}
		lastSent = key;
		var body = new URLSearchParams();
		body.append( 'action', config.action );
		body.append( 'nonce', config.nonce );
		body.append( 'consent', consent ? '1' : '0' );
		body.append( 'email', consent ? email : '' );
		window.fetch( config.ajaxUrl, {
			method: 'POST',
			credentials: 'same-origin',
			body: body
		} ).catch( function () {
			lastSent = null; // Let the next change try again.
		} );
	}

	function onChange( event ) {
		var target = event.target;
		if ( ! target || ( target.id !== config.emailId && target.id !== config.boxId ) ) {
			return;
		}
		var field = document.getElementById( config.emailId );
		var box = document.getElementById( config.boxId );
		if ( ! field || ! box ) {
			return;
		}
		var email = String( field.value || '' ).trim();
		if ( box.checked && ! /^[^\s@]+@[^\s@]+$/.test( email ) ) {
			return; // Not an address yet; the server checks it properly with is_email().
		}
		post( box.checked, email );
	}

	document.addEventListener( 'change', onChange );
}() );
