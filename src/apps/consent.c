/*
 * consent.c — the patient's say over their records: consent.grant,
 * consent.revoke and patient.delegate.
 *
 * A consent (FHIR R4 Consent in shape) names a grantee (an identity or an
 * organisation), the actions it covers (read, write), a scope, purposes of
 * use, a period and a provision (permit or deny; deny wins). A read permit
 * carries the data key of every record it covers, re-wrapped by the
 * patient's client for the recipient; exec adds those keys to the records.
 * The patient or a delegate the patient registered grants and revokes.
 *
 * State (docs/RECORDS.md):
 *   consent/<txid>                 the payload without "keys", plus id, status,
 *                                  granted_by, granted_at, height (revoked_at,
 *                                  revoked_by, revoke_reason once revoked)
 *   pconsents/<patient>            [consent ids, oldest first]
 *   delegate/<patient>/<delegate>  {"active": bool, "height": h}
 *
 * Consent:  (none) --grant--> active --revoke--> revoked (final)
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps.h"
#include "apps/trials.h"
#include "carechain/records.h"

#define PURPOSES_MAX 5 /* every purpose of use once */

static const char *str(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(o, field));
}

static bool action_valid(const char *s)
{
    return strcmp(s, "read") == 0 || strcmp(s, "write") == 0;
}

static bool record_id_valid(const char *s)
{
    return cc_hex_id_valid(s, CC_RECORD_ID_BYTES);
}

/* Does the payload's list under field hold s? */
static bool lists(const json_t *p, const char *field, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p, field), i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
    }
    return false;
}

/* Is the signer the patient or the patient's active delegate? */
static cc_err signer_acts_for(cc_exec_ctx *ctx, const char *patient)
{
    bool ok = false;
    cc_err rc = cc_access_is_patient_or_delegate(cc_apps_reader, ctx, patient, ctx->signer->pk, &ok);
    if (rc != CC_OK) return cc_errf(ctx->eb, rc, "cannot read the patient's delegates");
    return ok ? CC_OK
              : cc_errf(ctx->eb, CC_ERR_FORBIDDEN, "only patient %.12s… or a delegate of theirs may do this",
                        patient);
}

/* Read the identity under hex; CC_ERR_NOT_FOUND when unregistered. */
static cc_err identity_get(cc_exec_ctx *ctx, const char *hex, json_t **out)
{
    char key[8 + CC_HASH_HEX];
    snprintf(key, sizeof key, "id/%.64s", hex);
    return cc_state_get_json(ctx, key, out);
}

static bool is_active(const json_t *identity)
{
    const char *status = str(identity, "status");
    return status && strcmp(status, "active") == 0;
}

/* ---- consent.grant ------------------------------------------------------------- */

/* A research consent names a trial (docs/TRIALS.md): a read permit for
 * purpose HRESCH only. The researchers named on the trial read through it
 * while the patient is enrolled. */
static cc_err research_check(const json_t *p, bool permit, cc_errbuf *eb)
{
    const char *trial = str(p, "trial");
    const json_t *purposes = json_object_get(p, "purposes"), *actions = json_object_get(p, "actions");
    if (!trial || !cc_trials_id_valid(trial))
        return cc_errf(eb, CC_ERR_INVALID,
                       "\"trial\" must be a trial id (NCT followed by 8 digits, or a "
                       "sponsor's id)");
    if (!permit || json_array_size(actions) != 1 || !lists(p, "actions", "read") ||
        json_array_size(purposes) != 1 || !lists(p, "purposes", "HRESCH"))
        return cc_errf(eb, CC_ERR_INVALID,
                       "a consent naming a trial is a read permit for purpose HRESCH only");
    return CC_OK;
}

static cc_err grant_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"patient", "grantee",   "actions", "scope", "purposes",
                                         "period",  "provision", "keys",    "trial", NULL};
    static const char *const grantee_fields[] = {"identity", "org", NULL};
    static const char *const scope_fields[] = {"resourceTypes", "categories", "records", NULL};
    static const char *const period_fields[] = {"from", "until", NULL};
    uint8_t pk[CC_PUBKEY_BYTES];
    const char *s;
    json_int_t from = 0, until = -1;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "patient", pk, sizeof pk, eb)) != CC_OK)
        return rc;
    const json_t *g = json_object_get(p, "grantee");
    if (!json_is_object(g) || json_object_size(g) != 1)
        return cc_errf(eb, CC_ERR_INVALID,
                       "\"grantee\" must be {\"identity\": hex id} or {\"org\": \"org-id\"}");
    if ((rc = cc_payload_only(g, grantee_fields, eb)) != CC_OK) return rc;
    rc = json_object_get(g, "identity") ? cc_payload_hex(g, "identity", pk, sizeof pk, eb)
                                        : cc_payload_str(g, "org", true, CC_RECORDS_ORG_MAX, &s, eb);
    if (rc != CC_OK) return rc;
    if ((rc = cc_payload_str_list(p, "actions", true, false, 2, action_valid, "\"read\" or \"write\"", eb)) !=
            CC_OK ||
        (rc = cc_payload_str_list(p, "purposes", true, false, PURPOSES_MAX, cc_purpose_valid,
                                  "a purpose of use (" CC_PURPOSES ")", eb)) != CC_OK ||
        (rc = cc_payload_str(p, "provision", true, 8, &s, eb)) != CC_OK)
        return rc;
    bool permit = strcmp(s, "permit") == 0;
    if (!permit && strcmp(s, "deny") != 0)
        return cc_errf(eb, CC_ERR_INVALID, "\"provision\" must be \"permit\" or \"deny\"");
    const json_t *scope = json_object_get(p, "scope");
    if (scope) {
        if (!json_is_object(scope))
            return cc_errf(
                eb, CC_ERR_INVALID,
                "\"scope\" must be an object of \"resourceTypes\", \"categories\" and \"records\"");
        if ((rc = cc_payload_only(scope, scope_fields, eb)) != CC_OK ||
            (rc = cc_payload_str_list(scope, "resourceTypes", false, true, CC_RECORDS_LIST_MAX,
                                      cc_records_resource_type_valid, "a FHIR resource type name", eb)) !=
                CC_OK ||
            (rc = cc_payload_str_list(scope, "categories", false, true, CC_RECORDS_LIST_MAX,
                                      cc_records_category_valid, "a category token ([a-z0-9-]{1,32})", eb)) !=
                CC_OK ||
            (rc = cc_payload_str_list(scope, "records", false, true, CC_RECORDS_LIST_MAX, record_id_valid,
                                      "a record id (32 lowercase hex digits)", eb)) != CC_OK)
            return rc;
    }
    const json_t *period = json_object_get(p, "period");
    if (period) {
        if (!json_is_object(period))
            return cc_errf(eb, CC_ERR_INVALID,
                           "\"period\" must be {\"from\": ms, \"until\": ms} (both optional)");
        if ((rc = cc_payload_only(period, period_fields, eb)) != CC_OK ||
            (rc = cc_payload_int(period, "from", false, 0, INT64_MAX, &from, eb)) != CC_OK ||
            (rc = cc_payload_int(period, "until", false, 0, INT64_MAX, &until, eb)) != CC_OK)
            return rc;
        if (until >= 0 && until <= from)
            return cc_errf(eb, CC_ERR_INVALID, "the period must end (\"until\") after it starts (\"from\")");
    }
    if (json_object_get(p, "trial") && (rc = research_check(p, permit, eb)) != CC_OK) return rc;
    if (json_object_get(p, "keys")) {
        if (!permit || !lists(p, "actions", "read"))
            return cc_errf(eb, CC_ERR_INVALID, "only a read permit carries \"keys\"");
        if ((rc = cc_payload_wrapped_keys(p, "keys", CC_RECORD_ID_BYTES, eb)) != CC_OK) return rc;
    }
    return CC_OK;
}

/* The grantee must exist: an active identity (not the patient), or an
 * organisation. A read permit's keys go to the grantee identity, or to the
 * organisation's records key holder (recipient). */
static cc_err grantee_check(cc_exec_ctx *ctx, bool read_permit, char recipient[CC_HASH_HEX])
{
    const json_t *g = json_object_get(ctx->payload, "grantee");
    const char *id = str(g, "identity"), *org = str(g, "org");
    json_t *o = NULL;
    cc_err rc = CC_OK;
    if (id) {
        if (strcmp(id, str(ctx->payload, "patient")) == 0)
            return cc_errf(ctx->eb, CC_ERR_INVALID, "a patient needs no consent to their own records");
        if (identity_get(ctx, id, &o) != CC_OK)
            return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "grantee %.12s… is not a registered identity", id);
        if (!is_active(o))
            rc = cc_errf(ctx->eb, CC_ERR_INVALID, "grantee %.12s… is not an active identity", id);
        json_decref(o);
        snprintf(recipient, CC_HASH_HEX, "%s", id);
        return rc;
    }
    char key[8 + CC_RECORDS_ORG_MAX + 1];
    snprintf(key, sizeof key, "org/%s", org);
    if (cc_state_get_json(ctx, key, &o) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "no organisation \"%s\"", org);
    json_decref(o);
    o = NULL;
    recipient[0] = '\0';
    if (!read_permit) return CC_OK;
    if ((rc = cc_records_org_key(cc_apps_reader, ctx, org, recipient)) != CC_OK)
        return cc_errf(ctx->eb, rc == CC_ERR_NOT_FOUND ? CC_ERR_INVALID : rc,
                       "organisation %s has no records key to wrap the data keys for", org);
    if (identity_get(ctx, recipient, &o) != CC_OK || !is_active(o))
        rc = cc_errf(
            ctx->eb, CC_ERR_INVALID,
            "the records key holder of organisation %s is not active (an admin sets another with org.key)",
            org);
    json_decref(o);
    return rc;
}

/* A read permit: its keys must be exactly one per active record of the
 * patient that it covers; each is added to its record for recipient. */
static cc_err add_keys(cc_exec_ctx *ctx, const char *patient, const char *recipient)
{
    const json_t *keys = json_object_get(ctx->payload, "keys"), *v;
    char list_key[16 + CC_HASH_HEX];
    json_t *ids = NULL, *covered = json_object();
    const char *id;
    size_t i;
    cc_err rc = covered ? CC_OK : CC_ERR_NOMEM;
    snprintf(list_key, sizeof list_key, "precs/%s", patient);
    if (rc == CC_OK && cc_state_get_json(ctx, list_key, &ids) != CC_OK) ids = NULL; /* no records yet */
    json_array_foreach(ids, i, v)
    {
        char key[8 + CC_HASH_HEX];
        json_t *rec = NULL;
        id = json_string_value(v);
        if (rc != CC_OK) break;
        snprintf(key, sizeof key, "rec/%.32s", id ? id : "");
        if (!id || cc_state_get_json(ctx, key, &rec) != CC_OK) continue;
        const char *status = str(rec, "status");
        if (status && strcmp(status, "active") == 0 &&
            cc_consent_covers(ctx->payload, str(rec, "resourceType"), str(rec, "category"), id)) {
            const char *wrapped = str(keys, id);
            if (!wrapped) {
                rc = cc_errf(ctx->eb, CC_ERR_INVALID,
                             "\"keys\" lacks the data key of record %.12s…, which this consent covers", id);
            } else {
                json_t *rk = json_object_get(rec, "keys");
                if (json_is_object(rk) && !json_object_get(rk, recipient)) { /* a key already there stays */
                    json_object_set_new(rk, recipient, json_string(wrapped));
                    rc = cc_state_put_json(ctx, key, rec);
                }
                json_object_set_new(covered, id, json_true());
            }
        }
        json_decref(rec);
    }
    json_object_foreach((json_t *)keys, id, v)
    {
        if (rc != CC_OK) break;
        if (!json_object_get(covered, id))
            rc = cc_errf(
                ctx->eb, CC_ERR_INVALID,
                "\"keys\" holds a key for record %.12s…, which is not an active record of the patient "
                "that this consent covers",
                id);
    }
    json_decref(ids);
    json_decref(covered);
    return rc;
}

static cc_err grant_apply(cc_exec_ctx *ctx)
{
    const json_t *p = ctx->payload;
    const char *patient = str(p, "patient");
    const json_t *until = json_object_get(json_object_get(p, "period"), "until");
    bool read_permit = strcmp(str(p, "provision"), "permit") == 0 && lists(p, "actions", "read");
    char recipient[CC_HASH_HEX], txid[CC_HASH_HEX], signer[CC_HASH_HEX], key[16 + CC_HASH_HEX];
    json_t *o = NULL;
    cc_err rc;

    if ((rc = signer_acts_for(ctx, patient)) != CC_OK) return rc;
    if (identity_get(ctx, patient, &o) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "patient %.12s… is not a registered identity", patient);
    const char *role = str(o, "role");
    rc = role && strcmp(role, "patient") == 0
             ? CC_OK
             : cc_errf(ctx->eb, CC_ERR_INVALID, "identity %.12s… is not a patient", patient);
    json_decref(o);
    if (rc != CC_OK) return rc;
    if (json_is_integer(until) && (uint64_t)json_integer_value(until) <= ctx->time_ms)
        return cc_errf(ctx->eb, CC_ERR_INVALID, "the consent's period ended (\"until\") before this block");
    if ((rc = grantee_check(ctx, read_permit, recipient)) != CC_OK) return rc;
    if (read_permit && (rc = add_keys(ctx, patient, recipient)) != CC_OK) return rc;

    json_t *c = json_deep_copy(p);
    if (!c) return CC_ERR_NOMEM;
    cc_hex(ctx->tx->txid, CC_HASH_BYTES, txid);
    json_object_del(c, "keys");
    json_object_set_new(c, "id", json_string(txid));
    json_object_set_new(c, "status", json_string("active"));
    json_object_set_new(c, "granted_by", json_string(cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, signer)));
    json_object_set_new(c, "granted_at", json_integer((json_int_t)ctx->time_ms));
    json_object_set_new(c, "height", json_integer((json_int_t)ctx->height));
    snprintf(key, sizeof key, "consent/%s", txid);
    rc = cc_state_put_json(ctx, key, c);
    json_decref(c);
    snprintf(key, sizeof key, "pconsents/%s", patient);
    return rc == CC_OK ? cc_apps_list_append(ctx, key, txid) : rc;
}

/* ---- consent.revoke ---------------------------------------------------------------- */

static cc_err revoke_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"consent", "reason", NULL};
    uint8_t id[CC_HASH_BYTES];
    const char *reason;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "consent", id, sizeof id, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "reason", false, CC_RECORDS_REASON_MAX, &reason, eb)) != CC_OK)
        return rc;
    return CC_OK;
}

/* After a read permit is revoked: take its recipient's wrapped key off every
 * record of the patient that no longer needs it (no other consent covers it
 * for them, and they are not the patient or the authoring organisation's
 * key). The key stays inside the committed grant tx, but the state no longer
 * lists the recipient as a reader, so break-glass through that key ends too. */
static cc_err withdraw_keys(cc_exec_ctx *ctx, const json_t *consent)
{
    const char *patient = str(consent, "patient");
    char recipient[CC_HASH_HEX], list_key[16 + CC_HASH_HEX];
    const json_t *grantee = json_object_get(consent, "grantee");
    json_t *ids = NULL, *v;
    size_t i;
    cc_err rc = CC_OK;
    if (str(grantee, "identity"))
        snprintf(recipient, sizeof recipient, "%.64s", str(grantee, "identity"));
    else if (cc_records_org_key(cc_apps_reader, ctx, str(grantee, "org"), recipient) != CC_OK)
        return CC_OK; /* no org key: no key was wrapped for it */
    snprintf(list_key, sizeof list_key, "precs/%s", patient);
    if (cc_state_get_json(ctx, list_key, &ids) != CC_OK) return CC_OK;
    json_array_foreach(ids, i, v)
    {
        char key[8 + CC_HASH_HEX];
        json_t *rec = NULL, *readers = NULL;
        const char *id = json_string_value(v);
        if (rc != CC_OK) break;
        snprintf(key, sizeof key, "rec/%.32s", id ? id : "");
        if (!id || cc_state_get_json(ctx, key, &rec) != CC_OK) continue;
        json_t *keys = json_object_get(rec, "keys");
        if (json_object_get(keys, recipient)) {
            rc = cc_records_required_readers(cc_apps_reader, ctx, patient, id, str(rec, "resourceType"),
                                             str(rec, "category"), str(rec, "org"), ctx->time_ms, &readers,
                                             ctx->eb);
            bool needed = false;
            size_t j;
            json_t *r;
            json_array_foreach(readers, j, r) needed |= strcmp(json_string_value(r), recipient) == 0;
            if (rc == CC_OK && !needed) {
                json_object_del(keys, recipient);
                rc = cc_state_put_json(ctx, key, rec);
            }
            json_decref(readers);
        }
        json_decref(rec);
    }
    json_decref(ids);
    return rc;
}

cc_err cc_consent_revoke(cc_exec_ctx *ctx, const char *id, const char *reason)
{
    char key[16 + CC_HASH_HEX], signer[CC_HASH_HEX];
    json_t *c = NULL;
    snprintf(key, sizeof key, "consent/%s", id);
    if (cc_state_get_json(ctx, key, &c) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "no consent %.12s…", id);
    const char *patient = str(c, "patient"), *status = str(c, "status");
    cc_err rc = patient ? signer_acts_for(ctx, patient)
                        : cc_errf(ctx->eb, CC_ERR_CORRUPT, "consent without a patient");
    if (rc == CC_OK && (!status || strcmp(status, "active") != 0))
        rc = cc_errf(ctx->eb, CC_ERR_CONFLICT, "consent %.12s… is already revoked", id);
    if (rc == CC_OK) {
        json_object_set_new(c, "status", json_string("revoked"));
        json_object_set_new(c, "revoked_at", json_integer((json_int_t)ctx->time_ms));
        json_object_set_new(c, "revoked_by", json_string(cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, signer)));
        if (reason) json_object_set_new(c, "revoke_reason", json_string(reason));
        rc = cc_state_put_json(ctx, key, c);
    }
    if (rc == CC_OK && strcmp(str(c, "provision"), "permit") == 0 && lists(c, "actions", "read"))
        rc = withdraw_keys(ctx, c);
    if (rc == CC_OK && str(c, "trial"))
        rc = cc_trials_consent_revoked(ctx, c, reason); /* ends participation */
    json_decref(c);
    return rc;
}

static cc_err revoke_apply(cc_exec_ctx *ctx)
{
    return cc_consent_revoke(ctx, str(ctx->payload, "consent"), str(ctx->payload, "reason"));
}

/* ---- patient.delegate ---------------------------------------------------------------- */

static cc_err delegate_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"delegate", "active", NULL};
    uint8_t pk[CC_PUBKEY_BYTES];
    bool active;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "delegate", pk, sizeof pk, eb)) != CC_OK ||
        (rc = cc_payload_bool(p, "active", true, &active, eb)) != CC_OK)
        return rc;
    return CC_OK;
}

static cc_err delegate_apply(cc_exec_ctx *ctx)
{
    const char *delegate = str(ctx->payload, "delegate");
    bool active = json_is_true(json_object_get(ctx->payload, "active"));
    char patient[CC_HASH_HEX], key[16 + 2 * CC_HASH_HEX];
    json_t *o = NULL;
    cc_err rc = CC_OK;
    cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, patient);
    if (strcmp(delegate, patient) == 0)
        return cc_errf(ctx->eb, CC_ERR_INVALID, "a patient cannot be their own delegate");
    if (active) {
        if (identity_get(ctx, delegate, &o) != CC_OK)
            return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "delegate %.12s… is not a registered identity",
                           delegate);
        if (!is_active(o))
            rc = cc_errf(ctx->eb, CC_ERR_INVALID, "delegate %.12s… is not an active identity", delegate);
        json_decref(o);
        o = NULL;
        if (rc != CC_OK) return rc;
    }
    snprintf(key, sizeof key, "delegate/%s/%s", patient, delegate);
    bool was = cc_state_get_json(ctx, key, &o) == CC_OK && json_is_true(json_object_get(o, "active"));
    json_decref(o);
    if (was == active)
        return cc_errf(ctx->eb, CC_ERR_CONFLICT,
                       active ? "%.12s… is already your delegate" : "%.12s… is not your delegate", delegate);
    o = json_pack("{s:b, s:I}", "active", active, "height", (json_int_t)ctx->height);
    rc = o ? cc_state_put_json(ctx, key, o) : CC_ERR_NOMEM;
    json_decref(o);
    return rc;
}

const cc_tx_type cc_consent_tx_types[] = {
    {"consent.grant", CC_ROLES_PEOPLE, grant_validate, grant_apply, NULL},
    {"consent.revoke", CC_ROLES_PEOPLE, revoke_validate, revoke_apply, NULL},
    {"patient.delegate", CC_ROLE_PATIENT, delegate_validate, delegate_apply, NULL},
    {NULL, 0, NULL, NULL, NULL},
};
