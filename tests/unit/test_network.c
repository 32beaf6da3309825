/*
 * test_network.c — network governance: a node joins or leaves only when
 * admins of a majority of organisations approved, each organisation once,
 * within 30 days, unless the proposing organisation withdrew the proposal;
 * checkpoints are signed by the nodes of the set at their height, and a
 * proof stays checkable from the genesis alone across changes of the set.
 * The same governance moves the network to a later ruleset from an agreed
 * height, and a build that does not know that ruleset stops there.
 */
#include "unit_support.h"

#include <lmdb.h>

#include "carechain/chain.h"
#include "exec/exec.h"
#include "support/ct_store.h"

#define T0     1764000100000ULL
#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

typedef struct fixture {
    char *dir, *genesis;
    cc_chain *c;
    cc_key node, hospital, payer;
    uint64_t t;
    char last_message[CC_RESULT_MSG_MAX + 1]; /* of the last tx send() committed */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = ut_tmpdir();
    f->genesis = ut_genesis(); /* organisations hospital and payer, one node */
    assert_int_equal(cc_chain_open(f->dir, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &f->c, NULL),
                     CC_OK);
    ut_key(1, &f->node);
    ut_key(2, &f->hospital);
    ut_key(3, &f->payer);
    f->t = T0;
    *state = f;
    return 0;
}

/* The same on a ruleset 1 chain: a genesis without "ruleset", as the
 * builds before rulesets wrote. */
static int setup_ruleset1(void **state)
{
    int rc = setup(state);
    fixture *f = *state;
    char *at = strstr(f->genesis, "\"ruleset\":2,");
    assert_non_null(at);
    memmove(at, at + strlen("\"ruleset\":2,"), strlen(at + strlen("\"ruleset\":2,")) + 1);
    cc_chain_close(f->c);
    ut_rmdir(f->dir);
    f->dir = ut_tmpdir();
    assert_int_equal(cc_chain_open(f->dir, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &f->c, NULL),
                     CC_OK);
    assert_int_equal(cc_chain_genesis(f->c)->ruleset, 1);
    return rc;
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

/* Send one tx in its own block; returns its result code and txid. */
static cc_err send(fixture *f, const cc_key *k, const char *type, const char *payload, uint8_t txid[32])
{
    cc_tx tx;
    cc_result r;
    cc_header h;
    f->t += 10;
    ut_tx(&tx, cc_chain_genesis(f->c)->chain_id, k, type, payload, f->t, f->t);
    if (txid) memcpy(txid, tx.txid, 32);
    assert_int_equal(cc_chain_produce(f->c, &tx, 1, f->t + 1, &f->node, &h, &r, NULL), CC_OK);
    snprintf(f->last_message, sizeof f->last_message, "%s", r.message);
    cc_tx_free(&tx);
    return (cc_err)r.code;
}

/* network.propose by `by` of adding the node with key node_pk to org,
 * named name, at the addresses api and raft (the proposal's txid into
 * prop, which may be NULL); the tx's result. */
static cc_err propose_add_at(fixture *f, const cc_key *by, const uint8_t node_pk[32], const char *org,
                             const char *name, const char *api, const char *raft, uint8_t prop[32])
{
    char hex[CC_HASH_HEX], payload[400];
    snprintf(payload, sizeof payload,
             "{\"action\":\"add\",\"node\":{\"name\":\"%s\",\"id\":\"%s\",\"org\":\"%s\","
             "\"api\":\"%s\",\"raft\":\"%s\"}}",
             name, cc_hex(node_pk, 32, hex), org, api, raft);
    return send(f, by, "network.propose", payload, prop);
}

/* The same, with a name and addresses of the key's own (no two test keys
 * share them, nor do they meet the genesis nodes' ports 7800-7902). */
static cc_err propose_add(fixture *f, const cc_key *by, const uint8_t node_pk[32], const char *org,
                          uint8_t prop[32])
{
    char name[32], api[32], raft[32];
    unsigned port = 20000 + ((unsigned)node_pk[0] << 8 | node_pk[1]) % 20000;
    snprintf(name, sizeof name, "added-%02x%02x%02x", node_pk[0], node_pk[1], node_pk[2]);
    snprintf(api, sizeof api, "127.0.0.1:%u", port);
    snprintf(raft, sizeof raft, "127.0.0.1:%u", port + 20000);
    return propose_add_at(f, by, node_pk, org, name, api, raft, prop);
}

/* network.propose by `by` of removing the node with key node_pk. */
static cc_err propose_remove(fixture *f, const cc_key *by, const uint8_t node_pk[32], uint8_t prop[32])
{
    char hex[CC_HASH_HEX], payload[200];
    snprintf(payload, sizeof payload, "{\"action\":\"remove\",\"id\":\"%s\"}", cc_hex(node_pk, 32, hex));
    return send(f, by, "network.propose", payload, prop);
}

/* A tx of type naming proposal prop ({"proposal": hex}), sent by `by`. */
static cc_err send_ref(fixture *f, const cc_key *by, const char *type, const uint8_t prop[32])
{
    char hex[CC_HASH_HEX], payload[100];
    snprintf(payload, sizeof payload, "{\"proposal\":\"%s\"}", cc_hex(prop, 32, hex));
    return send(f, by, type, payload, NULL);
}

/* network.approve of proposal prop by `by`. */
static cc_err approve(fixture *f, const cc_key *by, const uint8_t prop[32])
{
    return send_ref(f, by, "network.approve", prop);
}

static json_t *state_json(fixture *f, const char *key)
{
    char *v = NULL;
    size_t n;
    if (cc_chain_state_get(f->c, key, &v, &n) != CC_OK) return NULL;
    json_t *o = cc_json_parse((uint8_t *)v, n, NULL);
    free(v);
    return o;
}

static size_t node_count(fixture *f)
{
    json_t *cfg = state_json(f, "network/config");
    size_t n = json_array_size(json_object_get(cfg, "nodes"));
    json_decref(cfg);
    return n;
}

static void test_add_then_remove_by_majority(void **state)
{
    fixture *f = *state;
    cc_key newnode;
    char hex[CC_HASH_HEX], prop_hex[CC_HASH_HEX], key[100];
    uint8_t prop[32];
    ut_key(40, &newnode);
    cc_hex(newnode.pk, 32, hex);
    assert_int_equal(node_count(f), 3);

    assert_int_equal(propose_add(f, &f->hospital, newnode.pk, "payer", prop), CC_OK);
    assert_int_equal(node_count(f), 3); /* 1 of 2 organisations: not yet */
    json_t *id = NULL;
    assert_int_equal(cc_chain_identity_json(f->c, newnode.pk, &id), CC_ERR_NOT_FOUND);

    /* the same organisation approving again does not count */
    cc_hex(prop, 32, prop_hex);
    assert_int_equal(approve(f, &f->hospital, prop), CC_ERR_CONFLICT);
    assert_int_equal(approve(f, &f->payer, prop), CC_OK);
    assert_int_equal(node_count(f), 4);
    assert_int_equal(cc_chain_identity_json(f->c, newnode.pk, &id), CC_OK);
    assert_string_equal(json_string_value(json_object_get(id, "role")), "node");
    json_decref(id);
    snprintf(key, sizeof key, "netprop/%s", prop_hex);
    json_t *p = state_json(f, key);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "approved");
    json_decref(p);
    /* a closed proposal takes no more approvals */
    assert_int_equal(approve(f, &f->payer, prop), CC_ERR_CONFLICT);

    /* removal: proposed by the payer, approved by the hospital */
    assert_int_equal(propose_remove(f, &f->payer, newnode.pk, prop), CC_OK);
    assert_int_equal(node_count(f), 4);
    assert_int_equal(approve(f, &f->hospital, prop), CC_OK);
    assert_int_equal(node_count(f), 3);
    assert_int_equal(cc_chain_identity_json(f->c, newnode.pk, &id), CC_OK);
    assert_string_equal(json_string_value(json_object_get(id, "status")), "revoked");
    json_decref(id);
    snprintf(key, sizeof key, "node/%s", hex);
    json_t *rec = state_json(f, key);
    assert_string_equal(json_string_value(json_object_get(rec, "status")), "removed");
    json_decref(rec);
}

/* Build a 1-tx block signed by proposer and apply it; returns apply's code. */
static cc_err apply_from(fixture *f, const cc_key *proposer)
{
    cc_tx tx;
    cc_result r;
    cc_header h;
    char payload[160];
    f->t += 10;
    snprintf(payload, sizeof payload, "{\"kind\":\"k\",\"sha256\":\"%064llu\"}", (unsigned long long)f->t);
    ut_tx(&tx, cc_chain_genesis(f->c)->chain_id, &f->hospital, "note.put", payload, f->t, f->t);
    assert_int_equal(cc_chain_build(f->c, &tx, 1, f->t + 1, proposer, &h, &r, NULL), CC_OK);
    cc_block b = {h, &tx, 1};
    cc_err rc = cc_chain_apply(f->c, &b, NULL, &r, NULL);
    cc_tx_free(&tx);
    return rc;
}

/* Blocks are accepted from the nodes governance admitted, and no longer
 * from a node it removed. */
static void test_proposers_follow_membership(void **state)
{
    fixture *f = *state;
    cc_key newnode;
    uint8_t prop[32];
    ut_key(40, &newnode);
    assert_int_equal(apply_from(f, &newnode), CC_ERR_VERIFY); /* not a node yet */
    assert_int_equal(propose_add(f, &f->payer, newnode.pk, "payer", prop), CC_OK);
    assert_int_equal(approve(f, &f->hospital, prop), CC_OK);
    assert_int_equal(apply_from(f, &newnode), CC_OK);
    assert_int_equal(apply_from(f, &f->node), CC_OK);
    assert_int_equal(propose_remove(f, &f->hospital, newnode.pk, prop), CC_OK);
    assert_int_equal(approve(f, &f->payer, prop), CC_OK);
    assert_int_equal(apply_from(f, &newnode), CC_ERR_VERIFY);
}

static void test_refusals(void **state)
{
    fixture *f = *state;
    char hex[CC_HASH_HEX], payload[400];
    cc_key clin;
    const uint8_t no_proposal[32] = {[31] = 7};
    /* the last node cannot go */
    assert_int_equal(propose_remove(f, &f->hospital, f->node.pk, NULL), CC_ERR_CONFLICT);
    /* an existing identity's key cannot become a node */
    assert_int_equal(propose_add(f, &f->hospital, f->payer.pk, "payer", NULL), CC_ERR_CONFLICT);
    /* unknown organisation, unknown proposal, bad action, missing fields */
    ut_key(41, &clin);
    assert_int_equal(propose_add(f, &f->hospital, clin.pk, "nowhere", NULL), CC_ERR_NOT_FOUND);
    assert_int_equal(approve(f, &f->hospital, no_proposal), CC_ERR_NOT_FOUND);
    assert_int_equal(send(f, &f->hospital, "network.propose", "{\"action\":\"rename\"}", NULL),
                     CC_ERR_INVALID);
    assert_int_equal(send(f, &f->hospital, "network.propose", "{\"action\":\"add\"}", NULL), CC_ERR_INVALID);
    /* only admins govern */
    snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"role\":\"clinician\"}", cc_hex(clin.pk, 32, hex));
    assert_int_equal(send(f, &f->hospital, "member.register", payload, NULL), CC_OK);
    assert_int_equal(propose_remove(f, &clin, f->node.pk, NULL), CC_ERR_FORBIDDEN);
    assert_int_equal(node_count(f), 1);
    /* a network that began with one node runs solo: it cannot grow */
    cc_key fresh;
    ut_key(42, &fresh);
    assert_int_equal(propose_add(f, &f->hospital, fresh.pk, "payer", NULL), CC_ERR_CONFLICT);
    assert_non_null(strstr(f->last_message, "solo"));
    assert_int_equal(node_count(f), 1);
}

/* ---- rulesets ------------------------------------------------------------------- */

/* verify-chain over the fixture's store (closed for it, then opened
 * again); the test fails with its report unless the chain is sound. */
static void verify_and_reopen(fixture *f)
{
    char *scratch = ut_tmpdir();
    cc_verify_report vr;
    cc_errbuf eb = {""};
    cc_chain_close(f->c);
    f->c = NULL;
    if (cc_chain_verify(f->dir, (uint8_t *)f->genesis, strlen(f->genesis), scratch, &vr, &eb) != CC_OK)
        fail_msg("verify-chain: %s (%s)", eb.msg, vr.what);
    ut_rmdir(scratch);
    assert_int_equal(cc_chain_open(f->dir, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &f->c, NULL),
                     CC_OK);
}

/* network.propose of an upgrade to ruleset from height from, by `by`. */
static cc_err propose_upgrade(fixture *f, const cc_key *by, long long ruleset, long long from,
                              uint8_t prop[32])
{
    char payload[160];
    snprintf(payload, sizeof payload, "{\"action\":\"upgrade\",\"ruleset\":%lld,\"from\":%lld}", ruleset,
             from);
    return send(f, by, "network.propose", payload, prop);
}

static void test_upgrade_to_an_unknown_ruleset(void **state)
{
    fixture *f = *state;
    cc_head head;
    uint8_t prop[32], typo[32], cancel[32], late[32];
    cc_chain_head(f->c, &head);
    long long h = (long long)head.height;
    /* refused: not later than the genesis's ruleset 2 (none waits to be
     * called off), a height not ahead, malformed payloads */
    assert_int_equal(propose_upgrade(f, &f->hospital, 2, h + 10, NULL), CC_ERR_CONFLICT);
    assert_non_null(strstr(f->last_message, "runs ruleset 2"));
    assert_int_equal(propose_upgrade(f, &f->hospital, 0, h + 10, NULL), CC_ERR_INVALID);
    assert_int_equal(propose_upgrade(f, &f->hospital, 3, h + 3, NULL),
                     CC_ERR_CONFLICT); /* this block is h + 3 */
    assert_non_null(strstr(f->last_message, "not ahead"));
    assert_int_equal(send(f, &f->hospital, "network.propose",
                          "{\"action\":\"upgrade\",\"ruleset\":3,\"from\":\"soon\"}", NULL),
                     CC_ERR_INVALID);
    assert_int_equal(send(f, &f->hospital, "network.propose",
                          "{\"action\":\"upgrade\",\"ruleset\":3,\"from\":99,\"id\":\"x\"}", NULL),
                     CC_ERR_INVALID);
    assert_null(state_json(f, "network/ruleset"));

    /* a mistaken upgrade is undone: the network's own ruleset, approved,
     * replaces it while it waits for its height */
    cc_chain_head(f->c, &head);
    h = (long long)head.height;
    assert_int_equal(propose_upgrade(f, &f->hospital, 9, h + 40, typo), CC_OK); /* block h + 1 */
    assert_int_equal(approve(f, &f->payer, typo), CC_OK);                       /* h + 2 (2 of 2) */
    json_t *rec = state_json(f, "network/ruleset");
    assert_int_equal(cc_ruleset_at(rec, cc_chain_genesis(f->c), (uint64_t)h + 40), 9);
    json_decref(rec);
    assert_int_equal(propose_upgrade(f, &f->hospital, 2, h + 30, cancel), CC_OK); /* h + 3 */
    assert_int_equal(approve(f, &f->payer, cancel), CC_OK);                       /* h + 4 */
    rec = state_json(f, "network/ruleset");
    assert_int_equal(cc_ruleset_at(rec, cc_chain_genesis(f->c), (uint64_t)h + 40), 2);
    json_decref(rec);
    assert_int_equal(propose_upgrade(f, &f->hospital, 2, h + 30, NULL), CC_ERR_CONFLICT); /* none waits now */

    /* an approval once the height came is refused */
    assert_int_equal(propose_upgrade(f, &f->hospital, 3, h + 8, late), CC_OK); /* h + 6 */
    assert_int_equal(send(f, &f->hospital, "note.put", "{\"kind\":\"doc\",\"sha256\":\"" HASH_B "\"}", NULL),
                     CC_OK);                                        /* h + 7 */
    assert_int_equal(approve(f, &f->payer, late), CC_ERR_CONFLICT); /* h + 8 */
    assert_non_null(strstr(f->last_message, "passed before more than half"));

    /* the upgrade that takes effect: ruleset 3 from h + 12 */
    assert_int_equal(propose_upgrade(f, &f->hospital, 3, h + 12, prop), CC_OK); /* h + 9 */
    assert_int_equal(approve(f, &f->payer, prop), CC_OK);                       /* h + 10 */
    rec = state_json(f, "network/ruleset");
    assert_int_equal(json_integer_value(json_object_get(rec, "ruleset")), 3);
    assert_int_equal(json_integer_value(json_object_get(rec, "before")), 2);
    assert_int_equal(cc_ruleset_at(rec, cc_chain_genesis(f->c), (uint64_t)h + 11), 2);
    assert_int_equal(cc_ruleset_at(rec, cc_chain_genesis(f->c), (uint64_t)h + 12), 3);
    json_decref(rec);
    assert_int_equal(send(f, &f->hospital, "note.put", "{\"kind\":\"doc\",\"sha256\":\"" HASH_A "\"}", NULL),
                     CC_OK); /* h + 11 */

    /* block h + 12 is of ruleset 3, which this build does not know: it is
     * not made, and the chain stays whole at h + 11 */
    cc_tx tx;
    cc_result r;
    cc_header hd;
    cc_errbuf eb = {""};
    f->t += 10;
    ut_tx(&tx, cc_chain_genesis(f->c)->chain_id, &f->hospital, "note.put",
          "{\"kind\":\"doc\",\"sha256\":\"" HASH_A "\"}", f->t, f->t);
    assert_int_equal(cc_chain_produce(f->c, &tx, 1, f->t + 1, &f->node, &hd, &r, &eb), CC_ERR_VERSION);
    assert_non_null(strstr(eb.msg, "ruleset 3"));
    assert_non_null(strstr(eb.msg, "install a newer build"));
    cc_tx_free(&tx);
    cc_chain_head(f->c, &head);
    assert_int_equal(head.height, (uint64_t)h + 11);
    verify_and_reopen(f);
}

/* A chain of the builds before rulesets (ruleset 1) keeps their rules,
 * result messages included (the results root commits to them), until
 * governance moves it to ruleset 2 from an agreed height; verify-chain
 * replays each block under its own ruleset. network.propose is the type
 * whose checks ruleset 2 changed: it names a mistyped action as such. */
static void test_ruleset_1_then_2(void **state)
{
    fixture *f = *state;
    cc_head head;
    uint8_t prop[32];
    static const char typo[] = "{\"action\":\"Upgrade\",\"ruleset\":2,\"from\":99}";
    static const char rename[] = "{\"action\":\"rename\"}";
    /* ruleset 1, as the builds before rulesets: the fields first, and "add" or "remove" */
    assert_int_equal(send(f, &f->hospital, "network.propose", typo, NULL), CC_ERR_INVALID);
    assert_string_equal(f->last_message, "unknown payload field \"from\""); /* the first in canonical order */
    assert_int_equal(send(f, &f->hospital, "network.propose", rename, NULL), CC_ERR_INVALID);
    assert_string_equal(f->last_message, "\"action\" must be \"add\" or \"remove\"");
    /* the upgrade, from two blocks after the payer's approval */
    cc_chain_head(f->c, &head);
    assert_int_equal(propose_upgrade(f, &f->hospital, 2, (long long)head.height + 4, prop), CC_OK);
    assert_int_equal(approve(f, &f->payer, prop), CC_OK);
    assert_int_equal(send(f, &f->hospital, "network.propose", rename, NULL), CC_ERR_INVALID); /* still 1 */
    assert_string_equal(f->last_message, "\"action\" must be \"add\" or \"remove\"");
    /* ruleset 2 */
    assert_int_equal(send(f, &f->hospital, "network.propose", rename, NULL), CC_ERR_INVALID);
    assert_string_equal(f->last_message, "\"action\" must be \"add\", \"remove\" or \"upgrade\"");
    assert_int_equal(send(f, &f->hospital, "network.propose", typo, NULL), CC_ERR_INVALID);
    assert_string_equal(f->last_message, "\"action\" must be \"add\", \"remove\" or \"upgrade\"");
    verify_and_reopen(f); /* each block replayed under its own ruleset */
}

/* verify-chain over a chain that moved to a ruleset this build does not
 * know and went on, its block at the agreed height made by a newer build:
 * the blocks before it are sound, the rest is left for a build that knows
 * the ruleset, and nothing is called tampered. This build cannot make
 * that block, so the test writes one as a newer build would
 * (ct_block_beyond: its roots are zero, and verify-chain stops at its
 * ruleset before it compares them). */
static void test_verify_stops_at_an_unknown_ruleset(void **state)
{
    fixture *f = *state;
    cc_head head;
    uint8_t prop[32];
    cc_chain_head(f->c, &head);
    uint64_t from = head.height + 4;
    assert_int_equal(propose_upgrade(f, &f->hospital, 3, (long long)from, prop), CC_OK);
    assert_int_equal(approve(f, &f->payer, prop), CC_OK);
    assert_int_equal(send(f, &f->hospital, "note.put", "{\"kind\":\"doc\",\"sha256\":\"" HASH_B "\"}", NULL),
                     CC_OK);
    cc_chain_head(f->c, &head);
    assert_int_equal(head.height, from - 1);
    uint64_t txs = head.tx_total;

    cc_tx tx;
    uint8_t *raw = NULL;
    size_t len = 0;
    f->t += 10;
    ut_tx(&tx, cc_chain_genesis(f->c)->chain_id, &f->hospital, "note.put",
          "{\"kind\":\"doc\",\"sha256\":\"" HASH_A "\"}", f->t, f->t);
    assert_int_equal(ct_block_beyond(f->c, &tx, 1, f->t + 1, &f->node, &raw, &len), 0);
    cc_tx_free(&tx);
    cc_chain_close(f->c);
    f->c = NULL;
    assert_int_equal(ct_store_put_head_block(f->dir, raw, len), 0);
    free(raw);

    char *scratch = ut_tmpdir();
    cc_verify_report vr;
    cc_errbuf eb = {""};
    cc_err rc = cc_chain_verify(f->dir, (uint8_t *)f->genesis, strlen(f->genesis), scratch, &vr, &eb);
    ut_rmdir(scratch);
    if (rc != CC_ERR_VERSION) fail_msg("verify-chain: %s: %s", cc_err_name(rc), eb.msg);
    assert_int_equal(vr.bad_height, 0);
    assert_int_equal(vr.unchecked_from, from);
    assert_int_equal(vr.blocks, from - 1);
    assert_int_equal(vr.txs, txs);
    if (!strstr(vr.what, "ruleset 3") || !strstr(vr.what, "install a newer build"))
        fail_msg("what: %s", vr.what);
    char *want = NULL;
    assert_true(asprintf(&want, "blocks 1 to %llu are sound", (unsigned long long)from - 1) > 0);
    if (!strstr(eb.msg, want)) fail_msg("eb: %s", eb.msg);
    free(want);
}

/* A genesis names a ruleset of 1..CC_RULESET_MAX, or none (1); one this
 * build does not know parses (proofs verify offline), and a chain of it
 * makes no block here. */
static void test_genesis_ruleset(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        cc_err want;
        uint32_t ruleset;
    } v[] = {
        {"", CC_OK, 1},
        {"\"ruleset\":1,", CC_OK, 1},
        {"\"ruleset\":2,", CC_OK, 2},
        {"\"ruleset\":3,", CC_OK, 3}, /* unknown to this build: its node stops before block 1 */
        {"\"ruleset\":0,", CC_ERR_MALFORMED, 0},
        {"\"ruleset\":\"2\",", CC_ERR_MALFORMED, 0},
    };
    char *base = ut_genesis(), *at = strstr(base, "\"ruleset\":2,");
    assert_non_null(at);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *text = NULL;
        cc_genesis g;
        cc_errbuf eb = {""};
        assert_true(asprintf(&text, "%.*s%s%s", (int)(at - base), base, v[i].field,
                             at + strlen("\"ruleset\":2,")) > 0);
        cc_err rc = cc_genesis_parse((uint8_t *)text, strlen(text), &g, &eb);
        if (rc != v[i].want) fail_msg("%s: %s (%s)", v[i].field, cc_err_name(rc), eb.msg);
        if (rc == CC_OK) assert_int_equal(g.ruleset, v[i].ruleset);
        cc_genesis_free(&g);
        if (rc == CC_OK && v[i].ruleset > CC_RULESET_CURRENT) { /* no block 1 here */
            char *dir = ut_tmpdir();
            cc_chain *c = NULL;
            cc_key node, admin;
            cc_tx tx;
            cc_result r;
            cc_header h;
            ut_key(1, &node);
            ut_key(2, &admin);
            assert_int_equal(cc_chain_open(dir, (uint8_t *)text, strlen(text), NULL, &c, NULL), CC_OK);
            ut_tx(&tx, cc_chain_genesis(c)->chain_id, &admin, "note.put",
                  "{\"kind\":\"doc\",\"sha256\":\"" HASH_A "\"}", T0, T0);
            assert_int_equal(cc_chain_produce(c, &tx, 1, T0 + 1, &node, &h, &r, &eb), CC_ERR_VERSION);
            assert_non_null(strstr(eb.msg, "from block 1 on, the network executes ruleset 3"));
            cc_tx_free(&tx);
            cc_chain_close(c);
            ut_rmdir(dir);
        }
        free(text);
    }
    free(base);
}

/* ---- a three-node genesis: changes of the set, and proofs across them ------------ */

static int setup3(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    cc_key b, c;
    char n1[CC_HASH_HEX], n2[CC_HASH_HEX], n3[CC_HASH_HEX], a[CC_HASH_HEX], p[CC_HASH_HEX];
    ut_key(1, &f->node);
    ut_key(2, &f->hospital);
    ut_key(3, &f->payer);
    ut_key(50, &b);
    ut_key(51, &c);
    assert_true(
        asprintf(
            &f->genesis,
            "{\"carechain_genesis\":1,\"chain_name\":\"unit3\",\"time_ms\":1764000000000,"
            "\"organisations\":[{\"id\":\"hospital\",\"name\":\"St Example\",\"kind\":\"hospital\"},"
            "{\"id\":\"payer\",\"name\":\"Example Plan\",\"kind\":\"payer\"}],"
            "\"nodes\":[{\"name\":\"node1\",\"id\":\"%s\",\"org\":\"hospital\",\"api\":\"127.0.0.1:7800\","
            "\"raft\":\"127.0.0.1:7900\"},"
            "{\"name\":\"node2\",\"id\":\"%s\",\"org\":\"payer\",\"api\":\"127.0.0.1:7801\","
            "\"raft\":\"127.0.0.1:7901\"},"
            "{\"name\":\"node3\",\"id\":\"%s\",\"org\":\"hospital\",\"api\":\"127.0.0.1:7802\","
            "\"raft\":\"127.0.0.1:7902\"}],"
            "\"identities\":[{\"id\":\"%s\",\"role\":\"admin\",\"org\":\"hospital\",\"name\":\"Admin\"},"
            "{\"id\":\"%s\",\"role\":\"admin\",\"org\":\"payer\",\"name\":\"Payer admin\"}]}",
            cc_hex(f->node.pk, 32, n1), cc_hex(b.pk, 32, n2), cc_hex(c.pk, 32, n3),
            cc_hex(f->hospital.pk, 32, a), cc_hex(f->payer.pk, 32, p)) > 0);
    f->dir = ut_tmpdir();
    assert_int_equal(cc_chain_open(f->dir, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &f->c, NULL),
                     CC_OK);
    f->t = T0;
    *state = f;
    return 0;
}

/* Propose removing the node of key seed i, as the hospital's admin. */
static cc_err remove_seed(fixture *f, int i, uint8_t prop[32])
{
    cc_key k;
    ut_key(i, &k);
    return propose_remove(f, &f->hospital, k.pk, prop);
}

/* A node to add may not share its name, API address or raft address with
 * a node of the set: refused when proposed, and again when an approval
 * would enact it after another proposal took the name. */
static void test_add_refuses_a_clash(void **state)
{
    fixture *f = *state;
    cc_key k, other;
    uint8_t first[32], second[32];
    ut_key(60, &k);
    ut_key(61, &other);
    static const char *const clash[][4] = {
        {"node2", "127.0.0.1:9001", "127.0.0.1:9002", "the name node2"},
        {"node4", "127.0.0.1:7801", "127.0.0.1:9002", "the API address 127.0.0.1:7801"},
        {"node4", "127.0.0.1:9001", "127.0.0.1:7902", "node node3 of this network already has the raft"},
    };
    for (size_t i = 0; i < sizeof clash / sizeof clash[0]; i++) {
        assert_int_equal(
            propose_add_at(f, &f->hospital, k.pk, "payer", clash[i][0], clash[i][1], clash[i][2], NULL),
            CC_ERR_CONFLICT);
        if (!strstr(f->last_message, clash[i][3])) fail_msg("%s: %s", clash[i][3], f->last_message);
    }
    /* two proposals of one name, both open: the second is refused when approved */
    assert_int_equal(
        propose_add_at(f, &f->hospital, k.pk, "payer", "node4", "127.0.0.1:9001", "127.0.0.1:9002", first),
        CC_OK);
    assert_int_equal(propose_add_at(f, &f->hospital, other.pk, "payer", "node4", "127.0.0.1:9011",
                                    "127.0.0.1:9012", second),
                     CC_OK);
    assert_int_equal(approve(f, &f->payer, first), CC_OK);
    assert_int_equal(node_count(f), 4);
    assert_int_equal(approve(f, &f->payer, second), CC_ERR_CONFLICT);
    assert_non_null(strstr(f->last_message, "the name node4"));
    assert_int_equal(node_count(f), 4);
}

/* A change must leave a majority of the set before it in the set after it
 * (so that a checkpoint after it can be traced back, see the proof test
 * below): a removal needs three nodes or more, proposed or approved, and
 * one change takes effect per block. */
static void test_changes_keep_a_majority(void **state)
{
    fixture *f = *state;
    uint8_t first[32], second[32], third[32];
    char hex[CC_HASH_HEX], key[100];
    /* both proposals are fine on their own; the first to take effect wins */
    assert_int_equal(remove_seed(f, 50, first), CC_OK);
    assert_int_equal(remove_seed(f, 51, second), CC_OK);
    assert_int_equal(node_count(f), 3);
    assert_int_equal(approve(f, &f->payer, first), CC_OK);
    assert_int_equal(node_count(f), 2);
    assert_int_equal(approve(f, &f->payer, second), CC_ERR_CONFLICT);
    assert_int_equal(node_count(f), 2);
    snprintf(key, sizeof key, "netprop/%s", cc_hex(second, 32, hex));
    json_t *p = state_json(f, key);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "open"); /* nothing changed */
    assert_int_equal(json_array_size(json_object_get(p, "approvals")), 1);
    json_decref(p);
    /* and a new proposal to remove either of the two is refused at once */
    assert_int_equal(remove_seed(f, 51, NULL), CC_ERR_CONFLICT);
    assert_int_equal(remove_seed(f, 1, NULL), CC_ERR_CONFLICT);

    /* with a third node added, a genesis node can go: the two that stay are
     * a majority of the three before */
    cc_key added, more;
    ut_key(52, &added);
    assert_int_equal(propose_add(f, &f->hospital, added.pk, "payer", first), CC_OK);
    assert_int_equal(approve(f, &f->payer, first), CC_OK);
    assert_int_equal(node_count(f), 3);
    assert_int_equal(approve(f, &f->payer, second), CC_OK);
    assert_int_equal(node_count(f), 2);

    /* two approvals in one block that would each change the set: the first
     * takes effect, the second is refused and can be sent again */
    ut_key(53, &added);
    ut_key(54, &more);
    assert_int_equal(propose_add(f, &f->hospital, added.pk, "payer", first), CC_OK);
    assert_int_equal(propose_add(f, &f->hospital, more.pk, "payer", third), CC_OK);
    cc_tx txs[2];
    cc_result r[2];
    cc_header h;
    char payload[100];
    f->t += 10;
    snprintf(payload, sizeof payload, "{\"proposal\":\"%s\"}", cc_hex(first, 32, hex));
    ut_tx(&txs[0], cc_chain_genesis(f->c)->chain_id, &f->payer, "network.approve", payload, f->t, f->t);
    snprintf(payload, sizeof payload, "{\"proposal\":\"%s\"}", cc_hex(third, 32, hex));
    ut_tx(&txs[1], cc_chain_genesis(f->c)->chain_id, &f->payer, "network.approve", payload, f->t, f->t + 1);
    assert_int_equal(cc_chain_produce(f->c, txs, 2, f->t + 1, &f->node, &h, r, NULL), CC_OK);
    assert_int_equal(r[0].code, CC_OK);
    assert_int_equal(r[1].code, CC_ERR_CONFLICT);
    assert_non_null(strstr(r[1].message, "one change per block"));
    cc_tx_free(&txs[0]);
    cc_tx_free(&txs[1]);
    assert_int_equal(node_count(f), 3);
    assert_int_equal(approve(f, &f->payer, third), CC_OK);
    assert_int_equal(node_count(f), 4);
}

/* Every consensus node at each height signs its checkpoint, as the nodes
 * of a network would; seeds names the keys this test holds. */
static void sign_all(fixture *f, const int *seeds, size_t n)
{
    cc_head head;
    cc_chain_head(f->c, &head);
    for (uint64_t h = 1; h <= head.height; h++) {
        cc_members m;
        cc_header hdr;
        assert_int_equal(cc_chain_members(f->c, h, &m), CC_OK);
        assert_int_equal(cc_chain_header_get(f->c, h, &hdr), CC_OK);
        for (size_t i = 0; i < n; i++) {
            cc_key k;
            cc_checkpoint_sig s;
            cc_err outcome;
            ut_key(seeds[i], &k);
            if (cc_members_index(&m, k.pk) < 0) continue;
            cc_checkpoint_sign(&hdr, m.hash, &k, &s);
            assert_int_equal(cc_chain_checkpoint_add_many(f->c, &h, &s, 1, &outcome, NULL), CC_OK);
            assert_int_equal(outcome, CC_OK);
        }
    }
}

static cc_err verify_proof(fixture *f, const json_t *proof, cc_proof_report *rep, cc_errbuf *eb)
{
    return cc_proof_verify(proof, (uint8_t *)f->genesis, strlen(f->genesis), rep, eb);
}

/* The genesis nodes {1, 50, 51} give way to {1, 52}: no majority of the
 * genesis nodes signs checkpoints any more, and a verifier who knows only
 * the genesis still checks a proof, through the membership steps. */
static void test_proofs_follow_membership_changes(void **state)
{
    fixture *f = *state;
    static const int seeds[] = {1, 50, 51, 52, 99};
    uint8_t prop[32], early[32], late[32];
    cc_key added, stranger;
    cc_errbuf eb = {""};
    cc_proof_report rep;
    json_t *proof = NULL;
    ut_key(52, &added);
    ut_key(99, &stranger);

    assert_int_equal(send(f, &f->hospital, "note.put", "{\"kind\":\"k\",\"sha256\":\"" HASH_A "\"}", early),
                     CC_OK);
    assert_int_equal(propose_add(f, &f->hospital, added.pk, "payer", prop), CC_OK);
    assert_int_equal(approve(f, &f->payer, prop), CC_OK);
    assert_int_equal(remove_seed(f, 50, prop), CC_OK);
    assert_int_equal(approve(f, &f->payer, prop), CC_OK);
    assert_int_equal(remove_seed(f, 51, prop), CC_OK);
    assert_int_equal(approve(f, &f->payer, prop), CC_OK);
    assert_int_equal(node_count(f), 2);
    assert_int_equal(send(f, &f->hospital, "note.put", "{\"kind\":\"k\",\"sha256\":\"" HASH_B "\"}", late),
                     CC_OK);
    sign_all(f, seeds, sizeof seeds / sizeof seeds[0]);

    /* a stranger's signature is refused, and one by a node removed before */
    cc_head head;
    cc_header hdr;
    cc_members m;
    cc_checkpoint_sig s;
    cc_err outcome;
    cc_key gone;
    ut_key(50, &gone);
    cc_chain_head(f->c, &head);
    assert_int_equal(cc_chain_header_get(f->c, head.height, &hdr), CC_OK);
    assert_int_equal(cc_chain_members(f->c, head.height, &m), CC_OK);
    assert_int_equal(m.count, 2);
    cc_checkpoint_sign(&hdr, m.hash, &gone, &s);
    assert_int_equal(cc_chain_checkpoint_add_many(f->c, &head.height, &s, 1, &outcome, NULL), CC_OK);
    assert_int_equal(outcome, CC_ERR_FORBIDDEN);

    json_t *cp = NULL;
    assert_int_equal(cc_chain_checkpoint_json(f->c, &cp), CC_OK);
    assert_int_equal(json_integer_value(json_object_get(cp, "height")), (json_int_t)head.height);
    assert_int_equal(json_integer_value(json_object_get(cp, "nodes")), 2);
    assert_int_equal(json_integer_value(json_object_get(cp, "required")), 2);
    json_decref(cp);

    for (int which = 0; which < 2; which++) {
        assert_int_equal(cc_chain_proof(f->c, which ? late : early, &proof, &eb), CC_OK);
        if (verify_proof(f, proof, &rep, &eb) != CC_OK) fail_msg("the proof does not verify: %s", eb.msg);
        assert_int_equal(rep.checkpoint_height, head.height);
        /* the steps stop at the first set a majority of which signed it: here
         * {1, 51, 52}, of which 1 and 52 still sign */
        assert_int_equal(rep.signatures, 2);
        assert_true(rep.signatures * 2 > rep.trusted);
        assert_true(rep.steps >= 1);
        size_t steps = json_array_size(json_object_get(proof, "membership"));
        assert_int_equal(rep.steps, steps);

        /* without the steps the genesis nodes did not sign the checkpoint */
        json_t *bad = json_deep_copy(proof);
        json_object_set_new(bad, "membership", json_array());
        assert_int_equal(verify_proof(f, bad, &rep, &eb), CC_ERR_VERIFY);
        assert_non_null(strstr(eb.msg, "majority"));
        json_decref(bad);

        /* a step naming other nodes than the ones the trusted majority signed */
        bad = json_deep_copy(proof);
        json_t *step = json_array_get(json_object_get(bad, "membership"), 0);
        char sk[CC_HASH_HEX];
        json_object_set_new(step, "members", json_pack("[s]", cc_hex(stranger.pk, 32, sk)));
        assert_int_equal(verify_proof(f, bad, &rep, &eb), CC_ERR_VERIFY);
        json_decref(bad);

        /* a step of the prover's own: a stranger's set, signed by the stranger */
        bad = json_deep_copy(proof);
        json_t *fake = json_deep_copy(json_array_get(json_object_get(bad, "membership"), 0));
        cc_header fh;
        uint8_t raw[CC_HEADER_BYTES];
        assert_int_equal(cc_unhex(json_string_value(json_object_get(fake, "header")), raw, sizeof raw),
                         CC_OK);
        assert_int_equal(cc_header_decode(raw, sizeof raw, &fh, NULL), CC_OK);
        cc_members alone;
        assert_int_equal(cc_members_set(&alone, (const uint8_t(*)[32])stranger.pk, 1), CC_OK);
        cc_checkpoint_sign(&fh, alone.hash, &stranger, &s);
        char sig_hex[2 * CC_SIG_BYTES + 1];
        json_object_set_new(fake, "members", json_pack("[s]", sk));
        json_object_set_new(
            fake, "signatures",
            json_pack("[{s:s, s:s}]", "node", sk, "sig", cc_hex(s.sig, CC_SIG_BYTES, sig_hex)));
        json_array_insert_new(json_object_get(bad, "membership"), 0, fake);
        assert_int_equal(verify_proof(f, bad, &rep, &eb), CC_ERR_VERIFY);
        json_decref(bad);

        /* steps out of order */
        if (steps >= 2) {
            bad = json_deep_copy(proof);
            json_t *list = json_object_get(bad, "membership");
            json_t *last = json_incref(json_array_get(list, steps - 1));
            json_array_remove(list, steps - 1);
            json_array_insert_new(list, 0, last);
            assert_int_equal(verify_proof(f, bad, &rep, &eb), CC_ERR_VERIFY);
            json_decref(bad);
        }
        /* the checkpoint's member list is signed */
        bad = json_deep_copy(proof);
        json_object_set_new(json_object_get(bad, "checkpoint"), "members", json_pack("[s]", sk));
        assert_int_equal(verify_proof(f, bad, &rep, &eb), CC_ERR_VERIFY);
        json_decref(bad);
        json_decref(proof);
    }

    /* verify-chain replays the sets and checks every signature against them */
    char *scratch = ut_tmpdir();
    cc_verify_report vr;
    cc_chain_close(f->c);
    f->c = NULL;
    if (cc_chain_verify(f->dir, (uint8_t *)f->genesis, strlen(f->genesis), scratch, &vr, &eb) != CC_OK)
        fail_msg("verify-chain: %s", eb.msg);
    ut_rmdir(scratch);

    /* and finds a recorded set that is not the one the blocks made */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "members", 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[0] ^= 0x01;
    MDB_val nv = {v.mv_size, copy};
    assert_int_equal(mdb_cursor_put(cur, &k, &nv, MDB_CURRENT), 0);
    mdb_cursor_close(cur);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(copy);
    scratch = ut_tmpdir();
    assert_int_equal(cc_chain_verify(f->dir, (uint8_t *)f->genesis, strlen(f->genesis), scratch, &vr, &eb),
                     CC_ERR_VERIFY);
    assert_non_null(strstr(eb.msg, "node sets"));
    ut_rmdir(scratch);
    assert_int_equal(cc_chain_open(f->dir, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &f->c, NULL),
                     CC_OK);
}

/* A proposal takes approvals for 30 days of block time; the proposing
 * organisation can withdraw it; and an approval that would make a change
 * another proposal already made is refused, so a stale proposal cannot
 * bring a removed node's key back. */
static void test_proposals_expire_withdraw_and_go_stale(void **state)
{
    fixture *f = *state;
    uint8_t a[32], b[32], c[32], d[32], e[32], x[32];
    char key[96], hex[CC_HASH_HEX];
    cc_key added, third;
    ut_key(52, &added);
    ut_key(51, &third);

    /* expiry: the payer approves 31 days later, refused; nothing changes */
    assert_int_equal(propose_add(f, &f->hospital, added.pk, "payer", x), CC_OK);
    snprintf(key, sizeof key, "netprop/%s", cc_hex(x, 32, hex));
    json_t *prop = state_json(f, key);
    assert_int_equal(json_integer_value(json_object_get(prop, "expires_ms")),
                     (json_int_t)(f->t + 1 + 30ULL * 24 * 3600 * 1000));
    json_decref(prop);
    f->t += 31ULL * 24 * 3600 * 1000;
    assert_int_equal(approve(f, &f->payer, x), CC_ERR_CONFLICT);
    assert_non_null(strstr(f->last_message, "expired at 2025-12-"));
    prop = state_json(f, key);
    assert_string_equal(json_string_value(json_object_get(prop, "status")), "open");
    assert_int_equal(json_array_size(json_object_get(prop, "approvals")), 1);
    json_decref(prop);
    assert_int_equal(node_count(f), 3);
    /* an expired proposal cannot be withdrawn either: it is over */
    assert_int_equal(send_ref(f, &f->hospital, "network.withdraw", x), CC_ERR_CONFLICT);

    /* withdrawal: only by the proposing organisation; then no approval */
    assert_int_equal(remove_seed(f, 50, e), CC_OK);
    assert_int_equal(send_ref(f, &f->payer, "network.withdraw", e), CC_ERR_FORBIDDEN);
    assert_int_equal(send_ref(f, &f->hospital, "network.withdraw", e), CC_OK);
    snprintf(key, sizeof key, "netprop/%s", cc_hex(e, 32, hex));
    prop = state_json(f, key);
    assert_string_equal(json_string_value(json_object_get(prop, "status")), "withdrawn");
    json_decref(prop);
    assert_int_equal(approve(f, &f->payer, e), CC_ERR_CONFLICT);
    assert_int_equal(node_count(f), 3);

    /* two proposals of one addition, two of one removal */
    assert_int_equal(propose_add(f, &f->hospital, added.pk, "payer", a), CC_OK);
    assert_int_equal(propose_add(f, &f->hospital, added.pk, "payer", b), CC_OK);
    assert_int_equal(approve(f, &f->payer, a), CC_OK);
    assert_int_equal(node_count(f), 4);
    assert_int_equal(propose_remove(f, &f->hospital, third.pk, c), CC_OK);
    assert_int_equal(propose_remove(f, &f->hospital, third.pk, d), CC_OK);
    assert_int_equal(approve(f, &f->payer, c), CC_OK);
    assert_int_equal(node_count(f), 3);
    assert_int_equal(approve(f, &f->payer, d), CC_ERR_CONFLICT); /* 51 is gone already */
    assert_int_equal(node_count(f), 3);
    /* node 52 removed, then the stale second addition: refused, its
     * identity stays revoked */
    assert_int_equal(propose_remove(f, &f->hospital, added.pk, c), CC_OK);
    assert_int_equal(approve(f, &f->payer, c), CC_OK);
    assert_int_equal(node_count(f), 2);
    assert_int_equal(approve(f, &f->payer, b), CC_ERR_CONFLICT);
    assert_int_equal(node_count(f), 2);
    snprintf(key, sizeof key, "id/%s", cc_hex(added.pk, 32, hex));
    json_t *ident = state_json(f, key);
    assert_string_equal(json_string_value(json_object_get(ident, "status")), "revoked");
    json_decref(ident);
}

/* A node that missed the block removing it takes a peer's proof as its
 * removal only when the proof's checkpoint is past what the node applied
 * and leaves the node out: a genuine proof from before the node was added
 * names no removal. */
static void test_removal_is_proven_by_a_later_checkpoint(void **state)
{
    fixture *f = *state;
    static const int seeds[] = {1, 50, 51, 52};
    uint8_t prop[32], early[32], late[32];
    cc_key added, gone, stays;
    cc_genesis g;
    cc_errbuf eb = {""};
    cc_proof_report rep;
    json_t *before_added = NULL, *after = NULL;
    ut_key(52, &added);
    ut_key(50, &gone);
    ut_key(1, &stays);
    assert_int_equal(cc_genesis_parse((uint8_t *)f->genesis, strlen(f->genesis), &g, NULL), CC_OK);

    assert_int_equal(send(f, &f->hospital, "note.put", "{\"kind\":\"k\",\"sha256\":\"" HASH_A "\"}", early),
                     CC_OK);
    sign_all(f, seeds, sizeof seeds / sizeof seeds[0]);
    assert_int_equal(cc_chain_proof(f->c, early, &before_added, &eb), CC_OK);
    assert_int_equal(propose_add(f, &f->hospital, added.pk, "payer", prop), CC_OK);
    assert_int_equal(approve(f, &f->payer, prop), CC_OK);
    cc_head joined;
    cc_chain_head(f->c, &joined); /* node 52 applied this far: it is a node here */
    assert_int_equal(remove_seed(f, 50, prop), CC_OK);
    assert_int_equal(approve(f, &f->payer, prop), CC_OK);
    assert_int_equal(send(f, &f->hospital, "note.put", "{\"kind\":\"k\",\"sha256\":\"" HASH_B "\"}", late),
                     CC_OK);
    sign_all(f, seeds, sizeof seeds / sizeof seeds[0]);
    assert_int_equal(cc_chain_proof(f->c, late, &after, &eb), CC_OK);

    /* node 50, away since node 52 joined, is shown removed */
    if (cc_proof_shows_removal(after, &g, gone.pk, joined.height + 1, &rep, &eb) != CC_OK)
        fail_msg("the removal is not shown: %s", eb.msg);
    assert_true(rep.checkpoint_height > joined.height);
    /* node 1 is still a node there */
    assert_int_equal(cc_proof_shows_removal(after, &g, stays.pk, joined.height + 1, &rep, &eb),
                     CC_ERR_VERIFY);
    assert_non_null(strstr(eb.msg, "names this key"));
    /* the checkpoint's member list is signed: dropping node 1 from it breaks the proof */
    json_t *bad = json_deep_copy(after);
    json_t *members = json_object_get(json_object_get(bad, "checkpoint"), "members");
    char hex[CC_HASH_HEX];
    cc_hex(stays.pk, CC_PUBKEY_BYTES, hex);
    for (size_t i = 0; i < json_array_size(members); i++)
        if (strcmp(json_string_value(json_array_get(members, i)), hex) == 0) json_array_remove(members, i--);
    assert_int_equal(cc_proof_shows_removal(bad, &g, stays.pk, joined.height + 1, &rep, &eb), CC_ERR_VERIFY);
    json_decref(bad);
    /* node 52 was not a node at the earlier checkpoint: that is no removal,
     * since node 52 applied past it */
    assert_int_equal(cc_proof_shows_removal(before_added, &g, added.pk, 0, &rep, &eb), CC_OK);
    assert_int_equal(cc_proof_shows_removal(before_added, &g, added.pk, joined.height + 1, &rep, &eb),
                     CC_ERR_VERIFY);
    assert_non_null(strstr(eb.msg, "older"));

    json_decref(before_added);
    json_decref(after);
    cc_genesis_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_then_remove_by_majority, setup3, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_to_an_unknown_ruleset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_stops_at_an_unknown_ruleset, setup, teardown),
        cmocka_unit_test(test_genesis_ruleset),
        cmocka_unit_test_setup_teardown(test_ruleset_1_then_2, setup_ruleset1, teardown),
        cmocka_unit_test_setup_teardown(test_add_refuses_a_clash, setup3, teardown),
        cmocka_unit_test_setup_teardown(test_proposers_follow_membership, setup3, teardown),
        cmocka_unit_test_setup_teardown(test_changes_keep_a_majority, setup3, teardown),
        cmocka_unit_test_setup_teardown(test_proofs_follow_membership_changes, setup3, teardown),
        cmocka_unit_test_setup_teardown(test_removal_is_proven_by_a_later_checkpoint, setup3, teardown),
        cmocka_unit_test_setup_teardown(test_proposals_expire_withdraw_and_go_stale, setup3, teardown),
    };
    return cmocka_run_group_tests_name("network", tests, NULL, NULL);
}
