/*
 * test_backup.c — `carechain backup` of a running node, and restoring from
 * it (docs/OPERATIONS.md "Backups").
 *
 * Solo: a backup taken while 10,000 txs are being committed is one
 * consistent block (verify-chain passes on it); a node started from it plus
 * the node key holds the chain up to that block, and nothing later, and
 * commits on from there. The command refuses an existing output and leaves
 * nothing behind when it fails.
 *
 * Raft: a follower's backup, taken while it runs, replaces its lost data
 * (`carechain restore` into the node's own directory); started from it,
 * the follower takes the blocks committed since from the others and the
 * network converges; verify-chain passes everywhere. restore refuses a
 * directory that holds a chain or another chain's genesis.
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
#include <sys/stat.h>

#include "carechain/os.h"
#include "support/support.h"

#define NODE_START_MS 20000
#define LEADER_MS     10000
#define CONVERGE_MS   60000
#define CLI_MS        60000
#define LOAD_TXS      2000 /* a batch, and a block */
#define LOAD_BATCHES  5
#define SMALL_MAP     (1024 * 1024)
#define MAP_MAX       (256 * 1024 * 1024)

/* `carechain backup --dir dir --out out --json`: the report (caller
 * decrefs), or NULL after printing why. */
static json_t *backup(const char *dir, const char *out)
{
    char *text = NULL;
    int rc = ct_cli(&text, CLI_MS, "backup", "--dir", dir, "--out", out, "--json", (char *)NULL);
    json_t *rep =
        rc == 0 ? json_loads(text ? text : "", 0, NULL) : NULL; /* not canonical: seconds is a real */
    if (!rep) fprintf(stderr, "carechain backup (exit %d): %s\n", rc, text ? text : "");
    free(text);
    return rep;
}

/* GET /v1/tx/{txid} from url: the HTTP status. */
static long tx_status(const char *url, const char *txid)
{
    ct_resp r;
    char *u = ct_strf("%s/v1/tx/%s", url, txid);
    long status = ct_get(u, &r) == 0 ? r.status : 0;
    ct_resp_free(&r);
    free(u);
    return status;
}

/* POST LOAD_TXS notes to url in one batch, without waiting for them;
 * batch k has notes of its own. */
static void send_load(const ct_net *net, const char *url, int k)
{
    cc_tx *txs = calloc(LOAD_TXS, sizeof *txs);
    assert_non_null(txs);
    for (int i = 0; i < LOAD_TXS; i++)
        assert_int_equal(ct_tx_note(net, &net->admin, 100000 * (uint64_t)(k + 1) + (uint64_t)i, &txs[i]), 0);
    size_t len = 0;
    uint8_t *body = ct_batch_body(txs, LOAD_TXS, &len);
    char *u = ct_strf("%s/v1/txs", url);
    ct_resp r;
    assert_int_equal(ct_post(u, "application/octet-stream", body, len, &r), 0);
    if (r.status != 200 || ct_json_int(r.json, "accepted") != LOAD_TXS)
        fail_msg("load: %ld %.200s", r.status, r.body);
    ct_resp_free(&r);
    free(u);
    free(body);
    for (int i = 0; i < LOAD_TXS; i++) cc_tx_free(&txs[i]);
    free(txs);
}

static void test_solo_backup_under_load_and_restore(void **state)
{
    (void)state;
    ct_cluster cl;
    ct_node restored;
    memset(&restored, 0, sizeof restored);
    uint64_t nonce = 0;
    char early[CC_HASH_HEX], late[CC_HASH_HEX];
    assert_int_equal(ct_cluster_create(&cl, "backup-solo", 1, 1), 0);
    /* a map of 1 MiB, which the node grows again and again under the load,
     * also while the backup's snapshot is open */
    assert_int_equal(
        ct_node_start(&cl.node[0], cl.net.node_dir, cl.net.api_port, SMALL_MAP, MAP_MAX, NODE_START_MS), 0);
    cl.out[0] = false;
    assert_true(ct_cluster_commit_note(&cl, 0, &nonce, 0, early) > 0);

    /* the backup runs while the load commits */
    char *out = ct_strf("%s/backup", cl.net.dir), *text = NULL;
    for (int k = 0; k < LOAD_BATCHES; k++) send_load(&cl.net, cl.node[0].url, k);
    json_t *rep = backup(cl.net.node_dir, out);
    assert_non_null(rep);
    int64_t hb = ct_json_int(rep, "height");
    char head[CC_HASH_HEX];
    snprintf(head, sizeof head, "%s", ct_json_str(rep, "head_hash"));
    assert_true(hb >= 1); /* the early note's block, or one of the load's */
    json_decref(rep);
    int64_t hl = ct_cluster_commit_note(&cl, 0, &nonce, 0, late);
    assert_true(hl > hb);

    /* the command never overwrites, and a failed backup leaves nothing */
    assert_int_equal(ct_cli(&text, CLI_MS, "backup", "--dir", cl.net.node_dir, "--out", out, (char *)NULL),
                     2);
    free(text);
    char *empty = ct_strf("%s/empty", cl.net.dir), *nowhere = ct_strf("%s/nowhere", cl.net.dir);
    assert_int_equal(ct_copytree(cl.net.node_dir, empty), 0);
    char *empty_data = ct_strf("%s/data", empty);
    assert_int_equal(ct_rmtree(empty_data), 0);
    assert_int_equal(ct_cli(&text, CLI_MS, "backup", "--dir", empty, "--out", nowhere, (char *)NULL), 1);
    free(text);
    struct stat st;
    assert_int_not_equal(stat(nowhere, &st), 0);

    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    /* one consistent block, whatever the load was doing */
    int rc = ct_cli(&text, CLI_MS, "verify-chain", "--dir", out, (char *)NULL);
    if (rc != 0) fprintf(stderr, "verify-chain: %s\n", text);
    assert_int_equal(rc, 0);
    free(text);
    /* the backup holds no key */
    char *key_in_backup = ct_strf("%s/node.key", out);
    assert_int_not_equal(stat(key_in_backup, &st), 0);

    /* restore: carechain restore into a fresh directory, then the node key */
    char *dir = ct_strf("%s/restored", cl.net.dir), *key = ct_strf("%s/node.key", cl.net.node_dir),
         *key_copy = ct_strf("%s/restored/node.key", cl.net.dir);
    rc = ct_cli(&text, CLI_MS, "restore", "--from", out, "--dir", dir, (char *)NULL);
    if (rc != 0) fprintf(stderr, "restore: %s\n", text);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(text, "Put the node's key at")); /* it has none yet */
    free(text);
    /* a second restore into it is refused: it holds a chain now */
    assert_int_equal(ct_cli(&text, CLI_MS, "restore", "--from", out, "--dir", dir, (char *)NULL), 1);
    assert_non_null(strstr(text, "move them aside"));
    free(text);
    size_t len = 0;
    uint8_t *k = ct_read_file(key, &len);
    assert_non_null(k);
    assert_int_equal(ct_write_file(key_copy, k, len), 0);
    free(k);
    assert_int_equal(ct_node_start(&restored, dir, ct_free_port(), 0, 0, NODE_START_MS), 0);
    ct_resp r;
    char *u = ct_strf("%s/v1/status", restored.url);
    assert_int_equal(ct_get(u, &r), 0);
    assert_int_equal(ct_json_int(r.json, "height"), hb);
    assert_string_equal(ct_json_str(r.json, "head_hash"), head);
    ct_resp_free(&r);
    assert_int_equal(tx_status(restored.url, early), 200);
    assert_int_equal(tx_status(restored.url, late), 404); /* committed after the backup */
    /* and it commits on from there */
    cc_tx tx;
    assert_int_equal(ct_tx_note(&cl.net, &cl.net.admin, 999999, &tx), 0);
    char *post = ct_strf("%s/v1/tx?wait=commit", restored.url);
    assert_int_equal(ct_post(post, "application/octet-stream", tx.raw, tx.raw_len, &r), 0);
    if (r.status != 200) fail_msg("restored node: %ld %s", r.status, r.body);
    assert_int_equal(ct_json_int(r.json, "height"), hb + 1);
    ct_resp_free(&r);
    cc_tx_free(&tx);
    assert_int_equal(ct_node_stop(&restored, SIGTERM, 20000), 0);
    ct_node_free(&restored);

    free(post);
    free(u);
    free(dir);
    free(key);
    free(key_copy);
    free(key_in_backup);
    free(empty);
    free(empty_data);
    free(nowhere);
    free(out);
    ct_cluster_destroy(&cl);
}

static void test_follower_restored_from_its_backup_catches_up(void **state)
{
    (void)state;
    ct_cluster cl;
    uint64_t nonce = 0;
    char early[CC_HASH_HEX], late[CC_HASH_HEX];
    assert_int_equal(ct_cluster_create(&cl, "backup-raft", 3, 3), 0);
    assert_int_equal(ct_cluster_start(&cl, NODE_START_MS, LEADER_MS), 0);
    int leader = ct_cluster_wait_leader(&cl, LEADER_MS);
    assert_true(leader >= 0);
    int f = ct_cluster_follower(&cl, leader);
    assert_true(f >= 0);
    int64_t h = ct_cluster_commit_note(&cl, leader, &nonce, 0, early);
    assert_true(h > 0);
    assert_true(ct_cluster_wait_converged(&cl, h, NULL, CONVERGE_MS));

    char *out = ct_strf("%s/backup", cl.net.dir);
    json_t *rep = backup(cl.net.node_dirs[f], out);
    assert_non_null(rep);
    assert_true(ct_json_int(rep, "height") >= h);
    json_decref(rep);
    for (int i = 0; i < 20; i++) h = ct_cluster_commit_note(&cl, leader, &nonce, 0, late);
    assert_true(h > 0);

    /* the follower loses its data and raft log; its backup comes back
     * through carechain restore, into its own directory (key, config and
     * genesis stay) */
    assert_int_equal(ct_cluster_stop_node(&cl, f, SIGTERM, 20000), 0);
    char *data = ct_strf("%s/data", cl.net.node_dirs[f]), *raft = ct_strf("%s/raft", cl.net.node_dirs[f]),
         *text = NULL;
    assert_int_equal(ct_rmtree(data), 0);
    assert_int_equal(ct_rmtree(raft), 0);
    int rc = ct_cli(&text, CLI_MS, "restore", "--from", out, "--dir", cl.net.node_dirs[f], (char *)NULL);
    if (rc != 0) fprintf(stderr, "restore: %s\n", text);
    assert_int_equal(rc, 0);
    assert_null(strstr(text, "Put the node's key")); /* its key is there */
    free(text);
    /* a directory of another chain is refused, and nothing is left in it */
    char *other = ct_strf("%s/other", cl.net.dir),
         *other_genesis = ct_strf("%s/other/genesis.json", cl.net.dir),
         *other_data = ct_strf("%s/other/data", cl.net.dir);
    assert_int_equal(cc_mkdirs(other, NULL), CC_OK);
    assert_int_equal(ct_write_file(other_genesis, "{}\n", 3), 0);
    assert_int_equal(ct_cli(&text, CLI_MS, "restore", "--from", out, "--dir", other, (char *)NULL), 1);
    assert_non_null(strstr(text, "is not the genesis of the chain"));
    free(text);
    struct stat st;
    assert_int_not_equal(stat(other_data, &st), 0);
    free(other);
    free(other_genesis);
    free(other_data);
    assert_int_equal(ct_cluster_start_node(&cl, f, NODE_START_MS), 0);
    bool ok = ct_cluster_wait_converged(&cl, h, NULL, CONVERGE_MS);
    if (!ok) ct_cluster_dump_logs(&cl);
    assert_true(ok);
    assert_int_equal(tx_status(cl.node[f].url, early), 200);
    assert_int_equal(tx_status(cl.node[f].url, late), 200);

    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    assert_int_equal(ct_cluster_verify_chains(&cl, CLI_MS), 0);
    free(data);
    free(raft);
    free(out);
    ct_cluster_destroy(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solo_backup_under_load_and_restore),
        cmocka_unit_test(test_follower_restored_from_its_backup_catches_up),
    };
    return cmocka_run_group_tests_name("backup", tests, NULL, NULL);
}
