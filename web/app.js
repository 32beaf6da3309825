// app.js — the explorer's entry: a hash router over the pages and the key
// panel. Each page module exports render(main, args) and may return a
// function that stops what it started (timers, the event stream).

import { get } from "./api.js";
import { loadKeyFile } from "./crypto.js";
import { clear, errorNote, currentKey, reason, setKey, short } from "./ui.js";
import * as network from "./page_network.js";
import * as chainPages from "./page_chain.js";
import * as patient from "./page_patient.js";
import * as drug from "./page_drug.js";
import * as claims from "./page_claims.js";
import * as trial from "./page_trial.js";

const routes = [
  [/^#?\/?(network)?$/, "network", () => network.render],
  [/^#\/block\/(\d+)$/, "network", () => chainPages.renderBlock],
  [/^#\/tx\/([0-9a-fA-F]{64})$/, "network", () => chainPages.renderTx],
  [/^#\/patient$/, "patient", () => patient.render],
  [/^#\/drug$/, "drug", () => drug.render],
  [/^#\/claims$/, "claims", () => claims.render],
  [/^#\/trial(?:\/([^/]+))?$/, "trial", () => trial.render],
];

let stop = null;

async function route() {
  const main = document.getElementById("main");
  if (stop) {
    try {
      stop();
    } catch (e) {
      /* a page's cleanup must not keep the next page from showing */
    }
    stop = null;
  }
  const hash = location.hash || "#/network";
  for (const [re, nav, page] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll("nav a")) {
      if (a.dataset.page === nav) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    clear(main);
    try {
      stop = (await page()(main, m.slice(1).map((x) => (x === undefined ? undefined : decodeURIComponent(x))))) || null;
    } catch (e) {
      main.append(errorNote(e, "This page could not be shown"));
    }
    return;
  }
  clear(main, errorNote(new Error(`there is no page at ${hash}; use the links above`)));
}

function showKey(k) {
  const status = document.getElementById("key-status");
  document.getElementById("key-forget").hidden = !k;
  status.setAttribute("role", "status");
  status.textContent = k
    ? `Key: ${k.name || "unnamed"}${k.role ? " (" + k.role + (k.org ? ", " + k.org : "") + ")" : ""} ${short(k.id)}`
    : "No key loaded.";
  status.title = k ? k.id : "";
}

// A key file chosen: on success the pages sign with it. On failure no key
// stays loaded, not even the one loaded before (the panel and every page
// must agree on whose key signs; a user who picked another file did not
// mean to go on as the old key), and the panel says so.
async function onKeyFile(ev) {
  const file = ev.target.files && ev.target.files[0];
  ev.target.value = "";
  if (!file) return;
  const status = document.getElementById("key-status");
  const before = currentKey();
  try {
    const k = await loadKeyFile(await file.text());
    setKey(k);
    showKey(k);
    route();
  } catch (e) {
    if (before) {
      setKey(null);
      showKey(null);
      route();
    }
    status.setAttribute("role", "alert");
    status.textContent = `Key not loaded: ${reason(e).replace(/\.$/, "")}.` +
      (before ? ` The key loaded before (${before.name || short(before.id)}) was forgotten: no key is loaded.` : " No key is loaded.");
  }
}

async function start() {
  document.getElementById("key-file").addEventListener("change", onKeyFile);
  document.getElementById("key-forget").addEventListener("click", () => {
    setKey(null);
    showKey(null);
    route();
  });
  window.addEventListener("hashchange", route);
  showKey(currentKey());
  get("/v1/status")
    .then((s) => (document.getElementById("chain-name").textContent = s.chain_name))
    .catch(() => {});
  await route();
}

start();
