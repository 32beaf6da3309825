/*
 * cli/demo_trials.c — the clinical research scenario of `carechain demo`
 * (issue "a trial registry with pre-registered outcomes"): a sponsor
 * registers a trial with its outcomes; enrolment without research consent
 * is refused; the patient consents and a site enrols them; the sponsor
 * switches the primary outcome after the start and posts results; the
 * integrity report shows the switch, citing the txids that prove it.
 */
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "cli/cli.h"

#define PATH_BYTES 4096
#define DEMO_TRIAL "NCT04000001"

typedef struct scene {
    cc_cli_http *h;
    const uint8_t *chain_id;
    const char *dir;
} scene;

static bool key_at(const scene *s, const char *name, cc_key *k, bool create)
{
    char path[PATH_BYTES];
    cc_errbuf eb = {{0}};
    snprintf(path, sizeof path, "%s/keys/%s.key", s->dir, name);
    if (create) {
        cc_key_generate(k);
        if (cc_key_save(path, k, NULL, &eb) == CC_OK) return true;
    } else if (cc_key_load(path, k, NULL, &eb) == CC_OK) {
        return true;
    }
    printf("   FAILED: %s: %s\n", path, eb.msg);
    return false;
}

static bool commit(scene *s, const cc_key *k, const char *type, json_t *payload, char txid[CC_HASH_HEX])
{
    cc_errbuf eb = {{0}};
    if (cc_cli_commit_json(s->h, s->chain_id, k, type, payload, txid, &eb) == CC_OK) return true;
    printf("   FAILED: %s: %s\n", type, eb.msg);
    return false;
}

static json_t *outcome(const char *measure, const char *frame)
{
    return json_pack("{s:s, s:s}", "measure", measure, "timeFrame", frame);
}

/* Show the integrity report; true when it shows the primary outcome switch. */
static bool show_report(scene *s)
{
    cc_cli_resp r;
    cc_errbuf eb = {{0}};
    bool switched = false;
    if (cc_cli_http_request(s->h, "/v1/trials/" DEMO_TRIAL "/integrity", NULL, NULL, 0, &r, &eb) != CC_OK ||
        r.status != 200 || !r.json) {
        printf("   FAILED: GET /v1/trials/%s/integrity: %s\n", DEMO_TRIAL, eb.msg[0] ? eb.msg : "no report");
        cc_cli_resp_free(&r);
        return false;
    }
    const json_t *findings = json_object_get(r.json, "findings");
    printf("   GET /v1/trials/%s/integrity (anyone may ask) finds %zu problem(s):\n", DEMO_TRIAL,
           json_array_size(findings));
    size_t i, j;
    json_t *f, *t;
    json_array_foreach(findings, i, f)
    {
        const char *rule = cc_cli_jstr(f, "rule", "?");
        printf("   %zu. [%s] %s\n", i + 1, rule, cc_cli_jstr(f, "message", ""));
        json_array_foreach(json_object_get(f, "txids"), j, t)
        {
            char sh[CC_CLI_SHORT_BYTES];
            printf("%s%s", j ? ", " : "      proof: txs ", cc_cli_short(json_string_value(t), sh));
        }
        printf("\n");
        switched = switched || (strcmp(rule, "outcome-changed-after-start") == 0 &&
                                json_is_true(json_object_get(f, "primary")));
    }
    printf("   Each cited tx has a Merkle proof anyone can check offline (carechain proof TXID):\n"
           "   the dates come from the blocks, so nobody can back-date a registration.\n");
    cc_cli_resp_free(&r);
    return switched;
}

int cc_cli_demo_trials(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const char *net_dir)
{
    scene s = {.h = h, .chain_id = chain_id, .dir = net_dir};
    cc_key admin_research, admin_hospital, sponsor, researcher, site, patient;
    char researcher_id[CC_HASH_HEX], patient_id[CC_HASH_HEX], tx[CC_HASH_HEX], sh[CC_CLI_SHORT_BYTES];
    cc_errbuf eb = {{0}};
    int rc = CC_EXIT_FAIL;
    memset(&sponsor, 0, sizeof sponsor);
    memset(&researcher, 0, sizeof researcher);
    memset(&site, 0, sizeof site);
    memset(&patient, 0, sizeof patient);
    memset(&admin_hospital, 0, sizeof admin_hospital);
    if (!key_at(&s, "admin-research", &admin_research, false)) return CC_EXIT_FAIL;
    if (!key_at(&s, "admin-hospital", &admin_hospital, false)) goto out_admin;
    if (!key_at(&s, "sponsor", &sponsor, false) || !key_at(&s, "clinician", &site, false) ||
        !key_at(&s, "trials-researcher", &researcher, true) || !key_at(&s, "trials-patient", &patient, true))
        goto out_keys;
    cc_hex(researcher.pk, CC_PUBKEY_BYTES, researcher_id);
    cc_hex(patient.pk, CC_PUBKEY_BYTES, patient_id);
    if (!commit(&s, &admin_research, "member.register",
                json_pack("{s:s, s:s, s:s}", "id", researcher_id, "role", "researcher", "name",
                          "Dr Novak (trial statistician)"),
                NULL) ||
        !commit(&s, &admin_hospital, "member.register",
                json_pack("{s:s, s:s}", "id", patient_id, "role", "patient"), NULL))
        goto out_keys;

    /* 1. registration, with the outcomes fixed in advance */
    json_t *reg = json_pack(
        "{s:s, s:s, s:s, s:[o], s:[o], s:i, s:s, s:s, s:s, s:[s]}", "trial", DEMO_TRIAL, "title",
        "Drug X versus placebo in adults with type 2 diabetes", "phase", "phase-3", "primaryOutcomes",
        outcome("Change in HbA1c from baseline", "26 weeks"), "secondaryOutcomes",
        outcome("Change in body weight", "26 weeks"), "enrollment", 300, "primaryCompletionDate",
        "2027-06-30", "protocolSha256", "5d41402abc4b2a76b9719d911017c592aa1ec4e5e5b2d0f0c7d3f1f4e2a8b9c0",
        "sapSha256", "9c1185a5c5e9fc54612808977ee8f548b2258d31a5e2bd0d3b0c5e7e3e6b1a2f", "researchers",
        researcher_id);
    if (!commit(&s, &sponsor, "trial.register", reg, tx)) goto out_keys;
    printf("   The sponsor registers trial %s (tx %s): primary outcome \"Change in HbA1c from baseline\",\n"
           "   secondary \"Change in body weight\", the SHA-256 of the protocol and of the analysis plan.\n",
           DEMO_TRIAL, cc_cli_short(tx, sh));

    /* 2. consent, then enrolment */
    json_t *enrol = json_pack("{s:s, s:s}", "trial", DEMO_TRIAL, "patient", patient_id);
    if (cc_cli_commit_json(h, chain_id, &site, "trial.enroll", json_incref(enrol), NULL, &eb) == CC_OK) {
        printf("   FAILED: a patient was enrolled without research consent\n");
        json_decref(enrol);
        goto out_keys;
    }
    printf("   The site tries to enrol patient %.12s… first: refused (%s).\n", patient_id, eb.msg);
    json_t *consent = json_pack("{s:s, s:{s:s}, s:[s], s:[s], s:s, s:s}", "patient", patient_id, "grantee",
                                "identity", researcher_id, "actions", "read", "purposes", "HRESCH",
                                "provision", "permit", "trial", DEMO_TRIAL);
    if (!commit(&s, &patient, "consent.grant", consent, tx)) {
        json_decref(enrol);
        goto out_keys;
    }
    printf("   The patient grants research consent (purpose HRESCH, naming %s): tx %s.\n", DEMO_TRIAL,
           cc_cli_short(tx, sh));
    if (!commit(&s, &site, "trial.enroll", enrol, tx)) goto out_keys;
    printf("   The site enrols the patient: tx %s. The trial's researchers may now read the patient's\n"
           "   records for research, each read signed and audited; a withdrawal ends that.\n",
           cc_cli_short(tx, sh));

    /* 3. the switch, then results */
    json_t *amend =
        json_pack("{s:s, s:i, s:s, s:[o]}", "trial", DEMO_TRIAL, "version", 2, "reason", "sponsor decision",
                  "primaryOutcomes", outcome("Fasting plasma glucose", "12 weeks"));
    if (!commit(&s, &sponsor, "trial.amend", amend, tx)) goto out_keys;
    printf("   After the start, the sponsor amends the registration (version 2, tx %s): the primary\n"
           "   outcome becomes \"Fasting plasma glucose\". Version 1 stays readable.\n",
           cc_cli_short(tx, sh));
    json_t *res = json_pack("{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}", "trial", DEMO_TRIAL, "outcomes",
                            "measure", "Fasting plasma glucose", "value", "-1.2", "unit", "mmol/L", "measure",
                            "Change in body weight", "value", "-0.4", "unit", "kg");
    if (!commit(&s, &sponsor, "trial.results", res, tx)) goto out_keys;
    printf("   The sponsor posts results (tx %s) for the new primary outcome and the secondary one.\n",
           cc_cli_short(tx, sh));

    /* 4. the report */
    if (!show_report(&s)) {
        printf("   FAILED: the integrity report does not show the primary outcome switch\n");
        goto out_keys;
    }
    rc = CC_EXIT_OK;
out_keys:
    cc_key_wipe(&sponsor);
    cc_key_wipe(&researcher);
    cc_key_wipe(&site);
    cc_key_wipe(&patient);
    cc_key_wipe(&admin_hospital);
out_admin:
    cc_key_wipe(&admin_research);
    return rc;
}
