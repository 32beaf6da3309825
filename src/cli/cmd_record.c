/*
 * cli/cmd_record.c — `carechain record put|get|list|erase`: encrypted FHIR
 * records. Encryption and key wrapping happen here, on the client
 * (records_client.c); the node only ever sees ciphertext and sealed keys.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "carechain/os.h"
#include "carechain/records.h"
#include "cli/cli.h"

#define RECORD_FILE_MAX (1024u * 1024u - CC_RECORD_OVERHEAD) /* the attachment limit */
#define CATEGORY_MAX    32
#define DEFAULT_PURPOSE "TREAT"

static bool purpose_ok(const char *p)
{
    static const char *const purposes[] = {"TREAT", "HPAYMT", "HOPERAT", "HRESCH", "ETREAT", NULL};
    for (const char *const *q = purposes; *q; q++)
        if (strcmp(*q, p) == 0) return true;
    return false;
}

/* The category codes a record takes from its resource by default: FHIR R4's
 * own coarse vocabularies (observation-category, condition-category,
 * allergy-intolerance-category, US Core's clinical-note). A category is on
 * the ledger in the clear, so a resource's own code ("hiv-viral-load") is
 * never copied there: anything else is filed as "general" unless --category
 * says otherwise. */
static const char *const standard_categories[] = {
    "social-history",
    "vital-signs",
    "imaging",
    "laboratory",
    "procedure",
    "survey",
    "exam",
    "therapy",
    "activity",
    "food",
    "medication",
    "environment",
    "biologic",
    "clinical-note",
    "problem-list-item",
    "encounter-diagnosis",
    NULL,
};

/* The category of res (Observation.category[0].coding[0].code and the
 * like) when it is a standard one, else "general"; *other: the resource
 * named a category that is not standard. */
static void category_of(const json_t *res, char out[CATEGORY_MAX + 1], bool *other)
{
    const json_t *cat = json_object_get(res, "category");
    if (json_is_array(cat)) cat = json_array_get(cat, 0);
    const char *code =
        json_string_value(json_object_get(json_array_get(json_object_get(cat, "coding"), 0), "code"));
    *other = code != NULL;
    for (const char *const *c = standard_categories; code && *c; c++)
        if (strcmp(code, *c) == 0) {
            snprintf(out, CATEGORY_MAX + 1, "%s", code);
            *other = false;
            return;
        }
    strcpy(out, "general");
}

static int record_put(int argc, char **argv)
{
    const char *patient = NULL, *file = NULL, *category = NULL, *purpose = DEFAULT_PURPOSE, *record = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the author's key file (a clinician, or the patient)", &w.key},
        {"patient", "ID", "the patient's id (hex)", &patient},
        {"file", "FILE", "the FHIR R4 resource (JSON); encrypted here, byte for byte", &file},
        {"category", "CAT",
         "category token, in the clear on the ledger (default: the resource's, if standard)", &category},
        {"purpose", "P", "purpose of use of the write (default TREAT)", &purpose},
        {"record", "ID", "update this record (a new version); default: a new record", &record},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "record put",
        "--key K --patient ID --file resource.json [--category C] [--purpose P] [--record ID]",
        "Encrypt a FHIR resource and commit it as the patient's record (a record.put tx).",
        opts,
        0,
        0,
        true,
        true,
        "The resource is encrypted with a fresh key (XChaCha20-Poly1305); the key is sealed\n"
        "for the patient, your organisation and everyone the patient's consents name. A\n"
        "clinician needs the patient's consent to write. Purposes: TREAT HPAYMT HOPERAT\n"
        "HRESCH ETREAT.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!patient || !cc_cli_hex_ok(patient, CC_PUBKEY_BYTES))
        return cc_cli_usage(ctx.cmd, "--patient must be a 64-digit hex id");
    if (!file) return cc_cli_usage(ctx.cmd, "missing --file");
    if (!purpose_ok(purpose)) return cc_cli_usage(ctx.cmd, "unknown purpose '%s'", purpose);
    if (record && !cc_cli_hex_ok(record, CC_RECORD_ID_BYTES))
        return cc_cli_usage(ctx.cmd, "--record must be a 32-digit hex record id");

    uint8_t *buf = NULL;
    size_t len = 0;
    cc_errbuf eb = {{0}};
    cc_err e = cc_file_read(file, RECORD_FILE_MAX, &buf, &len, &eb);
    if (e != CC_OK) return cc_cli_fail(&ctx, e == CC_ERR_TOO_LARGE ? CC_ERR_USAGE : e, eb.msg);
    json_error_t jerr;
    json_t *res = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *rt = json_string_value(json_object_get(res, "resourceType"));
    char cat[CATEGORY_MAX + 1];
    if (!res || !json_is_object(res) || !rt) {
        json_decref(res);
        free(buf);
        return cc_cli_usage(ctx.cmd, "%s is not a FHIR resource (a JSON object with \"resourceType\")", file);
    }
    bool other = false;
    if (category)
        snprintf(cat, sizeof cat, "%s", category);
    else
        category_of(res, cat, &other);
    if (other)
        fprintf(stderr,
                "carechain record put: the resource's category is not a standard FHIR one, and a category "
                "is on the ledger in the clear: filed as \"general\" (--category chooses another)\n");

    cc_cli_session s;
    rc = cc_cli_session_open(&ctx, w.key, w.genesis, &s);
    if (rc < 0) {
        cc_cli_record_in in = {patient, record, buf, len, rt, cat, purpose};
        cc_cli_sent sent;
        char id[33];
        e = cc_cli_record_put(s.h, s.chain_id, &s.key, &in, !w.no_wait, &sent, id, &eb);
        if (e != CC_OK) {
            rc = cc_cli_fail(&ctx, e, eb.msg);
        } else {
            if (ctx.json && sent.json) json_object_set_new(sent.json, "record", json_string(id));
            rc = cc_cli_sent_report(&ctx, &sent, "record.put");
            if (rc == CC_EXIT_OK && !ctx.json) printf("record %s (%s, %s)\n", id, rt, cat);
            cc_cli_sent_free(&sent);
        }
        cc_cli_session_close(&s);
    }
    json_decref(res);
    sodium_memzero(buf, len);
    free(buf);
    return rc;
}

static int record_get(int argc, char **argv)
{
    const char *keyfile = NULL, *orgkey = NULL, *purpose = DEFAULT_PURPOSE, *out = NULL;
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the reader's key file (signs the request, opens the key)", &keyfile},
        {"org-key", "FILE", "your organisation's records key, when the record's key is wrapped to it",
         &orgkey},
        {"purpose", "P", "purpose of use (default TREAT; ETREAT is break-glass)", &purpose},
        {"out", "FILE", "write the decrypted resource here (mode 0600); default stdout", &out},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "record get",
        "ID --key K [--purpose P] [--org-key F] [--out F]",
        "Fetch a record, check it against the ledger's hash, unwrap its key and decrypt it.",
        opts,
        1,
        1,
        true,
        true,
        "The request is signed; the node decides by the patient's consents and commits an\n"
        "audit event (granted or denied) before it answers. Exit 1 when denied (403) or\n"
        "erased (410).\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!keyfile) return cc_cli_usage(ctx.cmd, "missing --key");
    if (!cc_cli_hex_ok(ctx.pos[0], CC_RECORD_ID_BYTES))
        return cc_cli_usage(ctx.cmd, "ID must be a 32-digit hex record id");
    if (!purpose_ok(purpose)) return cc_cli_usage(ctx.cmd, "unknown purpose '%s'", purpose);

    cc_key org;
    bool have_org = false;
    if (orgkey) {
        if (!cc_cli_key_load(ctx.cmd, orgkey, &org, NULL)) return CC_EXIT_FAIL;
        have_org = true;
    }
    cc_cli_session s;
    rc = cc_cli_session_open(&ctx, keyfile, NULL, &s);
    if (rc < 0) {
        uint8_t *plain = NULL;
        size_t len = 0;
        json_t *ans = NULL;
        cc_errbuf eb = {{0}};
        cc_err e = cc_cli_record_get(s.h, &s.key, have_org ? &org : NULL, ctx.pos[0], purpose, &plain, &len,
                                     &ans, &eb);
        if (e != CC_OK) {
            rc = cc_cli_fail(&ctx, e, eb.msg);
        } else if (out) {
            e = cc_file_write(out, plain, len, 0600, &eb); /* health data: owner only */
            rc = e == CC_OK ? CC_EXIT_OK : cc_cli_fail(&ctx, e, eb.msg);
            if (rc == CC_EXIT_OK && ctx.json) {
                json_object_set_new(ans, "out", json_string(out));
                json_object_del(ans, "ciphertext");
                json_object_del(ans, "key");
                cc_cli_print_json(ans);
            } else if (rc == CC_EXIT_OK) {
                const json_t *meta = json_object_get(ans, "record");
                printf("Decrypted record %s version %llu (%s) into %s: %zu bytes; audit tx %s.\n", ctx.pos[0],
                       (unsigned long long)cc_cli_juint(meta, "version"),
                       cc_cli_jstr(meta, "resourceType", "?"), out, len, cc_cli_jstr(ans, "audit", "?"));
            }
        } else {
            rc = fwrite(plain, 1, len, stdout) == len ? CC_EXIT_OK : CC_EXIT_FAIL;
        }
        if (plain) sodium_memzero(plain, len);
        free(plain);
        json_decref(ans);
        cc_cli_session_close(&s);
    }
    if (have_org) cc_key_wipe(&org);
    return rc;
}

static int record_list(int argc, char **argv)
{
    const char *keyfile = NULL, *patient = NULL, *purpose = DEFAULT_PURPOSE;
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the requester's key file (signs the request)", &keyfile},
        {"patient", "ID", "the patient's id (hex; default: the key's own)", &patient},
        {"purpose", "P", "purpose of use (default TREAT)", &purpose},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"record list",
                              "--key K [--patient ID] [--purpose P]",
                              "List a patient's records that you may read (a signed, audited request).",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    char self[CC_HASH_HEX];
    if ((rc = cc_cli_patient_opts(&ctx, keyfile, &patient, self)) >= 0) return rc;
    if (!purpose_ok(purpose)) return cc_cli_usage(ctx.cmd, "unknown purpose '%s'", purpose);
    char path[CC_CLI_PATH_MAX];
    json_t *ans;
    snprintf(path, sizeof path, "/v1/patients/%s/records?purpose=%s", patient, purpose);
    if ((rc = cc_cli_get_json_as(&ctx, keyfile, path, &ans)) >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(ans);
    } else {
        const json_t *list = json_object_get(ans, "records");
        printf("%zu record(s) of patient %s you may read:\n", json_array_size(list), patient);
        size_t i;
        const json_t *r;
        char when[40];
        json_array_foreach(list, i, r)
        {
            printf("  %s  %-22s %-14s v%-3llu %-7s %s\n", cc_cli_jstr(r, "record", "?"),
                   cc_cli_jstr(r, "resourceType", "?"), cc_cli_jstr(r, "category", "?"),
                   (unsigned long long)cc_cli_juint(r, "version"), cc_cli_jstr(r, "status", "?"),
                   cc_cli_time(cc_cli_juint(r, "updated"), when));
        }
    }
    json_decref(ans);
    return CC_EXIT_OK;
}

static int record_erase(int argc, char **argv)
{
    const char *reason = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the patient's, a delegate's, or the authoring organisation's key file", &w.key},
        {"reason", "TEXT", "why (kept on the ledger; no PHI), e.g. \"patient request 2026-11\"", &reason},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "record erase",
        "ID --key K --reason TEXT",
        "Erase a record: every node deletes its ciphertext and wrapped keys (a record.erase tx).",
        opts,
        1,
        1,
        true,
        true,
        "The chain still verifies: blocks commit to the ciphertext's hash, not its bytes.\n"
        "Reads of the record then answer 410 Gone.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!cc_cli_hex_ok(ctx.pos[0], CC_RECORD_ID_BYTES))
        return cc_cli_usage(ctx.cmd, "ID must be a 32-digit hex record id");
    if (!reason || !*reason) return cc_cli_usage(ctx.cmd, "missing --reason");
    return cc_cli_send_json(&ctx, &w, "record.erase",
                            json_pack("{s:s, s:s}", "record", ctx.pos[0], "reason", reason));
}

int cc_cmd_record(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"put", record_put, "encrypt and commit a FHIR resource as a patient's record"},
        {"get", record_get, "fetch, check and decrypt a record"},
        {"list", record_list, "list a patient's records you may read"},
        {"erase", record_erase, "erase a record's ciphertext and keys everywhere"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("record", subs, argc, argv);
}
