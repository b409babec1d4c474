/* The customer profile: the points adjustment's new balance, the data export download and the
 * erasure's confirmation. Uses Comeback (admin.js) for credentials, errors and navigation. */
(function () {
  "use strict";
  var words = JSON.parse((document.getElementById("customer-words") || {}).textContent || "{}");
  var language = document.body.getAttribute("data-language") || "en";
  var status = document.getElementById("customer-status");

  function number(value) {
    try { return new Intl.NumberFormat(language).format(value); } catch (e) { return String(value); }
  }

  function say(text) {
    if (status) status.textContent = text;
    if (window.Comeback) window.Comeback.toast(text);
  }

  function freshKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID().replace(/-/g, "");
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  /* After an adjustment: the new balance in the metric and beside the form, a new key, an empty form. */
  document.addEventListener("comeback:saved", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-adjust")) return;
    var balance = (event.detail && event.detail.balance) || {};
    var shown = document.querySelector("[data-balance]");
    if (shown && balance.available !== undefined) shown.textContent = number(balance.available);
    var pending = document.querySelector("[data-pending]");
    if (pending && balance.pending !== undefined) {
      pending.textContent = (words.pending || "").replace("{points}", number(balance.pending));
      pending.hidden = !balance.pending;
    }
    var result = form.querySelector("[data-adjust-result]");
    if (result && balance.available !== undefined) result.textContent = (words.new_balance || "").replace("{points}", number(balance.available));
    form.querySelector("[data-key]").value = freshKey();
    form.querySelector("[name=points]").value = "";
    form.querySelector("[name=reason]").value = "";
  });

  /* The export: a POST (it records a data request) whose JSON answer is saved as a file. */
  document.querySelectorAll("[data-export]").forEach(function (button) {
    button.addEventListener("click", function () {
      button.setAttribute("aria-busy", "true");
      window.Comeback.api("POST", button.getAttribute("data-export"), {}).then(function (result) {
        button.removeAttribute("aria-busy");
        if (!result.ok) { window.Comeback.toast((result.data && result.data.error) || ("Error " + result.status), true); return; }
        var blob = new Blob([JSON.stringify(result.data, null, 2)], { type: "application/json" });
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = button.getAttribute("data-filename") || "customer-data.json";
        document.body.appendChild(a); a.click(); a.remove();
        setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
        say(words.exported || "");
      }, function (error) {
        button.removeAttribute("aria-busy");
        window.Comeback.toast(String(error.message || error), true);
      });
    });
  });

  /* The erasure: the dialog says what goes; only its confirm button erases, then the page reloads. */
  var dialog = document.getElementById("erase-dialog");
  var opener = document.querySelector("[data-erase-open]");
  if (dialog && opener) {
    opener.addEventListener("click", function () {
      dialog.querySelector("[data-erase-error]").textContent = "";
      if (dialog.showModal) dialog.showModal(); else dialog.setAttribute("open", "");
    });
    var confirmButton = dialog.querySelector("[data-erase-confirm]");
    confirmButton.addEventListener("click", function (event) {
      event.preventDefault();
      confirmButton.setAttribute("aria-busy", "true");
      window.Comeback.api("POST", confirmButton.getAttribute("data-api-path"), {}).then(function (result) {
        confirmButton.removeAttribute("aria-busy");
        if (!result.ok) {
          dialog.querySelector("[data-erase-error]").textContent = (result.data && result.data.error) || ("Error " + result.status);
          return;
        }
        dialog.close ? dialog.close("confirm") : dialog.removeAttribute("open");
        say(words.erased || "");
        window.Comeback.navigate(location.href);
      }, function (error) {
        confirmButton.removeAttribute("aria-busy");
        dialog.querySelector("[data-erase-error]").textContent = String(error.message || error);
      });
    });
  }
})();
