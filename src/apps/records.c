/*
 * records.c — encrypted health records on the ledger: record.put (a new
 * record or its next version), record.erase (crypto-shredding), org.key
 * (an organisation's records key), and the genesis records keys.
 *
 * The ledger never sees a record's content: the ciphertext is the tx's
 * attachment, the payload names its SHA-256, and the data key is wrapped
 * for exactly the readers cc_records_required_readers names (the patient,
 * the authoring organisation's records key, every read-permit consent that
 * covers the record). Erasure deletes every version's attachment bytes and
 * the wrapped keys; the metadata stays, so the chain still verifies.
 *
 * State (docs/RECORDS.md):
 *   rec/<record>      {record, patient, resourceType, category, version, txid,
 *                      ciphertext, author, org, created, updated, status,
 *                      keys, versions: [{version, txid, ciphertext, time}]}
 *   precs/<patient>   [record ids, in creation order]
 *   orgkey/<org>      {"key": hex id, "height": h}
 *
 * Record:  (none) --put v1--> active --put v(n+1)--> active
 *                               \--erase--> erased (final)
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps.h"
#include "carechain/records.h"

#define REC_KEY_BYTES (4 + 2 * CC_RECORD_ID_BYTES + 1)

static const char *str(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(o, field));
}

/* ---- genesis: each organisation's first admin holds its records key -------- */

cc_err cc_records_genesis(cc_exec_ctx *ctx)
{
    const cc_genesis *g = ctx->genesis;
    cc_err rc = CC_OK;
    for (size_t o = 0; o < g->org_count && rc == CC_OK; o++) {
        for (size_t i = 0; i < g->identity_count; i++) {
            const cc_genesis_identity *id = &g->identities[i];
            if (strcmp(id->org, g->orgs[o].id) != 0 || strcmp(id->role, "admin") != 0) continue;
            char hex[CC_HASH_HEX], key[16 + sizeof g->orgs[o].id];
            json_t *v =
                json_pack("{s:s, s:I}", "key", cc_hex(id->pk, CC_PUBKEY_BYTES, hex), "height", (json_int_t)0);
            snprintf(key, sizeof key, "orgkey/%s", g->orgs[o].id);
            rc = v ? cc_state_put_json(ctx, key, v) : CC_ERR_NOMEM;
            json_decref(v);
            break;
        }
    }
    return rc;
}

/* ---- org.key -------------------------------------------------------------------- */

static cc_err orgkey_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"key", NULL};
    uint8_t pk[CC_PUBKEY_BYTES];
    cc_err rc = cc_payload_only(p, fields, eb);
    return rc == CC_OK ? cc_payload_hex(p, "key", pk, sizeof pk, eb) : rc;
}

static cc_err orgkey_apply(cc_exec_ctx *ctx)
{
    const char *id = str(ctx->payload, "key"), *org = ctx->signer->org;
    char key[16 + sizeof ctx->signer->org], current[CC_HASH_HEX];
    json_t *who = NULL;
    cc_err rc;
    snprintf(key, sizeof key, "id/%s", id);
    if (cc_state_get_json(ctx, key, &who) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "identity %.12s… is not registered", id);
    const char *who_org = str(who, "org"), *status = str(who, "status");
    if (!who_org || strcmp(who_org, org) != 0)
        rc = cc_errf(ctx->eb, CC_ERR_FORBIDDEN, "identity %.12s… is not of organisation %s", id, org);
    else if (!status || strcmp(status, "active") != 0)
        rc = cc_errf(ctx->eb, CC_ERR_INVALID, "identity %.12s… is not active", id);
    else if (cc_records_org_key(cc_apps_reader, ctx, org, current) == CC_OK && strcmp(current, id) == 0)
        rc =
            cc_errf(ctx->eb, CC_ERR_CONFLICT, "identity %.12s… already holds the records key of %s", id, org);
    else
        rc = CC_OK;
    json_decref(who);
    if (rc != CC_OK) return rc;
    json_t *v = json_pack("{s:s, s:I}", "key", id, "height", (json_int_t)ctx->height);
    snprintf(key, sizeof key, "orgkey/%s", org);
    rc = v ? cc_state_put_json(ctx, key, v) : CC_ERR_NOMEM;
    json_decref(v);
    return rc;
}

/* ---- record.put ------------------------------------------------------------------ */

static cc_err put_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"record",  "patient",  "resourceType", "category", "purpose",
                                         "version", "replaces", "ciphertext",   "keys",     NULL};
    uint8_t id[CC_RECORD_ID_BYTES], pk[CC_PUBKEY_BYTES], h[CC_HASH_BYTES];
    const char *rtype, *cat, *purpose;
    json_int_t version = 0;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "record", id, sizeof id, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "patient", pk, sizeof pk, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "resourceType", true, 64, &rtype, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "category", true, 32, &cat, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "purpose", true, 16, &purpose, eb)) != CC_OK ||
        (rc = cc_payload_int(p, "version", true, 1, UINT32_MAX, &version, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "ciphertext", h, sizeof h, eb)) != CC_OK ||
        (rc = cc_payload_wrapped_keys(p, "keys", CC_PUBKEY_BYTES, eb)) != CC_OK)
        return rc;
    if (!cc_records_resource_type_valid(rtype))
        return cc_errf(eb, CC_ERR_INVALID,
                       "\"resourceType\" must be a FHIR resource type name ([A-Z][A-Za-z]{1,63})");
    if (!cc_records_category_valid(cat))
        return cc_errf(eb, CC_ERR_INVALID, "\"category\" must be a token of 1..32 of [a-z0-9-]");
    if (!cc_purpose_valid(purpose))
        return cc_errf(eb, CC_ERR_INVALID, "\"purpose\" must be one of %s", CC_PURPOSES);
    if (version == 1 && json_object_get(p, "replaces"))
        return cc_errf(eb, CC_ERR_INVALID, "version 1 replaces nothing: \"replaces\" must be absent");
    if (version > 1 && !json_object_get(p, "replaces"))
        return cc_errf(eb, CC_ERR_INVALID, "version %lld needs \"replaces\": the txid of version %lld",
                       (long long)version, (long long)version - 1);
    return version > 1 ? cc_payload_hex(p, "replaces", h, sizeof h, eb) : CC_OK;
}

/* The rules between the current version (old; NULL when there is none)
 * and the one being written. */
static cc_err version_check(cc_exec_ctx *ctx, const json_t *old)
{
    const json_t *p = ctx->payload;
    const char *id = str(p, "record");
    json_int_t version = json_integer_value(json_object_get(p, "version"));
    if (!old)
        return version == 1 ? CC_OK
                            : cc_errf(ctx->eb, CC_ERR_NOT_FOUND,
                                      "record %.12s… does not exist: its first put must be version 1", id);
    json_int_t current = json_integer_value(json_object_get(old, "version"));
    const char *status = str(old, "status"), *txid = str(old, "txid");
    if (status && strcmp(status, "erased") == 0)
        return cc_errf(ctx->eb, CC_ERR_GONE, "record %.12s… was erased and cannot be updated", id);
    if (version == 1)
        return cc_errf(ctx->eb, CC_ERR_CONFLICT, "record %.12s… already exists (it is at version %lld)", id,
                       (long long)current);
    if (version != current + 1)
        return cc_errf(ctx->eb, CC_ERR_CONFLICT,
                       "record %.12s… is at version %lld: the next is %lld, not %lld", id, (long long)current,
                       (long long)current + 1, (long long)version);
    if (!txid || strcmp(txid, str(p, "replaces")) != 0)
        return cc_errf(ctx->eb, CC_ERR_CONFLICT,
                       "\"replaces\" must be %.12s…, the txid of version %lld of record %.12s…",
                       txid ? txid : "?", (long long)current, id);
    if (!str(old, "patient") || strcmp(str(old, "patient"), str(p, "patient")) != 0)
        return cc_errf(ctx->eb, CC_ERR_INVALID, "the patient of record %.12s… cannot change", id);
    if (!str(old, "resourceType") || strcmp(str(old, "resourceType"), str(p, "resourceType")) != 0)
        return cc_errf(ctx->eb, CC_ERR_INVALID, "the resource type of record %.12s… cannot change (it is %s)",
                       id, str(old, "resourceType") ? str(old, "resourceType") : "?");
    return CC_OK;
}

/* A clinician writes with a write consent of the patient that covers the
 * record as it is (old) and as it will be, for the payload's purpose. */
static cc_err write_permitted(cc_exec_ctx *ctx, const json_t *old)
{
    const json_t *p = ctx->payload;
    json_t *next = json_pack("{s:O, s:O, s:O, s:O}", "record", json_object_get(p, "record"), "patient",
                             json_object_get(p, "patient"), "resourceType",
                             json_object_get(p, "resourceType"), "category", json_object_get(p, "category"));
    if (!next) return CC_ERR_NOMEM;
    cc_access_request rq = {.patient = str(p, "patient"),
                            .action = CC_ACCESS_WRITE,
                            .purpose = str(p, "purpose"),
                            .now_ms = ctx->time_ms};
    cc_access_decision d = {0};
    memcpy(rq.requester, ctx->signer->pk, CC_PUBKEY_BYTES);
    cc_err rc = CC_OK;
    for (int pass = 0; pass < 2 && rc == CC_OK; pass++) {
        rq.record = pass == 0 ? next : old;
        if (!rq.record) break;
        if ((rc = cc_access_decide(cc_apps_reader, ctx, &rq, &d)) != CC_OK)
            rc = cc_errf(ctx->eb, rc, "cannot read the patient's consents");
        else if (!d.permit)
            rc = cc_errf(ctx->eb, CC_ERR_FORBIDDEN, "%s", d.reason);
    }
    json_decref(next);
    return rc;
}

/* The payload's wrapped keys must be for exactly the required readers. */
static cc_err keys_exact(cc_exec_ctx *ctx, const json_t *keys, const json_t *readers, const char *org_key)
{
    const char *patient = str(ctx->payload, "patient"), *reader;
    size_t i;
    json_t *v;
    json_array_foreach(readers, i, v)
    {
        reader = json_string_value(v);
        if (!json_object_get(keys, reader))
            return cc_errf(ctx->eb, CC_ERR_INVALID, "\"keys\" lacks the data key wrapped for %.12s… (%s)",
                           reader,
                           strcmp(reader, patient) == 0              ? "the patient"
                           : org_key && strcmp(reader, org_key) == 0 ? "the organisation's records key"
                                                                     : "the grantee of a read consent");
    }
    json_object_foreach((json_t *)keys, reader, v)
    {
        bool wanted = false;
        json_t *r;
        size_t j;
        json_array_foreach(readers, j, r) wanted = wanted || strcmp(json_string_value(r), reader) == 0;
        if (!wanted)
            return cc_errf(
                ctx->eb, CC_ERR_INVALID,
                "\"keys\" holds a key for %.12s…, who is not a reader of this record (the patient, the "
                "organisation's records key and read-consent grantees are)",
                reader);
    }
    return CC_OK;
}

/* Is patient a registered, active patient identity? */
static cc_err patient_check(cc_exec_ctx *ctx, const char *patient)
{
    char key[8 + CC_HASH_HEX];
    json_t *o = NULL;
    snprintf(key, sizeof key, "id/%s", patient);
    if (cc_state_get_json(ctx, key, &o) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "patient %.12s… is not a registered identity", patient);
    const char *role = str(o, "role"), *status = str(o, "status");
    cc_err rc = !role || strcmp(role, "patient") != 0
                    ? cc_errf(ctx->eb, CC_ERR_INVALID, "identity %.12s… is not a patient", patient)
                : !status || strcmp(status, "active") != 0
                    ? cc_errf(ctx->eb, CC_ERR_INVALID, "patient %.12s…'s identity was revoked", patient)
                    : CC_OK;
    json_decref(o);
    return rc;
}

static cc_err put_apply(cc_exec_ctx *ctx)
{
    const json_t *p = ctx->payload;
    const char *id = str(p, "record"), *patient = str(p, "patient"), *ciphertext = str(p, "ciphertext");
    const char *org = ctx->signer->role == CC_ROLE_PATIENT ? "" : ctx->signer->org;
    json_int_t version = json_integer_value(json_object_get(p, "version"));
    char signer[CC_HASH_HEX], txid[CC_HASH_HEX], org_key[CC_HASH_HEX] = "", key[REC_KEY_BYTES];
    uint8_t ct[CC_HASH_BYTES];
    json_t *old = NULL, *readers = NULL, *rec = NULL, *versions = NULL;
    cc_err rc;

    cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, signer);
    cc_hex(ctx->tx->txid, CC_HASH_BYTES, txid);
    /* the bytes may be absent here (a replay, a block fetched in catch-up);
     * the hash the tx signs never is */
    if (!ctx->tx->has_attachment)
        return cc_errf(ctx->eb, CC_ERR_ATTACHMENT,
                       "record.put must carry the record's ciphertext as its attachment");
    if (cc_unhex(ciphertext, ct, sizeof ct) != CC_OK ||
        memcmp(ct, ctx->tx->attachment_hash, CC_HASH_BYTES) != 0)
        return cc_errf(ctx->eb, CC_ERR_ATTACHMENT, "the attachment's SHA-256 differs from \"ciphertext\"");
    if ((rc = patient_check(ctx, patient)) != CC_OK) return rc;
    if (ctx->signer->role == CC_ROLE_PATIENT && strcmp(signer, patient) != 0)
        return cc_errf(ctx->eb, CC_ERR_FORBIDDEN, "a patient writes only their own records");

    snprintf(key, sizeof key, "rec/%s", id);
    rc = cc_state_get_json(ctx, key, &old);
    if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) return cc_errf(ctx->eb, rc, "cannot read record %.12s…", id);
    if ((rc = version_check(ctx, old)) != CC_OK) goto done;
    if (ctx->signer->role != CC_ROLE_PATIENT && (rc = write_permitted(ctx, old)) != CC_OK) goto done;
    if ((rc = cc_records_required_readers(cc_apps_reader, ctx, patient, id, str(p, "resourceType"),
                                          str(p, "category"), org, ctx->time_ms, &readers, ctx->eb)) != CC_OK)
        goto done;
    if (*org && cc_records_org_key(cc_apps_reader, ctx, org, org_key) != CC_OK) org_key[0] = '\0';
    if ((rc = keys_exact(ctx, json_object_get(p, "keys"), readers, org_key)) != CC_OK) goto done;

    versions = old ? json_deep_copy(json_object_get(old, "versions")) : json_array();
    if (!json_is_array(versions)) {
        rc = versions ? cc_errf(ctx->eb, CC_ERR_CORRUPT, "record %.12s… has no version list", id)
                      : CC_ERR_NOMEM;
        goto done;
    }
    json_array_append_new(versions, json_pack("{s:I, s:s, s:s, s:I}", "version", version, "txid", txid,
                                              "ciphertext", ciphertext, "time", (json_int_t)ctx->time_ms));
    json_int_t created = old ? json_integer_value(json_object_get(old, "created")) : (json_int_t)ctx->time_ms;
    rec =
        json_pack("{s:s, s:s, s:O, s:O, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:O, s:O}", "record", id,
                  "patient", patient, "resourceType", json_object_get(p, "resourceType"), "category",
                  json_object_get(p, "category"), "version", version, "txid", txid, "ciphertext", ciphertext,
                  "author", signer, "org", org, "created", created, "updated", (json_int_t)ctx->time_ms,
                  "status", "active", "keys", json_object_get(p, "keys"), "versions", versions);
    if (!rec) {
        rc = CC_ERR_NOMEM;
        goto done;
    }
    if ((rc = cc_state_put_json(ctx, key, rec)) != CC_OK) goto done;
    if (!old) {
        char list[16 + CC_HASH_HEX];
        snprintf(list, sizeof list, "precs/%s", patient);
        rc = cc_apps_list_append(ctx, list, id);
    }
done:
    json_decref(old);
    json_decref(readers);
    json_decref(versions);
    json_decref(rec);
    return rc;
}

/* ---- record.erase ------------------------------------------------------------------ */

static cc_err erase_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"record", "reason", NULL};
    uint8_t id[CC_RECORD_ID_BYTES];
    const char *reason;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "record", id, sizeof id, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "reason", true, CC_RECORDS_REASON_MAX, &reason, eb)) != CC_OK)
        return rc;
    return CC_OK;
}

/* May the signer erase rec: the patient, a delegate, or an admin or
 * clinician of the authoring organisation? */
static cc_err erase_permitted(cc_exec_ctx *ctx, const json_t *rec, bool *ok)
{
    const char *patient = str(rec, "patient"), *org = str(rec, "org");
    *ok = org && *org && strcmp(org, ctx->signer->org) == 0 &&
          (ctx->signer->role & (CC_ROLE_ADMIN | CC_ROLE_CLINICIAN));
    if (*ok || !patient) return CC_OK;
    return cc_access_is_patient_or_delegate(cc_apps_reader, ctx, patient, ctx->signer->pk, ok);
}

static cc_err erase_apply(cc_exec_ctx *ctx)
{
    const char *id = str(ctx->payload, "record");
    char key[REC_KEY_BYTES], signer[CC_HASH_HEX];
    json_t *rec = NULL, *v;
    size_t i;
    bool ok = false;
    snprintf(key, sizeof key, "rec/%s", id);
    if (cc_state_get_json(ctx, key, &rec) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "no record %.12s…", id);
    const char *status = str(rec, "status");
    cc_err rc = erase_permitted(ctx, rec, &ok);
    if (rc != CC_OK)
        rc = cc_errf(ctx->eb, rc, "cannot read the patient's delegates");
    else if (!ok)
        rc = cc_errf(ctx->eb, CC_ERR_FORBIDDEN,
                     "only the patient, a delegate of the patient, or an admin or clinician of the authoring "
                     "organisation may erase record %.12s…",
                     id);
    else if (status && strcmp(status, "erased") == 0)
        rc = cc_errf(ctx->eb, CC_ERR_GONE, "record %.12s… was already erased", id);
    json_array_foreach(json_object_get(rec, "versions"), i, v)
    {
        uint8_t h[CC_HASH_BYTES];
        if (rc != CC_OK) break;
        if (cc_unhex(str(v, "ciphertext"), h, sizeof h) != CC_OK)
            rc = cc_errf(ctx->eb, CC_ERR_CORRUPT, "record %.12s… holds a malformed ciphertext hash", id);
        else
            rc = cc_exec_erase_attachment(ctx, h);
    }
    if (rc == CC_OK) {
        json_object_set_new(rec, "status", json_string("erased"));
        json_object_set_new(rec, "erased_at", json_integer((json_int_t)ctx->time_ms));
        json_object_set_new(rec, "erased_by", json_string(cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, signer)));
        json_object_set_new(rec, "keys", json_object());
        rc = cc_state_put_json(ctx, key, rec);
    }
    json_decref(rec);
    return rc;
}

const cc_tx_type cc_records_tx_types[] = {
    {"record.put", CC_ROLE_CLINICIAN | CC_ROLE_PATIENT, put_validate, put_apply, NULL},
    {"record.erase", CC_ROLES_PEOPLE, erase_validate, erase_apply, NULL},
    {"org.key", CC_ROLE_ADMIN, orgkey_validate, orgkey_apply, NULL},
    {NULL, 0, NULL, NULL, NULL},
};
