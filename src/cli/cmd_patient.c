/*
 * cli/cmd_patient.c — `carechain patient register|delegate`: an organisation
 * registers a patient's pseudonymous identity (the key is the patient's own;
 * the ledger holds no name), and a patient names a delegate who may manage
 * consents for them.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "carechain/os.h"
#include "cli/cli.h"

static int patient_register(int argc, char **argv)
{
    const char *id = NULL, *keyfile = NULL, *newfile = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "ADMINKEY", "key file of an admin of the registering organisation", &w.key},
        {"id", "HEX", "the patient's public key (hex)", &id},
        {"keyfile", "FILE", "take the patient's public key from this key file", &keyfile},
        {"new", "FILE", "generate the patient's key into FILE (mode 0600) and register it", &newfile},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "patient register",
        "--key ADMINKEY (--id HEX | --keyfile F | --new F)",
        "Register a patient's pseudonymous identity (a member.register tx with role patient).",
        opts,
        0,
        0,
        true,
        true,
        "The ledger holds the patient's public key only: no name, birth date or record\n"
        "number. The patient keeps the secret key; with --new it is written to FILE and\n"
        "never sent anywhere.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if ((id != NULL) + (keyfile != NULL) + (newfile != NULL) != 1)
        return cc_cli_usage(ctx.cmd, "give exactly one of --id, --keyfile and --new");

    cc_key k;
    cc_errbuf eb = {{0}};
    if (id) {
        if (!cc_cli_hex_ok(id, CC_PUBKEY_BYTES) || cc_unhex(id, k.pk, CC_PUBKEY_BYTES) != CC_OK)
            return cc_cli_usage(ctx.cmd, "--id must be 64 hex digits");
    } else if (keyfile) {
        if (!cc_cli_key_load(ctx.cmd, keyfile, &k, NULL)) return CC_EXIT_FAIL;
    } else {
        if (access(newfile, F_OK) == 0)
            return cc_cli_usage(ctx.cmd, "%s exists: not overwriting it", newfile);
        cc_key_generate(&k);
        json_t *extra = json_pack("{s:s}", "role", "patient");
        cc_err e = cc_key_save(newfile, &k, extra, &eb);
        json_decref(extra);
        if (e != CC_OK) {
            cc_key_wipe(&k);
            return cc_cli_fail(&ctx, e, eb.msg);
        }
    }
    char *payload = cc_cli_member_payload(&k, "patient", NULL);
    char hex[CC_HASH_HEX];
    cc_hex(k.pk, CC_PUBKEY_BYTES, hex);
    cc_key_wipe(&k);
    if (!payload) return CC_EXIT_FAIL;
    rc = cc_cli_send_and_report(&ctx, &w, "member.register", payload, NULL, 0);
    free(payload);
    if (rc == CC_EXIT_OK && !ctx.json) printf("patient %s\n", hex);
    return rc;
}

static int patient_delegate(int argc, char **argv)
{
    const char *delegate = NULL;
    bool end = false;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "PATIENTKEY", "the patient's key file", &w.key},
        {"delegate", "HEX", "the delegate's id (a registered identity)", &delegate},
        {"end", NULL, "end the delegation instead", &end},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "patient delegate",
        "--key PATIENTKEY --delegate HEX [--end]",
        "Let a delegate grant and revoke consents and read the audit trail for you (patient.delegate).",
        opts,
        0,
        0,
        true,
        true,
        NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!delegate || !cc_cli_hex_ok(delegate, CC_PUBKEY_BYTES))
        return cc_cli_usage(ctx.cmd, "--delegate must be 64 hex digits");
    return cc_cli_send_json(&ctx, &w, "patient.delegate",
                            json_pack("{s:s, s:b}", "delegate", delegate, "active", !end));
}

int cc_cmd_patient(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"register", patient_register, "register a patient's pseudonymous identity"},
        {"delegate", patient_delegate, "name (or end) a delegate who manages consents"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("patient", subs, argc, argv);
}
