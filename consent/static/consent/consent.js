/*! privacyops consent.js: the website's consent banner (no dependencies).
 * Embed: <script src="https://BACKOFFICE/consent/web/consent.<version>.js" defer></script>
 * API:   privacyops.consent.allows("advertising") -> true|false
 *        privacyops.consent.open()                 opens the preferences dialog
 *        document event "privacyops:consent"       detail: {choices, gpc}; also pushed to window.dataLayer
 * Tags:  <script type="text/plain" data-privacyops-purpose="analytics" [data-src="..."]> run when allowed.
 * The decision lives in a first-party cookie, so a page view after the first choice costs no request.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script ? script.src.replace(/consent(\.[0-9a-f]+)?\.js(\?.*)?$/, "") : "/consent/web/";
  var COOKIE = (script && script.getAttribute("data-cookie")) || "po_consent";
  var MAX_AGE = 395 * 24 * 3600; // 13 months, the longest consent lifetime the CNIL accepts
  var gpcNav = navigator.globalPrivacyControl === true;
  var state = read();
  var config = null;
  var lastFocus = null;
  var root = null;

  function read() {
    var m = document.cookie.match(new RegExp("(?:^|; )" + COOKIE + "=([^;]*)"));
    if (!m) return null;
    try {
      var s = JSON.parse(decodeURIComponent(m[1]));
      return s && typeof s.c === "object" ? s : null;
    } catch (e) {
      return null;
    }
  }

  function write(s) {
    state = s;
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = COOKIE + "=" + encodeURIComponent(JSON.stringify(s)) + "; Max-Age=" + MAX_AGE +
      "; Path=/; SameSite=Lax" + secure;
  }

  function allows(key) {
    if (key === "necessary") return true;
    return !!(state && state.c && state.c[key] === 1);
  }

  function fromChoices(choices) {
    var c = {};
    for (var k in choices) if (Object.prototype.hasOwnProperty.call(choices, k)) c[k] = choices[k] ? 1 : 0;
    return c;
  }

  function publish() {
    var choices = {};
    for (var k in state.c) choices[k] = state.c[k] === 1;
    var detail = { choices: choices, gpc: !!state.g };
    runTags();
    (window.dataLayer = window.dataLayer || []).push({ event: "privacyops_consent", privacyops: detail });
    document.dispatchEvent(new CustomEvent("privacyops:consent", { detail: detail }));
  }

  function runTags() {
    var tags = document.querySelectorAll("script[type='text/plain'][data-privacyops-purpose]");
    for (var i = 0; i < tags.length; i++) {
      var tag = tags[i];
      if (!allows(tag.getAttribute("data-privacyops-purpose"))) continue;
      var live = document.createElement("script");
      if (tag.getAttribute("data-src")) live.src = tag.getAttribute("data-src");
      else live.text = tag.text;
      tag.parentNode.replaceChild(live, tag);
    }
    var frames = document.querySelectorAll("iframe[data-privacyops-purpose][data-src]");
    for (var j = 0; j < frames.length; j++) {
      if (allows(frames[j].getAttribute("data-privacyops-purpose"))) {
        frames[j].src = frames[j].getAttribute("data-src");
        frames[j].removeAttribute("data-src");
      }
    }
  }

  function request(method, url, body, done, fail) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url);
    if (body) xhr.setRequestHeader("Content-Type", "application/json");
    xhr.onload = function () {
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status === 200 && data) done(data); else if (fail) fail(data);
    };
    xhr.onerror = function () { if (fail) fail(null); };
    xhr.send(body ? JSON.stringify(body) : null);
  }

  function loadConfig(then) {
    if (config) return then(config);
    var q = "config?gpc=" + (gpcNav ? "1" : "0") + (state && state.d ? "&device=" + encodeURIComponent(state.d) : "");
    request("GET", base + q, null, function (data) { config = data; then(data); });
  }

  function remember(data, chosen) {
    write({
      d: data.device_id || (state && state.d) || "",
      c: fromChoices(data.choices),
      h: config ? config.banner.sha256 : "",
      g: data.gpc_honoured || (state && state.g) ? 1 : 0,
      s: chosen ? 1 : (state && state.s) || 0,
      t: Math.floor(Date.now() / 1000)
    });
    publish();
  }

  function send(choices, acknowledged, then) {
    var body = {
      device_id: (state && state.d) || (config.state && config.state.device_id) || "",
      choices: choices,
      banner_sha256: config.banner.sha256,
      gpc: gpcNav || config.gpc,
      conflict_acknowledged: !!acknowledged,
      language: (document.documentElement.lang || "en").slice(0, 10)
    };
    request("POST", config.choice_url, body, function (data) {
      remember(data, Object.keys(choices).length > 0);
      if (then) then(data);
    }, function (data) {
      status((data && data.detail) || "Your choice could not be saved; please try again.");
    });
  }

  // --- the banner and the dialog -------------------------------------------------------------------
  var CSS =
    "#po-consent{position:fixed;z-index:2147483000;left:0;right:0;bottom:0;font:16px/1.45 system-ui,sans-serif;color:#1d2125}" +
    "#po-consent .po-banner{background:#fff;border-top:2px solid #1d4ed8;padding:1rem;box-shadow:0 -2px 12px rgba(0,0,0,.15)}" +
    "#po-consent .po-inner{max-width:60rem;margin:0 auto}" +
    "#po-consent h2{font-size:1.15rem;margin:0 0 .4rem}#po-consent p{margin:.3rem 0}" +
    "#po-consent button{font:inherit;padding:.55rem 1rem;margin:.3rem .4rem .3rem 0;border-radius:.3rem;border:2px solid #1d4ed8;background:#1d4ed8;color:#fff;cursor:pointer;min-height:44px}" +
    "#po-consent button.po-secondary{background:#fff;color:#1d4ed8}" +
    "#po-consent button:focus-visible,#po-consent input:focus-visible,#po-consent a:focus-visible{outline:3px solid #b45309;outline-offset:2px}" +
    "#po-consent a{color:#1d4ed8}" +
    "#po-consent .po-overlay{position:fixed;inset:0;background:rgba(0,0,0,.5);display:flex;align-items:center;justify-content:center;padding:1rem}" +
    "#po-consent .po-dialog{background:#fff;max-width:36rem;width:100%;max-height:90vh;overflow:auto;border-radius:.5rem;padding:1.25rem}" +
    "#po-consent fieldset{border:0;padding:0;margin:0}#po-consent .po-purpose{border-top:1px solid #ddd;padding:.6rem 0}" +
    "#po-consent .po-purpose label{font-weight:600}#po-consent .po-purpose input{width:1.3rem;height:1.3rem;margin-right:.5rem;vertical-align:middle}" +
    "#po-consent .po-desc{color:#4b5056;font-size:.9rem}#po-consent .po-gpc{background:#ecfdf5;border:1px solid #047857;color:#064e3b;padding:.4rem .6rem;border-radius:.3rem}" +
    "#po-consent .po-conflict{background:#fffbeb;border:1px solid #b45309;color:#78350f;padding:.4rem .6rem;border-radius:.3rem;font-size:.9rem}" +
    "#po-consent .po-status{min-height:1.2em;font-size:.9rem}";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text) node.textContent = text;
    return node;
  }

  function mount() {
    if (root) return root;
    var style = el("style");
    style.textContent = CSS;
    document.head.appendChild(style);
    root = el("div", { id: "po-consent" });
    document.body.appendChild(root);
    return root;
  }

  function status(message) {
    var live = root && root.querySelector(".po-status");
    if (live) live.textContent = message;
  }

  function gpcNotice(honoured) {
    return honoured ? el("p", { "class": "po-gpc", role: "status", id: "po-gpc" }, config.banner.wording.gpc_honoured) : null;
  }

  function close() {
    if (root) root.innerHTML = "";
    if (lastFocus && lastFocus.focus) lastFocus.focus();
  }

  function all(value) {
    var choices = {};
    config.banner.purposes.forEach(function (p) { if (!p.required) choices[p.key] = value; });
    return choices;
  }

  function showBanner() {
    mount();
    var w = config.banner.wording;
    root.innerHTML = "";
    var banner = el("section", { "class": "po-banner", role: "region", "aria-labelledby": "po-banner-title" });
    var inner = el("div", { "class": "po-inner" });
    inner.appendChild(el("h2", { id: "po-banner-title" }, w.title));
    inner.appendChild(el("p", {}, w.body));
    var honoured = (gpcNav || config.gpc) && state && state.g;
    if (honoured) inner.appendChild(gpcNotice(true));
    var accept = el("button", { type: "button", "data-po": "accept" }, w.accept);
    var reject = el("button", { type: "button", "class": "po-secondary", "data-po": "reject" }, w.reject);
    var choose = el("button", { type: "button", "class": "po-secondary", "data-po": "choose" }, w.customise);
    accept.onclick = function () { send(all(true), false, close); };
    reject.onclick = function () { send(all(false), false, close); };
    choose.onclick = function () { openDialog(); };
    inner.appendChild(accept);
    inner.appendChild(reject);
    inner.appendChild(choose);
    if (config.banner.do_not_sell_url) {
      var dns = el("a", { href: dnsUrl(config.banner.do_not_sell_url) }, w.do_not_sell);
      inner.appendChild(dns);
    }
    var policy = el("a", { href: config.banner.policy_url, style: "margin-left:1rem" }, "Privacy policy");
    inner.appendChild(policy);
    inner.appendChild(el("p", { "class": "po-status", role: "status", "aria-live": "polite" }));
    banner.appendChild(inner);
    root.appendChild(banner);
  }

  function dnsUrl(url) {
    return state && state.d ? url + (url.indexOf("?") < 0 ? "?" : "&") + "device=" + encodeURIComponent(state.d) : url;
  }

  function openDialog() {
    loadConfig(function () {
      lastFocus = document.activeElement;
      mount();
      var w = config.banner.wording;
      var gpc = gpcNav || config.gpc;
      root.innerHTML = "";
      var overlay = el("div", { "class": "po-overlay" });
      var dialog = el("div", {
        "class": "po-dialog", role: "dialog", "aria-modal": "true",
        "aria-labelledby": "po-dialog-title", "aria-describedby": "po-dialog-desc"
      });
      dialog.appendChild(el("h2", { id: "po-dialog-title" }, w.title));
      dialog.appendChild(el("p", { id: "po-dialog-desc" }, w.body));
      if (gpc) dialog.appendChild(gpcNotice(true));
      var form = el("form", { novalidate: "novalidate" });
      var fieldset = el("fieldset");
      fieldset.appendChild(el("legend", { "class": "po-desc" }, "Purposes"));
      var conflict = el("p", { "class": "po-conflict", role: "alert", hidden: "hidden", id: "po-conflict" }, w.gpc_conflict);
      config.banner.purposes.forEach(function (p) {
        var row = el("div", { "class": "po-purpose" });
        var id = "po-purpose-" + p.key;
        var box = el("input", { type: "checkbox", id: id, name: p.key, "aria-describedby": id + "-desc" });
        box.checked = p.required || allows(p.key);
        if (p.required) { box.disabled = true; }
        if (p.sale_or_sharing) box.setAttribute("data-sharing", "1");
        box.onchange = function () {
          var any = false;
          var boxes = form.querySelectorAll("input[data-sharing]");
          for (var i = 0; i < boxes.length; i++) any = any || boxes[i].checked;
          if (gpc) { if (any) conflict.removeAttribute("hidden"); else conflict.setAttribute("hidden", "hidden"); }
        };
        row.appendChild(box);
        row.appendChild(el("label", { "for": id }, p.name + (p.required ? " (always on)" : "")));
        row.appendChild(el("p", { "class": "po-desc", id: id + "-desc" }, p.description));
        fieldset.appendChild(row);
      });
      form.appendChild(fieldset);
      form.appendChild(conflict);
      var save = el("button", { type: "submit", "data-po": "save" }, w.save);
      var reject = el("button", { type: "button", "class": "po-secondary", "data-po": "reject-all" }, w.reject);
      var cancel = el("button", { type: "button", "class": "po-secondary", "data-po": "close" }, "Close");
      form.onsubmit = function (e) {
        e.preventDefault();
        var choices = {};
        config.banner.purposes.forEach(function (p) {
          if (!p.required) choices[p.key] = form.querySelector("#po-purpose-" + p.key).checked;
        });
        send(choices, gpc && !conflict.hasAttribute("hidden"), close);
      };
      reject.onclick = function () { send(all(false), false, close); };
      cancel.onclick = function () { if (state && state.s) close(); else showBanner(); };
      form.appendChild(save);
      form.appendChild(reject);
      form.appendChild(cancel);
      form.appendChild(el("p", { "class": "po-status", role: "status", "aria-live": "polite" }));
      dialog.appendChild(form);
      overlay.appendChild(dialog);
      root.appendChild(overlay);
      dialog.addEventListener("keydown", trapFocus);
      var first = dialog.querySelector("input:not([disabled]), button");
      if (first) first.focus();
    });
  }

  function trapFocus(e) {
    if (e.key === "Escape") { e.preventDefault(); if (state && state.s) close(); else showBanner(); return; }
    if (e.key !== "Tab") return;
    var items = e.currentTarget.querySelectorAll("input:not([disabled]), button, a[href]");
    if (!items.length) return;
    var first = items[0];
    var last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
  }

  // --- start-up ----------------------------------------------------------------------------------------
  function bindOpeners() {
    document.addEventListener("click", function (e) {
      var t = e.target && e.target.closest ? e.target.closest("[data-privacyops-open]") : null;
      if (t) { e.preventDefault(); openDialog(); }
      var dns = e.target && e.target.closest ? e.target.closest("a[data-privacyops-do-not-sell]") : null;
      if (dns && state && state.d) dns.href = dnsUrl(dns.href.split("?")[0]);
    });
  }

  function start() {
    bindOpeners();
    // A decision already made (and, with a GPC browser, the signal already recorded): no request at all.
    if (state && state.s && (!gpcNav || state.g)) {
      publish();
      return;
    }
    loadConfig(function (data) {
      var gpc = gpcNav || data.gpc;
      if (data.state.device_id && !(state && state.d)) state = { d: data.state.device_id, c: {}, s: 0 };
      if (gpc && !data.state.gpc_recorded) {
        send({}, false, function () { if (!(state && state.s) && !data.state.chosen.length) showBanner(); });
        return;
      }
      remember({ device_id: data.state.device_id, choices: data.state.choices, gpc_honoured: gpc && data.state.gpc_recorded },
        data.state.chosen.length > 0);
      if (!data.state.chosen.length) showBanner();
    });
  }

  window.privacyops = window.privacyops || {};
  window.privacyops.consent = {
    allows: allows,
    open: openDialog,
    choices: function () { var c = {}; for (var k in (state && state.c) || {}) c[k] = state.c[k] === 1; return c; },
    gpc: function () { return gpcNav || !!(state && state.g); }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
