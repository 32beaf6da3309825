// page_drug.js — "is this package genuine?": a GS1 Digital Link, element
// string or EPC URI pasted (or GTIN and serial typed) goes to
// GET /v1/drugs/verify (docs/SUPPLY.md "Verification"). With a key loaded
// the request is signed in the browser: the node then also judges the
// presenter, records a signal as an alert, and adds the custody history
// when the key's organisation may see it.

import { get, signed } from "./api.js";
import { clear, currentKey, dl, el, errorNote, link, note, table, time } from "./ui.js";

const REASONS = {
  No_match_GTIN: "No product with this GTIN is registered on the ledger.",
  No_match_GTIN_Serial: "The product is registered, but this serial number was never commissioned.",
  No_match_GTIN_Serial_Lot: "The serial exists, but it was commissioned with another lot.",
  No_match_GTIN_Serial_Expiry: "The serial exists, but it was commissioned with another expiry date.",
  No_match_GTIN_Serial_Lot_Expiry: "The serial exists, but it was commissioned with another lot and expiry date.",
};

// What each signal means (docs/SUPPLY.md "Verification" and "Alerts").
// Signals are notes beside the verdict: the verdict itself follows the
// node's "saleable" (and "verified"), as `carechain drug verify` does.
const SIGNALS = {
  clone: "this serial was already dispensed to a patient: a package presenting it again is a clone.",
  not_owner: "your organisation neither owns this unit nor is receiving it in an open shipment, so it should not be in your hands; the unit itself may still be sold by its owner.",
  recalled: "the unit is recalled (its recall raised the alert).",
  expired: "the unit is past its expiry date.",
  suspect: "a trading partner or a regulator reported the unit as suspect.",
  illegitimate: "the unit was reported illegitimate.",
  unknown: "the serial was never commissioned.",
  mismatch: "the lot or expiry does not match what was commissioned.",
};

const INFO = {
  Recalled: "recalled",
  Expired: "expired",
  Suspect: "reported suspect",
  Illegitimate: "reported illegitimate",
  Dispensed: "already dispensed",
  "Not_for_re-distribution": "decommissioned or destroyed: not for re-distribution",
};

const DANGER = new Set(["clone", "suspect", "illegitimate", "recalled", "unknown", "mismatch"]);

function verdict(r) {
  if (!r.verified)
    return { kind: "bad", title: "Not verified", text: REASONS[r.reason] || `The ledger does not know this unit (${r.reason || "no reason given"}).` };
  const signals = r.signals || [];
  const info = (r.info || []).map((i) => INFO[i] || i);
  if (r.saleable === true)
    return { kind: "good", title: "Verified: genuine and saleable", text: `GTIN ${r.gtin} serial ${r.serial} was commissioned on the ledger and nothing stops its sale (status ${r.status}).` };
  const what = info.length ? `The unit is ${info.join(", ")}.` : "The node says it is not saleable.";
  if (signals.some((s) => DANGER.has(s)))
    return { kind: "bad", title: signals.includes("clone") ? "Warning: cloned serial" : "Warning: do not dispense", text: what };
  return { kind: "warn", title: "Genuine, but not saleable", text: what };
}

// The signals as notes, each with what it means.
function signalNotes(r) {
  const signals = r.signals || [];
  if (!signals.length) return null;
  return el("section", { "aria-labelledby": "h-signals" },
    el("h2", { id: "h-signals" }, "Signals"),
    el("ul", { id: "drug-signals" }, signals.map((s) => el("li", {}, el("code", {}, s), ": ", SIGNALS[s] || "a signal this page does not know (docs/SUPPLY.md lists them)."))),
    r.alert ? el("p", {}, "Recorded on the ledger as an alert: ", link(`#/tx/${r.alert}`, `drug.alert tx ${r.alert.slice(0, 12)}…`, { title: r.alert }), ".") : null);
}

// history.events: [{event: "<txid>:<i>", type, time_ms, height, signer}]
function historyView(h) {
  const rows = (h.events || []).map((e) => {
    const ev = typeof e === "string" ? { event: e } : e || {};
    const txid = String(ev.event || "").split(":")[0];
    return [time(ev.time_ms), String(ev.type || "").replace(/^drug\./, ""), ev.height !== undefined ? link(`#/block/${ev.height}`, String(ev.height)) : "",
      /^[0-9a-f]{64}$/.test(txid) ? link(`#/tx/${txid}`, txid.slice(0, 12) + "…", { title: txid }) : String(ev.event || "")];
  });
  return el("section", { "aria-labelledby": "h-history" },
    el("h2", { id: "h-history" }, "Custody history"),
    dl([
      ["Manufacturer", h.manufacturer],
      ["Lot", h.lot],
      h.exp ? ["Expiry", h.exp] : null,
      ["Owners", (h.owners || []).join(" → ")],
      h.to ? ["In transit to", h.to] : null,
      h.case ? ["Packed in case", h.case] : null,
    ]),
    rows.length ? table(["Time", "Event", "Block", "Tx"], rows, "Every event the ledger holds for this unit, oldest first") : null);
}

export async function render(main) {
  const key = currentKey();
  const id = el("input", { id: "drug-id", name: "id", type: "text", autocomplete: "off", spellcheck: "false",
    placeholder: "https://id.gs1.org/01/…/21/…  or  (01)…(21)…  or  urn:epc:id:sgtin:…" });
  const gtin = el("input", { id: "drug-gtin", name: "gtin", inputmode: "numeric", autocomplete: "off", placeholder: "14 digits" });
  const serial = el("input", { id: "drug-serial", name: "serial", autocomplete: "off" });
  const lot = el("input", { id: "drug-lot", name: "lot", autocomplete: "off" });
  const exp = el("input", { id: "drug-exp", name: "exp", autocomplete: "off", placeholder: "YYMMDD", inputmode: "numeric" });
  const sign = el("input", { id: "drug-sign", type: "checkbox", checked: key ? true : undefined, disabled: key ? undefined : true });
  const out = el("div", { id: "drug-result", "aria-live": "polite" });
  const button = el("button", { type: "submit", class: "primary" }, "Verify package");

  async function submit(ev) {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (id.value.trim()) q.set("id", id.value.trim());
    else if (gtin.value.trim() && serial.value.trim()) {
      q.set("gtin", gtin.value.trim());
      q.set("serial", serial.value.trim());
      if (lot.value.trim()) q.set("lot", lot.value.trim());
      if (exp.value.trim()) q.set("exp", exp.value.trim());
    } else {
      clear(out, note("error", "Paste the code from the package, or type both its GTIN and its serial number."));
      return;
    }
    const path = "/v1/drugs/verify?" + q.toString().replace(/\+/g, "%20");
    button.disabled = true;
    clear(out, note("info", "Asking the ledger…"));
    try {
      const k = currentKey();
      const r = sign.checked && k ? await signed(k, "GET", path) : await get(path);
      const v = verdict(r);
      clear(out,
        el("div", { class: "verdict-box " + v.kind, role: v.kind === "good" ? "status" : "alert" },
          el("span", { class: "big", id: "drug-verdict" }, v.title), el("span", { id: "drug-reason" }, v.text)),
        signalNotes(r),
        dl([
          ["GTIN", r.gtin],
          ["Serial", r.serial],
          r.status ? ["Status", r.status] : null,
          (r.signals || []).length ? null : ["Signals", "none"],
          ["Checked at height", String(r.height)],
          ["Presented as", sign.checked && k ? `${k.org || "your organisation"} (signed request)` : "anonymous (unsigned)"],
        ]),
        r.history ? historyView(r.history) : sign.checked && k ? note("info", "No custody history: your organisation is not an owner, past owner or the manufacturer of this unit, nor a regulator.") : null);
    } catch (e) {
      clear(out, errorNote(e, "Not checked"));
    } finally {
      button.disabled = false;
    }
  }

  main.append(
    el("h1", {}, "Drug verification"),
    el("p", {}, "Is this package genuine and saleable? Scan or paste the code printed on it, or type its GTIN and serial number."),
    el("form", { onsubmit: submit, class: "form-grid", "aria-describedby": "drug-help" },
      el("label", { for: "drug-id" }, "Code on the package"), id,
      el("p", { id: "drug-help", class: "full muted" }, "A GS1 Digital Link, a GS1 element string or an EPC URI. Or leave it empty and type:"),
      el("label", { for: "drug-gtin" }, "GTIN"), gtin,
      el("label", { for: "drug-serial" }, "Serial number"), serial,
      el("label", { for: "drug-lot" }, "Lot (optional)"), lot,
      el("label", { for: "drug-exp" }, "Expiry (optional)"), exp,
      el("label", { for: "drug-sign" }, "Sign with my key"),
      el("span", {}, sign, " ", key ? `as ${key.org || key.id.slice(0, 12)}: adds custody history when your organisation may see it` : "(load a key file to present the package as your organisation)"),
      el("div", { class: "full" }, button)),
    out,
  );
}
