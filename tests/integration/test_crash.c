/*
 * test_crash.c — kill -9 during a load of 20,000 txs, then restart on the
 * same directory: every tx answered "committed" is there, every tx commits
 * exactly once when all are sent again, and `carechain verify-chain` passes.
 *
 * Several threads send batches with POST /v1/txs?wait=commit; the node is
 * killed once a third of the txs have been answered as committed, so the
 * kill lands while batches are in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"

#define LOAD_TXS      20000
#define BATCH_TXS     250
#define SENDERS       4
#define NODE_START_MS 30000
#define KILL_AFTER_MS 60000 /* kill anyway if the load crawls */

typedef struct load {
    const char *url;
    cc_tx *txs;
    size_t count;
    size_t next;                 /* next batch start (atomic) */
    uint8_t committed[LOAD_TXS]; /* answered 200 committed */
    uint8_t duplicate[LOAD_TXS]; /* answered 409 duplicate */
    size_t committed_count;      /* atomic */
    size_t transport_errors;     /* atomic */
    size_t other_errors;         /* atomic */
    char first_other[512];
    bool stop;
} load;

static char *hex_of(const uint8_t *b, char out[CC_HASH_HEX])
{
    return cc_hex(b, CC_HASH_BYTES, out);
}

/* Record each entry of a batch answer; false when the answer is not one. */
static bool record_batch(load *l, size_t start, size_t n, const ct_resp *r)
{
    json_t *results = r->json ? json_object_get(r->json, "results") : NULL;
    if (r->status != 200 || json_array_size(results) != n) return false;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(results, i);
        const char *status = json_string_value(json_object_get(e, "status"));
        json_t *err = json_object_get(e, "error");
        const char *code = err ? json_string_value(json_object_get(err, "code")) : NULL;
        if (status && strcmp(status, "committed") == 0) {
            const char *txid = json_string_value(json_object_get(e, "txid"));
            char hex[CC_HASH_HEX];
            if (!txid || strcmp(txid, hex_of(l->txs[start + i].txid, hex)) != 0) return false;
            l->committed[start + i] = 1;
            __atomic_fetch_add(&l->committed_count, 1, __ATOMIC_SEQ_CST);
        } else if (code && strcmp(code, "duplicate") == 0) {
            l->duplicate[start + i] = 1;
        } else {
            if (__atomic_fetch_add(&l->other_errors, 1, __ATOMIC_SEQ_CST) == 0) {
                char *s = json_dumps(e, JSON_COMPACT);
                snprintf(l->first_other, sizeof l->first_other, "%s", s ? s : "?");
                free(s);
            }
        }
    }
    return true;
}

static void *sender(void *arg)
{
    load *l = arg;
    ct_http *h = ct_http_new();
    char *u = ct_strf("%s/v1/txs?wait=commit", l->url);
    while (!__atomic_load_n(&l->stop, __ATOMIC_SEQ_CST)) {
        size_t start = __atomic_fetch_add(&l->next, BATCH_TXS, __ATOMIC_SEQ_CST);
        if (start >= l->count) break;
        size_t n = l->count - start < BATCH_TXS ? l->count - start : BATCH_TXS;
        size_t len;
        uint8_t *body = ct_batch_body(l->txs + start, n, &len);
        ct_resp r;
        int rc = ct_http_do(h, "POST", u, "application/octet-stream", body, len, 120000, &r);
        free(body);
        if (rc != 0 || r.status == 0) {
            /* the node is gone: this batch's fate is unknown */
            __atomic_fetch_add(&l->transport_errors, 1, __ATOMIC_SEQ_CST);
            ct_resp_free(&r);
            break;
        }
        if (!record_batch(l, start, n, &r) && __atomic_fetch_add(&l->other_errors, 1, __ATOMIC_SEQ_CST) == 0)
            snprintf(l->first_other, sizeof l->first_other, "batch answer %ld: %.400s", r.status, r.body);
        ct_resp_free(&r);
    }
    free(u);
    ct_http_free(h);
    return NULL;
}

static void run_load(load *l)
{
    pthread_t t[SENDERS];
    for (int i = 0; i < SENDERS; i++) assert_int_equal(pthread_create(&t[i], NULL, sender, l), 0);
    for (int i = 0; i < SENDERS; i++) pthread_join(t[i], NULL);
}

typedef struct kill_ctx {
    load *l;
    ct_node *node;
    size_t threshold;
    int killed;
    size_t committed_at_kill;
} kill_ctx;

static void *killer(void *arg)
{
    kill_ctx *k = arg;
    uint64_t deadline = ct_now_ms() + KILL_AFTER_MS;
    while (__atomic_load_n(&k->l->committed_count, __ATOMIC_SEQ_CST) < k->threshold && ct_now_ms() < deadline)
        cc_sleep_ms(2);
    k->committed_at_kill = __atomic_load_n(&k->l->committed_count, __ATOMIC_SEQ_CST);
    k->killed = ct_node_stop(k->node, SIGKILL, 10000);
    return NULL;
}

static void test_kill9_under_load_then_restart(void **state)
{
    (void)state;
    ct_net net;
    ct_node node;
    memset(&node, 0, sizeof node);
    assert_int_equal(ct_net_create(&net, "crash"), 0);
    assert_int_equal(ct_node_start(&node, net.node_dir, net.api_port, 0, 0, NODE_START_MS), 0);

    /* a clinician sends the load */
    cc_key clinician;
    ct_key("crash-clinician", &clinician);
    cc_tx reg;
    assert_int_equal(ct_tx_register(&net, &net.admin, clinician.pk, "clinician", &reg), 0);
    ct_resp r;
    assert_int_equal(ct_submit(NULL, node.url, &reg, true, &r), 0);
    if (r.status != 200) fail_msg("register: %ld %s", r.status, r.body);
    ct_resp_free(&r);
    cc_tx_free(&reg);

    load *l = calloc(1, sizeof *l);
    assert_non_null(l);
    l->url = node.url;
    l->count = LOAD_TXS;
    l->txs = calloc(LOAD_TXS, sizeof *l->txs);
    assert_non_null(l->txs);
    for (size_t i = 0; i < LOAD_TXS; i++) assert_int_equal(ct_tx_note(&net, &clinician, i, &l->txs[i]), 0);

    /* load, and kill -9 a third of the way through */
    uint64_t t0 = ct_now_ms();
    kill_ctx k = {.l = l, .node = &node, .threshold = LOAD_TXS / 3};
    pthread_t kt;
    assert_int_equal(pthread_create(&kt, NULL, killer, &k), 0);
    run_load(l);
    pthread_join(kt, NULL);
    size_t answered = 0;
    for (size_t i = 0; i < LOAD_TXS; i++) answered += l->committed[i];
    fprintf(stderr,
            "load: %zu txs answered committed before kill -9 after %llu ms (%zu at the kill), "
            "%zu batches cut off\n",
            answered, (unsigned long long)(ct_now_ms() - t0), k.committed_at_kill, l->transport_errors);
    assert_int_equal(k.killed, 128 + SIGKILL);
    if (l->other_errors)
        fail_msg("%zu unexpected answers during the load, first: %s", l->other_errors, l->first_other);
    assert_true(answered >= LOAD_TXS / 3);
    assert_true(l->transport_errors >= 1); /* the kill cut batches off */

    /* restart: every tx answered committed is there */
    assert_int_equal(ct_node_start(&node, net.node_dir, net.api_port, 0, 0, NODE_START_MS), 0);
    ct_http *h = ct_http_new();
    size_t missing = 0;
    for (size_t i = 0; i < LOAD_TXS; i++) {
        if (!l->committed[i]) continue;
        char hex[CC_HASH_HEX];
        char *u = ct_strf("%s/v1/tx/%s", node.url, hex_of(l->txs[i].txid, hex));
        assert_int_equal(ct_http_do(h, "GET", u, NULL, NULL, 0, 0, &r), 0);
        const char *st = r.json ? json_string_value(json_object_get(r.json, "status")) : NULL;
        if (r.status != 200 || !st || strcmp(st, "committed") != 0) {
            if (missing++ < 5)
                fprintf(stderr, "tx %zu (%s) answered committed but now: %ld %s\n", i, hex, r.status, r.body);
        }
        ct_resp_free(&r);
        free(u);
    }
    ct_http_free(h);
    assert_int_equal(missing, 0);
    fprintf(stderr, "restart and %zu lookups: %llu ms\n", answered, (unsigned long long)(ct_now_ms() - t0));

    /* send everything again: what committed is a duplicate, the rest
     * commits now, and the chain holds each tx exactly once */
    char *su = ct_strf("%s/v1/status", node.url);
    assert_int_equal(ct_get(su, &r), 0);
    json_int_t total_before = json_integer_value(json_object_get(r.json, "tx_total"));
    ct_resp_free(&r);
    load *again = calloc(1, sizeof *again);
    assert_non_null(again);
    again->url = node.url;
    again->txs = l->txs;
    again->count = LOAD_TXS;
    run_load(again);
    if (again->transport_errors || again->other_errors)
        fail_msg("resend: %zu transport errors, %zu unexpected answers, first: %s", again->transport_errors,
                 again->other_errors, again->first_other);
    size_t newly = 0, dups = 0;
    for (size_t i = 0; i < LOAD_TXS; i++) {
        if (l->committed[i] && !again->duplicate[i])
            fail_msg("tx %zu committed before the kill but not a duplicate", i);
        assert_true(again->committed[i] + again->duplicate[i] == 1);
        newly += again->committed[i];
        dups += again->duplicate[i];
    }
    assert_int_equal(ct_get(su, &r), 0);
    json_int_t total_after = json_integer_value(json_object_get(r.json, "tx_total"));
    ct_resp_free(&r);
    free(su);
    fprintf(stderr, "resend: %zu newly committed, %zu duplicates; tx_total %lld -> %lld\n", newly, dups,
            (long long)total_before, (long long)total_after);
    assert_int_equal(total_after - total_before, (json_int_t)newly);
    fprintf(stderr, "resend done: %llu ms\n", (unsigned long long)(ct_now_ms() - t0));
    /* register + the whole load, once each */
    assert_int_equal(total_after, 1 + LOAD_TXS);

    /* a clean stop, and the chain verifies from the directory */
    assert_int_equal(ct_node_stop(&node, SIGTERM, 20000), 0);
    char *out = NULL;
    int code = ct_cli(&out, 120000, "verify-chain", "--dir", net.node_dir, NULL);
    if (code != 0) fail_msg("verify-chain exited %d: %s", code, out);
    free(out);
    fprintf(stderr, "verify-chain done: %llu ms\n", (unsigned long long)(ct_now_ms() - t0));

    for (size_t i = 0; i < LOAD_TXS; i++) cc_tx_free(&l->txs[i]);
    free(l->txs);
    free(l);
    free(again);
    ct_node_free(&node);
    ct_net_destroy(&net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_under_load_then_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
