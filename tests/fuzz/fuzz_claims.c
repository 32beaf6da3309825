/*
 * fuzz_claims.c — libFuzzer target for claims: the FHIR JSON reader with
 * its lexical pass over decimals (cc_claims_json_load), the reduction of a
 * FHIR Claim to the ledger's form, the claim and plan checks, and the
 * adjudication engine that every node runs when a claim commits.
 *
 * The input is JSON text, read as a claim or plan file is read. Then:
 *   - as a FHIR Claim from a provider's system: cc_claim_from_fhir either
 *     refuses it, saying why, or gives a claim that cc_claim_validate
 *     accepts (its documented promise);
 *   - as a ledger Claim: when cc_claim_validate accepts it, it is
 *     adjudicated under a fixed plan (copays, coinsurance, a deductible,
 *     ranges of codes, diagnosis rules, prior authorization, units per
 *     day, a pair edit and a Lua rule) over a state holding an
 *     accumulator and an authorization. Denials are results, so the call
 *     must succeed (unless the claim's money is in another currency than
 *     the plan's); it must give the same bytes when run again, amounts
 *     that are not negative, and one line per item of the claim;
 *   - as a plan: when cc_plan_validate accepts it, its test cases run
 *     (cc_plan_test), as plan.deploy runs them, without crashing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/claims.h"
#include "carechain.h"
#include "fuzz/fuzz.h"

#define PATIENT  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define PREAUTH  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define CLAIM_ID "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define NOW_MS   1764000100000ULL /* 2025-11-24T16:01:40Z */

static const char plan_text[] =
    "{\"id\":\"fuzz-ppo\",\"version\":1,\"name\":\"Fuzz PPO\",\"currency\":\"USD\","
    "\"effective\":{\"start\":\"2024-01-01\",\"end\":\"2027-12-31\"},\"planYearStart\":\"01-01\","
    "\"deductibleCents\":50000,\"outOfPocketMaxCents\":150000,\"timelyFilingDays\":90,"
    "\"priorAuthValidDays\":30,"
    "\"categories\":{\"office\":{\"copayCents\":2500,\"coinsuranceBp\":0,\"deductible\":false},"
    "\"lab\":{\"copayCents\":0,\"coinsuranceBp\":2000},"
    "\"surgery\":{\"copayCents\":0,\"coinsuranceBp\":2000},"
    "\"therapy\":{\"copayCents\":1500,\"coinsuranceBp\":1000}},"
    "\"covered\":[{\"code\":\"99213\",\"category\":\"office\",\"allowedCents\":9500},"
    "{\"from\":\"80047\",\"to\":\"80076\",\"category\":\"lab\",\"allowedCents\":2500},"
    "{\"code\":\"82947\",\"category\":\"lab\",\"allowedCents\":800},"
    "{\"code\":\"62264\",\"category\":\"surgery\",\"allowedCents\":900000},"
    "{\"code\":\"97110\",\"category\":\"therapy\",\"allowedCents\":3500}],"
    "\"diagnosis\":{\"82947\":[\"E11.*\",\"R73.*\"],\"62264\":[\"M96.1\",\"G89.*\"]},"
    "\"priorAuth\":[\"62264\"],\"unitsPerDay\":{\"97110\":4},"
    "\"pairs\":[{\"primary\":\"80053\",\"secondary\":\"80048\"}],"
    "\"rules\":\"function adjudicate(claim, member, plan) local out = {} "
    "for _, l in ipairs(claim.lines) do if l.decision == 'approve' and l.billedCents > 2000000 then "
    "out[#out + 1] = {line = l.line, decision = 'pend', reason = 'over $20,000'} end end return out end\","
    "\"tests\":[{\"name\":\"office visit\",\"claim\":{\"resourceType\":\"Claim\",\"status\":\"active\","
    "\"use\":\"claim\",\"type\":{\"coding\":[{\"code\":\"professional\"}]},\"created\":\"2025-03-02\","
    "\"item\":[{\"sequence\":1,\"productOrService\":{\"coding\":[{\"code\":\"99213\"}]},"
    "\"servicedDate\":\"2025-03-02\",\"net\":{\"value\":\"120.00\",\"currency\":\"USD\"}}]},"
    "\"expect\":{\"benefitCents\":7000,\"patientCents\":2500}}]}";

/* The state the engine reads: this year's accumulator and an approved
 * authorization for surgery. */
static json_t *state_new(void)
{
    char acc[CC_CLAIMS_KEY_MAX];
    cc_claims_acc_key(acc, PATIENT, "fuzz-ppo", 2025);
    json_t *st = json_pack("{s:{s:i, s:i}}", acc, "deductibleMetCents", 20000, "outOfPocketMetCents", 40000);
    json_t *line = json_pack("{s:i, s:s, s:s, s:i, s:s}", "line", 1, "code", "62264", "date", "2025-11-20",
                             "units", 1, "decision", "approve");
    CHECK(st && line);
    json_object_set_new(st, "claim/" PREAUTH,
                        json_pack("{s:s, s:s, s:s, s:s, s:s, s:[o]}", "id", PREAUTH, "use",
                                  "preauthorization", "patient", PATIENT, "provider", "hospital", "status",
                                  "adjudicated", "lines", line));
    json_object_set_new(st, "ppreauth/" PATIENT, json_pack("[s]", PREAUTH));
    return st;
}

static cc_err memory_get(void *ctx, const char *key, json_t **out)
{
    json_t *v = json_object_get(ctx, key);
    if (!v) return CC_ERR_NOT_FOUND;
    *out = json_deep_copy(v);
    return CC_OK;
}

static void adjudicate(const json_t *plan, json_t *state, const json_t *claim)
{
    json_t *coverage = json_pack("{s:{s:s, s:s}}", "period", "start", "2025-01-01", "end", "2026-12-31");
    cc_claims_input in = {.plan = plan,
                          .claim = claim,
                          .coverage = coverage,
                          .claim_id = CLAIM_ID,
                          .patient = PATIENT,
                          .provider = "hospital",
                          .insurer = "payer",
                          .now_ms = NOW_MS,
                          .get = memory_get,
                          .get_ctx = state};
    cc_claims_output a, b;
    cc_errbuf eb;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&eb, 0, sizeof eb);
    cc_err rc = cc_claims_adjudicate(&in, &a, &eb);
    if (rc == CC_ERR_INVALID && strncmp(eb.msg, "the claim's money is in ", 24) == 0) {
        json_decref(coverage); /* another currency than the plan's: refused, as documented */
        return;
    }
    if (rc != CC_OK) {
        fprintf(stderr, "adjudication failed (%s): %s\n", cc_err_name(rc), eb.msg);
        abort();
    }
    CHECK(cc_claims_adjudicate(&in, &b, &eb) == CC_OK);
    CHECK(a.response_text && b.response_text && strcmp(a.response_text, b.response_text) == 0);
    CHECK(a.lines_text && b.lines_text && strcmp(a.lines_text, b.lines_text) == 0);
    CHECK(a.benefit_cents == b.benefit_cents && a.patient_cents == b.patient_cents && a.pended == b.pended);
    CHECK(a.benefit_cents >= 0 && a.patient_cents >= 0);
    CHECK(json_is_array(a.lines) &&
          json_array_size(a.lines) == json_array_size(json_object_get(claim, "item")));
    cc_claims_output_free(&a);
    cc_claims_output_free(&b);
    json_decref(coverage);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *plan, *state;
    cc_errbuf eb;
    memset(&eb, 0, sizeof eb);
    if (!plan) {
        CHECK(cc_claims_json_load(plan_text, strlen(plan_text), &plan, &eb) == CC_OK);
        CHECK(cc_plan_validate(plan, &eb) == CC_OK);
        state = state_new();
    }

    json_t *v = NULL;
    if (cc_claims_json_load((const char *)data, size, &v, &eb) != CC_OK) {
        CHECK(v == NULL && eb.msg[0] != '\0');
        return 0;
    }
    CHECK(v != NULL);

    /* a provider's FHIR Claim, reduced to the ledger's form */
    json_t *refs_preauths = json_pack("[s]", PREAUTH);
    cc_claim_refs refs = {
        .patient = PATIENT, .provider = "hospital", .coverage = "cov-1", .preauths = refs_preauths};
    json_t *reduced = NULL, *dropped = NULL;
    memset(&eb, 0, sizeof eb);
    if (cc_claim_from_fhir(v, &refs, &reduced, &dropped, &eb) == CC_OK) {
        cc_errbuf veb;
        memset(&veb, 0, sizeof veb);
        if (cc_claim_validate(reduced, false, "claim", &veb) != CC_OK) {
            fprintf(stderr, "cc_claim_from_fhir gave a claim that validation refuses: %s\n", veb.msg);
            abort();
        }
        adjudicate(plan, state, reduced);
    } else {
        CHECK(reduced == NULL && eb.msg[0] != '\0');
    }
    json_decref(reduced);
    json_decref(dropped);
    json_decref(refs_preauths);

    /* the input as the ledger's claim */
    memset(&eb, 0, sizeof eb);
    if (cc_claim_validate(v, false, "claim", &eb) == CC_OK)
        adjudicate(plan, state, v);
    else
        CHECK(eb.msg[0] != '\0');

    /* the input as a plan */
    memset(&eb, 0, sizeof eb);
    if (cc_plan_validate(v, &eb) == CC_OK) {
        json_t *report = NULL;
        cc_err tested = cc_plan_test(v, &report, &eb);
        CHECK(json_is_array(report));
        if (tested != CC_OK) CHECK(eb.msg[0] != '\0');
        json_decref(report);
    }
    json_decref(v);
    return 0;
}
