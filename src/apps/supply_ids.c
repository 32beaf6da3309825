/*
 * supply_ids.c — the identifier forms the supply chain's payloads use
 * ("<gtin14>.<serial>" units, 18-digit SSCCs) and the company prefix
 * lookup that ties a GTIN, SSCC or GLN to the organisation holding it.
 * Pure: state is read through a cc_state_reader.
 */
#include <stdio.h>
#include <string.h>

#include "apps/supply.h"

bool cc_supply_unit_split(const char *unit, char gtin[CC_GS1_GTIN_DIGITS + 1],
                          char serial[CC_GS1_SERIAL_MAX + 1])
{
    if (!cc_supply_unit_valid(unit)) return false;
    memcpy(gtin, unit, CC_GS1_GTIN_DIGITS);
    gtin[CC_GS1_GTIN_DIGITS] = '\0';
    snprintf(serial, CC_GS1_SERIAL_MAX + 1, "%s", unit + CC_GS1_GTIN_DIGITS + 1);
    return true;
}

bool cc_supply_unit_valid(const char *s)
{
    char gtin[CC_GS1_GTIN_DIGITS + 1];
    if (!s || strnlen(s, CC_GS1_GTIN_DIGITS + 1) < CC_GS1_GTIN_DIGITS + 1 || s[CC_GS1_GTIN_DIGITS] != '.')
        return false;
    memcpy(gtin, s, CC_GS1_GTIN_DIGITS);
    gtin[CC_GS1_GTIN_DIGITS] = '\0';
    return cc_gs1_gtin_valid(gtin) && cc_gs1_serial_valid(s + CC_GS1_GTIN_DIGITS + 1);
}

bool cc_supply_sscc_valid(const char *s)
{
    return s && cc_gs1_sscc_valid(s);
}

cc_err cc_supply_prefix_owner(cc_state_reader get, void *ctx, const char *digits, char org[64],
                              unsigned *prefix_len)
{
    char key[sizeof "dprefix/" + CC_GS1_PREFIX_MAX];
    for (unsigned len = CC_GS1_PREFIX_MIN; len <= CC_GS1_PREFIX_MAX; len++) {
        /* stop at the end of digits or at the first character that is not one */
        bool short_of = false;
        for (unsigned i = 0; i < len && !short_of; i++) short_of = digits[i] < '0' || digits[i] > '9';
        if (short_of) break;
        snprintf(key, sizeof key, "dprefix/%.*s", (int)len, digits);
        json_t *v = NULL;
        cc_err rc = get(ctx, key, &v);
        if (rc == CC_ERR_NOT_FOUND) continue;
        if (rc != CC_OK) return rc;
        const char *owner = json_string_value(json_object_get(v, "org"));
        if (!owner || strlen(owner) >= 64) {
            json_decref(v);
            return CC_ERR_CORRUPT;
        }
        snprintf(org, 64, "%s", owner);
        if (prefix_len) *prefix_len = len;
        json_decref(v);
        return CC_OK;
    }
    return CC_ERR_NOT_FOUND;
}

cc_err cc_supply_event_txid(const char *ev, uint8_t txid[CC_HASH_BYTES])
{
    char hex[CC_HASH_HEX];
    if (strnlen(ev, CC_HASH_HEX - 1) < CC_HASH_HEX - 1) return CC_ERR_INVALID;
    memcpy(hex, ev, CC_HASH_HEX - 1);
    hex[CC_HASH_HEX - 1] = '\0';
    return cc_unhex(hex, txid, CC_HASH_BYTES) == CC_OK ? CC_OK : CC_ERR_INVALID;
}
