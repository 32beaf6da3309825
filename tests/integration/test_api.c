/*
 * test_api.c — the HTTP API of one real node process on a free port:
 * submit, wait, query, proofs (library and `carechain verify-proof`), replay
 * protection, every admission rejection with its code, bad bodies, revoke,
 * metrics, server-sent events, 404s and a graceful stop and restart.
 *
 * One node serves the whole group (started in the group setup); tests run
 * in order and may rely on the identities the setup registers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "support/ct_records.h"
#include "support/support.h"

#define NODE_START_MS 20000
#define TEN_MB        (10u * 1024 * 1024)
#define HOUR_MS       (3600ull * 1000)

typedef struct fixture {
    ct_net net;
    ct_node node;
    ct_http *http;
    cc_key clinician;
    cc_key patient;
} fixture;

static fixture fx;

/* ---- helpers -------------------------------------------------------------- */

static char *url(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *url(const char *fmt, ...)
{
    va_list ap;
    char *path = NULL;
    va_start(ap, fmt);
    if (vasprintf(&path, fmt, ap) < 0) abort();
    va_end(ap);
    char *u = ct_strf("%s%s", fx.node.url, path);
    free(path);
    return u;
}

static void get(ct_resp *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void get(ct_resp *r, const char *fmt, ...)
{
    va_list ap;
    char *path = NULL;
    va_start(ap, fmt);
    if (vasprintf(&path, fmt, ap) < 0) abort();
    va_end(ap);
    char *u = ct_strf("%s%s", fx.node.url, path);
    free(path);
    int rc = ct_http_do(fx.http, "GET", u, NULL, NULL, 0, 0, r);
    if (rc != 0) fprintf(stderr, "GET %s: %s\n", u, r->curl_error);
    free(u);
    assert_int_equal(rc, 0);
}

static json_int_t jint(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) fail_msg("JSON field %s is not an integer", key);
    return json_integer_value(v);
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s) fail_msg("JSON field %s is not a string", key);
    return s;
}

/* Submit with ?wait=commit and expect 200, committed, result ok. */
static uint64_t commit_ok(const cc_tx *tx)
{
    ct_resp r;
    assert_int_equal(ct_submit(fx.http, fx.node.url, tx, true, &r), 0);
    if (r.status != 200 || !r.json) fail_msg("POST /v1/tx?wait=commit: %ld %s", r.status, r.body);
    assert_string_equal(jstr(r.json, "status"), "committed");
    json_t *res = json_object_get(r.json, "result");
    assert_non_null(res);
    if (strcmp(jstr(res, "code"), "ok") != 0) fail_msg("tx failed in exec: %s", r.body);
    assert_true(json_is_integer(json_object_get(res, "code_num")));
    assert_int_equal(jint(res, "code_num"), 0);
    char hex[CC_HASH_HEX];
    assert_string_equal(jstr(r.json, "txid"), ct_txid_hex(tx, hex));
    json_int_t h = jint(r.json, "height");
    assert_true(h >= 1);
    ct_resp_free(&r);
    return (uint64_t)h;
}

/* Submit (no wait) and expect an error with this status and code. */
static void expect_rejected(const cc_tx *tx, long status, const char *code)
{
    ct_resp r;
    assert_int_equal(ct_submit(fx.http, fx.node.url, tx, false, &r), 0);
    if (r.status != status || strcmp(ct_resp_error_code(&r), code) != 0)
        fail_msg("expected %ld %s, got %ld %s", status, code, r.status, r.body);
    if (strlen(ct_resp_error_message(&r)) == 0) fail_msg("error %s has no message: %s", code, r.body);
    ct_resp_free(&r);

    /* and it never shows up as committed or pending */
    char hex[CC_HASH_HEX];
    get(&r, "/v1/tx/%s", ct_txid_hex(tx, hex));
    assert_int_equal(r.status, 404);
    ct_resp_free(&r);
}

static void expect_body_error(const char *ctype, const void *body, size_t len, long status, const char *code)
{
    ct_resp r;
    char *u = url("/v1/tx");
    int rc = ct_http_do(fx.http, "POST", u, ctype, body, len, 0, &r);
    free(u);
    assert_int_equal(rc, 0);
    bool code_ok = code ? strcmp(ct_resp_error_code(&r), code) == 0 : strlen(ct_resp_error_code(&r)) > 0;
    if (r.status != status || !code_ok)
        fail_msg("body of %zu bytes (%s): expected %ld %s, got %ld %s", len, ctype ? ctype : "-", status,
                 code ? code : "(any code)", r.status, r.body);
    ct_resp_free(&r);
}

static void expect_node_answers(void)
{
    ct_resp r;
    get(&r, "/v1/status");
    assert_int_equal(r.status, 200);
    ct_resp_free(&r);
    assert_true(ct_node_alive(&fx.node));
}

/* How many blocks 1..head hold txid. */
static int count_in_blocks(const char *txid)
{
    int64_t head = ct_status_height(fx.node.url);
    assert_true(head >= 0);
    int count = 0;
    for (int64_t h = 1; h <= head; h++) {
        ct_resp r;
        get(&r, "/v1/blocks/%lld", (long long)h);
        assert_int_equal(r.status, 200);
        json_t *txs = json_object_get(r.json, "txs");
        assert_true(json_is_array(txs));
        size_t i;
        json_t *t;
        json_array_foreach(txs, i, t) if (strcmp(jstr(t, "txid"), txid) == 0) count++;
        ct_resp_free(&r);
    }
    return count;
}

/* ---- setup ----------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    if (ct_net_create(&fx.net, "api") != 0) return -1;
    if (ct_node_start(&fx.node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS) != 0) return -1;
    fx.http = ct_http_new();
    ct_key("api-clinician", &fx.clinician);
    ct_key("api-patient", &fx.patient);

    cc_tx regs[2];
    if (ct_tx_register(&fx.net, &fx.net.admin, fx.clinician.pk, "clinician", &regs[0]) != 0) return -1;
    if (ct_tx_register(&fx.net, &fx.net.admin, fx.patient.pk, "patient", &regs[1]) != 0) return -1;
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        ct_resp r;
        const char *code = NULL;
        if (ct_submit(fx.http, fx.node.url, &regs[i], true, &r) == 0 && r.status == 200)
            code = json_string_value(json_object_get(json_object_get(r.json, "result"), "code"));
        if (!code || strcmp(code, "ok") != 0) {
            fprintf(stderr, "setup: member.register failed: %ld %s %s\n", r.status, r.body, r.curl_error);
            rc = -1;
        }
        ct_resp_free(&r);
        cc_tx_free(&regs[i]);
    }
    if (rc != 0) ct_node_dump_log(&fx.node);
    return rc;
}

static int group_teardown(void **state)
{
    (void)state;
    ct_http_free(fx.http);
    ct_node_free(&fx.node);
    ct_net_destroy(&fx.net);
    return 0;
}

/* ---- tests ------------------------------------------------------------------ */

/* Each hex string of 64 digits or more in the JSON tree, in a fixed order;
 * flips the nth one's first digit and returns its path, or NULL. */
static const char *flip_nth_hex(json_t *v, int *n, char *path, size_t path_len)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        size_t base = strlen(path);
        json_object_foreach(v, k, c)
        {
            snprintf(path + base, path_len - base, ".%s", k);
            const char *p = flip_nth_hex(c, n, path, path_len);
            if (p) return p;
            path[base] = 0;
        }
    } else if (json_is_array(v)) {
        size_t i, base = strlen(path);
        json_t *c;
        json_array_foreach(v, i, c)
        {
            snprintf(path + base, path_len - base, "[%zu]", i);
            const char *p = flip_nth_hex(c, n, path, path_len);
            if (p) return p;
            path[base] = 0;
        }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = strlen(s);
        if (len < 64) return NULL;
        for (size_t i = 0; i < len; i++)
            if (!isxdigit((unsigned char)s[i])) return NULL;
        if ((*n)-- > 0) return NULL;
        char *t = strdup(s);
        t[0] = t[0] == '0' ? '1' : '0';
        json_string_set(v, t);
        free(t);
        return path;
    }
    return NULL;
}

/* Fetch the proof of a committed tx and check it with the library and the
 * CLI; then check that flipping any hash in it makes both refuse it.
 * min_tx_path and min_history_path: the least audit path lengths expected. */
static void check_proof(const cc_tx *tx, uint64_t height, size_t min_tx_path, size_t min_history_path)
{
    char txid[CC_HASH_HEX];
    ct_txid_hex(tx, txid);
    ct_resp r;
    get(&r, "/v1/tx/%s/proof", txid);
    if (r.status != 200 || !r.json) fail_msg("proof: %ld %s", r.status, r.body);
    json_t *proof = json_incref(r.json);
    char *proof_text = strdup(r.body);
    ct_resp_free(&r);
    assert_true(json_array_size(json_object_get(json_object_get(proof, "block"), "tx_path")) >= min_tx_path);
    assert_true(json_array_size(json_object_get(proof, "history_path")) >= min_history_path);

    /* the library accepts it and it says what we sent */
    cc_proof_report rep;
    cc_errbuf eb = {{0}};
    memset(&rep, 0, sizeof rep);
    cc_err e = cc_proof_verify(proof, fx.net.genesis, fx.net.genesis_len, &rep, &eb);
    if (e != CC_OK) fail_msg("cc_proof_verify: %s: %s", cc_err_name(e), eb.msg);
    assert_memory_equal(rep.txid, tx->txid, CC_HASH_BYTES);
    assert_int_equal(rep.height, height);
    assert_true(rep.checkpoint_height >= height);
    assert_int_equal(rep.result.code, CC_OK);
    assert_string_equal(rep.type, tx->type);
    assert_int_equal(rep.signatures, 1);

    /* ... and so does the CLI, offline */
    char *proof_path = ct_strf("%s/proof-%.16s.json", fx.net.dir, txid);
    char *bad_path = ct_strf("%s/proof-%.16s-bad.json", fx.net.dir, txid);
    assert_int_equal(ct_write_file(proof_path, proof_text, strlen(proof_text)), 0);
    char *out = NULL;
    int code = ct_cli(&out, 20000, "verify-proof", proof_path, "--genesis", fx.net.genesis_path, NULL);
    if (code != 0) fail_msg("verify-proof exited %d: %s", code, out);
    free(out);

    /* every hash in it matters: flipping any one makes the library refuse,
     * and the CLI refuse the first and the last such form with exit 1 */
    int flipped = 0;
    for (int i = 0;; i++) {
        json_t *copy = json_deep_copy(proof);
        char path[512] = "";
        int n = i;
        const char *where = flip_nth_hex(copy, &n, path, sizeof path);
        if (!where) {
            json_decref(copy);
            break;
        }
        e = cc_proof_verify(copy, fx.net.genesis, fx.net.genesis_len, &rep, &eb);
        if (e == CC_OK) fail_msg("proof with %s flipped still verifies", where);
        char *bad = json_dumps(copy, JSON_COMPACT);
        assert_int_equal(ct_write_file(bad_path, bad, strlen(bad)), 0);
        free(bad);
        code = ct_cli(&out, 20000, "verify-proof", bad_path, "--genesis", fx.net.genesis_path, NULL);
        if (code != 1) fail_msg("verify-proof of a proof with %s flipped exited %d: %s", where, code, out);
        free(out);
        json_decref(copy);
        flipped++;
    }
    assert_true(flipped >= 3);

    /* against another chain's genesis the proof fails */
    char *other = ct_strf("%s/other-genesis.json", fx.net.dir);
    char *g2 = ct_strf("%.*s ", (int)fx.net.genesis_len, (const char *)fx.net.genesis);
    assert_int_equal(ct_write_file(other, g2, strlen(g2)), 0);
    code = ct_cli(&out, 20000, "verify-proof", proof_path, "--genesis", other, NULL);
    if (code != 1) fail_msg("verify-proof against another genesis exited %d: %s", code, out);
    free(out);
    free(other);
    free(g2);

    /* a proof an older build saved (format 1, tests/unit/data) still verifies,
     * and says what it is; against this chain's genesis it does not */
    code = ct_cli(&out, 20000, "verify-proof", "tests/unit/data/proof-format1.json", "--genesis",
                  "tests/unit/data/proof-format1-genesis.json", NULL);
    if (code != 0 || !strstr(out, "A format-1 proof"))
        fail_msg("verify-proof of the saved format-1 proof exited %d: %s", code, out);
    free(out);
    code = ct_cli(&out, 20000, "verify-proof", "tests/unit/data/proof-format1.json", "--genesis",
                  fx.net.genesis_path, NULL);
    if (code != 1)
        fail_msg("verify-proof of the format-1 proof against another genesis exited %d: %s", code, out);
    free(out);

    json_decref(proof);
    free(proof_text);
    free(proof_path);
    free(bad_path);
}

static void test_submit_query_proof(void **state)
{
    (void)state;
    cc_tx tx;
    assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 1, &tx), 0);
    char txid[CC_HASH_HEX], signer[CC_HASH_HEX];
    ct_txid_hex(&tx, txid);
    ct_pk_hex(&fx.clinician, signer);
    uint64_t height = commit_ok(&tx);

    /* the tx as committed */
    ct_resp r;
    get(&r, "/v1/tx/%s", txid);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "txid"), txid);
    assert_string_equal(jstr(r.json, "status"), "committed");
    assert_string_equal(jstr(r.json, "type"), "note.put");
    assert_string_equal(jstr(r.json, "signer"), signer);
    assert_int_equal(jint(r.json, "height"), height);
    /* a u64: an integer, or a decimal string where it may not fit JSON */
    json_t *nonce = json_object_get(r.json, "nonce");
    if (json_is_string(nonce))
        assert_int_equal(strtoull(json_string_value(nonce), NULL, 10), tx.nonce);
    else
        assert_int_equal(jint(r.json, "nonce"), tx.nonce);
    json_t *payload = json_object_get(r.json, "payload");
    assert_true(json_is_object(payload));
    assert_string_equal(jstr(payload, "kind"), "doc");
    json_t *expected = json_loads(tx.payload, 0, NULL);
    assert_non_null(expected);
    assert_string_equal(jstr(payload, "sha256"), jstr(expected, "sha256"));
    json_decref(expected);
    assert_string_equal(jstr(json_object_get(r.json, "result"), "code"), "ok");
    json_int_t index = jint(r.json, "index");
    ct_resp_free(&r);

    /* its block */
    get(&r, "/v1/blocks/%llu", (unsigned long long)height);
    assert_int_equal(r.status, 200);
    assert_int_equal(jint(r.json, "height"), height);
    assert_int_equal(strlen(jstr(r.json, "hash")), 64);
    assert_int_equal(strlen(jstr(r.json, "prev_hash")), 64);
    json_t *txs = json_object_get(r.json, "txs");
    assert_int_equal(json_array_size(txs), jint(r.json, "tx_count"));
    assert_true((size_t)index < json_array_size(txs));
    assert_string_equal(jstr(json_array_get(txs, (size_t)index), "txid"), txid);
    ct_resp_free(&r);

    /* the block list, newest first */
    get(&r, "/v1/blocks?from=%llu&limit=1", (unsigned long long)height);
    assert_int_equal(r.status, 200);
    json_t *blocks = json_object_get(r.json, "blocks");
    assert_int_equal(json_array_size(blocks), 1);
    assert_int_equal(jint(json_array_get(blocks, 0), "height"), height);
    ct_resp_free(&r);

    check_proof(&tx, height, 0, 0);
    cc_tx_free(&tx);
}

/* A tx inside a block of several, proven under a later checkpoint: both
 * audit paths are non-empty. */
static void test_proof_in_batch_under_later_checkpoint(void **state)
{
    (void)state;
    enum { N = 7 };
    cc_tx txs[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 100 + (uint64_t)i, &txs[i]), 0);
    size_t len;
    uint8_t *body = ct_batch_body(txs, N, &len);
    char *u = url("/v1/txs?wait=commit");
    ct_resp r;
    assert_int_equal(ct_http_do(fx.http, "POST", u, "application/octet-stream", body, len, 0, &r), 0);
    free(u);
    free(body);
    if (r.status != 200) fail_msg("batch: %ld %s", r.status, r.body);
    assert_int_equal(jint(r.json, "accepted"), N);
    json_t *results = json_object_get(r.json, "results");
    uint64_t height = (uint64_t)jint(json_array_get(results, 3), "height");
    /* the batch arrived at once, so some block holds more than one of it */
    int same = 0;
    for (int i = 0; i < N; i++)
        same += (uint64_t)jint(json_array_get(results, (size_t)i), "height") == height;
    ct_resp_free(&r);

    /* two later blocks */
    for (int i = 0; i < 2; i++) {
        cc_tx later;
        assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 120 + (uint64_t)i, &later), 0);
        commit_ok(&later);
        cc_tx_free(&later);
    }
    check_proof(&txs[3], height, same > 1 ? 1 : 0, 1);
    for (int i = 0; i < N; i++) cc_tx_free(&txs[i]);
}

static void test_async_submit_then_poll(void **state)
{
    (void)state;
    cc_tx tx;
    assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 2, &tx), 0);
    char txid[CC_HASH_HEX];
    ct_txid_hex(&tx, txid);
    ct_resp r;
    assert_int_equal(ct_submit(fx.http, fx.node.url, &tx, false, &r), 0);
    if (r.status != 202) fail_msg("POST /v1/tx: %ld %s", r.status, r.body);
    assert_string_equal(jstr(r.json, "txid"), txid);
    assert_string_equal(jstr(r.json, "status"), "pending");
    ct_resp_free(&r);

    uint64_t deadline = ct_now_ms() + 10000;
    for (;;) {
        get(&r, "/v1/tx/%s", txid);
        if (r.status == 200 && strcmp(jstr(r.json, "status"), "committed") == 0) break;
        if (r.status != 200) fail_msg("GET of a pending tx: %ld %s", r.status, r.body);
        assert_string_equal(jstr(r.json, "status"), "pending");
        ct_resp_free(&r);
        if (ct_now_ms() > deadline) fail_msg("tx %s not committed after 10 s", txid);
        cc_sleep_ms(20);
    }
    ct_resp_free(&r);

    /* the JSON body form is accepted as well */
    cc_tx tx2;
    assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 3, &tx2), 0);
    char *b64 = cc_base64(tx2.raw, tx2.raw_len);
    char *body = ct_strf("{\"tx\":\"%s\"}", b64);
    char *u = url("/v1/tx?wait=commit");
    assert_int_equal(ct_http_do(fx.http, "POST", u, "application/json", body, strlen(body), 0, &r), 0);
    if (r.status != 200) fail_msg("JSON body: %ld %s", r.status, r.body);
    assert_string_equal(jstr(r.json, "txid"), ct_txid_hex(&tx2, txid));
    ct_resp_free(&r);
    free(u);
    free(body);
    free(b64);
    cc_tx_free(&tx2);
    cc_tx_free(&tx);
}

static void test_duplicate_committed_once(void **state)
{
    (void)state;
    char txid[CC_HASH_HEX];

    /* after commit */
    cc_tx a;
    assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 10, &a), 0);
    commit_ok(&a);
    ct_resp r;
    assert_int_equal(ct_submit(fx.http, fx.node.url, &a, true, &r), 0);
    if (r.status != 409 || strcmp(ct_resp_error_code(&r), "duplicate") != 0)
        fail_msg("resend of a committed tx: %ld %s", r.status, r.body);
    assert_true(strlen(ct_resp_error_message(&r)) > 0);
    ct_resp_free(&r);

    /* while pending: back to back, no wait */
    cc_tx b;
    assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 11, &b), 0);
    long first, second;
    assert_int_equal(ct_submit(fx.http, fx.node.url, &b, false, &r), 0);
    first = r.status;
    ct_resp_free(&r);
    assert_int_equal(ct_submit(fx.http, fx.node.url, &b, false, &r), 0);
    second = r.status;
    if (second != 409 || strcmp(ct_resp_error_code(&r), "duplicate") != 0)
        fail_msg("second send: %ld %s", r.status, r.body);
    ct_resp_free(&r);
    assert_int_equal(first, 202);

    /* twice in one batch: the second entry is refused */
    cc_tx c[2];
    assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 12, &c[0]), 0);
    assert_int_equal(cc_tx_copy(&c[1], &c[0]), CC_OK);
    size_t len;
    uint8_t *body = ct_batch_body(c, 2, &len);
    char *u = url("/v1/txs?wait=commit");
    assert_int_equal(ct_http_do(fx.http, "POST", u, "application/octet-stream", body, len, 0, &r), 0);
    if (r.status != 200) fail_msg("batch: %ld %s", r.status, r.body);
    assert_int_equal(jint(r.json, "accepted"), 1);
    assert_int_equal(jint(r.json, "rejected"), 1);
    json_t *results = json_object_get(r.json, "results");
    assert_int_equal(json_array_size(results), 2);
    assert_string_equal(jstr(json_array_get(results, 0), "status"), "committed");
    json_t *err = json_object_get(json_array_get(results, 1), "error");
    assert_non_null(err);
    assert_string_equal(jstr(err, "code"), "duplicate");
    ct_resp_free(&r);
    free(u);
    free(body);

    /* b commits (it was accepted first); each is in exactly one block */
    assert_int_equal(ct_submit(fx.http, fx.node.url, &b, true, &r), 0);
    assert_int_equal(r.status, 409);
    ct_resp_free(&r);
    uint64_t deadline = ct_now_ms() + 10000;
    for (;;) {
        get(&r, "/v1/tx/%s", ct_txid_hex(&b, txid));
        bool done = r.status == 200 && strcmp(jstr(r.json, "status"), "committed") == 0;
        ct_resp_free(&r);
        if (done) break;
        if (ct_now_ms() > deadline) fail_msg("tx %s not committed after 10 s", txid);
        cc_sleep_ms(20);
    }
    assert_int_equal(count_in_blocks(ct_txid_hex(&a, txid)), 1);
    assert_int_equal(count_in_blocks(ct_txid_hex(&b, txid)), 1);
    assert_int_equal(count_in_blocks(ct_txid_hex(&c[0], txid)), 1);
    cc_tx_free(&a);
    cc_tx_free(&b);
    cc_tx_free(&c[0]);
    cc_tx_free(&c[1]);
}

static void test_rejections_have_their_reason(void **state)
{
    (void)state;
    uint64_t now = ct_now_ms();
    const char *note = "{\"kind\":\"doc\",\"sha256\":"
                       "\"0000000000000000000000000000000000000000000000000000000000000000\"}";
    cc_tx tx;

    /* created two days ago, expired a day and 23 h ago */
    assert_int_equal(
        ct_tx_make(&fx.net, NULL, &fx.clinician, "note.put", note, now - 48 * HOUR_MS, HOUR_MS, &tx), 0);
    expect_rejected(&tx, 422, "expired");
    cc_tx_free(&tx);

    /* created an hour from now */
    assert_int_equal(ct_tx_make(&fx.net, NULL, &fx.clinician, "note.put", note, now + HOUR_MS, HOUR_MS, &tx),
                     0);
    expect_rejected(&tx, 422, "future");
    cc_tx_free(&tx);

    /* expiry more than 24 h after created */
    assert_int_equal(ct_tx_make(&fx.net, NULL, &fx.clinician, "note.put", note, now, 25 * HOUR_MS, &tx), 0);
    expect_rejected(&tx, 422, "lifetime");
    cc_tx_free(&tx);

    /* another chain */
    uint8_t other_chain[CC_HASH_BYTES];
    cc_sha256((const uint8_t *)"another chain", 13, other_chain);
    assert_int_equal(ct_tx_make(&fx.net, other_chain, &fx.clinician, "note.put", note, 0, 0, &tx), 0);
    expect_rejected(&tx, 422, "chain_id");
    cc_tx_free(&tx);

    /* a key nobody registered */
    cc_key stranger;
    ct_key("api-stranger", &stranger);
    assert_int_equal(ct_tx_note(&fx.net, &stranger, 20, &tx), 0);
    expect_rejected(&tx, 403, "unknown_signer");
    cc_tx_free(&tx);

    /* a patient may not register members */
    assert_int_equal(ct_tx_register(&fx.net, &fx.patient, stranger.pk, "clinician", &tx), 0);
    expect_rejected(&tx, 403, "forbidden");
    cc_tx_free(&tx);

    /* a type nobody handles */
    assert_int_equal(ct_tx_make(&fx.net, NULL, &fx.clinician, "no.such.type", "{}", 0, 0, &tx), 0);
    expect_rejected(&tx, 422, "unknown_type");
    cc_tx_free(&tx);

    /* note.put whose sha256 is not 64 hex digits */
    assert_int_equal(ct_tx_make(&fx.net, NULL, &fx.clinician, "note.put",
                                "{\"kind\":\"doc\",\"sha256\":\"xyz\"}", 0, 0, &tx),
                     0);
    expect_rejected(&tx, 422, "invalid");
    cc_tx_free(&tx);

    /* a signature that does not verify: the last byte of the encoding is
     * the signature's (checked by decoding the altered bytes) */
    assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 21, &tx), 0);
    tx.raw[tx.raw_len - 1] ^= 0x01;
    cc_tx dec;
    memset(&dec, 0, sizeof dec);
    assert_int_equal(cc_tx_decode(tx.raw, tx.raw_len, &dec, NULL), CC_OK);
    assert_memory_not_equal(dec.sig, tx.sig, CC_SIG_BYTES);
    assert_string_equal(dec.payload, tx.payload);
    memcpy(tx.txid, dec.txid, CC_HASH_BYTES);
    cc_tx_free(&dec);
    expect_rejected(&tx, 401, "signature");
    cc_tx_free(&tx);

    expect_node_answers();
}

static void test_bad_bodies(void **state)
{
    (void)state;
    cc_tx tx;
    assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 30, &tx), 0);

    expect_body_error("application/octet-stream", tx.raw, tx.raw_len - 10, 400, "malformed");
    expect_body_error("application/octet-stream", tx.raw, 1, 400, "malformed");
    expect_body_error("application/octet-stream", "", 0, 400, "malformed");
    uint8_t garbage[300];
    for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (uint8_t)(i * 131 + 7);
    expect_body_error("application/octet-stream", garbage, sizeof garbage, 400, "version");
    garbage[0] = CC_TX_VERSION; /* past the version byte: garbage all the same */
    expect_body_error("application/octet-stream", garbage, sizeof garbage, 400, "malformed");

    /* one byte too many: the tx declares no attachment */
    uint8_t *longer = malloc(tx.raw_len + 1);
    memcpy(longer, tx.raw, tx.raw_len);
    longer[tx.raw_len] = 0;
    expect_body_error("application/octet-stream", longer, tx.raw_len + 1, 422, "attachment");
    free(longer);

    /* JSON bodies */
    const char *bad_b64 = "{\"tx\":\"!!!this is not base64***\"}";
    expect_body_error("application/json", bad_b64, strlen(bad_b64), 400, "malformed");
    const char *no_tx = "{\"hello\":1}";
    expect_body_error("application/json", no_tx, strlen(no_tx), 400, NULL);
    const char *not_json = "{\"tx\":";
    expect_body_error("application/json", not_json, strlen(not_json), 400, "malformed");
    char *b64 = cc_base64(tx.raw, tx.raw_len - 10);
    char *trunc = ct_strf("{\"tx\":\"%s\"}", b64);
    expect_body_error("application/json", trunc, strlen(trunc), 400, "malformed");
    free(trunc);
    free(b64);

    /* the batch endpoint: a length running past the end */
    uint8_t batch[8] = {0, 0, 1, 0, 1, 2, 3, 4};
    ct_resp r;
    char *u = url("/v1/txs");
    assert_int_equal(ct_http_do(fx.http, "POST", u, "application/octet-stream", batch, sizeof batch, 0, &r),
                     0);
    if (r.status != 400) fail_msg("truncated batch: %ld %s", r.status, r.body);
    ct_resp_free(&r);
    free(u);

    /* and none of it did harm: the valid tx still commits */
    commit_ok(&tx);
    cc_tx_free(&tx);
    expect_node_answers();
}

static void test_ten_mb_body_413(void **state)
{
    (void)state;
    char *big = malloc(TEN_MB);
    assert_non_null(big);
    memset(big, 'A', TEN_MB);

    /* plain client (no Expect: 100-continue): the whole body is sent */
    expect_body_error("application/octet-stream", big, TEN_MB, 413, "too_large");
    expect_node_answers();

    /* curl's default for large bodies: Expect: 100-continue */
    CURL *c = curl_easy_init();
    char *u = url("/v1/tx");
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, big);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)TEN_MB);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, NULL);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    CURLcode cr = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    fclose(devnull);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(u);
    if (status != 413) fail_msg("10 MB JSON body with Expect: got %ld (%s)", status, curl_easy_strerror(cr));

    free(big);
    expect_node_answers();
}

static void test_revoked_identity_refused(void **state)
{
    (void)state;
    cc_key member;
    ct_key("api-revokee", &member);
    char hex[CC_HASH_HEX];
    ct_pk_hex(&member, hex);
    cc_tx tx;

    assert_int_equal(ct_tx_register(&fx.net, &fx.net.admin, member.pk, "clinician", &tx), 0);
    commit_ok(&tx);
    cc_tx_free(&tx);
    assert_int_equal(ct_tx_note(&fx.net, &member, 40, &tx), 0);
    commit_ok(&tx);
    cc_tx_free(&tx);

    ct_resp r;
    get(&r, "/v1/identities/%s", hex);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "role"), "clinician");
    assert_string_equal(jstr(r.json, "status"), "active");
    ct_resp_free(&r);

    assert_int_equal(ct_tx_revoke(&fx.net, &fx.net.admin, member.pk, &tx), 0);
    commit_ok(&tx);
    cc_tx_free(&tx);

    get(&r, "/v1/identities/%s", hex);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "status"), "revoked");
    ct_resp_free(&r);

    assert_int_equal(ct_tx_note(&fx.net, &member, 41, &tx), 0);
    expect_rejected(&tx, 403, "revoked");
    cc_tx_free(&tx);
}

/* The value of the sample named exactly name (labels included) in a
 * Prometheus text body; fails the test when there is none. */
static double metric_value(const char *body, const char *name)
{
    char *want = ct_strf("\n%s ", name);
    const char *at = strstr(body, want);
    if (!at) fail_msg("no %s in /metrics:\n%s", name, body);
    double v = strtod(at + strlen(want), NULL);
    free(want);
    return v;
}

static void test_metrics(void **state)
{
    (void)state;
    int64_t height = ct_status_height(fx.node.url);
    assert_true(height >= 1);
    ct_resp r;
    get(&r, "/metrics");
    assert_int_equal(r.status, 200);
    assert_true(metric_value(r.body, "carechain_height") >= (double)height);

    /* every block this process committed was timed, executing and then
     * committing to LMDB; a solo node builds none to propose */
    double blocks = metric_value(r.body, "carechain_blocks_total");
    assert_true(blocks >= 1);
    assert_true(metric_value(r.body, "carechain_block_seconds_count{phase=\"execute\"}") == blocks);
    assert_true(metric_value(r.body, "carechain_block_seconds_count{phase=\"store_commit\"}") == blocks);
    assert_true(metric_value(r.body, "carechain_block_seconds_bucket{phase=\"store_commit\",le=\"+Inf\"}") ==
                blocks);
    assert_true(metric_value(r.body, "carechain_block_seconds_sum{phase=\"store_commit\"}") > 0);
    assert_true(metric_value(r.body, "carechain_block_seconds_count{phase=\"build\"}") == 0);
    ct_resp_free(&r);

    /* the txid query index follows the head in the background, a few
     * blocks behind at most (250 ms between passes) */
    bool indexed = false;
    for (int i = 0; i < 100 && !indexed; i++) {
        get(&r, "/metrics");
        indexed = metric_value(r.body, "carechain_txid_index_height") >= (double)height;
        ct_resp_free(&r);
        if (!indexed) cc_sleep_ms(100);
    }
    assert_true(indexed);
}

/* ---- server-sent events ---------------------------------------------------- */

typedef struct sse {
    char *url;
    char buf[8192];
    size_t len;
    volatile int connected;
    volatile int done;
    long status;
} sse;

static size_t sse_header(char *data, size_t size, size_t n, void *ctx)
{
    sse *s = ctx;
    (void)data;
    __atomic_store_n(&s->connected, 1, __ATOMIC_SEQ_CST);
    return size * n;
}

static size_t sse_body(char *data, size_t size, size_t n, void *ctx)
{
    sse *s = ctx;
    size_t len = size * n;
    size_t room = sizeof s->buf - 1 - s->len;
    memcpy(s->buf + s->len, data, len < room ? len : room);
    s->len += len < room ? len : room;
    s->buf[s->len] = 0;
    const char *ev = strstr(s->buf, "event: block");
    if (ev && strstr(ev, "\n\n")) return 0; /* one whole event: stop */
    return s->len == sizeof s->buf - 1 ? 0 : len;
}

static void *sse_thread(void *arg)
{
    sse *s = arg;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sse_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s->status);
    curl_easy_cleanup(c);
    __atomic_store_n(&s->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_events_stream_blocks(void **state)
{
    (void)state;
    sse s;
    memset(&s, 0, sizeof s);
    s.url = url("/v1/events");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sse_thread, &s), 0);
    for (int i = 0; i < 200 && !__atomic_load_n(&s.connected, __ATOMIC_SEQ_CST); i++) cc_sleep_ms(10);
    cc_sleep_ms(100);

    cc_tx tx;
    assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 50, &tx), 0);
    uint64_t height = commit_ok(&tx);
    cc_tx_free(&tx);
    pthread_join(t, NULL);
    free(s.url);

    assert_int_equal(s.status, 200);
    const char *ev = strstr(s.buf, "event: block");
    if (!ev) fail_msg("no block event; stream so far: %s", s.buf);
    const char *data = strstr(ev, "data:");
    assert_non_null(data);
    data += 5;
    const char *end = strchr(data, '\n');
    assert_non_null(end);
    json_t *j = json_loadb(data, (size_t)(end - data), 0, NULL);
    if (!j) fail_msg("event data is not JSON: %.*s", (int)(end - data), data);
    assert_true(jint(j, "height") >= 1);
    assert_true((uint64_t)jint(j, "height") <= height);
    assert_int_equal(strlen(jstr(j, "hash")), 64);
    assert_true(jint(j, "tx_count") >= 1);
    assert_int_equal(jint(j, "ok") + jint(j, "failed"), jint(j, "tx_count"));
    json_decref(j);
}

static void test_not_found(void **state)
{
    (void)state;
    ct_resp r;
    get(&r, "/v1/no/such/path");
    assert_int_equal(r.status, 404);
    assert_string_equal(ct_resp_error_code(&r), "not_found");
    assert_true(strlen(ct_resp_error_message(&r)) > 0);
    ct_resp_free(&r);

    get(&r, "/v1/tx/%064d", 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(ct_resp_error_code(&r), "not_found");
    ct_resp_free(&r);

    get(&r, "/v1/tx/%064d/proof", 0);
    assert_int_equal(r.status, 404);
    ct_resp_free(&r);
    /* the CLI waits only for a tx the node says committed: an unknown one
     * fails at once, not after its --wait */
    char *out = NULL, zeros[CC_HASH_HEX];
    memset(zeros, '0', 64);
    zeros[64] = '\0';
    uint64_t t0 = ct_now_ms();
    assert_int_equal(ct_cli(&out, 20000, "proof", zeros, "--wait", "30", "--node", fx.node.url, NULL), 1);
    assert_true(ct_now_ms() - t0 < 10000);
    assert_non_null(strstr(out, "not found"));
    free(out);
    assert_int_equal(ct_cli(&out, 20000, "proof", zeros, "--wait", "soon", "--node", fx.node.url, NULL), 2);
    free(out);

    get(&r, "/v1/blocks/999999999");
    assert_int_equal(r.status, 404);
    assert_string_equal(ct_resp_error_code(&r), "not_found");
    ct_resp_free(&r);

    /* a malformed id or height is the caller's mistake: 400 */
    get(&r, "/v1/tx/not-a-txid");
    assert_int_equal(r.status, 400);
    assert_non_null(r.json);
    ct_resp_free(&r);
    get(&r, "/v1/blocks/abc");
    assert_int_equal(r.status, 400);
    ct_resp_free(&r);
    get(&r, "/v1/blocks?limit=100000");
    assert_int_equal(r.status, 400);
    ct_resp_free(&r);
}

/* The error code and message of a JSON error body, or of an
 * OperationOutcome's first issue (/fhir/). Valid while r is. */
static void error_of(const ct_resp *r, const char **code, const char **message)
{
    json_t *issue = json_array_get(json_object_get(r->json, "issue"), 0);
    if (!issue) {
        *code = ct_resp_error_code(r);
        *message = ct_resp_error_message(r);
        return;
    }
    json_t *coding = json_array_get(json_object_get(json_object_get(issue, "details"), "coding"), 0);
    *code = ct_json_str(coding, "code");
    *message = ct_json_str(issue, "diagnostics");
}

/* A signed read takes the parameters its route declares, checked after the
 * signature: unsigned with an unknown one is 401, signed it is 400 usage
 * naming the route's, and the route's own are served. */
static void signed_reads_check_their_query(void)
{
    char me[CC_HASH_HEX];
    ct_pk_hex(&fx.patient, me);
    char *records = ct_strf("/v1/patients/%s/records", me), *alerts = ct_strf("/v1/patients/%s/alerts", me);
    char *about_me = ct_strf("patient=%s", me);
    struct {
        const char *path, *bogus, *refusal, *valid;
    } const reads[] = {
        {records, "nonsense=1", "unknown query parameter \"nonsense\" (this endpoint takes purpose)",
         "purpose=TREAT"},
        {"/fhir/AuditEvent", "patinet=1", "unknown query parameter \"patinet\" (this endpoint takes patient)",
         about_me},
        {alerts, "limit=5", "unknown query parameter \"limit\" (this endpoint takes none)", ""},
    };
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        ct_resp r;
        ct_signed_resp s;
        const char *code, *message;
        get(&r, "%s?%s", reads[i].path, reads[i].bogus);
        if (r.status != 401)
            fail_msg("unsigned %s?%s: %ld %s", reads[i].path, reads[i].bogus, r.status, r.body);
        ct_resp_free(&r);

        assert_int_equal(ct_signed_get(fx.node.url, &fx.patient, reads[i].path, reads[i].bogus, 0, NULL, &s),
                         0);
        error_of(&s.r, &code, &message);
        if (s.r.status != 400 || strcmp(code, "usage") != 0 || strcmp(message, reads[i].refusal) != 0)
            fail_msg("signed %s?%s: %ld %s", reads[i].path, reads[i].bogus, s.r.status, s.r.body);
        ct_signed_resp_free(&s);

        assert_int_equal(ct_signed_get(fx.node.url, &fx.patient, reads[i].path, reads[i].valid, 0, NULL, &s),
                         0);
        if (s.r.status != 200 || !s.audit[0])
            fail_msg("signed %s?%s: %ld %s", reads[i].path, reads[i].valid, s.r.status, s.r.body);
        ct_signed_resp_free(&s);
    }
    free(about_me);
    free(alerts);
    free(records);
}

/* A query parameter the endpoint does not take, or one given twice, is a
 * 400 naming what it takes: "?wiat=commit" must not quietly become a 202
 * that never waits. */
static void test_unknown_query_parameters(void **state)
{
    (void)state;
    static const char *const refused[][2] = {
        {"/v1/status?verbose=1", "unknown query parameter \"verbose\" (this endpoint takes none)"},
        {"/v1/blocks?lmit=5", "unknown query parameter \"lmit\" (this endpoint takes from, limit)"},
        {"/v1/blocks?limit=1&limit=2", "query parameter \"limit\" is given twice"},
        {"/v1/blocks?%ff=1", "an unknown query parameter (this endpoint takes from, limit)"},
        {"/fhir/ResearchStudy/NCT1?v=2", "unknown query parameter \"v\" (this endpoint takes version)"},
    };
    ct_resp r;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        get(&r, "%s", refused[i][0]);
        const char *msg =
            strncmp(refused[i][0], "/fhir/", 6) == 0
                ? ct_json_str(json_array_get(json_object_get(r.json, "issue"), 0), "diagnostics")
                : ct_resp_error_message(&r);
        if (r.status != 400 || !strstr(msg, refused[i][1]))
            fail_msg("GET %s: %ld %s", refused[i][0], r.status, r.body);
        ct_resp_free(&r);
    }
    get(&r, "/v1/blocks?from=1&limit=1");
    assert_int_equal(r.status, 200);
    ct_resp_free(&r);
    get(&r, "/ui/?utm_source=mail"); /* a page's address may carry anything */
    assert_int_equal(r.status, 200);
    ct_resp_free(&r);
    /* a signed read still asks for the signature first */
    get(&r, "/v1/patients/%064d/records?nonsense=1", 0);
    assert_int_equal(r.status, 401);
    ct_resp_free(&r);
    signed_reads_check_their_query();

    /* the typo refuses the tx before its body is read: nothing is admitted */
    cc_tx tx;
    char txid[CC_HASH_HEX], *u = ct_strf("%s/v1/tx?wiat=commit", fx.node.url);
    assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 60, &tx), 0);
    assert_int_equal(ct_post(u, "application/octet-stream", tx.raw, tx.raw_len, &r), 0);
    if (r.status != 400 || !strstr(ct_resp_error_message(&r), "\"wiat\" (this endpoint takes wait)"))
        fail_msg("POST /v1/tx?wiat=commit: %ld %s", r.status, r.body);
    ct_resp_free(&r);
    get(&r, "/v1/tx/%s", ct_txid_hex(&tx, txid));
    assert_int_equal(r.status, 404);
    ct_resp_free(&r);
    free(u);
    cc_tx_free(&tx);
}

/* Last: SIGTERM stops cleanly and a restart keeps everything. */
static void test_sigterm_then_restart(void **state)
{
    (void)state;
    cc_tx tx;
    assert_int_equal(ct_tx_note(&fx.net, &fx.clinician, 60, &tx), 0);
    uint64_t height = commit_ok(&tx);
    int64_t head = ct_status_height(fx.node.url);
    assert_true(head >= (int64_t)height);

    int code = ct_node_stop(&fx.node, SIGTERM, 15000);
    if (code != 0) {
        ct_node_dump_log(&fx.node);
        fail_msg("node exited %d after SIGTERM", code);
    }
    assert_int_equal(ct_node_start(&fx.node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS), 0);
    assert_int_equal(ct_status_height(fx.node.url), head);
    char txid[CC_HASH_HEX];
    ct_resp r;
    get(&r, "/v1/tx/%s", ct_txid_hex(&tx, txid));
    assert_int_equal(r.status, 200);
    assert_int_equal(jint(r.json, "height"), height);
    ct_resp_free(&r);
    /* the replay guard survived the restart */
    assert_int_equal(ct_submit(fx.http, fx.node.url, &tx, false, &r), 0);
    assert_int_equal(r.status, 409);
    ct_resp_free(&r);
    cc_tx_free(&tx);

    /* and the chain it wrote verifies */
    assert_int_equal(ct_node_stop(&fx.node, SIGTERM, 15000), 0);
    char *out = NULL;
    code = ct_cli(&out, 60000, "verify-chain", "--dir", fx.net.node_dir, NULL);
    if (code != 0) fail_msg("verify-chain exited %d: %s", code, out);
    free(out);
}

/* A node does not start on a directory that is not a node's, nor on one a
 * node already runs on: each says so in one line, exits 2 (usage, as the
 * line says; it was 1), and leaves nothing behind. A client's --node that
 * is not a URL is a usage error too, not an unreachable node (it was 3). */
static void test_node_start_refuses_a_wrong_directory(void **state)
{
    (void)state;
    char api[32], *out = NULL;
    snprintf(api, sizeof api, "127.0.0.1:%d", ct_free_port());
    char *empty = ct_tmpdir("notanode");
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/missing", empty);

    assert_int_equal(ct_cli(&out, NODE_START_MS, "node", "--dir", missing, "--api", api, NULL), 2);
    if (!strstr(out, "is not a directory")) fail_msg("a missing --dir: %s", out);
    free(out);
    assert_int_equal(ct_cli(&out, NODE_START_MS, "node", "--dir", empty, "--api", api, NULL), 2);
    if (!strstr(out, "is not a node's directory: it has no node.key")) fail_msg("an empty --dir: %s", out);
    free(out);
    char lock[PATH_MAX + 16];
    snprintf(lock, sizeof lock, "%s/node.lock", empty);
    assert_int_equal(access(lock, F_OK), -1); /* no litter in someone else's directory */
    assert_int_equal(access(missing, F_OK), -1);

    assert_int_equal(ct_cli(&out, NODE_START_MS, "node", "--dir", fx.net.node_dir, "--api", api, NULL), 2);
    if (!strstr(out, "another node is already running on"))
        fail_msg("a second node on one directory: %s", out);
    free(out);
    assert_true(ct_node_alive(&fx.node));
    assert_true(ct_status_height(fx.node.url) > 0);
    ct_rmtree(empty);
    free(empty);

    /* a config.json that will not do says why, before anything is opened */
    char *bad = ct_tmpdir("badconfig");
    static const char *const files[] = {"node.key", "genesis.json"};
    for (size_t i = 0; i < 2; i++) {
        char *from = ct_strf("%s/%s", fx.net.node_dir, files[i]), *to = ct_strf("%s/%s", bad, files[i]);
        size_t len = 0;
        uint8_t *bytes = ct_read_file(from, &len);
        assert_non_null(bytes);
        assert_int_equal(ct_write_file(to, bytes, len), 0);
        free(bytes);
        free(from);
        free(to);
    }
    static const char *const configs[][2] = {
        {"{\"name\":\"node1\",\"peers\":\"http://127.0.0.1:1\"}", "\"peers\" must be a list of URLs"},
        {"{\"name\":\"node1\",\"name\":\"node2\"}", "duplicate object key"},
        {"[1]", "is not a JSON object"},
    };
    char *cfg = ct_strf("%s/config.json", bad);
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        assert_int_equal(ct_write_file(cfg, configs[i][0], strlen(configs[i][0])), 0);
        int code = ct_cli(&out, NODE_START_MS, "node", "--dir", bad, "--api", api, NULL);
        if (code != 1 || !strstr(out, configs[i][1]))
            fail_msg("config %s: exit %d: %s", configs[i][0], code, out);
        free(out);
    }
    free(cfg);
    ct_rmtree(bad);
    free(bad);

    static const char *const bad_urls[] = {"http://127.0.0.1:99999", "htp://127.0.0.1:7800", "http://[::1"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        int code = ct_cli(&out, NODE_START_MS, "status", "--node", bad_urls[i], NULL);
        if (code != 2 || !strstr(out, "is not usable") || strchr(out, '\n') != out + strlen(out) - 1)
            fail_msg("status --node %s exited %d: %s", bad_urls[i], code, out);
        free(out);
    }

    /* A negative height is a bad number, not an unknown option "-1". */
    int code = ct_cli(&out, NODE_START_MS, "block", "get", "-1", "--node", fx.node.url, NULL);
    if (code != 2 || !strstr(out, "HEIGHT must be a number, not '-1'"))
        fail_msg("block get -1 exited %d: %s", code, out);
    free(out);
    code = ct_cli(&out, NODE_START_MS, "block", "get", "-x", "--node", fx.node.url, NULL);
    if (code != 2 || !strstr(out, "unknown option -x")) fail_msg("block get -x exited %d: %s", code, out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_query_proof),
        cmocka_unit_test(test_proof_in_batch_under_later_checkpoint),
        cmocka_unit_test(test_async_submit_then_poll),
        cmocka_unit_test(test_duplicate_committed_once),
        cmocka_unit_test(test_rejections_have_their_reason),
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_ten_mb_body_413),
        cmocka_unit_test(test_revoked_identity_refused),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_events_stream_blocks),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_unknown_query_parameters),
        cmocka_unit_test(test_node_start_refuses_a_wrong_directory),
        cmocka_unit_test(test_sigterm_then_restart),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
