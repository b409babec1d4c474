/* Home: draws the revenue of new and returning customers with uPlot from the page's JSON, and,
 * when the page was drawn before the order figures were computed (a large shop's first view),
 * asks GET /api/admin/analytics/home for them and puts their cards, tables and chart where the
 * "Calculating…" boxes were, without moving anything on the page. The table under the chart
 * holds the same figures (and is what screen readers read); without JavaScript or uPlot the
 * reserved box stays empty and the table remains.
 */
(function () {
  "use strict";

  function drawChart() {
    var box = document.getElementById("revenue-chart");
    var source = document.getElementById("revenue-data");
    if (!box || !source || box.getAttribute("data-drawn") || typeof window.uPlot !== "function") return;
    box.setAttribute("data-drawn", "1");
    var data = JSON.parse(source.textContent);
    var style = getComputedStyle(document.body);
    function colour(name, fallback) { return (style.getPropertyValue(name) || "").trim() || fallback; }
    function formatter(extra) {
      try {
        return new Intl.NumberFormat(data.language, Object.assign(data.currency ? { style: "currency", currency: data.currency } : {}, extra));
      } catch (e) {
        return new Intl.NumberFormat(data.language, extra);
      }
    }
    var money = formatter({ maximumFractionDigits: 0 });
    var compact = formatter({ notation: "compact", maximumFractionDigits: 1 });
    var text = colour("--text-subdued", "#616161");
    var grid = colour("--border", "#e3e3e3");
    var xs = data.months.map(function (_, index) { return index; });
    var short = data.months.map(function (month) {
      var parts = month.split("-");
      return new Date(Number(parts[0]), Number(parts[1]) - 1, 1).toLocaleDateString(data.language, { month: "short", year: "2-digit" });
    });
    function axis(extra) {
      return Object.assign({ stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } }, extra);
    }
    function series(label, stroke) {
      return { label: label, stroke: stroke, width: 2, fill: stroke + "22", points: { show: true, size: 6, fill: stroke },
               value: function (_, value) { return value == null ? "" : money.format(value); } };
    }
    function options(width) {
      return {
        width: width, height: box.clientHeight || 240, legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false }, y: { range: function (_, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
        axes: [
          axis({ splits: function () { return xs; },
                 values: function (self, ticks) {
                   var every = Math.max(1, Math.ceil(xs.length * 64 / Math.max(self.width, 1)));
                   return ticks.map(function (tick) { return tick % every === 0 ? (short[tick] || "") : ""; });
                 } }),
          axis({ size: 64, values: function (_, ticks) { return ticks.map(function (tick) { return compact.format(tick); }); } })
        ],
        series: [{}, series(data.names.new, colour("--chart-2", "#8a8a8a")), series(data.names.returning, colour("--chart-1", "#005bd3"))]
      };
    }
    var chart = new window.uPlot(options(box.clientWidth), [xs, data.new, data.returning], box);
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (box.clientWidth && box.clientWidth !== chart.width) chart.setSize({ width: box.clientWidth, height: box.clientHeight || 240 });
      }).observe(box);
    }
  }

  function parts(markup) {
    var holder = document.createElement("template");
    holder.innerHTML = markup;
    return holder.content;
  }

  function pathTo(node, root) {
    /* The child indexes that lead from root to node (to find its copy in a clone of root). */
    var path = [];
    while (node && node !== root && node.parentNode && node.parentNode.children) {
      path.unshift(Array.prototype.indexOf.call(node.parentNode.children, node));
      node = node.parentNode;
    }
    return node === root ? path : null;
  }

  function follow(root, path) {
    return path.reduce(function (node, index) { return node && node.children[index]; }, root);
  }

  function fill(html) {
    /* Put the API's markup (the page's own macros) where the "Calculating…" boxes are.
     * The figures go into a copy of everything from the metric cards down, and the copy takes
     * the original's place in one step: its elements are new to the page, so none of them counts
     * as having moved (what appears is not a layout shift; what moves is), whatever heights the
     * figures turn out to have. Open definitions stay open and focus stays where it was. */
    var body = document.querySelector("[data-figures-body]");
    if (!body) return;
    var copy = body.cloneNode(true);
    var active = document.activeElement;
    var focused = pathTo(active, body);
    var target = focused && follow(copy, focused);  // found before the copy's boxes are replaced
    Object.keys(html.cards).forEach(function (key) {
      var card = copy.querySelector('[data-metric="' + key + '"][data-pending-card]');
      if (!card) return;
      var open = card.querySelector("details[open]");
      var fresh = parts(html.cards[key]).firstElementChild;
      if (open && fresh.querySelector("details")) fresh.querySelector("details").open = true;
      if (target && card.contains(target)) target = fresh.querySelector("summary");
      card.replaceWith(fresh);
    });
    ["flows", "revenue", "cohorts"].forEach(function (name) {
      var box = copy.querySelector('[data-pending="' + name + '"]');
      if (box) box.replaceWith(parts(html[name]));
    });
    body.replaceWith(copy);
    if (target && copy.contains(target) && typeof target.focus === "function") target.focus();
  }

  function loadFigures(region) {
    var status = region.querySelector("[data-status]");
    var failed = region.querySelector("[data-failed]");
    var retry = region.querySelector("[data-retry]");
    var loadingText = status.textContent;
    var readyText = region.querySelector("[data-ready-text]").textContent;
    var subtitle = document.querySelector(".page-header h1 + p.subdued");
    function load() {
      failed.hidden = true;
      status.textContent = loadingText;
      region.setAttribute("aria-busy", "true");
      var path = region.getAttribute("data-source") + "?locale=" + encodeURIComponent(document.documentElement.lang || "en");
      window.Comeback.api("GET", path).then(function (result) {
        if (!result.ok || !result.data || !result.data.html) throw new Error("home figures: HTTP " + result.status);
        fill(result.data.html);
        if (subtitle) subtitle.textContent = result.data.subtitle;
        region.removeAttribute("aria-busy");
        region.setAttribute("data-loaded", "1");
        status.textContent = readyText;
        drawChart();
      }).catch(function () {
        region.removeAttribute("aria-busy");
        status.textContent = "";
        failed.hidden = false;
      });
    }
    retry.addEventListener("click", load);
    load();
  }

  drawChart();
  var region = document.getElementById("home-figures");
  if (region && window.Comeback) loadFigures(region);
})();
