/*
 * node/http_records.c — the signed, audited read endpoints of health records
 * (docs/RECORDS.md "Endpoints") and the frame every signed read shares with
 * http_fhir.c:
 *
 *   open a view -> authenticate (401, not audited) -> check the query
 *   against the route's (400; the router leaves it to the frame)
 *   -> find the object (404 for an unknown record or patient, not audited)
 *   -> decide with cc_access_decide & co. against the view -> build the
 *   whole answer -> close the view -> commit the audit.access event (503
 *   and no data when it cannot) -> answer, naming the audit txid.
 *
 * Everything the answer holds is read before the audit event is written,
 * so what was served is what was audited; the view is closed before the
 * wait for the commit, so no LMDB read transaction is held across it.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/records.h"
#include "carechain/os.h"
#include "carechain/records.h"
#include "node/http.h"

#define RECORD_ID_HEX      (2 * CC_RECORD_ID_BYTES)
#define ID_HEX             (2 * CC_PUBKEY_BYTES)
#define STATE_KEY_MAX      160
#define ALERTS_MAX         1000 /* alerts in one answer, newest first */
#define RESOURCE_TYPE_MAX  64
#define CATEGORY_MAX       32
#define WRITE_PURPOSES_MAX 4

/* ---- the signed-read frame --------------------------------------------------------- */

static enum MHD_Result send_problem(cc_signed_read *sr, unsigned status, cc_err e, const char *message,
                                    const char *audit)
{
    if (sr->fhir) return cc_http_send_fhir_error(sr->req, e, status, message);
    return cc_http_send_error_audited(sr->req, status, e, message, audit);
}

static void frame_close(cc_signed_read *sr)
{
    cc_chain_view_close(sr->view);
    sr->view = NULL;
}

/* The audited endpoint: the method as sent and the route's pattern, its
 * '*' written {id} ("GET /v1/patients/{id}/records"). */
static void endpoint_name(const cc_http_req *req, char *out, size_t cap)
{
    size_t len = (size_t)snprintf(out, cap, "%s ", req->method);
    for (const char *p = req->route->pattern; *p && len < cap; p++) {
        if (*p == '*')
            len += (size_t)snprintf(out + len, cap - len, "{id}");
        else
            len += (size_t)snprintf(out + len, cap - len, "%c", *p);
    }
}

bool cc_signed_read_begin(cc_http_req *req, bool fhir, cc_signed_read *sr, enum MHD_Result *answered)
{
    cc_errbuf eb = {{0}};
    assert(req->route->query && req->route->query->signed_read);
    memset(sr, 0, sizeof *sr);
    sr->req = req;
    sr->fhir = fhir;
    endpoint_name(req, sr->endpoint, sizeof sr->endpoint);

    cc_err rc = cc_chain_view_open(req->node->chain, &sr->view);
    if (rc != CC_OK) {
        *answered = send_problem(sr, cc_http_status_of(rc), rc, "cannot read the chain", NULL);
        return false;
    }
    /* Consents are judged at the later of the head block's time and this
     * node's clock: with no block for an hour, a consent that ended half an
     * hour ago has still ended. (The ledger's own checks use block time.) */
    uint64_t clock_ms = cc_clocks_now_ms(&req->node->clocks);
    sr->now_ms = cc_chain_view_time(sr->view);
    if (clock_ms > sr->now_ms) sr->now_ms = clock_ms;
    rc = cc_reqauth_check(req, sr->view, &sr->who, &eb);
    if (rc != CC_OK) {
        *answered = cc_signed_read_fail(sr, rc, "%s", eb.msg);
        return false;
    }
    char why[256];
    if (!cc_http_query_check(req, req->route->query->names, why, sizeof why)) {
        *answered = cc_signed_read_fail(sr, CC_ERR_USAGE, "%s", why);
        return false;
    }
    return true;
}

enum MHD_Result cc_signed_read_fail(cc_signed_read *sr, cc_err e, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    frame_close(sr);
    return send_problem(sr, cc_http_status_of(e), e, message, NULL);
}

enum MHD_Result cc_signed_read_answer(cc_signed_read *sr, const cc_reqauth_event *ev, cc_err e,
                                      const char *message, json_t *body)
{
    uint8_t txid[CC_HASH_BYTES];
    cc_errbuf eb = {{0}};

    frame_close(sr);
    cc_err rc = cc_reqauth_audit(sr->req->node, &sr->who, ev, txid, &eb);
    if (rc != CC_OK) {
        char why[400];
        json_decref(body);
        if (rc == CC_ERR_UNAUTHENTICATED) /* a replay the ledger caught */
            return send_problem(sr, MHD_HTTP_UNAUTHORIZED, rc, eb.msg, NULL);
        snprintf(why, sizeof why, "no audit, no data: %s", eb.msg[0] ? eb.msg : cc_strerror(rc));
        return send_problem(sr, MHD_HTTP_SERVICE_UNAVAILABLE, rc, why, NULL);
    }
    cc_hex(txid, CC_HASH_BYTES, sr->req->audit_txid);
    if (e != CC_OK) {
        json_decref(body);
        return send_problem(sr, cc_http_status_of(e), e, message ? message : ev->reason, sr->req->audit_txid);
    }
    if (sr->fhir) {
        char *text = !body ? NULL : sr->fhir_dump ? sr->fhir_dump(body) : json_dumps(body, JSON_COMPACT);
        json_decref(body);
        return cc_http_send(sr->req, MHD_HTTP_OK, "application/fhir+json", text, text ? strlen(text) : 0);
    }
    if (body) json_object_set_new(body, "audit", json_string(sr->req->audit_txid));
    return cc_http_send_json(sr->req, MHD_HTTP_OK, body);
}

/* Is s exactly n lowercase hex digits? */
static bool lower_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* The JSON state value under the formatted key. */
static cc_err view_get(cc_signed_read *sr, json_t **out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cc_err view_get(cc_signed_read *sr, json_t **out, const char *fmt, ...)
{
    char key[STATE_KEY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof key, fmt, ap);
    va_end(ap);
    *out = NULL;
    return cc_chain_view_get_json(sr->view, key, out);
}

cc_err cc_signed_read_patient(cc_signed_read *sr, const char *hex, cc_errbuf *eb)
{
    json_t *id = NULL;
    if (!lower_hex(hex, ID_HEX)) return cc_errf(eb, CC_ERR_USAGE, "a patient id is 64 lowercase hex digits");
    cc_err rc = view_get(sr, &id, "id/%s", hex);
    if (rc == CC_ERR_NOT_FOUND) return cc_errf(eb, rc, "no such patient");
    if (rc != CC_OK) return cc_errf(eb, rc, "cannot read the patient's identity: %s", cc_strerror(rc));
    const char *role = json_string_value(json_object_get(id, "role"));
    if (!role || strcmp(role, "patient") != 0) rc = cc_errf(eb, CC_ERR_NOT_FOUND, "no such patient");
    json_decref(id);
    return rc;
}

/* ---- shared pieces of the record endpoints ------------------------------------------ */

/* The purpose query parameter: required, one of CC_PURPOSES. */
static bool purpose_param(cc_signed_read *sr, const char **purpose, enum MHD_Result *answered)
{
    *purpose = cc_http_query(sr->req, "purpose");
    if (*purpose && cc_purpose_valid(*purpose)) return true;
    *answered = *purpose
                    ? cc_signed_read_fail(sr, CC_ERR_USAGE, "purpose \"%.16s\" is not one of %s", *purpose,
                                          CC_PURPOSES)
                    : cc_signed_read_fail(sr, CC_ERR_USAGE, "purpose is required (one of %s)", CC_PURPOSES);
    return false;
}

/* The record metadata the answers show (never keys or ciphertext bytes). */
static json_t *record_meta(const json_t *rec)
{
    static const char *const fields[] = {"record", "patient",    "resourceType", "category", "version",
                                         "txid",   "ciphertext", "created",      "updated",  "org",
                                         NULL};
    json_t *m = json_object();
    for (size_t i = 0; m && fields[i]; i++) {
        json_t *v = json_object_get(rec, fields[i]);
        if (v) json_object_set(m, fields[i], v);
    }
    return m;
}

static json_t *access_json(const cc_access_decision *d)
{
    return json_pack("{s:s, s:b, s:s?}", "via", d->via, "emergency", d->emergency, "consent",
                     d->consent[0] ? d->consent : NULL);
}

static bool record_erased(const json_t *rec)
{
    const char *status = json_string_value(json_object_get(rec, "status"));
    return status && strcmp(status, "erased") == 0;
}

/* The entry of rec's "versions" for version n, or NULL. */
static const json_t *version_entry(const json_t *rec, json_int_t n)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(rec, "versions"), i, v)
    {
        if (json_integer_value(json_object_get(v, "version")) == n) return v;
    }
    return NULL;
}

/* The key wrapped for holder in the record.put tx txid_hex (an older
 * version's key); NULL when that version was not wrapped for holder. */
static json_t *wrapped_key_of_tx(cc_chain *chain, const char *txid_hex, const char *holder)
{
    uint8_t txid[CC_HASH_BYTES];
    json_t *tx = NULL, *out = NULL;
    if (!txid_hex || cc_unhex(txid_hex, txid, sizeof txid) != CC_OK) return NULL;
    if (cc_chain_tx_json(chain, txid, &tx) != CC_OK) return NULL;
    json_t *w = json_object_get(json_object_get(json_object_get(tx, "payload"), "keys"), holder);
    if (json_is_string(w)) out = json_incref(w);
    json_decref(tx);
    return out;
}

/* ---- GET /v1/records/{id}?purpose=P[&version=n] -------------------------------------- */

/* Parse ?version: absent -> 0 (the current one). */
static bool version_param(cc_signed_read *sr, json_int_t *version, enum MHD_Result *answered)
{
    const char *s = cc_http_query(sr->req, "version");
    uint64_t v;
    *version = 0;
    if (!s) return true;
    if (cc_http_parse_u64(s, 1, UINT32_MAX, &v)) {
        *version = (json_int_t)v;
        return true;
    }
    *answered = cc_signed_read_fail(sr, CC_ERR_USAGE, "version must be a positive integer");
    return false;
}

/* What a permitted reader of one record version is served. */
typedef struct record_answer {
    json_t *body;
    cc_err err; /* CC_OK, or why nothing is served (audited as denied) */
    char reason[200];
} record_answer;

static void record_serve(cc_signed_read *sr, const json_t *rec, const cc_access_decision *d, json_int_t want,
                         record_answer *out)
{
    cc_chain *chain = sr->req->node->chain;
    json_int_t current = json_integer_value(json_object_get(rec, "version"));
    json_int_t n = want ? want : current;
    const json_t *ver = version_entry(rec, n);
    uint8_t hash[CC_HASH_BYTES], *ct = NULL;
    size_t ct_len = 0;
    json_t *wrapped = NULL, *meta = NULL;

    if (!ver) {
        out->err = CC_ERR_NOT_FOUND;
        snprintf(out->reason, sizeof out->reason, "the record has no version %lld (the current one is %lld)",
                 (long long)n, (long long)current);
        return;
    }
    const char *ct_hex = json_string_value(json_object_get(ver, "ciphertext"));
    cc_err rc =
        ct_hex && strlen(ct_hex) == 2 * CC_HASH_BYTES ? cc_unhex(ct_hex, hash, sizeof hash) : CC_ERR_CORRUPT;
    if (rc == CC_OK) rc = cc_chain_attachment(chain, hash, &ct, &ct_len);
    if (rc != CC_OK) {
        out->err = rc == CC_ERR_NOT_FOUND ? CC_ERR_GONE : rc;
        snprintf(out->reason, sizeof out->reason, "%s",
                 rc == CC_ERR_NOT_FOUND ? "erased" : "the ciphertext cannot be read on this node");
        return;
    }
    if (n == current) {
        wrapped = json_incref(json_object_get(json_object_get(rec, "keys"), d->key_holder));
        if (!wrapped) {
            free(ct);
            out->err = CC_ERR_FORBIDDEN;
            snprintf(out->reason, sizeof out->reason, "no data key of the record is wrapped for %.16s...",
                     d->key_holder);
            return;
        }
    } else {
        wrapped = wrapped_key_of_tx(chain, json_string_value(json_object_get(ver, "txid")), d->key_holder);
    }

    meta = record_meta(rec);
    json_object_set(meta, "version", json_object_get(ver, "version"));
    json_object_set(meta, "txid", json_object_get(ver, "txid"));
    json_object_set(meta, "ciphertext", json_object_get(ver, "ciphertext"));
    if (n != current) {
        json_object_set(meta, "updated", json_object_get(ver, "time"));
        json_object_set_new(meta, "current_version", json_integer(current));
    }
    char *b64 = cc_base64(ct, ct_len);
    free(ct);
    json_t *key = wrapped ? json_pack("{s:s, s:o, s:I}", "holder", d->key_holder, "wrapped", wrapped,
                                      "version", (json_int_t)n)
                          : json_null();
    out->body = json_pack("{s:o, s:s?, s:o, s:o}", "record", meta, "ciphertext", b64, "key", key, "access",
                          access_json(d));
    if (out->body && !wrapped)
        json_object_set_new(
            out->body, "key_note",
            json_string("this older version was not wrapped for the holder when it was written; "
                        "the keys in the record are for the current version"));
    free(b64);
    out->err = out->body ? CC_OK : CC_ERR_NOMEM;
    if (!out->body) snprintf(out->reason, sizeof out->reason, "out of memory");
}

enum MHD_Result cc_http_get_record(cc_http_req *req)
{
    cc_signed_read sr;
    enum MHD_Result answered;
    const char *purpose;
    json_int_t version;
    json_t *rec = NULL;
    cc_access_decision d;

    if (!cc_signed_read_begin(req, false, &sr, &answered)) return answered;
    if (!lower_hex(req->arg, RECORD_ID_HEX))
        return cc_signed_read_fail(&sr, CC_ERR_USAGE, "a record id is 32 lowercase hex digits");
    if (!purpose_param(&sr, &purpose, &answered) || !version_param(&sr, &version, &answered)) return answered;
    cc_err rc = view_get(&sr, &rec, "rec/%s", req->arg);
    if (rc == CC_ERR_NOT_FOUND) return cc_signed_read_fail(&sr, rc, "no such record");
    if (rc != CC_OK) return cc_signed_read_fail(&sr, rc, "cannot read the record: %s", cc_strerror(rc));

    const char *patient = json_string_value(json_object_get(rec, "patient"));
    cc_reqauth_event ev = {
        .patient = patient, .record = req->arg, .endpoint = sr.endpoint, .purpose = purpose};
    if (!patient) {
        json_decref(rec);
        return cc_signed_read_fail(&sr, CC_ERR_CORRUPT, "the record names no patient");
    }
    if (record_erased(rec)) {
        ev.reason = "erased";
        answered = cc_signed_read_answer(&sr, &ev, CC_ERR_GONE, "the record was erased", NULL);
        json_decref(rec);
        return answered;
    }
    cc_access_request rq = {
        .patient = patient, .action = CC_ACCESS_READ, .purpose = purpose, .record = rec, .now_ms = sr.now_ms};
    memcpy(rq.requester, sr.who.requester, CC_PUBKEY_BYTES);
    rc = cc_access_decide(cc_chain_view_get_json, sr.view, &rq, &d);
    if (rc != CC_OK) {
        json_decref(rec);
        return cc_signed_read_fail(&sr, rc, "cannot decide: %s", cc_strerror(rc));
    }
    enum MHD_Result out;
    if (!d.permit) {
        ev.reason = d.reason;
        out = cc_signed_read_answer(&sr, &ev, CC_ERR_FORBIDDEN, NULL, NULL);
    } else {
        record_answer a = {0};
        record_serve(&sr, rec, &d, version, &a);
        ev.granted = a.err == CC_OK;
        ev.emergency = d.emergency && ev.granted;
        ev.reason = a.err == CC_OK ? d.reason : a.reason;
        out = cc_signed_read_answer(&sr, &ev, a.err, NULL, a.body);
    }
    json_decref(rec);
    return out;
}

/* ---- GET /v1/patients/{id}/records?purpose=P ------------------------------------------- */

/* The patient's record ids (an empty array when none). */
static cc_err patient_records(cc_signed_read *sr, const char *patient, json_t **out)
{
    cc_err rc = view_get(sr, out, "precs/%s", patient);
    if (rc == CC_ERR_NOT_FOUND) *out = json_array();
    return *out ? CC_OK : rc;
}

enum MHD_Result cc_http_get_patient_records(cc_http_req *req)
{
    cc_signed_read sr;
    enum MHD_Result answered;
    cc_errbuf eb = {{0}};
    const char *purpose;
    json_t *ids = NULL, *list = json_array(), *v;
    char first_denial[200] = "", via[64] = "";
    bool emergency = false;
    size_t i, total = 0;
    cc_err rc;

    if (!cc_signed_read_begin(req, false, &sr, &answered)) goto out_answered;
    if ((rc = cc_signed_read_patient(&sr, req->arg, &eb)) != CC_OK) {
        answered = cc_signed_read_fail(&sr, rc, "%s", eb.msg);
        goto out_answered;
    }
    if (!purpose_param(&sr, &purpose, &answered)) goto out_answered;
    if ((rc = patient_records(&sr, req->arg, &ids)) != CC_OK || !list) {
        answered = cc_signed_read_fail(&sr, list ? rc : CC_ERR_NOMEM, "cannot read the patient's records");
        goto out_answered;
    }

    bool self = strcmp(sr.who.requester_hex, req->arg) == 0;
    json_array_foreach(ids, i, v)
    {
        json_t *rec = NULL;
        cc_access_decision d;
        const char *rid = json_string_value(v);
        if (!rid || view_get(&sr, &rec, "rec/%.32s", rid) != CC_OK) continue;
        if (record_erased(rec) && !self) { /* only the patient sees what was erased */
            json_decref(rec);
            continue;
        }
        total++;
        cc_access_request rq = {.patient = req->arg,
                                .action = CC_ACCESS_READ,
                                .purpose = purpose,
                                .record = rec,
                                .now_ms = sr.now_ms};
        memcpy(rq.requester, sr.who.requester, CC_PUBKEY_BYTES);
        rc = cc_access_decide(cc_chain_view_get_json, sr.view, &rq, &d);
        if (rc != CC_OK) {
            json_decref(rec);
            answered = cc_signed_read_fail(&sr, rc, "cannot decide: %s", cc_strerror(rc));
            goto out_answered;
        }
        if (d.permit) {
            json_t *m = record_meta(rec);
            json_object_set(m, "status", json_object_get(rec, "status"));
            json_object_set_new(m, "access", access_json(&d));
            json_array_append_new(list, m);
            emergency = emergency || d.emergency;
            if (!strstr(via, d.via))
                snprintf(via + strlen(via), sizeof via - strlen(via), "%s%s", via[0] ? ", " : "", d.via);
        } else if (!first_denial[0]) {
            snprintf(first_denial, sizeof first_denial, "%s", d.reason);
        }
        json_decref(rec);
    }

    /* No record to judge by: the patient's data as a whole decides. */
    if (total == 0 && !self) {
        cc_access_decision d;
        cc_access_request rq = {
            .patient = req->arg, .action = CC_ACCESS_READ, .purpose = purpose, .now_ms = sr.now_ms};
        memcpy(rq.requester, sr.who.requester, CC_PUBKEY_BYTES);
        if ((rc = cc_access_decide(cc_chain_view_get_json, sr.view, &rq, &d)) != CC_OK) {
            answered = cc_signed_read_fail(&sr, rc, "cannot decide: %s", cc_strerror(rc));
            goto out_answered;
        }
        if (!d.permit)
            snprintf(first_denial, sizeof first_denial, "%s", d.reason);
        else
            snprintf(via, sizeof via, "%s", d.via);
    }

    size_t shown = json_array_size(list);
    bool granted = self || shown > 0 || (total == 0 && !first_denial[0]);
    char reason[200];
    if (granted)
        snprintf(reason, sizeof reason, "listed %zu of %zu records (via %s)", shown, total,
                 self ? "patient" : via);
    else
        snprintf(reason, sizeof reason, "%s", first_denial);
    cc_reqauth_event ev = {.patient = req->arg,
                           .endpoint = sr.endpoint,
                           .purpose = purpose,
                           .granted = granted,
                           .reason = reason,
                           .emergency = emergency};
    json_t *body = granted ? json_pack("{s:s, s:O, s:I}", "patient", req->arg, "records", list, "total",
                                       (json_int_t)shown)
                           : NULL;
    answered = cc_signed_read_answer(&sr, &ev, granted ? CC_OK : CC_ERR_FORBIDDEN, NULL, body);
out_answered:
    json_decref(ids);
    json_decref(list);
    return answered;
}

/* ---- GET /v1/patients/{id}/readers?resourceType=T&category=C[&record=R][&purpose=P] ---------- */

static bool token_valid(const char *s, size_t max, bool type)
{
    size_t n = s ? strlen(s) : 0;
    if (n < (type ? 2 : 1) || n > max) return false;
    if (type && !(s[0] >= 'A' && s[0] <= 'Z')) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = type ? (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                       : (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok) return false;
    }
    return true;
}

/* May the requester write a record of the patient (rec, or a new one of
 * type and category)? A clinician needs a write consent: for purpose, or
 * when none is given, for any purpose but ETREAT. */
static cc_err may_write(cc_signed_read *sr, const char *patient, const json_t *rec, const char *type,
                        const char *category, const char *purpose, cc_access_decision *d, const char **used)
{
    static const char *const purposes[WRITE_PURPOSES_MAX] = {"TREAT", "HPAYMT", "HOPERAT", "HRESCH"};
    cc_access_decision first = {0};
    for (size_t i = 0; i < (purpose ? 1 : WRITE_PURPOSES_MAX); i++) {
        const char *p = purpose ? purpose : purposes[i];
        cc_access_request rq = {.patient = patient,
                                .action = CC_ACCESS_WRITE,
                                .purpose = p,
                                .record = rec,
                                .resource_type = rec ? NULL : type,
                                .category = rec ? NULL : category,
                                .now_ms = sr->now_ms};
        memcpy(rq.requester, sr->who.requester, CC_PUBKEY_BYTES);
        cc_err rc = cc_access_decide(cc_chain_view_get_json, sr->view, &rq, d);
        if (rc != CC_OK) return rc;
        if (i == 0) first = *d;
        if (d->permit) {
            *used = p;
            return CC_OK;
        }
    }
    *d = first;
    *used = purpose;
    return CC_OK;
}

enum MHD_Result cc_http_get_patient_readers(cc_http_req *req)
{
    cc_signed_read sr;
    enum MHD_Result answered;
    cc_errbuf eb = {{0}};
    json_t *rec = NULL, *readers = NULL;
    cc_access_decision d;
    bool ok = false;
    const char *used = NULL;
    cc_err rc;

    if (!cc_signed_read_begin(req, false, &sr, &answered)) return answered;
    if ((rc = cc_signed_read_patient(&sr, req->arg, &eb)) != CC_OK)
        return cc_signed_read_fail(&sr, rc, "%s", eb.msg);
    const char *type = cc_http_query(req, "resourceType"), *category = cc_http_query(req, "category");
    const char *record = cc_http_query(req, "record"), *purpose = cc_http_query(req, "purpose");
    if (!token_valid(type, RESOURCE_TYPE_MAX, true))
        return cc_signed_read_fail(&sr, CC_ERR_USAGE,
                                   "resourceType is required, and is a FHIR resource type name");
    if (!token_valid(category, CATEGORY_MAX, false))
        return cc_signed_read_fail(&sr, CC_ERR_USAGE, "category is required, and is 1..32 of a-z 0-9 -");
    if (record && !lower_hex(record, RECORD_ID_HEX))
        return cc_signed_read_fail(&sr, CC_ERR_USAGE, "record is 32 lowercase hex digits");
    if (purpose && !cc_purpose_valid(purpose))
        return cc_signed_read_fail(&sr, CC_ERR_USAGE, "purpose \"%.16s\" is not one of %s", purpose,
                                   CC_PURPOSES);
    if (record && (rc = view_get(&sr, &rec, "rec/%s", record)) != CC_OK && rc != CC_ERR_NOT_FOUND)
        return cc_signed_read_fail(&sr, rc, "cannot read the record: %s", cc_strerror(rc));
    if (rec) {
        const char *owner = json_string_value(json_object_get(rec, "patient"));
        const char *rtype = json_string_value(json_object_get(rec, "resourceType"));
        if (!owner || strcmp(owner, req->arg) != 0) {
            json_decref(rec);
            return cc_signed_read_fail(&sr, CC_ERR_USAGE, "record %s is not a record of this patient",
                                       record);
        }
        if (!rtype || strcmp(rtype, type) != 0) {
            json_decref(rec);
            return cc_signed_read_fail(&sr, CC_ERR_USAGE,
                                       "record %s is a %s: a new version keeps its resource type", record,
                                       rtype ? rtype : "?");
        }
    }

    cc_reqauth_event ev = {
        .patient = req->arg, .record = rec ? record : NULL, .endpoint = sr.endpoint, .purpose = purpose};
    const char *author_org = NULL;
    if ((rc = cc_access_is_patient_or_delegate(cc_chain_view_get_json, sr.view, req->arg, sr.who.requester,
                                               &ok)) != CC_OK)
        goto out_fail;
    if (ok) {
        ev.reason = strcmp(sr.who.requester_hex, req->arg) == 0 ? "the patient" : "a delegate of the patient";
    } else if (sr.who.role == CC_ROLE_CLINICIAN) {
        if ((rc = may_write(&sr, req->arg, rec, type, category, purpose, &d, &used)) != CC_OK) goto out_fail;
        ok = d.permit;
        ev.reason = d.reason;
        ev.purpose = used;
        author_org = sr.who.org;
    } else {
        ev.reason =
            "only the patient, a delegate or a clinician with a write consent may ask who a record is "
            "wrapped for";
    }
    if (ok && record_erased(rec)) {
        ok = false;
        ev.reason = "erased";
        ev.granted = false;
        answered = cc_signed_read_answer(&sr, &ev, CC_ERR_GONE, "the record was erased", NULL);
        json_decref(rec);
        return answered;
    }
    if (!ok) {
        answered = cc_signed_read_answer(&sr, &ev, CC_ERR_FORBIDDEN, NULL, NULL);
        json_decref(rec);
        return answered;
    }
    rc = cc_records_required_readers(cc_chain_view_get_json, sr.view, req->arg, record, type, category,
                                     author_org, sr.now_ms, &readers, &eb);
    if (rc == CC_ERR_NOT_FOUND) { /* the author's organisation has no records key */
        char why[200];
        snprintf(why, sizeof why, "%s", eb.msg);
        ev.reason = why;
        answered = cc_signed_read_answer(&sr, &ev, CC_ERR_CONFLICT, NULL, NULL);
        json_decref(rec);
        return answered;
    }
    if (rc != CC_OK) goto out_fail;
    ev.granted = true;
    json_t *body = json_pack("{s:s, s:s, s:s, s:s?, s:o}", "patient", req->arg, "resourceType", type,
                             "category", category, "record", record, "readers", readers);
    answered = cc_signed_read_answer(&sr, &ev, CC_OK, NULL, body);
    json_decref(rec);
    return answered;
out_fail:
    json_decref(rec);
    return cc_signed_read_fail(&sr, rc, "cannot decide: %s", eb.msg[0] ? eb.msg : cc_strerror(rc));
}

/* ---- GET /v1/patients/{id}/alerts ----------------------------------------------------------- */

enum MHD_Result cc_http_get_patient_alerts(cc_http_req *req)
{
    cc_signed_read sr;
    enum MHD_Result answered;
    cc_errbuf eb = {{0}};
    json_t *count = NULL, *alerts = NULL;
    bool ok = false;
    cc_err rc;

    if (!cc_signed_read_begin(req, false, &sr, &answered)) return answered;
    if ((rc = cc_signed_read_patient(&sr, req->arg, &eb)) != CC_OK)
        return cc_signed_read_fail(&sr, rc, "%s", eb.msg);
    if ((rc = cc_access_is_patient_or_delegate(cc_chain_view_get_json, sr.view, req->arg, sr.who.requester,
                                               &ok)) != CC_OK)
        return cc_signed_read_fail(&sr, rc, "cannot decide: %s", cc_strerror(rc));
    cc_reqauth_event ev = {.patient = req->arg, .endpoint = sr.endpoint, .granted = ok};
    if (!ok) {
        ev.reason = "only the patient or a delegate of theirs may read the patient's alerts";
        return cc_signed_read_answer(&sr, &ev, CC_ERR_FORBIDDEN, NULL, NULL);
    }
    ev.reason = strcmp(sr.who.requester_hex, req->arg) == 0 ? "the patient" : "a delegate of the patient";

    rc = view_get(&sr, &count, "alertn/%s", req->arg);
    if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) return cc_signed_read_fail(&sr, rc, "cannot read the alerts");
    json_int_t n = json_integer_value(count);
    json_decref(count);
    if (!(alerts = json_array())) return cc_signed_read_fail(&sr, CC_ERR_NOMEM, "out of memory");
    for (json_int_t seq = n; seq >= 1 && n - seq < ALERTS_MAX; seq--) {
        json_t *a = NULL;
        if (view_get(&sr, &a, "alert/%s/%016lld", req->arg, (long long)seq) != CC_OK) continue;
        json_object_set_new(a, "seq", json_integer(seq));
        json_array_append_new(alerts, a);
    }
    json_t *body =
        json_pack("{s:s, s:o, s:I}", "patient", req->arg, "alerts", alerts, "total", (json_int_t)n);
    return cc_signed_read_answer(&sr, &ev, CC_OK, NULL, body);
}
