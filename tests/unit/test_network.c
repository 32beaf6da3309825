/*
 * test_network.c — network governance: a node joins or leaves only when
 * admins of a majority of organisations approved, each organisation once.
 */
#include "unit_support.h"

#include "carechain/chain.h"

#define T0 1764000100000ULL

typedef struct fixture {
    char *dir, *genesis;
    cc_chain *c;
    cc_key node, hospital, payer;
    uint64_t t;
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
    cc_tx_free(&tx);
    return (cc_err)r.code;
}

/* network.propose by `by` of adding the node with key node_pk to org (the
 * proposal's txid into prop, which may be NULL); the tx's result. */
static cc_err propose_add(fixture *f, const cc_key *by, const uint8_t node_pk[32], const char *org,
                          uint8_t prop[32])
{
    char hex[CC_HASH_HEX], payload[400];
    snprintf(payload, sizeof payload,
             "{\"action\":\"add\",\"node\":{\"name\":\"added\",\"id\":\"%s\",\"org\":\"%s\","
             "\"api\":\"127.0.0.1:7801\",\"raft\":\"127.0.0.1:7901\"}}",
             cc_hex(node_pk, 32, hex), org);
    return send(f, by, "network.propose", payload, prop);
}

/* network.propose by `by` of removing the node with key node_pk. */
static cc_err propose_remove(fixture *f, const cc_key *by, const uint8_t node_pk[32], uint8_t prop[32])
{
    char hex[CC_HASH_HEX], payload[200];
    snprintf(payload, sizeof payload, "{\"action\":\"remove\",\"id\":\"%s\"}", cc_hex(node_pk, 32, hex));
    return send(f, by, "network.propose", payload, prop);
}

/* network.approve of proposal prop by `by`. */
static cc_err approve(fixture *f, const cc_key *by, const uint8_t prop[32])
{
    char hex[CC_HASH_HEX], payload[100];
    snprintf(payload, sizeof payload, "{\"proposal\":\"%s\"}", cc_hex(prop, 32, hex));
    return send(f, by, "network.approve", payload, NULL);
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
    assert_int_equal(node_count(f), 1);

    assert_int_equal(propose_add(f, &f->hospital, newnode.pk, "payer", prop), CC_OK);
    assert_int_equal(node_count(f), 1); /* 1 of 2 organisations: not yet */
    json_t *id = NULL;
    assert_int_equal(cc_chain_identity_json(f->c, newnode.pk, &id), CC_ERR_NOT_FOUND);

    /* the same organisation approving again does not count */
    cc_hex(prop, 32, prop_hex);
    assert_int_equal(approve(f, &f->hospital, prop), CC_ERR_CONFLICT);
    assert_int_equal(approve(f, &f->payer, prop), CC_OK);
    assert_int_equal(node_count(f), 2);
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
    assert_int_equal(node_count(f), 2);
    assert_int_equal(approve(f, &f->hospital, prop), CC_OK);
    assert_int_equal(node_count(f), 1);
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
}

/* ---- a three-node genesis: its majority of genesis nodes stays ------------------ */

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

/* Checkpoints count genesis nodes' signatures only: a removal that would
 * leave fewer than 2 of the 3 is refused, proposed or approved. */
static void test_genesis_majority_stays(void **state)
{
    fixture *f = *state;
    uint8_t first[32], second[32];
    cc_key added;
    char hex[CC_HASH_HEX];
    /* both proposals are fine on their own; the first to take effect wins */
    assert_int_equal(remove_seed(f, 50, first), CC_OK);
    assert_int_equal(remove_seed(f, 51, second), CC_OK);
    assert_int_equal(node_count(f), 3);
    assert_int_equal(approve(f, &f->payer, first), CC_OK);
    assert_int_equal(node_count(f), 2);
    assert_int_equal(approve(f, &f->payer, second), CC_ERR_CONFLICT);
    assert_int_equal(node_count(f), 2);
    char key[100];
    snprintf(key, sizeof key, "netprop/%s", cc_hex(second, 32, hex));
    json_t *p = state_json(f, key);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "open"); /* nothing changed */
    assert_int_equal(json_array_size(json_object_get(p, "approvals")), 1);
    json_decref(p);
    /* and a new proposal to remove it is refused at once */
    assert_int_equal(remove_seed(f, 51, NULL), CC_ERR_CONFLICT);
    assert_int_equal(remove_seed(f, 1, NULL), CC_ERR_CONFLICT);
    /* a node added later does not count: its signatures are not checkpoint signatures */
    ut_key(52, &added);
    assert_int_equal(propose_add(f, &f->hospital, added.pk, "payer", first), CC_OK);
    assert_int_equal(approve(f, &f->payer, first), CC_OK);
    assert_int_equal(node_count(f), 3);
    assert_int_equal(remove_seed(f, 51, NULL), CC_ERR_CONFLICT);
    /* while the node added later can go */
    assert_int_equal(remove_seed(f, 52, first), CC_OK);
    assert_int_equal(approve(f, &f->payer, first), CC_OK);
    assert_int_equal(node_count(f), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_then_remove_by_majority, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proposers_follow_membership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_genesis_majority_stays, setup3, teardown),
    };
    return cmocka_run_group_tests_name("network", tests, NULL, NULL);
}
