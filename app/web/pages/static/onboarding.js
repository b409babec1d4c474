/* Onboarding: follow a running import live, switch flows on and off, look for the store's plugin again.
 *
 * The page arrives rendered with the current state (a reload shows where things are); this script
 * only keeps it current. While the import runs it reads /api/admin/sync every 2 seconds and moves
 * the bars; when the import ends (or a new resource starts) it reloads the page, whose server
 * rendering then shows the finished step or what went wrong.
 */
(function () {
  "use strict";
  var source = document.getElementById("onboarding-data");
  if (!source || !window.Comeback) return;
  var data = JSON.parse(source.textContent);
  var strings = data.strings;
  var numbers = new Intl.NumberFormat(data.language);
  var POLL_MS = 2000;
  var OPEN = ["pending", "exporting", "importing"];
  var BADGES = { completed: "success", failed: "critical", cancelled: "warning" };

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, name) { return name in values ? values[name] : all; });
  }

  function reload() { Comeback.navigate(location.href); }

  function resourceName(name) { return strings["resource_" + name] || name; }

  function countText(item) {
    var values = { processed: numbers.format(item.processed), resource: resourceName(item.resource) };
    if (item.total === null || item.total === undefined) return fill(strings.count_unknown, values);
    values.total = numbers.format(item.total);
    return fill(strings.count, values);
  }

  function etaText(item) {
    if (item.status === "completed") return strings.eta_done;
    if (item.status === "failed" || item.status === "cancelled") return "";
    var seconds = item.eta_seconds;
    if (seconds === null || seconds === undefined) return strings.eta_unknown;
    if (seconds < 90) return strings.eta_minute;
    if (seconds < 90 * 60) return fill(strings.eta_minutes, { minutes: numbers.format(Math.floor(seconds / 60 + 0.5)) });
    return fill(strings.eta_hours, { hours: numbers.format(Math.floor(seconds / 3600 + 0.5)) });
  }

  function show(item) {
    var row = document.querySelector('#sync-resources [data-resource="' + item.resource + '"]');
    if (!row) return false;
    var bar = row.querySelector('[data-part="bar"]');
    var count = countText(item);
    if (item.percent === null || item.percent === undefined) bar.removeAttribute("aria-valuenow");
    else bar.setAttribute("aria-valuenow", String(item.percent));
    bar.setAttribute("aria-valuetext", count);
    bar.firstElementChild.style.width = (item.percent || 0) + "%";
    row.querySelector('[data-part="count"]').textContent = count;
    row.querySelector('[data-part="eta"]').textContent = etaText(item);
    var badge = row.querySelector('[data-part="status"]');
    badge.textContent = strings["status_" + item.status] || item.status;
    badge.className = "badge " + (BADGES[item.status] || "info");
    row.setAttribute("data-status", item.status);
    return true;
  }

  function follow() {
    Comeback.api("GET", "/api/admin/sync").then(function (result) {
      if (result.status === 401 || result.status === 403) return;  /* the session ended: a reload signs in again */
      if (!result.ok) { setTimeout(follow, POLL_MS * 5); return; }
      var sync = result.data;
      var names = sync.resources.map(function (item) { return item.resource; }).sort();
      if (names.join(",") !== data.resources.join(",")) { reload(); return; }  /* a resource started */
      sync.resources.forEach(show);
      if (sync.status === "completed" || sync.status === "failed" || sync.status === "cancelled") {
        document.getElementById("sync-live").textContent =
          sync.status === "completed" ? strings.sync_completed_live : strings.sync_failed_live;
        setTimeout(reload, 1500);
        return;
      }
      setTimeout(follow, POLL_MS);
    }, function () { setTimeout(follow, POLL_MS * 5); });
  }

  if (data.sync_status === "running" || data.sync_status === "idle") setTimeout(follow, POLL_MS);

  /* --- flows: one switch per flow, through the flows API ------------------------------- */

  function markStepDone(name) {
    var step = document.getElementById("step-" + name);
    if (!step || step.classList.contains("done")) return;
    step.classList.add("done");
    var badge = step.querySelector("h2 + .badge");
    if (badge) { badge.textContent = strings.done; badge.className = "badge success"; }
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[data-flow]")) return;
    var key = input.getAttribute("data-flow");
    var name = input.getAttribute("data-name");
    var enabled = input.checked;
    input.disabled = true;
    Comeback.api("PUT", "/api/admin/flows/" + encodeURIComponent(key), { enabled: enabled }).then(function (result) {
      input.disabled = false;
      if (!result.ok) {
        input.checked = !enabled;
        Comeback.toast((result.data && result.data.error) || strings.check_error, true);
        return null;
      }
      Comeback.toast(fill(enabled ? strings.flow_on : strings.flow_off, { name: name }));
      if (!enabled) return null;
      return Comeback.api("POST", "/api/admin/onboarding/steps/flows").then(function (marked) {
        if (marked.ok) markStepDone("flows");
      });
    }, function (error) {
      input.disabled = false;
      input.checked = !enabled;
      Comeback.toast(String(error.message || error), true);
    });
  });

  /* --- the store's plugin: configure it again and read the outcome --------------------- */

  function widgetDetected(status) {
    return status.steps.some(function (step) { return step.name === "widget" && step.detected === true; });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-check-widget]");
    if (!button) return;
    var output = document.getElementById("widget-check-result");
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
    output.textContent = strings.check_waiting;
    var tries = 0;

    function done(message) {
      button.removeAttribute("aria-busy");
      button.disabled = false;
      output.textContent = message;
    }

    function look() {
      Comeback.api("GET", "/api/admin/onboarding").then(function (result) {
        if (!result.ok) { done((result.data && result.data.error) || strings.check_error); return; }
        if (widgetDetected(result.data)) { reload(); return; }
        tries += 1;
        if (tries >= 10) done(strings.check_missing);
        else setTimeout(look, POLL_MS);
      }, function () { done(strings.check_error); });
    }

    Comeback.api("POST", "/api/admin/onboarding/widget/check").then(function (result) {
      if (!result.ok) { done((result.data && result.data.error) || strings.check_error); return; }
      if (widgetDetected(result.data)) { reload(); return; }
      if (result.data.checking) setTimeout(look, POLL_MS);
      else done(strings.check_missing);
    }, function () { done(strings.check_error); });
  });
})();
