// crypto.js — bytes, hex and base64, SHA-256 and Ed25519 through WebCrypto,
// key files, carechain tx encodings and RFC 9421 signed requests
// (docs/PROTOCOL.md, docs/RECORDS.md "Signed requests"), and libsodium's
// sealed boxes through libsodium.js for record keys (docs/RECORDS.md "Key
// wrapping"), which WebCrypto cannot make (no XSalsa20-Poly1305, no BLAKE2b).
// Ed25519 seeds are imported as non-extractable CryptoKeys: once loaded, no
// script (this one included) can read the seed back or send it anywhere.

export const utf8 = new TextEncoder();

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function unhex(s, want) {
  if (typeof s !== "string" || !/^([0-9a-fA-F]{2})*$/.test(s))
    throw new Error("not hex: " + String(s).slice(0, 20));
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  if (want !== undefined && out.length !== want)
    throw new Error(`expected ${want} bytes of hex, got ${out.length}`);
  return out;
}

export function b64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function unb64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export function u16(n) {
  return new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
}

export function u32(n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

export function u64(n) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// ---- libsodium.js -------------------------------------------------------
// The npm package libsodium-wrappers (with libsodium, its WebAssembly build)
// is not in web/: the node's build embeds it from node_modules when it is
// there (scripts/web-libs.sh), and libs.json says whether it did. Its UMD
// files are plain scripts that set window.libsodium and window.sodium.

let sodiumLoad;

function addScript(name) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = new URL(name, import.meta.url).href;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`${name} did not load from this node`));
    document.head.append(s);
  });
}

async function loadSodium() {
  let libs;
  try {
    const r = await fetch(new URL("libs.json", import.meta.url), { cache: "no-cache" });
    libs = await r.json();
  } catch (e) {
    throw new Error("this node's explorer does not say whether it has it (libs.json: " + e.message + ")");
  }
  if (!libs.sodium) {
    const e = new Error("this node was built without it (the npm package libsodium-wrappers, which scripts/deps.sh --web installs before make)");
    e.code = "no-libsodium";
    throw e;
  }
  if (!globalThis.sodium) for (const name of libs.sodium.scripts) await addScript(name);
  const so = globalThis.sodium;
  if (!so || !so.ready) throw new Error("libsodium.js loaded but did not start (the browser console may say why)");
  await so.ready;
  return { so, version: `libsodium.js ${libs.sodium.version} (libsodium ${so.sodium_version_string()})` };
}

// -> {so (the libsodium-wrappers API), version (words for the page)}, or
// rejects with the reason in words, to follow "needs libsodium.js, and "
// (e.code "no-libsodium" when the node was built without it). Loaded once,
// on first use.
export function sodium() {
  if (!sodiumLoad) sodiumLoad = loadSodium();
  return sodiumLoad;
}

// crypto_box_seal of msg to the X25519 form of an Ed25519 public key
// (crypto_sign_ed25519_pk_to_curve25519, which refuses a key that is not a
// valid point).
export async function sealTo(msg, edPk) {
  const { so } = await sodium();
  let xpk;
  try {
    xpk = so.crypto_sign_ed25519_pk_to_curve25519(edPk);
  } catch (e) {
    throw new Error("the grantee's key is not a usable Ed25519 public key, so nothing can be sealed for it");
  }
  return so.crypto_box_seal(msg, xpk);
}

// The X25519 form of a key file's Ed25519 key (libsodium's
// crypto_sign_ed25519_sk_to_curve25519), to open sealed boxes addressed to
// it: -> {pub, open(box), forget()}. Its secret stays in this closure; the
// 64-byte secret key built for the conversion is wiped.
function boxOpener(so, seed, pk) {
  const sk = concat(seed, pk);
  let xsk;
  try {
    xsk = so.crypto_sign_ed25519_sk_to_curve25519(sk);
  } finally {
    sk.fill(0);
  }
  const pub = so.crypto_sign_ed25519_pk_to_curve25519(pk);
  return {
    pub,
    open(box) {
      if (!xsk) throw new Error("the key was forgotten");
      try {
        return so.crypto_box_seal_open(box, pub, xsk);
      } catch (e) {
        throw new Error("a key sealed for you did not open with your key: " + e.message);
      }
    },
    forget() {
      if (xsk) xsk.fill(0);
      xsk = null;
    },
  };
}

let edSupport;
// Whether this browser's WebCrypto has Ed25519 (current Chromium, Firefox
// and Safari do; older ones do not). Without it nothing here can check or
// make a signature, and the pages say so.
export async function ed25519Supported() {
  if (edSupport === undefined) {
    try {
      await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
      edSupport = true;
    } catch (e) {
      edSupport = false;
    }
  }
  return edSupport;
}

// true when sig is pk's Ed25519 signature of msg; false for a bad
// signature or a public key that does not decode.
export async function ed25519Verify(pk, sig, msg) {
  let key;
  try {
    key = await crypto.subtle.importKey("raw", pk, { name: "Ed25519" }, false, ["verify"]);
  } catch (e) {
    return false;
  }
  if (sig.length !== 64) return false;
  return crypto.subtle.verify({ name: "Ed25519" }, key, sig, msg);
}

// DER of an Ed25519 PrivateKeyInfo up to the 32-byte seed (RFC 8410 section 7).
const PKCS8_ED25519_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

// A carechain key file (PROTOCOL.md "Identities and keys") -> a signer
// {id, name, role, org, sign(bytes)}. The seed is imported non-extractable
// and the copy read from the file is wiped.
export async function loadKeyFile(text) {
  let j;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new Error("the file is not JSON, so it is not a carechain key file");
  }
  if (!j || j.type !== "ed25519" || typeof j.id !== "string" || typeof j.secret !== "string")
    throw new Error('not a carechain key file: it needs "type": "ed25519", "id" and "secret"');
  const pk = unhex(j.id.toLowerCase(), 32);
  const seed = unhex(j.secret.toLowerCase(), 32);
  if (!(await ed25519Supported()))
    throw new Error("this browser's WebCrypto has no Ed25519, so it cannot sign with the key");
  // The seed alone (PKCS #8, RFC 8410), not a JWK with the id beside it:
  // Chromium refuses a JWK whose "x" is not the seed's public key with a
  // DataError whose message is empty. The pair is checked below by signing
  // a probe, which says in words what is wrong.
  const der = concat(PKCS8_ED25519_PREFIX, seed);
  let priv;
  let x = null; // the X25519 form, to open sealed boxes (record keys)
  let xWhy = ""; // why there is none, in words
  const sign = async (msg) => new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, priv, msg));
  try {
    try {
      priv = await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, false, ["sign"]);
    } catch (e) {
      throw new Error(`this browser's WebCrypto refused the key file's secret (${e.message || e.name || "no reason given"})`);
    }
    const probe = utf8.encode("carechain key check");
    if (!(await ed25519Verify(pk, await sign(probe), probe)))
      throw new Error(`the secret in the key file does not belong to its id ${j.id.slice(0, 12)}…: the file is damaged or two keys were mixed up`);
    try {
      x = boxOpener((await sodium()).so, seed, pk);
    } catch (e) {
      xWhy = e.message; // the pages say what they cannot do, and why
    }
  } finally {
    der.fill(0);
    seed.fill(0);
    j.secret = "";
  }
  return { id: hex(pk), pk, name: j.name || "", role: j.role || "", org: j.org || "", sign, x, xWhy };
}

// Canonical JSON (PROTOCOL.md): compact, keys sorted bytewise, integers only.
export function canonicalJSON(v) {
  if (v === null || typeof v === "boolean") return String(v);
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new Error("payloads carry integers only, not " + v);
    return String(v);
  }
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(canonicalJSON).join(",") + "]";
  const keys = Object.keys(v).filter((k) => v[k] !== undefined);
  const bytes = (s) => Array.from(utf8.encode(s));
  keys.sort((a, b) => {
    const x = bytes(a), y = bytes(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  });
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJSON(v[k])).join(",") + "}";
}

const TX_LIFETIME_MS = 10 * 60 * 1000;

// Encode and sign a tx without attachment (PROTOCOL.md "Transactions").
// -> {raw, txid (hex)}
export async function buildTx(signer, chainIdHex, type, payload) {
  const created = Date.now();
  const nonce = crypto.getRandomValues(new Uint8Array(8));
  const t = utf8.encode(type);
  const p = utf8.encode(canonicalJSON(payload));
  const unsigned = concat(
    new Uint8Array([1]),
    unhex(chainIdHex, 32),
    new Uint8Array([t.length]),
    t,
    signer.pk,
    u64(created),
    u64(created + TX_LIFETIME_MS),
    nonce,
    u32(p.length),
    p,
    new Uint8Array([0]),
  );
  const raw = concat(unsigned, await signer.sign(unsigned));
  return { raw, txid: hex(await sha256(raw)) };
}

// The three headers of a signed request (RFC 9421 profile with an RFC 9530
// Content-Digest, docs/RECORDS.md): covers method, path, query as sent and
// the body's digest, with a fresh random nonce.
export async function signRequest(signer, method, url, bodyBytes) {
  const u = new URL(url, location.origin);
  const digest = "sha-256=:" + b64(await sha256(bodyBytes || new Uint8Array(0))) + ":";
  const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
  const created = Math.floor(Date.now() / 1000);
  const params =
    '("@method" "@path" "@query" "content-digest")' +
    `;created=${created};keyid="${signer.id}";alg="ed25519";nonce="${nonce}"`;
  const base = [
    `"@method": ${method}`,
    `"@path": ${u.pathname}`,
    `"@query": ?${u.search.slice(1)}`,
    `"content-digest": ${digest}`,
    `"@signature-params": ${params}`,
  ].join("\n");
  const sig = await signer.sign(utf8.encode(base));
  return {
    "Content-Digest": digest,
    "Signature-Input": "cc=" + params,
    Signature: "cc=:" + b64(sig) + ":",
  };
}
