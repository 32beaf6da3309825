/*
 * test_claims.c — benefit plans and claims: the adjudication engine case by
 * case (each rule and how they combine, over an in-memory state), the
 * plan and claim checks, money and dates without floating point, and the
 * ledger side end to end (plan.deploy with its tests and versions,
 * coverage.enroll, claim.submit, priorauth.decide, payment.settle,
 * simulation, the EOB), the HL7 example Claims, and determinism: the same
 * blocks applied to three fresh chains give byte-identical results.
 */
#include "unit_support.h"

#include <sys/wait.h>

#include <jansson.h>

#include "apps/claims.h"
#include "carechain/chain.h"

#define X        INT64_MIN        /* an amount not checked */
#define T0       1764000100000ULL /* 2025-11-24T16:01:40Z */
#define MS_DAY   86400000ULL
#define KEYS     32
#define PATIENT  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define PROVIDER "hospital"
#define FHIR_DIR "../shared/data/fhir"
#define TODAY    "2025-11-25"

/* The test plan. Numbers with decimals are FHIR-style JSON numbers: the
 * file goes through cc_claims_json_load as a plan file would. */
static const char PLAN_JSON[] =
    "{\"id\": \"test-ppo\", \"version\": 1, \"name\": \"Test PPO\", \"currency\": \"USD\","
    " \"effective\": {\"start\": \"2024-01-01\", \"end\": \"2027-12-31\"},"
    " \"planYearStart\": \"01-01\", \"deductibleCents\": 50000, \"outOfPocketMaxCents\": 150000,"
    " \"timelyFilingDays\": 90, \"priorAuthValidDays\": 30,"
    " \"categories\": {"
    "   \"office\": {\"copayCents\": 2500, \"coinsuranceBp\": 0, \"deductible\": false},"
    "   \"preventive\": {\"copayCents\": 0, \"coinsuranceBp\": 0, \"deductible\": false},"
    "   \"lab\": {\"copayCents\": 0, \"coinsuranceBp\": 2000},"
    "   \"imaging\": {\"copayCents\": 5000, \"coinsuranceBp\": 2000, \"deductible\": true},"
    "   \"surgery\": {\"copayCents\": 0, \"coinsuranceBp\": 2000},"
    "   \"therapy\": {\"copayCents\": 1500, \"coinsuranceBp\": 1000}},"
    " \"covered\": ["
    "   {\"code\": \"99213\", \"category\": \"office\", \"allowedCents\": 9500},"
    "   {\"code\": \"99396\", \"category\": \"preventive\", \"allowedCents\": 18000},"
    "   {\"code\": \"80061\", \"category\": \"preventive\", \"allowedCents\": 1000},"
    "   {\"from\": \"80047\", \"to\": \"80076\", \"category\": \"lab\", \"allowedCents\": 2500},"
    "   {\"code\": \"82947\", \"category\": \"lab\", \"allowedCents\": 800},"
    "   {\"code\": \"36415\", \"category\": \"lab\", \"allowedCents\": 300},"
    "   {\"code\": \"70551\", \"category\": \"imaging\", \"allowedCents\": 45000},"
    "   {\"code\": \"62264\", \"category\": \"surgery\", \"allowedCents\": 900000},"
    "   {\"code\": \"97110\", \"category\": \"therapy\", \"allowedCents\": 3500},"
    "   {\"from\": \"J0000\", \"to\": \"J9999\", \"category\": \"lab\", \"allowedCents\": 1000}],"
    " \"diagnosis\": {\"82947\": [\"E11.*\", \"R73.*\"], \"62264\": [\"M96.1\", \"G89.*\", \"M47.8*\"]},"
    " \"priorAuth\": [\"62264\", \"70551\"],"
    " \"unitsPerDay\": {\"97110\": 4, \"36415\": 1},"
    " \"pairs\": [{\"primary\": \"80053\", \"secondary\": \"80048\"}],"
    " \"tests\": [{\"name\": \"office visit: copay only\","
    "   \"claim\": {\"resourceType\": \"Claim\", \"status\": \"active\", \"use\": \"claim\","
    "     \"type\": {\"coding\": [{\"code\": \"professional\"}]}, \"created\": \"2025-03-02\","
    "     \"item\": [{\"sequence\": 1, \"productOrService\": {\"coding\": [{\"code\": \"99213\"}]},"
    "       \"servicedDate\": \"2025-03-02\", \"net\": {\"value\": 120.00, \"currency\": \"USD\"}}]},"
    "   \"expect\": {\"outcome\": \"complete\", \"benefitCents\": 7000, \"patientCents\": 2500,"
    "     \"lines\": [{\"line\": 1, \"decision\": \"approve\", \"carc\": [\"45\", \"3\"], \"eligibleCents\": "
    "9500,"
    "                \"copayCents\": 2500, \"benefitCents\": 7000}]}},"
    "  {\"name\": \"lab line crosses the deductible\", \"member\": {\"deductibleMetCents\": 49000},"
    "   \"claim\": {\"resourceType\": \"Claim\", \"status\": \"active\", \"use\": \"claim\","
    "     \"type\": {\"coding\": [{\"code\": \"professional\"}]}, \"created\": \"2025-03-02\","
    "     \"item\": [{\"sequence\": 1, \"productOrService\": {\"coding\": [{\"code\": \"80053\"}]},"
    "       \"servicedDate\": \"2025-03-02\", \"net\": {\"value\": 40, \"currency\": \"USD\"}}]},"
    "   \"expect\": {\"lines\": [{\"line\": 1, \"carc\": [\"45\", \"1\", \"2\"], \"eligibleCents\": 2500,"
    "     \"deductibleCents\": 1000, \"coinsuranceCents\": 300, \"benefitCents\": 1200}]}},"
    "  {\"name\": \"surgery needs an authorization\", \"authorized\": [\"62264\"],"
    "   \"claim\": {\"resourceType\": \"Claim\", \"status\": \"active\", \"use\": \"claim\","
    "     \"type\": {\"coding\": [{\"code\": \"professional\"}]}, \"created\": \"2025-03-02\","
    "     \"diagnosis\": [{\"sequence\": 1, \"diagnosisCodeableConcept\": {\"coding\": [{\"code\": "
    "\"M96.1\"}]}}],"
    "     \"item\": [{\"sequence\": 1, \"productOrService\": {\"coding\": [{\"code\": \"62264\"}]},"
    "       \"servicedDate\": \"2025-03-02\", \"net\": {\"value\": 12500.0, \"currency\": \"USD\"}}]},"
    "   \"expect\": {\"lines\": [{\"line\": 1, \"decision\": \"approve\", \"deductibleCents\": 50000}]}}]}";

static json_t *g_plan;

static json_t *load(const char *text)
{
    json_t *v = NULL;
    cc_errbuf eb = {""};
    if (cc_claims_json_load(text, strlen(text), &v, &eb) != CC_OK) fail_msg("json: %s", eb.msg);
    return v;
}

static int group_setup(void **state)
{
    (void)state;
    cc_errbuf eb = {""};
    g_plan = load(PLAN_JSON);
    if (cc_plan_validate(g_plan, &eb) != CC_OK) fail_msg("plan: %s", eb.msg);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    json_decref(g_plan);
    cc_claims_release_thread(); /* the main thread's plan and rule caches */
    return 0;
}

/* ---- building claims ---------------------------------------------------------------------- */

/* A claim from a compact spec. diags: "E11.9,M96.1" (sequences 1..n).
 * items: lines separated by ';', each "code date units amount [dseq,dseq]"
 * (amount a decimal string; units 0 leaves quantity out). */
static json_t *make_claim(const char *use, const char *diags, const char *items)
{
    json_t *c = json_pack(
        "{s:s, s:s, s:s, s:{s:[{s:s, s:s}]}, s:s, s:{s:s}, s:{s:s}, s:[{s:i, s:b, s:{s:s}}], s:[]}",
        "resourceType", "Claim", "status", "active", "use", use ? use : "claim", "type", "coding", "system",
        "http://terminology.hl7.org/CodeSystem/claim-type", "code", "professional", "created", "2025-11-20",
        "patient", "reference", "Patient/" PATIENT, "provider", "reference", "Organization/" PROVIDER,
        "insurance", "sequence", 1, "focal", 1, "coverage", "reference", "Coverage/cov-1", "item");
    char buf[1024], *save = NULL, *tok;
    if (diags && *diags) {
        json_t *list = json_array();
        int seq = 1;
        snprintf(buf, sizeof buf, "%s", diags);
        for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            json_array_append_new(list, json_pack("{s:i, s:{s:[{s:s, s:s}]}}", "sequence", seq++,
                                                  "diagnosisCodeableConcept", "coding", "system",
                                                  "http://hl7.org/fhir/sid/icd-10-cm", "code", tok));
        json_object_set_new(c, "diagnosis", list);
    }
    snprintf(buf, sizeof buf, "%s", items);
    int seq = 1;
    for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        char code[32], date[16], amount[32], dseq[64] = "";
        int units = 0;
        int n = sscanf(tok, " %31s %15s %d %31s %63s", code, date, &units, amount, dseq);
        assert_true(n >= 4);
        json_t *it = json_pack("{s:i, s:{s:[{s:s, s:s}]}, s:s, s:{s:s, s:s}}", "sequence", seq++,
                               "productOrService", "coding", "system", "http://www.ama-assn.org/go/cpt",
                               "code", code, "servicedDate", date, "net", "value", amount, "currency", "USD");
        if (units > 0) json_object_set_new(it, "quantity", json_pack("{s:i}", "value", units));
        if (dseq[0]) {
            json_t *l = json_array();
            char *s2 = NULL;
            for (char *d = strtok_r(dseq, ",", &s2); d; d = strtok_r(NULL, ",", &s2))
                json_array_append_new(l, json_integer(atoi(d)));
            json_object_set_new(it, "diagnosisSequence", l);
        }
        json_array_append_new(json_object_get(c, "item"), it);
    }
    cc_errbuf eb = {""};
    if (cc_claim_validate(c, false, "claim", &eb) != CC_OK) fail_msg("claim: %s", eb.msg);
    return c;
}

/* ---- the in-memory state the engine reads --------------------------------------------------- */

static cc_err memory_get(void *ctx, const char *key, json_t **out)
{
    json_t *v = json_object_get(ctx, key);
    if (!v) return CC_ERR_NOT_FOUND;
    *out = json_deep_copy(v);
    return CC_OK;
}

static void st_acc(json_t *st, int year, int64_t ded, int64_t oop)
{
    char key[CC_CLAIMS_KEY_MAX];
    cc_claims_acc_key(key, PATIENT, "test-ppo", year);
    json_object_set_new(st, key,
                        json_pack("{s:I, s:I}", "deductibleMetCents", (json_int_t)ded, "outOfPocketMetCents",
                                  (json_int_t)oop));
}

static int64_t st_ded(const json_t *effects, int year)
{
    char key[CC_CLAIMS_KEY_MAX];
    cc_claims_acc_key(key, PATIENT, "test-ppo", year);
    const json_t *v = json_object_get(effects, key);
    return v ? json_integer_value(json_object_get(v, "deductibleMetCents")) : -1;
}

static int64_t st_oop(const json_t *effects, int year)
{
    char key[CC_CLAIMS_KEY_MAX];
    cc_claims_acc_key(key, PATIENT, "test-ppo", year);
    const json_t *v = json_object_get(effects, key);
    return v ? json_integer_value(json_object_get(v, "outOfPocketMetCents")) : -1;
}

/* An approved preauthorization (id: 64 hex of c) for code on date. */
static void st_preauth(json_t *st, char c, const char *code, const char *date, const char *provider,
                       bool consumed)
{
    char id[65], key[80];
    memset(id, c, 64);
    id[64] = '\0';
    json_t *line = json_pack("{s:i, s:s, s:s, s:i, s:s}", "line", 1, "code", code, "date", date, "units", 1,
                             "decision", "approve");
    if (consumed) json_object_set_new(line, "consumedBy", json_string("somebody"));
    snprintf(key, sizeof key, "claim/%s", id);
    json_object_set_new(st, key,
                        json_pack("{s:s, s:s, s:s, s:s, s:s, s:[o]}", "id", id, "use", "preauthorization",
                                  "patient", PATIENT, "provider", provider, "status", "adjudicated", "lines",
                                  line));
    json_t *list = json_object_get(st, "ppreauth/" PATIENT);
    if (!list) json_object_set_new(st, "ppreauth/" PATIENT, list = json_array());
    json_array_append_new(list, json_string(id));
}

typedef struct run {
    json_t *state, *coverage;
    const char *today;
    cc_claims_review review;
    const json_t *plan;
} run;

static cc_err adjudicate_with(const run *r, const json_t *claim, cc_claims_output *out, cc_errbuf *eb)
{
    int64_t day;
    json_t *cov = r->coverage
                      ? json_incref(r->coverage)
                      : json_pack("{s:{s:s, s:s}}", "period", "start", "2025-01-01", "end", "2026-12-31");
    assert_true(cc_claims_date_parse(r->today ? r->today : TODAY, &day));
    cc_claims_input in = {.plan = r->plan ? r->plan : g_plan,
                          .claim = claim,
                          .coverage = cov,
                          .claim_id = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
                          .patient = PATIENT,
                          .provider = PROVIDER,
                          .insurer = "payer",
                          .now_ms = (uint64_t)day * MS_DAY + 3600000,
                          .get = memory_get,
                          .get_ctx = r->state,
                          .review = r->review};
    cc_err rc = cc_claims_adjudicate(&in, out, eb);
    json_decref(cov);
    return rc;
}

/* Adjudicate a claim spec; asserts success. Caller frees out. */
static void adjudicate(const run *r, const char *use, const char *diags, const char *items,
                       cc_claims_output *out)
{
    json_t *claim = make_claim(use, diags, items);
    cc_errbuf eb = {""};
    json_t *empty = json_object();
    run rr = *r;
    if (!rr.state) rr.state = empty;
    if (adjudicate_with(&rr, claim, out, &eb) != CC_OK) fail_msg("adjudicate: %s", eb.msg);
    /* the texts the engine writes directly are canonical JSON, byte for byte */
    char *rt = cc_json_dump(out->response), *lt = cc_json_dump(out->lines);
    assert_string_equal(rt, out->response_text);
    assert_string_equal(lt, out->lines_text);
    free(rt);
    free(lt);
    json_decref(claim);
    json_decref(empty);
}

static const json_t *out_line(const cc_claims_output *o, int n)
{
    return json_array_get(o->lines, (size_t)n - 1);
}

static int64_t jint(const json_t *o, const char *f)
{
    return json_integer_value(json_object_get(o, f));
}

static const char *jstr(const json_t *o, const char *f)
{
    return json_string_value(json_object_get(o, f));
}

/* Check line n: decision, CARC (of a denial/pend; NULL: not checked) and amounts (X: not checked). */
static void line_is(const cc_claims_output *o, int n, const char *decision, const char *carc, int64_t allowed,
                    int64_t ded, int64_t copay, int64_t coins, int64_t benefit)
{
    const json_t *l = out_line(o, n);
    assert_non_null(l);
    if (strcmp(jstr(l, "decision"), decision) != 0)
        fail_msg("line %d is %s (%s %s), expected %s", n, jstr(l, "decision"),
                 jstr(l, "carc") ? jstr(l, "carc") : "", jstr(l, "reason") ? jstr(l, "reason") : "",
                 decision);
    if (carc) assert_string_equal(jstr(l, "carc"), carc);
    int64_t want[] = {allowed, ded, copay, coins, benefit};
    const char *names[] = {"allowedCents", "deductibleCents", "copayCents", "coinsuranceCents",
                           "benefitCents"};
    for (int i = 0; i < 5; i++)
        if (want[i] != X && jint(l, names[i]) != want[i])
            fail_msg("line %d %s is %lld, expected %lld", n, names[i], (long long)jint(l, names[i]),
                     (long long)want[i]);
    if (strcmp(decision, "approve") == 0 && allowed != X)
        assert_int_equal(jint(l, "patientCents"), jint(l, "allowedCents") - jint(l, "benefitCents"));
}

/* ---- money and dates ------------------------------------------------------------------------- */

static void test_money_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t cents;
        bool ok;
    } v[] = {{"135.57", 13557, true},
             {"75.0", 7500, true},
             {"12500.000", 1250000, true},
             {"0.5", 50, true},
             {"-3.10", -310, true},
             {"1.5e2", 15000, true},
             {"1E-2", 1, true},
             {"0", 0, true},
             {"0.005", 0, false},
             {"1.", 0, false},
             {".5", 0, false},
             {"1.2.3", 0, false},
             {"abc", 0, false},
             {"", 0, false},
             {"10000000000000", 0, false},
             {"1e99", 0, false},
             {"999999999.99", 99999999999, true},
             {"0.10", 10, true}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        json_t *s = json_string(v[i].text);
        int64_t c = -42;
        cc_err rc = cc_claims_cents(s, &c);
        if ((rc == CC_OK) != v[i].ok) fail_msg("\"%s\": %s", v[i].text, cc_err_name(rc));
        if (v[i].ok) assert_int_equal(c, v[i].cents);
        json_decref(s);
    }
    json_t *n = json_integer(75);
    int64_t c;
    assert_int_equal(cc_claims_cents(n, &c), CC_OK);
    assert_int_equal(c, 7500); /* whole currency units, not cents */
    json_decref(n);
    n = json_real(1.5);
    assert_int_equal(cc_claims_cents(n, &c), CC_ERR_INVALID); /* never a double */
    json_decref(n);
    char buf[32];
    assert_string_equal(cc_claims_cents_format(13557, buf), "135.57");
    assert_string_equal(cc_claims_cents_format(5, buf), "0.05");
    assert_string_equal(cc_claims_cents_format(-310, buf), "-3.10");
}

static void test_dates(void **state)
{
    (void)state;
    int64_t d;
    char buf[11];
    assert_true(cc_claims_date_parse("1970-01-01", &d));
    assert_int_equal(d, 0);
    assert_true(cc_claims_date_parse("2024-02-29", &d));
    assert_string_equal(cc_claims_date_format(d, buf), "2024-02-29");
    assert_false(cc_claims_date_parse("2025-02-29", &d));
    assert_false(cc_claims_date_parse("2025-13-01", &d));
    assert_false(cc_claims_date_parse("2025-1-01", &d));
    assert_false(cc_claims_date_parse("2025-01-01T00:00:00Z", &d));
    assert_true(cc_claims_date_parse("2025-11-24", &d));
    assert_int_equal(d, (int64_t)(T0 / MS_DAY));
    /* plan years: calendar, and one that starts on 07-01 */
    assert_true(cc_claims_date_parse("2026-03-02", &d));
    assert_int_equal(cc_claims_plan_year(g_plan, d), 2026);
    json_t *p = json_pack("{s:s}", "planYearStart", "07-01");
    assert_int_equal(cc_claims_plan_year(p, d), 2025);
    assert_true(cc_claims_date_parse("2026-07-01", &d));
    assert_int_equal(cc_claims_plan_year(p, d), 2026);
    assert_true(cc_claims_date_parse("2026-06-30", &d));
    assert_int_equal(cc_claims_plan_year(p, d), 2025);
    json_decref(p);
}

static void test_json_load_quotes_decimals(void **state)
{
    (void)state;
    json_t *v =
        load("{\"a\": 135.57, \"b\": [1, -2.50, 3e2], \"c\": \"1.5 in a string \\\" 2.5\", \"d\": 7}");
    assert_string_equal(jstr(v, "a"), "135.57");
    assert_string_equal(json_string_value(json_array_get(json_object_get(v, "b"), 1)), "-2.50");
    assert_string_equal(json_string_value(json_array_get(json_object_get(v, "b"), 2)), "3e2");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(v, "b"), 0)), 1);
    assert_string_equal(jstr(v, "c"), "1.5 in a string \" 2.5");
    assert_true(json_is_integer(json_object_get(v, "d")));
    json_decref(v);
    json_t *bad = NULL;
    assert_int_equal(cc_claims_json_load("{\"a\": 1, \"a\": 2}", 16, &bad, NULL), CC_ERR_MALFORMED);
}

/* ---- adjudication: amounts ------------------------------------------------------------------- */

static void test_office_copay_only(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99213 2025-11-20 1 120.00", &o);
    line_is(&o, 1, "approve", NULL, 9500, 0, 2500, 0, 7000);
    assert_int_equal(o.benefit_cents, 7000);
    assert_int_equal(o.patient_cents, 2500);
    assert_false(o.pended);
    cc_claims_output_free(&o);
}

static void test_billed_below_fee_schedule(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99213 2025-11-20 1 80.00", &o);
    line_is(&o, 1, "approve", NULL, 8000, 0, 2500, 0, 5500); /* min(billed, allowed) */
    cc_claims_output_free(&o);
}

static void test_deductible_unmet(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "80053 2025-11-20 1 40.00", &o);
    line_is(&o, 1, "approve", NULL, 2500, 2500, 0, 0, 0);
    assert_int_equal(st_ded(o.effects, 2025), 2500);
    assert_int_equal(st_oop(o.effects, 2025), 2500);
    cc_claims_output_free(&o);
}

static void test_deductible_crossed_in_one_line(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_acc(r.state, 2025, 49000, 49000);
    adjudicate(&r, NULL, "", "80053 2025-11-20 1 40.00", &o);
    line_is(&o, 1, "approve", NULL, 2500, 1000, 0, 300, 1200);
    assert_int_equal(st_ded(o.effects, 2025), 50000);
    assert_int_equal(st_oop(o.effects, 2025), 49000 + 1300);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_deductible_crossed_across_lines(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_acc(r.state, 2025, 49000, 49000);
    adjudicate(&r, NULL, "", "80053 2025-11-20 1 25.00; 80061 2025-11-20 1 10.00; 80050 2025-11-20 1 25.00",
               &o);
    line_is(&o, 1, "approve", NULL, 2500, 1000, 0, 300, 1200);
    line_is(&o, 2, "approve", NULL, 1000, 0, 0, 0, 1000); /* preventive: no deductible */
    line_is(&o, 3, "approve", NULL, 2500, 0, 0, 500, 2000);
    assert_int_equal(st_ded(o.effects, 2025), 50000);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_deductible_met_coinsurance_only(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_acc(r.state, 2025, 50000, 60000);
    adjudicate(&r, NULL, "", "80053 2025-11-20 1 25.00", &o);
    line_is(&o, 1, "approve", NULL, 2500, 0, 0, 500, 2000);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

/* therapy: copay 15.00, then 10 %: (30.05 - 15.00) x 10 % = 1.505 -> 1.51 */
static void test_coinsurance_rounds_half_up(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_acc(r.state, 2025, 50000, 50000);
    adjudicate(&r, NULL, "", "97110 2025-11-20 1 30.05; 97110 2025-11-21 1 30.04; 97110 2025-11-22 1 30.06",
               &o);
    line_is(&o, 1, "approve", NULL, 3005, 0, 1500, 151, 3005 - 1651); /* 150.5 cents -> 151 */
    line_is(&o, 2, "approve", NULL, 3004, 0, 1500, 150, 3004 - 1650); /* 150.4 -> 150 */
    line_is(&o, 3, "approve", NULL, 3006, 0, 1500, 151, 3006 - 1651); /* 150.6 -> 151 */
    cc_claims_output_free(&o);
    json_decref(r.state);
}

/* 20 % of 123.45 = 24.69 exactly; of 0.01 = 0.002 -> 0.00 */
static void test_coinsurance_exact_and_tiny(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_acc(r.state, 2025, 50000, 50000);
    adjudicate(&r, NULL, "", "J1234 2025-11-20 1 0.01; 62264 2025-11-20 1 123.45", &o);
    line_is(&o, 1, "approve", NULL, 1, 0, 0, 0, 1);
    line_is(&o, 2, "deny", "197", X, X, X, X, X); /* no authorization */
    cc_claims_output_free(&o);
    json_decref(r.state);
}

/* The deductible comes first, then the copay on what is left, then coinsurance. */
static void test_deductible_before_copay(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_preauth(r.state, 'b', "70551", "2025-11-20", PROVIDER, false);
    st_acc(r.state, 2025, 48000, 48000);
    adjudicate(&r, NULL, "", "70551 2025-11-20 1 450.00", &o);
    /* deductible 20.00, copay 50.00, coinsurance 20 % of 380.00 = 76.00 */
    line_is(&o, 1, "approve", NULL, 45000, 2000, 5000, 7600, 45000 - 14600);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_deductible_takes_everything_copay_nothing(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_preauth(r.state, 'b', "70551", "2025-11-20", PROVIDER, false);
    adjudicate(&r, NULL, "", "70551 2025-11-20 1 450.00", &o);
    line_is(&o, 1, "approve", NULL, 45000, 45000, 0, 0, 0); /* nothing left for the copay */
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_office_skips_deductible(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99213 2025-11-20 1 95.00; 80053 2025-11-20 1 25.00", &o);
    line_is(&o, 1, "approve", NULL, 9500, 0, 2500, 0, 7000);
    line_is(&o, 2, "approve", NULL, 2500, 2500, 0, 0, 0);
    assert_int_equal(st_ded(o.effects, 2025), 2500); /* the copay is not deductible */
    assert_int_equal(st_oop(o.effects, 2025), 5000); /* but counts toward the out-of-pocket maximum */
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_oop_cap_cuts_coinsurance(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_acc(r.state, 2025, 50000, 149800);
    adjudicate(&r, NULL, "", "80053 2025-11-20 1 25.00", &o);
    line_is(&o, 1, "approve", NULL, 2500, 0, 0, 200, 2300);
    assert_int_equal(st_oop(o.effects, 2025), 150000);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_oop_met_pays_all(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_acc(r.state, 2025, 50000, 150000);
    adjudicate(&r, NULL, "", "99213 2025-11-20 1 95.00; 80053 2025-11-20 1 25.00", &o);
    line_is(&o, 1, "approve", NULL, 9500, 0, 0, 0, 9500);
    line_is(&o, 2, "approve", NULL, 2500, 0, 0, 0, 2500);
    assert_int_equal(o.patient_cents, 0);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

/* The cap cuts coinsurance first, then the copay, then the deductible. */
static void test_oop_cap_cut_order(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_preauth(r.state, 'b', "70551", "2025-11-20", PROVIDER, false);
    st_acc(r.state, 2025, 48000, 149000);
    adjudicate(&r, NULL, "", "70551 2025-11-20 1 450.00", &o);
    line_is(&o, 1, "approve", NULL, 45000, 1000, 0, 0, 44000);
    assert_int_equal(st_ded(o.effects, 2025), 49000);
    assert_int_equal(st_oop(o.effects, 2025), 150000);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_oop_cap_across_lines(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_acc(r.state, 2025, 50000, 149000);
    adjudicate(&r, NULL, "", "99213 2025-11-20 1 95.00; 99213 2025-11-21 1 95.00", &o);
    line_is(&o, 1, "approve", NULL, 9500, 0, 1000, 0, 8500); /* copay cut to the 10.00 left */
    line_is(&o, 2, "approve", NULL, 9500, 0, 0, 0, 9500);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_quantity_times_unit_price(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    st_acc(r.state, 2025, 50000, 50000);
    json_t *c = make_claim(NULL, "", "97110 2025-11-20 3 999");
    json_t *it = json_array_get(json_object_get(c, "item"), 0);
    json_object_del(it, "net");
    json_object_set_new(it, "unitPrice", json_pack("{s:s, s:s}", "value", "40.00", "currency", "USD"));
    cc_claims_output o;
    cc_errbuf eb = {""};
    assert_int_equal(adjudicate_with(&r, c, &o, &eb), CC_OK);
    /* billed 3 x 40.00; allowed 3 x 35.00 = 105.00; copay 15.00; 10 % of 90.00 */
    line_is(&o, 1, "approve", NULL, 10500, 0, 1500, 900, 10500 - 2400);
    assert_string_equal(jstr(out_line(&o, 1), "decision"), "approve");
    assert_int_equal(jint(out_line(&o, 1), "billedCents"), 12000);
    cc_claims_output_free(&o);
    json_decref(c);
    json_decref(r.state);
}

/* ---- adjudication: denials -------------------------------------------------------------------- */

static void test_non_covered(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99999 2025-11-20 1 50.00", &o);
    line_is(&o, 1, "deny", "96", X, X, X, X, X);
    assert_int_equal(o.benefit_cents, 0);
    cc_claims_output_free(&o);
}

static void test_range_bounds(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "",
               "80047 2025-11-20 1 1.00; 80076 2025-11-20 1 1.00; 80077 2025-11-20 1 1.00; "
               "8005 2025-11-20 1 1.00; J0000 2025-11-20 1 1.00",
               &o);
    line_is(&o, 1, "approve", NULL, 100, X, X, X, X);
    line_is(&o, 2, "approve", NULL, 100, X, X, X, X);
    line_is(&o, 3, "deny", "96", X, X, X, X, X);
    line_is(&o, 4, "deny", "96", X, X, X, X, X); /* a shorter code is not in a range of 5-character codes */
    line_is(&o, 5, "approve", NULL, 100, X, X, X, X);
    cc_claims_output_free(&o);
}

static void test_first_entry_wins(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "80061 2025-11-20 1 30.00", &o); /* 80061 is listed before the lab range */
    line_is(&o, 1, "approve", NULL, 1000, 0, 0, 0, 1000);
    cc_claims_output_free(&o);
}

static void test_denied_lines_outside_accumulators(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99999 2025-11-20 1 300.00; 80053 2025-11-20 1 25.00; 82947 2025-11-20 1 8.00",
               &o);
    line_is(&o, 1, "deny", "96", X, X, X, X, X);
    line_is(&o, 2, "approve", NULL, 2500, 2500, 0, 0, 0);
    line_is(&o, 3, "deny", "11", X, X, X, X, X); /* no diagnosis */
    assert_int_equal(st_ded(o.effects, 2025), 2500);
    assert_int_equal(st_oop(o.effects, 2025), 2500);
    assert_int_equal(o.patient_cents, 2500);
    /* only the approved line leaves a duplicate key */
    size_t dups = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o.effects, k, v)
    {
        dups += strncmp(k, "dup/", 4) == 0;
    }
    assert_int_equal(dups, 1);
    cc_claims_output_free(&o);
}

static void test_before_coverage(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99213 2024-12-31 1 95.00", &o);
    line_is(&o, 1, "deny", NULL, X, X, X, X, X);
    assert_string_equal(jstr(out_line(&o, 1), "carc"), "26");
    cc_claims_output_free(&o);
}

static void test_after_coverage(void **state)
{
    (void)state;
    json_t *cov = json_pack("{s:{s:s, s:s}}", "period", "start", "2025-01-01", "end", "2025-10-31");
    run r = {.coverage = cov};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99213 2025-10-31 1 95.00; 99213 2025-11-01 1 95.00", &o);
    line_is(&o, 1, "approve", NULL, 9500, X, X, X, X);
    line_is(&o, 2, "deny", "27", X, X, X, X, X);
    cc_claims_output_free(&o);
    json_decref(cov);
}

/* A gap between two enrolments: the claim's coverage ended, the next has not started. */
static void test_eligibility_gap(void **state)
{
    (void)state;
    json_t *cov = json_pack("{s:{s:s}}", "period", "start", "2025-11-15");
    run r = {.coverage = cov};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99213 2025-11-10 1 95.00; 99213 2025-11-15 1 95.00", &o);
    line_is(&o, 1, "deny", "26", X, X, X, X, X);
    line_is(&o, 2, "approve", NULL, 9500, X, X, X, X);
    cc_claims_output_free(&o);
    json_decref(cov);
}

static void test_outside_plan_effective(void **state)
{
    (void)state;
    json_t *cov = json_pack("{s:{s:s}}", "period", "start", "2020-01-01");
    run r = {.coverage = cov, .today = "2028-01-05"};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99213 2028-01-02 1 95.00; 99213 2023-12-31 1 95.00", &o);
    line_is(&o, 1, "deny", "27", X, X, X, X, X); /* the plan ends 2027-12-31 */
    line_is(&o, 2, "deny", "26", X, X, X, X, X);
    cc_claims_output_free(&o);
    json_decref(cov);
}

static void test_timely_filing(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    /* today 2025-11-25: 2025-08-27 is 90 days back, 2025-08-26 is 91 */
    adjudicate(&r, NULL, "", "99213 2025-08-27 1 95.00; 99213 2025-08-26 1 95.00", &o);
    line_is(&o, 1, "approve", NULL, 9500, X, X, X, X);
    line_is(&o, 2, "deny", "29", X, X, X, X, X);
    cc_claims_output_free(&o);
}

static void test_future_service(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99213 2025-11-26 1 95.00", &o);
    line_is(&o, 1, "deny", "110", X, X, X, X, X);
    cc_claims_output_free(&o);
}

static void test_duplicate_in_claim(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99213 2025-11-20 1 95.00; 99213 2025-11-20 1 95.00; 99213 2025-11-20 1 96.00",
               &o);
    line_is(&o, 1, "approve", NULL, X, X, X, X, X);
    line_is(&o, 2, "deny", "18", X, X, X, X, X);
    line_is(&o, 3, "approve", NULL, X, X, X, X, X); /* another amount: not a duplicate */
    cc_claims_output_free(&o);
}

static void test_duplicate_of_adjudicated(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99213 2025-11-20 1 95.00", &o);
    json_object_update(r.state, o.effects); /* commit the first claim's effects */
    cc_claims_output_free(&o);
    adjudicate(&r, NULL, "", "99213 2025-11-20 1 95.00; 99213 2025-11-21 1 95.00", &o);
    line_is(&o, 1, "deny", "18", X, X, X, X, X);
    line_is(&o, 2, "approve", NULL, X, X, X, X, X);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_prior_auth_absent(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "M96.1", "62264 2025-11-20 1 12500.00", &o);
    line_is(&o, 1, "deny", "197", X, X, X, X, X);
    cc_claims_output_free(&o);
}

static void test_prior_auth_consumed_once(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_preauth(r.state, 'b', "62264", "2025-11-18", PROVIDER, false);
    adjudicate(&r, NULL, "M96.1", "62264 2025-11-20 1 12500.00; 62264 2025-11-21 1 12500.00", &o);
    line_is(&o, 1, "approve", NULL, 900000, 50000, 0, 100000, 750000); /* capped at 1500.00 */
    line_is(&o, 2, "deny", "197", X, X, X, X, X);                      /* the one authorization is taken */
    assert_string_equal(jstr(out_line(&o, 1), "authorization"),
                        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    const json_t *pa =
        json_object_get(o.effects, "claim/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_non_null(pa);
    assert_non_null(json_object_get(json_array_get(json_object_get(pa, "lines"), 0), "consumedBy"));
    json_object_update(r.state, o.effects);
    cc_claims_output_free(&o);
    /* a later claim finds it consumed */
    adjudicate(&r, NULL, "M96.1", "62264 2025-11-22 1 12400.00", &o);
    line_is(&o, 1, "deny", "197", X, X, X, X, X);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_prior_auth_window_and_provider(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_preauth(r.state, 'b', "62264", "2025-10-01", PROVIDER, false);       /* valid to 2025-10-31 */
    st_preauth(r.state, 'd', "62264", "2025-11-19", "other-clinic", false); /* another provider's */
    adjudicate(&r, NULL, "M96.1", "62264 2025-11-20 1 12500.00", &o);
    line_is(&o, 1, "deny", "197", X, X, X, X, X);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_prior_auth_denied_line_does_not_consume(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_preauth(r.state, 'b', "62264", "2025-11-18", PROVIDER, false);
    adjudicate(&r, NULL, "J45.909", "62264 2025-11-20 1 12500.00", &o); /* wrong diagnosis */
    line_is(&o, 1, "deny", "11", X, X, X, X, X);
    assert_null(
        json_object_get(o.effects, "claim/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"));
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_prior_auth_ref_restricts(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    st_preauth(r.state, 'b', "62264", "2025-11-18", PROVIDER, false);
    st_preauth(r.state, 'e', "62264", "2025-11-18", PROVIDER, true); /* consumed */
    json_t *c = make_claim(NULL, "M96.1", "62264 2025-11-20 1 12500.00");
    json_object_set_new(json_array_get(json_object_get(c, "insurance"), 0), "preAuthRef",
                        json_pack("[s]", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"));
    cc_claims_output o;
    cc_errbuf eb = {""};
    assert_int_equal(adjudicate_with(&r, c, &o, &eb), CC_OK);
    line_is(&o, 1, "deny", "197", X, X, X, X, X); /* only the named (consumed) one is looked at */
    cc_claims_output_free(&o);
    json_object_set_new(json_array_get(json_object_get(c, "insurance"), 0), "preAuthRef",
                        json_pack("[s]", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"));
    assert_int_equal(adjudicate_with(&r, c, &o, &eb), CC_OK);
    line_is(&o, 1, "approve", NULL, X, X, X, X, X);
    cc_claims_output_free(&o);
    json_decref(c);
    json_decref(r.state);
}

static void test_diagnosis_patterns(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "E11.9", "82947 2025-11-20 1 8.00", &o);
    line_is(&o, 1, "approve", NULL, 800, X, X, X, X);
    cc_claims_output_free(&o);
    adjudicate(&r, NULL, "e119", "82947 2025-11-20 1 8.00", &o); /* dots and case do not matter */
    line_is(&o, 1, "approve", NULL, 800, X, X, X, X);
    cc_claims_output_free(&o);
    adjudicate(&r, NULL, "R73.03", "82947 2025-11-20 1 8.00", &o);
    line_is(&o, 1, "approve", NULL, 800, X, X, X, X);
    cc_claims_output_free(&o);
    adjudicate(&r, NULL, "E10.9", "82947 2025-11-20 1 8.00", &o);
    line_is(&o, 1, "deny", "11", X, X, X, X, X);
    cc_claims_output_free(&o);
}

static void test_diagnosis_prefix_and_exact(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_preauth(r.state, 'b', "62264", "2025-11-18", PROVIDER, false);
    st_preauth(r.state, 'd', "62264", "2025-11-18", PROVIDER, false);
    adjudicate(&r, NULL, "M47.816", "62264 2025-11-20 1 12500.00", &o); /* M47.8* */
    line_is(&o, 1, "approve", NULL, X, X, X, X, X);
    cc_claims_output_free(&o);
    adjudicate(&r, NULL, "M96.10", "62264 2025-11-20 1 12500.00", &o); /* M96.1 is exact, not a prefix */
    line_is(&o, 1, "deny", "11", X, X, X, X, X);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_diagnosis_pointer(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    /* the claim has E11.9, but line 1 points only at diagnosis 2 */
    adjudicate(&r, NULL, "E11.9,J45.909", "82947 2025-11-20 1 8.00 2; 82947 2025-11-21 1 8.00 1", &o);
    line_is(&o, 1, "deny", "11", X, X, X, X, X);
    line_is(&o, 2, "approve", NULL, X, X, X, X, X);
    cc_claims_output_free(&o);
}

static void test_unit_limit(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "97110 2025-11-20 5 200.00", &o);
    line_is(&o, 1, "deny", "119", X, X, X, X, X);
    cc_claims_output_free(&o);
    adjudicate(&r, NULL, "", "97110 2025-11-20 3 120.00; 97110 2025-11-20 2 80.00; 97110 2025-11-21 4 160.00",
               &o);
    line_is(&o, 1, "approve", NULL, 10500, X, X, X, X);
    line_is(&o, 2, "deny", "119", X, X, X, X, X); /* 3 + 2 > 4 */
    line_is(&o, 3, "approve", NULL, 14000, X, X, X, X);
    assert_int_equal(json_integer_value(json_object_get(o.effects, "units/" PATIENT "/97110/2025-11-20")), 3);
    json_object_update(r.state, o.effects);
    cc_claims_output_free(&o);
    /* units already approved in another claim count */
    adjudicate(&r, NULL, "", "97110 2025-11-20 2 81.00; 97110 2025-11-20 1 41.00", &o);
    line_is(&o, 1, "deny", "119", X, X, X, X, X);
    line_is(&o, 2, "approve", NULL, X, X, X, X, X);
    assert_int_equal(json_integer_value(json_object_get(o.effects, "units/" PATIENT "/97110/2025-11-20")), 4);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_pair_edit(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "80048 2025-11-20 1 25.00; 80053 2025-11-20 1 25.00; 80048 2025-11-21 1 25.00",
               &o);
    line_is(&o, 1, "deny", "97", X, X, X, X, X); /* bundled into 80053 that day, whatever the order */
    line_is(&o, 2, "approve", NULL, X, X, X, X, X);
    line_is(&o, 3, "approve", NULL, X, X, X, X, X); /* another day */
    cc_claims_output_free(&o);
}

static void test_pair_edit_primary_denied(void **state)
{
    (void)state;
    json_t *cov = json_pack("{s:{s:s, s:s}}", "period", "start", "2025-01-01", "end", "2026-12-31");
    run r = {.coverage = cov};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "80053 2025-08-01 1 25.00; 80048 2025-08-01 1 25.00", &o); /* 80053 is late */
    line_is(&o, 1, "deny", "29", X, X, X, X, X);
    line_is(&o, 2, "deny", "29", X, X, X, X, X);
    cc_claims_output_free(&o);
    adjudicate(&r, NULL, "", "80053 2025-11-20 1 25.00; 80053 2025-11-20 1 25.00; 80048 2025-11-20 1 25.00",
               &o);
    line_is(&o, 2, "deny", "18", X, X, X, X, X);
    line_is(&o, 3, "deny", "97", X, X, X, X, X); /* line 1 still stands */
    cc_claims_output_free(&o);
    json_decref(cov);
}

static void test_plan_year_rollover(void **state)
{
    (void)state;
    run r = {.state = json_object(), .today = "2026-01-05"};
    cc_claims_output o;
    st_acc(r.state, 2025, 50000, 80000);
    adjudicate(&r, NULL, "", "80053 2025-12-30 1 25.00; 80053 2026-01-02 1 25.00", &o);
    line_is(&o, 1, "approve", NULL, 2500, 0, 0, 500, 2000); /* 2025: deductible met */
    line_is(&o, 2, "approve", NULL, 2500, 2500, 0, 0, 0);   /* 2026: a new deductible */
    assert_int_equal(st_ded(o.effects, 2025), 50000);
    assert_int_equal(st_oop(o.effects, 2025), 80500);
    assert_int_equal(st_ded(o.effects, 2026), 2500);
    assert_int_equal(st_oop(o.effects, 2026), 2500);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_preauthorization_pends(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, "preauthorization", "M96.1", "62264 2025-12-10 1 12500.00; 99213 2025-12-10 1 95.00", &o);
    assert_true(o.pended);
    line_is(&o, 1, "pend", "133", X, X, X, X, X);
    line_is(&o, 2, "approve", NULL, X, X, X, X, X);
    assert_int_equal(json_object_size(o.effects), 0);
    assert_string_equal(jstr(o.response, "outcome"), "queued");
    assert_string_equal(jstr(o.response, "preAuthRef"),
                        "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
    cc_claims_output_free(&o);
    /* a reviewer approves: authorized, priced as an estimate, nothing counted */
    r.review = CC_CLAIMS_REVIEW_APPROVE;
    adjudicate(&r, "preauthorization", "M96.1", "62264 2025-12-10 1 12500.00; 99213 2025-12-10 1 95.00", &o);
    assert_false(o.pended);
    line_is(&o, 1, "approve", NULL, 900000, 50000, 0, 100000, 750000);
    assert_int_equal(json_object_size(o.effects), 0);
    cc_claims_output_free(&o);
    r.review = CC_CLAIMS_REVIEW_DENY;
    adjudicate(&r, "preauthorization", "M96.1", "62264 2025-12-10 1 12500.00", &o);
    line_is(&o, 1, "deny", "197", X, X, X, X, X);
    cc_claims_output_free(&o);
}

static void test_preauthorization_checks_apply(void **state)
{
    (void)state;
    run r = {0};
    cc_claims_output o;
    adjudicate(&r, "preauthorization", "J45.909", "62264 2025-12-10 1 12500.00; 99999 2025-12-10 1 1.00", &o);
    line_is(&o, 1, "deny", "11", X, X, X, X, X);
    line_is(&o, 2, "deny", "96", X, X, X, X, X);
    assert_false(o.pended);
    cc_claims_output_free(&o);
}

static void test_currency_mismatch(void **state)
{
    (void)state;
    json_t *c = make_claim(NULL, "", "99213 2025-11-20 1 95.00");
    json_object_set_new(json_object_get(json_array_get(json_object_get(c, "item"), 0), "net"), "currency",
                        json_string("EUR"));
    json_t *st = json_object();
    run r = {.state = st};
    cc_claims_output o;
    cc_errbuf eb = {""};
    assert_int_equal(adjudicate_with(&r, c, &o, &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "EUR"));
    json_decref(c);
    json_decref(st);
}

static const json_t *adj_entry(const json_t *item, const char *code)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(item, "adjudication"), i, a)
    {
        const json_t *coding = json_array_get(json_object_get(json_object_get(a, "category"), "coding"), 0);
        if (strcmp(jstr(coding, "code"), code) == 0) return a;
    }
    return NULL;
}

static void test_claim_response_shape(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    cc_claims_output o;
    st_acc(r.state, 2025, 49000, 49000);
    adjudicate(&r, NULL, "", "80053 2025-11-20 1 40.00; 99999 2025-11-20 1 10.00", &o);
    const json_t *resp = o.response;
    assert_string_equal(jstr(resp, "resourceType"), "ClaimResponse");
    assert_string_equal(jstr(resp, "outcome"), "complete");
    assert_string_equal(jstr(resp, "use"), "claim");
    assert_string_equal(jstr(json_object_get(resp, "patient"), "reference"), "Patient/" PATIENT);
    assert_string_equal(jstr(json_object_get(resp, "insurer"), "reference"), "Organization/payer");
    const json_t *ext = json_array_get(json_object_get(resp, "extension"), 0);
    assert_string_equal(jstr(ext, "url"), CC_CLAIMS_PLAN_EXTENSION);
    assert_string_equal(jstr(ext, "valueString"), "test-ppo|1");
    const json_t *item = json_array_get(json_object_get(resp, "item"), 0);
    assert_int_equal(jint(item, "itemSequence"), 1);
    const char *cats[] = {"submitted", "eligible", "deductible", "coinsurance", "memberliability", "benefit"};
    const char *amounts[] = {"40.00", "25.00", "10.00", "3.00", "13.00", "12.00"};
    assert_null(adj_entry(item, "copay")); /* a zero share is not listed on the line */
    assert_int_equal(json_array_size(json_object_get(item, "adjudication")), 6);
    for (size_t i = 0; i < 6; i++) {
        const json_t *a = adj_entry(item, cats[i]);
        if (!a) fail_msg("no %s adjudication", cats[i]);
        assert_string_equal(jstr(json_object_get(a, "amount"), "value"), amounts[i]);
        assert_string_equal(jstr(json_object_get(a, "amount"), "currency"), "USD");
    }
    const json_t *reason = json_array_get(
        json_object_get(json_object_get(adj_entry(item, "deductible"), "reason"), "coding"), 0);
    assert_string_equal(jstr(reason, "system"), CC_CLAIMS_CARC_SYSTEM);
    assert_string_equal(jstr(reason, "code"), "1");
    reason =
        json_array_get(json_object_get(json_object_get(adj_entry(item, "eligible"), "reason"), "coding"), 0);
    assert_string_equal(jstr(reason, "code"), "45");
    const json_t *denied = json_array_get(json_object_get(resp, "item"), 1);
    reason = json_array_get(
        json_object_get(json_object_get(adj_entry(denied, "eligible"), "reason"), "coding"), 0);
    assert_string_equal(jstr(reason, "code"), "96");
    assert_non_null(json_object_get(denied, "noteNumber"));
    assert_true(json_array_size(json_object_get(resp, "processNote")) == 1);
    const json_t *total = json_object_get(resp, "total");
    assert_int_equal(json_array_size(total), 7);
    assert_string_equal(jstr(json_object_get(json_array_get(total, 0), "amount"), "value"), "50.00");
    assert_string_equal(jstr(json_object_get(json_array_get(total, 6), "amount"), "value"), "12.00");
    /* rendered FHIR has numbers again, with the same digits */
    char *text = cc_claims_fhir_dump(resp);
    assert_non_null(strstr(text, "\"value\":40.00"));
    assert_null(strstr(text, "\"value\":\"40.00\""));
    json_t *back = cc_json_parse((uint8_t *)text, strlen(text), NULL);
    assert_non_null(back);
    json_decref(back);
    free(text);
    cc_claims_output_free(&o);
    json_decref(r.state);
}

static void test_deterministic_output(void **state)
{
    (void)state;
    run r = {.state = json_object()};
    st_acc(r.state, 2025, 1234, 5678);
    cc_claims_output a, b;
    const char *items = "80053 2025-11-20 1 40.00; 99213 2025-11-20 1 95.00; 97110 2025-11-20 2 70.05";
    adjudicate(&r, NULL, "E11.9", items, &a);
    adjudicate(&r, NULL, "E11.9", items, &b);
    char *sa = cc_json_dump(a.response), *sb = cc_json_dump(b.response);
    char *ea = cc_json_dump(a.effects), *eb2 = cc_json_dump(b.effects);
    assert_string_equal(sa, sb);
    assert_string_equal(ea, eb2);
    free(sa);
    free(sb);
    free(ea);
    free(eb2);
    cc_claims_output_free(&a);
    cc_claims_output_free(&b);
    json_decref(r.state);
}

/* ---- custom rules (Lua) ------------------------------------------------------------------- */

static const char RULES[] =
    "function adjudicate(claim, member, plan)\n"
    "  local out = {}\n"
    "  for _, l in ipairs(claim.lines) do\n"
    "    if l.code == '97110' and l.units > 2 then\n"
    "      out[#out + 1] = {line = l.line, decision = 'pend', reason = 'therapy over 2 units needs review'}\n"
    "    elseif l.code == '99213' and l.billedCents > 50000 then\n"
    "      out[#out + 1] = {line = l.line, decision = 'deny', carc = 'B5', reason = 'billed far above the "
    "fee'}\n"
    "    elseif l.code == '99999' or l.code == '62264' then\n"
    "      out[#out + 1] = {line = l.line, decision = 'approve'}\n"
    "    elseif l.code == '80053' and member.deductibleMetCents >= plan.deductibleCents then\n"
    "      out[#out + 1] = {line = l.line, decision = 'deny', reason = 'screening once the deductible is "
    "met: ' .. member.planYear}\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n";

static json_t *plan_with_rules(const char *lua)
{
    json_t *p = json_deep_copy(g_plan);
    cc_errbuf eb = {""};
    json_object_set_new(p, "rules", json_string(lua));
    if (cc_plan_validate(p, &eb) != CC_OK) fail_msg("plan with rules: %s", eb.msg);
    return p;
}

static void test_rules_deny_pend_approve(void **state)
{
    (void)state;
    json_t *plan = plan_with_rules(RULES);
    run r = {.plan = plan};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "99213 2025-11-20 1 600.00; 99999 2025-11-20 1 1.00; 99213 2025-11-21 1 95.00",
               &o);
    line_is(&o, 1, "deny", "B5", X, X, X, X, X);
    assert_string_equal(jstr(out_line(&o, 1), "reason"), "billed far above the fee");
    line_is(&o, 2, "deny", "96", X, X, X, X, X); /* approve cannot lift a denial */
    line_is(&o, 3, "approve", NULL, 9500, 0, 2500, 0, 7000);
    cc_claims_output_free(&o);
    /* it sees the member's accumulators and the plan */
    r.state = json_object();
    st_acc(r.state, 2025, 50000, 50000);
    adjudicate(&r, NULL, "", "80053 2025-11-20 1 25.00", &o);
    line_is(&o, 1, "deny", "96", X, X, X, X, X);
    assert_string_equal(jstr(out_line(&o, 1), "reason"), "screening once the deductible is met: 2025");
    cc_claims_output_free(&o);
    json_decref(r.state);
    json_decref(plan);
}

static void test_rules_pend_then_review(void **state)
{
    (void)state;
    json_t *plan = plan_with_rules(RULES);
    run r = {.plan = plan};
    cc_claims_output o;
    adjudicate(&r, NULL, "", "97110 2025-11-20 3 105.00; 99213 2025-11-20 1 95.00", &o);
    assert_true(o.pended);
    assert_string_equal(jstr(o.response, "outcome"), "queued");
    line_is(&o, 1, "pend", "133", X, X, X, X, X);
    line_is(&o, 2, "approve", NULL, X, X, X, X, X);
    assert_int_equal(json_object_size(o.effects), 0); /* nothing counted while pended */
    assert_non_null(strstr(jstr(o.response, "disposition"), "therapy over 2 units"));
    cc_claims_output_free(&o);
    r.review = CC_CLAIMS_REVIEW_APPROVE;
    adjudicate(&r, NULL, "", "97110 2025-11-20 3 105.00; 99213 2025-11-20 1 95.00", &o);
    assert_false(o.pended);
    line_is(&o, 1, "approve", NULL, 10500, 10500, 0, 0, 0);
    assert_true(json_object_size(o.effects) > 0);
    cc_claims_output_free(&o);
    r.review = CC_CLAIMS_REVIEW_DENY;
    adjudicate(&r, NULL, "", "97110 2025-11-20 3 105.00; 99213 2025-11-20 1 95.00", &o);
    line_is(&o, 1, "deny", "96", X, X, X, X, X);
    line_is(&o, 2, "approve", NULL, X, X, X, X, X);
    cc_claims_output_free(&o);
    json_decref(plan);
}

static void test_rules_approve_preauthorization(void **state)
{
    (void)state;
    json_t *plan = plan_with_rules(RULES);
    run r = {.plan = plan};
    cc_claims_output o;
    adjudicate(&r, "preauthorization", "M96.1", "62264 2025-12-10 1 12500.00; 70551 2025-12-10 1 450.00", &o);
    line_is(&o, 1, "approve", NULL, X, X, X, X, X); /* the rule authorizes it at once */
    line_is(&o, 2, "pend", "133", X, X, X, X, X);   /* this one waits for a reviewer */
    cc_claims_output_free(&o);
    json_decref(plan);
}

/* A rule that fails pends the claim with the reason; nothing is counted. */
static void test_rules_failures_pend(void **state)
{
    (void)state;
    static const struct {
        const char *lua, *needle;
    } v[] = {
        {"function adjudicate(c, m, p) while true do end end", "custom rule failed"},
        {"function adjudicate(c, m, p) local t = {} for i = 1, 100000000 do t[i] = i end return {} end",
         "custom rule failed"},
        {"function adjudicate(c, m, p) local s = string.rep('x', 1000) for i = 1, 30 do s = s .. s end "
         "return {} end",
         "custom rule failed"},
        {"function adjudicate(c, m, p) return os.time() end", "custom rule failed"},
        {"function adjudicate(c, m, p) return io.open('x') end", "custom rule failed"},
        {"function adjudicate(c, m, p) return debug.getinfo(1) end", "custom rule failed"},
        {"function adjudicate(c, m, p) return load('return 1')() end", "custom rule failed"},
        {"function adjudicate(c, m, p) return string.dump(adjudicate) end", "custom rule failed"},
        {"function adjudicate(c, m, p) return {{line = 99, decision = 'deny'}} end", "answered wrongly"},
        {"function adjudicate(c, m, p) return {{line = 1, decision = 'maybe'}} end", "answered wrongly"},
        {"function adjudicate(c, m, p) return 'yes' end", "answered wrongly"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        json_t *plan = plan_with_rules(v[i].lua);
        run r = {.plan = plan};
        cc_claims_output o;
        adjudicate(&r, NULL, "", "99213 2025-11-20 1 95.00; 99999 2025-11-20 1 1.00", &o);
        if (!o.pended) fail_msg("rule %zu did not pend the claim", i);
        line_is(&o, 1, "pend", "133", X, X, X, X, X);
        line_is(&o, 2, "deny", "96", X, X, X, X, X);
        const char *why = jstr(out_line(&o, 1), "reason");
        if (!strstr(why, v[i].needle)) fail_msg("rule %zu: %s", i, why);
        assert_int_equal(json_object_size(o.effects), 0);
        cc_claims_output_free(&o);
        json_decref(plan);
    }
    /* a rule that does not compile is refused with the plan, naming it */
    json_t *p = json_deep_copy(g_plan);
    cc_errbuf eb = {""};
    json_object_set_new(p, "rules", json_string("function adjudicate(c, m, p) return 1 / 2 end"));
    assert_int_equal(cc_plan_validate(p, &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "plan.rules"));
    json_object_set_new(p, "rules", json_string("function adjudicate(c, m, p) return {"));
    assert_int_equal(cc_plan_validate(p, &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "plan.rules"));
    json_decref(p);
}

/* ---- plan and claim checks ------------------------------------------------------------------------ */

static void expect_plan_error(const char *edit_key, json_t *value, const char *needle)
{
    json_t *p = json_deep_copy(g_plan);
    cc_errbuf eb = {""};
    char path[64], *dot;
    snprintf(path, sizeof path, "%s", edit_key);
    json_t *obj = p;
    const char *leaf = path;
    while ((dot = strchr(leaf, '.'))) {
        *dot = '\0';
        obj = json_object_get(obj, leaf);
        leaf = dot + 1;
    }
    if (value)
        json_object_set_new(obj, leaf, value);
    else
        json_object_del(obj, leaf);
    if (cc_plan_validate(p, &eb) != CC_ERR_INVALID) fail_msg("%s: accepted", edit_key);
    if (!strstr(eb.msg, needle)) fail_msg("%s: \"%s\" lacks \"%s\"", edit_key, eb.msg, needle);
    json_decref(p);
}

static void test_plan_validate_names_paths(void **state)
{
    (void)state;
    expect_plan_error("id", json_string("Bad Id"), "plan.id");
    expect_plan_error("version", json_integer(0), "plan.version");
    expect_plan_error("deductibleCents", json_string("500.00"), "plan.deductibleCents");
    expect_plan_error("outOfPocketMaxCents", json_integer(100), "at least plan.deductibleCents");
    expect_plan_error("categories.lab.coinsuranceBp", json_integer(10001),
                      "plan.categories.lab.coinsuranceBp");
    expect_plan_error("categories.lab.copay", json_integer(1), "plan.categories.lab.copay");
    expect_plan_error("effective.start", json_string("2024-02-30"), "plan.effective.start");
    expect_plan_error("planYearStart", json_string("02-29"), "plan.planYearStart");
    expect_plan_error("diagnosis.82947", json_pack("[s]", "E1*1"), "plan.diagnosis.82947[0]");
    expect_plan_error("unitsPerDay.97110", json_integer(0), "plan.unitsPerDay.97110");
    expect_plan_error("tests", json_array(), "plan.tests");
    expect_plan_error("rules", json_string(""), "plan.rules");
    expect_plan_error("bogus", json_true(), "plan.bogus");
    json_t *p = json_deep_copy(g_plan);
    cc_errbuf eb = {""};
    json_object_set_new(json_array_get(json_object_get(p, "covered"), 3), "category", json_string("dental"));
    assert_int_equal(cc_plan_validate(p, &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "plan.covered[3].category"));
    json_object_set_new(json_array_get(json_object_get(p, "covered"), 3), "category", json_string("lab"));
    json_object_set_new(json_array_get(json_object_get(p, "covered"), 3), "to", json_string("8007"));
    assert_int_equal(cc_plan_validate(p, &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "plan.covered[3]"));
    json_object_set_new(json_array_get(json_object_get(p, "covered"), 3), "to", json_string("80076"));
    json_object_set_new(json_object_get(json_array_get(json_object_get(p, "tests"), 1), "claim"), "contained",
                        json_array());
    assert_int_equal(cc_plan_validate(p, &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "plan.tests[1].claim.contained"));
    json_decref(p);
}

static void test_claim_minimum_necessary(void **state)
{
    (void)state;
    static const struct {
        const char *field, *json, *needle;
    } v[] = {
        {"contained", "[{\"resourceType\": \"Patient\", \"name\": [{\"family\": \"Doe\"}]}]",
         "claim.contained"},
        {"supportingInfo", "[]", "claim.supportingInfo"},
        {"text", "{\"div\": \"x\"}", "claim.text"},
        {"accident", "{}", "claim.accident"},
        {"identifier", "[]", "claim.identifier"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        json_t *c = make_claim(NULL, "", "99213 2025-11-20 1 95.00");
        cc_errbuf eb = {""};
        json_object_set_new(c, v[i].field, load(v[i].json));
        assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_ERR_INVALID);
        if (!strstr(eb.msg, v[i].needle)) fail_msg("%s: %s", v[i].field, eb.msg);
        json_decref(c);
    }
    json_t *c = make_claim(NULL, "E11.9", "99213 2025-11-20 1 95.00");
    cc_errbuf eb = {""};
    json_t *coding =
        json_array_get(json_object_get(json_object_get(json_array_get(json_object_get(c, "diagnosis"), 0),
                                                       "diagnosisCodeableConcept"),
                                       "coding"),
                       0);
    json_object_set_new(coding, "display", json_string("Type 2 diabetes"));
    assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "claim.diagnosis[0].diagnosisCodeableConcept.coding[0].display"));
    json_object_del(coding, "display");
    /* no sentence fits where a code or a URI goes (the audit put names and
     * diagnoses into a coding's system and version, a second coding's code,
     * a quantity's unit and a care team reference) */
    static const struct {
        const char *field, *value;
    } free_text[] = {
        {"system", "urn:x patient Jane Roe has HIV"},
        {"version", "seen for HIV"},
        {"code", "E11.9 Jane Roe"},
        {"system", "urn:caf\u00e9"}, /* not ASCII */
    };
    for (size_t i = 0; i < sizeof free_text / sizeof free_text[0]; i++) {
        json_t *second = json_pack("{s:s, s:s}", "system", "http://hospital.example/dx", "code", "L1");
        json_object_set_new(second, free_text[i].field, json_string(free_text[i].value));
        json_array_append_new(
            json_object_get(json_object_get(json_array_get(json_object_get(c, "diagnosis"), 0),
                                            "diagnosisCodeableConcept"),
                            "coding"),
            second);
        assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_ERR_INVALID);
        char want[128];
        snprintf(want, sizeof want, "claim.diagnosis[0].diagnosisCodeableConcept.coding[1].%s must be",
                 free_text[i].field);
        if (!strstr(eb.msg, want)) fail_msg("%s: %s", free_text[i].value, eb.msg);
        json_array_remove(json_object_get(json_object_get(json_array_get(json_object_get(c, "diagnosis"), 0),
                                                          "diagnosisCodeableConcept"),
                                          "coding"),
                          1);
    }
    assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_OK);
    json_t *it = json_array_get(json_object_get(c, "item"), 0);
    json_object_set_new(it, "quantity", json_pack("{s:i, s:s}", "value", 1, "unit", "visit for Jane Roe"));
    assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "claim.item[0].quantity.unit must be a code"));
    json_object_set_new(it, "quantity", json_pack("{s:i, s:s}", "value", 1, "unit", "mg/dL"));
    assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_OK);
    json_object_del(it, "quantity");
    json_object_set_new(
        c, "careTeam",
        json_pack("[{s:i, s:{s:s}}]", "sequence", 1, "provider", "reference", "Practitioner/Dr Who"));
    assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "claim.careTeam[0].provider.reference"));
    json_object_set_new(
        c, "careTeam",
        json_pack("[{s:i, s:{s:s}}]", "sequence", 1, "provider", "reference", "Practitioner/example"));
    assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_OK);
    json_object_del(c, "careTeam");
    json_object_set_new(json_object_get(it, "net"), "value", json_string("95.001"));
    assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "claim.item[0].net.value"));
    json_object_set_new(json_object_get(it, "net"), "value", json_string("95.00"));
    json_object_set_new(it, "quantity", json_pack("{s:s}", "value", "1.5"));
    assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "claim.item[0].quantity.value"));
    json_object_del(it, "quantity");
    json_object_set_new(it, "diagnosisSequence", json_pack("[i]", 7));
    assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "claim.item[0].diagnosisSequence[0]"));
    /* ... also when the claim has no diagnosis at all (this once leaked an
     * array per item: make asan checks) */
    json_t *diagnoses = json_incref(json_object_get(c, "diagnosis"));
    json_object_del(c, "diagnosis");
    json_object_set_new(it, "diagnosisSequence", json_pack("[i]", 1));
    assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "claim.item[0].diagnosisSequence[0] names no diagnosis"));
    json_object_set_new(c, "diagnosis", diagnoses);
    json_object_del(it, "diagnosisSequence");
    json_object_set_new(c, "patient", json_pack("{s:s}", "reference", "Patient/example"));
    assert_int_equal(cc_claim_validate(c, false, "claim", &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "claim.patient.reference"));
    json_decref(c);
}

static void test_plan_test_runner(void **state)
{
    (void)state;
    json_t *report = NULL;
    cc_errbuf eb = {""};
    if (cc_plan_test(g_plan, &report, &eb) != CC_OK) fail_msg("%s", eb.msg);
    assert_int_equal(json_array_size(report), 3);
    assert_true(json_is_true(json_object_get(json_array_get(report, 2), "passed")));
    json_decref(report);
    json_t *p = json_deep_copy(g_plan);
    json_t *line = json_array_get(
        json_object_get(json_object_get(json_array_get(json_object_get(p, "tests"), 1), "expect"), "lines"),
        0);
    json_object_set_new(line, "deductibleCents", json_integer(2500));
    assert_int_equal(cc_plan_test(p, &report, &eb), CC_ERR_INVALID);
    assert_string_equal(eb.msg,
                        "plan test \"lab line crosses the deductible\": line 1 deductibleCents is 1000, "
                        "expected 2500");
    assert_false(json_is_true(json_object_get(json_array_get(report, 1), "passed")));
    json_decref(report);
    /* without its authorization the surgery case fails, naming the reason */
    json_object_set_new(line, "deductibleCents", json_integer(1000));
    json_object_del(json_array_get(json_object_get(p, "tests"), 2), "authorized");
    assert_int_equal(cc_plan_test(p, NULL, &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "plan test \"surgery needs an authorization\": line 1 is deny"));
    json_decref(p);
}

/* ---- the ledger ----------------------------------------------------------------------------- */

/* Key numbers: the genesis gives 1 (node), 2 (hospital admin), 3 (payer admin). */
enum {
    NODE = 1,
    HADMIN = 2,
    PADMIN = 3,
    CLIN = 10,   /* clinician, hospital */
    PAT = 12,    /* patient */
    PAT2 = 13,   /* patient */
    PAYER = 20,  /* payer, of the payer organisation */
    HPAYER = 21, /* payer role, but of the hospital */
    PCLIN = 22,  /* clinician, of the payer organisation */
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

/* Send one tx in its own block; *txid (may be NULL) gets its id in hex. */
static cc_err send_on(fixture *f, cc_chain *c, int signer, const char *type, const json_t *payload,
                      char txid[CC_HASH_HEX])
{
    cc_tx tx;
    cc_result r;
    cc_header h;
    cc_errbuf eb = {""};
    char *text = cc_json_dump(payload);
    f->t += 10;
    cc_tx_params p = {.chain_id = cc_chain_genesis(c)->chain_id,
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
    if (cc_chain_produce(c, &tx, 1, f->t + 1, &f->k[NODE], &h, &r, &eb) != CC_OK)
        fail_msg("produce: %s", eb.msg);
    cc_tx_free(&tx);
    snprintf(f->msg, sizeof f->msg, "%s", r.message);
    return (cc_err)r.code;
}

static cc_err send(fixture *f, int signer, const char *type, json_t *payload, char txid[CC_HASH_HEX])
{
    cc_err rc = send_on(f, f->c, signer, type, payload, txid);
    json_decref(payload);
    return rc;
}

static json_t *state_json(cc_chain *c, const char *key)
{
    char *v = NULL;
    size_t n;
    if (cc_chain_state_get(c, key, &v, &n) != CC_OK) return NULL;
    json_t *o = cc_json_parse((uint8_t *)v, n, NULL);
    free(v);
    return o;
}

/* A claim as GET /v1/claims/{id} serves it: the stored record with its
 * ClaimResponse rendered. */
static cc_err view_get(void *ctx, const char *key, json_t **out)
{
    *out = state_json(ctx, key);
    return *out ? CC_OK : CC_ERR_NOT_FOUND;
}

static json_t *claim_rec(fixture *f, const char *id)
{
    char key[80];
    json_t *view = NULL;
    snprintf(key, sizeof key, "claim/%s", id);
    json_t *rec = state_json(f->c, key);
    if (rec && cc_claims_record_view(view_get, f->c, rec, &view) != CC_OK) view = NULL;
    json_decref(rec);
    return view;
}

static void register_as(fixture *f, int admin, int key, const char *role)
{
    EXPECT(CC_OK,
           send(f, admin, "member.register", json_pack("{s:s, s:s}", "id", f->hex[key], "role", role), NULL));
}

static cc_err enroll(fixture *f, int signer, const char *id, int patient, const char *plan, int version,
                     const char *start, const char *end)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:{s:s}, s:s}", "coverage", id, "patient", f->hex[patient], "plan",
                          plan, "period", "start", start, "subscriber", "W123");
    if (end) json_object_set_new(json_object_get(p, "period"), "end", json_string(end));
    if (version) json_object_set_new(p, "version", json_integer(version));
    return send(f, signer, "coverage.enroll", p, NULL);
}

static cc_err deploy(fixture *f, int signer, const json_t *plan)
{
    return send(f, signer, "plan.deploy", json_pack("{s:O}", "plan", plan), NULL);
}

/* A claim of patient (key number) on coverage cov, from the hospital. */
static json_t *ledger_claim(fixture *f, int patient, const char *cov, const char *use, const char *diags,
                            const char *items)
{
    char ref[80];
    json_t *c = make_claim(use, diags, items);
    snprintf(ref, sizeof ref, "Patient/%s", f->hex[patient]);
    json_object_set_new(json_object_get(c, "patient"), "reference", json_string(ref));
    snprintf(ref, sizeof ref, "Coverage/%s", cov);
    json_object_set_new(json_object_get(json_array_get(json_object_get(c, "insurance"), 0), "coverage"),
                        "reference", json_string(ref));
    return c;
}

static cc_err submit(fixture *f, int signer, json_t *claim, char txid[CC_HASH_HEX])
{
    return send(f, signer, "claim.submit", json_pack("{s:o}", "claim", claim), txid);
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
    register_as(f, HADMIN, CLIN, "clinician");
    register_as(f, HADMIN, PAT, "patient");
    register_as(f, HADMIN, PAT2, "patient");
    register_as(f, PADMIN, PAYER, "payer");
    register_as(f, HADMIN, HPAYER, "payer");
    register_as(f, PADMIN, PCLIN, "clinician");
    EXPECT(CC_OK, deploy(f, PAYER, g_plan));
    EXPECT(CC_OK, enroll(f, PAYER, "cov-1", PAT, "test-ppo", 0, "2025-01-01", "2026-12-31"));
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

static void test_deploy_versions(void **state)
{
    fixture *f = *state;
    json_t *p = json_deep_copy(g_plan);
    EXPECT(CC_ERR_CONFLICT, deploy(f, PAYER, p)); /* version 1 again */
    assert_non_null(strstr(f->msg, "version 1"));
    json_object_set_new(p, "version", json_integer(3));
    EXPECT(CC_OK, deploy(f, PAYER, p));
    json_object_set_new(p, "version", json_integer(2));
    EXPECT(CC_ERR_CONFLICT, deploy(f, PAYER, p)); /* lower than the latest */
    json_object_set_new(p, "version", json_integer(4));
    EXPECT(CC_ERR_FORBIDDEN, deploy(f, HPAYER, p)); /* another organisation's plan */
    EXPECT(CC_ERR_FORBIDDEN, deploy(f, PADMIN, p)); /* an admin is not a payer */
    json_t *head = state_json(f->c, "plan/test-ppo");
    assert_int_equal(jint(head, "latest"), 3);
    assert_string_equal(jstr(head, "org"), "payer");
    assert_int_equal(json_array_size(json_object_get(head, "versions")), 2);
    json_decref(head);
    json_t *v3 = state_json(f->c, "plan/test-ppo/3");
    assert_int_equal(jint(json_object_get(v3, "plan"), "version"), 3);
    json_decref(v3);
    json_decref(p);
}

static void test_deploy_rejects_failing_case(void **state)
{
    fixture *f = *state;
    json_t *p = json_deep_copy(g_plan);
    json_object_set_new(p, "version", json_integer(2));
    json_object_set_new(json_object_get(json_object_get(p, "categories"), "office"), "copayCents",
                        json_integer(3000));
    EXPECT(CC_ERR_INVALID, deploy(f, PAYER, p));
    assert_string_equal(f->msg,
                        "plan test \"office visit: copay only\": benefitCents is 6500, expected 7000");
    json_object_set_new(p, "bogus", json_true());
    EXPECT(CC_ERR_INVALID, deploy(f, PAYER, p));
    assert_non_null(strstr(f->msg, "plan.bogus"));
    json_decref(p);
    json_t *head = state_json(f->c, "plan/test-ppo");
    assert_int_equal(jint(head, "latest"), 1); /* nothing deployed */
    json_decref(head);
}

static void test_enroll(void **state)
{
    fixture *f = *state;
    EXPECT(CC_ERR_CONFLICT, enroll(f, PAYER, "cov-1", PAT2, "test-ppo", 0, "2025-01-01", NULL));
    EXPECT(CC_ERR_NOT_FOUND, enroll(f, PAYER, "cov-2", PAT2, "no-plan", 0, "2025-01-01", NULL));
    EXPECT(CC_ERR_NOT_FOUND, enroll(f, PAYER, "cov-2", PAT2, "test-ppo", 9, "2025-01-01", NULL));
    EXPECT(CC_ERR_INVALID,
           enroll(f, PAYER, "cov-2", CLIN, "test-ppo", 0, "2025-01-01", NULL)); /* not a patient */
    EXPECT(CC_ERR_FORBIDDEN, enroll(f, HPAYER, "cov-2", PAT2, "test-ppo", 0, "2025-01-01", NULL));
    EXPECT(CC_ERR_INVALID, enroll(f, PAYER, "cov-2", PAT2, "test-ppo", 0, "2025-01-01", "2024-12-31"));
    EXPECT(CC_OK, enroll(f, PAYER, "cov-2", PAT2, "test-ppo", 1, "2025-01-01", NULL));
    json_t *cov = state_json(f->c, "coverage/cov-2");
    assert_string_equal(jstr(cov, "patient"), f->hex[PAT2]);
    assert_string_equal(jstr(cov, "org"), "payer");
    json_decref(cov);
    char key[80];
    snprintf(key, sizeof key, "pcoverage/%s", f->hex[PAT2]);
    json_t *list = state_json(f->c, key);
    assert_string_equal(json_string_value(json_array_get(list, 0)), "cov-2");
    json_decref(list);
}

static void test_submit_adjudicated(void **state)
{
    fixture *f = *state;
    char id[CC_HASH_HEX], key[CC_CLAIMS_KEY_MAX];
    EXPECT(CC_OK, submit(f, CLIN,
                         ledger_claim(f, PAT, "cov-1", NULL, "E11.9",
                                      "99213 2025-11-20 1 120.00; 82947 2025-11-20 1 12.00"),
                         id));
    json_t *rec = claim_rec(f, id);
    /* the record is written as text on the fast path: it is canonical JSON,
     * and it keeps the lines, not the ClaimResponse (rendered on read) */
    snprintf(key, sizeof key, "claim/%s", id);
    json_t *stored = state_json(f->c, key);
    assert_null(json_object_get(stored, "response"));
    char *raw = NULL, *again = cc_json_dump(stored);
    size_t n = 0;
    json_decref(stored);
    assert_int_equal(cc_chain_state_get(f->c, key, &raw, &n), CC_OK);
    assert_int_equal(n, strlen(again));
    assert_memory_equal(raw, again, n);
    free(raw);
    free(again);
    assert_string_equal(jstr(rec, "status"), "adjudicated");
    assert_string_equal(jstr(rec, "plan"), "test-ppo");
    assert_int_equal(jint(rec, "planVersion"), 1);
    assert_string_equal(jstr(rec, "provider"), "hospital");
    assert_string_equal(jstr(rec, "insurer"), "payer");
    assert_int_equal(jint(rec, "benefitCents"), 7000 + 0);
    assert_int_equal(jint(rec, "patientCents"), 2500 + 800);
    const json_t *resp = json_object_get(rec, "response");
    assert_string_equal(jstr(resp, "id"), id);
    assert_string_equal(jstr(resp, "outcome"), "complete");
    assert_int_equal(json_array_size(json_object_get(rec, "history")), 2);
    json_decref(rec);
    cc_claims_acc_key(key, f->hex[PAT], "test-ppo", 2025);
    json_t *acc = state_json(f->c, key);
    assert_int_equal(jint(acc, "deductibleMetCents"), 800);
    assert_int_equal(jint(acc, "outOfPocketMetCents"), 3300);
    json_decref(acc);
    char id2[CC_HASH_HEX];
    EXPECT(CC_OK, submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-21 1 120.00"), id2));
    /* the patient's index: a counter and one small key per claim, oldest first */
    snprintf(key, sizeof key, "pclaimcount/%s", f->hex[PAT]);
    json_t *count = state_json(f->c, key);
    assert_int_equal(json_integer_value(count), 2);
    json_decref(count);
    cc_claims_patient_claim_key(key, f->hex[PAT], 1);
    assert_non_null(strstr(key, "/0000000001"));
    json_t *first = state_json(f->c, key);
    assert_string_equal(json_string_value(first), id);
    json_decref(first);
    cc_claims_patient_claim_key(key, f->hex[PAT], 2);
    json_t *second = state_json(f->c, key);
    assert_string_equal(json_string_value(second), id2);
    json_decref(second);
}

static void test_submit_duplicate_across_claims(void **state)
{
    fixture *f = *state;
    char a[CC_HASH_HEX], b[CC_HASH_HEX];
    EXPECT(CC_OK, submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 120.00"), a));
    EXPECT(CC_OK, submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 120.00"), b));
    json_t *rec = claim_rec(f, b);
    const json_t *l = json_array_get(json_object_get(rec, "lines"), 0);
    assert_string_equal(jstr(l, "decision"), "deny");
    assert_string_equal(jstr(l, "carc"), "18");
    assert_non_null(strstr(jstr(l, "reason"), "duplicate of line 1"));
    assert_int_equal(jint(rec, "benefitCents"), 0);
    json_decref(rec);
    /* the same service from another provider is not a duplicate */
    json_t *c = ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 120.00");
    json_object_set_new(json_object_get(c, "provider"), "reference", json_string("Organization/payer"));
    EXPECT(CC_OK, submit(f, PCLIN, c, b));
    rec = claim_rec(f, b);
    assert_string_equal(jstr(json_array_get(json_object_get(rec, "lines"), 0), "decision"), "approve");
    json_decref(rec);
}

static void test_submit_refusals(void **state)
{
    fixture *f = *state;
    EXPECT(CC_ERR_FORBIDDEN,
           submit(f, PAT, ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 95.00"), NULL));
    EXPECT(CC_ERR_FORBIDDEN,
           submit(f, PAYER, ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 95.00"), NULL));
    json_t *c = ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 95.00");
    json_object_set_new(c, "contained", json_pack("[{s:s}]", "resourceType", "Patient"));
    EXPECT(CC_ERR_INVALID, submit(f, CLIN, c, NULL));
    assert_non_null(strstr(f->msg, "claim.contained"));
    EXPECT(CC_ERR_FORBIDDEN,
           submit(f, PCLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 95.00"), NULL));
    assert_non_null(strstr(f->msg, "provider"));
    EXPECT(CC_ERR_NOT_FOUND,
           submit(f, CLIN, ledger_claim(f, PAT, "cov-9", NULL, "", "99213 2025-11-20 1 95.00"), NULL));
    EXPECT(CC_ERR_NOT_FOUND,
           submit(f, CLIN, ledger_claim(f, PAT2, "cov-1", NULL, "", "99213 2025-11-20 1 95.00"), NULL));
    c = ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 95.00");
    json_object_set_new(c, "insurer", json_pack("{s:s}", "reference", "Organization/hospital"));
    EXPECT(CC_ERR_INVALID, submit(f, CLIN, c, NULL));
    /* the payload itself is canonical JSON: a real number is refused before any of this */
    json_t *bad = ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 95.00");
    json_object_set_new(json_object_get(json_array_get(json_object_get(bad, "item"), 0), "net"), "value",
                        json_real(95.5));
    EXPECT(CC_ERR_MALFORMED, submit(f, CLIN, bad, NULL));
}

static void test_prior_auth_flow(void **state)
{
    fixture *f = *state;
    char pa[CC_HASH_HEX], c1[CC_HASH_HEX], c2[CC_HASH_HEX];
    EXPECT(CC_OK,
           submit(f, CLIN,
                  ledger_claim(f, PAT, "cov-1", "preauthorization", "M96.1", "62264 2025-11-25 1 12500.00"),
                  pa));
    json_t *rec = claim_rec(f, pa);
    assert_string_equal(jstr(rec, "status"), "pended");
    assert_string_equal(jstr(json_object_get(rec, "response"), "outcome"), "queued");
    json_decref(rec);
    /* a claim before the decision: no authorization yet */
    EXPECT(CC_OK,
           submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "M96.1", "62264 2025-11-24 1 12500.00"), c1));
    rec = claim_rec(f, c1);
    assert_string_equal(jstr(json_array_get(json_object_get(rec, "lines"), 0), "carc"), "197");
    json_decref(rec);
    EXPECT(CC_ERR_INVALID,
           send(f, PAYER, "payment.settle",
                json_pack("{s:s, s:[{s:s, s:i}]}", "trace", "T-0", "claims", "claim", pa, "amountCents", 0),
                NULL));
    EXPECT(CC_ERR_FORBIDDEN, send(f, HPAYER, "priorauth.decide",
                                  json_pack("{s:s, s:s}", "claim", pa, "decision", "approve"), NULL));
    EXPECT(CC_OK, send(f, PAYER, "priorauth.decide",
                       json_pack("{s:s, s:s}", "claim", pa, "decision", "approve"), NULL));
    EXPECT(CC_ERR_CONFLICT, send(f, PAYER, "priorauth.decide",
                                 json_pack("{s:s, s:s}", "claim", pa, "decision", "deny"), NULL));
    rec = claim_rec(f, pa);
    assert_string_equal(jstr(rec, "status"), "adjudicated");
    assert_string_equal(jstr(json_array_get(json_object_get(rec, "lines"), 0), "decision"), "approve");
    assert_string_equal(jstr(json_array_get(json_object_get(rec, "history"), 2), "review"), "approve");
    json_decref(rec);
    /* the service date is in the authorization's window: approved, the authorization consumed */
    f->t += 2 * MS_DAY;
    EXPECT(CC_OK,
           submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "M96.1", "62264 2025-11-26 1 12500.00"), c1));
    rec = claim_rec(f, c1);
    assert_string_equal(jstr(json_array_get(json_object_get(rec, "lines"), 0), "decision"), "approve");
    assert_string_equal(jstr(json_array_get(json_object_get(rec, "lines"), 0), "authorization"), pa);
    json_decref(rec);
    rec = claim_rec(f, pa);
    assert_string_equal(jstr(json_array_get(json_object_get(rec, "lines"), 0), "consumedBy"), c1);
    json_decref(rec);
    /* once: the next claim for the same service finds none */
    EXPECT(CC_OK,
           submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "M96.1", "62264 2025-11-26 1 12400.00"), c2));
    rec = claim_rec(f, c2);
    assert_string_equal(jstr(json_array_get(json_object_get(rec, "lines"), 0), "carc"), "197");
    json_decref(rec);
}

static void test_prior_auth_denied(void **state)
{
    fixture *f = *state;
    char pa[CC_HASH_HEX];
    EXPECT(CC_OK,
           submit(f, CLIN,
                  ledger_claim(f, PAT, "cov-1", "preauthorization", "M96.1", "62264 2025-11-25 1 12500.00"),
                  pa));
    EXPECT(CC_OK, send(f, PAYER, "priorauth.decide",
                       json_pack("{s:s, s:s, s:s}", "claim", pa, "decision", "deny", "reason",
                                 "conservative therapy first"),
                       NULL));
    json_t *rec = claim_rec(f, pa);
    const json_t *l = json_array_get(json_object_get(rec, "lines"), 0);
    assert_string_equal(jstr(l, "decision"), "deny");
    assert_string_equal(jstr(l, "carc"), "197");
    assert_string_equal(jstr(l, "reason"), "conservative therapy first");
    json_decref(rec);
    EXPECT(CC_ERR_INVALID, send(f, PAYER, "priorauth.decide",
                                json_pack("{s:s, s:s}", "claim", pa, "decision", "maybe"), NULL));
}

static void test_payment_settle(void **state)
{
    fixture *f = *state;
    char a[CC_HASH_HEX], b[CC_HASH_HEX];
    EXPECT(CC_OK, submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 120.00"), a));
    EXPECT(CC_OK, submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-21 1 90.00"), b));
    /* a wrong amount for the second claim: nothing is paid */
    EXPECT(CC_ERR_INVALID, send(f, PAYER, "payment.settle",
                                json_pack("{s:s, s:[{s:s, s:i}, {s:s, s:i}]}", "trace", "EFT-1", "claims",
                                          "claim", a, "amountCents", 7000, "claim", b, "amountCents", 9000),
                                NULL));
    assert_non_null(strstr(f->msg, "6500"));
    json_t *rec = claim_rec(f, a);
    assert_string_equal(jstr(rec, "status"), "adjudicated");
    json_decref(rec);
    EXPECT(CC_ERR_FORBIDDEN, send(f, HPAYER, "payment.settle",
                                  json_pack("{s:s, s:[{s:s, s:i}]}", "trace", "EFT-1", "claims", "claim", a,
                                            "amountCents", 7000),
                                  NULL));
    EXPECT(CC_OK, send(f, PAYER, "payment.settle",
                       json_pack("{s:s, s:[{s:s, s:i}, {s:s, s:i}]}", "trace", "EFT-1", "claims", "claim", a,
                                 "amountCents", 7000, "claim", b, "amountCents", 6500),
                       NULL));
    rec = claim_rec(f, a);
    assert_string_equal(jstr(rec, "status"), "paid");
    assert_string_equal(jstr(json_object_get(rec, "payment"), "trace"), "EFT-1");
    const json_t *pay = json_object_get(json_object_get(rec, "response"), "payment");
    assert_string_equal(jstr(json_object_get(pay, "amount"), "value"), "70.00");
    assert_string_equal(jstr(json_object_get(pay, "identifier"), "value"), "EFT-1");
    assert_string_equal(jstr(json_array_get(json_object_get(rec, "history"), 2), "status"), "paid");
    json_t *eob = cc_claims_eob(rec);
    assert_non_null(eob);
    static const char *const required[] = {"status",    "type",    "use",      "patient",
                                           "created",   "insurer", "provider", "outcome",
                                           "insurance", "item",    "total",    "payment"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!json_object_get(eob, required[i])) fail_msg("the EOB lacks %s", required[i]);
    assert_string_equal(jstr(eob, "resourceType"), "ExplanationOfBenefit");
    assert_non_null(json_object_get(json_array_get(json_object_get(eob, "item"), 0), "adjudication"));
    assert_non_null(json_object_get(json_array_get(json_object_get(eob, "item"), 0), "productOrService"));
    char *text = cc_claims_fhir_dump(eob);
    assert_non_null(strstr(text, "\"value\":70.00"));
    free(text);
    json_decref(eob);
    json_decref(rec);
    json_t *pmt = state_json(f->c, "payment/EFT-1");
    assert_int_equal(jint(pmt, "totalCents"), 13500);
    json_decref(pmt);
    EXPECT(CC_ERR_CONFLICT, send(f, PAYER, "payment.settle",
                                 json_pack("{s:s, s:[{s:s, s:i}]}", "trace", "EFT-1", "claims", "claim", a,
                                           "amountCents", 7000),
                                 NULL));
    EXPECT(CC_ERR_CONFLICT, send(f, PAYER, "payment.settle",
                                 json_pack("{s:s, s:[{s:s, s:i}]}", "trace", "EFT-2", "claims", "claim", a,
                                           "amountCents", 7000),
                                 NULL));
    assert_non_null(strstr(f->msg, "paid"));
    EXPECT(CC_ERR_INVALID, send(f, PAYER, "payment.settle",
                                json_pack("{s:s, s:[{s:s, s:i}, {s:s, s:i}]}", "trace", "EFT-3", "claims",
                                          "claim", a, "amountCents", 1, "claim", a, "amountCents", 1),
                                NULL));
}

static uint64_t ms_of(const char *date)
{
    int64_t d;
    assert_true(cc_claims_date_parse(date, &d));
    return (uint64_t)d * MS_DAY + 3600000;
}

static const char *plan_used(fixture *f, const char *id, char *out)
{
    json_t *rec = claim_rec(f, id);
    snprintf(out, 64, "%s",
             jstr(json_array_get(json_object_get(json_object_get(rec, "response"), "extension"), 0),
                  "valueString"));
    json_decref(rec);
    return out;
}

/* Version 2 takes effect in 2026 with a higher office copay; claims record the version they used. */
static void test_plan_versions_recorded(void **state)
{
    fixture *f = *state;
    char *text = cc_json_dump(g_plan), *at, id[CC_HASH_HEX], used[64];
    while ((at = strstr(text, "2025-03-02"))) memcpy(at, "2026-03-02", 10);
    json_t *v2 = cc_json_parse((uint8_t *)text, strlen(text), NULL);
    free(text);
    json_object_set_new(v2, "version", json_integer(2));
    json_object_set_new(json_object_get(v2, "effective"), "start", json_string("2026-01-01"));
    json_object_set_new(json_object_get(json_object_get(v2, "categories"), "office"), "copayCents",
                        json_integer(3000));
    json_t *exp = json_object_get(json_array_get(json_object_get(v2, "tests"), 0), "expect");
    json_object_set_new(exp, "benefitCents", json_integer(6500));
    json_object_set_new(exp, "patientCents", json_integer(3000));
    json_object_set_new(json_array_get(json_object_get(exp, "lines"), 0), "copayCents", json_integer(3000));
    json_object_set_new(json_array_get(json_object_get(exp, "lines"), 0), "benefitCents", json_integer(6500));
    EXPECT(CC_OK, deploy(f, PAYER, v2));
    EXPECT(CC_OK, enroll(f, PAYER, "cov-pinned", PAT2, "test-ppo", 1, "2025-01-01", NULL));
    EXPECT(CC_OK, submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 95.00"), id));
    assert_string_equal(plan_used(f, id, used), "test-ppo|1");
    f->t = ms_of("2026-01-10");
    EXPECT(CC_OK, submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2026-01-05 1 95.00"), id));
    assert_string_equal(plan_used(f, id, used), "test-ppo|2");
    json_t *rec = claim_rec(f, id);
    assert_int_equal(jint(rec, "planVersion"), 2);
    assert_int_equal(jint(json_array_get(json_object_get(rec, "lines"), 0), "copayCents"), 3000);
    json_decref(rec);
    EXPECT(CC_OK, submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-12-20 1 95.00"), id));
    assert_string_equal(plan_used(f, id, used), "test-ppo|1"); /* the version in effect on the service date */
    EXPECT(CC_OK,
           submit(f, CLIN, ledger_claim(f, PAT2, "cov-pinned", NULL, "", "99213 2026-01-06 1 95.00"), id));
    assert_string_equal(plan_used(f, id, used), "test-ppo|1"); /* pinned; 2026 is still in v1's period */
    json_decref(v2);
}

static void test_accumulators_roll_over(void **state)
{
    fixture *f = *state;
    char id[CC_HASH_HEX], key[CC_CLAIMS_KEY_MAX];
    f->t = ms_of("2026-01-10");
    EXPECT(CC_OK, submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "80053 2025-12-30 1 25.00"), id));
    EXPECT(CC_OK, submit(f, CLIN,
                         ledger_claim(f, PAT, "cov-1", NULL, "",
                                      "80053 2026-01-02 1 25.00; 80050 2026-01-03 1 25.00"),
                         id));
    cc_claims_acc_key(key, f->hex[PAT], "test-ppo", 2025);
    json_t *a = state_json(f->c, key);
    assert_int_equal(jint(a, "deductibleMetCents"), 2500);
    json_decref(a);
    cc_claims_acc_key(key, f->hex[PAT], "test-ppo", 2026);
    a = state_json(f->c, key);
    assert_int_equal(jint(a, "deductibleMetCents"), 5000);
    json_decref(a);
}

static void test_simulate(void **state)
{
    fixture *f = *state;
    cc_chain_view *v = NULL;
    json_t *r1 = NULL, *r2 = NULL,
           *payload = json_pack("{s:o}", "claim",
                                ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 120.00"));
    cc_errbuf eb = {""};
    cc_head before, after;
    cc_chain_head(f->c, &before);
    assert_int_equal(cc_chain_view_open(f->c, &v), CC_OK);
    assert_int_equal(
        cc_claim_simulate(cc_chain_view_get_json, v, payload, "hospital", cc_chain_view_time(v), &r1, &eb),
        CC_OK);
    assert_int_equal(
        cc_claim_simulate(cc_chain_view_get_json, v, payload, "hospital", cc_chain_view_time(v), &r2, &eb),
        CC_OK);
    char *s1 = cc_json_dump(r1), *s2 = cc_json_dump(r2);
    assert_string_equal(s1, s2); /* nothing was counted: a duplicate would differ */
    assert_string_equal(jstr(r1, "id"), "simulation");
    assert_string_equal(jstr(r1, "outcome"), "complete");
    free(s1);
    free(s2);
    json_decref(r1);
    json_decref(r2);
    assert_int_equal(
        cc_claim_simulate(cc_chain_view_get_json, v, payload, "payer", cc_chain_view_time(v), &r1, &eb),
        CC_ERR_FORBIDDEN);
    cc_chain_view_close(v);
    cc_chain_head(f->c, &after);
    assert_memory_equal(before.state_root, after.state_root, CC_HASH_BYTES);
    /* and then it commits the same way */
    char id[CC_HASH_HEX];
    EXPECT(CC_OK, submit(f, CLIN, json_incref(json_object_get(payload, "claim")), id));
    json_t *rec = claim_rec(f, id);
    assert_int_equal(jint(rec, "benefitCents"), 7000);
    json_decref(rec);
    json_decref(payload);
}

/* The reduction of a provider's FHIR Claim names every field it leaves out,
 * inside an item's quantity, money and period too. */
static void test_from_fhir_names_what_it_drops(void **state)
{
    (void)state;
    const char *text =
        "{\"resourceType\": \"Claim\", \"id\": \"MED-00050\", \"status\": \"active\", \"use\": \"claim\","
        " \"type\": {\"coding\": [{\"code\": \"professional\"}]}, \"created\": \"2026-11-20\","
        " \"billablePeriod\": {\"start\": \"2026-11-20\", \"extension\": []},"
        " \"total\": {\"value\": 150.0, \"currency\": \"USD\", \"id\": \"t1\"},"
        " \"item\": [{\"sequence\": 1, \"productOrService\": {\"coding\": [{\"code\": \"99213\"}]},"
        "   \"servicedPeriod\": {\"start\": \"2026-11-20\", \"end\": \"2026-11-20\", \"id\": \"p1\"},"
        "   \"quantity\": {\"value\": 2, \"unit\": \"visit\", \"system\": \"http://unitsofmeasure.org\"},"
        "   \"net\": {\"value\": 75.0, \"currency\": \"USD\", \"extension\": []}}]}";
    json_t *fhir = NULL, *claim = NULL, *dropped = NULL;
    cc_errbuf eb = {""};
    assert_int_equal(cc_claims_json_load(text, strlen(text), &fhir, &eb), CC_OK);
    cc_claim_refs refs = {.patient = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                          .provider = "hospital",
                          .coverage = "cov-1"};
    if (cc_claim_from_fhir(fhir, &refs, &claim, &dropped, &eb) != CC_OK) fail_msg("%s", eb.msg);
    char *d = cc_json_dump(dropped);
    const char *want[] = {"item[].quantity.unit",
                          "item[].quantity.system",
                          "item[].net.extension",
                          "item[].servicedPeriod.id",
                          "billablePeriod.extension",
                          "total.id",
                          "\"id\""};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(d, want[i])) fail_msg("%s is not among the dropped fields %s", want[i], d);
    const json_t *item = json_array_get(json_object_get(claim, "item"), 0);
    assert_int_equal(json_object_size(json_object_get(item, "quantity")), 1);
    assert_int_equal(json_object_size(json_object_get(claim, "total")), 2);
    assert_null(json_object_get(claim, "id")); /* the provider's claim number stays home */
    assert_int_equal(json_object_size(json_object_get(claim, "billablePeriod")), 1);
    free(d);
    json_decref(fhir);
    json_decref(claim);
    json_decref(dropped);
}

/* The official HL7 examples, reduced to the minimum necessary on the client. */
static void test_hl7_examples(void **state)
{
    fixture *f = *state;
    static const char *const files[] = {"claim-example.json", "claim-example-professional.json",
                                        "claim-example-cms1500-medical.json"};
    char path[256];
    snprintf(path, sizeof path, "%s/%s", FHIR_DIR, files[0]);
    if (access(path, R_OK) != 0) {
        print_message("HL7 examples not found under %s: skipped\n", FHIR_DIR);
        skip();
    }
    json_t *plan = load(
        "{\"id\": \"hl7-plan\", \"version\": 1, \"effective\": {\"start\": \"2014-01-01\", \"end\": "
        "\"2016-12-31\"},"
        " \"deductibleCents\": 10000, \"outOfPocketMaxCents\": 500000, \"timelyFilingDays\": 36500,"
        " \"categories\": {\"dental\": {\"copayCents\": 1000, \"coinsuranceBp\": 2000},"
        "   \"medical\": {\"copayCents\": 2000, \"coinsuranceBp\": 2000}},"
        " \"covered\": [{\"code\": \"1200\", \"category\": \"dental\", \"allowedCents\": 12000},"
        "   {\"code\": \"exam\", \"category\": \"medical\", \"allowedCents\": 7500},"
        "   {\"from\": \"10000\", \"to\": \"69999\", \"category\": \"medical\", \"allowedCents\": 1000000}],"
        " \"diagnosis\": {\"62264\": [\"M96.1\", \"G89.*\"]},"
        " \"tests\": [{\"name\": \"exam\", \"claim\": {\"resourceType\": \"Claim\", \"status\": \"active\","
        "   \"use\": \"claim\", \"type\": {\"coding\": [{\"code\": \"professional\"}]}, \"created\": "
        "\"2014-08-16\","
        "   \"item\": [{\"sequence\": 1, \"productOrService\": {\"coding\": [{\"code\": \"exam\"}]},"
        "     \"servicedDate\": \"2014-08-16\", \"net\": {\"value\": 75.0}}]},"
        "   \"expect\": {\"lines\": [{\"line\": 1, \"eligibleCents\": 7500, \"deductibleCents\": 7500}]}}]}");
    EXPECT(CC_OK, deploy(f, PAYER, plan));
    json_decref(plan);
    EXPECT(CC_OK, enroll(f, PAYER, "cov-hl7", PAT, "hl7-plan", 0, "2014-01-01", "2016-12-31"));
    int64_t billed[] = {13557, 7500, 1250000};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        cc_errbuf eb = {""};
        json_t *fhir = NULL, *claim = NULL, *dropped = NULL;
        char id[CC_HASH_HEX];
        snprintf(path, sizeof path, "%s/%s", FHIR_DIR, files[i]);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        fseek(fp, 0, SEEK_END);
        len = (size_t)ftell(fp);
        fseek(fp, 0, SEEK_SET);
        buf = malloc(len + 1);
        assert_int_equal(fread(buf, 1, len, fp), len);
        fclose(fp);
        if (cc_claims_json_load((char *)buf, len, &fhir, &eb) != CC_OK) fail_msg("%s: %s", files[i], eb.msg);
        free(buf);
        cc_claim_refs refs = {.patient = f->hex[PAT], .provider = "hospital", .coverage = "cov-hl7"};
        if (cc_claim_from_fhir(fhir, &refs, &claim, &dropped, &eb) != CC_OK)
            fail_msg("%s: %s", files[i], eb.msg);
        if (i == 2) {
            char *d = cc_json_dump(dropped);
            assert_non_null(strstr(d, "\"contained\""));
            assert_non_null(strstr(d, "\"supportingInfo\""));
            assert_non_null(strstr(d, "item[].informationSequence"));
            free(d);
        }
        EXPECT(CC_OK, submit(f, CLIN, claim, id));
        json_t *rec = claim_rec(f, id);
        assert_string_equal(jstr(rec, "status"), "adjudicated");
        assert_string_equal(jstr(json_object_get(rec, "response"), "outcome"), "complete");
        const json_t *l = json_array_get(json_object_get(rec, "lines"), 0);
        assert_int_equal(jint(l, "billedCents"), billed[i]);
        if (strcmp(jstr(l, "decision"), "approve") != 0)
            fail_msg("%s: line 1 %s: %s", files[i], jstr(l, "decision"), jstr(l, "reason"));
        json_decref(rec);
        json_decref(fhir);
        json_decref(dropped);
    }
}

/* A rule that runs away pends the claims it touches, with the reason; the
 * node goes on committing, the Lua state stays under its memory cap, and
 * a reviewer can still settle the claim. */
static void test_runaway_rule_on_the_ledger(void **state)
{
    fixture *f = *state;
    static const char lua[] = "function adjudicate(claim, member, plan)\n"
                              "  if claim.lines[1].code == '99396' then while true do end end\n"
                              "  if claim.lines[1].code == '80061' then local s = string.rep('x', 2048)\n"
                              "    local t = {} for i = 1, 100000 do t[i] = s .. i end end\n"
                              "  return {}\n"
                              "end\n";
    char ids[3][CC_HASH_HEX];
    json_t *p = json_deep_copy(g_plan);
    json_object_set_new(p, "version", json_integer(2));
    json_object_set_new(p, "rules", json_string(lua));
    /* its own test case says what happens to a preventive visit */
    json_array_append_new(
        json_object_get(p, "tests"),
        load("{\"name\": \"the loop pends\", \"claim\": {\"resourceType\": \"Claim\", \"status\": "
             "\"active\", \"use\": \"claim\", \"type\": {\"coding\": [{\"code\": \"professional\"}]}, "
             "\"created\": \"2025-03-02\", \"item\": [{\"sequence\": 1, \"productOrService\": "
             "{\"coding\": [{\"code\": \"99396\"}]}, \"servicedDate\": \"2025-03-02\", \"net\": "
             "{\"value\": 180}}]}, \"expect\": {\"outcome\": \"queued\", \"lines\": [{\"line\": 1, "
             "\"decision\": \"pend\", \"carc\": [\"133\"]}]}}"));
    EXPECT(CC_OK, deploy(f, PAYER, p));
    EXPECT(CC_OK,
           submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "99396 2025-11-20 1 180.00"), ids[0]));
    EXPECT(CC_OK,
           submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "80061 2025-11-20 1 10.00"), ids[1]));
    EXPECT(CC_OK,
           submit(f, CLIN, ledger_claim(f, PAT, "cov-1", NULL, "", "99213 2025-11-20 1 95.00"), ids[2]));
    const char *why[] = {"budget", "memory", NULL};
    for (int i = 0; i < 3; i++) {
        json_t *rec = claim_rec(f, ids[i]);
        if (strcmp(jstr(rec, "status"), i < 2 ? "pended" : "adjudicated") != 0)
            fail_msg("claim %d is %s: %s", i, jstr(rec, "status"),
                     jstr(json_object_get(rec, "response"), "disposition"));
        if (why[i] && !strstr(jstr(json_array_get(json_object_get(rec, "lines"), 0), "reason"), why[i]))
            fail_msg("claim %d: %s", i, jstr(json_array_get(json_object_get(rec, "lines"), 0), "reason"));
        json_decref(rec);
    }
    cc_rules *r = NULL;
    assert_int_equal(cc_claims_rules_get(lua, &r, NULL), CC_OK);
    /* the cap is on the deterministic measure; the allocator stays under its safety net */
    assert_true(cc_rules_peak_bytes(r) <= (size_t)CC_RULES_HARD_FACTOR * CC_RULES_MEMORY);
    /* a reviewer approves the first: adjudicated and payable */
    EXPECT(CC_OK, send(f, PAYER, "priorauth.decide",
                       json_pack("{s:s, s:s}", "claim", ids[0], "decision", "approve"), NULL));
    json_t *rec = claim_rec(f, ids[0]);
    assert_string_equal(jstr(rec, "status"), "adjudicated");
    assert_int_equal(jint(rec, "benefitCents"), 18000);
    json_decref(rec);
    EXPECT(CC_OK, send(f, PAYER, "payment.settle",
                       json_pack("{s:s, s:[{s:s, s:i}]}", "trace", "EFT-R", "claims", "claim", ids[0],
                                 "amountCents", 18000),
                       NULL));
    json_decref(p);
}

/* A rule whose answer shows the order pairs() visits a table with many
 * string keys: stock Lua would visit them in an order that depends on the
 * state's random hash seed. */
static const char RULES_MANY_KEYS[] =
    "function adjudicate(claim, member, plan)\n"
    "  local t = {}\n"
    "  for i = 1, 500 do t['k' .. (i * 7919 % 1009)] = i end\n"
    "  for _, l in ipairs(claim.lines) do t['code-' .. l.code .. '-' .. l.line] = l.units end\n"
    "  local order, n, sum = {}, 0, 0\n"
    "  for k, v in pairs(t) do\n"
    "    n = n + 1\n"
    "    sum = (sum * 31 + v + #k) % 1000000007\n"
    "    if n <= 12 then order[#order + 1] = k end\n"
    "  end\n"
    "  local out = {}\n"
    "  for _, l in ipairs(claim.lines) do\n"
    "    if l.code == '36415' then\n"
    "      out[#out + 1] = {line = l.line, decision = 'deny', carc = 'B7',\n"
    "                       reason = table.concat(order, ',') .. ' #' .. n .. ' ' .. sum}\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n";

typedef struct blocks {
    uint8_t **raw;
    size_t *len, count;
} blocks;

/* Replay the blocks on a fresh chain in dir, in a child process with no
 * compiled rules of its parent's (its Lua states get their own hash seeds),
 * and write to out: the head's state root and the bytes of each key. */
static pid_t replica(fixture *f, const blocks *bl, const char *dir, const char *const *keys, size_t nkeys,
                     const char *out)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) return pid;
    cc_claims_rules_flush();
    cc_chain *c = NULL;
    cc_errbuf eb = {""};
    /* no txid index: its thread would be a thread started after forking a
     * process with threads (ThreadSanitizer refuses that), and a replica
     * looks nothing up by txid */
    cc_chain_options opt = {.no_txid_index = true};
    FILE *fp = fopen(out, "wb");
    if (!fp || cc_chain_open(dir, (uint8_t *)f->genesis, strlen(f->genesis), &opt, &c, &eb) != CC_OK)
        _exit(2);
    for (size_t h = 0; h < bl->count; h++) {
        cc_block b;
        cc_result *results = NULL;
        if (cc_block_decode(bl->raw[h], bl->len[h], &b, &eb) != CC_OK) _exit(3);
        results = calloc(b.tx_count + 1, sizeof *results);
        if (cc_chain_apply(c, &b, NULL, results, &eb) != CC_OK) {
            fprintf(fp, "apply %zu: %s\n", h + 1, eb.msg);
            fclose(fp);
            _exit(4);
        }
        free(results);
        cc_block_free(&b);
    }
    cc_head head;
    cc_chain_head(c, &head);
    char root[CC_HASH_HEX];
    fprintf(fp, "%s\n", cc_hex(head.state_root, CC_HASH_BYTES, root));
    for (size_t k = 0; k < nkeys; k++) {
        char *v = NULL;
        size_t n = 0;
        if (cc_chain_state_get(c, keys[k], &v, &n) != CC_OK) _exit(5);
        fwrite(v, 1, n, fp);
        fputc('\n', fp);
        free(v);
    }
    fclose(fp);
    cc_chain_close(c);
    _exit(0);
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = calloc(1, (size_t)n + 1);
    if (fread(buf, 1, (size_t)n, fp) != (size_t)n) buf[0] = '\0';
    fclose(fp);
    return buf;
}

/* The same blocks applied by three fresh chains, each in its own process:
 * byte-identical ClaimResponses and state roots, with a Lua rule that
 * iterates a table with many string keys. */
static void test_determinism_three_chains(void **state)
{
    fixture *f = *state;
    char ids[2][CC_HASH_HEX], pa[CC_HASH_HEX];
    json_t *p = json_deep_copy(g_plan);
    json_object_set_new(p, "version", json_integer(2));
    json_object_set_new(p, "rules", json_string(RULES_MANY_KEYS));
    EXPECT(CC_OK, deploy(f, PAYER, p));
    json_decref(p);
    EXPECT(CC_OK,
           submit(f, CLIN,
                  ledger_claim(f, PAT, "cov-1", "preauthorization", "M96.1", "62264 2025-11-25 1 12500.00"),
                  pa));
    EXPECT(CC_OK, send(f, PAYER, "priorauth.decide",
                       json_pack("{s:s, s:s}", "claim", pa, "decision", "approve"), NULL));
    EXPECT(CC_OK, submit(f, CLIN,
                         ledger_claim(
                             f, PAT, "cov-1", NULL, "E11.9,M96.1",
                             "99213 2025-11-20 1 120.00; 82947 2025-11-20 1 12.00; 80053 2025-11-20 1 40.00; "
                             "80048 2025-11-20 1 20.00; 97110 2025-11-20 3 105.05; 36415 2025-11-20 1 9.00; "
                             "62264 2025-11-25 1 12500.00"),
                         ids[0]));
    EXPECT(CC_OK, submit(f, CLIN,
                         ledger_claim(f, PAT, "cov-1", NULL, "",
                                      "99213 2025-11-20 1 120.00; 97110 2025-11-20 2 70.00"),
                         ids[1]));
    json_t *rec = claim_rec(f, ids[0]);
    assert_string_equal(plan_used(f, ids[0], (char[64]){0}), "test-ppo|2");
    const json_t *l6 = json_array_get(json_object_get(rec, "lines"), 5);
    assert_string_equal(jstr(l6, "carc"), "B7");
    assert_non_null(strstr(jstr(l6, "reason"), "#507"));
    json_int_t benefit = jint(rec, "benefitCents");
    json_decref(rec);
    EXPECT(CC_ERR_INVALID, send(f, PAYER, "payment.settle",
                                json_pack("{s:s, s:[{s:s, s:i}]}", "trace", "EFT-D", "claims", "claim",
                                          ids[0], "amountCents", 1),
                                NULL)); /* not its benefit */
    EXPECT(CC_OK, send(f, PAYER, "payment.settle",
                       json_pack("{s:s, s:[{s:s, s:I}]}", "trace", "EFT-D", "claims", "claim", ids[0],
                                 "amountCents", benefit),
                       NULL));

    /* every block, then three replicas in three processes */
    cc_head head;
    blocks bl = {0};
    cc_chain_head(f->c, &head);
    bl.count = head.height;
    bl.raw = calloc(bl.count, sizeof *bl.raw);
    bl.len = calloc(bl.count, sizeof *bl.len);
    for (uint64_t h = 1; h <= head.height; h++)
        assert_int_equal(cc_chain_block_raw(f->c, h, &bl.raw[h - 1], &bl.len[h - 1]), CC_OK);
    char keybuf[3][80], root[CC_HASH_HEX];
    const char *keys[3] = {keybuf[0], keybuf[1], keybuf[2]};
    snprintf(keybuf[0], sizeof keybuf[0], "claim/%s", ids[0]);
    snprintf(keybuf[1], sizeof keybuf[1], "claim/%s", ids[1]);
    snprintf(keybuf[2], sizeof keybuf[2], "claim/%s", pa);
    /* what this chain holds, in the replicas' format */
    size_t cap = 1 << 20, used = 0;
    char *mine = calloc(1, cap);
    used += (size_t)snprintf(mine, cap, "%s\n", cc_hex(head.state_root, CC_HASH_BYTES, root));
    for (size_t k = 0; k < 3; k++) {
        char *v = NULL;
        size_t n = 0;
        assert_int_equal(cc_chain_state_get(f->c, keys[k], &v, &n), CC_OK);
        assert_true(used + n + 2 < cap);
        memcpy(mine + used, v, n);
        used += n;
        mine[used++] = '\n';
        free(v);
    }
    pid_t pids[3];
    char dirs[3][600], outs[3][600];
    for (int i = 0; i < 3; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/replica%d", f->dir, i);
        snprintf(outs[i], sizeof outs[i], "%s/replica%d.out", f->dir, i);
        pids[i] = replica(f, &bl, dirs[i], keys, 3, outs[i]);
    }
    for (int i = 0; i < 3; i++) {
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        char *got = slurp(outs[i]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("replica %d failed (%d): %s", i, st, got ? got : "");
        assert_non_null(got);
        assert_string_equal(got, mine);
        free(got);
    }
    free(mine);
    for (size_t h = 0; h < bl.count; h++) free(bl.raw[h]);
    free(bl.raw);
    free(bl.len);
}

int main(void)
{
    const struct CMUnitTest engine[] = {
        cmocka_unit_test(test_money_parse),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_json_load_quotes_decimals),
        cmocka_unit_test(test_office_copay_only),
        cmocka_unit_test(test_billed_below_fee_schedule),
        cmocka_unit_test(test_deductible_unmet),
        cmocka_unit_test(test_deductible_crossed_in_one_line),
        cmocka_unit_test(test_deductible_crossed_across_lines),
        cmocka_unit_test(test_deductible_met_coinsurance_only),
        cmocka_unit_test(test_coinsurance_rounds_half_up),
        cmocka_unit_test(test_coinsurance_exact_and_tiny),
        cmocka_unit_test(test_deductible_before_copay),
        cmocka_unit_test(test_deductible_takes_everything_copay_nothing),
        cmocka_unit_test(test_office_skips_deductible),
        cmocka_unit_test(test_oop_cap_cuts_coinsurance),
        cmocka_unit_test(test_oop_met_pays_all),
        cmocka_unit_test(test_oop_cap_cut_order),
        cmocka_unit_test(test_oop_cap_across_lines),
        cmocka_unit_test(test_quantity_times_unit_price),
        cmocka_unit_test(test_non_covered),
        cmocka_unit_test(test_range_bounds),
        cmocka_unit_test(test_first_entry_wins),
        cmocka_unit_test(test_denied_lines_outside_accumulators),
        cmocka_unit_test(test_before_coverage),
        cmocka_unit_test(test_after_coverage),
        cmocka_unit_test(test_eligibility_gap),
        cmocka_unit_test(test_outside_plan_effective),
        cmocka_unit_test(test_timely_filing),
        cmocka_unit_test(test_future_service),
        cmocka_unit_test(test_duplicate_in_claim),
        cmocka_unit_test(test_duplicate_of_adjudicated),
        cmocka_unit_test(test_prior_auth_absent),
        cmocka_unit_test(test_prior_auth_consumed_once),
        cmocka_unit_test(test_prior_auth_window_and_provider),
        cmocka_unit_test(test_prior_auth_denied_line_does_not_consume),
        cmocka_unit_test(test_prior_auth_ref_restricts),
        cmocka_unit_test(test_diagnosis_patterns),
        cmocka_unit_test(test_diagnosis_prefix_and_exact),
        cmocka_unit_test(test_diagnosis_pointer),
        cmocka_unit_test(test_unit_limit),
        cmocka_unit_test(test_pair_edit),
        cmocka_unit_test(test_pair_edit_primary_denied),
        cmocka_unit_test(test_plan_year_rollover),
        cmocka_unit_test(test_preauthorization_pends),
        cmocka_unit_test(test_preauthorization_checks_apply),
        cmocka_unit_test(test_currency_mismatch),
        cmocka_unit_test(test_claim_response_shape),
        cmocka_unit_test(test_deterministic_output),
        cmocka_unit_test(test_rules_deny_pend_approve),
        cmocka_unit_test(test_rules_pend_then_review),
        cmocka_unit_test(test_rules_approve_preauthorization),
        cmocka_unit_test(test_rules_failures_pend),
        cmocka_unit_test(test_plan_validate_names_paths),
        cmocka_unit_test(test_claim_minimum_necessary),
        cmocka_unit_test(test_plan_test_runner),
    };
    const struct CMUnitTest ledger[] = {
        cmocka_unit_test_setup_teardown(test_deploy_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_rejects_failing_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enroll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_adjudicated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_duplicate_across_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prior_auth_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prior_auth_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payment_settle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_versions_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accumulators_roll_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simulate, setup, teardown),
        cmocka_unit_test(test_from_fhir_names_what_it_drops),
        cmocka_unit_test_setup_teardown(test_hl7_examples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runaway_rule_on_the_ledger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_determinism_three_chains, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("claims engine", engine, group_setup, group_teardown);
    failed += cmocka_run_group_tests_name("claims ledger", ledger, group_setup, group_teardown);
    return failed ? 1 : 0;
}
