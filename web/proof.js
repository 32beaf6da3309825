// proof.js — checks a tx inclusion proof in the browser, step by step, the
// way `carechain verify-proof` does (src/core/proof.c, PROTOCOL.md
// "Proofs"): genesis -> chain id, the tx and its signature, the tx and
// result audit paths, the membership steps from the genesis nodes to the
// checkpoint's signers, a checkpoint signed by a majority of the nodes
// trusted there, and the block's place in the checkpoint's history tree.

import { concat, ed25519Verify, equal, hex, sha256, u16, u32, u64, unb64, unhex, utf8 } from "./crypto.js";

export const HEADER_BYTES = 1 + 32 + 8 + 32 + 8 + 4 + 4 * 32 + 32 + 64; // 309
const HEADER_UNSIGNED = HEADER_BYTES - 64;
const MERKLE_PATH_MAX = 64;
const MEMBERS_MAX = 64; // consensus nodes of one network
const STEPS_MAX = 1024; // membership steps in one proof

// cc_err numbers and names (src/core/err.c); results are hashed by number.
export const ERR_NAMES = [
  "ok", "nomem", "malformed", "too_large", "version", "signature", "chain_id", "expired", "future",
  "lifetime", "unknown_signer", "revoked", "forbidden", "unknown_type", "duplicate", "not_found",
  "conflict", "invalid", "attachment", "io", "store_full", "busy", "timeout", "unreachable", "verify",
  "usage", "corrupt", "unauthenticated", "gone",
];

function num64(bytes, off) {
  return Number(new DataView(bytes.buffer, bytes.byteOffset + off, 8).getBigUint64(0));
}

export function decodeHeader(bytes) {
  if (bytes.length !== HEADER_BYTES) throw new Error(`a block header is ${HEADER_BYTES} bytes, this one ${bytes.length}`);
  if (bytes[0] !== 1) throw new Error(`block version ${bytes[0]} is not supported`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let o = 1;
  const take = (n) => bytes.subarray(o, (o += n));
  const h = { raw: bytes };
  h.chainId = take(32);
  h.height = num64(bytes, o);
  o += 8;
  h.prevHash = take(32);
  h.timeMs = num64(bytes, o);
  o += 8;
  h.txCount = dv.getUint32(o);
  o += 4;
  h.txRoot = take(32);
  h.resultsRoot = take(32);
  h.stateRoot = take(32);
  h.blocksRoot = take(32);
  h.proposer = take(32);
  h.sig = take(64);
  return h;
}

export async function headerHash(h) {
  return sha256(h.raw.subarray(0, HEADER_UNSIGNED));
}

export async function leafHash(data) {
  return sha256(concat(new Uint8Array([0]), data));
}

async function nodeHash(l, r) {
  return sha256(concat(new Uint8Array([1]), l, r));
}

// RFC 9162 section 2.1.3.2: does path lead from leaf at index in a tree of
// size leaves to root?
export async function merkleVerify(leaf, index, size, path, root) {
  if (index >= size || path.length > MERKLE_PATH_MAX) return false;
  let fn = BigInt(index), sn = BigInt(size) - 1n, r = leaf;
  for (const p of path) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

// The signed part of a tx encoding (PROTOCOL.md "Transactions").
export function decodeTx(raw) {
  if (raw.length < 1 + 32 + 1 + 32 + 24 + 4 + 1 + 64 || raw[0] !== 1) throw new Error("not a version 1 tx encoding");
  const t = raw[33];
  const type = new TextDecoder().decode(raw.subarray(34, 34 + t));
  const signer = raw.subarray(34 + t, 66 + t);
  const plen = new DataView(raw.buffer, raw.byteOffset + 90 + t, 4).getUint32(0);
  const payload = new TextDecoder().decode(raw.subarray(94 + t, 94 + t + plen));
  return {
    chainId: raw.subarray(1, 33),
    type,
    signer,
    payload,
    body: raw.subarray(0, raw.length - 64),
    sig: raw.subarray(raw.length - 64),
  };
}

function checkpointMessage(h, blockHash, membersHash) {
  return concat(utf8.encode("carechain/checkpoint/v2"), h.chainId, u64(h.height), blockHash, h.stateRoot, membersHash);
}

// The hash of a set of node keys (hex, ascending): PROTOCOL.md "Checkpoints".
async function membersHash(ids) {
  return sha256(concat(utf8.encode("carechain/members/v1"), u32(ids.length), ...ids.map((id) => unhex(id, 32))));
}

// A proof's "members" list: 1..MEMBERS_MAX node keys in ascending order.
function membersOf(o, what) {
  const list = o && o.members;
  if (!Array.isArray(list) || list.length === 0 || list.length > MEMBERS_MAX)
    throw new Error(`${what} needs "members": 1 to ${MEMBERS_MAX} node keys`);
  return list.map((x, i) => {
    const id = String(x).toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(id) || (i > 0 && id <= String(list[i - 1]).toLowerCase()))
      throw new Error(`${what} members[${i}] is not a node key in ascending order`);
    return id;
  });
}

// The distinct signers in trusted (hex ids) whose signature over checkpoint
// header ch and the members it names verifies.
async function validSigners(o, ch, named, trusted) {
  const message = checkpointMessage(ch, await headerHash(ch), await membersHash(named));
  const seen = new Set();
  for (const s of Array.isArray(o.signatures) ? o.signatures : []) {
    const node = String(s && s.node).toLowerCase();
    if (seen.has(node) || !trusted.includes(node)) continue;
    let pk, sig;
    try {
      pk = unhex(node, 32);
      sig = unhex(String(s.sig), 64);
    } catch (e) {
      continue;
    }
    if (await ed25519Verify(pk, sig, message)) seen.add(node);
  }
  return seen;
}

function hashes(list, what) {
  if (!Array.isArray(list)) throw new Error(`${what} is not a list of hashes`);
  return list.map((x, i) => {
    try {
      return unhex(x, 32);
    } catch (e) {
      throw new Error(`${what}[${i}] is not a hash`);
    }
  });
}

// Check proof (the parsed JSON of GET /v1/tx/{id}/proof) against the genesis
// file's bytes. Returns {verified, reason, steps: [{what, ok, detail}], ...}.
// Never throws: a proof that does not parse is "not verified" with why.
export async function verifyProof(proof, genesisBytes) {
  const steps = [];
  const step = (what, ok, detail) => {
    steps.push({ what, ok, detail });
    if (!ok) throw Object.assign(new Error(detail), { step: true });
  };
  const out = { verified: false, steps };
  try {
    let genesis;
    try {
      genesis = JSON.parse(new TextDecoder().decode(genesisBytes));
    } catch (e) {
      step("genesis", false, "the genesis file is not JSON, so it is not a carechain genesis file");
    }
    if (!genesis || typeof genesis !== "object" || !Array.isArray(genesis.nodes))
      step("genesis", false, "the genesis file has no \"nodes\" list, so it is not a carechain genesis file");
    const chainId = await sha256(genesisBytes);
    out.chainId = hex(chainId);
    const nodes = (genesis.nodes || []).map((n) => ({ name: n.name, id: String(n.id).toLowerCase() }));
    if (!proof || proof.carechain_proof !== 2 || !proof.block || !proof.checkpoint || !proof.result || typeof proof.tx !== "string" ||
        !Array.isArray(proof.membership) || proof.membership.length > STEPS_MAX)
      step("proof format", false, "not a carechain proof (needs carechain_proof 2, tx, result, block, membership, checkpoint)");
    step("chain", proof.chain_id === out.chainId, proof.chain_id === out.chainId
      ? `the proof is for chain ${out.chainId.slice(0, 16)}…, the SHA-256 of the genesis file`
      : "the proof is for another chain than this genesis file");

    // 1. the tx: its id, chain and signature
    let raw;
    try {
      raw = unb64(proof.tx);
    } catch (e) {
      step("tx", false, "the proof's tx is not base64");
    }
    const txid = await sha256(raw);
    step("tx id", hex(txid) === proof.txid, hex(txid) === proof.txid ? "SHA-256 of the tx bytes is the txid" : "the proof's txid is not the id of the tx it carries");
    let tx;
    try {
      tx = decodeTx(raw);
    } catch (e) {
      step("tx", false, "the tx does not decode: " + e.message);
    }
    out.type = tx.type;
    const sigOk = equal(tx.chainId, chainId) && (await ed25519Verify(tx.signer, tx.sig, tx.body));
    step("tx signature", sigOk, sigOk ? `Ed25519 signature of signer ${hex(tx.signer).slice(0, 12)}… verifies` : "the tx's signature or chain id is wrong");

    // 2. tx and result in the block
    let bh;
    try {
      bh = decodeHeader(unhex(proof.block.header));
    } catch (e) {
      step("block header", false, "the block header does not decode: " + e.message);
    }
    out.height = bh.height;
    step("block chain", equal(bh.chainId, chainId), equal(bh.chainId, chainId) ? `block ${bh.height} is of this chain` : "the block header belongs to another chain");
    const index = proof.block.index;
    const res = proof.result;
    const codeOk = Number.isInteger(index) && index >= 0 && Number.isInteger(res.code_num) && res.code_num >= 0 && res.code_num < ERR_NAMES.length &&
      typeof res.message === "string" && res.code === ERR_NAMES[res.code_num];
    step("result format", codeOk, codeOk ? `result ${res.code}` : "the proof needs block.index and a result {code, code_num, message} that agree");
    const txLeaf = await leafHash(txid);
    const inBlock = await merkleVerify(txLeaf, index, bh.txCount, hashes(proof.block.tx_path, "tx_path"), bh.txRoot);
    step("tx in block", inBlock, inBlock ? `audit path of ${proof.block.tx_path.length} hashes leads to block ${bh.height}'s tx root` : `the tx is not in block ${bh.height}: its audit path does not lead to the tx root`);
    const msg = utf8.encode(res.message);
    const resultLeaf = await leafHash(concat(txid, u16(res.code_num), u16(msg.length), msg));
    const resOk = await merkleVerify(resultLeaf, index, bh.txCount, hashes(proof.block.result_path, "result_path"), bh.resultsRoot);
    step("result in block", resOk, resOk ? `result "${res.code}" is the one block ${bh.height} committed` : `the stated result is not the one block ${bh.height} committed`);

    // 3. the membership steps, then the checkpoint: each signed by a
    //    majority of the nodes trusted so far (the genesis nodes first)
    const nameOf = (id) => (nodes.find((n) => n.id === id) || { name: id.slice(0, 12) + "…" }).name;
    let trusted = nodes.map((n) => n.id).sort();
    let after = 0;
    const signedStep = async (o, what, minHeight) => {
      let h, named;
      try {
        h = decodeHeader(unhex(o.header));
        named = membersOf(o, what);
      } catch (e) {
        step(what, false, `${what} does not decode: ` + e.message);
      }
      const inOrder = equal(h.chainId, chainId) && h.height >= minHeight;
      if (!inOrder) step(what, false, `${what} at height ${h.height} is of another chain or out of order`);
      const seen = await validSigners(o, h, named, trusted);
      return { h, named, seen, majority: seen.size * 2 > trusted.length };
    };
    for (const [i, o] of proof.membership.entries()) {
      const what = `membership step ${i + 1}`;
      const r = await signedStep(o || {}, what, after + 1);
      step(what, r.majority,
        `at height ${r.h.height}, ${r.seen.size} of the ${trusted.length} nodes trusted so far signed that the nodes are now ` +
          `${r.named.map(nameOf).join(", ")}` + (r.majority ? "" : "; a majority is needed"));
      trusted = r.named;
      after = r.h.height;
    }
    const cp = await signedStep(proof.checkpoint, "checkpoint", after);
    const ch = cp.h;
    out.checkpointHeight = ch.height;
    step("checkpoint chain", ch.height >= bh.height, ch.height >= bh.height
      ? `checkpoint at height ${ch.height}` : "the checkpoint is older than the block");
    const chash = await headerHash(ch);
    const signers = trusted.filter((id) => cp.seen.has(id)).map(nameOf).join(", ") || "none";
    const whose = proof.membership.length === 0 ? "genesis nodes" : `nodes trusted after ${proof.membership.length} membership step${proof.membership.length === 1 ? "" : "s"}`;
    step("checkpoint signatures", cp.majority,
      `the checkpoint at height ${ch.height} has ${cp.seen.size} valid Ed25519 signatures of ${trusted.length} ${whose} (${signers})` +
        (cp.majority ? "" : "; a majority is needed"));

    // 4. the block in the checkpoint's history
    const bhash = await headerHash(bh);
    const hpath = hashes(proof.history_path, "history_path");
    if (ch.height === bh.height) {
      const same = equal(chash, bhash) && hpath.length === 0;
      step("block in history", same, same ? "the checkpoint is the block itself" : "the checkpoint is at the block's height but is another block");
    } else {
      const ok = await merkleVerify(await leafHash(bhash), bh.height, ch.height, hpath, ch.blocksRoot);
      step("block in history", ok, ok ? `block ${bh.height} is in the history tree of checkpoint ${ch.height}` : `block ${bh.height} is not in the history of checkpoint ${ch.height}`);
    }
    out.verified = true;
  } catch (e) {
    out.reason = e.step ? e.message : "the proof could not be checked: " + e.message;
    if (!e.step) steps.push({ what: "error", ok: false, detail: out.reason });
  }
  return out;
}
