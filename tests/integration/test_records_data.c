/*
 * test_records_data.c — health records end to end on one node, through the
 * carechain command as a user runs it and through the client library:
 * the official HL7 FHIR R4 examples round-trip byte for byte; the FHIR
 * Consent and AuditEvent views carry R4's required elements for every
 * consent state; erasure leaves 410 Gone and a chain that still verifies;
 * and a canary marker put in records is found nowhere in the node's data
 * directory or log (DESIGN.md invariant 5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "carechain/chain.h"
#include "carechain/os.h"
#include "cli/cli.h"
#include "support/ct_cli.h"
#include "support/support.h"

#define NODE_START_MS 20000
#define CLI_MS        60000
#define DAY_MS        (24ull * 3600 * 1000)
#define EXPIRING_MS   4000 /* the expiring consent's life: long enough to commit it on a busy machine */

typedef struct fixture {
    ct_net net;
    ct_node node;
    cc_cli_http *h;
    cc_key patient, clinician, specialist, stranger;
    char patient_id[CC_HASH_HEX], clinician_id[CC_HASH_HEX], specialist_id[CC_HASH_HEX];
    char *dir; /* scratch files */
    char canary[48];
    char canary_record[33];
} fixture;

static fixture fx;

/* ---- helpers -------------------------------------------------------------------- */

/* Put plain as a record of the patient, written by author. */
static void put_record(const cc_key *author, const uint8_t *plain, size_t len, const char *type, char id[33])
{
    cc_cli_record_in in = {fx.patient_id, NULL, plain, len, type, "general", "TREAT"};
    cc_cli_sent sent;
    cc_errbuf eb = {{0}};
    if (cc_cli_record_put(fx.h, fx.net.chain_id, author, &in, true, &sent, id, &eb) != CC_OK)
        fail_msg("record put: %s", eb.msg);
    if (!cc_cli_sent_ok(&sent) || !sent.committed) fail_msg("record.put: %s: %s", sent.code, sent.message);
    cc_cli_sent_free(&sent);
}

static void grant(json_t *consent, char txid[CC_HASH_HEX])
{
    cc_cli_sent sent;
    cc_errbuf eb = {{0}};
    assert_int_equal(cc_cli_consent_grant(fx.h, fx.net.chain_id, &fx.patient, consent, true, &sent, &eb),
                     CC_OK);
    if (!cc_cli_sent_ok(&sent) || !sent.committed) fail_msg("consent.grant: %s: %s", sent.code, sent.message);
    if (txid) snprintf(txid, CC_HASH_HEX, "%s", sent.txid);
    cc_cli_sent_free(&sent);
}

static long signed_get(const cc_key *k, const char *path, json_t **body)
{
    cc_cli_resp r;
    cc_errbuf eb = {{0}};
    *body = NULL;
    if (cc_cli_http_signed_get(fx.h, k, path, &r, &eb) != CC_OK) fail_msg("GET %s: %s", path, eb.msg);
    long st = r.status;
    if (r.json) *body = json_incref(r.json);
    cc_cli_resp_free(&r);
    return st;
}

/* ---- setup ---------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    uint8_t rnd[8];
    char hex[17];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(fx.canary, sizeof fx.canary, "CANARY-%s-NAME", cc_hex(rnd, sizeof rnd, hex));
    fx.dir = ct_tmpdir("records-data");
    if (ct_net_create(&fx.net, "records-data") != 0) return -1;
    if (ct_node_start(&fx.node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS) != 0) return -1;
    fx.h = cc_cli_http_new(fx.node.url);
    ct_key("records-data/patient", &fx.patient);
    ct_key("records-data/clinician", &fx.clinician);
    ct_key("records-data/specialist", &fx.specialist);
    ct_key("records-data/stranger", &fx.stranger);
    ct_pk_hex(&fx.patient, fx.patient_id);
    ct_pk_hex(&fx.clinician, fx.clinician_id);
    ct_pk_hex(&fx.specialist, fx.specialist_id);
    char stranger_id[CC_HASH_HEX];
    ct_pk_hex(&fx.stranger, stranger_id);
    if (!ct_cli_commit(fx.h, fx.net.chain_id, &fx.net.admin, "member.register",
                       json_pack("{s:s,s:s}", "id", fx.patient_id, "role", "patient"), NULL) ||
        !ct_cli_commit(fx.h, fx.net.chain_id, &fx.net.admin, "member.register",
                       json_pack("{s:s,s:s}", "id", fx.clinician_id, "role", "clinician"), NULL) ||
        !ct_cli_commit(fx.h, fx.net.chain_id, &fx.net.payer_admin, "member.register",
                       json_pack("{s:s,s:s}", "id", fx.specialist_id, "role", "clinician"), NULL) ||
        !ct_cli_commit(fx.h, fx.net.chain_id, &fx.net.payer_admin, "member.register",
                       json_pack("{s:s,s:s}", "id", stranger_id, "role", "clinician"), NULL))
        return -1;
    /* key files for the CLI */
    const struct {
        const char *name;
        const cc_key *k;
    } files[] = {{"patient", &fx.patient},
                 {"clinician", &fx.clinician},
                 {"specialist", &fx.specialist},
                 {"stranger", &fx.stranger}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *p = ct_strf("%s/%s.key", fx.dir, files[i].name);
        cc_errbuf eb = {{0}};
        cc_err e = cc_key_save(p, files[i].k, NULL, &eb);
        free(p);
        if (e != CC_OK) return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cc_cli_http_free(fx.h);
    if (fx.node.pid) ct_node_stop(&fx.node, SIGTERM, 15000);
    ct_node_free(&fx.node);
    cc_key_wipe(&fx.patient);
    cc_key_wipe(&fx.clinician);
    cc_key_wipe(&fx.specialist);
    cc_key_wipe(&fx.stranger);
    ct_net_destroy(&fx.net);
    ct_rmtree(fx.dir);
    free(fx.dir);
    return 0;
}

/* ---- tests ------------------------------------------------------------------------ */

/* `carechain CMD [SUB] --node URL a1 a2 a3 a4` (SUB may be NULL; the
 * arguments end at the first NULL). */
static int run_view(char **out, const char *cmd, const char *sub, const char *a1, const char *a2,
                    const char *a3, const char *a4)
{
    return sub ? ct_cli(out, CLI_MS, cmd, sub, "--node", fx.node.url, a1, a2, a3, a4, (char *)NULL)
               : ct_cli(out, CLI_MS, cmd, "--node", fx.node.url, a1, a2, a3, a4, (char *)NULL);
}

/* The commands as a user types them: consent for the clinic, record put
 * from a file, get into a file (byte-identical), list, consent list,
 * audit, alerts; and their refusals with exit codes. Every view of a
 * patient's data defaults to the key's own patient, and says what is
 * wrong with its options. */
static void test_cli_flow(void **state)
{
    (void)state;
    char *out = NULL, *res = ct_strf("%s/obs.json", fx.dir), *back = ct_strf("%s/back.json", fx.dir);
    char *pkey = ct_strf("%s/patient.key", fx.dir), *ckey = ct_strf("%s/clinician.key", fx.dir);
    char *skey = ct_strf("%s/specialist.key", fx.dir);
    char *doc =
        ct_strf("{\"resourceType\":\"Observation\",\"status\":\"final\",\"category\":[{\"coding\":[{\"code\":"
                "\"vital-signs\"}]}],\"subject\":{\"display\":\"%s\"},\"valueQuantity\":{\"value\":72}}\n",
                fx.canary);
    assert_int_equal(ct_write_file(res, doc, strlen(doc)), 0);

    /* without a write consent the clinician is refused, with the reason */
    int code = ct_cli(&out, CLI_MS, "record", "put", "--node", fx.node.url, "--key", ckey, "--patient",
                      fx.patient_id, "--file", res, NULL);
    if (code != 1) fail_msg("record put without consent exited %d:\n%s", code, out);
    if (!strstr(out, "write")) fail_msg("record put without consent said:\n%s", out);
    free(out);

    code = ct_cli(&out, CLI_MS, "consent", "grant", "--node", fx.node.url, "--key", pkey, "--patient",
                  fx.patient_id, "--to", fx.clinician_id, "--actions", "write", "--purpose", "TREAT", NULL);
    if (code != 0) fail_msg("consent grant exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "record", "put", "--node", fx.node.url, "--key", ckey, "--patient",
                  fx.patient_id, "--file", res, NULL);
    if (code != 0) fail_msg("record put exited %d:\n%s", code, out);
    const char *rec = strstr(out, "record ");
    assert_non_null(rec);
    assert_int_equal(sscanf(rec, "record %32s", fx.canary_record), 1);
    assert_non_null(strstr(out, "vital-signs")); /* the category came from the resource */
    free(out);
    /* ... a standard one only: a resource's own category code would be on
     * the ledger in the clear */
    char *own = ct_strf("%s/own.json", fx.dir);
    const char *own_doc = "{\"resourceType\":\"Observation\",\"status\":\"final\",\"category\":[{\"coding\":"
                          "[{\"code\":\"hiv-viral-load\"}]}],\"valueQuantity\":{\"value\":40}}";
    assert_int_equal(ct_write_file(own, own_doc, strlen(own_doc)), 0);
    code = ct_cli(&out, CLI_MS, "record", "put", "--node", fx.node.url, "--key", ckey, "--patient",
                  fx.patient_id, "--file", own, NULL);
    if (code != 0 || !strstr(out, "(Observation, general)") || !strstr(out, "not a standard FHIR one"))
        fail_msg("record put of a resource with its own category exited %d:\n%s", code, out);
    free(out);
    free(own);

    /* the patient reads it back, byte for byte */
    code = ct_cli(&out, CLI_MS, "record", "get", fx.canary_record, "--node", fx.node.url, "--key", pkey,
                  "--out", back, NULL);
    if (code != 0) fail_msg("record get exited %d:\n%s", code, out);
    free(out);
    size_t len = 0;
    uint8_t *got = ct_read_file(back, &len);
    assert_non_null(got);
    assert_int_equal(len, strlen(doc));
    assert_memory_equal(got, doc, len);
    free(got);

    /* the specialist has no consent: exit 1, forbidden */
    code =
        ct_cli(&out, CLI_MS, "record", "get", fx.canary_record, "--node", fx.node.url, "--key", skey, NULL);
    if (code != 1) fail_msg("record get without consent exited %d:\n%s", code, out);
    assert_non_null(strstr(out, "consent"));
    free(out);
    /* share for 30 days, then the specialist reads it */
    code =
        ct_cli(&out, CLI_MS, "consent", "grant", "--node", fx.node.url, "--key", pkey, "--patient",
               fx.patient_id, "--to", fx.specialist_id, "--purpose", "TREAT,HOPERAT", "--days", "30", NULL);
    if (code != 0) fail_msg("consent grant (read) exited %d:\n%s", code, out);
    free(out);
    code =
        ct_cli(&out, CLI_MS, "record", "get", fx.canary_record, "--node", fx.node.url, "--key", skey, NULL);
    if (code != 0) fail_msg("record get with consent exited %d:\n%s", code, out);
    assert_non_null(strstr(out, fx.canary)); /* decrypted on stdout */
    free(out);

    code = ct_cli(&out, CLI_MS, "record", "list", "--node", fx.node.url, "--key", pkey, "--patient",
                  fx.patient_id, NULL);
    if (code != 0 || !strstr(out, fx.canary_record)) fail_msg("record list exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "consent", "list", "--node", fx.node.url, "--key", pkey, "--patient",
                  fx.patient_id, NULL);
    if (code != 0 || !strstr(out, "2 consent(s)") || !strstr(out, "for TREAT,HOPERAT"))
        fail_msg("consent list exited %d:\n%s", code, out);
    free(out);
    code =
        ct_cli(&out, CLI_MS, "audit", "--node", fx.node.url, "--key", pkey, "--patient", fx.patient_id, NULL);
    if (code != 0 || !strstr(out, "denied") || !strstr(out, "granted"))
        fail_msg("audit exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "alerts", "--node", fx.node.url, "--key", pkey, "--patient", fx.patient_id,
                  NULL);
    if (code != 0 || !strstr(out, "0 emergency")) fail_msg("alerts exited %d:\n%s", code, out);
    free(out);
    /* someone else's audit trail and consents: exit 1, with the code of
     * the node's OperationOutcome (it was "http_error") */
    code =
        ct_cli(&out, CLI_MS, "audit", "--node", fx.node.url, "--key", skey, "--patient", fx.patient_id, NULL);
    if (code != 1 || !strstr(out, "HTTP 403, forbidden"))
        fail_msg("audit by a stranger exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "consent", "list", "--node", fx.node.url, "--key", skey, "--patient",
                  fx.patient_id, NULL);
    if (code != 1 || !strstr(out, "HTTP 403, forbidden"))
        fail_msg("consent list by a stranger exited %d:\n%s", code, out);
    free(out);
    /* usage errors: exit 2 */
    code = ct_cli(&out, CLI_MS, "record", "get", "nothex", "--key", pkey, NULL);
    assert_int_equal(code, 2);
    free(out);
    code = ct_cli(&out, CLI_MS, "consent", "grant", "--key", pkey, "--patient", fx.patient_id, "--to",
                  fx.specialist_id, NULL);
    assert_int_equal(code, 2); /* no --purpose */
    free(out);
    static const char *const views[][2] = {{"audit", NULL},    {"alerts", NULL},  {"consent", "list"},
                                           {"record", "list"}, {"claim", "list"}, {"claim", "eob"}};
    for (size_t i = 0; i < sizeof views / sizeof *views; i++) {
        const char *cmd = views[i][0], *sub = views[i][1];
        /* without --patient a patient's key reads the patient's own data */
        code = run_view(&out, cmd, sub, "--key", pkey, NULL, NULL);
        if (code != 0 || !strstr(out, fx.patient_id))
            fail_msg("%s as the patient exited %d:\n%s", cmd, code, out);
        free(out);
        code = run_view(&out, cmd, sub, "--patient", fx.patient_id, NULL, NULL);
        if (code != 2 || !strstr(out, "missing --key"))
            fail_msg("%s without --key exited %d:\n%s", cmd, code, out);
        free(out);
        code = run_view(&out, cmd, sub, "--key", pkey, "--patient", "nothex");
        if (code != 2 || !strstr(out, "64-digit hex"))
            fail_msg("%s --patient nothex exited %d:\n%s", cmd, code, out);
        free(out);
    }

    free(doc);
    free(res);
    free(back);
    free(pkey);
    free(ckey);
    free(skey);
}

/* The official HL7 FHIR R4 examples round-trip as records, byte for byte. */
static void test_fhir_examples_roundtrip(void **state)
{
    (void)state;
    const char *base = getenv("CARECHAIN_SHARED_DATA");
    char *dir = ct_strf("%s/fhir", base ? base : "../shared/data");
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "[  SKIPPED ] the HL7 FHIR examples are not here (%s): no round trip\n", dir);
        free(dir);
        skip();
    }
    struct dirent *e;
    unsigned n = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0) continue;
        char *path = ct_strf("%s/%s", dir, e->d_name);
        size_t len = 0;
        uint8_t *bytes = ct_read_file(path, &len);
        assert_non_null(bytes);
        json_t *j = json_loadb((const char *)bytes, len, 0, NULL);
        const char *type = json_string_value(json_object_get(j, "resourceType"));
        if (!type) fail_msg("%s has no resourceType", path);
        char id[33];
        put_record(&fx.patient, bytes, len, type, id);
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        json_t *ans = NULL;
        cc_errbuf eb = {{0}};
        if (cc_cli_record_get(fx.h, &fx.patient, NULL, id, "TREAT", &plain, &plain_len, &ans, &eb) != CC_OK)
            fail_msg("record get %s (%s): %s", id, e->d_name, eb.msg);
        assert_int_equal(plain_len, len);
        assert_memory_equal(plain, bytes, len);
        assert_string_equal(ct_json_str(json_object_get(ans, "record"), "resourceType"), type);
        n++;
        free(plain);
        json_decref(ans);
        json_decref(j);
        free(bytes);
        free(path);
    }
    closedir(d);
    free(dir);
    fprintf(stderr, "%u HL7 examples round-tripped\n", n);
    assert_true(n > 0);
}

static bool has_coding(const json_t *cc)
{
    return json_is_object(cc) && json_array_size(json_object_get(cc, "coding")) > 0 &&
           json_string_value(json_object_get(json_array_get(json_object_get(cc, "coding"), 0), "code"));
}

/* R4 Consent: status, scope, category (1..*), and policy or policyRule
 * (ppc-1); we also promise patient, dateTime and provision.type. */
static void check_consent(const json_t *c)
{
    assert_string_equal(ct_json_str(c, "resourceType"), "Consent");
    assert_true(strlen(ct_json_str(c, "id")) == 64);
    const char *status = ct_json_str(c, "status");
    assert_true(strcmp(status, "active") == 0 || strcmp(status, "inactive") == 0 ||
                strcmp(status, "proposed") == 0 || strcmp(status, "rejected") == 0);
    assert_true(has_coding(json_object_get(c, "scope")));
    assert_true(json_array_size(json_object_get(c, "category")) > 0);
    assert_true(has_coding(json_array_get(json_object_get(c, "category"), 0)));
    assert_true(json_object_get(c, "policyRule") || json_array_size(json_object_get(c, "policy")) > 0);
    assert_true(strstr(ct_json_str(json_object_get(c, "patient"), "reference"), fx.patient_id) != NULL);
    assert_true(*ct_json_str(c, "dateTime"));
    const char *type = ct_json_str(json_object_get(c, "provision"), "type");
    assert_true(strcmp(type, "permit") == 0 || strcmp(type, "deny") == 0);
}

/* Every consent state renders as valid R4 Consent with the right status;
 * AuditEvents carry R4's required elements. */
static void test_fhir_views(void **state)
{
    (void)state;
    char c_active[CC_HASH_HEX], c_deny[CC_HASH_HEX], c_revoked[CC_HASH_HEX], c_expired[CC_HASH_HEX],
        c_future[CC_HASH_HEX], c_org[CC_HASH_HEX];
    uint64_t now = cc_now_ms();
    grant(json_pack("{s:s,s:{s:s},s:[s],s:[s,s],s:s,s:{s:[s]}}", "patient", fx.patient_id, "grantee",
                    "identity", fx.specialist_id, "actions", "read", "purposes", "TREAT", "HPAYMT",
                    "provision", "permit", "scope", "resourceTypes", "Observation"),
          c_active);
    grant(json_pack("{s:s,s:{s:s},s:[s],s:[s],s:s}", "patient", fx.patient_id, "grantee", "identity",
                    fx.specialist_id, "actions", "read", "purposes", "HRESCH", "provision", "deny"),
          c_deny);
    grant(json_pack("{s:s,s:{s:s},s:[s],s:[s],s:s}", "patient", fx.patient_id, "grantee", "identity",
                    fx.specialist_id, "actions", "read", "purposes", "HOPERAT", "provision", "permit"),
          c_revoked);
    assert_true(ct_cli_commit(fx.h, fx.net.chain_id, &fx.patient, "consent.revoke",
                              json_pack("{s:s}", "consent", c_revoked), NULL));
    grant(json_pack("{s:s,s:{s:s},s:[s],s:[s],s:s,s:{s:I}}", "patient", fx.patient_id, "grantee", "identity",
                    fx.specialist_id, "actions", "read", "purposes", "TREAT", "provision", "permit", "period",
                    "until", (json_int_t)(now + EXPIRING_MS)),
          c_expired);
    grant(json_pack("{s:s,s:{s:s},s:[s],s:[s],s:s,s:{s:I}}", "patient", fx.patient_id, "grantee", "identity",
                    fx.specialist_id, "actions", "read", "purposes", "TREAT", "provision", "permit", "period",
                    "from", (json_int_t)(now + 10 * DAY_MS)),
          c_future);
    grant(json_pack("{s:s,s:{s:s},s:[s],s:[s],s:s}", "patient", fx.patient_id, "grantee", "org", "payer",
                    "actions", "read", "purposes", "HPAYMT", "provision", "permit"),
          c_org);
    uint64_t waited = cc_now_ms() - now;
    if (waited < EXPIRING_MS + 200) cc_sleep_ms((unsigned)(EXPIRING_MS + 200 - waited));
    assert_true(ct_cli_commit(fx.h, fx.net.chain_id, &fx.net.admin, "note.put",
                              json_pack("{s:s,s:s}", "kind", "tick", "sha256",
                                        "00000000000000000000000000000000000000000000000000000000000000bb"),
                              NULL));

    char path[256];
    json_t *b;
    snprintf(path, sizeof path, "/fhir/Consent?patient=%s", fx.patient_id);
    assert_int_equal(signed_get(&fx.patient, path, &b), 200);
    assert_string_equal(ct_json_str(b, "resourceType"), "Bundle");
    assert_string_equal(ct_json_str(b, "type"), "searchset");
    size_t i;
    json_t *e;
    unsigned seen = 0;
    json_array_foreach(json_object_get(b, "entry"), i, e)
    {
        const json_t *c = json_object_get(e, "resource");
        check_consent(c);
        const char *id = ct_json_str(c, "id"), *status = ct_json_str(c, "status");
        const char *type = ct_json_str(json_object_get(c, "provision"), "type");
        if (strcmp(id, c_active) == 0) seen++, assert_string_equal(status, "active");
        if (strcmp(id, c_deny) == 0) seen++, assert_string_equal(type, "deny");
        if (strcmp(id, c_revoked) == 0) seen++, assert_string_equal(status, "inactive");
        if (strcmp(id, c_expired) == 0) seen++, assert_string_equal(status, "inactive");
        if (strcmp(id, c_future) == 0) seen++, assert_string_equal(status, "proposed");
        if (strcmp(id, c_org) == 0) {
            seen++;
            const json_t *actor =
                json_array_get(json_object_get(json_object_get(c, "provision"), "actor"), 0);
            assert_non_null(
                strstr(ct_json_str(json_object_get(actor, "reference"), "reference"), "Organization/payer"));
        }
    }
    assert_int_equal(seen, 6);
    assert_int_equal(ct_json_int(b, "total"), (int64_t)json_array_size(json_object_get(b, "entry")));
    json_decref(b);

    /* one consent by id: the patient and the grantee may, others not */
    snprintf(path, sizeof path, "/fhir/Consent/%s", c_active);
    assert_int_equal(signed_get(&fx.specialist, path, &b), 200);
    check_consent(b);
    json_decref(b);
    assert_int_equal(signed_get(&fx.stranger, path, &b), 403);
    assert_string_equal(ct_json_str(b, "resourceType"), "OperationOutcome");
    json_decref(b);

    /* AuditEvent: type, recorded, agent (requestor), source.observer */
    snprintf(path, sizeof path, "/fhir/AuditEvent?patient=%s", fx.patient_id);
    assert_int_equal(signed_get(&fx.patient, path, &b), 200);
    assert_string_equal(ct_json_str(b, "type"), "searchset");
    assert_true(json_array_size(json_object_get(b, "entry")) > 5);
    json_array_foreach(json_object_get(b, "entry"), i, e)
    {
        const json_t *a = json_object_get(e, "resource");
        assert_string_equal(ct_json_str(a, "resourceType"), "AuditEvent");
        assert_non_null(json_object_get(json_object_get(a, "type"), "code"));
        assert_true(*ct_json_str(a, "recorded"));
        assert_true(json_array_size(json_object_get(a, "agent")) > 0);
        assert_true(
            json_is_boolean(json_object_get(json_array_get(json_object_get(a, "agent"), 0), "requestor")));
        assert_non_null(json_object_get(json_object_get(a, "source"), "observer"));
        const char *outcome = ct_json_str(a, "outcome");
        assert_true(strcmp(outcome, "0") == 0 || strcmp(outcome, "4") == 0);
    }
    json_decref(b);
}

/* Erasure: the ciphertext and keys go, reads answer 410, only the patient
 * (or the authoring organisation) may erase, the ciphertext's bytes are
 * nowhere in the node's directory any more (LMDB's free pages included),
 * and the chain still verifies. */
static void test_erasure(void **state)
{
    (void)state;
    static const char doc[] = "{\"resourceType\":\"Condition\",\"code\":{\"text\":\"to be erased\"}}";
    char id[33], path[256], *out = NULL;
    put_record(&fx.patient, (const uint8_t *)doc, sizeof doc - 1, "Condition", id);
    json_t *b;
    snprintf(path, sizeof path, "/v1/records/%s?purpose=TREAT", id);
    assert_int_equal(signed_get(&fx.patient, path, &b), 200);
    char hash[CC_HASH_HEX];
    snprintf(hash, sizeof hash, "%s", ct_json_str(json_object_get(b, "record"), "ciphertext"));
    json_decref(b);
    /* the ciphertext's bytes, read from the running node's store */
    cc_chain *c;
    cc_chain_options opt = {.readonly = true};
    cc_errbuf eb = {{0}};
    char *data = ct_strf("%s/data", fx.net.node_dir);
    uint8_t h[CC_HASH_BYTES], *ciphertext = NULL, *bytes = NULL;
    size_t ct_len = 0, len = 0;
    assert_int_equal(cc_unhex(hash, h, sizeof h), CC_OK);
    assert_int_equal(cc_chain_open(data, fx.net.genesis, fx.net.genesis_len, &opt, &c, &eb), CC_OK);
    assert_int_equal(cc_chain_attachment(c, h, &ciphertext, &ct_len), CC_OK);
    cc_chain_close(c);
    assert_true(ct_tree_holds(fx.net.dir, ciphertext, ct_len, 64)); /* the scan finds them where they are */

    char *skey = ct_strf("%s/stranger.key", fx.dir), *pkey = ct_strf("%s/patient.key", fx.dir);
    int code = ct_cli(&out, CLI_MS, "record", "erase", id, "--node", fx.node.url, "--key", skey, "--reason",
                      "not theirs", NULL);
    if (code != 1) fail_msg("erase by a stranger exited %d:\n%s", code, out);
    free(out);
    code = ct_cli(&out, CLI_MS, "record", "erase", id, "--node", fx.node.url, "--key", pkey, "--reason",
                  "patient request", NULL);
    if (code != 0) fail_msg("erase by the patient exited %d:\n%s", code, out);
    free(out);
    assert_int_equal(signed_get(&fx.patient, path, &b), 410);
    assert_null(json_object_get(b, "ciphertext"));
    json_decref(b);
    code = ct_cli(&out, CLI_MS, "record", "get", id, "--node", fx.node.url, "--key", pkey, NULL);
    assert_int_equal(code, 1);
    free(out);

    /* stop; the bytes are gone from the store and from the disk (not one
     * 64-byte slice of them left anywhere); verify-chain passes */
    assert_int_equal(ct_node_stop(&fx.node, SIGTERM, 15000), 0);
    assert_int_equal(cc_chain_open(data, fx.net.genesis, fx.net.genesis_len, &opt, &c, &eb), CC_OK);
    assert_int_equal(cc_chain_attachment(c, h, &bytes, &len), CC_ERR_NOT_FOUND);
    cc_chain_close(c);
    free(data);
    assert_false(ct_tree_holds(fx.net.dir, ciphertext, ct_len, 64));
    free(ciphertext);
    code = ct_cli(&out, CLI_MS, "verify-chain", "--dir", fx.net.node_dir, NULL);
    if (code != 0) fail_msg("verify-chain after erasure exited %d:\n%s", code, out);
    free(out);
    assert_int_equal(ct_node_start(&fx.node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS), 0);
    free(skey);
    free(pkey);
}

/* The canary: the marker that test_cli_flow put inside a record (as a
 * patient's name) is nowhere in the node's directory or its log. */
static void test_canary(void **state)
{
    (void)state;
    /* the scanner finds the marker where it is (a test that could fail) */
    char *control = ct_strf("%s/control.txt", fx.dir);
    assert_int_equal(ct_write_file(control, fx.canary, strlen(fx.canary)), 0);
    assert_true(ct_tree_contains(fx.dir, fx.canary));
    remove(control);
    free(control);
    const char *plain_files[] = {"back.json", "obs.json"}; /* the patient's own decrypted copies */
    for (size_t i = 0; i < 2; i++) {
        char *p = ct_strf("%s/%s", fx.dir, plain_files[i]);
        remove(p);
        free(p);
    }

    assert_int_equal(ct_node_stop(&fx.node, SIGTERM, 15000), 0); /* flush the log */
    assert_false(ct_tree_contains(fx.net.dir, fx.canary));       /* data/, raft, genesis, keys */
    assert_false(ct_tree_contains(fx.node.log_path, fx.canary));
    assert_int_equal(ct_node_start(&fx.node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_flow),   cmocka_unit_test(test_fhir_examples_roundtrip),
        cmocka_unit_test(test_fhir_views), cmocka_unit_test(test_erasure),
        cmocka_unit_test(test_canary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
