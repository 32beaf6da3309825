/*
 * test_records_raft.c — health records on a three-node raft network: a
 * record written through one node, a consent through another, reads on
 * every node (each one audited by the node that served it, through the
 * leader), erasure committed through a follower leaving 410 Gone on every
 * node and the attachment gone from every store, a chain that still
 * verifies on every node, and a canary marker that is in no node's data
 * directory, raft directory or log.
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
#include <sys/stat.h>

#include <sodium.h>

#include "carechain/chain.h"
#include "cli/cli.h"
#include "support/ct_cli.h"
#include "support/support.h"

#define NODES          3
#define NODE_START_MS  20000
#define LEADER_WAIT_MS 15000
#define CONVERGE_MS    20000
#define STOP_MS        20000
#define VERIFY_MS      60000

typedef struct fixture {
    ct_cluster cl;
    cc_cli_http *h[NODES];
    cc_key patient, clinician, specialist;
    char patient_id[CC_HASH_HEX], clinician_id[CC_HASH_HEX], specialist_id[CC_HASH_HEX];
    char canary[48];
} fixture;

static fixture fx;

static int setup(void **state)
{
    (void)state;
    uint8_t rnd[8];
    char hex[17];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(fx.canary, sizeof fx.canary, "CANARY-%s-NAME", cc_hex(rnd, sizeof rnd, hex));
    if (ct_cluster_create(&fx.cl, "records-raft", NODES, NODES) != 0) return -1;
    if (ct_cluster_start(&fx.cl, NODE_START_MS, LEADER_WAIT_MS) != 0) return -1;
    for (int i = 0; i < NODES; i++) fx.h[i] = cc_cli_http_new(fx.cl.node[i].url);
    ct_key("records-raft/patient", &fx.patient);
    ct_key("records-raft/clinician", &fx.clinician);
    ct_key("records-raft/specialist", &fx.specialist);
    ct_pk_hex(&fx.patient, fx.patient_id);
    ct_pk_hex(&fx.clinician, fx.clinician_id);
    ct_pk_hex(&fx.specialist, fx.specialist_id);
    const cc_key *admin = &fx.cl.net.admin;
    if (!ct_cli_commit(fx.h[0], fx.cl.net.chain_id, admin, "member.register",
                       json_pack("{s:s,s:s}", "id", fx.patient_id, "role", "patient"), NULL) ||
        !ct_cli_commit(fx.h[1], fx.cl.net.chain_id, admin, "member.register",
                       json_pack("{s:s,s:s}", "id", fx.clinician_id, "role", "clinician"), NULL) ||
        !ct_cli_commit(fx.h[2], fx.cl.net.chain_id, &fx.cl.net.payer_admin, "member.register",
                       json_pack("{s:s,s:s}", "id", fx.specialist_id, "role", "clinician"), NULL))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NODES; i++) cc_cli_http_free(fx.h[i]);
    ct_cluster_stop_all(&fx.cl, SIGTERM, STOP_MS);
    ct_cluster_destroy(&fx.cl);
    cc_key_wipe(&fx.patient);
    cc_key_wipe(&fx.clinician);
    cc_key_wipe(&fx.specialist);
    return 0;
}

static long signed_get(int node, const cc_key *k, const char *path, json_t **body)
{
    cc_cli_resp r;
    cc_errbuf eb = {{0}};
    *body = NULL;
    if (cc_cli_http_signed_get(fx.h[node], k, path, &r, &eb) != CC_OK) fail_msg("GET %s: %s", path, eb.msg);
    long st = r.status;
    if (r.json) *body = json_incref(r.json);
    cc_cli_resp_free(&r);
    return st;
}

static void test_records_on_every_node(void **state)
{
    (void)state;
    char *doc = ct_strf("{\"resourceType\":\"Observation\",\"subject\":{\"display\":\"%s\"}}", fx.canary);
    char id[33], hash[CC_HASH_HEX], path[256];
    cc_errbuf eb = {{0}};

    /* write consent through node3, the record through node2 */
    assert_true(ct_cli_commit(fx.h[2], fx.cl.net.chain_id, &fx.patient, "consent.grant",
                              json_pack("{s:s,s:{s:s},s:[s],s:[s],s:s}", "patient", fx.patient_id, "grantee",
                                        "identity", fx.clinician_id, "actions", "write", "purposes", "TREAT",
                                        "provision", "permit"),
                              NULL));
    /* a client that moves between nodes waits until the next node has the
     * block it just committed (each node answers from its own height) */
    assert_true(ct_cluster_wait_converged(&fx.cl, 0, NULL, CONVERGE_MS));
    cc_cli_record_in in = {fx.patient_id, NULL,   (const uint8_t *)doc, strlen(doc), "Observation",
                           "vital-signs", "TREAT"};
    cc_cli_sent sent;
    assert_int_equal(cc_cli_record_put(fx.h[1], fx.cl.net.chain_id, &fx.clinician, &in, true, &sent, id, &eb),
                     CC_OK);
    if (!cc_cli_sent_ok(&sent) || !sent.committed) fail_msg("record.put: %s: %s", sent.code, sent.message);
    cc_cli_sent_free(&sent);
    /* the patient shares it with the specialist through node1 */
    cc_cli_sent gs;
    assert_true(ct_cluster_wait_converged(&fx.cl, 0, NULL, CONVERGE_MS)); /* node1 has the record too */
    cc_err ge = cc_cli_consent_grant(fx.h[0], fx.cl.net.chain_id, &fx.patient,
                                     json_pack("{s:s,s:{s:s},s:[s],s:[s],s:s}", "patient", fx.patient_id,
                                               "grantee", "identity", fx.specialist_id, "actions", "read",
                                               "purposes", "TREAT", "provision", "permit"),
                                     true, &gs, &eb);
    if (ge != CC_OK) fail_msg("consent grant via node1: %s", eb.msg);
    assert_true(cc_cli_sent_ok(&gs) && gs.committed);
    cc_cli_sent_free(&gs);
    assert_true(ct_cluster_wait_converged(&fx.cl, 0, NULL, CONVERGE_MS));

    /* every node serves it to the specialist, and audits the read */
    for (int i = 0; i < NODES; i++) {
        uint8_t *plain = NULL;
        size_t len = 0;
        json_t *ans = NULL;
        if (cc_cli_record_get(fx.h[i], &fx.specialist, NULL, id, "TREAT", &plain, &len, &ans, &eb) != CC_OK)
            fail_msg("node%d: record get: %s", i + 1, eb.msg);
        assert_int_equal(len, strlen(doc));
        assert_memory_equal(plain, doc, len);
        assert_int_equal(strlen(ct_json_str(ans, "audit")), 64);
        if (i == 0)
            snprintf(hash, sizeof hash, "%s", ct_json_str(json_object_get(ans, "record"), "ciphertext"));
        free(plain);
        json_decref(ans);
    }

    /* erase through node2 (a follower or the leader: either must work) */
    assert_true(ct_cli_commit(fx.h[1], fx.cl.net.chain_id, &fx.patient, "record.erase",
                              json_pack("{s:s,s:s}", "record", id, "reason", "patient request"), NULL));
    assert_true(ct_cluster_wait_converged(&fx.cl, 0, NULL, CONVERGE_MS));
    snprintf(path, sizeof path, "/v1/records/%s?purpose=TREAT", id);
    for (int i = 0; i < NODES; i++) {
        json_t *b;
        assert_int_equal(signed_get(i, &fx.patient, path, &b), 410);
        assert_null(json_object_get(b, "ciphertext"));
        json_decref(b);
    }
    /* the patient's audit trail, from any node, holds the reads of all three */
    json_t *b;
    snprintf(path, sizeof path, "/fhir/AuditEvent?patient=%s", fx.patient_id);
    assert_true(ct_cluster_wait_converged(&fx.cl, 0, NULL, CONVERGE_MS));
    assert_int_equal(signed_get(2, &fx.patient, path, &b), 200);
    size_t i, observers = 0;
    json_t *e;
    char seen[NODES][CC_HASH_HEX] = {{0}};
    json_array_foreach(json_object_get(b, "entry"), i, e)
    {
        const char *obs = ct_json_str(
            json_object_get(json_object_get(json_object_get(e, "resource"), "source"), "observer"),
            "reference");
        bool known = false;
        for (size_t k = 0; k < observers; k++) known |= strcmp(seen[k], obs) == 0;
        if (!known && observers < NODES) snprintf(seen[observers++], CC_HASH_HEX, "%.64s", obs);
    }
    json_decref(b);
    assert_int_equal(observers, NODES); /* each node audited what it served */

    /* stop: the bytes are gone from every store; every chain verifies; the
     * canary is nowhere on disk or in a log */
    assert_int_equal(ct_cluster_stop_all(&fx.cl, SIGTERM, STOP_MS), 0);
    uint8_t h[CC_HASH_BYTES];
    assert_int_equal(cc_unhex(hash, h, sizeof h), CC_OK);
    for (int n = 0; n < NODES; n++) {
        cc_chain *c;
        cc_chain_options opt = {.readonly = true};
        char *data = ct_strf("%s/data", fx.cl.net.node_dirs[n]);
        uint8_t *bytes = NULL;
        size_t len = 0;
        assert_int_equal(cc_chain_open(data, fx.cl.net.genesis, fx.cl.net.genesis_len, &opt, &c, &eb), CC_OK);
        assert_int_equal(cc_chain_attachment(c, h, &bytes, &len), CC_ERR_NOT_FOUND);
        cc_chain_close(c);
        free(data);
        assert_false(ct_tree_contains(fx.cl.node[n].log_path, fx.canary));
    }
    assert_false(ct_tree_contains(fx.cl.net.dir, fx.canary));
    assert_int_equal(ct_cluster_verify_chains(&fx.cl, VERIFY_MS), 0);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_on_every_node),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
