// page_claims.js — claims as a payer or a provider sees them (docs/PLANS.md):
// a patient's claims that the loaded key's organisation may read (the
// insurer's, the provider's), with status and adjudication, and one claim
// in full (its lines, decisions, reasons and amounts). Every request is
// signed here and audited by the node with purpose HPAYMT.

import { signed } from "./api.js";
import { HEX64, clear, currentKey, dl, el, errorNote, focusOn, idSpan, link, note, table, time } from "./ui.js";

export function money(cents) {
  if (typeof cents !== "number") return cents === undefined ? "" : String(cents);
  const sign = cents < 0 ? "-" : "";
  const a = Math.abs(cents);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, "0")}`;
}

function cell(k, v) {
  if (v === null || v === undefined) return "";
  if (/Cents$/.test(k)) return money(v);
  if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function statusBadge(s, outcome) {
  const cls = s === "paid" || outcome === "complete" ? "good" : s === "pended" || outcome === "partial" ? "warn" : outcome === "error" ? "bad" : "neutral";
  return el("span", { class: "badge " + cls }, s + (outcome ? ` · ${outcome}` : ""));
}

// The line table's columns (PLANS.md "claim.submit", State: lines): the
// same for every line, whatever fields each has (an approved line has
// amounts and no CARC, a denied one a CARC and reason and no amounts); a
// field this page does not know is added after them.
const LINE_COLUMNS = [
  ["line", "Line"], ["code", "Code"], ["date", "Date"], ["units", "Units"], ["billedCents", "Billed"],
  ["decision", "Decision"], ["carc", "CARC"], ["reason", "Reason"], ["allowedCents", "Allowed"],
  ["deductibleCents", "Deductible"], ["copayCents", "Copay"], ["coinsuranceCents", "Coinsurance"],
  ["patientCents", "Patient pays"], ["benefitCents", "Plan pays"], ["authorization", "Authorization"],
  ["consumedBy", "Consumed by"], ["consumedLine", "Consumed line"],
];

function lineTable(lines) {
  const known = new Set(LINE_COLUMNS.map(([k]) => k));
  const present = new Set(lines.flatMap((l) => Object.keys(l || {})));
  const extra = [...present].filter((k) => !known.has(k)).map((k) => [k, k.replace(/Cents$/, "").replace(/([A-Z])/g, " $1").toLowerCase()]);
  // columns no line has are left out, but decision, CARC and reason always show
  const cols = [...LINE_COLUMNS.filter(([k]) => present.has(k) || k === "decision" || k === "carc" || k === "reason"), ...extra];
  return table(cols.map(([, h]) => h), lines.map((l) => cols.map(([k]) => cell(k, (l || {})[k]))),
    "Adjudication, line by line (amounts in currency units; reasons are X12 CARC codes)");
}

// A payment in words, as `carechain claim get` says it, with its tx.
function payment(p) {
  if (!p || typeof p !== "object") return String(p);
  return el("span", { id: "claim-payment" }, `paid ${money(p.amountCents)}${p.date ? " on " + p.date : ""}${p.trace ? " in remittance " + p.trace : ""}`,
    p.txid && HEX64.test(p.txid) ? [" (", link(`#/tx/${p.txid}`, `tx ${p.txid.slice(0, 12)}…`, { title: p.txid }), ")"] : "");
}

async function claimDetail(key, id, box) {
  clear(box, note("info", `Loading claim ${id.slice(0, 12)}…`));
  try {
    const c = await signed(key, "GET", `/v1/claims/${encodeURIComponent(id)}`);
    const lines = Array.isArray(c.lines) ? c.lines : [];
    const notes = ((c.response && c.response.processNote) || []).map((n) => n.text).filter(Boolean);
    const heading = el("h2", { id: "h-claim", tabindex: "-1" }, `Claim ${c.id}`);
    clear(box,
      heading,
      dl([
        ["Status", statusBadge(c.status, c.response && c.response.outcome)],
        ["Use", c.use],
        ["Patient", idSpan(c.patient)],
        ["Provider", c.provider],
        ["Coverage", c.coverage],
        ["Plan", `${c.plan} v${c.planVersion}`],
        ["Plan pays", money(c.benefitCents)],
        ["Patient pays", money(c.patientCents)],
        c.payment ? ["Payment", payment(c.payment)] : null,
        notes.length ? ["Notes", notes.join(" ")] : null,
      ]),
      lines.length ? lineTable(lines) : null,
      Array.isArray(c.history) && c.history.length ? table(["Status", "Time", "Height"], c.history.map((h) => [h.status, time(h.time), String(h.height ?? "")]), "History") : null);
    focusOn(heading);
  } catch (e) {
    clear(box, errorNote(e, `Claim ${id}`));
  }
}

export async function render(main) {
  main.append(el("h1", {}, "Claims"));
  const key = currentKey();
  if (!key) {
    main.append(note("info", "Load a payer's or a provider's key file (top right). Claims hold health data: each read is signed in this browser and audited on the ledger."));
    return;
  }
  const patient = el("input", { id: "claims-patient", name: "patient", size: "66", spellcheck: "false", autocomplete: "off", placeholder: "64 hex digits", value: key.role === "patient" ? key.id : undefined });
  const claimId = el("input", { id: "claims-id", name: "claim", spellcheck: "false", autocomplete: "off" });
  const list = el("div", { id: "claims-list", "aria-live": "polite" });
  const detail = el("div", { id: "claim-detail", "aria-live": "polite" });
  const button = el("button", { type: "submit", class: "primary" }, "Show claims");

  async function submit(ev) {
    ev.preventDefault();
    clear(detail);
    const cid = claimId.value.trim();
    if (cid) {
      if (!HEX64.test(cid)) return clear(detail, note("error", "A claim id is 64 hex digits: the txid of its claim.submit."));
      return claimDetail(key, cid.toLowerCase(), detail);
    }
    const p = patient.value.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(p)) return clear(list, note("error", "Type the patient's id (64 hex digits), or a claim id."));
    button.disabled = true;
    clear(list, note("info", "Loading (a signed, audited read)…"));
    try {
      const r = await signed(key, "GET", `/v1/patients/${p}/claims`);
      clear(list, r.claims.length
        ? table(["Claim", "Use", "Status", "Plan", "Plan pays", "Patient pays", "Paid", ""],
          r.claims.map((c) => [idSpan(c.id, 16), c.use, statusBadge(c.status, c.outcome), `${c.plan} v${c.planVersion}`, money(c.benefitCents), money(c.patientCents), c.payment ? "yes" : "no",
            el("button", { type: "button", class: "small", "aria-label": `Details of claim ${String(c.id).slice(0, 12)}`, onclick: () => claimDetail(key, c.id, detail) }, "Details")]),
          `${r.total} claims your organisation may read, newest first`)
        : note("info", "No claims of this patient that your organisation may read."));
    } catch (e) {
      clear(list, errorNote(e, "Claims"));
    } finally {
      button.disabled = false;
    }
  }

  main.append(
    el("p", {}, `Signed as ${key.name || key.id.slice(0, 12)} (${key.role || "role unknown"}${key.org ? ", " + key.org : ""}). The insurer's payers and the provider's clinicians and admins see their own claims.`),
    el("form", { class: "form-grid", onsubmit: submit },
      el("label", { for: "claims-patient" }, "Patient id"), patient,
      el("label", { for: "claims-id" }, "or one claim id"), claimId,
      el("div", { class: "full" }, button)),
    list,
    detail,
  );
}
