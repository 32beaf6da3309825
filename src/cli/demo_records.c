/*
 * cli/demo_records.c — the health records scenario of `carechain demo`
 * (issue "patient-controlled health records"): a patient registers; a clinic
 * writes an encrypted record; the patient shares it with a specialist for
 * treatment for 30 days; the specialist reads it; a researcher is denied; the
 * patient revokes and the specialist is denied; the patient lists who
 * accessed the data; an emergency doctor breaks the glass and the patient
 * sees the alert. Every read below is a signed request that the node audits
 * on the ledger before it answers.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carechain/os.h"
#include "cli/cli.h"

#define PATH_BYTES 4096
#define DAY_MS     (24ull * 3600 * 1000)

/* The record the clinic writes. The name is health data: it must never
 * reach the ledger, the node's disk or its logs in the clear. */
static const char observation[] =
    "{\"resourceType\":\"Observation\",\"status\":\"final\","
    "\"category\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/observation-category\","
    "\"code\":\"laboratory\"}]}],"
    "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"4548-4\",\"display\":\"Hemoglobin "
    "A1c\"}]},"
    "\"subject\":{\"display\":\"Alex Demo-Patient, born 1980-02-29\"},"
    "\"valueQuantity\":{\"value\":6.1,\"unit\":\"%\"}}\n";

typedef struct scene {
    cc_cli_http *h;
    const uint8_t *chain_id;
    const char *dir;
    cc_key patient, clinic_doc, specialist, researcher, er_doc, clinic_records;
    char patient_id[CC_HASH_HEX], specialist_id[CC_HASH_HEX];
    char record[33], consent[CC_HASH_HEX];
} scene;

static int failed(const char *what, const char *why)
{
    printf("   FAILED: %s: %s\n", what, why);
    return CC_EXIT_FAIL;
}

static bool key_at(const scene *s, const char *name, cc_key *k, bool create)
{
    char path[PATH_BYTES];
    cc_errbuf eb = {{0}};
    snprintf(path, sizeof path, "%s/keys/%s.key", s->dir, name);
    if (create) {
        cc_key_generate(k);
        if (cc_key_save(path, k, NULL, &eb) == CC_OK) return true;
    } else if (cc_key_load(path, k, NULL, &eb) == CC_OK) {
        return true;
    }
    printf("   FAILED: %s: %s\n", path, eb.msg);
    return false;
}

/* Send a tx and wait; true when it committed with result ok. */
static bool commit(scene *s, const cc_key *k, const char *type, json_t *payload, char txid[CC_HASH_HEX])
{
    cc_errbuf eb = {{0}};
    if (cc_cli_commit_json(s->h, s->chain_id, k, type, payload, txid, &eb) == CC_OK) return true;
    printf("   FAILED: %s: %s\n", type, eb.msg);
    return false;
}

static bool grant(scene *s, json_t *consent, char txid[CC_HASH_HEX])
{
    cc_errbuf eb = {{0}};
    cc_cli_sent sent;
    if (cc_cli_consent_grant(s->h, s->chain_id, &s->patient, consent, true, &sent, &eb) != CC_OK) {
        printf("   FAILED: consent.grant: %s\n", eb.msg);
        return false;
    }
    bool ok = cc_cli_sent_ok(&sent) && sent.committed;
    if (!ok) printf("   FAILED: consent.grant: %s %s\n", sent.code, sent.message);
    if (txid) snprintf(txid, CC_HASH_HEX, "%s", sent.txid);
    cc_cli_sent_free(&sent);
    return ok;
}

/* Read the record as k for purpose; prints the outcome. Returns the
 * cc_err of the read (CC_OK: decrypted and checked). */
static cc_err read_as(scene *s, const char *who, const cc_key *k, const cc_key *org_key, const char *purpose)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    json_t *ans = NULL;
    cc_errbuf eb = {{0}};
    cc_err e = cc_cli_record_get(s->h, k, org_key, s->record, purpose, &plain, &len, &ans, &eb);
    if (e == CC_OK) {
        bool same = len == sizeof observation - 1 && memcmp(plain, observation, len) == 0;
        const json_t *access = json_object_get(ans, "access");
        printf(
            "   %s reads it for %s: granted (via %s%s); decrypted %zu bytes, %s the clinic's; audit tx %s.\n",
            who, purpose, cc_cli_jstr(access, "via", "?"),
            json_is_true(json_object_get(access, "emergency")) ? ", EMERGENCY" : "", len,
            same ? "byte-identical to" : "DIFFERENT from", cc_cli_jstr(ans, "audit", "?"));
        if (!same) e = CC_ERR_VERIFY;
        sodium_memzero(plain, len);
    } else {
        printf("   %s reads it for %s: %s (%s): %s\n", who, purpose,
               e == CC_ERR_FORBIDDEN ? "denied" : "failed", cc_err_name(e), eb.msg);
    }
    free(plain);
    json_decref(ans);
    return e;
}

static int run(scene *s)
{
    cc_errbuf eb = {{0}};
    cc_key admin_clinic, admin_hospital, admin_research;
    char hex[CC_HASH_HEX];

    /* 1. people */
    if (!key_at(s, "admin-clinic", &admin_clinic, false) ||
        !key_at(s, "admin-hospital", &admin_hospital, false) ||
        !key_at(s, "admin-research", &admin_research, false))
        return CC_EXIT_FAIL;
    s->clinic_records = admin_clinic; /* genesis made the clinic's first admin its records key */
    if (!key_at(s, "patient-alex", &s->patient, true) ||
        !key_at(s, "clinic-clinician", &s->clinic_doc, true) || !key_at(s, "er-doctor", &s->er_doc, true) ||
        !key_at(s, "clinician", &s->specialist, false) ||
        !key_at(s, "records-researcher", &s->researcher, true))
        return CC_EXIT_FAIL;
    cc_hex(s->patient.pk, CC_PUBKEY_BYTES, s->patient_id);
    cc_hex(s->specialist.pk, CC_PUBKEY_BYTES, s->specialist_id);
    bool ok = commit(s, &admin_hospital, "member.register",
                     json_pack("{s:s, s:s}", "id", s->patient_id, "role", "patient"), NULL) &&
              commit(s, &admin_clinic, "member.register",
                     json_pack("{s:s, s:s, s:s}", "id", cc_hex(s->clinic_doc.pk, 32, hex), "role",
                               "clinician", "name", "Dr Lee (Riverside Clinic)"),
                     NULL) &&
              commit(s, &admin_clinic, "member.register",
                     json_pack("{s:s, s:s, s:s}", "id", cc_hex(s->er_doc.pk, 32, hex), "role", "clinician",
                               "name", "Dr Okafor (Riverside emergency department)"),
                     NULL);
    ok = ok && commit(s, &admin_research, "member.register",
                      json_pack("{s:s, s:s, s:s}", "id", cc_hex(s->researcher.pk, 32, hex), "role",
                                "researcher", "name", "Dr Chen (outcomes study)"),
                      NULL);
    cc_key_wipe(&admin_hospital);
    cc_key_wipe(&admin_research);
    cc_key_wipe(&admin_clinic); /* its copy lives on in s->clinic_records */
    if (!ok) return CC_EXIT_FAIL;
    printf("   A patient registers: id %.16s… (a public key; no name, birth date or record number).\n",
           s->patient_id);

    /* 2. the clinic may write; it writes an encrypted record */
    ok = grant(s,
               json_pack("{s:s, s:{s:s}, s:[s], s:[s], s:s}", "patient", s->patient_id, "grantee", "org",
                         "clinic", "actions", "write", "purposes", "TREAT", "provision", "permit"),
               NULL);
    if (!ok) return CC_EXIT_FAIL;
    printf("   The patient lets Riverside Clinic write records for treatment (consent.grant, write).\n");
    cc_cli_record_in in = {
        s->patient_id, NULL,   (const uint8_t *)observation, sizeof observation - 1, "Observation",
        "laboratory",  "TREAT"};
    cc_cli_sent sent;
    if (cc_cli_record_put(s->h, s->chain_id, &s->clinic_doc, &in, true, &sent, s->record, &eb) != CC_OK)
        return failed("record.put", eb.msg);
    ok = cc_cli_sent_ok(&sent) && sent.committed;
    if (!ok)
        printf("   FAILED: record.put: %s %s\n", sent.code, sent.message);
    else
        printf("   Dr Lee at the clinic writes a lab result: encrypted on her machine, key sealed for the "
               "patient\n"
               "   and the clinic; record %s in block %llu. The ledger holds its hash, never its text.\n",
               s->record, (unsigned long long)sent.height);
    cc_cli_sent_free(&sent);
    if (!ok) return CC_EXIT_FAIL;

    /* 3. share with the specialist for 30 days; the specialist reads */
    uint64_t until = cc_now_ms() + 30 * DAY_MS;
    if (!grant(s,
               json_pack("{s:s, s:{s:s}, s:[s], s:[s], s:{s:I}, s:s}", "patient", s->patient_id, "grantee",
                         "identity", s->specialist_id, "actions", "read", "purposes", "TREAT", "period",
                         "until", (json_int_t)until, "provision", "permit"),
               s->consent))
        return CC_EXIT_FAIL;
    printf("   The patient shares with Dr Ada Example (hospital) for treatment, 30 days: consent %.16s…;\n"
           "   the record's key is re-wrapped for her on the patient's machine.\n",
           s->consent);
    if (read_as(s, "Dr Ada Example", &s->specialist, NULL, "TREAT") != CC_OK) return CC_EXIT_FAIL;

    /* 4. a researcher has no consent */
    if (read_as(s, "Dr Chen, a researcher with no consent,", &s->researcher, NULL, "HRESCH") !=
        CC_ERR_FORBIDDEN)
        return failed("researcher", "was not denied");

    /* 5. revoke */
    if (!commit(s, &s->patient, "consent.revoke",
                json_pack("{s:s, s:s}", "consent", s->consent, "reason", "second opinion done"), NULL))
        return CC_EXIT_FAIL;
    printf("   The patient revokes the consent.\n");
    if (read_as(s, "Dr Ada Example", &s->specialist, NULL, "TREAT") != CC_ERR_FORBIDDEN)
        return failed("after revoke", "the specialist was not denied");

    /* 6. break-glass */
    printf("   At night the patient arrives unconscious at Riverside's emergency department.\n");
    if (read_as(s, "Dr Okafor (no consent)", &s->er_doc, &s->clinic_records, "TREAT") != CC_ERR_FORBIDDEN)
        return failed("emergency doctor", "was not denied without break-glass");
    if (read_as(s, "Dr Okafor, breaking the glass,", &s->er_doc, &s->clinic_records, "ETREAT") != CC_OK)
        return CC_EXIT_FAIL;

    /* 7. the patient's view */
    char path[PATH_BYTES];
    json_t *bundle = NULL, *alerts = NULL;
    snprintf(path, sizeof path, "/fhir/AuditEvent?patient=%s", s->patient_id);
    if (cc_cli_signed_json(s->h, &s->patient, path, &bundle, NULL, &eb) != CC_OK)
        return failed("audit", eb.msg);
    size_t n = json_array_size(json_object_get(bundle, "entry")), granted = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(bundle, "entry"), i, e) granted +=
        strcmp(cc_cli_jstr(json_object_get(e, "resource"), "outcome", ""), "0") == 0;
    json_decref(bundle);
    printf("   The patient asks who accessed the data: %zu audit events on the ledger (%zu granted, %zu "
           "denied),\n"
           "   every read above included (the patient's own key re-wrapping reads too).\n",
           n, granted, n - granted);
    snprintf(path, sizeof path, "/v1/patients/%s/alerts", s->patient_id);
    if (cc_cli_signed_json(s->h, &s->patient, path, &alerts, NULL, &eb) != CC_OK)
        return failed("alerts", eb.msg);
    size_t alert_count = json_array_size(json_object_get(alerts, "alerts"));
    json_t *first = json_array_get(json_object_get(alerts, "alerts"), 0);
    printf("   The patient's alerts: %zu emergency access(es)%s%.16s%s\n", alert_count, first ? ", by " : "",
           first ? cc_cli_jstr(first, "requester", "?") : "", first ? "… (break-glass)." : ".");
    json_decref(alerts);
    return alert_count == 1 ? CC_EXIT_OK : failed("alerts", "expected exactly one emergency access");
}

int cc_cli_demo_records(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const char *net_dir)
{
    scene s;
    memset(&s, 0, sizeof s);
    s.h = h;
    s.chain_id = chain_id;
    s.dir = net_dir;
    int rc = run(&s);
    cc_key_wipe(&s.patient);
    cc_key_wipe(&s.clinic_doc);
    cc_key_wipe(&s.specialist);
    cc_key_wipe(&s.researcher);
    cc_key_wipe(&s.er_doc);
    cc_key_wipe(&s.clinic_records);
    return rc;
}
