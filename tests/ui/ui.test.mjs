// tests/ui/ui.test.mjs — the explorer (web/) in a real browser: Debian's
// headless Chromium driven by playwright-core, against a single node this
// script starts on a fresh network (carechain init + carechain node).
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
import fs from "node:fs";
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

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

// ---- the network ---------------------------------------------------------

const ctx = {};

async function cli(...args) {
  try {
    const { stdout } = await run(BIN, [...args, "--node", ctx.url], { cwd: ctx.dir, timeout: 60000 });
    return stdout;
  } catch (e) {
    throw new Error(`carechain ${args.join(" ")} failed (${e.code}): ${e.stderr || e.message}`);
  }
}

async function cliJSON(...args) {
  return JSON.parse(await cli(...args, "--json"));
}

async function api(p) {
  const r = await fetch(ctx.url + p);
  const body = await r.json();
  if (!r.ok) throw new Error(`GET ${p}: ${r.status} ${JSON.stringify(body)}`);
  return body;
}

function keyId(name) {
  return JSON.parse(fs.readFileSync(path.join(ctx.dir, "keys", name + ".key"), "utf8")).id;
}

async function startNode() {
  ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), "carechain-ui-"));
  await run(BIN, ["init", "--dir", ctx.dir + "/net"], { timeout: 60000 });
  ctx.dir += "/net";
  ctx.port = await freePort();
  ctx.url = `http://127.0.0.1:${ctx.port}`;
  ctx.log = fs.openSync(path.join(ctx.dir, "node.log"), "w");
  ctx.node = spawn(BIN, ["node", "--dir", ctx.dir + "/node1", "--api", `127.0.0.1:${ctx.port}`, "--quiet"], {
    stdio: ["ignore", ctx.log, ctx.log],
  });
  for (let i = 0; i < 100; i++) {
    try {
      await api("/v1/status");
      return;
    } catch (e) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error("the node did not answer within 10 s; see " + path.join(ctx.dir, "node.log"));
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
  await startNode();
  const reg = await register("admin-hospital", "clinician", "clinician");
  ctx.realTx = reg.txid;
  await cli("patient", "register", "--key", "keys/admin-hospital.key", "--keyfile", "keys/patient.key");
  await register("admin-regulator", "regulator", "regulator");
  await register("admin-pharma", "manufacturer", "manufacturer");
  await register("admin-pharmacy", "pharmacy", "pharmacy");
  ctx.patient = keyId("patient");
  // A unit that is commissioned, shipped to the pharmacy, received and
  // dispensed: presented again, it is a clone.
  ctx.gtin = "00312345678906";
  ctx.unit = `${ctx.gtin}.SN1001`;
  await txSend("regulator", "drug.prefix", { prefix: "0312345", org: "pharma" });
  await txSend("manufacturer", "drug.product", { gtin: ctx.gtin, ndc: "12345-678-90", name: "Examplamab", strength: "10 mg", form: "tablet" });
  await txSend("manufacturer", "drug.commission", { gtin: ctx.gtin, lot: "LOT42", exp: "281231", serials: ["SN1001", "SN1002"] });
  const ship = await txSend("manufacturer", "drug.ship", {
    to: "pharmacy", units: [ctx.unit], transaction: { id: "INV-1", date: "2026-11-25", statement: true },
  });
  await txSend("pharmacy", "drug.receive", { shipment: ship.txid, units: [ctx.unit] });
  await txSend("pharmacy", "drug.dispense", { units: [ctx.unit] });
}

async function tearDown() {
  if (ctx.node && ctx.node.exitCode === null) {
    ctx.node.kill("SIGTERM");
    await new Promise((r) => {
      const t = setTimeout(() => (ctx.node.kill("SIGKILL"), r()), 10000);
      ctx.node.once("exit", () => (clearTimeout(t), r()));
    });
  }
}

// ---- the browser ---------------------------------------------------------

async function openPage(browser, hash, opts = {}) {
  const context = await browser.newContext({ viewport: opts.viewport || { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") page.problems.push("console error: " + m.text());
  });
  page.on("pageerror", (e) => page.problems.push("uncaught: " + e.message));
  await page.goto(ctx.url + "/ui/" + hash);
  return page;
}

async function finish(page, shot) {
  if (shot) await page.screenshot({ path: path.join(SHOTS, shot + ".png"), fullPage: true });
  const problems = page.problems;
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
  assert(csp.includes("default-src 'none'") && csp.includes("script-src 'self'"), "CSP is " + csp);
  const js = await fetch(ctx.url + "/ui/app.js");
  assert(js.headers.get("content-type").startsWith("text/javascript"), "app.js content type " + js.headers.get("content-type"));
  const etag = js.headers.get("etag");
  const again = await fetch(ctx.url + "/ui/app.js", { headers: { "If-None-Match": etag } });
  assert(again.status === 304, "a matching If-None-Match answered " + again.status);
  const missing = await fetch(ctx.url + "/ui/nothing.js");
  assert(missing.status === 404, "a missing file answered " + missing.status);
});

test("network_page", async ({ browser }) => {
  const page = await openPage(browser, "#/network");
  await page.getByRole("heading", { name: "Network" }).waitFor();
  await page.locator("table").first().waitFor();
  await page.locator("svg.chart").waitFor();
  // a block committed while the page is open arrives through /v1/events
  const before = Number(await page.locator("#height").textContent());
  await register("admin-research", "researcher", "researcher");
  await page.waitForFunction((h) => Number(document.getElementById("height").textContent) > h, before, { timeout: 10000 });
  await page.waitForFunction(() => /[1-9]\d* txs in 5 min/.test(document.querySelector(".chart-box").textContent), null, { timeout: 10000 });
  await finish(page, "network");
});

test("network_page_phone_width", async ({ browser }) => {
  const page = await openPage(browser, "#/network", { viewport: { width: 375, height: 800 } });
  await page.locator("table").first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert(overflow <= 1, `the page is ${overflow} px wider than a phone screen`);
  await finish(page, "network-phone");
});

test("block_page", async ({ browser }) => {
  const t = await api(`/v1/tx/${ctx.realTx}`);
  const page = await openPage(browser, `#/block/${t.height}`);
  await page.getByRole("heading", { name: `Block ${t.height}` }).waitFor();
  await page.locator(`a[href="#/tx/${ctx.realTx}"]`).waitFor();
  await finish(page, "block");
});

test("tx_verify_real", async ({ browser }) => {
  const page = await openPage(browser, `#/tx/${ctx.realTx}`);
  await page.getByRole("button", { name: "Verify" }).click();
  const verdict = page.locator("#verify-result .verdict");
  await verdict.waitFor({ timeout: 15000 });
  const text = await page.locator("#verify-result").textContent();
  assert((await verdict.textContent()) === "Verified.", "the verdict is: " + text);
  await finish(page, "tx-verified");
});

test("tx_verify_tampered", async ({ browser }) => {
  const page = await openPage(browser, `#/tx/${ctx.realTx}`);
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
  await finish(page, "tx-tampered");
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
        await t.f({ browser });
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
  console.log(`[==========] ${passed + failed.length} test(s) run.`);
  console.log(`[  PASSED  ] ${passed} test(s).`);
  if (failed.length) {
    console.log(`[  FAILED  ] ${failed.length} test(s), listed below:`);
    for (const f of failed) console.log(`[  FAILED  ] ${f}`);
  } else {
    fs.rmSync(path.dirname(ctx.dir), { recursive: true, force: true });
  }
  process.exit(failed.length ? 1 : 0);
}

main();
