/* Get a session token from App Bridge and reload this address with it; outside the platform's
   admin frame, open the admin address that embeds the app at the same path instead. */
(function () {
  "use strict";
  var embed = document.body.getAttribute("data-embed-url");
  if (window.top === window.self) { location.replace(embed + location.search.replace(/([?&])id_token=[^&]*/, "$1")); return; }
  function reload() {
    window.shopify.idToken().then(function (token) {
      var url = new URL(location.href);
      url.searchParams.set("id_token", token);
      /* when (by the server's clock) this bounce happened: one that fails at once is not repeated */
      url.searchParams.set("bounced", document.body.getAttribute("data-bounced-at"));
      location.replace(url.toString());
    }, function () { document.body.setAttribute("data-bounce-failed", "true"); });
  }
  if (window.shopify && window.shopify.idToken) reload();
  else window.addEventListener("load", reload);
})();
