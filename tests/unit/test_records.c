/*
 * test_records.c — the ledger side of health records: patient.delegate,
 * org.key, record.put, record.erase (with the attachment bytes gone and
 * verify-chain still sound), consent.grant and consent.revoke, audit.access,
 * the access decision read through a cc_chain_view, and the payload rules.
 *
 * Records are encrypted for real (cc_record_encrypt, cc_data_key_wrap), so
 * the tests also show that a reader the ledger wrapped a key for can open
 * the ciphertext it stores.
 */
#include "unit_support.h"

#include "apps/records.h"
#include "carechain/chain.h"
#include "carechain/records.h"

#define T0        1764000100000ULL
#define KEYS      32 /* key numbers 0..31 */
#define RECORDS   16 /* record numbers 1..15 */
#define PLAINTEXT "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"HbA1c\"}}"

/* Key numbers: the genesis gives 1 (node), 2 (hospital admin), 3 (payer
 * admin); setup registers the rest. */
enum {
    NODE = 1,
    HADMIN = 2,
    PADMIN = 3,
    CLIN = 10,       /* clinician, hospital */
    CLIN2 = 11,      /* clinician, payer */
    PAT = 12,        /* patient (registered by the hospital) */
    PAT2 = 13,       /* patient (registered by the payer: of the payer organisation) */
    DELEG = 14,      /* patient role; PAT's delegate where a test registers it */
    STRANGER = 15,   /* patient role, unrelated */
    RESEARCHER = 16, /* researcher, hospital (not a clinician) */
    CLIN3 = 17,      /* clinician, payer */
    UNKNOWN = 30,    /* never registered */
};

typedef struct fixture {
    char *dir, *genesis;
    cc_chain *c;
    cc_key k[KEYS];
    char hex[KEYS][CC_HASH_HEX];
    uint64_t t;
    char msg[CC_RESULT_MSG_MAX + 1];
    uint8_t rec_txid[RECORDS][CC_HASH_BYTES]; /* txid of each record's current version */
    uint8_t rec_hash[RECORDS][CC_HASH_BYTES]; /* its ciphertext hash */
} fixture;

#define EXPECT(code, call)                                                                                   \
    do {                                                                                                     \
        cc_err got_ = (call);                                                                                \
        if (got_ != (code))                                                                                  \
            fail_msg("%s: expected %s, got %s (%s)", #call, cc_err_name(code), cc_err_name(got_), f->msg);   \
    } while (0)

static void rec_id(int n, char out[2 * CC_RECORD_ID_BYTES + 1])
{
    snprintf(out, 2 * CC_RECORD_ID_BYTES + 1, "%032x", n);
}

/* Send one tx (with an optional attachment) in its own block. */
static cc_err send_att(fixture *f, int signer, const char *type, const char *payload, const uint8_t *att,
                       size_t att_len, uint8_t txid[CC_HASH_BYTES])
{
    cc_tx tx;
    cc_result r;
    cc_header h;
    cc_errbuf eb = {""};
    f->t += 10;
    cc_tx_params p = {.chain_id = cc_chain_genesis(f->c)->chain_id,
                      .type = type,
                      .payload = payload,
                      .payload_len = strlen(payload),
                      .created_ms = f->t,
                      .expiry_ms = f->t + 3600 * 1000,
                      .nonce = f->t,
                      .attachment = att,
                      .attachment_len = att_len};
    if (cc_tx_create(&p, &f->k[signer], &tx, &eb) != CC_OK) {
        snprintf(f->msg, sizeof f->msg, "%s", eb.msg);
        return CC_ERR_MALFORMED; /* the payload did not canonicalise */
    }
    if (txid) memcpy(txid, tx.txid, CC_HASH_BYTES);
    if (cc_chain_produce(f->c, &tx, 1, f->t + 1, &f->k[NODE], &h, &r, &eb) != CC_OK)
        fail_msg("produce: %s", eb.msg);
    cc_tx_free(&tx);
    snprintf(f->msg, sizeof f->msg, "%s", r.message);
    return (cc_err)r.code;
}

static cc_err send(fixture *f, int signer, const char *type, const char *payload, uint8_t txid[CC_HASH_BYTES])
{
    return send_att(f, signer, type, payload, NULL, 0, txid);
}

static json_t *state_json(fixture *f, const char *key)
{
    char *v = NULL;
    size_t n;
    if (cc_chain_state_get(f->c, key, &v, &n) != CC_OK) return NULL;
    json_t *o = cc_json_parse((uint8_t *)v, n, NULL);
    free(v);
    return o;
}

static json_t *rec_json(fixture *f, int record)
{
    char key[64], id[33];
    rec_id(record, id);
    snprintf(key, sizeof key, "rec/%s", id);
    return state_json(f, key);
}

static const char *jstr(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(o, field));
}

static void register_as(fixture *f, int admin, int key, const char *role)
{
    char payload[200];
    snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"role\":\"%s\"}", f->hex[key], role);
    EXPECT(CC_OK, send(f, admin, "member.register", payload, NULL));
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = ut_tmpdir();
    f->genesis = ut_genesis();
    char data[600];
    snprintf(data, sizeof data, "%s/data", f->dir);
    assert_int_equal(cc_chain_open(data, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &f->c, NULL),
                     CC_OK);
    for (int i = 0; i < KEYS; i++) {
        ut_key(i, &f->k[i]);
        cc_hex(f->k[i].pk, CC_PUBKEY_BYTES, f->hex[i]);
    }
    f->t = T0;
    register_as(f, HADMIN, CLIN, "clinician");
    register_as(f, PADMIN, CLIN2, "clinician");
    register_as(f, HADMIN, PAT, "patient");
    register_as(f, PADMIN, PAT2, "patient");
    register_as(f, HADMIN, DELEG, "patient");
    register_as(f, HADMIN, STRANGER, "patient");
    register_as(f, HADMIN, RESEARCHER, "researcher");
    register_as(f, PADMIN, CLIN3, "clinician");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cc_chain_close(f->c);
    ut_rmdir(f->dir);
    free(f->genesis);
    free(f);
    return 0;
}

/* ---- building record.put and consent.grant ------------------------------------- */

typedef struct put_args {
    int signer, patient, record, version; /* version 0 means 1 */
    const char *rtype, *cat, *purpose;    /* NULL: Observation, laboratory, TREAT */
    int readers[8];                       /* key numbers to wrap the data key for; 0 ends */
    const uint8_t *replaces;              /* NULL: the record's current txid (version > 1) */
    bool bad_hash, no_attachment;
} put_args;

/* Encrypt a record version and build its record.put tx (not sent). */
static void put_tx(fixture *f, const put_args *a, cc_tx *tx, uint8_t ct_hash[CC_HASH_BYTES])
{
    char id[33], h_hex[CC_HASH_HEX], r_hex[CC_HASH_HEX];
    uint8_t bin[CC_RECORD_ID_BYTES], key[CC_DATA_KEY_BYTES], *ct = NULL, h[CC_HASH_BYTES];
    size_t ct_len = 0;
    int version = a->version ? a->version : 1;
    rec_id(a->record, id);
    assert_int_equal(cc_unhex(id, bin, sizeof bin), CC_OK);
    assert_int_equal(cc_record_encrypt((const uint8_t *)PLAINTEXT, strlen(PLAINTEXT), bin, (uint32_t)version,
                                       key, &ct, &ct_len, NULL),
                     CC_OK);
    cc_sha256(ct, ct_len, h);
    memcpy(ct_hash, h, CC_HASH_BYTES);
    if (a->bad_hash) h[0] ^= 1;
    json_t *keys = json_object();
    for (int i = 0; a->readers[i]; i++) {
        uint8_t w[CC_WRAPPED_KEY_BYTES];
        assert_int_equal(cc_data_key_wrap(key, f->k[a->readers[i]].pk, w, NULL), CC_OK);
        char *b64 = cc_base64(w, sizeof w);
        json_object_set_new(keys, f->hex[a->readers[i]], json_string(b64));
        free(b64);
    }
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:o}", "record", id, "patient",
                          f->hex[a->patient], "resourceType", a->rtype ? a->rtype : "Observation", "category",
                          a->cat ? a->cat : "laboratory", "purpose", a->purpose ? a->purpose : "TREAT",
                          "version", version, "ciphertext", cc_hex(h, CC_HASH_BYTES, h_hex), "keys", keys);
    if (version > 1)
        json_object_set_new(
            p, "replaces",
            json_string(cc_hex(a->replaces ? a->replaces : f->rec_txid[a->record], CC_HASH_BYTES, r_hex)));
    char *s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    f->t += 10;
    cc_tx_params tp = {.chain_id = cc_chain_genesis(f->c)->chain_id,
                       .type = "record.put",
                       .payload = s,
                       .payload_len = strlen(s),
                       .created_ms = f->t,
                       .expiry_ms = f->t + 3600 * 1000,
                       .nonce = f->t,
                       .attachment = a->no_attachment ? NULL : ct,
                       .attachment_len = a->no_attachment ? 0 : ct_len};
    assert_int_equal(cc_tx_create(&tp, &f->k[a->signer], tx, NULL), CC_OK);
    free(s);
    json_decref(p);
    free(ct);
}

/* Put a record version in its own block; remembers its txid and hash. */
static cc_err put(fixture *f, const put_args *a)
{
    cc_tx tx;
    cc_result r;
    cc_header h;
    uint8_t hash[CC_HASH_BYTES];
    put_tx(f, a, &tx, hash);
    assert_int_equal(cc_chain_produce(f->c, &tx, 1, f->t + 1, &f->k[NODE], &h, &r, NULL), CC_OK);
    if (r.code == CC_OK) {
        memcpy(f->rec_txid[a->record], tx.txid, CC_HASH_BYTES);
        memcpy(f->rec_hash[a->record], hash, CC_HASH_BYTES);
    }
    cc_tx_free(&tx);
    snprintf(f->msg, sizeof f->msg, "%s", r.message);
    return (cc_err)r.code;
}

/* The data key of a record's current version, unwrapped by reader from
 * the record's state. */
static void data_key(fixture *f, int record, int reader, uint8_t key[CC_DATA_KEY_BYTES])
{
    json_t *rec = rec_json(f, record);
    const char *b64 = jstr(json_object_get(rec, "keys"), f->hex[reader]);
    uint8_t *w = NULL;
    size_t n = 0;
    assert_non_null(b64);
    assert_int_equal(cc_unbase64(b64, &w, &n), CC_OK);
    assert_int_equal(n, CC_WRAPPED_KEY_BYTES);
    assert_int_equal(cc_data_key_unwrap(w, &f->k[reader], key, NULL), CC_OK);
    free(w);
    json_decref(rec);
}

/* reader opens the stored ciphertext of the record's current version. */
static void assert_reads(fixture *f, int record, int reader)
{
    uint8_t key[CC_DATA_KEY_BYTES], bin[CC_RECORD_ID_BYTES], *ct = NULL, *plain = NULL;
    size_t ct_len = 0, len = 0;
    char id[33];
    json_t *rec = rec_json(f, record);
    rec_id(record, id);
    assert_int_equal(cc_unhex(id, bin, sizeof bin), CC_OK);
    data_key(f, record, reader, key);
    assert_int_equal(cc_chain_attachment(f->c, f->rec_hash[record], &ct, &ct_len), CC_OK);
    assert_int_equal(cc_record_decrypt(ct, ct_len, bin,
                                       (uint32_t)json_integer_value(json_object_get(rec, "version")), key,
                                       &plain, &len, NULL),
                     CC_OK);
    assert_int_equal(len, strlen(PLAINTEXT));
    assert_memory_equal(plain, PLAINTEXT, len);
    free(ct);
    free(plain);
    json_decref(rec);
}

/* A consent.grant payload. grantee: a key number, or 0 with org. extra is
 * spliced in as more fields (",\"scope\":{...}" or ""). recs (0 ends) get
 * their current data key, unwrapped by the patient and re-wrapped for
 * recipient. */
static char *grant_payload(fixture *f, int patient, int grantee, const char *org, const char *actions,
                           const char *purposes, const char *provision, const char *extra, const int *recs,
                           int recipient)
{
    char body[2048];
    if (grantee)
        snprintf(body, sizeof body,
                 "{\"patient\":\"%s\",\"grantee\":{\"identity\":\"%s\"},\"actions\":[%s],\"purposes\":[%s],"
                 "\"provision\":\"%s\"%s}",
                 f->hex[patient], f->hex[grantee], actions, purposes, provision, extra);
    else
        snprintf(body, sizeof body,
                 "{\"patient\":\"%s\",\"grantee\":{\"org\":\"%s\"},\"actions\":[%s],\"purposes\":[%s],"
                 "\"provision\":\"%s\"%s}",
                 f->hex[patient], org, actions, purposes, provision, extra);
    json_t *p = cc_json_parse((const uint8_t *)body, strlen(body), NULL);
    assert_non_null(p);
    if (recs && recs[0]) {
        json_t *keys = json_object();
        for (int i = 0; recs[i]; i++) {
            uint8_t key[CC_DATA_KEY_BYTES], w[CC_WRAPPED_KEY_BYTES];
            char id[33];
            data_key(f, recs[i], patient, key);
            assert_int_equal(cc_data_key_wrap(key, f->k[recipient].pk, w, NULL), CC_OK);
            char *b64 = cc_base64(w, sizeof w);
            rec_id(recs[i], id);
            json_object_set_new(keys, id, json_string(b64));
            free(b64);
        }
        json_object_set_new(p, "keys", keys);
    }
    char *s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(p);
    return s;
}

static cc_err grant(fixture *f, int signer, int patient, int grantee, const char *org, const char *actions,
                    const char *purposes, const char *provision, const char *extra, const int *recs,
                    int recipient, uint8_t txid[CC_HASH_BYTES])
{
    char *s = grant_payload(f, patient, grantee, org, actions, purposes, provision, extra, recs, recipient);
    cc_err rc = send(f, signer, "consent.grant", s, txid);
    free(s);
    return rc;
}

static cc_err revoke_consent(fixture *f, int signer, const uint8_t consent[CC_HASH_BYTES])
{
    char payload[200], hex[CC_HASH_HEX];
    snprintf(payload, sizeof payload, "{\"consent\":\"%s\",\"reason\":\"changed my mind\"}",
             cc_hex(consent, CC_HASH_BYTES, hex));
    return send(f, signer, "consent.revoke", payload, NULL);
}

static cc_err delegate(fixture *f, int patient, int who, bool active)
{
    char payload[200];
    snprintf(payload, sizeof payload, "{\"active\":%s,\"delegate\":\"%s\"}", active ? "true" : "false",
             f->hex[who]);
    return send(f, patient, "patient.delegate", payload, NULL);
}

static cc_err erase(fixture *f, int signer, int record)
{
    char payload[200], id[33];
    rec_id(record, id);
    snprintf(payload, sizeof payload, "{\"reason\":\"patient request\",\"record\":\"%s\"}", id);
    return send(f, signer, "record.erase", payload, NULL);
}

/* The access decision, read through a view at the head (now_ms 0: the
 * view's block time). record 0: the patient's data as a whole. */
static cc_access_decision decide(fixture *f, int requester, int patient, cc_access_action action,
                                 const char *purpose, int record, uint64_t now_ms)
{
    cc_chain_view *v = NULL;
    json_t *rec = NULL;
    cc_access_decision d;
    assert_int_equal(cc_chain_view_open(f->c, &v), CC_OK);
    if (record) {
        char key[64], id[33];
        rec_id(record, id);
        snprintf(key, sizeof key, "rec/%s", id);
        assert_int_equal(cc_chain_view_get_json(v, key, &rec), CC_OK);
    }
    cc_access_request rq = {.patient = f->hex[patient],
                            .action = action,
                            .purpose = purpose,
                            .record = rec,
                            .now_ms = now_ms ? now_ms : cc_chain_view_time(v)};
    memcpy(rq.requester, f->k[requester].pk, CC_PUBKEY_BYTES);
    assert_int_equal(cc_access_decide(cc_chain_view_get_json, v, &rq, &d), CC_OK);
    json_decref(rec);
    cc_chain_view_close(v);
    return d;
}

static bool attachment_present(fixture *f, const uint8_t hash[CC_HASH_BYTES])
{
    uint8_t *b = NULL;
    size_t n = 0;
    cc_err rc = cc_chain_attachment(f->c, hash, &b, &n);
    free(b);
    assert_true(rc == CC_OK || rc == CC_ERR_NOT_FOUND);
    return rc == CC_OK;
}

/* ---- org.key and patient.delegate ---------------------------------------------- */

static void test_org_key(void **state)
{
    fixture *f = *state;
    char payload[200];
    json_t *o = state_json(f, "orgkey/hospital");
    assert_string_equal(jstr(o, "key"), f->hex[HADMIN]); /* genesis: the first admin */
    assert_int_equal(json_integer_value(json_object_get(o, "height")), 0);
    json_decref(o);
    o = state_json(f, "orgkey/payer");
    assert_string_equal(jstr(o, "key"), f->hex[PADMIN]);
    json_decref(o);

    snprintf(payload, sizeof payload, "{\"key\":\"%s\"}", f->hex[CLIN]);
    EXPECT(CC_OK, send(f, HADMIN, "org.key", payload, NULL));
    cc_head head;
    cc_chain_head(f->c, &head);
    o = state_json(f, "orgkey/hospital");
    assert_string_equal(jstr(o, "key"), f->hex[CLIN]);
    assert_int_equal(json_integer_value(json_object_get(o, "height")), head.height);
    json_decref(o);
    EXPECT(CC_ERR_CONFLICT, send(f, HADMIN, "org.key", payload, NULL));  /* already */
    EXPECT(CC_ERR_FORBIDDEN, send(f, PADMIN, "org.key", payload, NULL)); /* another organisation's */
    EXPECT(CC_ERR_FORBIDDEN, send(f, CLIN, "org.key", payload, NULL));   /* admins only */
    snprintf(payload, sizeof payload, "{\"key\":\"%s\"}", f->hex[UNKNOWN]);
    EXPECT(CC_ERR_NOT_FOUND, send(f, HADMIN, "org.key", payload, NULL));
    snprintf(payload, sizeof payload, "{\"id\":\"%s\"}", f->hex[RESEARCHER]);
    EXPECT(CC_OK, send(f, HADMIN, "member.revoke", payload, NULL));
    snprintf(payload, sizeof payload, "{\"key\":\"%s\"}", f->hex[RESEARCHER]);
    EXPECT(CC_ERR_INVALID, send(f, HADMIN, "org.key", payload, NULL)); /* revoked */

    /* a clinician's new record is now wrapped for the new key holder */
    uint8_t c[CC_HASH_BYTES];
    EXPECT(CC_OK, grant(f, PAT, PAT, CLIN, NULL, "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, c));
    EXPECT(CC_ERR_INVALID,
           put(f, &(put_args){.signer = CLIN, .patient = PAT, .record = 1, .readers = {PAT, HADMIN}}));
    EXPECT(CC_OK, put(f, &(put_args){.signer = CLIN, .patient = PAT, .record = 1, .readers = {PAT, CLIN}}));
}

static void test_delegate(void **state)
{
    fixture *f = *state;
    char key[200];
    bool ok = false;
    cc_chain_view *v = NULL;
    EXPECT(CC_OK, delegate(f, PAT, DELEG, true));
    snprintf(key, sizeof key, "delegate/%s/%s", f->hex[PAT], f->hex[DELEG]);
    json_t *o = state_json(f, key);
    assert_true(json_is_true(json_object_get(o, "active")));
    assert_true(json_integer_value(json_object_get(o, "height")) > 0);
    json_decref(o);
    EXPECT(CC_ERR_CONFLICT, delegate(f, PAT, DELEG, true));
    EXPECT(CC_ERR_INVALID, delegate(f, PAT, PAT, true));
    EXPECT(CC_ERR_NOT_FOUND, delegate(f, PAT, UNKNOWN, true));
    EXPECT(CC_ERR_FORBIDDEN, delegate(f, CLIN, DELEG, true)); /* patients only */

    assert_int_equal(cc_chain_view_open(f->c, &v), CC_OK);
    assert_int_equal(
        cc_access_is_patient_or_delegate(cc_chain_view_get_json, v, f->hex[PAT], f->k[DELEG].pk, &ok), CC_OK);
    assert_true(ok);
    assert_int_equal(
        cc_access_is_patient_or_delegate(cc_chain_view_get_json, v, f->hex[PAT], f->k[PAT].pk, &ok), CC_OK);
    assert_true(ok);
    assert_int_equal(
        cc_access_is_patient_or_delegate(cc_chain_view_get_json, v, f->hex[PAT], f->k[STRANGER].pk, &ok),
        CC_OK);
    assert_false(ok);
    /* a delegate acts only for the patient who registered them */
    assert_int_equal(
        cc_access_is_patient_or_delegate(cc_chain_view_get_json, v, f->hex[PAT2], f->k[DELEG].pk, &ok),
        CC_OK);
    assert_false(ok);
    cc_chain_view_close(v);

    EXPECT(CC_OK, delegate(f, PAT, DELEG, false));
    o = state_json(f, key);
    assert_true(json_is_false(json_object_get(o, "active")));
    json_decref(o);
    EXPECT(CC_ERR_CONFLICT, delegate(f, PAT, DELEG, false));
    assert_int_equal(cc_chain_view_open(f->c, &v), CC_OK);
    assert_int_equal(
        cc_access_is_patient_or_delegate(cc_chain_view_get_json, v, f->hex[PAT], f->k[DELEG].pk, &ok), CC_OK);
    assert_false(ok);
    cc_chain_view_close(v);

    /* a delegate whose identity is revoked no longer acts */
    char payload[200];
    EXPECT(CC_OK, delegate(f, PAT, DELEG, true));
    snprintf(payload, sizeof payload, "{\"id\":\"%s\"}", f->hex[DELEG]);
    EXPECT(CC_OK, send(f, HADMIN, "member.revoke", payload, NULL));
    assert_int_equal(cc_chain_view_open(f->c, &v), CC_OK);
    assert_int_equal(
        cc_access_is_patient_or_delegate(cc_chain_view_get_json, v, f->hex[PAT], f->k[DELEG].pk, &ok), CC_OK);
    assert_false(ok);
    cc_chain_view_close(v);
}

/* ---- record.put ------------------------------------------------------------------ */

static void test_put_by_patient(void **state)
{
    fixture *f = *state;
    char id[33], txid[CC_HASH_HEX], hash[CC_HASH_HEX], key[100];
    EXPECT(CC_OK, put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .readers = {PAT}}));
    json_t *rec = rec_json(f, 1);
    rec_id(1, id);
    cc_hex(f->rec_txid[1], CC_HASH_BYTES, txid);
    cc_hex(f->rec_hash[1], CC_HASH_BYTES, hash);
    assert_string_equal(jstr(rec, "record"), id);
    assert_string_equal(jstr(rec, "patient"), f->hex[PAT]);
    assert_string_equal(jstr(rec, "resourceType"), "Observation");
    assert_string_equal(jstr(rec, "category"), "laboratory");
    assert_int_equal(json_integer_value(json_object_get(rec, "version")), 1);
    assert_string_equal(jstr(rec, "txid"), txid);
    assert_string_equal(jstr(rec, "ciphertext"), hash);
    assert_string_equal(jstr(rec, "author"), f->hex[PAT]);
    assert_string_equal(jstr(rec, "org"), ""); /* the patient's own record */
    assert_string_equal(jstr(rec, "status"), "active");
    assert_int_equal(json_integer_value(json_object_get(rec, "created")), f->t + 1);
    assert_int_equal(json_integer_value(json_object_get(rec, "updated")), f->t + 1);
    assert_int_equal(json_object_size(json_object_get(rec, "keys")), 1);
    json_t *versions = json_object_get(rec, "versions");
    assert_int_equal(json_array_size(versions), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(versions, 0), "version")), 1);
    assert_string_equal(jstr(json_array_get(versions, 0), "txid"), txid);
    assert_string_equal(jstr(json_array_get(versions, 0), "ciphertext"), hash);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(versions, 0), "time")), f->t + 1);
    json_decref(rec);
    snprintf(key, sizeof key, "precs/%s", f->hex[PAT]);
    json_t *list = state_json(f, key);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_array_get(list, 0)), id);
    json_decref(list);
    assert_reads(f, 1, PAT);

    EXPECT(CC_ERR_CONFLICT,
           put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .readers = {PAT}}));
    /* another patient's record, extra readers, a missing reader, a non-patient */
    EXPECT(CC_ERR_FORBIDDEN,
           put(f, &(put_args){.signer = PAT, .patient = PAT2, .record = 2, .readers = {PAT2}}));
    EXPECT(CC_ERR_INVALID,
           put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 2, .readers = {PAT, STRANGER}}));
    assert_non_null(strstr(f->msg, "not a reader"));
    EXPECT(CC_ERR_INVALID,
           put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 2, .readers = {PAT, HADMIN}}));
    EXPECT(CC_ERR_INVALID,
           put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 2, .readers = {STRANGER}}));
    assert_non_null(strstr(f->msg, "lacks"));
    EXPECT(CC_ERR_INVALID, put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 2, .readers = {0}}));
    EXPECT(CC_ERR_INVALID,
           put(f, &(put_args){.signer = CLIN, .patient = CLIN2, .record = 2, .readers = {CLIN2}}));
    assert_non_null(strstr(f->msg, "not a patient"));
    /* only clinicians and patients write */
    EXPECT(CC_ERR_FORBIDDEN,
           put(f, &(put_args){.signer = HADMIN, .patient = PAT, .record = 2, .readers = {PAT}}));
    rec = rec_json(f, 2);
    assert_null(rec);
}

static void test_put_by_clinician(void **state)
{
    fixture *f = *state;
    uint8_t deny[CC_HASH_BYTES];
    put_args a = {.signer = CLIN, .patient = PAT, .record = 1, .readers = {PAT, HADMIN}};
    EXPECT(CC_ERR_FORBIDDEN, put(f, &a)); /* no consent */
    assert_non_null(strstr(f->msg, "no consent"));
    /* a read consent is not a write consent */
    EXPECT(CC_OK, grant(f, PAT, PAT, CLIN, NULL, "\"read\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));
    EXPECT(CC_ERR_FORBIDDEN, put(f, &a));
    EXPECT(CC_OK, grant(f, PAT, PAT, CLIN, NULL, "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));
    /* the read consent (to CLIN) makes CLIN a reader too */
    EXPECT(CC_ERR_INVALID, put(f, &a));
    a.readers[2] = CLIN;
    EXPECT(CC_OK, put(f, &a));
    json_t *rec = rec_json(f, 1);
    assert_string_equal(jstr(rec, "author"), f->hex[CLIN]);
    assert_string_equal(jstr(rec, "org"), "hospital");
    json_decref(rec);
    assert_reads(f, 1, HADMIN); /* the organisation's records key holder */
    assert_reads(f, 1, CLIN);
    assert_reads(f, 1, PAT);

    /* without the organisation's key; with a stranger's; for another purpose */
    EXPECT(CC_ERR_INVALID,
           put(f, &(put_args){.signer = CLIN, .patient = PAT, .record = 2, .readers = {PAT, CLIN}}));
    EXPECT(
        CC_ERR_INVALID,
        put(f, &(put_args){
                   .signer = CLIN, .patient = PAT, .record = 2, .readers = {PAT, CLIN, HADMIN, STRANGER}}));
    EXPECT(CC_ERR_FORBIDDEN, put(f, &(put_args){.signer = CLIN,
                                                .patient = PAT,
                                                .record = 2,
                                                .purpose = "HPAYMT",
                                                .readers = {PAT, CLIN, HADMIN}}));
    assert_non_null(strstr(f->msg, "HPAYMT"));

    /* organisation-level: the payer's clinicians write with a consent to the payer */
    put_args b = {.signer = CLIN2, .patient = PAT, .record = 3, .readers = {PAT, CLIN, PADMIN}};
    EXPECT(CC_ERR_FORBIDDEN, put(f, &b));
    EXPECT(CC_OK, grant(f, PAT, PAT, 0, "payer", "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));
    EXPECT(CC_OK, put(f, &b));
    /* a deny to the organisation wins over its permit */
    EXPECT(CC_OK, grant(f, PAT, PAT, 0, "payer", "\"write\"", "\"TREAT\"", "deny", "", NULL, 0, deny));
    b.record = 4;
    EXPECT(CC_ERR_FORBIDDEN, put(f, &b));
    assert_non_null(strstr(f->msg, "denies"));
    EXPECT(CC_OK, revoke_consent(f, PAT, deny));
    EXPECT(CC_OK, put(f, &b));

    /* a scoped write consent covers only its categories */
    EXPECT(CC_OK, grant(f, PAT2, PAT2, CLIN, NULL, "\"write\"", "\"TREAT\"", "permit",
                        ",\"scope\":{\"categories\":[\"imaging\"]}", NULL, 0, NULL));
    EXPECT(CC_ERR_FORBIDDEN,
           put(f, &(put_args){.signer = CLIN, .patient = PAT2, .record = 5, .readers = {PAT2, HADMIN}}));
    EXPECT(
        CC_OK,
        put(f,
            &(put_args){
                .signer = CLIN, .patient = PAT2, .record = 5, .cat = "imaging", .readers = {PAT2, HADMIN}}));
    /* ... and cannot move a record out of them */
    EXPECT(CC_ERR_FORBIDDEN, put(f, &(put_args){.signer = CLIN,
                                                .patient = PAT2,
                                                .record = 5,
                                                .version = 2,
                                                .cat = "laboratory",
                                                .readers = {PAT2, HADMIN}}));
}

static void test_put_versions(void **state)
{
    fixture *f = *state;
    uint8_t v1[CC_HASH_BYTES], junk[CC_HASH_BYTES];
    EXPECT(CC_OK, put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .readers = {PAT}}));
    memcpy(v1, f->rec_txid[1], CC_HASH_BYTES);
    json_t *rec = rec_json(f, 1);
    json_int_t created = json_integer_value(json_object_get(rec, "created"));
    json_decref(rec);
    memset(junk, 0x5a, sizeof junk);

    EXPECT(CC_ERR_CONFLICT, put(f, &(put_args){.signer = PAT,
                                               .patient = PAT,
                                               .record = 1,
                                               .version = 2,
                                               .replaces = junk,
                                               .readers = {PAT}}));
    assert_non_null(strstr(f->msg, "replaces"));
    EXPECT(
        CC_ERR_NOT_FOUND,
        put(f,
            &(put_args){
                .signer = PAT, .patient = PAT, .record = 9, .version = 2, .replaces = v1, .readers = {PAT}}));
    EXPECT(CC_ERR_ATTACHMENT, put(f, &(put_args){.signer = PAT,
                                                 .patient = PAT,
                                                 .record = 1,
                                                 .version = 2,
                                                 .bad_hash = true,
                                                 .readers = {PAT}}));
    EXPECT(CC_ERR_ATTACHMENT, put(f, &(put_args){.signer = PAT,
                                                 .patient = PAT,
                                                 .record = 1,
                                                 .version = 2,
                                                 .no_attachment = true,
                                                 .readers = {PAT}}));
    EXPECT(CC_ERR_INVALID, put(f, &(put_args){.signer = PAT,
                                              .patient = PAT,
                                              .record = 1,
                                              .version = 2,
                                              .rtype = "Condition",
                                              .readers = {PAT}}));
    /* the patient cannot change (a clinician tries: the rule holds before consent) */
    EXPECT(
        CC_ERR_INVALID,
        put(f, &(put_args){
                   .signer = CLIN, .patient = PAT2, .record = 1, .version = 2, .readers = {PAT2, HADMIN}}));
    assert_non_null(strstr(f->msg, "patient"));

    EXPECT(CC_OK, put(f, &(put_args){.signer = PAT,
                                     .patient = PAT,
                                     .record = 1,
                                     .version = 2,
                                     .cat = "vital-signs",
                                     .readers = {PAT}}));
    rec = rec_json(f, 1);
    assert_int_equal(json_integer_value(json_object_get(rec, "version")), 2);
    assert_string_equal(jstr(rec, "category"), "vital-signs");
    assert_int_equal(json_integer_value(json_object_get(rec, "created")), created);
    assert_true(json_integer_value(json_object_get(rec, "updated")) > created);
    assert_int_equal(json_array_size(json_object_get(rec, "versions")), 2);
    json_decref(rec);
    assert_reads(f, 1, PAT);
    char key[100];
    snprintf(key, sizeof key, "precs/%s", f->hex[PAT]);
    json_t *list = state_json(f, key);
    assert_int_equal(json_array_size(list), 1); /* a new version is not a new record */
    json_decref(list);

    /* version 2 again (replacing version 1), skipping to 4, version 1 again */
    EXPECT(
        CC_ERR_CONFLICT,
        put(f,
            &(put_args){
                .signer = PAT, .patient = PAT, .record = 1, .version = 2, .replaces = v1, .readers = {PAT}}));
    EXPECT(CC_ERR_CONFLICT,
           put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .version = 4, .readers = {PAT}}));
    EXPECT(CC_ERR_CONFLICT,
           put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .readers = {PAT}}));
    EXPECT(CC_OK,
           put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .version = 3, .readers = {PAT}}));
}

/* ---- consent.grant and consent.revoke ---------------------------------------------- */

static void test_grant(void **state)
{
    fixture *f = *state;
    uint8_t c1[CC_HASH_BYTES];
    char hex[CC_HASH_HEX], key[160], extra[200];
    const char *lab = ",\"scope\":{\"categories\":[\"laboratory\"]}";
    EXPECT(CC_OK, put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .readers = {PAT}}));
    EXPECT(CC_OK, put(f, &(put_args){.signer = PAT,
                                     .patient = PAT,
                                     .record = 2,
                                     .rtype = "Condition",
                                     .cat = "problem-list",
                                     .readers = {PAT}}));

    /* a read permit for laboratory results: the key of record 1 only */
    EXPECT(CC_ERR_INVALID, grant(f, PAT, PAT, CLIN, NULL, "\"read\"", "\"TREAT\"", "permit", lab,
                                 (int[]){1, 2, 0}, CLIN, NULL));
    assert_non_null(strstr(f->msg, "does not cover") || strstr(f->msg, "not an active record"));
    EXPECT(CC_ERR_INVALID,
           grant(f, PAT, PAT, CLIN, NULL, "\"read\"", "\"TREAT\"", "permit", lab, NULL, 0, NULL));
    assert_non_null(strstr(f->msg, "lacks"));
    EXPECT(CC_OK,
           grant(f, PAT, PAT, CLIN, NULL, "\"read\"", "\"TREAT\"", "permit", lab, (int[]){1, 0}, CLIN, c1));
    assert_reads(f, 1, CLIN); /* the grantee opens the record with the key the grant added */
    json_t *rec = rec_json(f, 2);
    assert_null(json_object_get(json_object_get(rec, "keys"), f->hex[CLIN]));
    json_decref(rec);
    snprintf(key, sizeof key, "consent/%s", cc_hex(c1, CC_HASH_BYTES, hex));
    json_t *c = state_json(f, key);
    assert_string_equal(jstr(c, "id"), hex);
    assert_string_equal(jstr(c, "status"), "active");
    assert_string_equal(jstr(c, "granted_by"), f->hex[PAT]);
    assert_string_equal(jstr(c, "patient"), f->hex[PAT]);
    assert_string_equal(jstr(c, "provision"), "permit");
    assert_string_equal(jstr(json_object_get(c, "grantee"), "identity"), f->hex[CLIN]);
    assert_true(json_is_integer(json_object_get(c, "granted_at")));
    assert_true(json_is_integer(json_object_get(c, "height")));
    assert_null(json_object_get(c, "keys")); /* the keys went to the records */
    assert_non_null(json_object_get(c, "scope"));
    json_decref(c);
    snprintf(key, sizeof key, "pconsents/%s", f->hex[PAT]);
    json_t *list = state_json(f, key);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_array_get(list, 0)), hex);
    json_decref(list);

    /* no scope: every record, so both keys */
    EXPECT(CC_ERR_INVALID, grant(f, PAT, PAT, CLIN2, NULL, "\"read\"", "\"TREAT\"", "permit", "",
                                 (int[]){1, 0}, CLIN2, NULL));
    EXPECT(CC_OK, grant(f, PAT, PAT, CLIN2, NULL, "\"read\"", "\"TREAT\"", "permit", "", (int[]){1, 2, 0},
                        CLIN2, NULL));
    assert_reads(f, 2, CLIN2);
    /* a deny carries no keys */
    EXPECT(CC_ERR_INVALID, grant(f, PAT, PAT, CLIN3, NULL, "\"read\"", "\"TREAT\"", "deny", "",
                                 (int[]){1, 2, 0}, CLIN3, NULL));
    EXPECT(CC_OK, grant(f, PAT, PAT, CLIN3, NULL, "\"read\"", "\"TREAT\"", "deny", "", NULL, 0, NULL));
    /* an organisation grantee: the keys go to its records key holder */
    EXPECT(CC_OK, grant(f, PAT, PAT, 0, "payer", "\"read\"", "\"HPAYMT\"", "permit", "", (int[]){1, 2, 0},
                        PADMIN, NULL));
    assert_reads(f, 2, PADMIN);
    EXPECT(CC_ERR_NOT_FOUND,
           grant(f, PAT, PAT, 0, "nowhere", "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));
    EXPECT(CC_ERR_NOT_FOUND,
           grant(f, PAT, PAT, UNKNOWN, NULL, "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));
    EXPECT(CC_ERR_INVALID,
           grant(f, PAT, PAT, PAT, NULL, "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));
    /* a period that ended before the block */
    snprintf(extra, sizeof extra, ",\"period\":{\"until\":%llu}", (unsigned long long)(f->t - 5000));
    EXPECT(CC_ERR_INVALID,
           grant(f, PAT, PAT, CLIN, NULL, "\"write\"", "\"TREAT\"", "permit", extra, NULL, 0, NULL));
    assert_non_null(strstr(f->msg, "ended"));
    /* the patient or a delegate grants; nobody else */
    EXPECT(CC_ERR_FORBIDDEN,
           grant(f, STRANGER, PAT, CLIN, NULL, "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));
    EXPECT(CC_ERR_FORBIDDEN,
           grant(f, DELEG, PAT, CLIN, NULL, "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));
    EXPECT(CC_OK, delegate(f, PAT, DELEG, true));
    EXPECT(CC_OK, grant(f, DELEG, PAT, CLIN, NULL, "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, c1));
    snprintf(key, sizeof key, "consent/%s", cc_hex(c1, CC_HASH_BYTES, hex));
    c = state_json(f, key);
    assert_string_equal(jstr(c, "granted_by"), f->hex[DELEG]);
    json_decref(c);
    /* a grant to a patient identity that is not a patient's own: the patient field must be a patient */
    EXPECT(CC_ERR_INVALID,
           grant(f, CLIN, CLIN, CLIN2, NULL, "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));

    /* read permits make their grantees readers of new versions and records */
    EXPECT(CC_ERR_INVALID,
           put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .version = 2, .readers = {PAT}}));
    EXPECT(CC_OK, put(f, &(put_args){.signer = PAT,
                                     .patient = PAT,
                                     .record = 1,
                                     .version = 2,
                                     .readers = {PAT, CLIN, CLIN2, PADMIN}}));
    EXPECT(CC_OK, put(f, &(put_args){.signer = PAT,
                                     .patient = PAT,
                                     .record = 3,
                                     .cat = "imaging",
                                     .readers = {PAT, CLIN2, PADMIN}})); /* CLIN's scope is laboratory */
}

static void test_revoke(void **state)
{
    fixture *f = *state;
    uint8_t c1[CC_HASH_BYTES], c2[CC_HASH_BYTES], junk[CC_HASH_BYTES];
    char key[160], hex[CC_HASH_HEX];
    EXPECT(CC_OK, grant(f, PAT, PAT, CLIN, NULL, "\"read\"", "\"TREAT\"", "permit", "", NULL, 0, c1));
    /* while it is active, CLIN is a reader of the patient's new records */
    EXPECT(CC_ERR_INVALID, put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .readers = {PAT}}));
    EXPECT(CC_ERR_FORBIDDEN, revoke_consent(f, STRANGER, c1));
    EXPECT(CC_ERR_FORBIDDEN, revoke_consent(f, CLIN, c1)); /* not even the grantee */
    EXPECT(CC_OK, revoke_consent(f, PAT, c1));
    snprintf(key, sizeof key, "consent/%s", cc_hex(c1, CC_HASH_BYTES, hex));
    json_t *c = state_json(f, key);
    assert_string_equal(jstr(c, "status"), "revoked");
    assert_string_equal(jstr(c, "revoked_by"), f->hex[PAT]);
    assert_string_equal(jstr(c, "revoke_reason"), "changed my mind");
    assert_int_equal(json_integer_value(json_object_get(c, "revoked_at")), f->t + 1);
    json_decref(c);
    EXPECT(CC_ERR_CONFLICT, revoke_consent(f, PAT, c1));
    memset(junk, 0x11, sizeof junk);
    EXPECT(CC_ERR_NOT_FOUND, revoke_consent(f, PAT, junk));
    EXPECT(CC_OK, put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .readers = {PAT}}));

    /* a delegate revokes on the patient's behalf */
    EXPECT(CC_OK, delegate(f, PAT, DELEG, true));
    EXPECT(CC_OK, grant(f, PAT, PAT, CLIN2, NULL, "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, c2));
    EXPECT(CC_OK, revoke_consent(f, DELEG, c2));
    snprintf(key, sizeof key, "consent/%s", cc_hex(c2, CC_HASH_BYTES, hex));
    c = state_json(f, key);
    assert_string_equal(jstr(c, "revoked_by"), f->hex[DELEG]);
    json_decref(c);
    EXPECT(CC_ERR_FORBIDDEN,
           put(f, &(put_args){.signer = CLIN2, .patient = PAT, .record = 2, .readers = {PAT, PADMIN}}));

    /* revoking a read permit takes the grantee's key off the records, unless
     * another consent still covers them */
    uint8_t c3[CC_HASH_BYTES], c4[CC_HASH_BYTES];
    EXPECT(CC_OK,
           grant(f, PAT, PAT, CLIN3, NULL, "\"read\"", "\"TREAT\"", "permit", "", (int[]){1, 0}, CLIN3, c3));
    EXPECT(CC_OK,
           grant(f, PAT, PAT, CLIN3, NULL, "\"read\"", "\"HPAYMT\"", "permit", "", (int[]){1, 0}, CLIN3, c4));
    EXPECT(CC_OK, revoke_consent(f, PAT, c3));
    json_t *rec = rec_json(f, 1);
    assert_non_null(json_object_get(json_object_get(rec, "keys"), f->hex[CLIN3])); /* c4 still covers */
    json_decref(rec);
    EXPECT(CC_OK, revoke_consent(f, PAT, c4));
    rec = rec_json(f, 1);
    assert_null(json_object_get(json_object_get(rec, "keys"), f->hex[CLIN3]));
    assert_non_null(json_object_get(json_object_get(rec, "keys"), f->hex[PAT])); /* the patient's stays */
    json_decref(rec);
}

/* A revoked identity is never a reader: its key may be compromised. */
static void test_revoked_readers(void **state)
{
    fixture *f = *state;
    char payload[200];
    EXPECT(CC_OK, grant(f, PAT, PAT, CLIN2, NULL, "\"read\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));
    EXPECT(CC_ERR_INVALID, put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .readers = {PAT}}));
    snprintf(payload, sizeof payload, "{\"id\":\"%s\"}", f->hex[CLIN2]);
    EXPECT(CC_OK, send(f, PADMIN, "member.revoke", payload, NULL));
    EXPECT(CC_ERR_INVALID,
           put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .readers = {PAT, CLIN2}}));
    EXPECT(CC_OK, put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .readers = {PAT}}));
    /* an organisation whose records key holder was revoked takes no read permits */
    snprintf(payload, sizeof payload, "{\"key\":\"%s\"}", f->hex[CLIN3]);
    EXPECT(CC_OK, send(f, PADMIN, "org.key", payload, NULL));
    snprintf(payload, sizeof payload, "{\"id\":\"%s\"}", f->hex[CLIN3]);
    EXPECT(CC_OK, send(f, PADMIN, "member.revoke", payload, NULL));
    EXPECT(CC_ERR_INVALID,
           grant(f, PAT, PAT, 0, "payer", "\"read\"", "\"TREAT\"", "permit", "", (int[]){1, 0}, CLIN3, NULL));
    assert_non_null(strstr(f->msg, "not active"));
    EXPECT(CC_OK, grant(f, PAT, PAT, 0, "payer", "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));
}

/* ---- the access decision ---------------------------------------------------------- */

static void test_access_matrix(void **state)
{
    fixture *f = *state;
    uint8_t c_read[CC_HASH_BYTES], c_deny[CC_HASH_BYTES], c_org[CC_HASH_BYTES];
    char hex[CC_HASH_HEX], extra[200], payload[200];
    cc_access_decision d;
    const uint64_t until = T0 + 1000000000ULL, from = T0 + 2000000000ULL;

    EXPECT(CC_OK, grant(f, PAT, PAT, CLIN, NULL, "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));
    EXPECT(CC_OK, put(f, &(put_args){.signer = CLIN, .patient = PAT, .record = 1, .readers = {PAT, HADMIN}}));

    d = decide(f, PAT, PAT, CC_ACCESS_READ, "TREAT", 1, 0);
    assert_true(d.permit);
    assert_string_equal(d.via, "patient");
    assert_string_equal(d.key_holder, f->hex[PAT]);
    d = decide(f, UNKNOWN, PAT, CC_ACCESS_READ, "TREAT", 1, 0);
    assert_false(d.permit);
    assert_non_null(strstr(d.reason, "not a registered identity"));
    d = decide(f, CLIN2, PAT, CC_ACCESS_READ, "TREAT", 1, 0);
    assert_false(d.permit);
    assert_non_null(strstr(d.reason, "no consent"));
    /* break-glass: a clinician whose organisation's key is on the record */
    d = decide(f, CLIN, PAT, CC_ACCESS_READ, "ETREAT", 1, 0);
    assert_true(d.permit);
    assert_true(d.emergency);
    assert_string_equal(d.via, "break-glass");
    assert_string_equal(d.key_holder, f->hex[HADMIN]);
    d = decide(f, CLIN2, PAT, CC_ACCESS_READ, "ETREAT", 1, 0); /* no key of the payer's on it */
    assert_false(d.permit);
    assert_false(d.emergency);
    d = decide(f, HADMIN, PAT, CC_ACCESS_READ, "ETREAT", 1, 0); /* not a clinician */
    assert_false(d.permit);
    assert_non_null(strstr(d.reason, "clinicians"));
    d = decide(f, RESEARCHER, PAT, CC_ACCESS_READ, "ETREAT", 1, 0);
    assert_false(d.permit);
    d = decide(f, CLIN, PAT, CC_ACCESS_WRITE, "ETREAT", 1, 0); /* no break-glass writes */
    assert_false(d.permit);

    /* a read permit, until a time */
    snprintf(extra, sizeof extra, ",\"period\":{\"until\":%llu}", (unsigned long long)until);
    EXPECT(CC_OK, grant(f, PAT, PAT, CLIN2, NULL, "\"read\"", "\"TREAT\"", "permit", extra, (int[]){1, 0},
                        CLIN2, c_read));
    cc_hex(c_read, CC_HASH_BYTES, hex);
    d = decide(f, CLIN2, PAT, CC_ACCESS_READ, "TREAT", 1, 0);
    assert_true(d.permit);
    assert_false(d.emergency);
    assert_string_equal(d.via, "consent");
    assert_string_equal(d.consent, hex);
    assert_string_equal(d.key_holder, f->hex[CLIN2]);
    d = decide(f, CLIN2, PAT, CC_ACCESS_READ, "HPAYMT", 1, 0);
    assert_false(d.permit);
    assert_non_null(strstr(d.reason, "does not cover purpose HPAYMT"));
    assert_string_equal(d.consent, hex);
    d = decide(f, CLIN2, PAT, CC_ACCESS_READ, "TREAT", 1, until);
    assert_false(d.permit);
    assert_non_null(strstr(d.reason, "expired"));
    d = decide(f, CLIN2, PAT, CC_ACCESS_READ, "TREAT", 1, until - 1);
    assert_true(d.permit);
    d = decide(f, CLIN2, PAT, CC_ACCESS_READ, "TREAT", 0, 0); /* the patient's data as a whole */
    assert_true(d.permit);
    d = decide(f, CLIN2, PAT, CC_ACCESS_WRITE, "TREAT", 1, 0); /* read is not write */
    assert_false(d.permit);
    d = decide(f, CLIN2, PAT2, CC_ACCESS_READ, "TREAT", 0, 0); /* another patient */
    assert_false(d.permit);

    /* a permit that starts later */
    snprintf(extra, sizeof extra, ",\"period\":{\"from\":%llu}", (unsigned long long)from);
    EXPECT(CC_OK, grant(f, PAT, PAT, RESEARCHER, NULL, "\"read\"", "\"HRESCH\"", "permit", extra,
                        (int[]){1, 0}, RESEARCHER, NULL));
    d = decide(f, RESEARCHER, PAT, CC_ACCESS_READ, "HRESCH", 1, 0);
    assert_false(d.permit);
    assert_non_null(strstr(d.reason, "not valid until"));
    d = decide(f, RESEARCHER, PAT, CC_ACCESS_READ, "HRESCH", 1, from);
    assert_true(d.permit);
    assert_string_equal(d.key_holder, f->hex[RESEARCHER]);

    /* a denial names the consent that came closest: the one for the purpose asked */
    uint8_t c_oper[CC_HASH_BYTES];
    snprintf(extra, sizeof extra, ",\"period\":{\"until\":%llu}", (unsigned long long)until);
    EXPECT(CC_OK, grant(f, PAT, PAT, RESEARCHER, NULL, "\"read\"", "\"HOPERAT\"", "permit", extra,
                        (int[]){1, 0}, RESEARCHER, c_oper));
    d = decide(f, RESEARCHER, PAT, CC_ACCESS_READ, "HOPERAT", 1, until + 1);
    assert_false(d.permit);
    assert_non_null(strstr(d.reason, "expired"));
    assert_string_equal(d.consent, cc_hex(c_oper, CC_HASH_BYTES, hex));
    d = decide(f, RESEARCHER, PAT, CC_ACCESS_READ, "HRESCH", 1, until + 1);
    assert_false(d.permit);
    assert_non_null(strstr(d.reason, "not valid until"));
    assert_string_not_equal(d.consent, hex);

    /* deny wins */
    EXPECT(CC_OK,
           grant(f, PAT, PAT, CLIN2, NULL, "\"read\"", "\"TREAT\",\"ETREAT\"", "deny", "", NULL, 0, c_deny));
    d = decide(f, CLIN2, PAT, CC_ACCESS_READ, "TREAT", 1, 0);
    assert_false(d.permit);
    assert_string_equal(d.consent, cc_hex(c_deny, CC_HASH_BYTES, hex));
    assert_non_null(strstr(d.reason, "denies"));
    /* revoked: the deny, then the permit */
    EXPECT(CC_OK, revoke_consent(f, PAT, c_deny));
    d = decide(f, CLIN2, PAT, CC_ACCESS_READ, "TREAT", 1, 0);
    assert_true(d.permit);
    EXPECT(CC_OK, revoke_consent(f, PAT, c_read));
    d = decide(f, CLIN2, PAT, CC_ACCESS_READ, "TREAT", 1, 0);
    assert_false(d.permit);
    assert_non_null(strstr(d.reason, "revoked"));
    assert_string_equal(d.consent, cc_hex(c_read, CC_HASH_BYTES, hex));

    /* organisation-level: any of its members but patients; the organisation's key is served */
    EXPECT(CC_OK, grant(f, PAT, PAT, 0, "payer", "\"read\"", "\"HOPERAT\"", "permit", "", (int[]){1, 0},
                        PADMIN, c_org));
    d = decide(f, CLIN3, PAT, CC_ACCESS_READ, "HOPERAT", 1, 0);
    assert_true(d.permit);
    assert_string_equal(d.via, "consent");
    assert_string_equal(d.consent, cc_hex(c_org, CC_HASH_BYTES, hex));
    assert_string_equal(d.key_holder, f->hex[PADMIN]);
    d = decide(f, PAT2, PAT, CC_ACCESS_READ, "HOPERAT", 1, 0); /* a patient of the payer's */
    assert_false(d.permit);
    d = decide(f, CLIN, PAT, CC_ACCESS_READ, "HOPERAT", 1, 0); /* the hospital is not the payer */
    assert_false(d.permit);

    /* the readers a new version needs: the patient, the author's organisation, and every
     * read permit not revoked and not expired (the pending one too) */
    cc_chain_view *v = NULL;
    json_t *readers = NULL;
    char id[33];
    rec_id(1, id);
    assert_int_equal(cc_chain_view_open(f->c, &v), CC_OK);
    assert_int_equal(cc_records_required_readers(cc_chain_view_get_json, v, f->hex[PAT], id, "Observation",
                                                 "laboratory", "hospital", cc_chain_view_time(v), &readers,
                                                 NULL),
                     CC_OK);
    cc_chain_view_close(v);
    const char *want[] = {f->hex[PAT], f->hex[HADMIN], f->hex[RESEARCHER], f->hex[PADMIN]};
    assert_int_equal(json_array_size(readers), 4);
    for (size_t i = 0; i < 4; i++) {
        bool found = false;
        for (size_t j = 0; j < 4; j++)
            found = found || strcmp(json_string_value(json_array_get(readers, j)), want[i]) == 0;
        assert_true(found);
    }
    for (size_t j = 1; j < 4; j++)
        assert_true(strcmp(json_string_value(json_array_get(readers, j - 1)),
                           json_string_value(json_array_get(readers, j))) < 0);
    json_decref(readers);

    /* a revoked requester is refused, break-glass or not */
    snprintf(payload, sizeof payload, "{\"id\":\"%s\"}", f->hex[CLIN]);
    EXPECT(CC_OK, send(f, HADMIN, "member.revoke", payload, NULL));
    d = decide(f, CLIN, PAT, CC_ACCESS_READ, "ETREAT", 1, 0);
    assert_false(d.permit);
    assert_non_null(strstr(d.reason, "revoked"));
}

/* A view reads one height, whatever commits meanwhile. */
static void test_view_is_consistent(void **state)
{
    fixture *f = *state;
    cc_chain_view *v = NULL;
    json_t *o = NULL;
    char key[200];
    cc_head head;
    cc_chain_head(f->c, &head);
    snprintf(key, sizeof key, "delegate/%s/%s", f->hex[PAT], f->hex[DELEG]);
    assert_int_equal(cc_chain_view_open(f->c, &v), CC_OK);
    assert_int_equal(cc_chain_view_height(v), head.height);
    assert_int_equal(cc_chain_view_time(v), head.time_ms);
    EXPECT(CC_OK, delegate(f, PAT, DELEG, true));
    assert_int_equal(cc_chain_view_get_json(v, key, &o), CC_ERR_NOT_FOUND);
    assert_int_equal(cc_chain_view_height(v), head.height);
    cc_chain_view_close(v);
    assert_int_equal(cc_chain_view_open(f->c, &v), CC_OK);
    assert_int_equal(cc_chain_view_height(v), head.height + 1);
    assert_int_equal(cc_chain_view_get_json(v, key, &o), CC_OK);
    assert_true(json_is_true(json_object_get(o, "active")));
    json_decref(o);
    cc_chain_view_close(v);
}

/* ---- record.erase -------------------------------------------------------------------- */

static void test_erase(void **state)
{
    fixture *f = *state;
    uint8_t v1[CC_HASH_BYTES], v2[CC_HASH_BYTES];
    EXPECT(CC_OK, delegate(f, PAT, DELEG, true));
    EXPECT(CC_OK, grant(f, PAT, PAT, CLIN, NULL, "\"write\"", "\"TREAT\"", "permit", "", NULL, 0, NULL));
    EXPECT(CC_OK, put(f, &(put_args){.signer = CLIN, .patient = PAT, .record = 1, .readers = {PAT, HADMIN}}));
    memcpy(v1, f->rec_hash[1], CC_HASH_BYTES);
    EXPECT(CC_OK,
           put(f, &(put_args){
                      .signer = CLIN, .patient = PAT, .record = 1, .version = 2, .readers = {PAT, HADMIN}}));
    memcpy(v2, f->rec_hash[1], CC_HASH_BYTES);
    for (int r = 2; r <= 4; r++)
        EXPECT(CC_OK, put(f, &(put_args){.signer = PAT, .patient = PAT, .record = r, .readers = {PAT}}));
    assert_true(attachment_present(f, v1) && attachment_present(f, v2));

    EXPECT(CC_ERR_FORBIDDEN, erase(f, STRANGER, 1));
    EXPECT(CC_ERR_FORBIDDEN, erase(f, PADMIN, 1)); /* not the authoring organisation */
    EXPECT(CC_ERR_FORBIDDEN, erase(f, CLIN2, 1));
    EXPECT(CC_ERR_NOT_FOUND, erase(f, PAT, 9));
    assert_true(attachment_present(f, v1) && attachment_present(f, v2)); /* refused: nothing erased */

    EXPECT(CC_OK, erase(f, HADMIN, 1)); /* an admin of the authoring organisation */
    assert_false(attachment_present(f, v1));
    assert_false(attachment_present(f, v2));
    json_t *rec = rec_json(f, 1);
    assert_string_equal(jstr(rec, "status"), "erased");
    assert_int_equal(json_object_size(json_object_get(rec, "keys")), 0);
    assert_int_equal(json_integer_value(json_object_get(rec, "erased_at")), f->t + 1);
    assert_string_equal(jstr(rec, "erased_by"), f->hex[HADMIN]);
    assert_int_equal(json_array_size(json_object_get(rec, "versions")), 2); /* the metadata stays */
    json_decref(rec);
    EXPECT(CC_ERR_GONE, erase(f, PAT, 1));
    EXPECT(CC_ERR_GONE,
           put(f, &(put_args){.signer = PAT, .patient = PAT, .record = 1, .version = 3, .readers = {PAT}}));

    EXPECT(CC_OK, erase(f, PAT, 2));   /* the patient */
    EXPECT(CC_OK, erase(f, DELEG, 3)); /* a delegate */
    assert_false(attachment_present(f, f->rec_hash[2]));
    assert_false(attachment_present(f, f->rec_hash[3]));
    assert_true(attachment_present(f, f->rec_hash[4]));
    /* an erased record is not one a read permit needs a key for */
    EXPECT(CC_OK, grant(f, PAT, PAT, CLIN2, NULL, "\"read\"", "\"TREAT\"", "permit", "", (int[]){4, 0}, CLIN2,
                        NULL));

    /* one block: put a record, then erase it; and a refused erase of another */
    cc_tx txs[3];
    cc_result r[3];
    cc_header h;
    uint8_t hash5[CC_HASH_BYTES], hash6[CC_HASH_BYTES];
    char payload[200], id[33];
    put_tx(f, &(put_args){.signer = PAT, .patient = PAT, .record = 5, .readers = {PAT, CLIN2}}, &txs[0],
           hash5);
    rec_id(5, id);
    snprintf(payload, sizeof payload, "{\"reason\":\"mistake\",\"record\":\"%s\"}", id);
    ut_tx(&txs[1], cc_chain_genesis(f->c)->chain_id, &f->k[PAT], "record.erase", payload, f->t, 1);
    put_tx(f, &(put_args){.signer = PAT, .patient = PAT, .record = 6, .readers = {PAT, CLIN2}}, &txs[2],
           hash6);
    assert_int_equal(cc_chain_produce(f->c, txs, 3, f->t + 1, &f->k[NODE], &h, r, NULL), CC_OK);
    assert_int_equal(r[0].code, CC_OK);
    assert_int_equal(r[1].code, CC_OK);
    assert_int_equal(r[2].code, CC_OK);
    for (int i = 0; i < 3; i++) cc_tx_free(&txs[i]);
    assert_false(attachment_present(f, hash5));
    assert_true(attachment_present(f, hash6));
    f->t += 10;
    rec_id(6, id);
    snprintf(payload, sizeof payload, "{\"reason\":\"not mine\",\"record\":\"%s\"}", id);
    ut_tx(&txs[0], cc_chain_genesis(f->c)->chain_id, &f->k[STRANGER], "record.erase", payload, f->t, 2);
    assert_int_equal(cc_chain_produce(f->c, txs, 1, f->t + 1, &f->k[NODE], &h, r, NULL), CC_OK);
    assert_int_equal(r[0].code, CC_ERR_FORBIDDEN);
    cc_tx_free(&txs[0]);
    assert_true(attachment_present(f, hash6)); /* a failed tx erases nothing */

    /* the chain still verifies without the erased bytes */
    cc_head before;
    cc_chain_head(f->c, &before);
    cc_chain_close(f->c);
    f->c = NULL;
    char data[600], *scratch = ut_tmpdir();
    cc_verify_report rep;
    cc_errbuf eb = {""};
    snprintf(data, sizeof data, "%s/data", f->dir);
    cc_err rc = cc_chain_verify(data, (uint8_t *)f->genesis, strlen(f->genesis), scratch, &rep, &eb);
    ut_rmdir(scratch);
    if (rc != CC_OK) fail_msg("verify-chain: %s", eb.msg);
    assert_int_equal(rep.blocks, before.height);
    assert_int_equal(cc_chain_open(data, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &f->c, NULL),
                     CC_OK);
}

/* ---- audit.access ------------------------------------------------------------------------ */

static cc_err audit(fixture *f, int signer, const char *outcome, bool emergency, uint8_t txid[CC_HASH_BYTES])
{
    static unsigned request; /* each signed request has its own hash */
    char payload[900], id[33];
    rec_id(1, id);
    snprintf(payload, sizeof payload,
             "{\"requester\":\"%s\",\"patient\":\"%s\",\"record\":\"%s\",\"endpoint\":\"GET /v1/records/%s\","
             "\"purpose\":\"ETREAT\",\"outcome\":\"%s\",\"reason\":\"break-glass\",\"emergency\":%s,"
             "\"time\":1764000200000,\"request\":\"%064u\"}",
             f->hex[CLIN], f->hex[PAT], id, id, outcome, emergency ? "true" : "false", ++request);
    return send(f, signer, "audit.access", payload, txid);
}

static void test_audit(void **state)
{
    fixture *f = *state;
    uint8_t t1[CC_HASH_BYTES], t2[CC_HASH_BYTES];
    char key[200], hex[CC_HASH_HEX], id[33];
    rec_id(1, id);
    EXPECT(CC_OK, audit(f, NODE, "denied", false, t1));
    snprintf(key, sizeof key, "audit/%s/0000000000000001", f->hex[PAT]);
    json_t *e = state_json(f, key);
    assert_non_null(e);
    assert_string_equal(jstr(e, "txid"), cc_hex(t1, CC_HASH_BYTES, hex));
    assert_string_equal(jstr(e, "node"), f->hex[NODE]);
    assert_string_equal(jstr(e, "requester"), f->hex[CLIN]);
    assert_string_equal(jstr(e, "outcome"), "denied");
    assert_true(json_is_integer(json_object_get(e, "height")));
    json_decref(e);
    snprintf(key, sizeof key, "auditn/%s", f->hex[PAT]);
    e = state_json(f, key);
    assert_int_equal(json_integer_value(e), 1);
    json_decref(e);
    snprintf(key, sizeof key, "alertn/%s", f->hex[PAT]);
    assert_null(state_json(f, key));

    EXPECT(CC_ERR_FORBIDDEN, audit(f, HADMIN, "granted", true, NULL)); /* nodes only */
    EXPECT(CC_ERR_FORBIDDEN, audit(f, CLIN, "granted", false, NULL));
    EXPECT(CC_ERR_INVALID, audit(f, NODE, "maybe", false, NULL));

    EXPECT(CC_OK, audit(f, NODE, "granted", true, t2)); /* a granted break-glass read: an alert */
    snprintf(key, sizeof key, "alert/%s/0000000000000001", f->hex[PAT]);
    e = state_json(f, key);
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "audit")), 2);
    assert_string_equal(jstr(e, "txid"), cc_hex(t2, CC_HASH_BYTES, hex));
    assert_string_equal(jstr(e, "requester"), f->hex[CLIN]);
    assert_string_equal(jstr(e, "record"), id);
    assert_int_equal(json_integer_value(json_object_get(e, "time")), 1764000200000LL);
    assert_string_equal(jstr(e, "reason"), "break-glass");
    json_decref(e);
    EXPECT(CC_OK, audit(f, NODE, "denied", true, NULL)); /* denied: no alert */
    EXPECT(CC_OK, audit(f, NODE, "granted", false, NULL));
    snprintf(key, sizeof key, "alertn/%s", f->hex[PAT]);
    e = state_json(f, key);
    assert_int_equal(json_integer_value(e), 1);
    json_decref(e);
    snprintf(key, sizeof key, "auditn/%s", f->hex[PAT]);
    e = state_json(f, key);
    assert_int_equal(json_integer_value(e), 4);
    json_decref(e);
    snprintf(key, sizeof key, "audit/%s/0000000000000004", f->hex[PAT]);
    e = state_json(f, key);
    assert_non_null(e);
    json_decref(e);
    /* a patient-level event names no record */
    char payload[600];
    snprintf(payload, sizeof payload,
             "{\"requester\":\"%s\",\"patient\":\"%s\",\"endpoint\":\"GET /v1/patients/%s/alerts\","
             "\"outcome\":\"granted\",\"emergency\":false,\"time\":1,\"request\":\"%064d\"}",
             f->hex[PAT], f->hex[PAT], f->hex[PAT], 8);
    EXPECT(CC_OK, send(f, NODE, "audit.access", payload, NULL));
    /* the same signed request again (replayed to another node): refused, counted nowhere */
    EXPECT(CC_ERR_DUPLICATE, send(f, NODE, "audit.access", payload, NULL));
    assert_non_null(strstr(f->msg, "replay"));
    snprintf(key, sizeof key, "auditn/%s", f->hex[PAT]);
    e = state_json(f, key);
    assert_int_equal(json_integer_value(e), 5);
    json_decref(e);
}

/* ---- payload rules ---------------------------------------------------------------------- */

static void test_payload_rules(void **state)
{
    (void)state;
    char ok_key[200], short_key[200];
    uint8_t raw[CC_WRAPPED_KEY_BYTES];
    memset(raw, 7, sizeof raw);
    char *b = cc_base64(raw, sizeof raw), *s = cc_base64(raw, sizeof raw - 1);
    snprintf(ok_key, sizeof ok_key, "%s", b);
    snprintf(short_key, sizeof short_key, "%s", s);
    free(b);
    free(s);
    const char *id = "00000000000000000000000000000001";
    const char *pk = "1111111111111111111111111111111111111111111111111111111111111111";
    struct {
        const char *type;
        char payload[900];
        cc_err want;
    } cases[40];
    size_t n = 0;
#define CASE(t, w, ...)                                                                                      \
    do {                                                                                                     \
        cases[n].type = (t);                                                                                 \
        cases[n].want = (w);                                                                                 \
        snprintf(cases[n].payload, sizeof cases[n].payload, __VA_ARGS__);                                    \
        n++;                                                                                                 \
    } while (0)
#define PUT(extra, version_etc)                                                                              \
    "{\"record\":\"%s\",\"patient\":\"%s\",\"resourceType\":\"Observation\",\"category\":\"laboratory\","    \
    "\"purpose\":\"TREAT\",\"ciphertext\":\"%s\",\"keys\":{\"%s\":\"%s\"}" version_etc extra "}"
    CASE("record.put", CC_OK, PUT("", ",\"version\":1"), id, pk, pk, pk, ok_key);
    CASE("record.put", CC_ERR_INVALID, PUT(",\"extra\":1", ",\"version\":1"), id, pk, pk, pk, ok_key);
    CASE("record.put", CC_ERR_INVALID, PUT("", ",\"version\":0"), id, pk, pk, pk, ok_key);
    CASE("record.put", CC_ERR_INVALID, PUT("", ",\"version\":2"), id, pk, pk, pk, ok_key); /* no replaces */
    CASE("record.put", CC_OK, PUT(",\"replaces\":\"%s\"", ",\"version\":2"), id, pk, pk, pk, ok_key, pk);
    CASE("record.put", CC_ERR_INVALID, PUT(",\"replaces\":\"%s\"", ",\"version\":1"), id, pk, pk, pk, ok_key,
         pk);
    CASE("record.put", CC_ERR_INVALID, PUT("", ",\"version\":1"), id, pk, pk, pk, short_key); /* 79 bytes */
    CASE("record.put", CC_ERR_INVALID, PUT("", ",\"version\":1"), id, pk, pk, pk, "not base64!");
    CASE("record.put", CC_ERR_INVALID, PUT("", ",\"version\":1"), id, pk, pk, "ABCD", ok_key); /* reader id */
    CASE("record.put", CC_ERR_INVALID, PUT("", ",\"version\":1"), "0000000000000000000000000000000A", pk, pk,
         pk, ok_key);
    CASE("record.put", CC_ERR_INVALID, PUT("", ",\"version\":\"1\""), id, pk, pk, pk, ok_key);
    CASE("record.put", CC_ERR_INVALID,
         "{\"record\":\"%s\",\"patient\":\"%s\",\"resourceType\":\"observation\",\"category\":\"laboratory\","
         "\"purpose\":\"TREAT\",\"version\":1,\"ciphertext\":\"%s\",\"keys\":{\"%s\":\"%s\"}}",
         id, pk, pk, pk, ok_key);
    CASE("record.put", CC_ERR_INVALID,
         "{\"record\":\"%s\",\"patient\":\"%s\",\"resourceType\":\"Observation\",\"category\":\"Lab\","
         "\"purpose\":\"TREAT\",\"version\":1,\"ciphertext\":\"%s\",\"keys\":{\"%s\":\"%s\"}}",
         id, pk, pk, pk, ok_key);
    CASE("record.put", CC_ERR_INVALID,
         "{\"record\":\"%s\",\"patient\":\"%s\",\"resourceType\":\"Observation\",\"category\":\"laboratory\","
         "\"purpose\":\"CURIOSITY\",\"version\":1,\"ciphertext\":\"%s\",\"keys\":{\"%s\":\"%s\"}}",
         id, pk, pk, pk, ok_key);
#define GRANT(rest) "{\"patient\":\"%s\",\"grantee\":{\"identity\":\"%s\"}," rest "}"
    CASE("consent.grant", CC_OK,
         GRANT("\"actions\":[\"read\"],\"purposes\":[\"TREAT\"],\"provision\":\"permit\""), pk, pk);
    CASE(
        "consent.grant", CC_OK,
        GRANT("\"actions\":[\"read\",\"write\"],\"purposes\":[\"TREAT\",\"ETREAT\"],\"provision\":\"permit\","
              "\"scope\":{\"resourceTypes\":[\"Observation\"],\"categories\":[],\"records\":[\"%s\"]},"
              "\"period\":{\"from\":1,\"until\":2},\"keys\":{\"%s\":\"%s\"}"),
        pk, pk, id, id, ok_key);
    CASE("consent.grant", CC_ERR_INVALID,
         GRANT("\"actions\":[\"read\"],\"purposes\":[\"TREAT\"],\"provision\":\"deny\",\"keys\":{\"%s\":\"%"
               "s\"}"),
         pk, pk, id, ok_key);
    CASE("consent.grant", CC_ERR_INVALID,
         GRANT("\"actions\":[\"write\"],\"purposes\":[\"TREAT\"],\"provision\":\"permit\",\"keys\":{\"%s\":"
               "\"%s\"}"),
         pk, pk, id, ok_key);
    CASE("consent.grant", CC_ERR_INVALID,
         GRANT("\"actions\":[\"read\"],\"purposes\":[\"TREAT\"],\"provision\":\"permit\",\"keys\":{\"%s\":\"%"
               "s\"}"),
         pk, pk, pk, ok_key); /* keyed by a record id */
    CASE("consent.grant", CC_ERR_INVALID,
         GRANT("\"actions\":[],\"purposes\":[\"TREAT\"],\"provision\":\"permit\""), pk, pk);
    CASE("consent.grant", CC_ERR_INVALID,
         GRANT("\"actions\":[\"read\",\"read\"],\"purposes\":[\"TREAT\"],\"provision\":\"permit\""), pk, pk);
    CASE("consent.grant", CC_ERR_INVALID,
         GRANT("\"actions\":[\"erase\"],\"purposes\":[\"TREAT\"],\"provision\":\"permit\""), pk, pk);
    CASE("consent.grant", CC_ERR_INVALID,
         GRANT("\"actions\":[\"read\"],\"purposes\":[\"FUN\"],\"provision\":\"permit\""), pk, pk);
    CASE("consent.grant", CC_ERR_INVALID,
         GRANT("\"actions\":[\"read\"],\"purposes\":[\"TREAT\"],\"provision\":\"maybe\""), pk, pk);
    CASE(
        "consent.grant", CC_ERR_INVALID,
        GRANT(
            "\"actions\":[\"read\"],\"purposes\":[\"TREAT\"],\"provision\":\"permit\",\"period\":{\"from\":5,"
            "\"until\":5}"),
        pk, pk);
    CASE("consent.grant", CC_ERR_INVALID,
         GRANT("\"actions\":[\"read\"],\"purposes\":[\"TREAT\"],\"provision\":\"permit\",\"scope\":{\"who\":["
               "]}"),
         pk, pk);
    CASE("consent.grant", CC_ERR_INVALID,
         "{\"patient\":\"%s\",\"grantee\":{\"identity\":\"%s\",\"org\":\"payer\"},\"actions\":[\"read\"],"
         "\"purposes\":[\"TREAT\"],\"provision\":\"permit\"}",
         pk, pk);
    CASE(
        "consent.grant", CC_OK,
        "{\"patient\":\"%s\",\"grantee\":{\"org\":\"payer\"},\"actions\":[\"read\"],\"purposes\":[\"TREAT\"],"
        "\"provision\":\"permit\"}",
        pk);
    CASE("consent.revoke", CC_OK, "{\"consent\":\"%s\"}", pk);
    CASE("consent.revoke", CC_ERR_INVALID, "{\"consent\":\"%s\",\"reason\":\"\"}", pk);
    CASE("patient.delegate", CC_OK, "{\"delegate\":\"%s\",\"active\":false}", pk);
    CASE("patient.delegate", CC_ERR_INVALID, "{\"delegate\":\"%s\",\"active\":1}", pk);
    CASE("patient.delegate", CC_ERR_INVALID, "{\"delegate\":\"%s\"}", pk);
    CASE("org.key", CC_ERR_INVALID, "{\"key\":\"%s\",\"org\":\"payer\"}", pk);
    CASE("record.erase", CC_ERR_INVALID, "{\"record\":\"%s\"}", id); /* a reason is required */
    CASE("record.erase", CC_OK, "{\"record\":\"%s\",\"reason\":\"patient request\"}", id);
    CASE(
        "audit.access", CC_ERR_INVALID,
        "{\"requester\":\"%s\",\"patient\":\"%s\",\"endpoint\":\"GET /\",\"outcome\":\"granted\",\"time\":-1,"
        "\"request\":\"%s\"}",
        pk, pk, pk);
    CASE("audit.access", CC_ERR_INVALID,
         "{\"requester\":\"%s\",\"patient\":\"%s\",\"endpoint\":\"GET /\",\"outcome\":\"granted\",\"time\":1,"
         "\"request\":\"%s\",\"purpose\":\"NOPE\"}",
         pk, pk, pk);
    for (size_t i = 0; i < n; i++) {
        cc_errbuf eb = {""};
        cc_err got = cc_payload_validate(cases[i].type, (const uint8_t *)cases[i].payload,
                                         strlen(cases[i].payload), &eb);
        if (got != cases[i].want)
            fail_msg("case %zu (%s %s): expected %s, got %s (%s)", i, cases[i].type, cases[i].payload,
                     cc_err_name(cases[i].want), cc_err_name(got), eb.msg);
        if (got != CC_OK) assert_true(eb.msg[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_org_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delegate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_by_patient, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_by_clinician, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_is_consistent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
        cmocka_unit_test(test_payload_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
