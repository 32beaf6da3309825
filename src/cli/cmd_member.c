/*
 * cli/cmd_member.c — `carechain member register|revoke`: an organisation
 * admin adds an identity with a role, or revokes one.
 */
#include <stdlib.h>

#include <sodium.h>

#include "carechain/os.h"
#include "cli/cli.h"

#define NAME_MAX_BYTES 128

static int member_register(int argc, char **argv)
{
    const char *id = NULL, *keyfile = NULL, *role = NULL, *name = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "ADMINKEY", "key file of an admin of the identity's organisation", &w.key},
        {"id", "HEX", "the new identity's public key (hex)", &id},
        {"keyfile", "FILE", "take the id (and the name) from this key file instead", &keyfile},
        {"role", "ROLE", "the identity's role (see below)", &role},
        {"name", "NAME", "display name (not allowed for patients: they are pseudonymous)", &name},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "member register",
        "--key ADMINKEY (--id HEX | --keyfile F) --role R [--name N]",
        "Register an identity with a role (a member.register tx).",
        opts,
        0,
        0,
        true,
        true,
        "Roles: admin clinician patient payer manufacturer distributor pharmacy sponsor\n"
        "researcher regulator auditor. The identity joins the organisation of the admin\n"
        "who signs. The command waits for the block and shows the result (--no-wait).\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!role) return cc_cli_usage(ctx.cmd, "missing --role");
    if (!id == !keyfile) return cc_cli_usage(ctx.cmd, "give exactly one of --id and --keyfile");
    unsigned r = cc_role_parse(role);
    if (!r || !(r & CC_ROLES_PEOPLE)) return cc_cli_usage(ctx.cmd, "unknown role '%s'", role);
    if (id && !cc_cli_hex_ok(id, CC_PUBKEY_BYTES)) return cc_cli_usage(ctx.cmd, "--id must be 64 hex digits");
    if (name && r == CC_ROLE_PATIENT)
        return cc_cli_usage(ctx.cmd, "patients are pseudonymous: --name is not allowed with --role patient");

    cc_key k;
    json_t *extra = NULL;
    char buf[NAME_MAX_BYTES];
    if (keyfile) {
        if (!cc_cli_key_load(ctx.cmd, keyfile, &k, &extra)) return CC_EXIT_FAIL;
        sodium_memzero(k.sk, sizeof k.sk); /* only the public key is used */
        if (!name && r != CC_ROLE_PATIENT && cc_cli_jstr(extra, "name", NULL)) {
            snprintf(buf, sizeof buf, "%s", cc_cli_jstr(extra, "name", ""));
            name = buf;
        }
        json_decref(extra);
    } else if (cc_unhex(id, k.pk, CC_PUBKEY_BYTES) != CC_OK) {
        return cc_cli_usage(ctx.cmd, "--id must be 64 hex digits");
    }
    char *payload = cc_cli_member_payload(&k, role, name);
    if (!payload) return CC_EXIT_FAIL;
    rc = cc_cli_send_and_report(&ctx, &w, "member.register", payload, NULL, 0);
    free(payload);
    return rc;
}

static int member_revoke(int argc, char **argv)
{
    const char *id = NULL, *reason = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "ADMINKEY", "key file of an admin of the identity's organisation", &w.key},
        {"id", "HEX", "the identity to revoke (hex public key)", &id},
        {"reason", "TEXT", "why (kept on the ledger; no PHI)", &reason},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"member revoke",
                              "--key ADMINKEY --id HEX [--reason R]",
                              "Revoke an identity: its later txs are refused (a member.revoke tx).",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!id) return cc_cli_usage(ctx.cmd, "missing --id");
    if (!cc_cli_hex_ok(id, CC_PUBKEY_BYTES)) return cc_cli_usage(ctx.cmd, "--id must be 64 hex digits");
    json_t *p = json_pack("{s:s}", "id", id);
    if (p && reason) json_object_set_new(p, "reason", json_string(reason));
    return cc_cli_send_json(&ctx, &w, "member.revoke", p);
}

int cc_cmd_member(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"register", member_register, "add an identity with a role"},
        {"revoke", member_revoke, "revoke an identity"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("member", subs, argc, argv);
}

/* ---- the demo keyring --------------------------------------------------------- */

#define PATH_BYTES 4096

cc_err cc_cli_keyring_register(cc_cli_http *h, const char *net_dir, const uint8_t chain_id[CC_HASH_BYTES],
                               json_t **answer, cc_errbuf *eb)
{
    cc_err rc = CC_OK;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    char path[PATH_BYTES];
    cc_cli_resp r = {0};

    *answer = NULL;
    for (size_t i = 0; rc == CC_OK && i < cc_cli_member_count; i++) {
        const cc_cli_member *m = &cc_cli_members[i];
        cc_key admin, k;
        cc_tx tx;
        snprintf(path, sizeof path, "%s/keys/admin-%s.key", net_dir, m->org);
        rc = cc_key_load(path, &admin, NULL, eb);
        if (rc != CC_OK) break;
        snprintf(path, sizeof path, "%s/keys/%s.key", net_dir, cc_cli_member_key(m));
        rc = cc_key_load(path, &k, NULL, eb);
        if (rc == CC_OK) {
            char *payload = cc_cli_member_payload(&k, m->role, m->name);
            cc_key_wipe(&k);
            rc = payload ? cc_cli_tx_build(chain_id, &admin, "member.register", payload, NULL, 0, &tx, eb)
                         : cc_errf(eb, CC_ERR_NOMEM, "out of memory");
            free(payload);
            if (rc == CC_OK) {
                rc = cc_cli_batch_add(&buf, &len, &cap, &tx);
                cc_tx_free(&tx);
            }
        }
        cc_key_wipe(&admin);
    }
    if (rc != CC_OK) goto out;
    rc = cc_cli_http_request(h, "/v1/txs?wait=commit", "application/octet-stream", buf, len, &r, eb);
    if (rc != CC_OK) goto out;
    if (r.status != 200 || !json_is_array(json_object_get(r.json, "results"))) {
        rc = cc_errf(eb, CC_ERR_INVALID, "the node refused the batch (HTTP %ld, %s): %s", r.status,
                     cc_cli_resp_code(&r), cc_cli_resp_message(&r));
        goto out;
    }
    *answer = json_incref(r.json);
out:
    cc_cli_resp_free(&r);
    free(buf);
    return rc;
}
