/*
 * cli/cmd_trial.c — the clinical trial registry (docs/TRIALS.md):
 *
 *   carechain trial register|amend|enroll|withdraw|results   (txs, each waits for its block)
 *   carechain trial integrity ID                            the results integrity report
 *   carechain trial show ID [--version N | --stats | --fhir | --subjects --key K]
 *
 * Registration and results are JSON files in the ledger's form (the
 * payloads of trial.register and trial.results); the protocol and the
 * statistical analysis plan can be given as files, of which only the
 * SHA-256 leaves this machine.
 */
#include <stdlib.h>
#include <string.h>

#include "apps/trials.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define FILE_MAX  (1024u * 1024)
#define DOC_MAX   (1024u * 1024 * 1024)
#define PATH_MAX_ 256

static int load_file(const cc_cli_ctx *ctx, const char *path, json_t **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cc_errbuf eb = {{0}};
    cc_err e = cc_file_read(path, FILE_MAX, &buf, &len, &eb);
    if (e != CC_OK) return cc_cli_fail(ctx, CC_ERR_USAGE, eb.msg);
    json_error_t je;
    *out = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!*out || !json_is_object(*out)) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s is not a JSON object: %s (line %d)", path,
                 *out ? "not an object" : je.text, je.line);
        json_decref(*out);
        return cc_cli_fail(ctx, CC_ERR_USAGE, msg);
    }
    return -1;
}

/* payload[field] = SHA-256 (hex) of the file at path. */
static int hash_file(const cc_cli_ctx *ctx, const char *path, json_t *payload, const char *field)
{
    uint8_t *buf = NULL, hash[CC_HASH_BYTES];
    size_t len = 0;
    char hex[CC_HASH_HEX];
    cc_errbuf eb = {{0}};
    if (cc_file_read(path, DOC_MAX, &buf, &len, &eb) != CC_OK) return cc_cli_fail(ctx, CC_ERR_USAGE, eb.msg);
    cc_sha256(buf, len, hash);
    free(buf);
    json_object_set_new(payload, field, json_string(cc_hex(hash, CC_HASH_BYTES, hex)));
    return -1;
}

static int trial_arg(const cc_cli_ctx *ctx, const char *trial)
{
    if (!trial) return cc_cli_usage(ctx->cmd, "missing --trial");
    if (!cc_trials_id_valid(trial))
        return cc_cli_usage(ctx->cmd, "the trial id must be NCT followed by 8 digits, or a sponsor's id");
    return -1;
}

/* ---- trial register ------------------------------------------------------------------- */

static int trial_register(int argc, char **argv)
{
    const char *file = NULL, *trial = NULL, *protocol = NULL, *sap = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "SPONSORKEY", "key file of a sponsor", &w.key},
        {"file", "TRIAL.json", "the registration: a trial.register payload (docs/TRIALS.md)", &file},
        {"trial", "ID", "the trial id (overrides the file's)", &trial},
        {"protocol", "FILE", "the protocol document: only its SHA-256 is sent", &protocol},
        {"sap", "FILE", "the statistical analysis plan: only its SHA-256 is sent", &sap},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "trial register",
        "--key SPONSORKEY --file TRIAL.json [--trial ID] [--protocol FILE] [--sap FILE]",
        "Register a trial with its pre-specified outcomes (a trial.register tx).",
        opts,
        0,
        0,
        true,
        true,
        "The file holds trial, title, phase, primaryOutcomes and secondaryOutcomes\n"
        "([{measure, timeFrame, description}]), enrollment, primaryCompletionDate,\n"
        "protocolSha256, sapSha256 and researchers (identity ids).\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!file) return cc_cli_usage(ctx.cmd, "missing --file");
    json_t *p = NULL;
    if ((rc = load_file(&ctx, file, &p)) >= 0) return rc;
    if (trial) json_object_set_new(p, "trial", json_string(trial));
    if ((protocol && (rc = hash_file(&ctx, protocol, p, "protocolSha256")) >= 0) ||
        (sap && (rc = hash_file(&ctx, sap, p, "sapSha256")) >= 0)) {
        json_decref(p);
        return rc;
    }
    return cc_cli_send_json(&ctx, &w, "trial.register", p);
}

/* ---- trial amend ------------------------------------------------------------------------- */

static int trial_amend(int argc, char **argv)
{
    const char *file = NULL, *trial = NULL, *version = NULL, *reason = NULL, *protocol = NULL, *sap = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "SPONSORKEY", "key file of a sponsor of the trial's organisation", &w.key},
        {"trial", "ID", "the trial", &trial},
        {"file", "CHANGES.json", "the registered fields that change (any of trial.register's)", &file},
        {"reason", "TEXT", "why (kept with the version)", &reason},
        {"version", "N", "the new version number (default: the current one + 1)", &version},
        {"protocol", "FILE", "a new protocol document (its SHA-256)", &protocol},
        {"sap", "FILE", "a new statistical analysis plan (its SHA-256)", &sap},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "trial amend",
        "--key SPONSORKEY --trial ID --reason TEXT [--file CHANGES.json] [--protocol FILE] [--sap FILE]",
        "Amend a trial's registration: a new version; every earlier version stays readable.",
        opts,
        0,
        0,
        true,
        true,
        "An amendment after the first enrolment is marked post-start, and outcome changes in it\n"
        "appear in the integrity report.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if ((rc = trial_arg(&ctx, trial)) >= 0) return rc;
    if (!reason) return cc_cli_usage(ctx.cmd, "missing --reason");
    if (!file && !protocol && !sap)
        return cc_cli_usage(ctx.cmd, "give --file, --protocol or --sap: what changes");
    uint64_t n = 0;
    if (version && (!cc_cli_parse_u64(version, false, &n) || n < 2))
        return cc_cli_usage(ctx.cmd, "--version must be 2 or more");
    if (!version) {
        char path[PATH_MAX_];
        json_t *t = NULL;
        snprintf(path, sizeof path, "/v1/trials/%s", trial);
        if ((rc = cc_cli_get_json(&ctx, path, &t, NULL)) >= 0) return rc;
        n = cc_cli_juint(t, "version") + 1;
        json_decref(t);
    }
    json_t *p = NULL;
    if (file) {
        if ((rc = load_file(&ctx, file, &p)) >= 0) return rc;
    } else {
        p = json_object();
    }
    if ((protocol && (rc = hash_file(&ctx, protocol, p, "protocolSha256")) >= 0) ||
        (sap && (rc = hash_file(&ctx, sap, p, "sapSha256")) >= 0)) {
        json_decref(p);
        return rc;
    }
    json_object_set_new(p, "trial", json_string(trial));
    json_object_set_new(p, "version", json_integer((json_int_t)n));
    json_object_set_new(p, "reason", json_string(reason));
    return cc_cli_send_json(&ctx, &w, "trial.amend", p);
}

/* ---- trial enroll / withdraw ---------------------------------------------------------------- */

static int trial_enroll(int argc, char **argv)
{
    const char *trial = NULL, *patient = NULL, *consent = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "SITEKEY", "key file of a clinician or admin of the enrolling site", &w.key},
        {"trial", "ID", "the trial", &trial},
        {"patient", "ID", "the patient (hex id)", &patient},
        {"consent", "TXID", "the patient's research consent (default: the ledger finds it)", &consent},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "trial enroll",
        "--key SITEKEY --trial ID --patient ID [--consent TXID]",
        "Enrol a patient who gave research consent for the trial (a trial.enroll tx).",
        opts,
        0,
        0,
        true,
        true,
        "The patient first grants: carechain consent grant --purpose HRESCH --trial ID ...\n"
        "Without that consent, active now, the enrolment is rejected.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if ((rc = trial_arg(&ctx, trial)) >= 0) return rc;
    if (!patient || !cc_cli_hex_ok(patient, CC_PUBKEY_BYTES))
        return cc_cli_usage(ctx.cmd, "--patient must be a 64-digit hex id");
    if (consent && !cc_cli_hex_ok(consent, CC_HASH_BYTES))
        return cc_cli_usage(ctx.cmd, "--consent must be a 64-digit txid");
    json_t *p = json_pack("{s:s, s:s}", "trial", trial, "patient", patient);
    if (p && consent) json_object_set_new(p, "consent", json_string(consent));
    return cc_cli_send_json(&ctx, &w, "trial.enroll", p);
}

static int trial_withdraw(int argc, char **argv)
{
    const char *trial = NULL, *patient = NULL, *reason = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "KEY", "the patient's (or a delegate's) key, or the enrolling site's", &w.key},
        {"trial", "ID", "the trial", &trial},
        {"patient", "ID", "the subject's patient id (hex)", &patient},
        {"reason", "TEXT", "why (optional)", &reason},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "trial withdraw",
        "--key KEY --trial ID --patient ID [--reason TEXT]",
        "End a subject's participation (a trial.withdraw tx).",
        opts,
        0,
        0,
        true,
        true,
        "When the patient or a delegate withdraws, the research consent is revoked too:\n"
        "from then on the trial's researchers are denied (and audited).\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if ((rc = trial_arg(&ctx, trial)) >= 0) return rc;
    if (!patient || !cc_cli_hex_ok(patient, CC_PUBKEY_BYTES))
        return cc_cli_usage(ctx.cmd, "--patient must be a 64-digit hex id");
    json_t *p = json_pack("{s:s, s:s}", "trial", trial, "patient", patient);
    if (p && reason) json_object_set_new(p, "reason", json_string(reason));
    return cc_cli_send_json(&ctx, &w, "trial.withdraw", p);
}

/* ---- trial results -------------------------------------------------------------------------- */

static int trial_results(int argc, char **argv)
{
    const char *trial = NULL, *file = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "SPONSORKEY", "key file of a sponsor of the trial's organisation", &w.key},
        {"trial", "ID", "the trial", &trial},
        {"file", "RESULTS.json", "{\"outcomes\": [{\"measure\", \"value\", \"unit\", \"description\"}]}",
         &file},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "trial results",
        "--key SPONSORKEY --trial ID --file RESULTS.json",
        "Post a trial's results: the reported outcomes with their values (a trial.results "
        "tx).",
        opts,
        0,
        0,
        true,
        true,
        "Values are strings (\"-0.8\", \"12.5 (95% CI 9.1-15.9)\"). An outcome is matched to\n"
        "the registration by its measure, exactly.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if ((rc = trial_arg(&ctx, trial)) >= 0) return rc;
    if (!file) return cc_cli_usage(ctx.cmd, "missing --file");
    json_t *p = NULL;
    if ((rc = load_file(&ctx, file, &p)) >= 0) return rc;
    json_object_set_new(p, "trial", json_string(trial));
    return cc_cli_send_json(&ctx, &w, "trial.results", p);
}

/* ---- trial integrity ------------------------------------------------------------------------ */

static int trial_integrity(int argc, char **argv)
{
    bool strict = false;
    const cc_cli_opt opts[] = {
        {"strict", NULL, "exit 1 when the report has findings", &strict},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "trial integrity",
        "ID [--strict]",
        "Show the results integrity report of a trial (GET /v1/trials/{id}/integrity).",
        opts,
        1,
        1,
        true,
        true,
        "Findings: registered outcomes not reported; outcomes reported that were not\n"
        "registered before the first enrolment; outcomes changed after the start; results\n"
        "more than 12 months after primary completion; registration more than 21 days after\n"
        "the first enrolment. Each cites the txids that prove it (carechain proof TXID).\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!cc_trials_id_valid(ctx.pos[0]))
        return cc_cli_usage(ctx.cmd, "the trial id must be NCT followed by 8 digits, or a sponsor's id");
    char path[PATH_MAX_];
    json_t *r = NULL;
    snprintf(path, sizeof path, "/v1/trials/%s/integrity", ctx.pos[0]);
    if ((rc = cc_cli_get_json(&ctx, path, &r, NULL)) >= 0) return rc;
    const json_t *findings = json_object_get(r, "findings");
    if (ctx.json) {
        cc_cli_print_json(r);
    } else {
        size_t i, j;
        json_t *f, *t;
        printf("Trial %s: version %llu, baseline (in force at the first enrolment) version %llu.\n",
               ctx.pos[0], (unsigned long long)cc_cli_juint(r, "version"),
               (unsigned long long)cc_cli_juint(r, "baselineVersion"));
        if (json_array_size(findings) == 0)
            printf("No findings: the results match the pre-registered outcomes.\n");
        json_array_foreach(findings, i, f)
        {
            printf("%zu. [%s] %s\n", i + 1, cc_cli_jstr(f, "rule", "?"), cc_cli_jstr(f, "message", ""));
            json_array_foreach(json_object_get(f, "txids"), j, t)
            {
                printf("     proof: tx %s\n", json_string_value(t));
            }
        }
    }
    rc = strict && json_array_size(findings) > 0 ? CC_EXIT_FAIL : CC_EXIT_OK;
    json_decref(r);
    return rc;
}

/* ---- trial show --------------------------------------------------------------------------- */

static void print_outcomes(const json_t *doc, const char *field, const char *role)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(doc, field), i, o)
    {
        printf("    %s: %s (%s)\n", role, cc_cli_jstr(o, "measure", "?"), cc_cli_jstr(o, "timeFrame", "?"));
    }
}

/* A count of the stats answer: a number, or "suppressed" for a small one. */
static const char *stat_cell(const json_t *v, char buf[32])
{
    if (json_is_integer(v)) {
        snprintf(buf, 32, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return json_is_string(v) ? json_string_value(v) : "?";
}

static void print_stats(const json_t *r)
{
    char a[32], b[32], c[32], d[32];
    const json_t *planned = json_object_get(r, "planned");
    printf("Trial %s (version %lld): planned %s, enrolled %s, active %s, withdrawn %s.\n",
           cc_cli_jstr(r, "trial", "?"), (long long)json_integer_value(json_object_get(r, "version")),
           planned ? stat_cell(planned, b) : "none", stat_cell(json_object_get(r, "enrolled"), a),
           stat_cell(json_object_get(r, "active"), c), stat_cell(json_object_get(r, "withdrawn"), d));
    size_t i;
    json_t *site;
    json_array_foreach(json_object_get(r, "bySite"), i, site)
    {
        printf("  site %s: %s enrolled\n", cc_cli_jstr(site, "site", "?"),
               stat_cell(json_object_get(site, "enrolled"), a));
    }
    printf("Results %s. Counts from 1 to %lld are suppressed, and so is any count that would reveal one.\n",
           json_is_true(json_object_get(r, "resultsPosted")) ? "posted" : "not posted yet",
           (long long)json_integer_value(json_object_get(r, "minimumCell")) - 1);
}

static int trial_show(int argc, char **argv)
{
    const char *version = NULL, *key = NULL;
    bool stats = false, fhir = false, subjects = false;
    const cc_cli_opt opts[] = {
        {"version", "N", "the FHIR ResearchStudy of version N (with --fhir)", &version},
        {"stats", NULL, "counts only (cells under 5 suppressed)", &stats},
        {"fhir", NULL, "the FHIR R4 ResearchStudy", &fhir},
        {"subjects", NULL, "the FHIR ResearchSubjects (signed: sponsor or researcher, --key)", &subjects},
        {"key", "FILE", "the requester's key (for --subjects)", &key},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"trial show",
                              "ID [--stats | --fhir [--version N] | --subjects --key FILE]",
                              "Show a trial's registration, every version and its results.",
                              opts,
                              1,
                              1,
                              true,
                              true,
                              NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    const char *id = ctx.pos[0];
    if (!cc_trials_id_valid(id))
        return cc_cli_usage(ctx.cmd, "the trial id must be NCT followed by 8 digits, or a sponsor's id");
    if (stats + fhir + subjects > 1)
        return cc_cli_usage(ctx.cmd, "give one of --stats, --fhir and --subjects");
    if (subjects && !key) return cc_cli_usage(ctx.cmd, "--subjects needs --key");
    uint64_t n = 0;
    if (version && (!fhir || !cc_cli_parse_u64(version, false, &n) || n == 0))
        return cc_cli_usage(ctx.cmd, "--version N (a positive integer) goes with --fhir");
    char path[PATH_MAX_];
    json_t *r = NULL;
    if (subjects) {
        snprintf(path, sizeof path, "/fhir/ResearchSubject?study=%s", id);
        if ((rc = cc_cli_get_json_as(&ctx, key, path, &r)) >= 0) return rc;
        cc_cli_print_json(r);
        json_decref(r);
        return CC_EXIT_OK;
    }
    if (fhir && version)
        snprintf(path, sizeof path, "/fhir/ResearchStudy/%s?version=%llu", id, (unsigned long long)n);
    else
        snprintf(path, sizeof path,
                 fhir    ? "/fhir/ResearchStudy/%s"
                 : stats ? "/v1/trials/%s/stats"
                         : "/v1/trials/%s",
                 id);
    if ((rc = cc_cli_get_json(&ctx, path, &r, NULL)) >= 0) return rc;
    if (ctx.json || fhir) {
        cc_cli_print_json(r);
        json_decref(r);
        return CC_EXIT_OK;
    }
    if (stats) {
        print_stats(r);
        json_decref(r);
        return CC_EXIT_OK;
    }
    const json_t *versions = json_object_get(r, "versions");
    char when[40];
    printf("Trial %s of sponsor organisation %s, registered %s (tx %s).\n", id, cc_cli_jstr(r, "org", "?"),
           cc_cli_time(cc_cli_juint(r, "registered_at"), when), cc_cli_jstr(r, "txid", "?"));
    const json_t *first = json_object_get(r, "firstEnrolment");
    if (first)
        printf("First enrolment %s (tx %s).\n", cc_cli_time(cc_cli_juint(first, "time"), when),
               cc_cli_jstr(first, "txid", "?"));
    size_t i;
    json_t *v;
    json_array_foreach(versions, i, v)
    {
        printf("  version %llu, %s%s: %s\n", (unsigned long long)cc_cli_juint(v, "version"),
               cc_cli_time(cc_cli_juint(v, "time"), when),
               json_is_true(json_object_get(v, "postStart")) ? " (post-start)" : "",
               cc_cli_jstr(v, "reason", cc_cli_jstr(v, "title", "")));
        print_outcomes(v, "primaryOutcomes", "primary");
        print_outcomes(v, "secondaryOutcomes", "secondary");
    }
    printf("%zu results posting(s).\n", json_array_size(json_object_get(r, "results")));
    json_decref(r);
    return CC_EXIT_OK;
}

int cc_cmd_trial(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"register", trial_register, "register a trial with its pre-specified outcomes"},
        {"amend", trial_amend, "amend a registration (a new version, with a reason)"},
        {"enroll", trial_enroll, "enrol a consenting patient (a site)"},
        {"withdraw", trial_withdraw, "end a subject's participation (the patient or the site)"},
        {"results", trial_results, "post the reported outcomes with their values (the sponsor)"},
        {"integrity", trial_integrity, "the results integrity report, with its proofs"},
        {"show", trial_show, "the registration, its versions, stats, FHIR views"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("trial", subs, argc, argv);
}
