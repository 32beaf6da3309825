/*
 * test_raft_snapshots.c — raft snapshots that carry only (height, block
 * hash, state root), and catch-up by block fetch, on three real node
 * processes whose config.json lowers the snapshot threshold to 16 entries
 * (4 kept behind). A follower is stopped while the leader commits enough
 * blocks to snapshot and truncate its log, then its data and raft
 * directories are wiped: on restart it installs the leader's snapshot,
 * fetches the missing blocks from GET /v1/blocks/{height}/raw, verifies and
 * applies them, and reaches the same head. Two patient records are written
 * while it is away and one of them erased: the caught-up follower fetches
 * the kept record's attachment from its peers (verified against its
 * SHA-256) and serves the record, and does not bring the erased one back.
 * That follower is stopped again and the kept record's ciphertext deleted
 * from its store: its repair pass, reading the records one per snapshot
 * (the test build's CARECHAIN_TEST_REPAIR_CHUNK), fetches it again after
 * the restart.
 * Then the whole network restarts
 * from its snapshots and agrees again; verify-chain passes on every
 * directory at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carechain/chain.h"
#include "cli/cli.h"
#include "core/codec.h"
#include "support/ct_records.h"
#include "support/ct_store.h"
#include "support/support.h"

#define NODES                3
#define NODE_START_MS        20000
#define LEADER_WAIT_MS       10000
#define CONVERGE_MS          20000
#define STATUS_HTTP_MS       1500
#define COMMIT_HTTP_MS       20000
#define STOP_MS              20000
#define REPAIR_WAIT_MS       20000 /* the node's first repair pass runs ~3 s after its start */
#define VERIFY_MS            60000
#define SNAP_THRESHOLD       16 /* raft entries between two snapshots, in this test */
#define SNAP_TRAILING        4  /* entries kept behind one */
#define NOTES_WHILE_AWAY     40 /* blocks committed while the follower is down: > 2 snapshots */
#define NOTES_BEFORE_RESTART 20
#define MORE_RECORDS         3 /* besides the kept and the erased one, for the repair pass to read */

#define RECORD_DOC "{\"resourceType\":\"Observation\",\"status\":\"final\"}"

typedef struct fixture {
    ct_cluster cl;
    uint64_t nonce;
    cc_key patient;
    char patient_id[CC_HASH_HEX];
    int away;                  /* the follower that caught up */
    char kept[33];             /* the record that was not erased */
    char kept_ct[CC_HASH_HEX]; /* its ciphertext's SHA-256 */
} fixture;

static fixture fx;

/* Submit a new note to node i with ?wait=commit and expect "committed". */
static void commit_note_via(int i)
{
    assert_true(ct_cluster_commit_note(&fx.cl, i, &fx.nonce, COMMIT_HTTP_MS, NULL) > 0);
}

/* Does node i's raft directory hold a snapshot file? */
static bool has_snapshot(int i)
{
    char *dir = ct_strf("%s/raft", fx.cl.net.node_dirs[i]);
    DIR *d = opendir(dir);
    bool found = false;
    struct dirent *e;
    while (d && !found && (e = readdir(d))) found = strncmp(e->d_name, "snapshot-", strlen("snapshot-")) == 0;
    if (d) closedir(d);
    free(dir);
    return found;
}

static int64_t height_of(int i)
{
    json_t *st = ct_cluster_status(&fx.cl, i);
    int64_t h = st ? ct_json_int(st, "height") : -1;
    json_decref(st);
    return h;
}

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    if (ct_cluster_create(&fx.cl, "raft-snap", NODES, NODES) != 0) return -1;
    fx.cl.status_timeout_ms = STATUS_HTTP_MS;
    ct_key("raft-snap/patient", &fx.patient);
    ct_pk_hex(&fx.patient, fx.patient_id);
    for (unsigned i = 0; i < NODES; i++)
        if (ct_node_config_snapshots(fx.cl.net.node_dirs[i], SNAP_THRESHOLD, SNAP_TRAILING) != 0) return -1;
    return ct_cluster_start(&fx.cl, NODE_START_MS, LEADER_WAIT_MS);
}

static int group_teardown(void **state)
{
    (void)state;
    ct_cluster_destroy(&fx.cl);
    return 0;
}

/* ---- the raw block endpoint ---------------------------------------------------- */

static void test_raw_block_endpoint(void **state)
{
    (void)state;
    int leader = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS);
    assert_true(leader >= 0);
    commit_note_via(leader);

    ct_resp r;
    char *url = ct_strf("%s/v1/blocks/1/raw", fx.cl.node[leader].url);
    assert_int_equal(ct_get(url, &r), 0);
    assert_int_equal(r.status, 200);
    cc_block b;
    cc_errbuf eb = {{0}};
    memset(&b, 0, sizeof b);
    assert_int_equal(cc_block_decode((const uint8_t *)r.body, r.len, &b, &eb), CC_OK);
    assert_int_equal(b.h.height, 1);
    cc_block_free(&b);
    ct_resp_free(&r);
    free(url);

    url = ct_strf("%s/v1/blocks/999999/raw", fx.cl.node[leader].url);
    assert_int_equal(ct_get(url, &r), 0);
    assert_int_equal(r.status, 404);
    ct_resp_free(&r);
    free(url);

    /* a range: u32 n || block, for heights from.. up to count or the head */
    commit_note_via(leader);
    int64_t head = height_of(leader);
    assert_true(head >= 2);
    url = ct_strf("%s/v1/blocks/raw?from=1&count=%lld", fx.cl.node[leader].url, (long long)head + 5);
    assert_int_equal(ct_get(url, &r), 0);
    assert_int_equal(r.status, 200);
    cc_reader rd = {(const uint8_t *)r.body, r.len};
    int64_t got = 0;
    while (rd.left > 0) {
        const uint8_t *nb = cc_take(&rd, 4);
        assert_non_null(nb);
        const uint8_t *raw = cc_take(&rd, cc_get_u32(nb));
        assert_non_null(raw);
        memset(&b, 0, sizeof b);
        assert_int_equal(cc_block_decode(raw, cc_get_u32(nb), &b, &eb), CC_OK);
        assert_int_equal(b.h.height, ++got);
        cc_block_free(&b);
    }
    assert_int_equal(got, head);
    ct_resp_free(&r);
    free(url);
    static const char *const bad[] = {"", "?from=0", "?from=1&count=0", "?from=1&count=257", "?from=x"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        url = ct_strf("%s/v1/blocks/raw%s", fx.cl.node[leader].url, bad[k]);
        assert_int_equal(ct_get(url, &r), 0);
        assert_int_equal(r.status, 400);
        ct_resp_free(&r);
        free(url);
    }
    url = ct_strf("%s/v1/blocks/raw?from=999999", fx.cl.node[leader].url);
    assert_int_equal(ct_get(url, &r), 0);
    assert_int_equal(r.status, 404);
    ct_resp_free(&r);
    free(url);
}

/* A committed record of the patient's own, written through node i; its id
 * in id (33 bytes). */
static void put_record(int i, char id[33])
{
    cc_cli_http *h = cc_cli_http_new(fx.cl.node[i].url);
    cc_cli_record_in in = {
        fx.patient_id, NULL,   (const uint8_t *)RECORD_DOC, strlen(RECORD_DOC), "Observation",
        "vital-signs", "TREAT"};
    cc_cli_sent sent;
    cc_errbuf eb = {{0}};
    assert_int_equal(cc_cli_record_put(h, fx.cl.net.chain_id, &fx.patient, &in, true, &sent, id, &eb), CC_OK);
    if (!cc_cli_sent_ok(&sent) || !sent.committed) fail_msg("record.put: %s: %s", sent.code, sent.message);
    cc_cli_sent_free(&sent);
    cc_cli_http_free(h);
}

static void commit_json(int i, const char *type, json_t *payload)
{
    cc_cli_http *h = cc_cli_http_new(fx.cl.node[i].url);
    cc_errbuf eb = {{0}};
    if (cc_cli_commit_json(h, fx.cl.net.chain_id, &fx.patient, type, payload, NULL, &eb) != CC_OK)
        fail_msg("%s via node%d: %s", type, i + 1, eb.msg);
    cc_cli_http_free(h);
}

/* ---- a wiped follower installs a snapshot and fetches the blocks ------------- */

static void test_wiped_follower_installs_snapshot(void **state)
{
    (void)state;
    int leader = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS);
    assert_true(leader >= 0);
    int w = ct_cluster_follower(&fx.cl, leader);
    assert_true(w >= 0);
    assert_int_equal(ct_cluster_stop_node(&fx.cl, w, SIGTERM, STOP_MS), 0);

    /* while it is away: the patient writes two records and erases one */
    char kept[33], erased[33];
    cc_cli_http *lh = cc_cli_http_new(fx.cl.node[leader].url);
    cc_errbuf eb = {{0}};
    assert_int_equal(cc_cli_commit_json(lh, fx.cl.net.chain_id, &fx.cl.net.admin, "member.register",
                                        json_pack("{s:s,s:s}", "id", fx.patient_id, "role", "patient"), NULL,
                                        &eb),
                     CC_OK);
    cc_cli_http_free(lh);
    put_record(leader, kept);
    put_record(leader, erased);
    commit_json(leader, "record.erase",
                json_pack("{s:s,s:s}", "record", erased, "reason", "patient request"));

    for (int k = 0; k < NOTES_WHILE_AWAY; k++) commit_note_via(leader);
    assert_true(has_snapshot(leader)); /* and its log was truncated behind it */

    char *data = ct_strf("%s/data", fx.cl.net.node_dirs[w]);
    char *raft = ct_strf("%s/raft", fx.cl.net.node_dirs[w]);
    assert_int_equal(ct_rmtree(data), 0);
    assert_int_equal(ct_rmtree(raft), 0);
    free(data);
    free(raft);

    int64_t height = height_of(leader);
    assert_true(height > NOTES_WHILE_AWAY);
    assert_int_equal(ct_cluster_start_node(&fx.cl, w, NODE_START_MS), 0);
    json_t *head = NULL;
    if (!ct_cluster_wait_converged(&fx.cl, height, &head, CONVERGE_MS)) ct_cluster_dump_logs(&fx.cl);
    assert_non_null(head);
    json_decref(head);
    assert_true(has_snapshot(w)); /* installed from the leader */
    json_t *st = ct_cluster_status(&fx.cl, w);
    assert_non_null(st);
    fprintf(stderr, "node%d fetched %lld blocks to reach height %lld\n", w + 1,
            (long long)ct_json_int(st, "blocks_fetched"), (long long)height);
    assert_true(ct_json_int(st, "blocks_fetched") > 0); /* by block fetch, not by raft's log */
    fprintf(stderr, "in %lld requests\n", (long long)ct_json_int(st, "block_requests"));
    assert_true(ct_json_int(st, "block_requests") >= 1);
    assert_true(ct_json_int(st, "block_requests") < ct_json_int(st, "blocks_fetched")); /* ranges */
    assert_int_equal(ct_json_int(st, "attachments_fetched"), 1); /* the kept record's, not the erased one's */
    json_decref(st);

    /* the caught-up follower serves the kept record (its ciphertext came
     * from a peer) and not the erased one */
    cc_cli_http *fh = cc_cli_http_new(fx.cl.node[w].url);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    json_t *answer = NULL;
    cc_err rc = cc_cli_record_get(fh, &fx.patient, NULL, kept, "TREAT", &plain, &plain_len, &answer, &eb);
    if (rc != CC_OK) fail_msg("reading the kept record on node%d: %s", w + 1, eb.msg);
    assert_int_equal(plain_len, strlen(RECORD_DOC));
    assert_memory_equal(plain, RECORD_DOC, plain_len);
    free(plain);
    /* attachment bytes go to nodes only: not unsigned, not to a person */
    fx.away = w;
    snprintf(fx.kept, sizeof fx.kept, "%s", kept);
    snprintf(fx.kept_ct, sizeof fx.kept_ct, "%s",
             ct_json_str(json_object_get(answer, "record"), "ciphertext"));
    char *path = ct_strf("/v1/attachments/%s", fx.kept_ct);
    char *url = ct_strf("%s%s", fx.cl.node[leader].url, path);
    ct_resp r;
    assert_int_equal(ct_get(url, &r), 0);
    assert_int_equal(r.status, 401);
    ct_resp_free(&r);
    ct_signed_resp sr;
    assert_int_equal(ct_signed_get(fx.cl.node[leader].url, &fx.patient, path, "", 0, NULL, &sr), 0);
    assert_int_equal(sr.r.status, 403);
    ct_signed_resp_free(&sr);
    free(url);
    free(path);
    json_decref(answer);
    answer = NULL;
    assert_int_not_equal(
        cc_cli_record_get(fh, &fx.patient, NULL, erased, "TREAT", &plain, &plain_len, &answer, &eb), CC_OK);
    json_decref(answer);
    cc_cli_http_free(fh);
    commit_note_via(w);
    assert_true(ct_cluster_wait_converged(&fx.cl, height + 1, NULL, CONVERGE_MS));
}

/* ---- an attachment lost from a node's store comes back from its peers --------- */

/* Delete the attachment with SHA-256 hex from the (stopped) node's store. */
static void delete_attachment(const char *node_dir, const char *hex)
{
    uint8_t hash[CC_HASH_BYTES];
    ct_store st = {0};
    assert_int_equal(cc_unhex(hex, hash, sizeof hash), CC_OK);
    assert_int_equal(ct_store_open(&st, node_dir, "attachment_at"), 0);
    MDB_val k = {sizeof hash, hash};
    assert_int_equal(mdb_del(st.txn, st.dbi, &k, NULL), 0);
    assert_int_equal(ct_store_commit(&st), 0);
}

static void test_lost_attachment_is_fetched_again(void **state)
{
    (void)state;
    int w = fx.away;
    char more[MORE_RECORDS][33];
    assert_true(fx.kept_ct[0]);
    for (int k = 0; k < MORE_RECORDS; k++) put_record((w + 1) % NODES, more[k]);
    assert_true(ct_cluster_wait_converged(&fx.cl, 1, NULL, CONVERGE_MS));
    assert_int_equal(ct_cluster_stop_node(&fx.cl, w, SIGTERM, STOP_MS), 0);
    delete_attachment(fx.cl.net.node_dirs[w], fx.kept_ct);

    /* the test build reads the records one per snapshot: the pass goes on
     * after the last record it read, chunk after chunk, to the end */
    const char *bin = fx.cl.node[w].bin;
    fx.cl.node[w].bin = ct_carechain_faults_bin();
    setenv("CARECHAIN_TEST_REPAIR_CHUNK", "1", 1);
    int started = ct_cluster_start_node(&fx.cl, w, NODE_START_MS);
    unsetenv("CARECHAIN_TEST_REPAIR_CHUNK");
    fx.cl.node[w].bin = bin;
    assert_int_equal(started, 0);

    /* a few seconds after its start the node reads the records, finds the
     * kept one's ciphertext missing and fetches it; the erased one's it
     * leaves alone. The pass counts once it has read the last record. */
    uint64_t deadline = ct_now_ms() + REPAIR_WAIT_MS;
    int64_t passes = 0, fetched = 0, missing = -1;
    do {
        json_t *st = ct_cluster_status(&fx.cl, w);
        if (st) {
            passes = ct_json_int(st, "repair_passes");
            fetched = ct_json_int(st, "attachments_fetched");
            missing = ct_json_int(st, "attachments_missing");
        }
        json_decref(st);
        if (passes < 1) cc_sleep_ms(100);
    } while (passes < 1 && ct_now_ms() < deadline);
    if (passes < 1 || fetched != 1) ct_cluster_dump_logs(&fx.cl);
    assert_true(passes >= 1);
    assert_int_equal(fetched, 1);
    assert_int_equal(missing, 0);

    cc_cli_http *fh = cc_cli_http_new(fx.cl.node[w].url);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    json_t *answer = NULL;
    cc_errbuf eb = {{0}};
    cc_err rc = cc_cli_record_get(fh, &fx.patient, NULL, fx.kept, "TREAT", &plain, &plain_len, &answer, &eb);
    if (rc != CC_OK) fail_msg("reading the kept record on node%d: %s", w + 1, eb.msg);
    assert_int_equal(plain_len, strlen(RECORD_DOC));
    assert_memory_equal(plain, RECORD_DOC, plain_len);
    free(plain);
    json_decref(answer);
    cc_cli_http_free(fh);
}

/* ---- the whole network restarts from its snapshots ---------------------------- */

static void test_network_restarts_after_snapshots(void **state)
{
    (void)state;
    int leader = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS);
    assert_true(leader >= 0);
    for (int k = 0; k < NOTES_BEFORE_RESTART; k++) commit_note_via(k % 2 ? leader : (leader + 1) % NODES);
    json_t *head = NULL;
    assert_true(ct_cluster_wait_converged(&fx.cl, 1, &head, CONVERGE_MS));
    int64_t height = ct_json_int(head, "height");
    json_decref(head);
    for (int i = 0; i < NODES; i++) assert_true(has_snapshot(i));

    assert_int_equal(ct_cluster_stop_all(&fx.cl, SIGTERM, STOP_MS), 0);
    for (int i = 0; i < NODES; i++) assert_int_equal(ct_cluster_start_node(&fx.cl, i, NODE_START_MS), 0);
    leader = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS);
    if (leader < 0) ct_cluster_dump_logs(&fx.cl);
    assert_true(leader >= 0);
    if (!ct_cluster_wait_converged(&fx.cl, height, NULL, CONVERGE_MS)) ct_cluster_dump_logs(&fx.cl);
    commit_note_via(leader);
    commit_note_via((leader + 1) % NODES);
    assert_true(ct_cluster_wait_converged(&fx.cl, height + 2, NULL, CONVERGE_MS));
    for (int i = 0; i < NODES; i++) {
        json_t *st = ct_cluster_status(&fx.cl, i);
        assert_non_null(st);
        assert_false(json_is_true(json_object_get(st, "halted")));
        json_decref(st);
    }
}

static void test_verify_chain_on_every_node(void **state)
{
    (void)state;
    assert_int_equal(ct_cluster_stop_all(&fx.cl, SIGTERM, STOP_MS), 0);
    assert_int_equal(ct_cluster_verify_chains(&fx.cl, VERIFY_MS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_block_endpoint),
        cmocka_unit_test(test_wiped_follower_installs_snapshot),
        cmocka_unit_test(test_lost_attachment_is_fetched_again),
        cmocka_unit_test(test_network_restarts_after_snapshots),
        cmocka_unit_test(test_verify_chain_on_every_node),
    };
    return cmocka_run_group_tests_name("raft_snapshots", tests, group_setup, group_teardown);
}
