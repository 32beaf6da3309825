/*
 * apps/claims.h — benefit plans and claims: the plan document's rules, the
 * deterministic adjudication engine (FHIR R4 Claim -> ClaimResponse), and
 * the pure functions the node and the CLI share with exec (plan tests,
 * what-if simulation, the ExplanationOfBenefit view, client-side
 * conversion of real FHIR JSON).
 *
 * Everything here is pure: no clock (callers pass the block time), no I/O,
 * state read only through a cc_state_reader (apps/records.h), integers
 * only (cents and basis points). The plan document, the order of the
 * adjudication steps, the arithmetic and every state key: docs/PLANS.md.
 */
#ifndef CC_APPS_CLAIMS_H
#define CC_APPS_CLAIMS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "apps/records.h"
#include "carechain.h"
#include "exec/rules.h"

#define CC_CLAIMS_ID_MAX              64             /* bytes of a plan, coverage, subscriber or trace id */
#define CC_CLAIMS_CODE_MAX            16             /* bytes of a procedure or diagnosis code */
#define CC_CLAIMS_LINES_MAX           50             /* items of one claim */
#define CC_CLAIMS_DIAGNOSES_MAX       12             /* diagnoses of one claim */
#define CC_CLAIMS_MONEY_MAX           100000000000LL /* cents of one amount: $1,000,000,000 */
#define CC_CLAIMS_UNITS_MAX           9999           /* units of one line */
#define CC_CLAIMS_TESTS_MAX           64             /* test cases of one plan */
#define CC_CLAIMS_SETTLE_MAX          500            /* claims in one payment.settle */
#define CC_CLAIMS_REASON_MAX          200            /* bytes of a reviewer's or rule's reason */
#define CC_CLAIMS_CARC_SYSTEM         "https://x12.org/codes/claim-adjustment-reason-codes"
#define CC_CLAIMS_PLAN_EXTENSION      "urn:carechain:plan"
#define CC_CLAIMS_PAYMENT_TYPE_SYSTEM "http://terminology.hl7.org/CodeSystem/ex-paymenttype"
#define CC_CLAIMS_TRACE_SYSTEM        "urn:carechain:payment-trace"

/* ---- money and dates ------------------------------------------------------- */

/* A FHIR decimal as the ledger carries it -> cents: a JSON string holding
 * the decimal literal ("135.57", "75.0", "-3.10") or a JSON integer of whole
 * currency units (75 = 7500 cents). At most two decimals that are not zero;
 * |value| <= CC_CLAIMS_MONEY_MAX cents. No floating point anywhere.
 * CC_ERR_INVALID otherwise. */
cc_err cc_claims_cents(const json_t *v, int64_t *cents) CC_WUR;
/* cents -> "135.57" / "-0.05" into out (at least 32 bytes). Returns out. */
char *cc_claims_cents_format(int64_t cents, char *out);
/* "YYYY-MM-DD" (a real calendar date, years 1900..9999) -> days since
 * 1970-01-01. false when s is not one. */
bool cc_claims_date_parse(const char *s, int64_t *days);
/* days since 1970-01-01 -> "YYYY-MM-DD" into out (at least 11 bytes). */
char *cc_claims_date_format(int64_t days, char *out);

/* ---- client side: real FHIR JSON in, ledger form out ------------------------ */

/* Parse JSON text strictly (duplicate keys refused) after a lexical pass
 * that puts quotes around every number with a fraction or an exponent, so
 * "value": 135.57 arrives as the string "135.57", exactly. Integers stay
 * integers. Use it for claim and plan files written with FHIR's JSON
 * numbers. Caller decrefs *out. CC_ERR_MALFORMED with eb on bad JSON. */
cc_err cc_claims_json_load(const char *text, size_t len, json_t **out, cc_errbuf *eb) CC_WUR;

/* What cc_claim_from_fhir puts into the Claim's references. */
typedef struct cc_claim_refs {
    const char *patient;    /* hex id of the patient identity (required) */
    const char *provider;   /* the submitting organisation (required) */
    const char *coverage;   /* coverage id from coverage.enroll (required) */
    const json_t *preauths; /* JSON array of preauthorization claim ids, or NULL */
    const char *use;        /* "claim" or "preauthorization", or NULL to keep the claim's */
} cc_claim_refs;

/* Reduce a FHIR R4 Claim (parsed with cc_claims_json_load) to the minimum
 * necessary form claim.submit accepts: only the elements adjudication
 * needs, codes without display texts, the references of refs. *dropped
 * (may be NULL; caller decrefs) lists the paths of what was left out
 * ("contained", "item[].informationSequence", ...). The result passes
 * cc_claim_validate or this fails with the reason (an element the ledger
 * needs is missing or malformed). Caller decrefs *out. */
cc_err cc_claim_from_fhir(const json_t *fhir, const cc_claim_refs *refs, json_t **out, json_t **dropped,
                          cc_errbuf *eb) CC_WUR;

/* ---- stateless checks ------------------------------------------------------ */

/* Is claim a Claim the ledger accepts (docs/PLANS.md "claim.submit")? A test
 * case's claim (test_case) may leave out patient, provider and insurance.
 * Messages name the JSON path under prefix ("claim", "plan.tests[2].claim"). */
cc_err cc_claim_validate(const json_t *claim, bool test_case, const char *prefix, cc_errbuf *eb) CC_WUR;
/* Is plan a complete, well-formed plan document (every field, every test
 * case's shape; the test cases are not run)? Messages name the JSON path
 * ("plan.categories.lab.coinsuranceBp ..."). */
cc_err cc_plan_validate(const json_t *plan, cc_errbuf *eb) CC_WUR;

/* ---- adjudication ----------------------------------------------------------- */

typedef enum cc_claims_review {
    CC_CLAIMS_REVIEW_NONE = 0, /* first adjudication: the custom rules run */
    CC_CLAIMS_REVIEW_APPROVE,  /* a reviewer approved the pended lines (the rules do not run) */
    CC_CLAIMS_REVIEW_DENY,     /* a reviewer denied the pended lines */
} cc_claims_review;

/* One adjudication's inputs. Nothing is copied; all must outlive the call. */
typedef struct cc_claims_input {
    const json_t *plan;     /* a plan document that passed cc_plan_validate */
    const json_t *claim;    /* a Claim that passed cc_claim_validate */
    const json_t *coverage; /* the "coverage/<id>" value (period), or NULL: enrolled for the plan's
                             * whole effective period (plan tests) */
    const char *claim_id;   /* the claim's id (hex txid), for the response and the state it keys */
    const char *patient;    /* hex id */
    const char *provider;   /* provider organisation */
    const char *insurer;    /* the plan's organisation */
    uint64_t now_ms;        /* the block time (created, and the reviewer's decision) */
    uint64_t filed_ms;      /* when the claim was submitted (timely filing); 0 = now_ms */
    /* Reads of accumulators, duplicates, daily units and authorizations. */
    cc_state_reader get;
    void *get_ctx;
    /* Re-adjudication after a review: every line that would pend (by the
     * custom rules, a rule failure, or a preauthorization's code) gets the
     * reviewer's decision instead; review_reason and review_carc go on the
     * lines it denies. */
    cc_claims_review review;
    const char *review_reason, *review_carc;
    /* Only the texts (claim.submit's fast path): response and lines stay NULL. */
    bool text_only;
    /* No ClaimResponse (response_text and response stay NULL): the ledger
     * keeps the lines and renders the response on read
     * (cc_claims_response_text). */
    bool lines_only;
} cc_claims_input;

/* What an adjudication produces. Caller frees with cc_claims_output_free. */
typedef struct cc_claims_output {
    char *response_text; /* the ClaimResponse as canonical JSON text; NULL when lines_only */
    char *lines_text;    /* the lines as canonical JSON text */
    json_t *response;    /* FHIR R4 ClaimResponse (decimals as strings); NULL when text_only */
    json_t *lines;       /* [{"line", "code", "date", "units", "billedCents", "decision", "carc", ...}];
                          * NULL when text_only */
    json_t *effects;     /* state writes: {key: value}; empty when pended or a preauthorization */
    bool pended;         /* outcome queued: waits for priorauth.decide */
    int64_t benefit_cents, patient_cents;
} cc_claims_output;

/* Adjudicate (docs/PLANS.md "Order of steps"). Deterministic: the same
 * inputs and state give the same bytes. Denials are results, not errors:
 * this fails only when state cannot be read, memory runs out, or (with
 * CC_ERR_INVALID, "the claim's money is in ...") an amount of the claim
 * is in another currency than the plan's, which cc_claim_validate cannot
 * know. */
cc_err cc_claims_adjudicate(const cc_claims_input *in, cc_claims_output *out, cc_errbuf *eb) CC_WUR;
void cc_claims_output_free(cc_claims_output *out);

/* Run every test case of plan (which passed cc_plan_validate). *report
 * (may be NULL; caller decrefs) gets [{"name", "passed", "message"}, ...].
 * CC_OK when all pass; CC_ERR_INVALID naming the first failing case and
 * its first difference. */
cc_err cc_plan_test(const json_t *plan, json_t **report, cc_errbuf *eb) CC_WUR;

/* Everything claim.submit's apply does before it writes: find the coverage
 * and the plan in state, check the patient and the provider, adjudicate.
 * signer_org is the submitting organisation. *coverage_out and *plan_out
 * (may be NULL; caller decrefs) get the "coverage/<id>" value and the
 * plan document used. Errors: CC_ERR_NOT_FOUND (no such patient, coverage
 * or plan), CC_ERR_FORBIDDEN (provider is not signer_org), CC_ERR_INVALID.
 * text_only: as cc_claims_input.text_only, and lines_only too (claim.submit
 * stores the lines; the response is rendered on read). In exec (get is cc_apps_reader)
 * plan documents are parsed once per thread and kept (keyed by their
 * stored bytes, which never change for a plan version). */
cc_err cc_claims_evaluate(cc_state_reader get, void *ctx, const json_t *claim, const char *signer_org,
                          const char *claim_id, uint64_t now_ms, bool text_only, cc_claims_output *out,
                          json_t **coverage_out, json_t **plan_out, cc_errbuf *eb) CC_WUR;

/* carechain claim simulate: adjudicate a claim.submit payload ({"claim":
 * {...}}) against committed state (get/ctx: cc_chain_view_get_json and a
 * view) at now_ms, as provider_org would submit it, without writing
 * anything. *response gets the ClaimResponse (id "simulation"); caller
 * decrefs. Same errors as claim.submit would give. */
cc_err cc_claim_simulate(cc_state_reader get, void *ctx, const json_t *payload, const char *provider_org,
                         uint64_t now_ms, json_t **response, cc_errbuf *eb) CC_WUR;

/* Free the calling thread's caches of parsed plans and compiled rules now
 * (threads that end free theirs; the main thread calls this before exit so
 * leak checkers see nothing left). The caches refill on the next use. */
void cc_claims_release_thread(void);

/* ---- views ------------------------------------------------------------------ */

/* The ClaimResponse of a stored claim record, as canonical JSON text,
 * rendered from its lines, status, history and payment exactly as
 * adjudication writes it (currency: the plan's). NULL when the record is
 * malformed or out of memory. Caller frees. */
char *cc_claims_response_text(const json_t *record, const char *currency);
/* A stored claim record as the API serves it: with its "response" (the
 * stored one of a record written before responses were rendered on read,
 * else rendered with the currency of the plan version it names, read
 * through get). Keys in bytewise order. Caller decrefs. CC_ERR_CORRUPT,
 * CC_ERR_NOMEM or get's error. */
cc_err cc_claims_record_view(cc_state_reader get, void *ctx, const json_t *record, json_t **out);

/* FHIR R4 ExplanationOfBenefit of a stored "claim/<id>" value: status,
 * type, use, patient, created, insurer, provider, outcome, insurance, item
 * with adjudication, total, and payment once paid. Caller decrefs; NULL on
 * OOM or when record is not a claim record. Decimals are strings, as
 * stored: pass the result through cc_claims_fhir_dump for output. */
json_t *cc_claims_eob(const json_t *record);
/* Dump a stored FHIR resource (ClaimResponse, EOB) as FHIR JSON text:
 * every Money and Quantity "value" held as a decimal string becomes a JSON
 * number with the same digits. Caller frees; NULL on OOM. */
char *cc_claims_fhir_dump(const json_t *resource);

/* ---- shared by plan.c, adjudicate.c and claims.c (not for the node) ---------- */

/* A procedure or diagnosis code: 1..CC_CLAIMS_CODE_MAX of [A-Za-z0-9.-]. */
bool cc_claims_code_valid(const char *s);
/* An id token (plan, coverage, subscriber, trace): 1..CC_CLAIMS_ID_MAX of
 * [A-Za-z0-9.-], starting with a letter or digit. */
bool cc_claims_id_valid(const char *s);
/* The first code of a CodeableConcept's codings, or NULL. */
const char *cc_claims_concept_code(const json_t *concept);
/* A line's service date: servicedDate, else servicedPeriod.start (its date
 * part). false when it has neither. */
bool cc_claims_item_date(const json_t *item, int64_t *day);
/* The plan year (named by the calendar year it starts in) of a day, for a
 * plan document (planYearStart). */
int64_t cc_claims_plan_year(const json_t *plan, int64_t day);
/* "acc/<patient>/<plan>/<year>" into out (at least CC_CLAIMS_KEY_MAX bytes). */
#define CC_CLAIMS_KEY_MAX 256
void cc_claims_acc_key(char *out, const char *patient, const char *plan, int64_t year);
/* "pclaim/<patient>/<seq>" into out (at least CC_CLAIMS_KEY_MAX bytes): the
 * patient's seq-th claim (1 = oldest), seq zero-padded so keys sort in order. */
void cc_claims_patient_claim_key(char *out, const char *patient, uint64_t seq);
/* The patient's claim ids, oldest first (pclaimcount/<patient> and
 * pclaim/<patient>/<seq>), as a JSON array of strings; an empty array for a
 * patient without claims. Caller decrefs. CC_ERR_CORRUPT, CC_ERR_NOMEM, or
 * get's error. */
cc_err cc_claims_patient_claims(cc_state_reader get, void *ctx, const char *patient, json_t **out);
/* The compiled form of a plan's rules source, from the calling thread's
 * cache (compiled on a miss). *out belongs to the cache: valid until this
 * thread's next call. Errors as cc_rules_compile. */
cc_err cc_claims_rules_get(const char *source, cc_rules **out, cc_errbuf *eb) CC_WUR;
/* Free the calling thread's compiled rules (part of cc_claims_release_thread). */
void cc_claims_rules_release(void);
/* Free the calling thread's compiled rules (they are compiled again when
 * next needed). */
void cc_claims_rules_flush(void);

#endif
