// ui.js — small DOM helpers the pages share: element building (no HTML
// strings, so nothing from the ledger is ever parsed as markup), errors in
// words, times, ids, and the key the user loaded.

export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(e, ...children) {
  e.replaceChildren();
  append(e, children);
  return e;
}

// A message box: kind is "error", "ok", "warn" or "info". role=alert for
// errors so screen readers announce them.
export function note(kind, ...children) {
  return el("div", { class: "note " + kind, role: kind === "error" ? "alert" : "status" }, ...children);
}

// An error's reason in words, never empty (Chromium's WebCrypto throws
// DOMExceptions whose message is "").
export function reason(err) {
  if (err && err.message) return err.message;
  if (err && err.name) return `${err.name} (the browser gave no reason)`;
  return String(err || "an unknown error");
}

export function errorNote(err, what) {
  const msg = reason(err);
  return note("error", what ? `${what}: ${msg}` : msg);
}

// A time as the CLI prints it (cc_cli_time): UTC, to the millisecond.
export function time(ms) {
  if (ms === undefined || ms === null) return "";
  const d = new Date(Number(ms));
  return isNaN(d) ? String(ms) : d.toISOString().replace("T", " ").replace(/Z$/, " UTC");
}

export function short(id, n = 12) {
  return typeof id === "string" && id.length > n + 2 ? id.slice(0, n) + "…" : String(id ?? "");
}

// An id shown short with the whole id in a tooltip and for copying.
export function idSpan(id, n) {
  return el("code", { class: "id", title: id }, short(id, n));
}

// Move keyboard focus to e (a heading, a message): tabindex=-1 lets script
// focus it without adding a Tab stop.
export function focusOn(e) {
  if (!e) return;
  if (!e.hasAttribute("tabindex")) e.setAttribute("tabindex", "-1");
  e.focus();
}

const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

// Replace box's content with children, leaving the box alone when nothing
// changed, and keeping keyboard focus: when it was on an element inside box,
// it moves to the new element with the same tag, href and text, else the one
// with the same tag and href, else the one at the same place (the "Head
// block" link of a newer head). Boxes that refresh on a timer use this, so a
// keyboard user's place is not lost every refresh.
export function refill(box, ...children) {
  const fresh = document.createElement("div");
  append(fresh, children);
  if (fresh.innerHTML === box.innerHTML) return box;
  const a = document.activeElement;
  let was = null;
  if (a && a !== box && box.contains(a)) {
    was = { tag: a.tagName, href: a.getAttribute("href"), text: a.textContent, at: [...box.querySelectorAll(FOCUSABLE)].indexOf(a) };
  }
  box.replaceChildren(...Array.from(fresh.childNodes));
  if (was) {
    const now = [...box.querySelectorAll(FOCUSABLE)];
    const same = now.find((e) => e.tagName === was.tag && e.getAttribute("href") === was.href && e.textContent === was.text) ||
      now.find((e) => e.tagName === was.tag && was.href !== null && e.getAttribute("href") === was.href) ||
      now.filter((e) => e.tagName === was.tag)[Math.max(0, was.at)] || now[now.length - 1];
    if (same) same.focus({ preventScroll: true });
  }
  return box;
}

// A form whose inputs the browser's own validation refuses never fires
// "submit": clear the message of an earlier attempt when that happens, so an
// old "Granted" or error does not stand beside the browser's complaint.
export function clearOnInvalid(form, out) {
  form.addEventListener("invalid", () => clear(out), true);
  return form;
}

// Ids as docs/ and src/apps/*.h define them, checked before they go into a
// URL path (a "/" or ".." would reach another endpoint, or none).
export const HEX64 = /^[0-9a-fA-F]{64}$/;
// An organisation id: 1..63 of letters, digits, '.', '_', '-' (cmd_genesis.c
// token_ok, CC_RECORDS_ORG_MAX), and not a path step.
export function orgIdValid(s) {
  return /^[A-Za-z0-9._-]{1,63}$/.test(s) && s !== "." && s !== "..";
}
export const ORG_ID_RULE = "an organisation id is 1 to 63 letters, digits, '.', '_' or '-' (such as clinic)";
// A trial id: NCT and 8 digits, or a sponsor's own id of 3..40 letters,
// digits, '.', '_', '-', starting with a letter or digit and not with NCT
// (cc_trials_id_valid, docs/TRIALS.md "Model").
export function trialIdValid(s) {
  if (s.startsWith("NCT")) return /^NCT[0-9]{8}$/.test(s);
  return /^[A-Za-z0-9][A-Za-z0-9._-]{2,39}$/.test(s);
}
export const TRIAL_ID_RULE = "a trial id is NCT followed by 8 digits (NCT01234567), or a sponsor's own id: 3 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit";

export function link(href, text, attrs) {
  return el("a", Object.assign({ href }, attrs || {}), text);
}

export function table(headers, rows, caption) {
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      {},
      caption ? el("caption", {}, caption) : null,
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))),
    ),
  );
}

export function dl(pairs) {
  return el("dl", { class: "fields" }, pairs.filter(Boolean).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

export function resultBadge(result) {
  const code = result && result.code ? result.code : "pending";
  return el("span", { class: "badge " + (code === "ok" ? "good" : code === "pending" ? "neutral" : "bad") }, code);
}

// The key the user loaded (crypto.js loadKeyFile); memory only.
let signer = null;
const listeners = new Set();
export function currentKey() {
  return signer;
}
export function setKey(k) {
  // the key replaced or forgotten: wipe its X25519 secret (crypto.js boxOpener)
  if (signer && signer !== k && signer.x) signer.x.forget();
  signer = k;
  for (const f of listeners) f(k);
}
export function onKeyChange(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

// Run an async action from a form: disables the button, shows progress and
// the outcome (or the error in words) in out.
export async function busy(button, out, what, f) {
  button.disabled = true;
  clear(out, note("info", what + "…"));
  try {
    const r = await f();
    return r;
  } catch (e) {
    clear(out, errorNote(e));
    return undefined;
  } finally {
    button.disabled = false;
  }
}
