/*
 * identity.c — who may act on the ledger: member.register and member.revoke.
 *
 * An organisation's admin registers identities into the admin's own
 * organisation with one role, and may revoke them. Identities live in the
 * state under "id/<hex public key>". Patients are pseudonymous: a patient
 * identity carries no name. Ids are never reused, not even after revocation.
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps.h"

#define NAME_MAX_BYTES   64
#define REASON_MAX_BYTES 200

static cc_err register_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"id", "role", "name", NULL};
    uint8_t pk[CC_PUBKEY_BYTES];
    const char *role, *name;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "id", pk, sizeof pk, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "role", true, 16, &role, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "name", false, NAME_MAX_BYTES, &name, eb)) != CC_OK)
        return rc;
    unsigned r = cc_role_parse(role);
    if (!r || r == CC_ROLE_NODE)
        return cc_errf(eb, CC_ERR_INVALID, "\"%s\" is not a role that can be registered", role);
    if (r == CC_ROLE_PATIENT && name)
        return cc_errf(eb, CC_ERR_INVALID,
                       "patients are pseudonymous: a patient identity has no name on the ledger");
    return CC_OK;
}

static cc_err register_apply(cc_exec_ctx *ctx)
{
    const char *id = json_string_value(json_object_get(ctx->payload, "id"));
    const char *name = json_string_value(json_object_get(ctx->payload, "name"));
    char key[80], signer_hex[CC_HASH_HEX];
    json_t *old = NULL;
    snprintf(key, sizeof key, "id/%s", id);
    if (cc_state_get_json(ctx, key, &old) == CC_OK) {
        const char *status = json_string_value(json_object_get(old, "status"));
        cc_err rc =
            cc_errf(ctx->eb, CC_ERR_CONFLICT, "identity %.12s… is already registered (%s)", id, status);
        json_decref(old);
        return rc;
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s}", "role",
                          json_string_value(json_object_get(ctx->payload, "role")), "org", ctx->signer->org,
                          "status", "active", "since", (json_int_t)ctx->height, "registered_by",
                          cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, signer_hex));
    if (!o) return CC_ERR_NOMEM;
    if (name) json_object_set_new(o, "name", json_string(name));
    cc_err rc = cc_state_put_json(ctx, key, o);
    json_decref(o);
    return rc;
}

static cc_err revoke_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"id", "reason", NULL};
    uint8_t pk[CC_PUBKEY_BYTES];
    const char *reason;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "id", pk, sizeof pk, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "reason", false, REASON_MAX_BYTES, &reason, eb)) != CC_OK)
        return rc;
    return CC_OK;
}

static cc_err revoke_apply(cc_exec_ctx *ctx)
{
    const char *id = json_string_value(json_object_get(ctx->payload, "id"));
    const char *reason = json_string_value(json_object_get(ctx->payload, "reason"));
    char key[80];
    json_t *o = NULL;
    cc_err rc;
    snprintf(key, sizeof key, "id/%s", id);
    if (cc_state_get_json(ctx, key, &o) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "identity %.12s… is not registered", id);
    const char *org = json_string_value(json_object_get(o, "org"));
    const char *role = json_string_value(json_object_get(o, "role"));
    const char *status = json_string_value(json_object_get(o, "status"));
    if (!org || strcmp(org, ctx->signer->org) != 0) {
        rc = cc_errf(ctx->eb, CC_ERR_FORBIDDEN, "identity %.12s… belongs to another organisation", id);
    } else if (role && strcmp(role, "node") == 0) {
        rc = cc_errf(ctx->eb, CC_ERR_FORBIDDEN,
                     "a node's key is changed by network governance, not member.revoke");
    } else if (status && strcmp(status, "revoked") == 0) {
        rc = cc_errf(ctx->eb, CC_ERR_CONFLICT, "identity %.12s… is already revoked", id);
    } else {
        json_object_set_new(o, "status", json_string("revoked"));
        json_object_set_new(o, "revoked_at", json_integer((json_int_t)ctx->height));
        if (reason) json_object_set_new(o, "revoke_reason", json_string(reason));
        rc = cc_state_put_json(ctx, key, o);
    }
    json_decref(o);
    return rc;
}

const cc_tx_type cc_identity_tx_types[] = {
    {"member.register", CC_ROLE_ADMIN, register_validate, register_apply, NULL},
    {"member.revoke", CC_ROLE_ADMIN, revoke_validate, revoke_apply, NULL},
    {NULL, 0, NULL, NULL, NULL},
};
