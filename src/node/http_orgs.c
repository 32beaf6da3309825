/*
 * node/http_orgs.c — GET /v1/orgs and GET /v1/orgs/{id}: the member
 * organisations of the genesis and each one's records key (the identity
 * whose key receives the organisation's wrapped record keys; docs/RECORDS.md).
 * Public: none of it is health data.
 */
#include <stdlib.h>
#include <string.h>

#include "node/http.h"

/* {id, name, kind, records_key (null when none)} */
static json_t *org_json(cc_node *node, const cc_genesis_org *o)
{
    char key[96], *val = NULL;
    size_t len = 0;
    json_t *records_key = json_null();
    snprintf(key, sizeof key, "orgkey/%s", o->id);
    if (cc_chain_state_get(node->chain, key, &val, &len) == CC_OK) {
        json_t *v = json_loadb(val, len, 0, NULL);
        const char *hex = json_string_value(json_object_get(v, "key"));
        if (hex) records_key = json_string(hex);
        json_decref(v);
        free(val);
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "id", o->id, "name", o->name, "kind", o->kind, "records_key",
                     records_key);
}

enum MHD_Result cc_http_get_orgs(cc_http_req *req)
{
    const cc_genesis *g = cc_chain_genesis(req->node->chain);
    json_t *list = json_array();
    for (size_t i = 0; list && i < g->org_count; i++)
        json_array_append_new(list, org_json(req->node, &g->orgs[i]));
    return cc_http_send_json(req, MHD_HTTP_OK, json_pack("{s:o}", "orgs", list));
}

enum MHD_Result cc_http_get_org(cc_http_req *req)
{
    const cc_genesis *g = cc_chain_genesis(req->node->chain);
    for (size_t i = 0; i < g->org_count; i++)
        if (strcmp(g->orgs[i].id, req->arg) == 0)
            return cc_http_send_json(req, MHD_HTTP_OK, org_json(req->node, &g->orgs[i]));
    return cc_http_send_error(req, CC_ERR_NOT_FOUND, NULL, "no organisation \"%s\" in this network",
                              req->arg);
}
