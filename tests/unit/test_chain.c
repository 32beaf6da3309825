/*
 * test_chain.c — the store + exec path in one process: genesis state,
 * producing blocks, tx results and their rules, proofs, and verify-chain
 * catching tampering with a stored block and with a state value.
 */
#include "unit_support.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "carechain/chain.h"
#include "carechain/os.h"
#include "core/codec.h"
#include "exec/chain_internal.h"

#define T0 1764000100000ULL

typedef struct fixture {
    char *dir;
    char *genesis;
    cc_chain *c;
    cc_key node, admin, payer_admin;
    const uint8_t *chain_id; /* = chain_id_copy, valid across closing and reopening the chain */
    uint8_t chain_id_copy[CC_HASH_BYTES];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    cc_errbuf eb;
    char data[600];
    f->dir = ut_tmpdir();
    f->genesis = ut_genesis();
    snprintf(data, sizeof data, "%s/data", f->dir);
    if (cc_chain_open(data, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &f->c, &eb) != CC_OK)
        fail_msg("open: %s", eb.msg);
    ut_key(1, &f->node);
    ut_key(2, &f->admin);
    ut_key(3, &f->payer_admin);
    memcpy(f->chain_id_copy, cc_chain_genesis(f->c)->chain_id, CC_HASH_BYTES);
    f->chain_id = f->chain_id_copy;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cc_chain_close(f->c);
    ut_rmdir(f->dir);
    free(f->genesis);
    free(f);
    return 0;
}

/* Produce one block of n txs at time t; returns the results in r. */
static void produce(fixture *f, cc_tx *txs, size_t n, uint64_t t, cc_result *r)
{
    cc_header h;
    cc_errbuf eb = {""};
    if (cc_chain_produce(f->c, txs, n, t, &f->node, &h, r, &eb) != CC_OK) fail_msg("produce: %s", eb.msg);
}

/* A member.register tx by the hospital admin for key number key, created
 * at created (nonce: key). */
static void register_tx(fixture *f, int key, const char *role, uint64_t created, cc_tx *tx)
{
    cc_key k;
    char hex[CC_HASH_HEX], payload[200];
    ut_key(key, &k);
    snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"role\":\"%s\"}", cc_hex(k.pk, 32, hex), role);
    ut_tx(tx, f->chain_id, &f->admin, "member.register", payload, created, (uint64_t)key);
}

static void register_member(fixture *f, int key, const char *role, uint64_t t)
{
    cc_tx tx;
    cc_result r;
    register_tx(f, key, role, t - 1000, &tx);
    produce(f, &tx, 1, t, &r);
    assert_int_equal(r.code, CC_OK);
    cc_tx_free(&tx);
}

static void test_genesis_state(void **state)
{
    fixture *f = *state;
    cc_head h;
    json_t *id = NULL;
    cc_chain_head(f->c, &h);
    assert_int_equal(h.height, 0);
    assert_int_equal(cc_chain_identity_json(f->c, f->admin.pk, &id), CC_OK);
    assert_string_equal(json_string_value(json_object_get(id, "role")), "admin");
    assert_string_equal(json_string_value(json_object_get(id, "org")), "hospital");
    json_decref(id);
}

typedef struct scan_seen {
    size_t count;
    char last[200];
    bool ordered, objects;
    cc_err stop_with; /* returned by the visit after the first entry; CC_OK: never */
} scan_seen;

static cc_err scan_visit(void *ctx, const char *key, size_t key_len, const uint8_t *val, size_t val_len)
{
    scan_seen *s = ctx;
    char k[200];
    snprintf(k, sizeof k, "%.*s", (int)key_len, key);
    if (s->count && strcmp(k, s->last) <= 0) s->ordered = false;
    snprintf(s->last, sizeof s->last, "%s", k);
    json_t *o = cc_json_parse(val, val_len, NULL); /* the height prefix is not part of val */
    if (!json_is_object(o)) s->objects = false;
    json_decref(o);
    s->count++;
    return s->stop_with;
}

/* cc_chain_state_scan: the keys under a prefix, in order, bounded, and a
 * visit's error ends the scan. */
static void test_state_scan(void **state)
{
    fixture *f = *state;
    bool more = true;
    register_member(f, 10, "clinician", T0);
    register_member(f, 11, "patient", T0 + 10);

    scan_seen all = {.ordered = true, .objects = true};
    assert_int_equal(cc_chain_state_scan(f->c, "id/", NULL, 1000, scan_visit, &all, &more), CC_OK);
    assert_false(more);
    assert_true(all.ordered);
    assert_true(all.objects);
    assert_true(all.count >= 5); /* the genesis node and admins, and the two members */

    scan_seen two = {.ordered = true, .objects = true};
    assert_int_equal(cc_chain_state_scan(f->c, "id/", NULL, 2, scan_visit, &two, &more), CC_OK);
    assert_int_equal(two.count, 2);
    assert_true(more);
    scan_seen exact = {.ordered = true, .objects = true};
    assert_int_equal(cc_chain_state_scan(f->c, "id/", NULL, all.count, scan_visit, &exact, &more), CC_OK);
    assert_int_equal(exact.count, all.count);
    assert_false(more);

    /* a prefix nothing has, one past every "id/" key, and a narrower one */
    scan_seen none = {.ordered = true, .objects = true};
    assert_int_equal(cc_chain_state_scan(f->c, "id0", NULL, 1000, scan_visit, &none, &more), CC_OK);
    assert_int_equal(none.count, 0);
    assert_false(more);
    char prefix[8];
    snprintf(prefix, sizeof prefix, "%.5s", all.last); /* "id/" and two hex digits of the last id */
    scan_seen narrow = {.ordered = true, .objects = true};
    assert_int_equal(cc_chain_state_scan(f->c, prefix, NULL, 1000, scan_visit, &narrow, &more), CC_OK);
    assert_true(narrow.count >= 1 && narrow.count < all.count);
    assert_string_equal(narrow.last, all.last);

    /* in chunks of 2, each going on after the last key the one before saw:
     * the same keys, in order, each once */
    scan_seen chunks = {.ordered = true, .objects = true};
    char after[200] = "";
    size_t rounds = 0;
    do {
        size_t before = chunks.count;
        assert_int_equal(
            cc_chain_state_scan(f->c, "id/", rounds ? after : NULL, 2, scan_visit, &chunks, &more), CC_OK);
        assert_true(chunks.count - before <= 2);
        snprintf(after, sizeof after, "%s", chunks.last);
        rounds++;
    } while (more);
    assert_int_equal(chunks.count, all.count);
    assert_true(chunks.ordered);
    assert_string_equal(chunks.last, all.last);
    assert_int_equal(rounds, (all.count + 1) / 2);

    /* after sorting before the prefix starts at the prefix; after past it,
     * or after the last key, finds nothing; after between two keys (not a
     * key itself) starts at the next one */
    scan_seen early = {.ordered = true, .objects = true};
    assert_int_equal(cc_chain_state_scan(f->c, "id/", "a", 1000, scan_visit, &early, &more), CC_OK);
    assert_int_equal(early.count, all.count);
    scan_seen late = {.ordered = true, .objects = true};
    assert_int_equal(cc_chain_state_scan(f->c, "id/", "id0", 1000, scan_visit, &late, &more), CC_OK);
    assert_int_equal(late.count, 0);
    assert_int_equal(cc_chain_state_scan(f->c, "id/", all.last, 1000, scan_visit, &late, &more), CC_OK);
    assert_int_equal(late.count, 0);
    /* the last key with its final digit replaced by '!', which sorts below
     * every hex digit: just below the last key, above all the others */
    char between[200];
    snprintf(between, sizeof between, "%.*s!", (int)strlen(all.last) - 1, all.last);
    scan_seen tail = {.ordered = true, .objects = true};
    assert_int_equal(cc_chain_state_scan(f->c, "id/", between, 1000, scan_visit, &tail, &more), CC_OK);
    assert_int_equal(tail.count, 1);
    assert_string_equal(tail.last, all.last);

    scan_seen stop = {.ordered = true, .objects = true, .stop_with = CC_ERR_CONFLICT};
    assert_int_equal(cc_chain_state_scan(f->c, "id/", NULL, 1000, scan_visit, &stop, &more), CC_ERR_CONFLICT);
    assert_int_equal(stop.count, 1);
}

/* The counts of a timing's buckets add up to its count. */
static void assert_timing_sound(const cc_chain_timing *t)
{
    uint64_t sum = 0;
    for (size_t b = 0; b < CC_CHAIN_TIMING_BUCKETS; b++) sum += t->bucket[b];
    assert_int_equal(sum, t->count);
    assert_true(t->sum_s >= 0);
    assert_true(t->count > 0 || t->sum_s == 0);
}

/* cc_chain_stats times each block: a committed one as execute and
 * store_commit, a built one as build; a block that fails counts nowhere. */
static void test_block_timings(void **state)
{
    fixture *f = *state;
    cc_chain_stats st;
    cc_chain_stats_get(f->c, &st);
    assert_int_equal(st.build.count, 0);
    assert_int_equal(st.execute.count, 0);
    assert_int_equal(st.store_commit.count, 0);

    register_member(f, 10, "clinician", T0);
    register_member(f, 11, "patient", T0 + 10);
    cc_chain_stats_get(f->c, &st);
    assert_int_equal(st.build.count, 0);
    assert_int_equal(st.execute.count, 2);
    assert_int_equal(st.store_commit.count, 2);
    assert_true(st.store_commit.sum_s > 0); /* an LMDB commit with fsync takes some time */
    assert_timing_sound(&st.execute);
    assert_timing_sound(&st.store_commit);

    cc_tx tx;
    cc_header h;
    cc_result r;
    cc_errbuf eb = {""};
    register_tx(f, 12, "payer", T0, &tx);
    assert_int_equal(cc_chain_build(f->c, &tx, 1, T0 + 20, &f->node, &h, &r, &eb), CC_OK);
    /* not after the head's time: refused before anything runs */
    assert_int_not_equal(cc_chain_produce(f->c, &tx, 1, T0 + 10, &f->node, &h, &r, &eb), CC_OK);
    cc_tx_free(&tx);
    cc_chain_stats_get(f->c, &st);
    assert_int_equal(st.build.count, 1);
    assert_int_equal(st.execute.count, 2);
    assert_int_equal(st.store_commit.count, 2);
    assert_timing_sound(&st.build);
}

typedef struct writer_arg {
    fixture *f;
    cc_tx *tx;
    uint64_t t;
    atomic_bool done;
    cc_err rc;
} writer_arg;

/* Another thread neither sees nor commits what this one keeps. */
static void *commit_elsewhere(void *arg)
{
    writer_arg *w = arg;
    cc_errbuf eb = {""};
    w->rc = cc_chain_keeps(w->f->c, NULL) ? CC_OK : cc_chain_commit_kept(w->f->c, &eb);
    atomic_store(&w->done, true);
    return NULL;
}

static void *produce_elsewhere(void *arg)
{
    writer_arg *w = arg;
    cc_header h;
    cc_result r;
    w->rc = cc_chain_produce(w->f->c, w->tx, 1, w->t, &w->f->node, &h, &r, NULL);
    atomic_store(&w->done, true);
    return NULL;
}

/* cc_chain_build_kept: the block is built once and committed as built; a
 * dropped one leaves nothing; the keeping thread's next block drops it;
 * other threads' writes wait until it is committed; only the keeping
 * thread can commit it. */
static void test_kept_build(void **state)
{
    fixture *f = *state;
    cc_tx a, b, c2;
    cc_header built, h;
    cc_result r;
    cc_head head;
    cc_chain_stats st;
    cc_errbuf eb = {""};
    uint8_t hash[CC_HASH_BYTES];
    register_tx(f, 20, "clinician", T0, &a);
    register_tx(f, 21, "clinician", T0, &b);
    register_tx(f, 22, "clinician", T0, &c2);

    /* kept, then committed: the head is the built header; built once */
    assert_false(cc_chain_keeps(f->c, NULL));
    assert_int_equal(cc_chain_build_kept(f->c, &a, 1, T0 + 10, &f->node, &built, &r, &eb), CC_OK);
    assert_int_equal(r.code, CC_OK);
    cc_header_hash(&built, hash);
    assert_true(cc_chain_keeps(f->c, NULL));
    assert_true(cc_chain_keeps(f->c, hash));
    cc_chain_head(f->c, &head);
    assert_int_equal(head.height, 0); /* not yet */
    assert_int_equal(cc_chain_commit_kept(f->c, &eb), CC_OK);
    assert_false(cc_chain_keeps(f->c, NULL));
    cc_chain_head(f->c, &head);
    assert_int_equal(head.height, 1);
    assert_memory_equal(head.hash, hash, CC_HASH_BYTES);
    cc_tx_location loc;
    assert_int_equal(cc_chain_tx_find(f->c, a.txid, &loc), CC_OK);
    cc_chain_stats_get(f->c, &st);
    assert_int_equal(st.build.count, 1);
    assert_int_equal(st.execute.count, 0);
    assert_int_equal(st.store_commit.count, 1);
    assert_int_not_equal(cc_chain_commit_kept(f->c, &eb), CC_OK); /* nothing kept any more */

    /* kept, then dropped: nothing changed, and the store takes writes again */
    assert_int_equal(cc_chain_build_kept(f->c, &b, 1, T0 + 20, &f->node, &built, &r, &eb), CC_OK);
    cc_chain_drop_kept(f->c);
    assert_false(cc_chain_keeps(f->c, NULL));
    cc_chain_head(f->c, &head);
    assert_int_equal(head.height, 1);
    assert_int_equal(cc_chain_tx_find(f->c, b.txid, &loc), CC_ERR_NOT_FOUND);

    /* kept, then another block from the same thread: the kept one is dropped */
    assert_int_equal(cc_chain_build_kept(f->c, &b, 1, T0 + 30, &f->node, &built, &r, &eb), CC_OK);
    assert_int_equal(cc_chain_produce(f->c, &c2, 1, T0 + 40, &f->node, &h, &r, &eb), CC_OK);
    assert_false(cc_chain_keeps(f->c, NULL));
    cc_chain_head(f->c, &head);
    assert_int_equal(head.height, 2);
    assert_int_equal(cc_chain_tx_find(f->c, b.txid, &loc), CC_ERR_NOT_FOUND);

    /* kept while another thread writes: that write waits for the commit,
     * and lands on top of it */
    assert_int_equal(cc_chain_build_kept(f->c, &b, 1, T0 + 50, &f->node, &built, &r, &eb), CC_OK);
    writer_arg other = {.f = f};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, commit_elsewhere, &other), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(other.rc, CC_ERR_INVALID);
    assert_true(cc_chain_keeps(f->c, NULL)); /* still kept here */
    cc_tx d;
    register_tx(f, 23, "clinician", T0, &d);
    writer_arg w = {.f = f, .tx = &d, .t = T0 + 60};
    assert_int_equal(pthread_create(&th, NULL, produce_elsewhere, &w), 0);
    usleep(200 * 1000);
    assert_false(atomic_load(&w.done));
    assert_int_equal(cc_chain_commit_kept(f->c, &eb), CC_OK);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(w.rc, CC_OK);
    cc_chain_head(f->c, &head);
    assert_int_equal(head.height, 4);
    assert_int_equal(cc_chain_tx_find(f->c, b.txid, &loc), CC_OK);
    assert_int_equal(loc.height, 3);
    assert_int_equal(cc_chain_tx_find(f->c, d.txid, &loc), CC_OK);
    assert_int_equal(loc.height, 4);

    cc_tx_free(&a);
    cc_tx_free(&b);
    cc_tx_free(&c2);
    cc_tx_free(&d);
}

static void test_rules_and_results(void **state)
{
    fixture *f = *state;
    cc_key clin, patient, stranger;
    cc_tx txs[6];
    cc_result r[6];
    char hex[CC_HASH_HEX], payload[200];
    ut_key(10, &clin);
    ut_key(11, &patient);
    ut_key(12, &stranger);
    register_member(f, 10, "clinician", T0);
    register_member(f, 11, "patient", T0 + 10);

    /* 0: a clinician anchors a document: ok */
    ut_tx(&txs[0], f->chain_id, &clin, "note.put",
          "{\"kind\":\"discharge\",\"sha256\":\""
          "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 1);
    /* 1: a patient may not register members */
    snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"role\":\"clinician\"}", cc_hex(stranger.pk, 32, hex));
    ut_tx(&txs[1], f->chain_id, &patient, "member.register", payload, T0, 2);
    /* 2: an unregistered signer */
    ut_tx(&txs[2], f->chain_id, &stranger, "note.put",
          "{\"kind\":\"x\",\"sha256\":\""
          "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 3);
    /* 3: expired: created 2 h before the block, expiry 1 h after created */
    ut_tx(&txs[3], f->chain_id, &clin, "note.put",
          "{\"kind\":\"y\",\"sha256\":\""
          "10112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0 + 100 - 7200000, 4);
    /* 4: the same tx as 0 again: duplicate */
    assert_int_equal(cc_tx_copy(&txs[4], &txs[0]), CC_OK);
    /* 5: patient named: invalid */
    ut_tx(&txs[5], f->chain_id, &f->admin, "member.register",
          "{\"id\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\",\"name\":\"Jane\","
          "\"role\":\"patient\"}",
          T0, 5);
    produce(f, txs, 6, T0 + 100, r);
    assert_int_equal(r[0].code, CC_OK);
    assert_int_equal(r[1].code, CC_ERR_FORBIDDEN);
    assert_int_equal(r[2].code, CC_ERR_UNKNOWN_SIGNER);
    assert_int_equal(r[3].code, CC_ERR_EXPIRED);
    assert_int_equal(r[4].code, CC_ERR_DUPLICATE);
    assert_int_equal(r[5].code, CC_ERR_INVALID);
    assert_non_null(strstr(r[5].message, "pseudonymous"));

    /* The txid of tx 0 maps to its first position, and admission refuses it. */
    cc_tx_location loc;
    assert_int_equal(cc_chain_tx_find(f->c, txs[0].txid, &loc), CC_OK);
    assert_int_equal(loc.index, 0);
    assert_int_equal(loc.result.code, CC_OK);
    assert_int_equal(cc_chain_admit(f->c, &txs[0], T0 + 200, NULL), CC_ERR_DUPLICATE);
    /* a committed tx is a duplicate even when it failed */
    assert_int_equal(cc_chain_admit(f->c, &txs[1], T0 + 200, NULL), CC_ERR_DUPLICATE);
    for (int i = 0; i < 6; i++) cc_tx_free(&txs[i]);
    ut_tx(&txs[1], f->chain_id, &patient, "member.register", payload, T0, 12);
    ut_tx(&txs[2], f->chain_id, &stranger, "note.put",
          "{\"kind\":\"x\",\"sha256\":\""
          "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 13);
    assert_int_equal(cc_chain_admit(f->c, &txs[1], T0 + 200, NULL), CC_ERR_FORBIDDEN);
    assert_int_equal(cc_chain_admit(f->c, &txs[2], T0 + 200, NULL), CC_ERR_UNKNOWN_SIGNER);
    assert_int_equal(cc_chain_admit(f->c, &txs[2], T0 + 3 * 3600 * 1000, NULL), CC_ERR_EXPIRED);
    assert_int_equal(cc_chain_admit(f->c, &txs[2], T0 - 3600 * 1000, NULL), CC_ERR_FUTURE);
    cc_tx_free(&txs[1]);
    cc_tx_free(&txs[2]);

    /* Revoke the clinician; their next tx fails with revoked. */
    snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"reason\":\"left\"}", cc_hex(clin.pk, 32, hex));
    ut_tx(&txs[0], f->chain_id, &f->admin, "member.revoke", payload, T0 + 150, 6);
    ut_tx(&txs[1], f->chain_id, &clin, "note.put",
          "{\"kind\":\"z\",\"sha256\":\""
          "20112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0 + 150, 7);
    /* the payer's admin may not revoke a hospital identity */
    snprintf(payload, sizeof payload, "{\"id\":\"%s\"}", cc_hex(patient.pk, 32, hex));
    ut_tx(&txs[2], f->chain_id, &f->payer_admin, "member.revoke", payload, T0 + 150, 8);
    produce(f, txs, 3, T0 + 200, r);
    assert_int_equal(r[0].code, CC_OK);
    assert_int_equal(r[1].code, CC_ERR_REVOKED);
    assert_int_equal(r[2].code, CC_ERR_FORBIDDEN);
    for (int i = 0; i < 3; i++) cc_tx_free(&txs[i]);
}

/* A signer revoked mid-block is refused for the rest of that block. */
/* Admission of many txs through one store snapshot (cc_chain_admit_in, as
 * the node's admission chunks do) answers exactly what one call per tx
 * answers, a failure in the middle does not spoil the txs after it, and a
 * view that never needed the store opens no transaction. */
static void test_admit_view_matches_single_calls(void **state)
{
    fixture *f = *state;
    cc_key clin, stranger;
    cc_tx txs[5];
    cc_result r;
    ut_key(10, &clin);
    ut_key(12, &stranger);
    register_member(f, 10, "clinician", T0);
    ut_tx(&txs[0], f->chain_id, &clin, "note.put",
          "{\"kind\":\"a\",\"sha256\":\""
          "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 1);
    produce(f, &txs[0], 1, T0 + 100, &r); /* txs[0] committed: a duplicate from now on */
    assert_int_equal(r.code, CC_OK);
    ut_tx(&txs[1], f->chain_id, &clin, "note.put",
          "{\"kind\":\"b\",\"sha256\":\""
          "10112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 2);
    ut_tx(&txs[2], f->chain_id, &stranger, "note.put",
          "{\"kind\":\"c\",\"sha256\":\""
          "20112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 3);
    ut_tx(&txs[3], f->chain_id, &clin, "member.register", "{\"id\":\"00\",\"role\":\"clinician\"}", T0, 4);
    ut_tx(&txs[4], f->chain_id, &clin, "note.put",
          "{\"kind\":\"d\",\"sha256\":\""
          "30112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 5);
    const cc_err want[5] = {CC_ERR_DUPLICATE, CC_OK, CC_ERR_UNKNOWN_SIGNER, CC_ERR_INVALID, CC_OK};

    cc_admit_view view = {0};
    for (int i = 0; i < 5; i++) {
        cc_errbuf one = {""}, many = {""};
        assert_int_equal(cc_chain_admit(f->c, &txs[i], T0 + 200, &one), want[i]);
        assert_int_equal(cc_chain_admit_in(f->c, &view, &txs[i], T0 + 200, &many), want[i]);
        assert_string_equal(many.msg, one.msg);
    }
    assert_non_null(view.txn);
    cc_chain_admit_view_end(f->c, &view);
    assert_null(view.txn);

    /* expired before any store read: the view stays closed */
    assert_int_equal(cc_chain_admit_in(f->c, &view, &txs[1], T0 + 3 * 3600 * 1000, NULL), CC_ERR_EXPIRED);
    assert_null(view.txn);
    cc_chain_admit_view_end(f->c, &view);
    for (int i = 0; i < 5; i++) cc_tx_free(&txs[i]);
}

static void test_revoke_takes_effect_within_block(void **state)
{
    fixture *f = *state;
    cc_key clin;
    cc_tx txs[3];
    cc_result r[3];
    char hex[CC_HASH_HEX], payload[200];
    ut_key(10, &clin);
    register_member(f, 10, "clinician", T0);
    ut_tx(&txs[0], f->chain_id, &clin, "note.put",
          "{\"kind\":\"a\",\"sha256\":\""
          "40112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 1);
    snprintf(payload, sizeof payload, "{\"id\":\"%s\"}", cc_hex(clin.pk, 32, hex));
    ut_tx(&txs[1], f->chain_id, &f->admin, "member.revoke", payload, T0, 2);
    ut_tx(&txs[2], f->chain_id, &clin, "note.put",
          "{\"kind\":\"b\",\"sha256\":\""
          "50112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 3);
    produce(f, txs, 3, T0 + 100, r);
    assert_int_equal(r[0].code, CC_OK);
    assert_int_equal(r[1].code, CC_OK);
    assert_int_equal(r[2].code, CC_ERR_REVOKED);
    for (int i = 0; i < 3; i++) cc_tx_free(&txs[i]);
}

/* Signers' identities are cached across blocks (exec's and admission's
 * caches): a revocation in a later block still takes effect at once, and a
 * block that was only built (never committed) changes nothing. */
static void test_revoke_takes_effect_across_blocks(void **state)
{
    fixture *f = *state;
    cc_key clin;
    cc_tx note, revoke, later;
    cc_result r, built[1];
    cc_header h;
    cc_errbuf eb = {""};
    char hex[CC_HASH_HEX], payload[200];
    ut_key(11, &clin);
    register_member(f, 11, "clinician", T0);
    ut_tx(&note, f->chain_id, &clin, "note.put",
          "{\"kind\":\"a\",\"sha256\":\""
          "60112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 1);
    produce(f, &note, 1, T0 + 100, &r); /* the clinician is now in both caches */
    assert_int_equal(r.code, CC_OK);
    ut_tx(&later, f->chain_id, &clin, "note.put",
          "{\"kind\":\"b\",\"sha256\":\""
          "70112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 3);
    assert_int_equal(cc_chain_admit(f->c, &later, T0 + 150, NULL), CC_OK);

    snprintf(payload, sizeof payload, "{\"id\":\"%s\"}", cc_hex(clin.pk, 32, hex));
    ut_tx(&revoke, f->chain_id, &f->admin, "member.revoke", payload, T0, 2);
    /* built, not committed: the clinician may still send */
    assert_int_equal(cc_chain_build(f->c, &revoke, 1, T0 + 200, &f->node, &h, built, &eb), CC_OK);
    assert_int_equal(built[0].code, CC_OK);
    assert_int_equal(cc_chain_admit(f->c, &later, T0 + 250, NULL), CC_OK);

    produce(f, &revoke, 1, T0 + 300, &r);
    assert_int_equal(r.code, CC_OK);
    assert_int_equal(cc_chain_admit(f->c, &later, T0 + 350, NULL), CC_ERR_REVOKED);
    produce(f, &later, 1, T0 + 400, &r);
    assert_int_equal(r.code, CC_ERR_REVOKED);
    cc_tx_free(&note);
    cc_tx_free(&revoke);
    cc_tx_free(&later);
}

/* note.put formats its record directly when its strings need no escaping
 * and goes through jansson when they do: either way the stored bytes must
 * be exactly jansson's canonical dump (they feed the state root). */
static void test_note_record_is_canonical(void **state)
{
    static const struct {
        const char *payload, *kind, *uri; /* uri NULL: none */
    } cases[] = {
        {"{\"kind\":\"scan\",\"sha256\":\"a0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
         "\"uri\":\"https://example.org/a?b=c&d=%20~\"}",
         "scan", "https://example.org/a?b=c&d=%20~"},
        {"{\"kind\":\"x\",\"sha256\":\"b0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
         "x", NULL},
        {"{\"kind\":\"q\\\"uote\\\\back\",\"sha256\":"
         "\"c0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\",\"uri\":\"caf\u00e9/\"}",
         "q\"uote\\back", "caf\u00e9/"},
    };
    fixture *f = *state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cc_tx tx;
        cc_result r;
        char key[160], hex[CC_HASH_HEX], txid[CC_HASH_HEX], *val = NULL;
        size_t len = 0;
        ut_tx(&tx, f->chain_id, &f->admin, "note.put", cases[i].payload, T0, 100 + i);
        produce(f, &tx, 1, T0 + 100 * (i + 1), &r);
        if (r.code != CC_OK) fail_msg("case %zu: %s", i, r.message);
        json_t *sha = json_object_get(tx.json, "sha256");
        snprintf(key, sizeof key, "note/%s/%s", json_string_value(sha), cc_hex(f->admin.pk, 32, hex));
        assert_int_equal(cc_chain_state_get(f->c, key, &val, &len), CC_OK);
        json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "kind", cases[i].kind, "txid",
                              cc_hex(tx.txid, CC_HASH_BYTES, txid), "height", (json_int_t)(i + 1), "time_ms",
                              (json_int_t)(T0 + 100 * (i + 1)));
        if (cases[i].uri) json_object_set_new(o, "uri", json_string(cases[i].uri));
        char *want = cc_json_dump(o);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(val, want, len);
        assert_int_equal(cc_json_str_plain(cases[i].kind), i < 2);
        free(want);
        json_decref(o);
        free(val);
        cc_tx_free(&tx);
    }
}

/* An attachment is stored apart, by hash, when its tx succeeds; a failed
 * tx's attachment is not kept. */
static void test_attachments(void **state)
{
    fixture *f = *state;
    cc_key stranger;
    cc_tx txs[2];
    cc_result r[2];
    const char *doc = "encrypted bytes stand-in", *other = "a stranger's bytes";
    ut_key(12, &stranger);
    for (int i = 0; i < 2; i++) {
        const cc_key *k = i == 0 ? &f->admin : &stranger;
        const char *att = i == 0 ? doc : other;
        const char *payload = i == 0 ? "{\"kind\":\"scan\",\"sha256\":\""
                                       "80112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}"
                                     : "{\"kind\":\"scan\",\"sha256\":\""
                                       "90112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}";
        cc_tx_params p = {.chain_id = f->chain_id,
                          .type = "note.put",
                          .payload = payload,
                          .payload_len = strlen(payload),
                          .created_ms = T0,
                          .expiry_ms = T0 + 60000,
                          .nonce = (uint64_t)i,
                          .attachment = (const uint8_t *)att,
                          .attachment_len = strlen(att)};
        assert_int_equal(cc_tx_create(&p, k, &txs[i], NULL), CC_OK);
    }
    produce(f, txs, 2, T0 + 10, r);
    assert_int_equal(r[0].code, CC_OK);
    assert_int_equal(r[1].code, CC_ERR_UNKNOWN_SIGNER);
    uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(cc_chain_attachment(f->c, txs[0].attachment_hash, &got, &len), CC_OK);
    assert_int_equal(len, strlen(doc));
    assert_memory_equal(got, doc, len);
    free(got);
    assert_int_equal(cc_chain_attachment(f->c, txs[1].attachment_hash, &got, &len), CC_ERR_NOT_FOUND);
    /* admission wants the bytes of a declared attachment, matching its hash */
    cc_tx copy;
    assert_int_equal(cc_tx_decode(txs[0].raw, txs[0].raw_len, &copy, NULL), CC_OK);
    assert_int_equal(cc_chain_admit(f->c, &copy, T0 + 20, NULL), CC_ERR_DUPLICATE);
    cc_tx_free(&copy);
    cc_tx fresh;
    const char *payload = "{\"kind\":\"scan\",\"sha256\":\""
                          "a0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}";
    cc_tx_params p = {.chain_id = f->chain_id,
                      .type = "note.put",
                      .payload = payload,
                      .payload_len = strlen(payload),
                      .created_ms = T0,
                      .expiry_ms = T0 + 60000,
                      .nonce = 9,
                      .attachment = (const uint8_t *)doc,
                      .attachment_len = strlen(doc)};
    assert_int_equal(cc_tx_create(&p, &f->admin, &fresh, NULL), CC_OK);
    fresh.attachment[0] ^= 1; /* bytes that do not match the signed hash */
    assert_int_equal(cc_chain_admit(f->c, &fresh, T0 + 20, NULL), CC_ERR_ATTACHMENT);
    free(fresh.attachment);
    fresh.attachment = NULL; /* bytes missing */
    assert_int_equal(cc_chain_admit(f->c, &fresh, T0 + 20, NULL), CC_ERR_ATTACHMENT);
    cc_tx_free(&fresh);
    for (int i = 0; i < 2; i++) cc_tx_free(&txs[i]);
}

/* A txid commits once, ever, even when it failed: an expired tx replayed
 * in a later block is a duplicate and its index entry does not move. */
static void test_failed_tx_never_commits_again(void **state)
{
    fixture *f = *state;
    cc_tx tx, again;
    cc_result r;
    cc_tx_location loc;
    ut_tx(&tx, f->chain_id, &f->admin, "note.put",
          "{\"kind\":\"a\",\"sha256\":\""
          "c0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0 - 7200000, 1);
    assert_int_equal(cc_tx_copy(&again, &tx), CC_OK);
    produce(f, &tx, 1, T0, &r);
    assert_int_equal(r.code, CC_ERR_EXPIRED);
    produce(f, &again, 1, T0 + 10, &r);
    assert_int_equal(r.code, CC_ERR_DUPLICATE);
    assert_int_equal(cc_chain_tx_find(f->c, tx.txid, &loc), CC_OK);
    assert_int_equal(loc.height, 1);
    assert_int_equal(loc.result.code, CC_ERR_EXPIRED);
    cc_tx_free(&tx);
    cc_tx_free(&again);
}

static void test_block_time_must_increase(void **state)
{
    fixture *f = *state;
    cc_tx tx;
    cc_result r;
    cc_header h;
    register_member(f, 10, "clinician", T0);
    ut_tx(&tx, f->chain_id, &f->admin, "note.put",
          "{\"kind\":\"a\",\"sha256\":\""
          "30112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 1);
    assert_int_equal(cc_chain_produce(f->c, &tx, 1, T0, &f->node, &h, &r, NULL), CC_ERR_INVALID);
    cc_tx_free(&tx);
}

/* Many blocks, then a proof for a tx in every one, each checked offline. */
static void test_proofs(void **state)
{
    fixture *f = *state;
    cc_tx txs[40];
    cc_result r[40];
    uint8_t ids[13][CC_HASH_BYTES];
    for (int b = 0; b < 13; b++) {
        size_t n = (size_t)(b % 5) + 1;
        for (size_t i = 0; i < n; i++) {
            char payload[160];
            snprintf(payload, sizeof payload, "{\"kind\":\"k\",\"sha256\":\"%064x\"}", b * 100 + (int)i);
            ut_tx(&txs[i], f->chain_id, &f->admin, "note.put", payload, T0 + (uint64_t)b * 10,
                  (uint64_t)(b * 100 + (int)i));
        }
        produce(f, txs, n, T0 + (uint64_t)b * 10 + 5, r);
        memcpy(ids[b], txs[n - 1].txid, CC_HASH_BYTES);
        for (size_t i = 0; i < n; i++) cc_tx_free(&txs[i]);
    }
    for (int b = 0; b < 13; b++) {
        json_t *proof = NULL;
        cc_proof_report rep;
        cc_errbuf eb = {""};
        assert_int_equal(cc_chain_proof(f->c, ids[b], &proof, &eb), CC_OK);
        if (cc_proof_verify(proof, (uint8_t *)f->genesis, strlen(f->genesis), &rep, &eb) != CC_OK)
            fail_msg("proof of block %d: %s", b + 1, eb.msg);
        assert_int_equal(rep.height, (uint64_t)b + 1);
        assert_int_equal(rep.checkpoint_height, 13);
        assert_int_equal(rep.result.code, CC_OK);

        /* Tamper with the history path, the result, the tx path: each fails. */
        json_t *bad = json_deep_copy(proof);
        json_t *hp = json_object_get(bad, "history_path");
        if (json_array_size(hp) > 0) {
            json_array_set_new(
                hp, 0, json_string("00000000000000000000000000000000000000000000000000000000000000aa"));
            assert_int_equal(cc_proof_verify(bad, (uint8_t *)f->genesis, strlen(f->genesis), &rep, &eb),
                             CC_ERR_VERIFY);
        }
        json_decref(bad);
        bad = json_deep_copy(proof);
        json_object_set_new(json_object_get(bad, "result"), "code_num", json_integer(CC_ERR_FORBIDDEN));
        json_object_set_new(json_object_get(bad, "result"), "code", json_string("forbidden"));
        assert_int_equal(cc_proof_verify(bad, (uint8_t *)f->genesis, strlen(f->genesis), &rep, &eb),
                         CC_ERR_VERIFY);
        json_decref(bad);
        bad = json_deep_copy(proof);
        json_object_set_new(json_object_get(bad, "checkpoint"), "signatures", json_array());
        assert_int_equal(cc_proof_verify(bad, (uint8_t *)f->genesis, strlen(f->genesis), &rep, &eb),
                         CC_ERR_VERIFY);
        assert_non_null(strstr(eb.msg, "majority"));
        json_decref(bad);
        /* relabelled format 1: its signatures are of the v2 message, which
         * the v1 check does not take */
        bad = json_deep_copy(proof);
        json_object_set_new(bad, "carechain_proof", json_integer(1));
        json_object_del(bad, "membership");
        json_object_del(json_object_get(bad, "checkpoint"), "members");
        assert_int_equal(cc_proof_verify(bad, (uint8_t *)f->genesis, strlen(f->genesis), &rep, &eb),
                         CC_ERR_VERIFY);
        assert_non_null(strstr(eb.msg, "majority"));
        json_decref(bad);
        json_decref(proof);
    }
}

/* A proof saved by a build before checkpoints named their nodes (format 1,
 * made with `carechain proof` on a 3-node devnet at 0d774dc; the files in
 * tests/unit/data/) still verifies against its genesis, and tampering with
 * it still fails. */
static void test_format1_proof_still_verifies(void **state)
{
    (void)state;
    uint8_t *pbuf = NULL, *genesis = NULL;
    size_t plen = 0, glen = 0;
    cc_proof_report rep;
    cc_errbuf eb = {""};
    assert_int_equal(cc_file_read("tests/unit/data/proof-format1.json", 1 << 20, &pbuf, &plen, NULL), CC_OK);
    assert_int_equal(
        cc_file_read("tests/unit/data/proof-format1-genesis.json", 1 << 20, &genesis, &glen, NULL), CC_OK);
    json_t *proof = json_loadb((const char *)pbuf, plen, 0, NULL);
    assert_non_null(proof);
    if (cc_proof_verify(proof, genesis, glen, &rep, &eb) != CC_OK) fail_msg("format-1 proof: %s", eb.msg);
    assert_int_equal(rep.format, 1);
    assert_int_equal(rep.height, 1);
    assert_int_equal(rep.checkpoint_height, 3);
    assert_int_equal(rep.signatures, 3);
    assert_int_equal(rep.trusted, 3);
    assert_int_equal(rep.steps, 0);
    assert_string_equal(rep.type, "note.put");

    /* two of the three signatures broken: no majority */
    json_t *bad = json_deep_copy(proof);
    json_t *sigs = json_object_get(json_object_get(bad, "checkpoint"), "signatures");
    for (size_t i = 0; i < 2; i++) {
        char *sig = strdup(json_string_value(json_object_get(json_array_get(sigs, i), "sig")));
        sig[0] = sig[0] == '0' ? '1' : '0';
        json_object_set_new(json_array_get(sigs, i), "sig", json_string(sig));
        free(sig);
    }
    assert_int_equal(cc_proof_verify(bad, genesis, glen, &rep, &eb), CC_ERR_VERIFY);
    assert_non_null(strstr(eb.msg, "majority"));
    json_decref(bad);
    /* the history path */
    bad = json_deep_copy(proof);
    json_array_set_new(json_object_get(bad, "history_path"), 0,
                       json_string("00000000000000000000000000000000000000000000000000000000000000aa"));
    assert_int_equal(cc_proof_verify(bad, genesis, glen, &rep, &eb), CC_ERR_VERIFY);
    json_decref(bad);
    /* a format-1 proof takes no membership steps, and its checkpoint is no
     * format-2 one */
    bad = json_deep_copy(proof);
    json_object_set_new(bad, "membership", json_array());
    assert_int_equal(cc_proof_verify(bad, genesis, glen, &rep, &eb), CC_ERR_MALFORMED);
    json_object_set_new(bad, "carechain_proof", json_integer(2));
    assert_int_not_equal(cc_proof_verify(bad, genesis, glen, &rep, &eb), CC_OK);
    json_decref(bad);
    /* nor does it show a node's removal: it names no nodes */
    cc_genesis g;
    assert_int_equal(cc_genesis_parse(genesis, glen, &g, NULL), CC_OK);
    cc_key stranger;
    ut_key(77, &stranger);
    assert_int_equal(cc_proof_shows_removal(proof, &g, stranger.pk, 0, &rep, &eb), CC_ERR_VERIFY);
    assert_non_null(strstr(eb.msg, "names no nodes"));
    cc_genesis_free(&g);

    json_decref(proof);
    free(pbuf);
    free(genesis);
}

/* Run verify-chain on the fixture's data dir; returns the report. */
static cc_err verify(fixture *f, cc_verify_report *rep)
{
    char data[600], *scratch = ut_tmpdir();
    cc_errbuf eb = {""};
    snprintf(data, sizeof data, "%s/data", f->dir);
    cc_err rc = cc_chain_verify(data, (uint8_t *)f->genesis, strlen(f->genesis), scratch, rep, &eb);
    ut_rmdir(scratch);
    return rc;
}

/* A write txn on the closed store's environment in f->dir/sub, and the
 * database db in it (created when create). */
static MDB_env *raw_open(fixture *f, const char *sub, const char *db, bool create, MDB_txn **txn,
                         MDB_dbi *dbi)
{
    char dir[600];
    MDB_env *env;
    snprintf(dir, sizeof dir, "%s/%s", f->dir, sub);
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, txn), 0);
    assert_int_equal(mdb_dbi_open(*txn, db, create ? MDB_CREATE : 0, dbi), 0);
    return env;
}

/* Flip one byte of a value in a named database of the closed store (or of
 * another environment under f->dir: sub). */
static void flip_in(fixture *f, const char *sub, const char *db, const void *key, size_t klen,
                    size_t offset_from_end)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {klen, (void *)key}, v;
    MDB_env *env = raw_open(f, sub, db, false, &txn, &dbi);
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[v.mv_size - 1 - offset_from_end] ^= 0x01;
    MDB_val nv = {v.mv_size, copy};
    assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(copy);
}

static void flip(fixture *f, const char *db, const void *key, size_t klen, size_t offset_from_end)
{
    flip_in(f, "data", db, key, klen, offset_from_end);
}

static void reopen(fixture *f)
{
    char data[600];
    cc_errbuf eb;
    snprintf(data, sizeof data, "%s/data", f->dir);
    assert_int_equal(cc_chain_open(data, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &f->c, &eb), CC_OK);
}

static void build_three_blocks(fixture *f)
{
    register_member(f, 10, "clinician", T0);
    register_member(f, 11, "patient", T0 + 10);
    register_member(f, 12, "payer", T0 + 20);
}

static void test_verify_chain_sound(void **state)
{
    fixture *f = *state;
    cc_verify_report rep;
    build_three_blocks(f);
    assert_int_equal(verify(f, &rep), CC_OK);
    assert_int_equal(rep.blocks, 3);
    assert_int_equal(rep.txs, 3);
}

static void test_verify_chain_catches_block_tamper(void **state)
{
    fixture *f = *state;
    cc_verify_report rep;
    uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    build_three_blocks(f);
    cc_chain_close(f->c);
    flip(f, "blocks", key, sizeof key, 70); /* inside the tx's payload */
    assert_int_equal(verify(f, &rep), CC_ERR_VERIFY);
    assert_int_equal(rep.bad_height, 2);
    reopen(f);
}

static void test_verify_chain_catches_state_tamper(void **state)
{
    fixture *f = *state;
    cc_verify_report rep;
    cc_key patient;
    char key[80], hex[CC_HASH_HEX];
    build_three_blocks(f);
    cc_chain_close(f->c);
    ut_key(11, &patient);
    snprintf(key, sizeof key, "id/%s", cc_hex(patient.pk, 32, hex));
    flip(f, "state", key, strlen(key), 3);
    assert_int_equal(verify(f, &rep), CC_ERR_VERIFY);
    assert_int_equal(rep.bad_height, 2); /* the patient was registered in block 2 */
    assert_non_null(strstr(rep.what, "state"));
    reopen(f);
}

static void test_verify_chain_catches_header_tamper(void **state)
{
    fixture *f = *state;
    cc_verify_report rep;
    uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    build_three_blocks(f);
    cc_chain_close(f->c);
    flip(f, "blocks", key, sizeof key, 0); /* the last byte of the block: its only tx's signature */
    assert_int_equal(verify(f, &rep), CC_ERR_VERIFY);
    assert_int_equal(rep.bad_height, 1);
    reopen(f);
}

/* A block whose txs include one with a broken signature (exec refused it,
 * and the block records that) replays the same: verify-chain checks the
 * signatures on several threads before the replay, and a tx whose check
 * failed there is refused by the replay as it was by the producer. */
static void test_verify_chain_replays_a_refused_signature(void **state)
{
    fixture *f = *state;
    enum { TXS = 7, BAD = 4 };
    cc_tx txs[TXS];
    cc_result r[TXS];
    cc_verify_report rep;
    for (int i = 0; i < TXS; i++) {
        char payload[160];
        snprintf(payload, sizeof payload,
                 "{\"kind\":\"sig\",\"sha256\":\"%"
                 "02x112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
                 i);
        ut_tx(&txs[i], f->chain_id, &f->admin, "note.put", payload, T0, 300 + (uint64_t)i);
    }
    /* the last byte of the signed encoding is the signature's */
    uint8_t *raw = malloc(txs[BAD].raw_len);
    memcpy(raw, txs[BAD].raw, txs[BAD].raw_len);
    raw[txs[BAD].raw_len - 1] ^= 0x01;
    size_t raw_len = txs[BAD].raw_len;
    cc_tx_free(&txs[BAD]);
    assert_int_equal(cc_tx_decode(raw, raw_len, &txs[BAD], NULL), CC_OK);
    free(raw);
    produce(f, txs, TXS, T0 + 10, r);
    for (int i = 0; i < TXS; i++) {
        assert_int_equal(r[i].code, i == BAD ? CC_ERR_SIGNATURE : CC_OK);
        cc_tx_free(&txs[i]);
    }
    cc_chain_close(f->c);
    assert_int_equal(verify(f, &rep), CC_OK);
    assert_int_equal(rep.txs, TXS);
    reopen(f);
}

/* Fault loop: fail the 1st, 2nd, ... write of a block; each time the block
 * is refused whole and the chain stays exactly at h-1; once no write fails
 * the block commits and the chain verifies. */
static void test_write_fault_loop(void **state)
{
    fixture *f = *state;
    cc_key clin;
    char hex[CC_HASH_HEX], payload[200];
    register_member(f, 11, "patient", T0);
    ut_key(10, &clin);
    snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"role\":\"clinician\"}", cc_hex(clin.pk, 32, hex));
    unsigned faults = 0;
    for (unsigned n = 1;; n++) {
        cc_tx txs[3];
        cc_result r[3];
        cc_header h;
        cc_head before, after;
        cc_errbuf eb = {""};
        ut_tx(&txs[0], f->chain_id, &f->admin, "member.register", payload, T0, 100);
        ut_tx(&txs[1], f->chain_id, &f->admin, "note.put",
              "{\"kind\":\"a\",\"sha256\":\""
              "60112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
              T0, 101);
        ut_tx(&txs[2], f->chain_id, &f->payer_admin, "note.put",
              "{\"kind\":\"b\",\"sha256\":\""
              "70112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
              T0, 102);
        cc_chain_head(f->c, &before);
        cc_store_fault_after(f->c->s, n);
        cc_err rc = cc_chain_produce(f->c, txs, 3, T0 + 1000, &f->node, &h, r, &eb);
        cc_store_fault_after(f->c->s, 0);
        cc_chain_head(f->c, &after);
        for (int i = 0; i < 3; i++) cc_tx_free(&txs[i]);
        if (rc == CC_OK) {
            assert_int_equal(after.height, before.height + 1);
            break;
        }
        faults++;
        assert_int_equal(rc, CC_ERR_IO);
        assert_int_equal(after.height, before.height);
        assert_memory_equal(after.hash, before.hash, CC_HASH_BYTES);
        assert_memory_equal(after.state_root, before.state_root, CC_HASH_BYTES);
        json_t *id = NULL;
        assert_int_equal(cc_chain_identity_json(f->c, clin.pk, &id), CC_ERR_NOT_FOUND);
        assert_true(n < 100); /* a block of 3 txs makes far fewer writes */
    }
    assert_true(faults >= 10); /* every kind of write was failed once */
    json_t *id = NULL;
    assert_int_equal(cc_chain_identity_json(f->c, clin.pk, &id), CC_OK);
    json_decref(id);
    cc_verify_report rep;
    assert_int_equal(verify(f, &rep), CC_OK);
    assert_int_equal(rep.blocks, 2);
}

/* A second, different block signed for a height we have is equivocation:
 * recorded with both headers, and the chain halts (also after a restart). */
static void test_equivocation_halts(void **state)
{
    fixture *f = *state;
    cc_tx tx;
    cc_result r;
    cc_header h, other;
    cc_errbuf eb = {""};
    register_member(f, 10, "clinician", T0);
    uint8_t *raw;
    size_t len;
    assert_int_equal(cc_chain_block_raw(f->c, 1, &raw, &len), CC_OK);
    assert_int_equal(cc_header_decode(raw, CC_HEADER_BYTES, &h, NULL), CC_OK);
    free(raw);
    /* the same header again: consistent */
    assert_int_equal(cc_chain_check_header(f->c, &h, &eb), CC_OK);
    /* a different header signed by a key that is not a node: ignored */
    other = h;
    other.time_ms++;
    cc_header_sign(&other, &f->admin);
    assert_int_equal(cc_chain_check_header(f->c, &other, &eb), CC_OK);
    assert_false(cc_chain_halted(f->c, NULL, 0));
    /* signed by the node: equivocation */
    cc_header_sign(&other, &f->node);
    assert_int_equal(cc_chain_check_header(f->c, &other, &eb), CC_ERR_CONFLICT);
    char why[200];
    assert_true(cc_chain_halted(f->c, why, sizeof why));
    assert_non_null(strstr(why, "equivocation"));
    json_t *ev = NULL;
    assert_int_equal(cc_chain_evidence_json(f->c, &ev), CC_OK);
    assert_int_equal(json_array_size(ev), 1);
    json_t *e0 = json_array_get(ev, 0);
    assert_string_equal(json_string_value(json_object_get(e0, "kind")), "equivocation");
    assert_int_equal(json_array_size(json_object_get(e0, "headers")), 2);
    json_decref(ev);
    /* no more blocks, even after a restart; reads go on */
    ut_tx(&tx, f->chain_id, &f->admin, "note.put",
          "{\"kind\":\"a\",\"sha256\":\""
          "b0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          T0, 1);
    assert_int_equal(cc_chain_produce(f->c, &tx, 1, T0 + 50, &f->node, &h, &r, &eb), CC_ERR_CONFLICT);
    cc_chain_close(f->c);
    reopen(f);
    assert_true(cc_chain_halted(f->c, NULL, 0));
    assert_int_equal(cc_chain_produce(f->c, &tx, 1, T0 + 50, &f->node, &h, &r, &eb), CC_ERR_CONFLICT);
    cc_head head;
    cc_chain_head(f->c, &head);
    assert_int_equal(head.height, 1);
    cc_tx_free(&tx);
}

static void test_reopen_keeps_head(void **state)
{
    fixture *f = *state;
    cc_head before, after;
    build_three_blocks(f);
    cc_chain_head(f->c, &before);
    cc_chain_close(f->c);
    reopen(f);
    cc_chain_head(f->c, &after);
    assert_int_equal(after.height, 3);
    assert_memory_equal(before.hash, after.hash, CC_HASH_BYTES);
    assert_memory_equal(before.state_root, after.state_root, CC_HASH_BYTES);
}

/* A note.put tx by the hospital admin; n makes its document unique. */
static void note_tx(fixture *f, int n, uint64_t created, cc_tx *tx)
{
    char payload[200];
    snprintf(payload, sizeof payload, "{\"kind\":\"a\",\"sha256\":\"%064x\"}", n);
    ut_tx(tx, f->chain_id, &f->admin, "note.put", payload, created, (uint64_t)n);
}

static void open_with(fixture *f, const cc_chain_options *opt, cc_chain **c)
{
    char data[600];
    cc_errbuf eb = {""};
    snprintf(data, sizeof data, "%s/data", f->dir);
    if (cc_chain_open(data, (uint8_t *)f->genesis, strlen(f->genesis), opt, c, &eb) != CC_OK)
        fail_msg("open: %s", eb.msg);
}

static void assert_found(cc_chain *c, const uint8_t *txid, uint64_t height, cc_err result)
{
    cc_tx_location loc;
    assert_int_equal(cc_chain_tx_find(c, txid, &loc), CC_OK);
    assert_int_equal(loc.height, height);
    assert_int_equal(loc.index, 0);
    assert_int_equal(loc.result.code, result);
}

/* Blocks 1..3: a registration, a note (tx), the same note again (a
 * duplicate); all of it indexed. */
static void build_with_duplicate(fixture *f, cc_tx *tx)
{
    cc_tx again;
    cc_result r;
    cc_errbuf eb = {""};
    register_member(f, 10, "clinician", T0);
    note_tx(f, 1, T0, tx);
    assert_int_equal(cc_tx_copy(&again, tx), CC_OK);
    produce(f, tx, 1, T0 + 10, &r);
    assert_int_equal(r.code, CC_OK);
    produce(f, &again, 1, T0 + 20, &r);
    assert_int_equal(r.code, CC_ERR_DUPLICATE);
    cc_tx_free(&again);
    if (cc_txids_catch_up(f->c->txids, &eb) != CC_OK) fail_msg("catch up: %s", eb.msg);
    assert_int_equal(cc_txids_indexed(f->c->txids), 3);
}

/* Lookups by txid: from the index, from the blocks it has not reached, and
 * from both at once; always the first commit, never the duplicate. */
static void test_txid_lookups(void **state)
{
    fixture *f = *state;
    cc_tx tx, later;
    cc_result r;
    cc_tx_location loc;
    cc_chain *c;
    uint8_t unknown[CC_HASH_BYTES] = {7};
    cc_chain_options scratch = {.no_txid_index = true}, ro = {.readonly = true};
    build_with_duplicate(f, &tx);
    assert_found(f->c, tx.txid, 2, CC_OK);
    assert_int_equal(cc_chain_tx_committed(f->c, &tx, &loc), CC_OK); /* by (expiry, txid) */
    assert_int_equal(loc.height, 2);
    assert_int_equal(cc_chain_tx_find(f->c, unknown, &loc), CC_ERR_NOT_FOUND);
    cc_chain_close(f->c);
    f->c = NULL; /* teardown must not close it again if an assertion fails */

    /* A chain without the index (it stays at block 3) commits block 4. */
    open_with(f, &scratch, &c);
    assert_found(c, tx.txid, 2, CC_OK); /* from the blocks alone */
    note_tx(f, 2, T0 + 25, &later);
    produce(&(fixture){.c = c, .node = f->node}, &later, 1, T0 + 30, &r);
    assert_int_equal(r.code, CC_OK);
    cc_chain_close(c);

    /* Read-only: the index answers for 1..3, the blocks for 4. */
    open_with(f, &ro, &c);
    assert_found(c, tx.txid, 2, CC_OK);
    assert_found(c, later.txid, 4, CC_OK);
    assert_int_equal(cc_chain_tx_find(c, unknown, &loc), CC_ERR_NOT_FOUND);
    cc_chain_close(c);

    reopen(f); /* the node's open catches the index up */
    cc_errbuf eb = {""};
    assert_int_equal(cc_txids_catch_up(f->c->txids, &eb), CC_OK);
    assert_int_equal(cc_txids_indexed(f->c->txids), 4);
    assert_found(f->c, later.txid, 4, CC_OK);
    cc_verify_report rep;
    assert_int_equal(verify(f, &rep), CC_OK);
    cc_tx_free(&tx);
    cc_tx_free(&later);
}

/* An index whose newest block is not the store's (a store restored or
 * replaced under it) is ignored by lookups and rebuilt by the next open. */
static void test_foreign_txid_index_is_rebuilt(void **state)
{
    fixture *f = *state;
    cc_tx tx;
    cc_chain *c;
    cc_chain_options ro = {.readonly = true};
    cc_verify_report rep;
    cc_errbuf eb = {""};
    build_with_duplicate(f, &tx);
    cc_chain_close(f->c);
    f->c = NULL; /* teardown must not close it again if an assertion fails */
    flip_in(f, "data/txids", "meta", "indexed", 7, 0); /* its block hash */
    open_with(f, &ro, &c);
    assert_found(c, tx.txid, 2, CC_OK); /* from the blocks */
    cc_chain_close(c);
    assert_int_equal(verify(f, &rep), CC_OK); /* verify-chain ignores it too */
    reopen(f);
    assert_int_equal(cc_txids_catch_up(f->c->txids, &eb), CC_OK);
    assert_int_equal(cc_txids_indexed(f->c->txids), 3);
    assert_found(f->c, tx.txid, 2, CC_OK);
    cc_tx_free(&tx);
}

/* verify-chain checks the index entry by entry; a lookup never trusts an
 * entry that its block does not bear out. */
static void test_verify_chain_catches_txid_index_tamper(void **state)
{
    fixture *f = *state;
    cc_tx tx;
    cc_chain *c;
    cc_chain_options ro = {.readonly = true};
    cc_verify_report rep;
    MDB_txn *txn;
    MDB_dbi dbi;
    build_with_duplicate(f, &tx);
    cc_chain_close(f->c);
    f->c = NULL; /* teardown must not close it again if an assertion fails */

    flip_in(f, "data/txids", "txids", tx.txid, CC_HASH_BYTES, 0); /* index 0 -> 1 */
    open_with(f, &ro, &c);
    assert_found(c, tx.txid, 2, CC_OK);
    cc_chain_close(c);
    assert_int_equal(verify(f, &rep), CC_ERR_VERIFY);
    assert_int_equal(rep.bad_height, 2);
    assert_non_null(strstr(rep.what, "txid index"));
    flip_in(f, "data/txids", "txids", tx.txid, CC_HASH_BYTES, 0); /* back */
    assert_int_equal(verify(f, &rep), CC_OK);

    uint8_t bogus[CC_HASH_BYTES] = {9}, loc[12] = {0, 0, 0, 0, 0, 0, 0, 2};
    MDB_env *env = raw_open(f, "data/txids", "txids", false, &txn, &dbi);
    MDB_val k = {sizeof bogus, bogus}, v = {sizeof loc, loc};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(verify(f, &rep), CC_ERR_VERIFY);
    assert_non_null(strstr(rep.what, "holds 3 entries"));
    reopen(f);
    cc_tx_free(&tx);
}

/* Rewrite the closed store the way an earlier build left it: "txindex"
 * (txid -> location) instead of "seen", and no data/txids. With
 * keep_below > 0, "seen" keeps its entries of heights below it, as an
 * upgrade that crashed after its first transactions left it. Returns the
 * number of txids indexed. */
static size_t make_old_layout(fixture *f, uint64_t keep_below)
{
    MDB_txn *txn;
    MDB_dbi seen, old;
    MDB_cursor *cur;
    MDB_val k, v;
    char path[700];
    MDB_env *env = raw_open(f, "data", "seen", false, &txn, &seen);
    assert_int_equal(mdb_dbi_open(txn, "txindex", MDB_CREATE, &old), 0);
    assert_int_equal(mdb_cursor_open(txn, seen, &cur), 0);
    size_t n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        MDB_val id = {CC_HASH_BYTES, (uint8_t *)k.mv_data + 8};
        assert_int_equal(mdb_put(txn, old, &id, &v, 0), 0);
        if (keep_below && cc_get_u64(v.mv_data) >= keep_below) assert_int_equal(mdb_cursor_del(cur, 0), 0);
        n++;
    }
    mdb_cursor_close(cur);
    if (!keep_below) assert_int_equal(mdb_drop(txn, seen, 1), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    snprintf(path, sizeof path, "rm -rf %s/data/txids", f->dir);
    assert_int_equal(system(path), 0);
    return n;
}

/* A store made before "seen" (its txid index in the same environment, keyed
 * by txid) is upgraded by the first writable open: the duplicate rule holds
 * across the upgrade, and the chain verifies. */
static void test_old_store_is_upgraded(void **state)
{
    fixture *f = *state;
    cc_tx tx, again;
    cc_result r;
    cc_chain *c;
    cc_chain_options ro = {.readonly = true};
    cc_verify_report rep;
    char data[600];
    cc_errbuf eb = {""};
    build_with_duplicate(f, &tx);
    assert_int_equal(cc_tx_copy(&again, &tx), CC_OK);
    cc_chain_close(f->c);
    f->c = NULL; /* teardown must not close it again if an assertion fails */
    /* the registration and the note; the duplicate is not indexed */
    assert_int_equal(make_old_layout(f, 0), 2);

    snprintf(data, sizeof data, "%s/data", f->dir);
    assert_int_equal(cc_chain_open(data, (uint8_t *)f->genesis, strlen(f->genesis), &ro, &c, &eb),
                     CC_ERR_NOT_FOUND);
    assert_non_null(strstr(eb.msg, "earlier carechain"));

    reopen(f); /* upgrades */
    assert_false(f->c->s->has_old_txindex);
    produce(f, &again, 1, T0 + 40, &r);
    assert_int_equal(r.code, CC_ERR_DUPLICATE);
    assert_found(f->c, tx.txid, 2, CC_OK);
    assert_int_equal(verify(f, &rep), CC_OK);
    assert_int_equal(rep.blocks, 4);
    cc_tx_free(&tx);
    cc_tx_free(&again);
}

/* A long chain upgrades in several transactions (256 blocks each), and an
 * upgrade that stopped after some of them is finished by the next open. */
static void test_long_upgrade_resumes(void **state)
{
    fixture *f = *state;
    enum { BLOCKS = 300 };
    cc_tx first, last;
    cc_result r;
    cc_verify_report rep;
    for (int i = 1; i <= BLOCKS; i++) {
        cc_tx tx;
        note_tx(f, i, T0 + 10 * i - 5, &tx);
        produce(f, &tx, 1, T0 + 10 * i, &r);
        assert_int_equal(r.code, CC_OK);
        if (i == 1) assert_int_equal(cc_tx_copy(&first, &tx), CC_OK);
        if (i == BLOCKS) assert_int_equal(cc_tx_copy(&last, &tx), CC_OK);
        cc_tx_free(&tx);
    }
    cc_chain_close(f->c);
    f->c = NULL;
    assert_int_equal(make_old_layout(f, 100), BLOCKS);
    reopen(f);
    assert_false(f->c->s->has_old_txindex);
    produce(f, &first, 1, T0 + 10 * BLOCKS + 10, &r);
    assert_int_equal(r.code, CC_ERR_DUPLICATE);
    produce(f, &last, 1, T0 + 10 * BLOCKS + 20, &r);
    assert_int_equal(r.code, CC_ERR_DUPLICATE);
    assert_found(f->c, last.txid, BLOCKS, CC_OK);
    assert_int_equal(verify(f, &rep), CC_OK);
    cc_tx_free(&first);
    cc_tx_free(&last);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_genesis_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_timings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_build, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_and_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admit_view_matches_single_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_takes_effect_within_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_takes_effect_across_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_record_is_canonical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attachments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_tx_never_commits_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_time_must_increase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proofs, setup, teardown),
        cmocka_unit_test(test_format1_proof_still_verifies),
        cmocka_unit_test_setup_teardown(test_verify_chain_sound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_chain_catches_block_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_chain_catches_state_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_chain_catches_header_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_chain_replays_a_refused_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_fault_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_equivocation_halts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txid_lookups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_txid_index_is_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_chain_catches_txid_index_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_store_is_upgraded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_upgrade_resumes, setup, teardown),
    };
    return cmocka_run_group_tests_name("chain", tests, NULL, NULL);
}
