// page_patient.js — a patient's own view, every request signed here in the
// browser with the key file the patient loaded (the key never leaves the
// tab): their records, their consents with grant and revoke, who accessed
// their data (granted and denied, from the audit trail) and break-glass
// alerts. Each read is itself audited by the node (docs/RECORDS.md).

import { get, sendTx, signed } from "./api.js";
import { b64, sealTo, sodium, unb64, unhex } from "./crypto.js";
import { HEX64, ORG_ID_RULE, clear, clearOnInvalid, currentKey, el, errorNote, focusOn, idSpan, link, note, orgIdValid, table, time } from "./ui.js";

const PURPOSES = [
  ["TREAT", "treatment"],
  ["HPAYMT", "payment"],
  ["HOPERAT", "operations"],
  ["HRESCH", "research"],
  ["ETREAT", "emergency treatment"],
];
const DAY_MS = 24 * 3600 * 1000;

function code(c) {
  return c && c.coding && c.coding[0] ? c.coding[0].code : c && c.code;
}

function ref(r) {
  return (r && r.reference && (r.reference.reference || r.reference)) || "";
}

function grantee(p) {
  const a = p && p.actor && p.actor[0];
  const r = a ? ref(a) : "";
  return typeof r === "string" ? r.replace(/^Practitioner\//, "person ").replace(/^Organization\//, "organisation ") : "";
}

function consentRows(bundle, onRevoke) {
  return (bundle.entry || []).map(({ resource: c }) => {
    const p = c.provision || {};
    const actions = (p.action || []).map((a) => ({ access: "read", collect: "write" })[code(a)] || code(a)).join(", ");
    const purposes = (p.purpose || []).map((x) => x.code || code(x)).join(", ");
    const period = `${p.period && p.period.start ? p.period.start.slice(0, 10) : ""} → ${p.period && p.period.end ? p.period.end.slice(0, 10) : "open"}`;
    const revoke = c.status === "active" || c.status === "proposed"
      ? el("button", { type: "button", class: "small", "aria-label": `Revoke consent ${c.id.slice(0, 12)}`, onclick: (ev) => onRevoke(c.id, ev.target) }, "Revoke")
      : "";
    return [link(`#/tx/${c.id}`, c.id.slice(0, 12) + "…", { title: c.id }), el("span", { class: "badge " + (c.status === "active" ? "good" : "neutral") }, c.status),
      p.type || "", grantee(p), actions, purposes, period, revoke];
  });
}

function auditRows(bundle) {
  return (bundle.entry || []).map(({ resource: a }) => {
    const agent = a.agent && a.agent[0];
    const who = agent && agent.who ? String(agent.who.reference || "") : "";
    const endpoint = ((a.entity && a.entity[0] && a.entity[0].detail) || []).find((d) => d.type === "endpoint");
    const btg = a.meta && a.meta.security ? " (break-glass)" : "";
    const at = a.recorded ? Date.parse(a.recorded) : NaN;
    return [isNaN(at) ? a.recorded || "" : time(at), idSpan(who.replace(/^(Practitioner|Patient)\//, "")),
      endpoint ? endpoint.valueString : "", (a.purposeOfEvent || []).map(code).join(", "),
      el("span", { class: "badge " + (a.outcome === "0" ? "good" : "bad") }, (a.outcome === "0" ? "granted" : "denied") + btg),
      a.outcomeDesc || ""];
  });
}

export async function render(main) {
  main.append(el("h1", {}, "Patient"));
  const key = currentKey();
  if (!key) {
    main.append(note("info", "Load your key file (top right) to see your records, consents, who accessed your data and alerts. The key stays in this browser tab: requests are signed here and only the signatures are sent."));
    return;
  }
  const pid = el("input", { id: "patient-id", name: "patient", value: key.id, size: "66", spellcheck: "false", autocomplete: "off" });
  const records = el("section", { "aria-labelledby": "h-records" });
  const consents = el("section", { "aria-labelledby": "h-consents" });
  const access = el("section", { "aria-labelledby": "h-access" });
  const alerts = el("section", { "aria-labelledby": "h-alerts" });
  const consentsHeading = el("h2", { id: "h-consents", tabindex: "-1" }, "Consents");
  const grantOut = el("div", { id: "grant-result", "aria-live": "polite" });
  const sealer = el("div", { id: "sealer-status" });
  let activeRecords = [];

  const patient = () => pid.value.trim().toLowerCase();

  async function loadRecords() {
    clear(records, note("info", "Loading (a signed, audited read)…"));
    try {
      const r = await signed(key, "GET", `/v1/patients/${patient()}/records?purpose=TREAT`);
      activeRecords = r.records.filter((x) => x.status !== "erased");
      clear(records, r.records.length
        ? table(["Record", "Type", "Category", "Version", "Status", "Author org", "Updated"],
          r.records.map((x) => [idSpan(x.record), x.resourceType, x.category, String(x.version), x.status || "active", x.org || "you", time(x.updated)]),
          `${r.total} records; their contents are encrypted and open only with your key (carechain record get)`)
        : note("info", "No records yet."));
    } catch (e) {
      clear(records, errorNote(e, "Records"));
    }
  }

  async function loadConsents() {
    clear(consents, note("info", "Loading…"));
    try {
      const b = await signed(key, "GET", `/fhir/Consent?patient=${patient()}`);
      const rows = consentRows(b, revoke);
      clear(consents, rows.length ? table(["Consent", "Status", "Provision", "Grantee", "Actions", "Purposes", "Period", ""], rows) : note("info", "No consents yet."));
    } catch (e) {
      clear(consents, errorNote(e, "Consents"));
    }
  }

  async function loadAccess() {
    clear(access, note("info", "Loading…"));
    try {
      const b = await signed(key, "GET", `/fhir/AuditEvent?patient=${patient()}`);
      const rows = auditRows(b);
      clear(access, rows.length ? table(["Time", "Who", "What", "Purpose", "Outcome", "Reason"], rows, `${b.total ?? rows.length} accesses, newest first (your own reads of this page included)`) : note("info", "Nobody has accessed your data."));
    } catch (e) {
      clear(access, errorNote(e, "Accesses"));
    }
  }

  async function loadAlerts() {
    clear(alerts, note("info", "Loading…"));
    try {
      const a = await signed(key, "GET", `/v1/patients/${patient()}/alerts`);
      clear(alerts, a.alerts.length
        ? [note("warn", `${a.total} emergency (break-glass) reads of your records. Each was audited; check that you know of them.`),
          table(["Time", "Who", "Record", "Reason"], a.alerts.map((x) => [time(x.time), idSpan(x.requester), idSpan(x.record || ""), x.reason || ""]))]
        : note("ok", "No break-glass reads of your records."));
    } catch (e) {
      clear(alerts, errorNote(e, "Alerts"));
    }
  }

  async function revoke(consentId, button) {
    button.disabled = true;
    clear(grantOut, note("info", `Revoking consent ${consentId.slice(0, 12)}…`));
    try {
      const r = await sendTx(key, "consent.revoke", { consent: consentId, reason: "revoked in the explorer" });
      clear(grantOut, note("ok", `Revoked consent ${consentId.slice(0, 12)}… in block ${r.height}.`));
      await loadConsents();
      // the button is gone with the old table: focus goes to the consents' heading
      focusOn(consentsHeading);
    } catch (e) {
      clear(grantOut, errorNote(e, "Not revoked"));
      button.disabled = false;
    }
  }

  // ---- the grant form ----
  const kind = el("select", { id: "grant-kind", name: "kind" }, el("option", { value: "org" }, "an organisation"), el("option", { value: "identity" }, "a person (identity id)"));
  const to = el("input", { id: "grant-to", name: "to", required: true, autocomplete: "off", spellcheck: "false", list: "orgs", placeholder: "clinic, or 64 hex digits" });
  const orgList = el("datalist", { id: "orgs" });
  get("/v1/orgs").then((o) => o.orgs.forEach((x) => orgList.append(el("option", { value: x.id }, x.name)))).catch(() => {});
  const actRead = el("input", { type: "checkbox", id: "grant-read", value: "read" });
  const actWrite = el("input", { type: "checkbox", id: "grant-write", value: "write", checked: true });
  const purposeBoxes = PURPOSES.map(([c]) => el("input", { type: "checkbox", id: "grant-p-" + c, value: c, checked: c === "TREAT" ? true : undefined }));
  const provision = el("select", { id: "grant-provision", name: "provision" }, el("option", { value: "permit" }, "permit"), el("option", { value: "deny" }, "deny (overrides permits)"));
  const days = el("input", { id: "grant-days", name: "days", type: "number", min: "1", max: "3650", placeholder: "open-ended" });
  const grantButton = el("button", { type: "submit", class: "primary" }, "Grant consent");

  async function grant(ev) {
    ev.preventDefault();
    const actions = [actRead, actWrite].filter((b) => b.checked).map((b) => b.value);
    const purposes = purposeBoxes.filter((b) => b.checked).map((b) => b.value);
    const who = to.value.trim();
    if (!who) return clear(grantOut, note("error", "Say whom the consent is for."));
    if (kind.value === "identity" && !/^[0-9a-fA-F]{64}$/.test(who)) return clear(grantOut, note("error", "A person is named by their identity id: 64 hex digits."));
    if (kind.value === "org" && !orgIdValid(who)) return clear(grantOut, note("error", `"${who}" is not an organisation id: ${ORG_ID_RULE}.`));
    if (!actions.length) return clear(grantOut, note("error", "Choose read, write or both."));
    if (!purposes.length) return clear(grantOut, note("error", "Choose at least one purpose."));
    const payload = {
      patient: patient(),
      grantee: kind.value === "org" ? { org: who } : { identity: who.toLowerCase() },
      actions,
      purposes,
      provision: provision.value,
    };
    if (days.value) payload.period = { until: Date.now() + Number(days.value) * DAY_MS };
    const needKeys = provision.value === "permit" && actions.includes("read") && activeRecords.length > 0;
    if (needKeys && !key.x) {
      return clear(grantOut, note("warn",
        `A read permit must re-wrap the data keys of your ${activeRecords.length} records for the grantee (libsodium sealed boxes). ` +
        noSealing() + " Nothing was sent."));
    }
    grantButton.disabled = true;
    clear(grantOut, note("info", needKeys ? `Re-wrapping the keys of ${activeRecords.length} records here for the grantee…` : "Signing the consent here and waiting for its block…"));
    try {
      if (needKeys) payload.keys = await rewrapKeys(payload.grantee);
      const r = await sendTx(key, "consent.grant", payload);
      clear(grantOut, note("ok", el("span", { id: "granted" }, `Granted: consent ${r.txid}`), ` committed in block ${r.height}.`));
      await loadConsents();
    } catch (e) {
      clear(grantOut, errorNote(e, "Not granted"));
    } finally {
      grantButton.disabled = false;
    }
  }

  // Why read permits cannot be granted here, in words, with what can.
  function noSealing() {
    return `Granting a read permit in the browser needs libsodium.js, and ${key.xWhy || "it is not loaded"}. ` +
      "Grant read permits with `carechain consent grant`; write consents and denials can be granted here.";
  }

  // Which libsodium.js re-wraps keys here (its version), or why none can.
  async function showSealer() {
    if (!key.x) return clear(sealer, note("warn", noSealing()));
    try {
      const { version } = await sodium();
      clear(sealer, el("p", { class: "muted" }, `Read permits re-wrap your records' keys here in the browser with ${version}, served by this node.`));
    } catch (e) {
      clear(sealer, errorNote(e, "libsodium.js"));
    }
  }

  // A read permit carries each covered record's data key sealed for the
  // grantee: open the patient's own copy (fetched with a signed read), seal
  // it to the X25519 form of the grantee's key, both with libsodium.js
  // (crypto_box_seal_open, crypto_box_seal). The data keys exist only in
  // this function.
  async function rewrapKeys(g) {
    let recipient = g.identity;
    if (g.org) {
      const o = await get(`/v1/orgs/${encodeURIComponent(g.org)}`);
      if (!o.records_key) throw new Error(`organisation ${g.org} has no records key, so no record key can be wrapped for it`);
      recipient = o.records_key;
    }
    const granteePk = unhex(recipient, 32);
    const keys = {};
    for (const rec of activeRecords) {
      const r = await signed(key, "GET", `/v1/records/${rec.record}?purpose=TREAT`);
      if (!r.key || !r.key.wrapped) throw new Error(`record ${rec.record} came without a key wrapped for you`);
      const dataKey = key.x.open(unb64(r.key.wrapped));
      try {
        keys[rec.record] = b64(await sealTo(dataKey, granteePk));
      } finally {
        dataKey.fill(0);
      }
    }
    return keys;
  }

  const reload = el("button", { type: "button", onclick: async () => {
    if (!HEX64.test(patient())) {
      for (const box of [records, consents, access, alerts]) clear(box);
      return clear(records, note("error", "A patient id is 64 hex digits."));
    }
    await loadRecords();
    await loadConsents();
    await loadAccess();
    await loadAlerts();
  } }, "Reload");

  main.append(
    el("p", { class: "form-grid" }, el("label", { for: "patient-id" }, "Patient id"), el("span", { class: "inline-field" }, pid, reload)),
    el("p", { class: "muted" }, "Every request below is signed in this browser with your key and audited on the ledger, so your own reads show in the access list."),
    el("h2", { id: "h-records" }, "My records"), records,
    consentsHeading, consents,
    el("h3", {}, "Grant a consent"),
    clearOnInvalid(el("form", { id: "grant-form", class: "form-grid", onsubmit: grant },
      el("label", { for: "grant-kind" }, "To"), kind,
      el("label", { for: "grant-to" }, "Who"), el("span", {}, to, orgList),
      el("span", { id: "l-actions" }, "Actions"), el("span", { role: "group", "aria-labelledby": "l-actions" },
        actRead, el("label", { for: "grant-read" }, " read "), actWrite, el("label", { for: "grant-write" }, " write")),
      el("span", { id: "l-purposes" }, "Purposes"), el("span", { role: "group", "aria-labelledby": "l-purposes" },
        PURPOSES.map(([c, words], i) => [purposeBoxes[i], el("label", { for: "grant-p-" + c }, ` ${words} (${c}) `)])),
      el("label", { for: "grant-provision" }, "Provision"), provision,
      el("label", { for: "grant-days" }, "Valid for days"), days,
      el("div", { class: "full" }, grantButton)), grantOut),
    sealer,
    grantOut,
    el("h2", { id: "h-access" }, "Who accessed my data"), access,
    el("h2", { id: "h-alerts" }, "Alerts"), alerts,
  );
  showSealer();
  await loadRecords();
  await loadConsents();
  await loadAccess();
  await loadAlerts();
}
