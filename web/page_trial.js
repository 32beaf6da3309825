// page_trial.js — a clinical trial's results integrity report
// (GET /v1/trials/{id}/integrity, issue 7): registered outcomes not
// reported, outcomes reported that were not pre-registered, outcomes
// changed after the start, late results and late registration, each with
// the txids that prove it. Public: a trial registry holds no health data.

import { ApiError, get } from "./api.js";
import { TRIAL_ID_RULE, clear, dl, el, errorNote, focusOn, link, note, table, time, trialIdValid } from "./ui.js";

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

const txLink = (t) => (typeof t === "string" && TXID.test(t) ? link(`#/tx/${t}`, `tx ${t.slice(0, 12)}…`, { title: t }) : "");

// The report's facts in words (docs/TRIALS.md "Integrity rules"), as
// `carechain trial integrity` and `trial show` say them.
function facts(r) {
  const first = r.firstEnrolment;
  const n = Number(r.resultsPostings) || 0;
  return dl([
    r.version !== undefined ? ["Registration", `version ${r.version} is the current one`] : null,
    r.baselineVersion !== undefined ? ["Baseline", `version ${r.baselineVersion}, ` +
      (first ? "the one in force at the first enrolment" : "the current one, since nobody is enrolled yet")] : null,
    ["First enrolment", first && typeof first === "object"
      ? el("span", { id: "trial-first" }, time(first.time), first.txid ? [" (", txLink(first.txid), ")"] : "")
      : "nobody is enrolled yet"],
    ["Results", r.resultsPosted ? `posted, ${n || "some"} posting${n === 1 ? "" : "s"}` : "not posted yet"],
    r.resultsDue ? ["Results due", `by ${r.resultsDue} (12 months after the primary completion date)`] : null,
  ]);
}

function report(r, id) {
  const findings = Array.isArray(r.findings) ? r.findings : Array.isArray(r.issues) ? r.issues : null;
  const parts = [el("h2", { id: "h-report", tabindex: "-1" }, `Integrity report for ${r.trial || r.id || id}`), facts(r)];
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
  const heading = el("h1", {}, "Trial integrity");
  const badId = () => note("error", `"${input.value.trim()}" is not a trial id: ${TRIAL_ID_RULE}.`);
  main.append(
    heading,
    el("p", {}, "Pre-registration is provable on the ledger: the report shows outcome switching, dropped or added outcomes, late results and late registration, by block time."),
    el("form", { class: "search", onsubmit: (ev) => {
      ev.preventDefault();
      const v = input.value.trim();
      if (!v) return clear(out, note("error", "Type a trial id, such as NCT01234567."));
      if (!trialIdValid(v)) return clear(out, badId());
      const to = `#/trial/${encodeURIComponent(v)}`;
      if (location.hash === to) window.dispatchEvent(new HashChangeEvent("hashchange")); // the same report again
      else location.hash = to;
    } }, el("label", { for: "trial-id" }, "Trial id"), input, el("button", { type: "submit" }, "Show report")),
    out,
  );
  if (!trialId) return;
  // checked before it goes into the path: a "/" or ".." would reach
  // another endpoint, or none
  if (!trialIdValid(trialId)) return void clear(out, badId());
  clear(out, note("info", "Loading…"));
  // the router put focus on the page's heading; once the report is here,
  // it goes on to the report's, unless the user has moved on meanwhile
  const follow = (e) => {
    if (document.activeElement === heading) focusOn(e);
  };
  try {
    const r = await get(`/v1/trials/${encodeURIComponent(trialId)}/integrity`);
    clear(out, report(r, trialId));
    follow(out.querySelector("h2"));
  } catch (e) {
    // A node without the trial registry has no such route: the router's
    // own 404, whose message is exactly "no such endpoint". A 404 that
    // says anything else (no such trial) is the registry's answer.
    const body = e instanceof ApiError ? e.body : null;
    if (e instanceof ApiError && e.status === 404 && body && body.error && body.error.message === "no such endpoint")
      clear(out, note("warn", "This node has no trial registry yet (GET /v1/trials/{id}/integrity is not served): the clinical research module has not landed in its build."));
    else clear(out, errorNote(e, `Trial ${trialId}`));
    follow(out.firstChild);
  }
}
