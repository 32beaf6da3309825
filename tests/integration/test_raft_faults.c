/*
 * test_raft_faults.c — three real node processes on loopback under faults:
 * the same tx sent to every node at once (20 txs concurrently) commits once
 * each; the leader SIGSTOPped for 5 s under load is replaced and steps down
 * after SIGCONT without losing or doubling a committed tx; a node cut off by
 * a partition commits nothing while the majority goes on, and converges once
 * the partition heals; a follower whose data and raft directories were wiped
 * rejoins and catches up; a follower whose forward waits on a SIGSTOPped
 * leader stops promptly on SIGTERM; a note committed through the proxy
 * never crosses it in the clear; verify-chain passes on every directory at
 * the end.
 *
 * The nodes' raft traffic goes through a loopback TCP proxy, one link per
 * ordered pair of nodes (ct_raft_mesh in tests/support/ct_proxy.c), so the
 * partition needs no root. Tests run in order on one network started by the
 * group setup; every wait polls with a deadline and says what it waited for
 * when it gives up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_partition.h"
#include "support/support.h"

#define NODES             3
#define NODE_START_MS     20000
#define LEADER_WAIT_MS    10000
#define CONVERGE_MS       15000
#define STATUS_HTTP_MS    1500 /* a stopped node must not stall a poll */
#define SUBMIT_HTTP_MS    4000 /* the load's wait=commit requests */
#define COMMIT_HTTP_MS    20000
#define POLL_MS           20
#define VERIFY_MS         60000
#define STOP_MS           20000
#define SAME_TX_COUNT     20
#define SIGSTOP_MS        5000 /* how long the leader stays stopped (the 5 s) */
#define STEP_DOWN_MS      5000
#define LOAD_AFTER_MS     1000 /* load after SIGCONT / after healing */
#define LOAD_PAUSE_MS     10
#define LOAD_ATTEMPTS     20
#define BLOCKS_PAGE_MS    5000
#define FROZEN_FORWARD_MS 500  /* a forward waits on the stopped leader this long before SIGTERM */
#define PROMPT_STOP_MS    3500 /* well under the forward's 5 s timeout */

typedef struct fixture {
    ct_cluster cl; /* out[i]: stopped, isolated or down */
    ct_raft_mesh mesh;
    uint64_t nonce; /* note numbers: every note is a new tx */
} fixture;

static fixture fx;

/* ---- helpers -------------------------------------------------------------- */

/* Undo what an earlier test may have left behind when it failed half-way:
 * continue stopped nodes, heal every link. */
static void restore_all(void)
{
    for (int i = 0; i < NODES; i++) {
        if (fx.cl.node[i].pid > 0) kill(fx.cl.node[i].pid, SIGCONT);
        ct_raft_mesh_isolate(&fx.mesh, (unsigned)i, false);
        fx.cl.out[i] = fx.cl.node[i].pid <= 0;
    }
}

/* Submit a new note to node i with ?wait=commit and expect "committed". */
static void commit_note_via(int i)
{
    assert_true(ct_cluster_commit_note(&fx.cl, i, &fx.nonce, COMMIT_HTTP_MS, NULL) > 0);
}

/* How many txs in blocks from..to on node i were refused by exec as
 * already committed: a proposer that lost its term can place a tx again
 * while the block that holds it is still being committed (exactly once
 * holds: the second copy fails "duplicate" and changes nothing). -1 when
 * a block cannot be read. */
static int count_refused_duplicates(int i, int64_t from, int64_t to)
{
    int dups = 0;
    for (int64_t h = from; h <= to; h++) {
        char *path = ct_strf("/v1/blocks/%lld", (long long)h);
        json_t *b = ct_cluster_get_json(&fx.cl, i, path, BLOCKS_PAGE_MS);
        free(path);
        if (!b) return -1;
        size_t k;
        json_t *t;
        json_array_foreach(json_object_get(b, "txs"), k, t)
        {
            if (strcmp(ct_json_str(json_object_get(t, "result"), "code"), "duplicate") == 0) dups++;
        }
        json_decref(b);
    }
    return dups;
}

/* ---- setup ---------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    if (ct_cluster_create_meshed(&fx.cl, &fx.mesh, "raft-faults", NODES, STATUS_HTTP_MS) != 0) return -1;
    return ct_cluster_start(&fx.cl, NODE_START_MS, LEADER_WAIT_MS);
}

static int group_teardown(void **state)
{
    (void)state;
    ct_cluster_destroy_meshed(&fx.cl, &fx.mesh);
    return 0;
}

/* ---- the same tx to every node, 20 txs at once ------------------------------ */

typedef struct racer {
    int node;
    const cc_tx *tx;
    pthread_barrier_t *start;
    long status;
    char state[32];
    char code[32];
    char curl_error[256];
} racer;

static void *race(void *arg)
{
    racer *rc = arg;
    ct_http *h = ct_http_new();
    ct_resp r;
    char *url = ct_strf("%s/v1/tx?wait=commit", fx.cl.node[rc->node].url);
    pthread_barrier_wait(rc->start);
    if (h) {
        ct_http_do(h, "POST", url, "application/octet-stream", rc->tx->raw, rc->tx->raw_len, COMMIT_HTTP_MS,
                   &r);
        rc->status = r.status;
        snprintf(rc->state, sizeof rc->state, "%s", ct_json_str(r.json, "status"));
        snprintf(rc->code, sizeof rc->code, "%s", ct_resp_error_code(&r));
        snprintf(rc->curl_error, sizeof rc->curl_error, "%s", r.curl_error);
        ct_resp_free(&r);
    }
    free(url);
    ct_http_free(h);
    return NULL;
}

static void test_same_txs_to_all_nodes_commit_once(void **state)
{
    (void)state;
    enum { RACERS = SAME_TX_COUNT * NODES };
    json_t *before = NULL;
    assert_true(ct_cluster_wait_converged(&fx.cl, 0, &before, CONVERGE_MS));
    int64_t total_before = ct_json_int(before, "tx_total"), height_before = ct_json_int(before, "height");
    json_decref(before);

    cc_tx txs[SAME_TX_COUNT];
    for (int k = 0; k < SAME_TX_COUNT; k++)
        assert_int_equal(ct_tx_note(&fx.cl.net, &fx.cl.net.admin, ++fx.nonce, &txs[k]), 0);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACERS);
    racer racers[RACERS];
    pthread_t threads[RACERS];
    for (int k = 0; k < RACERS; k++) {
        racers[k] = (racer){.node = k % NODES, .tx = &txs[k / NODES], .start = &start};
        assert_int_equal(pthread_create(&threads[k], NULL, race, &racers[k]), 0);
    }
    for (int k = 0; k < RACERS; k++) pthread_join(threads[k], NULL);
    pthread_barrier_destroy(&start);

    for (int k = 0; k < RACERS; k++) {
        /* committed, or refused as already queued/committed on that node */
        bool ok = (racers[k].status == 200 && strcmp(racers[k].state, "committed") == 0) ||
                  (racers[k].status == 409 && strcmp(racers[k].code, "duplicate") == 0);
        if (!ok)
            fprintf(stderr, "tx %d via node%d: %ld '%s' '%s' %s\n", k / NODES, racers[k].node + 1,
                    racers[k].status, racers[k].state, racers[k].code, racers[k].curl_error);
        assert_true(ok);
    }

    json_t *after = NULL;
    assert_true(ct_cluster_wait_converged(&fx.cl, height_before + 1, &after, CONVERGE_MS));
    int64_t height_after = ct_json_int(after, "height");
    json_decref(after);
    int dups = count_refused_duplicates(0, height_before + 1, height_after);
    assert_true(dups >= 0);
    if (dups > 0) fprintf(stderr, "note: %d copies placed again were refused as duplicates\n", dups);
    for (int i = 0; i < NODES; i++) {
        json_t *st = ct_cluster_status(&fx.cl, i);
        assert_non_null(st);
        if (ct_json_int(st, "tx_total") != total_before + SAME_TX_COUNT + dups)
            fprintf(stderr, "node%d tx_total %lld, want %lld + %d + %d\n", i + 1,
                    (long long)ct_json_int(st, "tx_total"), (long long)total_before, SAME_TX_COUNT, dups);
        assert_int_equal(ct_json_int(st, "tx_total"), total_before + SAME_TX_COUNT + dups);
        json_decref(st);
    }
    char hex[CC_HASH_HEX];
    for (int k = 0; k < SAME_TX_COUNT; k++)
        for (int i = 0; i < NODES; i++)
            assert_true(ct_cluster_committed(&fx.cl, i, ct_txid_hex(&txs[k], hex), STATUS_HTTP_MS));
    assert_int_equal(ct_cluster_double_commits(&fx.cl, 0, height_after), 0);
    for (int k = 0; k < SAME_TX_COUNT; k++) cc_tx_free(&txs[k]);
}

/* ---- SIGSTOP the leader under load ------------------------------------------- */

static void test_sigstop_leader_steps_down(void **state)
{
    (void)state;
    restore_all();
    int old = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS);
    assert_true(old >= 0);
    json_t *st = ct_cluster_status(&fx.cl, old);
    int64_t old_term = ct_json_int(st, "term");
    json_decref(st);

    ct_load *l = calloc(1, sizeof *l);
    assert_non_null(l);
    *l = (ct_load){.cl = &fx.cl,
                   .first_node = ct_cluster_follower(&fx.cl, old),
                   .first_nonce = 5000000,
                   .attempts = LOAD_ATTEMPTS,
                   .http_ms = SUBMIT_HTTP_MS,
                   .pause_ms = LOAD_PAUSE_MS};
    assert_int_equal(ct_load_start(l), 0);
    cc_sleep_ms(LOAD_AFTER_MS); /* the load is flowing */
    size_t acked_before_stop = l->acked;

    /* nothing asserts until the old leader runs again and the load is joined */
    bool stopped = kill(fx.cl.node[old].pid, SIGSTOP) == 0;
    uint64_t t0 = ct_now_ms();
    fx.cl.out[old] = true;
    int leader = stopped ? ct_cluster_wait_leader(&fx.cl, SIGSTOP_MS) : -1;
    fprintf(stderr, "node%d stopped; new leader node%d after %llu ms\n", old + 1, leader + 1,
            (unsigned long long)(ct_now_ms() - t0));
    if (ct_now_ms() < t0 + SIGSTOP_MS) cc_sleep_ms((unsigned)(t0 + SIGSTOP_MS - ct_now_ms()));
    kill(fx.cl.node[old].pid, SIGCONT);
    fx.cl.out[old] = false;

    /* the old leader hears the higher term and follows the new leader */
    uint64_t deadline = ct_now_ms() + STEP_DOWN_MS;
    bool stepped_down = false;
    while (!stepped_down && ct_now_ms() < deadline) {
        st = ct_cluster_status(&fx.cl, old);
        stepped_down = st && strcmp(ct_json_str(st, "raft_state"), "follower") == 0 &&
                       ct_json_int(st, "term") > old_term;
        json_decref(st);
        if (!stepped_down) cc_sleep_ms(POLL_MS);
    }
    if (!stepped_down)
        fprintf(stderr, "waited %d ms after SIGCONT for node%d to be a follower in a term > %lld\n",
                STEP_DOWN_MS, old + 1, (long long)old_term);

    cc_sleep_ms(LOAD_AFTER_MS); /* load through the new leader, the old one back */
    ct_load_stop(l);
    fprintf(stderr, "load: %zu txs, %zu committed (%zu before SIGSTOP), %zu retries, %zu not acknowledged\n",
            l->count, l->acked, acked_before_stop, l->retries, l->gave_up);
    if (leader < 0 || !stepped_down) {
        ct_cluster_print_status(&fx.cl);
        ct_cluster_dump_logs(&fx.cl);
    }
    assert_true(stopped);
    assert_true(leader >= 0 && leader != old);
    assert_true(stepped_down);
    assert_true(acked_before_stop > 0);
    assert_true(l->acked > acked_before_stop); /* it committed during or after the stop too */

    json_t *head = NULL;
    if (!ct_cluster_wait_converged(&fx.cl, 1, &head, CONVERGE_MS)) ct_cluster_dump_logs(&fx.cl);
    assert_non_null(head);
    int64_t height = ct_json_int(head, "height");
    json_decref(head);
    for (int i = 0; i < NODES; i++) assert_int_equal(ct_load_missing(l, i, STATUS_HTTP_MS), 0);
    assert_int_equal(ct_cluster_double_commits(&fx.cl, old, height), 0);
    free(l);
}

/* ---- partition ------------------------------------------------------------- */

/* Isolate node (rp_net.isolate): cut its links in the proxy, both ways. */
static void mesh_isolate(void *ctx, int node, bool cut)
{
    ct_raft_mesh_isolate(ctx, (unsigned)node, cut);
}

static void test_partition_minority_commits_nothing(void **state)
{
    (void)state;
    restore_all();
    const rp_net n = {&fx.cl, &fx.nonce, mesh_isolate, &fx.mesh};
    rp_partition_minority_commits_nothing(&n);
}

/* ---- a follower's data wiped ------------------------------------------------- */

static void test_wiped_follower_rejoins(void **state)
{
    (void)state;
    restore_all();
    int leader = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS);
    assert_true(leader >= 0);
    int w = ct_cluster_follower(&fx.cl, leader);
    assert_int_equal(ct_cluster_stop_node(&fx.cl, w, SIGTERM, STOP_MS), 0);
    commit_note_via(leader); /* the chain moves on while it is away */

    char *data = ct_strf("%s/data", fx.cl.net.node_dirs[w]);
    char *raft = ct_strf("%s/raft", fx.cl.net.node_dirs[w]);
    assert_int_equal(ct_rmtree(data), 0);
    assert_int_equal(ct_rmtree(raft), 0);
    free(data);
    free(raft);
    /* node.key, config.json and genesis.json stay; raft goes through the proxy again */
    assert_int_equal(ct_raft_mesh_bootstrap(&fx.mesh, &fx.cl.net, (unsigned)w), 0);

    json_t *st = ct_cluster_status(&fx.cl, leader);
    assert_non_null(st);
    int64_t height = ct_json_int(st, "height");
    json_decref(st);
    assert_int_equal(ct_cluster_start_node(&fx.cl, w, NODE_START_MS), 0);
    json_t *head = NULL;
    if (!ct_cluster_wait_converged(&fx.cl, height, &head, CONVERGE_MS)) ct_cluster_dump_logs(&fx.cl);
    assert_non_null(head);
    json_decref(head);
    commit_note_via(w);
    assert_true(ct_cluster_wait_converged(&fx.cl, height + 1, NULL, CONVERGE_MS));
}

/* ---- what the raft links carry ---------------------------------------------------- */

/* Nothing of a block crosses a raft link in the clear. A note whose kind is
 * a fresh marker commits and reaches every node through the proxy, which
 * never sees the marker. It does see the hello of the links a restarted
 * follower opens, the one string of the exchange that is sent in the
 * clear: the watch would have found the marker had it passed. */
static void test_raft_links_carry_nothing_in_the_clear(void **state)
{
    (void)state;
    restore_all();
    char marker[64], hex[CC_HASH_HEX], txid[CC_HASH_HEX];
    snprintf(marker, sizeof marker, "wire-marker-%d-%llu", (int)getpid(), (unsigned long long)ct_now_ms());
    int w_marker = ct_proxy_watch(fx.mesh.proxy, marker, strlen(marker));
    int w_hello = ct_proxy_watch(fx.mesh.proxy, "carechain raft2", 15);
    assert_true(w_marker >= 0 && w_hello >= 0);

    int leader = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS);
    assert_true(leader >= 0);
    int f = ct_cluster_follower(&fx.cl, leader);
    assert_int_equal(ct_cluster_stop_node(&fx.cl, f, SIGTERM, STOP_MS), 0);
    assert_int_equal(ct_cluster_start_node(&fx.cl, f, NODE_START_MS), 0);

    uint64_t before = ct_proxy_bytes(fx.mesh.proxy);
    uint8_t h[CC_HASH_BYTES];
    cc_sha256((const uint8_t *)marker, strlen(marker), h);
    char *payload = ct_strf("{\"kind\":\"%s\",\"sha256\":\"%s\"}", marker, cc_hex(h, CC_HASH_BYTES, hex));
    cc_tx tx;
    assert_int_equal(ct_tx_make(&fx.cl.net, NULL, &fx.cl.net.admin, "note.put", payload, 0, 0, &tx), 0);
    free(payload);
    cc_hex(tx.txid, CC_HASH_BYTES, txid);
    ct_http *http = ct_http_new();
    ct_resp r;
    assert_int_equal(ct_submit(http, fx.cl.node[leader].url, &tx, true, &r), 0);
    assert_int_equal(r.status, 200);
    int64_t height = ct_json_int(r.json, "height");
    ct_resp_free(&r);
    ct_http_free(http);
    cc_tx_free(&tx);
    assert_true(height > 0);
    assert_true(ct_cluster_wait_converged(&fx.cl, height, NULL, CONVERGE_MS));
    char *path = ct_strf("/v1/tx/%s", txid);
    for (int i = 0; i < NODES; i++) { /* the marker is in every node's copy of the block */
        json_t *v = ct_cluster_get_json(&fx.cl, i, path, STATUS_HTTP_MS);
        assert_non_null(v);
        assert_string_equal(json_string_value(json_object_get(json_object_get(v, "payload"), "kind")),
                            marker);
        json_decref(v);
    }
    free(path);
    uint64_t passed = ct_proxy_bytes(fx.mesh.proxy) - before;
    fprintf(stderr,
            "raft links passed %llu bytes since the note was sent; marker seen %llu times, hello %llu\n",
            (unsigned long long)passed, (unsigned long long)ct_proxy_seen(fx.mesh.proxy, w_marker),
            (unsigned long long)ct_proxy_seen(fx.mesh.proxy, w_hello));
    assert_true(passed > 2 * strlen(marker)); /* the block went to both followers */
    assert_true(ct_proxy_seen(fx.mesh.proxy, w_hello) > 0);
    assert_int_equal(ct_proxy_seen(fx.mesh.proxy, w_marker), 0);
}

/* ---- SIGTERM while the leader does not answer ------------------------------- */

/* A follower asked to stop while its forward to the leader waits on a
 * leader that cannot answer (SIGSTOPped) abandons the forward and exits
 * well within the forward's own 5 s timeout. */
static void test_follower_stops_while_the_leader_is_frozen(void **state)
{
    (void)state;
    restore_all();
    int leader = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS);
    assert_true(leader >= 0);
    int f = ct_cluster_follower(&fx.cl, leader);
    commit_note_via(f); /* its forwarding to this leader works */

    assert_int_equal(kill(fx.cl.node[leader].pid, SIGSTOP), 0);
    fx.cl.out[leader] = true;
    cc_tx tx;
    ct_resp r;
    ct_http *h = ct_http_new();
    assert_non_null(h);
    assert_int_equal(ct_tx_note(&fx.cl.net, &fx.cl.net.admin, ++fx.nonce, &tx), 0);
    int sent = ct_submit(h, fx.cl.node[f].url, &tx, false, &r);
    long status = r.status;
    ct_resp_free(&r);
    ct_http_free(h);
    cc_tx_free(&tx);
    cc_sleep_ms(FROZEN_FORWARD_MS); /* the follower forwards it, and waits */

    uint64_t t0 = ct_now_ms();
    int code = ct_cluster_stop_node(&fx.cl, f, SIGTERM, STOP_MS);
    uint64_t took = ct_now_ms() - t0;
    kill(fx.cl.node[leader].pid, SIGCONT);
    fx.cl.out[leader] = false;
    fprintf(stderr, "node%d stopped in %llu ms while its leader node%d was stopped\n", f + 1,
            (unsigned long long)took, leader + 1);
    assert_int_equal(sent, 0);
    assert_int_equal(status, 202);
    assert_int_equal(code, 0);
    assert_true(took < PROMPT_STOP_MS);

    assert_int_equal(ct_cluster_start_node(&fx.cl, f, NODE_START_MS), 0);
    if (!ct_cluster_wait_converged(&fx.cl, 1, NULL, CONVERGE_MS)) ct_cluster_dump_logs(&fx.cl);
    commit_note_via(f);
}

/* ---- at the end -------------------------------------------------------------- */

static void test_verify_chain_on_every_node(void **state)
{
    (void)state;
    restore_all();
    json_t *head = NULL;
    assert_true(ct_cluster_wait_converged(&fx.cl, 1, &head, CONVERGE_MS));
    assert_int_equal(ct_cluster_double_commits(&fx.cl, 0, ct_json_int(head, "height")), 0);
    json_decref(head);
    for (int i = 0; i < NODES; i++) assert_int_equal(ct_node_stop(&fx.cl.node[i], SIGTERM, STOP_MS), 0);
    assert_int_equal(ct_cluster_verify_chains(&fx.cl, VERIFY_MS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_txs_to_all_nodes_commit_once),
        cmocka_unit_test(test_sigstop_leader_steps_down),
        cmocka_unit_test(test_partition_minority_commits_nothing),
        cmocka_unit_test(test_wiped_follower_rejoins),
        cmocka_unit_test(test_raft_links_carry_nothing_in_the_clear),
        cmocka_unit_test(test_follower_stops_while_the_leader_is_frozen),
        cmocka_unit_test(test_verify_chain_on_every_node),
    };
    return cmocka_run_group_tests_name("raft_faults", tests, group_setup, group_teardown);
}
