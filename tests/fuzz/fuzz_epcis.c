/*
 * fuzz_epcis.c — libFuzzer target for EPCIS 2.0 capture (src/apps/epcis.c).
 * Any pharmacy's or wholesaler's system posts EPCIS documents, and every
 * node maps the captured document again when it applies epcis.capture, so
 * the mapping must hold up on any bytes.
 *
 * The input is a document's bytes, parsed as POST /v1/epcis/capture parses
 * them. Over a small fixed state (two company prefixes, a product, a
 * shipment) the target checks:
 *   - nothing crashes; a refusal says why and starts with the JSON path of
 *     the fault ("$"), and leaves no output;
 *   - mapping the same document twice gives the same txs (it reads the
 *     state only, and the same state);
 *   - every tx the mapping gives is a payload its type's validation
 *     accepts, in canonical form: what capture hands on is what the
 *     lifecycle handlers would accept from a client;
 *   - every such tx renders back as an EPCIS event (or as nothing, for
 *     the types that stand for none) without crashing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/supply.h"
#include "carechain.h"
#include "carechain/chain.h"
#include "fuzz/fuzz.h"

/* The fake ledger state: key -> value, as the state reader hands it out. */
static const char state_text[] =
    "{\"dprefix/0614141\":{\"org\":\"pharma\"},\"dprefix/0012345\":{\"org\":\"distributor\"},"
    "\"dproduct/10614141073464\":{\"gtin\":\"10614141073464\",\"prefix\":\"0614141\",\"org\":\"pharma\"},"
    "\"dship/abababababababababababababababababababababababababababababababab\":"
    "{\"from\":\"pharma\",\"to\":\"distributor\"}}";

#define TXID "abababababababababababababababababababababababababababababababab"

static cc_err fake_get(void *ctx, const char *key, json_t **out)
{
    json_t *v = json_object_get((json_t *)ctx, key);
    if (!v) return CC_ERR_NOT_FOUND;
    *out = json_incref(v);
    return CC_OK;
}

static json_t *map(const json_t *doc, json_t *state, cc_err *rc, cc_errbuf *eb)
{
    json_t *out = (json_t *)1; /* must be set to NULL on failure */
    memset(eb, 0, sizeof *eb);
    *rc = cc_epcis_map(doc, fake_get, state, &out, eb);
    if (*rc != CC_OK) {
        CHECK(out == NULL);
        CHECK(eb->msg[0] == '$' && memchr(eb->msg, 0, sizeof eb->msg) != NULL);
        return NULL;
    }
    CHECK(out != NULL && json_is_array(out));
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *state;
    if (!state && !(state = cc_json_parse((const uint8_t *)state_text, strlen(state_text), NULL))) abort();

    cc_errbuf eb;
    memset(&eb, 0, sizeof eb);
    json_t *doc = cc_json_parse(data, size, &eb);
    if (!doc) {
        CHECK(eb.msg[0] != '\0');
        return 0;
    }

    cc_err rc1, rc2;
    cc_errbuf eb2;
    json_t *txs = map(doc, state, &rc1, &eb);
    json_t *again = map(doc, state, &rc2, &eb2);
    CHECK(rc1 == rc2 && strcmp(eb.msg, eb2.msg) == 0);
    if (txs) CHECK(json_equal(txs, again));
    json_decref(again);

    size_t i;
    json_t *tx;
    json_array_foreach(txs, i, tx)
    {
        const char *type = json_string_value(json_object_get(tx, "type"));
        json_t *payload = json_object_get(tx, "payload");
        CHECK(type && json_is_object(payload));
        char *text = cc_json_dump(payload);
        CHECK(text != NULL);
        cc_errbuf veb;
        memset(&veb, 0, sizeof veb);
        if (strlen(text) <= CC_PAYLOAD_MAX) {
            cc_err v = cc_payload_validate(type, (const uint8_t *)text, strlen(text), &veb);
            if (v != CC_OK) {
                fprintf(stderr, "the mapping gave a %s that validation refuses: %s\n%s\n", type, veb.msg,
                        text);
                abort();
            }
        }
        free(text);
        json_t *event = cc_epcis_render(type, payload, TXID, 1764000000000ull, fake_get, state);
        if (event) CHECK(json_is_object(event) && json_is_string(json_object_get(event, "eventID")));
        json_decref(event);
    }
    json_decref(txs);
    json_decref(doc);
    return 0;
}
