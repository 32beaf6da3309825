/*
 * test_claims_cli.c — claims end to end on one real node, through the
 * carechain command as a payer's analyst and a hospital's biller use it:
 * plan test/deploy/show, coverage enroll, claim simulate/submit/get/list/eob,
 * a duplicate denied, prior authorization pended -> approved -> consumed,
 * payment settle, who may read a claim (signed, audited reads), and the
 * HL7 example Claims (when ../shared/data/fhir is present) submitted as
 * they are and adjudicated.
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
#include <time.h>

#include "carechain/os.h"
#include "cli/cli.h"
#include "support/ct_cli.h"
#include "support/support.h"

#define NODE_START_MS 20000
#define CLI_MS        60000

typedef struct fixture {
    ct_net net;
    ct_node node;
    cc_cli_http *h;
    cc_key patient, clinician, payer, stranger;
    char patient_id[CC_HASH_HEX];
    char *dir, *pkey, *ckey, *paykey, *skey;
    char today[16];
    int year;
    char claim1[CC_HASH_HEX];
} fixture;

static fixture fx;

/* The claim id from a CLI answer ("txid <64 hex>"). */
static void txid_of(const char *out, char id[CC_HASH_HEX])
{
    const char *t = strstr(out, "txid ");
    if (!t || sscanf(t, "txid %64s", id) != 1) fail_msg("no txid in:\n%s", out);
}

static json_t *claim_json(const cc_key *k, const char *id, long *status)
{
    char path[160];
    cc_cli_resp r;
    cc_errbuf eb = {{0}};
    snprintf(path, sizeof path, "/v1/claims/%s", id);
    if (cc_cli_http_signed_get(fx.h, k, path, &r, &eb) != CC_OK) fail_msg("GET %s: %s", path, eb.msg);
    *status = r.status;
    json_t *j = r.json ? json_incref(r.json) : NULL;
    cc_cli_resp_free(&r);
    return j;
}

/* A FHIR Claim file with JSON numbers, as an EHR writes it. */
static char *claim_file(const char *name, const char *use, const char *code, const char *net, const char *dx)
{
    char *path = ct_strf("%s/%s.json", fx.dir, name);
    char *doc = ct_strf("{\"resourceType\": \"Claim\", \"status\": \"active\", \"use\": \"%s\",\n"
                        " \"type\": {\"coding\": [{\"system\": "
                        "\"http://terminology.hl7.org/CodeSystem/claim-type\", \"code\": "
                        "\"professional\"}]},\n"
                        " \"patient\": {\"reference\": \"Patient/1\", \"display\": \"Jane Example\"},\n"
                        " \"created\": \"%s\", \"provider\": {\"reference\": \"Organization/1\"},\n"
                        " \"priority\": {\"coding\": [{\"code\": \"normal\"}]},\n"
                        " \"insurance\": [{\"sequence\": 1, \"focal\": true, \"coverage\": {\"reference\": "
                        "\"Coverage/9876B1\"}}],\n"
                        " \"diagnosis\": [{\"sequence\": 1, \"diagnosisCodeableConcept\": {\"coding\": "
                        "[{\"code\": \"%s\"}]}}],\n"
                        " \"item\": [{\"sequence\": 1, \"productOrService\": {\"coding\": [{\"code\": "
                        "\"%s\"}]}, \"servicedDate\": "
                        "\"%s\",\n"
                        "            \"unitPrice\": {\"value\": %s, \"currency\": \"USD\"}, \"net\": "
                        "{\"value\": %s, \"currency\": "
                        "\"USD\"}}]}\n",
                        use, fx.today, dx, code, fx.today, net, net);
    assert_int_equal(ct_write_file(path, doc, strlen(doc)), 0);
    free(doc);
    return path;
}

static char *plan_file(bool broken)
{
    char *path = ct_strf("%s/plan%s.json", fx.dir, broken ? "-broken" : "");
    char *doc = ct_strf(
        "{\"id\": \"test-gold\", \"version\": 1, \"name\": \"Test Gold\", \"currency\": \"USD\",\n"
        " \"effective\": {\"start\": \"%d-01-01\", \"end\": \"%d-12-31\"},\n"
        " \"deductibleCents\": 50000, \"outOfPocketMaxCents\": 300000, \"timelyFilingDays\": 180,\n"
        " \"categories\": {\"office\": {\"copayCents\": 2500, \"coinsuranceBp\": 0, \"deductible\": false},\n"
        "                \"surgery\": {\"copayCents\": 0, \"coinsuranceBp\": 2000, \"deductible\": true}},\n"
        " \"covered\": [{\"code\": \"99213\", \"category\": \"office\", \"allowedCents\": 9500},\n"
        "             {\"code\": \"62264\", \"category\": \"surgery\", \"allowedCents\": 900000}],\n"
        " \"priorAuth\": [\"62264\"],\n"
        " \"tests\": [{\"name\": \"office visit\", \"claim\": {\"resourceType\": \"Claim\", \"status\": "
        "\"active\","
        " \"use\": \"claim\", \"type\": {\"coding\": [{\"code\": \"professional\"}]}, \"created\": "
        "\"%d-03-02\",\n"
        "   \"item\": [{\"sequence\": 1, \"productOrService\": {\"coding\": [{\"code\": \"99213\"}]}, "
        "\"servicedDate\": "
        "\"%d-03-02\", \"net\": {\"value\": 120.00, \"currency\": \"USD\"}}]},\n"
        "   \"expect\": {\"benefitCents\": %d, \"patientCents\": 2500}}]}\n",
        fx.year, fx.year, fx.year, fx.year, broken ? 7100 : 7000);
    assert_int_equal(ct_write_file(path, doc, strlen(doc)), 0);
    free(doc);
    return path;
}

static int setup(void **state)
{
    (void)state;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    fx.year = tm.tm_year + 1900;
    strftime(fx.today, sizeof fx.today, "%Y-%m-%d", &tm);
    fx.dir = ct_tmpdir("claims-cli");
    if (ct_net_create(&fx.net, "claims-cli") != 0) return -1;
    if (ct_node_start(&fx.node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS) != 0) return -1;
    fx.h = cc_cli_http_new(fx.node.url);
    ct_key("claims-cli/patient", &fx.patient);
    ct_key("claims-cli/clinician", &fx.clinician);
    ct_key("claims-cli/payer", &fx.payer);
    ct_key("claims-cli/stranger", &fx.stranger);
    char hex[CC_HASH_HEX];
    ct_pk_hex(&fx.patient, fx.patient_id);
    if (!ct_cli_commit(fx.h, fx.net.chain_id, &fx.net.admin, "member.register",
                       json_pack("{s:s,s:s}", "id", fx.patient_id, "role", "patient"), NULL) ||
        !ct_cli_commit(fx.h, fx.net.chain_id, &fx.net.admin, "member.register",
                       json_pack("{s:s,s:s}", "id", ct_pk_hex(&fx.clinician, hex), "role", "clinician"),
                       NULL) ||
        !ct_cli_commit(fx.h, fx.net.chain_id, &fx.net.payer_admin, "member.register",
                       json_pack("{s:s,s:s}", "id", ct_pk_hex(&fx.payer, hex), "role", "payer"), NULL) ||
        !ct_cli_commit(fx.h, fx.net.chain_id, &fx.net.payer_admin, "member.register",
                       json_pack("{s:s,s:s}", "id", ct_pk_hex(&fx.stranger, hex), "role", "clinician"), NULL))
        return -1;
    fx.pkey = ct_key_file(fx.dir, "patient", &fx.patient);
    fx.ckey = ct_key_file(fx.dir, "clinician", &fx.clinician);
    fx.paykey = ct_key_file(fx.dir, "payer", &fx.payer);
    fx.skey = ct_key_file(fx.dir, "stranger", &fx.stranger);
    return fx.pkey && fx.ckey && fx.paykey && fx.skey ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cc_cli_http_free(fx.h);
    ct_node_stop(&fx.node, SIGTERM, 15000);
    ct_node_free(&fx.node);
    cc_key_wipe(&fx.patient);
    cc_key_wipe(&fx.clinician);
    cc_key_wipe(&fx.payer);
    cc_key_wipe(&fx.stranger);
    ct_net_destroy(&fx.net);
    ct_rmtree(fx.dir);
    free(fx.dir);
    free(fx.pkey);
    free(fx.ckey);
    free(fx.paykey);
    free(fx.skey);
    return 0;
}

static void test_plan(void **state)
{
    (void)state;
    char *out = NULL, *good = plan_file(false), *bad = plan_file(true);
    int code = ct_cli(&out, CLI_MS, "plan", "test", bad, NULL);
    if (code != 1 || !strstr(out, "office visit")) fail_msg("plan test (broken) exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "plan", "deploy", "--node", fx.node.url, "--key", fx.paykey, "--file", bad,
                  NULL);
    if (code != 1) fail_msg("plan deploy (broken) exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "plan", "test", good, NULL);
    if (code != 0 || !strstr(out, "all pass")) fail_msg("plan test exited %d:\n%s", code, out);
    free(out);
    /* only a payer deploys */
    code =
        ct_cli(&out, CLI_MS, "plan", "deploy", "--node", fx.node.url, "--key", fx.ckey, "--file", good, NULL);
    if (code != 1) fail_msg("plan deploy by a clinician exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "plan", "deploy", "--node", fx.node.url, "--key", fx.paykey, "--file", good,
                  NULL);
    if (code != 0) fail_msg("plan deploy exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "plan", "show", "test-gold", "--node", fx.node.url, NULL);
    if (code != 0 || !strstr(out, "Test Gold")) fail_msg("plan show exited %d:\n%s", code, out);
    free(out);
    char start[16];
    snprintf(start, sizeof start, "%d-01-01", fx.year);
    code = ct_cli(&out, CLI_MS, "coverage", "enroll", "--node", fx.node.url, "--key", fx.paykey, "--coverage",
                  "cov-test-1", "--patient", fx.patient_id, "--plan", "test-gold", "--start", start,
                  "--subscriber", "W1", NULL);
    if (code != 0) fail_msg("coverage enroll exited %d:\n%s", code, out);
    free(out);
    free(good);
    free(bad);
}

static void test_claim_lifecycle(void **state)
{
    (void)state;
    char *out = NULL, *visit = claim_file("visit", "claim", "99213", "120.00", "E11.9");
    /* what-if first: nothing is committed */
    int code = ct_cli(&out, CLI_MS, "claim", "simulate", "--node", fx.node.url, "--key", fx.ckey, "--file",
                      visit, "--patient", fx.patient_id, "--coverage", "cov-test-1", NULL);
    if (code != 0 || !strstr(out, "What-if")) fail_msg("claim simulate exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "claim", "submit", "--node", fx.node.url, "--key", fx.ckey, "--file", visit,
                  "--patient", fx.patient_id, "--coverage", "cov-test-1", NULL);
    if (code != 0) fail_msg("claim submit exited %d:\n%s", code, out);
    txid_of(out, fx.claim1);
    free(out);
    long st;
    json_t *c = claim_json(&fx.patient, fx.claim1, &st);
    assert_int_equal(st, 200);
    assert_string_equal(ct_json_str(c, "status"), "adjudicated");
    char *stored = json_dumps(c, JSON_COMPACT);
    if (strstr(stored, "Jane Example")) fail_msg("the ledger holds the patient's name:\n%s", stored);
    free(stored);
    assert_int_equal(ct_json_int(c, "benefitCents"), 7000);
    assert_int_equal(ct_json_int(c, "patientCents"), 2500);
    assert_int_equal(strlen(ct_json_str(c, "audit")), 64); /* an audited read */
    json_decref(c);
    /* who may read it */
    json_decref(claim_json(&fx.stranger, fx.claim1, &st));
    assert_int_equal(st, 403);
    json_decref(claim_json(&fx.payer, fx.claim1, &st));
    assert_int_equal(st, 200);

    /* the same claim again: a duplicate */
    code = ct_cli(&out, CLI_MS, "claim", "submit", "--node", fx.node.url, "--key", fx.ckey, "--file", visit,
                  "--patient", fx.patient_id, "--coverage", "cov-test-1", NULL);
    if (code != 0) fail_msg("duplicate claim submit exited %d:\n%s", code, out);
    char dup[CC_HASH_HEX];
    txid_of(out, dup);
    free(out);
    c = claim_json(&fx.clinician, dup, &st);
    assert_int_equal(st, 200);
    assert_int_equal(ct_json_int(c, "benefitCents"), 0);
    json_t *line = json_array_get(json_object_get(c, "lines"), 0);
    assert_string_equal(ct_json_str(line, "decision"), "deny");
    char *carc = json_dumps(json_object_get(line, "carc"), JSON_ENCODE_ANY);
    assert_non_null(strstr(carc, "18"));
    free(carc);
    json_decref(c);

    /* prior authorization: pended, approved, consumed */
    char *surg_pa = claim_file("surgery-pa", "preauthorization", "62264", "12500.00", "M96.1");
    char *surg = claim_file("surgery", "claim", "62264", "12500.00", "M96.1");
    code = ct_cli(&out, CLI_MS, "claim", "submit", "--node", fx.node.url, "--key", fx.ckey, "--file", surg_pa,
                  "--patient", fx.patient_id, "--coverage", "cov-test-1", NULL);
    if (code != 0) fail_msg("preauthorization exited %d:\n%s", code, out);
    char pa[CC_HASH_HEX];
    txid_of(out, pa);
    free(out);
    c = claim_json(&fx.payer, pa, &st);
    assert_string_equal(ct_json_str(c, "status"), "pended");
    json_decref(c);
    code = ct_cli(&out, CLI_MS, "priorauth", "decide", "--node", fx.node.url, "--key", fx.paykey, "--claim",
                  pa, "--approve", "--reason", "criteria met", NULL);
    if (code != 0) fail_msg("priorauth decide exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "claim", "submit", "--node", fx.node.url, "--key", fx.ckey, "--file", surg,
                  "--patient", fx.patient_id, "--coverage", "cov-test-1", "--preauth", pa, NULL);
    if (code != 0) fail_msg("the authorized claim exited %d:\n%s", code, out);
    char c3[CC_HASH_HEX];
    txid_of(out, c3);
    free(out);
    c = claim_json(&fx.clinician, c3, &st);
    assert_string_equal(ct_json_str(c, "status"), "adjudicated");
    assert_true(ct_json_int(c, "benefitCents") > 0);
    json_decref(c);
    /* the authorization is used up: the same surgery again is denied 197 (or 18) */
    code = ct_cli(&out, CLI_MS, "claim", "submit", "--node", fx.node.url, "--key", fx.ckey, "--file", surg,
                  "--patient", fx.patient_id, "--coverage", "cov-test-1", "--preauth", pa, NULL);
    char c4[CC_HASH_HEX];
    txid_of(out, c4);
    free(out);
    c = claim_json(&fx.clinician, c4, &st);
    assert_int_equal(ct_json_int(c, "benefitCents"), 0);
    json_decref(c);

    /* settle; the claim is paid; the patient's EOBs */
    char both[200];
    snprintf(both, sizeof both, "%s,%s", fx.claim1, c3);
    code = ct_cli(&out, CLI_MS, "payment", "settle", "--node", fx.node.url, "--key", fx.paykey, "--trace",
                  "EFT-TEST-1", "--claims", both, NULL);
    if (code != 0) fail_msg("payment settle exited %d:\n%s", code, out);
    free(out);
    c = claim_json(&fx.patient, fx.claim1, &st);
    assert_string_equal(ct_json_str(c, "status"), "paid");
    json_decref(c);
    code = ct_cli(&out, CLI_MS, "claim", "get", fx.claim1, "--node", fx.node.url, "--key", fx.pkey, NULL);
    if (code != 0 || !strstr(out, "EFT-TEST-1")) fail_msg("claim get exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "claim", "list", "--node", fx.node.url, "--key", fx.pkey, NULL);
    if (code != 0 || !strstr(out, fx.claim1)) fail_msg("claim list exited %d:\n%s", code, out);
    free(out);
    /* the patient's list names each claim once, the decided preauthorization too */
    char path[200];
    cc_cli_resp r;
    cc_errbuf eb = {{0}};
    snprintf(path, sizeof path, "/v1/patients/%s/claims", fx.patient_id);
    if (cc_cli_http_signed_get(fx.h, &fx.patient, path, &r, &eb) != CC_OK)
        fail_msg("GET %s: %s", path, eb.msg);
    assert_int_equal(r.status, 200);
    const json_t *list = json_object_get(r.json, "claims");
    assert_int_equal(ct_json_int(r.json, "total"), (json_int_t)json_array_size(list));
    size_t pa_seen = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *id = ct_json_str(json_array_get(list, i), "id");
        pa_seen += strcmp(id, pa) == 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(id, ct_json_str(json_array_get(list, j), "id")) == 0)
                fail_msg("claim %s listed twice", id);
    }
    assert_int_equal(pa_seen, 1);
    cc_cli_resp_free(&r);
    code = ct_cli(&out, CLI_MS, "claim", "eob", "--node", fx.node.url, "--key", fx.pkey, "--json", NULL);
    if (code != 0 || !strstr(out, "ExplanationOfBenefit")) fail_msg("claim eob exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "claim", "eob", "--node", fx.node.url, "--key", fx.skey, "--patient",
                  fx.patient_id, NULL);
    if (code != 1) fail_msg("claim eob by a stranger exited %d:\n%s", code, out);
    free(out);
    free(visit);
    free(surg_pa);
    free(surg);
}

/* The HL7 example Claims, submitted as they are (the CLI reduces them to the
 * minimum necessary and quotes their decimals), adjudicate without error. */
static void test_hl7_claims(void **state)
{
    (void)state;
    const char *base = getenv("CARECHAIN_SHARED_DATA");
    char *dir = ct_strf("%s/fhir", base ? base : "../shared/data");
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "[  SKIPPED ] the HL7 FHIR examples are not here (%s)\n", dir);
        free(dir);
        skip();
    }
    struct dirent *e;
    unsigned n = 0;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "claim-example", 13) != 0) continue;
        char *path = ct_strf("%s/%s", dir, e->d_name), *out = NULL;
        int code = ct_cli(&out, CLI_MS, "claim", "submit", "--node", fx.node.url, "--key", fx.ckey, "--file",
                          path, "--patient", fx.patient_id, "--coverage", "cov-test-1", NULL);
        if (code != 0) fail_msg("%s: claim submit exited %d:\n%s", e->d_name, code, out);
        char id[CC_HASH_HEX];
        txid_of(out, id);
        long st;
        json_t *c = claim_json(&fx.clinician, id, &st);
        assert_int_equal(st, 200);
        const char *status = ct_json_str(c, "status");
        assert_true(strcmp(status, "adjudicated") == 0 || strcmp(status, "pended") == 0);
        json_decref(c);
        free(out);
        free(path);
        n++;
    }
    closedir(d);
    free(dir);
    fprintf(stderr, "%u HL7 example claims adjudicated\n", n);
    assert_true(n > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_claim_lifecycle),
        cmocka_unit_test(test_hl7_claims),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
