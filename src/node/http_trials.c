/*
 * node/http_trials.c — the trial registry's endpoints (docs/TRIALS.md,
 * docs/API.md "Trials"):
 *
 *   GET /v1/trials/{id}                   the trial, every version, results (public registry)
 *   GET /v1/trials/{id}/integrity         the results integrity report (public)
 *   GET /v1/trials/{id}/stats             counts with cells under 5 suppressed (public)
 *   GET /fhir/ResearchStudy/{id}[?version=n]   FHIR R4 ResearchStudy (public)
 *   GET /fhir/ResearchSubject?study={id}  signed: the sponsor organisation's sponsors and
 *                                         admins, and the trial's researchers
 *
 * The registry is public by design: what a sponsor registered and when is
 * the point. Subjects are pseudonymous (a subject id, never the patient
 * id); their records are read through the signed, audited record
 * endpoints with purpose HRESCH (http_records.c, apps/access.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apps/trials.h"
#include "node/http.h"

#define FHIR_BASE_MAX 192

typedef cc_err (*trial_view_fn)(cc_state_reader get, void *ctx, const char *trial, json_t **out);

/* Open a view, compute fn's answer for the trial in the path, answer it. */
static enum MHD_Result serve(cc_http_req *req, trial_view_fn fn)
{
    cc_chain_view *v = NULL;
    json_t *out = NULL;
    cc_err rc = cc_chain_view_open(req->node->chain, &v);
    if (rc != CC_OK) return cc_http_send_error(req, rc, NULL, "cannot read the chain");
    rc = fn(cc_chain_view_get_json, v, req->arg, &out);
    cc_chain_view_close(v);
    if (rc == CC_ERR_NOT_FOUND)
        return cc_http_send_error(req, rc, NULL, "no trial \"%.64s\" is registered", req->arg);
    if (rc != CC_OK) return cc_http_send_error(req, rc, NULL, "cannot read trial \"%.64s\"", req->arg);
    return cc_http_send_json(req, MHD_HTTP_OK, out);
}

enum MHD_Result cc_http_get_trial(cc_http_req *req)
{
    return serve(req, cc_trials_view);
}

enum MHD_Result cc_http_get_trial_integrity(cc_http_req *req)
{
    return serve(req, cc_trials_integrity);
}

enum MHD_Result cc_http_get_trial_stats(cc_http_req *req)
{
    return serve(req, cc_trials_stats);
}

static enum MHD_Result send_fhir(cc_http_req *req, json_t *resource)
{
    char *text = resource ? json_dumps(resource, JSON_COMPACT) : NULL;
    json_decref(resource);
    if (!text) return cc_http_send_fhir_error(req, CC_ERR_NOMEM, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
    return cc_http_send(req, MHD_HTTP_OK, "application/fhir+json", text, strlen(text));
}

/* ---- GET /fhir/ResearchStudy/{id}[?version=n] ----------------------------------------- */

enum MHD_Result cc_http_get_fhir_research_study(cc_http_req *req)
{
    const char *version = cc_http_query(req, "version");
    long long n = 0;
    char message[160];
    if (version) {
        uint64_t v;
        if (!cc_http_parse_u64(version, 1, INT64_MAX, &v))
            return cc_http_send_fhir_error(req, CC_ERR_USAGE, MHD_HTTP_BAD_REQUEST,
                                           "version must be a positive integer");
        n = (long long)v;
    }
    cc_chain_view *v = NULL;
    json_t *study = NULL;
    cc_err rc = cc_chain_view_open(req->node->chain, &v);
    if (rc == CC_OK) {
        rc = cc_trials_fhir_study(cc_chain_view_get_json, v, req->arg, n, &study);
        cc_chain_view_close(v);
    }
    if (rc == CC_ERR_NOT_FOUND) {
        snprintf(message, sizeof message,
                 n ? "trial \"%.64s\" has no version %lld" : "no trial \"%.64s\" is registered", req->arg, n);
        return cc_http_send_fhir_error(req, rc, MHD_HTTP_NOT_FOUND, message);
    }
    if (rc != CC_OK) return cc_http_send_fhir_error(req, rc, cc_http_status_of(rc), "cannot read the trial");
    return send_fhir(req, study);
}

/* ---- GET /fhir/ResearchSubject?study={id} (signed) ------------------------------------- */

enum MHD_Result cc_http_get_fhir_research_subjects(cc_http_req *req)
{
    cc_signed_read sr;
    enum MHD_Result answered;
    char base[FHIR_BASE_MAX], url[FHIR_BASE_MAX + 64], now[32];
    json_t *subjects = NULL, *entries, *v;
    bool ok = false;
    size_t i;

    if (!cc_signed_read_begin(req, true, &sr, &answered)) return answered;
    const char *study = cc_http_query(req, "study");
    if (!study || !cc_trials_id_valid(study))
        return cc_signed_read_fail(&sr, CC_ERR_USAGE, "the search needs study=<trial id>");
    cc_err rc = cc_trials_may_see_subjects(cc_chain_view_get_json, sr.view, study, sr.who.requester_hex, &ok);
    if (rc == CC_ERR_NOT_FOUND) return cc_signed_read_fail(&sr, rc, "no trial \"%s\" is registered", study);
    if (rc != CC_OK) return cc_signed_read_fail(&sr, rc, "cannot decide: %s", cc_strerror(rc));
    if (!ok)
        return cc_signed_read_fail(
            &sr, CC_ERR_FORBIDDEN,
            "only the trial's sponsor organisation (sponsors, admins) and the researchers it "
            "names may list its subjects");
    rc = cc_trials_fhir_subjects(cc_chain_view_get_json, sr.view, study, &subjects);
    if (rc == CC_ERR_NOT_FOUND) {
        subjects = json_array();
        rc = subjects ? CC_OK : CC_ERR_NOMEM;
    }
    if (rc != CC_OK) return cc_signed_read_fail(&sr, rc, "cannot read the subjects");
    cc_chain_view_close(sr.view);
    sr.view = NULL;

    const char *host = cc_http_header(req, MHD_HTTP_HEADER_HOST);
    snprintf(base, sizeof base, "%s://%s/fhir", cc_http_scheme(req->node),
             host && *host && !strpbrk(host, "/\"\\ ") ? host : req->node->api);
    entries = json_array();
    json_array_foreach(subjects, i, v)
    {
        snprintf(url, sizeof url, "%s/ResearchSubject/%s", base, json_string_value(json_object_get(v, "id")));
        json_array_append_new(entries, json_pack("{s:s, s:O, s:{s:s}}", "fullUrl", url, "resource", v,
                                                 "search", "mode", "match"));
    }
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *bundle =
        json_pack("{s:s, s:s, s:s, s:I, s:o}", "resourceType", "Bundle", "type", "searchset", "timestamp",
                  now, "total", (json_int_t)json_array_size(subjects), "entry", entries);
    json_decref(subjects);
    return send_fhir(req, bundle);
}
