/*
 * network.c — network governance: adding and removing consensus nodes, and
 * moving the network to a later ruleset.
 *
 * A change is a proposal (network.propose) that an admin of any
 * organisation makes, then approvals (network.approve) by admins of other
 * organisations. Each organisation counts once; when more than half of the
 * organisations have approved, the change takes effect in the same tx:
 *   add, remove  the node's record and identity are written (add) or
 *                marked removed (remove), and "network/config" lists the
 *                new set, which the consensus layer turns into a raft
 *                configuration change;
 *   upgrade      "network/ruleset" names the ruleset blocks execute under
 *                from the proposal's height "from" on (exec.c reads it
 *                before each block; a node whose build does not know that
 *                ruleset stops there: docs/OPERATIONS.md "Upgrading carechain").
 *
 * State:
 *   network/config       {"nodes": [hex ids, sorted], "organisations": n[, "changed_at": height]}
 *   network/ruleset      {"ruleset": n, "from": height, "before": n, "proposal": txid hex}
 *                        (absent until the first upgrade: the genesis's ruleset)
 *   node/<hex>           {"name","org","api","raft","status","since"[,"removed_at"]}
 *   netprop/<txid hex>   {"action","node"|"id"|"ruleset"+"from","approvals":[org ids],"status",
 *                         "height","expires_ms"[,"approved_at"|"withdrawn_at"]}
 *
 * Proposal:   open --approvals > organisations/2--> approved (effect applied)
 *             open --network.withdraw by the proposing organisation--> withdrawn
 *             open, and a block time past "expires_ms" (30 days after the
 *             proposal): no approval is taken any more (readers show it as
 *             "expired"; the record stays "open")
 *
 * An approval that would enact a change checks the change again: the node
 * to add must still be no identity, the node to remove still a node (two
 * proposals of one change: the second is refused, so a stale one cannot
 * bring back a removed node's key); an upgrade's height must still be
 * ahead (every approval checks it) and its ruleset still later than the
 * network's (or equal, calling off an upgrade that waits). An approved
 * upgrade replaces one that still waits for its height.
 *
 * network/config also records "changed_at", the height of the last change:
 * at most one change takes effect per block, and a removal needs a set of
 * three or more (change_allowed says why), checked when proposed and
 * again when an approval would enact it.
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps.h"

#define NAME_MAX_BYTES       63
#define ADDR_MAX_BYTES       63
#define PROPOSAL_LIFETIME_MS (30ULL * 24 * 3600 * 1000) /* approvals after this are refused */
#define UPGRADE_HEIGHT_MAX   (1LL << 53)                /* a height any JSON reader holds exactly */

/* ---- the membership record ------------------------------------------------ */

static cc_err config_read(cc_exec_ctx *ctx, json_t **cfg)
{
    if (cc_state_get_json(ctx, "network/config", cfg) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_CORRUPT, "the state has no network/config");
    if (!json_is_array(json_object_get(*cfg, "nodes")) ||
        !json_is_integer(json_object_get(*cfg, "organisations"))) {
        json_decref(*cfg);
        return cc_errf(ctx->eb, CC_ERR_CORRUPT, "network/config is malformed");
    }
    return CC_OK;
}

/* Insert or remove id in the sorted node list of cfg. */
static void config_set(json_t *cfg, const char *id, bool present)
{
    json_t *nodes = json_object_get(cfg, "nodes");
    size_t i, at = json_array_size(nodes);
    json_t *v;
    json_array_foreach(nodes, i, v)
    {
        int cmp = strcmp(json_string_value(v), id);
        if (cmp == 0) {
            if (!present) json_array_remove(nodes, i);
            return;
        }
        if (cmp > 0 && at == json_array_size(nodes)) at = i;
    }
    if (present) json_array_insert_new(nodes, at, json_string(id));
}

cc_err cc_network_genesis(cc_exec_ctx *ctx)
{
    const cc_genesis *g = ctx->genesis;
    json_t *cfg = json_pack("{s:[], s:I}", "nodes", "organisations", (json_int_t)g->org_count);
    cc_err rc = cfg ? CC_OK : CC_ERR_NOMEM;
    for (size_t i = 0; i < g->node_count && rc == CC_OK; i++) {
        char hex[CC_HASH_HEX], key[80];
        cc_hex(g->nodes[i].pk, CC_PUBKEY_BYTES, hex);
        json_t *n = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "name", g->nodes[i].name, "org",
                              g->nodes[i].org, "api", g->nodes[i].api, "raft", g->nodes[i].raft, "status",
                              "active", "since", (json_int_t)0);
        snprintf(key, sizeof key, "node/%s", hex);
        rc = n ? cc_state_put_json(ctx, key, n) : CC_ERR_NOMEM;
        json_decref(n);
        config_set(cfg, hex, true);
    }
    if (rc == CC_OK) rc = cc_state_put_json(ctx, "network/config", cfg);
    json_decref(cfg);
    return rc;
}

/* ---- network.propose ---------------------------------------------------------- */

/* {"action": "upgrade", "ruleset": n, "from": height} */
static cc_err upgrade_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"action", "ruleset", "from", NULL};
    const json_t *ruleset = json_object_get(p, "ruleset"), *from = json_object_get(p, "from");
    cc_err rc = cc_payload_only(p, fields, eb);
    if (rc != CC_OK) return rc;
    if (!json_is_integer(ruleset) || json_integer_value(ruleset) < 1 ||
        json_integer_value(ruleset) > CC_RULESET_MAX)
        return cc_errf(eb, CC_ERR_INVALID, "an upgrade's \"ruleset\" is a whole number from 1 to %d",
                       CC_RULESET_MAX);
    if (!json_is_integer(from) || json_integer_value(from) < 2 ||
        json_integer_value(from) > UPGRADE_HEIGHT_MAX)
        return cc_errf(
            eb, CC_ERR_INVALID,
            "an upgrade's \"from\" is the height of the first block under the new ruleset, a whole "
            "number from 2 to 2^53");
    return CC_OK;
}

/* The proposal's payload as a block of the given ruleset checks it.
 * Ruleset 1 is what the builds before rulesets checked (they knew no
 * upgrade, which it takes all the same): the fields before the action,
 * and an unknown action is told "add" or "remove". Ruleset 2 checks the
 * action first, so that a mistyped one is named as such, and lists all
 * three. */
static cc_err propose_validate_as(const json_t *p, uint32_t ruleset, cc_errbuf *eb)
{
    static const char *const fields[] = {"action", "node", "id", NULL};
    static const char *const node_fields[] = {"name", "id", "org", "api", "raft", NULL};
    const char *action = json_string_value(json_object_get(p, "action")), *s;
    uint8_t pk[CC_PUBKEY_BYTES];
    cc_err rc;
    if (action && strcmp(action, "upgrade") == 0) return upgrade_validate(p, eb);
    if (ruleset < 2 && (rc = cc_payload_only(p, fields, eb)) != CC_OK) return rc;
    if ((rc = cc_payload_str(p, "action", true, 8, &action, eb)) != CC_OK) return rc;
    if (ruleset >= 2 && strcmp(action, "add") != 0 && strcmp(action, "remove") != 0)
        return cc_errf(eb, CC_ERR_INVALID, "\"action\" must be \"add\", \"remove\" or \"upgrade\"");
    if (ruleset >= 2 && (rc = cc_payload_only(p, fields, eb)) != CC_OK) return rc;
    if (strcmp(action, "add") == 0) {
        const json_t *n = json_object_get(p, "node");
        if (!json_is_object(n) || json_object_get(p, "id"))
            return cc_errf(eb, CC_ERR_INVALID,
                           "an add proposal carries \"node\": {name, id, org, api, raft}");
        if ((rc = cc_payload_only(n, node_fields, eb)) != CC_OK ||
            (rc = cc_payload_str(n, "name", true, NAME_MAX_BYTES, &s, eb)) != CC_OK ||
            (rc = cc_payload_hex(n, "id", pk, sizeof pk, eb)) != CC_OK ||
            (rc = cc_payload_str(n, "org", true, NAME_MAX_BYTES, &s, eb)) != CC_OK ||
            (rc = cc_payload_str(n, "api", true, ADDR_MAX_BYTES, &s, eb)) != CC_OK ||
            (rc = cc_payload_str(n, "raft", true, ADDR_MAX_BYTES, &s, eb)) != CC_OK)
            return rc;
        return CC_OK;
    }
    if (strcmp(action, "remove") == 0) {
        if (json_object_get(p, "node"))
            return cc_errf(eb, CC_ERR_INVALID, "a remove proposal carries only \"id\"");
        return cc_payload_hex(p, "id", pk, sizeof pk, eb);
    }
    return cc_errf(eb, CC_ERR_INVALID, "\"action\" must be \"add\" or \"remove\""); /* ruleset 1 */
}

static cc_err propose_validate(const json_t *p, cc_errbuf *eb)
{
    return propose_validate_as(p, CC_RULESET_CURRENT, eb);
}

/* Whether cfg's node list holds the hex id. */
static bool config_has(const json_t *cfg, const char *id)
{
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(cfg, "nodes"), i, v)
    {
        if (strcmp(json_string_value(v), id) == 0) return true;
    }
    return false;
}

/* Whether cfg's set may take one more node. A network whose genesis
 * lists one node runs solo, without raft (docs/CONSENSUS.md): a node
 * added to it would never be asked to sign, so no checkpoint after the
 * change could gather a majority, and no later tx could be proven. */
static cc_err add_allowed(cc_exec_ctx *ctx, const json_t *cfg)
{
    if (ctx->genesis->node_count == 1)
        return cc_errf(ctx->eb, CC_ERR_CONFLICT,
                       "this network began with one node and runs solo, without raft: it cannot grow (start "
                       "a network whose genesis lists every node)");
    if (json_array_size(json_object_get(cfg, "nodes")) >= CC_MEMBERS_MAX)
        return cc_errf(ctx->eb, CC_ERR_CONFLICT, "the network already has %d nodes, the most it can have",
                       CC_MEMBERS_MAX);
    return CC_OK;
}

/* Whether the node n of an add proposal would share its name, API address
 * or raft address with a node of cfg's set (two nodes that answer at one
 * address, or that no operator can tell apart). */
static cc_err add_distinct(cc_exec_ctx *ctx, const json_t *cfg, const json_t *n)
{
    static const char *const fields[] = {"name", "api", "raft"};
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(cfg, "nodes"), i, v)
    {
        char key[80];
        json_t *rec = NULL;
        snprintf(key, sizeof key, "node/%s", json_string_value(v));
        if (cc_state_get_json(ctx, key, &rec) != CC_OK) continue;
        for (size_t f = 0; f < 3; f++) {
            const char *mine = json_string_value(json_object_get(n, fields[f]));
            const char *theirs = json_string_value(json_object_get(rec, fields[f]));
            if (mine && theirs && strcmp(mine, theirs) == 0) {
                cc_err rc = cc_errf(ctx->eb, CC_ERR_CONFLICT, "node %s of this network already has %s %s",
                                    json_string_value(json_object_get(rec, "name")),
                                    f == 0   ? "the name"
                                    : f == 1 ? "the API address"
                                             : "the raft address",
                                    mine);
                json_decref(rec);
                return rc;
            }
        }
        json_decref(rec);
    }
    return CC_OK;
}

/* Whether the set in cfg may change now. Checkpoints are signed by the
 * nodes of the set at their height, and a verifier who knows only the
 * genesis follows each change through a checkpoint that a majority of the
 * set before it signed (docs/CONSENSUS.md "Checkpoints"). So a change must
 * leave a majority of the set before it in the set after it: one change
 * per block, and a removal only from a set of three or more; and a set has
 * at most CC_MEMBERS_MAX nodes. */
static cc_err change_allowed(cc_exec_ctx *ctx, const json_t *cfg, bool add)
{
    size_t count = json_array_size(json_object_get(cfg, "nodes"));
    const json_t *changed = json_object_get(cfg, "changed_at");
    if (json_is_integer(changed) && (uint64_t)json_integer_value(changed) == ctx->height)
        return cc_errf(ctx->eb, CC_ERR_CONFLICT,
                       "the set of nodes already changed in this block; one change per block, so approve "
                       "again in a later one");
    if (add) return add_allowed(ctx, cfg);
    if (!add && count <= 2)
        return cc_errf(ctx->eb, CC_ERR_CONFLICT,
                       "a network of %zu nodes cannot lose one: the nodes that stay must be a majority of "
                       "the nodes before, or no later checkpoint could be traced back to the genesis nodes",
                       count);
    return CC_OK;
}

/* Whether the change prop proposes can still be made: the node to add is
 * no identity yet, the node to remove is still a node (another proposal of
 * the same change may have taken effect since). */
static cc_err change_still_open(cc_exec_ctx *ctx, const json_t *cfg, const json_t *prop, bool add)
{
    char key[80];
    json_t *existing = NULL;
    if (add) {
        const json_t *n = json_object_get(prop, "node");
        const char *id = json_string_value(json_object_get(n, "id"));
        cc_err rc = add_distinct(ctx, cfg, n);
        if (rc != CC_OK) return rc;
        snprintf(key, sizeof key, "id/%s", id);
        if (cc_state_get_json(ctx, key, &existing) == CC_OK) {
            json_decref(existing);
            return cc_errf(ctx->eb, CC_ERR_CONFLICT,
                           "key %.12s… became an identity on this chain after the proposal (another "
                           "proposal added it, or it was registered); a key is added once",
                           id);
        }
        return CC_OK;
    }
    const char *id = json_string_value(json_object_get(prop, "id"));
    if (!config_has(cfg, id))
        return cc_errf(ctx->eb, CC_ERR_CONFLICT,
                       "%.12s… is no longer a node of this network (another proposal removed it)", id);
    return CC_OK;
}

/* ---- upgrades ------------------------------------------------------------------ */

/* Whether the upgrade up ({"ruleset", "from"}) may be proposed or take
 * effect in this block: its height is ahead, and its ruleset is later than
 * the one blocks execute now, or that same one when another upgrade waits
 * for its height (then it calls that one off). An approved upgrade
 * replaces one still waiting, so a mistaken one can be undone. *rec gets
 * network/ruleset (NULL when absent); caller decrefs. */
static cc_err upgrade_allowed(cc_exec_ctx *ctx, const json_t *up, json_t **rec)
{
    json_int_t ruleset = json_integer_value(json_object_get(up, "ruleset"));
    json_int_t from = json_integer_value(json_object_get(up, "from"));
    *rec = NULL;
    cc_err rc = cc_state_get_json(ctx, "network/ruleset", rec);
    if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) return rc;
    const json_t *waiting = json_object_get(*rec, "from");
    bool one_waits = json_is_integer(waiting) && (uint64_t)json_integer_value(waiting) > ctx->height &&
                     cc_ruleset_at(*rec, ctx->genesis, (uint64_t)json_integer_value(waiting)) !=
                         cc_ruleset_at(*rec, ctx->genesis, ctx->height);
    uint32_t now = cc_ruleset_at(*rec, ctx->genesis, ctx->height);
    if (ruleset < (json_int_t)now || (ruleset == (json_int_t)now && !one_waits))
        return cc_errf(ctx->eb, CC_ERR_CONFLICT,
                       "the network runs ruleset %u; an upgrade names a later one, not %lld (or, to call off "
                       "an upgrade still waiting for its height, ruleset %u)",
                       now, (long long)ruleset, now);
    if ((uint64_t)from <= ctx->height)
        return cc_errf(ctx->eb, CC_ERR_CONFLICT,
                       "height %lld is not ahead: this block is %llu (propose the upgrade again with a later "
                       "height)",
                       (long long)from, (unsigned long long)ctx->height);
    return CC_OK;
}

/* An approved upgrade: blocks from its height on execute its ruleset. */
static cc_err enact_upgrade(cc_exec_ctx *ctx, const char *prop_key, const json_t *prop)
{
    json_t *rec = NULL;
    cc_err rc = upgrade_allowed(ctx, prop, &rec);
    if (rc == CC_OK) {
        json_t *next = json_pack("{s:O, s:O, s:I, s:s}", "ruleset", json_object_get(prop, "ruleset"), "from",
                                 json_object_get(prop, "from"), "before",
                                 (json_int_t)cc_ruleset_at(rec, ctx->genesis, ctx->height), "proposal",
                                 prop_key + strlen("netprop/"));
        rc = next ? cc_state_put_json(ctx, "network/ruleset", next) : CC_ERR_NOMEM;
        json_decref(next);
    }
    json_decref(rec);
    return rc;
}

/* ---- enacting ------------------------------------------------------------------ */

/* Apply an approved proposal's effect. */
static cc_err enact(cc_exec_ctx *ctx, const char *prop_key, const json_t *prop)
{
    const char *action = json_string_value(json_object_get(prop, "action"));
    if (strcmp(action, "upgrade") == 0) return enact_upgrade(ctx, prop_key, prop);
    bool add = strcmp(action, "add") == 0;
    json_t *cfg = NULL;
    char key[80];
    cc_err rc = config_read(ctx, &cfg);
    if (rc != CC_OK) return rc;
    /* checked again: another change may have taken effect since the proposal */
    if ((rc = change_allowed(ctx, cfg, add)) != CC_OK ||
        (rc = change_still_open(ctx, cfg, prop, add)) != CC_OK) {
        json_decref(cfg);
        return rc;
    }
    if (add) {
        const json_t *n = json_object_get(prop, "node");
        const char *id = json_string_value(json_object_get(n, "id"));
        json_t *rec =
            json_pack("{s:O, s:O, s:O, s:O, s:s, s:I}", "name", json_object_get(n, "name"), "org",
                      json_object_get(n, "org"), "api", json_object_get(n, "api"), "raft",
                      json_object_get(n, "raft"), "status", "active", "since", (json_int_t)ctx->height);
        json_t *ident = json_pack("{s:s, s:O, s:s, s:I}", "role", "node", "org", json_object_get(n, "org"),
                                  "status", "active", "since", (json_int_t)ctx->height);
        snprintf(key, sizeof key, "node/%s", id);
        rc = rec && ident ? cc_state_put_json(ctx, key, rec) : CC_ERR_NOMEM;
        snprintf(key, sizeof key, "id/%s", id);
        if (rc == CC_OK) rc = cc_state_put_json(ctx, key, ident);
        config_set(cfg, id, true);
        json_decref(rec);
        json_decref(ident);
    } else {
        const char *id = json_string_value(json_object_get(prop, "id"));
        json_t *rec = NULL, *ident = NULL;
        snprintf(key, sizeof key, "node/%s", id);
        if (cc_state_get_json(ctx, key, &rec) == CC_OK) {
            json_object_set_new(rec, "status", json_string("removed"));
            json_object_set_new(rec, "removed_at", json_integer((json_int_t)ctx->height));
            rc = cc_state_put_json(ctx, key, rec);
        }
        snprintf(key, sizeof key, "id/%s", id);
        if (rc == CC_OK && cc_state_get_json(ctx, key, &ident) == CC_OK) {
            json_object_set_new(ident, "status", json_string("revoked"));
            json_object_set_new(ident, "revoked_at", json_integer((json_int_t)ctx->height));
            rc = cc_state_put_json(ctx, key, ident);
        }
        json_decref(rec);
        json_decref(ident);
        config_set(cfg, id, false);
    }
    json_object_set_new(cfg, "changed_at", json_integer((json_int_t)ctx->height));
    if (rc == CC_OK) rc = cc_state_put_json(ctx, "network/config", cfg);
    json_decref(cfg);
    return rc;
}

/* Record one more organisation's approval; enact on a majority. */
static cc_err approve(cc_exec_ctx *ctx, const char *prop_key, json_t *prop)
{
    json_t *approvals = json_object_get(prop, "approvals"), *cfg = NULL;
    const char *action = json_string_value(json_object_get(prop, "action"));
    json_int_t from = json_integer_value(json_object_get(prop, "from"));
    size_t i;
    json_t *v;
    if (strcmp(action, "upgrade") == 0 && (uint64_t)from <= ctx->height)
        return cc_errf(ctx->eb, CC_ERR_CONFLICT,
                       "height %lld passed before more than half of the organisations approved the upgrade; "
                       "propose it again with a later height",
                       (long long)from);
    json_array_foreach(approvals, i, v)
    {
        if (strcmp(json_string_value(v), ctx->signer->org) == 0)
            return cc_errf(ctx->eb, CC_ERR_CONFLICT, "organisation %s already approved this proposal",
                           ctx->signer->org);
    }
    json_array_append_new(approvals, json_string(ctx->signer->org));
    cc_err rc = config_read(ctx, &cfg);
    if (rc != CC_OK) return rc;
    json_int_t orgs = json_integer_value(json_object_get(cfg, "organisations"));
    json_decref(cfg);
    if ((json_int_t)json_array_size(approvals) * 2 > orgs) {
        json_object_set_new(prop, "status", json_string("approved"));
        json_object_set_new(prop, "approved_at", json_integer((json_int_t)ctx->height));
        if ((rc = enact(ctx, prop_key, prop)) != CC_OK) return rc;
    }
    return cc_state_put_json(ctx, prop_key, prop);
}

static cc_err propose_apply(cc_exec_ctx *ctx)
{
    const json_t *p = ctx->payload;
    const char *action = json_string_value(json_object_get(p, "action"));
    char key[96], txid[CC_HASH_HEX];
    json_t *cfg = NULL, *existing = NULL;
    cc_err rc;
    if (strcmp(action, "upgrade") == 0) {
        rc = upgrade_allowed(ctx, p, &existing);
        json_decref(existing);
        if (rc != CC_OK) return rc;
    } else if (strcmp(action, "add") == 0) {
        const json_t *n = json_object_get(p, "node");
        const char *id = json_string_value(json_object_get(n, "id"));
        const char *org = json_string_value(json_object_get(n, "org"));
        snprintf(key, sizeof key, "id/%s", id);
        if (cc_state_get_json(ctx, key, &existing) == CC_OK) {
            json_decref(existing);
            return cc_errf(ctx->eb, CC_ERR_CONFLICT, "key %.12s… is already an identity on this chain", id);
        }
        snprintf(key, sizeof key, "org/%s", org);
        if (cc_state_get_json(ctx, key, &existing) != CC_OK)
            return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "no organisation \"%s\"", org);
        json_decref(existing);
        if ((rc = config_read(ctx, &cfg)) != CC_OK) return rc;
        if ((rc = add_allowed(ctx, cfg)) == CC_OK) rc = add_distinct(ctx, cfg, n);
        json_decref(cfg);
        if (rc != CC_OK) return rc;
    } else {
        const char *id = json_string_value(json_object_get(p, "id"));
        if ((rc = config_read(ctx, &cfg)) != CC_OK) return rc;
        size_t count = json_array_size(json_object_get(cfg, "nodes"));
        bool found = config_has(cfg, id);
        json_decref(cfg);
        if (!found) return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "%.12s… is not a node of this network", id);
        if (count == 1) return cc_errf(ctx->eb, CC_ERR_CONFLICT, "the last node cannot be removed");
        if (count == 2)
            return cc_errf(ctx->eb, CC_ERR_CONFLICT,
                           "a network of 2 nodes cannot lose one: the node that stays is not a majority of "
                           "the two, so no later checkpoint could be traced back to the genesis nodes");
    }
    json_t *prop = json_deep_copy(p);
    if (!prop) return CC_ERR_NOMEM;
    json_object_set_new(prop, "approvals", json_array());
    json_object_set_new(prop, "status", json_string("open"));
    json_object_set_new(prop, "height", json_integer((json_int_t)ctx->height));
    json_object_set_new(prop, "expires_ms", json_integer((json_int_t)(ctx->time_ms + PROPOSAL_LIFETIME_MS)));
    snprintf(key, sizeof key, "netprop/%s", cc_hex(ctx->tx->txid, CC_HASH_BYTES, txid));
    rc = approve(ctx, key, prop); /* the proposer's organisation approves */
    json_decref(prop);
    return rc;
}

/* ---- network.approve ---------------------------------------------------------- */

/* {"proposal": txid hex}: network.approve and network.withdraw. */
static cc_err proposal_ref_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"proposal", NULL};
    uint8_t id[CC_HASH_BYTES];
    cc_err rc = cc_payload_only(p, fields, eb);
    return rc == CC_OK ? cc_payload_hex(p, "proposal", id, sizeof id, eb) : rc;
}

bool cc_network_proposal_expired(const json_t *prop, uint64_t now_ms)
{
    const json_t *expires = json_object_get(prop, "expires_ms");
    return json_is_integer(expires) && now_ms > (uint64_t)json_integer_value(expires);
}

/* The open proposal the payload names, read into *prop (key into key);
 * refused when there is none, it is closed, or it expired. */
static cc_err open_proposal(cc_exec_ctx *ctx, char key[96], json_t **prop)
{
    const char *id = json_string_value(json_object_get(ctx->payload, "proposal"));
    snprintf(key, 96, "netprop/%s", id);
    if (cc_state_get_json(ctx, key, prop) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "no proposal %.12s…", id);
    const char *status = json_string_value(json_object_get(*prop, "status"));
    cc_err rc = CC_OK;
    if (!status || strcmp(status, "open") != 0)
        rc = cc_errf(ctx->eb, CC_ERR_CONFLICT, "proposal %.12s… is already %s", id,
                     status ? status : "closed");
    else if (cc_network_proposal_expired(*prop, ctx->time_ms)) {
        char until[CC_APPS_TIME_BYTES];
        rc = cc_errf(ctx->eb, CC_ERR_CONFLICT,
                     "proposal %.12s… expired at %s, 30 days after it was made; propose the change again", id,
                     cc_apps_time(json_integer_value(json_object_get(*prop, "expires_ms")), false, until));
    }
    if (rc != CC_OK) {
        json_decref(*prop);
        *prop = NULL;
    }
    return rc;
}

static cc_err approve_apply(cc_exec_ctx *ctx)
{
    char key[96];
    json_t *prop = NULL;
    cc_err rc = open_proposal(ctx, key, &prop);
    if (rc == CC_OK) rc = approve(ctx, key, prop);
    json_decref(prop);
    return rc;
}

/* ---- network.withdraw --------------------------------------------------------- */

/* The organisation that made a proposal (its first approval) takes it back. */
static cc_err withdraw_apply(cc_exec_ctx *ctx)
{
    char key[96];
    json_t *prop = NULL;
    cc_err rc = open_proposal(ctx, key, &prop);
    if (rc != CC_OK) return rc;
    const char *by = json_string_value(json_array_get(json_object_get(prop, "approvals"), 0));
    if (!by || strcmp(by, ctx->signer->org) != 0)
        rc = cc_errf(ctx->eb, CC_ERR_FORBIDDEN,
                     "only an admin of %s, the organisation that made the proposal, can withdraw it",
                     by ? by : "the proposing organisation");
    if (rc == CC_OK) {
        json_object_set_new(prop, "status", json_string("withdrawn"));
        json_object_set_new(prop, "withdrawn_at", json_integer((json_int_t)ctx->height));
        rc = cc_state_put_json(ctx, key, prop);
    }
    json_decref(prop);
    return rc;
}

const cc_tx_type cc_network_tx_types[] = {
    {"network.propose", CC_ROLE_ADMIN, propose_validate, propose_apply, propose_validate_as},
    {"network.approve", CC_ROLE_ADMIN, proposal_ref_validate, approve_apply, NULL},
    {"network.withdraw", CC_ROLE_ADMIN, proposal_ref_validate, withdraw_apply, NULL},
    {NULL, 0, NULL, NULL, NULL},
};
