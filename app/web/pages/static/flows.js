/* The flow page: delays in hours or days, the incentive switch, the live preview of the unsaved
 * step (POST …/steps/<n>/preview renders the draft, nothing is stored) and the test send.
 * The form itself is saved by admin.js (data-api="PUT /api/admin/flows/<key>").
 */
(function () {
  "use strict";
  var dataNode = document.getElementById("flow-data");
  var form = document.getElementById("flow-form");
  if (!dataNode || !form || !window.Comeback) return;
  var data = JSON.parse(dataNode.textContent);
  var strings = data.strings;
  var base = "/api/admin/flows/" + encodeURIComponent(data.key) + "/steps/";
  var frame = document.getElementById("email-preview");
  var picker = document.getElementById("preview-step");
  var subject = document.querySelector("[data-preview-subject]");
  var status = document.querySelector("[data-preview-status]");
  var sequence = 0;
  var timer = null;

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, name) { return values[name] !== undefined ? values[name] : all; });
  }

  function one(selector, n) { return form.querySelector("[" + selector + '="' + n + '"]'); }

  /* delays: the visible amount and unit write the hours the API takes */
  function syncDelay(n) {
    var amount = one("data-delay-amount", n), unit = one("data-delay-unit", n), hours = one("data-delay-hours", n);
    if (!amount || !unit || !hours) return;
    if (amount.value === "" || isNaN(Number(amount.value))) { hours.value = amount.value; return; }
    var value = Number(amount.value) * (unit.value === "days" ? data.hours_per_day : 1);
    hours.value = String(Math.round(value * 1000) / 1000);
  }

  /* the incentive: its fields are sent only when the code is offered; otherwise "incentive": null */
  function syncIncentive(n) {
    var toggle = one("data-incentive-toggle", n);
    var fields = one("data-incentive-fields", n);
    if (!fields) return;
    var offered = toggle ? toggle.checked : true;
    var off = one("data-incentive-off", n);
    if (off) off.disabled = offered;
    fields.hidden = !offered;
    fields.querySelectorAll("input, select").forEach(function (input) { input.disabled = !offered; });
    var kind = one("data-incentive-kind", n), value = one("data-incentive-value", n);
    if (offered && kind && value) value.disabled = kind.value === "free_shipping";
  }

  function stepOf(element) {
    var fieldset = element.closest && element.closest("[data-step]");
    return fieldset ? fieldset.getAttribute("data-step") : null;
  }

  function draft(n) {
    /* the step's texts and incentive as the form holds them now, unsaved */
    var all = window.Comeback.serialize(form);
    var step = (all.steps && all.steps[n]) || {};
    var result = {};
    ["subject", "intro", "incentive"].forEach(function (name) { if (step[name] !== undefined) result[name] = step[name]; });
    return result;
  }

  function errorText(result) {
    return (result.data && result.data.error) || strings.preview_failed;
  }

  function refresh() {
    if (!frame || !picker) return;
    var n = picker.value;
    var mine = ++sequence;
    status.textContent = strings.preview_loading;
    window.Comeback.api("POST", base + n + "/preview", { step: draft(n) }).then(function (result) {
      if (mine !== sequence) return;  /* a newer draft was asked for meanwhile */
      if (!result.ok) { status.textContent = fill(strings.preview_failed, { error: errorText(result) }); return; }
      frame.srcdoc = result.data.html;
      subject.textContent = result.data.subject;
      status.textContent = "";
    }, function (error) {
      if (mine === sequence) status.textContent = fill(strings.preview_failed, { error: String(error) });
    });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  }

  function onEdit(event) {
    var target = event.target;
    if (target.hasAttribute("data-delay-amount") || target.hasAttribute("data-delay-unit")) {
      syncDelay(target.getAttribute("data-delay-amount") || target.getAttribute("data-delay-unit"));
      return;  /* a delay does not change the email */
    }
    if (target.hasAttribute("data-incentive-toggle") || target.hasAttribute("data-incentive-kind")) {
      syncIncentive(target.getAttribute("data-incentive-toggle") || target.getAttribute("data-incentive-kind"));
    }
    var n = stepOf(target);
    var shown = target.hasAttribute("data-draft") || target.hasAttribute("data-incentive-toggle");
    if (n === null || !shown) return;
    if (picker && picker.value !== n) picker.value = n;
    later();
  }

  form.addEventListener("input", onEdit);
  form.addEventListener("change", onEdit);
  form.addEventListener("comeback:saved", function () { refresh(); });
  form.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-preview-step]");
    if (!button) return;
    picker.value = button.getAttribute("data-preview-step");
    refresh();
    frame.scrollIntoView({ behavior: "smooth", block: "nearest" });
  });
  if (picker) picker.addEventListener("change", refresh);
  form.querySelectorAll("[data-delay-amount]").forEach(function (input) { syncDelay(input.getAttribute("data-delay-amount")); });
  form.querySelectorAll("[data-incentive-fields]").forEach(function (fields) { syncIncentive(fields.getAttribute("data-incentive-fields")); });
  refresh();

  /* the test send: the step shown in the preview, as drafted, to the address given */
  var testForm = document.getElementById("test-send-form");
  var result = document.querySelector("[data-test-result]");

  function watch(url, email, left) {
    window.Comeback.api("GET", url).then(function (answer) {
      var state = answer.ok && answer.data ? answer.data.status : null;
      if (state === "sent") { result.textContent = fill(strings.test_sent, { email: email }); return; }
      if (state === "failed" || state === "suppressed" || state === "skipped") {
        result.textContent = fill(strings.test_failed, { error: answer.data.reason || answer.data.last_error || state });
        return;
      }
      if (left <= 0) { result.textContent = fill(strings.test_waiting, { email: email }); return; }
      setTimeout(function () { watch(url, email, left - 1); }, 2000);
    });
  }

  if (testForm) testForm.addEventListener("submit", function (event) {
    event.preventDefault();
    event.stopPropagation();  /* not a page navigation (admin.js follows GET forms in the frame) */
    var input = testForm.querySelector("[name=email]");
    var button = testForm.querySelector("button");
    input.removeAttribute("aria-invalid");
    var n = picker ? picker.value : "0";
    var email = input.value.trim();
    result.textContent = strings.test_sending;
    button.setAttribute("aria-busy", "true");
    window.Comeback.api("POST", base + n + "/test", { email: email, step: draft(n) }).then(function (answer) {
      button.removeAttribute("aria-busy");
      if (!answer.ok) {
        if (answer.data && answer.data.field === "email") input.setAttribute("aria-invalid", "true");
        result.textContent = fill(strings.test_failed, { error: errorText(answer) });
        return;
      }
      result.textContent = fill(strings.test_queued, { email: email });
      watch(answer.data.status_url, email, 15);
    }, function (error) {
      button.removeAttribute("aria-busy");
      result.textContent = fill(strings.test_failed, { error: String(error) });
    });
  });
})();
