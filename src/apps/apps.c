/*
 * apps.c — the registry of tx types: every module's table, one line each,
 * and the payload helpers the modules share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apps/apps.h"
#include "carechain/chain.h"
#include "carechain/records.h"

static const cc_tx_type *const modules[] = {
    cc_identity_tx_types, /* member.register, member.revoke */
    cc_note_tx_types,     /* note.put */
    cc_network_tx_types,  /* network.propose, network.approve */
    cc_consent_tx_types,  /* consent.grant, consent.revoke, patient.delegate */
    cc_records_tx_types,  /* record.put, record.erase, org.key */
    cc_audit_tx_types,    /* audit.access */
    cc_claims_tx_types,   /* plan.deploy, coverage.enroll, claim.submit, priorauth.decide, payment.settle */
    cc_supply_tx_types,   /* drug.*, epcis.capture (docs/SUPPLY.md) */
    cc_trials_tx_types,   /* trial.register, .amend, .enroll, .withdraw, .results (docs/TRIALS.md) */
};

const cc_tx_type *cc_tx_type_find(const char *name)
{
    for (size_t m = 0; m < sizeof modules / sizeof modules[0]; m++)
        for (const cc_tx_type *t = modules[m]; t->name; t++)
            if (strcmp(t->name, name) == 0) return t;
    return NULL;
}

cc_err cc_apps_genesis(cc_exec_ctx *ctx)
{
    cc_err rc = cc_network_genesis(ctx);
    return rc == CC_OK ? cc_records_genesis(ctx) : rc;
}

cc_err cc_apps_reader(void *ctx, const char *key, json_t **out)
{
    return cc_state_get_json(ctx, key, out);
}

cc_err cc_apps_list_append(cc_exec_ctx *ctx, const char *key, const char *s)
{
    json_t *list = NULL;
    cc_err rc = cc_state_get_json(ctx, key, &list);
    if (rc == CC_ERR_NOT_FOUND)
        list = json_array();
    else if (rc != CC_OK)
        return cc_errf(ctx->eb, rc, "cannot read %s", key);
    if (!list) return CC_ERR_NOMEM;
    if (!json_is_array(list)) {
        json_decref(list);
        return cc_errf(ctx->eb, CC_ERR_CORRUPT, "%s is not a JSON array", key);
    }
    rc = json_array_append_new(list, json_string(s)) == 0 ? cc_state_put_json(ctx, key, list) : CC_ERR_NOMEM;
    json_decref(list);
    return rc;
}

cc_err cc_payload_validate(const char *type, const uint8_t *payload, size_t len, cc_errbuf *eb)
{
    const cc_tx_type *t = cc_tx_type_find(type);
    if (!t) return cc_errf(eb, CC_ERR_UNKNOWN_TYPE, "no tx type \"%s\"", type);
    json_t *p = cc_json_parse(payload, len, eb);
    if (!p) return CC_ERR_MALFORMED;
    cc_err rc = json_is_object(p) ? t->validate(p, eb)
                                  : cc_errf(eb, CC_ERR_MALFORMED, "payload must be a JSON object");
    json_decref(p);
    return rc;
}

cc_err cc_payload_only(const json_t *p, const char *const *allowed, cc_errbuf *eb)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)p, k, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], k) != 0) i++;
        if (!allowed[i]) return cc_errf(eb, CC_ERR_INVALID, "unknown payload field \"%s\"", k);
    }
    return CC_OK;
}

cc_err cc_payload_str(const json_t *p, const char *field, bool required, size_t max, const char **out,
                      cc_errbuf *eb)
{
    json_t *v = json_object_get(p, field);
    *out = NULL;
    if (!v) return required ? cc_errf(eb, CC_ERR_INVALID, "payload needs \"%s\"", field) : CC_OK;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
        return cc_errf(eb, CC_ERR_INVALID, "\"%s\" must be a string of 1..%zu bytes", field, max);
    for (const char *c = json_string_value(v); *c; c++)
        if ((unsigned char)*c < 0x20)
            return cc_errf(eb, CC_ERR_INVALID, "\"%s\" holds a control character", field);
    *out = json_string_value(v);
    return CC_OK;
}

cc_err cc_payload_hex(const json_t *p, const char *field, uint8_t *out, size_t n, cc_errbuf *eb)
{
    const char *s = json_string_value(json_object_get(p, field));
    if (!s || cc_unhex(s, out, n) != CC_OK)
        return cc_errf(eb, CC_ERR_INVALID, "\"%s\" must be %zu hex digits", field, 2 * n);
    for (const char *c = s; *c; c++)
        if (*c >= 'A' && *c <= 'F') return cc_errf(eb, CC_ERR_INVALID, "\"%s\" must be lowercase hex", field);
    return CC_OK;
}

cc_err cc_payload_int(const json_t *p, const char *field, bool required, json_int_t min, json_int_t max,
                      json_int_t *out, cc_errbuf *eb)
{
    json_t *v = json_object_get(p, field);
    if (!v) return required ? cc_errf(eb, CC_ERR_INVALID, "payload needs \"%s\"", field) : CC_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return cc_errf(eb, CC_ERR_INVALID, "\"%s\" must be an integer from %lld to %lld", field,
                       (long long)min, (long long)max);
    *out = json_integer_value(v);
    return CC_OK;
}

cc_err cc_payload_bool(const json_t *p, const char *field, bool required, bool *out, cc_errbuf *eb)
{
    json_t *v = json_object_get(p, field);
    if (!v) return required ? cc_errf(eb, CC_ERR_INVALID, "payload needs \"%s\"", field) : CC_OK;
    if (!json_is_boolean(v)) return cc_errf(eb, CC_ERR_INVALID, "\"%s\" must be true or false", field);
    *out = json_is_true(v);
    return CC_OK;
}

cc_err cc_payload_str_list(const json_t *p, const char *field, bool required, bool allow_empty,
                           size_t max_count, bool (*valid)(const char *s), const char *what, cc_errbuf *eb)
{
    json_t *v = json_object_get(p, field), *x;
    size_t i;
    if (!v) return required ? cc_errf(eb, CC_ERR_INVALID, "payload needs \"%s\"", field) : CC_OK;
    if (!json_is_array(v) || (!allow_empty && json_array_size(v) == 0) || json_array_size(v) > max_count)
        return cc_errf(eb, CC_ERR_INVALID, "\"%s\" must be an array of %d..%zu entries, each %s", field,
                       allow_empty ? 0 : 1, max_count, what);
    json_array_foreach(v, i, x)
    {
        const char *s = json_string_value(x);
        if (!s || !valid(s)) return cc_errf(eb, CC_ERR_INVALID, "\"%s\" entry %zu is not %s", field, i, what);
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(v, j)), s) == 0)
                return cc_errf(eb, CC_ERR_INVALID, "\"%s\" lists \"%.64s\" twice", field, s);
    }
    return CC_OK;
}

bool cc_hex_id_valid(const char *s, size_t n)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (i >= 2 * n || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return i == 2 * n;
}

cc_err cc_payload_wrapped_keys(const json_t *p, const char *field, size_t id_bytes, cc_errbuf *eb)
{
    json_t *v = json_object_get(p, field), *x;
    const char *id;
    if (!json_is_object(v) || json_object_size(v) == 0)
        return cc_errf(eb, CC_ERR_INVALID, "\"%s\" must be a non-empty object of wrapped keys", field);
    json_object_foreach(v, id, x)
    {
        uint8_t *raw = NULL;
        size_t n = 0;
        if (!cc_hex_id_valid(id, id_bytes))
            return cc_errf(eb, CC_ERR_INVALID, "\"%s\" must be keyed by ids of %zu lowercase hex digits",
                           field, 2 * id_bytes);
        if (!json_is_string(x) || cc_unbase64(json_string_value(x), &raw, &n) != CC_OK)
            return cc_errf(eb, CC_ERR_INVALID, "the wrapped key for %.12s… in \"%s\" is not base64", id,
                           field);
        free(raw);
        if (n != CC_WRAPPED_KEY_BYTES)
            return cc_errf(eb, CC_ERR_INVALID, "the wrapped key for %.12s… in \"%s\" is %zu bytes, not %d",
                           id, field, n, CC_WRAPPED_KEY_BYTES);
    }
    return CC_OK;
}

const char *cc_apps_time(int64_t ms, bool date_only, char out[CC_APPS_TIME_BYTES])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) memset(&tm, 0, sizeof tm);
    if (date_only)
        snprintf(out, CC_APPS_TIME_BYTES, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    else
        snprintf(out, CC_APPS_TIME_BYTES, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return out;
}
