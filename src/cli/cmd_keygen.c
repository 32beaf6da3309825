/*
 * cli/cmd_keygen.c — `carechain keygen`: a fresh Ed25519 identity in a key
 * file (mode 0600). Never overwrites an existing file.
 */
#include <string.h>
#include <unistd.h>

#include "carechain/os.h"
#include "cli/cli.h"

int cc_cmd_keygen(int argc, char **argv)
{
    const char *out = NULL, *name = NULL, *role = NULL, *org = NULL;
    const cc_cli_opt opts[] = {
        {"out", "FILE", "where to write the key file (must not exist)", &out},
        {"name", "NAME", "a display name kept in the file", &name},
        {"role", "ROLE", "the role this key is meant for (admin, clinician, ...)", &role},
        {"org", "ORG", "the organisation id this key belongs to", &org},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"keygen",
                              "--out FILE [--name N] [--role R] [--org O]",
                              "Generate an Ed25519 identity; its id is the hex public key.",
                              opts,
                              0,
                              0,
                              false,
                              true,
                              "The file holds the secret key: it is written with mode 0600.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!out) return cc_cli_usage(ctx.cmd, "missing --out");
    if (role && !cc_role_parse(role)) return cc_cli_usage(ctx.cmd, "unknown role '%s'", role);
    if (access(out, F_OK) == 0) return cc_cli_usage(ctx.cmd, "%s exists; refusing to overwrite it", out);

    cc_errbuf eb = {{0}};
    cc_key k;
    char id[2 * CC_PUBKEY_BYTES + 1];
    json_t *extra = json_object();
    if (!extra) return CC_EXIT_FAIL;
    if (name) json_object_set_new(extra, "name", json_string(name));
    if (role) json_object_set_new(extra, "role", json_string(role));
    if (org) json_object_set_new(extra, "org", json_string(org));
    cc_key_generate(&k);
    rc = CC_EXIT_OK;
    if (cc_key_save(out, &k, extra, &eb) != CC_OK) {
        fprintf(stderr, "carechain keygen: %s\n", eb.msg);
        rc = CC_EXIT_FAIL;
        goto out;
    }
    cc_hex(k.pk, CC_PUBKEY_BYTES, id);
    if (ctx.json) {
        json_t *j = json_pack("{s:s,s:s}", "id", id, "file", out);
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        printf("Wrote a new identity to %s (mode 0600).\nid %s\n", out, id);
    }
out:
    cc_key_wipe(&k);
    json_decref(extra);
    return rc;
}
