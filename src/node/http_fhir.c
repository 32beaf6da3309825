/*
 * node/http_fhir.c — the signed, audited FHIR R4 views of consents and audit
 * events (docs/RECORDS.md "Endpoints"): searchset Bundles and single
 * resources rendered by apps/fhir.c, errors as OperationOutcome, the audit
 * txid in the X-Audit-Txid header. The frame (authentication, audit before
 * the answer) is http_records.c's.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "apps/records.h"
#include "node/http.h"
#include "node/strbuf.h"

#define FHIR_SEARCH_MAX 1000 /* entries in one Bundle; "total" counts them all */
#define FHIR_BASE_MAX   192

/* OperationOutcome.issue.code for an answer status. */
static const char *issue_code(unsigned status)
{
    switch (status) {
    case MHD_HTTP_BAD_REQUEST:
        return "invalid";
    case MHD_HTTP_UNAUTHORIZED:
        return "login";
    case MHD_HTTP_FORBIDDEN:
        return "forbidden";
    case MHD_HTTP_NOT_FOUND:
        return "not-found";
    case MHD_HTTP_METHOD_NOT_ALLOWED:
        return "not-supported";
    case MHD_HTTP_GONE:
        return "deleted";
    case MHD_HTTP_CONFLICT:
        return "conflict";
    case MHD_HTTP_TOO_MANY_REQUESTS:
        return "throttled";
    case MHD_HTTP_SERVICE_UNAVAILABLE:
        return "transient";
    case MHD_HTTP_GATEWAY_TIMEOUT:
        return "timeout";
    default:
        return "exception";
    }
}

enum MHD_Result cc_http_send_fhir_error(cc_http_req *req, cc_err e, unsigned status, const char *message)
{
    /* written out, not packed: the message may quote what the client sent,
     * and bytes that are not UTF-8 must become '?', not a failed answer */
    cc_strbuf sb = {0};
    size_t len = 0;
    cc_strbuf_puts(&sb,
                   "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":");
    cc_strbuf_json_str(&sb, issue_code(status));
    cc_strbuf_puts(&sb, ",\"details\":{\"coding\":[{\"system\":\"urn:carechain:error\",\"code\":");
    cc_strbuf_json_str(&sb, cc_err_name(e));
    cc_strbuf_puts(&sb, "}]},\"diagnostics\":");
    cc_strbuf_json_str(&sb, message && *message ? message : cc_strerror(e));
    cc_strbuf_puts(&sb, "}]}");
    char *text = cc_strbuf_take(&sb, &len);
    return cc_http_send(req, status, "application/fhir+json", text, len);
}

/* The base URL of this server's FHIR endpoints as the client named it, or
 * as the node listens when the Host header is missing, too long, or not a
 * plain name (it goes into every fullUrl, which must be valid JSON text). */
static void fhir_base(cc_http_req *req, char out[FHIR_BASE_MAX])
{
    static const char shape[] = "https://%s/fhir";
    const char *host = cc_http_header(req, MHD_HTTP_HEADER_HOST);
    bool usable = host && *host && strlen(host) < FHIR_BASE_MAX - sizeof shape && cc_utf8_text(host) &&
                  !strpbrk(host, "/\"\\ ");
    snprintf(out, FHIR_BASE_MAX, "%s://%s/fhir", cc_http_scheme(req->node), usable ? host : req->node->api);
}

/* A searchset Bundle of entries (each {fullUrl, resource, search}). */
static json_t *searchset(json_t *entries, size_t total)
{
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_pack("{s:s, s:s, s:s, s:I, s:o}", "resourceType", "Bundle", "type", "searchset", "timestamp",
                     now, "total", (json_int_t)total, "entry", entries);
}

static json_t *entry(const char *base, const char *type, json_t *resource)
{
    char url[FHIR_BASE_MAX + 128];
    snprintf(url, sizeof url, "%s/%s/%s", base, type, json_string_value(json_object_get(resource, "id")));
    return json_pack("{s:s, s:o, s:{s:s}}", "fullUrl", url, "resource", resource, "search", "mode", "match");
}

/* The patient search parameter: required, a patient's id. */
static bool patient_param(cc_signed_read *sr, const char **patient, enum MHD_Result *answered)
{
    cc_errbuf eb = {{0}};
    *patient = cc_http_query(sr->req, "patient");
    if (!*patient) {
        *answered = cc_signed_read_fail(sr, CC_ERR_USAGE, "the search needs patient=<id>");
        return false;
    }
    cc_err rc = cc_signed_read_patient(sr, *patient, &eb);
    if (rc == CC_OK) return true;
    *answered = cc_signed_read_fail(sr, rc, "%s", eb.msg);
    return false;
}

/* Is the requester the patient or one of their delegates? */
static bool acts_for(cc_signed_read *sr, const char *patient, cc_err *rc)
{
    bool ok = false;
    *rc = cc_access_is_patient_or_delegate(cc_chain_view_get_json, sr->view, patient, sr->who.requester, &ok);
    return ok;
}

static const char *acts_for_reason(cc_signed_read *sr, const char *patient)
{
    return strcmp(sr->who.requester_hex, patient) == 0 ? "the patient" : "a delegate of the patient";
}

/* ---- GET /fhir/Consent?patient=ID ------------------------------------------------------- */

enum MHD_Result cc_http_get_fhir_consents(cc_http_req *req)
{
    cc_signed_read sr;
    enum MHD_Result answered;
    const char *patient;
    char key[16 + CC_HASH_HEX], base[FHIR_BASE_MAX];
    json_t *ids = NULL, *entries, *v;
    size_t i;
    cc_err rc;

    if (!cc_signed_read_begin(req, true, &sr, &answered)) return answered;
    if (!patient_param(&sr, &patient, &answered)) return answered;
    bool ok = acts_for(&sr, patient, &rc);
    if (rc != CC_OK) return cc_signed_read_fail(&sr, rc, "cannot decide: %s", cc_strerror(rc));
    cc_reqauth_event ev = {.patient = patient, .endpoint = sr.endpoint, .granted = ok};
    if (!ok) {
        ev.reason = "only the patient or a delegate of theirs may search the patient's consents";
        return cc_signed_read_answer(&sr, &ev, CC_ERR_FORBIDDEN, NULL, NULL);
    }
    ev.reason = acts_for_reason(&sr, patient);

    snprintf(key, sizeof key, "pconsents/%s", patient);
    rc = cc_chain_view_get_json(sr.view, key, &ids);
    if (rc != CC_OK && rc != CC_ERR_NOT_FOUND)
        return cc_signed_read_fail(&sr, rc, "cannot read the consents");
    if (!(entries = json_array())) {
        json_decref(ids);
        return cc_signed_read_fail(&sr, CC_ERR_NOMEM, "out of memory");
    }
    fhir_base(req, base);
    json_array_foreach(ids, i, v)
    {
        json_t *c = NULL;
        if (i >= FHIR_SEARCH_MAX) break;
        snprintf(key, sizeof key, "consent/%.64s", json_string_value(v) ? json_string_value(v) : "");
        if (cc_chain_view_get_json(sr.view, key, &c) != CC_OK) continue;
        json_t *r = cc_fhir_consent(c, sr.now_ms);
        json_decref(c);
        if (r) json_array_append_new(entries, entry(base, "Consent", r));
    }
    size_t total = json_array_size(ids);
    json_decref(ids);
    return cc_signed_read_answer(&sr, &ev, CC_OK, NULL, searchset(entries, total));
}

/* ---- GET /fhir/Consent/{id} -------------------------------------------------------------- */

/* Is the requester the consent's grantee (the identity, or a member of the
 * organisation who is not a patient)? */
static bool is_grantee(const cc_signed_read *sr, const json_t *consent)
{
    const json_t *g = json_object_get(consent, "grantee");
    const char *id = json_string_value(json_object_get(g, "identity"));
    const char *org = json_string_value(json_object_get(g, "org"));
    if (id) return strcmp(id, sr->who.requester_hex) == 0;
    return org && sr->who.org[0] && strcmp(org, sr->who.org) == 0 && sr->who.role != CC_ROLE_PATIENT;
}

enum MHD_Result cc_http_get_fhir_consent(cc_http_req *req)
{
    cc_signed_read sr;
    enum MHD_Result answered;
    char key[16 + CC_HASH_HEX];
    json_t *c = NULL;
    cc_err rc;

    if (!cc_signed_read_begin(req, true, &sr, &answered)) return answered;
    size_t n = strlen(req->arg);
    if (n != 2 * CC_HASH_BYTES || strspn(req->arg, "0123456789abcdef") != n)
        return cc_signed_read_fail(&sr, CC_ERR_USAGE, "a consent id is its txid: 64 lowercase hex digits");
    snprintf(key, sizeof key, "consent/%s", req->arg);
    rc = cc_chain_view_get_json(sr.view, key, &c);
    if (rc == CC_ERR_NOT_FOUND) return cc_signed_read_fail(&sr, rc, "no such consent");
    if (rc != CC_OK) return cc_signed_read_fail(&sr, rc, "cannot read the consent: %s", cc_strerror(rc));
    const char *patient = json_string_value(json_object_get(c, "patient"));
    if (!patient) {
        json_decref(c);
        return cc_signed_read_fail(&sr, CC_ERR_CORRUPT, "the consent names no patient");
    }

    cc_reqauth_event ev = {.patient = patient, .endpoint = sr.endpoint};
    bool ok = acts_for(&sr, patient, &rc);
    if (rc != CC_OK) {
        json_decref(c);
        return cc_signed_read_fail(&sr, rc, "cannot decide: %s", cc_strerror(rc));
    }
    if (ok)
        ev.reason = acts_for_reason(&sr, patient);
    else if ((ok = is_grantee(&sr, c)))
        ev.reason = "the consent's grantee";
    else
        ev.reason = "only the patient, a delegate of theirs or the grantee may read a consent";
    ev.granted = ok;
    json_t *body = ok ? cc_fhir_consent(c, sr.now_ms) : NULL;
    answered = cc_signed_read_answer(&sr, &ev, ok ? CC_OK : CC_ERR_FORBIDDEN, NULL, body);
    json_decref(c);
    return answered;
}

/* ---- GET /fhir/AuditEvent?patient=ID ------------------------------------------------------- */

enum MHD_Result cc_http_get_fhir_audit_events(cc_http_req *req)
{
    cc_signed_read sr;
    enum MHD_Result answered;
    const char *patient;
    char key[32 + CC_HASH_HEX], base[FHIR_BASE_MAX];
    json_t *count = NULL, *entries;
    cc_err rc;

    if (!cc_signed_read_begin(req, true, &sr, &answered)) return answered;
    if (!patient_param(&sr, &patient, &answered)) return answered;
    bool ok = acts_for(&sr, patient, &rc);
    if (rc != CC_OK) return cc_signed_read_fail(&sr, rc, "cannot decide: %s", cc_strerror(rc));
    cc_reqauth_event ev = {.patient = patient, .endpoint = sr.endpoint};
    if (ok)
        ev.reason = acts_for_reason(&sr, patient);
    else if ((ok = sr.who.role == CC_ROLE_AUDITOR || sr.who.role == CC_ROLE_REGULATOR))
        ev.reason = sr.who.role == CC_ROLE_AUDITOR ? "an auditor" : "a regulator";
    else
        ev.reason =
            "only the patient, a delegate of theirs, auditors and regulators may read the audit trail";
    ev.granted = ok;
    if (!ok) return cc_signed_read_answer(&sr, &ev, CC_ERR_FORBIDDEN, NULL, NULL);

    snprintf(key, sizeof key, "auditn/%s", patient);
    rc = cc_chain_view_get_json(sr.view, key, &count);
    if (rc != CC_OK && rc != CC_ERR_NOT_FOUND)
        return cc_signed_read_fail(&sr, rc, "cannot read the audit trail");
    json_int_t n = json_integer_value(count);
    json_decref(count);
    if (!(entries = json_array())) return cc_signed_read_fail(&sr, CC_ERR_NOMEM, "out of memory");
    fhir_base(req, base);
    for (json_int_t seq = n; seq >= 1 && n - seq < FHIR_SEARCH_MAX; seq--) { /* newest first */
        json_t *e = NULL;
        snprintf(key, sizeof key, "audit/%s/%016lld", patient, (long long)seq);
        if (cc_chain_view_get_json(sr.view, key, &e) != CC_OK) continue;
        json_t *r = cc_fhir_audit_event(e);
        json_decref(e);
        if (r) json_array_append_new(entries, entry(base, "AuditEvent", r));
    }
    return cc_signed_read_answer(&sr, &ev, CC_OK, NULL, searchset(entries, (size_t)(n > 0 ? n : 0)));
}
