/*
 * test_raft_fetch.c — a raft node catching up from its peers
 * (src/node/raft_fetch.c, cc_raft_catch_up_to) against a chain that moved
 * by governance to a ruleset this build does not know, with one peer
 * played by a small HTTP server that serves blocks the way
 * GET /v1/blocks/raw?from=..&count=.. does:
 *
 * - the node stops at once after the last block it can execute, saying
 *   which ruleset it lacks: whether its peers stopped there too (it must
 *   not wait for a block none of them makes) or went on with a newer
 *   build (it must not ask them for the next block for a minute and then
 *   blame them);
 * - a fetched block of that ruleset (which only a newer build makes) is
 *   final too: no peer has one this build could execute;
 * - a block that is merely bad is still asked of the peers again.
 */
#include "unit_support.h"

#include <pthread.h>
#include <time.h>

#include <microhttpd.h>
#include <netinet/in.h>

#include "carechain/chain.h"
#include "core/codec.h"
#include "node/log.h"
#include "node/raft_node.h"
#include "support/ct_store.h"

#define T0         1764000100000ULL
#define UNKNOWN    (CC_RULESET_CURRENT + 1) /* a ruleset this build does not know */
#define FROM       8                        /* the height from which blocks execute it */
#define STOP_MS    10000                    /* far below the minute a catch-up gives its peers */
#define BAD_HEIGHT 3                        /* the block the bad peer spoils */
#define POLL_MS    50                       /* while waiting on the peer */
#define LEN_BYTES  4                        /* the u32 length before each block of a range */

/* The peer: blocks 1..FROM of the network's chain, the last made by a
 * build that knows ruleset UNKNOWN, and how many requests started at each
 * height. */
typedef struct peer {
    struct MHD_Daemon *d;
    int port;
    uint8_t *raw[FROM + 1];
    size_t len[FROM + 1];
    uint64_t top; /* the newest block it serves */
    int spoil;    /* a height whose header version it garbles (0: none) */
    pthread_mutex_t mu;
    unsigned asked[FROM + 1]; /* requests whose range starts at each height */
} peer;

static peer g_peer;
static snap_record g_stop; /* the network's head at FROM - 1, where this build stops */

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                             const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
    peer *p = cls;
    (void)method, (void)version, (void)upload, (void)upload_len, (void)con_cls;
    const char *from_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from");
    const char *count_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "count");
    uint64_t from = from_s ? strtoull(from_s, NULL, 10) : 0,
             count = count_s ? strtoull(count_s, NULL, 10) : 0;
    size_t total = 0, at = 0;
    uint8_t *body = NULL;
    unsigned status = 404;
    pthread_mutex_lock(&p->mu);
    if (strcmp(url, "/v1/blocks/raw") == 0 && from >= 1 && from <= p->top && count >= 1) {
        p->asked[from]++;
        uint64_t to = from + count - 1 < p->top ? from + count - 1 : p->top;
        for (uint64_t h = from; h <= to; h++) total += LEN_BYTES + p->len[h];
        body = malloc(total);
        for (uint64_t h = from; body && h <= to; h++) {
            cc_put_u32(body + at, (uint32_t)p->len[h]);
            memcpy(body + at + LEN_BYTES, p->raw[h], p->len[h]);
            if ((int)h == p->spoil)
                body[at + LEN_BYTES] = CC_BLOCK_VERSION + 1; /* the header's version byte */
            at += LEN_BYTES + p->len[h];
        }
        status = body ? 200 : 500;
    }
    pthread_mutex_unlock(&p->mu);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(status == 200 ? total : 0, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static unsigned asked(uint64_t height)
{
    pthread_mutex_lock(&g_peer.mu);
    unsigned n = g_peer.asked[height];
    pthread_mutex_unlock(&g_peer.mu);
    return n;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Send one tx in its own block on c. */
static void commit(cc_chain *c, const cc_key *node, const cc_key *k, const char *type, const char *payload,
                   uint64_t *t)
{
    cc_tx tx;
    cc_result r;
    cc_header h;
    *t += 10;
    ut_tx(&tx, cc_chain_genesis(c)->chain_id, k, type, payload, *t, *t);
    assert_int_equal(cc_chain_produce(c, &tx, 1, *t + 1, node, &h, &r, NULL), CC_OK);
    if (r.code != CC_OK) fail_msg("%s: %s", type, r.message);
    cc_tx_free(&tx);
}

/* The network's chain: the upgrade to ruleset UNKNOWN from FROM proposed
 * and approved, notes up to FROM - 1, and a block FROM as a build that
 * knows the ruleset makes it. */
static int group_setup(void **state)
{
    (void)state;
    cc_key node, hospital, payer;
    cc_chain *c = NULL;
    char *dir = ut_tmpdir(), *genesis = ut_genesis(), payload[200], hex[CC_HASH_HEX];
    uint64_t t = T0;
    ut_key(1, &node);
    ut_key(2, &hospital);
    ut_key(3, &payer);
    memset(&g_peer, 0, sizeof g_peer);
    pthread_mutex_init(&g_peer.mu, NULL);
    assert_int_equal(cc_chain_open(dir, (uint8_t *)genesis, strlen(genesis), NULL, &c, NULL), CC_OK);
    snprintf(payload, sizeof payload, "{\"action\":\"upgrade\",\"ruleset\":%d,\"from\":%d}", UNKNOWN, FROM);
    commit(c, &node, &hospital, "network.propose", payload, &t);
    uint8_t *b1 = NULL, prop[CC_HASH_BYTES];
    size_t b1_len = 0;
    assert_int_equal(cc_chain_block_raw(c, 1, &b1, &b1_len), CC_OK);
    assert_int_equal(cc_block_txid_at(b1, b1_len, 0, prop), CC_OK);
    free(b1);
    snprintf(payload, sizeof payload, "{\"proposal\":\"%s\"}", cc_hex(prop, CC_HASH_BYTES, hex));
    commit(c, &node, &payer, "network.approve", payload, &t);
    for (int k = 3; k < FROM; k++) {
        snprintf(payload, sizeof payload, "{\"kind\":\"doc\",\"sha256\":\"%064x\"}", k);
        commit(c, &node, &hospital, "note.put", payload, &t);
    }
    for (uint64_t h = 1; h < FROM; h++)
        assert_int_equal(cc_chain_block_raw(c, h, &g_peer.raw[h], &g_peer.len[h]), CC_OK);
    cc_head head;
    cc_chain_head(c, &head);
    g_stop.height = head.height;
    memcpy(g_stop.hash, head.hash, CC_HASH_BYTES);
    memcpy(g_stop.state_root, head.state_root, CC_HASH_BYTES);
    cc_tx tx;
    t += 10;
    snprintf(payload, sizeof payload, "{\"kind\":\"doc\",\"sha256\":\"%064x\"}", FROM);
    ut_tx(&tx, cc_chain_genesis(c)->chain_id, &hospital, "note.put", payload, t, t);
    assert_int_equal(ct_block_beyond(c, &tx, 1, t + 1, &node, &g_peer.raw[FROM], &g_peer.len[FROM]), 0);
    cc_tx_free(&tx);
    cc_chain_close(c);
    ut_rmdir(dir);
    free(genesis);

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    g_peer.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve, &g_peer,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_END);
    assert_non_null(g_peer.d);
    g_peer.port = MHD_get_daemon_info(g_peer.d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    MHD_stop_daemon(g_peer.d);
    for (int h = 0; h <= FROM; h++) free(g_peer.raw[h]);
    pthread_mutex_destroy(&g_peer.mu);
    return 0;
}

/* A node (genesis node1's key) on a fresh chain, whose one peer is g_peer. */
typedef struct fixture {
    char *dir, *genesis;
    cc_key key, stranger;
    cc_chain *c;
    cc_raft_node *r;
    cc_result *results;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = ut_tmpdir();
    f->genesis = ut_genesis();
    ut_key(1, &f->key);
    ut_key(9, &f->stranger);
    assert_int_equal(cc_chain_open(f->dir, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &f->c, NULL),
                     CC_OK);
    f->r = calloc(1, sizeof *f->r);
    f->results = calloc(CC_BLOCK_MAX_TXS, sizeof *f->results);
    cc_raft_node *r = f->r;
    r->chain = f->c;
    r->key = &f->key;
    r->g = cc_chain_genesis(f->c);
    r->self_id = cc_raft_id_of(r->g, f->key.pk);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    memcpy(r->known[0].pk, f->stranger.pk, CC_PUBKEY_BYTES);
    snprintf(r->known[0].api, sizeof r->known[0].api, "127.0.0.1:%d", g_peer.port);
    r->known_count = 1;
    pthread_mutex_lock(&g_peer.mu);
    memset(g_peer.asked, 0, sizeof g_peer.asked);
    g_peer.top = FROM;
    g_peer.spoil = 0;
    pthread_mutex_unlock(&g_peer.mu);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pthread_mutex_destroy(&f->r->mu);
    pthread_cond_destroy(&f->r->cond);
    free(f->r);
    free(f->results);
    cc_chain_close(f->c);
    ut_rmdir(f->dir);
    free(f->genesis);
    free(f);
    return 0;
}

/* A raft snapshot past the block the node cannot execute: the peers of a
 * newer build went on. Its hash is never reached. */
static const snap_record beyond = {.height = FROM + 1};

static uint64_t height_of(fixture *f)
{
    cc_head head;
    cc_chain_head(f->c, &head);
    return head.height;
}

/* The halt reason is the ruleset's own message, not a peer's failure. */
static void assert_halted_for_the_ruleset(fixture *f)
{
    char want[64];
    snprintf(want, sizeof want, "from block %d on, the network executes ruleset %d;", FROM, UNKNOWN);
    assert_true(f->r->halted);
    if (strncmp(f->r->halt_reason, want, strlen(want)) != 0) fail_msg("halt reason: %s", f->r->halt_reason);
    assert_non_null(strstr(f->r->halt_reason, "install a newer build"));
}

/* Catch up towards *target: the catch-up gives up within STOP_MS, halted
 * for the ruleset, with the node at FROM - 1. */
static void catch_up_and_expect_the_halt(fixture *f, const snap_record *target)
{
    uint64_t started = now_ms();
    assert_false(cc_raft_catch_up_to(f->r, target, true, "the raft snapshot", f->results));
    uint64_t took = now_ms() - started;
    if (took > STOP_MS) fail_msg("the catch-up took %llu ms to stop", (unsigned long long)took);
    assert_halted_for_the_ruleset(f);
    assert_int_equal(height_of(f), FROM - 1);
}

/* The peers are of this build too: they stopped at FROM - 1, and so did
 * the raft snapshot. The node reaches it and stops there, rather than
 * wait for an entry no leader of this build makes. */
static void test_stops_after_the_last_block_it_can_execute(void **state)
{
    fixture *f = *state;
    pthread_mutex_lock(&g_peer.mu);
    g_peer.top = FROM - 1;
    pthread_mutex_unlock(&g_peer.mu);
    catch_up_and_expect_the_halt(f, &g_stop);
    assert_int_equal(f->r->blocks_fetched, FROM - 1);
}

/* The peers run a newer build and went on past FROM (the audit's case):
 * the node stops after FROM - 1 without taking block FROM for a bad one. */
static void test_stops_before_a_newer_builds_block(void **state)
{
    fixture *f = *state;
    catch_up_and_expect_the_halt(f, &beyond);
    assert_int_equal(f->r->blocks_fetched, FROM - 1);
    assert_int_equal(asked(FROM), 0); /* block FROM is not asked for on its own */
}

/* The node already holds block FROM - 1 (its last check did not run): the
 * peer's block FROM fails for its ruleset, and that ends the catch-up. */
static void test_a_block_of_an_unknown_ruleset_is_final(void **state)
{
    fixture *f = *state;
    for (uint64_t h = 1; h < FROM; h++) {
        cc_block b;
        cc_errbuf eb = {""};
        memset(&b, 0, sizeof b);
        assert_int_equal(cc_block_decode(g_peer.raw[h], g_peer.len[h], &b, &eb), CC_OK);
        assert_int_equal(cc_chain_apply(f->c, &b, &f->key, f->results, &eb), CC_OK);
        cc_block_free(&b);
    }
    catch_up_and_expect_the_halt(f, &beyond);
    assert_int_equal(asked(FROM), 1);
}

typedef struct catch_up_run {
    fixture *f;
    bool reached;
} catch_up_run;

static void *catch_up_main(void *arg)
{
    catch_up_run *run = arg;
    run->reached = cc_raft_catch_up_to(run->f->r, &beyond, true, "the raft snapshot", run->f->results);
    return NULL;
}

/* A block the peer spoiled (a header version this build does not decode,
 * CC_ERR_VERSION too) says nothing about the network: it is asked for
 * again, and the node does not halt; here it is stopped meanwhile. */
static void test_a_bad_block_is_asked_for_again(void **state)
{
    fixture *f = *state;
    pthread_mutex_lock(&g_peer.mu);
    g_peer.spoil = BAD_HEIGHT;
    pthread_mutex_unlock(&g_peer.mu);
    catch_up_run run = {f, false};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, catch_up_main, &run), 0);
    uint64_t deadline = now_ms() + STOP_MS;
    while (asked(BAD_HEIGHT) < 2 && now_ms() < deadline) cc_sleep_ms(POLL_MS);
    pthread_mutex_lock(&f->r->mu);
    f->r->stop_requested = true;
    pthread_mutex_unlock(&f->r->mu);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(asked(BAD_HEIGHT) >= 2);
    assert_false(run.reached);
    assert_false(f->r->halted);
    assert_true(f->r->catchup_abandoned);
    assert_int_equal(height_of(f), BAD_HEIGHT - 1);
}

int main(void)
{
    cc_node_log_quiet(true);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stops_after_the_last_block_it_can_execute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stops_before_a_newer_builds_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_block_of_an_unknown_ruleset_is_final, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_bad_block_is_asked_for_again, setup, teardown),
    };
    return cmocka_run_group_tests_name("raft_fetch", tests, group_setup, group_teardown);
}
