/*
 * test_tls.c — nodes that serve their API over HTTPS (docs/OPERATIONS.md
 * "The links between the nodes").
 *
 * A consortium CA and a certificate for 127.0.0.1 are made with the
 * openssl command. A solo node serves HTTPS only: the CLI reaches it when
 * CARECHAIN_CACERT names the CA and refuses it otherwise, plain HTTP gets
 * no answer, and a note commits and its proof verifies. A node given half
 * a TLS configuration, a key that does not fit the certificate or a file
 * that is not PEM does not start, and says why. Three raft nodes whose
 * genesis names https:// APIs forward txs and exchange checkpoint
 * signatures over HTTPS, trusting the CA of their config.json.
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

#include "support/support.h"

#define NODE_START_MS 20000
#define LEADER_MS     10000
#define CONVERGE_MS   30000
#define CLI_MS        30000
#define CA_ENV        "CARECHAIN_CACERT"

static char *dir, *ca, *cert, *key, *ca_key;
static bool have_openssl;

/* Run a shell command quietly; 0 when it succeeded. */
static int sh(const char *cmd)
{
    char *quiet = ct_strf("%s >/dev/null 2>&1", cmd);
    int rc = system(quiet);
    free(quiet);
    return rc;
}

static int group_setup(void **state)
{
    (void)state;
    have_openssl = sh("command -v openssl") == 0;
    if (!have_openssl) return 0; /* each test says it skips */
    dir = ct_tmpdir("tls");
    ca = ct_strf("%s/ca.pem", dir);
    ca_key = ct_strf("%s/ca.key", dir);
    cert = ct_strf("%s/node.pem", dir);
    key = ct_strf("%s/node-key.pem", dir);
    char *csr = ct_strf("%s/node.csr", dir), *ext = ct_strf("%s/ext.cnf", dir);
    char *make_ca = ct_strf("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s "
                            "-out %s -days 7 -subj '/CN=carechain test consortium CA'",
                            ca_key, ca);
    char *make_csr = ct_strf("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s "
                             "-out %s -subj '/CN=127.0.0.1'",
                             key, csr);
    char *sign =
        ct_strf("openssl x509 -req -in %s -CA %s -CAkey %s -CAcreateserial -out %s -days 7 -extfile %s", csr,
                ca, ca_key, cert, ext);
    const char *alt = "subjectAltName=IP:127.0.0.1\n";
    int rc = ct_write_file(ext, alt, strlen(alt)) || sh(make_ca) || sh(make_csr) || sh(sign);
    free(csr);
    free(ext);
    free(make_ca);
    free(make_csr);
    free(sign);
    if (rc) fprintf(stderr, "openssl could not make the test certificates\n");
    return rc ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unsetenv(CA_ENV);
    if (dir) ct_rmtree(dir);
    free(dir);
    free(ca);
    free(ca_key);
    free(cert);
    free(key);
    return 0;
}

static void need_openssl(void)
{
    if (!have_openssl) {
        fprintf(stderr, "skipped: no openssl command to make the test certificates\n");
        skip();
    }
}

/* A cluster of n nodes whose APIs serve HTTPS with the test certificate,
 * and the CLI and the test's own requests trusting its CA. */
static void https_cluster(ct_cluster *cl, const char *tag, unsigned n)
{
    setenv(CA_ENV, ca, 1);
    assert_int_equal(ct_cluster_create(cl, tag, n, n), 0);
    assert_int_equal(ct_net_use_https(&cl->net, cert, key, ca), 0);
    for (unsigned i = 0; i < n; i++) cl->node[i].https = true;
}

static void test_solo_node_serves_https_only(void **state)
{
    (void)state;
    need_openssl();
    ct_cluster cl;
    uint64_t nonce = 0;
    char txid[CC_HASH_HEX], *out = NULL;
    https_cluster(&cl, "tls-solo", 1);
    assert_int_equal(ct_cluster_start_node(&cl, 0, NODE_START_MS), 0); /* polls https://…/v1/status */
    assert_non_null(strstr(cl.node[0].url, "https://"));

    /* the CLI, trusting the consortium's CA */
    int rc = ct_cli(&out, CLI_MS, "status", "--node", cl.node[0].url, (char *)NULL);
    if (rc != 0) fprintf(stderr, "status: %s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    /* and without it: the certificate is not trusted, nothing is sent */
    unsetenv(CA_ENV);
    assert_int_equal(ct_cli(&out, CLI_MS, "status", "--node", cl.node[0].url, (char *)NULL), 3);
    assert_non_null(strstr(out, "certificate"));
    free(out);
    setenv(CA_ENV, ca, 1);
    /* plain HTTP on the same port gets no HTTP answer */
    ct_resp r;
    char *plain = ct_strf("http://127.0.0.1:%d/v1/status", cl.node[0].port);
    ct_get(plain, &r);
    assert_int_not_equal(r.status, 200);
    ct_resp_free(&r);
    free(plain);

    /* a note over HTTPS, and its proof */
    assert_true(ct_cluster_commit_note(&cl, 0, &nonce, 0, txid) > 0);
    char *proof = ct_strf("%s/tls.proof", cl.net.dir);
    rc = ct_cli_proof(&out, CONVERGE_MS, cl.node[0].url, txid, proof);
    if (rc != 0) fprintf(stderr, "proof: %s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    assert_int_equal(
        ct_cli(&out, CLI_MS, "verify-proof", proof, "--genesis", cl.net.genesis_path, (char *)NULL), 0);
    free(out);
    free(proof);
    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    ct_cluster_destroy(&cl);
}

/* `carechain node --dir d` with extra arguments exits 1 at once and says
 * expect. */
static void refused(const char *d, const char *expect, const char *a1, const char *v1, const char *a2,
                    const char *v2)
{
    char *out = NULL, api[32];
    snprintf(api, sizeof api, "127.0.0.1:%d", ct_free_port());
    int rc = ct_cli(&out, CLI_MS, "node", "--dir", d, "--api", api, a1, v1, a2, v2, (char *)NULL);
    if (rc != 1 || !strstr(out ? out : "", expect))
        fail_msg("expected exit 1 saying \"%s\"; exit %d: %s", expect, rc, out ? out : "");
    free(out);
}

static void test_bad_tls_settings_stop_the_node(void **state)
{
    (void)state;
    need_openssl();
    ct_net net;
    assert_int_equal(ct_net_create(&net, "tls-bad"), 0);
    refused(net.node_dir, "needs both a certificate", "--tls-cert", cert, NULL, NULL);
    refused(net.node_dir, "do not fit", "--tls-cert", cert, "--tls-key", ca_key);
    refused(net.node_dir, "is not a PEM file", "--tls-cert", net.genesis_path, "--tls-key", key);
    refused(net.node_dir, "cannot read the CA bundle", "--tls-ca", "/nonexistent/ca.pem", NULL, NULL);
    ct_net_destroy(&net);
}

static void test_raft_nodes_talk_https(void **state)
{
    (void)state;
    need_openssl();
    ct_cluster cl;
    uint64_t nonce = 0;
    char txid[CC_HASH_HEX], *out = NULL;
    https_cluster(&cl, "tls-raft", 3);
    assert_int_equal(ct_cluster_start(&cl, NODE_START_MS, LEADER_MS), 0);
    int leader = ct_cluster_wait_leader(&cl, LEADER_MS);
    assert_true(leader >= 0);
    int f = ct_cluster_follower(&cl, leader);
    assert_true(f >= 0);
    /* sent to a follower: forwarded to the leader's https:// API */
    int64_t h = ct_cluster_commit_note(&cl, f, &nonce, 0, txid);
    assert_true(h > 0);
    assert_true(ct_cluster_wait_converged(&cl, h, NULL, CONVERGE_MS));
    /* the follower's proof needs the others' checkpoint signatures, pushed
     * over HTTPS; asked once: `carechain proof` itself waits for them */
    char *proof = ct_strf("%s/raft.proof", cl.net.dir);
    int rc = ct_cli(&out, CLI_MS, "proof", txid, "--out", proof, "--wait", "20", "--node", cl.node[f].url,
                    (char *)NULL);
    if (rc != 0) {
        ct_cluster_dump_logs(&cl);
        fail_msg("proof from the follower: %s", out ? out : "");
    }
    free(out);
    rc = ct_cli(&out, CLI_MS, "verify-proof", proof, "--genesis", cl.net.genesis_path, (char *)NULL);
    if (rc != 0) fprintf(stderr, "verify-proof: %s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    free(proof);
    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    assert_int_equal(ct_cluster_verify_chains(&cl, CLI_MS), 0);
    ct_cluster_destroy(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solo_node_serves_https_only),
        cmocka_unit_test(test_bad_tls_settings_stop_the_node),
        cmocka_unit_test(test_raft_nodes_talk_https),
    };
    return cmocka_run_group_tests_name("tls", tests, group_setup, group_teardown);
}
