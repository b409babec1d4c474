/*
 * Comeback storefront widget: the panel, imported by comeback.js on first use.
 *
 * mount(widget) builds the dialog inside the widget's shadow root and returns its controller.
 * The view is drawn from one state object; every change redraws the panel body and puts the
 * focus back on the same control. Data (merchant texts, reward names, codes, history) only
 * ever enters the page as text nodes and attribute values. See docs/widget.md.
 */

const TEXTS = {
  en: {
    title: "Rewards", welcome: "Join and earn points on every order", join: "Join", signIn: "Sign in",
    close: "Close", loading: "Loading…", points: ["{n} point", "{n} points"], worth: "Worth {m}",
    pending: "{p} pending",
    pendingDays: ["Points from orders become available {n} day after the order.",
      "Points from orders become available {n} days after the order."],
    owed: "{p} owed: your next points pay this first.", expiring: "Expiring on {d}: {p}",
    tier: "Your tier", multiplier: "Points ×{x}", toNext: "{p} to {t}", spendToNext: "Spend {m} more to reach {t}",
    topTier: "You are in the top tier", tiers: "Tiers", fromPoints: "From {p}", fromSpent: "From {m} spent",
    rewards: "Rewards", redeem: "Redeem", more: ["{n} more point", "{n} more points"],
    pointsToUse: "Points to use", badPoints: "Choose between {a} and {b}, in steps of {s}.",
    yourCode: "Your code", preparing: "Your code is being prepared…",
    slow: "This is taking longer than usual. Your code will appear under Your codes.",
    created: "Code created", ready: "Your code is ready",
    failed: "The code could not be created. Your points were returned.",
    copy: "Copy", copied: "Copied", copyManual: "Press Ctrl+C to copy", apply: "Apply to cart",
    validUntil: "Valid until {d}", codes: "Your codes", preparingShort: "Being prepared",
    earn: "Ways to earn", perUnit: "{p} per {m} spent", signup: "Create an account", birthday: "Your birthday",
    review: "Review a product", refer: "Refer a friend", friendGets: "Your friend gets {r}",
    referral: "Invite friends", referralText: "Friends get {r}. You get {p} when they order.",
    referralLink: "Your referral link", copyLink: "Copy link", history: "History", pendingMark: "pending",
    availableOn: "available {d}", off: "{m} off", freeShipping: "Free shipping", freeProduct: "Free product",
    variableOff: "{m} off per {p}", minOrder: "Orders from {m}",
    codeDays: ["Code valid {n} day", "Code valid {n} days"],
    error: "Something went wrong. Please try again.",
    offline: "Could not reach the store. Check your connection and try again.",
    tooMany: "Too many requests, try again in a minute", retry: "Try again",
    birthdayTitle: "Add your birthday", birthdayText: "Get {p} on your birthday.", month: "Month", day: "Day",
    save: "Save", saved: "Saved",
  },
  fr: {
    title: "Récompenses", welcome: "Rejoignez-nous et gagnez des points à chaque commande", join: "Rejoindre",
    signIn: "Se connecter", close: "Fermer", loading: "Chargement…", points: ["{n} point", "{n} points"],
    worth: "Valeur : {m}", pending: "{p} en attente",
    pendingDays: ["Les points d’une commande sont disponibles {n} jour après la commande.",
      "Les points d’une commande sont disponibles {n} jours après la commande."],
    owed: "{p} dus : vos prochains points les remboursent d’abord.", expiring: "Expiration le {d} : {p}",
    tier: "Votre niveau", multiplier: "Points ×{x}", toNext: "{p} avant {t}",
    spendToNext: "Dépensez encore {m} pour atteindre {t}", topTier: "Vous êtes au niveau le plus élevé",
    tiers: "Niveaux", fromPoints: "À partir de {p}", fromSpent: "À partir de {m} d’achats",
    rewards: "Récompenses", redeem: "Échanger", more: ["Encore {n} point", "Encore {n} points"],
    pointsToUse: "Points à utiliser", badPoints: "Choisissez entre {a} et {b}, par pas de {s}.",
    yourCode: "Votre code", preparing: "Votre code est en préparation…",
    slow: "Cela prend plus de temps que prévu. Votre code apparaîtra dans Vos codes.",
    created: "Code créé", ready: "Votre code est prêt",
    failed: "Le code n’a pas pu être créé. Vos points ont été rendus.",
    copy: "Copier", copied: "Copié", copyManual: "Appuyez sur Ctrl+C pour copier", apply: "Appliquer au panier",
    validUntil: "Valable jusqu’au {d}", codes: "Vos codes", preparingShort: "En préparation",
    earn: "Comment gagner des points", perUnit: "{p} pour {m} dépensé", signup: "Créer un compte",
    birthday: "Votre anniversaire", review: "Donner un avis sur un produit", refer: "Parrainer un ami",
    friendGets: "Votre ami reçoit {r}", referral: "Invitez vos amis",
    referralText: "Vos amis reçoivent {r}. Vous recevez {p} quand ils commandent.",
    referralLink: "Votre lien de parrainage", copyLink: "Copier le lien", history: "Historique",
    pendingMark: "en attente", availableOn: "disponible le {d}", off: "{m} de réduction",
    freeShipping: "Livraison gratuite", freeProduct: "Produit offert", variableOff: "{m} de réduction par tranche de {p}",
    minOrder: "Dès {m} d’achat", codeDays: ["Code valable {n} jour", "Code valable {n} jours"],
    error: "Une erreur s’est produite. Veuillez réessayer.",
    offline: "Impossible de joindre la boutique. Vérifiez votre connexion et réessayez.",
    tooMany: "Trop de requêtes, réessayez dans une minute", retry: "Réessayer",
    birthdayTitle: "Ajoutez votre anniversaire", birthdayText: "Recevez {p} le jour de votre anniversaire.",
    month: "Mois", day: "Jour", save: "Enregistrer", saved: "Enregistré",
  },
  de: {
    title: "Prämien", welcome: "Jetzt anmelden und bei jeder Bestellung Punkte sammeln", join: "Registrieren",
    signIn: "Anmelden", close: "Schließen", loading: "Wird geladen …", points: ["{n} Punkt", "{n} Punkte"],
    worth: "Wert: {m}", pending: "{p} ausstehend",
    pendingDays: ["Punkte aus Bestellungen werden {n} Tag nach der Bestellung verfügbar.",
      "Punkte aus Bestellungen werden {n} Tage nach der Bestellung verfügbar."],
    owed: "{p} offen: Ihre nächsten Punkte gleichen das zuerst aus.", expiring: "Verfall am {d}: {p}",
    tier: "Ihre Stufe", multiplier: "Punkte ×{x}", toNext: "Noch {p} bis {t}",
    spendToNext: "Noch {m} ausgeben bis {t}", topTier: "Sie haben die höchste Stufe erreicht", tiers: "Stufen",
    fromPoints: "Ab {p}", fromSpent: "Ab {m} Umsatz", rewards: "Prämien", redeem: "Einlösen",
    more: ["Noch {n} Punkt", "Noch {n} Punkte"], pointsToUse: "Einzulösende Punkte",
    badPoints: "Wählen Sie zwischen {a} und {b}, in Schritten von {s}.", yourCode: "Ihr Code",
    preparing: "Ihr Code wird vorbereitet …",
    slow: "Das dauert länger als üblich. Ihr Code erscheint unter „Ihre Codes“.",
    created: "Code erstellt", ready: "Ihr Code ist bereit",
    failed: "Der Code konnte nicht erstellt werden. Ihre Punkte wurden zurückgebucht.",
    copy: "Kopieren", copied: "Kopiert", copyManual: "Zum Kopieren Strg+C drücken", apply: "Im Warenkorb anwenden",
    validUntil: "Gültig bis {d}", codes: "Ihre Codes", preparingShort: "In Vorbereitung",
    earn: "So sammeln Sie Punkte", perUnit: "{p} pro {m} Umsatz", signup: "Konto erstellen",
    birthday: "Ihr Geburtstag", review: "Produkt bewerten", refer: "Freunde werben", friendGets: "Ihr Freund erhält {r}",
    referral: "Freunde einladen", referralText: "Freunde erhalten {r}. Sie erhalten {p}, wenn sie bestellen.",
    referralLink: "Ihr Empfehlungslink", copyLink: "Link kopieren", history: "Verlauf", pendingMark: "ausstehend",
    availableOn: "verfügbar ab {d}", off: "{m} Rabatt", freeShipping: "Kostenloser Versand",
    freeProduct: "Gratisprodukt", variableOff: "{m} Rabatt je {p}", minOrder: "Ab {m} Bestellwert",
    codeDays: ["Code {n} Tag gültig", "Code {n} Tage gültig"],
    error: "Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.",
    offline: "Der Shop ist nicht erreichbar. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
    tooMany: "Zu viele Anfragen, versuchen Sie es in einer Minute erneut", retry: "Erneut versuchen",
    birthdayTitle: "Geburtstag eintragen", birthdayText: "Erhalten Sie {p} zu Ihrem Geburtstag.", month: "Monat",
    day: "Tag", save: "Speichern", saved: "Gespeichert",
  },
  es: {
    title: "Recompensas", welcome: "Únete y gana puntos con cada pedido", join: "Unirme", signIn: "Iniciar sesión",
    close: "Cerrar", loading: "Cargando…", points: ["{n} punto", "{n} puntos"], worth: "Valor: {m}",
    pending: "{p} en espera",
    pendingDays: ["Los puntos de un pedido están disponibles {n} día después del pedido.",
      "Los puntos de un pedido están disponibles {n} días después del pedido."],
    owed: "{p} adeudados: tus próximos puntos los cubren primero.", expiring: "Vencimiento el {d}: {p}",
    tier: "Tu nivel", multiplier: "Puntos ×{x}", toNext: "{p} para {t}", spendToNext: "Gasta {m} más para llegar a {t}",
    topTier: "Estás en el nivel más alto", tiers: "Niveles", fromPoints: "Desde {p}", fromSpent: "Desde {m} en compras",
    rewards: "Recompensas", redeem: "Canjear", more: ["Falta {n} punto", "Faltan {n} puntos"],
    pointsToUse: "Puntos a usar", badPoints: "Elige entre {a} y {b}, en pasos de {s}.", yourCode: "Tu código",
    preparing: "Estamos preparando tu código…",
    slow: "Está tardando más de lo normal. Tu código aparecerá en Tus códigos.",
    created: "Código creado", ready: "Tu código está listo",
    failed: "No se pudo crear el código. Te hemos devuelto los puntos.",
    copy: "Copiar", copied: "Copiado", copyManual: "Pulsa Ctrl+C para copiar", apply: "Aplicar al carrito",
    validUntil: "Válido hasta el {d}", codes: "Tus códigos", preparingShort: "En preparación",
    earn: "Cómo ganar puntos", perUnit: "{p} por cada {m} gastado", signup: "Crear una cuenta",
    birthday: "Tu cumpleaños", review: "Reseñar un producto", refer: "Recomienda a un amigo",
    friendGets: "Tu amigo recibe {r}", referral: "Invita a tus amigos",
    referralText: "Tus amigos reciben {r}. Tú recibes {p} cuando compran.",
    referralLink: "Tu enlace de recomendación", copyLink: "Copiar enlace", history: "Historial",
    pendingMark: "pendiente", availableOn: "disponible el {d}", off: "{m} de descuento", freeShipping: "Envío gratis",
    freeProduct: "Producto gratis", variableOff: "{m} de descuento por cada {p}", minOrder: "Pedidos desde {m}",
    codeDays: ["Código válido {n} día", "Código válido {n} días"],
    error: "Algo salió mal. Inténtalo de nuevo.",
    offline: "No se pudo conectar con la tienda. Revisa tu conexión e inténtalo de nuevo.",
    tooMany: "Demasiadas solicitudes, inténtalo de nuevo en un minuto", retry: "Reintentar",
    birthdayTitle: "Añade tu cumpleaños", birthdayText: "Recibe {p} en tu cumpleaños.", month: "Mes", day: "Día",
    save: "Guardar", saved: "Guardado",
  },
};

// The history's causes; English uses the server's own text.
const CAUSES = {
  fr: {order: "commande", refund: "remboursement", cancellation: "commande annulée", redemption: "récompense",
    redemption_refund: "récompense refusée, points rendus", adjustment: "ajustement", expiry: "points expirés",
    claim: "points de commande invité", signup: "compte créé", birthday: "anniversaire", review: "avis produit",
    social: "réseaux sociaux", custom: "bonus", referral: "parrainage", challenge: "défi réussi",
    tier_entry: "nouveau niveau"},
  de: {order: "Bestellung", refund: "Erstattung", cancellation: "Bestellung storniert", redemption: "Prämie",
    redemption_refund: "Prämie abgelehnt, Punkte zurück", adjustment: "Korrektur", expiry: "Punkte verfallen",
    claim: "Punkte aus Gastbestellung", signup: "Konto erstellt", birthday: "Geburtstag", review: "Produktbewertung",
    social: "Social Media", custom: "Bonus", referral: "Empfehlung", challenge: "Challenge geschafft",
    tier_entry: "neue Stufe"},
  es: {order: "pedido", refund: "reembolso", cancellation: "pedido cancelado", redemption: "recompensa",
    redemption_refund: "recompensa rechazada, puntos devueltos", adjustment: "ajuste", expiry: "puntos caducados",
    claim: "puntos de pedido como invitado", signup: "cuenta creada", birthday: "cumpleaños",
    review: "reseña de producto", social: "redes sociales", custom: "bonificación", referral: "recomendación",
    challenge: "reto completado", tier_entry: "nuevo nivel"},
};

const READY = ["active", "issued"];
const FAILED = ["failed", "refused"];
const POLL_MS = 1500;
const POLL_FOR_MS = 60000;  // then the code is left to "Your codes" on a later visit

const CSS = `
.backdrop{position:fixed;inset:0;z-index:2147483000;background:rgba(0,0,0,.35)}
.panel{position:fixed;z-index:2147483001;bottom:84px;right:20px;width:384px;max-width:calc(100vw - 40px);
max-height:calc(100vh - 104px);overflow:auto;overscroll-behavior:contain;box-sizing:border-box;
background:var(--cb-bg);color:var(--cb-text);border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.3);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;text-align:left}
:host([data-position=left]) .panel{right:auto;left:20px}
[hidden]{display:none!important}
.panel:not([hidden]){animation:cb-in .16s ease-out}
@keyframes cb-in{from{opacity:0;transform:translateY(8px)}}
*,*::before,*::after{box-sizing:border-box}
.head{position:sticky;top:0;z-index:1;display:flex;align-items:center;justify-content:space-between;gap:8px;
padding:8px 8px 8px 20px;background:var(--cb-primary);color:var(--cb-on-primary)}
h2{margin:0;font-size:18px;line-height:1.3}
h3{margin:0 0 8px;font-size:15px}
p{margin:0 0 8px}
ul,ol{list-style:none;margin:0;padding:0}
.body{padding:16px 20px 20px}
section{margin-top:22px}
:focus{outline:none}
:focus-visible{outline:3px solid var(--cb-text);outline-offset:2px}
.head :focus-visible{outline-color:var(--cb-on-primary);outline-offset:-3px}
.close{display:grid;place-items:center;width:44px;height:44px;flex:none;padding:0;border:0;border-radius:8px;
background:transparent;color:inherit;font:400 28px/1 system-ui,sans-serif;cursor:pointer}
.btn{display:inline-flex;align-items:center;justify-content:center;min-height:44px;padding:0 16px;
border:2px solid var(--cb-primary);border-radius:8px;background:var(--cb-primary);color:var(--cb-on-primary);
font:inherit;font-weight:600;line-height:1.2;text-decoration:none;cursor:pointer}
.btn.alt{background:transparent;color:var(--cb-text);border-color:currentColor}
.btn:disabled{cursor:not-allowed;background:transparent;color:var(--cb-text);border-color:currentColor;border-style:dashed}
.cta{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0 4px}
.cta .btn{flex:1 1 120px}
a{color:inherit}
.big{font-size:30px;font-weight:700;line-height:1.2;margin:0 0 4px}
.note{font-size:14px}
.card{padding:14px 16px;border-radius:10px;border:1px solid rgba(0,0,0,.15);
border-color:color-mix(in srgb,var(--cb-text) 20%,transparent)}
.line{display:flex;justify-content:space-between;gap:12px;padding:8px 0;border-bottom:1px solid rgba(0,0,0,.12);
border-color:color-mix(in srgb,var(--cb-text) 15%,transparent)}
.line:last-child{border-bottom:0}
.line .end{flex:none;font-weight:600;text-align:right}
.reward{display:block;padding:12px 0}
.reward .row{display:flex;justify-content:space-between;gap:12px;font-weight:600}
.reward .btn{margin-top:6px}
.field{display:block;margin:6px 0 4px;font-size:14px}
input,select{min-height:44px;padding:0 10px;border:1px solid var(--cb-text);border-radius:8px;background:var(--cb-bg);
color:var(--cb-text);font:inherit}
input[type=number]{width:9em}
.result{margin-top:10px;padding:12px;border-radius:10px;border:2px dashed var(--cb-primary)}
.copyrow{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.copyrow input{flex:1 1 160px;min-width:0}
code{font:700 17px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;letter-spacing:.04em;
user-select:all;-webkit-user-select:all;word-break:break-all}
.error{padding:8px 10px;border-left:4px solid #b00020;background:#fff;color:#8a0019;border-radius:4px}
.bar{height:10px;margin:8px 0 6px;border-radius:5px;overflow:hidden;background:rgba(0,0,0,.12);
background:color-mix(in srgb,var(--cb-text) 15%,transparent)}
.fill{height:100%;background:var(--cb-primary)}
.perks{margin-top:6px;padding-left:18px;list-style:disc}
.hist .line{font-size:14px}
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);border:0;white-space:nowrap}
.birthday .fields{display:flex;gap:10px;align-items:flex-end;flex-wrap:wrap}
@media (max-width:479.98px){.panel,:host([data-position=left]) .panel{inset:0;width:auto;max-width:none;
max-height:none;border-radius:0}.launcher[aria-expanded=true]{display:none}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}`;

/** An element with attributes, listeners (on…) and children (strings become text nodes); buttons default to type=button. */
function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const name in props || {}) {
    const value = props[name];
    if (value == null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  if (tag === "button" && !element.hasAttribute("type")) element.type = "button";
  element.append(...children.flat(9).filter((child) => child != null && child !== false && child !== ""));
  return element;
}

/** The address as given when it is safe for href (http, https or relative to the store), else null. */
function safeUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const {protocol} = new URL(value, location.href);
    return protocol === "https:" || protocol === "http:" ? value : null;
  } catch (error) {
    return null;
  }
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const isReady = (code) => READY.includes(code.status);
const isFailed = (code) => FAILED.includes(code.status);

export function mount(widget) {
  const {config, program, locale, lang, call, launcher, panel} = widget;
  const root = widget.shadowRoot;
  const look = program.widget || {};
  const links = config.links || {};
  const texts = TEXTS[lang] || TEXTS.en;
  const plural = new Intl.PluralRules(lang);
  const numbers = new Intl.NumberFormat(locale);
  const signed = new Intl.NumberFormat(locale, {signDisplay: "exceptZero"});
  const dates = new Intl.DateTimeFormat(locale, {dateStyle: "medium"});
  const shopCurrency = (program.point_value && program.point_value.shop_currency) || program.currency;

  function t(key, values, count) {
    let text = texts[key] || TEXTS.en[key] || key;
    if (Array.isArray(text)) text = text[plural.select(Number(count)) === "one" ? 0 : 1];
    return text.replace(/\{(\w)\}/g, (whole, name) => (values && values[name] != null ? values[name] : whole));
  }
  const num = (value) => numbers.format(Number(value));
  const pts = (count) => t("points", {n: num(count)}, count);

  function money(value, fractions) {
    if (!value || value.amount == null) return "";
    const options = {style: "currency", currency: value.currency || shopCurrency};
    if (fractions === 0) options.minimumFractionDigits = 0;
    try {
      return new Intl.NumberFormat(locale, options).format(Number(value.amount));
    } catch (error) {  // not a currency Intl knows
      return `${value.amount} ${value.currency || ""}`.trim();
    }
  }

  function date(value) {
    if (!value) return "";
    // a bare date is a calendar day in the shopper's zone, not midnight UTC
    const day = /^(\d{4})-(\d\d)-(\d\d)$/.exec(value);
    const when = day ? new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3])) : new Date(value);
    return Number.isNaN(when.getTime()) ? "" : dates.format(when);
  }

  function message(error) {
    if (error.status === 429) return t("tooMany");
    if (!error.status) return t("offline");
    return error.server || t("error");
  }

  const state = {
    anonymous: !config.signedIn, me: null, meText: null, loading: false, error: null,
    results: {}, keys: {}, busy: {}, errors: {}, values: {},
  };
  let drawn = null;
  let wanted = null;  // a control to focus again once it is back (a redeem button disabled in flight)
  let refreshing = null;
  let polling = false;
  let sequence = 0;

  const style = h("style", null, CSS);
  const backdrop = h("div", {class: "backdrop", "data-cb": "backdrop", hidden: true, onclick: close});
  const title = h("h2", {id: "cb-title", tabindex: "-1"}, look.title || look.launcher_label || t("title"));
  const closeButton = h("button", {class: "close", "data-cb": "close", "aria-label": t("close"),
    onclick: close}, h("span", {"aria-hidden": "true"}, "×"));
  const body = h("div", {class: "body"});
  const live = h("div", {class: "sr", "data-cb": "live", role: "status", "aria-live": "polite"});
  for (const [name, value] of [["role", "dialog"], ["aria-modal", "true"], ["aria-labelledby", "cb-title"],
    ["lang", lang], ["tabindex", "-1"]]) panel.setAttribute(name, value);
  panel.append(h("div", {class: "head"}, title, closeButton), body, live);
  root.insertBefore(style, root.firstChild.nextSibling);
  panel.before(backdrop);
  root.addEventListener("keydown", onKey);

  function announce(text) {
    live.textContent = "";
    setTimeout(() => {
      live.textContent = text;
    }, 60);
  }

  function focusables() {
    return Array.from(panel.querySelectorAll("a[href],button:not([disabled]),input:not([disabled])," +
      "select:not([disabled]),[tabindex]:not([tabindex='-1'])")).filter((element) => element.getClientRects().length);
  }

  function onKey(event) {
    if (panel.hidden) return;
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    } else if (event.key === "Tab") {
      // aria-modal: keep Tab and Shift+Tab inside the dialog
      const items = focusables();
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      const active = root.activeElement;
      const outside = !active || !panel.contains(active);
      const edge = event.shiftKey
        ? outside || active === first || first.compareDocumentPosition(active) & Node.DOCUMENT_POSITION_PRECEDING
        : outside || active === last || last.compareDocumentPosition(active) & Node.DOCUMENT_POSITION_FOLLOWING;
      if (edge) {
        event.preventDefault();
        items[event.shiftKey ? items.length - 1 : 0].focus();
      }
    }
  }

  function open() {
    if (!panel.hidden) return;
    panel.hidden = false;
    backdrop.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    update();
    closeButton.focus();
    if (!state.anonymous) refresh();  // a fresh balance each time the panel opens
  }

  function close() {
    if (panel.hidden) return;
    panel.hidden = true;
    backdrop.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  /** Redraw when something shown changed, keeping the focus on the same control. */
  function update() {
    const signature = JSON.stringify([state.anonymous, state.meText, state.loading && !state.me, state.error,
      state.results, state.busy, state.errors]);
    if (signature === drawn) return;
    drawn = signature;
    const active = root.activeElement;
    const key = focusKey(active) || (active === title ? wanted : null);
    const scroll = panel.scrollTop;
    // a field being typed in keeps what was typed and where the caret was
    const typing = active && active.tagName === "INPUT" && active.type !== "button" ?
      {value: active.value, start: active.selectionStart, end: active.selectionEnd} : null;
    sequence = 0;
    body.replaceChildren(...view());
    panel.scrollTop = scroll;
    if (!key) return;
    const same = Array.from(body.querySelectorAll("[data-cb]")).find((element) => {
      const other = focusKey(element);
      return other && other.every((part, index) => part === key[index]);
    });
    const reward = key[1] && Array.from(body.querySelectorAll("[data-reward]"))
      .find((element) => element.dataset.reward === key[1]);
    wanted = same && !same.disabled ? null : key;
    const target = wanted ? (reward && reward.querySelector("[data-cb=code]")) || title : same;
    target.focus({preventScroll: true});
    if (typing && target === same && target.tagName === "INPUT") {
      target.value = typing.value;
      try {
        target.setSelectionRange(typing.start, typing.end);
      } catch (ignored) {
        // number inputs have no selection
      }
    }
  }

  function focusKey(element) {
    if (!element || !body.contains(element) || !element.dataset.cb) return null;
    const reward = element.closest("[data-reward]");
    const code = element.closest("[data-code]");
    return [element.dataset.cb, reward ? reward.dataset.reward : "", code ? code.dataset.code : ""];
  }

  function refresh() {
    if (!refreshing) {
      refreshing = loadMember().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  async function loadMember() {
    if (state.anonymous) return;
    state.loading = true;
    update();
    try {
      const me = await call("me", null, true);
      state.error = null;
      state.me = me;
      state.meText = JSON.stringify(me);
      track(me);
    } catch (error) {
      if (error.status === 401) {  // the store's session ended: show what a visitor sees
        state.anonymous = true;
        state.me = null;
        state.meText = null;
      } else {
        state.error = message(error);
      }
    }
    state.loading = false;
    update();
  }

  /** Carry the status of codes being prepared over from a fresh member answer. */
  function track(me) {
    for (const id in state.results) {
      const result = state.results[id];
      if (result.status !== "pending") continue;
      const found = (me.codes || []).find((code) => code.code === result.code);
      if (!found) continue;
      Object.assign(result, {status: found.status, expires_at: found.expires_at || result.expires_at});
      if (isReady(result)) announce(t("ready"));
      else if (isFailed(result)) announce(t("failed"));
    }
  }

  async function poll() {
    if (polling) return;
    polling = true;
    const pending = () => Object.values(state.results).filter((result) => result.status === "pending");
    while (!state.anonymous && pending().some((result) => Date.now() < result.until)) {
      await sleep(POLL_MS);
      await refresh();
    }
    for (const result of pending()) result.slow = true;
    polling = false;
    update();
  }

  async function redeem(reward, input) {
    const id = reward.id;
    if (state.busy[id]) return;
    let points;
    if (reward.kind === "variable") {
      const [low, high, step] = bounds(reward);
      points = Number(input.value);
      if (!Number.isInteger(points) || points < low || points > high || (points - low) % step) {
        state.errors[id] = t("badPoints", {a: num(low), b: num(high), s: num(step)});
        update();
        announce(state.errors[id]);
        return;
      }
    }
    // the same key again after a network or server failure, so a retried click cannot spend twice
    // (and the same amount: the first attempt may have gone through, with that amount)
    let attempt = state.keys[id];
    if (!attempt) attempt = state.keys[id] = {key: newKey(), points};
    points = attempt.points;
    if (input && points != null) input.value = String(points);
    state.busy[id] = true;
    state.errors[id] = null;
    update();
    try {
      const payload = {reward: id, key: attempt.key};
      if (points != null) payload.points = points;
      const answer = await call("redeem", payload);
      delete state.keys[id];
      state.results[id] = {code: answer.code, status: answer.status || "pending",
        expires_at: answer.expires_at, until: Date.now() + POLL_FOR_MS};
      announce(t("created"));
    } catch (error) {
      if (error.status >= 400 && error.status < 500) delete state.keys[id];
      state.errors[id] = message(error);
      announce(state.errors[id]);
    }
    state.busy[id] = false;
    update();
    await refresh();
    if (state.results[id] && state.results[id].status === "pending") poll();
  }

  async function copy(text, source) {
    try {
      await navigator.clipboard.writeText(text);
      announce(t("copied"));
    } catch (error) {
      // no clipboard permission: select the text so the shopper can copy it
      if (source.select) source.select();
      else getSelection().selectAllChildren(source);
      let copied = false;
      try {
        copied = document.execCommand("copy");
      } catch (ignored) {
        // not supported
      }
      announce(t(copied ? "copied" : "copyManual"));
    }
  }

  async function saveBirthday(event) {
    event.preventDefault();
    const month = Number(state.values["@month"] || 1);
    const day = Number(state.values["@day"]);
    state.busy["@birthday"] = true;
    state.errors["@birthday"] = null;
    update();
    try {
      await call("birthday", {month, day});
      announce(t("saved"));
    } catch (error) {
      state.errors["@birthday"] = message(error);
      announce(state.errors["@birthday"]);
    }
    state.busy["@birthday"] = false;
    update();
    refresh();
  }

  // ---- views ----

  function view() {
    if (!state.anonymous && state.loading && !state.me) return [h("p", {class: "note"}, t("loading"))];
    const parts = [];
    if (state.error) {
      parts.push(h("p", {class: "error", "data-cb": "error"}, state.error),
        h("button", {class: "btn alt", "data-cb": "retry", onclick: refresh}, t("retry")));
    }
    if (state.me) return parts.concat(memberView(state.me));
    if (state.anonymous) {
      parts.push(h("p", null, look.welcome || t("welcome")));
      const join = safeUrl(links.join);
      const signIn = safeUrl(links.signIn);
      if (join || signIn) {
        parts.push(h("div", {class: "cta"},
          join && h("a", {class: "btn", href: join, "data-cb": "join"}, t("join")),
          signIn && h("a", {class: "btn alt", href: signIn, "data-cb": "sign-in"}, t("signIn"))));
      }
    }
    return parts.concat(earnSection(), rewardsSection(program.rewards || [], null), tiersSection());
  }

  function section(heading, ...content) {
    const id = `cb-s${++sequence}`;
    return h("section", {"aria-labelledby": id}, h("h3", {id}, heading), ...content);
  }

  function memberView(me) {
    const points = me.points || {};
    const spendable = Number(points.spendable) || 0;
    const balance = h("div", {class: "card"},
      h("p", {class: "big", "data-cb": "balance"}, pts(spendable)),
      points.value && Number(points.value.amount) > 0 && h("p", {class: "note"}, t("worth", {m: money(points.value)})));
    if (points.pending > 0) {
      const days = program.earn && program.earn.pending_days;
      balance.append(h("p", {"data-cb": "pending"}, t("pending", {p: pts(points.pending)})),
        days > 0 && h("p", {class: "note"}, t("pendingDays", {n: num(days)}, days)));
    }
    if (points.owed > 0) balance.append(h("p", {"data-cb": "owed"}, t("owed", {p: pts(points.owed)})));
    for (const lot of me.expiring || []) {
      balance.append(h("p", {class: "note", "data-cb": "expiring"}, t("expiring", {d: date(lot.expires_on), p: pts(lot.points)})));
    }
    return [balance, tierSection(me.tier), rewardsSection(me.rewards || [], spendable), codesSection(me.codes || []),
      referralSection(me.referral), birthdaySection(me), earnSection(), tiersSection(), historySection(me.history || [])];
  }

  function tierSection(tier) {
    if (!tier || !tier.tier) return null;
    const content = [h("p", null, h("strong", {"data-cb": "tier"}, tier.tier),
      Number(tier.multiplier) > 1 && ` · ${t("multiplier", {x: num(tier.multiplier)})}`)];
    if (tier.next_tier) {
      const now = Number(tier.qualifying) || 0;
      const missing = Number(tier.missing) || 0;
      const label = tier.basis === "amount_spent"
        ? t("spendToNext", {m: money({amount: missing, currency: shopCurrency}), t: tier.next_tier})
        : t("toNext", {p: pts(missing), t: tier.next_tier});
      const fill = h("div", {class: "fill"});
      fill.style.width = `${now + missing > 0 ? Math.min(100, (now / (now + missing)) * 100) : 0}%`;
      content.push(h("div", {class: "bar", role: "progressbar", "data-cb": "progress", "aria-valuemin": "0",
        "aria-valuemax": String(now + missing), "aria-valuenow": String(now), "aria-label": label}, fill),
      h("p", {class: "note", "aria-hidden": "true"}, label));
    } else {
      content.push(h("p", {class: "note"}, t("topTier")));
    }
    if ((tier.perks || []).length) content.push(h("ul", {class: "perks"}, tier.perks.map((perk) => h("li", null, perk))));
    return section(t("tier"), ...content);
  }

  /** The lowest and highest points a variable reward takes now, and its step. */
  function bounds(reward, spendable) {
    const low = Number(reward.points);
    const step = Number(reward.increment) || 1;
    const available = spendable == null ? Number(((state.me || {}).points || {}).spendable) || 0 : spendable;
    const cap = Math.min(reward.max_points ? Number(reward.max_points) : Infinity, available);
    return [low, low + Math.max(0, Math.floor((cap - low) / step)) * step, step];
  }

  function describe(reward) {
    const parts = [];
    if (reward.kind === "fixed_amount") parts.push(t("off", {m: money(reward.value)}));
    else if (reward.kind === "percentage") {
      parts.push(t("off", {m: new Intl.NumberFormat(locale, {style: "percent", maximumFractionDigits: 2})
        .format(Number(reward.percent) / 100)}));
    } else if (reward.kind === "free_shipping") parts.push(t("freeShipping"));
    else if (reward.kind === "free_product") parts.push(t("freeProduct"));
    else if (reward.kind === "variable" && program.point_value) {
      const step = Number(reward.increment) || 1;
      parts.push(t("variableOff", {m: money({amount: Number(program.point_value.amount) * step,
        currency: program.point_value.currency}), p: pts(step)}));
    }
    if (reward.minimum_order) parts.push(t("minOrder", {m: money(reward.minimum_order)}));
    return parts;
  }

  function rewardsSection(rewards, spendable) {
    if (!rewards.length) return null;
    return section(t("rewards"), h("ul", null, rewards.map((reward) => rewardItem(reward, spendable))));
  }

  function rewardItem(reward, spendable) {
    const id = reward.id;
    const nameId = `cb-r${++sequence}`;
    const price = reward.kind === "variable" ? t("fromPoints", {p: pts(reward.points)}) : pts(reward.points);
    const details = describe(reward);
    if (reward.code_days && spendable != null) details.push(t("codeDays", {n: num(reward.code_days)}, reward.code_days));
    const item = h("li", {class: "reward line", "data-cb": "reward", "data-reward": id},
      h("div", {class: "row"}, h("span", {id: nameId}, reward.name), h("span", {class: "end"}, price)),
      details.length > 0 && h("p", {class: "note"}, details.join(" · ")));
    if (spendable == null) return item;  // a visitor sees prices only
    if (reward.affordable) {
      let input = null;
      if (reward.kind === "variable") {
        const [low, high, step] = bounds(reward, spendable);
        input = h("input", {type: "number", id: `${nameId}-p`, "data-cb": "points", inputmode: "numeric", min: low,
          max: high, step, value: state.values[id] || low, oninput: (event) => {
            state.values[id] = event.target.value;
          }});
        item.append(h("label", {class: "field", for: input.id}, t("pointsToUse")), input, " ");
      }
      item.append(h("button", {class: "btn", "data-cb": "redeem", "aria-describedby": nameId,
        disabled: Boolean(state.busy[id]),
        onclick: () => redeem(reward, input)}, t("redeem")));
    } else {
      const missing = Number(reward.points) - spendable;
      item.append(h("button", {class: "btn", "data-cb": "redeem", "aria-describedby": nameId,
        disabled: true}, t("more", {n: num(missing)}, missing)));
    }
    if (state.errors[id]) item.append(h("p", {class: "error", "data-cb": "error"}, state.errors[id]));
    if (state.results[id]) item.append(resultBox(state.results[id]));
    return item;
  }

  function applyLink(code, hook) {
    const href = typeof links.applyCode === "string" && safeUrl(links.applyCode.replace("{code}", encodeURIComponent(code)));
    return href && h("a", {class: "btn", href, "data-cb": hook}, t("apply"));
  }

  function resultBox(result) {
    if (isFailed(result)) {
      return h("div", {class: "result"}, h("p", {class: "error", "data-cb": "error"}, t("error")),
        h("p", null, t("failed")));
    }
    const code = h("code", {"data-cb": "code", "data-code": result.code, tabindex: "-1"}, result.code);
    const box = h("div", {class: "result"}, h("p", {class: "note"}, t("yourCode")), h("div", {class: "copyrow"}, code,
      isReady(result) && h("button", {class: "btn alt", "data-cb": "copy",
        onclick: () => copy(result.code, code)}, t("copy"))));
    if (isReady(result)) {
      box.append(h("p", {class: "cta"}, applyLink(result.code, "apply")),
        result.expires_at && h("p", {class: "note"}, t("validUntil", {d: date(result.expires_at)})));
    } else {
      box.append(h("p", {class: "note", "data-cb": "preparing"},
        result.status === "pending" ? t(result.slow ? "slow" : "preparing") : result.status));
    }
    return box;
  }

  function codesSection(codes) {
    const shown = new Set(Object.values(state.results).map((result) => result.code));
    const now = Date.now();
    const listed = codes.filter((code) => !shown.has(code.code) && (code.status === "pending" || isReady(code)) &&
      !(code.expires_at && new Date(code.expires_at).getTime() < now)).slice(0, 10);
    if (!listed.length) return null;
    const names = {};
    for (const reward of program.rewards || []) names[reward.id] = reward.name;
    return section(t("codes"), h("ul", {"data-cb": "codes"}, listed.map((code) => {
      const text = h("code", {"data-code": code.code}, code.code);
      return h("li", {class: "line", "data-cb": "code-item", "data-code": code.code},
        h("div", null, h("div", null, text), h("p", {class: "note"}, [names[code.reward],
          isReady(code) ? code.expires_at && t("validUntil", {d: date(code.expires_at)}) : t("preparingShort")]
          .filter(Boolean).join(" · "))),
        isReady(code) && h("div", {class: "end"},
          h("button", {class: "btn alt", "data-cb": "copy-code", onclick: () => copy(code.code, text)},
            t("copy")), " ", applyLink(code.code, "code-apply")));
    })));
  }

  function referralSection(referral) {
    const link = referral && safeUrl(referral.link);
    if (!link) return null;
    const earn = (program.earn && program.earn.referral) || {};
    const friend = earn.friend_reward ? describe(earn.friend_reward).join(" · ") : "";
    const input = h("input", {id: "cb-ref", type: "text", readonly: true, value: link, "data-cb": "referral-link",
      onfocus: (event) => event.target.select()});
    return section(t("referral"),
      friend && earn.advocate_points > 0 && h("p", null, t("referralText", {r: friend, p: pts(earn.advocate_points)})),
      h("label", {class: "field", for: "cb-ref"}, t("referralLink")),
      h("div", {class: "copyrow"}, input, h("button", {class: "btn alt", "data-cb": "copy-referral",
        onclick: () => copy(link, input)}, t("copyLink"))));
  }

  function birthdaySection(me) {
    const points = program.earn && program.earn.birthday;
    if (me.birthday || !(points > 0)) return null;
    const months = new Intl.DateTimeFormat(locale, {month: "long", timeZone: "UTC"});
    const remember = (name) => (event) => {
      state.values[name] = event.target.value;
    };
    const month = h("select", {id: "cb-month", "data-cb": "month", onchange: remember("@month")},
      Array.from({length: 12}, (unused, index) => h("option", {value: index + 1,
        selected: String(index + 1) === String(state.values["@month"])}, months.format(Date.UTC(2000, index, 1)))));
    const day = h("input", {id: "cb-day", "data-cb": "day", type: "number", inputmode: "numeric", min: 1, max: 31,
      required: true, value: state.values["@day"], oninput: remember("@day")});
    return section(t("birthdayTitle"), h("form", {class: "birthday", onsubmit: saveBirthday},
      h("p", null, t("birthdayText", {p: pts(points)})),
      h("div", {class: "fields"},
        h("div", null, h("label", {class: "field", for: "cb-month"}, t("month")), month),
        h("div", null, h("label", {class: "field", for: "cb-day"}, t("day")), day),
        h("button", {type: "submit", class: "btn alt", "data-cb": "save-birthday",
          disabled: Boolean(state.busy["@birthday"])}, t("save"))),
      state.errors["@birthday"] && h("p", {class: "error", "data-cb": "error"}, state.errors["@birthday"])));
  }

  function earnSection() {
    const earn = program.earn || {};
    const rows = [];
    const row = (label, points, hook) => h("li", {class: "line", "data-cb": hook || null}, h("span", null, label),
      points != null && h("span", {class: "end"}, pts(points)));
    if (earn.per_unit > 0) {
      rows.push(row(t("perUnit", {p: pts(earn.per_unit), m: money({amount: 1, currency: shopCurrency}, 0)})));
    }
    if (earn.signup > 0) rows.push(row(t("signup"), earn.signup));
    if (earn.birthday > 0) rows.push(row(t("birthday"), earn.birthday));
    if (earn.review > 0) rows.push(row(t("review"), earn.review));
    for (const action of earn.social || []) {
      const href = safeUrl(action.url);
      rows.push(row(href ? h("a", {href, target: "_blank", rel: "noopener noreferrer", "data-cb": "social"}, action.name)
        : action.name, action.points));
    }
    const referral = earn.referral || {};
    if (referral.advocate_points > 0) {
      const friend = referral.friend_reward ? describe(referral.friend_reward).join(" · ") : "";
      rows.push(row(h("span", null, t("refer"), friend && h("span", {class: "note"}, ` (${t("friendGets", {r: friend})})`)),
        referral.advocate_points));
    }
    for (const challenge of program.challenges || []) rows.push(row(challenge.name, challenge.points));
    if (!rows.length) return null;
    return section(t("earn"), h("ul", {"data-cb": "earn"}, rows),
      earn.pending_days > 0 && h("p", {class: "note"}, t("pendingDays", {n: num(earn.pending_days)}, earn.pending_days)));
  }

  function tiersSection() {
    const tiers = program.tiers || [];
    if (tiers.length < 2) return null;
    const spent = program.tier_basis === "amount_spent";
    return section(t("tiers"), h("ul", {"data-cb": "tiers"}, tiers.map((tier) => h("li", {class: "line"},
      h("div", null, h("strong", null, tier.name),
        (tier.perks || []).length > 0 && h("ul", {class: "perks note"}, tier.perks.map((perk) => h("li", null, perk)))),
      h("span", {class: "end note"}, spent ? t("fromSpent", {m: money({amount: tier.threshold, currency: shopCurrency})})
        : t("fromPoints", {p: pts(tier.threshold)}),
      Number(tier.multiplier) > 1 && h("br"), Number(tier.multiplier) > 1 && t("multiplier", {x: num(tier.multiplier)}))))));
  }

  function historySection(history) {
    if (!history.length) return null;
    const causes = CAUSES[lang] || {};
    return section(t("history"), h("ol", {class: "hist", "data-cb": "history"}, history.slice(0, 10).map((entry) => {
      const cause = causes[entry.cause] || entry.text || entry.cause || "";
      const label = `${cause.charAt(0).toUpperCase()}${cause.slice(1)}${entry.order ? ` #${entry.order}` : ""}`;
      const when = [date(entry.at)];
      if (entry.pending) when.push(t("pendingMark"), entry.available_at && t("availableOn", {d: date(entry.available_at)}));
      return h("li", {class: "line", "data-pending": entry.pending ? "true" : null},
        h("div", null, h("div", null, label), h("div", {class: "note"}, when.filter(Boolean).join(" · "))),
        h("span", {class: "end"}, signed.format(Number(entry.points))));
    })));
  }

  return {
    open, close, refresh,
    toggle() {
      if (panel.hidden) open();
      else close();
    },
  };
}
