/*
 * raft_partition.h — the partition test of issue 3, for two ways of cutting
 * a node off: test_raft_faults closes its links in a loopback TCP proxy
 * (the connections are refused), test_raft_netns drops the packets between
 * network namespaces (nothing arrives and nothing says so). Either way the
 * leader is cut off, the other two elect a leader and keep committing, the
 * cut node takes a tx but commits nothing and does not move, and once the
 * cut heals it converges on the majority's chain with no tx committed twice
 * and without unseating the majority's leader (pre-vote). Included by
 * those two tests only: its functions assert with cmocka.
 */
#ifndef CARECHAIN_TEST_RAFT_PARTITION_H
#define CARECHAIN_TEST_RAFT_PARTITION_H

#include "support/support.h"

#define RP_LEADER_WAIT_MS   10000
#define RP_CONVERGE_MS      15000
#define RP_COMMIT_MS        20000
#define RP_SETTLE_MS        1500 /* let a cut-off node finish what it had in hand */
#define RP_MINORITY_WAIT_MS 3000 /* how long a client waits on the isolated node */
#define RP_MAJORITY_NOTES   3
#define RP_ISOLATED_MS      4000 /* how long the node stays cut off, at least */

typedef struct rp_net {
    ct_cluster *cl;
    uint64_t *nonce;                                /* note numbers: every note is a new tx */
    void (*isolate)(void *ctx, int node, bool cut); /* cut node off from the other nodes, or heal */
    void *ctx;
} rp_net;

/* Submit a new note to node i with ?wait=commit and expect "committed". */
static void rp_commit_note(const rp_net *n, int i)
{
    assert_true(ct_cluster_commit_note(n->cl, i, n->nonce, RP_COMMIT_MS, NULL) > 0);
}

static void rp_partition_minority_commits_nothing(const rp_net *n)
{
    ct_cluster *cl = n->cl;
    int cut = ct_cluster_wait_leader(cl, RP_LEADER_WAIT_MS); /* isolate the leader: the hardest minority */
    assert_true(cut >= 0);
    n->isolate(n->ctx, cut, true);
    cl->out[cut] = true;
    fprintf(stderr, "node%d (the leader) cut off\n", cut + 1);

    int leader = ct_cluster_wait_leader(cl, RP_LEADER_WAIT_MS);
    if (leader < 0) ct_cluster_dump_logs(cl);
    assert_true(leader >= 0 && leader != cut);
    cc_sleep_ms(RP_SETTLE_MS); /* what the cut node had committed before the cut is applied by now */
    json_t *st = ct_cluster_status(cl, cut);
    assert_non_null(st);
    int64_t cut_height = ct_json_int(st, "height");
    char cut_head[CC_HASH_HEX];
    snprintf(cut_head, sizeof cut_head, "%s", ct_json_str(st, "head_hash"));
    json_decref(st);

    /* the majority keeps committing */
    for (int k = 0; k < RP_MAJORITY_NOTES; k++)
        rp_commit_note(n, k % 2 ? leader : ct_cluster_follower(cl, leader));

    /* the minority takes a tx but cannot commit it */
    cc_tx tx;
    assert_int_equal(ct_tx_note(&cl->net, &cl->net.admin, ++*n->nonce, &tx), 0);
    ct_http *h = ct_http_new();
    char *url = ct_strf("%s/v1/tx?wait=commit", cl->node[cut].url);
    ct_resp r;
    ct_http_do(h, "POST", url, "application/octet-stream", tx.raw, tx.raw_len, RP_MINORITY_WAIT_MS, &r);
    fprintf(stderr, "isolated node%d answered %ld %s%s\n", cut + 1, r.status, r.body, r.curl_error);
    assert_false(r.status == 200 && strcmp(ct_json_str(r.json, "status"), "committed") == 0);
    ct_resp_free(&r);
    free(url);
    ct_http_free(h);

    st = ct_cluster_status(cl, cut);
    assert_non_null(st);
    if (ct_json_int(st, "height") != cut_height || strcmp(ct_json_str(st, "head_hash"), cut_head) != 0) {
        fprintf(stderr, "isolated node%d moved from height %lld to %lld\n", cut + 1, (long long)cut_height,
                (long long)ct_json_int(st, "height"));
        ct_cluster_dump_logs(cl);
    }
    assert_int_equal(ct_json_int(st, "height"), cut_height);
    assert_string_equal(ct_json_str(st, "head_hash"), cut_head);
    assert_string_not_equal(ct_json_str(st, "raft_state"), "leader");
    json_decref(st);
    json_t *major = NULL;
    assert_true(ct_cluster_wait_converged(cl, cut_height + 1, &major,
                                          RP_CONVERGE_MS)); /* the two others, ahead of it */
    json_decref(major);
    st = ct_cluster_status(cl, leader);
    assert_non_null(st);
    int64_t major_term = ct_json_int(st, "term");
    json_decref(st);
    /* long enough for the cut node to have timed out several elections
     * (600-1200 ms each): without pre-vote each would raise its term */
    cc_sleep_ms(RP_ISOLATED_MS);

    /* heal: it converges on the majority's chain */
    n->isolate(n->ctx, cut, false);
    cl->out[cut] = false;
    fprintf(stderr, "node%d reconnected\n", cut + 1);
    assert_true(ct_cluster_wait_leader(cl, RP_LEADER_WAIT_MS) >= 0);
    rp_commit_note(n, cut);
    json_t *head = NULL;
    if (!ct_cluster_wait_converged(cl, cut_height + RP_MAJORITY_NOTES + 1, &head, RP_CONVERGE_MS))
        ct_cluster_dump_logs(cl);
    assert_non_null(head);
    assert_int_equal(ct_cluster_double_commits(cl, cut, ct_json_int(head, "height")), 0);
    json_decref(head);

    /* its return disturbed nobody: the majority's leader still leads, in
     * the term it was elected in (the cut node only asked for pre-votes,
     * which raise no term, and were refused) */
    int after = ct_cluster_wait_leader(cl, RP_LEADER_WAIT_MS);
    assert_true(after >= 0);
    st = ct_cluster_status(cl, after);
    assert_non_null(st);
    int64_t after_term = ct_json_int(st, "term");
    json_decref(st);
    fprintf(stderr, "before the heal node%d led in term %lld; after it node%d leads in term %lld\n",
            leader + 1, (long long)major_term, after + 1, (long long)after_term);
    assert_int_equal(after, leader);
    assert_int_equal(after_term, major_term);
    cc_tx_free(&tx);
}

#endif
