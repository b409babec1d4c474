/* Comeback admin: progressive enhancement over server-rendered pages.
 *
 * Comeback.api(method, path, body) calls the JSON API with the right credentials: inside the
 * platform's admin frame a fresh session token from App Bridge (no cookies), otherwise the
 * first-party session cookie plus its CSRF token. Forms marked data-api="METHOD /api/..." are
 * sent as JSON (field names are dotted paths; data-type casts), with the API's 422 shown beside
 * the field it names, in the page's language (every call says it in X-Comeback-Language).
 * Inside the frame, links to admin pages are followed with a session token.
 */
(function () {
  "use strict";
  var body = document.body;
  var embedded = body.getAttribute("data-embedded") === "true";
  var FRAME_PARAMS = ["shop", "host", "embedded", "locale"];

  function token() {
    if (!embedded) return Promise.resolve(null);
    if (!window.shopify || !window.shopify.idToken) return Promise.reject(new Error("App Bridge is not loaded"));
    return window.shopify.idToken();
  }

  function headers(extra) {
    /* The page's language: the API's refusals come back in it (app/web/refusals.py). */
    var result = Object.assign({ "Accept": "application/json",
                                 "X-Comeback-Language": document.documentElement.lang || "en" }, extra || {});
    return token().then(function (value) {
      if (value) result["Authorization"] = "Bearer " + value;
      else {
        result["X-CSRF-Token"] = body.getAttribute("data-csrf") || "";
        result["X-Comeback-Shop"] = body.getAttribute("data-shop") || "";
      }
      return result;
    });
  }

  function api(method, path, payload) {
    var extra = payload === undefined ? {} : { "Content-Type": "application/json" };
    return headers(extra).then(function (h) {
      return fetch(path, { method: method, headers: h, credentials: "same-origin",
                           body: payload === undefined ? undefined : JSON.stringify(payload) });
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      var read = type.indexOf("json") >= 0 ? response.json() : response.text();
      return read.then(function (data) { return { ok: response.ok, status: response.status, data: data }; });
    });
  }

  function framed(url) {
    /* The URL of an admin page with the frame parameters and a fresh session token. */
    var target = new URL(url, location.href);
    var here = new URL(location.href);
    if (target.origin !== location.origin) return Promise.resolve(target.toString());  /* never a token elsewhere */
    FRAME_PARAMS.forEach(function (name) {
      if (here.searchParams.get(name) && !target.searchParams.get(name)) target.searchParams.set(name, here.searchParams.get(name));
    });
    return token().then(function (value) { if (value) target.searchParams.set("id_token", value); return target.toString(); });
  }

  function navigate(url) {
    return framed(url).then(function (target) { location.assign(target); });
  }

  function toast(message, critical) {
    var box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.className = "toast" + (critical ? " critical" : "");
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { box.hidden = true; }, 4000);
  }

  function setPath(target, path, value) {
    var parts = path.split(".");
    var node = target;
    for (var i = 0; i < parts.length - 1; i++) {
      if (typeof node[parts[i]] !== "object" || node[parts[i]] === null) node[parts[i]] = {};
      node = node[parts[i]];
    }
    node[parts[parts.length - 1]] = value;
  }

  function fieldValue(input) {
    var type = input.getAttribute("data-type");
    if (input.type === "checkbox" && type !== "list") return input.checked;
    var raw = input.value;
    if (type === "number") return raw === "" ? null : Number(raw);
    if (type === "int") return raw === "" ? null : parseInt(raw, 10);
    if (type === "json") { try { return raw === "" ? null : JSON.parse(raw); } catch (e) { return raw; } }
    if (type === "lines") return raw.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
    if (type === "nullable") return raw === "" ? null : raw;
    return raw;
  }

  function serialize(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.disabled || input.name === "csrf_token" || input.hasAttribute("data-skip")) return;
      if (input.type === "radio" && !input.checked) return;
      if (input.type === "checkbox" && input.getAttribute("data-type") === "list") {
        var current = data;
        input.name.split(".").slice(0, -1).forEach(function (part) { current = current[part] = current[part] || {}; });
        var key = input.name.split(".").pop();
        current[key] = current[key] || [];
        if (input.checked) current[key].push(input.value);
        return;
      }
      setPath(data, input.name, fieldValue(input));
    });
    return data;
  }

  function clearErrors(form) {
    form.querySelectorAll("[aria-invalid=true]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    form.querySelectorAll(".field-error[data-for], [data-form-error]").forEach(function (el) { el.textContent = ""; });
  }

  function fieldFor(form, path) {
    if (!path) return null;
    var candidates = [path, path.replace(/\[(\d+)\]/g, ".$1")];
    for (var i = 0; i < candidates.length; i++) {
      var el = form.querySelector('[name="' + candidates[i] + '"], [data-field="' + candidates[i] + '"]');
      if (el) return el;
    }
    /* the nearest named ancestor of the path: "rewards.0.cost" falls back to "rewards" */
    var parts = path.replace(/\[(\d+)\]/g, ".$1").split(".");
    while (parts.length > 1) {
      parts.pop();
      var el2 = form.querySelector('[data-field="' + parts.join(".") + '"], [name="' + parts.join(".") + '"]');
      if (el2) return el2;
    }
    return null;
  }

  function showError(form, result) {
    var message = (result.data && result.data.error) || String(result.data || "") || "Error " + result.status;
    var field = fieldFor(form, result.data && result.data.field);
    if (field) {
      field.setAttribute("aria-invalid", "true");
      var slot = form.querySelector('.field-error[data-for="' + (field.name || field.getAttribute("data-field")) + '"]');
      if (!slot) {
        slot = document.createElement("p");
        slot.className = "field-error";
        slot.setAttribute("data-for", field.name || field.getAttribute("data-field"));
        slot.id = "err-" + Math.random().toString(36).slice(2);
        field.insertAdjacentElement("afterend", slot);
      }
      slot.textContent = message;
      field.setAttribute("aria-describedby", slot.id || "");
      if (field.focus) field.focus();
    }
    var general = form.querySelector("[data-form-error]");
    if (general) general.textContent = message;
    else if (!field) toast(message, true);
  }

  function confirmWith(message) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || !dialog.showModal) return Promise.resolve(window.confirm(message));
    dialog.querySelector("[data-confirm-text]").textContent = message;
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function done() {
        dialog.removeEventListener("close", done);
        resolve(dialog.returnValue === "confirm");
      });
      dialog.showModal();
    });
  }

  function changedAffectingMembers(form) {
    return Array.prototype.some.call(form.querySelectorAll("[data-affects-members]"), function (input) {
      if (input.type === "checkbox") return input.checked !== input.defaultChecked;
      if (input.tagName === "SELECT") return Array.prototype.some.call(input.options, function (o) { return o.selected !== o.defaultSelected; });
      return input.value !== input.defaultValue;
    });
  }

  function submitApi(form, event) {
    event.preventDefault();
    var spec = form.getAttribute("data-api").split(" ");
    var payload = serialize(form);
    var question = form.getAttribute("data-confirm");
    var ask = question && (form.hasAttribute("data-confirm-always") || changedAffectingMembers(form));
    var proceed = ask ? confirmWith(question) : Promise.resolve(true);
    var button = event.submitter || form.querySelector("button[type=submit], button:not([type])");
    return proceed.then(function (yes) {
      if (!yes) return null;
      clearErrors(form);
      if (button) button.setAttribute("aria-busy", "true");
      var method = spec[0], path = spec[1];
      return api(method, path, method === "DELETE" ? undefined : payload).then(function (result) {
        if (button) button.removeAttribute("aria-busy");
        if (!result.ok) { showError(form, result); return result; }
        form.querySelectorAll("input, textarea").forEach(function (el) { el.defaultValue = el.value; el.defaultChecked = el.checked; });
        form.querySelectorAll("select option").forEach(function (o) { o.defaultSelected = o.selected; });
        toast(form.getAttribute("data-saved") || "Saved");
        form.dispatchEvent(new CustomEvent("comeback:saved", { detail: result.data, bubbles: true }));
        var next = form.getAttribute("data-then");
        if (next === "reload") navigate(location.href);
        else if (next) navigate(next.replace("{id}", (result.data && (result.data.id || result.data.key)) || ""));
        return result;
      }, function (error) {
        if (button) button.removeAttribute("aria-busy");
        toast(String(error), true);
      });
    });
  }

  function download(link, event) {
    event.preventDefault();
    if (new URL(link.href, location.href).origin !== location.origin) return;
    headers().then(function (h) { return fetch(link.href, { headers: h, credentials: "same-origin" }); })
      .then(function (response) {
        if (!response.ok) return response.json().then(function (d) { throw new Error(d.error || response.status); });
        return response.blob();
      })
      .then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = link.getAttribute("data-download") || "export.csv";
        document.body.appendChild(a); a.click(); a.remove();
        setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
      }, function (error) { toast(String(error.message || error), true); });
  }

  function isAdminPage(link) {
    if (!link.href || link.target || link.hasAttribute("download") || link.hasAttribute("data-download")) return false;
    var url = new URL(link.href, location.href);
    return url.origin === location.origin && url.pathname.indexOf("/admin") === 0 && url.pathname.indexOf("/admin/static") !== 0;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) return;
    if (link.hasAttribute("data-download")) return download(link, event);
    if (embedded && isAdminPage(link)) { event.preventDefault(); navigate(link.href); }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented) return;  /* a page script handles this form itself */
    if (form.hasAttribute("data-api")) return submitApi(form, event);
    if (embedded && (form.method || "get").toLowerCase() === "get") {
      event.preventDefault();
      var url = new URL(form.action || location.href, location.href);
      new FormData(form).forEach(function (value, key) { url.searchParams.set(key, value); });
      navigate(url.toString());
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-autosubmit")) event.target.form.submit();
  });

  window.Comeback = { api: api, token: token, navigate: navigate, framed: framed, toast: toast, serialize: serialize,
                      showError: showError, clearErrors: clearErrors, confirm: confirmWith, embedded: embedded };
})();
