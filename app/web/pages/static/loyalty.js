/* Comeback admin, loyalty pages: list editing, inline validation, the widget preview, confirmation.
 *
 * The form marked data-loyalty-api="METHOD /api/..." is serialised with Comeback.serialize, its
 * numbered paths (rewards.0.points) turned into lists, and sent to the program's API. Before a
 * save, POST /api/admin/loyalty/impact says which members already in the program the change
 * reaches; when it reaches any, the merchant confirms with those counts in front of them. While
 * typing, POST /api/admin/loyalty/preview returns the widget's data for the draft (nothing is
 * saved) and the preview panel draws it with the widget's own words.
 */
(function () {
  "use strict";
  var source = document.getElementById("loyalty-data");
  var form = document.querySelector("form[data-loyalty-api]");
  if (!source || !form || !window.Comeback) return;
  var data = JSON.parse(source.textContent);
  var W = data.words.widget, IMPACT = data.words.impact, UI = data.words.ui;
  var locale = data.language || "en";
  var plural = new Intl.PluralRules(locale);
  var numbers = new Intl.NumberFormat(locale);
  var box = document.getElementById("widget-preview");
  var status = document.querySelector("[data-preview-status]");
  var VALUE_KINDS = ["fixed_amount", "percentage"];

  function fill(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (whole, name) {
      return values && values[name] != null ? values[name] : whole;
    });
  }

  function counted(pair, count, values) {
    return fill(plural.select(Number(count)) === "one" ? pair[0] : pair[1], values);
  }

  /* ---- lists: add, remove, renumber ---- */

  function renumber(list) {
    var name = list.getAttribute("data-list");
    var items = list.querySelectorAll(":scope > [data-item]");
    Array.prototype.forEach.call(items, function (item, index) {
      item.querySelectorAll("[name], [id], [for], [data-for], [aria-describedby]").forEach(function (el) {
        ["name", "id", "for", "data-for", "aria-describedby"].forEach(function (attribute) {
          var value = el.getAttribute(attribute);
          if (!value) return;
          var prefix = attribute === "name" || attribute === "data-for" ? name : "f-" + name;
          var rule = new RegExp("^" + prefix.replace(/[.]/g, "\\.") + "([.-])(\\d+|__i__)([.-])");
          el.setAttribute(attribute, value.replace(rule, function (whole, before, number, after) {
            return prefix + before + index + after;
          }));
        });
      });
      var number = item.querySelector("[data-number]");
      if (number) number.textContent = String(index + 1);
    });
    var empty = document.querySelector('[data-list-empty="' + name + '"]');
    if (empty) empty.hidden = items.length > 0;
  }

  form.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add]");
    var remove = event.target.closest("[data-remove]");
    if (add) {
      var name = add.getAttribute("data-add");
      var list = form.querySelector('[data-list="' + name + '"]');
      var template = form.querySelector('template[data-template="' + name + '"]');
      var item = template.content.firstElementChild.cloneNode(true);
      list.appendChild(item);
      renumber(list);
      applyKinds(item);
      var first = item.querySelector("input, select, textarea");
      if (first) first.focus();
      schedule();
    } else if (remove) {
      var row = remove.closest("[data-item]");
      var owner = row.parentElement;
      row.remove();
      renumber(owner);
      form.setAttribute("data-changed", "true");
      var next = owner.querySelector("[data-item] input") || form.querySelector("[data-add]");
      if (next) next.focus();
      schedule();
    }
  });

  /* ---- fields that depend on a kind (a reward's value, a variable reward's steps) ---- */

  function applyKinds(scope) {
    (scope || form).querySelectorAll("[data-kind-switch]").forEach(function (select) {
      var holder = select.closest("[data-item]") || form;
      holder.querySelectorAll("[data-when-kind]").forEach(function (field) {
        if ((field.closest("[data-item]") || form) !== holder) return;
        var shown = field.getAttribute("data-when-kind").split(" ").indexOf(select.value) >= 0;
        field.hidden = !shown;
        field.querySelectorAll("input, select, textarea").forEach(function (input) { input.disabled = !shown; });
      });
    });
  }

  /* ---- the draft ---- */

  function listify(value) {
    if (Array.isArray(value)) return value.map(listify);
    if (!value || typeof value !== "object") return value;
    var keys = Object.keys(value);
    if (keys.length && keys.every(function (key) { return /^\d+$/.test(key); })) {
      return keys.map(Number).sort(function (a, b) { return a - b; }).map(function (key) { return listify(value[key]); });
    }
    var result = {};
    keys.forEach(function (key) { result[key] = listify(value[key]); });
    return result;
  }

  function withValue(reward) {
    /* a reward without an amount (free shipping, a free product, points off) is worth "0" */
    if (reward && typeof reward === "object" && reward.value === undefined) reward.value = "0";
    return reward;
  }

  function draft() {
    var payload = listify(Comeback.serialize(form));
    form.querySelectorAll("[data-list]").forEach(function (list) {
      var name = list.getAttribute("data-list");
      if (!Array.isArray(payload[name])) payload[name] = [];
    });
    form.querySelectorAll('[data-type="int-list"]').forEach(function (input) {
      if (input.disabled) return;
      payload[input.name] = input.value.split(/[,\s]+/).filter(Boolean).map(function (part) { return parseInt(part, 10); });
    });
    if (Array.isArray(payload.rewards)) payload.rewards.forEach(withValue);
    if (payload.referral_friend_reward) withValue(payload.referral_friend_reward);
    return payload;
  }

  function body(payload) {
    var part = form.getAttribute("data-body");
    return part ? payload[part] : payload;
  }

  /* ---- inline validation ---- */

  function fieldFor(path) {
    if (!path) return null;
    var candidates = [path, path.replace(/\[(\d+)\]/g, ".$1")];
    for (var i = 0; i < candidates.length; i++) {
      var found = form.querySelector('[name="' + candidates[i] + '"], [data-field="' + candidates[i] + '"]');
      if (found) return found;
    }
    return null;
  }

  function slotFor(field) {
    var key = field.name || field.getAttribute("data-field");
    return form.querySelector('.field-error[data-for="' + key + '"]');
  }

  function mark(field, message, origin) {
    var slot = slotFor(field);
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("data-invalid-by", origin);
    if (slot) {
      if (!slot.id) slot.id = "err-" + (field.id || Math.random().toString(36).slice(2));
      slot.textContent = message;
      var described = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      if (described.indexOf(slot.id) < 0) described.push(slot.id);
      field.setAttribute("aria-describedby", described.join(" "));
    }
  }

  function unmark(field) {
    field.removeAttribute("aria-invalid");
    field.removeAttribute("data-invalid-by");
    var slot = slotFor(field);
    if (slot) slot.textContent = "";
  }

  function check(field) {
    if (!field.willValidate) return;
    if (!field.validity.valid) mark(field, field.validationMessage, "browser");
    else if (field.getAttribute("aria-invalid") === "true") unmark(field);
  }

  form.addEventListener("focusout", function (event) { if (event.target.name) check(event.target); });
  form.addEventListener("input", function (event) {
    if (event.target.getAttribute("aria-invalid") === "true") check(event.target);
    schedule();
  });
  form.addEventListener("change", function (event) {
    if (event.target.hasAttribute("data-kind-switch")) applyKinds(event.target.closest("[data-item]") || form);
    if (event.target.name) check(event.target);
    schedule();
  });

  /* ---- the preview ---- */

  function el(tag, attributes) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (attributes[name] != null && attributes[name] !== false) node.setAttribute(name, attributes[name]);
    });
    Array.prototype.slice.call(arguments, 2).forEach(function (child) {
      if (child == null || child === false || child === "") return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function draw(program) {
    var shopCurrency = (program.point_value && program.point_value.shop_currency) || program.currency || data.currency;
    var look = program.widget || {};
    var num = function (value) { return numbers.format(Number(value)); };
    var pts = function (count) { return counted([W.points_one, W.points_other], count, { n: num(count) }); };
    function money(value, fractions) {
      if (!value || value.amount == null) return "";
      var options = { style: "currency", currency: value.currency || shopCurrency };
      if (fractions === 0) options.minimumFractionDigits = 0;
      try { return new Intl.NumberFormat(locale, options).format(Number(value.amount)); }
      catch (error) { return (value.amount + " " + (value.currency || "")).trim(); }
    }
    function describe(reward) {
      var parts = [];
      if (reward.kind === "fixed_amount") parts.push(fill(W.off, { m: money(reward.value) }));
      else if (reward.kind === "percentage") {
        parts.push(fill(W.off, { m: new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 2 })
          .format(Number(reward.percent) / 100) }));
      } else if (reward.kind === "free_shipping") parts.push(W.free_shipping);
      else if (reward.kind === "free_product") parts.push(W.free_product);
      else if (reward.kind === "variable" && program.point_value) {
        var step = Number(reward.increment) || 1;
        parts.push(fill(W.variable_off, { m: money({ amount: Number(program.point_value.amount) * step,
          currency: program.point_value.currency }), p: pts(step) }));
      }
      if (reward.minimum_order) parts.push(fill(W.min_order, { m: money(reward.minimum_order) }));
      return parts;
    }
    function line(label, end, hook) {
      return el("li", { "class": "wp-line", "data-preview": hook || null }, el("span", null, label),
        end != null ? el("span", { "class": "wp-end" }, end) : null);
    }
    function section(heading, hook) {
      var list = el("ul", { "data-preview": hook });
      return { node: el("section", { "class": "wp-section" }, el("h3", null, heading), list), list: list };
    }

    var panel = el("div", { "class": "wp-panel" });
    panel.style.setProperty("--wp-primary", look.primary_color || "#2e6b57");
    panel.style.setProperty("--wp-on-primary", look.primary_text || "#ffffff");
    panel.style.setProperty("--wp-bg", look.background_color || "#ffffff");
    panel.style.setProperty("--wp-text", look.text_color || "#1a1a1a");
    panel.appendChild(el("div", { "class": "wp-head" },
      el("p", { "class": "wp-title", "data-preview": "title" }, look.title || look.launcher_label || W.title)));
    var inner = el("div", { "class": "wp-body" });
    panel.appendChild(inner);
    inner.appendChild(el("p", { "data-preview": "welcome" }, look.welcome || W.welcome));
    inner.appendChild(el("p", { "class": "wp-cta", "aria-hidden": "true" },
      el("span", { "class": "wp-button" }, W.join), el("span", { "class": "wp-button alt" }, W.sign_in)));

    var earn = program.earn || {};
    var ways = section(W.earn, "earn");
    if (earn.per_unit > 0) {
      ways.list.appendChild(line(fill(W.per_unit, { p: pts(earn.per_unit), m: money({ amount: 1, currency: shopCurrency }, 0) })));
    }
    if (earn.signup > 0) ways.list.appendChild(line(W.signup, pts(earn.signup)));
    if (earn.birthday > 0) ways.list.appendChild(line(W.birthday, pts(earn.birthday)));
    if (earn.review > 0) ways.list.appendChild(line(W.review, pts(earn.review)));
    (earn.social || []).forEach(function (action) { ways.list.appendChild(line(action.name, pts(action.points))); });
    var referral = earn.referral || {};
    if (referral.advocate_points > 0) {
      var friend = referral.friend_reward ? describe(referral.friend_reward).join(" · ") : "";
      ways.list.appendChild(line(W.refer + (friend ? " (" + fill(W.friend_gets, { r: friend }) + ")" : ""),
        pts(referral.advocate_points), "referral"));
    }
    (program.challenges || []).forEach(function (challenge) {
      ways.list.appendChild(line(challenge.name, pts(challenge.points), "challenge"));
    });
    if (ways.list.children.length) {
      if (earn.pending_days > 0) {
        ways.node.appendChild(el("p", { "class": "wp-note" },
          counted([W.pending_days_one, W.pending_days_other], earn.pending_days, { n: num(earn.pending_days) })));
      }
      inner.appendChild(ways.node);
    }

    var rewards = program.rewards || [];
    if (rewards.length) {
      var offers = section(W.rewards, "rewards");
      rewards.forEach(function (reward) {
        var price = reward.kind === "variable" ? fill(W.from_points, { p: pts(reward.points) }) : pts(reward.points);
        var details = describe(reward);
        offers.list.appendChild(el("li", { "class": "wp-reward", "data-preview": "reward", "data-reward": reward.id },
          el("div", { "class": "wp-line" }, el("strong", null, reward.name), el("span", { "class": "wp-end" }, price)),
          details.length ? el("p", { "class": "wp-note" }, details.join(" · ")) : null));
      });
      inner.appendChild(offers.node);
    }

    var tiers = program.tiers || [];
    if (tiers.length >= 2) {
      var levels = section(W.tiers, "tiers");
      var spent = program.tier_basis === "amount_spent";
      tiers.forEach(function (tier) {
        var from = spent ? fill(W.from_spent, { m: money({ amount: tier.threshold, currency: shopCurrency }) })
          : fill(W.from_points, { p: pts(tier.threshold) });
        var end = el("span", { "class": "wp-end wp-note" }, from);
        if (Number(tier.multiplier) > 1) {
          end.appendChild(el("br"));
          end.appendChild(document.createTextNode(fill(W.multiplier, { x: num(tier.multiplier) })));
        }
        var perks = (tier.perks || []).length ? el("ul", { "class": "wp-perks wp-note" }) : null;
        (tier.perks || []).forEach(function (perk) { perks.appendChild(el("li", null, perk)); });
        levels.list.appendChild(el("li", { "class": "wp-line", "data-preview": "tier" },
          el("div", null, el("strong", null, tier.name), perks), end));
      });
      inner.appendChild(levels.node);
    }

    var launcher = el("span", { "class": "wp-launcher", "aria-hidden": "true" }, look.launcher_label || W.title);
    launcher.style.setProperty("--wp-primary", look.primary_color || "#2e6b57");
    launcher.style.setProperty("--wp-on-primary", look.primary_text || "#ffffff");
    box.setAttribute("data-position", look.position || "bottom-right");
    box.classList.toggle("is-off", look.enabled === false);
    box.replaceChildren(panel, launcher);
    if (look.enabled === false) status.textContent = UI.preview_disabled || "";
  }

  var timer = null, sequence = 0;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  function refresh() {
    var asked = ++sequence;
    if (!form.checkValidity()) {
      status.textContent = UI.preview_invalid;
      return;
    }
    Comeback.api("POST", "/api/admin/loyalty/preview", draft()).then(function (result) {
      if (asked !== sequence) return;
      form.querySelectorAll('[data-invalid-by="preview"]').forEach(unmark);
      if (result.ok) {
        status.textContent = "";
        draw(result.data);
        return;
      }
      var message = (result.data && result.data.error) || UI.preview_failed;
      if (result.status === 422) {
        var field = fieldFor(result.data.field);
        if (field) mark(field, message, "preview");
        status.textContent = fill(UI.preview_stale, { error: message });
      } else {
        status.textContent = UI.preview_failed;
      }
    }, function () {
      if (asked === sequence) status.textContent = UI.preview_failed;
    });
  }

  /* ---- saving, with a confirmation when members already in the program are affected ---- */

  function phrase(kind, impact) {
    var values = Object.assign({}, impact, { count: numbers.format(impact.count) });
    if (kind === "expiry_changed") {
      ["before", "after"].forEach(function (key) {
        values[key] = impact[key] == null ? UI.expiry_never : fill(UI.expiry_days, { days: numbers.format(impact[key]) });
      });
    } else {
      ["before", "after", "grace_days"].forEach(function (key) {
        if (typeof impact[key] === "number") values[key] = numbers.format(impact[key]);
      });
    }
    var pair = IMPACT[kind];
    return pair ? counted([pair.one, pair.other], impact.count, values) : "";
  }

  function question(impacts) {
    var lines = impacts.map(function (impact) { return "• " + phrase(impact.kind, impact); }).filter(Boolean);
    return [UI.confirm_intro, lines.join("\n"), UI.confirm_question].join("\n\n");
  }

  function settle(button) {
    if (button) button.removeAttribute("aria-busy");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    event.stopPropagation();  // admin.js handles data-api forms; this one is sent here
    var button = event.submitter || form.querySelector("button[type=submit]");
    if (button && button.getAttribute("aria-busy") === "true") return;
    var payload = draft();
    var spec = form.getAttribute("data-loyalty-api").split(" ");
    Comeback.clearErrors(form);
    if (button) button.setAttribute("aria-busy", "true");
    Comeback.api("POST", "/api/admin/loyalty/impact", payload).then(function (result) {
      if (!result.ok) { settle(button); Comeback.showError(form, result); return null; }
      var impacts = (result.data && result.data.impacts) || [];
      var asked = impacts.length ? Comeback.confirm(question(impacts)) : Promise.resolve(true);
      return asked.then(function (yes) {
        if (!yes) { settle(button); return null; }
        return Comeback.api(spec[0], spec[1], body(payload)).then(function (saved) {
          settle(button);
          if (!saved.ok) { Comeback.showError(form, saved); return; }
          form.querySelectorAll("input, textarea").forEach(function (input) {
            input.defaultValue = input.value;
            input.defaultChecked = input.checked;
          });
          form.querySelectorAll("select option").forEach(function (option) { option.defaultSelected = option.selected; });
          form.removeAttribute("data-changed");
          Comeback.toast(form.getAttribute("data-saved") || UI.saved);
          form.dispatchEvent(new CustomEvent("comeback:saved", { detail: saved.data, bubbles: true }));
        });
      });
    }).catch(function () {
      settle(button);
      Comeback.toast(UI.error_generic, true);
    });
  });

  applyKinds();
  draw(data.preview);
})();
