// app.js — the explorer's entry: a hash router over the pages and the key
// panel. Each page module exports render(main, args) and may return a
// function that stops what it started (timers, the event stream).

import { get } from "./api.js";
import { loadKeyFile } from "./crypto.js";
import { clear, currentKey, el, errorNote, focusOn, reason, setKey, short } from "./ui.js";
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
let generation = 0; // which route() is current: a page that finishes loading after the next one started is stopped
const SITE = "carechain explorer";

// Show the page of location.hash. With focus (a page change the user asked
// for: a link, the search box, a key loaded or forgotten), keyboard focus
// moves to the new page's heading; on the first load it stays at the top,
// so the first Tab still reaches the skip link.
async function route({ focus = false } = {}) {
  const gen = ++generation;
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
  // Each page renders into a view of its own: one that is still loading
  // when the next page starts writes into a view no longer shown.
  const view = el("div", { class: "view" });
  clear(main, view);
  const match = routes.find(([re]) => re.test(hash));
  for (const a of document.querySelectorAll("nav a")) {
    if (match && a.dataset.page === match[1]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  let pending = null;
  if (match) {
    const m = hash.match(match[0]);
    // runs synchronously up to the page's first await: its heading is there after this line
    try {
      pending = match[2]()(view, m.slice(1).map((x) => (x === undefined ? undefined : decodeURIComponent(x))));
    } catch (e) {
      pending = Promise.reject(e);
    }
  } else {
    view.append(el("h1", {}, "No such page"), errorNote(new Error(`there is no page at ${hash}; use the links above`)));
  }
  const h1 = view.querySelector("h1");
  document.title = h1 ? `${h1.textContent} — ${SITE}` : SITE;
  if (h1) h1.setAttribute("tabindex", "-1");
  if (focus) focusOn(h1 || main);
  if (!pending) return;
  let stopPage = null;
  try {
    stopPage = (await pending) || null;
  } catch (e) {
    if (gen === generation) view.append(errorNote(e, "This page could not be shown"));
  }
  if (gen === generation) stop = stopPage;
  else if (stopPage) stopPage(); // the user moved on while it loaded
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
    route({ focus: true });
  } catch (e) {
    if (before) {
      setKey(null);
      showKey(null);
      route({ focus: true });
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
    route({ focus: true });
  });
  // The skip link moves focus to the page's heading; it must not set
  // location.hash, which the router reads as a page.
  document.querySelector("a.skip").addEventListener("click", (ev) => {
    ev.preventDefault();
    const main = document.getElementById("main");
    const h1 = main.querySelector("h1");
    focusOn(h1 || main);
  });
  window.addEventListener("hashchange", () => route({ focus: true }));
  showKey(currentKey());
  get("/v1/status")
    .then((s) => (document.getElementById("chain-name").textContent = s.chain_name))
    .catch(() => {});
  await route();
}

start();
