/*
 * cli/cmd_claims.c — benefit plans and claims (docs/PLANS.md):
 *
 *   carechain plan deploy|test|show
 *   carechain coverage enroll
 *   carechain claim submit|simulate|get|list|eob
 *   carechain priorauth decide
 *   carechain payment settle
 *
 * Plan and claim files are real JSON (FHIR's decimals as numbers): they are
 * read with cc_claims_json_load, which keeps every decimal literal exact,
 * and a FHIR Claim is reduced to the minimum necessary form the ledger
 * accepts (cc_claim_from_fhir) — the command says what it left out.
 */
#include <stdlib.h>
#include <string.h>

#include "apps/claims.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define FILE_MAX (1024u * 1024)

/* Read a JSON file with exact decimals: -1 when *out holds it, else the
 * exit code (and *out is NULL). */
static int load_json_file(const cc_cli_ctx *ctx, const char *path, json_t **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cc_errbuf eb = {{0}};
    *out = NULL;
    cc_err e = cc_file_read(path, FILE_MAX, &buf, &len, &eb);
    if (e == CC_OK) e = cc_claims_json_load((const char *)buf, len, out, &eb);
    free(buf);
    if (e != CC_OK) return cc_cli_fail(ctx, e == CC_ERR_IO ? CC_ERR_USAGE : e, eb.msg);
    return -1;
}

static const char *jstr(const json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : dflt;
}

static char *cents(json_int_t c, char out[32])
{
    return cc_claims_cents_format((int64_t)c, out);
}

/* ---- plan ----------------------------------------------------------------------- */

static int plan_test(int argc, char **argv)
{
    const cc_cli_opt opts[] = {{NULL, NULL, NULL, NULL}};
    const cc_cli_spec spec = {
        "plan test", "PLAN.json", "Check a plan document and run its test cases here (nothing is sent).",
        opts,        1,           1,
        false,       true,        NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    json_t *plan, *report = NULL;
    if ((rc = load_json_file(&ctx, ctx.pos[0], &plan)) >= 0) return rc;
    cc_errbuf eb = {{0}};
    cc_err e = cc_plan_validate(plan, &eb);
    if (e != CC_OK) {
        json_decref(plan);
        return cc_cli_fail(&ctx, e, eb.msg);
    }
    e = cc_plan_test(plan, &report, &eb);
    if (ctx.json) {
        cc_cli_print_json(report ? report : json_null());
    } else {
        size_t i;
        json_t *t;
        json_array_foreach(report, i, t)
        {
            bool ok = json_is_true(json_object_get(t, "passed"));
            printf("%s %s%s%s\n", ok ? "pass" : "FAIL", jstr(t, "name", "?"), ok ? "" : ": ",
                   ok ? "" : jstr(t, "message", ""));
        }
        printf("%s: %zu test case(s), %s.\n", jstr(plan, "id", "plan"), json_array_size(report),
               e == CC_OK ? "all pass" : "some fail");
    }
    json_decref(report);
    json_decref(plan);
    return e == CC_OK ? CC_EXIT_OK : CC_EXIT_FAIL;
}

static int plan_deploy(int argc, char **argv)
{
    const char *file = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "PAYERKEY", "key file of a payer of the plan's organisation", &w.key},
        {"file", "PLAN", "the plan document (JSON; docs/PLANS.md)", &file},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"plan deploy",
                              "--key PAYERKEY --file PLAN.json",
                              "Deploy a benefit plan (a plan.deploy tx); every node runs its test cases.",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              "The plan is checked and its tests run here first; the ledger runs them again\n"
                              "and refuses the plan, naming the failing case, if any fails.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!file) return cc_cli_usage(ctx.cmd, "missing --file");
    json_t *plan;
    if ((rc = load_json_file(&ctx, file, &plan)) >= 0) return rc;
    cc_errbuf eb = {{0}};
    cc_err e = cc_plan_validate(plan, &eb);
    if (e == CC_OK) e = cc_plan_test(plan, NULL, &eb);
    if (e != CC_OK) {
        json_decref(plan);
        return cc_cli_fail(&ctx, e, eb.msg);
    }
    return cc_cli_send_json(&ctx, &w, "plan.deploy", json_pack("{s:o}", "plan", plan));
}

static int plan_show(int argc, char **argv)
{
    const char *version = NULL;
    const cc_cli_opt opts[] = {
        {"version", "N", "this version (default: the latest)", &version},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "plan show", "ID [--version N]", "Show a deployed plan.", opts, 1, 1, true, true, NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!cc_claims_id_valid(ctx.pos[0])) return cc_cli_usage(ctx.cmd, "'%s' is not a plan id", ctx.pos[0]);
    uint64_t v = 0;
    if (version && (!cc_cli_parse_u64(version, false, &v) || v == 0))
        return cc_cli_usage(ctx.cmd, "--version must be a positive integer");
    char path[CC_CLI_PATH_MAX];
    int n = snprintf(path, sizeof path, "/v1/plans/%s", ctx.pos[0]);
    if (version) snprintf(path + n, sizeof path - (size_t)n, "?version=%llu", (unsigned long long)v);
    json_t *ans;
    if ((rc = cc_cli_get_json(&ctx, path, &ans, NULL)) >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(ans);
    } else {
        const json_t *p = json_object_get(ans, "plan");
        char d[32], o[32];
        printf("Plan %s version %lld of %s (latest %lld): %s\n", ctx.pos[0],
               (long long)json_integer_value(json_object_get(ans, "version")), jstr(ans, "org", "?"),
               (long long)json_integer_value(json_object_get(ans, "latest")), jstr(p, "name", ""));
        printf("  deductible %s, out-of-pocket maximum %s; %zu covered code entries, %zu test cases%s.\n",
               cents(json_integer_value(json_object_get(p, "deductibleCents")), d),
               cents(json_integer_value(json_object_get(p, "outOfPocketMaxCents")), o),
               json_array_size(json_object_get(p, "covered")), json_array_size(json_object_get(p, "tests")),
               json_object_get(p, "rules") ? ", custom rules in Lua" : "");
    }
    json_decref(ans);
    return CC_EXIT_OK;
}

int cc_cmd_plan(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"deploy", plan_deploy, "deploy a benefit plan (its test cases must pass)"},
        {"test", plan_test, "check a plan and run its test cases locally"},
        {"show", plan_show, "show a deployed plan"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("plan", subs, argc, argv);
}

/* ---- coverage ----------------------------------------------------------------------- */

static int coverage_enroll(int argc, char **argv)
{
    const char *coverage = NULL, *patient = NULL, *plan = NULL, *version = NULL, *start = NULL, *end = NULL,
               *subscriber = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "PAYERKEY", "key file of a payer of the plan's organisation", &w.key},
        {"coverage", "ID", "the new coverage id (e.g. cov-2026-000123)", &coverage},
        {"patient", "ID", "the member: a patient's id (hex)", &patient},
        {"plan", "ID", "the plan id", &plan},
        {"version", "N", "pin this plan version (default: the plan's version in force)", &version},
        {"start", "DATE", "first day covered (YYYY-MM-DD)", &start},
        {"end", "DATE", "last day covered (default: open)", &end},
        {"subscriber", "ID", "the subscriber id on the member's card", &subscriber},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "coverage enroll",
        "--key PAYERKEY --coverage ID --patient ID --plan ID --start DATE --subscriber ID [--end DATE]",
        "Enroll a member in a plan (a coverage.enroll tx).",
        opts,
        0,
        0,
        true,
        true,
        NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!coverage || !patient || !plan || !start || !subscriber)
        return cc_cli_usage(ctx.cmd, "--coverage, --patient, --plan, --start and --subscriber are required");
    if (!cc_cli_hex_ok(patient, CC_PUBKEY_BYTES))
        return cc_cli_usage(ctx.cmd, "--patient must be a 64-digit hex id");
    int64_t day;
    if (!cc_claims_date_parse(start, &day) || (end && !cc_claims_date_parse(end, &day)))
        return cc_cli_usage(ctx.cmd, "dates are YYYY-MM-DD");
    uint64_t v = 0;
    if (version && (!cc_cli_parse_u64(version, false, &v) || v == 0))
        return cc_cli_usage(ctx.cmd, "--version must be a positive integer");
    json_t *period = json_pack("{s:s}", "start", start);
    if (end) json_object_set_new(period, "end", json_string(end));
    json_t *p = json_pack("{s:s, s:s, s:s, s:o, s:s}", "coverage", coverage, "patient", patient, "plan", plan,
                          "period", period, "subscriber", subscriber);
    if (p && version) json_object_set_new(p, "version", json_integer((json_int_t)v));
    return cc_cli_send_json(&ctx, &w, "coverage.enroll", p);
}

int cc_cmd_coverage(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"enroll", coverage_enroll, "enroll a member in a plan"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("coverage", subs, argc, argv);
}

/* ---- claim ----------------------------------------------------------------------------- */

/* The organisation of the key's identity (GET /v1/identities/{id}). */
static cc_err org_of(cc_cli_http *h, const cc_key *k, char out[64], cc_errbuf *eb)
{
    char path[160], hex[CC_HASH_HEX];
    cc_cli_resp r;
    snprintf(path, sizeof path, "/v1/identities/%s", cc_hex(k->pk, CC_PUBKEY_BYTES, hex));
    cc_err rc = cc_cli_http_request(h, path, NULL, NULL, 0, &r, eb);
    if (rc != CC_OK) return rc;
    const char *org = jstr(r.json, "org", NULL);
    if (r.status != 200 || !org)
        rc = cc_errf(eb, CC_ERR_UNKNOWN_SIGNER, "the key is not a registered identity: %s",
                     cc_cli_resp_message(&r));
    else
        snprintf(out, 64, "%s", org);
    cc_cli_resp_free(&r);
    return rc;
}

typedef struct claim_args {
    const char *file, *patient, *coverage, *preauth;
    bool preauthorization;
} claim_args;

/* The claim.submit payload for a FHIR Claim file, made minimum necessary
 * (what was dropped is said on stderr unless --json). */
static int claim_payload(const cc_cli_ctx *ctx, cc_cli_session *s, const claim_args *a, json_t **payload)
{
    json_t *fhir, *claim = NULL, *dropped = NULL, *pre = NULL;
    char org[64];
    cc_errbuf eb = {{0}};
    int rc = load_json_file(ctx, a->file, &fhir);
    if (rc >= 0) return rc;
    cc_err e = org_of(s->h, &s->key, org, &eb);
    if (e == CC_OK && a->preauth) {
        pre = json_array();
        char *copy = strdup(a->preauth), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(pre, json_string(t));
        free(copy);
    }
    cc_claim_refs refs = {a->patient, org, a->coverage, pre, a->preauthorization ? "preauthorization" : NULL};
    if (e == CC_OK) e = cc_claim_from_fhir(fhir, &refs, &claim, &dropped, &eb);
    json_decref(fhir);
    json_decref(pre);
    if (e != CC_OK) {
        json_decref(dropped);
        return cc_cli_fail(ctx, e, eb.msg);
    }
    if (!ctx->json && json_array_size(dropped) > 0) {
        fprintf(stderr, "carechain %s: left out (minimum necessary):", ctx->cmd);
        for (size_t i = 0; i < json_array_size(dropped); i++)
            fprintf(stderr, "%s %s", i ? "," : "", json_string_value(json_array_get(dropped, i)));
        fprintf(stderr, "\n");
    }
    json_decref(dropped);
    *payload = json_pack("{s:o}", "claim", claim);
    return *payload ? -1 : cc_cli_fail(ctx, CC_ERR_NOMEM, "out of memory");
}

/* Print a ClaimResponse's outcome and lines. */
static void print_response(const json_t *resp)
{
    printf("  outcome %s%s%s\n", jstr(resp, "outcome", "?"), json_object_get(resp, "disposition") ? ": " : "",
           jstr(resp, "disposition", ""));
    size_t i, j;
    json_t *item, *adj;
    json_array_foreach(json_object_get(resp, "item"), i, item)
    {
        printf("  line %lld:", (long long)json_integer_value(json_object_get(item, "itemSequence")));
        json_array_foreach(json_object_get(item, "adjudication"), j, adj)
        {
            const json_t *cat =
                json_array_get(json_object_get(json_object_get(adj, "category"), "coding"), 0);
            const json_t *reason =
                json_array_get(json_object_get(json_object_get(adj, "reason"), "coding"), 0);
            const json_t *amount = json_object_get(adj, "amount");
            printf(" %s", jstr(cat, "code", "?"));
            if (amount) printf(" %s", jstr(amount, "value", "?"));
            if (reason) printf(" (CARC %s)", jstr(reason, "code", "?"));
            printf(";");
        }
        printf("\n");
    }
    json_array_foreach(json_object_get(resp, "total"), i, adj)
    {
        const json_t *cat = json_array_get(json_object_get(json_object_get(adj, "category"), "coding"), 0);
        printf("  total %s %s\n", jstr(cat, "code", "?"), jstr(json_object_get(adj, "amount"), "value", "?"));
    }
}

/* A signed request for JSON; -1 with *out on 2xx, else the exit code. */
static int signed_json(const cc_cli_ctx *ctx, cc_cli_session *s, const char *path, const json_t *body,
                       json_t **out)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    cc_cli_resp r;
    cc_errbuf eb = {{0}};
    cc_err e = cc_cli_http_signed(s->h, &s->key, path, text ? "application/json" : NULL, text,
                                  text ? strlen(text) : 0, &r, &eb);
    free(text);
    if (e != CC_OK) return cc_cli_fail(ctx, e, eb.msg);
    int rc = -1;
    if (r.status >= 200 && r.status < 300 && r.json) {
        *out = json_incref(r.json);
    } else {
        char msg[400];
        snprintf(msg, sizeof msg, "the node refused (HTTP %ld, %s): %s", r.status, cc_cli_resp_code(&r),
                 cc_cli_resp_message(&r));
        rc = cc_cli_fail(ctx, CC_ERR_FORBIDDEN, msg);
    }
    cc_cli_resp_free(&r);
    return rc;
}

static void print_claim(const json_t *c)
{
    char b[32], p[32];
    printf("Claim %s (%s) of patient %.16s… by %s: %s.\n", jstr(c, "id", "?"), jstr(c, "use", "?"),
           jstr(c, "patient", "?"), jstr(c, "provider", "?"), jstr(c, "status", "?"));
    printf("  plan %s version %lld; the payer pays %s, the patient owes %s.\n", jstr(c, "plan", "?"),
           (long long)json_integer_value(json_object_get(c, "planVersion")),
           cents(json_integer_value(json_object_get(c, "benefitCents")), b),
           cents(json_integer_value(json_object_get(c, "patientCents")), p));
    print_response(json_object_get(c, "response"));
    const json_t *pay = json_object_get(c, "payment");
    if (pay)
        printf("  paid %s in remittance %s.\n",
               cents(json_integer_value(json_object_get(pay, "amountCents")), b), jstr(pay, "trace", "?"));
}

static int claim_submit_or_simulate(int argc, char **argv, bool simulate)
{
    claim_args a = {0};
    cc_cli_write w = {0};
    cc_cli_opt opts[] = {
        {"key", "FILE", "key file of a clinician (or admin) of the provider organisation", &w.key},
        {"file", "CLAIM", "a FHIR R4 Claim (JSON)", &a.file},
        {"patient", "ID", "the patient's id (hex)", &a.patient},
        {"coverage", "ID", "the patient's coverage id", &a.coverage},
        {"preauth", "IDS", "approved preauthorizations this claim uses (claim ids, comma-separated)",
         &a.preauth},
        {"preauthorization", NULL, "ask for prior authorization instead of payment", &a.preauthorization},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    if (simulate) /* a what-if sends no tx: no --no-wait or --genesis (the entries after the first six) */
        opts[6] = (cc_cli_opt){NULL, NULL, NULL, NULL};
    const cc_cli_spec spec = {
        simulate ? "claim simulate" : "claim submit",
        "--key K --file CLAIM.json --patient ID --coverage ID [--preauth IDS] [--preauthorization]",
        simulate ? "Adjudicate a claim against the committed state without committing it (what-if)."
                 : "Submit a claim (a claim.submit tx): it is adjudicated the moment it commits.",
        opts,
        0,
        0,
        true,
        true,
        "The Claim is reduced to what adjudication needs (codes, amounts, dates, the\n"
        "pseudonymous patient id); clinical detail stays in encrypted records.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!a.file || !a.patient || !a.coverage)
        return cc_cli_usage(ctx.cmd, "--file, --patient and --coverage are required");
    if (!cc_cli_hex_ok(a.patient, CC_PUBKEY_BYTES))
        return cc_cli_usage(ctx.cmd, "--patient must be a 64-digit hex id");
    cc_cli_session s;
    if ((rc = cc_cli_session_open(&ctx, w.key, w.genesis, &s)) >= 0) return rc;
    json_t *payload = NULL, *ans = NULL;
    if ((rc = claim_payload(&ctx, &s, &a, &payload)) >= 0) goto out;
    if (simulate) {
        if ((rc = signed_json(&ctx, &s, "/v1/claims/simulate", payload, &ans)) >= 0) goto out;
        if (ctx.json) {
            cc_cli_print_json(ans);
        } else {
            printf("What-if (nothing committed):\n");
            print_response(json_object_get(ans, "response"));
        }
        rc = CC_EXIT_OK;
        goto out;
    }
    char *text = cc_cli_json_text(json_incref(payload));
    cc_cli_sent sent;
    cc_errbuf eb = {{0}};
    cc_tx tx;
    cc_err e = text ? cc_cli_tx_build(s.chain_id, &s.key, "claim.submit", text, NULL, 0, &tx, &eb)
                    : cc_errf(&eb, CC_ERR_NOMEM, "out of memory");
    free(text);
    if (e == CC_OK) {
        e = cc_cli_tx_post(s.h, &tx, !w.no_wait, &sent, &eb);
        cc_tx_free(&tx);
    }
    if (e != CC_OK) {
        rc = cc_cli_fail(&ctx, e, eb.msg);
        goto out;
    }
    rc = cc_cli_sent_report(&ctx, &sent, "claim.submit");
    if (rc == CC_EXIT_OK && sent.committed && !ctx.json) {
        char path[160];
        snprintf(path, sizeof path, "/v1/claims/%s", sent.txid);
        if (signed_json(&ctx, &s, path, NULL, &ans) < 0) print_claim(ans);
    }
    cc_cli_sent_free(&sent);
out:
    json_decref(payload);
    json_decref(ans);
    cc_cli_session_close(&s);
    return rc;
}

static int claim_submit(int argc, char **argv)
{
    return claim_submit_or_simulate(argc, argv, false);
}

static int claim_simulate(int argc, char **argv)
{
    return claim_submit_or_simulate(argc, argv, true);
}

static int claim_get(int argc, char **argv)
{
    const char *keyfile = NULL;
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the requester's key (patient, delegate, provider or insurer)", &keyfile},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"claim get",
                              "ID --key K",
                              "Show a claim: submitted -> adjudicated -> paid, with its ClaimResponse.",
                              opts,
                              1,
                              1,
                              true,
                              true,
                              NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!keyfile) return cc_cli_usage(ctx.cmd, "missing --key");
    if (!cc_cli_hex_ok(ctx.pos[0], CC_HASH_BYTES))
        return cc_cli_usage(ctx.cmd, "ID must be a claim id (a txid)");
    char path[160];
    json_t *c;
    snprintf(path, sizeof path, "/v1/claims/%s", ctx.pos[0]);
    if ((rc = cc_cli_get_json_as(&ctx, keyfile, path, &c)) >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(c);
    } else {
        print_claim(c);
        size_t i;
        json_t *h;
        char when[40];
        json_array_foreach(json_object_get(c, "history"), i, h)
        {
            printf("  %s at block %lld (%s)\n", jstr(h, "status", "?"),
                   (long long)json_integer_value(json_object_get(h, "height")),
                   cc_cli_time((uint64_t)json_integer_value(json_object_get(h, "time")), when));
        }
    }
    json_decref(c);
    return CC_EXIT_OK;
}

static int claim_list(int argc, char **argv)
{
    const char *keyfile = NULL, *patient = NULL;
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the requester's key", &keyfile},
        {"patient", "ID", "the patient's id (default: the key's own)", &patient},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"claim list",
                              "--key K [--patient ID]",
                              "A patient's claims that you may read.",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    char self[CC_HASH_HEX], path[CC_CLI_PATH_MAX], b[32], p[32];
    if ((rc = cc_cli_patient_opts(&ctx, keyfile, &patient, self)) >= 0) return rc;
    json_t *ans;
    snprintf(path, sizeof path, "/v1/patients/%s/claims", self);
    if ((rc = cc_cli_get_json_as(&ctx, keyfile, path, &ans)) >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(ans);
    } else {
        printf("%lld claim(s) of patient %s:\n", (long long)json_integer_value(json_object_get(ans, "total")),
               self);
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(ans, "claims"), i, c)
        {
            printf("  %s  %-16s %-11s %-9s payer %s, patient %s\n", jstr(c, "id", "?"), jstr(c, "use", "?"),
                   jstr(c, "status", "?"), jstr(c, "outcome", "?"),
                   cents(json_integer_value(json_object_get(c, "benefitCents")), b),
                   cents(json_integer_value(json_object_get(c, "patientCents")), p));
        }
    }
    json_decref(ans);
    return CC_EXIT_OK;
}

static int claim_eob(int argc, char **argv)
{
    const char *keyfile = NULL, *patient = NULL;
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the patient's (or a delegate's) key", &keyfile},
        {"patient", "ID", "the patient's id (default: the key's own)", &patient},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"claim eob",
                              "--key K [--patient ID]",
                              "The patient's explanations of benefit (GET /fhir/ExplanationOfBenefit).",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              "--json prints the FHIR R4 searchset Bundle.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    char self[CC_HASH_HEX], path[CC_CLI_PATH_MAX];
    if ((rc = cc_cli_patient_opts(&ctx, keyfile, &patient, self)) >= 0) return rc;
    json_t *bundle;
    snprintf(path, sizeof path, "/fhir/ExplanationOfBenefit?patient=%s", self);
    if ((rc = cc_cli_get_json_as(&ctx, keyfile, path, &bundle)) >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(bundle);
    } else {
        size_t i, j;
        json_t *e, *t;
        printf("%zu explanation(s) of benefit for patient %s:\n",
               json_array_size(json_object_get(bundle, "entry")), self);
        json_array_foreach(json_object_get(bundle, "entry"), i, e)
        {
            const json_t *eob = json_object_get(e, "resource");
            printf("  %s  %s, outcome %s:", jstr(eob, "id", "?"), jstr(eob, "created", "?"),
                   jstr(eob, "outcome", "?"));
            json_array_foreach(json_object_get(eob, "total"), j, t)
            {
                const json_t *cat =
                    json_array_get(json_object_get(json_object_get(t, "category"), "coding"), 0);
                const json_t *v = json_object_get(json_object_get(t, "amount"), "value");
                if (json_is_number(v))
                    printf(" %s %.2f", jstr(cat, "code", "?"), json_number_value(v)); /* display only */
            }
            printf("\n");
        }
    }
    json_decref(bundle);
    return CC_EXIT_OK;
}

int cc_cmd_claim(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"submit", claim_submit, "submit a FHIR Claim: adjudicated at commit"},
        {"simulate", claim_simulate, "what-if: adjudicate without committing"},
        {"get", claim_get, "a claim's status and ClaimResponse"},
        {"list", claim_list, "a patient's claims"},
        {"eob", claim_eob, "the patient's explanations of benefit"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("claim", subs, argc, argv);
}

/* ---- priorauth, payment ------------------------------------------------------------------ */

static int priorauth_decide(int argc, char **argv)
{
    const char *claim = NULL, *reason = NULL;
    bool approve = false, deny = false;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "PAYERKEY", "key file of a payer reviewer of the plan's organisation", &w.key},
        {"claim", "ID", "the pended claim or preauthorization", &claim},
        {"approve", NULL, "approve the pended lines", &approve},
        {"deny", NULL, "deny the pended lines", &deny},
        {"reason", "TEXT", "why (kept on the ledger; no PHI)", &reason},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"priorauth decide",
                              "--key PAYERKEY --claim ID (--approve | --deny) [--reason TEXT]",
                              "Decide a pended preauthorization or claim (a priorauth.decide tx).",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!claim || !cc_cli_hex_ok(claim, CC_HASH_BYTES))
        return cc_cli_usage(ctx.cmd, "--claim must be a claim id");
    if (approve == deny) return cc_cli_usage(ctx.cmd, "give exactly one of --approve and --deny");
    json_t *p = json_pack("{s:s, s:s}", "claim", claim, "decision", approve ? "approve" : "deny");
    if (p && reason) json_object_set_new(p, "reason", json_string(reason));
    return cc_cli_send_json(&ctx, &w, "priorauth.decide", p);
}

int cc_cmd_priorauth(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"decide", priorauth_decide, "approve or deny a pended preauthorization or claim"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("priorauth", subs, argc, argv);
}

static int payment_settle(int argc, char **argv)
{
    const char *trace = NULL, *claims = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "PAYERKEY", "key file of a payer of the plans' organisation", &w.key},
        {"trace", "ID", "the remittance's trace number (unique)", &trace},
        {"claims", "IDS", "the adjudicated claims to pay (comma-separated ids)", &claims},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"payment settle",
                              "--key PAYERKEY --trace ID --claims ID[,ID...]",
                              "Pay adjudicated claims as one remittance (a payment.settle tx).",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              "Each claim is paid exactly what its adjudication says the payer pays.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!trace || !claims) return cc_cli_usage(ctx.cmd, "--trace and --claims are required");
    cc_cli_session s;
    if ((rc = cc_cli_session_open(&ctx, w.key, w.genesis, &s)) >= 0) return rc;
    json_t *list = json_array();
    char *copy = strdup(claims), *save = NULL;
    rc = -1;
    for (char *id = strtok_r(copy, ",", &save); id && rc < 0; id = strtok_r(NULL, ",", &save)) {
        char path[160];
        json_t *c = NULL;
        if (!cc_cli_hex_ok(id, CC_HASH_BYTES)) {
            rc = cc_cli_usage(ctx.cmd, "'%s' is not a claim id", id);
            break;
        }
        snprintf(path, sizeof path, "/v1/claims/%s", id);
        if ((rc = signed_json(&ctx, &s, path, NULL, &c)) >= 0) break;
        json_array_append_new(
            list, json_pack("{s:s, s:O}", "claim", id, "amountCents", json_object_get(c, "benefitCents")));
        json_decref(c);
    }
    free(copy);
    cc_cli_session_close(&s);
    if (rc >= 0) {
        json_decref(list);
        return rc;
    }
    return cc_cli_send_json(&ctx, &w, "payment.settle",
                            json_pack("{s:s, s:o}", "trace", trace, "claims", list));
}

int cc_cmd_payment(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"settle", payment_settle, "pay adjudicated claims as one remittance"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("payment", subs, argc, argv);
}
