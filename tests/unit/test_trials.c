/*
 * test_trials.c — the clinical trial registry on a real chain with block
 * times under the test's control: integrity reports for crafted trials
 * (clean; primary outcome switched; outcome dropped; outcome added;
 * results late; registration late), each flagged exactly and nothing on
 * the clean one; enrolment refused without research consent; research
 * access granted to a named researcher while enrolled and denied after
 * withdrawal; versions; stats suppression.
 */
#include "unit_support.h"

#include <jansson.h>

#include "apps/records.h"
#include "apps/trials.h"
#include "carechain/chain.h"

#define T0     1764000100000ULL /* 2025-11-24T16:01:40Z */
#define MS_DAY 86400000ULL
#define KEYS   40
#define TRIAL  "NCT01234567"

enum {
    NODE = 1,
    HADMIN = 2,
    PADMIN = 3,
    SPONSOR = 10,    /* sponsor, hospital */
    RESEARCHER = 11, /* researcher, hospital, named on the trials */
    CLIN = 12,       /* clinician, hospital: the site */
    OUTSIDER = 13,   /* researcher, hospital, not named */
    PSPONSOR = 14,   /* sponsor of the payer organisation */
    PAT = 20,        /* patients 20..29 */
};

typedef struct fixture {
    char *dir, *genesis;
    cc_chain *c;
    cc_key k[KEYS];
    char hex[KEYS][CC_HASH_HEX];
    uint64_t t;
    char msg[CC_RESULT_MSG_MAX + 1];
} fixture;

#define EXPECT(code, call)                                                                                   \
    do {                                                                                                     \
        cc_err got_ = (call);                                                                                \
        if (got_ != (code))                                                                                  \
            fail_msg("%s: expected %s, got %s (%s)", #call, cc_err_name(code), cc_err_name(got_), f->msg);   \
    } while (0)

/* Send one tx in its own block at the fixture's clock (then +1 s). */
static cc_err send(fixture *f, int signer, const char *type, json_t *payload, char txid[CC_HASH_HEX])
{
    cc_tx tx;
    cc_result r;
    cc_header h;
    cc_errbuf eb = {""};
    char *text = cc_json_dump(payload);
    json_decref(payload);
    f->t += 1000;
    cc_tx_params p = {.chain_id = cc_chain_genesis(f->c)->chain_id,
                      .type = type,
                      .payload = text,
                      .payload_len = strlen(text),
                      .created_ms = f->t,
                      .expiry_ms = f->t + 3600 * 1000,
                      .nonce = f->t};
    cc_err rc = cc_tx_create(&p, &f->k[signer], &tx, &eb);
    free(text);
    if (rc != CC_OK) {
        snprintf(f->msg, sizeof f->msg, "%s", eb.msg);
        return rc;
    }
    if (txid) cc_hex(tx.txid, CC_HASH_BYTES, txid);
    if (cc_chain_produce(f->c, &tx, 1, f->t + 1, &f->k[NODE], &h, &r, &eb) != CC_OK)
        fail_msg("produce: %s", eb.msg);
    cc_tx_free(&tx);
    snprintf(f->msg, sizeof f->msg, "%s", r.message);
    return (cc_err)r.code;
}

static cc_err state_get(void *ctx, const char *key, json_t **out)
{
    char *v = NULL;
    size_t n;
    if (cc_chain_state_get(ctx, key, &v, &n) != CC_OK) return CC_ERR_NOT_FOUND;
    *out = cc_json_parse((uint8_t *)v, n, NULL);
    free(v);
    return *out ? CC_OK : CC_ERR_CORRUPT;
}

static void register_as(fixture *f, int admin, int key, const char *role)
{
    EXPECT(CC_OK,
           send(f, admin, "member.register", json_pack("{s:s, s:s}", "id", f->hex[key], "role", role), NULL));
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = ut_tmpdir();
    f->genesis = ut_genesis();
    char data[600];
    snprintf(data, sizeof data, "%s/data", f->dir);
    assert_int_equal(cc_chain_open(data, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &f->c, NULL),
                     CC_OK);
    for (int i = 0; i < KEYS; i++) {
        ut_key(i, &f->k[i]);
        cc_hex(f->k[i].pk, CC_PUBKEY_BYTES, f->hex[i]);
    }
    f->t = T0;
    register_as(f, HADMIN, SPONSOR, "sponsor");
    register_as(f, HADMIN, RESEARCHER, "researcher");
    register_as(f, HADMIN, CLIN, "clinician");
    register_as(f, HADMIN, OUTSIDER, "researcher");
    register_as(f, PADMIN, PSPONSOR, "sponsor");
    for (int i = PAT; i < PAT + 10; i++) register_as(f, HADMIN, i, "patient");
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

/* ---- building trials ---------------------------------------------------------------- */

static json_t *outcome(const char *measure, const char *frame)
{
    return json_pack("{s:s, s:s, s:s}", "measure", measure, "timeFrame", frame, "description",
                     "as in the protocol");
}

/* A registration of trial id: primary outcome A, secondary S. */
static json_t *registration(fixture *f, const char *id, const char *pcd)
{
    return json_pack("{s:s, s:s, s:s, s:[o], s:[o], s:i, s:s, s:s, s:s, s:[s]}", "trial", id, "title",
                     "Drug X versus placebo in type 2 diabetes", "phase", "phase-3", "primaryOutcomes",
                     outcome("A: change in HbA1c", "26 weeks"), "secondaryOutcomes",
                     outcome("S: body weight", "26 weeks"), "enrollment", 300, "primaryCompletionDate", pcd,
                     "protocolSha256", "1111111111111111111111111111111111111111111111111111111111111111",
                     "sapSha256", "2222222222222222222222222222222222222222222222222222222222222222",
                     "researchers", f->hex[RESEARCHER]);
}

/* The patient's research consent for trial id, to the researcher. */
static cc_err research_consent(fixture *f, int patient, const char *id, char txid[CC_HASH_HEX])
{
    return send(f, patient, "consent.grant",
                json_pack("{s:s, s:{s:s}, s:[s], s:[s], s:s, s:s}", "patient", f->hex[patient], "grantee",
                          "identity", f->hex[RESEARCHER], "actions", "read", "purposes", "HRESCH",
                          "provision", "permit", "trial", id),
                txid);
}

static cc_err enroll(fixture *f, int site, int patient, const char *id, char txid[CC_HASH_HEX])
{
    return send(f, site, "trial.enroll", json_pack("{s:s, s:s}", "trial", id, "patient", f->hex[patient]),
                txid);
}

/* Results naming the measures in a comma-separated list. */
static cc_err results(fixture *f, const char *id, const char *measures, char txid[CC_HASH_HEX])
{
    json_t *list = json_array();
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", measures);
    for (char *m = strtok_r(buf, ",", &save); m; m = strtok_r(NULL, ",", &save))
        json_array_append_new(list, json_pack("{s:s, s:s}", "measure", m, "value", "-0.8"));
    return send(f, SPONSOR, "trial.results", json_pack("{s:s, s:o}", "trial", id, "outcomes", list), txid);
}

static json_t *integrity(fixture *f, const char *id)
{
    json_t *r = NULL;
    assert_int_equal(cc_trials_integrity(state_get, f->c, id, &r), CC_OK);
    return r;
}

static const json_t *findings(const json_t *r)
{
    return json_object_get(r, "findings");
}

/* The finding at i must be rule about measure (NULL: any) and cite txid (NULL: any). */
static void expect_finding(const json_t *r, size_t i, const char *rule, const char *measure, const char *txid)
{
    const json_t *fd = json_array_get(findings(r), i);
    if (!fd) fail_msg("no finding %zu", i);
    assert_string_equal(json_string_value(json_object_get(fd, "rule")), rule);
    if (measure) assert_string_equal(json_string_value(json_object_get(fd, "measure")), measure);
    if (txid) {
        bool cited = false;
        size_t j;
        json_t *v;
        json_array_foreach(json_object_get(fd, "txids"), j, v)
        {
            cited = cited || strcmp(json_string_value(v), txid) == 0;
        }
        if (!cited) fail_msg("finding %zu (%s) does not cite %s", i, rule, txid);
    }
}

static void dump_on_fail(const json_t *r, size_t want)
{
    if (json_array_size(findings(r)) != want) {
        char *s = json_dumps(r, JSON_INDENT(1));
        fail_msg("expected %zu findings, got: %s", want, s);
    }
}

/* ---- integrity ------------------------------------------------------------------------ */

static void test_clean(void **state)
{
    fixture *f = *state;
    char reg[CC_HASH_HEX], enr[CC_HASH_HEX];
    EXPECT(CC_OK, send(f, SPONSOR, "trial.register", registration(f, TRIAL, "2026-06-30"), reg));
    /* an amendment before anyone is enrolled is not a switch */
    EXPECT(CC_OK, send(f, SPONSOR, "trial.amend",
                       json_pack("{s:s, s:i, s:s, s:[o]}", "trial", TRIAL, "version", 2, "reason",
                                 "clarified the time frame", "primaryOutcomes",
                                 outcome("A: change in HbA1c", "24 weeks")),
                       NULL));
    EXPECT(CC_OK, research_consent(f, PAT, TRIAL, NULL));
    f->t += 5 * MS_DAY;
    EXPECT(CC_OK, enroll(f, CLIN, PAT, TRIAL, enr));
    /* results exactly on the last day they are due: 2027-06-30 */
    f->t = 1814342400000ULL; /* 2027-06-30T08:00:00Z */
    EXPECT(CC_OK, results(f, TRIAL, "A: change in HbA1c,S: body weight", NULL));
    json_t *r = integrity(f, TRIAL);
    dump_on_fail(r, 0);
    assert_true(json_is_true(json_object_get(r, "clean")));
    assert_int_equal(json_integer_value(json_object_get(r, "baselineVersion")), 2);
    assert_string_equal(json_string_value(json_object_get(r, "resultsDue")), "2027-06-30");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "firstEnrolment"), "txid")),
                        enr);
    json_decref(r);
    /* both versions stay readable; the second is not post-start */
    json_t *v = NULL;
    assert_int_equal(cc_trials_view(state_get, f->c, TRIAL, &v), CC_OK);
    assert_int_equal(json_array_size(json_object_get(v, "versions")), 2);
    assert_false(
        json_is_true(json_object_get(json_array_get(json_object_get(v, "versions"), 1), "postStart")));
    assert_string_equal(json_string_value(json_object_get(v, "txid")), reg);
    json_decref(v);
}

static void test_primary_switched(void **state)
{
    fixture *f = *state;
    char reg[CC_HASH_HEX], amend[CC_HASH_HEX], enr[CC_HASH_HEX], res[CC_HASH_HEX];
    EXPECT(CC_OK, send(f, SPONSOR, "trial.register", registration(f, TRIAL, "2026-06-30"), reg));
    EXPECT(CC_OK, research_consent(f, PAT, TRIAL, NULL));
    EXPECT(CC_OK, enroll(f, CLIN, PAT, TRIAL, enr));
    f->t += 60 * MS_DAY;
    EXPECT(CC_OK, send(f, SPONSOR, "trial.amend",
                       json_pack("{s:s, s:i, s:s, s:[o]}", "trial", TRIAL, "version", 2, "reason",
                                 "new primary endpoint", "primaryOutcomes",
                                 outcome("B: fasting glucose", "12 weeks")),
                       amend));
    EXPECT(CC_OK, results(f, TRIAL, "B: fasting glucose,S: body weight", res));
    json_t *r = integrity(f, TRIAL);
    dump_on_fail(r, 4);
    expect_finding(r, 0, "outcome-changed-after-start", "A: change in HbA1c", amend);
    expect_finding(r, 0, "outcome-changed-after-start", NULL, reg);
    expect_finding(r, 0, "outcome-changed-after-start", NULL, enr);
    const json_t *f0 = json_array_get(findings(r), 0);
    assert_string_equal(json_string_value(json_object_get(f0, "change")), "removed");
    assert_true(json_is_true(json_object_get(f0, "primary")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f0, "before"), "version")), 1);
    expect_finding(r, 1, "outcome-changed-after-start", "B: fasting glucose", amend);
    assert_string_equal(json_string_value(json_object_get(json_array_get(findings(r), 1), "change")),
                        "added");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_array_get(findings(r), 1), "after"), "version")),
                     2);
    expect_finding(r, 2, "outcome-not-preregistered", "B: fasting glucose", res);
    expect_finding(r, 3, "outcome-not-reported", "A: change in HbA1c", res);
    json_decref(r);
    /* the amendment is marked post-start, version 1 is still there */
    json_t *v = NULL;
    assert_int_equal(cc_trials_view(state_get, f->c, TRIAL, &v), CC_OK);
    assert_true(
        json_is_true(json_object_get(json_array_get(json_object_get(v, "versions"), 1), "postStart")));
    json_decref(v);
    json_t *study = NULL;
    assert_int_equal(cc_trials_fhir_study(state_get, f->c, TRIAL, 1, &study), CC_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(study, "meta"), "versionId")), "1");
    assert_string_equal(json_string_value(json_object_get(study, "resourceType")), "ResearchStudy");
    json_decref(study);
    assert_int_equal(cc_trials_fhir_study(state_get, f->c, TRIAL, 3, &study), CC_ERR_NOT_FOUND);
}

static void test_outcome_dropped(void **state)
{
    fixture *f = *state;
    char reg[CC_HASH_HEX], res[CC_HASH_HEX];
    EXPECT(CC_OK, send(f, SPONSOR, "trial.register", registration(f, TRIAL, "2026-06-30"), reg));
    EXPECT(CC_OK, research_consent(f, PAT, TRIAL, NULL));
    EXPECT(CC_OK, enroll(f, CLIN, PAT, TRIAL, NULL));
    EXPECT(CC_OK, results(f, TRIAL, "A: change in HbA1c", res));
    json_t *r = integrity(f, TRIAL);
    dump_on_fail(r, 1);
    expect_finding(r, 0, "outcome-not-reported", "S: body weight", reg);
    expect_finding(r, 0, "outcome-not-reported", NULL, res);
    json_decref(r);
}

static void test_outcome_added(void **state)
{
    fixture *f = *state;
    char res[CC_HASH_HEX], enr[CC_HASH_HEX];
    EXPECT(CC_OK, send(f, SPONSOR, "trial.register", registration(f, TRIAL, "2026-06-30"), NULL));
    EXPECT(CC_OK, research_consent(f, PAT, TRIAL, NULL));
    EXPECT(CC_OK, enroll(f, CLIN, PAT, TRIAL, enr));
    EXPECT(CC_OK, results(f, TRIAL, "A: change in HbA1c,S: body weight,X: quality of life", res));
    json_t *r = integrity(f, TRIAL);
    dump_on_fail(r, 1);
    expect_finding(r, 0, "outcome-not-preregistered", "X: quality of life", res);
    expect_finding(r, 0, "outcome-not-preregistered", NULL, enr);
    json_decref(r);
}

static void test_results_late(void **state)
{
    fixture *f = *state;
    char res[CC_HASH_HEX], reg[CC_HASH_HEX];
    EXPECT(CC_OK, send(f, SPONSOR, "trial.register", registration(f, TRIAL, "2025-12-01"), reg));
    EXPECT(CC_OK, research_consent(f, PAT, TRIAL, NULL));
    EXPECT(CC_OK, enroll(f, CLIN, PAT, TRIAL, NULL));
    f->t = 1796169600000ULL; /* 2026-12-02T00:00:00Z: one day past 2026-12-01 */
    EXPECT(CC_OK, results(f, TRIAL, "A: change in HbA1c,S: body weight", res));
    json_t *r = integrity(f, TRIAL);
    dump_on_fail(r, 1);
    expect_finding(r, 0, "results-late", NULL, res);
    expect_finding(r, 0, "results-late", NULL, reg);
    assert_string_equal(json_string_value(json_object_get(json_array_get(findings(r), 0), "due")),
                        "2026-12-01");
    json_decref(r);
}

static void test_registration_late(void **state)
{
    fixture *f = *state;
    char reg[CC_HASH_HEX], enr[CC_HASH_HEX];
    /* the site enrols before the sponsor registers (the consent names the id) */
    EXPECT(CC_OK, research_consent(f, PAT, TRIAL, NULL));
    EXPECT(CC_OK, enroll(f, CLIN, PAT, TRIAL, enr));
    f->t += 22 * MS_DAY;
    EXPECT(CC_OK, send(f, SPONSOR, "trial.register", registration(f, TRIAL, "2026-06-30"), reg));
    EXPECT(CC_OK, results(f, TRIAL, "A: change in HbA1c,S: body weight", NULL));
    json_t *r = integrity(f, TRIAL);
    dump_on_fail(r, 1);
    expect_finding(r, 0, "registration-late", NULL, reg);
    expect_finding(r, 0, "registration-late", NULL, enr);
    json_decref(r);
    /* 20 days late is within the 21 allowed */
    const char *other = "sponsor-dm-002";
    EXPECT(CC_OK, research_consent(f, PAT + 1, other, NULL));
    EXPECT(CC_OK, enroll(f, CLIN, PAT + 1, other, NULL));
    f->t += 20 * MS_DAY;
    EXPECT(CC_OK, send(f, SPONSOR, "trial.register", registration(f, other, "2026-06-30"), NULL));
    r = integrity(f, other);
    dump_on_fail(r, 0);
    json_decref(r);
}

/* ---- enrolment, consent and access ----------------------------------------------------------- */

static void test_enrolment_needs_consent(void **state)
{
    fixture *f = *state;
    char consent[CC_HASH_HEX];
    EXPECT(CC_OK, send(f, SPONSOR, "trial.register", registration(f, TRIAL, "2026-06-30"), NULL));
    EXPECT(CC_ERR_FORBIDDEN, enroll(f, CLIN, PAT, TRIAL, NULL));
    assert_non_null(strstr(f->msg, "no active research consent"));
    /* a consent for another trial does not do */
    EXPECT(CC_OK, research_consent(f, PAT, "NCT07654321", NULL));
    EXPECT(CC_ERR_FORBIDDEN, enroll(f, CLIN, PAT, TRIAL, NULL));
    /* a trial consent is HRESCH only, read permit only */
    EXPECT(CC_ERR_INVALID, send(f, PAT, "consent.grant",
                                json_pack("{s:s, s:{s:s}, s:[s], s:[s], s:s, s:s}", "patient", f->hex[PAT],
                                          "grantee", "identity", f->hex[RESEARCHER], "actions", "read",
                                          "purposes", "TREAT", "provision", "permit", "trial", TRIAL),
                                NULL));
    EXPECT(CC_ERR_INVALID, research_consent(f, PAT, "NCT123", NULL));
    /* with consent: enrolled once; a revoked consent does not count */
    EXPECT(CC_OK, research_consent(f, PAT, TRIAL, consent));
    EXPECT(CC_ERR_FORBIDDEN, enroll(f, SPONSOR, PAT, TRIAL, NULL)); /* a sponsor is not a site */
    EXPECT(CC_OK, enroll(f, CLIN, PAT, TRIAL, NULL));
    EXPECT(CC_ERR_CONFLICT, enroll(f, CLIN, PAT, TRIAL, NULL));
    EXPECT(CC_OK, research_consent(f, PAT + 1, TRIAL, consent));
    EXPECT(CC_OK, send(f, PAT + 1, "consent.revoke", json_pack("{s:s}", "consent", consent), NULL));
    EXPECT(CC_ERR_FORBIDDEN, enroll(f, CLIN, PAT + 1, TRIAL, NULL));
    /* sponsor rules */
    EXPECT(CC_ERR_FORBIDDEN,
           send(f, PSPONSOR, "trial.results",
                json_pack("{s:s, s:[{s:s, s:s}]}", "trial", TRIAL, "outcomes", "measure", "A", "value", "1"),
                NULL));
    EXPECT(CC_ERR_CONFLICT, send(f, SPONSOR, "trial.amend",
                                 json_pack("{s:s, s:i, s:s, s:s}", "trial", TRIAL, "version", 3, "reason",
                                           "skip", "title", "T"),
                                 NULL));
    EXPECT(CC_ERR_CONFLICT, send(f, SPONSOR, "trial.register", registration(f, TRIAL, "2026-06-30"), NULL));
}

static cc_err decide(fixture *f, int who, int patient, const char *purpose, cc_access_decision *d)
{
    cc_access_request rq = {
        .patient = f->hex[patient], .action = CC_ACCESS_READ, .purpose = purpose, .now_ms = f->t + 2};
    memcpy(rq.requester, f->k[who].pk, CC_PUBKEY_BYTES);
    return cc_access_decide(state_get, f->c, &rq, d);
}

static void test_research_access_and_withdrawal(void **state)
{
    fixture *f = *state;
    cc_access_decision d;
    char consent[CC_HASH_HEX];
    EXPECT(CC_OK, send(f, SPONSOR, "trial.register", registration(f, TRIAL, "2026-06-30"), NULL));
    EXPECT(CC_OK, research_consent(f, PAT, TRIAL, consent));
    /* consent alone is not enough: the patient must be enrolled */
    assert_int_equal(decide(f, RESEARCHER, PAT, "HRESCH", &d), CC_OK);
    assert_false(d.permit);
    assert_non_null(strstr(d.reason, "not (or no longer) enrolled"));
    EXPECT(CC_OK, enroll(f, CLIN, PAT, TRIAL, NULL));
    assert_int_equal(decide(f, RESEARCHER, PAT, "HRESCH", &d), CC_OK);
    assert_true(d.permit);
    assert_string_equal(d.consent, consent);
    assert_int_equal(decide(f, RESEARCHER, PAT, "TREAT", &d), CC_OK);
    assert_false(d.permit);
    assert_int_equal(decide(f, OUTSIDER, PAT, "HRESCH", &d), CC_OK); /* not named on the trial */
    assert_false(d.permit);
    /* the patient withdraws: the consent is revoked, the subject withdrawn */
    EXPECT(CC_ERR_FORBIDDEN, send(f, SPONSOR, "trial.withdraw",
                                  json_pack("{s:s, s:s}", "trial", TRIAL, "patient", f->hex[PAT]), NULL));
    EXPECT(CC_OK,
           send(f, PAT, "trial.withdraw",
                json_pack("{s:s, s:s, s:s}", "trial", TRIAL, "patient", f->hex[PAT], "reason", "moving away"),
                NULL));
    assert_int_equal(decide(f, RESEARCHER, PAT, "HRESCH", &d), CC_OK);
    assert_false(d.permit);
    assert_non_null(strstr(d.reason, "revoked"));
    json_t *c = NULL;
    char key[100];
    snprintf(key, sizeof key, "consent/%s", consent);
    assert_int_equal(state_get(f->c, key, &c), CC_OK);
    assert_string_equal(json_string_value(json_object_get(c, "status")), "revoked");
    json_decref(c);
    json_t *subjects = NULL;
    assert_int_equal(cc_trials_fhir_subjects(state_get, f->c, TRIAL, &subjects), CC_OK);
    assert_string_equal(json_string_value(json_object_get(json_array_get(subjects, 0), "status")),
                        "withdrawn");
    char *text = json_dumps(subjects, 0);
    assert_null(strstr(text, f->hex[PAT])); /* pseudonymous */
    free(text);
    json_decref(subjects);
    EXPECT(CC_ERR_CONFLICT, send(f, PAT, "trial.withdraw",
                                 json_pack("{s:s, s:s}", "trial", TRIAL, "patient", f->hex[PAT]), NULL));
    /* revoking the consent directly also withdraws; the site may withdraw too */
    EXPECT(CC_OK, research_consent(f, PAT + 1, TRIAL, consent));
    EXPECT(CC_OK, enroll(f, CLIN, PAT + 1, TRIAL, NULL));
    EXPECT(CC_OK, send(f, PAT + 1, "consent.revoke", json_pack("{s:s}", "consent", consent), NULL));
    assert_int_equal(decide(f, RESEARCHER, PAT + 1, "HRESCH", &d), CC_OK);
    assert_false(d.permit);
    EXPECT(CC_OK, research_consent(f, PAT + 2, TRIAL, NULL));
    EXPECT(CC_OK, enroll(f, CLIN, PAT + 2, TRIAL, NULL));
    EXPECT(CC_OK, send(f, CLIN, "trial.withdraw",
                       json_pack("{s:s, s:s}", "trial", TRIAL, "patient", f->hex[PAT + 2]), NULL));
    assert_int_equal(decide(f, RESEARCHER, PAT + 2, "HRESCH", &d), CC_OK);
    assert_false(d.permit);
    json_t *st = NULL;
    assert_int_equal(cc_trials_stats(state_get, f->c, TRIAL, &st), CC_OK);
    assert_string_equal(json_string_value(json_object_get(st, "enrolled")), "suppressed"); /* 3 */
    json_decref(st);
}

static void test_stats_suppression(void **state)
{
    fixture *f = *state;
    json_t *st = NULL;
    EXPECT(CC_OK, send(f, SPONSOR, "trial.register", registration(f, TRIAL, "2026-06-30"), NULL));
    for (int i = 0; i < 7; i++) {
        EXPECT(CC_OK, research_consent(f, PAT + i, TRIAL, NULL));
        EXPECT(CC_OK, enroll(f, i < 6 ? CLIN : HADMIN, PAT + i, TRIAL, NULL));
    }
    EXPECT(CC_OK, send(f, PAT, "trial.withdraw",
                       json_pack("{s:s, s:s}", "trial", TRIAL, "patient", f->hex[PAT]), NULL));
    assert_int_equal(cc_trials_stats(state_get, f->c, TRIAL, &st), CC_OK);
    assert_int_equal(json_integer_value(json_object_get(st, "enrolled")), 7);
    /* 1 withdrawn is under 5, and 6 active would give it away */
    assert_string_equal(json_string_value(json_object_get(st, "withdrawn")), "suppressed");
    assert_string_equal(json_string_value(json_object_get(st, "active")), "suppressed");
    /* one site, all from the hospital (a clinician and an admin of it) */
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(json_object_get(st, "bySite"), 0), "enrolled")), 7);
    json_decref(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_primary_switched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcome_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcome_added, setup, teardown),
        cmocka_unit_test_setup_teardown(test_results_late, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_late, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enrolment_needs_consent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_research_access_and_withdrawal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_suppression, setup, teardown),
    };
    return cmocka_run_group_tests_name("trials", tests, NULL, NULL);
}
