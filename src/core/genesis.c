/*
 * genesis.c — the genesis document (genesis.json) and the role names.
 *
 * The chain id is SHA-256 of the genesis file's exact bytes, so every node
 * must hold an identical copy. Schema: docs/PROTOCOL.md "Genesis".
 */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "carechain.h"

static const char *const role_names[] = {"admin",        "clinician",   "patient",  "payer",
                                         "manufacturer", "distributor", "pharmacy", "sponsor",
                                         "researcher",   "regulator",   "auditor",  "node"};
#define ROLE_COUNT (sizeof role_names / sizeof role_names[0])

unsigned cc_role_parse(const char *name)
{
    for (size_t i = 0; name && i < ROLE_COUNT; i++)
        if (strcmp(name, role_names[i]) == 0) return 1u << i;
    return 0;
}

const char *cc_role_name(unsigned role)
{
    for (size_t i = 0; i < ROLE_COUNT; i++)
        if (role == 1u << i) return role_names[i];
    return "?";
}

/* Copy a required string field of at most cap-1 bytes. */
static cc_err get_str(json_t *o, const char *field, char *dst, size_t cap, const char *where, cc_errbuf *eb)
{
    const char *s = json_string_value(json_object_get(o, field));
    if (!s || !*s)
        return cc_errf(eb, CC_ERR_MALFORMED, "genesis %s: \"%s\" must be a non-empty string", where, field);
    if (strlen(s) >= cap)
        return cc_errf(eb, CC_ERR_MALFORMED, "genesis %s: \"%s\" is too long", where, field);
    strcpy(dst, s);
    return CC_OK;
}

static cc_err get_pk(json_t *o, uint8_t pk[CC_PUBKEY_BYTES], const char *where, cc_errbuf *eb)
{
    const char *s = json_string_value(json_object_get(o, "id"));
    if (!s || cc_unhex(s, pk, CC_PUBKEY_BYTES) != CC_OK)
        return cc_errf(eb, CC_ERR_MALFORMED, "genesis %s: \"id\" must be a 64-digit hex public key", where);
    return CC_OK;
}

static bool org_known(const cc_genesis *g, const char *id)
{
    for (size_t i = 0; i < g->org_count; i++)
        if (strcmp(g->orgs[i].id, id) == 0) return true;
    return false;
}

static bool pk_used(const cc_genesis *g, const uint8_t pk[CC_PUBKEY_BYTES])
{
    for (size_t i = 0; i < g->node_count; i++)
        if (memcmp(g->nodes[i].pk, pk, CC_PUBKEY_BYTES) == 0) return true;
    for (size_t i = 0; i < g->identity_count; i++)
        if (memcmp(g->identities[i].pk, pk, CC_PUBKEY_BYTES) == 0) return true;
    return false;
}

void cc_genesis_free(cc_genesis *g)
{
    if (!g) return;
    free(g->orgs);
    free(g->nodes);
    free(g->identities);
    memset(g, 0, sizeof *g);
}

/* Why entry `where` (of organisation org, with key pk) cannot be added to
 * g, or CC_OK. A consortium writes its genesis by hand: say which. */
static cc_err org_and_key_ok(const cc_genesis *g, const char *org, const uint8_t pk[CC_PUBKEY_BYTES],
                             const char *where, cc_errbuf *eb)
{
    char hex[CC_HASH_HEX];
    if (!org_known(g, org))
        return cc_errf(eb, CC_ERR_MALFORMED, "genesis %s: organisation \"%s\" is not among the organisations",
                       where, org);
    if (pk_used(g, pk))
        return cc_errf(eb, CC_ERR_MALFORMED,
                       "genesis %s: key %.12s… is listed twice (every node and identity needs its own key)",
                       where, cc_hex(pk, CC_PUBKEY_BYTES, hex));
    return CC_OK;
}

cc_err cc_genesis_parse(const uint8_t *buf, size_t len, cc_genesis *g, cc_errbuf *eb)
{
    cc_err rc = CC_OK;
    char where[64];
    memset(g, 0, sizeof *g);
    json_t *doc = cc_json_parse(buf, len, eb);
    if (!doc) return CC_ERR_MALFORMED;
    json_t *ver = json_object_get(doc, "carechain_genesis");
    json_t *orgs = json_object_get(doc, "organisations");
    json_t *nodes = json_object_get(doc, "nodes");
    json_t *ids = json_object_get(doc, "identities");
    json_t *t = json_object_get(doc, "time_ms");
    if (!json_is_object(doc) || !json_is_integer(ver) || json_integer_value(ver) != 1) {
        rc = cc_errf(eb, CC_ERR_VERSION, "not a carechain genesis document (\"carechain_genesis\": 1)");
        goto done;
    }
    if (!json_is_array(orgs) || !json_is_array(nodes) || json_array_size(nodes) == 0 || !json_is_array(ids) ||
        !json_is_integer(t) || json_integer_value(t) < 0) {
        rc = cc_errf(eb, CC_ERR_MALFORMED,
                     "genesis needs time_ms, organisations, a non-empty nodes list and identities");
        goto done;
    }
    if (json_array_size(nodes) > CC_MEMBERS_MAX) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "genesis lists %zu nodes; a network has at most %d",
                     json_array_size(nodes), CC_MEMBERS_MAX);
        goto done;
    }
    if ((rc = get_str(doc, "chain_name", g->chain_name, sizeof g->chain_name, "document", eb)) != CC_OK)
        goto done;
    g->time_ms = (uint64_t)json_integer_value(t);
    cc_sha256(buf, len, g->chain_id);
    g->ruleset = 1; /* the rules of every chain made before genesis named one */
    if ((t = json_object_get(doc, "ruleset"))) {
        json_int_t r = json_is_integer(t) ? json_integer_value(t) : 0;
        if (r < 1 || r > CC_RULESET_MAX) {
            rc = cc_errf(eb, CC_ERR_MALFORMED, "genesis \"ruleset\" must be a whole number from 1 to %d",
                         CC_RULESET_MAX);
            goto done;
        }
        /* one this build does not know parses all the same: proofs of the
         * chain still verify offline, and a node of this build stops before
         * block 1 (exec's cc_ruleset_known) */
        g->ruleset = (uint32_t)r;
    }

    g->orgs = calloc(json_array_size(orgs) + 1, sizeof *g->orgs);
    g->nodes = calloc(json_array_size(nodes) + 1, sizeof *g->nodes);
    g->identities = calloc(json_array_size(ids) + 1, sizeof *g->identities);
    if (!g->orgs || !g->nodes || !g->identities) {
        rc = CC_ERR_NOMEM;
        goto done;
    }
    size_t i;
    json_t *o;
    json_array_foreach(orgs, i, o)
    {
        cc_genesis_org *org = &g->orgs[i];
        snprintf(where, sizeof where, "organisations[%zu]", i);
        if ((rc = get_str(o, "id", org->id, sizeof org->id, where, eb)) != CC_OK ||
            (rc = get_str(o, "name", org->name, sizeof org->name, where, eb)) != CC_OK ||
            (rc = get_str(o, "kind", org->kind, sizeof org->kind, where, eb)) != CC_OK)
            goto done;
        if (org_known(g, org->id)) {
            rc = cc_errf(eb, CC_ERR_MALFORMED, "genesis %s: organisation \"%s\" is listed twice", where,
                         org->id);
            goto done;
        }
        g->org_count = i + 1;
    }
    json_array_foreach(nodes, i, o)
    {
        cc_genesis_node *n = &g->nodes[i];
        snprintf(where, sizeof where, "nodes[%zu]", i);
        if ((rc = get_str(o, "name", n->name, sizeof n->name, where, eb)) != CC_OK ||
            (rc = get_pk(o, n->pk, where, eb)) != CC_OK ||
            (rc = get_str(o, "org", n->org, sizeof n->org, where, eb)) != CC_OK ||
            (rc = get_str(o, "api", n->api, sizeof n->api, where, eb)) != CC_OK ||
            (rc = get_str(o, "raft", n->raft, sizeof n->raft, where, eb)) != CC_OK)
            goto done;
        if ((rc = org_and_key_ok(g, n->org, n->pk, where, eb)) != CC_OK) goto done;
        /* two nodes of one name cannot be told apart, and two at one
         * address could never both start */
        for (size_t k = 0; k < i; k++) {
            const cc_genesis_node *m = &g->nodes[k];
            const char *what = strcmp(m->name, n->name) == 0   ? "name"
                               : strcmp(m->api, n->api) == 0   ? "API address"
                               : strcmp(m->raft, n->raft) == 0 ? "raft address"
                                                               : NULL;
            if (what) {
                rc = cc_errf(eb, CC_ERR_MALFORMED, "genesis %s: node %s has the %s of node %s", where,
                             n->name, what, m->name);
                goto done;
            }
        }
        g->node_count = i + 1;
    }
    json_array_foreach(ids, i, o)
    {
        cc_genesis_identity *id = &g->identities[i];
        snprintf(where, sizeof where, "identities[%zu]", i);
        if ((rc = get_pk(o, id->pk, where, eb)) != CC_OK ||
            (rc = get_str(o, "role", id->role, sizeof id->role, where, eb)) != CC_OK ||
            (rc = get_str(o, "org", id->org, sizeof id->org, where, eb)) != CC_OK)
            goto done;
        const char *name = json_string_value(json_object_get(o, "name"));
        if (name) snprintf(id->name, sizeof id->name, "%s", name);
        unsigned role = cc_role_parse(id->role);
        if (!role || role == CC_ROLE_NODE) {
            rc = cc_errf(
                eb, CC_ERR_MALFORMED,
                "genesis %s: role \"%s\" is not one of admin clinician patient payer manufacturer "
                "distributor pharmacy sponsor researcher regulator auditor (nodes go under \"nodes\")",
                where, id->role);
            goto done;
        }
        if ((rc = org_and_key_ok(g, id->org, id->pk, where, eb)) != CC_OK) goto done;
        g->identity_count = i + 1;
    }
done:
    json_decref(doc);
    if (rc != CC_OK) cc_genesis_free(g);
    return rc;
}

/* Split "host:port" at its last ':' into host (cap bytes, not empty) and
 * a port of 1..65535 written in digits only. */
static bool host_port(const char *addr, char *host, size_t cap)
{
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    char *end;
    if (!colon || colon == addr || (size_t)(colon - addr) >= cap || colon[1] < '0' || colon[1] > '9')
        return false;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) return false;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    return true;
}

bool cc_raft_addr_ok(const char *addr)
{
    char host[INET_ADDRSTRLEN];
    struct in_addr a;
    return host_port(addr, host, sizeof host) && inet_pton(AF_INET, host, &a) == 1;
}

bool cc_api_addr_ok(const char *addr)
{
    char host[sizeof((cc_genesis_node *)0)->api];
    if (!addr || strlen(addr) >= sizeof host) return false;
    if (strncmp(addr, "https://", 8) == 0)
        addr += 8;
    else if (strncmp(addr, "http://", 7) == 0)
        addr += 7;
    return !strchr(addr, '/') && host_port(addr, host, sizeof host);
}

int cc_genesis_node_index(const cc_genesis *g, const uint8_t pk[CC_PUBKEY_BYTES])
{
    for (size_t i = 0; i < g->node_count; i++)
        if (memcmp(g->nodes[i].pk, pk, CC_PUBKEY_BYTES) == 0) return (int)i;
    return -1;
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CC_PUBKEY_BYTES);
}

cc_err cc_members_set(cc_members *m, const uint8_t (*keys)[CC_PUBKEY_BYTES], size_t n)
{
    if (n == 0 || n > CC_MEMBERS_MAX) return CC_ERR_MALFORMED;
    memcpy(m->key, keys, n * CC_PUBKEY_BYTES);
    qsort(m->key, n, CC_PUBKEY_BYTES, key_cmp);
    for (size_t i = 1; i < n; i++)
        if (memcmp(m->key[i - 1], m->key[i], CC_PUBKEY_BYTES) == 0) return CC_ERR_MALFORMED;
    m->count = n;
    cc_members_hash((const uint8_t(*)[CC_PUBKEY_BYTES])m->key, n, m->hash);
    return CC_OK;
}

int cc_members_index(const cc_members *m, const uint8_t pk[CC_PUBKEY_BYTES])
{
    const uint8_t(*at)[CC_PUBKEY_BYTES] = bsearch(pk, m->key, m->count, CC_PUBKEY_BYTES, key_cmp);
    return at ? (int)(at - (const uint8_t(*)[CC_PUBKEY_BYTES])m->key) : -1;
}

void cc_genesis_members(const cc_genesis *g, cc_members *m)
{
    uint8_t keys[CC_MEMBERS_MAX][CC_PUBKEY_BYTES];
    for (size_t i = 0; i < g->node_count; i++) memcpy(keys[i], g->nodes[i].pk, CC_PUBKEY_BYTES);
    /* cannot fail: the parser refused an empty, long or repeated node list */
    if (cc_members_set(m, (const uint8_t(*)[CC_PUBKEY_BYTES])keys, g->node_count) != CC_OK) m->count = 0;
}
