// page_trial.js — a clinical trial's results integrity report
// (GET /v1/trials/{id}/integrity, issue 7): registered outcomes not
// reported, outcomes reported that were not pre-registered, outcomes
// changed after the start, late results and late registration, each with
// the txids that prove it. Public: a trial registry holds no health data.

import { ApiError, get } from "./api.js";
import { clear, dl, el, errorNote, link, note, table } from "./ui.js";

const TXID = /^[0-9a-f]{64}$/;

// Every 64-hex string in v as a link to its tx page.
function proofLinks(v) {
  const out = [];
  const walk = (x) => {
    if (typeof x === "string" && TXID.test(x)) out.push(x);
    else if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === "object") Object.values(x).forEach(walk);
  };
  walk(v);
  return [...new Set(out)].map((t) => [link(`#/tx/${t}`, t.slice(0, 12) + "…", { title: t }), " "]);
}

function describe(f) {
  if (typeof f === "string") return f;
  return f.message || f.detail || f.description || f.summary ||
    Object.entries(f).filter(([k, v]) => typeof v !== "object" && !TXID.test(String(v)) && k !== "rule" && k !== "kind" && k !== "type").map(([k, v]) => `${k}: ${v}`).join("; ");
}

function report(r, id) {
  const findings = Array.isArray(r.findings) ? r.findings : Array.isArray(r.issues) ? r.issues : null;
  const parts = [el("h2", {}, `Integrity report for ${r.trial || r.id || id}`)];
  const facts = Object.entries(r).filter(([k, v]) => k !== "findings" && k !== "issues" && (typeof v !== "object" || v === null));
  if (facts.length) parts.push(dl(facts.map(([k, v]) => [k, String(v)])));
  if (!findings) {
    parts.push(note("warn", "This node's report has no findings list this page knows; here it is as the node sent it."), el("pre", { class: "payload", tabindex: "0" }, JSON.stringify(r, null, 2)));
  } else if (!findings.length) {
    parts.push(el("div", { class: "verdict-box good", role: "status" }, el("span", { class: "big", id: "trial-verdict" }, "No integrity findings"),
      "Every registered outcome was reported, nothing was switched or added after the start, and nothing was late."));
  } else {
    parts.push(el("div", { class: "verdict-box bad", role: "alert" }, el("span", { class: "big", id: "trial-verdict" }, `${findings.length} integrity finding${findings.length > 1 ? "s" : ""}`),
      "Each cites the transactions that prove it; open one to check its inclusion proof."),
    table(["Finding", "What", "Proof"], findings.map((f) => [String(f.rule || f.kind || f.type || "finding").replace(/[-_]/g, " "), describe(f), proofLinks(f)])));
  }
  return parts;
}

export async function render(main, [trialId]) {
  const input = el("input", { id: "trial-id", name: "trial", autocomplete: "off", spellcheck: "false", placeholder: "NCT01234567", value: trialId || undefined });
  const out = el("div", { id: "trial-result", "aria-live": "polite" });
  main.append(
    el("h1", {}, "Trial integrity"),
    el("p", {}, "Pre-registration is provable on the ledger: the report shows outcome switching, dropped or added outcomes, late results and late registration, by block time."),
    el("form", { class: "search", onsubmit: (ev) => {
      ev.preventDefault();
      const v = input.value.trim();
      if (!v) return clear(out, note("error", "Type a trial id, such as NCT01234567."));
      location.hash = `#/trial/${encodeURIComponent(v)}`;
    } }, el("label", { for: "trial-id" }, "Trial id"), input, el("button", { type: "submit" }, "Show report")),
    out,
  );
  if (!trialId) return;
  clear(out, note("info", "Loading…"));
  try {
    const r = await get(`/v1/trials/${encodeURIComponent(trialId)}/integrity`);
    clear(out, report(r, trialId));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && /no such endpoint/.test(e.message))
      clear(out, note("warn", "This node has no trial registry yet (GET /v1/trials/{id}/integrity is not served): the clinical research module has not landed in its build."));
    else clear(out, errorNote(e, `Trial ${trialId}`));
  }
}
