/*
 * test_records_matrix.c — who may read what, on one real node: the
 * authorization matrix of roles x own/other patient x consent state x every
 * signed endpoint (no unauthorized 2xx; every answer as docs/RECORDS.md
 * says), break-glass and its alert, and the audit count: every
 * authenticated request, granted or denied, is exactly one audit.access
 * event on the ledger.
 *
 * One node serves the whole group; tests run in order.
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

#include "carechain/chain.h"
#include "carechain/os.h"
#include "cli/cli.h"
#include "support/ct_cli.h"
#include "support/support.h"

#define NODE_START_MS 20000

/* The people of the matrix. */
enum {
    W_P1,     /* patient 1: the records' owner */
    W_P2,     /* patient 2: "another patient" */
    W_CLIN_A, /* hospital clinician: wrote P1's record, has P1's write consent */
    W_CLIN_B, /* hospital clinician: a colleague (same organisation) */
    W_CLIN_X, /* a clinician of the payer organisation: the grantee */
    W_RES,    /* a hospital researcher */
    W_PAYER,  /* a payer's claims officer (payer organisation) */
    W_ADMIN,  /* the hospital's admin */
    W_COUNT
};
static const char *const who_name[W_COUNT] = {"patient1", "patient2",   "clinA", "clinB",
                                              "clinX",    "researcher", "payer", "admin"};

/* The consent states of P1 that the matrix walks through. */
typedef enum state {
    S_NONE,
    S_PERMIT,
    S_DENY_OVER_PERMIT,
    S_EXPIRED,
    S_NOT_YET_VALID,
    S_REVOKED,
    S_WRONG_PURPOSE,
    S_ORG,
    S_COUNT
} consent_state;
static const char *const state_name[S_COUNT] = {"none",          "permit",        "deny-over-permit",
                                                "expired",       "not-yet-valid", "revoked",
                                                "wrong-purpose", "organisation"};

typedef enum endpoint {
    E_RECORD,
    E_LIST,
    E_CONSENTS,
    E_AUDIT,
    E_ALERTS,
    E_READERS,
    E_CONSENT_ID,
    E_COUNT
} endpoint;
static const char *const endpoint_name[E_COUNT] = {
    "GET /v1/records/{id}",  "GET /v1/patients/{id}/records", "GET /fhir/Consent",
    "GET /fhir/AuditEvent",  "GET /v1/patients/{id}/alerts",  "GET /v1/patients/{id}/readers",
    "GET /fhir/Consent/{id}"};

typedef struct fixture {
    ct_net net;
    ct_node node;
    cc_cli_http *h;
    cc_key key[W_COUNT];
    char id[W_COUNT][CC_HASH_HEX];
    char record[2][33];  /* P1's and P2's record */
    uint64_t audited[2]; /* authenticated requests about P1, P2 */
    char consents[4][CC_HASH_HEX];
    size_t consent_count;
    unsigned requests, unexpected;
} fixture;

static fixture fx;

/* ---- helpers ---------------------------------------------------------------- */

/* A consent of P1, granted through the CLI's client (a read permit re-wraps
 * P1's key of each covered record: one list request and one record request
 * per record, both audited under P1). */
static void grant(json_t *consent, bool read_permit)
{
    cc_cli_sent sent;
    cc_errbuf eb = {{0}};
    assert_int_equal(cc_cli_consent_grant(fx.h, fx.net.chain_id, &fx.key[W_P1], consent, true, &sent, &eb),
                     CC_OK);
    if (!cc_cli_sent_ok(&sent) || !sent.committed) fail_msg("consent.grant: %s: %s", sent.code, sent.message);
    assert_true(fx.consent_count < 4);
    snprintf(fx.consents[fx.consent_count++], CC_HASH_HEX, "%s", sent.txid);
    cc_cli_sent_free(&sent);
    if (read_permit) fx.audited[0] += 2;
}

static json_t *clinx_consent(const char *purpose, const char *provision)
{
    return json_pack("{s:s, s:{s:s}, s:[s], s:[s], s:s}", "patient", fx.id[W_P1], "grantee", "identity",
                     fx.id[W_CLIN_X], "actions", "read", "purposes", purpose, "provision", provision);
}

static void revoke_all(void)
{
    for (size_t i = 0; i < fx.consent_count; i++)
        assert_true(ct_cli_commit(fx.h, fx.net.chain_id, &fx.key[W_P1], "consent.revoke",
                                  json_pack("{s:s}", "consent", fx.consents[i]), NULL));
    fx.consent_count = 0;
}

/* One signed GET; returns the status (0 unreachable). Counts it as audited
 * unless the node said 401 or 404 (which docs/RECORDS.md leaves unaudited). */
static long signed_get(const cc_key *k, int patient, const char *path, json_t **body)
{
    cc_cli_resp r;
    cc_errbuf eb = {{0}};
    if (body) *body = NULL;
    if (cc_cli_http_signed_get(fx.h, k, path, &r, &eb) != CC_OK) {
        fprintf(stderr, "GET %s: %s\n", path, eb.msg);
        return 0;
    }
    long st = r.status;
    if (st != 401 && st != 404 && patient >= 0) fx.audited[patient]++;
    if (st >= 200 && st < 300 && !r.json) fail_msg("GET %s answered %ld without JSON", path, st);
    if (st >= 400 && st != 503 && !strstr(path, "/fhir/") &&
        !json_is_string(json_object_get(json_object_get(r.json, "error"), "message")))
        fail_msg("GET %s answered %ld without a JSON error body", path, st);
    if (st == 403 && !strstr(path, "/fhir/") && !json_is_string(json_object_get(r.json, "audit")))
        fail_msg("GET %s: a denial names no audit tx", path);
    if (body && r.json) *body = json_incref(r.json);
    cc_cli_resp_free(&r);
    return st;
}

/* ---- the rules, as the matrix expects them ------------------------------------- */

static bool reads_p1(consent_state s, int w)
{
    if (s == S_PERMIT) return w == W_CLIN_X;
    if (s == S_ORG) return w == W_CLIN_X || w == W_PAYER; /* the payer organisation's members */
    return false;
}

/* Is w named by the state's consents (as the identity, or through its
 * organisation)? The grantee may read the consent that names it. */
static bool grantee_of_state(consent_state s, int w)
{
    if (s == S_NONE) return false;
    if (s == S_ORG) return w == W_CLIN_X || w == W_PAYER;
    return w == W_CLIN_X;
}

static long expected(consent_state s, int w, int p, endpoint e)
{
    bool own = (p == 0 && w == W_P1) || (p == 1 && w == W_P2);
    if (own) return 200;
    switch (e) {
    case E_RECORD:
    case E_LIST:
        return p == 0 && reads_p1(s, w) ? 200 : 403;
    case E_READERS:
        return p == 0 && w == W_CLIN_A ? 200 : 403;
    case E_CONSENT_ID:
        return p == 0 && grantee_of_state(s, w) ? 200 : 403;
    default:
        return 403;
    }
}

static void check(consent_state s, int w, int p, endpoint e, const char *path)
{
    json_t *body;
    long want = expected(s, w, p, e);
    long got = signed_get(&fx.key[w], p, path, &body);
    fx.requests++;
    if (got != want) {
        fx.unexpected++;
        fprintf(stderr, "state %-16s %-10s patient%d %-32s: HTTP %ld, expected %ld (%s)\n", state_name[s],
                who_name[w], p + 1, endpoint_name[e], got, want,
                body ? ct_json_str(body, "audit") : "no body");
    }
    if (got == 200 && e == E_RECORD) { /* what a granted read serves */
        assert_non_null(json_object_get(body, "ciphertext"));
        assert_non_null(json_object_get(json_object_get(body, "key"), "wrapped"));
    }
    if (got != 200) assert_null(json_object_get(body, "ciphertext"));
    json_decref(body);
}

static void run_matrix(consent_state s)
{
    char path[512];
    for (int w = 0; w < W_COUNT; w++) {
        for (int p = 0; p < 2; p++) {
            const char *pid = fx.id[p == 0 ? W_P1 : W_P2];
            snprintf(path, sizeof path, "/v1/records/%s?purpose=TREAT", fx.record[p]);
            check(s, w, p, E_RECORD, path);
            snprintf(path, sizeof path, "/v1/patients/%s/records?purpose=TREAT", pid);
            check(s, w, p, E_LIST, path);
            snprintf(path, sizeof path, "/fhir/Consent?patient=%s", pid);
            check(s, w, p, E_CONSENTS, path);
            snprintf(path, sizeof path, "/fhir/AuditEvent?patient=%s", pid);
            check(s, w, p, E_AUDIT, path);
            snprintf(path, sizeof path, "/v1/patients/%s/alerts", pid);
            check(s, w, p, E_ALERTS, path);
            snprintf(path, sizeof path,
                     "/v1/patients/%s/readers?resourceType=Observation&category=laboratory&purpose=TREAT",
                     pid);
            check(s, w, p, E_READERS, path);
        }
        for (size_t c = 0; c < fx.consent_count; c++) {
            snprintf(path, sizeof path, "/fhir/Consent/%s", fx.consents[c]);
            check(s, w, 0, E_CONSENT_ID, path);
        }
    }
}

/* ---- setup ---------------------------------------------------------------------- */

static const char resource[] =
    "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"HbA1c\"}}";

static int setup(void **state)
{
    (void)state;
    if (ct_net_create(&fx.net, "records-matrix") != 0) return -1;
    if (ct_node_start(&fx.node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS) != 0) return -1;
    fx.h = cc_cli_http_new(fx.node.url);
    for (int w = 0; w < W_COUNT; w++) {
        if (w == W_ADMIN)
            fx.key[w] = fx.net.admin;
        else {
            char label[64];
            snprintf(label, sizeof label, "records-matrix/%s", who_name[w]);
            ct_key(label, &fx.key[w]);
        }
        ct_pk_hex(&fx.key[w], fx.id[w]);
    }
    static const struct {
        int w;
        const char *role;
        bool payer_org;
    } reg[] = {{W_P1, "patient", false},       {W_P2, "patient", false},      {W_CLIN_A, "clinician", false},
               {W_CLIN_B, "clinician", false}, {W_CLIN_X, "clinician", true}, {W_RES, "researcher", false},
               {W_PAYER, "payer", true}};
    for (size_t i = 0; i < sizeof reg / sizeof reg[0]; i++) {
        const cc_key *admin = reg[i].payer_org ? &fx.net.payer_admin : &fx.net.admin;
        if (!ct_cli_commit(fx.h, fx.net.chain_id, admin, "member.register",
                           json_pack("{s:s, s:s}", "id", fx.id[reg[i].w], "role", reg[i].role), NULL))
            return -1;
    }
    /* clinA may write P1's records; it writes one; P2 writes their own */
    if (!ct_cli_commit(fx.h, fx.net.chain_id, &fx.key[W_P1], "consent.grant",
                       json_pack("{s:s, s:{s:s}, s:[s], s:[s], s:s}", "patient", fx.id[W_P1], "grantee",
                                 "identity", fx.id[W_CLIN_A], "actions", "write", "purposes", "TREAT",
                                 "provision", "permit"),
                       NULL))
        return -1;
    for (int p = 0; p < 2; p++) {
        cc_cli_record_in in = {fx.id[p == 0 ? W_P1 : W_P2],
                               NULL,
                               (const uint8_t *)resource,
                               sizeof resource - 1,
                               "Observation",
                               "laboratory",
                               "TREAT"};
        cc_cli_sent sent;
        cc_errbuf eb = {{0}};
        const cc_key *author = p == 0 ? &fx.key[W_CLIN_A] : &fx.key[W_P2];
        if (cc_cli_record_put(fx.h, fx.net.chain_id, author, &in, true, &sent, fx.record[p], &eb) != CC_OK) {
            fprintf(stderr, "record put: %s\n", eb.msg);
            return -1;
        }
        bool ok = cc_cli_sent_ok(&sent) && sent.committed;
        if (!ok) fprintf(stderr, "record.put: %s: %s\n", sent.code, sent.message);
        cc_cli_sent_free(&sent);
        if (!ok) return -1;
        fx.audited[p]++; /* the readers request */
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cc_cli_http_free(fx.h);
    ct_node_stop(&fx.node, SIGTERM, 15000);
    ct_node_free(&fx.node);
    for (int w = 0; w < W_COUNT; w++)
        if (w != W_ADMIN) cc_key_wipe(&fx.key[w]);
    ct_net_destroy(&fx.net);
    return 0;
}

/* ---- tests -------------------------------------------------------------------------- */

/* Every role x own/other patient x consent state x endpoint. */
static void test_authorization_matrix(void **state)
{
    (void)state;
    for (consent_state s = 0; s < S_COUNT; s++) {
        switch (s) {
        case S_NONE:
            break;
        case S_PERMIT:
            grant(clinx_consent("TREAT", "permit"), true);
            break;
        case S_DENY_OVER_PERMIT:
            grant(clinx_consent("TREAT", "permit"), true);
            grant(clinx_consent("TREAT", "deny"), false);
            break;
        case S_EXPIRED: {
            json_t *c = clinx_consent("TREAT", "permit");
            json_object_set_new(c, "period", json_pack("{s:I}", "until", (json_int_t)(cc_now_ms() + 1500)));
            grant(c, true);
            cc_sleep_ms(2000);
            /* a block after the end of the period */
            assert_true(
                ct_cli_commit(fx.h, fx.net.chain_id, &fx.net.admin, "note.put",
                              json_pack("{s:s, s:s}", "kind", "tick", "sha256",
                                        "00000000000000000000000000000000000000000000000000000000000000aa"),
                              NULL));
            break;
        }
        case S_NOT_YET_VALID: {
            json_t *c = clinx_consent("TREAT", "permit");
            json_object_set_new(c, "period",
                                json_pack("{s:I}", "from", (json_int_t)(cc_now_ms() + 3600 * 1000)));
            grant(c, true);
            break;
        }
        case S_REVOKED:
            grant(clinx_consent("TREAT", "permit"), true);
            assert_true(ct_cli_commit(fx.h, fx.net.chain_id, &fx.key[W_P1], "consent.revoke",
                                      json_pack("{s:s}", "consent", fx.consents[0]), NULL));
            break;
        case S_WRONG_PURPOSE:
            grant(clinx_consent("HPAYMT", "permit"), true);
            break;
        case S_ORG:
            grant(json_pack("{s:s, s:{s:s}, s:[s], s:[s], s:s}", "patient", fx.id[W_P1], "grantee", "org",
                            "payer", "actions", "read", "purposes", "TREAT", "provision", "permit"),
                  true);
            break;
        default:
            break;
        }
        run_matrix(s);
        if (s != S_REVOKED) revoke_all();
        fx.consent_count = 0;
    }
    fprintf(stderr, "matrix: %u requests, %u unexpected answers\n", fx.requests, fx.unexpected);
    assert_int_equal(fx.unexpected, 0);
    assert_true(fx.requests > 700);
}

/* An unsigned, badly signed or replayed request is refused with 401 and is
 * not an access (no audit event): checked by the count at the end. */
static void test_unauthenticated(void **state)
{
    (void)state;
    char path[256];
    ct_resp r;
    snprintf(path, sizeof path, "%s/v1/records/%s?purpose=TREAT", fx.node.url, fx.record[0]);
    assert_int_equal(ct_get(path, &r), 0);
    assert_int_equal(r.status, 401);
    assert_string_equal(ct_resp_error_code(&r), "unauthenticated");
    ct_resp_free(&r);
    /* an identity the ledger does not know */
    cc_key stranger;
    ct_key("records-matrix/stranger", &stranger);
    snprintf(path, sizeof path, "/v1/records/%s?purpose=TREAT", fx.record[0]);
    assert_int_equal(signed_get(&stranger, 0, path, NULL), 401);
}

/* Break-glass: a clinician of the authoring organisation reads with ETREAT
 * without consent; the event is flagged and the patient sees one alert.
 * Others cannot break the glass. */
static void test_break_glass(void **state)
{
    (void)state;
    char path[256];
    json_t *body;
    snprintf(path, sizeof path, "/v1/records/%s?purpose=TREAT", fx.record[0]);
    assert_int_equal(signed_get(&fx.key[W_CLIN_B], 0, path, NULL), 403);
    snprintf(path, sizeof path, "/v1/records/%s?purpose=ETREAT", fx.record[0]);
    assert_int_equal(signed_get(&fx.key[W_RES], 0, path, NULL), 403);    /* not a clinician */
    assert_int_equal(signed_get(&fx.key[W_CLIN_X], 0, path, NULL), 403); /* key not wrapped to its org */
    assert_int_equal(signed_get(&fx.key[W_CLIN_B], 0, path, &body), 200);
    assert_true(json_is_true(json_object_get(json_object_get(body, "access"), "emergency")));
    json_decref(body);

    snprintf(path, sizeof path, "/v1/patients/%s/alerts", fx.id[W_P1]);
    assert_int_equal(signed_get(&fx.key[W_P1], 0, path, &body), 200);
    json_t *alerts = json_object_get(body, "alerts");
    assert_int_equal(json_array_size(alerts), 1);
    assert_string_equal(ct_json_str(json_array_get(alerts, 0), "requester"), fx.id[W_CLIN_B]);
    json_decref(body);

    /* the AuditEvent view flags it */
    snprintf(path, sizeof path, "/fhir/AuditEvent?patient=%s", fx.id[W_P1]);
    assert_int_equal(signed_get(&fx.key[W_P1], 0, path, &body), 200);
    size_t i, flagged = 0;
    json_t *e;
    json_array_foreach(json_object_get(body, "entry"), i, e)
    {
        json_t *sec = json_object_get(json_object_get(json_object_get(e, "resource"), "meta"), "security");
        size_t j;
        json_t *c;
        json_array_foreach(sec, j, c) flagged += strcmp(ct_json_str(c, "code"), "BTG") == 0;
    }
    assert_int_equal(flagged, 1);
    json_decref(body);
}

/* The number of audit events equals the number of authenticated requests. */
static void test_audit_count(void **state)
{
    (void)state;
    assert_int_equal(ct_node_stop(&fx.node, SIGTERM, 15000), 0);
    cc_chain *c;
    cc_chain_options opt = {.readonly = true};
    cc_errbuf eb = {{0}};
    char *data = ct_strf("%s/data", fx.net.node_dir);
    assert_int_equal(cc_chain_open(data, fx.net.genesis, fx.net.genesis_len, &opt, &c, &eb), CC_OK);
    for (int p = 0; p < 2; p++) {
        char key[128], *val = NULL;
        size_t len = 0;
        snprintf(key, sizeof key, "auditn/%s", fx.id[p == 0 ? W_P1 : W_P2]);
        assert_int_equal(cc_chain_state_get(c, key, &val, &len), CC_OK);
        json_t *n = json_loadb(val, len, JSON_DECODE_ANY, NULL);
        json_int_t count =
            json_is_integer(n) ? json_integer_value(n) : json_integer_value(json_object_get(n, "count"));
        fprintf(stderr, "patient%d: %lld audit events, %llu authenticated requests\n", p + 1,
                (long long)count, (unsigned long long)fx.audited[p]);
        assert_int_equal((uint64_t)count, fx.audited[p]);
        json_decref(n);
        free(val);
    }
    cc_chain_close(c);
    free(data);
    assert_int_equal(ct_node_start(&fx.node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authorization_matrix),
        cmocka_unit_test(test_unauthenticated),
        cmocka_unit_test(test_break_glass),
        cmocka_unit_test(test_audit_count),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
