// page_chain.js — a block (header fields and its txs) and a tx (fields,
// payload, result) with the "verify" button: the tx's inclusion proof is
// checked here in the browser (proof.js) against the genesis file, whose
// SHA-256 is the chain id. By default the genesis comes from this node; a
// genesis file you hold yourself can be loaded instead, so a lying node
// cannot choose the keys the checkpoint is checked against.

import { get, getBytes } from "./api.js";
import { ed25519Supported, hex, sha256 } from "./crypto.js";
import { verifyProof } from "./proof.js";
import { clear, dl, el, errorNote, idSpan, link, note, resultBadge, table, time } from "./ui.js";

let trustedGenesis = null; // {bytes, name}: a file the user loaded

// Tx types whose payload carries health codes or says who read, or may
// read, whose records (RECORDS.md "What the ledger holds, and what it never
// holds"; PLANS.md and TRIALS.md "Transactions"): record metadata and
// erasure reasons, consents and delegations, audit events, coverages,
// claims, prior-authorization decisions and payments, trial enrolments and
// withdrawals. The API serves every payload unsigned to whoever reaches it
// (OPERATIONS.md "Client certificates"), so this hides nothing from the
// network; it keeps them off the screen unless asked for.
export const HEALTH_TX_TYPES = new Set([
  "record.put", "record.erase", "consent.grant", "consent.revoke", "patient.delegate", "audit.access",
  "coverage.enroll", "claim.submit", "priorauth.decide", "payment.settle", "trial.enroll", "trial.withdraw",
]);

export async function renderBlock(main, [heightText]) {
  // a height as typed: BigInt, so a long one is not shown as 1e+23
  const height = BigInt(heightText);
  main.append(el("h1", {}, `Block ${height}`));
  let b, head;
  try {
    [b, head] = await Promise.all([
      get(`/v1/blocks/${height}`),
      get("/v1/status").then((s) => BigInt(s.height), () => null),
    ]);
  } catch (e) {
    main.append(errorNote(e, `Block ${height}`));
    return;
  }
  main.append(
    el("nav", { class: "pager", "aria-label": "Neighbouring blocks" },
      height > 1n ? link(`#/block/${height - 1n}`, `← Block ${height - 1n}`) : el("span"),
      head !== null && height < head ? link(`#/block/${height + 1n}`, `Block ${height + 1n} →`) : el("span", { class: "muted" }, "the newest block")),
    dl([
      ["Hash", el("code", { class: "id" }, b.hash)],
      ["Previous", height > 1n ? link(`#/block/${height - 1n}`, b.prev_hash) : el("code", { class: "id" }, b.prev_hash + " (the chain id)")],
      ["Time", time(b.time_ms)],
      ["Txs", String(b.tx_count)],
      ["Tx root", el("code", { class: "id" }, b.tx_root)],
      ["Results root", el("code", { class: "id" }, b.results_root)],
      ["State root", el("code", { class: "id" }, b.state_root)],
      ["History root", el("code", { class: "id" }, b.blocks_root)],
      ["Proposer", el("code", { class: "id" }, b.proposer)],
      ["Signature", el("code", { class: "id" }, b.signature)],
    ]),
    el("h2", {}, "Transactions"),
    table(
      ["#", "Txid", "Type", "Signer", "Result"],
      b.txs.map((t, i) => [String(i), link(`#/tx/${t.txid}`, t.txid.slice(0, 16) + "…", { title: t.txid }), t.type, idSpan(t.signer), resultBadge(t.result)]),
      `${b.tx_count} txs in block ${height}`,
    ),
  );
}

// The genesis the proof is checked against: the node's, or a file the user
// holds (which must at least be JSON), and the way back to the node's.
function genesisPicker(onChange) {
  const using = () => (trustedGenesis ? `Using your genesis file ${trustedGenesis.name}.` : "Using the genesis file this node serves.");
  const status = el("span", { id: "genesis-status" }, using());
  const problem = el("div", { id: "genesis-problem" });
  const input = el("input", { id: "genesis-file", type: "file", accept: ".json,application/json", class: "visually-hidden" });
  const back = el("button", { id: "genesis-node", type: "button", class: "small", hidden: !trustedGenesis }, "Use the node's genesis file");
  const changed = () => {
    status.textContent = using();
    back.hidden = !trustedGenesis;
    onChange();
  };
  input.addEventListener("change", async () => {
    const f = input.files && input.files[0];
    input.value = "";
    if (!f) return;
    clear(problem);
    const bytes = new Uint8Array(await f.arrayBuffer());
    try {
      JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch (e) {
      clear(problem, note("error", `${f.name} is not JSON, so it is not a carechain genesis file. ${using()}`));
      return;
    }
    trustedGenesis = { bytes, name: f.name };
    changed();
  });
  back.addEventListener("click", () => {
    trustedGenesis = null;
    clear(problem);
    changed();
    input.focus();
  });
  return [el("p", { class: "genesis" }, status, " ", input, el("label", { class: "button small", for: "genesis-file" }, "Use my genesis file"), " ", back), problem];
}

export async function renderTx(main, [txidText]) {
  const txid = txidText.toLowerCase();
  main.append(el("h1", {}, "Transaction"), el("p", {}, el("code", { class: "id" }, txid)));
  let t;
  try {
    t = await get(`/v1/tx/${txid}`);
  } catch (e) {
    main.append(errorNote(e, "Transaction"));
    return;
  }
  if (t.status !== "committed") {
    main.append(note("info", "This tx is waiting in the mempool; reload once it has committed."));
    return;
  }
  const health = HEALTH_TX_TYPES.has(t.type);
  main.append(
    dl([
      ["Type", t.type],
      ["Result", [resultBadge(t.result), t.result && t.result.message ? " " + t.result.message : ""]],
      ["Block", [link(`#/block/${t.height}`, `${t.height}`), ` (tx ${t.index})`]],
      ["Block time", time(t.block_time_ms)],
      ["Signer", el("code", { class: "id" }, t.signer)],
      ["Created", time(t.created_ms)],
      ["Expires", time(t.expiry_ms)],
      ["Nonce", t.nonce],
      ["Attachment", t.attachment ? JSON.stringify(t.attachment) : "none"],
    ]),
    el("h2", {}, "Payload"),
    health ? hiddenPayload(t) : el("pre", { class: "payload", tabindex: "0" }, JSON.stringify(t.payload, null, 2)),
  );

  const out = el("div", { id: "verify-result", "aria-live": "polite" });
  const button = el("button", { id: "verify", type: "button" }, "Verify");
  const run = async () => {
    button.disabled = true;
    clear(out, note("info", "Checking the proof in this browser…"));
    try {
      clear(out, await verifyHere(txid));
    } catch (e) {
      clear(out, errorNote(e, "Could not verify"));
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener("click", run);
  main.append(
    el("h2", {}, "Verify inclusion"),
    el("p", {}, "Checks, here in the browser with WebCrypto (SHA-256 and Ed25519), that this tx and its result are in its block and that the block is in the history of a checkpoint signed by a majority of the genesis nodes."),
    ...genesisPicker(() => clear(out)),
    button,
    out,
  );
}

// A payload with health codes, or who read whose data, behind a button.
function hiddenPayload(t) {
  const pre = el("pre", { class: "payload", id: "payload", tabindex: "0", hidden: true });
  const button = el("button", { type: "button", id: "show-payload", "aria-expanded": "false", "aria-controls": "payload" }, "Show payload");
  button.addEventListener("click", () => {
    const show = pre.hidden;
    if (show && !pre.firstChild) pre.textContent = JSON.stringify(t.payload, null, 2);
    pre.hidden = !show;
    button.textContent = show ? "Hide payload" : "Show payload";
    button.setAttribute("aria-expanded", String(show));
  });
  return el("div", { id: "payload-box" },
    el("p", { id: "payload-why" }, `This ${t.type} payload (health codes, or who read or may read whose records) ` +
      "is readable by every member node, and is shown here unsigned and unaudited."),
    button, pre);
}

async function verifyHere(txid) {
  if (!(await ed25519Supported()))
    return note("error", el("strong", {}, "Not verified: "), "this browser's WebCrypto has no Ed25519, so the signatures cannot be checked here. Use `carechain verify-proof` instead.");
  const genesis = trustedGenesis ? trustedGenesis.bytes : await getBytes("/v1/genesis");
  const proof = await get(`/v1/tx/${txid}/proof`);
  const r = await verifyProof(proof, genesis);
  const steps = el("ol", { class: "steps" }, r.steps.map((s) => el("li", { class: s.ok ? "good" : "bad" }, el("span", { class: "mark", "aria-hidden": "true" }, s.ok ? "✓" : "✗"), ` ${s.what}: ${s.detail}`)));
  const chain = hex(await sha256(genesis));
  const head = r.verified
    ? note("ok", el("strong", { class: "verdict" }, "Verified."), ` Tx ${txid.slice(0, 12)}… (${r.type}) is in block ${r.height}, under the checkpoint at height ${r.checkpointHeight} signed by a majority of the nodes of chain ${chain.slice(0, 16)}…`)
    : note("error", el("strong", { class: "verdict" }, "Not verified."), " " + r.reason);
  return el("div", {}, head, steps, el("p", { class: "muted" }, trustedGenesis ? `Genesis: your file ${trustedGenesis.name}.` : `Genesis: served by this node; its SHA-256 ${chain} should be the chain id you know.`));
}
