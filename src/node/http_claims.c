/*
 * node/http_claims.c — the claims endpoints (docs/PLANS.md, docs/API.md
 * "Claims"):
 *
 *   GET  /v1/plans/{id}[?version=n]          a benefit plan (public: no health data)
 *   GET  /v1/claims/{id}                      a claim, its status history and ClaimResponse
 *   GET  /v1/patients/{id}/claims             a patient's claims
 *   POST /v1/claims/simulate                  adjudicate without committing (what-if)
 *   GET  /fhir/ExplanationOfBenefit?patient=  the patient's EOBs (R4 searchset Bundle)
 *
 * All but the plan are signed reads in the frame of http_records.c: every
 * authenticated request, granted or denied, is an audit.access event about
 * the claim's patient, committed before the answer.
 *
 * Who may read a claim: the patient and their delegates, the provider
 * organisation's clinicians and admins, and the insurer's (the plan's
 * organisation's) payers and admins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/claims.h"
#include "apps/records.h"
#include "node/http.h"

#define STATE_KEY_MAX 200
#define PURPOSE       "HPAYMT" /* claims are read for payment */
#define CLAIMS_MAX    1000     /* claims in one list or bundle, newest first */

static json_t *view_json(cc_chain_view *v, const char *fmt, const char *arg)
{
    char key[STATE_KEY_MAX];
    json_t *out = NULL;
    snprintf(key, sizeof key, fmt, arg);
    if (cc_chain_view_get_json(v, key, &out) != CC_OK) return NULL;
    return out;
}

/* A claim record as the API serves it (its ClaimResponse rendered), or NULL. */
static json_t *claim_view(cc_chain_view *v, const char *id)
{
    json_t *rec = view_json(v, "claim/%s", id), *out = NULL;
    if (rec && cc_claims_record_view(cc_chain_view_get_json, v, rec, &out) != CC_OK) out = NULL;
    json_decref(rec);
    return out;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* May the requester read this claim record? *how says why (granted) or why
 * not. */
static cc_err claim_access(cc_signed_read *sr, const json_t *claim, bool *ok, const char **how)
{
    const char *patient = jstr(claim, "patient");
    bool self = false;
    cc_err rc = cc_access_is_patient_or_delegate(cc_chain_view_get_json, sr->view, patient ? patient : "",
                                                 sr->who.requester, &self);
    if (rc != CC_OK) return rc;
    if (self) {
        *ok = true;
        *how = strcmp(sr->who.requester_hex, patient) == 0 ? "the patient" : "a delegate of the patient";
        return CC_OK;
    }
    json_t *me = view_json(sr->view, "id/%s", sr->who.requester_hex);
    const char *org = jstr(me, "org"), *role = jstr(me, "role");
    json_t *plan = view_json(sr->view, "plan/%s", jstr(claim, "plan") ? jstr(claim, "plan") : "");
    const char *insurer = jstr(plan, "org");
    *ok = false;
    *how = "only the patient, a delegate, the provider organisation and the insurer may read a claim";
    if (org && role && jstr(claim, "provider") && strcmp(org, jstr(claim, "provider")) == 0 &&
        (strcmp(role, "clinician") == 0 || strcmp(role, "admin") == 0)) {
        *ok = true;
        *how = "the provider organisation";
    } else if (org && role && insurer && strcmp(org, insurer) == 0 &&
               (strcmp(role, "payer") == 0 || strcmp(role, "admin") == 0)) {
        *ok = true;
        *how = "the insurer";
    }
    json_decref(me);
    json_decref(plan);
    return CC_OK;
}

/* ---- GET /v1/plans/{id} --------------------------------------------------------- */

enum MHD_Result cc_http_get_plan(cc_http_req *req)
{
    char key[STATE_KEY_MAX], *val = NULL;
    size_t len = 0;
    const char *version = cc_http_query(req, "version");
    uint64_t asked = 0; /* 0: the latest */
    if (version && !cc_http_parse_u64(version, 1, INT64_MAX, &asked))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "version must be a positive integer");
    snprintf(key, sizeof key, "plan/%s", req->arg);
    if (cc_chain_state_get(req->node->chain, key, &val, &len) != CC_OK)
        return cc_http_send_error(req, CC_ERR_NOT_FOUND, NULL, "no plan \"%s\"", req->arg);
    json_t *head = json_loadb(val, len, 0, NULL);
    free(val);
    json_int_t n = asked ? (json_int_t)asked : json_integer_value(json_object_get(head, "latest"));
    snprintf(key, sizeof key, "plan/%s/%lld", req->arg, (long long)n);
    if (cc_chain_state_get(req->node->chain, key, &val, &len) != CC_OK) {
        json_decref(head);
        return cc_http_send_error(req, CC_ERR_NOT_FOUND, NULL, "plan \"%s\" has no version %lld", req->arg,
                                  (long long)n);
    }
    json_t *doc = json_loadb(val, len, 0, NULL);
    free(val);
    if (!head || !doc) {
        json_decref(head);
        json_decref(doc);
        return cc_http_send_error(req, CC_ERR_CORRUPT, NULL, "a stored plan does not parse");
    }
    json_object_set_new(head, "version", json_integer(n));
    json_object_set(head, "plan", json_object_get(doc, "plan"));
    json_object_set(head, "txid", json_object_get(doc, "txid"));
    json_decref(doc);
    return cc_http_send_json(req, MHD_HTTP_OK, head);
}

/* ---- GET /v1/claims/{id} ------------------------------------------------------------ */

enum MHD_Result cc_http_get_claim(cc_http_req *req)
{
    cc_signed_read sr;
    enum MHD_Result answered;
    bool ok = false;
    const char *how = NULL;

    if (!cc_signed_read_begin(req, false, &sr, &answered)) return answered;
    json_t *claim = claim_view(sr.view, req->arg);
    if (!claim) return cc_signed_read_fail(&sr, CC_ERR_NOT_FOUND, "no claim %.64s", req->arg);
    cc_err rc = claim_access(&sr, claim, &ok, &how);
    if (rc != CC_OK) {
        json_decref(claim);
        return cc_signed_read_fail(&sr, rc, "cannot decide: %s", cc_strerror(rc));
    }
    char patient[CC_HASH_HEX];
    snprintf(patient, sizeof patient, "%.64s", jstr(claim, "patient") ? jstr(claim, "patient") : "");
    cc_reqauth_event ev = {
        .patient = patient, .endpoint = sr.endpoint, .purpose = PURPOSE, .granted = ok, .reason = how};
    if (!ok) {
        json_decref(claim);
        return cc_signed_read_answer(&sr, &ev, CC_ERR_FORBIDDEN, NULL, NULL);
    }
    return cc_signed_read_answer(&sr, &ev, CC_OK, NULL, claim);
}

/* ---- GET /v1/patients/{id}/claims ------------------------------------------------------ */

/* One line of a claim list. */
static json_t *claim_summary(const json_t *c)
{
    json_t *s = json_object();
    static const char *const fields[] = {"id",           "use",     "status",      "provider",
                                         "coverage",     "plan",    "planVersion", "benefitCents",
                                         "patientCents", "payment", NULL};
    for (size_t i = 0; s && fields[i]; i++)
        if (json_object_get(c, fields[i])) json_object_set(s, fields[i], json_object_get(c, fields[i]));
    if (s) json_object_set(s, "outcome", json_object_get(json_object_get(c, "response"), "outcome"));
    return s;
}

/* Append the claims of list (ids, oldest first) the requester may read to
 * out, newest first; *total counts them. */
static cc_err collect(cc_signed_read *sr, const json_t *ids, json_t *out, size_t *total)
{
    for (size_t i = json_array_size(ids); i-- > 0;) {
        const char *id = json_string_value(json_array_get(ids, i));
        json_t *c = claim_view(sr->view, id ? id : "");
        bool ok = false;
        const char *how;
        cc_err rc = c ? claim_access(sr, c, &ok, &how) : CC_OK;
        if (rc != CC_OK) {
            json_decref(c);
            return rc;
        }
        if (ok && json_array_size(out) < CLAIMS_MAX) json_array_append_new(out, claim_summary(c));
        *total += ok;
        json_decref(c);
    }
    return CC_OK;
}

enum MHD_Result cc_http_get_patient_claims(cc_http_req *req)
{
    cc_signed_read sr;
    enum MHD_Result answered;
    cc_errbuf eb = {{0}};
    size_t total = 0;
    cc_err rc;

    if (!cc_signed_read_begin(req, false, &sr, &answered)) return answered;
    if ((rc = cc_signed_read_patient(&sr, req->arg, &eb)) != CC_OK)
        return cc_signed_read_fail(&sr, rc, "%s", eb.msg);
    /* the index holds every claim, preauthorizations too (ppreauth/<patient>
     * lists those again, for adjudication) */
    json_t *claims = json_array(), *ids = NULL;
    rc = cc_claims_patient_claims(cc_chain_view_get_json, sr.view, req->arg, &ids);
    if (rc == CC_OK) rc = claims ? collect(&sr, ids, claims, &total) : CC_ERR_NOMEM;
    json_decref(ids);
    if (rc != CC_OK) {
        json_decref(claims);
        return cc_signed_read_fail(&sr, rc, "cannot read the claims");
    }
    bool self = false;
    if (cc_access_is_patient_or_delegate(cc_chain_view_get_json, sr.view, req->arg, sr.who.requester,
                                         &self) != CC_OK)
        self = false;
    bool ok = self || total > 0;
    char reason[96];
    snprintf(reason, sizeof reason, "listed %zu claim(s)", total);
    cc_reqauth_event ev = {.patient = req->arg,
                           .endpoint = sr.endpoint,
                           .purpose = PURPOSE,
                           .granted = ok,
                           .reason = ok ? reason : "the requester may read none of the patient's claims"};
    if (!ok) {
        json_decref(claims);
        return cc_signed_read_answer(&sr, &ev, CC_ERR_FORBIDDEN, NULL, NULL);
    }
    return cc_signed_read_answer(
        &sr, &ev, CC_OK, NULL,
        json_pack("{s:s, s:o, s:I}", "patient", req->arg, "claims", claims, "total", (json_int_t)total));
}

/* ---- POST /v1/claims/simulate ----------------------------------------------------------- */

enum MHD_Result cc_http_post_claim_simulate(cc_http_req *req)
{
    cc_signed_read sr;
    enum MHD_Result answered;
    cc_errbuf eb = {{0}};

    if (!cc_signed_read_begin(req, false, &sr, &answered)) return answered;
    json_error_t jerr;
    json_t *payload = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    const char *pref = jstr(json_object_get(json_object_get(payload, "claim"), "patient"), "reference");
    if (!payload || !pref || strncmp(pref, "Patient/", 8) != 0) {
        json_decref(payload);
        return cc_signed_read_fail(
            &sr, CC_ERR_USAGE,
            "the body must be a claim.submit payload {\"claim\": {...}} whose patient is "
            "a reference Patient/<id>");
    }
    char patient[CC_HASH_HEX];
    snprintf(patient, sizeof patient, "%.64s", pref + 8);
    cc_err rc = cc_signed_read_patient(&sr, patient, &eb);
    if (rc != CC_OK) {
        json_decref(payload);
        return cc_signed_read_fail(&sr, rc, "%s", eb.msg);
    }
    /* a provider checks what a claim would pay, as its own organisation */
    json_t *me = view_json(sr.view, "id/%s", sr.who.requester_hex);
    const char *role = jstr(me, "role");
    char org[64];
    snprintf(org, sizeof org, "%s", jstr(me, "org") ? jstr(me, "org") : "");
    bool ok = role && (strcmp(role, "clinician") == 0 || strcmp(role, "admin") == 0);
    json_decref(me);
    cc_reqauth_event ev = {.patient = patient,
                           .endpoint = sr.endpoint,
                           .purpose = PURPOSE,
                           .granted = ok,
                           .reason = ok ? "a provider's what-if adjudication"
                                        : "only a provider's clinicians and admins may simulate a claim"};
    if (!ok) {
        json_decref(payload);
        return cc_signed_read_answer(&sr, &ev, CC_ERR_FORBIDDEN, NULL, NULL);
    }
    json_t *response = NULL;
    rc = cc_claim_simulate(cc_chain_view_get_json, sr.view, payload, org, sr.now_ms, &response, &eb);
    json_decref(payload);
    if (rc != CC_OK) {
        char why[300];
        snprintf(why, sizeof why, "%s", eb.msg[0] ? eb.msg : cc_strerror(rc));
        ev.reason = why;
        return cc_signed_read_answer(&sr, &ev, rc, why, NULL);
    }
    return cc_signed_read_answer(&sr, &ev, CC_OK, NULL, json_pack("{s:o}", "response", response));
}

/* ---- GET /fhir/ExplanationOfBenefit?patient= ---------------------------------------------- */

enum MHD_Result cc_http_get_fhir_eob(cc_http_req *req)
{
    cc_signed_read sr;
    enum MHD_Result answered;
    cc_errbuf eb = {{0}};
    bool ok = false;
    cc_err rc;

    if (!cc_signed_read_begin(req, true, &sr, &answered)) return answered;
    sr.fhir_dump = cc_claims_fhir_dump;
    const char *patient = cc_http_query(req, "patient");
    if (!patient) return cc_signed_read_fail(&sr, CC_ERR_USAGE, "the search needs patient=<id>");
    if ((rc = cc_signed_read_patient(&sr, patient, &eb)) != CC_OK)
        return cc_signed_read_fail(&sr, rc, "%s", eb.msg);
    if ((rc = cc_access_is_patient_or_delegate(cc_chain_view_get_json, sr.view, patient, sr.who.requester,
                                               &ok)) != CC_OK)
        return cc_signed_read_fail(&sr, rc, "cannot decide: %s", cc_strerror(rc));
    cc_reqauth_event ev = {.patient = patient, .endpoint = sr.endpoint, .purpose = PURPOSE, .granted = ok};
    if (!ok) {
        ev.reason = "only the patient or a delegate of theirs may read the patient's explanations of benefit";
        return cc_signed_read_answer(&sr, &ev, CC_ERR_FORBIDDEN, NULL, NULL);
    }
    ev.reason = strcmp(sr.who.requester_hex, patient) == 0 ? "the patient" : "a delegate of the patient";
    json_t *entries = json_array(), *ids = NULL;
    if ((rc = cc_claims_patient_claims(cc_chain_view_get_json, sr.view, patient, &ids)) != CC_OK) {
        json_decref(entries);
        return cc_signed_read_fail(&sr, rc, "cannot read the claims");
    }
    for (size_t i = json_array_size(ids); entries && i-- > 0 && json_array_size(entries) < CLAIMS_MAX;) {
        const char *id = json_string_value(json_array_get(ids, i));
        json_t *c = claim_view(sr.view, id ? id : "");
        json_t *eob = c ? cc_claims_eob(c) : NULL;
        if (eob) {
            char url[160];
            snprintf(url, sizeof url, "ExplanationOfBenefit/%s", id);
            json_array_append_new(entries, json_pack("{s:s, s:o}", "fullUrl", url, "resource", eob));
        }
        json_decref(c);
    }
    json_decref(ids);
    json_t *bundle = json_pack("{s:s, s:s, s:I, s:o}", "resourceType", "Bundle", "type", "searchset", "total",
                               (json_int_t)json_array_size(entries), "entry", entries);
    return cc_signed_read_answer(&sr, &ev, CC_OK, NULL, bundle);
}
