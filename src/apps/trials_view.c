/*
 * trials_view.c — what the node serves about a trial, computed from the
 * state trials.c writes: the trial with its versions, the results
 * integrity report, counts with small cells suppressed, and the FHIR R4
 * ResearchStudy and ResearchSubject renderings (docs/TRIALS.md).
 *
 * Pure: state comes through a cc_state_reader, and the only times used are
 * the block times stored with each version, enrolment and results posting,
 * so every node gives the same report for the same height.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/apps.h"
#include "apps/claims.h"
#include "apps/trials.h"

#define KEY_MAX        (32 + CC_TRIALS_ID_MAX + CC_HASH_HEX)
#define MS_DAY         86400000LL
#define EXT            "urn:carechain:fhir:"
#define SYS_PHASE      "http://terminology.hl7.org/CodeSystem/research-study-phase"
#define SYS_NCT        "https://clinicaltrials.gov"
#define SYS_SPONSOR_ID "urn:carechain:trial"

static const char *str(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(o, field));
}

static json_int_t num(const json_t *o, const char *field)
{
    return json_integer_value(json_object_get(o, field));
}

static cc_err get_fmt(cc_state_reader get, void *ctx, json_t **out, const char *fmt, const char *a,
                      const char *b)
{
    char key[KEY_MAX];
    snprintf(key, sizeof key, fmt, a, b);
    return get(ctx, key, out);
}

static cc_err version_get(cc_state_reader get, void *ctx, const char *trial, json_int_t n, json_t **out)
{
    char key[KEY_MAX];
    snprintf(key, sizeof key, "trialv/%s/%06lld", trial, (long long)n);
    return get(ctx, key, out);
}

/* Everything about a trial the views read. */
typedef struct trial_state {
    json_t *head;     /* trial/<id> */
    json_t *versions; /* [version 1, 2, ...] */
    json_t *enrol;    /* trialenrol/<id>, or NULL: nobody enrolled */
    json_t *results;  /* trialres/<id>, or an empty array */
} trial_state;

static void trial_state_free(trial_state *t)
{
    json_decref(t->head);
    json_decref(t->versions);
    json_decref(t->enrol);
    json_decref(t->results);
    memset(t, 0, sizeof *t);
}

static cc_err trial_state_load(cc_state_reader get, void *ctx, const char *trial, trial_state *t)
{
    memset(t, 0, sizeof *t);
    if (!cc_trials_id_valid(trial)) return CC_ERR_NOT_FOUND;
    cc_err rc = get_fmt(get, ctx, &t->head, "trial/%s%s", trial, "");
    if (rc != CC_OK) return rc;
    json_int_t n = num(t->head, "version");
    t->versions = json_array();
    rc = t->versions ? CC_OK : CC_ERR_NOMEM;
    for (json_int_t v = 1; rc == CC_OK && v <= n; v++) {
        json_t *doc = NULL;
        rc = version_get(get, ctx, trial, v, &doc);
        if (rc == CC_ERR_NOT_FOUND) rc = CC_ERR_CORRUPT;
        if (rc == CC_OK) json_array_append_new(t->versions, doc);
    }
    if (rc == CC_OK &&
        (rc = get_fmt(get, ctx, &t->enrol, "trialenrol/%s%s", trial, "")) == CC_ERR_NOT_FOUND) {
        t->enrol = NULL;
        rc = CC_OK;
    }
    if (rc == CC_OK &&
        (rc = get_fmt(get, ctx, &t->results, "trialres/%s%s", trial, "")) == CC_ERR_NOT_FOUND) {
        t->results = json_array();
        rc = t->results ? CC_OK : CC_ERR_NOMEM;
    }
    if (rc != CC_OK) trial_state_free(t);
    return rc;
}

/* ---- GET /v1/trials/{id} ------------------------------------------------------------- */

cc_err cc_trials_view(cc_state_reader get, void *ctx, const char *trial, json_t **out)
{
    trial_state t;
    cc_err rc = trial_state_load(get, ctx, trial, &t);
    if (rc != CC_OK) return rc;
    json_t *v = json_deep_copy(t.head);
    if (!v) {
        trial_state_free(&t);
        return CC_ERR_NOMEM;
    }
    json_object_set(v, "versions", t.versions);
    json_object_set(v, "results", t.results);
    if (t.enrol) json_object_set(v, "firstEnrolment", json_object_get(t.enrol, "first"));
    trial_state_free(&t);
    *out = v;
    return CC_OK;
}

/* ---- the integrity report -------------------------------------------------------------- */

/* The outcome of version doc measured by measure, and its role. */
static const json_t *outcome_find(const json_t *doc, const char *measure, const char **role)
{
    static const char *const lists[] = {"primaryOutcomes", "secondaryOutcomes"};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(doc, lists[l]), i, o)
        {
            if (str(o, "measure") && strcmp(str(o, "measure"), measure) == 0) {
                *role = l == 0 ? "primary" : "secondary";
                return o;
            }
        }
    }
    return NULL;
}

/* {version, role, timeFrame, description, date, time, txid} of outcome o in doc. */
static json_t *outcome_at(const json_t *doc, const json_t *o, const char *role)
{
    char date[CC_APPS_TIME_BYTES];
    json_t *s =
        json_pack("{s:I, s:s, s:O, s:s, s:I, s:O}", "version", num(doc, "version"), "role", role, "timeFrame",
                  json_object_get(o, "timeFrame"), "date", cc_apps_time(num(doc, "time"), true, date), "time",
                  num(doc, "time"), "txid", json_object_get(doc, "txid"));
    if (s && json_object_get(o, "description"))
        json_object_set(s, "description", json_object_get(o, "description"));
    return s;
}

static bool same_text(const json_t *a, const json_t *b, const char *field)
{
    const char *x = str(a, field), *y = str(b, field);
    return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

/* Was measure reported in any results posting? */
static bool reported(const json_t *results, const char *measure)
{
    size_t i, j;
    json_t *post, *o;
    json_array_foreach(results, i, post)
    {
        json_array_foreach(json_object_get(post, "outcomes"), j, o)
        {
            if (str(o, "measure") && strcmp(str(o, "measure"), measure) == 0) return true;
        }
    }
    return false;
}

static json_t *txids(const char *a, const char *b, const char *c)
{
    json_t *l = json_array();
    const char *ids[] = {a, b, c};
    for (size_t i = 0; l && i < 3; i++)
        if (ids[i]) json_array_append_new(l, json_string(ids[i]));
    return l;
}

static void finding(json_t *findings, const char *rule, json_t *ids, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finding(json_t *findings, const char *rule, json_t *ids, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(findings, json_pack("{s:s, s:s, s:o}", "rule", rule, "message", msg, "txids", ids));
}

/* The last finding, to add details to. */
static json_t *last(json_t *findings)
{
    return json_array_get(findings, json_array_size(findings) - 1);
}

/* The day results are due: the primary completion date plus 12 months
 * (29 February -> 28 February). false when pcd is not a date. */
static bool results_due(const char *pcd, int64_t *due_day)
{
    int y, m, d;
    char next[16];
    if (!pcd || sscanf(pcd, "%4d-%2d-%2d", &y, &m, &d) != 3) return false;
    y += CC_TRIALS_RESULTS_MONTHS / 12;
    snprintf(next, sizeof next, "%04d-%02d-%02d", y % 10000, m % 100, d % 100);
    if (cc_claims_date_parse(next, due_day)) return true;
    snprintf(next, sizeof next, "%04d-%02d-%02d", y % 10000, m % 100, d % 100 - 1);
    return cc_claims_date_parse(next, due_day);
}

/* Outcomes changed by the amendment from prev to next (both after the start). */
static void diff_versions(json_t *findings, const json_t *prev, const json_t *next, const char *first_txid,
                          const char *first_date)
{
    static const char *const lists[] = {"primaryOutcomes", "secondaryOutcomes"};
    char date[CC_APPS_TIME_BYTES];
    const char *pt = str(prev, "txid"), *nt = str(next, "txid");
    json_int_t pv = num(prev, "version"), nv = num(next, "version");
    cc_apps_time(num(next, "time"), true, date);
    for (size_t l = 0; l < 2; l++) {
        const char *role = l == 0 ? "primary" : "secondary", *nrole = NULL;
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(prev, lists[l]), i, o)
        {
            const char *measure = str(o, "measure");
            const json_t *q = outcome_find(next, measure, &nrole);
            const char *change = !q                         ? "removed"
                                 : strcmp(role, nrole) != 0 ? "reclassified"
                                 : !same_text(o, q, "timeFrame") || !same_text(o, q, "description")
                                     ? "modified"
                                     : NULL;
            if (!change) continue;
            if (!q)
                finding(findings, "outcome-changed-after-start", txids(pt, nt, first_txid),
                        "%s outcome \"%.120s\" of version %lld was removed by amendment version %lld on %s, "
                        "after the first enrolment (%s)",
                        role, measure, (long long)pv, (long long)nv, date, first_date);
            else if (strcmp(change, "reclassified") == 0)
                finding(
                    findings, "outcome-changed-after-start", txids(pt, nt, first_txid),
                    "outcome \"%.120s\" was %s in version %lld and became %s in amendment version %lld on "
                    "%s, after the first enrolment (%s)",
                    measure, role, (long long)pv, nrole, (long long)nv, date, first_date);
            else
                finding(
                    findings, "outcome-changed-after-start", txids(pt, nt, first_txid),
                    "%s outcome \"%.120s\" had its time frame or description changed by amendment version "
                    "%lld on %s, after the first enrolment (%s)",
                    role, measure, (long long)nv, date, first_date);
            json_t *f = last(findings);
            json_object_set_new(f, "measure", json_string(measure));
            json_object_set_new(f, "change", json_string(change));
            json_object_set_new(f, "primary",
                                json_boolean(l == 0 || (nrole && strcmp(nrole, "primary") == 0)));
            json_object_set_new(f, "before", outcome_at(prev, o, role));
            json_object_set_new(f, "after", q ? outcome_at(next, q, nrole) : json_null());
        }
    }
    for (size_t l = 0; l < 2; l++) {
        const char *role = l == 0 ? "primary" : "secondary", *prole = NULL;
        size_t i;
        json_t *q;
        json_array_foreach(json_object_get(next, lists[l]), i, q)
        {
            const char *measure = str(q, "measure");
            if (outcome_find(prev, measure, &prole)) continue;
            finding(
                findings, "outcome-changed-after-start", txids(pt, nt, first_txid),
                "%s outcome \"%.120s\" was added by amendment version %lld on %s, after the first enrolment "
                "(%s)",
                role, measure, (long long)nv, date, first_date);
            json_t *f = last(findings);
            json_object_set_new(f, "measure", json_string(measure));
            json_object_set_new(f, "change", json_string("added"));
            json_object_set_new(f, "primary", json_boolean(l == 0));
            json_object_set_new(f, "before", json_null());
            json_object_set_new(f, "after", outcome_at(next, q, role));
        }
    }
}

cc_err cc_trials_integrity(cc_state_reader get, void *ctx, const char *trial, json_t **out)
{
    trial_state t;
    char d1[CC_APPS_TIME_BYTES], d2[CC_APPS_TIME_BYTES], due_text[16] = "";
    cc_err rc = trial_state_load(get, ctx, trial, &t);
    if (rc != CC_OK) return rc;
    json_t *findings = json_array(), *report = NULL;
    size_t nv = json_array_size(t.versions);
    const json_t *first = json_object_get(t.enrol, "first");
    const char *first_txid = str(first, "txid");
    json_int_t first_ms = num(first, "time");
    char first_date[CC_APPS_TIME_BYTES] = "";
    if (first) cc_apps_time(first_ms, true, first_date);

    /* the baseline: the version in force at the first enrolment (the
     * current one while nobody is enrolled; version 1 when the trial was
     * registered only after its first enrolment) */
    size_t base = nv; /* 1-based */
    if (first) {
        base = 1;
        for (size_t i = 0; i < nv; i++)
            if (!json_is_true(json_object_get(json_array_get(t.versions, i), "postStart"))) base = i + 1;
    }
    const json_t *baseline = json_array_get(t.versions, base - 1);
    const json_t *current = json_array_get(t.versions, nv - 1);
    const char *reg_txid = str(t.head, "txid");

    /* 1. registration more than 21 days after the first enrolment */
    json_int_t reg_ms = num(t.head, "registered_at");
    if (first && reg_ms > first_ms + CC_TRIALS_REGISTRATION_DAYS * MS_DAY) {
        finding(findings, "registration-late", txids(reg_txid, first_txid, NULL),
                "registered on %s, %lld days after the first enrolment on %s (the limit is %d days)",
                cc_apps_time(reg_ms, true, d1), (long long)((reg_ms - first_ms) / MS_DAY), first_date,
                CC_TRIALS_REGISTRATION_DAYS);
        json_object_set_new(last(findings), "registered",
                            json_pack("{s:s, s:I, s:s}", "date", d1, "time", reg_ms, "txid", reg_txid));
        json_object_set_new(last(findings), "firstEnrolment", json_deep_copy(first));
    }
    /* 2. outcomes changed after the start: each amendment after the baseline */
    for (size_t v = base; v < nv; v++)
        diff_versions(findings, json_array_get(t.versions, v - 1), json_array_get(t.versions, v), first_txid,
                      first_date);
    if (json_array_size(t.results) > 0) {
        size_t i, j;
        json_t *post, *o;
        const char *role;
        /* 3. outcomes reported that were not registered before the first enrolment */
        json_t *seen = json_object();
        json_array_foreach(t.results, i, post)
        {
            json_array_foreach(json_object_get(post, "outcomes"), j, o)
            {
                const char *measure = str(o, "measure");
                if (!measure || json_object_get(seen, measure)) continue;
                json_object_set_new(seen, measure, json_true());
                if (outcome_find(baseline, measure, &role)) continue;
                finding(
                    findings, "outcome-not-preregistered",
                    txids(str(post, "txid"), str(baseline, "txid"), first_txid),
                    "outcome \"%.120s\" reported on %s was not in version %lld, the registration in force "
                    "%s",
                    measure, cc_apps_time(num(post, "time"), true, d1), (long long)num(baseline, "version"),
                    first ? "at the first enrolment" : "now");
                json_object_set_new(last(findings), "measure", json_string(measure));
                json_object_set_new(last(findings), "reported",
                                    json_pack("{s:O, s:s, s:O}", "txid", json_object_get(post, "txid"),
                                              "date", d1, "time", json_object_get(post, "time")));
                json_object_set_new(last(findings), "baselineVersion",
                                    json_integer(num(baseline, "version")));
            }
        }
        json_decref(seen);
        /* 4. registered outcomes not reported: the baseline's, and any the
         * current version added */
        const json_t *docs[] = {baseline, current};
        seen = json_object();
        for (size_t d = 0; d < 2; d++) {
            static const char *const lists[] = {"primaryOutcomes", "secondaryOutcomes"};
            for (size_t l = 0; l < 2; l++) {
                json_array_foreach(json_object_get(docs[d], lists[l]), i, o)
                {
                    const char *measure = str(o, "measure");
                    if (!measure || json_object_get(seen, measure)) continue;
                    json_object_set_new(seen, measure, json_true());
                    if (reported(t.results, measure)) continue;
                    json_t *ids = txids(str(docs[d], "txid"), NULL, NULL);
                    json_array_foreach(t.results, j, post)
                    {
                        json_array_append(ids, json_object_get(post, "txid"));
                    }
                    finding(
                        findings, "outcome-not-reported", ids,
                        "%s outcome \"%.120s\" registered in version %lld was not reported in any results "
                        "posting",
                        l == 0 ? "primary" : "secondary", measure, (long long)num(docs[d], "version"));
                    json_object_set_new(last(findings), "measure", json_string(measure));
                    json_object_set_new(last(findings), "registered",
                                        outcome_at(docs[d], o, l == 0 ? "primary" : "secondary"));
                }
            }
        }
        json_decref(seen);
    }
    /* 5. results posted more than 12 months after the primary completion date */
    int64_t due_day = 0;
    const char *pcd = str(current, "primaryCompletionDate");
    bool has_due = results_due(pcd, &due_day);
    if (has_due) cc_claims_date_format(due_day, due_text);
    const json_t *post1 = json_array_get(t.results, 0);
    if (post1 && has_due && num(post1, "time") >= (due_day + 1) * MS_DAY) {
        finding(findings, "results-late", txids(str(post1, "txid"), str(current, "txid"), NULL),
                "results were first posted on %s, more than %d months after the primary completion date %s "
                "(due by %s)",
                cc_apps_time(num(post1, "time"), true, d2), CC_TRIALS_RESULTS_MONTHS, pcd, due_text);
        json_object_set_new(last(findings), "posted",
                            json_pack("{s:O, s:s, s:O}", "txid", json_object_get(post1, "txid"), "date", d2,
                                      "time", json_object_get(post1, "time")));
        json_object_set_new(last(findings), "primaryCompletionDate", json_string(pcd));
        json_object_set_new(last(findings), "due", json_string(due_text));
    }

    report = json_pack("{s:s, s:I, s:I, s:O, s:b, s:I, s:o, s:b}", "trial", trial, "version", (json_int_t)nv,
                       "baselineVersion", (json_int_t)base, "firstEnrolment", first ? first : json_null(),
                       "resultsPosted", json_array_size(t.results) > 0, "resultsPostings",
                       (json_int_t)json_array_size(t.results), "findings", findings, "clean",
                       json_array_size(findings) == 0);
    if (report && has_due) json_object_set_new(report, "resultsDue", json_string(due_text));
    trial_state_free(&t);
    if (!report) return CC_ERR_NOMEM;
    *out = report;
    return CC_OK;
}

/* ---- stats --------------------------------------------------------------------------- */

/* One cell: the count, or "suppressed". */
static json_t *cell(json_int_t n, bool suppressed)
{
    return suppressed ? json_string("suppressed") : json_integer(n);
}

static bool small(json_int_t n)
{
    return n > 0 && n < CC_TRIALS_MIN_CELL;
}

cc_err cc_trials_stats(cc_state_reader get, void *ctx, const char *trial, json_t **out)
{
    trial_state t;
    cc_err rc = trial_state_load(get, ctx, trial, &t);
    if (rc != CC_OK) return rc;
    json_t *current = json_array_get(t.versions, json_array_size(t.versions) - 1);
    json_int_t enrolled = num(t.enrol, "enrolled"), withdrawn = num(t.enrol, "withdrawn");
    json_int_t active = enrolled - withdrawn;
    /* per site, in the order sites first enrolled */
    json_t *sites = json_object(), *order = json_array(), *v;
    size_t i;
    json_array_foreach(json_object_get(t.enrol, "subjects"), i, v)
    {
        json_t *s = NULL;
        if (rc != CC_OK) break;
        rc = get_fmt(get, ctx, &s, "trialsubj/%s/%s", trial, json_string_value(v));
        if (rc != CC_OK) break;
        const char *site = str(s, "site") ? str(s, "site") : "?";
        if (!json_object_get(sites, site)) json_array_append_new(order, json_string(site));
        json_object_set_new(sites, site, json_integer(num(sites, site) + 1));
        json_decref(s);
    }
    if (rc == CC_ERR_NOT_FOUND) rc = CC_ERR_CORRUPT;
    if (rc != CC_OK) {
        json_decref(sites);
        json_decref(order);
        trial_state_free(&t);
        return rc;
    }
    /* primary suppression of 1..4, then complementary suppression so no
     * suppressed cell can be recovered by subtraction from a shown total */
    bool s_enrolled = small(enrolled);
    bool s_active = s_enrolled || small(active), s_withdrawn = s_enrolled || small(withdrawn);
    if (s_active != s_withdrawn) s_active = s_withdrawn = true;
    size_t nsites = json_array_size(order), nsmall = 0;
    bool *s_site = calloc(nsites ? nsites : 1, sizeof *s_site);
    for (i = 0; s_site && i < nsites; i++) {
        s_site[i] = s_enrolled || small(num(sites, json_string_value(json_array_get(order, i))));
        nsmall += s_site[i];
    }
    if (s_site && nsmall == 1 && nsites > 1) { /* hide the smallest other site too */
        size_t pick = nsites;
        for (i = 0; i < nsites; i++)
            if (!s_site[i] &&
                (pick == nsites || num(sites, json_string_value(json_array_get(order, i))) <
                                       num(sites, json_string_value(json_array_get(order, pick)))))
                pick = i;
        if (pick < nsites) s_site[pick] = true;
    }
    json_t *by_site = json_array();
    for (i = 0; s_site && by_site && i < nsites; i++) {
        const char *site = json_string_value(json_array_get(order, i));
        json_array_append_new(
            by_site, json_pack("{s:s, s:o}", "site", site, "enrolled", cell(num(sites, site), s_site[i])));
    }
    json_t *st = s_site && by_site
                     ? json_pack("{s:s, s:O, s:o, s:o, s:o, s:o, s:I, s:o, s:i, s:I}", "trial", trial,
                                 "planned", json_object_get(current, "enrollment"), "enrolled",
                                 cell(enrolled, s_enrolled), "active", cell(active, s_active), "withdrawn",
                                 cell(withdrawn, s_withdrawn), "bySite", by_site, "sites", (json_int_t)nsites,
                                 "resultsPosted", json_boolean(json_array_size(t.results) > 0), "minimumCell",
                                 CC_TRIALS_MIN_CELL, "version", (json_int_t)json_array_size(t.versions))
                     : NULL;
    if (!st) json_decref(by_site);
    free(s_site);
    json_decref(sites);
    json_decref(order);
    trial_state_free(&t);
    if (!st) return CC_ERR_NOMEM;
    *out = st;
    return CC_OK;
}

/* ---- FHIR -------------------------------------------------------------------------- */

static json_t *ext_string(const char *url, const char *value)
{
    return json_pack("{s:s, s:s}", "url", url, "valueString", value ? value : "");
}

static void outcome_exts(json_t *exts, const json_t *doc, const char *field, const char *role)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(doc, field), i, o)
    {
        json_t *sub = json_pack("[{s:s, s:s}, {s:s, s:O}, {s:s, s:O}]", "url", "role", "valueCode", role,
                                "url", "measure", "valueString", json_object_get(o, "measure"), "url",
                                "timeFrame", "valueString", json_object_get(o, "timeFrame"));
        if (sub && str(o, "description"))
            json_array_append_new(sub, ext_string("description", str(o, "description")));
        json_array_append_new(exts,
                              json_pack("{s:s, s:o}", "url", CC_TRIALS_OUTCOME_EXTENSION, "extension", sub));
    }
}

cc_err cc_trials_fhir_study(cc_state_reader get, void *ctx, const char *trial, int64_t version, json_t **out)
{
    trial_state t;
    char when[CC_APPS_TIME_BYTES];
    cc_err rc = trial_state_load(get, ctx, trial, &t);
    if (rc != CC_OK) return rc;
    size_t nv = json_array_size(t.versions);
    if (version < 0 || (size_t)version > nv) {
        trial_state_free(&t);
        return CC_ERR_NOT_FOUND;
    }
    const json_t *doc = json_array_get(t.versions, (version ? (size_t)version : nv) - 1);
    const char *status = json_array_size(t.results) > 0 ? "completed" : t.enrol ? "active" : "approved";
    bool nct = strncmp(trial, "NCT", 3) == 0;
    json_t *exts = json_array();
    outcome_exts(exts, doc, "primaryOutcomes", "primary");
    outcome_exts(exts, doc, "secondaryOutcomes", "secondary");
    json_array_append_new(exts, json_pack("{s:s, s:O}", "url", EXT "trial-planned-enrollment", "valueInteger",
                                          json_object_get(doc, "enrollment")));
    json_array_append_new(exts, json_pack("{s:s, s:O}", "url", EXT "trial-primary-completion-date",
                                          "valueDate", json_object_get(doc, "primaryCompletionDate")));
    json_array_append_new(exts, ext_string(EXT "trial-protocol-sha256", str(doc, "protocolSha256")));
    json_array_append_new(exts, ext_string(EXT "trial-sap-sha256", str(doc, "sapSha256")));
    json_array_append_new(exts, ext_string(EXT "trial-version-txid", str(doc, "txid")));
    json_array_append_new(exts, json_pack("{s:s, s:b}", "url", EXT "trial-post-start", "valueBoolean",
                                          json_is_true(json_object_get(doc, "postStart"))));
    if (str(doc, "reason"))
        json_array_append_new(exts, ext_string(EXT "trial-amendment-reason", str(doc, "reason")));
    char version_id[24];
    snprintf(version_id, sizeof version_id, "%lld", (long long)num(doc, "version"));
    json_t *study = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:[{s:s, s:s}], s:O, s:s, s:{s:[{s:s, s:O}]}, s:{s:{s:s, s:s}}, s:o}",
        "resourceType", "ResearchStudy", "id", trial, "meta", "versionId", version_id, "lastUpdated",
        cc_apps_time(num(doc, "time"), false, when), "identifier", "system", nct ? SYS_NCT : SYS_SPONSOR_ID,
        "value", trial, "title", json_object_get(doc, "title"), "status", status, "phase", "coding", "system",
        SYS_PHASE, "code", json_object_get(doc, "phase"), "sponsor", "identifier", "system",
        "urn:carechain:org", "value", str(t.head, "org") ? str(t.head, "org") : "", "extension", exts);
    trial_state_free(&t);
    if (!study) return CC_ERR_NOMEM;
    *out = study;
    return CC_OK;
}

cc_err cc_trials_fhir_subjects(cc_state_reader get, void *ctx, const char *trial, json_t **out)
{
    json_t *enrol = NULL, *list = json_array(), *v;
    char start[CC_APPS_TIME_BYTES], end[CC_APPS_TIME_BYTES], ref[16 + CC_TRIALS_ID_MAX];
    size_t i;
    if (!list) return CC_ERR_NOMEM;
    cc_err rc = cc_trials_id_valid(trial) ? get_fmt(get, ctx, &enrol, "trialenrol/%s%s", trial, "")
                                          : CC_ERR_NOT_FOUND;
    snprintf(ref, sizeof ref, "ResearchStudy/%s", trial);
    json_array_foreach(json_object_get(enrol, "subjects"), i, v)
    {
        json_t *s = NULL;
        if (rc != CC_OK) break;
        if ((rc = get_fmt(get, ctx, &s, "trialsubj/%s/%s", trial, json_string_value(v))) != CC_OK) break;
        bool withdrawn = strcmp(str(s, "status"), "withdrawn") == 0;
        json_t *r = json_pack(
            "{s:s, s:O, s:s, s:{s:s}, s:{s:s}, s:{s:{s:s, s:O}}}", "resourceType", "ResearchSubject", "id",
            json_object_get(s, "subject"), "status", withdrawn ? "withdrawn" : "on-study", "period", "start",
            cc_apps_time(num(s, "enrolled_at"), false, start), "study", "reference", ref, "individual",
            "identifier", "system", CC_TRIALS_SUBJECT_SYSTEM, "value", json_object_get(s, "subject"));
        if (r && withdrawn)
            json_object_set_new(json_object_get(r, "period"), "end",
                                json_string(cc_apps_time(num(s, "withdrawn_at"), false, end)));
        if (r)
            json_object_set_new(r, "extension",
                                json_pack("[{s:s, s:O}]", "url", EXT "trial-site", "valueString",
                                          json_object_get(s, "site")));
        json_array_append_new(list, r);
        json_decref(s);
    }
    json_decref(enrol);
    if (rc == CC_ERR_NOT_FOUND && i > 0) rc = CC_ERR_CORRUPT;
    if (rc != CC_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return CC_OK;
}

cc_err cc_trials_may_see_subjects(cc_state_reader get, void *ctx, const char *trial, const char *requester,
                                  bool *out)
{
    json_t *head = NULL, *me = NULL, *v;
    size_t i;
    *out = false;
    cc_err rc =
        cc_trials_id_valid(trial) ? get_fmt(get, ctx, &head, "trial/%s%s", trial, "") : CC_ERR_NOT_FOUND;
    if (rc != CC_OK) return rc;
    json_array_foreach(json_object_get(head, "researchers"), i, v)
    {
        *out = *out || strcmp(json_string_value(v), requester) == 0;
    }
    if (!*out && get_fmt(get, ctx, &me, "id/%s%s", requester, "") == CC_OK) {
        const char *role = str(me, "role"), *org = str(me, "org"), *status = str(me, "status");
        *out = role && org && status && strcmp(status, "active") == 0 && str(head, "org") &&
               strcmp(org, str(head, "org")) == 0 &&
               (strcmp(role, "sponsor") == 0 || strcmp(role, "admin") == 0);
    }
    json_decref(me);
    json_decref(head);
    return CC_OK;
}

/* ---- research access --------------------------------------------------------------------- */

cc_err cc_trials_research_check(cc_state_reader get, void *ctx, const char *trial, const char *patient,
                                const char *requester, bool *named, bool *enrolled)
{
    json_t *head = NULL, *subject = NULL, *v;
    size_t i;
    *named = *enrolled = false;
    if (!cc_trials_id_valid(trial) || !cc_hex_id_valid(patient, CC_PUBKEY_BYTES)) return CC_OK;
    cc_err rc = get_fmt(get, ctx, &head, "trial/%s%s", trial, "");
    if (rc == CC_ERR_NOT_FOUND) return CC_OK;
    if (rc != CC_OK) return rc;
    json_array_foreach(json_object_get(head, "researchers"), i, v)
    {
        *named = *named || strcmp(json_string_value(v), requester) == 0;
    }
    json_decref(head);
    rc = get_fmt(get, ctx, &subject, "trialsubj/%s/%s", trial, patient);
    if (rc == CC_ERR_NOT_FOUND) return CC_OK;
    if (rc != CC_OK) return rc;
    *enrolled = str(subject, "status") && strcmp(str(subject, "status"), "enrolled") == 0;
    json_decref(subject);
    return CC_OK;
}
