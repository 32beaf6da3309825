/*
 * apps.c — the registry of tx types: every module's table, one line each,
 * and the payload helpers the modules share.
 */
#include <string.h>

#include "apps/apps.h"
#include "carechain/chain.h"

static const cc_tx_type *const modules[] = {
    cc_identity_tx_types,
    cc_note_tx_types,
    cc_network_tx_types,
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
    return cc_network_genesis(ctx);
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
