/*
 * cli/demo_claims.c — the claims scenario of `carechain demo` (issue
 * "claims adjudicated on the ledger"): a payer deploys a plan with its test
 * cases (and a custom rule in Lua) and enrolls the patient; the hospital
 * submits a claim that is adjudicated the moment it commits; a duplicate is
 * denied; a surgery that needs prior authorization is pended, approved and
 * then paid; the payer settles; the patient reads the explanation of
 * benefit.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apps/claims.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define PATH_BYTES 4096
#define TEXT_BYTES 8192

/* The plan, for the current calendar year (%1$d). The rule pends any line
 * billed over $20,000 for a reviewer. */
static const char plan_fmt[] =
    "{\"id\":\"demo-gold\",\"version\":1,\"name\":\"Demo Gold PPO\",\"currency\":\"USD\","
    "\"effective\":{\"start\":\"%1$d-01-01\",\"end\":\"%1$d-12-31\"},"
    "\"deductibleCents\":50000,\"outOfPocketMaxCents\":300000,\"timelyFilingDays\":180,"
    "\"categories\":{\"office\":{\"copayCents\":2500,\"coinsuranceBp\":0,\"deductible\":false},"
    "\"lab\":{\"copayCents\":0,\"coinsuranceBp\":2000,\"deductible\":true},"
    "\"surgery\":{\"copayCents\":0,\"coinsuranceBp\":2000,\"deductible\":true}},"
    "\"covered\":[{\"code\":\"99213\",\"category\":\"office\",\"allowedCents\":9500},"
    "{\"from\":\"80047\",\"to\":\"80076\",\"category\":\"lab\",\"allowedCents\":2500},"
    "{\"code\":\"62264\",\"category\":\"surgery\",\"allowedCents\":900000}],"
    "\"diagnosis\":{\"62264\":[\"M96.1\",\"G89.*\"]},\"priorAuth\":[\"62264\"],"
    "\"rules\":\"function adjudicate(claim, member, plan) local out = {} "
    "for _, l in ipairs(claim.lines) do if l.decision == 'approve' and l.billedCents > 2000000 then "
    "out[#out + 1] = {line = l.line, decision = 'pend', reason = 'billed over $20,000: manual review'} end "
    "end "
    "return out end\","
    "\"tests\":["
    "{\"name\":\"office visit: copay only\",\"claim\":{\"resourceType\":\"Claim\",\"status\":\"active\","
    "\"use\":\"claim\",\"type\":{\"coding\":[{\"code\":\"professional\"}]},\"created\":\"%1$d-03-02\","
    "\"item\":[{\"sequence\":1,\"productOrService\":{\"coding\":[{\"code\":\"99213\"}]},"
    "\"servicedDate\":\"%1$d-03-02\",\"net\":{\"value\":\"120.00\",\"currency\":\"USD\"}}]},"
    "\"expect\":{\"benefitCents\":7000,\"patientCents\":2500}},"
    "{\"name\":\"surgery without an "
    "authorization\",\"claim\":{\"resourceType\":\"Claim\",\"status\":\"active\","
    "\"use\":\"claim\",\"type\":{\"coding\":[{\"code\":\"professional\"}]},\"created\":\"%1$d-03-02\","
    "\"diagnosis\":[{\"sequence\":1,\"diagnosisCodeableConcept\":{\"coding\":[{\"code\":\"M96.1\"}]}}],"
    "\"item\":[{\"sequence\":1,\"productOrService\":{\"coding\":[{\"code\":\"62264\"}]},"
    "\"servicedDate\":\"%1$d-03-02\",\"net\":{\"value\":\"12500.00\",\"currency\":\"USD\"}}]},"
    "\"expect\":{\"benefitCents\":0,\"lines\":[{\"line\":1,\"decision\":\"deny\",\"carc\":[\"197\"]}]}}]}";

typedef struct scene {
    cc_cli_http *h;
    const uint8_t *chain_id;
    const char *dir;
    cc_key payer, clinician, patient;
    char patient_id[CC_HASH_HEX];
    char today[16];
    int year;
} scene;

static bool key_at(const scene *s, const char *name, cc_key *k)
{
    char path[PATH_BYTES];
    cc_errbuf eb = {{0}};
    snprintf(path, sizeof path, "%s/keys/%s.key", s->dir, name);
    if (cc_key_load(path, k, NULL, &eb) == CC_OK) return true;
    printf("   FAILED: %s: %s\n", path, eb.msg);
    return false;
}

/* Send a tx and wait; true when it committed with result ok. */
static bool commit(scene *s, const cc_key *k, const char *type, json_t *payload, char txid[CC_HASH_HEX])
{
    cc_errbuf eb = {{0}};
    if (cc_cli_commit_json(s->h, s->chain_id, k, type, payload, txid, &eb) == CC_OK) return true;
    printf("   FAILED: %s: %s\n", type, eb.msg);
    return false;
}

/* A claim.submit payload: lines of (code, net) on today's date. */
static json_t *claim_payload(scene *s, const char *use, const char *const *codes, const char *const *nets,
                             size_t n, const char *diagnosis, const char *preauth)
{
    char text[TEXT_BYTES], items[TEXT_BYTES / 2] = "", pre[128] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(items + len, sizeof items - len,
                                "%s{\"sequence\":%zu,\"productOrService\":{\"coding\":[{\"code\":\"%s\"}]},"
                                "\"servicedDate\":\"%s\",\"net\":{\"value\":\"%s\",\"currency\":\"USD\"}}",
                                i ? "," : "", i + 1, codes[i], s->today, nets[i]);
    if (preauth) snprintf(pre, sizeof pre, ",\"preAuthRef\":[\"%s\"]", preauth);
    snprintf(text, sizeof text,
             "{\"claim\":{\"resourceType\":\"Claim\",\"status\":\"active\",\"use\":\"%s\","
             "\"type\":{\"coding\":[{\"code\":\"professional\"}]},\"patient\":{\"reference\":\"Patient/%s\"},"
             "\"provider\":{\"reference\":\"Organization/hospital\"},\"created\":\"%s\","
             "\"insurance\":[{\"sequence\":1,\"focal\":true,\"coverage\":{\"reference\":\"Coverage/"
             "cov-demo-0001\"}%s}],"
             "%s%s%s\"item\":[%s]}}",
             use, s->patient_id, s->today, pre,
             diagnosis
                 ? "\"diagnosis\":[{\"sequence\":1,\"diagnosisCodeableConcept\":{\"coding\":[{\"code\":\""
                 : "",
             diagnosis ? diagnosis : "", diagnosis ? "\"}]}}]," : "", items);
    json_t *p = NULL;
    cc_errbuf eb = {{0}};
    if (cc_claims_json_load(text, strlen(text), &p, &eb) != CC_OK)
        printf("   FAILED: claim text: %s\n", eb.msg);
    return p;
}

/* The stored claim, read by the provider (a signed, audited request). */
static json_t *claim_get(scene *s, const char *id)
{
    char path[160];
    json_t *c = NULL;
    cc_errbuf eb = {{0}};
    snprintf(path, sizeof path, "/v1/claims/%s", id);
    if (cc_cli_signed_json(s->h, &s->clinician, path, &c, NULL, &eb) != CC_OK)
        printf("   FAILED: claim %s: %s\n", id, eb.msg);
    return c;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "?";
}

static void say_claim(const json_t *c)
{
    char b[32], p[32];
    printf("   -> %s (%s): the payer pays $%s, the patient owes $%s.\n", jstr(c, "status"),
           jstr(json_object_get(c, "response"), "outcome"),
           cc_claims_cents_format(json_integer_value(json_object_get(c, "benefitCents")), b),
           cc_claims_cents_format(json_integer_value(json_object_get(c, "patientCents")), p));
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(c, "lines"), i, l)
    {
        const json_t *carc = json_object_get(l, "carc");
        const char *code =
            json_is_array(carc) ? json_string_value(json_array_get(carc, 0)) : json_string_value(carc);
        printf("      line %lld, %s: %s%s%s\n", (long long)json_integer_value(json_object_get(l, "line")),
               jstr(l, "code"), jstr(l, "decision"), code ? ", CARC " : "", code ? code : "");
    }
}

static int run(scene *s)
{
    char text[TEXT_BYTES], plan_tx[CC_HASH_HEX], c1[CC_HASH_HEX], c2[CC_HASH_HEX], pa[CC_HASH_HEX],
        c3[CC_HASH_HEX];
    cc_errbuf eb = {{0}};
    json_t *plan = NULL;

    snprintf(text, sizeof text, plan_fmt, s->year);
    if (cc_claims_json_load(text, strlen(text), &plan, &eb) != CC_OK) {
        printf("   FAILED: the demo plan: %s\n", eb.msg);
        return CC_EXIT_FAIL;
    }
    if (!commit(s, &s->payer, "plan.deploy", json_pack("{s:o}", "plan", plan), plan_tx)) return CC_EXIT_FAIL;
    printf("   The payer deploys plan demo-gold v1 (deductible $500, office copay $25, 20%% coinsurance, "
           "surgery\n"
           "   needs prior authorization, a Lua rule pends lines over $20,000): every node ran its 2 test "
           "cases.\n");
    char start[16];
    snprintf(start, sizeof start, "%d-01-01", s->year);
    if (!commit(s, &s->payer, "coverage.enroll",
                json_pack("{s:s, s:s, s:s, s:{s:s}, s:s}", "coverage", "cov-demo-0001", "patient",
                          s->patient_id, "plan", "demo-gold", "period", "start", start, "subscriber",
                          "W000123"),
                NULL))
        return CC_EXIT_FAIL;
    printf("   The payer enrolls the patient (coverage cov-demo-0001).\n");

    /* a claim, adjudicated at once */
    const char *codes1[] = {"99213", "80053"}, *nets1[] = {"120.00", "40.00"};
    if (!commit(s, &s->clinician, "claim.submit", claim_payload(s, "claim", codes1, nets1, 2, NULL, NULL),
                c1))
        return CC_EXIT_FAIL;
    json_t *c = claim_get(s, c1);
    if (!c) return CC_EXIT_FAIL;
    printf("   The hospital submits a claim (office visit $120, metabolic panel $40): adjudicated as it "
           "committed.\n");
    say_claim(c);
    json_decref(c);

    /* the same claim again */
    if (!commit(s, &s->clinician, "claim.submit", claim_payload(s, "claim", codes1, nets1, 2, NULL, NULL),
                c2))
        return CC_EXIT_FAIL;
    c = claim_get(s, c2);
    if (!c) return CC_EXIT_FAIL;
    printf("   The same claim is sent again:\n");
    say_claim(c);
    json_decref(c);

    /* prior authorization */
    const char *codes3[] = {"62264"}, *nets3[] = {"12500.00"};
    if (!commit(s, &s->clinician, "claim.submit",
                claim_payload(s, "preauthorization", codes3, nets3, 1, "M96.1", NULL), pa))
        return CC_EXIT_FAIL;
    c = claim_get(s, pa);
    if (!c) return CC_EXIT_FAIL;
    printf("   The hospital asks for prior authorization of a spinal procedure ($12,500):\n");
    say_claim(c);
    json_decref(c);
    if (!commit(s, &s->payer, "priorauth.decide",
                json_pack("{s:s, s:s, s:s}", "claim", pa, "decision", "approve", "reason", "criteria met"),
                NULL))
        return CC_EXIT_FAIL;
    printf("   The payer's reviewer approves it (priorauth.decide).\n");
    if (!commit(s, &s->clinician, "claim.submit", claim_payload(s, "claim", codes3, nets3, 1, "M96.1", pa),
                c3))
        return CC_EXIT_FAIL;
    c = claim_get(s, c3);
    if (!c) return CC_EXIT_FAIL;
    printf("   After the procedure the hospital claims it, citing the authorization:\n");
    say_claim(c);
    json_int_t b1 = 0, b3 = json_integer_value(json_object_get(c, "benefitCents"));
    json_decref(c);
    c = claim_get(s, c1);
    b1 = json_integer_value(json_object_get(c, "benefitCents"));
    json_decref(c);

    /* settle and the EOB */
    char total[32];
    if (!commit(s, &s->payer, "payment.settle",
                json_pack("{s:s, s:[{s:s, s:I}, {s:s, s:I}]}", "trace", "EFT-DEMO-0001", "claims", "claim",
                          c1, "amountCents", b1, "claim", c3, "amountCents", b3),
                NULL))
        return CC_EXIT_FAIL;
    printf("   The payer settles both claims in one remittance, trace EFT-DEMO-0001: $%s paid.\n",
           cc_claims_cents_format(b1 + b3, total));

    char path[PATH_BYTES];
    cc_cli_resp r;
    snprintf(path, sizeof path, "/fhir/ExplanationOfBenefit?patient=%s", s->patient_id);
    if (cc_cli_http_signed_get(s->h, &s->patient, path, &r, &eb) != CC_OK || r.status != 200) {
        printf("   FAILED: the EOB: %s\n", eb.msg[0] ? eb.msg : cc_cli_resp_message(&r));
        cc_cli_resp_free(&r);
        return CC_EXIT_FAIL;
    }
    json_t *bundle = NULL;
    cc_err e = cc_claims_json_load(r.body, r.len, &bundle, &eb); /* exact decimals */
    cc_cli_resp_free(&r);
    if (e != CC_OK) return CC_EXIT_FAIL;
    size_t n = json_array_size(json_object_get(bundle, "entry")), paid = 0;
    size_t i;
    json_t *en;
    json_array_foreach(json_object_get(bundle, "entry"), i, en)
    {
        paid += json_object_get(json_object_get(en, "resource"), "payment") != NULL;
    }
    printf("   The patient reads their explanations of benefit (FHIR ExplanationOfBenefit): %zu, %zu of them "
           "paid.\n",
           n, paid);
    json_decref(bundle);
    return n >= 3 && paid == 2 ? CC_EXIT_OK : CC_EXIT_FAIL;
}

int cc_cli_demo_claims(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const char *net_dir)
{
    scene s;
    memset(&s, 0, sizeof s);
    s.h = h;
    s.chain_id = chain_id;
    s.dir = net_dir;
    time_t now = (time_t)(cc_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    s.year = tm.tm_year + 1900;
    strftime(s.today, sizeof s.today, "%Y-%m-%d", &tm);
    int rc = CC_EXIT_FAIL;
    if (key_at(&s, "payer", &s.payer) && key_at(&s, "clinician", &s.clinician) &&
        key_at(&s, "patient", &s.patient)) {
        cc_hex(s.patient.pk, CC_PUBKEY_BYTES, s.patient_id);
        rc = run(&s);
    }
    cc_key_wipe(&s.payer);
    cc_key_wipe(&s.clinician);
    cc_key_wipe(&s.patient);
    return rc;
}
