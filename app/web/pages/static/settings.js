/* Settings page: the launcher preview and contrast check as the merchant picks colours, the quiet-hours
 * switch, the holdout percentages sent as shares, and the preview of the emails' logo. Nothing here
 * saves: the forms post through admin.js (data-api) to the APIs that own each setting.
 */
(function () {
  "use strict";
  var dataNode = document.getElementById("settings-data");
  if (!dataNode) return;
  var data = JSON.parse(dataNode.textContent);
  var strings = data.strings;
  var DARK = "#1a1a1a", LIGHT = "#ffffff", BLACK = "#000000";

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) { return name in values ? String(values[name]) : whole; });
  }

  /* WCAG 2 relative luminance and contrast, as app/loyalty/widget.py computes them. */
  function luminance(hex) {
    function channel(pair) {
      var value = parseInt(pair, 16) / 255;
      return value <= 0.04045 ? value / 12.92 : Math.pow((value + 0.055) / 1.055, 2.4);
    }
    return 0.2126 * channel(hex.slice(1, 3)) + 0.7152 * channel(hex.slice(3, 5)) + 0.0722 * channel(hex.slice(5, 7));
  }
  function contrast(one, other) {
    var a = luminance(one), b = luminance(other);
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  }
  function readableOn(background) {
    var best = contrast(DARK, background) >= contrast(LIGHT, background) ? DARK : LIGHT;
    return contrast(best, background) >= 4.5 ? best : BLACK;
  }
  function isHex(value) { return /^#[0-9a-fA-F]{6}$/.test(value || ""); }
  function ratio(value) { return (Math.round(value * 100) / 100).toLocaleString(document.documentElement.lang || "en"); }

  function setupBranding() {
    var form = document.getElementById("branding-form");
    var stage = document.getElementById("launcher-stage");
    if (!form || !stage) return;
    var primary = form.querySelector('[name="widget.primary_color"]');
    var background = form.querySelector('[name="widget.background_color"]');
    var label = form.querySelector('[name="widget.launcher_label"]');
    var position = form.querySelector('[name="widget.position"]');
    var enabled = form.querySelector('[name="widget.enabled"]');
    var report = document.getElementById("contrast-report");
    var description = document.querySelector("[data-preview-description]");
    var title = stage.getAttribute("data-title") || "";

    function update() {
      var main = isHex(primary.value) ? primary.value.toLowerCase() : "#2e6b57";
      var panel = isHex(background.value) ? background.value.toLowerCase() : "#ffffff";
      var onMain = readableOn(main), onPanel = readableOn(panel);
      stage.style.setProperty("--stage-primary", main);
      stage.style.setProperty("--stage-on-primary", onMain);
      stage.style.setProperty("--stage-bg", panel);
      stage.style.setProperty("--stage-text", onPanel);
      stage.setAttribute("data-position", position.value);
      stage.classList.toggle("is-off", !enabled.checked);
      var text = label.value.trim() || data.default_label;
      stage.querySelector("[data-preview-label]").textContent = text;
      stage.querySelector("[data-preview-title]").textContent = title || text;
      document.querySelectorAll("[data-colour-value]").forEach(function (node) {
        node.textContent = node.getAttribute("data-colour-value") === "primary" ? main : panel;
      });
      if (description) {
        description.textContent = fill(strings.preview_description, {
          label: text, position: strings["position_" + position.value.replace("-", "_")] || position.value });
      }
      var off = document.querySelector("[data-preview-off]");
      if (off) off.hidden = enabled.checked;

      var launcherRatio = contrast(onMain, main), panelRatio = contrast(onPanel, panel), controls = contrast(main, panel);
      var warning = null;
      if (launcherRatio < data.text_minimum || panelRatio < data.text_minimum) warning = strings.contrast_text_low;
      else if (controls < data.control_minimum) warning = strings.contrast_control_low;
      var banner = report.querySelector("[data-contrast-banner]");
      if (warning) {
        if (!banner) {
          banner = document.createElement("div");
          banner.className = "banner warning";
          banner.setAttribute("data-contrast-banner", "");
          report.insertBefore(banner, report.firstChild);
        }
        if (banner.textContent !== warning) banner.textContent = warning;
      } else if (banner) {
        banner.remove();
      }
      report.querySelector("[data-contrast-figures]").textContent = fill(strings.contrast_figures, {
        launcher: ratio(launcherRatio), panel: ratio(panelRatio), controls: ratio(controls) });
    }

    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }

  function setupQuietHours() {
    var toggle = document.querySelector("[data-quiet-toggle]");
    if (!toggle) return;
    var form = toggle.form;
    var none = form.querySelector("[data-quiet-none]");
    var times = form.querySelectorAll("[data-quiet-time]");
    function update() {
      none.disabled = toggle.checked;
      times.forEach(function (input) { input.disabled = !toggle.checked; });
    }
    toggle.addEventListener("change", update);
    update();
  }

  function setupHoldouts() {
    document.querySelectorAll("[data-holdout-form]").forEach(function (form) {
      var percent = form.querySelector("[data-holdout-percent]");
      var share = form.querySelector("[data-holdout-share]");
      function sync() {
        var value = parseFloat(percent.value);
        /* a share with at most four decimals: 12.5 % is 0.125 */
        share.value = isNaN(value) ? "" : String(Math.round(value * 100) / 10000);
      }
      percent.addEventListener("input", sync);
      /* on the form itself, so it runs before admin.js reads the form on the document */
      form.addEventListener("submit", sync);
    });
  }

  /* The logo preview: the image at the address typed, shown once it has loaded; hidden while the field is
   * empty or not an https:// address, and replaced by a hint when nothing loads from it. */
  function setupLogo() {
    var input = document.querySelector('input[name="logo_url"]');
    var image = document.querySelector("[data-logo-image]");
    var problem = document.querySelector("[data-logo-error]");
    if (!input || !image) return;
    var wanted = "", timer = null;
    function usable(value) {
      try {
        var url = new URL(value);
        return url.protocol === "https:" && !!url.hostname;
      } catch (error) {
        return false;
      }
    }
    image.addEventListener("load", function () {
      if (!wanted || image.getAttribute("src") !== wanted) return;
      image.hidden = false;
      if (problem) problem.hidden = true;
    });
    image.addEventListener("error", function () {
      if (!wanted || image.getAttribute("src") !== wanted) return;
      image.hidden = true;
      if (problem) problem.hidden = false;
    });
    function show() {
      var value = input.value.trim();
      wanted = usable(value) ? value : "";
      if (!wanted) {
        image.hidden = true;
        image.removeAttribute("src");
        if (problem) problem.hidden = true;
        return;
      }
      if (image.getAttribute("src") !== wanted) {
        image.hidden = true;
        image.setAttribute("src", wanted);
      }
    }
    /* not on every keystroke: each address typed would be fetched */
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(show, 400);
    });
    input.addEventListener("change", function () { clearTimeout(timer); show(); });
    show();
  }

  /* The browser's own checks (a number out of range, a malformed address) shown beside the field,
   * like the API's refusals, as soon as a field is left or a form is submitted. */
  function slotFor(input) {
    var name = input.name || input.getAttribute("data-field");
    return name && input.form ? input.form.querySelector('.field-error[data-for="' + name + '"]') : null;
  }
  function mark(input) {
    var slot = slotFor(input);
    if (!slot) return;
    if (input.validity.valid) {
      if (input.getAttribute("aria-invalid") === "true") { input.removeAttribute("aria-invalid"); slot.textContent = ""; }
      return;
    }
    input.setAttribute("aria-invalid", "true");
    slot.textContent = input.validationMessage;
  }
  document.addEventListener("invalid", function (event) { mark(event.target); }, true);
  document.addEventListener("focusout", function (event) {
    if (event.target.form && event.target.willValidate) mark(event.target);
  });
  document.addEventListener("input", function (event) {
    if (event.target.getAttribute && event.target.getAttribute("aria-invalid") === "true" && event.target.validity) mark(event.target);
  });

  setupBranding();
  setupQuietHours();
  setupHoldouts();
  setupLogo();
})();
