// sealedbox.js — libsodium's crypto_box_seal and crypto_box_seal_open in the
// browser, for re-wrapping a record's data key for a consent's grantee
// (docs/RECORDS.md "Key wrapping"). WebCrypto gives X25519 and SHA-512;
// what it lacks is written here from the specifications: BLAKE2b (RFC 7693,
// the sealed box's nonce), Salsa20/HSalsa20 and XSalsa20 (Bernstein's
// papers) and Poly1305 (RFC 8439). Small inputs only (keys of 32 bytes):
// clarity over speed, BigInt where it keeps the arithmetic plain.
//
//   sealed = epk (32) || Poly1305 tag (16) || XSalsa20 ciphertext
//   nonce  = BLAKE2b-192(epk || recipient pk); key = HSalsa20(X25519(esk, pk), 0)

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) out.set(p, off), (off += p.length);
  return out;
}

// ---- BLAKE2b (unkeyed) ----
const M64 = (1n << 64n) - 1n;
const B2_IV = [0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n,
  0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n];
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4], [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13], [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11], [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5], [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

function le64(b, off) {
  let x = 0n;
  for (let i = 7; i >= 0; i--) x = (x << 8n) | BigInt(b[off + i]);
  return x;
}

const rotr64 = (x, n) => ((x >> n) | (x << (64n - n))) & M64;

function b2compress(h, block, t, last) {
  const v = h.concat(B2_IV);
  v[12] ^= t & M64;
  v[13] ^= t >> 64n;
  if (last) v[14] ^= M64;
  const m = [];
  for (let i = 0; i < 16; i++) m.push(le64(block, 8 * i));
  const G = (a, b, c, d, x, y) => {
    v[a] = (v[a] + v[b] + x) & M64;
    v[d] = rotr64(v[d] ^ v[a], 32n);
    v[c] = (v[c] + v[d]) & M64;
    v[b] = rotr64(v[b] ^ v[c], 24n);
    v[a] = (v[a] + v[b] + y) & M64;
    v[d] = rotr64(v[d] ^ v[a], 16n);
    v[c] = (v[c] + v[d]) & M64;
    v[b] = rotr64(v[b] ^ v[c], 63n);
  };
  for (let r = 0; r < 12; r++) {
    const s = SIGMA[r % 10];
    G(0, 4, 8, 12, m[s[0]], m[s[1]]);
    G(1, 5, 9, 13, m[s[2]], m[s[3]]);
    G(2, 6, 10, 14, m[s[4]], m[s[5]]);
    G(3, 7, 11, 15, m[s[6]], m[s[7]]);
    G(0, 5, 10, 15, m[s[8]], m[s[9]]);
    G(1, 6, 11, 12, m[s[10]], m[s[11]]);
    G(2, 7, 8, 13, m[s[12]], m[s[13]]);
    G(3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (let i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

export function blake2b(input, outlen) {
  const h = B2_IV.slice();
  h[0] ^= 0x01010000n ^ BigInt(outlen);
  let off = 0;
  while (input.length - off > 128) {
    b2compress(h, input.subarray(off, off + 128), BigInt(off + 128), false);
    off += 128;
  }
  const last = new Uint8Array(128);
  last.set(input.subarray(off));
  b2compress(h, last, BigInt(input.length), true);
  const out = new Uint8Array(64);
  for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) out[8 * i + j] = Number((h[i] >> BigInt(8 * j)) & 0xffn);
  return out.slice(0, outlen);
}

// ---- Salsa20 ----
const SIGMA_WORDS = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]; // "expand 32-byte k"

const le32 = (b, o) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const rotl32 = (x, n) => ((x << n) | (x >>> (32 - n))) >>> 0;

function salsaRounds(x) {
  const qr = (a, b, c, d) => {
    x[b] ^= rotl32((x[a] + x[d]) >>> 0, 7);
    x[c] ^= rotl32((x[b] + x[a]) >>> 0, 9);
    x[d] ^= rotl32((x[c] + x[b]) >>> 0, 13);
    x[a] ^= rotl32((x[d] + x[c]) >>> 0, 18);
  };
  for (let i = 0; i < 10; i++) {
    qr(0, 4, 8, 12), qr(5, 9, 13, 1), qr(10, 14, 2, 6), qr(15, 3, 7, 11);
    qr(0, 1, 2, 3), qr(5, 6, 7, 4), qr(10, 11, 8, 9), qr(15, 12, 13, 14);
  }
}

function salsaState(key, in16) {
  const s = new Uint32Array(16);
  s[0] = SIGMA_WORDS[0], s[5] = SIGMA_WORDS[1], s[10] = SIGMA_WORDS[2], s[15] = SIGMA_WORDS[3];
  for (let i = 0; i < 4; i++) {
    s[1 + i] = le32(key, 4 * i);
    s[11 + i] = le32(key, 16 + 4 * i);
    s[6 + i] = le32(in16, 4 * i);
  }
  return s;
}

function words(ws) {
  const out = new Uint8Array(4 * ws.length);
  const dv = new DataView(out.buffer);
  ws.forEach((w, i) => dv.setUint32(4 * i, w >>> 0, true));
  return out;
}

export function hsalsa20(key, in16) {
  const x = salsaState(key, in16);
  salsaRounds(x);
  return words([x[0], x[5], x[10], x[15], x[6], x[7], x[8], x[9]]);
}

// XSalsa20 keystream of n bytes.
function xsalsa20Stream(key, nonce24, n) {
  const sub = hsalsa20(key, nonce24.subarray(0, 16));
  const out = new Uint8Array(n);
  const in16 = new Uint8Array(16);
  in16.set(nonce24.subarray(16, 24));
  for (let block = 0, off = 0; off < n; block++, off += 64) {
    new DataView(in16.buffer).setUint32(8, block, true);
    const s = salsaState(sub, in16);
    const x = s.slice();
    salsaRounds(x);
    const b = words(Array.from(x, (v, i) => (v + s[i]) >>> 0));
    out.set(b.subarray(0, Math.min(64, n - off)), off);
  }
  return out;
}

// ---- Poly1305 ----
function lebig(b) {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]);
  return x;
}

export function poly1305(msg, key) {
  const p = (1n << 130n) - 5n;
  const r = lebig(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = lebig(key.subarray(16, 32));
  let acc = 0n;
  for (let i = 0; i < msg.length; i += 16) {
    const chunk = msg.subarray(i, i + 16);
    acc = ((acc + lebig(chunk) + (1n << BigInt(8 * chunk.length))) * r) % p;
  }
  acc = (acc + s) & ((1n << 128n) - 1n);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number((acc >> BigInt(8 * i)) & 0xffn);
  return out;
}

// crypto_secretbox_easy: tag || ciphertext
function secretbox(msg, nonce, key) {
  const stream = xsalsa20Stream(key, nonce, 32 + msg.length);
  const c = msg.map((b, i) => b ^ stream[32 + i]);
  return concat(poly1305(c, stream.subarray(0, 32)), c);
}

function secretboxOpen(box, nonce, key) {
  if (box.length < 16) throw new Error("sealed box too short");
  const tag = box.subarray(0, 16), c = box.subarray(16);
  const stream = xsalsa20Stream(key, nonce, 32 + c.length);
  const want = poly1305(c, stream.subarray(0, 32));
  let d = 0;
  for (let i = 0; i < 16; i++) d |= want[i] ^ tag[i];
  if (d !== 0) throw new Error("the wrapped key does not open with this key (wrong key, or altered)");
  return c.map((b, i) => b ^ stream[32 + i]);
}

// ---- Ed25519 keys as X25519 keys ----
const P = (1n << 255n) - 19n;

function modpow(b, e) {
  let r = 1n;
  b %= P;
  for (; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
  return r;
}

// crypto_sign_ed25519_pk_to_curve25519: u = (1 + y) / (1 - y) mod p
export function edPkToX(pk) {
  const y = lebig(pk) & ((1n << 255n) - 1n);
  const u = ((1n + y) * modpow((1n - y + P) % P, P - 2n)) % P;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((u >> BigInt(8 * i)) & 0xffn);
  return out;
}

const PKCS8_X25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);

// crypto_sign_ed25519_sk_to_curve25519: the clamped first half of
// SHA-512(seed), imported non-extractable. Wipes its copies.
export async function edSeedToX(seed) {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-512", seed));
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  const der = concat(PKCS8_X25519, h.subarray(0, 32));
  try {
    return await crypto.subtle.importKey("pkcs8", der, { name: "X25519" }, false, ["deriveBits"]);
  } finally {
    h.fill(0);
    der.fill(0);
  }
}

async function x25519(priv, pubRaw) {
  const pub = await crypto.subtle.importKey("raw", pubRaw, { name: "X25519" }, false, []);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: pub }, priv, 256));
}

const ZERO16 = new Uint8Array(16);

// crypto_box_seal to an X25519 public key.
export async function seal(msg, recipientX) {
  const eph = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
  const epk = new Uint8Array(await crypto.subtle.exportKey("raw", eph.publicKey));
  const shared = await x25519(eph.privateKey, recipientX);
  const key = hsalsa20(shared, ZERO16);
  const out = concat(epk, secretbox(msg, blake2b(concat(epk, recipientX), 24), key));
  shared.fill(0), key.fill(0);
  return out;
}

// crypto_box_seal_open with our X25519 key pair (private as a CryptoKey).
export async function sealOpen(sealed, ourX, ourPriv) {
  if (sealed.length < 48) throw new Error("a sealed box is at least 48 bytes");
  const epk = sealed.subarray(0, 32);
  const shared = await x25519(ourPriv, epk);
  const key = hsalsa20(shared, ZERO16);
  try {
    return secretboxOpen(sealed.subarray(32), blake2b(concat(epk, ourX), 24), key);
  } finally {
    shared.fill(0), key.fill(0);
  }
}
