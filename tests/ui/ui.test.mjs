// tests/ui/ui.test.mjs — the explorer (web/) in a real browser: Debian's
// headless Chromium driven by playwright-core, against a 3-node raft devnet
// this script starts (carechain devnet --nodes 3, on free ports) and always
// stops. Besides the pages, it checks what only a real network shows: the
// nodes and their leader, checkpoints signed by a majority of node keys,
// a consent granted on one node read through another, a follower's answer.
//
// Prints cmocka-style lines, so scripts/run-tests.sh counts the tests:
//   [ RUN      ] name / [       OK ] name / [  FAILED  ] name
//   [  PASSED  ] N test(s).  [  FAILED  ] N test(s)  [  SKIPPED ] N test(s)
// Without Chromium or playwright-core every test is reported skipped, with
// the reason, never passed. Screenshots go to build/ui-shots/.
//
// Usage: node tests/ui/ui.test.mjs   (env: CARECHAIN=build/carechain,
//        UI_SHOTS=build/ui-shots, CHROMIUM=/usr/bin/chromium)

import { execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const BIN = path.resolve(root, process.env.CARECHAIN || "build/carechain");
const SHOTS = path.resolve(root, process.env.UI_SHOTS || "build/ui-shots");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TESTS = [];
const test = (name, f, opts = {}) => TESTS.push({ name, f, ...opts });

function skipAll(reason) {
  for (const t of TESTS) console.log(`[  SKIPPED ] ${t.name}: ${reason}`);
  console.log(`[==========] ${TESTS.length} test(s) run.`);
  console.log(`[  PASSED  ] 0 test(s).`);
  console.log(`[  SKIPPED ] ${TESTS.length} test(s), listed above.`);
  process.exit(0);
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// ---- the network ---------------------------------------------------------

const NODES = 3;
const ctx = {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll f() until it returns a truthy value or the deadline passes; the last
// error or value goes into the message, so a timeout says what it saw.
async function until(what, ms, f, every = 200) {
  const end = Date.now() + ms;
  let last = "nothing yet";
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
      last = "not yet";
    } catch (e) {
      if (e.fatal) throw e;
      last = e.message;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms / 1000} s (last: ${last})`);
    await sleep(every);
  }
}

// Whether a TCP port on 127.0.0.1 can be bound now.
function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

// A base port P with the devnet's API ports P..P+N-1 and raft ports
// P+100..P+100+N-1 all free. Random, so that parallel runs seldom try the
// same one; whoever loses a race between this check and the nodes' bind is
// caught below (the devnet exits) and tries another.
async function freeBasePort() {
  for (let i = 0; i < 50; i++) {
    const base = 10000 + Math.floor(Math.random() * 22000); // below the ephemeral range
    const ports = [];
    for (let k = 0; k < NODES; k++) ports.push(base + k, base + 100 + k);
    let ok = true;
    for (const p of ports) if (!(ok = await portFree(p))) break;
    if (ok) return base;
  }
  throw new Error("found no free ports for the devnet");
}

async function cliAt(url, ...args) {
  try {
    const { stdout } = await run(BIN, [...args, "--node", url], { cwd: ctx.dir, timeout: 60000 });
    return stdout;
  } catch (e) {
    throw new Error(`carechain ${args.join(" ")} --node ${url} failed (${e.code}): ${(e.stderr || "") + (e.stdout || "") || e.message}`);
  }
}

const cli = (...args) => cliAt(ctx.url, ...args);

async function cliJSON(...args) {
  return JSON.parse(await cli(...args, "--json"));
}

async function apiAt(url, p) {
  const r = await fetch(url + p, { signal: AbortSignal.timeout(10000) });
  const body = await r.json();
  if (!r.ok) throw new Error(`GET ${url}${p}: ${r.status} ${JSON.stringify(body)}`);
  return body;
}

const api = (p) => apiAt(ctx.url, p);

function keyId(name) {
  return JSON.parse(fs.readFileSync(path.join(ctx.dir, "keys", name + ".key"), "utf8")).id;
}

// /v1/status of every node, in node order.
const statuses = () => Promise.all(ctx.urls.map((u) => apiAt(u, "/v1/status")));

// Wait until every node has the same head and names the same leader, which
// itself says it leads; returns the statuses. Raft on a loaded 2-core
// machine may take a while to elect or to catch a follower up: a deadline,
// not a fixed sleep.
async function converged(ms = 30000) {
  return until("the nodes agreeing on head and leader", ms, async () => {
    const s = await statuses();
    const leader = s[0].leader;
    const same = s.every((x) => x.height === s[0].height && x.head_hash === s[0].head_hash && x.leader === leader);
    const leads = s.filter((x) => x.raft_state === "leader").map((x) => x.node.name);
    if (!(same && leader && leads.length === 1 && leads[0] === leader))
      throw new Error(s.map((x) => `${x.node.name} h${x.height} ${x.raft_state} leader=${x.leader || "-"}`).join(", "));
    return s;
  });
}

// A follower's URL (the network as it is now).
async function followerUrl() {
  const s = await converged();
  const i = s.findIndex((x) => x.raft_state === "follower");
  assert(i >= 0, "no node is a follower");
  return ctx.urls[i];
}

// One attempt at `carechain devnet`: resolves when it says its nodes run,
// rejects when it exits first or the deadline passes (stopping it then).
async function startDevnetOnce() {
  ctx.top = fs.mkdtempSync(path.join(os.tmpdir(), "carechain-ui-"));
  ctx.dir = path.join(ctx.top, "net");
  ctx.base = await freeBasePort();
  ctx.urls = [];
  for (let k = 0; k < NODES; k++) ctx.urls.push(`http://127.0.0.1:${ctx.base + k}`);
  ctx.url = ctx.urls[0];
  ctx.nodePids = [];
  // The devnet's output goes to a file, not a pipe: should this script die
  // first, the devnet's "stopping" lines must not kill it with SIGPIPE
  // before it has stopped its nodes.
  ctx.devnetLog = path.join(ctx.top, "devnet.log");
  const out = fs.openSync(ctx.devnetLog, "w");
  const dn = spawn(BIN, ["devnet", "--nodes", String(NODES), "--dir", ctx.dir, "--base-port", String(ctx.base)], {
    stdio: ["ignore", out, out],
  });
  fs.closeSync(out);
  ctx.devnet = dn;
  const said = () => fs.readFileSync(ctx.devnetLog, "utf8");
  await until("the devnet starting", 90000, async () => {
    const text = said();
    ctx.nodePids = [...text.matchAll(/\(process (\d+),/g)].map((m) => Number(m[1]));
    if (dn.exitCode !== null || dn.signalCode)
      throw Object.assign(new Error("it exited: " + text.trim().split("\n").slice(-3).join(" | ")), { fatal: true });
    return /nodes running/.test(text);
  }, 100).catch(async (e) => {
    await stopDevnet();
    throw e;
  });
}

async function startDevnet() {
  for (let attempt = 1; ; attempt++) {
    try {
      await startDevnetOnce();
      break;
    } catch (e) {
      if (attempt === 3) throw new Error(`the devnet did not start (3 tries; logs in ${ctx.top}): ${e.message}`);
      console.log(`note: devnet at base port ${ctx.base} did not start (${e.message.slice(0, 200)}); trying other ports`);
    }
  }
  const s = await converged(60000);
  console.log(`devnet: ${NODES} nodes at ${ctx.urls.join(" ")}, leader ${s[0].leader}, dir ${ctx.dir}`);
}

// SIGTERM to the devnet stops its nodes; should it hang, SIGKILL it and the
// nodes it said it started.
async function stopDevnet() {
  const dn = ctx.devnet;
  if (!dn) return;
  if (dn.exitCode === null && !dn.signalCode) {
    dn.kill("SIGTERM");
    await new Promise((r) => {
      const t = setTimeout(() => {
        console.log("note: the devnet did not stop within 40 s of SIGTERM; killing it and its nodes");
        dn.kill("SIGKILL");
        r();
      }, 40000);
      dn.once("exit", () => (clearTimeout(t), r()));
    });
  }
  killNodesLeft();
  ctx.devnet = null;
}

// Synchronous last resort (process exit, a signal to this script): nodes
// the devnet started that still run are killed, and the devnet too.
function killNodesLeft() {
  for (const pid of ctx.nodePids || []) {
    try {
      process.kill(pid, 0);
      process.kill(pid, "SIGKILL");
    } catch (e) {
      /* gone already */
    }
  }
}

process.on("exit", () => {
  if (ctx.devnet && ctx.devnet.exitCode === null) {
    try {
      ctx.devnet.kill("SIGTERM");
    } catch (e) {
      /* gone */
    }
  }
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, async () => {
    console.log(`${sig}: stopping the devnet`);
    await stopDevnet().catch(() => killNodesLeft());
    process.exit(1);
  });
}

async function register(admin, key, role) {
  return cliJSON("member", "register", "--key", `keys/${admin}.key`, "--keyfile", `keys/${key}.key`, "--role", role);
}

async function txSend(key, type, payload) {
  const r = await cliJSON("tx", "send", "--key", `keys/${key}.key`, "--type", type, "--payload", JSON.stringify(payload), "--wait");
  const code = r.result && r.result.code;
  assert(code === "ok", `${type} did not commit ok: ${JSON.stringify(r)}`);
  return r;
}

async function setUp() {
  await startDevnet();
  const reg = await register("admin-hospital", "clinician", "clinician");
  ctx.realTx = reg.txid;
  // Several notes sent at once, so that one block holds more than one tx and
  // the verify tests walk a real audit path.
  const sent = await Promise.all([1, 2, 3, 4, 5, 6].map((i) =>
    cliJSON("note", "put", "--key", "keys/clinician.key", "--kind", "ui-test", "--sha256", String(i).repeat(64), "--no-wait")));
  // A follower forwards --no-wait txs to the leader and knows them (404
  // until then) only once their block reaches it.
  const txs = await until("the notes committing", 60000, async () => {
    const got = await Promise.all(sent.map((x) => api(`/v1/tx/${x.txid}`).catch(() => null)));
    return got.every((t) => t && t.status === "committed") && got;
  });
  for (const t of txs) {
    const b = await api(`/v1/blocks/${t.height}`);
    if (b.tx_count > 1 && !ctx.pathTx) ctx.pathTx = t.txid;
  }
  if (!ctx.pathTx) ctx.pathTx = ctx.realTx; // each landed alone: no path to walk
  assert(ctx.pathTx, "the notes did not commit");
  await cli("patient", "register", "--key", "keys/admin-hospital.key", "--keyfile", "keys/patient.key");
  await register("admin-regulator", "regulator", "regulator");
  await register("admin-pharma", "manufacturer", "manufacturer");
  await register("admin-pharmacy", "pharmacy", "pharmacy");
  ctx.patient = keyId("patient");
  // the patient's own record: encrypted by the CLI, listed (not opened) by the page
  fs.writeFileSync(path.join(ctx.dir, "obs.json"), JSON.stringify({ resourceType: "Observation", status: "final",
    category: [{ coding: [{ code: "laboratory" }] }], code: { text: "HbA1c" }, valueString: "6.1 %" }));
  const put = await cli("record", "put", "--key", "keys/patient.key", "--patient", ctx.patient, "--file", "obs.json", "--category", "laboratory");
  ctx.record = (put.match(/^record ([0-9a-f]{32}) /m) || [])[1];
  // A unit that is commissioned, shipped to the pharmacy, received and
  // dispensed: presented again, it is a clone.
  ctx.gtin = "00312345678906";
  ctx.unit = `${ctx.gtin}.SN1001`;
  await cli("drug", "prefix", "0312345", "--org", "pharma", "--key", "keys/regulator.key");
  await cli("drug", "product-register", "--key", "keys/manufacturer.key", "--gtin", ctx.gtin, "--ndc", "12345-678-90",
    "--name", "Examplamab", "--strength", "10 mg", "--form", "tablet");
  await cli("drug", "commission", "--key", "keys/manufacturer.key", "--gtin", ctx.gtin, "--lot", "LOT42", "--exp", "281231",
    "--serials", "SN1001,SN1002");
  const ship = await cliJSON("drug", "ship", ctx.unit, "--to", "pharmacy", "--statement", "--tx-id", "INV-1", "--key", "keys/manufacturer.key");
  await cli("drug", "receive", ctx.unit, "--shipment", ship.txid, "--key", "keys/pharmacy.key");
  await cli("drug", "dispense", ctx.unit, "--key", "keys/pharmacy.key");
  await setUpClaims();
  await setUpTrial();
  // every node has every set-up block before a page asks any of them
  await converged(60000);
}

// A trial whose results report an outcome it never registered and leave a
// registered one out: two integrity findings (docs/TRIALS.md rules 3 and 4).
// Skipped (ctx.trial unset) on a build without the trial registry.
async function setUpTrial() {
  const help = await run(BIN, ["--help"]).then((r) => r.stdout, (e) => e.stdout || "");
  if (!/\btrial\b/.test(help)) return;
  await register("admin-research", "sponsor", "sponsor");
  await register("admin-research", "researcher", "researcher");
  const year = new Date().getUTCFullYear();
  const hash = "ab".repeat(32);
  fs.writeFileSync(path.join(ctx.dir, "trial.json"), JSON.stringify({
    trial: "NCT04000001", title: "HbA1c with Examplamab", phase: "phase-3",
    primaryOutcomes: [{ measure: "Change in HbA1c from baseline", timeFrame: "26 weeks" }],
    secondaryOutcomes: [{ measure: "Change in body weight", timeFrame: "26 weeks" }],
    enrollment: 300, primaryCompletionDate: `${year + 1}-06-30`, protocolSha256: hash, sapSha256: hash,
    researchers: [keyId("researcher")],
  }));
  fs.writeFileSync(path.join(ctx.dir, "results.json"), JSON.stringify({
    trial: "NCT04000001",
    outcomes: [{ measure: "Change in HbA1c from baseline", value: "-0.8" }, { measure: "Quality of life score", value: "3" }],
  }));
  await cli("trial", "register", "--key", "keys/sponsor.key", "--file", "trial.json");
  await cli("trial", "results", "--key", "keys/sponsor.key", "--trial", "NCT04000001", "--file", "results.json");
  ctx.trial = "NCT04000001";
}

// A payer's plan, the patient's coverage and one adjudicated claim of the
// hospital (the shapes of tests/integration/test_claims_cli.c).
async function setUpClaims() {
  const year = new Date().getUTCFullYear();
  const today = new Date().toISOString().slice(0, 10);
  await register("admin-payer", "payer", "payer");
  const claim = (code, net) => ({
    resourceType: "Claim", status: "active", use: "claim",
    type: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/claim-type", code: "professional" }] },
    patient: { reference: "Patient/1" }, created: today, provider: { reference: "Organization/1" },
    priority: { coding: [{ code: "normal" }] },
    insurance: [{ sequence: 1, focal: true, coverage: { reference: "Coverage/1" } }],
    diagnosis: [{ sequence: 1, diagnosisCodeableConcept: { coding: [{ code: "E11.9" }] } }],
    item: [{ sequence: 1, productOrService: { coding: [{ code }] }, servicedDate: today,
      unitPrice: { value: net, currency: "USD" }, net: { value: net, currency: "USD" } }],
  });
  const plan = {
    id: "ui-gold", version: 1, name: "UI Gold", currency: "USD",
    effective: { start: `${year}-01-01`, end: `${year}-12-31` },
    deductibleCents: 50000, outOfPocketMaxCents: 300000, timelyFilingDays: 180,
    categories: { office: { copayCents: 2500, coinsuranceBp: 0, deductible: false } },
    covered: [{ code: "99213", category: "office", allowedCents: 9500 }],
    tests: [{ name: "office visit", claim: { resourceType: "Claim", status: "active", use: "claim",
      type: { coding: [{ code: "professional" }] }, created: `${year}-03-02`,
      item: [{ sequence: 1, productOrService: { coding: [{ code: "99213" }] }, servicedDate: `${year}-03-02`, net: { value: 120, currency: "USD" } }] },
      expect: { benefitCents: 7000, patientCents: 2500 } }],
  };
  fs.writeFileSync(path.join(ctx.dir, "plan.json"), JSON.stringify(plan));
  fs.writeFileSync(path.join(ctx.dir, "claim.json"), JSON.stringify(claim("99213", 120)));
  await cli("plan", "deploy", "--key", "keys/payer.key", "--file", "plan.json");
  await cli("coverage", "enroll", "--key", "keys/payer.key", "--coverage", "cov-ui-1", "--patient", ctx.patient,
    "--plan", "ui-gold", "--start", `${year}-01-01`, "--subscriber", "W1");
  const out = await cli("claim", "submit", "--key", "keys/clinician.key", "--file", "claim.json", "--patient", ctx.patient, "--coverage", "cov-ui-1");
  ctx.claim = (out.match(/Claim ([0-9a-f]+)/) || [])[1];
  // A claim of two lines, the second of a code the plan does not cover: an
  // approved line (amounts, no CARC) beside a denied one (CARC and reason,
  // no amounts), then paid in one remittance.
  const two = claim("99213", 130);
  two.item.push({ sequence: 2, productOrService: { coding: [{ code: "99499" }] }, servicedDate: today,
    unitPrice: { value: 40, currency: "USD" }, net: { value: 40, currency: "USD" } });
  fs.writeFileSync(path.join(ctx.dir, "claim2.json"), JSON.stringify(two));
  const out2 = await cli("claim", "submit", "--key", "keys/clinician.key", "--file", "claim2.json", "--patient", ctx.patient, "--coverage", "cov-ui-1");
  ctx.claim2 = (out2.match(/Claim ([0-9a-f]+)/) || [])[1];
  ctx.trace = "EFT-UI-0001";
  await cli("payment", "settle", "--key", "keys/payer.key", "--trace", ctx.trace, "--claims", ctx.claim2);
}

async function tearDown() {
  await stopDevnet();
}

// ---- the browser ---------------------------------------------------------

// What the patient page should say it runs: libsodium.js's npm version and
// the libsodium inside, read here from the node_modules the build embedded.
async function sodiumVersion() {
  const req = createRequire(path.join(root, "package.json"));
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "node_modules/libsodium-wrappers/package.json"), "utf8"));
  const so = req("libsodium-wrappers");
  await so.ready;
  return `libsodium.js ${pkg.version} (libsodium ${so.sodium_version_string()})`;
}

async function openPage(browser, hash, opts = {}) {
  const context = await browser.newContext({ viewport: opts.viewport || { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") page.problems.push("console error: " + m.text());
  });
  page.on("pageerror", (e) => page.problems.push("uncaught: " + e.message));
  await page.goto((opts.url || ctx.url) + "/ui/" + hash);
  return page;
}

async function finish(page, shot) {
  if (shot) await page.screenshot({ path: path.join(SHOTS, shot + ".png"), fullPage: true });
  // Chromium logs every non-2xx fetch as a console error; a test that
  // expects the node to refuse a request says how many such lines it allows.
  let allowed = page.expectedLoadErrors || 0;
  const problems = page.problems.filter((p) => !(/Failed to load resource/.test(p) && allowed-- > 0));
  await page.context().close();
  assert(problems.length === 0, problems.join("; "));
}

async function loadKey(page, name) {
  await page.setInputFiles("#key-file", path.join(ctx.dir, "keys", name + ".key"));
  await page.waitForFunction(() => document.getElementById("key-status").textContent.startsWith("Key:"), null, { timeout: 10000 });
}

// ---- the tests -------------------------------------------------------------

test("serving_headers", async () => {
  const r = await fetch(ctx.url + "/ui/");
  assert(r.status === 200, "GET /ui/ answered " + r.status);
  assert(r.headers.get("content-type").startsWith("text/html"), "index content type " + r.headers.get("content-type"));
  const csp = r.headers.get("content-security-policy") || "";
  assert(csp.includes("default-src 'none'") && csp.includes("script-src 'self' 'wasm-unsafe-eval';"), "CSP is " + csp);
  // WebAssembly for libsodium.js, and no more: no JS eval, no inline script
  assert(!/[^-]'unsafe-eval'|'unsafe-inline'/.test(csp), "the CSP allows more than WebAssembly: " + csp);
  // the build embedded libsodium.js (scripts/web-libs.sh), with its licence
  const libs = await (await fetch(ctx.url + "/ui/libs.json")).json();
  assert(libs.sodium, "this carechain was built without libsodium.js (libs.json: " + JSON.stringify(libs) +
    "); scripts/deps.sh --web installs it, then make embeds it");
  for (const f of [...libs.sodium.scripts, libs.sodium.license]) {
    const lr = await fetch(ctx.url + "/ui/" + f);
    assert(lr.status === 200, `GET /ui/${f} answered ${lr.status}`);
  }
  const js = await fetch(ctx.url + "/ui/app.js");
  assert(js.headers.get("content-type").startsWith("text/javascript"), "app.js content type " + js.headers.get("content-type"));
  const etag = js.headers.get("etag");
  const again = await fetch(ctx.url + "/ui/app.js", { headers: { "If-None-Match": etag } });
  assert(again.status === 304, "a matching If-None-Match answered " + again.status);
  const missing = await fetch(ctx.url + "/ui/nothing.js");
  assert(missing.status === 404, "a missing file answered " + missing.status);
});

test("network_page", async ({ browser }) => {
  // Served by a follower: its status, the node list and the live events all
  // come from a node that does not lead.
  const at = await followerUrl();
  const page = await openPage(browser, "#/network", { url: at });
  await page.getByRole("heading", { name: "Network" }).waitFor();
  await page.locator("table").first().waitFor();
  await page.locator("svg.chart").waitFor();
  // a block committed (through another node) while the page is open arrives through /v1/events
  const before = Number(await page.locator("#height").textContent());
  await register("admin-regulator", "auditor", "auditor");
  await page.waitForFunction((h) => Number(document.getElementById("height").textContent) > h, before, { timeout: 20000 });
  await page.waitForFunction(() => /[1-9]\d* txs in 5 min/.test(document.querySelector(".chart-box").textContent), null, { timeout: 20000 });
  // The consensus nodes: all three, each with its API address, exactly one
  // starred as leader, and that one the leader every node's /v1/status
  // names. The page refreshes every 2 s, so after a re-election (a loaded
  // machine) it may take a refresh to agree: wait, with a deadline.
  const names = ctx.urls.map((_, i) => `node${i + 1}`);
  const shown = async () => {
    const rows = await page.locator("section[aria-labelledby=h-nodes] tbody tr").allTextContents();
    const starred = rows.filter((r) => r.includes("★ leader"));
    const leaderDd = await page.locator("dt:text-is('Leader') + dd").textContent();
    return { rows, starred, leaderDd };
  };
  let seen;
  await until("the network page showing the leader that every node reports", 30000, async () => {
    const s = await converged();
    seen = await shown();
    const leader = s[0].leader;
    return seen.rows.length === NODES && seen.starred.length === 1 && seen.starred[0].startsWith(leader + " ★ leader") &&
      seen.leaderDd === leader ? leader : null;
  }, 500).catch((e) => {
    throw new Error(e.message + "; the page shows " + JSON.stringify(seen));
  });
  for (const [i, n] of names.entries()) {
    const row = seen.rows.find((r) => r.startsWith(n));
    assert(row, `${n} is not in the nodes table: ${JSON.stringify(seen.rows)}`);
    assert(row.includes(ctx.urls[i].replace("http://", "")) && /active/.test(row) && /voter/.test(row),
      `${n}'s row does not show its API, active and voter: ${row}`);
  }
  assert(/3 active nodes/.test(await page.locator("section[aria-labelledby=h-nodes] caption").textContent()), "the caption does not count 3 active nodes");
  const self = await apiAt(at, "/v1/status");
  const nodeDd = await page.locator("dt:text-is('Node') + dd").textContent();
  assert(nodeDd === `${self.node.name} (raft)`, `"This node" is ${nodeDd}, not the follower ${self.node.name} serving the page`);
  assert(/^follower, term \d+, 3 voters$/.test(await page.locator("dt:text-is('Raft') + dd").textContent()), "the page does not show a follower of 3 voters");
  await finish(page, "network");
});

// An open governance proposal shows on the network page (what, approvals
// so far of how many needed, until when), and leaves it once the proposing
// organisation withdraws it.
test("network_page_proposals", async ({ browser }) => {
  const page = await openPage(browser, "#/network");
  const box = page.locator("section[aria-labelledby=h-proposals]");
  await box.getByText("No open proposals.").waitFor({ timeout: 20000 });
  const keyFile = path.join(ctx.dir, "node9.key");
  fs.rmSync(keyFile, { force: true });
  await run(BIN, ["keygen", "--out", keyFile], { timeout: 60000 });
  const out = await cli("network", "propose-add", "--key", "keys/admin-hospital.key", "--name", "node9", "--keyfile", keyFile,
    "--org", "hospital", "--api", "127.0.0.1:9", "--raft", "127.0.0.1:10");
  const txid = (out.match(/^proposal ([0-9a-f]{64})$/m) || [])[1];
  assert(txid, "propose-add printed no proposal txid: " + out);
  const row = box.locator("tbody tr");
  await row.first().waitFor({ timeout: 20000 });
  const text = await row.first().textContent();
  const needed = (await api("/v1/network/proposals")).needed;
  assert(text.includes(txid.slice(0, 12)) && text.includes("add node9 (hospital, 127.0.0.1:9)") &&
    text.includes(`1 of ${needed} (hospital)`) && / UTC$/.test(text.trim()), "the proposal row says " + text);
  assert(await row.first().locator(`a[href="#/tx/${txid}"]`).count() === 1, "the proposal does not link to its tx");
  await page.screenshot({ path: path.join(SHOTS, "network-proposal-open.png"), fullPage: true });
  await cli("network", "withdraw", "--key", "keys/admin-hospital.key", "--proposal", txid);
  await box.getByText("No open proposals.").waitFor({ timeout: 20000 });
  // an upgrade proposal says which ruleset from which block; the status
  // panel names the ruleset blocks execute under now
  const status = await api("/v1/status");
  assert(await page.locator("dt:text-is('Ruleset') + dd").textContent() === String(status.ruleset.active),
    "the status panel does not show the ruleset " + status.ruleset.active);
  const up = await cli("network", "propose-upgrade", "--key", "keys/admin-hospital.key", "--ruleset",
    String(status.ruleset.supported + 1), "--from", "1000000", "--force");
  const upTxid = (up.match(/^proposal ([0-9a-f]{64})$/m) || [])[1];
  assert(upTxid, "propose-upgrade printed no proposal txid: " + up);
  await row.first().waitFor({ timeout: 20000 });
  const upText = await row.first().textContent();
  assert(upText.includes(`ruleset ${status.ruleset.supported + 1} from block 1000000`), "the upgrade row says " + upText);
  await cli("network", "withdraw", "--key", "keys/admin-hospital.key", "--proposal", upTxid);
  await box.getByText("No open proposals.").waitFor({ timeout: 20000 });
  await finish(page, "network-proposals");
});

test("every_page_at_phone_width", async ({ browser }) => {
  for (const [hash, wait] of [["#/network", "#height"], [`#/tx/${ctx.realTx}`, "#verify"], ["#/patient", "main .note"],
    ["#/drug", "#drug-id"], ["#/claims", "main .note"], ["#/trial", "#trial-id"]]) {
    const page = await openPage(browser, hash, { viewport: { width: 375, height: 800 } });
    await page.locator(wait).first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert(overflow <= 1, `${hash} is ${overflow} px wider than a phone screen`);
    await finish(page, hash === "#/network" || hash === "#/drug" ? `${hash.slice(2)}-phone` : null);
  }
});

test("block_page", async ({ browser }) => {
  const t = await api(`/v1/tx/${ctx.realTx}`);
  const page = await openPage(browser, `#/block/${t.height}`);
  await page.getByRole("heading", { name: `Block ${t.height}` }).waitFor();
  await page.locator(`a[href="#/tx/${ctx.realTx}"]`).waitFor();
  await finish(page, "block");
});

test("tx_verify_real", async ({ browser }) => {
  const page = await openPage(browser, `#/tx/${ctx.pathTx}`);
  await page.getByRole("button", { name: "Verify" }).click();
  const verdict = page.locator("#verify-result .verdict");
  await verdict.waitFor({ timeout: 15000 });
  const text = await page.locator("#verify-result").textContent();
  assert((await verdict.textContent()) === "Verified.", "the verdict is: " + text);
  // against a checkpoint that at least 2 of the 3 genesis node keys signed
  const step = await page.locator("#verify-result li", { hasText: "checkpoint signatures" }).textContent();
  const m = step.match(/has (\d+) valid Ed25519 signatures of (\d+) genesis nodes \(([^)]*)\)/);
  assert(m && Number(m[2]) === NODES && Number(m[1]) >= 2 && Number(m[1]) <= NODES, "not a majority of 3 node keys: " + step);
  const signers = m[3].split(", ");
  assert(signers.length === Number(m[1]) && signers.every((n) => /^node[1-3]$/.test(n)), "the signers are not named nodes: " + step);
  await finish(page, "tx-verified");
});

test("tx_verify_tampered", async ({ browser }) => {
  const page = await openPage(browser, `#/tx/${ctx.pathTx}`);
  // A lying node: the proof's tx path is changed by one bit on the way.
  await page.route("**/v1/tx/*/proof", async (route) => {
    const res = await route.fetch();
    const proof = await res.json();
    const p = proof.block.tx_path;
    if (p.length) p[0] = (p[0][0] === "0" ? "1" : "0") + p[0].slice(1);
    else proof.block.index += 1; // a one-tx block has no path: move the leaf instead
    await route.fulfill({ response: res, json: proof });
  });
  await page.getByRole("button", { name: "Verify" }).click();
  const verdict = page.locator("#verify-result .verdict");
  await verdict.waitFor({ timeout: 15000 });
  const text = await page.locator("#verify-result").textContent();
  assert((await verdict.textContent()) === "Not verified.", "the verdict is: " + text);
  assert(/not in block/.test(text), "the reason does not name the tx path: " + text);
  if (ctx.pathTx === ctx.realTx) console.log("note: every test tx landed in a block of its own; the tampered path was an index");
  await finish(page, "tx-tampered");
});

test("patient_page_grant_and_revoke", async ({ browser }) => {
  // The page talks to node2; what it grants is read back through node3's
  // API (and the revocation through node1's): the txs went through raft.
  const [apiA, pageAt, apiB] = ctx.urls;
  const page = await openPage(browser, "#/patient", { url: pageAt });
  await page.getByText("Load your key file").waitFor();
  await loadKey(page, "patient");
  await page.getByRole("heading", { name: "Consents" }).waitFor();
  await page.getByText("No consents yet.").waitFor({ timeout: 20000 });
  await page.getByText("No break-glass reads").waitFor({ timeout: 20000 });
  // the page loaded the libsodium.js that node_modules has, and says which
  const want = await sodiumVersion();
  await page.getByText(want).waitFor({ timeout: 10000 });
  await page.screenshot({ path: path.join(SHOTS, "patient-loaded.png"), fullPage: true });
  const records = await page.locator("section[aria-labelledby=h-records]").textContent();
  assert(/Observation/.test(records) && /laboratory/.test(records), "the patient's record is not listed: " + records);
  assert(ctx.record, "set-up did not learn the record's id");
  // a read permit for the clinician: the page opens the patient's copy of the
  // record's key and seals it for the clinician, here in the browser
  await page.selectOption("#grant-kind", "identity");
  await page.fill("#grant-to", keyId("clinician"));
  await page.check("#grant-read");
  await page.uncheck("#grant-write");
  await page.getByRole("button", { name: "Grant consent" }).click();
  await page.locator("#granted").waitFor({ timeout: 20000 });
  // libsodium (the CLI) opens the key the browser sealed, and the record
  // decrypts, asked of another node (once it has the grant's block)
  const out = path.join(ctx.dir, "read-by-clinician.json");
  await until("the clinician reading the record through another node", 30000, async () =>
    (await cliAt(apiB, "record", "get", ctx.record, "--key", "keys/clinician.key", "--purpose", "TREAT", "--out", out), true), 500);
  const got = JSON.parse(fs.readFileSync(out, "utf8"));
  assert(got.code && got.code.text === "HbA1c", "the clinician's copy of the record is not the record: " + JSON.stringify(got));
  await page.check("#grant-write");
  await page.uncheck("#grant-read");
  // a write consent for the clinic, for treatment: needs no keys
  await page.selectOption("#grant-kind", "org");
  await page.fill("#grant-to", "clinic");
  await page.getByRole("button", { name: "Grant consent" }).click();
  const granted = await page.locator("#granted").textContent({ timeout: 20000 });
  const consent = granted.match(/[0-9a-f]{64}/)[0];
  // visible through another node's API (the CLI reads GET /fhir/Consent, signed)
  let list = "";
  await until(`the consent granted on ${pageAt} visible through ${apiB}`, 30000, async () =>
    (list = await cliAt(apiB, "consent", "list", "--key", "keys/patient.key", "--json")).includes(consent), 500)
    .catch((e) => {
      throw new Error(e.message + "; consent list says " + list.slice(0, 400));
    });
  const fhir = JSON.parse(list);
  assert(JSON.stringify(fhir).includes("clinic"), "the consent does not name the clinic");
  await page.locator("#h-access").waitFor();
  await finish(page, "patient");
  // revoke it in a fresh page, then the API says revoked
  const again = await openPage(browser, "#/patient", { url: pageAt });
  await loadKey(again, "patient");
  await again.getByRole("button", { name: `Revoke consent ${consent.slice(0, 12)}` }).click({ timeout: 20000 });
  await again.getByText(`Revoked consent ${consent.slice(0, 12)}`).waitFor({ timeout: 20000 });
  // the Revoke button went with the old table: focus is on the consents' heading
  await again.waitForFunction(() => document.activeElement && document.activeElement.id === "h-consents", null, { timeout: 10000 })
    .catch(async () => {
      throw new Error("after Revoke, focus is on " + (await focused(again)));
    });
  let after = "";
  await until(`the revocation visible through ${apiA}`, 30000, async () =>
    /"inactive"|"revoked"/.test(after = await cliAt(apiA, "consent", "list", "--key", "keys/patient.key", "--json")), 500)
    .catch((e) => {
      throw new Error(e.message + "; after revoking, the API says " + after.slice(0, 400));
    });
  await finish(again, null);
});

test("patient_page_without_libsodium", async ({ browser }) => {
  // a node built without libsodium.js: its libs.json says so
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  await context.route("**/ui/libs.json", (route) => route.fulfill({ json: { sodium: null } }));
  const page = await context.newPage();
  page.problems = [];
  page.on("console", (m) => m.type() === "error" && page.problems.push("console error: " + m.text()));
  page.on("pageerror", (e) => page.problems.push("uncaught: " + e.message));
  await page.goto(ctx.url + "/ui/#/patient");
  await loadKey(page, "patient");
  const status = page.locator("#sealer-status");
  await status.getByText("needs libsodium.js").waitFor({ timeout: 10000 });
  const words = await status.textContent();
  assert(/built without it/.test(words) && /carechain consent grant/.test(words), "the page does not say why and what to do: " + words);
  assert(!(await page.evaluate(() => "sodium" in window)), "libsodium.js was loaded although libs.json says it is not there");
  await page.getByText("My records").waitFor();
  await page.locator("section[aria-labelledby=h-records] table").waitFor({ timeout: 20000 });
  // a read permit is refused in words, and nothing is sent
  // The consents, not the Bundle's "timestamp" (the second it was served,
  // which may tick between the two reads).
  const consents = async () => {
    const b = JSON.parse(await cli("consent", "list", "--key", "keys/patient.key", "--json"));
    delete b.timestamp;
    return JSON.stringify(b);
  };
  const before = await consents();
  await page.selectOption("#grant-kind", "identity");
  await page.fill("#grant-to", keyId("auditor"));
  await page.check("#grant-read");
  await page.uncheck("#grant-write");
  await page.getByRole("button", { name: "Grant consent" }).click();
  const refused = await page.locator("#grant-result").getByText("Nothing was sent").textContent({ timeout: 10000 });
  assert(/needs libsodium\.js/.test(refused) && /carechain consent grant/.test(refused), "the refusal does not say why: " + refused);
  assert(!(await page.locator("#granted").count()), "a read permit was granted without libsodium.js");
  const after = await consents();
  if (after !== before) {
    let i = 0;
    while (before[i] === after[i]) i++;
    throw new Error(`the consents changed although nothing was to be sent: from ...${before.slice(Math.max(0, i - 120), i + 200)} to ...${after.slice(Math.max(0, i - 120), i + 200)}`);
  }
  await finish(page, "patient-no-libsodium");
});

test("keyboard_navigation", async ({ browser }) => {
  const page = await openPage(browser, "#/network");
  await page.locator("#height").waitFor();
  // Tab from the top reaches the skip link first, then the navigation
  await page.keyboard.press("Tab");
  assert((await page.evaluate(() => document.activeElement.textContent)) === "Skip to content", "the first Tab stop is not the skip link");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  assert((await page.evaluate(() => document.activeElement.textContent)) === "Patient", "Tab does not walk the navigation links");
  // the search box by keyboard alone: type a height, press Enter
  await page.focus("#search");
  await page.keyboard.type("1");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Block 1" }).waitFor();
  // a bad query is answered in words
  await page.goto(ctx.url + "/ui/#/network");
  await page.focus("#search");
  await page.keyboard.type("not-a-tx");
  await page.keyboard.press("Enter");
  await page.getByText("Type a block height").waitFor();
  await finish(page, null);
});

test("patient_page_bad_key_file", async ({ browser }) => {
  const page = await openPage(browser, "#/patient");
  const bad = path.join(ctx.dir, "not-a-key.json");
  fs.writeFileSync(bad, '{"hello": "world"}');
  await page.setInputFiles("#key-file", bad);
  await page.getByText("Key not loaded: not a carechain key file").waitFor();
  await finish(page, null);
});

test("drug_page_flags_clone", async ({ browser }) => {
  // asked of a follower: its own copy of the custody state flags the clone
  const at = await followerUrl();
  const page = await openPage(browser, "#/drug", { url: at });
  await page.fill("#drug-id", `https://id.gs1.org/01/${ctx.gtin}/21/SN1001`);
  await page.getByRole("button", { name: "Verify package" }).click();
  const verdict = await page.locator("#drug-verdict").textContent({ timeout: 15000 });
  assert(verdict === "Warning: cloned serial", "the verdict for a dispensed serial presented again is: " + verdict);
  const box = page.locator(".verdict-box.bad");
  assert((await box.count()) === 1, "the clone verdict is not shown in the danger colour");
  const self = await apiAt(at, "/v1/status");
  assert(self.raft_state === "follower", `${at} answered, but it is now the ${self.raft_state}, not a follower`);
  await finish(page, "drug-clone");
});

test("drug_page_genuine_and_history", async ({ browser }) => {
  // typed GTIN + serial of a unit still at its manufacturer: genuine, green
  const page = await openPage(browser, "#/drug");
  await page.fill("#drug-gtin", ctx.gtin);
  await page.fill("#drug-serial", "SN1002");
  await page.getByRole("button", { name: "Verify package" }).click();
  const verdict = await page.locator("#drug-verdict").textContent({ timeout: 15000 });
  assert(verdict.startsWith("Verified"), "the verdict for a commissioned unit is: " + verdict);
  assert((await page.locator(".verdict-box.good").count()) === 1, "not shown in the good colour");
  await finish(page, "drug-genuine");
  // a regulator's signed request: the clone again, with custody history
  const signedPage = await openPage(browser, "#/drug");
  await loadKey(signedPage, "regulator");
  await signedPage.fill("#drug-id", `(01)${ctx.gtin}(21)SN1001`);
  await signedPage.getByRole("button", { name: "Verify package" }).click();
  await signedPage.locator("#drug-verdict, #drug-result .note.error").first().waitFor({ timeout: 15000 });
  const text = await signedPage.locator("#drug-result").textContent();
  assert(/Custody history/.test(text), "no custody history for a regulator: " + text.slice(0, 400));
  assert(/pharma → pharmacy/.test(text), "the custody history does not show the owners: " + text.slice(0, 300));
  assert(/dispense/.test(text), "the custody history does not show the dispensing");
  await finish(signedPage, "drug-history");
});

test("drug_page_bad_code", async ({ browser }) => {
  const page = await openPage(browser, "#/drug");
  await page.fill("#drug-gtin", "00312345678907");
  await page.fill("#drug-serial", "SN1");
  // a 400 from the node is expected here: the browser logs the failed load
  page.expectedLoadErrors = 1;
  await page.getByRole("button", { name: "Verify package" }).click();
  await page.getByText("check digit").waitFor({ timeout: 15000 });
  await finish(page, null);
});

test("claims_page", async ({ browser }) => {
  assert(ctx.claim, "the claim was not submitted in set-up");
  const page = await openPage(browser, "#/claims");
  await loadKey(page, "payer");
  await page.fill("#claims-patient", ctx.patient);
  await page.getByRole("button", { name: "Show claims" }).click();
  await page.locator("#claims-list table").waitFor({ timeout: 20000 });
  const text = await page.locator("#claims-list").textContent();
  assert(text.includes(ctx.claim.slice(0, 16)) && /adjudicated/.test(text), "the claims list does not show the adjudicated claim: " + text.slice(0, 300));
  await page.getByRole("button", { name: "Details" }).first().click();
  await page.locator("#h-claim").waitFor({ timeout: 20000 });
  const detail = await page.locator("#claim-detail").textContent();
  assert(/70\.00/.test(detail) && /25\.00/.test(detail), "the adjudication amounts are not shown: " + detail.slice(0, 300));
  await finish(page, "claims");
});

test("trial_page", async ({ browser }) => {
  const page = await openPage(browser, "#/trial");
  await page.getByRole("heading", { name: "Trial integrity" }).waitFor();
  await finish(page, "trial");
});

test("trial_integrity_report", async ({ browser }) => {
  if (!ctx.trial) return "skip: this build has no trial registry (carechain trial, GET /v1/trials/{id}/integrity)";
  const page = await openPage(browser, "#/trial");
  await page.fill("#trial-id", ctx.trial);
  await page.keyboard.press("Enter");
  const verdict = await page.locator("#trial-verdict").textContent({ timeout: 15000 });
  await page.screenshot({ path: path.join(SHOTS, "trial-report.png"), fullPage: true });
  assert(verdict === "2 integrity findings", "the report's verdict is: " + verdict);
  const text = await page.locator("#trial-result").textContent();
  assert(/outcome not preregistered/.test(text) && /Quality of life score/.test(text), "the unregistered outcome is not shown: " + text.slice(0, 400));
  assert(/outcome not reported/.test(text) && /body weight/.test(text), "the unreported outcome is not shown: " + text.slice(0, 400));
  // each finding cites its proof: follow one to its tx page and verify it
  await page.locator("#trial-result table a").first().click();
  await page.getByRole("button", { name: "Verify" }).click();
  assert((await page.locator("#verify-result .verdict").textContent({ timeout: 15000 })) === "Verified.", "the cited tx does not verify");
  await finish(page, "trial-proof-verified");
});

// The proof's checkpoint signatures rewritten on the way: `good` genuine
// ones of distinct nodes kept, every other genesis node given a forged one
// (a genuine signature with one bit flipped, under that node's key).
async function checkpointWith(browser, good) {
  const ids = (await statuses()).map((s) => s.node.id);
  const page = await openPage(browser, `#/tx/${ctx.pathTx}`);
  await page.route("**/v1/tx/*/proof", async (route) => {
    const res = await route.fetch();
    const proof = await res.json();
    const real = proof.checkpoint.signatures;
    assert(real.length >= good, `the checkpoint has ${real.length} signatures, fewer than ${good}`);
    const kept = real.slice(0, good);
    const flip = (s) => (s[0] === "0" ? "1" : "0") + s.slice(1);
    const forged = ids.filter((id) => !kept.some((k) => k.node === id)).map((id) => ({ node: id, sig: flip(real[0].sig) }));
    proof.checkpoint.signatures = [...kept, ...forged];
    await route.fulfill({ response: res, json: proof });
  });
  await page.getByRole("button", { name: "Verify" }).click();
  await page.locator("#verify-result .verdict").waitFor({ timeout: 15000 });
  return page;
}

test("tx_verify_forged_checkpoint", async ({ browser }) => {
  // A node that forges two of the three signatures: one genuine is no majority.
  const page = await checkpointWith(browser, 1);
  const text = await page.locator("#verify-result").textContent();
  assert(/Not verified\./.test(text) && /has 1 valid Ed25519 signatures of 3 genesis nodes/.test(text) && /a majority is needed/.test(text),
    "a checkpoint with 1 genuine signature of 3 is not refused: " + text);
  await finish(page, null);
});

test("tx_verify_majority_outvotes_forgery", async ({ browser }) => {
  // Two genuine signatures and a forged third: 2 of 3 is a majority.
  const page = await checkpointWith(browser, 2);
  const text = await page.locator("#verify-result").textContent();
  assert(/Verified\./.test(text) && !/Not verified/.test(text) && /has 2 valid Ed25519 signatures of 3 genesis nodes/.test(text),
    "2 genuine signatures of 3 do not verify: " + text);
  await finish(page, null);
});

// The proof rewritten on the way so that it carries one membership step: the
// real checkpoint again, which names the genesis nodes it was signed over.
// Intact, the step verifies (the same nodes are trusted after it); with its
// member list changed, the genuine signatures no longer cover it.
async function proofWithStep(browser, tamper) {
  const page = await openPage(browser, `#/tx/${ctx.pathTx}`);
  await page.route("**/v1/tx/*/proof", async (route) => {
    const res = await route.fetch();
    const proof = await res.json();
    const stepCopy = JSON.parse(JSON.stringify(proof.checkpoint));
    if (tamper) stepCopy.members = [...stepCopy.members.slice(1), "ff".repeat(32)];
    proof.membership = [stepCopy];
    await route.fulfill({ response: res, json: proof });
  });
  await page.getByRole("button", { name: "Verify" }).click();
  await page.locator("#verify-result .verdict").waitFor({ timeout: 15000 });
  return page;
}

test("tx_verify_membership_step", async ({ browser }) => {
  let page = await proofWithStep(browser, false);
  let text = await page.locator("#verify-result").textContent();
  assert(/Verified\./.test(text) && !/Not verified/.test(text) && /signed that the nodes are now node[1-3], node[1-3], node[1-3]/.test(text) &&
    /of 3 nodes trusted after 1 membership step/.test(text), "a proof with a genuine membership step does not verify: " + text);
  await finish(page, null);
  page = await proofWithStep(browser, true);
  text = await page.locator("#verify-result").textContent();
  assert(/Not verified\./.test(text) && /membership step 1/.test(text) && /a majority is needed/.test(text),
    "a membership step naming other nodes than were signed is not refused: " + text);
  await finish(page, null);
});

// ---- the audit's findings (each fails on the explorer before its fix) -------

// What has keyboard focus, in words a failure message can carry.
const focused = (page) => page.evaluate(() => {
  const a = document.activeElement;
  return a ? `${a.tagName.toLowerCase()}${a.id ? "#" + a.id : ""} "${(a.textContent || "").trim().slice(0, 40)}"` : "nothing";
});

// 1. The skip link moves focus to the content without routing: no "#main" page.
test("skip_link_focuses_content", async ({ browser }) => {
  const page = await openPage(browser, "#/drug");
  await page.locator("#drug-id").waitFor();
  await page.keyboard.press("Tab");
  assert((await page.evaluate(() => document.activeElement.textContent)) === "Skip to content", "the first Tab stop is not the skip link");
  await page.keyboard.press("Enter");
  const hash = await page.evaluate(() => location.hash);
  assert(hash === "#/drug", "the skip link changed the page to " + hash);
  assert(!(await page.getByText("there is no page").count()), "the skip link led to 'there is no page'");
  const inMain = await page.evaluate(() => document.getElementById("main").contains(document.activeElement));
  assert(inMain, "the skip link did not move focus into the content: " + (await focused(page)));
  await finish(page, null);
});

// 10. A page change moves focus to the new page's heading and names the page
// in the title; the claims' Details buttons are named per claim.
test("page_changes_move_focus_and_title", async ({ browser }) => {
  const page = await openPage(browser, "#/drug");
  await page.locator("#drug-id").waitFor();
  assert((await page.title()) === "Drug verification — carechain explorer", "the drug page's title is " + (await page.title()));
  await page.locator("nav a", { hasText: "Claims" }).focus();
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => location.hash === "#/claims");
  await page.waitForFunction(() => document.activeElement && document.activeElement.tagName === "H1", null, { timeout: 5000 }).catch(() => null);
  assert((await focused(page)) === 'h1 "Claims"', "after following the Claims link, focus is on " + (await focused(page)));
  assert((await page.title()) === "Claims — carechain explorer", "the claims page's title is " + (await page.title()));
  // the search box's Go
  await page.goto(ctx.url + "/ui/#/network");
  await page.fill("#search", "1");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Block 1" }).waitFor();
  assert((await focused(page)) === 'h1 "Block 1"', "after Go, focus is on " + (await focused(page)));
  assert((await page.title()) === "Block 1 — carechain explorer", "the block page's title is " + (await page.title()));
  // a key loaded, then forgotten
  await page.goto(ctx.url + "/ui/#/patient");
  await loadKey(page, "patient");
  await page.waitForFunction(() => document.activeElement && document.activeElement.tagName === "H1", null, { timeout: 5000 }).catch(() => null);
  assert((await focused(page)) === 'h1 "Patient"', "after a key is loaded, focus is on " + (await focused(page)));
  await page.click("#key-forget");
  await page.getByText("Load your key file").waitFor();
  assert((await focused(page)) === 'h1 "Patient"', "after Forget key, focus is on " + (await focused(page)));
  assert((await page.title()) === "Patient — carechain explorer", "the patient page's title is " + (await page.title()));
  // the claims: a Details button per claim by name, the detail announced and focused
  await page.goto(ctx.url + "/ui/#/claims");
  await loadKey(page, "payer");
  assert((await page.locator("#claim-detail").getAttribute("aria-live")) === "polite", "#claim-detail is not announced (aria-live=polite)");
  await page.fill("#claims-patient", ctx.patient);
  await page.getByRole("button", { name: "Show claims" }).click();
  await page.locator("#claims-list table").waitFor({ timeout: 20000 });
  const details = page.getByRole("button", { name: `Details of claim ${ctx.claim.slice(0, 12)}` });
  assert((await details.count()) === 1, "the Details button of a claim has no name of its own");
  await details.click();
  await page.locator("#h-claim").waitFor({ timeout: 20000 });
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === "h-claim", null, { timeout: 5000 }).catch(() => null);
  assert((await focused(page)).startsWith("h2#h-claim"), "after Details, focus is on " + (await focused(page)));
  await finish(page, null);
});

// A key file whose secret is another identity's.
function mixedKeyFile() {
  const mixed = JSON.parse(fs.readFileSync(path.join(ctx.dir, "keys", "patient.key"), "utf8"));
  mixed.secret = JSON.parse(fs.readFileSync(path.join(ctx.dir, "keys", "clinician.key"), "utf8")).secret;
  const file = path.join(ctx.dir, "mixed.key");
  fs.writeFileSync(file, JSON.stringify(mixed));
  return file;
}

async function refusedKey(page, file) {
  await page.setInputFiles("#key-file", file);
  await page.waitForFunction(() => /^Key not loaded/.test(document.getElementById("key-status").textContent), null, { timeout: 10000 });
  return page.locator("#key-status").textContent();
}

// 2. The refusal says why, never "Key not loaded:" and nothing.
test("key_file_with_another_secret", async ({ browser }) => {
  const page = await openPage(browser, "#/patient");
  const said = await refusedKey(page, mixedKeyFile());
  assert(/does not belong to its id/.test(said), "the refusal does not say the secret is another key's: " + JSON.stringify(said));
  await finish(page, null);
});

// 3. A failed load leaves no key loaded, and the panel and the page agree.
test("key_failed_load_forgets_the_old_key", async ({ browser }) => {
  const page = await openPage(browser, "#/patient");
  await loadKey(page, "patient");
  await page.getByRole("heading", { name: "Consents" }).waitFor();
  const bad = path.join(ctx.dir, "not-a-key.json");
  fs.writeFileSync(bad, '{"hello": "world"}');
  const said = await refusedKey(page, bad);
  assert(/no key is loaded/.test(said), "the panel does not say that no key is loaded: " + said);
  assert(await page.locator("#key-forget").isHidden(), "Forget key is still offered after a failed load");
  await page.getByText("Load your key file").waitFor({ timeout: 10000 });
  await finish(page, null);
});

// 11. The key panel's results are announced: status, errors as alerts.
test("key_status_announced", async ({ browser }) => {
  const page = await openPage(browser, "#/patient");
  await loadKey(page, "patient");
  const status = page.locator("#key-status");
  assert((await status.getAttribute("role")) === "status", "a loaded key is not announced (role=status): " + (await status.getAttribute("role")));
  await refusedKey(page, mixedKeyFile());
  assert((await status.getAttribute("role")) === "alert", "a refused key file is not announced as an alert");
  await finish(page, null);
});

// 12. The visually hidden file inputs show focus on their labels.
test("hidden_file_inputs_show_focus", async ({ browser }) => {
  const ring = (page, id) => page.evaluate((i) => getComputedStyle(document.querySelector(`label[for="${i}"]`)).outlineStyle, id);
  const page = await openPage(browser, `#/tx/${ctx.realTx}`);
  await page.locator("#verify").waitFor();
  assert((await ring(page, "key-file")) === "none", "the key file label has a ring before anything has focus");
  for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement.id)) !== "key-file"; i++) await page.keyboard.press("Tab");
  assert((await page.evaluate(() => document.activeElement.id)) === "key-file", "Tab does not reach the key file input");
  assert((await ring(page, "key-file")) !== "none", "Load key file shows no focus ring when its input has focus");
  await page.keyboard.press("Tab");
  for (let i = 0; i < 40 && (await page.evaluate(() => document.activeElement.id)) !== "genesis-file"; i++) await page.keyboard.press("Tab");
  assert((await page.evaluate(() => document.activeElement.id)) === "genesis-file", "Tab does not reach the genesis file input");
  assert((await ring(page, "genesis-file")) !== "none", "Use my genesis file shows no focus ring when its input has focus");
  await finish(page, null);
});

// The two-line claim's detail, as the payer's page shows it, and the claim
// as `carechain claim get --json` reads it.
async function claim2Detail(browser) {
  assert(ctx.claim2, "the two-line claim was not submitted in set-up");
  const want = JSON.parse(await cli("claim", "get", ctx.claim2, "--key", "keys/payer.key", "--json"));
  const page = await openPage(browser, "#/claims");
  await loadKey(page, "payer");
  await page.fill("#claims-id", ctx.claim2);
  await page.getByRole("button", { name: "Show claims" }).click();
  await page.locator("#h-claim").waitFor({ timeout: 20000 });
  return { page, want };
}

// 4. Every line's decision, CARC and reason, whatever the first line has.
test("claim_lines_all_columns", async ({ browser }) => {
  const { page, want } = await claim2Detail(browser);
  const denied = want.lines.filter((l) => l.carc);
  assert(denied.length >= 1 && want.lines[0].carc === undefined, "set-up did not make an approved first line and a denied later one: " + JSON.stringify(want.lines));
  const table = page.locator("#claim-detail table").first();
  const heads = await table.locator("th").allTextContents();
  const rows = await table.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  const col = (name) => heads.findIndex((h) => h.toLowerCase() === name);
  assert(col("decision") >= 0 && col("carc") >= 0 && col("reason") >= 0, "the line table has no decision, CARC or reason column: " + heads.join(" | "));
  assert(rows.length === want.lines.length, `${rows.length} rows for ${want.lines.length} lines`);
  want.lines.forEach((l, i) => {
    assert(rows[i][col("decision")] === l.decision, `line ${i + 1}'s decision shows as ${rows[i][col("decision")]}, not ${l.decision}`);
    assert(rows[i][col("carc")] === (l.carc || ""), `line ${i + 1}'s CARC shows as "${rows[i][col("carc")]}", not "${l.carc || ""}"`);
    assert(rows[i][col("reason")] === (l.reason || ""), `line ${i + 1}'s reason shows as "${rows[i][col("reason")]}", not "${l.reason || ""}"`);
  });
  await finish(page, "claim-lines");
});

// 5. The payment in words, as the CLI says it, with a link to its tx.
test("claim_payment_in_words", async ({ browser }) => {
  const { page, want } = await claim2Detail(browser);
  assert(want.payment && want.payment.txid, "set-up did not pay the claim: " + JSON.stringify(want.payment));
  const paid = await page.locator("dt:text-is('Payment') + dd").textContent();
  const amount = (want.payment.amountCents / 100).toFixed(2);
  assert(paid.startsWith(`paid ${amount} on ${want.payment.date} in remittance ${ctx.trace}`), "the payment reads: " + paid);
  assert(await page.locator(`dt:text-is('Payment') + dd a[href="#/tx/${want.payment.txid}"]`).count() === 1, "the payment does not link to its tx");
  await finish(page, null);
});

// 6. The verdict follows the node's "saleable"; signals are notes.
test("drug_saleable_with_signal", async ({ browser }) => {
  // SN1002 is with its manufacturer; a pharmacy presenting it is not its
  // owner (signal not_owner), yet the node says the unit is saleable.
  const page = await openPage(browser, "#/drug");
  await loadKey(page, "pharmacy");
  await page.fill("#drug-gtin", ctx.gtin);
  await page.fill("#drug-serial", "SN1002");
  await page.getByRole("button", { name: "Verify package" }).click();
  const verdict = await page.locator("#drug-verdict").textContent({ timeout: 15000 });
  const all = await page.locator("#drug-result").textContent();
  assert(/not_owner/.test(all), "the answer had no not_owner signal (the test's premise): " + all.slice(0, 300));
  assert(verdict === "Verified: genuine and saleable", "a saleable unit with a signal is shown as: " + verdict);
  assert((await page.locator(".verdict-box.good").count()) === 1, "a saleable unit is not shown in the good colour");
  const noted = await page.locator("#drug-signals").textContent();
  assert(/not_owner: your organisation neither owns this unit/.test(noted), "the signal is not explained in a note: " + noted);
  await finish(page, "drug-not-owner");
});

// 7. Ids are checked before they go into a URL path.
test("trial_id_checked_before_sending", async ({ browser }) => {
  const page = await openPage(browser, "#/trial");
  let asked = 0;
  page.on("request", (r) => /\/v1\/trials\//.test(r.url()) && asked++);
  await page.fill("#trial-id", "a/b");
  await page.keyboard.press("Enter");
  await page.locator("#trial-result").getByText("is not a trial id").waitFor({ timeout: 5000 });
  await page.goto(ctx.url + "/ui/#/trial/..");
  await page.locator("#trial-result").getByText("is not a trial id").waitFor({ timeout: 5000 });
  assert(asked === 0, "a malformed trial id was sent to the node");
  assert(!(await page.getByText("has not landed").count()), "a bad id was taken for a missing module");
  if (ctx.trial) {
    // a 404 for a trial the node does not know is not a missing module
    await page.fill("#trial-id", "NCT09999999");
    page.expectedLoadErrors = 1;
    await page.keyboard.press("Enter");
    await page.locator("#trial-result .note.error").waitFor({ timeout: 15000 });
    assert(!(await page.getByText("has not landed").count()), "a 404 for an unknown trial was taken for a missing module");
  }
  await finish(page, null);
});

test("claim_id_checked_before_sending", async ({ browser }) => {
  const page = await openPage(browser, "#/claims");
  await loadKey(page, "payer");
  let asked = 0;
  page.on("request", (r) => /\/v1\/claims\//.test(r.url()) && asked++);
  page.expectedLoadErrors = 1; // the old page sent it, and the node refused it
  await page.fill("#claims-id", "../../v1/status");
  await page.getByRole("button", { name: "Show claims" }).click();
  await page.locator("#claim-detail").getByText("64 hex digits").waitFor({ timeout: 5000 });
  assert(asked === 0, "a malformed claim id was sent to the node");
  await finish(page, null);
});

test("grant_org_id_checked_before_sending", async ({ browser }) => {
  const page = await openPage(browser, "#/patient");
  await loadKey(page, "patient");
  await page.locator("#grant-form").waitFor();
  let sent = 0;
  page.on("request", (r) => (/\/v1\/tx/.test(r.url()) || /\/v1\/orgs\//.test(r.url())) && sent++);
  page.expectedLoadErrors = 2;
  await page.selectOption("#grant-kind", "org");
  await page.fill("#grant-to", "clinic/../x");
  await page.getByRole("button", { name: "Grant consent" }).click();
  await page.locator("#grant-result").getByText("is not an organisation id").waitFor({ timeout: 5000 });
  assert(sent === 0, "a malformed organisation id was sent");
  await finish(page, null);
});

// 8. Payloads with health codes stay off the screen until asked for.
test("tx_health_payload_hidden", async ({ browser }) => {
  // the claim's id is the txid of its claim.submit, whose payload holds E11.9
  const page = await openPage(browser, `#/tx/${ctx.claim}`);
  await page.locator("#verify").waitFor();
  const text = await page.locator("main").textContent();
  assert(/claim\.submit/.test(text), "the tx page does not show the type");
  assert(!/E11\.9/.test(text), "the claim's diagnosis code is on screen without asking");
  const why = await page.locator("#payload-why").textContent();
  assert(/readable by every member node/.test(why) && /unsigned and unaudited/.test(why), "the hidden payload is not explained: " + why);
  await page.getByRole("button", { name: "Show payload" }).click();
  assert(/E11\.9/.test(await page.locator("#payload").textContent()), "Show payload does not show the payload");
  await finish(page, "tx-health-hidden");
  // a tx without health data shows its payload at once
  const other = await openPage(browser, `#/tx/${ctx.realTx}`); // member.register
  await other.locator("#verify").waitFor();
  assert(/"role": "clinician"/.test(await other.locator("pre.payload").textContent()), "a member.register payload is not shown");
  await finish(other, null);
});

// 13. Pages with a key, a claim's detail and a verified proof fit a phone.
test("phone_width_after_actions", async ({ browser }) => {
  const phone = { viewport: { width: 375, height: 800 } };
  const wide = [];
  const fits = async (page, what) => {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (overflow > 1) wide.push(`${what} is ${overflow} px wider than a phone screen`);
  };
  let page = await openPage(browser, "#/patient", phone);
  await loadKey(page, "patient");
  await page.locator("section[aria-labelledby=h-records] table").waitFor({ timeout: 20000 });
  await fits(page, "the patient page with a key");
  await finish(page, "patient-phone");
  page = await openPage(browser, "#/claims", phone);
  await loadKey(page, "payer");
  await page.fill("#claims-id", ctx.claim2);
  await page.getByRole("button", { name: "Show claims" }).click();
  await page.locator("#h-claim").waitFor({ timeout: 20000 });
  await fits(page, "a claim's detail");
  await finish(page, "claim-phone");
  page = await openPage(browser, `#/tx/${ctx.pathTx}`, phone);
  await page.getByRole("button", { name: "Verify" }).click();
  await page.locator("#verify-result .verdict").waitFor({ timeout: 15000 });
  await fits(page, "a tx page after Verify");
  await finish(page, "tx-verified-phone");
  assert(wide.length === 0, wide.join("; "));
});

// A new block, committed through the CLI, shown on the network page.
async function commitNote(page) {
  const before = Number(await page.locator("#height").textContent());
  await cliJSON("note", "put", "--key", "keys/clinician.key", "--kind", "ui-focus", "--sha256", crypto.randomBytes(32).toString("hex"));
  await page.waitForFunction((h) => Number(document.getElementById("height").textContent) > h, before, { timeout: 20000 });
}

// 9. The network page's refreshes keep keyboard focus where it was.
test("network_page_keeps_focus", async ({ browser }) => {
  const page = await openPage(browser, "#/network");
  await page.locator("#height").waitFor();
  await page.locator("section[aria-labelledby=h-blocks] table").waitFor();
  // on the head block link, while the status box refreshes with a new head
  await page.locator("dt:text-is('Head block') + dd a").focus();
  await commitNote(page);
  const onHead = await page.evaluate(() => {
    const a = document.activeElement;
    return a.tagName === "A" && a.closest("dd") && a.closest("dd").previousElementSibling.textContent === "Head block";
  });
  assert(onHead, "after a refresh, focus left the Head block link for " + (await focused(page)));
  // on a block's link, when a new block is added above it
  const first = page.locator("section[aria-labelledby=h-blocks] tbody a").first();
  const href = await first.getAttribute("href");
  await first.focus();
  await commitNote(page);
  await page.waitForFunction((h) => document.querySelector("section[aria-labelledby=h-blocks] tbody a").getAttribute("href") !== h, href, { timeout: 20000 });
  const kept = await page.evaluate(() => document.activeElement.getAttribute("href"));
  assert(kept === href, `after a new block, focus is on ${await focused(page)}, not the link to ${href}`);
  await finish(page, null);
});

// The network page, then the node stops answering (every API call refused).
async function networkPageNodeDown(browser) {
  const page = await openPage(browser, "#/network");
  await page.locator("#height").waitFor();
  await page.locator("section[aria-labelledby=h-blocks] table").waitFor();
  await page.locator("section[aria-labelledby=h-nodes] table").waitFor();
  page.expectedLoadErrors = 1000;
  await page.route("**/v1/**", (route) => route.abort("connectionrefused"));
  const status = page.locator("section[aria-labelledby=h-status]");
  await status.locator(".note.error").waitFor({ timeout: 10000 });
  return { page, status };
}

// 22. Not the browser's "Failed to fetch": which node could not be reached.
test("node_unreachable_in_words", async ({ browser }) => {
  const { page, status } = await networkPageNodeDown(browser);
  const said = await status.textContent();
  assert(said.includes("could not reach the node at " + ctx.url) && !/Failed to fetch/.test(said), "the node being down reads: " + said);
  await finish(page, null);
});

// 14. What the page shows from before is marked out of date, then no longer.
test("network_page_marks_stale", async ({ browser }) => {
  const { page } = await networkPageNodeDown(browser);
  for (const box of ["h-nodes", "h-blocks"]) {
    const sec = page.locator(`section[aria-labelledby=${box}]`);
    await sec.locator(".stale-note").waitFor({ timeout: 10000 });
    assert(/cannot be reached/.test(await sec.locator(".stale-note").textContent()), `the ${box} box is not marked out of date`);
    assert(await sec.evaluate((e) => e.classList.contains("stale")), `the ${box} box is not dimmed`);
  }
  await page.screenshot({ path: path.join(SHOTS, "network-node-down.png"), fullPage: true });
  await page.unroute("**/v1/**");
  for (const box of ["h-nodes", "h-blocks"])
    await page.locator(`section[aria-labelledby=${box}] .stale-note`).waitFor({ state: "detached", timeout: 10000 });
  await finish(page, null);
});

// 15. The report's facts in words, with the first enrolment's date and tx.
test("trial_report_facts_in_words", async ({ browser }) => {
  if (!ctx.trial) return "skip: this build has no trial registry (carechain trial, GET /v1/trials/{id}/integrity)";
  const page = await openPage(browser, "#/trial");
  // the node's answer, given a first enrolment (set-up enrols nobody)
  await page.route("**/v1/trials/*/integrity", async (route) => {
    const res = await route.fetch();
    const r = await res.json();
    r.firstEnrolment = { time: Date.UTC(2026, 0, 5, 9, 30, 0, 250), txid: ctx.realTx };
    await route.fulfill({ response: res, json: r });
  });
  await page.fill("#trial-id", ctx.trial);
  await page.keyboard.press("Enter");
  await page.locator("#trial-verdict").waitFor({ timeout: 15000 });
  const facts = await page.locator("#trial-result dl").textContent();
  assert(!/baselineVersion|resultsPosted|firstEnrolment|true|false|null/.test(facts), "the report's facts are raw JSON: " + facts);
  assert(/Baseline/.test(facts) && /version 1/.test(facts) && /posted, 1 posting/.test(facts), "the facts do not say the baseline and the results: " + facts);
  assert(/2026-01-05 09:30:00\.250 UTC/.test(facts), "the first enrolment's date is not shown: " + facts);
  assert(await page.locator(`#trial-result dl a[href="#/tx/${ctx.realTx}"]`).count() === 1, "the first enrolment does not link to its tx");
  // (10) Show report moves focus on to the report's heading
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === "h-report", null, { timeout: 5000 }).catch(() => null);
  assert((await focused(page)).startsWith("h2#h-report"), "after Show report, focus is on " + (await focused(page)));
  await finish(page, "trial-facts");
});

// 16. A genesis file that is not JSON is refused in words; the node's
// genesis can be had back.
test("tx_genesis_file_checks", async ({ browser }) => {
  const page = await openPage(browser, `#/tx/${ctx.pathTx}`);
  await page.locator("#verify").waitFor();
  const bad = path.join(ctx.dir, "not-a-genesis.json");
  fs.writeFileSync(bad, "hello, not json");
  await page.setInputFiles("#genesis-file", bad);
  await page.getByRole("button", { name: "Verify" }).click();
  await page.locator("#verify-result .verdict").waitFor({ timeout: 15000 });
  await page.locator("#genesis-problem .note").waitFor({ timeout: 5000 }).catch(() => null);
  const said = await page.locator("main").textContent();
  assert(/not-a-genesis\.json is not JSON/.test(said) && !/Unexpected token/.test(said), "a non-JSON genesis file is reported as: " +
    (await page.locator("#verify-result").textContent()));
  assert((await page.locator("#genesis-status").textContent()) === "Using the genesis file this node serves.", "a file that is not JSON was taken as the genesis");
  // the right genesis file, then back to the node's
  await page.setInputFiles("#genesis-file", path.join(ctx.dir, "genesis.json"));
  await page.locator("#genesis-status").getByText("Using your genesis file genesis.json.").waitFor({ timeout: 5000 });
  await page.getByRole("button", { name: "Verify" }).click();
  assert((await page.locator("#verify-result .verdict").textContent({ timeout: 15000 })) === "Verified.", "the proof does not verify against the genesis file");
  await page.getByRole("button", { name: "Use the node's genesis file" }).click({ timeout: 5000 });
  assert((await page.locator("#genesis-status").textContent()) === "Using the genesis file this node serves.", "no way back to the node's genesis");
  assert(await page.locator("#genesis-node").isHidden(), "the way back is still offered when the node's genesis is in use");
  await finish(page, null);
});

// 17. Times to the millisecond, as the CLI prints them.
test("times_to_the_millisecond", async ({ browser }) => {
  const t = await api(`/v1/tx/${ctx.realTx}`);
  const page = await openPage(browser, `#/block/${t.height}`);
  const when = await page.locator("dt:text-is('Time') + dd").textContent({ timeout: 10000 });
  assert(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} UTC$/.test(when), "a block time is not shown to the millisecond, as the CLI does: " + when);
  await finish(page, null);
});

// 18. A height beyond a JS number is shown as typed; the newest block
// offers no link to a block that does not exist.
test("block_height_as_typed", async ({ browser }) => {
  const page = await openPage(browser, "#/block/99999999999999999999999");
  page.expectedLoadErrors = 1;
  await page.locator("main .note.error").waitFor({ timeout: 10000 });
  const h = await page.locator("main h1").textContent();
  assert(h === "Block 99999999999999999999999", "a long height is headed " + h);
  await finish(page, null);
});

test("head_block_has_no_next_link", async ({ browser }) => {
  const { height } = await api("/v1/status");
  const page = await openPage(browser, `#/block/${height}`);
  await page.locator("dt:text-is('Hash')").waitFor({ timeout: 10000 });
  const next = page.locator("nav.pager a", { hasText: "→" });
  if (await next.count()) {
    const exists = await fetch(`${ctx.url}/v1/blocks/${height + 1}`).then((r) => r.ok);
    assert(exists, `the newest block ${height} links to block ${height + 1}, which does not exist`);
  }
  await finish(page, null);
});

// 19. The browser's own validation blocking the form clears an old message.
test("form_message_cleared_when_browser_refuses", async ({ browser }) => {
  const page = await openPage(browser, "#/patient");
  await loadKey(page, "patient");
  await page.locator("#grant-form").waitFor();
  await page.selectOption("#grant-kind", "identity");
  await page.fill("#grant-to", "not-an-id");
  await page.getByRole("button", { name: "Grant consent" }).click();
  await page.locator("#grant-result").getByText("64 hex digits").waitFor({ timeout: 5000 });
  await page.fill("#grant-to", keyId("clinician"));
  await page.fill("#grant-days", "0"); // below min="1": the browser refuses the form
  await page.getByRole("button", { name: "Grant consent" }).click();
  await page.waitForFunction(() => document.getElementById("grant-result").textContent === "", null, { timeout: 5000 }).catch(() => null);
  const left = await page.locator("#grant-result").textContent();
  assert(left === "", "a message of an earlier attempt stays while the browser refuses the form: " + left);
  await finish(page, null);
});

// ---- main ------------------------------------------------------------------

async function main() {
  let chromium;
  if (!fs.existsSync(CHROMIUM)) skipAll(`Chromium is not installed at ${CHROMIUM} (scripts/deps.sh --browser installs it)`);
  try {
    ({ chromium } = await import("playwright-core"));
  } catch (e) {
    skipAll("playwright-core is not installed (scripts/deps.sh --browser runs npm ci in tests/ui): " + e.message);
  }
  fs.mkdirSync(SHOTS, { recursive: true });
  let browser;
  let passed = 0;
  let skipped = 0;
  const failed = [];
  try {
    await setUp();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"],
    });
    const only = process.env.UI_ONLY;
    for (const t of TESTS) {
      if (only && t.name !== only) continue;
      console.log(`[ RUN      ] ${t.name}`);
      const t0 = Date.now();
      try {
        const r = await t.f({ browser });
        if (typeof r === "string" && r.startsWith("skip: ")) {
          skipped++;
          console.log(`[  SKIPPED ] ${t.name}: ${r.slice(6)}`);
          continue;
        }
        passed++;
        console.log(`[       OK ] ${t.name} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed.push(t.name);
        console.log(`error: ${t.name}: ${e.message.split("\n")[0]}`);
        console.log(`[  FAILED  ] ${t.name}`);
      }
    }
  } catch (e) {
    console.log("error: setting up: " + (e.stack || e.message));
    failed.push("setup");
  } finally {
    if (browser) await browser.close();
    await tearDown();
  }
  console.log(`[==========] ${passed + skipped + failed.length} test(s) run.`);
  console.log(`[  PASSED  ] ${passed} test(s).`);
  if (skipped) console.log(`[  SKIPPED ] ${skipped} test(s), listed above.`);
  if (failed.length) {
    console.log(`[  FAILED  ] ${failed.length} test(s), listed below:`);
    for (const f of failed) console.log(`[  FAILED  ] ${f}`);
  } else {
    if (ctx.top) fs.rmSync(ctx.top, { recursive: true, force: true });
  }
  process.exit(failed.length ? 1 : 0);
}

main();
