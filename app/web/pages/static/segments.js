/* Comeback segments: the rule builder over the server-rendered rows.
 *
 * Each row is (field, operator, value); the operators offered are the field's own (from the
 * #segment-fields data, derived from app/segments/rules.py) and the value input follows the
 * field's kind and operator. Rows are numbered data-field="rules.all.1.value" so that the API's
 * 422 field ("rules.all[1].value") lands beside its input. Changes ask
 * POST /api/admin/segments/preview how many customers match, without saving.
 */
(function () {
  "use strict";
  var form = document.querySelector("[data-segment-form]");
  if (!form || !window.Comeback) return;
  var C = window.Comeback;
  var builder = form.querySelector("[data-builder]");
  var rowsBox = form.querySelector("[data-rows]");
  var jsonBox = form.querySelector("[data-rules-json]");
  var template = document.getElementById("rule-row-template");
  var preview = form.querySelector("[data-preview]");
  var fields = JSON.parse(document.getElementById("segment-fields").textContent);
  var words = JSON.parse(document.getElementById("segment-words").textContent);
  var NO_VALUE = ["this_month", "none", "is_set", "is_not_set"];
  var language = document.body.getAttribute("data-language") || "en";
  var specs = {};
  fields.forEach(function (spec) { specs[spec.name] = spec; });

  function kind() {
    var checked = form.querySelector("input[name=combinator]:checked");
    return checked ? checked.value : (builder.getAttribute("data-kind") || "all");
  }

  function rows() { return rowsBox ? Array.prototype.slice.call(rowsBox.querySelectorAll("[data-row]")) : []; }

  function part(row, role) { return row.querySelector('[data-role="' + role + '"]'); }

  function renumber() {
    var group = kind();
    rows().forEach(function (row, index) {
      var base = "rules." + group + "." + index;
      ["field", "op", "value"].forEach(function (role) {
        var el = part(row, role);
        if (el) el.setAttribute("data-field", base + "." + role);
      });
      var slots = row.querySelectorAll(".field-error[data-for]");
      ["field", "op", "value"].forEach(function (role, i) { if (slots[i]) slots[i].setAttribute("data-for", base + "." + role); });
      var remove = row.querySelector("[data-remove-row]");
      if (remove) remove.disabled = rows().length < 2;
    });
  }

  function option(value, label, selected) {
    var el = document.createElement("option");
    el.value = value;
    el.textContent = label;
    if (selected) el.selected = true;
    return el;
  }

  function textInput(type, kindName, value) {
    var input = document.createElement("input");
    input.type = type;
    input.setAttribute("data-kind", kindName);
    if (value !== undefined && value !== null) input.value = value;
    return input;
  }

  function valueControl(spec, op, value) {
    /* The value input for spec and op, as the server renders it (segments_builder.html). */
    var el, extra = null;
    if (NO_VALUE.indexOf(op) >= 0) {
      el = document.createElement("span");
      el.className = "rule-novalue subdued";
      el.setAttribute("data-kind", "none");
      el.tabIndex = -1;
      el.textContent = "—";
    } else if (spec.kind === "number") {
      el = textInput("number", "number", value);
      el.step = "any";
      if (spec.low !== null) el.min = spec.low;
      if (spec.high !== null) el.max = spec.high;
    } else if (spec.kind === "date" && (op === "within_days" || op === "not_within_days")) {
      el = textInput("number", "int", value);
      el.step = "1"; el.min = "1"; el.max = "36500";
      extra = document.createElement("span");
      extra.className = "subdued";
      extra.textContent = words.days;
    } else if (spec.kind === "date") {
      el = textInput("date", "text", value);
    } else if (spec.kind === "choice") {
      el = document.createElement("select");
      var many = op === "in" || op === "not_in";
      if (many) { el.multiple = true; el.size = 3; }
      el.setAttribute("data-kind", many ? "multi" : "text");
      var values = Array.isArray(value) ? value : (value ? [value] : []);
      spec.choices.forEach(function (choice) {
        var chosen = many ? values.indexOf(choice.value) >= 0 : choice.value === values[0];
        el.appendChild(option(choice.value, choice.label, chosen));
      });
    } else if (spec.kind === "flag") {
      el = document.createElement("select");
      el.setAttribute("data-kind", "bool");
      el.appendChild(option("true", words.yes, value !== false));
      el.appendChild(option("false", words.no, value === false));
    } else if (spec.kind === "bought" || (spec.kind === "text" && (op === "in" || op === "not_in"))) {
      el = textInput("text", "list", Array.isArray(value) ? value.join(", ") : value);
      el.placeholder = words.list_help;
    } else {
      el = textInput("text", "text", Array.isArray(value) ? value.join(", ") : value);
      el.maxLength = 64;
    }
    el.setAttribute("data-role", "value");
    if (el.tagName !== "SPAN") el.setAttribute("aria-label", words.value);
    return { el: el, extra: extra };
  }

  function readValue(el) {
    var type = el.getAttribute("data-kind");
    if (type === "none") return undefined;
    if (type === "number") return el.value === "" ? null : Number(el.value);
    if (type === "int") return el.value === "" ? null : (/^\d+$/.test(el.value) ? parseInt(el.value, 10) : Number(el.value));
    if (type === "bool") return el.value === "true";
    if (type === "multi") return Array.prototype.filter.call(el.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
    if (type === "list") return el.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    return el.value;
  }

  function rebuildValue(row, keep) {
    var spec = specs[part(row, "field").value];
    var op = part(row, "op").value;
    var slot = part(row, "value-slot");
    var old = part(row, "value");
    var previous = keep && old ? readValue(old) : undefined;
    var built = valueControl(spec, op, previous);
    if (old && old.getAttribute("data-kind") === built.el.getAttribute("data-kind") && keep) return;
    built.el.setAttribute("data-field", old ? old.getAttribute("data-field") : "");
    slot.textContent = "";
    slot.appendChild(built.el);
    if (built.extra) slot.appendChild(built.extra);
  }

  function rebuildOps(row) {
    var spec = specs[part(row, "field").value];
    var select = part(row, "op");
    var current = select.value;
    select.textContent = "";
    spec.ops.forEach(function (item) { select.appendChild(option(item.op, item.label, item.op === current)); });
    var help = part(row, "help");
    if (help) help.textContent = spec.help;
  }

  function collect() {
    /* The rules as the API takes them, or throws a message when the JSON box is not JSON. */
    if (jsonBox) {
      try { return JSON.parse(jsonBox.value); } catch (e) { throw new Error(words.bad_json); }
    }
    var group = {};
    group[kind()] = rows().map(function (row) {
      var item = { field: part(row, "field").value, op: part(row, "op").value };
      var value = readValue(part(row, "value"));
      if (value !== undefined) item.value = value;
      return item;
    });
    return group;
  }

  function placeFor(path) {
    /* The element the API's field names: rules.all[1].value[0] -> rules.all.1.value, else its nearest parent. */
    var parts = String(path || "").replace(/\[(\d+)\]/g, ".$1").split(".");
    while (parts.length) {
      var name = parts.join(".");
      var el = form.querySelector('[data-field="' + name + '"], [name="' + name + '"]');
      if (el) return { el: el, name: name };
      parts.pop();
    }
    return null;
  }

  function clearErrors() {
    form.querySelectorAll("[aria-invalid=true]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    form.querySelectorAll(".field-error, [data-form-error]").forEach(function (el) { el.textContent = ""; });
  }

  function showError(result, focus) {
    var data = result.data || {};
    var field = data.field;
    var message = data.error || words.preview_error;
    if (field && message.indexOf(field + ": ") === 0) message = message.slice(field.length + 2);
    var place = placeFor(field);
    if (place) {
      place.el.setAttribute("aria-invalid", "true");
      var slot = form.querySelector('.field-error[data-for="' + place.name + '"]');
      if (!slot) {
        slot = document.createElement("p");
        slot.className = "field-error";
        slot.setAttribute("data-for", place.name);
        place.el.insertAdjacentElement("afterend", slot);
      }
      if (!slot.id) slot.id = "error-" + place.name.replace(/[^a-z0-9]+/gi, "-");
      slot.textContent = message;
      place.el.setAttribute("aria-describedby", slot.id);
      if (focus && place.el.focus) place.el.focus();
    }
    return message;
  }

  function formatCount(count) {
    try { return new Intl.NumberFormat(language).format(count); } catch (e) { return String(count); }
  }

  var pending = null, asked = 0;
  function refreshPreview() {
    if (!preview) return;
    clearTimeout(pending);
    pending = setTimeout(function () {
      var rules;
      try { rules = collect(); } catch (e) { preview.textContent = e.message; return; }
      var mine = ++asked;
      preview.textContent = words.preview_busy;
      C.api("POST", "/api/admin/segments/preview", { rules: rules }).then(function (result) {
        if (mine !== asked) return;
        clearErrors();
        if (result.ok) {
          var count = result.data.members;
          preview.textContent = count === 0 ? words.preview_none
            : count === 1 ? words.preview_one : words.preview.replace("{count}", formatCount(count));
        } else {
          showError(result, false);
          preview.textContent = words.preview_error;
        }
      }, function () { if (mine === asked) preview.textContent = words.preview_error; });
    }, 400);
  }

  function addRow() {
    var row = template.content.firstElementChild.cloneNode(true);
    rowsBox.appendChild(row);
    renumber();
    part(row, "field").focus();
    refreshPreview();
  }

  if (rowsBox) {
    rowsBox.addEventListener("change", function (event) {
      var row = event.target.closest("[data-row]");
      if (!row) return;
      var role = event.target.getAttribute("data-role");
      if (role === "field") { rebuildOps(row); rebuildValue(row, false); renumber(); }
      if (role === "op") { rebuildValue(row, true); renumber(); }
    });
    rowsBox.addEventListener("click", function (event) {
      var remove = event.target.closest("[data-remove-row]");
      if (!remove || rows().length < 2) return;
      var row = remove.closest("[data-row]");
      var next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      renumber();
      if (next) part(next, "field").focus();
      refreshPreview();
    });
    form.querySelector("[data-add-row]").addEventListener("click", addRow);
    form.querySelectorAll("input[name=combinator]").forEach(function (radio) {
      radio.addEventListener("change", function () { renumber(); refreshPreview(); });
    });
    renumber();
  }
  builder.addEventListener("input", refreshPreview);
  builder.addEventListener("change", refreshPreview);

  var loaded = jsonBox ? jsonBox.value : JSON.stringify(collect());
  if (form.getAttribute("data-method") === "POST") refreshPreview();
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    event.stopPropagation();  /* admin.js would follow a GET form inside the frame */
    clearErrors();
    var general = form.querySelector("[data-form-error]");
    var payload = { name: form.elements.name.value };
    try { payload.rules = collect(); } catch (e) { general.textContent = e.message; return; }
    var tag = form.elements.tag.value.trim();
    var method = form.getAttribute("data-method");
    if (method === "POST") {
      if (tag) payload.tag = tag;
      var key = form.elements.key && form.elements.key.value.trim();
      if (key) payload.key = key;
    } else {
      payload.tag = tag || null;
    }
    var changed = method === "PUT" && (jsonBox ? jsonBox.value : JSON.stringify(payload.rules)) !== loaded;
    var proceed = changed ? C.confirm(words.confirm_rules) : Promise.resolve(true);
    var button = form.querySelector("button[type=submit]");
    proceed.then(function (yes) {
      if (!yes) return;
      button.setAttribute("aria-busy", "true");
      C.api(method, form.getAttribute("data-path"), payload).then(function (result) {
        button.removeAttribute("aria-busy");
        if (!result.ok) {
          var message = showError(result, true);
          general.textContent = message;
          return;
        }
        C.toast(method === "POST" ? words.created : words.saved);
        C.navigate(form.getAttribute("data-then").replace("{key}", encodeURIComponent(result.data.key)));
      }, function (error) {
        button.removeAttribute("aria-busy");
        C.toast(String(error), true);
      });
    });
  });

  var remover = document.querySelector("[data-delete-segment]");
  if (remover) {
    remover.addEventListener("click", function () {
      C.confirm(words.confirm_delete).then(function (yes) {
        if (!yes) return;
        remover.setAttribute("aria-busy", "true");
        C.api("DELETE", remover.getAttribute("data-path")).then(function (result) {
          remover.removeAttribute("aria-busy");
          if (!result.ok) { C.toast((result.data && result.data.error) || words.preview_error, true); return; }
          C.toast(words.deleted);
          C.navigate(remover.getAttribute("data-then"));
        }, function (error) { remover.removeAttribute("aria-busy"); C.toast(String(error), true); });
      });
    });
  }
})();
