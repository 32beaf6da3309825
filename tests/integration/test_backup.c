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
 *
 * A whole network lost at once (docs/CONSENSUS.md "Restoring a whole
 * network"): restored from backups of three different heights, the chain
 * goes on from the newest; restored after governance changed the node
 * set, raft starts from the set the chain records; with a node lost for
 * good, the others wait for it until config.json "restore_without" names
 * it; should it come back with its data after all, every node halts on
 * the evidence, and the halted nodes stop passing leadership round.
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
    assert_null(strstr(text, "On a raft network"));         /* a solo chain */
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
    assert_non_null(strstr(text, "If every node is being restored, start them all"));
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

/* The node in dir loses its data/ and raft/; when from is not NULL, that
 * backup comes back into dir through `carechain restore`. */
static void lose_and_restore(const char *dir, const char *from)
{
    char *data = ct_strf("%s/data", dir), *raft = ct_strf("%s/raft", dir), *out = NULL;
    assert_int_equal(ct_rmtree(data), 0);
    assert_int_equal(ct_rmtree(raft), 0);
    if (from) {
        int rc = ct_cli(&out, CLI_MS, "restore", "--from", from, "--dir", dir, (char *)NULL);
        if (rc != 0) fprintf(stderr, "restore into %s: %s\n", dir, out ? out : "");
        assert_int_equal(rc, 0);
        free(out);
    }
    free(data);
    free(raft);
}

/* `carechain network VERB --key key --node url a1 a2` must succeed; when
 * txid is not NULL, the proposal it names goes there. */
static void network_cli(const char *verb, const char *key, const char *url, char txid[CC_HASH_HEX],
                        const char *a1, const char *a2)
{
    char *out = NULL;
    int rc = ct_cli(&out, CLI_MS, "network", verb, "--key", key, "--node", url, a1, a2, (char *)NULL);
    if (rc != 0) fprintf(stderr, "network %s: %s\n", verb, out ? out : "");
    assert_int_equal(rc, 0);
    if (txid) assert_true(ct_proposal_of(out, txid));
    free(out);
}

/* Governance (the hospital proposes, the payer approves) removes node id. */
static void remove_node(const ct_cluster *cl, const char *hospital, const char *payer, const char *id)
{
    char txid[CC_HASH_HEX];
    network_cli("propose-remove", hospital, cl->node[2].url, txid, "--id", id);
    network_cli("approve", payer, cl->node[2].url, NULL, "--proposal", txid);
}

/* Wait until node i reports raft_voters == voters. */
static bool wait_voters(const ct_cluster *cl, int i, int64_t voters)
{
    uint64_t deadline = ct_now_ms() + CONVERGE_MS;
    do {
        json_t *st = ct_cluster_status(cl, i);
        bool ok = st && ct_json_int(st, "raft_voters") == voters;
        json_decref(st);
        if (ok) return true;
        cc_sleep_ms(100);
    } while (ct_now_ms() < deadline);
    return false;
}

/* Every node of a network lost at once, after governance changed its node
 * set: node4 added, genesis node1 and node2 removed (and decommissioned),
 * so node3 and node4 are the network. One backup of node3, restored into
 * both, starts raft from the node set that chain records. The build that
 * bootstrapped raft from the genesis nodes left node3 a voter among
 * node1..node3, two of which never came back, and no leader was ever
 * elected. */
static void test_whole_network_restored_after_its_node_set_changed(void **state)
{
    (void)state;
    enum { NODE1, NODE2, NODE3, NODE4 };
    ct_cluster cl;
    ct_joiner j4;
    uint64_t nonce = 0;
    char kept[CC_HASH_HEX], lost[CC_HASH_HEX], api[32], raft[32], txid[CC_HASH_HEX], id[CC_HASH_HEX];
    assert_int_equal(ct_cluster_create(&cl, "backup-all", 3, 4), 0);
    char *hospital = ct_strf("%s/admin-hospital.key", cl.net.dir),
         *payer = ct_strf("%s/admin-payer.key", cl.net.dir);
    assert_int_equal(ct_key_save(hospital, &cl.net.admin), 0);
    assert_int_equal(ct_key_save(payer, &cl.net.payer_admin), 0);
    assert_int_equal(ct_joiner_prepare(&cl.net, "node4", &j4), 0);
    char *peers = ct_strf("[\"127.0.0.1:%d\"]", cl.net.api_ports[NODE3]);
    assert_int_equal(ct_joiner_config(&j4, peers), 0);
    free(peers);
    assert_int_equal(ct_cluster_start(&cl, NODE_START_MS, LEADER_MS), 0);

    /* node4 in; node1 and node2 out */
    snprintf(api, sizeof api, "127.0.0.1:%d", j4.api);
    snprintf(raft, sizeof raft, "127.0.0.1:%d", j4.raft);
    char *out = NULL;
    int rc = ct_cli(&out, CLI_MS, "network", "propose-add", "--key", hospital, "--name", "node4", "--keyfile",
                    j4.key_path, "--org", "payer", "--api", api, "--raft", raft, "--node", cl.node[NODE3].url,
                    (char *)NULL);
    if (rc != 0) fprintf(stderr, "propose-add: %s\n", out ? out : "");
    assert_int_equal(rc, 0);
    assert_true(ct_proposal_of(out, txid));
    free(out);
    network_cli("approve", payer, cl.node[NODE3].url, NULL, "--proposal", txid);
    assert_int_equal(ct_node_start(&cl.node[NODE4], j4.dir, j4.api, 0, 0, NODE_START_MS), 0);
    cl.out[NODE4] = false;
    bool ok = wait_voters(&cl, NODE3, 4);
    for (int i = NODE1; ok && i <= NODE2; i++) {
        remove_node(&cl, hospital, payer, cc_hex(cl.net.node_keys[i].pk, CC_PUBKEY_BYTES, id));
        ok = wait_voters(&cl, NODE3, 3 - i);
    }
    if (!ok) ct_cluster_dump_logs(&cl);
    assert_true(ok);
    assert_int_equal(ct_cluster_stop_node(&cl, NODE1, SIGTERM, 20000), 0);
    assert_int_equal(ct_cluster_stop_node(&cl, NODE2, SIGTERM, 20000), 0);

    /* a backup of node3, then one more tx, which the restore loses */
    int64_t h = ct_cluster_commit_note(&cl, NODE4, &nonce, 0, kept);
    assert_true(h > 0);
    assert_true(ct_cluster_wait_converged(&cl, h, NULL, CONVERGE_MS));
    char *bk = ct_strf("%s/backup-node3", cl.net.dir);
    json_t *rep = backup(cl.net.node_dirs[NODE3], bk);
    assert_non_null(rep);
    json_decref(rep);
    assert_true(ct_cluster_commit_note(&cl, NODE3, &nonce, 0, lost) > h);

    /* both lost; the one backup restored into both node directories */
    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    const char *dirs[] = {cl.net.node_dirs[NODE3], j4.dir};
    for (size_t i = 0; i < 2; i++) lose_and_restore(dirs[i], bk);
    assert_int_equal(ct_cluster_start_node(&cl, NODE3, NODE_START_MS), 0);
    assert_int_equal(ct_node_start(&cl.node[NODE4], j4.dir, j4.api, 0, 0, NODE_START_MS), 0);
    cl.out[NODE4] = false;

    /* a leader, two voters, and the chain goes on from the backup's block */
    ok = ct_cluster_wait_any_leader(&cl, 4, CONVERGE_MS) >= 0 && wait_voters(&cl, NODE3, 2) &&
         wait_voters(&cl, NODE4, 2);
    int64_t after = ok ? ct_cluster_commit_note(&cl, NODE4, &nonce, 0, NULL) : -1;
    ok = after == h + 1 && ct_cluster_wait_converged(&cl, after, NULL, CONVERGE_MS);
    if (!ok) ct_cluster_dump_logs(&cl);
    assert_true(ok);
    assert_true(ct_cluster_commit_note(&cl, NODE3, &nonce, 0, NULL) > after);
    for (int i = NODE3; i <= NODE4; i++) {
        assert_int_equal(tx_status(cl.node[i].url, kept), 200);
        assert_int_equal(tx_status(cl.node[i].url, lost), 404);
    }

    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    for (size_t i = 0; i < 2; i++) {
        rc = ct_cli(&out, CLI_MS, "verify-chain", "--dir", dirs[i], (char *)NULL);
        if (rc != 0) fprintf(stderr, "verify-chain %s: %s\n", dirs[i], out ? out : "");
        assert_int_equal(rc, 0);
        free(out);
    }
    free(bk);
    free(hospital);
    free(payer);
    ct_joiner_free(&j4);
    ct_cluster_destroy(&cl);
}

/* Wait until the log of node i holds needle. */
static bool wait_log(const ct_cluster *cl, int i, const char *needle)
{
    uint64_t deadline = ct_now_ms() + CONVERGE_MS;
    while (!ct_tree_contains(cl->node[i].log_path, needle)) {
        if (ct_now_ms() >= deadline) return false;
        cc_sleep_ms(100);
    }
    return true;
}

/* Every node of a network lost at once and each restored from its own
 * backup, of three different moments: node1's is the oldest, node3's
 * newer, node2's the newest. node1 and node3 start first and elect a
 * leader, which waits for node2's answer, takes the blocks only node2
 * kept, and goes on from there; the node further behind takes what it
 * lacks when the first new block arrives. The build before proposed on
 * the leader's own head, and the network halted on two different blocks
 * at one height. */
static void test_whole_network_restored_from_backups_of_different_days(void **state)
{
    (void)state;
    enum { NODE1, NODE2, NODE3 };
    static const int backed_up[] = {NODE1, NODE3, NODE2}; /* oldest first */
    ct_cluster cl;
    uint64_t nonce = 0;
    char txids[4][CC_HASH_HEX], *bk[3];
    int64_t h = 0, kept[3] = {0}; /* the height of each node's backup */
    assert_int_equal(ct_cluster_create(&cl, "backup-days", 3, 3), 0);
    assert_int_equal(ct_cluster_start(&cl, NODE_START_MS, LEADER_MS), 0);
    int leader = ct_cluster_wait_leader(&cl, LEADER_MS);
    assert_true(leader >= 0);
    for (int k = 0; k < 4; k++) {
        h = ct_cluster_commit_note(&cl, leader, &nonce, 0, txids[k]);
        assert_true(h > 0);
        assert_true(ct_cluster_wait_converged(&cl, h, NULL, CONVERGE_MS));
        if (k == 3) break; /* the last tx is in no backup */
        int i = backed_up[k];
        bk[i] = ct_strf("%s/backup-node%d", cl.net.dir, i + 1);
        json_t *rep = backup(cl.net.node_dirs[i], bk[i]);
        assert_non_null(rep);
        kept[i] = ct_json_int(rep, "height");
        json_decref(rep);
    }
    int64_t newest = kept[NODE2];
    assert_true(kept[NODE1] < kept[NODE3] && kept[NODE3] < newest && newest < h);

    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    for (int i = 0; i < 3; i++) lose_and_restore(cl.net.node_dirs[i], bk[i]);

    /* node1 and node3 elect a leader; it waits for node2 */
    assert_int_equal(ct_cluster_start_node(&cl, NODE1, NODE_START_MS), 0);
    assert_int_equal(ct_cluster_start_node(&cl, NODE3, NODE_START_MS), 0);
    leader = ct_cluster_wait_any_leader(&cl, 3, CONVERGE_MS);
    bool ok = leader >= 0 && wait_log(&cl, leader, "asking the other 2 nodes for their heads") &&
              wait_log(&cl, leader, "waiting for the heads of node2");
    if (!ok) ct_cluster_dump_logs(&cl);
    assert_true(ok);
    assert_int_equal(ct_cluster_start_node(&cl, NODE2, NODE_START_MS), 0);
    char *took = ct_strf("took blocks %lld..%lld from node2: the chain goes on from height %lld",
                         (long long)kept[leader] + 1, (long long)newest, (long long)newest);
    ok = wait_log(&cl, leader, took);
    free(took);
    if (!ok) ct_cluster_dump_logs(&cl);
    assert_true(ok);

    int64_t next = ct_cluster_commit_note(&cl, NODE1, &nonce, 0, NULL);
    ok = next == newest + 1 && ct_cluster_wait_converged(&cl, next, NULL, CONVERGE_MS);
    if (!ok) {
        fprintf(stderr, "committed at %lld, after node2's backup at %lld\n", (long long)next,
                (long long)newest);
        ct_cluster_dump_logs(&cl);
    }
    assert_true(ok);
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 3; k++) assert_int_equal(tx_status(cl.node[i].url, txids[k]), 200);
        assert_int_equal(tx_status(cl.node[i].url, txids[3]), 404);
        json_t *st = ct_cluster_status(&cl, i);
        assert_false(json_is_true(json_object_get(st, "halted")));
        json_decref(st);
    }
    /* the leader fetched the blocks only node2 kept; the other node, behind
     * the first new block, those it lacked; node2 none */
    for (int i = 0; i < 3; i++) {
        json_t *st = ct_cluster_status(&cl, i);
        assert_int_equal(ct_json_int(st, "blocks_fetched"), newest - kept[i]);
        json_decref(st);
    }

    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    assert_int_equal(ct_cluster_verify_chains(&cl, CLI_MS), 0);
    for (int i = 0; i < 3; i++) free(bk[i]);
    ct_cluster_destroy(&cl);
}

/* Add "restore_without": [name] to the config.json of the node in dir. */
static void config_restore_without(const char *dir, const char *name)
{
    char *path = ct_strf("%s/config.json", dir);
    json_t *cfg = json_load_file(path, 0, NULL);
    assert_non_null(cfg);
    json_object_set_new(cfg, "restore_without", json_pack("[s]", name));
    assert_int_equal(json_dump_file(cfg, path, JSON_INDENT(2)), 0);
    json_decref(cfg);
    free(path);
}

/* node2 is lost for good; node1 and node3 come back from their backups.
 * Their leader waits for node2's head (node2 might hold the newest block),
 * and keeps waiting across a restart of both; once their config.json says
 * "restore_without": ["node2"], the chain goes on. */
static void test_restore_waits_for_every_node_unless_told(void **state)
{
    (void)state;
    enum { NODE1, NODE2, NODE3 };
    ct_cluster cl;
    uint64_t nonce = 0;
    char kept[CC_HASH_HEX];
    assert_int_equal(ct_cluster_create(&cl, "backup-lost", 3, 3), 0);
    assert_int_equal(ct_cluster_start(&cl, NODE_START_MS, LEADER_MS), 0);
    int leader = ct_cluster_wait_leader(&cl, LEADER_MS);
    assert_true(leader >= 0);
    int64_t h = ct_cluster_commit_note(&cl, leader, &nonce, 0, kept);
    assert_true(h > 0);
    assert_true(ct_cluster_wait_converged(&cl, h, NULL, CONVERGE_MS));
    char *bk = ct_strf("%s/backup", cl.net.dir), *bk2 = ct_strf("%s/backup-node2", cl.net.dir);
    json_t *rep = backup(cl.net.node_dirs[NODE3], bk);
    assert_non_null(rep);
    assert_int_equal(ct_json_int(rep, "height"), h);
    json_decref(rep);
    /* one more block, signed by every node, and a backup of node2 that
     * holds it (which the operator will believe lost) */
    int64_t h2 = ct_cluster_commit_note(&cl, leader, &nonce, 0, NULL);
    assert_true(h2 == h + 1 && ct_cluster_wait_converged(&cl, h2, NULL, CONVERGE_MS));
    uint64_t deadline = ct_now_ms() + CONVERGE_MS;
    char *cp_url = ct_strf("%s/v1/checkpoint", cl.node[NODE2].url);
    for (;;) {
        ct_resp r;
        ct_get(cp_url, &r);
        bool all = r.status == 200 && ct_json_int(r.json, "height") >= h2 &&
                   json_array_size(json_object_get(r.json, "signatures")) == 3;
        ct_resp_free(&r);
        if (all || ct_now_ms() >= deadline) break;
        cc_sleep_ms(100);
    }
    free(cp_url);
    rep = backup(cl.net.node_dirs[NODE2], bk2);
    assert_non_null(rep);
    assert_int_equal(ct_json_int(rep, "height"), h2);
    json_decref(rep);
    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    for (int i = 0; i < 3; i++)
        lose_and_restore(cl.net.node_dirs[i], i == NODE2 ? NULL : bk); /* node2: lost */

    /* waiting, also after a restart (raft/ is no longer empty then) */
    for (int round = 0; round < 2; round++) {
        for (int i = NODE1; i <= NODE3; i += 2) {
            assert_int_equal(ct_write_file(cl.node[i].log_path, "", 0), 0);
            assert_int_equal(ct_cluster_start_node(&cl, i, NODE_START_MS), 0);
        }
        leader = ct_cluster_wait_any_leader(&cl, 3, CONVERGE_MS);
        bool ok = leader >= 0 && wait_log(&cl, leader, "waiting for the heads of node2");
        if (!ok) ct_cluster_dump_logs(&cl);
        assert_true(ok);
        /* the leader says so in its status, and the CLI in words */
        json_t *st = ct_cluster_status(&cl, leader);
        const json_t *waiting = json_object_get(st, "restore_waiting");
        assert_int_equal(json_array_size(waiting), 1);
        assert_string_equal(json_string_value(json_array_get(waiting, 0)), "node2");
        json_decref(st);
        char *said = NULL;
        assert_int_equal(ct_cli(&said, CLI_MS, "status", "--node", cl.node[leader].url, (char *)NULL), 0);
        assert_non_null(strstr(said, "commits nothing until it has the heads of node2"));
        free(said);
        assert_int_equal(ct_cluster_commit_note(&cl, NODE1, &nonce, 1000, NULL), -1); /* not while waiting */
        assert_int_equal(ct_cluster_stop_node(&cl, NODE1, SIGTERM, 20000), 0);
        assert_int_equal(ct_cluster_stop_node(&cl, NODE3, SIGTERM, 20000), 0);
    }

    /* told */
    config_restore_without(cl.net.node_dirs[NODE1], "node2");
    config_restore_without(cl.net.node_dirs[NODE3], "node2");
    assert_int_equal(ct_cluster_start_node(&cl, NODE1, NODE_START_MS), 0);
    assert_int_equal(ct_cluster_start_node(&cl, NODE3, NODE_START_MS), 0);
    int64_t next = ct_cluster_commit_note(&cl, NODE3, &nonce, 0, NULL);
    bool ok = next > h && ct_cluster_wait_converged(&cl, next, NULL, CONVERGE_MS);
    if (!ok) ct_cluster_dump_logs(&cl);
    assert_true(ok);
    leader = ct_cluster_wait_any_leader(&cl, 3, LEADER_MS);
    assert_true(leader >= 0);
    assert_true(ct_tree_contains(cl.node[leader].log_path, "not waiting for node2"));
    json_t *st = ct_cluster_status(&cl, leader);
    assert_null(json_object_get(st, "restore_waiting"));
    json_decref(st);
    assert_int_equal(tx_status(cl.node[NODE1].url, kept), 200);
    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    for (int i = NODE1; i <= NODE3; i += 2) {
        char *out = NULL;
        int rc = ct_cli(&out, CLI_MS, "verify-chain", "--dir", cl.net.node_dirs[i], (char *)NULL);
        if (rc != 0) fprintf(stderr, "verify-chain node%d: %s\n", i + 1, out ? out : "");
        assert_int_equal(rc, 0);
        free(out);
    }

    /* a bad "restore_without" stops the start with the reason */
    char *path = ct_strf("%s/config.json", cl.net.node_dirs[NODE1]);
    json_t *cfg = json_load_file(path, 0, NULL);
    json_object_set_new(cfg, "restore_without", json_string("node2"));
    assert_int_equal(json_dump_file(cfg, path, 0), 0);
    json_decref(cfg);
    assert_int_not_equal(ct_cluster_start_node(&cl, NODE1, 3000), 0);
    assert_true(ct_tree_contains(cl.node[NODE1].log_path, "\"restore_without\" must be a list"));
    free(path);
    config_restore_without(cl.net.node_dirs[NODE1], "node2");

    /* node2 comes back with its data after all: its block h2, which every
     * node signed before the loss, is not the block the others made at h2
     * since; every node halts on the evidence (OPERATIONS.md says to wipe
     * such a node first), and the halted nodes no longer pass leadership
     * round at every election (the build before: ~70 terms a second) */
    char *out = NULL;
    int rc = ct_cli(&out, CLI_MS, "restore", "--from", bk2, "--dir", cl.net.node_dirs[NODE2], (char *)NULL);
    if (rc != 0) fprintf(stderr, "restore node2: %s\n", out ? out : "");
    assert_int_equal(rc, 0);
    free(out);
    for (int i = NODE1; i <= NODE3; i++) assert_int_equal(ct_cluster_start_node(&cl, i, NODE_START_MS), 0);
    deadline = ct_now_ms() + 2 * CONVERGE_MS;
    int halted = 0;
    while (halted < 3 && ct_now_ms() < deadline) {
        halted = 0;
        for (int i = NODE1; i <= NODE3; i++) {
            st = ct_cluster_status(&cl, i);
            halted += json_is_true(json_object_get(st, "halted"));
            json_decref(st);
        }
        if (halted < 3) cc_sleep_ms(200);
    }
    if (halted < 3) ct_cluster_dump_logs(&cl);
    assert_int_equal(halted, 3);
    int64_t terms[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (k) cc_sleep_ms(6000);
        for (int i = NODE1; i <= NODE3; i++) {
            st = ct_cluster_status(&cl, i);
            int64_t t = ct_json_int(st, "term");
            if (t > terms[k]) terms[k] = t;
            json_decref(st);
        }
    }
    fprintf(stderr, "all halted: the term went from %lld to %lld in 6 s\n", (long long)terms[0],
            (long long)terms[1]);
    assert_true(terms[1] - terms[0] <= 20);
    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    free(bk);
    free(bk2);
    ct_cluster_destroy(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solo_backup_under_load_and_restore),
        cmocka_unit_test(test_follower_restored_from_its_backup_catches_up),
        cmocka_unit_test(test_whole_network_restored_after_its_node_set_changed),
        cmocka_unit_test(test_whole_network_restored_from_backups_of_different_days),
        cmocka_unit_test(test_restore_waits_for_every_node_unless_told),
    };
    return cmocka_run_group_tests_name("backup", tests, NULL, NULL);
}
