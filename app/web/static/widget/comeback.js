/*
 * Comeback storefront widget: the loader, run on every page view (plain ES2020, see docs/widget.md).
 * Reads #comeback-config, fetches the program once the page is loaded and idle, draws the launcher
 * in <comeback-widget>'s shadow root, and imports panel.js only when the shopper reaches for it.
 */
(() => {
  "use strict";

  // Read at once: currentScript is only set during this first run of an async script.
  const script = document.currentScript;
  const scriptUrl = script && script.src;
  const TAG = "comeback-widget";
  const LAUNCHER_LABELS = {en: "Rewards", fr: "Récompenses", de: "Prämien", es: "Recompensas"};
  const HEX = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;
  const warn = (...details) => console.warn("Comeback:", ...details);

  if (!window.customElements || customElements.get(TAG)) return;
  if (!scriptUrl) {
    warn("load comeback.js with a src, as a classic script");
    return;
  }

  const CSS = `
:host{all:initial!important}
.launcher{position:fixed;z-index:2147483002;bottom:20px;right:20px;display:flex;align-items:center;gap:8px;
box-sizing:border-box;min-height:48px;max-width:calc(100vw - 40px);margin:0;padding:0 18px;border:0;border-radius:24px;
background:var(--cb-primary);color:var(--cb-on-primary);font:600 15px/1.2 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer;transition:transform .15s}
.launcher:hover{transform:translateY(-1px)}
:host([data-position=left]) .launcher{right:auto;left:20px}
.launcher:focus{outline:none}
.launcher:focus-visible{outline:3px solid var(--cb-on-primary);outline-offset:-6px;box-shadow:0 0 0 3px #1a1a1a,0 0 0 6px #fff}
.launcher svg{width:20px;height:20px;flex:none}
.launcher span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}.launcher:hover{transform:none}}`;

  const ICON = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" ' +
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M20 12v9H4v-9M2 7h20v5H2zM12 21V7' +
    'M12 7H7.5a2.5 2.5 0 0 1 0-5C11 2 12 7 12 7zM12 7h4.5a2.5 2.5 0 0 0 0-5C13 2 12 7 12 7z"/></svg>';

  function readConfig() {
    const node = document.getElementById("comeback-config");
    try {
      const config = JSON.parse(node.textContent);
      if (config && typeof config.api === "string") return config;
    } catch (error) {
      // no node or bad JSON: the caller warns
    }
    return null;
  }

  /** The locale to format with, and the language of the texts (English when not translated). */
  function languageOf(value) {
    let locale = "en";
    try {
      locale = Intl.getCanonicalLocales(String(value || "en").replace(/_/g, "-"))[0] || "en";
    } catch (error) {
      // not a locale: English
    }
    const base = locale.split("-")[0].toLowerCase();
    return {locale, lang: base in LAUNCHER_LABELS ? base : "en"};
  }

  /** Every API call: the store's headers, JSON both ways; a failure throws with its status (0: network). */
  function client(config) {
    const root = config.api.replace(/\/+$/, "");
    const extra = config.headers && typeof config.headers === "object" ? config.headers : {};
    return async (path, body, presented) => {
      const url = new URL(`${root}/${path}`, location.href);
      // A currency other than the shop's needs its rate: the configured one, else the rate the
      // storefront itself publishes (Shopify themes: Shopify.currency). Without one, amounts stay
      // in the shop's currency.
      const shown = window.Shopify && Shopify.currency && Shopify.currency.active === config.currency;
      const rate = config.rate != null && config.rate !== "" ? config.rate : shown ? Shopify.currency.rate : null;
      if (presented && config.currency && rate != null) {
        url.searchParams.set("currency", config.currency);
        url.searchParams.set("rate", rate);
      }
      const init = {method: body ? "POST" : "GET", credentials: "same-origin",
                    headers: {...extra, "Accept": "application/json"}, signal: AbortSignal.timeout(15000)};
      if (body) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      let response;
      try {
        response = await fetch(url, init);
      } catch (error) {
        throw Object.assign(new Error("network error"), {status: 0});
      }
      let data = null;
      try {
        data = await response.json();
      } catch (error) {
        // no JSON body
      }
      if (!response.ok) {
        const server = data && typeof data.error === "string" ? data.error : null;
        throw Object.assign(new Error(server || `HTTP ${response.status}`), {status: response.status, server});
      }
      return data;
    };
  }

  /** The server picks the text colours so that they read on their backgrounds (4.5:1); bad values get defaults. */
  function palette(look) {
    const colour = (value, fallback) => (HEX.test(value || "") ? value : fallback);
    return {"--cb-primary": colour(look.primary_color, "#2e6b57"), "--cb-on-primary": colour(look.primary_text, "#ffffff"),
            "--cb-bg": colour(look.background_color, "#ffffff"), "--cb-text": colour(look.text_color, "#1a1a1a")};
  }

  class ComebackWidget extends HTMLElement {
    setup(context) {
      Object.assign(this, context);
      const look = context.program.widget || {};
      const colours = palette(look);
      for (const name in colours) this.style.setProperty(name, colours[name]);
      if (look.position === "bottom-left") this.dataset.position = "left";
      const root = this.attachShadow({mode: "open"});
      root.innerHTML = `<style>${CSS}</style><button type="button" class="launcher" data-cb="launcher" ` +
        `aria-haspopup="dialog" aria-expanded="false" aria-controls="cb-panel">${ICON}<span></span></button>` +
        '<div id="cb-panel" class="panel" data-cb="panel" hidden></div>';
      this.launcher = root.querySelector("button");
      this.launcher.lastChild.textContent = look.launcher_label || LAUNCHER_LABELS[context.lang];
      this.panel = root.getElementById("cb-panel");
      const load = () => {
        if (!this.module) {
          this.module = import(this.panelUrl).catch((error) => {
            this.module = null;
            throw error;
          });
        }
        return this.module;
      };
      for (const type of ["pointerenter", "focus"]) {
        this.launcher.addEventListener(type, () => load().catch(() => {}), {once: true});
      }
      this.launcher.addEventListener("click", () => {
        if (this.opening) return;  // one toggle per click while the module is still arriving
        this.opening = load()
          .then((module) => {
            if (!this.controller) this.controller = module.mount(this);
            this.controller.toggle();
          })
          .catch((error) => warn("the panel could not be loaded:", error && error.message))
          .finally(() => {
            this.opening = null;
          });
      });
    }
  }

  function whenIdle(run) {
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      if (window.requestIdleCallback) requestIdleCallback(run, {timeout: 2000});
      else setTimeout(run, 200);
    };
    if (document.readyState === "complete") start();
    else {
      addEventListener("load", start, {once: true});
      setTimeout(start, 8000);  // a page whose load event never comes still gets its widget
    }
  }

  function start() {
    if (customElements.get(TAG)) return;  // the loader is on the page twice
    const config = readConfig();
    if (!config) {
      warn("no valid #comeback-config on this page; the widget stays off");
      return;
    }
    const call = client(config);
    const panelUrl = new URL("panel.js?v=__PANEL_VERSION__", scriptUrl).href;
    customElements.define(TAG, ComebackWidget);
    whenIdle(async () => {
      let program;
      try {
        program = await call("program", null, true);
      } catch (error) {
        warn("the program could not be loaded:", error.message);
        return;
      }
      if (!program || (program.widget && program.widget.enabled === false)) return;
      const widget = document.createElement(TAG);
      widget.setup({config, program, call, panelUrl, ...languageOf(config.locale)});
      document.body.append(widget);
    });
  }

  // The configuration may come after this script (WordPress prints it in the footer), or be
  // only partly parsed yet: wait for the whole document before giving up on it.
  if (readConfig() || document.readyState !== "loading") start();
  else document.addEventListener("DOMContentLoaded", start, {once: true});
})();
