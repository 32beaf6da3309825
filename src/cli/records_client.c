/*
 * cli/records_client.c — the client side of health records (docs/RECORDS.md):
 * encrypting a FHIR resource and wrapping its key for every required reader
 * (record put), fetching, unwrapping and decrypting it (record get), and
 * re-wrapping the patient's keys for a grantee (consent grant). Secret keys
 * never leave this process; the node sees ciphertext and sealed keys only.
 *
 * Shared by the record/consent commands and the demo.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carechain/records.h"
#include "cli/cli.h"

#define QUERY_BYTES 512

/* Percent-encode s for a query value (unreserved characters pass). */
static void query_escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
}

cc_err cc_cli_signed_json(cc_cli_http *h, const cc_key *key, const char *path, json_t **out, long *status,
                          cc_errbuf *eb)
{
    cc_cli_resp r;
    long st = 0;
    *out = NULL;
    cc_err rc = cc_cli_http_signed_get(h, key, path, &r, eb);
    if (rc != CC_OK) goto out;
    st = r.status;
    if (st >= 200 && st < 300 && r.json) {
        *out = json_incref(r.json);
    } else {
        cc_err e = st == 401   ? CC_ERR_UNAUTHENTICATED
                   : st == 403 ? CC_ERR_FORBIDDEN
                   : st == 404 ? CC_ERR_NOT_FOUND
                   : st == 410 ? CC_ERR_GONE
                   : st == 400 ? CC_ERR_USAGE
                               : CC_ERR_INVALID;
        rc = cc_errf(eb, e, "%s", cc_cli_resp_message(&r));
    }
    cc_cli_resp_free(&r);
out:
    if (status) *status = st;
    return rc;
}

/* ---- record put ------------------------------------------------------------- */

/* The current version and txid of a record, read by key (a signed,
 * audited read: the writer must be allowed to read it). */
static cc_err current_version(cc_cli_http *h, const cc_key *key, const char *record, const char *purpose,
                              json_t **meta, cc_errbuf *eb)
{
    char path[CC_CLI_PATH_MAX];
    json_t *ans;
    snprintf(path, sizeof path, "/v1/records/%s?purpose=%s", record, purpose);
    cc_err rc = cc_cli_signed_json(h, key, path, &ans, NULL, eb);
    if (rc != CC_OK) return rc;
    *meta = json_incref(json_object_get(ans, "record"));
    json_decref(ans);
    return *meta ? CC_OK : cc_errf(eb, CC_ERR_MALFORMED, "the node's answer has no record");
}

/* The ids a version must be wrapped for (GET /v1/patients/{id}/readers). */
static cc_err required_readers(cc_cli_http *h, const cc_key *key, const cc_cli_record_in *in,
                               json_t **readers, cc_errbuf *eb)
{
    char path[CC_CLI_PATH_MAX], rt[QUERY_BYTES / 4], cat[QUERY_BYTES / 4];
    json_t *ans;
    query_escape(in->resource_type, rt, sizeof rt);
    query_escape(in->category, cat, sizeof cat);
    int n = snprintf(path, sizeof path, "/v1/patients/%s/readers?resourceType=%s&category=%s&purpose=%s",
                     in->patient, rt, cat, in->purpose);
    if (in->record && n > 0 && (size_t)n < sizeof path)
        snprintf(path + n, sizeof path - (size_t)n, "&record=%s", in->record);
    cc_err rc = cc_cli_signed_json(h, key, path, &ans, NULL, eb);
    if (rc != CC_OK) return rc;
    *readers = json_incref(json_object_get(ans, "readers"));
    json_decref(ans);
    if (!json_is_array(*readers)) {
        json_decref(*readers);
        *readers = NULL;
        return cc_errf(eb, CC_ERR_MALFORMED, "the node's readers answer has no \"readers\" list");
    }
    return CC_OK;
}

/* Wrap key for reader (hex id) as base64 into keys[reader]. */
static cc_err wrap_into(json_t *keys, const char *reader, const uint8_t key[CC_DATA_KEY_BYTES], cc_errbuf *eb)
{
    uint8_t pk[CC_PUBKEY_BYTES], wrapped[CC_WRAPPED_KEY_BYTES];
    if (!reader || cc_unhex(reader, pk, sizeof pk) != CC_OK)
        return cc_errf(eb, CC_ERR_MALFORMED, "the node named a reader that is not a hex id");
    cc_err rc = cc_data_key_wrap(key, pk, wrapped, eb);
    if (rc != CC_OK) return rc;
    char *b64 = cc_base64(wrapped, sizeof wrapped);
    if (!b64 || json_object_set_new(keys, reader, json_string(b64)) != 0)
        rc = cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    free(b64);
    return rc;
}

cc_err cc_cli_record_put(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const cc_key *author,
                         const cc_cli_record_in *in, bool wait, cc_cli_sent *out, char record_id[33],
                         cc_errbuf *eb)
{
    uint8_t id[CC_RECORD_ID_BYTES], key[CC_DATA_KEY_BYTES], hash[CC_HASH_BYTES];
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    json_t *meta = NULL, *readers = NULL, *payload = NULL;
    char *text = NULL, hash_hex[CC_HASH_HEX];
    uint32_t version = 1;
    cc_err rc;

    memset(out, 0, sizeof *out);
    if (in->record) {
        if (cc_unhex(in->record, id, sizeof id) != CC_OK)
            return cc_errf(eb, CC_ERR_USAGE, "a record id is 32 hex digits");
        rc = current_version(h, author, in->record, in->purpose, &meta, eb);
        if (rc != CC_OK) return rc;
        version = (uint32_t)json_integer_value(json_object_get(meta, "version")) + 1;
        snprintf(record_id, 33, "%s", in->record);
    } else {
        randombytes_buf(id, sizeof id);
        cc_hex(id, sizeof id, record_id);
    }
    cc_cli_record_in q = *in;
    q.record = in->record ? record_id : NULL;
    rc = required_readers(h, author, &q, &readers, eb);
    if (rc != CC_OK) goto out;
    rc = cc_record_encrypt(in->plain, in->len, id, version, key, &ct, &ct_len, eb);
    if (rc != CC_OK) goto out;
    cc_sha256(ct, ct_len, hash);

    json_t *keys = json_object();
    payload = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:o}", "record", record_id, "patient",
                        in->patient, "resourceType", in->resource_type, "category", in->category, "purpose",
                        in->purpose, "version", (json_int_t)version, "ciphertext",
                        cc_hex(hash, sizeof hash, hash_hex), "keys", keys);
    if (!payload) {
        rc = cc_errf(eb, CC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (meta) json_object_set(payload, "replaces", json_object_get(meta, "txid"));
    size_t i;
    json_t *r;
    json_array_foreach(readers, i, r)
    {
        rc = wrap_into(keys, json_string_value(r), key, eb);
        if (rc != CC_OK) goto out;
    }
    text = cc_cli_json_text(json_incref(payload));
    if (!text) {
        rc = cc_errf(eb, CC_ERR_NOMEM, "out of memory");
        goto out;
    }
    cc_tx tx;
    rc = cc_cli_tx_build(chain_id, author, "record.put", text, ct, ct_len, &tx, eb);
    if (rc == CC_OK) {
        rc = cc_cli_tx_post(h, &tx, wait, out, eb);
        cc_tx_free(&tx);
    }
out:
    sodium_memzero(key, sizeof key);
    free(ct);
    free(text);
    json_decref(payload);
    json_decref(readers);
    json_decref(meta);
    return rc;
}

/* ---- record get ------------------------------------------------------------- */

/* Open the wrapped key of an answer with reader or org_key (whichever is
 * its holder). */
static cc_err open_key(const json_t *ans, const cc_key *reader, const cc_key *org_key,
                       uint8_t key[CC_DATA_KEY_BYTES], cc_errbuf *eb)
{
    const json_t *k = json_object_get(ans, "key");
    const char *holder = json_string_value(json_object_get(k, "holder"));
    const char *wrapped_b64 = json_string_value(json_object_get(k, "wrapped"));
    uint8_t pk[CC_PUBKEY_BYTES], *wrapped = NULL;
    size_t n = 0;
    if (!holder || !wrapped_b64 || cc_unhex(holder, pk, sizeof pk) != CC_OK)
        return cc_errf(eb, CC_ERR_MALFORMED, "the node's answer has no wrapped key");
    const cc_key *opener = memcmp(pk, reader->pk, sizeof pk) == 0               ? reader
                           : org_key && memcmp(pk, org_key->pk, sizeof pk) == 0 ? org_key
                                                                                : NULL;
    if (!opener)
        return cc_errf(
            eb, CC_ERR_FORBIDDEN,
            "the node granted the read (it is in the patient's access log), but the record's key "
            "is wrapped for %.12s… (your organisation's records key): pass that key with --org-key",
            holder);
    if (cc_unbase64(wrapped_b64, &wrapped, &n) != CC_OK || n != CC_WRAPPED_KEY_BYTES) {
        free(wrapped);
        return cc_errf(eb, CC_ERR_MALFORMED, "the wrapped key is not %d bytes of base64",
                       CC_WRAPPED_KEY_BYTES);
    }
    cc_err rc = cc_data_key_unwrap(wrapped, opener, key, eb);
    free(wrapped);
    return rc;
}

cc_err cc_cli_record_get(cc_cli_http *h, const cc_key *reader, const cc_key *org_key, const char *record,
                         const char *purpose, uint8_t **plain, size_t *len, json_t **answer, cc_errbuf *eb)
{
    char path[CC_CLI_PATH_MAX], hex[CC_HASH_HEX];
    uint8_t id[CC_RECORD_ID_BYTES], key[CC_DATA_KEY_BYTES], hash[CC_HASH_BYTES], *ct = NULL;
    size_t ct_len = 0;
    json_t *ans = NULL;

    *plain = NULL;
    *answer = NULL;
    if (cc_unhex(record, id, sizeof id) != CC_OK)
        return cc_errf(eb, CC_ERR_USAGE, "a record id is 32 hex digits");
    snprintf(path, sizeof path, "/v1/records/%s?purpose=%s", record, purpose);
    cc_err rc = cc_cli_signed_json(h, reader, path, &ans, NULL, eb);
    if (rc != CC_OK) return rc;
    const json_t *meta = json_object_get(ans, "record");
    const char *want = json_string_value(json_object_get(meta, "ciphertext"));
    json_int_t version = json_integer_value(json_object_get(meta, "version"));
    const char *ct_b64 = json_string_value(json_object_get(ans, "ciphertext"));
    if (!want || version < 1 || version > UINT32_MAX || !ct_b64 ||
        cc_unbase64(ct_b64, &ct, &ct_len) != CC_OK) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "the node's answer lacks the record's ciphertext or metadata");
        goto out;
    }
    cc_sha256(ct, ct_len, hash);
    if (strcmp(cc_hex(hash, sizeof hash, hex), want) != 0) {
        rc = cc_errf(eb, CC_ERR_VERIFY, "the ciphertext's SHA-256 differs from the one on the ledger");
        goto out;
    }
    rc = open_key(ans, reader, org_key, key, eb);
    if (rc == CC_OK) rc = cc_record_decrypt(ct, ct_len, id, (uint32_t)version, key, plain, len, eb);
    sodium_memzero(key, sizeof key);
out:
    free(ct);
    if (rc == CC_OK)
        *answer = ans;
    else
        json_decref(ans);
    return rc;
}

/* ---- consent grant ---------------------------------------------------------- */

/* Does the consent scope cover a record (its metadata)? docs/RECORDS.md:
 * every present, non-empty list must contain the record's value. */
static bool list_has(const json_t *scope, const char *list, const char *value)
{
    const json_t *a = json_object_get(scope, list);
    if (json_array_size(a) == 0) return true;
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v) if (value && json_is_string(v) &&
                                    strcmp(json_string_value(v), value) == 0) return true;
    return false;
}

static bool scope_covers(const json_t *scope, const json_t *meta)
{
    return list_has(scope, "resourceTypes", json_string_value(json_object_get(meta, "resourceType"))) &&
           list_has(scope, "categories", json_string_value(json_object_get(meta, "category"))) &&
           list_has(scope, "records", json_string_value(json_object_get(meta, "record")));
}

/* Whose key a read permit wraps for: the grantee identity, or the grantee
 * organisation's records key (GET /v1/orgs/{id}). */
static cc_err recipient_of(cc_cli_http *h, const json_t *grantee, char out[CC_HASH_HEX], cc_errbuf *eb)
{
    const char *id = json_string_value(json_object_get(grantee, "identity"));
    const char *org = json_string_value(json_object_get(grantee, "org"));
    if (id) {
        snprintf(out, CC_HASH_HEX, "%s", id);
        return CC_OK;
    }
    char path[CC_CLI_PATH_MAX], esc[QUERY_BYTES / 4];
    cc_cli_resp r;
    query_escape(org ? org : "", esc, sizeof esc);
    snprintf(path, sizeof path, "/v1/orgs/%s", esc);
    cc_err rc = cc_cli_http_request(h, path, NULL, NULL, 0, &r, eb);
    if (rc != CC_OK) return rc;
    const char *key = json_string_value(json_object_get(r.json, "records_key"));
    if (r.status != 200 || !key)
        rc = cc_errf(eb, r.status == 404 ? CC_ERR_NOT_FOUND : CC_ERR_INVALID, "organisation %s: %s", org,
                     r.status == 200 ? "it has no records key" : cc_cli_resp_message(&r));
    else
        snprintf(out, CC_HASH_HEX, "%s", key);
    cc_cli_resp_free(&r);
    return rc;
}

static bool has_string(const json_t *a, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

/* For a read permit: keys[record] = the record's data key re-wrapped for
 * the recipient, for every active record of the patient the scope covers. */
static cc_err rewrap_keys(cc_cli_http *h, const cc_key *signer, const json_t *consent, json_t *keys,
                          cc_errbuf *eb)
{
    char path[CC_CLI_PATH_MAX], recipient[CC_HASH_HEX];
    const char *patient = json_string_value(json_object_get(consent, "patient"));
    json_t *list = NULL;
    cc_err rc = recipient_of(h, json_object_get(consent, "grantee"), recipient, eb);
    if (rc != CC_OK) return rc;
    snprintf(path, sizeof path, "/v1/patients/%s/records?purpose=TREAT", patient);
    rc = cc_cli_signed_json(h, signer, path, &list, NULL, eb);
    if (rc != CC_OK) return rc;
    size_t i;
    json_t *meta;
    json_array_foreach(json_object_get(list, "records"), i, meta)
    {
        const char *rec = json_string_value(json_object_get(meta, "record"));
        const char *status = json_string_value(json_object_get(meta, "status"));
        if (!rec || (status && strcmp(status, "active") != 0) ||
            !scope_covers(json_object_get(consent, "scope"), meta))
            continue;
        json_t *ans = NULL;
        uint8_t key[CC_DATA_KEY_BYTES];
        snprintf(path, sizeof path, "/v1/records/%s?purpose=TREAT", rec);
        rc = cc_cli_signed_json(h, signer, path, &ans, NULL, eb);
        if (rc == CC_OK) rc = open_key(ans, signer, NULL, key, eb);
        json_decref(ans);
        if (rc == CC_OK) {
            json_t *one = json_object();
            rc = one ? wrap_into(one, recipient, key, eb) : cc_errf(eb, CC_ERR_NOMEM, "out of memory");
            if (rc == CC_OK) json_object_set(keys, rec, json_object_get(one, recipient));
            json_decref(one);
        }
        sodium_memzero(key, sizeof key);
        if (rc != CC_OK) {
            cc_errbuf why = *eb;
            rc = cc_errf(eb, rc, "record %s: %s", rec, why.msg);
            break;
        }
    }
    json_decref(list);
    return rc;
}

cc_err cc_cli_consent_grant(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const cc_key *signer,
                            json_t *consent, bool wait, cc_cli_sent *out, cc_errbuf *eb)
{
    cc_err rc = CC_OK;
    char *text = NULL;
    memset(out, 0, sizeof *out);
    if (!consent) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    const char *provision = json_string_value(json_object_get(consent, "provision"));
    if (provision && strcmp(provision, "permit") == 0 &&
        has_string(json_object_get(consent, "actions"), "read")) {
        json_t *keys = json_object();
        rc = keys ? rewrap_keys(h, signer, consent, keys, eb) : cc_errf(eb, CC_ERR_NOMEM, "out of memory");
        if (rc == CC_OK && json_object_size(keys) > 0) json_object_set(consent, "keys", keys);
        json_decref(keys);
    }
    if (rc == CC_OK) {
        text = cc_cli_json_text(json_incref(consent));
        if (!text) rc = cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    }
    if (rc == CC_OK) {
        cc_tx tx;
        rc = cc_cli_tx_build(chain_id, signer, "consent.grant", text, NULL, 0, &tx, eb);
        if (rc == CC_OK) {
            rc = cc_cli_tx_post(h, &tx, wait, out, eb);
            cc_tx_free(&tx);
        }
    }
    free(text);
    json_decref(consent);
    return rc;
}

/* ---- what the record, consent and audit commands share ------------------------ */

int cc_cli_session_open(const cc_cli_ctx *ctx, const char *keyfile, const char *genesis, cc_cli_session *s)
{
    cc_errbuf eb = {{0}};
    memset(s, 0, sizeof *s);
    if (!cc_cli_key_load(ctx->cmd, keyfile, &s->key, NULL)) return CC_EXIT_FAIL;
    s->h = cc_cli_http_new(ctx->node);
    if (!s->h) {
        cc_key_wipe(&s->key);
        return cc_cli_fail(ctx, CC_ERR_NOMEM, "out of memory");
    }
    cc_err rc = cc_cli_chain_id(s->h, genesis, s->chain_id, &eb);
    if (rc != CC_OK) {
        cc_cli_session_close(s);
        return cc_cli_fail(ctx, rc, eb.msg);
    }
    return -1;
}

void cc_cli_session_close(cc_cli_session *s)
{
    cc_cli_http_free(s->h);
    s->h = NULL;
    cc_key_wipe(&s->key);
}

int cc_cli_fail(const cc_cli_ctx *ctx, cc_err e, const char *message)
{
    if (ctx->json) {
        json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", cc_err_name(e), "message", message);
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        fprintf(stderr, "carechain %s: %s\n", ctx->cmd, message);
    }
    return e == CC_ERR_UNREACHABLE ? CC_EXIT_UNREACHABLE : e == CC_ERR_USAGE ? CC_EXIT_USAGE : CC_EXIT_FAIL;
}

int cc_cli_patient_opts(const cc_cli_ctx *ctx, const char *keyfile, const char **patient,
                        char id[CC_HASH_HEX])
{
    if (!keyfile) return cc_cli_usage(ctx->cmd, "missing --key");
    if (*patient) {
        if (!cc_cli_hex_ok(*patient, CC_PUBKEY_BYTES))
            return cc_cli_usage(ctx->cmd, "--patient must be a 64-digit hex id");
        snprintf(id, CC_HASH_HEX, "%s", *patient);
    } else {
        cc_key k;
        if (!cc_cli_key_load(ctx->cmd, keyfile, &k, NULL)) return CC_EXIT_FAIL;
        cc_hex(k.pk, CC_PUBKEY_BYTES, id);
        cc_key_wipe(&k);
    }
    *patient = id;
    return -1;
}
