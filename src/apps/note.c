/*
 * note.c — note.put: a signed, time-stamped anchor of any document.
 *
 * The payload names the document by SHA-256 (the document itself stays off
 * the ledger); the state keeps "note/<sha256>/<signer>" -> where and when
 * it was anchored, so anyone can later show who vouched for a document and
 * since when.
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps.h"

#define KIND_MAX_BYTES 64
#define URI_MAX_BYTES  512
/* the record with the longest kind and uri, and room to spare */
#define NOTE_RECORD_MAX_BYTES (KIND_MAX_BYTES + URI_MAX_BYTES + 256)

static cc_err note_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"kind", "sha256", "uri", NULL};
    uint8_t h[CC_HASH_BYTES];
    const char *kind, *uri;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "kind", true, KIND_MAX_BYTES, &kind, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "sha256", h, sizeof h, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "uri", false, URI_MAX_BYTES, &uri, eb)) != CC_OK)
        return rc;
    return CC_OK;
}

/* The stored record, {"height":..,"kind":..,"time_ms":..,"txid":..,"uri":..}
 * in canonical form (keys sorted, "uri" only when given). */
static cc_err note_put_record(cc_exec_ctx *ctx, const char *key, const char *kind, const char *uri)
{
    char txid_hex[CC_HASH_HEX];
    cc_hex(ctx->tx->txid, CC_HASH_BYTES, txid_hex);
    /* Fast path, one note.put per tx under load: strings that need no
     * escaping are formatted directly, byte for byte what the jansson path
     * below dumps (tests/unit/test_chain.c checks both). */
    if (kind && cc_json_str_plain(kind) && (!uri || cc_json_str_plain(uri))) {
        char buf[NOTE_RECORD_MAX_BYTES];
        int n = snprintf(buf, sizeof buf,
                         "{\"height\":%llu,\"kind\":\"%s\",\"time_ms\":%llu,\"txid\":\"%s\"%s%s%s}",
                         (unsigned long long)ctx->height, kind, (unsigned long long)ctx->time_ms, txid_hex,
                         uri ? ",\"uri\":\"" : "", uri ? uri : "", uri ? "\"" : "");
        if (n > 0 && (size_t)n < sizeof buf) return cc_state_put(ctx, key, buf, (size_t)n);
    }
    json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "kind", kind, "txid", txid_hex, "height",
                          (json_int_t)ctx->height, "time_ms", (json_int_t)ctx->time_ms);
    if (!o) return CC_ERR_NOMEM;
    if (uri) json_object_set_new(o, "uri", json_string(uri));
    cc_err rc = cc_state_put_json(ctx, key, o);
    json_decref(o);
    return rc;
}

static cc_err note_apply(cc_exec_ctx *ctx)
{
    const char *sha = json_string_value(json_object_get(ctx->payload, "sha256"));
    const char *uri = json_string_value(json_object_get(ctx->payload, "uri"));
    const char *kind = json_string_value(json_object_get(ctx->payload, "kind"));
    char key[160], signer_hex[CC_HASH_HEX];
    const uint8_t *old;
    size_t old_len;
    snprintf(key, sizeof key, "note/%s/%s", sha, cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, signer_hex));
    if (cc_state_get(ctx, key, &old, &old_len) == CC_OK)
        return cc_errf(ctx->eb, CC_ERR_CONFLICT, "you already anchored document %.12s…", sha);
    return note_put_record(ctx, key, kind, uri);
}

const cc_tx_type cc_note_tx_types[] = {
    {"note.put", CC_ROLES_PEOPLE, note_validate, note_apply, NULL},
    {NULL, 0, NULL, NULL, NULL},
};
