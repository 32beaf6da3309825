// page_claims.js — claims as a payer or a provider sees them (docs/PLANS.md):
// a patient's claims that the loaded key's organisation may read (the
// insurer's, the provider's), with status and adjudication, and one claim
// in full (its lines, decisions, reasons and amounts). Every request is
// signed here and audited by the node with purpose HPAYMT.

import { signed } from "./api.js";
import { clear, currentKey, dl, el, errorNote, idSpan, note, table, time } from "./ui.js";

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

async function claimDetail(key, id, box) {
  clear(box, note("info", `Loading claim ${id.slice(0, 12)}…`));
  try {
    const c = await signed(key, "GET", `/v1/claims/${encodeURIComponent(id)}`);
    const lines = Array.isArray(c.lines) ? c.lines : [];
    const cols = lines.length ? Object.keys(lines[0]) : [];
    const notes = ((c.response && c.response.processNote) || []).map((n) => n.text).filter(Boolean);
    clear(box,
      el("h2", { id: "h-claim" }, `Claim ${c.id}`),
      dl([
        ["Status", statusBadge(c.status, c.response && c.response.outcome)],
        ["Use", c.use],
        ["Patient", idSpan(c.patient)],
        ["Provider", c.provider],
        ["Coverage", c.coverage],
        ["Plan", `${c.plan} v${c.planVersion}`],
        ["Plan pays", money(c.benefitCents)],
        ["Patient pays", money(c.patientCents)],
        c.payment ? ["Payment", cell("payment", c.payment)] : null,
        notes.length ? ["Notes", notes.join(" ")] : null,
      ]),
      lines.length ? table(cols.map((k) => k.replace(/Cents$/, "").replace(/([A-Z])/g, " $1").toLowerCase()), lines.map((l) => cols.map((k) => cell(k, l[k]))), "Adjudication, line by line (amounts in currency units; reasons are X12 CARC codes)") : null,
      Array.isArray(c.history) && c.history.length ? table(["Status", "Time", "Height"], c.history.map((h) => [h.status, time(h.time), String(h.height ?? "")]), "History") : null);
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
  const detail = el("div", { id: "claim-detail" });
  const button = el("button", { type: "submit", class: "primary" }, "Show claims");

  async function submit(ev) {
    ev.preventDefault();
    clear(detail);
    if (claimId.value.trim()) return claimDetail(key, claimId.value.trim(), detail);
    const p = patient.value.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(p)) return clear(list, note("error", "Type the patient's id (64 hex digits), or a claim id."));
    button.disabled = true;
    clear(list, note("info", "Loading (a signed, audited read)…"));
    try {
      const r = await signed(key, "GET", `/v1/patients/${p}/claims`);
      clear(list, r.claims.length
        ? table(["Claim", "Use", "Status", "Plan", "Plan pays", "Patient pays", "Paid", ""],
          r.claims.map((c) => [idSpan(c.id, 16), c.use, statusBadge(c.status, c.outcome), `${c.plan} v${c.planVersion}`, money(c.benefitCents), money(c.patientCents), c.payment ? "yes" : "no",
            el("button", { type: "button", class: "small", onclick: () => claimDetail(key, c.id, detail) }, "Details")]),
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
