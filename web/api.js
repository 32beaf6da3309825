// api.js — the node's HTTP API (docs/API.md) as the pages use it: JSON
// reads, signed reads (RFC 9421, signed here in the browser) and txs signed
// here and sent with ?wait=commit. Every failure becomes an Error whose
// message says in words what went wrong.

import { b64, buildTx, signRequest, utf8 } from "./crypto.js";

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

async function answer(res) {
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (e) {
    if (!res.ok) throw new ApiError(res.status, "http", `the node answered ${res.status} ${res.statusText}`);
    throw new ApiError(res.status, "malformed", "the node's answer is not JSON");
  }
  if (!res.ok) {
    const err = (body && body.error) || {};
    let message = err.message || res.statusText;
    // FHIR endpoints answer errors as OperationOutcome
    if (body && body.resourceType === "OperationOutcome" && body.issue && body.issue[0])
      message = body.issue[0].diagnostics || body.issue[0].code || message;
    throw new ApiError(res.status, err.code || "http", `${message} (HTTP ${res.status}${err.code ? " " + err.code : ""})`, body);
  }
  return body;
}

// fetch() rejects in the browser's own words ("Failed to fetch"): say
// which node could not be reached instead.
function unreachable() {
  return new ApiError(0, "unreachable", `could not reach the node at ${location.origin}`);
}

async function send(url, init) {
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw unreachable();
  }
  return answer(res);
}

export function get(path) {
  return send(path, { headers: { Accept: "application/json" } });
}

export async function getBytes(path) {
  let res;
  try {
    res = await fetch(path);
  } catch (e) {
    throw unreachable();
  }
  if (!res.ok) await answer(res);
  return new Uint8Array(await res.arrayBuffer());
}

// A signed request: the signer's key signs method, path, query and the
// body's digest; the node audits it (docs/RECORDS.md).
export async function signed(signer, method, path, body) {
  if (!signer) throw new Error("load a key file first: this request must be signed");
  const bytes = body === undefined ? new Uint8Array(0) : utf8.encode(typeof body === "string" ? body : JSON.stringify(body));
  const headers = await signRequest(signer, method, path, bytes);
  headers.Accept = "application/json";
  const init = { method, headers };
  if (method !== "GET") {
    init.body = bytes;
    headers["Content-Type"] = "application/json";
  }
  return send(path, init);
}

let chainId;
export async function chain() {
  if (!chainId) chainId = (await get("/v1/status")).chain_id;
  return chainId;
}

// Sign a tx here and send it; resolves with the committed answer, rejects
// when the node refuses it or it commits with a failed result.
export async function sendTx(signer, type, payload) {
  if (!signer) throw new Error("load a key file first: the tx must be signed");
  const { raw, txid } = await buildTx(signer, await chain(), type, payload);
  const res = await send("/v1/tx?wait=commit", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ tx: b64(raw) }),
  });
  if (res.result && res.result.code !== "ok")
    throw new ApiError(200, res.result.code, `tx ${txid.slice(0, 12)}… committed but failed: ${res.result.message || res.result.code}`, res);
  return res;
}
