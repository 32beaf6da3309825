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
 * signatures over HTTPS, trusting the CA of their config.json; and so do
 * three that answer only clients with a certificate of that CA
 * (tls_client_ca), presenting their own to each other, while a client
 * with no certificate, or one of another CA, gets 401 and a clear reason
 * (a FHIR OperationOutcome under /fhir/). With the CA's revocation list
 * (tls_client_crl), a certificate the CA revokes is refused as soon as
 * the CA publishes its new list, without a restart, also on a connection
 * opened before.
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

#include <curl/curl.h>

#include "support/support.h"

#define NODE_START_MS 20000
#define LEADER_MS     10000
#define CONVERGE_MS   30000
#define CLI_MS        30000
#define CA_ENV        "CARECHAIN_CACERT"
#define CERT_ENV      "CARECHAIN_CLIENT_CERT"
#define KEY_ENV       "CARECHAIN_CLIENT_KEY"

static char *dir, *ca, *cert, *key, *ca_key, *other, *other_key;
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
    other = ct_strf("%s/other.pem", dir);
    other_key = ct_strf("%s/other-key.pem", dir);
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
    /* a client certificate no consortium CA signed */
    char *make_other =
        ct_strf("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s "
                "-out %s -days 7 -subj '/CN=a stranger'",
                other_key, other);
    const char *alt = "subjectAltName=IP:127.0.0.1\n";
    int rc =
        ct_write_file(ext, alt, strlen(alt)) || sh(make_ca) || sh(make_csr) || sh(sign) || sh(make_other);
    free(make_other);
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
    unsetenv(CERT_ENV);
    unsetenv(KEY_ENV);
    if (dir) ct_rmtree(dir);
    free(other);
    free(other_key);
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
 * and the CLI and the test's own requests trusting its CA. With
 * client_ca the nodes answer only clients with a certificate of that CA,
 * and the CLI and the test present the nodes' certificate. */
static void https_cluster(ct_cluster *cl, const char *tag, unsigned n, const char *client_ca)
{
    setenv(CA_ENV, ca, 1);
    if (client_ca) {
        setenv(CERT_ENV, cert, 1);
        setenv(KEY_ENV, key, 1);
    } else {
        unsetenv(CERT_ENV);
        unsetenv(KEY_ENV);
    }
    assert_int_equal(ct_cluster_create(cl, tag, n, n), 0);
    assert_int_equal(ct_net_use_https(&cl->net, cert, key, ca, client_ca), 0);
    for (unsigned i = 0; i < n; i++) cl->node[i].https = true;
}

static void test_solo_node_serves_https_only(void **state)
{
    (void)state;
    need_openssl();
    ct_cluster cl;
    uint64_t nonce = 0;
    char txid[CC_HASH_HEX], *out = NULL;
    https_cluster(&cl, "tls-solo", 1, NULL);
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

/* `carechain node --dir d` with extra arguments exits at once with code
 * (2: a usage error, 1: a file that will not do) and says expect. */
static void refused(int code, const char *d, const char *expect, const char *a1, const char *v1,
                    const char *a2, const char *v2)
{
    char *out = NULL, api[32];
    snprintf(api, sizeof api, "127.0.0.1:%d", ct_free_port());
    int rc = ct_cli(&out, CLI_MS, "node", "--dir", d, "--api", api, a1, v1, a2, v2, (char *)NULL);
    if (rc != code || !strstr(out ? out : "", expect))
        fail_msg("expected exit %d saying \"%s\"; exit %d: %s", code, expect, rc, out ? out : "");
    free(out);
}

static void test_bad_tls_settings_stop_the_node(void **state)
{
    (void)state;
    need_openssl();
    ct_net net;
    assert_int_equal(ct_net_create(&net, "tls-bad"), 0);
    refused(2, net.node_dir, "needs both a certificate", "--tls-cert", cert, NULL, NULL);
    refused(1, net.node_dir, "do not fit", "--tls-cert", cert, "--tls-key", ca_key);
    refused(1, net.node_dir, "is not a PEM file", "--tls-cert", net.genesis_path, "--tls-key", key);
    refused(1, net.node_dir, "cannot read the CA bundle", "--tls-ca", "/nonexistent/ca.pem", NULL, NULL);
    refused(2, net.node_dir, "need the API on HTTPS", "--tls-client-ca", ca, NULL, NULL);
    ct_net_destroy(&net);
}

/* Three raft nodes on HTTPS (client_ca: answering only clients with a
 * certificate of it): a note sent to a follower commits, and the
 * follower's proof, with the others' checkpoint signatures, verifies.
 * The nodes are left running for the caller, which stops them. */
static void raft_nodes_over_https(ct_cluster *c, const char *tag, const char *client_ca)
{
    uint64_t nonce = 0;
    char txid[CC_HASH_HEX], *out = NULL;
    https_cluster(c, tag, 3, client_ca);
    assert_int_equal(ct_cluster_start(c, NODE_START_MS, LEADER_MS), 0);
    int leader = ct_cluster_wait_leader(c, LEADER_MS);
    assert_true(leader >= 0);
    int f = ct_cluster_follower(c, leader);
    assert_true(f >= 0);
    /* sent to a follower: forwarded to the leader's https:// API */
    int64_t h = ct_cluster_commit_note(c, f, &nonce, 0, txid);
    assert_true(h > 0);
    assert_true(ct_cluster_wait_converged(c, h, NULL, CONVERGE_MS));
    /* the follower's proof needs the others' checkpoint signatures, pushed
     * over HTTPS; asked once: `carechain proof` itself waits for them */
    char *proof = ct_strf("%s/raft.proof", c->net.dir);
    int rc = ct_cli(&out, CLI_MS, "proof", txid, "--out", proof, "--wait", "20", "--node", c->node[f].url,
                    (char *)NULL);
    if (rc != 0) {
        ct_cluster_dump_logs(c);
        fail_msg("proof from the follower: %s", out ? out : "");
    }
    free(out);
    rc = ct_cli(&out, CLI_MS, "verify-proof", proof, "--genesis", c->net.genesis_path, (char *)NULL);
    if (rc != 0) fprintf(stderr, "verify-proof: %s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    free(proof);
}

static void test_raft_nodes_talk_https(void **state)
{
    (void)state;
    need_openssl();
    ct_cluster cl;
    raft_nodes_over_https(&cl, "tls-raft", NULL);
    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    assert_int_equal(ct_cluster_verify_chains(&cl, CLI_MS), 0);
    ct_cluster_destroy(&cl);
}

/* GET /v1/status of node i as the environment's client certificate
 * says; expect 401 and the reason, in the JSON error body. */
static void expect_unauthenticated(const ct_cluster *cl, int i)
{
    ct_resp r;
    char *url = ct_strf("%s/v1/status", cl->node[i].url);
    ct_get(url, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(r.json);
    json_t *e = json_object_get(r.json, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "unauthenticated");
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "certificate"));
    ct_resp_free(&r);
    free(url);
}

/* The same network with tls_client_ca: the nodes forward and push
 * checkpoint signatures to each other with their own certificates, and
 * a client without a certificate of the consortium's CA gets nothing but
 * 401 (the CLI says why and exits 1). */
static void test_raft_nodes_ask_for_client_certificates(void **state)
{
    (void)state;
    need_openssl();
    ct_cluster cl;
    char *out = NULL;
    raft_nodes_over_https(&cl, "tls-mtls", ca);
    /* no client certificate */
    unsetenv(CERT_ENV);
    unsetenv(KEY_ENV);
    for (int i = 0; i < 3; i++) expect_unauthenticated(&cl, i);
    /* under /fhir/ the refusal is a FHIR OperationOutcome */
    ct_resp r;
    char *url = ct_strf("%s/fhir/ResearchStudy/none", cl.node[0].url);
    ct_get(url, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(r.json);
    assert_string_equal(ct_json_str(r.json, "resourceType"), "OperationOutcome");
    ct_resp_free(&r);
    free(url);
    assert_int_equal(ct_cli(&out, CLI_MS, "status", "--node", cl.node[0].url, (char *)NULL), 1);
    assert_non_null(strstr(out, "certificate"));
    free(out);
    /* a certificate of another CA */
    setenv(CERT_ENV, other, 1);
    setenv(KEY_ENV, other_key, 1);
    expect_unauthenticated(&cl, 0);
    /* the consortium's again, and the nodes stop */
    setenv(CERT_ENV, cert, 1);
    setenv(KEY_ENV, key, 1);
    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);
    assert_int_equal(ct_cluster_verify_chains(&cl, CLI_MS), 0);
    ct_cluster_destroy(&cl);
}

/* The consortium CA's revocation list, made with `openssl ca` from its
 * own database under dir/crl-<tag>/; revoke names a certificate to add to
 * it first (NULL: none). 0 on success. */
static int make_crl(const char *tag, const char *ca_cert, const char *ca_priv, const char *revoke,
                    const char *out)
{
    char *db = ct_strf("%s/crl-%s", dir, tag), *cnf = ct_strf("%s/ca.cnf", db),
         *index = ct_strf("%s/index.txt", db), *number = ct_strf("%s/crlnumber", db),
         *tmp = ct_strf("%s.new", out);
    char *conf = ct_strf("[ca]\ndefault_ca = c\n[c]\ndatabase = %s\ncrlnumber = %s\ndefault_md = sha256\n"
                         "default_crl_days = 7\n",
                         index, number);
    int rc = access(cnf, F_OK) == 0 ? 0
             : cc_mkdirs(db, NULL) != CC_OK || ct_write_file(cnf, conf, strlen(conf)) ||
                     ct_write_file(index, "", 0) || ct_write_file(number, "01\n", 3)
                 ? -1
                 : 0;
    if (rc == 0 && revoke) {
        char *cmd =
            ct_strf("openssl ca -config %s -keyfile %s -cert %s -revoke %s", cnf, ca_priv, ca_cert, revoke);
        rc = sh(cmd);
        free(cmd);
    }
    if (rc == 0) { /* whole or not at all: the node may read it any moment */
        char *cmd =
            ct_strf("openssl ca -config %s -keyfile %s -cert %s -gencrl -out %s", cnf, ca_priv, ca_cert, tmp);
        rc = sh(cmd) || rename(tmp, out);
        free(cmd);
    }
    free(conf);
    free(db);
    free(cnf);
    free(index);
    free(number);
    free(tmp);
    return rc;
}

/* A client certificate of the consortium CA for name: dir/<name>.pem and
 * dir/<name>-key.pem. 0 on success. */
static int make_client(const char *name)
{
    char *crt = ct_strf("%s/%s.pem", dir, name), *k = ct_strf("%s/%s-key.pem", dir, name),
         *csr = ct_strf("%s/%s.csr", dir, name);
    char *req = ct_strf("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s -out %s "
                        "-subj '/CN=%s'",
                        k, csr, name);
    char *sign = ct_strf("openssl x509 -req -in %s -CA %s -CAkey %s -CAcreateserial -out %s -days 7", csr, ca,
                         ca_key, crt);
    int rc = sh(req) || sh(sign);
    free(req);
    free(sign);
    free(crt);
    free(k);
    free(csr);
    return rc;
}

/* GET /v1/status of url as client name (its certificate): the status,
 * and the error message into *message when there is one (caller frees). */
static long status_as(const char *url, const char *name, char **message)
{
    char *crt = ct_strf("%s/%s.pem", dir, name), *k = ct_strf("%s/%s-key.pem", dir, name),
         *u = ct_strf("%s/v1/status", url);
    setenv(CERT_ENV, crt, 1);
    setenv(KEY_ENV, k, 1);
    ct_resp r;
    ct_get(u, &r);
    long status = r.status;
    const char *m = json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
    if (message) *message = m ? strdup(m) : NULL;
    ct_resp_free(&r);
    free(crt);
    free(k);
    free(u);
    return status;
}

/* One GET of url on c (a connection kept open between calls) as client
 * name: the status; *reused says whether curl kept the connection. */
static long keepalive_get(CURL *c, const char *url, const char *name, bool *reused)
{
    char *crt = ct_strf("%s/%s.pem", dir, name), *k = ct_strf("%s/%s-key.pem", dir, name),
         *u = ct_strf("%s/v1/status", url);
    long status = 0, connects = -1;
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_SSLCERT, crt);
    curl_easy_setopt(c, CURLOPT_SSLKEY, k);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)CLI_MS);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    }
    *reused = connects == 0;
    if (sink) fclose(sink);
    free(crt);
    free(k);
    free(u);
    return status;
}

/* A node with a revocation list of its client CA (tls_client_crl): two
 * laptops with certificates of the CA are answered; once the CA revokes
 * one and publishes its new list, the node reads the file again by itself
 * and that laptop gets 401 saying its certificate was revoked (the CLI
 * too), while the other is still answered. A new file that does not load
 * leaves the list before it in force. A list of another CA, or a list
 * without tls_client_ca, stops the start with the reason. */
static void test_revoked_client_certificates_are_refused(void **state)
{
    (void)state;
    need_openssl();
    ct_cluster cl;
    char *crl = ct_strf("%s/consortium.crl", dir), *msg = NULL, *out = NULL;
    assert_int_equal(make_client("laptop1") || make_client("laptop2"), 0);
    assert_int_equal(make_crl("consortium", ca, ca_key, NULL, crl), 0);
    https_cluster(&cl, "tls-crl", 1, ca);
    char *cfg_path = ct_strf("%s/config.json", cl.net.node_dirs[0]);
    json_t *cfg = json_load_file(cfg_path, 0, NULL);
    assert_non_null(cfg);
    json_object_set_new(cfg, "tls_client_crl", json_string(crl));
    assert_int_equal(json_dump_file(cfg, cfg_path, 0), 0);
    json_decref(cfg);
    assert_int_equal(ct_cluster_start_node(&cl, 0, NODE_START_MS), 0);
    const char *url = cl.node[0].url;
    assert_int_equal(status_as(url, "laptop1", NULL), 200);
    assert_int_equal(status_as(url, "laptop2", NULL), 200);
    CURL *kept = curl_easy_init(); /* laptop1's connection, open across the revocation */
    bool reused = false;
    assert_non_null(kept);
    assert_int_equal(keepalive_get(kept, url, "laptop1", &reused), 200);

    /* laptop1 is stolen: the CA revokes it and publishes its new list */
    char *laptop1 = ct_strf("%s/laptop1.pem", dir);
    assert_int_equal(make_crl("consortium", ca, ca_key, laptop1, crl), 0);
    long status = 200;
    uint64_t deadline = ct_now_ms() + CONVERGE_MS;
    while ((status = status_as(url, "laptop1", &msg)) == 200 && ct_now_ms() < deadline) {
        free(msg);
        cc_sleep_ms(200);
    }
    assert_int_equal(status, 401);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "revoked"));
    free(msg);
    assert_int_equal(status_as(url, "laptop2", NULL), 200);
    /* the connection opened before the revocation is refused at its next request */
    assert_int_equal(keepalive_get(kept, url, "laptop1", &reused), 401);
    assert_true(reused);
    curl_easy_cleanup(kept);
    char *laptop1_key = ct_strf("%s/laptop1-key.pem", dir);
    setenv(CERT_ENV, laptop1, 1); /* the CLI, as laptop1 */
    setenv(KEY_ENV, laptop1_key, 1);
    free(laptop1_key);
    assert_int_equal(ct_cli(&out, CLI_MS, "status", "--node", url, (char *)NULL), 1);
    assert_non_null(strstr(out, "revoked"));
    free(out);

    /* a list that does not load changes nothing */
    assert_int_equal(ct_write_file(crl, "not a list\n", 11), 0);
    deadline = ct_now_ms() + CONVERGE_MS;
    while (!ct_tree_contains(cl.node[0].log_path, "does not load") && ct_now_ms() < deadline) {
        status_as(url, "laptop2", NULL); /* a new connection looks at the file */
        cc_sleep_ms(200);
    }
    assert_true(ct_tree_contains(cl.node[0].log_path, "does not load"));
    assert_int_equal(status_as(url, "laptop1", NULL), 401);
    assert_int_equal(status_as(url, "laptop2", NULL), 200);
    assert_int_equal(ct_cluster_stop_all(&cl, SIGTERM, 20000), 0);

    /* lists that cannot be used stop the start */
    char *other_crl = ct_strf("%s/other.crl", dir), *api = ct_strf("127.0.0.1:%d", ct_free_port());
    assert_int_equal(make_crl("other", other, other_key, NULL, other_crl), 0);
    int rc = ct_cli(&out, CLI_MS, "node", "--dir", cl.net.node_dirs[0], "--api", api, "--tls-client-crl",
                    other_crl, (char *)NULL);
    if (rc != 1 || !strstr(out, "is not signed by the client CA"))
        fail_msg("exit %d: %s", rc, out ? out : "");
    free(out);
    ct_net net;
    assert_int_equal(ct_net_create(&net, "tls-crl-alone"), 0);
    refused(2, net.node_dir, "needs the CA it comes from", "--tls-client-crl", crl, NULL, NULL);
    free(laptop1);
    free(cfg_path);
    free(crl);
    free(other_crl);
    free(api);
    ct_net_destroy(&net);
    setenv(CERT_ENV, cert, 1);
    setenv(KEY_ENV, key, 1);
    ct_cluster_destroy(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solo_node_serves_https_only),
        cmocka_unit_test(test_bad_tls_settings_stop_the_node),
        cmocka_unit_test(test_raft_nodes_talk_https),
        cmocka_unit_test(test_raft_nodes_ask_for_client_certificates),
        cmocka_unit_test(test_revoked_client_certificates_are_refused),
    };
    return cmocka_run_group_tests_name("tls", tests, group_setup, group_teardown);
}
