/*
 * ct_cluster.c — the nodes of a test network as processes, polled as one:
 * start and stop them, ask who leads and wait until they hold the same
 * chain, and say on stderr what each node answered when a wait gives up.
 */
#include "support.h"

#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE_NAME_MAX 16 /* "node" and an index */

int ct_cluster_create(ct_cluster *c, const char *tag, unsigned nodes, unsigned slots)
{
    assert(nodes >= 1 && nodes <= slots && slots <= CT_NET_NODES_MAX);
    memset(c, 0, sizeof *c);
    if (ct_net_create_nodes(&c->net, tag, nodes) != 0) return -1;
    c->count = slots;
    for (unsigned i = 0; i < slots; i++) c->out[i] = true;
    c->poll_ms = CT_CLUSTER_POLL_MS;
    return 0;
}

int ct_cluster_start(ct_cluster *c, unsigned start_ms, unsigned leader_ms)
{
    for (unsigned i = 0; i < c->net.node_count; i++)
        if (ct_cluster_start_node(c, (int)i, start_ms) != 0) return -1;
    if (ct_cluster_wait_leader(c, leader_ms) < 0) {
        fprintf(stderr, "no leader within %u ms\n", leader_ms);
        ct_cluster_dump_logs(c);
        return -1;
    }
    /* and every node has the first leader's entries: none is rejoining,
     * so a test may stop any node at once (docs/CONSENSUS.md "A node that
     * lost its data") */
    uint64_t deadline = ct_now_ms() + leader_ms;
    for (unsigned i = 0; i < c->net.node_count; i++) {
        while (ct_cluster_rejoining(c, (int)i)) {
            if (ct_now_ms() >= deadline) {
                fprintf(stderr, "node%u still rejoining %u ms after it started\n", i + 1, leader_ms);
                ct_cluster_dump_logs(c);
                return -1;
            }
            cc_sleep_ms(c->poll_ms);
        }
    }
    return 0;
}

int ct_cluster_start_node(ct_cluster *c, int i, unsigned timeout_ms)
{
    assert(i >= 0 && (unsigned)i < c->net.node_count);
    int rc = ct_node_start(&c->node[i], c->net.node_dirs[i], c->net.api_ports[i], 0, 0, timeout_ms);
    if (rc == 0) c->out[i] = false;
    return rc;
}

int ct_cluster_restart_clocked(ct_cluster *c, int i, int clock_off_ms, unsigned stop_ms, unsigned start_ms)
{
    char off[32];
    if (c->node[i].pid > 0) {
        int code = ct_cluster_stop_node(c, i, SIGTERM, stop_ms);
        if (code != 0) {
            fprintf(stderr, "node%d exited %d on SIGTERM\n", i + 1, code);
            return -1;
        }
    }
    snprintf(off, sizeof off, "%d", clock_off_ms);
    c->node[i].bin = clock_off_ms ? ct_carechain_faults_bin() : NULL;
    if (clock_off_ms) setenv("CARECHAIN_TEST_CLOCK_OFFSET_MS", off, 1);
    int rc = ct_cluster_start_node(c, i, start_ms);
    unsetenv("CARECHAIN_TEST_CLOCK_OFFSET_MS");
    return rc;
}

int ct_cluster_stop_node(ct_cluster *c, int i, int sig, unsigned timeout_ms)
{
    assert(i >= 0 && (unsigned)i < c->count);
    int rc = ct_node_stop(&c->node[i], sig, timeout_ms);
    c->out[i] = true;
    return rc;
}

int ct_cluster_stop_all(ct_cluster *c, int sig, unsigned timeout_ms)
{
    int failed = 0;
    for (unsigned i = 0; i < c->count; i++) {
        if (c->out[i]) continue;
        int rc = ct_cluster_stop_node(c, (int)i, sig, timeout_ms);
        if (rc != 0) {
            fprintf(stderr, "node%u exited %d after signal %d\n", i + 1, rc, sig);
            failed++;
        }
    }
    return failed;
}

void ct_cluster_destroy(ct_cluster *c)
{
    for (unsigned i = 0; i < c->count; i++) {
        if (c->node[i].pid > 0) kill(c->node[i].pid, SIGCONT); /* a stopped node cannot take SIGKILL's exit */
        ct_node_free(&c->node[i]);
    }
    ct_net_destroy(&c->net);
    memset(c, 0, sizeof *c);
}

int ct_cluster_create_meshed(ct_cluster *c, ct_raft_mesh *m, const char *tag, unsigned nodes,
                             unsigned status_ms)
{
    if (ct_cluster_create(c, tag, nodes, nodes) != 0) return -1;
    c->status_timeout_ms = status_ms;
    if (ct_raft_mesh_create(m, &c->net) != 0) {
        fprintf(stderr, "could not route raft through the loopback proxy\n");
        return -1;
    }
    return 0;
}

void ct_cluster_destroy_meshed(ct_cluster *c, ct_raft_mesh *m)
{
    ct_cluster_destroy(c);
    ct_raft_mesh_destroy(m);
}

json_t *ct_cluster_status(const ct_cluster *c, int i)
{
    assert(i >= 0 && (unsigned)i < c->count);
    return ct_cluster_get_json(c, i, "/v1/status", c->status_timeout_ms);
}

void ct_cluster_print_status(const ct_cluster *c)
{
    for (unsigned i = 0; i < c->count; i++) {
        json_t *st = c->node[i].pid > 0 ? ct_cluster_status(c, (int)i) : NULL;
        fprintf(stderr, "  node%u%s: %s height %lld head %.16s term %lld leader '%s'\n", i + 1,
                c->out[i] ? " (left out)" : "", st ? ct_json_str(st, "raft_state") : "(no answer)",
                (long long)(st ? ct_json_int(st, "height") : -1), st ? ct_json_str(st, "head_hash") : "",
                (long long)(st ? ct_json_int(st, "term") : -1), st ? ct_json_str(st, "leader") : "");
        json_decref(st);
    }
}

void ct_cluster_dump_logs(const ct_cluster *c)
{
    for (unsigned i = 0; i < c->count; i++) ct_node_dump_log(&c->node[i]); /* skips nodes never started */
}

int ct_cluster_leader_now(const ct_cluster *c)
{
    char agreed[64] = "";
    bool same = true;
    int leader = -1;
    for (unsigned i = 0; i < c->count && same; i++) {
        if (c->out[i]) continue;
        json_t *st = ct_cluster_status(c, (int)i);
        const char *name = st ? ct_json_str(st, "leader") : "";
        if (!*name || (agreed[0] && strcmp(agreed, name) != 0)) same = false;
        snprintf(agreed, sizeof agreed, "%s", name);
        if (st && strcmp(ct_json_str(st, "raft_state"), "leader") == 0) leader = (int)i;
        json_decref(st);
    }
    char want[NODE_NAME_MAX];
    snprintf(want, sizeof want, "node%d", leader + 1);
    return same && leader >= 0 && strcmp(agreed, want) == 0 ? leader : -1;
}

int ct_cluster_wait_leader(const ct_cluster *c, unsigned timeout_ms)
{
    uint64_t deadline = ct_now_ms() + timeout_ms;
    do {
        int leader = ct_cluster_leader_now(c);
        if (leader >= 0) return leader;
        cc_sleep_ms(c->poll_ms);
    } while (ct_now_ms() < deadline);
    fprintf(stderr, "waited %u ms for the nodes not left out to agree on a leader that leads:\n", timeout_ms);
    ct_cluster_print_status(c);
    return -1;
}

bool ct_cluster_rejoining(const ct_cluster *c, int i)
{
    json_t *st = ct_cluster_status(c, i);
    bool rejoining = !st || json_is_true(json_object_get(st, "raft_rejoining"));
    json_decref(st);
    return rejoining;
}

int ct_cluster_wait_any_leader(const ct_cluster *c, unsigned among, unsigned timeout_ms)
{
    assert(among <= c->count);
    uint64_t deadline = ct_now_ms() + timeout_ms;
    do {
        for (unsigned i = 0; i < among; i++) {
            if (c->out[i]) continue;
            json_t *st = ct_cluster_status(c, (int)i);
            bool leads = st && strcmp(ct_json_str(st, "raft_state"), "leader") == 0;
            json_decref(st);
            if (leads) return (int)i;
        }
        cc_sleep_ms(c->poll_ms);
    } while (ct_now_ms() < deadline);
    fprintf(stderr, "waited %u ms for one of node1..node%u to say it leads:\n", timeout_ms, among);
    ct_cluster_print_status(c);
    return -1;
}

int ct_cluster_follower(const ct_cluster *c, int leader)
{
    for (unsigned i = 0; i < c->count; i++)
        if ((int)i != leader && !c->out[i]) return (int)i;
    return -1;
}

bool ct_cluster_wait_converged(const ct_cluster *c, int64_t min_height, json_t **out, unsigned timeout_ms)
{
    uint64_t deadline = ct_now_ms() + timeout_ms;
    do {
        json_t *first = NULL;
        bool same = true;
        for (unsigned i = 0; i < c->count && same; i++) {
            if (c->out[i]) continue;
            json_t *st = ct_cluster_status(c, (int)i);
            if (!st || ct_json_int(st, "height") < min_height) {
                same = false;
            } else if (!first) {
                first = json_incref(st);
            } else if (ct_json_int(st, "height") != ct_json_int(first, "height") ||
                       strcmp(ct_json_str(st, "head_hash"), ct_json_str(first, "head_hash")) != 0 ||
                       strcmp(ct_json_str(st, "state_root"), ct_json_str(first, "state_root")) != 0) {
                same = false;
            }
            json_decref(st);
        }
        if (same && first) {
            if (out)
                *out = first;
            else
                json_decref(first);
            return true;
        }
        json_decref(first);
        cc_sleep_ms(c->poll_ms);
    } while (ct_now_ms() < deadline);
    fprintf(stderr, "waited %u ms for the nodes to agree on height >= %lld, head and state root:\n",
            timeout_ms, (long long)min_height);
    ct_cluster_print_status(c);
    return false;
}

int ct_cluster_verify_chains(const ct_cluster *c, unsigned timeout_ms)
{
    int failed = 0;
    for (unsigned i = 0; i < c->net.node_count; i++) {
        char *out = NULL;
        int rc = ct_cli(&out, timeout_ms, "verify-chain", "--dir", c->net.node_dirs[i], (char *)NULL);
        if (rc != 0) {
            fprintf(stderr, "verify-chain node%u: %s\n", i + 1, out ? out : "");
            failed++;
        }
        free(out);
    }
    return failed;
}

int64_t ct_cluster_commit_note(ct_cluster *c, int i, uint64_t *nonce, unsigned timeout_ms,
                               char txid[CC_HASH_HEX])
{
    cc_tx tx;
    ct_resp r;
    int64_t height = -1;
    ct_http *h = ct_http_new();
    if (!h) return -1;
    if (ct_tx_note(&c->net, &c->net.admin, ++*nonce, &tx) != 0) {
        ct_http_free(h);
        return -1;
    }
    char *url = ct_strf("%s/v1/tx?wait=commit", c->node[i].url);
    int rc = ct_http_do(h, "POST", url, "application/octet-stream", tx.raw, tx.raw_len, timeout_ms, &r);
    if (rc == 0 && r.status == 200 && strcmp(ct_json_str(r.json, "status"), "committed") == 0) {
        height = ct_json_int(r.json, "height");
        if (txid) ct_txid_hex(&tx, txid);
    } else {
        fprintf(stderr, "waited for a note to commit through node%d: %ld %s %s\n", i + 1, r.status,
                r.body ? r.body : "", r.curl_error);
        ct_cluster_print_status(c);
        ct_cluster_dump_logs(c);
    }
    ct_resp_free(&r);
    free(url);
    cc_tx_free(&tx);
    ct_http_free(h);
    return height;
}

json_t *ct_cluster_get_json(const ct_cluster *c, int i, const char *path, unsigned timeout_ms)
{
    ct_http *h = ct_http_new();
    char *url = ct_strf("%s%s", c->node[i].url, path);
    ct_resp r;
    json_t *v = NULL;
    if (h && ct_http_do(h, "GET", url, NULL, NULL, 0, timeout_ms, &r) == 0 && r.status == 200 && r.json)
        v = json_incref(r.json);
    if (h) ct_resp_free(&r);
    free(url);
    ct_http_free(h);
    return v;
}

#define BLOCK_GET_MS 5000

typedef struct seen {
    char txid[CC_HASH_HEX];
    bool ok;
    int64_t height;
} seen;

static int seen_cmp(const void *a, const void *b)
{
    return strcmp(((const seen *)a)->txid, ((const seen *)b)->txid);
}

int ct_cluster_double_commits(const ct_cluster *c, int i, int64_t height)
{
    size_t cap = 1024, n = 0;
    seen *all = malloc(cap * sizeof *all);
    if (!all) return -1;
    for (int64_t h = 1; h <= height; h++) {
        char *path = ct_strf("/v1/blocks/%lld", (long long)h);
        json_t *b = ct_cluster_get_json(c, i, path, BLOCK_GET_MS);
        free(path);
        if (!b) {
            fprintf(stderr, "node%d did not serve block %lld\n", i + 1, (long long)h);
            free(all);
            return -1;
        }
        size_t k;
        json_t *t;
        json_array_foreach(json_object_get(b, "txs"), k, t)
        {
            if (n == cap) {
                seen *more = realloc(all, 2 * cap * sizeof *all);
                if (!more) {
                    json_decref(b);
                    free(all);
                    return -1;
                }
                all = more;
                cap *= 2;
            }
            snprintf(all[n].txid, sizeof all[n].txid, "%s", ct_json_str(t, "txid"));
            all[n].ok = strcmp(ct_json_str(json_object_get(t, "result"), "code"), "ok") == 0;
            all[n].height = h;
            n++;
        }
        json_decref(b);
    }
    qsort(all, n, sizeof *all, seen_cmp);
    int doubles = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a, oks = 0;
        while (b < n && strcmp(all[b].txid, all[a].txid) == 0) oks += all[b++].ok;
        if (oks > 1) {
            fprintf(stderr, "tx %s committed ok %zu times (heights", all[a].txid, oks);
            for (size_t k = a; k < b; k++) fprintf(stderr, " %lld", (long long)all[k].height);
            fprintf(stderr, ")\n");
            doubles++;
        }
        if (b - a > 1 && oks <= 1)
            fprintf(stderr, "note: tx %.16s... is in %zu blocks, ok once\n", all[a].txid, b - a);
        a = b;
    }
    free(all);
    return doubles;
}

bool ct_cluster_committed(const ct_cluster *c, int i, const char *txid, unsigned timeout_ms)
{
    char *path = ct_strf("/v1/tx/%s", txid);
    json_t *v = ct_cluster_get_json(c, i, path, timeout_ms);
    bool ok = v && strcmp(ct_json_str(v, "status"), "committed") == 0;
    json_decref(v);
    free(path);
    return ok;
}

/* ---- a client load that retries -------------------------------------------- */

static void *load_main(void *arg)
{
    ct_load *l = arg;
    uint64_t n = l->first_nonce;
    while (!l->stop && l->count < CT_LOAD_TXS_MAX) {
        cc_tx tx;
        if (ct_tx_note(&l->cl->net, &l->cl->net.admin, n++, &tx) != 0) break;
        ct_load_tx *lt = &l->txs[l->count++];
        ct_txid_hex(&tx, lt->txid);
        int node = l->first_node;
        for (unsigned attempt = 0; attempt < l->attempts && !lt->acked; attempt++) {
            ct_http *h = ct_http_new();
            char *url = ct_strf("%s/v1/tx?wait=commit", l->cl->node[node].url);
            ct_resp r;
            ct_http_do(h, "POST", url, "application/octet-stream", tx.raw, tx.raw_len, l->http_ms, &r);
            if (r.status == 200 && strcmp(ct_json_str(r.json, "status"), "committed") == 0) {
                lt->acked = true;
                l->acked++;
            }
            bool dup = r.status == 409 && strcmp(ct_resp_error_code(&r), "duplicate") == 0;
            ct_resp_free(&r);
            free(url);
            ct_http_free(h);
            if (lt->acked || (dup && attempt > 0)) break; /* an earlier attempt got it in */
            l->retries++;
            node = (node + 1) % (int)l->cl->net.node_count;
            if (l->stop) break;
        }
        if (!lt->acked) l->gave_up++;
        cc_tx_free(&tx);
        cc_sleep_ms(l->pause_ms);
    }
    return NULL;
}

int ct_load_start(ct_load *l)
{
    return pthread_create(&l->thread, NULL, load_main, l) == 0 ? 0 : -1;
}

void ct_load_stop(ct_load *l)
{
    l->stop = true;
    pthread_join(l->thread, NULL);
}

size_t ct_load_missing(const ct_load *l, int i, unsigned timeout_ms)
{
    size_t missing = 0;
    for (size_t k = 0; k < l->count; k++) {
        if (!l->txs[k].acked || ct_cluster_committed(l->cl, i, l->txs[k].txid, timeout_ms)) continue;
        fprintf(stderr, "acknowledged tx %s is not committed on node%d\n", l->txs[k].txid, i + 1);
        missing++;
    }
    return missing;
}
