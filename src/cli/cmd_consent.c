/*
 * cli/cmd_consent.c — `carechain consent grant|revoke|list`: a patient (or
 * their delegate) decides who may read or write which records, for which
 * purpose and for how long. Granting read re-wraps the patient's record keys
 * for the grantee here, on the patient's machine (records_client.c).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carechain/os.h"
#include "cli/cli.h"

#define DAY_MS (24ull * 3600 * 1000)

/* "a,b,c" -> ["a","b","c"]; NULL when empty items appear. */
static json_t *split_list(const char *csv)
{
    json_t *a = json_array();
    const char *p = csv;
    while (a && p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0) {
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, json_stringn(p, n));
        p = comma ? comma + 1 : NULL;
    }
    return a;
}

/* "2026-12-31" (UTC midnight) or "2026-12-31T08:00:00Z" -> ms. */
static bool parse_date(const char *s, uint64_t *ms)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (end && *end == 'T') end = strptime(end + 1, "%H:%M:%S", &tm);
    if (!end || (*end && strcmp(end, "Z") != 0)) return false;
    time_t t = timegm(&tm);
    if (t < 0) return false;
    *ms = (uint64_t)t * 1000;
    return true;
}

static int consent_grant(int argc, char **argv)
{
    const char *patient = NULL, *to = NULL, *to_org = NULL, *actions = "read", *purposes = NULL,
               *types = NULL, *categories = NULL, *records = NULL, *from = NULL, *until = NULL, *days = NULL,
               *trial = NULL;
    bool deny = false;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the patient's (or a delegate's) key file", &w.key},
        {"patient", "ID", "the patient's id (hex)", &patient},
        {"to", "ID", "the grantee identity (hex)", &to},
        {"to-org", "ORG", "the grantee organisation (all its members but patients)", &to_org},
        {"actions", "LIST", "read, write or read,write (default read)", &actions},
        {"purpose", "LIST", "purposes of use, e.g. TREAT or TREAT,HPAYMT", &purposes},
        {"types", "LIST", "only these FHIR resource types", &types},
        {"categories", "LIST", "only these categories", &categories},
        {"records", "LIST", "only these record ids", &records},
        {"from", "DATE", "valid from (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ; default now)", &from},
        {"until", "DATE", "valid until (exclusive)", &until},
        {"days", "N", "valid for N days from now (instead of --until)", &days},
        {"deny", NULL, "a deny provision (it overrides every permit)", &deny},
        {"trial", "ID", "a research consent for this trial (read, --purpose HRESCH; docs/TRIALS.md)", &trial},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "consent grant",
        "--key K --patient ID (--to ID | --to-org ORG) --purpose LIST [--actions LIST] [scope] [period] "
        "[--deny]",
        "Grant (or deny) access to a patient's records (a consent.grant tx).",
        opts,
        0,
        0,
        true,
        true,
        "Without --types/--categories/--records the consent covers all the patient's records,\n"
        "present and future. A read permit re-wraps the keys of the covered records for the\n"
        "grantee on this machine: the patient's secret key never leaves it. Purposes: TREAT\n"
        "HPAYMT HOPERAT HRESCH ETREAT. Deny wins over permit.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!patient || !cc_cli_hex_ok(patient, CC_PUBKEY_BYTES))
        return cc_cli_usage(ctx.cmd, "--patient must be a 64-digit hex id");
    if (!to == !to_org) return cc_cli_usage(ctx.cmd, "give exactly one of --to and --to-org");
    if (to && !cc_cli_hex_ok(to, CC_PUBKEY_BYTES))
        return cc_cli_usage(ctx.cmd, "--to must be a 64-digit hex id");
    if (!purposes) return cc_cli_usage(ctx.cmd, "missing --purpose");
    if (until && days) return cc_cli_usage(ctx.cmd, "give --until or --days, not both");

    json_t *period = json_object();
    uint64_t t;
    if (from) {
        if (!parse_date(from, &t)) return cc_cli_usage(ctx.cmd, "--from is not a date (YYYY-MM-DD)");
        json_object_set_new(period, "from", json_integer((json_int_t)t));
    }
    if (until) {
        if (!parse_date(until, &t)) return cc_cli_usage(ctx.cmd, "--until is not a date (YYYY-MM-DD)");
        json_object_set_new(period, "until", json_integer((json_int_t)t));
    } else if (days) {
        uint64_t n;
        if (!cc_cli_parse_u64(days, false, &n) || n == 0 || n > 36500)
            return cc_cli_usage(ctx.cmd, "--days must be 1..36500");
        json_object_set_new(period, "until", json_integer((json_int_t)(cc_now_ms() + n * DAY_MS)));
    }
    json_t *grantee = to ? json_pack("{s:s}", "identity", to) : json_pack("{s:s}", "org", to_org);
    json_t *act = split_list(actions), *purp = split_list(purposes);
    if (!act || !purp) {
        json_decref(act);
        json_decref(purp);
        json_decref(grantee);
        json_decref(period);
        return cc_cli_usage(ctx.cmd, "--actions and --purpose are comma-separated lists without empty items");
    }
    json_t *consent = json_pack("{s:s, s:o, s:o, s:o, s:s}", "patient", patient, "grantee", grantee,
                                "actions", act, "purposes", purp, "provision", deny ? "deny" : "permit");
    if (consent && trial) json_object_set_new(consent, "trial", json_string(trial));
    if (consent && json_object_size(period) > 0) json_object_set(consent, "period", period);
    json_decref(period);
    json_t *scope = json_object();
    const char *lists[][2] = {{"resourceTypes", types}, {"categories", categories}, {"records", records}};
    for (size_t i = 0; i < 3; i++) {
        if (!lists[i][1]) continue;
        json_t *a = split_list(lists[i][1]);
        if (!a) {
            json_decref(scope);
            json_decref(consent);
            return cc_cli_usage(ctx.cmd, "scope lists are comma-separated without empty items");
        }
        json_object_set_new(scope, lists[i][0], a);
    }
    if (consent && json_object_size(scope) > 0) json_object_set(consent, "scope", scope);
    json_decref(scope);

    cc_cli_session s;
    rc = cc_cli_session_open(&ctx, w.key, w.genesis, &s);
    if (rc >= 0) {
        json_decref(consent);
        return rc;
    }
    cc_cli_sent sent;
    cc_errbuf eb = {{0}};
    cc_err e = cc_cli_consent_grant(s.h, s.chain_id, &s.key, consent, !w.no_wait, &sent, &eb);
    if (e != CC_OK) {
        rc = cc_cli_fail(&ctx, e, eb.msg);
    } else {
        rc = cc_cli_sent_report(&ctx, &sent, "consent.grant");
        if (rc == CC_EXIT_OK && !ctx.json) printf("consent %s\n", sent.txid);
        cc_cli_sent_free(&sent);
    }
    cc_cli_session_close(&s);
    return rc;
}

static int consent_revoke(int argc, char **argv)
{
    const char *reason = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the patient's (or a delegate's) key file", &w.key},
        {"reason", "TEXT", "why (kept on the ledger; no PHI)", &reason},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"consent revoke",
                              "CONSENT --key K [--reason TEXT]",
                              "Revoke a consent from the next block on (a consent.revoke tx).",
                              opts,
                              1,
                              1,
                              true,
                              true,
                              NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!cc_cli_hex_ok(ctx.pos[0], CC_HASH_BYTES))
        return cc_cli_usage(ctx.cmd, "CONSENT must be a consent id (a txid)");
    json_t *p = json_pack("{s:s}", "consent", ctx.pos[0]);
    if (p && reason) json_object_set_new(p, "reason", json_string(reason));
    return cc_cli_send_json(&ctx, &w, "consent.revoke", p);
}

/* "Practitioner/ab12..." -> "ab12..." */
static const char *ref_id(const json_t *ref)
{
    const char *r = json_string_value(json_object_get(ref, "reference"));
    const char *slash = r ? strrchr(r, '/') : NULL;
    return slash ? slash + 1 : r ? r : "?";
}

static int consent_list(int argc, char **argv)
{
    const char *keyfile = NULL, *patient = NULL;
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the patient's (or a delegate's) key file", &keyfile},
        {"patient", "ID", "the patient's id (hex; default: the key's own)", &patient},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"consent list",
                              "--key K [--patient ID]",
                              "List a patient's consents (GET /fhir/Consent, signed and audited).",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              "--json prints the FHIR R4 searchset Bundle.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    char self[CC_HASH_HEX];
    if ((rc = cc_cli_patient_opts(&ctx, keyfile, &patient, self)) >= 0) return rc;
    char path[CC_CLI_PATH_MAX];
    json_t *bundle;
    snprintf(path, sizeof path, "/fhir/Consent?patient=%s", patient);
    if ((rc = cc_cli_get_json_as(&ctx, keyfile, path, &bundle)) >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(bundle);
    } else {
        const json_t *entries = json_object_get(bundle, "entry");
        printf("%zu consent(s) of patient %s:\n", json_array_size(entries), patient);
        size_t i;
        const json_t *e;
        json_array_foreach(entries, i, e)
        {
            const json_t *c = json_object_get(e, "resource"), *prov = json_object_get(c, "provision");
            const json_t *actor = json_array_get(json_object_get(prov, "actor"), 0);
            const json_t *period = json_object_get(prov, "period"), *purpose;
            char purposes[64] = "";
            size_t j, len = 0;
            json_array_foreach(json_object_get(prov, "purpose"), j, purpose)
            {
                if (len < sizeof purposes)
                    len += (size_t)snprintf(purposes + len, sizeof purposes - len, "%s%s", j ? "," : "",
                                            cc_cli_jstr(purpose, "code", "?"));
            }
            printf("  %s  %-8s %-6s to %-16.16s for %-7s until %s\n", cc_cli_jstr(c, "id", "?"),
                   cc_cli_jstr(c, "status", "?"), cc_cli_jstr(prov, "type", "?"),
                   ref_id(json_object_get(actor, "reference")), purposes[0] ? purposes : "?",
                   cc_cli_jstr(period, "end", "(open)"));
        }
    }
    json_decref(bundle);
    return CC_EXIT_OK;
}

int cc_cmd_consent(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"grant", consent_grant, "grant or deny access to a patient's records"},
        {"revoke", consent_revoke, "revoke a consent"},
        {"list", consent_list, "list a patient's consents (FHIR Consent)"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("consent", subs, argc, argv);
}
