/*
 * test_records_api.c — the signed, audited read endpoints of health records
 * (docs/RECORDS.md "Endpoints") on a real node: every endpoint once with a
 * signed request, end to end — 401 for missing, bad, stale, replayed and
 * unknown signatures (never audited), 400 and 404 (not audited), 403 and
 * 410 (audited), 200 with a ciphertext that decrypts with the unwrapped
 * key, break-glass and its alert, the FHIR shapes, and, on a three-node
 * raft network, a read through a follower whose audit event the leader
 * commits, then 503 and no data once no quorum is left to commit one. The
 * full authorization matrix is tested elsewhere.
 *
 * One node serves the first group; its tests run in order and build on
 * each other (the patient's records, the consents).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "carechain/records.h"
#include "support/ct_records.h"

#define NODE_START_MS  20000
#define RAFT_LEADER_MS 20000
#define RECORD_HEX     (2 * CC_RECORD_ID_BYTES + 1)

typedef struct fixture {
    ct_net net;
    ct_node node;
    const char *url;
    cc_key patient, clinician, clinician2, auditor, revoked, stranger;
    char patient_hex[CC_HASH_HEX], clinician_hex[CC_HASH_HEX], clinician2_hex[CC_HASH_HEX],
        admin_hex[CC_HASH_HEX];
    char rec1[RECORD_HEX], rec2[RECORD_HEX];
    char rec2_v1_txid[CC_HASH_HEX];
    char consent[CC_HASH_HEX];
    const char *fhir[4]; /* plaintexts of rec1, rec2 v1, rec2 v2 */
} fixture;

static fixture fx;

/* ---- helpers ------------------------------------------------------------------ */

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s) fail_msg("JSON field %s is not a string", key);
    return s;
}

static int64_t tx_total(const char *base)
{
    char *u = ct_strf("%s/v1/status", base);
    ct_resp r;
    int64_t n = -1;
    if (ct_get(u, &r) == 0 && r.status == 200) n = ct_json_int(r.json, "tx_total");
    ct_resp_free(&r);
    free(u);
    return n;
}

/* A signed GET of path?query by k that must answer status. */
static void signed_get(ct_signed_resp *s, const cc_key *k, const char *path, const char *query, long status)
{
    if (ct_signed_get(fx.url, k, path, query, 0, NULL, s) != 0) fail_msg("GET %s: %s", path, s->r.curl_error);
    if (s->r.status != status)
        fail_msg("GET %s?%s: expected %ld, got %ld %s", path, query, status, s->r.status, s->r.body);
}

/* The audit txid of an audited answer: in the header, and (JSON) in the
 * body, and committed as an audit.access tx with result ok and this
 * outcome. */
static void expect_audited(const char *base, const ct_signed_resp *s, bool json_body, const char *outcome,
                           const cc_key *requester)
{
    char requester_hex[CC_HASH_HEX];
    ct_pk_hex(requester, requester_hex);
    if (strlen(s->audit) != 64) fail_msg("no X-Audit-Txid header: %ld %s", s->r.status, s->r.body);
    if (json_body) assert_string_equal(jstr(s->r.json, "audit"), s->audit);
    char *u = ct_strf("%s/v1/tx/%s", base, s->audit);
    ct_resp t;
    assert_int_equal(ct_get(u, &t), 0);
    free(u);
    if (t.status != 200) fail_msg("audit tx %s: %ld %s", s->audit, t.status, t.body);
    assert_string_equal(jstr(t.json, "status"), "committed");
    assert_string_equal(jstr(t.json, "type"), "audit.access");
    assert_string_equal(jstr(json_object_get(t.json, "result"), "code"), "ok");
    json_t *p = json_object_get(t.json, "payload");
    assert_string_equal(jstr(p, "outcome"), outcome);
    assert_string_equal(jstr(p, "requester"), requester_hex);
    assert_int_equal(strlen(jstr(p, "request")), 64);
    ct_resp_free(&t);
}

static void expect_not_audited(const ct_signed_resp *s)
{
    if (s->audit[0]) fail_msg("an answer %ld carried X-Audit-Txid %s", s->r.status, s->audit);
    assert_null(json_object_get(s->r.json, "audit"));
}

static void expect_error(const ct_signed_resp *s, const char *code, const char *message_part)
{
    const char *c = ct_resp_error_code(&s->r), *m = ct_resp_error_message(&s->r);
    if (strcmp(c, code) != 0 || (message_part && !strstr(m, message_part)))
        fail_msg("expected error %s (\"%s\"), got %ld %s", code, message_part ? message_part : "",
                 s->r.status, s->r.body);
}

/* An OperationOutcome with this issue code. */
static void expect_outcome(const ct_signed_resp *s, const char *code)
{
    if (!s->r.json || strcmp(ct_json_str(s->r.json, "resourceType"), "OperationOutcome") != 0)
        fail_msg("not an OperationOutcome: %ld %s", s->r.status, s->r.body);
    json_t *issue = json_array_get(json_object_get(s->r.json, "issue"), 0);
    assert_string_equal(jstr(issue, "severity"), "error");
    assert_string_equal(jstr(issue, "code"), code);
    assert_true(strlen(jstr(issue, "diagnostics")) > 0);
}

static void random_record_id(char out[RECORD_HEX])
{
    uint8_t id[CC_RECORD_ID_BYTES];
    for (size_t i = 0; i < sizeof id; i += 8) {
        uint64_t r = cc_random_u64();
        memcpy(id + i, &r, 8);
    }
    cc_hex(id, sizeof id, out);
}

/* Decrypt the ciphertext of a 200 GET /v1/records answer with the key
 * unwrapped by reader, and compare with plain. */
static void expect_decrypts(const json_t *answer, const cc_key *reader, const char *plain)
{
    const json_t *rec = json_object_get(answer, "record");
    const json_t *key = json_object_get(answer, "key");
    uint8_t id[CC_RECORD_ID_BYTES], data_key[CC_DATA_KEY_BYTES], *wrapped = NULL, *ct = NULL, *out = NULL;
    size_t wrapped_len = 0, ct_len = 0, len = 0;
    cc_errbuf eb = {{0}};
    char hex[CC_HASH_HEX];

    assert_string_equal(jstr(key, "holder"), cc_hex(reader->pk, CC_PUBKEY_BYTES, hex));
    assert_int_equal(cc_unhex(jstr(rec, "record"), id, sizeof id), CC_OK);
    assert_int_equal(cc_unbase64(jstr(key, "wrapped"), &wrapped, &wrapped_len), CC_OK);
    assert_int_equal(wrapped_len, CC_WRAPPED_KEY_BYTES);
    assert_int_equal(cc_unbase64(jstr(answer, "ciphertext"), &ct, &ct_len), CC_OK);
    uint8_t digest[CC_HASH_BYTES];
    cc_sha256(ct, ct_len, digest);
    assert_string_equal(jstr(rec, "ciphertext"), cc_hex(digest, CC_HASH_BYTES, hex));
    if (cc_data_key_unwrap(wrapped, reader, data_key, &eb) != CC_OK) fail_msg("unwrap: %s", eb.msg);
    uint32_t version = (uint32_t)json_integer_value(json_object_get(rec, "version"));
    if (cc_record_decrypt(ct, ct_len, id, version, data_key, &out, &len, &eb) != CC_OK)
        fail_msg("decrypt: %s", eb.msg);
    assert_int_equal(len, strlen(plain));
    assert_memory_equal(out, plain, len);
    free(out);
    free(ct);
    free(wrapped);
}

/* The data key of a record as reader gets it (GET as reader, unwrap). */
static void reader_data_key(const char *record, const cc_key *reader, const char *purpose,
                            uint8_t key[CC_DATA_KEY_BYTES])
{
    ct_signed_resp s;
    char *path = ct_strf("/v1/records/%s", record), *query = ct_strf("purpose=%s", purpose);
    uint8_t *wrapped = NULL;
    size_t n = 0;
    signed_get(&s, reader, path, query, 200);
    assert_int_equal(cc_unbase64(jstr(json_object_get(s.r.json, "key"), "wrapped"), &wrapped, &n), CC_OK);
    assert_int_equal(n, CC_WRAPPED_KEY_BYTES);
    assert_int_equal(cc_data_key_unwrap(wrapped, reader, key, NULL), CC_OK);
    free(wrapped);
    free(path);
    free(query);
    ct_signed_resp_free(&s);
}

/* Encrypt plain as version of record, wrap the key for each of readers,
 * and commit the record.put signed by writer. txid (may be NULL) gets it. */
static void put_record(const cc_key *writer, const char *record, uint32_t version, const char *replaces,
                       const char *type, const char *category, const json_t *readers, const char *plain,
                       char txid[CC_HASH_HEX])
{
    uint8_t id[CC_RECORD_ID_BYTES], key[CC_DATA_KEY_BYTES], *ct = NULL, digest[CC_HASH_BYTES];
    size_t ct_len = 0, i;
    char hex[CC_HASH_HEX];
    json_t *v, *keys = json_object();
    cc_errbuf eb = {{0}};

    assert_int_equal(cc_unhex(record, id, sizeof id), CC_OK);
    if (cc_record_encrypt((const uint8_t *)plain, strlen(plain), id, version, key, &ct, &ct_len, &eb) !=
        CC_OK)
        fail_msg("encrypt: %s", eb.msg);
    json_array_foreach(readers, i, v)
    {
        uint8_t pk[CC_PUBKEY_BYTES], wrapped[CC_WRAPPED_KEY_BYTES];
        assert_int_equal(cc_unhex(json_string_value(v), pk, sizeof pk), CC_OK);
        assert_int_equal(cc_data_key_wrap(key, pk, wrapped, NULL), CC_OK);
        char *b64 = cc_base64(wrapped, sizeof wrapped);
        json_object_set_new(keys, json_string_value(v), json_string(b64));
        free(b64);
    }
    cc_sha256(ct, ct_len, digest);
    json_t *p =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:o}", "record", record, "patient", fx.patient_hex,
                  "resourceType", type, "category", category, "purpose", "TREAT", "version",
                  (json_int_t)version, "ciphertext", cc_hex(digest, CC_HASH_BYTES, hex), "keys", keys);
    if (replaces) json_object_set_new(p, "replaces", json_string(replaces));
    char *payload = json_dumps(p, JSON_COMPACT);
    assert_int_equal(ct_commit_tx(&fx.net, fx.url, writer, "record.put", payload, ct, ct_len, txid), 0);
    free(payload);
    json_decref(p);
    free(ct);
}

/* GET .../readers as k: the readers array (caller decrefs). */
static json_t *readers_for(const cc_key *k, const char *query)
{
    ct_signed_resp s;
    char *path = ct_strf("/v1/patients/%s/readers", fx.patient_hex);
    signed_get(&s, k, path, query, 200);
    expect_audited(fx.url, &s, true, "granted", k);
    json_t *readers = json_incref(json_object_get(s.r.json, "readers"));
    assert_true(json_is_array(readers));
    free(path);
    ct_signed_resp_free(&s);
    return readers;
}

/* ---- setup -------------------------------------------------------------------------- */

static int commit_register(const cc_key *k, const char *role)
{
    char hex[CC_HASH_HEX];
    char *payload = ct_strf("{\"id\":\"%s\",\"role\":\"%s\"}", ct_pk_hex(k, hex), role);
    int rc = ct_commit_tx(&fx.net, fx.url, &fx.net.admin, "member.register", payload, NULL, 0, NULL);
    free(payload);
    return rc;
}

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    if (ct_net_create(&fx.net, "records") != 0) return -1;
    if (ct_node_start(&fx.node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS) != 0) return -1;
    fx.url = fx.node.url;
    ct_key("rec-patient", &fx.patient);
    ct_key("rec-clinician", &fx.clinician);
    ct_key("rec-clinician2", &fx.clinician2);
    ct_key("rec-auditor", &fx.auditor);
    ct_key("rec-revoked", &fx.revoked);
    ct_key("rec-stranger", &fx.stranger);
    ct_pk_hex(&fx.patient, fx.patient_hex);
    ct_pk_hex(&fx.clinician, fx.clinician_hex);
    ct_pk_hex(&fx.clinician2, fx.clinician2_hex);
    ct_pk_hex(&fx.net.admin, fx.admin_hex);
    fx.fhir[0] =
        "{\"resourceType\":\"Observation\",\"code\":{\"text\":\"HbA1c\"},\"valueQuantity\":{\"value\":6.1}}";
    fx.fhir[1] = "{\"resourceType\":\"Observation\",\"code\":{\"text\":\"heart "
                 "rate\"},\"valueQuantity\":{\"value\":72}}";
    fx.fhir[2] = "{\"resourceType\":\"Observation\",\"code\":{\"text\":\"heart "
                 "rate\"},\"valueQuantity\":{\"value\":75}}";
    char hex[CC_HASH_HEX];
    char *revoke = ct_strf("{\"id\":\"%s\"}", ct_pk_hex(&fx.revoked, hex));
    int rc = commit_register(&fx.patient, "patient") || commit_register(&fx.clinician, "clinician") ||
             commit_register(&fx.clinician2, "clinician") || commit_register(&fx.auditor, "auditor") ||
             commit_register(&fx.revoked, "clinician") ||
             ct_commit_tx(&fx.net, fx.url, &fx.net.admin, "member.revoke", revoke, NULL, 0, NULL);
    free(revoke);
    if (rc != 0) ct_node_dump_log(&fx.node);
    return rc ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ct_node_free(&fx.node);
    ct_net_destroy(&fx.net);
    return 0;
}

/* ---- 401: never audited ----------------------------------------------------------------- */

static void test_unauthenticated(void **state)
{
    (void)state;
    ct_signed_resp s;
    cc_reqsig_headers h, t;
    char rid[RECORD_HEX];
    random_record_id(rid);
    char *path = ct_strf("/v1/records/%s", rid), *url = ct_strf("%s%s?purpose=TREAT", fx.url, path);
    int64_t before = tx_total(fx.url);
    int64_t now = (int64_t)(cc_now_ms() / 1000);

    /* no signature at all */
    assert_int_equal(ct_get_with_headers(url, NULL, &s), 0);
    assert_int_equal(s.r.status, 401);
    expect_error(&s, "unauthenticated", "not signed");
    expect_not_audited(&s);
    ct_signed_resp_free(&s);

    /* a signature by a key that is no identity, and by a revoked one */
    assert_int_equal(ct_signed_get(fx.url, &fx.stranger, path, "purpose=TREAT", 0, NULL, &s), 0);
    assert_int_equal(s.r.status, 401);
    expect_error(&s, "unauthenticated", "not a registered identity");
    ct_signed_resp_free(&s);
    assert_int_equal(ct_signed_get(fx.url, &fx.revoked, path, "purpose=TREAT", 0, NULL, &s), 0);
    assert_int_equal(s.r.status, 401);
    expect_error(&s, "unauthenticated", "revoked");
    ct_signed_resp_free(&s);

    /* stale and future */
    assert_int_equal(
        ct_signed_get(fx.url, &fx.patient, path, "purpose=TREAT", now - 3 * CC_REQSIG_SKEW_S, NULL, &s), 0);
    assert_int_equal(s.r.status, 401);
    expect_error(&s, "unauthenticated", "stale");
    ct_signed_resp_free(&s);
    assert_int_equal(
        ct_signed_get(fx.url, &fx.patient, path, "purpose=TREAT", now + 3 * CC_REQSIG_SKEW_S, NULL, &s), 0);
    assert_int_equal(s.r.status, 401);
    expect_error(&s, "unauthenticated", "future");
    ct_signed_resp_free(&s);

    /* signed for another query, path or key; bad base64; missing header */
    assert_int_equal(cc_reqsig_sign(&fx.patient, "GET", path, "purpose=HRESCH", NULL, 0, now, &h, NULL),
                     CC_OK);
    assert_int_equal(ct_get_signed_as(fx.url, path, "purpose=TREAT", &h, &s), 0);
    assert_int_equal(s.r.status, 401);
    expect_error(&s, "unauthenticated", "does not verify");
    ct_signed_resp_free(&s);
    assert_int_equal(
        cc_reqsig_sign(&fx.patient, "GET", "/v1/records/00", "purpose=TREAT", NULL, 0, now, &h, NULL), CC_OK);
    assert_int_equal(ct_get_signed_as(fx.url, path, "purpose=TREAT", &h, &s), 0);
    expect_error(&s, "unauthenticated", "does not verify");
    ct_signed_resp_free(&s);
    assert_int_equal(cc_reqsig_sign(&fx.patient, "GET", path, "purpose=TREAT", NULL, 0, now, &h, NULL),
                     CC_OK);
    t = h;
    memcpy(strstr(t.signature_input, "keyid=\"") + 7, fx.clinician_hex, 64);
    assert_int_equal(ct_get_signed_as(fx.url, path, "purpose=TREAT", &t, &s), 0);
    expect_error(&s, "unauthenticated", "does not verify");
    ct_signed_resp_free(&s);
    t = h;
    t.signature[6] = '*';
    assert_int_equal(ct_get_signed_as(fx.url, path, "purpose=TREAT", &t, &s), 0);
    expect_error(&s, "unauthenticated", "base64");
    ct_signed_resp_free(&s);
    t = h;
    t.content_digest[0] = '\0';
    assert_int_equal(ct_get_signed_as(fx.url, path, "purpose=TREAT", &t, &s), 0);
    expect_error(&s, "unauthenticated", "Content-Digest");
    ct_signed_resp_free(&s);

    /* accepted once (404: no such record, not audited), then a replay */
    assert_int_equal(ct_get_signed_as(fx.url, path, "purpose=TREAT", &h, &s), 0);
    assert_int_equal(s.r.status, 404);
    expect_not_audited(&s);
    ct_signed_resp_free(&s);
    assert_int_equal(ct_get_signed_as(fx.url, path, "purpose=TREAT", &h, &s), 0);
    assert_int_equal(s.r.status, 401);
    expect_error(&s, "unauthenticated", "used before");
    expect_not_audited(&s);
    ct_signed_resp_free(&s);

    /* FHIR answers it as an OperationOutcome */
    char *fhir_url = ct_strf("%s/fhir/AuditEvent?patient=%s", fx.url, fx.patient_hex);
    assert_int_equal(ct_get_with_headers(fhir_url, NULL, &s), 0);
    assert_int_equal(s.r.status, 401);
    expect_outcome(&s, "login");
    expect_not_audited(&s);
    ct_signed_resp_free(&s);

    /* nothing of this was audited */
    assert_int_equal(tx_total(fx.url), before);
    free(fhir_url);
    free(path);
    free(url);
}

/* ---- records ----------------------------------------------------------------------------- */

static void test_patient_writes_and_reads(void **state)
{
    (void)state;
    ct_signed_resp s;
    random_record_id(fx.rec1);

    /* who a new record must be wrapped for: only the patient, for now */
    json_t *readers = readers_for(&fx.patient, "resourceType=Observation&category=laboratory");
    assert_int_equal(json_array_size(readers), 1);
    assert_string_equal(json_string_value(json_array_get(readers, 0)), fx.patient_hex);
    put_record(&fx.patient, fx.rec1, 1, NULL, "Observation", "laboratory", readers, fx.fhir[0], NULL);
    json_decref(readers);

    char *path = ct_strf("/v1/records/%s", fx.rec1);
    signed_get(&s, &fx.patient, path, "purpose=TREAT", 200);
    expect_audited(fx.url, &s, true, "granted", &fx.patient);
    expect_decrypts(s.r.json, &fx.patient, fx.fhir[0]);
    json_t *rec = json_object_get(s.r.json, "record"), *access = json_object_get(s.r.json, "access");
    assert_string_equal(jstr(rec, "record"), fx.rec1);
    assert_string_equal(jstr(rec, "patient"), fx.patient_hex);
    assert_string_equal(jstr(rec, "resourceType"), "Observation");
    assert_string_equal(jstr(rec, "category"), "laboratory");
    assert_int_equal(ct_json_int(rec, "version"), 1);
    assert_null(json_object_get(rec, "keys")); /* nobody else's wrapped keys */
    assert_string_equal(jstr(access, "via"), "patient");
    assert_false(json_is_true(json_object_get(access, "emergency")));
    ct_signed_resp_free(&s);
    free(path);
}

static void test_denied_and_bad_requests(void **state)
{
    (void)state;
    ct_signed_resp s;
    char *path = ct_strf("/v1/records/%s", fx.rec1), rid[RECORD_HEX];

    /* no consent: 403, audited as denied */
    signed_get(&s, &fx.clinician, path, "purpose=TREAT", 403);
    expect_error(&s, "forbidden", "no consent");
    expect_audited(fx.url, &s, true, "denied", &fx.clinician);
    ct_signed_resp_free(&s);

    /* not audited: bad query, unknown record */
    int64_t before = tx_total(fx.url);
    signed_get(&s, &fx.clinician, path, "purpose=SHOPPING", 400);
    expect_error(&s, "usage", "purpose");
    expect_not_audited(&s);
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician, path, "", 400);
    expect_error(&s, "usage", "purpose is required");
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician, path, "purpose=TREAT&purpose=ETREAT", 400);
    expect_error(&s, "usage", "twice");
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician, path, "purpose=TREAT&colour=blue", 400);
    expect_error(&s, "usage", "colour");
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician, path, "purpose=TREAT&version=0", 400);
    ct_signed_resp_free(&s);
    random_record_id(rid);
    char *unknown = ct_strf("/v1/records/%s", rid);
    signed_get(&s, &fx.patient, unknown, "purpose=TREAT", 404);
    expect_error(&s, "not_found", "no such record");
    expect_not_audited(&s);
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.patient, "/v1/records/XYZ", "purpose=TREAT", 400);
    ct_signed_resp_free(&s);
    assert_int_equal(tx_total(fx.url), before);
    free(unknown);
    free(path);
}

static void test_consent_then_read(void **state)
{
    (void)state;
    ct_signed_resp s;
    uint8_t key[CC_DATA_KEY_BYTES], wrapped[CC_WRAPPED_KEY_BYTES];

    /* the patient re-wraps their own copy of rec1's key for the clinician */
    reader_data_key(fx.rec1, &fx.patient, "TREAT", key);
    assert_int_equal(cc_data_key_wrap(key, fx.clinician.pk, wrapped, NULL), CC_OK);
    char *b64 = cc_base64(wrapped, sizeof wrapped);
    char *grant =
        ct_strf("{\"patient\":\"%s\",\"grantee\":{\"identity\":\"%s\"},\"actions\":[\"read\",\"write\"],"
                "\"purposes\":[\"TREAT\"],\"provision\":\"permit\",\"keys\":{\"%s\":\"%s\"}}",
                fx.patient_hex, fx.clinician_hex, fx.rec1, b64);
    assert_int_equal(ct_commit_tx(&fx.net, fx.url, &fx.patient, "consent.grant", grant, NULL, 0, fx.consent),
                     0);
    free(grant);
    free(b64);

    char *path = ct_strf("/v1/records/%s", fx.rec1);
    signed_get(&s, &fx.clinician, path, "purpose=TREAT", 200);
    expect_audited(fx.url, &s, true, "granted", &fx.clinician);
    expect_decrypts(s.r.json, &fx.clinician, fx.fhir[0]);
    json_t *access = json_object_get(s.r.json, "access");
    assert_string_equal(jstr(access, "via"), "consent");
    assert_string_equal(jstr(access, "consent"), fx.consent);
    ct_signed_resp_free(&s);

    /* the consent does not cover research */
    signed_get(&s, &fx.clinician, path, "purpose=HRESCH", 403);
    expect_error(&s, "forbidden", "purpose HRESCH");
    expect_audited(fx.url, &s, true, "denied", &fx.clinician);
    ct_signed_resp_free(&s);
    free(path);
}

static void test_clinician_writes_versions(void **state)
{
    (void)state;
    ct_signed_resp s;
    random_record_id(fx.rec2);

    /* with a write consent the clinician learns the readers: the patient,
     * the hospital's records key (its admin) and the consent's grantee */
    json_t *readers = readers_for(&fx.clinician, "resourceType=Observation&category=vital-signs");
    assert_int_equal(json_array_size(readers), 3);
    put_record(&fx.clinician, fx.rec2, 1, NULL, "Observation", "vital-signs", readers, fx.fhir[1],
               fx.rec2_v1_txid);
    json_decref(readers);
    char *q = ct_strf("resourceType=Observation&category=vital-signs&record=%s", fx.rec2);
    readers = readers_for(&fx.clinician, q);
    put_record(&fx.clinician, fx.rec2, 2, fx.rec2_v1_txid, "Observation", "vital-signs", readers, fx.fhir[2],
               NULL);
    json_decref(readers);
    free(q);

    /* without a write consent: 403 */
    char *path = ct_strf("/v1/patients/%s/readers", fx.patient_hex);
    signed_get(&s, &fx.clinician2, path, "resourceType=Observation&category=vital-signs", 403);
    expect_audited(fx.url, &s, true, "denied", &fx.clinician2);
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician, path, "category=vital-signs", 400);
    ct_signed_resp_free(&s);
    free(path);

    /* the current version, then the first one (with the key it was wrapped with) */
    path = ct_strf("/v1/records/%s", fx.rec2);
    signed_get(&s, &fx.clinician, path, "purpose=TREAT", 200);
    expect_decrypts(s.r.json, &fx.clinician, fx.fhir[2]);
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician, path, "purpose=TREAT&version=1", 200);
    expect_audited(fx.url, &s, true, "granted", &fx.clinician);
    expect_decrypts(s.r.json, &fx.clinician, fx.fhir[1]);
    assert_int_equal(ct_json_int(json_object_get(s.r.json, "record"), "current_version"), 2);
    assert_string_equal(jstr(json_object_get(s.r.json, "record"), "txid"), fx.rec2_v1_txid);
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician, path, "purpose=TREAT&version=3", 404);
    expect_audited(fx.url, &s, true, "denied", &fx.clinician);
    ct_signed_resp_free(&s);
    free(path);
}

static void test_break_glass_and_alerts(void **state)
{
    (void)state;
    ct_signed_resp s;
    char *path = ct_strf("/v1/records/%s", fx.rec2);
    char *alerts = ct_strf("/v1/patients/%s/alerts", fx.patient_hex);

    /* clinician2 has no consent, but rec2 is wrapped to the hospital */
    signed_get(&s, &fx.clinician2, path, "purpose=TREAT", 403);
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician2, path, "purpose=ETREAT", 200);
    expect_audited(fx.url, &s, true, "granted", &fx.clinician2);
    json_t *access = json_object_get(s.r.json, "access");
    assert_string_equal(jstr(access, "via"), "break-glass");
    assert_true(json_is_true(json_object_get(access, "emergency")));
    /* the key served is the hospital's: its records key holder opens it */
    expect_decrypts(s.r.json, &fx.net.admin, fx.fhir[2]);
    char audit[CC_HASH_HEX];
    snprintf(audit, sizeof audit, "%s", s.audit);
    ct_signed_resp_free(&s);

    /* the patient is alerted; others may not read the alerts */
    signed_get(&s, &fx.patient, alerts, "", 200);
    expect_audited(fx.url, &s, true, "granted", &fx.patient);
    assert_int_equal(ct_json_int(s.r.json, "total"), 1);
    json_t *a = json_array_get(json_object_get(s.r.json, "alerts"), 0);
    assert_string_equal(jstr(a, "requester"), fx.clinician2_hex);
    assert_string_equal(jstr(a, "record"), fx.rec2);
    assert_string_equal(jstr(a, "txid"), audit);
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician2, alerts, "", 403);
    expect_audited(fx.url, &s, true, "denied", &fx.clinician2);
    ct_signed_resp_free(&s);
    free(alerts);
    free(path);
}

static void test_patient_record_lists(void **state)
{
    (void)state;
    ct_signed_resp s;
    char *path = ct_strf("/v1/patients/%s/records", fx.patient_hex);

    signed_get(&s, &fx.patient, path, "purpose=TREAT", 200);
    expect_audited(fx.url, &s, true, "granted", &fx.patient);
    assert_int_equal(json_array_size(json_object_get(s.r.json, "records")), 2);
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician, path, "purpose=TREAT", 200);
    json_t *list = json_object_get(s.r.json, "records");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(jstr(json_object_get(json_array_get(list, 0), "access"), "via"), "consent");
    assert_null(json_object_get(json_array_get(list, 0), "keys"));
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician2, path, "purpose=TREAT", 403);
    expect_audited(fx.url, &s, true, "denied", &fx.clinician2);
    ct_signed_resp_free(&s);

    /* an unknown patient: 404, not audited */
    char *unknown = ct_strf("/v1/patients/%s/records", fx.clinician_hex);
    signed_get(&s, &fx.clinician, unknown, "purpose=TREAT", 404);
    expect_not_audited(&s);
    ct_signed_resp_free(&s);
    free(unknown);
    free(path);
}

/* ---- FHIR ----------------------------------------------------------------------------------- */

/* The Consent of the Bundle entry whose id is id. */
static json_t *bundle_resource(const json_t *bundle, const char *id)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(bundle, "entry"), i, e)
    {
        json_t *r = json_object_get(e, "resource");
        if (strcmp(ct_json_str(r, "id"), id) == 0) {
            assert_non_null(strstr(jstr(e, "fullUrl"), id));
            return r;
        }
    }
    fail_msg("no entry %s in the Bundle", id);
    return NULL;
}

static const char *first_code(const json_t *concept)
{
    return jstr(json_array_get(json_object_get(concept, "coding"), 0), "code");
}

static void test_fhir_consents(void **state)
{
    (void)state;
    ct_signed_resp s;
    char *query = ct_strf("patient=%s", fx.patient_hex), deny[CC_HASH_HEX], revoked[CC_HASH_HEX];

    /* a deny that starts tomorrow, and a permit revoked at once */
    char *tx = ct_strf("{\"patient\":\"%s\",\"grantee\":{\"org\":\"payer\"},\"actions\":[\"read\"],"
                       "\"purposes\":[\"HPAYMT\"],\"provision\":\"deny\",\"period\":{\"from\":%llu}}",
                       fx.patient_hex, (unsigned long long)(cc_now_ms() + 24ull * 3600 * 1000));
    assert_int_equal(ct_commit_tx(&fx.net, fx.url, &fx.patient, "consent.grant", tx, NULL, 0, deny), 0);
    free(tx);
    tx = ct_strf("{\"patient\":\"%s\",\"grantee\":{\"identity\":\"%s\"},\"actions\":[\"write\"],"
                 "\"purposes\":[\"HOPERAT\"],\"provision\":\"permit\"}",
                 fx.patient_hex, fx.clinician2_hex);
    assert_int_equal(ct_commit_tx(&fx.net, fx.url, &fx.patient, "consent.grant", tx, NULL, 0, revoked), 0);
    free(tx);
    tx = ct_strf("{\"consent\":\"%s\",\"reason\":\"changed my mind\"}", revoked);
    assert_int_equal(ct_commit_tx(&fx.net, fx.url, &fx.patient, "consent.revoke", tx, NULL, 0, NULL), 0);
    free(tx);

    signed_get(&s, &fx.patient, "/fhir/Consent", query, 200);
    expect_audited(fx.url, &s, false, "granted", &fx.patient);
    json_t *b = s.r.json;
    assert_string_equal(jstr(b, "resourceType"), "Bundle");
    assert_string_equal(jstr(b, "type"), "searchset");
    assert_int_equal(ct_json_int(b, "total"), 3);

    json_t *d = bundle_resource(b, deny);
    assert_string_equal(jstr(d, "status"), "proposed");
    assert_string_equal(first_code(json_object_get(d, "policyRule")), "OPTOUT");
    assert_string_equal(jstr(json_object_get(d, "provision"), "type"), "deny");
    json_t *actor = json_array_get(json_object_get(json_object_get(d, "provision"), "actor"), 0);
    assert_string_equal(jstr(json_object_get(actor, "reference"), "reference"), "Organization/payer");
    assert_string_equal(jstr(bundle_resource(b, revoked), "status"), "inactive");

    json_t *c = bundle_resource(b, fx.consent);
    assert_string_equal(jstr(c, "resourceType"), "Consent");
    assert_string_equal(jstr(c, "status"), "active");
    json_t *scope = json_array_get(json_object_get(json_object_get(c, "scope"), "coding"), 0);
    assert_string_equal(jstr(scope, "code"), "patient-privacy");
    json_t *cat =
        json_array_get(json_object_get(json_array_get(json_object_get(c, "category"), 0), "coding"), 0);
    assert_string_equal(jstr(cat, "system"), "http://loinc.org");
    assert_string_equal(jstr(cat, "code"), "59284-0");
    char *ref = ct_strf("Patient/%s", fx.patient_hex);
    assert_string_equal(jstr(json_object_get(c, "patient"), "reference"), ref);
    free(ref);
    assert_string_equal(first_code(json_object_get(c, "policyRule")), "OPTIN");
    json_t *prov = json_object_get(c, "provision");
    assert_string_equal(jstr(prov, "type"), "permit");
    assert_non_null(json_object_get(json_object_get(prov, "period"), "start"));
    actor = json_array_get(json_object_get(prov, "actor"), 0);
    ref = ct_strf("Practitioner/%s", fx.clinician_hex);
    assert_string_equal(jstr(json_object_get(actor, "reference"), "reference"), ref);
    free(ref);
    assert_string_equal(
        jstr(json_array_get(json_object_get(json_object_get(actor, "role"), "coding"), 0), "code"), "IRCP");
    assert_int_equal(json_array_size(json_object_get(prov, "action")), 2);
    assert_string_equal(jstr(json_array_get(json_object_get(prov, "purpose"), 0), "code"), "TREAT");
    ct_signed_resp_free(&s);

    /* one consent: the grantee may read it; another clinician may not */
    char *path = ct_strf("/fhir/Consent/%s", fx.consent);
    signed_get(&s, &fx.clinician, path, "", 200);
    expect_audited(fx.url, &s, false, "granted", &fx.clinician);
    assert_string_equal(jstr(s.r.json, "resourceType"), "Consent");
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician2, path, "", 403);
    expect_outcome(&s, "forbidden");
    expect_audited(fx.url, &s, false, "denied", &fx.clinician2);
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.clinician2, "/fhir/Consent", query, 403);
    expect_outcome(&s, "forbidden");
    ct_signed_resp_free(&s);

    /* unknown: an OperationOutcome, not audited */
    char *unknown = ct_strf("/fhir/Consent/%064d", 7);
    signed_get(&s, &fx.patient, unknown, "", 404);
    expect_outcome(&s, "not-found");
    expect_not_audited(&s);
    ct_signed_resp_free(&s);
    signed_get(&s, &fx.patient, "/fhir/Consent", "", 400);
    expect_outcome(&s, "invalid");
    ct_signed_resp_free(&s);
    free(unknown);
    free(path);
    free(query);
}

static void test_fhir_audit_events(void **state)
{
    (void)state;
    ct_signed_resp s;
    char *query = ct_strf("patient=%s", fx.patient_hex);

    signed_get(&s, &fx.auditor, "/fhir/AuditEvent", query, 200);
    expect_audited(fx.url, &s, false, "granted", &fx.auditor);
    json_t *b = s.r.json, *e;
    assert_string_equal(jstr(b, "type"), "searchset");
    json_t *entries = json_object_get(b, "entry");
    assert_true(ct_json_int(b, "total") >= 10);
    assert_int_equal((int64_t)json_array_size(entries), ct_json_int(b, "total"));
    bool denied = false, btg = false;
    size_t i;
    json_array_foreach(entries, i, e)
    {
        json_t *ev = json_object_get(e, "resource");
        assert_string_equal(jstr(ev, "resourceType"), "AuditEvent");
        assert_int_equal(strlen(jstr(ev, "id")), 64);
        assert_string_equal(jstr(json_object_get(ev, "type"), "code"), "110110");
        assert_non_null(json_object_get(ev, "recorded"));
        json_t *agent = json_array_get(json_object_get(ev, "agent"), 0);
        assert_true(json_is_true(json_object_get(agent, "requestor")));
        assert_non_null(
            strstr(jstr(json_object_get(json_object_get(ev, "source"), "observer"), "reference"), "Device/"));
        char *patient_ref = ct_strf("Patient/%s", fx.patient_hex);
        assert_string_equal(
            jstr(json_object_get(json_array_get(json_object_get(ev, "entity"), 0), "what"), "reference"),
            patient_ref);
        free(patient_ref);
        if (strcmp(jstr(ev, "outcome"), "4") == 0) {
            denied = true;
            assert_true(strlen(jstr(ev, "outcomeDesc")) > 0);
        }
        json_t *sec = json_array_get(json_object_get(json_object_get(ev, "meta"), "security"), 0);
        if (sec && strcmp(jstr(sec, "code"), "BTG") == 0) {
            btg = true;
            assert_string_equal(jstr(ev, "action"), "R");
        }
    }
    assert_true(denied);
    assert_true(btg);
    ct_signed_resp_free(&s);

    /* a clinician is not an auditor */
    signed_get(&s, &fx.clinician, "/fhir/AuditEvent", query, 403);
    expect_outcome(&s, "forbidden");
    expect_audited(fx.url, &s, false, "denied", &fx.clinician);
    ct_signed_resp_free(&s);
    free(query);
}

/* ---- erasure ----------------------------------------------------------------------------------- */

static void test_erased_is_gone(void **state)
{
    (void)state;
    ct_signed_resp s;
    char *erase = ct_strf("{\"record\":\"%s\",\"reason\":\"patient request\"}", fx.rec1);
    assert_int_equal(ct_commit_tx(&fx.net, fx.url, &fx.patient, "record.erase", erase, NULL, 0, NULL), 0);
    free(erase);

    char *path = ct_strf("/v1/records/%s", fx.rec1);
    signed_get(&s, &fx.patient, path, "purpose=TREAT", 410);
    expect_error(&s, "gone", "erased");
    expect_audited(fx.url, &s, true, "denied", &fx.patient);
    ct_signed_resp_free(&s);
    free(path);
}

/* ---- a raft network: the audit event of a follower's read ------------------------------------------- */

static void test_follower_read(void **state)
{
    (void)state;
    ct_cluster c;
    ct_signed_resp s;
    char rid[RECORD_HEX], hex[CC_HASH_HEX];
    assert_int_equal(ct_cluster_create(&c, "records-raft", 3, 3), 0);
    assert_int_equal(ct_cluster_start(&c, NODE_START_MS, RAFT_LEADER_MS), 0);
    int leader = ct_cluster_wait_leader(&c, RAFT_LEADER_MS);
    assert_true(leader >= 0);
    int follower = ct_cluster_follower(&c, leader);
    assert_true(follower >= 0);

    /* through the follower: register the patient, write a record, read it */
    const char *url = c.node[follower].url;
    char *reg = ct_strf("{\"id\":\"%s\",\"role\":\"patient\"}", ct_pk_hex(&fx.patient, hex));
    assert_int_equal(ct_commit_tx(&c.net, url, &c.net.admin, "member.register", reg, NULL, 0, NULL), 0);
    free(reg);
    random_record_id(rid);
    uint8_t id[CC_RECORD_ID_BYTES], key[CC_DATA_KEY_BYTES], wrapped[CC_WRAPPED_KEY_BYTES], *ct = NULL, d[32];
    size_t ct_len = 0;
    assert_int_equal(cc_unhex(rid, id, sizeof id), CC_OK);
    assert_int_equal(
        cc_record_encrypt((const uint8_t *)fx.fhir[0], strlen(fx.fhir[0]), id, 1, key, &ct, &ct_len, NULL),
        CC_OK);
    assert_int_equal(cc_data_key_wrap(key, fx.patient.pk, wrapped, NULL), CC_OK);
    char *b64 = cc_base64(wrapped, sizeof wrapped), dh[CC_HASH_HEX];
    cc_sha256(ct, ct_len, d);
    char *put =
        ct_strf("{\"record\":\"%s\",\"patient\":\"%s\",\"resourceType\":\"Observation\",\"category\":"
                "\"laboratory\",\"purpose\":\"TREAT\",\"version\":1,\"ciphertext\":\"%s\",\"keys\":{\"%s\":"
                "\"%s\"}}",
                rid, hex, cc_hex(d, 32, dh), hex, b64);
    assert_int_equal(ct_commit_tx(&c.net, url, &fx.patient, "record.put", put, ct, ct_len, NULL), 0);
    free(put);
    free(b64);
    free(ct);

    char *path = ct_strf("/v1/records/%s", rid);
    assert_int_equal(ct_signed_get(url, &fx.patient, path, "purpose=TREAT", 0, NULL, &s), 0);
    if (s.r.status != 200) {
        ct_cluster_dump_logs(&c);
        fail_msg("read through the follower: %ld %s", s.r.status, s.r.body);
    }
    expect_audited(url, &s, true, "granted", &fx.patient);
    expect_decrypts(s.r.json, &fx.patient, fx.fhir[0]);
    /* the leader holds the same audit event */
    expect_audited(c.node[leader].url, &s, true, "granted", &fx.patient);
    ct_signed_resp_free(&s);

    /* no quorum left: the audit event cannot commit, so no data (503) */
    for (int i = 0; i < 3; i++)
        if (i != follower) ct_cluster_stop_node(&c, i, SIGTERM, 20000);
    assert_int_equal(ct_signed_get(url, &fx.patient, path, "purpose=TREAT", 0, NULL, &s), 0);
    if (s.r.status != 503) fail_msg("read without a quorum: %ld %s", s.r.status, s.r.body);
    assert_non_null(strstr(ct_resp_error_message(&s.r), "no audit, no data"));
    assert_null(json_object_get(s.r.json, "ciphertext"));
    expect_not_audited(&s);
    ct_signed_resp_free(&s);
    free(path);
    assert_int_equal(ct_cluster_stop_all(&c, SIGTERM, 20000), 0);
    ct_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest node_tests[] = {
        cmocka_unit_test(test_unauthenticated),           cmocka_unit_test(test_patient_writes_and_reads),
        cmocka_unit_test(test_denied_and_bad_requests),   cmocka_unit_test(test_consent_then_read),
        cmocka_unit_test(test_clinician_writes_versions), cmocka_unit_test(test_break_glass_and_alerts),
        cmocka_unit_test(test_patient_record_lists),      cmocka_unit_test(test_fhir_consents),
        cmocka_unit_test(test_fhir_audit_events),         cmocka_unit_test(test_erased_is_gone),
    };
    const struct CMUnitTest raft_tests[] = {
        cmocka_unit_test(test_follower_read),
    };
    int failed = cmocka_run_group_tests_name("records_api", node_tests, group_setup, group_teardown);
    failed += cmocka_run_group_tests_name("records_api_raft", raft_tests, NULL, NULL);
    return failed;
}
