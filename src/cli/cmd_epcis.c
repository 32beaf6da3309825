/*
 * cli/cmd_epcis.c — `carechain epcis capture|events`: hand a trading
 * partner's EPCIS 2.0 document to the ledger (a signed POST /epcis/capture,
 * all events or none) and read back the events of an EPC.
 */
#include <stdlib.h>
#include <string.h>

#include "carechain/gs1.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define DOC_MAX   (1024u * 1024) /* the node refuses more; read a little more to let it say so */
#define EPC_BYTES (3 * CC_GS1_EPC_MAX)

/* The error of an EPCIS answer: {"error":"code","message":...} or the
 * API's {"error":{"code","message"}}. */
static const char *epcis_code(const cc_cli_resp *r)
{
    const char *c = json_string_value(json_object_get(r->json, "error"));
    return c ? c : cc_cli_resp_code(r);
}

static const char *epcis_message(const cc_cli_resp *r)
{
    const char *m = json_string_value(json_object_get(r->json, "message"));
    return m ? m : cc_cli_resp_message(r);
}

static int epcis_capture(int argc, char **argv)
{
    const char *keyfile = NULL;
    const cc_cli_opt opts[] = {
        {"key", "FILE", "key file of a member of the capturing trading partner", &keyfile},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "epcis capture",
        "FILE --key K",
        "Capture an EPCIS 2.0 JSON-LD document (a signed POST /epcis/capture): all its events or none.",
        opts,
        1,
        1,
        true,
        true,
        "ObjectEvent and AggregationEvent with bizStep commissioning, packing, unpacking,\n"
        "shipping (with an owning_party destination), receiving, dispensing, decommissioning\n"
        "or destroying map onto the drug.* lifecycle (docs/SUPPLY.md). The file's bytes are\n"
        "sent as they are; the node answers once the document is committed.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!keyfile) return cc_cli_usage(ctx.cmd, "missing --key");
    uint8_t *doc = NULL;
    size_t len = 0;
    cc_errbuf eb = {{0}};
    if (cc_file_read(ctx.pos[0], DOC_MAX, &doc, &len, &eb) != CC_OK)
        return cc_cli_usage(ctx.cmd, "cannot read %s: %s", ctx.pos[0], eb.msg);
    cc_key k;
    if (!cc_cli_key_load(ctx.cmd, keyfile, &k, NULL)) {
        free(doc);
        return CC_EXIT_FAIL;
    }
    cc_cli_http *h = cc_cli_http_new(ctx.node);
    cc_cli_resp r;
    cc_err e = h ? cc_cli_http_signed(h, &k, "/epcis/capture", "application/ld+json", doc, len, &r, &eb)
                 : cc_errf(&eb, CC_ERR_NOMEM, "out of memory");
    cc_key_wipe(&k);
    free(doc);
    if (e != CC_OK) {
        cc_cli_http_free(h);
        return cc_cli_fail(&ctx, e, eb.msg);
    }
    bool ok = r.status >= 200 && r.status < 300;
    if (ctx.json && r.json) {
        cc_cli_print_json(r.json);
    } else if (ok) {
        const json_t *ev = json_object_get(r.json, "events");
        size_t count = json_is_array(ev) ? json_array_size(ev) : (size_t)cc_cli_juint(r.json, "events");
        printf("Captured %zu event%s from %s: tx %s committed.\n", count, count == 1 ? "" : "s", ctx.pos[0],
               cc_cli_jstr(r.json, "txid", "?"));
        printf("txid %s\n", cc_cli_jstr(r.json, "txid", "?"));
    } else {
        fprintf(stderr, "carechain %s: refused (HTTP %ld, %s): %s\n", ctx.cmd, r.status, epcis_code(&r),
                epcis_message(&r));
    }
    cc_cli_resp_free(&r);
    cc_cli_http_free(h);
    return ok ? CC_EXIT_OK : CC_EXIT_FAIL;
}

/* The eventList of an EPCISQueryDocument. */
static const json_t *event_list(const json_t *doc)
{
    const json_t *body = json_object_get(json_object_get(doc, "epcisBody"), "queryResults");
    return json_object_get(json_object_get(body, "resultsBody"), "eventList");
}

static void print_event(const json_t *e)
{
    const char *k;
    const json_t *v;
    const char *type = cc_cli_jstr(e, "type", "?");
    printf("- %s %s %s at %s\n", type, cc_cli_jstr(e, "action", ""), cc_cli_jstr(e, "bizStep", ""),
           cc_cli_jstr(e, "eventTime", "?"));
    json_object_foreach((json_t *)e, k, v)
    {
        if (strcmp(k, "epcList") == 0 || strcmp(k, "childEPCs") == 0) {
            printf("    %s: %zu EPC%s, first %s\n", k, json_array_size(v), json_array_size(v) == 1 ? "" : "s",
                   json_string_value(json_array_get(v, 0)) ? json_string_value(json_array_get(v, 0)) : "?");
        } else if (strcmp(k, "parentID") == 0 || strcmp(k, "disposition") == 0 || strcmp(k, "eventID") == 0) {
            printf("    %s: %s\n", k, json_string_value(v) ? json_string_value(v) : "?");
        }
    }
}

static int epcis_events(int argc, char **argv)
{
    const char *keyfile = NULL, *plen_s = NULL;
    const cc_cli_opt opts[] = {
        {"key", "FILE", "your key file (the events are custody history: signed requests only)", &keyfile},
        {"prefix-len", "N", "the company prefix length, to write a GTIN + serial as an EPC URI", &plen_s},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "epcis events",
        "EPC --key K [--prefix-len N]",
        "The EPCIS 2.0 events of an EPC (GET /epcis/epcs/{epc}/events).",
        opts,
        1,
        1,
        true,
        true,
        "EPC is an EPC URI (urn:epc:id:sgtin:... or sscc:...) or any other identifier form;\n"
        "an EPC URI needs the company prefix length, which other forms do not carry: give\n"
        "--prefix-len, or each length 6..12 is tried. The node answers owners, past owners,\n"
        "receivers and the manufacturer of the EPC, and regulators. --json prints the\n"
        "EPCISQueryDocument.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!keyfile) return cc_cli_usage(ctx.cmd, "missing --key");
    uint64_t plen = 0;
    if (plen_s &&
        (!cc_cli_parse_u64(plen_s, false, &plen) || plen < CC_GS1_PREFIX_MIN || plen > CC_GS1_PREFIX_MAX))
        return cc_cli_usage(ctx.cmd, "--prefix-len must be %d..%d", CC_GS1_PREFIX_MIN, CC_GS1_PREFIX_MAX);
    cc_gs1_id id;
    cc_errbuf eb = {{0}};
    const char *text = ctx.pos[0];
    char unit_form[CC_GS1_SSCC_DIGITS + CC_GS1_SERIAL_MAX + 8];
    /* "<gtin14>.<serial>" as the ledger writes it: into element string form */
    const char *dot = strchr(text, '.');
    if (dot && dot - text == CC_GS1_GTIN_DIGITS && strspn(text, "0123456789") == CC_GS1_GTIN_DIGITS) {
        snprintf(unit_form, sizeof unit_form, "(01)%.14s(21)%s", text, dot + 1);
        text = unit_form;
    } else if (strlen(text) == CC_GS1_SSCC_DIGITS && strspn(text, "0123456789") == CC_GS1_SSCC_DIGITS) {
        snprintf(unit_form, sizeof unit_form, "(00)%s", text);
        text = unit_form;
    }
    if (cc_gs1_parse(text, &id, &eb) != CC_OK) return cc_cli_usage(ctx.cmd, "'%s': %s", ctx.pos[0], eb.msg);
    bool is_uri = strncmp(ctx.pos[0], "urn:epc:id:", 11) == 0;

    cc_key k;
    if (keyfile && !cc_cli_key_load(ctx.cmd, keyfile, &k, NULL)) return CC_EXIT_FAIL;
    unsigned lo = is_uri ? 0 : plen ? (unsigned)plen : CC_GS1_PREFIX_MIN;
    unsigned hi = is_uri ? 0 : plen ? (unsigned)plen : CC_GS1_PREFIX_MAX;
    /* each prefix length in turn: the first answer with events wins; when
     * none has any, the last answer is the one reported */
    cc_cli_http *h = cc_cli_http_new(ctx.node);
    cc_cli_resp r = {0};
    json_t *found = NULL; /* the first 200 answer, or the first with events */
    cc_err e = h ? CC_OK : cc_errf(&eb, CC_ERR_NOMEM, "out of memory");
    for (unsigned len = lo; e == CC_OK && len <= hi; len++) {
        char uri[CC_GS1_EPC_MAX], enc[EPC_BYTES], path[CC_CLI_PATH_MAX];
        if (is_uri)
            snprintf(uri, sizeof uri, "%s", ctx.pos[0]);
        else if ((id.kind == CC_GS1_SSCC
                      ? cc_gs1_sscc_uri(id.sscc, len, uri, sizeof uri, &eb)
                      : cc_gs1_sgtin_uri(id.gtin, id.serial, len, uri, sizeof uri, &eb)) != CC_OK)
            continue;
        cc_cli_url_encode(uri, enc, sizeof enc);
        snprintf(path, sizeof path, "/epcis/epcs/%s/events", enc);
        cc_cli_resp_free(&r);
        e = keyfile ? cc_cli_http_signed_get(h, &k, path, &r, &eb)
                    : cc_cli_http_request(h, path, NULL, NULL, 0, &r, &eb);
        if (e != CC_OK || r.status != 200) continue;
        if (!found) found = json_incref(r.json);
        if (json_array_size(event_list(r.json)) > 0) {
            json_decref(found);
            found = json_incref(r.json);
            break;
        }
    }
    cc_cli_http_free(h);
    if (keyfile) cc_key_wipe(&k);
    if (e != CC_OK && !found) {
        cc_cli_resp_free(&r);
        return cc_cli_fail(&ctx, e, eb.msg);
    }
    if (!found) {
        if (ctx.json && r.json)
            cc_cli_print_json(r.json);
        else
            fprintf(stderr, "carechain %s: the node refused (HTTP %ld, %s): %s\n", ctx.cmd, r.status,
                    epcis_code(&r), epcis_message(&r));
        cc_cli_resp_free(&r);
        return CC_EXIT_FAIL;
    }
    json_t *doc = found;
    cc_cli_resp_free(&r);
    if (ctx.json) {
        cc_cli_print_json(doc);
    } else {
        const json_t *list = event_list(doc);
        printf("%zu EPCIS event%s of %s:\n", json_array_size(list), json_array_size(list) == 1 ? "" : "s",
               ctx.pos[0]);
        size_t i;
        const json_t *ev;
        json_array_foreach(list, i, ev)
        {
            print_event(ev);
        }
    }
    json_decref(doc);
    return CC_EXIT_OK;
}

int cc_cmd_epcis(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"capture", epcis_capture, "capture an EPCIS 2.0 document (signed; all events or none)"},
        {"events", epcis_events, "the EPCIS events of an EPC"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("epcis", subs, argc, argv);
}
