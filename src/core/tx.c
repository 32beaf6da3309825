/*
 * tx.c — the transaction wire format v1: create, sign, decode, verify.
 *
 * Layout (docs/PROTOCOL.md "Transactions"; integers big-endian):
 *
 *   u8  version (1)            32  chain id
 *   u8  type_len (1..64)       type_len bytes type     32  signer public key
 *   u64 created_ms             u64 expiry_ms           u64 nonce
 *   u32 payload_len (2..64 KiB) payload (canonical JSON object)
 *   u8  attachment flag (0|1)  [u32 attachment_len (1..1 MiB), 32 sha256]
 *   64  Ed25519 signature over every byte before it
 *
 * Invariant: a decoded tx re-encodes to exactly its input, so each tx has
 * one encoding and txid = SHA-256(encoding) names it uniquely.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carechain.h"
#include "core/codec.h"

#define TX_FIXED_BYTES (1 + 32 + 1 + 32 + 8 + 8 + 8 + 4 + 1 + CC_SIG_BYTES)

bool cc_tx_type_valid(const char *type)
{
    size_t n = strlen(type);
    if (n < 1 || n > CC_TX_TYPE_MAX || type[0] < 'a' || type[0] > 'z') return false;
    for (size_t i = 0; i < n; i++) {
        char c = type[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

void cc_tx_free(cc_tx *tx)
{
    if (!tx) return;
    free(tx->payload);
    free(tx->raw);
    free(tx->attachment);
    json_decref(tx->json);
    memset(tx, 0, sizeof *tx);
}

/* Encode every field but the signature into a fresh raw buffer with room
 * for the signature; sets tx->raw and tx->raw_len. */
static cc_err encode_unsigned(cc_tx *tx)
{
    size_t type_len = strlen(tx->type);
    size_t len = TX_FIXED_BYTES + type_len + tx->payload_len + (tx->has_attachment ? 4 + CC_HASH_BYTES : 0);
    uint8_t *buf = malloc(len), *p = buf;
    if (!buf) return CC_ERR_NOMEM;
    *p++ = tx->version;
    memcpy(p, tx->chain_id, CC_HASH_BYTES), p += CC_HASH_BYTES;
    *p++ = (uint8_t)type_len;
    memcpy(p, tx->type, type_len), p += type_len;
    memcpy(p, tx->signer, CC_PUBKEY_BYTES), p += CC_PUBKEY_BYTES;
    cc_put_u64(p, tx->created_ms), p += 8;
    cc_put_u64(p, tx->expiry_ms), p += 8;
    cc_put_u64(p, tx->nonce), p += 8;
    cc_put_u32(p, tx->payload_len), p += 4;
    memcpy(p, tx->payload, tx->payload_len), p += tx->payload_len;
    *p++ = tx->has_attachment ? 1 : 0;
    if (tx->has_attachment) {
        cc_put_u32(p, tx->attachment_len), p += 4;
        memcpy(p, tx->attachment_hash, CC_HASH_BYTES), p += CC_HASH_BYTES;
    }
    free(tx->raw);
    tx->raw = buf;
    tx->raw_len = (uint32_t)len;
    return CC_OK;
}

cc_err cc_tx_create(const cc_tx_params *p, const cc_key *key, cc_tx *out, cc_errbuf *eb)
{
    cc_err rc;
    memset(out, 0, sizeof *out);
    if (!p->type || !cc_tx_type_valid(p->type))
        return cc_errf(eb, CC_ERR_MALFORMED, "tx type must be 1..64 of a-z 0-9 . _ - starting with a letter");
    if (p->payload_len > CC_PAYLOAD_MAX)
        return cc_errf(eb, CC_ERR_TOO_LARGE, "payload is %zu bytes; the limit is %d", p->payload_len,
                       CC_PAYLOAD_MAX);
    if (p->attachment && (p->attachment_len == 0 || p->attachment_len > CC_ATTACHMENT_MAX))
        return cc_errf(eb, CC_ERR_TOO_LARGE, "attachment must be 1..%d bytes", CC_ATTACHMENT_MAX);

    out->version = CC_TX_VERSION;
    memcpy(out->chain_id, p->chain_id, CC_HASH_BYTES);
    strcpy(out->type, p->type);
    memcpy(out->signer, key->pk, CC_PUBKEY_BYTES);
    out->created_ms = p->created_ms;
    out->expiry_ms = p->expiry_ms;
    out->nonce = p->nonce;

    size_t n = 0;
    rc = cc_json_canonical_parse((const uint8_t *)p->payload, p->payload_len, &out->payload, &n, &out->json,
                                 eb);
    if (rc != CC_OK) goto err;
    if (n > CC_PAYLOAD_MAX) {
        rc = cc_errf(eb, CC_ERR_TOO_LARGE, "canonical payload is %zu bytes; the limit is %d", n,
                     CC_PAYLOAD_MAX);
        goto err;
    }
    out->payload_len = (uint32_t)n;

    if (p->attachment) {
        out->has_attachment = true;
        out->attachment_len = (uint32_t)p->attachment_len;
        cc_sha256(p->attachment, p->attachment_len, out->attachment_hash);
        out->attachment = malloc(p->attachment_len);
        if (!out->attachment) {
            rc = CC_ERR_NOMEM;
            goto err;
        }
        memcpy(out->attachment, p->attachment, p->attachment_len);
    }

    rc = encode_unsigned(out);
    if (rc != CC_OK) goto err;
    size_t signed_len = out->raw_len - CC_SIG_BYTES;
    crypto_sign_detached(out->sig, NULL, out->raw, signed_len, key->sk);
    memcpy(out->raw + signed_len, out->sig, CC_SIG_BYTES);
    cc_sha256(out->raw, out->raw_len, out->txid);
    out->sig_checked = true; /* we just made it */
    return CC_OK;
err:
    cc_tx_free(out);
    return rc;
}

cc_err cc_tx_decode(const uint8_t *buf, size_t len, cc_tx *out, cc_errbuf *eb)
{
    cc_reader r = {buf, len};
    uint8_t type_len = 0, flag = 0;
    const uint8_t *type, *payload;
    cc_err rc;
    memset(out, 0, sizeof *out);

    if (len > CC_TX_MAX_BYTES)
        return cc_errf(eb, CC_ERR_TOO_LARGE, "tx is %zu bytes; the limit is %d", len, CC_TX_MAX_BYTES);
    if (!cc_take_u8(&r, &out->version)) return cc_errf(eb, CC_ERR_MALFORMED, "empty tx");
    if (out->version != CC_TX_VERSION)
        return cc_errf(eb, CC_ERR_VERSION, "tx version %u is not supported (only 1)", out->version);
    if (!cc_take_copy(&r, out->chain_id, CC_HASH_BYTES) || !cc_take_u8(&r, &type_len))
        return cc_errf(eb, CC_ERR_MALFORMED, "tx is truncated in its header");
    if (type_len == 0 || type_len > CC_TX_TYPE_MAX)
        return cc_errf(eb, CC_ERR_MALFORMED, "tx type length %u is not in 1..%d", type_len, CC_TX_TYPE_MAX);
    if (!(type = cc_take(&r, type_len))) return cc_errf(eb, CC_ERR_MALFORMED, "tx is truncated in its type");
    memcpy(out->type, type, type_len);
    out->type[type_len] = '\0';
    if (!cc_tx_type_valid(out->type))
        return cc_errf(eb, CC_ERR_MALFORMED, "tx type has characters outside a-z 0-9 . _ -");
    if (!cc_take_copy(&r, out->signer, CC_PUBKEY_BYTES) || !cc_take_u64(&r, &out->created_ms) ||
        !cc_take_u64(&r, &out->expiry_ms) || !cc_take_u64(&r, &out->nonce) ||
        !cc_take_u32(&r, &out->payload_len))
        return cc_errf(eb, CC_ERR_MALFORMED, "tx is truncated before its payload");
    if (out->payload_len > CC_PAYLOAD_MAX)
        return cc_errf(eb, CC_ERR_TOO_LARGE, "payload length %u is over the limit of %d", out->payload_len,
                       CC_PAYLOAD_MAX);
    if (!(payload = cc_take(&r, out->payload_len)))
        return cc_errf(eb, CC_ERR_MALFORMED, "payload length %u runs past the end of the tx",
                       out->payload_len);
    if (!cc_take_u8(&r, &flag) || flag > 1)
        return cc_errf(eb, CC_ERR_MALFORMED, "attachment flag must be 0 or 1");
    out->has_attachment = flag == 1;
    if (out->has_attachment) {
        if (!cc_take_u32(&r, &out->attachment_len) || !cc_take_copy(&r, out->attachment_hash, CC_HASH_BYTES))
            return cc_errf(eb, CC_ERR_MALFORMED, "tx is truncated in its attachment reference");
        if (out->attachment_len == 0 || out->attachment_len > CC_ATTACHMENT_MAX)
            return cc_errf(eb, CC_ERR_TOO_LARGE, "attachment length %u is not in 1..%d", out->attachment_len,
                           CC_ATTACHMENT_MAX);
    }
    if (!cc_take_copy(&r, out->sig, CC_SIG_BYTES))
        return cc_errf(eb, CC_ERR_MALFORMED, "tx is truncated in its signature");
    if (r.left != 0) return cc_errf(eb, CC_ERR_MALFORMED, "%zu trailing bytes after the tx", r.left);

    /* The payload must be exactly its canonical form: checked against its
     * dump as jansson writes it, without keeping a second copy of the text. */
    rc = cc_json_canonical_check(payload, out->payload_len, &out->json, eb);
    if (rc != CC_OK) return rc;
    if (!(out->payload = malloc((size_t)out->payload_len + 1))) {
        json_decref(out->json);
        out->json = NULL;
        return cc_errf(eb, CC_ERR_NOMEM, "out of memory for the tx's payload");
    }
    memcpy(out->payload, payload, out->payload_len);
    out->payload[out->payload_len] = '\0';

    out->raw = malloc(len);
    if (!out->raw) {
        cc_tx_free(out);
        return cc_errf(eb, CC_ERR_NOMEM, "out of memory for the tx");
    }
    memcpy(out->raw, buf, len);
    out->raw_len = (uint32_t)len;
    cc_sha256(buf, len, out->txid);
    return CC_OK;
}

bool cc_tx_encoded_len(const uint8_t *buf, size_t len, size_t *out)
{
    cc_reader r = {buf, len};
    uint8_t type_len, flag;
    uint32_t payload_len;
    const uint8_t *p;
    if (!cc_take(&r, 1 + CC_HASH_BYTES) || !cc_take_u8(&r, &type_len) || !cc_take(&r, type_len) ||
        !cc_take(&r, CC_PUBKEY_BYTES + 3 * 8) || !cc_take_u32(&r, &payload_len) ||
        !cc_take(&r, payload_len) || !cc_take_u8(&r, &flag))
        return false;
    if (flag == 1 && !cc_take(&r, 4 + CC_HASH_BYTES)) return false;
    if (!(p = cc_take(&r, CC_SIG_BYTES))) return false;
    *out = (size_t)(p + CC_SIG_BYTES - buf);
    return true;
}

bool cc_tx_verify_sig(const cc_tx *tx)
{
    return crypto_sign_verify_detached(tx->sig, tx->raw, tx->raw_len - CC_SIG_BYTES, tx->signer) == 0;
}

cc_err cc_tx_copy(cc_tx *dst, const cc_tx *src)
{
    *dst = *src;
    dst->payload = NULL, dst->raw = NULL, dst->attachment = NULL;
    dst->json = json_incref(src->json);
    dst->payload = malloc(src->payload_len + 1);
    dst->raw = malloc(src->raw_len);
    if (src->attachment) dst->attachment = malloc(src->attachment_len);
    if (!dst->payload || !dst->raw || (src->attachment && !dst->attachment)) {
        cc_tx_free(dst);
        return CC_ERR_NOMEM;
    }
    memcpy(dst->payload, src->payload, src->payload_len + 1);
    memcpy(dst->raw, src->raw, src->raw_len);
    if (src->attachment) memcpy(dst->attachment, src->attachment, src->attachment_len);
    return CC_OK;
}
