/*
 * test_trials_cli.c — the trial registry end to end on one real node,
 * through the carechain command: a sponsor registers a trial; enrolment
 * without research consent is refused; patients consent (consent grant
 * --trial) and are enrolled; the named researcher reads a subject's record
 * (signed, audited, purpose HRESCH) and an unnamed one cannot; the sponsor
 * switches the primary outcome after the start and posts results; the
 * integrity report shows the switch with its txids; the patient withdraws
 * and the researcher's next read is denied and audited; stats suppress
 * small cells; the FHIR views answer; bad input gets exit 2.
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
#include "cli/cli.h"
#include "support/ct_cli.h"
#include "support/support.h"

#define NODE_START_MS 20000
#define CLI_MS        60000
#define TRIAL         "NCT09876543"
#define PATIENTS      6

typedef struct fixture {
    ct_net net;
    ct_node node;
    cc_cli_http *h;
    cc_key sponsor, researcher, outsider, clinician, patient[PATIENTS];
    char researcher_id[CC_HASH_HEX], patient_id[PATIENTS][CC_HASH_HEX];
    char *dir, *sponsor_key, *researcher_key, *outsider_key, *clinician_key, *patient_key[PATIENTS];
    char record[40];
} fixture;

static fixture fx;

static bool member(const cc_key *k, const char *role)
{
    char hex[CC_HASH_HEX];
    return ct_cli_commit(fx.h, fx.net.chain_id, &fx.net.admin, "member.register",
                         json_pack("{s:s,s:s}", "id", ct_pk_hex(k, hex), "role", role), NULL);
}

static int setup(void **state)
{
    (void)state;
    fx.dir = ct_tmpdir("trials-cli");
    if (ct_net_create(&fx.net, "trials-cli") != 0) return -1;
    if (ct_node_start(&fx.node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS) != 0) return -1;
    fx.h = cc_cli_http_new(fx.node.url);
    ct_key("trials-cli/sponsor", &fx.sponsor);
    ct_key("trials-cli/researcher", &fx.researcher);
    ct_key("trials-cli/outsider", &fx.outsider);
    ct_key("trials-cli/clinician", &fx.clinician);
    ct_pk_hex(&fx.researcher, fx.researcher_id);
    if (!member(&fx.sponsor, "sponsor") || !member(&fx.researcher, "researcher") ||
        !member(&fx.outsider, "researcher") || !member(&fx.clinician, "clinician"))
        return -1;
    for (int i = 0; i < PATIENTS; i++) {
        char label[40], name[20];
        snprintf(label, sizeof label, "trials-cli/patient%d", i);
        snprintf(name, sizeof name, "patient%d", i);
        ct_key(label, &fx.patient[i]);
        ct_pk_hex(&fx.patient[i], fx.patient_id[i]);
        if (!member(&fx.patient[i], "patient")) return -1;
        if (!(fx.patient_key[i] = ct_key_file(fx.dir, name, &fx.patient[i]))) return -1;
    }
    fx.sponsor_key = ct_key_file(fx.dir, "sponsor", &fx.sponsor);
    fx.researcher_key = ct_key_file(fx.dir, "researcher", &fx.researcher);
    fx.outsider_key = ct_key_file(fx.dir, "outsider", &fx.outsider);
    fx.clinician_key = ct_key_file(fx.dir, "clinician", &fx.clinician);
    return fx.sponsor_key && fx.researcher_key && fx.outsider_key && fx.clinician_key ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cc_cli_http_free(fx.h);
    ct_node_stop(&fx.node, SIGTERM, 15000);
    ct_node_free(&fx.node);
    cc_key_wipe(&fx.sponsor);
    cc_key_wipe(&fx.researcher);
    cc_key_wipe(&fx.outsider);
    cc_key_wipe(&fx.clinician);
    for (int i = 0; i < PATIENTS; i++) {
        cc_key_wipe(&fx.patient[i]);
        free(fx.patient_key[i]);
    }
    ct_net_destroy(&fx.net);
    ct_rmtree(fx.dir);
    free(fx.dir);
    free(fx.sponsor_key);
    free(fx.researcher_key);
    free(fx.outsider_key);
    free(fx.clinician_key);
    return 0;
}

static char *write_doc(const char *name, const char *doc)
{
    char *path = ct_strf("%s/%s", fx.dir, name);
    assert_int_equal(ct_write_file(path, doc, strlen(doc)), 0);
    return path;
}

/* Run the CLI (arguments up to a NULL) expecting exit code want; returns
 * its output (caller frees). */
static char *run_cli(int line, int want, ...)
{
    const char *a[24] = {NULL};
    va_list ap;
    va_start(ap, want);
    for (size_t i = 0; i < sizeof a / sizeof a[0] - 1; i++)
        if (!(a[i] = va_arg(ap, const char *))) break;
    va_end(ap);
    char *out = NULL;
    int code = ct_cli(&out, CLI_MS, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11],
                      a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21], a[22], NULL);
    if (code != want) fail_msg("line %d: exited %d, not %d:\n%s", line, code, want, out);
    return out;
}
#define RUN(want, ...) run_cli(__LINE__, (want), __VA_ARGS__, NULL)

static void test_trial_end_to_end(void **state)
{
    (void)state;
    const char *node = fx.node.url;
    char *reg_doc =
        ct_strf("{\"trial\": \"%s\", \"title\": \"Drug X versus placebo in type 2 diabetes\",\n"
                " \"phase\": \"phase-3\",\n"
                " \"primaryOutcomes\": [{\"measure\": \"Change in HbA1c\", \"timeFrame\": \"26 weeks\"}],\n"
                " \"secondaryOutcomes\": [{\"measure\": \"Body weight\", \"timeFrame\": \"26 weeks\"}],\n"
                " \"enrollment\": 300, \"primaryCompletionDate\": \"2027-06-30\",\n"
                " \"researchers\": [\"%s\"]}\n",
                TRIAL, fx.researcher_id);
    char *reg = write_doc("trial.json", reg_doc);
    char *protocol = write_doc("protocol.pdf", "the protocol, version 1");
    char *sap = write_doc("sap.pdf", "the statistical analysis plan, version 1");
    char *out;

    /* usage errors: exit 2 */
    free(RUN(2, "trial", "register", "--node", node, "--key", fx.sponsor_key));
    free(RUN(2, "trial", "enroll", "--node", node, "--key", fx.clinician_key, "--trial", "NCT1", "--patient",
             fx.patient_id[0]));
    free(RUN(2, "trial", "bogus"));
    /* only a sponsor registers */
    free(RUN(1, "trial", "register", "--node", node, "--key", fx.clinician_key, "--file", reg, "--protocol",
             protocol, "--sap", sap));
    free(RUN(0, "trial", "register", "--node", node, "--key", fx.sponsor_key, "--file", reg, "--protocol",
             protocol, "--sap", sap));

    /* a patient writes a record of their own */
    char *obs =
        write_doc("obs.json", "{\"resourceType\":\"Observation\",\"status\":\"final\",\"category\":[{"
                              "\"coding\":[{\"code\":\"laboratory\"}]}],\"valueQuantity\":{\"value\":7.1}}");
    out = RUN(0, "record", "put", "--node", node, "--key", fx.patient_key[0], "--patient", fx.patient_id[0],
              "--file", obs, "--json");
    json_t *put = json_loads(out, 0, NULL); /* the answer, with the new record's id */
    if (!put || !json_string_value(json_object_get(put, "record"))) fail_msg("record put --json:\n%s", out);
    assert_int_equal(strlen(json_string_value(json_object_get(put, "record"))), 32);
    snprintf(fx.record, sizeof fx.record, "%s", json_string_value(json_object_get(put, "record")));
    json_decref(put);
    free(out);

    /* enrolment without research consent is refused */
    out = RUN(1, "trial", "enroll", "--node", node, "--key", fx.clinician_key, "--trial", TRIAL, "--patient",
              fx.patient_id[0]);
    assert_non_null(strstr(out, "research consent"));
    free(out);
    for (int i = 0; i < PATIENTS; i++) {
        free(RUN(0, "consent", "grant", "--node", node, "--key", fx.patient_key[i], "--patient",
                 fx.patient_id[i], "--to", fx.researcher_id, "--purpose", "HRESCH", "--trial", TRIAL));
        free(RUN(0, "trial", "enroll", "--node", node, "--key", fx.clinician_key, "--trial", TRIAL,
                 "--patient", fx.patient_id[i]));
    }

    /* the named researcher reads an enrolled subject's record; an unnamed one may not */
    out =
        RUN(0, "record", "get", fx.record, "--node", node, "--key", fx.researcher_key, "--purpose", "HRESCH");
    assert_non_null(strstr(out, "7.1"));
    free(out);
    free(RUN(1, "record", "get", fx.record, "--node", node, "--key", fx.outsider_key, "--purpose", "HRESCH"));
    free(
        RUN(1, "record", "get", fx.record, "--node", node, "--key", fx.researcher_key, "--purpose", "TREAT"));

    /* the sponsor switches the primary outcome after the start, then reports */
    char *amend = write_doc("amend.json", "{\"primaryOutcomes\": [{\"measure\": \"Fasting glucose\", "
                                          "\"timeFrame\": \"12 weeks\"}]}");
    free(RUN(0, "trial", "amend", "--node", node, "--key", fx.sponsor_key, "--trial", TRIAL, "--reason",
             "new primary endpoint", "--file", amend));
    char *res = write_doc("results.json",
                          "{\"outcomes\": [{\"measure\": \"Fasting glucose\", \"value\": \"-1.2\", "
                          "\"unit\": \"mmol/L\"}, {\"measure\": \"Body weight\", \"value\": \"-0.4\", "
                          "\"unit\": \"kg\"}]}");
    free(
        RUN(0, "trial", "results", "--node", node, "--key", fx.sponsor_key, "--trial", TRIAL, "--file", res));
    out = RUN(0, "trial", "integrity", TRIAL, "--node", node);
    if (!strstr(
            out,
            "[outcome-changed-after-start] primary outcome \"Change in HbA1c\" of version 1 was removed") ||
        !strstr(out, "[outcome-not-preregistered]") || !strstr(out, "[outcome-not-reported]") ||
        !strstr(out, "proof: tx "))
        fail_msg("integrity report:\n%s", out);
    free(out);
    free(RUN(1, "trial", "integrity", TRIAL, "--node", node, "--strict"));
    out = RUN(0, "trial", "integrity", TRIAL, "--node", node, "--json");
    json_t *report = json_loads(out, 0, NULL);
    assert_non_null(report);
    assert_int_equal(json_array_size(json_object_get(report, "findings")), 4);
    json_decref(report);
    free(out);
    out = RUN(0, "trial", "show", TRIAL, "--node", node);
    assert_non_null(strstr(out, "version 2"));
    assert_non_null(strstr(out, "(post-start)"));
    free(out);
    out = RUN(0, "trial", "show", TRIAL, "--node", node, "--fhir", "--version", "1");
    assert_non_null(strstr(out, "ResearchStudy"));
    assert_non_null(strstr(out, "Change in HbA1c"));
    free(out);
    out = RUN(0, "trial", "show", TRIAL, "--node", node, "--subjects", "--key", fx.sponsor_key);
    assert_non_null(strstr(out, "ResearchSubject"));
    assert_null(strstr(out, fx.patient_id[0])); /* pseudonymous */
    free(out);
    free(RUN(1, "trial", "show", TRIAL, "--node", node, "--subjects", "--key", fx.outsider_key));

    /* stats: the 6 enrolled, all active */
    out = RUN(0, "trial", "show", TRIAL, "--node", node, "--stats", "--json");
    assert_non_null(strstr(out, "\"enrolled\": 6"));
    free(out);
    out = RUN(0, "trial", "show", TRIAL, "--node", node, "--stats");
    if (!strstr(out, "planned 300, enrolled 6, active 6, withdrawn 0") || strstr(out, "{"))
        fail_msg("stats:\n%s", out);
    free(out);

    /* the patient withdraws: the researcher's next read is denied, and audited */
    free(RUN(0, "trial", "withdraw", "--node", node, "--key", fx.patient_key[0], "--trial", TRIAL,
             "--patient", fx.patient_id[0], "--reason", "changed my mind"));
    out =
        RUN(1, "record", "get", fx.record, "--node", node, "--key", fx.researcher_key, "--purpose", "HRESCH");
    assert_non_null(strstr(out, "revoked"));
    free(out);
    out = RUN(0, "audit", "--node", node, "--key", fx.patient_key[0]);
    /* the researcher's reads: one granted before, one denied after, both HRESCH */
    char rshort[17];
    snprintf(rshort, sizeof rshort, "%.16s", fx.researcher_id);
    size_t denied = 0, granted = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, rshort) || !strstr(line, "HRESCH")) continue;
        denied += strstr(line, "denied") != NULL;
        granted += strstr(line, "granted") != NULL;
    }
    if (denied < 1 || granted < 1)
        fail_msg("audit: %zu granted, %zu denied HRESCH reads by the researcher", granted, denied);
    free(out);
    out = RUN(0, "trial", "show", TRIAL, "--node", node, "--stats", "--json");
    if (!strstr(out, "\"withdrawn\": \"suppressed\"") || !strstr(out, "\"active\": \"suppressed\""))
        fail_msg("stats:\n%s", out);
    free(out);
    out = RUN(0, "trial", "show", TRIAL, "--node", node, "--stats");
    if (!strstr(out, "active suppressed, withdrawn suppressed")) fail_msg("stats:\n%s", out);
    free(out);
    free(RUN(1, "trial", "withdraw", "--node", node, "--key", fx.patient_key[0], "--trial", TRIAL,
             "--patient", fx.patient_id[0]));
    free(RUN(1, "trial", "show", "NCT00000000", "--node", node));

    free(reg_doc);
    free(reg);
    free(protocol);
    free(sap);
    free(obs);
    free(amend);
    free(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trial_end_to_end),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
