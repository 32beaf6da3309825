/*
 * fuzz_rules.c — libFuzzer target for the Lua sandbox of payers' custom
 * claims rules (src/exec/rules.c). The input is a rule's source, as a
 * payer deploys it in plan.deploy; every node compiles it and calls it on
 * every claim under the plan, so a crash here stops the whole network and
 * a difference between nodes forks it.
 *
 * Each input is compiled twice, into two Lua states (each with its own
 * hash seed, so a table's internal order differs between them), and when
 * it compiles, adjudicate is called twice on the first state with the
 * same claim, member and plan, and on the second state with another claim
 * first (whatever that call leaves in the state must not show), then with
 * the same ones. The target checks:
 *   - nothing crashes, and a refusal always says why;
 *   - every outcome is the same: the error code, the message, the
 *     canonical JSON of the result, and the memory measure the cap is
 *     applied to (cc_rules_measured_bytes);
 *   - no call is a node fault (CC_ERR_NOMEM: the allocator's safety net),
 *     which a rule must never be able to reach with the budget and cap;
 *   - the state never held more than the safety net allows.
 * The budget and the cap are smaller than a node's so that each run is
 * quick; the checks do not depend on their size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carechain.h"
#include "exec/rules.h"
#include "fuzz/fuzz.h"

#define FUZZ_INSTRUCTIONS 200000
#define FUZZ_MEMORY       (1u << 20)

/* A claim as the engine gives it to a rule (docs/PLANS.md "What a custom
 * rule is given"), with a null, a nested array and an empty object so that
 * every kind of JSON value reaches the rule. */
static const char claim_text[] =
    "{\"id\":\"c1\",\"use\":\"claim\",\"patient\":\"p\",\"provider\":\"clinic\",\"diagnoses\":[\"E11.9\"],"
    "\"lines\":[{\"line\":1,\"code\":\"99213\",\"category\":\"office\",\"date\":\"2026-03-02\",\"units\":1,"
    "\"billedCents\":12000,\"allowedCents\":9500,\"diagnoses\":[\"E11.9\"],\"decision\":\"approve\"},"
    "{\"line\":2,\"code\":\"15780\",\"category\":\"surgery\",\"date\":\"2026-03-02\",\"units\":2,"
    "\"billedCents\":50000,\"allowedCents\":0,\"diagnoses\":[],\"decision\":\"deny\",\"carc\":\"96\"}],"
    "\"extra\":{\"none\":null,\"nested\":[[1,-2],[true,false]],\"empty\":{}}}";
static const char member_text[] =
    "{\"deductibleMetCents\":0,\"outOfPocketMetCents\":0,\"planYear\":\"2026\"}";
/* Another claim, run first on the second state: fewer lines, other codes
 * and no extra object, so the rule takes other paths. */
static const char other_claim_text[] =
    "{\"id\":\"c0\",\"use\":\"preauthorization\",\"patient\":\"q\",\"provider\":\"lab\","
    "\"diagnoses\":[\"Z00.00\",\"I10\"],\"lines\":[{\"line\":1,\"code\":\"36415\",\"category\":\"lab\","
    "\"date\":\"2026-01-15\",\"units\":9,\"billedCents\":2500,\"allowedCents\":1000,\"diagnoses\":[\"I10\"],"
    "\"decision\":\"approve\"}]}";
static const char plan_text[] = "{\"id\":\"acme-gold\",\"version\":1,\"currency\":\"USD\","
                                "\"unitsPerDay\":{\"97110\":4,\"36415\":1},\"deductibleCents\":50000}";

/* What one call gave: its code, message and canonical result. */
typedef struct outcome {
    cc_err rc;
    char msg[sizeof(((cc_errbuf *)0)->msg)];
    char *result; /* canonical JSON on CC_OK, else NULL */
    uint64_t measured;
} outcome;

static json_t *parse(const char *text)
{
    json_t *v = cc_json_parse((const uint8_t *)text, strlen(text), NULL);
    CHECK(v != NULL);
    return v;
}

static void call(cc_rules *r, const json_t *claim, const json_t *member, const json_t *plan,
                 const cc_rules_limits *lim, outcome *o)
{
    cc_errbuf eb;
    json_t *out = NULL;
    memset(&eb, 0, sizeof eb);
    o->rc = cc_rules_call(r, claim, member, plan, lim, &out, &eb);
    memcpy(o->msg, eb.msg, sizeof o->msg);
    o->measured = cc_rules_measured_bytes(r);
    o->result = NULL;
    if (o->rc == CC_OK) {
        CHECK(out != NULL);
        o->result = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        CHECK(o->result != NULL);
        json_decref(out);
    } else {
        CHECK(out == NULL);
        CHECK(o->msg[0] != '\0' && memchr(o->msg, 0, sizeof o->msg) != NULL);
    }
    /* A rule must never reach the allocator's safety net (a node fault). */
    CHECK(o->rc != CC_ERR_NOMEM);
}

static void same(const outcome *a, const outcome *b)
{
    CHECK(a->rc == b->rc);
    CHECK(strcmp(a->msg, b->msg) == 0);
    CHECK((a->result == NULL) == (b->result == NULL));
    if (a->result) CHECK(strcmp(a->result, b->result) == 0);
    CHECK(a->measured == b->measured);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *claim, *other_claim, *member, *plan;
    if (!claim) {
        claim = parse(claim_text);
        other_claim = parse(other_claim_text);
        member = parse(member_text);
        plan = parse(plan_text);
    }
    const cc_rules_limits lim = {.instructions = FUZZ_INSTRUCTIONS, .memory = FUZZ_MEMORY};

    cc_rules *r1 = NULL, *r2 = NULL;
    cc_errbuf e1, e2;
    memset(&e1, 0, sizeof e1);
    memset(&e2, 0, sizeof e2);
    cc_err c1 = cc_rules_compile((const char *)data, size, &lim, &r1, &e1);
    cc_err c2 = cc_rules_compile((const char *)data, size, &lim, &r2, &e2);
    CHECK(c1 == c2);
    CHECK(strcmp(e1.msg, e2.msg) == 0);
    CHECK(c1 != CC_ERR_NOMEM);
    if (c1 != CC_OK) {
        CHECK(r1 == NULL && r2 == NULL);
        CHECK(e1.msg[0] != '\0');
        return 0;
    }
    CHECK(r1 != NULL && r2 != NULL);
    CHECK(cc_rules_measured_bytes(r1) == cc_rules_measured_bytes(r2));

    outcome first, again, warm, other;
    call(r1, claim, member, plan, &lim, &first);
    call(r1, claim, member, plan, &lim, &again);
    call(r2, other_claim, member, plan, &lim, &warm);
    call(r2, claim, member, plan, &lim, &other);
    same(&first, &again); /* no call sees what an earlier one left, */
    same(&first, &other); /* nor one with other inputs, and no state's hash seed shows */

    /* The safety net: CC_RULES_HARD_FACTOR caps above what a fresh state
     * holds (a fresh state is well under one cap). */
    CHECK(cc_rules_peak_bytes(r1) <= (size_t)(CC_RULES_HARD_FACTOR + 1) * FUZZ_MEMORY);
    CHECK(cc_rules_peak_bytes(r2) <= (size_t)(CC_RULES_HARD_FACTOR + 1) * FUZZ_MEMORY);

    free(first.result);
    free(again.result);
    free(warm.result);
    free(other.result);
    cc_rules_free(r1);
    cc_rules_free(r2);
    return 0;
}
