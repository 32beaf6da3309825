/*
 * test_consortium.c — a consortium starts a network the way
 * docs/OPERATIONS.md tells it to, without `carechain init`: each of three
 * organisations makes its node key and its admin key with `carechain
 * keygen` and describes itself in a member card (`carechain genesis
 * member`, public keys only); `carechain genesis new` merges the cards
 * into genesis.json and refuses cards a network could not run on;
 * `carechain genesis check` accepts the file, names the chain id (the
 * file's SHA-256) and says which node a key is, and refuses a broken one
 * (written by hand here); each organisation's node starts from a directory
 * holding nothing but that genesis and its own key; they elect a leader;
 * the hospital's admin registers a clinician, whose note commits; its
 * proof, fetched from another organisation's node, verifies against the
 * genesis; and verify-chain passes on every directory.
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

#include "carechain/os.h"
#include "support/support.h"

#define ORGS          3
#define NODE_START_MS 20000
#define LEADER_MS     20000
#define CLI_MS        60000

static const char *const org_id[ORGS] = {"hospital", "payer", "clinic"};
static const char *const org_kind[ORGS] = {"hospital", "payer", "clinic"};

typedef struct fixture {
    char *dir, *genesis_path;
    char node_id[ORGS][CC_HASH_HEX], admin_id[ORGS][CC_HASH_HEX];
    int api[ORGS], raft[ORGS];
    ct_node node[ORGS];
} fixture;

static fixture fx;

/* `carechain keygen --out path [--role R --org O]` and the id it printed;
 * 0 on success. */
static int keygen(const char *path, const char *role, const char *org, char id[CC_HASH_HEX])
{
    char *out = NULL;
    int rc = role ? ct_cli(&out, CLI_MS, "keygen", "--out", path, "--role", role, "--org", org, (char *)NULL)
                  : ct_cli(&out, CLI_MS, "keygen", "--out", path, (char *)NULL);
    const char *at = out ? strstr(out, "id ") : NULL;
    if (rc == 0 && at && strlen(at + 3) >= CC_HASH_HEX - 1)
        snprintf(id, CC_HASH_HEX, "%.64s", at + 3);
    else
        rc = rc ? rc : 1;
    free(out);
    return rc;
}

/* How a hand-written genesis is broken. */
typedef enum { UNKNOWN_ORG, RAFT_HOSTNAME, NO_ADMIN } fault;

/* A genesis written by hand from the ids, node i of org i, broken by how:
 * the last node names an organisation nobody founded, or a raft address
 * libraft cannot dial, or the last organisation has no admin. */
static char *genesis_text(fault how)
{
    json_t *orgs = json_array(), *nodes = json_array(), *ids = json_array();
    for (int i = 0; i < ORGS; i++) {
        char api[32], raft[32], name[32];
        snprintf(api, sizeof api, "127.0.0.1:%d", fx.api[i]);
        snprintf(raft, sizeof raft, "%s:%d", how == RAFT_HOSTNAME ? "localhost" : "127.0.0.1", fx.raft[i]);
        snprintf(name, sizeof name, "%s-node", org_id[i]);
        json_array_append_new(
            orgs, json_pack("{s:s, s:s, s:s}", "id", org_id[i], "name", org_id[i], "kind", org_kind[i]));
        json_array_append_new(nodes,
                              json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name, "id", fx.node_id[i], "org",
                                        how == UNKNOWN_ORG && i == ORGS - 1 ? "nobody" : org_id[i], "api",
                                        api, "raft", raft));
        if (how != NO_ADMIN || i != ORGS - 1)
            json_array_append_new(ids, json_pack("{s:s, s:s, s:s, s:s}", "id", fx.admin_id[i], "role",
                                                 "admin", "org", org_id[i], "name", "admin"));
    }
    json_t *g = json_pack("{s:i, s:s, s:I, s:o, s:o, s:o}", "carechain_genesis", 1, "chain_name",
                          "consortium", "time_ms", (json_int_t)1764100000000LL, "organisations", orgs,
                          "nodes", nodes, "identities", ids);
    char *text = json_dumps(g, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(g);
    return text;
}

static int group_setup(void **state)
{
    (void)state;
    fx.dir = ct_tmpdir("consortium");
    if (!fx.dir) return -1;
    for (int i = 0; i < ORGS; i++) {
        char *org_dir = ct_strf("%s/%s", fx.dir, org_id[i]), *node_key = ct_strf("%s/node.key", org_dir),
             *admin_key = ct_strf("%s/%s-admin.key", fx.dir, org_id[i]);
        int rc = cc_mkdirs(org_dir, NULL) != CC_OK ||
                 keygen(node_key, "node", org_id[i], fx.node_id[i]) != 0 ||
                 keygen(admin_key, "admin", org_id[i], fx.admin_id[i]) != 0;
        free(org_dir);
        free(node_key);
        free(admin_key);
        if (rc) return -1;
        fx.api[i] = ct_free_port();
        fx.raft[i] = ct_free_port();
    }
    fx.genesis_path = ct_strf("%s/genesis.json", fx.dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < ORGS; i++) {
        if (fx.node[i].pid) ct_node_stop(&fx.node[i], SIGKILL, 5000);
        ct_node_free(&fx.node[i]);
    }
    if (fx.dir) ct_rmtree(fx.dir);
    free(fx.dir);
    free(fx.genesis_path);
    return 0;
}

/* `carechain genesis member` for org i, run where its keys are, writing
 * its card to <dir>/<org>.card; extra arguments (NULL-terminated, at
 * most 4) go after the organisation's. The exit code, and the output in
 * *out (caller frees). */
static int member_card(int i, char **out, const char *a, const char *b, const char *c, const char *d)
{
    char *node_key = ct_strf("%s/%s/node.key", fx.dir, org_id[i]),
         *admin_key = ct_strf("%s/%s-admin.key", fx.dir, org_id[i]),
         *card = ct_strf("%s/%s.card", fx.dir, org_id[i]), api[32], raft[32];
    snprintf(api, sizeof api, "127.0.0.1:%d", fx.api[i]);
    snprintf(raft, sizeof raft, "127.0.0.1:%d", fx.raft[i]);
    int rc = ct_cli(out, CLI_MS, "genesis", "member", "--org", org_id[i], "--org-name", org_id[i], "--kind",
                    org_kind[i], "--node-key", a && strcmp(a, "--node-key") == 0 ? b : node_key, "--api", api,
                    "--raft", a && strcmp(a, "--raft") == 0 ? b : raft, "--admin-key", admin_key, "--out",
                    card, c, d, (char *)NULL);
    free(node_key);
    free(admin_key);
    free(card);
    return rc;
}

static void test_genesis_from_member_cards(void **state)
{
    (void)state;
    char *out = NULL;
    /* what a node could not run on is refused where the card is made */
    char *admin_key = ct_strf("%s/hospital-admin.key", fx.dir);
    assert_int_equal(member_card(0, &out, "--raft", "hospital.example.org:7900", NULL, NULL), 2);
    assert_non_null(strstr(out, "IPv4"));
    free(out);
    assert_int_equal(member_card(0, &out, "--node-key", admin_key, NULL, NULL), 1);
    assert_non_null(strstr(out, "made for role admin, not node"));
    free(out);
    free(admin_key);

    char *cards[ORGS];
    for (int i = 0; i < ORGS; i++) {
        int rc = member_card(i, &out, NULL, NULL, NULL, NULL);
        if (rc != 0) fprintf(stderr, "genesis member: %s\n", out);
        assert_int_equal(rc, 0);
        free(out);
        cards[i] = ct_strf("%s/%s.card", fx.dir, org_id[i]);
        size_t len = 0;
        char *text = (char *)ct_read_file(cards[i], &len);
        assert_non_null(text);
        assert_null(strstr(text, "secret")); /* public keys only */
        assert_non_null(strstr(text, fx.node_id[i]));
        assert_non_null(strstr(text, fx.admin_id[i]));
        free(text);
    }
    /* every organisation needs an admin: a card with its node alone is not enough */
    char *no_admin = ct_strf("%s/no-admin.card", fx.dir), *lone = ct_strf("%s/lone.json", fx.dir),
         *node_key = ct_strf("%s/clinic/node.key", fx.dir), raft[32];
    snprintf(raft, sizeof raft, "127.0.0.1:%d", fx.raft[2]);
    assert_int_equal(ct_cli(&out, CLI_MS, "genesis", "member", "--org", "clinic", "--org-name", "clinic",
                            "--kind", "clinic", "--node-key", node_key, "--api", "127.0.0.1:1", "--raft",
                            raft, "--out", no_admin, (char *)NULL),
                     0);
    free(out);
    assert_int_equal(ct_cli(&out, CLI_MS, "genesis", "new", "--chain-name", "consortium", "--out", lone,
                            cards[0], cards[1], no_admin, (char *)NULL),
                     1);
    assert_non_null(strstr(out, "organisation clinic has no admin"));
    free(out);
    /* nor may one node be listed twice */
    assert_int_equal(ct_cli(&out, CLI_MS, "genesis", "new", "--chain-name", "consortium", "--out", lone,
                            cards[0], cards[1], cards[2], no_admin, (char *)NULL),
                     1);
    assert_non_null(strstr(out, "another card already names a node clinic-node"));
    free(out);
    assert_null(ct_read_file(lone, &(size_t){0})); /* nothing written */

    int rc = ct_cli(&out, CLI_MS, "genesis", "new", "--chain-name", "consortium", "--out", fx.genesis_path,
                    cards[0], cards[1], cards[2], (char *)NULL);
    if (rc != 0) fprintf(stderr, "genesis new: %s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "3 nodes, agreeing through raft"));
    assert_non_null(strstr(out, "Its blocks execute under ruleset 2 until governance"));
    size_t len = 0;
    uint8_t *bytes = ct_read_file(fx.genesis_path, &len), id[CC_HASH_BYTES];
    char hex[CC_HASH_HEX];
    assert_non_null(bytes);
    cc_sha256(bytes, len, id);
    assert_non_null(strstr(out, cc_hex(id, CC_HASH_BYTES, hex))); /* the chain id it printed is the file's */
    free(bytes);
    free(out);
    /* and it never overwrites a genesis */
    assert_int_equal(ct_cli(&out, CLI_MS, "genesis", "new", "--chain-name", "consortium", "--out",
                            fx.genesis_path, cards[0], (char *)NULL),
                     2);
    free(out);
    for (int i = 0; i < ORGS; i++) free(cards[i]);
    free(no_admin);
    free(lone);
    free(node_key);
}

/* `genesis check` of a hand-written genesis broken by how: exit code
 * want, and the output says both says and also. */
static void check_hand_written(fault how, int want, const char *says, const char *also)
{
    char *path = ct_strf("%s/hand-%d.json", fx.dir, (int)how), *text = genesis_text(how), *out = NULL;
    assert_int_equal(ct_write_file(path, text, strlen(text)), 0);
    int rc = ct_cli(&out, CLI_MS, "genesis", "check", path, (char *)NULL);
    if (rc != want || !strstr(out, says) || !strstr(out, also))
        fail_msg("genesis check (fault %d): exit %d, wanted %d saying \"%s\": %s", (int)how, rc, want, says,
                 out);
    free(out);
    free(text);
    free(path);
}

static void test_genesis_check(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *bytes = ct_read_file(fx.genesis_path, &len), id[CC_HASH_BYTES];
    char hex[CC_HASH_HEX], *out = NULL;
    assert_non_null(bytes);
    cc_sha256(bytes, len, id);
    cc_hex(id, CC_HASH_BYTES, hex);
    free(bytes);

    char *key = ct_strf("%s/payer/node.key", fx.dir);
    int rc = ct_cli(&out, CLI_MS, "genesis", "check", fx.genesis_path, "--key", key, (char *)NULL);
    if (rc != 0) fprintf(stderr, "genesis check: %s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "is a valid carechain genesis for chain consortium"));
    assert_non_null(strstr(out, "3 nodes, agreeing through raft"));
    assert_non_null(strstr(out, "is the key of payer-node"));
    assert_non_null(strstr(out, hex)); /* the chain id is the file's SHA-256 */
    free(out);
    free(key);

    /* an admin's key is no node */
    key = ct_strf("%s/clinic-admin.key", fx.dir);
    assert_int_equal(ct_cli(&out, CLI_MS, "genesis", "check", fx.genesis_path, "--key", key, (char *)NULL),
                     0);
    assert_non_null(strstr(out, "is none of these nodes"));
    free(out);
    free(key);

    /* a node of an organisation nobody founded: refused, with the reason */
    check_hand_written(UNKNOWN_ORG, 1, "NOT a valid carechain genesis", "nobody");
    /* an organisation without an admin: valid, but said */
    check_hand_written(NO_ADMIN, 0, "organisation clinic has no founding admin", "clinic");
    /* a raft address libraft cannot dial: the nodes could never connect */
    check_hand_written(RAFT_HOSTNAME, 1, "could never start", "localhost:");
    check_hand_written(RAFT_HOSTNAME, 1, "is a well-formed carechain genesis", "could never start (below)");
    assert_int_equal(ct_cli(&out, CLI_MS, "genesis", "check", (char *)NULL), 2);
    free(out);
}

/* Node i's raft_state, or NULL (caller frees). */
static char *raft_state(int i)
{
    ct_resp r;
    char *url = ct_strf("%s/v1/status", fx.node[i].url), *state = NULL;
    if (ct_get(url, &r) == 0 && r.status == 200 && ct_json_str(r.json, "raft_state"))
        state = strdup(ct_json_str(r.json, "raft_state"));
    ct_resp_free(&r);
    free(url);
    return state;
}

static void test_nodes_start_from_genesis_and_key_alone(void **state)
{
    (void)state;
    for (int i = 0; i < ORGS; i++) {
        char *dir = ct_strf("%s/%s", fx.dir, org_id[i]), *copy = ct_strf("%s/genesis.json", dir);
        size_t len = 0;
        uint8_t *bytes = ct_read_file(fx.genesis_path, &len);
        assert_int_equal(ct_write_file(copy, bytes, len), 0);
        free(bytes);
        free(copy);
        assert_int_equal(ct_node_start(&fx.node[i], dir, fx.api[i], 0, 0, NODE_START_MS), 0);
        free(dir);
    }
    int leaders = 0;
    uint64_t deadline = ct_now_ms() + LEADER_MS;
    do {
        leaders = 0;
        for (int i = 0; i < ORGS; i++) {
            char *s = raft_state(i);
            leaders += s && strcmp(s, "leader") == 0;
            free(s);
        }
        if (leaders != 1) cc_sleep_ms(100);
    } while (leaders != 1 && ct_now_ms() < deadline);
    if (leaders != 1)
        for (int i = 0; i < ORGS; i++) ct_node_dump_log(&fx.node[i]);
    assert_int_equal(leaders, 1);
}

static void test_admin_clinician_note_and_proof(void **state)
{
    (void)state;
    char *admin = ct_strf("%s/hospital-admin.key", fx.dir), *dr = ct_strf("%s/dr.key", fx.dir);
    char *proof = ct_strf("%s/note.proof", fx.dir), *out = NULL, dr_id[CC_HASH_HEX];
    assert_int_equal(keygen(dr, NULL, NULL, dr_id), 0);
    int rc = ct_cli(&out, CLI_MS, "member", "register", "--key", admin, "--keyfile", dr, "--role",
                    "clinician", "--node", fx.node[1].url, (char *)NULL);
    if (rc != 0) fprintf(stderr, "member register: %s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    rc = ct_cli(&out, CLI_MS, "note", "put", "--key", dr, "--kind", "discharge-summary", "--sha256",
                "5a3208cc5057da44ae534440dd910052a11153a4ae81cf97f7cd124dcc77ef82", "--node", fx.node[2].url,
                (char *)NULL);
    if (rc != 0) fprintf(stderr, "note put: %s\n", out);
    assert_int_equal(rc, 0);
    const char *at = strstr(out, "txid ");
    assert_non_null(at);
    char txid[CC_HASH_HEX];
    snprintf(txid, sizeof txid, "%.64s", at + 5);
    free(out);

    /* the proof, from another organisation's node, once a checkpoint covers it */
    rc = ct_cli_proof(&out, CLI_MS, fx.node[0].url, txid, proof);
    if (rc != 0) fprintf(stderr, "proof: %s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    rc = ct_cli(&out, CLI_MS, "verify-proof", proof, "--genesis", fx.genesis_path, (char *)NULL);
    if (rc != 0) fprintf(stderr, "verify-proof: %s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "Verified"));
    free(out);
    free(admin);
    free(dr);
    free(proof);
}

static void test_verify_chain_everywhere(void **state)
{
    (void)state;
    for (int i = 0; i < ORGS; i++) assert_int_equal(ct_node_stop(&fx.node[i], SIGTERM, 20000), 0);
    for (int i = 0; i < ORGS; i++) {
        char *dir = ct_strf("%s/%s", fx.dir, org_id[i]), *out = NULL;
        int rc = ct_cli(&out, CLI_MS, "verify-chain", "--dir", dir, (char *)NULL);
        if (rc != 0) fprintf(stderr, "verify-chain %s: %s\n", dir, out);
        assert_int_equal(rc, 0);
        free(out);
        free(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_genesis_from_member_cards),
        cmocka_unit_test(test_genesis_check),
        cmocka_unit_test(test_nodes_start_from_genesis_and_key_alone),
        cmocka_unit_test(test_admin_clinician_note_and_proof),
        cmocka_unit_test(test_verify_chain_everywhere),
    };
    return cmocka_run_group_tests_name("consortium", tests, group_setup, group_teardown);
}
