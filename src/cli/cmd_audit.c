/*
 * cli/cmd_audit.c — `carechain audit` and `carechain alerts`: a patient sees
 * every access to their data (each one an audit.access tx on the ledger)
 * and every break-glass access as an alert.
 */
#include <string.h>

#include "carechain/os.h"
#include "cli/cli.h"

typedef struct view_args {
    const char *keyfile, *patient;
    char id[CC_HASH_HEX]; /* the patient: --patient, or the key's own id */
} view_args;

/* Parse the options both commands share; -1 to go on. */
static int parse_view(const cc_cli_spec *spec, int argc, char **argv, cc_cli_ctx *ctx, view_args *a)
{
    int rc = cc_cli_parse(spec, argc, argv, ctx);
    if (rc >= 0) return rc;
    return cc_cli_patient_opts(ctx, a->keyfile, &a->patient, a->id);
}

/* The id after the last '/' of a FHIR reference. */
static const char *ref_id(const json_t *ref)
{
    const char *r = json_string_value(json_object_get(ref, "reference"));
    const char *slash = r ? strrchr(r, '/') : NULL;
    return slash ? slash + 1 : r ? r : "-";
}

static bool is_emergency(const json_t *ev)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(ev, "meta"), "security"), i, c)
    {
        const char *code = json_string_value(json_object_get(c, "code"));
        if (code && strcmp(code, "BTG") == 0) return true;
    }
    return false;
}

int cc_cmd_audit(int argc, char **argv)
{
    view_args a = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the patient's key (or a delegate's, an auditor's or a regulator's)", &a.keyfile},
        {"patient", "ID", "the patient's id (hex; default: the key's own)", &a.patient},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"audit",
                              "--key K [--patient ID]",
                              "Who accessed a patient's data: every request, granted or denied.",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              "Reads GET /fhir/AuditEvent?patient=ID (itself signed and audited). --json\n"
                              "prints the FHIR R4 searchset Bundle of AuditEvent.\n"};
    cc_cli_ctx ctx;
    int rc = parse_view(&spec, argc, argv, &ctx, &a);
    if (rc >= 0) return rc;
    char path[CC_CLI_PATH_MAX];
    json_t *bundle;
    snprintf(path, sizeof path, "/fhir/AuditEvent?patient=%s", a.patient);
    rc = cc_cli_get_json_as(&ctx, a.keyfile, path, &bundle);
    if (rc >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(bundle);
        json_decref(bundle);
        return CC_EXIT_OK;
    }
    const json_t *entries = json_object_get(bundle, "entry");
    printf("%zu access(es) to the data of patient %s:\n", json_array_size(entries), a.patient);
    printf("  %-24s %-8s %-16s %-8s %-34s %s\n", "recorded", "outcome", "requester", "purpose", "record",
           "why");
    size_t i;
    const json_t *e;
    json_array_foreach(entries, i, e)
    {
        const json_t *ev = json_object_get(e, "resource");
        const json_t *agent = json_array_get(json_object_get(ev, "agent"), 0);
        const json_t *purpose = json_array_get(
            json_object_get(json_array_get(json_object_get(ev, "purposeOfEvent"), 0), "coding"), 0);
        const json_t *what = json_object_get(json_array_get(json_object_get(ev, "entity"), 1), "what");
        const char *record = cc_cli_jstr(json_object_get(what, "identifier"), "value", "(all records)");
        const char *outcome = cc_cli_jstr(ev, "outcome", "?");
        printf("  %-24s %-8s %-16.16s %-8s %-34s %s%s\n", cc_cli_jstr(ev, "recorded", "?"),
               strcmp(outcome, "0") == 0 ? "granted" : "denied", ref_id(json_object_get(agent, "who")),
               cc_cli_jstr(purpose, "code", "-"), record, is_emergency(ev) ? "EMERGENCY " : "",
               cc_cli_jstr(ev, "outcomeDesc", ""));
    }
    json_decref(bundle);
    return CC_EXIT_OK;
}

int cc_cmd_alerts(int argc, char **argv)
{
    view_args a = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the patient's (or a delegate's) key file", &a.keyfile},
        {"patient", "ID", "the patient's id (hex; default: the key's own)", &a.patient},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"alerts",
                              "--key K [--patient ID]",
                              "Break-glass (emergency) accesses to a patient's records.",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              NULL};
    cc_cli_ctx ctx;
    int rc = parse_view(&spec, argc, argv, &ctx, &a);
    if (rc >= 0) return rc;
    char path[CC_CLI_PATH_MAX], when[40];
    json_t *ans;
    snprintf(path, sizeof path, "/v1/patients/%s/alerts", a.patient);
    rc = cc_cli_get_json_as(&ctx, a.keyfile, path, &ans);
    if (rc >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(ans);
        json_decref(ans);
        return CC_EXIT_OK;
    }
    const json_t *alerts = json_object_get(ans, "alerts");
    printf("%zu emergency access(es) to the records of patient %s:\n", json_array_size(alerts), a.patient);
    size_t i;
    const json_t *al;
    json_array_foreach(alerts, i, al)
    {
        printf("  %s  by %-16.16s record %s (audit tx %.16s…)\n", cc_cli_time(cc_cli_juint(al, "time"), when),
               cc_cli_jstr(al, "requester", "?"), cc_cli_jstr(al, "record", "-"),
               cc_cli_jstr(al, "txid", "?"));
    }
    json_decref(ans);
    return CC_EXIT_OK;
}
