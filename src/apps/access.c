/*
 * access.c — who may read or write which health record, for which purpose:
 * the access decision (docs/RECORDS.md "Access rules"), the readers a
 * record version must be wrapped for, and the scope and syntax rules that
 * consent.c, records.c and the node's read path share.
 *
 * Everything here reads state only through a cc_state_reader, so the same
 * code decides inside exec (over the block's overlay) and in the node (over
 * a cc_chain_view), and both agree. Deterministic: the caller passes the
 * time, and a patient's consents are visited in "pconsents/<patient>"
 * order (oldest first), so the consent a decision names is always the same.
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps.h"
#include "apps/trials.h"

static const char *const purposes[] = {"TREAT", "HPAYMT", "HOPERAT", "HRESCH", "ETREAT", NULL};

bool cc_purpose_valid(const char *purpose)
{
    for (size_t i = 0; purpose && purposes[i]; i++)
        if (strcmp(purposes[i], purpose) == 0) return true;
    return false;
}

bool cc_records_resource_type_valid(const char *s)
{
    size_t n = 0;
    if (!(s[0] >= 'A' && s[0] <= 'Z')) return false;
    for (n = 1; s[n]; n++)
        if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z')) || n >= 64) return false;
    return n >= 2;
}

bool cc_records_category_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-') || n >= 32)
            return false;
    return n >= 1;
}

/* ---- reading state ---------------------------------------------------------- */

static bool list_has(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *x = json_string_value(v);
        if (x && s && strcmp(x, s) == 0) return true;
    }
    return false;
}

/* An identity as the access rules need it. */
typedef struct who {
    char hex[CC_HASH_HEX];
    bool known, active;
    unsigned role;
    char org[CC_RECORDS_ORG_MAX + 1];
} who;

static cc_err who_get(cc_state_reader get, void *ctx, const char *hex, who *out)
{
    char key[8 + CC_HASH_HEX];
    json_t *o = NULL;
    memset(out, 0, sizeof *out);
    snprintf(out->hex, sizeof out->hex, "%s", hex);
    snprintf(key, sizeof key, "id/%s", hex);
    cc_err rc = get(ctx, key, &o);
    if (rc == CC_ERR_NOT_FOUND) return CC_OK;
    if (rc != CC_OK) return rc;
    const char *status = json_string_value(json_object_get(o, "status"));
    const char *org = json_string_value(json_object_get(o, "org"));
    out->known = true;
    out->active = status && strcmp(status, "active") == 0;
    out->role = cc_role_parse(json_string_value(json_object_get(o, "role")));
    snprintf(out->org, sizeof out->org, "%s", org ? org : "");
    json_decref(o);
    return CC_OK;
}

cc_err cc_records_org_key(cc_state_reader get, void *ctx, const char *org, char out[CC_HASH_HEX])
{
    char key[16 + CC_RECORDS_ORG_MAX + 1];
    json_t *o = NULL;
    if (!org || !*org || strlen(org) > CC_RECORDS_ORG_MAX) return CC_ERR_NOT_FOUND;
    snprintf(key, sizeof key, "orgkey/%s", org);
    cc_err rc = get(ctx, key, &o);
    if (rc != CC_OK) return rc;
    const char *k = json_string_value(json_object_get(o, "key"));
    if (k && cc_hex_id_valid(k, CC_PUBKEY_BYTES))
        snprintf(out, CC_HASH_HEX, "%s", k);
    else
        rc = CC_ERR_CORRUPT;
    json_decref(o);
    return rc;
}

/* The patient's consent ids, oldest first (an empty array when none). */
static cc_err consents_of(cc_state_reader get, void *ctx, const char *patient, json_t **out)
{
    char key[16 + CC_HASH_HEX];
    snprintf(key, sizeof key, "pconsents/%s", patient);
    cc_err rc = get(ctx, key, out);
    if (rc == CC_ERR_NOT_FOUND) {
        *out = json_array();
        return *out ? CC_OK : CC_ERR_NOMEM;
    }
    if (rc == CC_OK && !json_is_array(*out)) {
        json_decref(*out);
        return CC_ERR_CORRUPT;
    }
    return rc;
}

static cc_err consent_get(cc_state_reader get, void *ctx, const char *id, json_t **out)
{
    char key[16 + CC_HASH_HEX];
    snprintf(key, sizeof key, "consent/%.64s", id);
    return get(ctx, key, out);
}

/* ---- consents ----------------------------------------------------------------- */

bool cc_consent_covers(const json_t *consent, const char *resource_type, const char *category,
                       const char *record_id)
{
    const json_t *scope = json_object_get(consent, "scope");
    const char *names[] = {"resourceTypes", "categories", "records"};
    const char *values[] = {resource_type, category, record_id};
    for (size_t i = 0; i < 3; i++) {
        const json_t *list = json_object_get(scope, names[i]);
        if (json_array_size(list) > 0 && !(values[i] && list_has(list, values[i]))) return false;
    }
    return true;
}

typedef enum period_state { PERIOD_PENDING = -1, PERIOD_ACTIVE = 0, PERIOD_EXPIRED = 1 } period_state;

/* Where now_ms lies in the consent's period [from, until); a missing from
 * is the grant's block time, a missing until is open-ended. */
static period_state consent_period(const json_t *c, uint64_t now_ms, uint64_t *edge_ms)
{
    const json_t *period = json_object_get(c, "period");
    const json_t *from = json_object_get(period, "from"), *until = json_object_get(period, "until");
    uint64_t f = (uint64_t)json_integer_value(from ? from : json_object_get(c, "granted_at"));
    if (now_ms < f) {
        *edge_ms = f;
        return PERIOD_PENDING;
    }
    if (json_is_integer(until) && now_ms >= (uint64_t)json_integer_value(until)) {
        *edge_ms = (uint64_t)json_integer_value(until);
        return PERIOD_EXPIRED;
    }
    return PERIOD_ACTIVE;
}

static bool consent_active(const json_t *c)
{
    const char *status = json_string_value(json_object_get(c, "status"));
    return status && strcmp(status, "active") == 0;
}

static bool consent_is(const json_t *c, const char *provision)
{
    const char *p = json_string_value(json_object_get(c, "provision"));
    return p && strcmp(p, provision) == 0;
}

/* Whose key a read permit wraps for: the grantee identity, or the grantee
 * organisation's records key holder. CC_ERR_NOT_FOUND when that
 * organisation has none. */
static cc_err consent_recipient(cc_state_reader get, void *ctx, const json_t *c, char out[CC_HASH_HEX])
{
    const json_t *grantee = json_object_get(c, "grantee");
    const char *id = json_string_value(json_object_get(grantee, "identity"));
    if (id) {
        snprintf(out, CC_HASH_HEX, "%.64s", id);
        return CC_OK;
    }
    return cc_records_org_key(get, ctx, json_string_value(json_object_get(grantee, "org")), out);
}

/* Insert s into the sorted array of distinct strings a. */
static cc_err sorted_add(json_t *a, const char *s)
{
    size_t i = 0, n = json_array_size(a);
    for (; i < n; i++) {
        int cmp = strcmp(json_string_value(json_array_get(a, i)), s);
        if (cmp == 0) return CC_OK;
        if (cmp > 0) break;
    }
    return json_array_insert_new(a, i, json_string(s)) == 0 ? CC_OK : CC_ERR_NOMEM;
}

/* Add hex to the readers unless its identity is unknown or revoked: a
 * data key is never wrapped for a key that may be compromised. */
static cc_err add_reader(cc_state_reader get, void *ctx, json_t *readers, const char *hex)
{
    who w;
    cc_err rc = who_get(get, ctx, hex, &w);
    if (rc != CC_OK) return rc;
    return w.known && w.active ? sorted_add(readers, hex) : CC_OK;
}

cc_err cc_records_required_readers(cc_state_reader get, void *ctx, const char *patient, const char *record_id,
                                   const char *resource_type, const char *category, const char *author_org,
                                   uint64_t now_ms, json_t **out, cc_errbuf *eb)
{
    char holder[CC_HASH_HEX];
    json_t *readers = json_array(), *ids = NULL, *v;
    size_t i;
    cc_err rc = readers ? sorted_add(readers, patient) : CC_ERR_NOMEM;
    if (rc == CC_OK && author_org && *author_org) {
        rc = cc_records_org_key(get, ctx, author_org, holder);
        if (rc == CC_OK)
            rc = add_reader(get, ctx, readers, holder);
        else if (rc == CC_ERR_NOT_FOUND)
            rc = cc_errf(eb, rc, "organisation %s has no records key (an admin sets one with org.key)",
                         author_org);
    }
    if (rc == CC_OK) rc = consents_of(get, ctx, patient, &ids);
    json_array_foreach(ids, i, v)
    {
        json_t *c = NULL;
        uint64_t edge;
        if (rc != CC_OK) break;
        if (consent_get(get, ctx, json_string_value(v), &c) != CC_OK) continue;
        /* every read permit that is not revoked and not expired: one whose
         * period starts later needs the key too, or it could not read the
         * versions written before it starts */
        if (consent_active(c) && consent_is(c, "permit") && list_has(json_object_get(c, "actions"), "read") &&
            consent_period(c, now_ms, &edge) != PERIOD_EXPIRED &&
            cc_consent_covers(c, resource_type, category, record_id) &&
            consent_recipient(get, ctx, c, holder) == CC_OK)
            rc = add_reader(get, ctx, readers, holder);
        json_decref(c);
    }
    json_decref(ids);
    if (rc == CC_OK)
        *out = readers;
    else
        json_decref(readers);
    return rc;
}

cc_err cc_access_is_patient_or_delegate(cc_state_reader get, void *ctx, const char *patient,
                                        const uint8_t requester[CC_PUBKEY_BYTES], bool *out)
{
    char r[CC_HASH_HEX], key[16 + 2 * CC_HASH_HEX];
    json_t *d = NULL;
    who w;
    *out = false;
    cc_hex(requester, CC_PUBKEY_BYTES, r);
    if (strcmp(r, patient) == 0) {
        *out = true;
        return CC_OK;
    }
    snprintf(key, sizeof key, "delegate/%.64s/%s", patient, r);
    cc_err rc = get(ctx, key, &d);
    if (rc == CC_ERR_NOT_FOUND) return CC_OK;
    if (rc != CC_OK) return rc;
    bool active = json_is_true(json_object_get(d, "active"));
    json_decref(d);
    if (!active) return CC_OK;
    if ((rc = who_get(get, ctx, r, &w)) != CC_OK) return rc;
    *out = w.known && w.active;
    return CC_OK;
}

/* ---- the decision --------------------------------------------------------------- */

/* Why a consent that names the requester, the action and the record did
 * not permit: the first of these checks it failed, in this order, so a
 * later one means it came closer (the decision names the closest miss it
 * found: a consent for the purpose asked that was revoked says more than
 * one for another purpose). */
typedef enum near_miss { MISS_NONE, MISS_PURPOSE, MISS_REVOKED, MISS_PERIOD, MISS_NOT_ENROLLED } near_miss;

static void decide(cc_access_decision *out, bool permit, const char *via, const char *consent)
{
    out->permit = permit;
    snprintf(out->via, sizeof out->via, "%s", permit ? via : "");
    snprintf(out->consent, sizeof out->consent, "%s", consent ? consent : "");
}

/* The wrapped key a permitted reader is served: its own when the record
 * has one, else its organisation's, else the one the grant implies. */
static void key_holder(const cc_access_request *rq, const who *r, const char *org_key, bool via_org,
                       char out[CC_HASH_HEX])
{
    const json_t *keys = json_object_get(rq->record, "keys");
    if (json_object_get(keys, r->hex) || !org_key[0])
        snprintf(out, CC_HASH_HEX, "%s", r->hex);
    else if (json_object_get(keys, org_key) || via_org)
        snprintf(out, CC_HASH_HEX, "%s", org_key);
    else
        snprintf(out, CC_HASH_HEX, "%s", r->hex);
}

/* Does consent c name requester r (or r's organisation, r not a patient)? */
static bool grantee_is(const json_t *c, const who *r, bool *via_org)
{
    const json_t *g = json_object_get(c, "grantee");
    const char *id = json_string_value(json_object_get(g, "identity"));
    const char *org = json_string_value(json_object_get(g, "org"));
    *via_org = !id;
    if (id) return strcmp(id, r->hex) == 0;
    return org && r->org[0] && strcmp(org, r->org) == 0 && r->role != CC_ROLE_PATIENT;
}

cc_err cc_access_decide(cc_state_reader get, void *ctx, const cc_access_request *rq, cc_access_decision *out)
{
    const char *action = rq->action == CC_ACCESS_WRITE ? "write" : "read";
    const char *rid = NULL, *rtype = rq->resource_type, *cat = rq->category;
    char org_key[CC_HASH_HEX] = "", permit_id[CC_HASH_HEX] = "", miss_id[CC_HASH_HEX] = "";
    bool whole = !rq->record && !rq->resource_type, permit_via_org = false;
    near_miss miss = MISS_NONE;
    uint64_t miss_edge = 0;
    json_t *ids = NULL, *v;
    size_t i;
    who r;
    char rhex[CC_HASH_HEX];

    memset(out, 0, sizeof *out);
    cc_err rc = who_get(get, ctx, cc_hex(rq->requester, CC_PUBKEY_BYTES, rhex), &r);
    if (rc != CC_OK) return rc;
    if (!r.known || !r.active) {
        decide(out, false, NULL, NULL);
        snprintf(out->reason, sizeof out->reason, "%s",
                 r.known ? "the requester's identity was revoked"
                         : "the requester is not a registered identity");
        return CC_OK;
    }
    if (strcmp(r.hex, rq->patient) == 0) {
        decide(out, true, "patient", NULL);
        snprintf(out->key_holder, sizeof out->key_holder, "%s", r.hex);
        snprintf(out->reason, sizeof out->reason, "the patient's own data");
        return CC_OK;
    }
    if (rq->record) {
        rid = json_string_value(json_object_get(rq->record, "record"));
        rtype = json_string_value(json_object_get(rq->record, "resourceType"));
        cat = json_string_value(json_object_get(rq->record, "category"));
    }
    if (r.role != CC_ROLE_PATIENT && (rc = cc_records_org_key(get, ctx, r.org, org_key)) != CC_OK) {
        if (rc != CC_ERR_NOT_FOUND) return rc;
        org_key[0] = '\0';
    }

    /* rule 3: the matching consents; a deny wins at once */
    if ((rc = consents_of(get, ctx, rq->patient, &ids)) != CC_OK) return rc;
    json_array_foreach(ids, i, v)
    {
        const char *id = json_string_value(v);
        json_t *c = NULL;
        bool via_org;
        uint64_t edge = 0;
        if (!id || consent_get(get, ctx, id, &c) != CC_OK) continue;
        /* a research consent names a trial: it speaks to the researchers the
         * trial names, while the patient is enrolled (docs/TRIALS.md) */
        const char *trial = json_string_value(json_object_get(c, "trial"));
        bool named = false, enrolled = false, grantee = grantee_is(c, &r, &via_org);
        if (trial && (rc = cc_trials_research_check(get, ctx, trial, rq->patient, r.hex, &named,
                                                    &enrolled)) != CC_OK) {
            json_decref(c);
            json_decref(ids);
            return rc;
        }
        if (!(trial ? named : grantee) || !list_has(json_object_get(c, "actions"), action) ||
            (!whole && !cc_consent_covers(c, rtype, cat, rid))) {
            json_decref(c);
            continue;
        }
        near_miss m = !list_has(json_object_get(c, "purposes"), rq->purpose)  ? MISS_PURPOSE
                      : !consent_active(c)                                    ? MISS_REVOKED
                      : consent_period(c, rq->now_ms, &edge) != PERIOD_ACTIVE ? MISS_PERIOD
                      : trial && !enrolled                                    ? MISS_NOT_ENROLLED
                                                                              : MISS_NONE;
        if (m == MISS_NONE && consent_is(c, "deny")) {
            decide(out, false, NULL, id);
            snprintf(out->reason, sizeof out->reason, "consent %.12s… of the patient denies this %s", id,
                     action);
            json_decref(c);
            json_decref(ids); /* id lives in ids: used above, before this */
            return CC_OK;
        }
        if (m == MISS_NONE && consent_is(c, "permit") && !permit_id[0]) {
            snprintf(permit_id, sizeof permit_id, "%.64s", id);
            permit_via_org = via_org;
        } else if (m > miss && consent_is(c, "permit")) {
            miss = m;
            miss_edge = edge;
            snprintf(miss_id, sizeof miss_id, "%.64s", id);
        }
        json_decref(c);
    }
    json_decref(ids);
    if (permit_id[0]) {
        decide(out, true, "consent", permit_id);
        key_holder(rq, &r, org_key, permit_via_org, out->key_holder);
        snprintf(out->reason, sizeof out->reason, "permitted by consent %.12s…", permit_id);
        return CC_OK;
    }

    /* rule 4: break-glass, for a clinician's emergency read of a record
     * already wrapped to the clinician or their organisation */
    bool etreat = rq->action == CC_ACCESS_READ && rq->purpose && strcmp(rq->purpose, "ETREAT") == 0;
    const json_t *keys = json_object_get(rq->record, "keys");
    bool has_key = json_object_get(keys, r.hex) || (org_key[0] && json_object_get(keys, org_key));
    if (etreat && rq->record && r.role == CC_ROLE_CLINICIAN && has_key) {
        decide(out, true, "break-glass", NULL);
        out->emergency = true;
        key_holder(rq, &r, org_key, false, out->key_holder);
        snprintf(out->reason, sizeof out->reason,
                 "break-glass: emergency treatment access by a clinician, without the patient's consent");
        return CC_OK;
    }

    /* rule 5: denied, with the most specific reason */
    decide(out, false, NULL, miss_id[0] ? miss_id : NULL);
    if (miss == MISS_PURPOSE)
        snprintf(out->reason, sizeof out->reason, "consent %.12s… does not cover purpose %.16s", miss_id,
                 rq->purpose ? rq->purpose : "");
    else if (miss == MISS_NOT_ENROLLED)
        snprintf(out->reason, sizeof out->reason,
                 "research consent %.12s… covers a trial the patient is not (or no longer) enrolled in",
                 miss_id);
    else if (miss == MISS_REVOKED)
        snprintf(out->reason, sizeof out->reason, "consent %.12s… was revoked", miss_id);
    else if (miss == MISS_PERIOD && miss_edge > rq->now_ms)
        snprintf(out->reason, sizeof out->reason,
                 "consent %.12s… is not valid until %llu (ms since the epoch)", miss_id,
                 (unsigned long long)miss_edge);
    else if (miss == MISS_PERIOD)
        snprintf(out->reason, sizeof out->reason, "consent %.12s… expired at %llu (ms since the epoch)",
                 miss_id, (unsigned long long)miss_edge);
    else if (etreat && rq->record && r.role != CC_ROLE_CLINICIAN)
        snprintf(
            out->reason, sizeof out->reason,
            "no consent of the patient permits this read, and break-glass (ETREAT) is for clinicians only");
    else if (etreat && rq->record)
        snprintf(out->reason, sizeof out->reason,
                 "no consent of the patient permits this read, and break-glass needs the record's key to be "
                 "wrapped to the clinician or their organisation");
    else
        snprintf(out->reason, sizeof out->reason,
                 "no consent of the patient permits this %s for purpose %.16s", action,
                 rq->purpose ? rq->purpose : "");
    return CC_OK;
}
