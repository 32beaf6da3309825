/*
 * cli/cmd_drug.c — `carechain drug ...`: the drug supply chain from the
 * command line (docs/SUPPLY.md). Write commands turn identifiers typed or
 * scanned in any GS1 form into the payload forms the ledger keeps (units
 * "<gtin14>.<serial>", cases by SSCC) and send one drug.* tx; `verify`,
 * `history` and `alerts` ask the node and say the answer in plain words.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apps/supply.h"
#include "carechain/gs1.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define ITEMS_FILE_MAX (4u * 1024 * 1024)
#define BATCH_SERIALS  10000 /* serials of one drug.commission (docs/SUPPLY.md) */
#define COUNT_MAX      10000000
#define PAYLOAD_SLACK  512 /* bytes of a commission payload besides its serials */
#define UNIT_TEXT_MAX  (CC_GS1_GTIN_DIGITS + 1 + CC_GS1_SERIAL_MAX + 1)
#define QUERY_MAX      512

/* ---- identifiers ---------------------------------------------------------------- */

/* One identifier in any accepted form -> a unit "<gtin14>.<serial>" (into
 * units) or an SSCC (into cases). false with a one-line reason in why. */
static bool item_add(const char *text, json_t *units, json_t *cases, char *why, size_t why_len)
{
    cc_gs1_id id;
    cc_errbuf eb = {{0}};
    const char *dot = strchr(text, '.');
    size_t n = strlen(text);

    /* the ledger's own forms first: "<gtin14>.<serial>" and a bare SSCC */
    if (dot && dot - text == CC_GS1_GTIN_DIGITS && strspn(text, "0123456789") == CC_GS1_GTIN_DIGITS) {
        char gtin[CC_GS1_GTIN_DIGITS + 1];
        memcpy(gtin, text, CC_GS1_GTIN_DIGITS);
        gtin[CC_GS1_GTIN_DIGITS] = '\0';
        char norm[CC_GS1_GTIN_DIGITS + 1];
        if (cc_gs1_gtin_normalize(gtin, norm, &eb) != CC_OK) {
            snprintf(why, why_len, "'%s': %s", text, eb.msg);
            return false;
        }
        if (!cc_gs1_serial_valid(dot + 1)) {
            snprintf(why, why_len, "'%s': the serial must be 1..%d characters of the GS1 set", text,
                     CC_GS1_SERIAL_MAX);
            return false;
        }
        json_array_append_new(units, json_string(text));
        return true;
    }
    char ai[CC_GS1_SSCC_DIGITS + 5];
    const char *orig = text;
    if (n == CC_GS1_SSCC_DIGITS && strspn(text, "0123456789") == n) {
        snprintf(ai, sizeof ai, "(00)%s", text); /* the parser says what is wrong */
        text = ai;
    }
    if (cc_gs1_parse(text, &id, &eb) != CC_OK) {
        snprintf(why, why_len, "'%s': %s", orig, eb.msg);
        return false;
    }
    if (id.kind == CC_GS1_SSCC) {
        json_array_append_new(cases, json_string(id.sscc));
    } else {
        char unit[UNIT_TEXT_MAX];
        snprintf(unit, sizeof unit, "%s.%s", id.gtin, id.serial);
        json_array_append_new(units, json_string(unit));
    }
    return true;
}

/* Add each item of "a,b,c" (csv; may be NULL). */
static bool items_csv(const char *csv, json_t *units, json_t *cases, char *why, size_t why_len)
{
    if (!csv) return true;
    char *copy = strdup(csv), *save = NULL;
    bool ok = copy != NULL;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; ok && t; t = strtok_r(NULL, ",", &save))
        ok = item_add(t, units, cases, why, why_len);
    free(copy);
    return ok;
}

/* Add each line of a file (blank lines and lines starting with # skipped). */
static bool items_file(const char *path, json_t *units, json_t *cases, char *why, size_t why_len)
{
    if (!path) return true;
    uint8_t *buf = NULL;
    size_t len = 0;
    cc_errbuf eb = {{0}};
    if (cc_file_read(path, ITEMS_FILE_MAX, &buf, &len, &eb) != CC_OK) {
        snprintf(why, why_len, "%s", eb.msg);
        return false;
    }
    char *text = realloc(buf, len + 1), *save = NULL;
    if (!text) {
        free(buf);
        snprintf(why, why_len, "out of memory");
        return false;
    }
    text[len] = '\0';
    bool ok = true;
    for (char *line = strtok_r(text, "\r\n", &save); ok && line; line = strtok_r(NULL, "\r\n", &save)) {
        while (*line == ' ' || *line == '\t') line++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t')) line[--n] = '\0';
        if (n == 0 || line[0] == '#') continue;
        ok = item_add(line, units, cases, why, why_len);
    }
    free(text);
    return ok;
}

/* The items of a command: its positional arguments from first_pos on,
 * --items and --items-file. Returns -1 with *units and *cases set (caller
 * decrefs), or the usage exit code after saying why. */
static int collect_items(const cc_cli_ctx *ctx, unsigned first_pos, const char *csv, const char *file,
                         bool need_one, json_t **units, json_t **cases)
{
    char why[256] = "";
    *units = json_array();
    *cases = json_array();
    bool ok = *units && *cases;
    for (unsigned i = first_pos; ok && i < ctx->pos_count; i++)
        ok = item_add(ctx->pos[i], *units, *cases, why, sizeof why);
    if (ok) ok = items_csv(csv, *units, *cases, why, sizeof why);
    if (ok) ok = items_file(file, *units, *cases, why, sizeof why);
    if (ok && need_one && json_array_size(*units) + json_array_size(*cases) == 0) {
        ok = false;
        snprintf(why, sizeof why, "name at least one item (ITEM, --items or --items-file)");
    }
    if (ok) return -1;
    json_decref(*units);
    json_decref(*cases);
    *units = *cases = NULL;
    return cc_cli_usage(ctx->cmd, "%s", why[0] ? why : "out of memory");
}

/* A GTIN in any form: 8..14 digits, or an identifier that carries one. */
static bool gtin_arg(const char *text, char gtin[CC_GS1_GTIN_DIGITS + 1], char *why, size_t why_len)
{
    cc_errbuf eb = {{0}};
    if (strspn(text, "0123456789") == strlen(text)) {
        if (cc_gs1_gtin_normalize(text, gtin, &eb) == CC_OK) return true;
        snprintf(why, why_len, "--gtin %s: %s", text, eb.msg);
        return false;
    }
    cc_gs1_id id;
    if (cc_gs1_parse_class(text, &id, &eb) != CC_OK || id.kind != CC_GS1_SGTIN) {
        snprintf(why, why_len, "--gtin %s: %s", text, eb.msg[0] ? eb.msg : "not a GTIN");
        return false;
    }
    memcpy(gtin, id.gtin, sizeof id.gtin);
    return true;
}

/* ---- the write commands ------------------------------------------------------------ */

/* Add "units" and "cases" to p when not empty (taking both arrays). */
static void set_items(json_t *p, json_t *units, json_t *cases)
{
    if (json_array_size(units) > 0) json_object_set(p, "units", units);
    if (json_array_size(cases) > 0) json_object_set(p, "cases", cases);
    json_decref(units);
    json_decref(cases);
}

static int drug_prefix(int argc, char **argv)
{
    const char *org = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "a regulator's key file", &w.key},
        {"org", "ORG", "the organisation the prefix is assigned to", &org},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"drug prefix",
                              "PREFIX --org ORG --key REGULATORKEY",
                              "Assign a GS1 company prefix to a trading partner (a drug.prefix tx).",
                              opts,
                              1,
                              1,
                              true,
                              true,
                              "A prefix is 6..12 digits and belongs to one organisation; no assigned prefix\n"
                              "may be a prefix of another. Only a regulator assigns them.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    size_t n = strlen(ctx.pos[0]);
    if (n < CC_GS1_PREFIX_MIN || n > CC_GS1_PREFIX_MAX || strspn(ctx.pos[0], "0123456789") != n)
        return cc_cli_usage(ctx.cmd, "PREFIX must be %d..%d digits", CC_GS1_PREFIX_MIN, CC_GS1_PREFIX_MAX);
    if (!org || !*org) return cc_cli_usage(ctx.cmd, "missing --org");
    return cc_cli_send_json(&ctx, &w, "drug.prefix",
                            json_pack("{s:s,s:s}", "prefix", ctx.pos[0], "org", org));
}

static int drug_product(int argc, char **argv)
{
    const char *gtin_s = NULL, *ndc = NULL, *name = NULL, *strength = NULL, *form = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "a manufacturer's (or admin's) key file of the prefix's owner", &w.key},
        {"gtin", "GTIN", "the product's GTIN (8..14 digits, check digit verified)", &gtin_s},
        {"ndc", "NDC", "its National Drug Code, e.g. 12345-6789-01", &ndc},
        {"name", "TEXT", "the proprietary name", &name},
        {"strength", "TEXT", "e.g. 500 mg", &strength},
        {"form", "TEXT", "the dosage form, e.g. tablet", &form},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"drug product-register",
                              "--key K --gtin GTIN --ndc NDC --name TEXT --strength TEXT --form TEXT",
                              "Register a product under your company prefix (a drug.product tx).",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              "Only the organisation holding the GTIN's company prefix may register it.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!gtin_s || !ndc || !name || !strength || !form)
        return cc_cli_usage(ctx.cmd, "--gtin, --ndc, --name, --strength and --form are all required");
    char gtin[CC_GS1_GTIN_DIGITS + 1], why[256];
    if (!gtin_arg(gtin_s, gtin, why, sizeof why)) return cc_cli_usage(ctx.cmd, "%s", why);
    return cc_cli_send_json(&ctx, &w, "drug.product",
                            json_pack("{s:s,s:s,s:s,s:s,s:s}", "gtin", gtin, "ndc", ndc, "name", name,
                                      "strength", strength, "form", form));
}

/* The serials of a commission: --serials, or --count with prefix and start. */
static json_t *commission_serials(const cc_cli_ctx *ctx, const char *list, const char *count_s,
                                  const char *prefix, const char *start_s, int *rc)
{
    json_t *a = json_array();
    *rc = -1;
    if (!a) {
        *rc = CC_EXIT_FAIL;
        return NULL;
    }
    if (list) {
        char *copy = strdup(list), *save = NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
            if (!cc_gs1_serial_valid(t)) {
                *rc = cc_cli_usage(ctx->cmd, "serial '%s' is not 1..%d characters of the GS1 set", t,
                                   CC_GS1_SERIAL_MAX);
                break;
            }
            json_array_append_new(a, json_string(t));
        }
        free(copy);
    } else {
        uint64_t count, start = 1;
        if (!cc_cli_parse_u64(count_s, false, &count) || count < 1 || count > COUNT_MAX)
            *rc = cc_cli_usage(ctx->cmd, "--count must be 1..%d", COUNT_MAX);
        else if (start_s && !cc_cli_parse_u64(start_s, false, &start))
            *rc = cc_cli_usage(ctx->cmd, "--start must be a number");
        for (uint64_t i = 0; *rc < 0 && i < count; i++) {
            char s[64];
            snprintf(s, sizeof s, "%s%llu", prefix ? prefix : "", (unsigned long long)(start + i));
            if (!cc_gs1_serial_valid(s))
                *rc = cc_cli_usage(ctx->cmd, "serial '%s' is not 1..%d characters of the GS1 set", s,
                                   CC_GS1_SERIAL_MAX);
            else
                json_array_append_new(a, json_string(s));
        }
    }
    if (*rc < 0 && json_array_size(a) == 0) *rc = cc_cli_usage(ctx->cmd, "no serials");
    if (*rc >= 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static int drug_commission(int argc, char **argv)
{
    const char *gtin_s = NULL, *lot = NULL, *exp = NULL, *serials_s = NULL, *count_s = NULL,
               *serial_prefix = NULL, *start_s = NULL, *width_s = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the manufacturer's key file", &w.key},
        {"gtin", "GTIN", "the registered product", &gtin_s},
        {"lot", "LOT", "the lot (batch) number", &lot},
        {"exp", "YYMMDD", "the expiry date (day 00 = the month's last day)", &exp},
        {"serials", "A,B,C", "these serials", &serials_s},
        {"count", "N", "or N serials numbered from --start", &count_s},
        {"serial-prefix", "TEXT", "with --count: put TEXT before each number (e.g. SN)", &serial_prefix},
        {"start", "N", "with --count: the first number (default 1)", &start_s},
        {"width", "W", "with --count: zero-pad numbers to W digits and send ranges (10,000 per tx)",
         &width_s},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "drug commission",
        "--key K --gtin GTIN --lot LOT --exp YYMMDD (--serials A,B,C | --count N [--serial-prefix SN] "
        "[--start 1] [--width W])",
        "Commission serialised units of a product (drug.commission txs).",
        opts,
        0,
        0,
        true,
        true,
        "At most 10,000 serials go in one tx (fewer when their text would not fit a payload);\n"
        "a bigger lot is sent as several txs, one after the other.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!gtin_s || !lot || !exp) return cc_cli_usage(ctx.cmd, "--gtin, --lot and --exp are required");
    if (!serials_s == !count_s) return cc_cli_usage(ctx.cmd, "give exactly one of --serials and --count");
    if ((serial_prefix || start_s || width_s) && !count_s)
        return cc_cli_usage(ctx.cmd, "--serial-prefix, --start and --width go with --count");
    uint64_t width = 0;
    if (width_s && (!cc_cli_parse_u64(width_s, false, &width) || width < 1 || width > 18))
        return cc_cli_usage(ctx.cmd, "--width must be 1..18");
    char gtin[CC_GS1_GTIN_DIGITS + 1], why[256];
    if (!gtin_arg(gtin_s, gtin, why, sizeof why)) return cc_cli_usage(ctx.cmd, "%s", why);
    if (!cc_gs1_lot_valid(lot))
        return cc_cli_usage(ctx.cmd, "--lot must be 1..%d characters of the GS1 set", CC_GS1_LOT_MAX);
    if (!cc_gs1_exp_valid(exp)) return cc_cli_usage(ctx.cmd, "--exp must be a date YYMMDD");
    json_t *serials = commission_serials(&ctx, serials_s, count_s, serial_prefix, start_s, &rc);
    if (!serials) return rc;

    cc_cli_session s;
    rc = cc_cli_session_open(&ctx, w.key, w.genesis, &s);
    if (rc >= 0) {
        json_decref(serials);
        return rc;
    }
    size_t total = json_array_size(serials), done = 0, txs = 0;
    json_t *sent_all = json_array();
    rc = CC_EXIT_OK;
    while (rc == CC_EXIT_OK && done < total) {
        /* as many serials as fit: the count bound and the payload bound */
        json_t *chunk = json_array();
        size_t bytes = PAYLOAD_SLACK + strlen(lot);
        while (!width && done < total && json_array_size(chunk) < BATCH_SERIALS) {
            const char *sn = json_string_value(json_array_get(serials, done));
            if (bytes + strlen(sn) + 3 > CC_PAYLOAD_MAX) break;
            bytes += strlen(sn) + 3;
            json_array_append(chunk, json_array_get(serials, done));
            done++;
        }
        size_t chunk_n = json_array_size(chunk);
        json_t *p;
        if (width) { /* a range: prefix + start.., zero-padded (docs/SUPPLY.md) */
            uint64_t first = 1;
            if (start_s) (void)cc_cli_parse_u64(start_s, false, &first);
            chunk_n = total - done < BATCH_SERIALS ? total - done : BATCH_SERIALS;
            json_decref(chunk);
            p = json_pack("{s:s,s:s,s:s,s:{s:s,s:I,s:I,s:I}}", "gtin", gtin, "lot", lot, "exp", exp, "range",
                          "prefix", serial_prefix ? serial_prefix : "", "start", (json_int_t)(first + done),
                          "count", (json_int_t)chunk_n, "width", (json_int_t)width);
            if (p && !serial_prefix) json_object_del(json_object_get(p, "range"), "prefix");
            done += chunk_n;
        } else {
            p = json_pack("{s:s,s:s,s:s,s:o}", "gtin", gtin, "lot", lot, "exp", exp, "serials", chunk);
        }
        char *text = cc_cli_json_text(p);
        cc_tx tx;
        cc_cli_sent sent;
        cc_errbuf eb = {{0}};
        cc_err e = text ? cc_cli_tx_build(s.chain_id, &s.key, "drug.commission", text, NULL, 0, &tx, &eb)
                        : cc_errf(&eb, CC_ERR_NOMEM, "out of memory");
        free(text);
        if (e == CC_OK) {
            e = cc_cli_tx_post(s.h, &tx, !w.no_wait, &sent, &eb);
            cc_tx_free(&tx);
        }
        if (e != CC_OK) {
            rc = cc_cli_fail(&ctx, e, eb.msg);
            break;
        }
        txs++;
        if (ctx.json) {
            json_array_append(sent_all, sent.json ? sent.json : json_null());
            rc = cc_cli_sent_ok(&sent) ? CC_EXIT_OK : CC_EXIT_FAIL;
        } else if (!cc_cli_sent_ok(&sent)) {
            rc = cc_cli_sent_report(&ctx, &sent, "drug.commission");
        } else {
            char sh[CC_CLI_SHORT_BYTES], where[64] = ", pending";
            if (sent.committed)
                snprintf(where, sizeof where, " in block %llu", (unsigned long long)sent.height);
            printf("%s drug.commission %s%s: %zu serials (%zu of %zu).\n",
                   sent.committed ? "Committed" : "Accepted", cc_cli_short(sent.txid, sh), where, chunk_n,
                   done, total);
        }
        cc_cli_sent_free(&sent);
    }
    if (ctx.json) {
        cc_cli_print_json(sent_all);
    } else if (rc == CC_EXIT_OK) {
        printf("Commissioned %zu serials of GTIN %s, lot %s, expiry %s in %zu tx%s.\n", total, gtin, lot, exp,
               txs, txs == 1 ? "" : "s");
    }
    json_decref(sent_all);
    json_decref(serials);
    cc_cli_session_close(&s);
    return rc;
}

#define TEXT_OF_(x)  #x
#define TEXT_OF(x)   TEXT_OF_(x)
#define POS_MAX_TEXT TEXT_OF(CC_CLI_POS_MAX) /* "32" */

static const char transfer_help[] =
    "--statement attests, as DSCSA asks of the seller at every change of ownership, that\n"
    "you are authorized, received the product from an authorized trading partner with its\n"
    "transaction information and statement, did not knowingly ship suspect or illegitimate\n"
    "product, and keep the systems and processes verification requires.\n\n"
    "An ITEM is a unit or a case in any form: a GS1 element string ((01)...(21)... or with\n"
    "GS separators), a GS1 Digital Link, an EPC URI (urn:epc:id:sgtin:... / sscc:...),\n"
    "<gtin14>.<serial>, or an 18-digit SSCC. Up to " POS_MAX_TEXT " on the command line; more with\n"
    "--items or --items-file. A case stands for everything packed in it.\n";

static const char items_help[] =
    "An ITEM is a unit or a case in any form: a GS1 element string ((01)...(21)... or with\n"
    "GS separators), a GS1 Digital Link, an EPC URI (urn:epc:id:sgtin:... / sscc:...),\n"
    "<gtin14>.<serial>, or an 18-digit SSCC. Up to " POS_MAX_TEXT " on the command line; more with\n"
    "--items or --items-file. A case stands for everything packed in it.\n";

static int drug_aggregate(int argc, char **argv)
{
    const char *sscc_s = NULL, *items = NULL, *file = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the owner's key file", &w.key},
        {"sscc", "SSCC", "the case or pallet (18 digits, (00)..., Digital Link or EPC URI)", &sscc_s},
        {"items", "A,B,C", "more items, comma-separated", &items},
        {"items-file", "FILE", "more items, one per line", &file},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"drug aggregate",
                              "--sscc SSCC ITEM... --key K",
                              "Pack units and cases into a case or pallet (a drug.aggregate tx).",
                              opts,
                              0,
                              CC_CLI_POS_MAX,
                              true,
                              true,
                              items_help};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!sscc_s) return cc_cli_usage(ctx.cmd, "missing --sscc");
    json_t *pu, *pc, *units, *cases;
    if ((rc = collect_items(&ctx, ctx.pos_count, sscc_s, NULL, true, &pu, &pc)) >= 0) return rc;
    bool one_case = json_array_size(pu) == 0 && json_array_size(pc) == 1;
    char sscc[CC_GS1_SSCC_DIGITS + 1];
    snprintf(sscc, sizeof sscc, "%s", one_case ? json_string_value(json_array_get(pc, 0)) : "");
    json_decref(pu);
    json_decref(pc);
    if (!one_case) return cc_cli_usage(ctx.cmd, "--sscc must name a case or pallet (an SSCC)");
    if ((rc = collect_items(&ctx, 0, items, file, true, &units, &cases)) >= 0) return rc;
    json_t *p = json_pack("{s:s}", "sscc", sscc);
    if (p) {
        json_object_set(p, "units", units);
        json_object_set(p, "cases", cases);
    }
    json_decref(units);
    json_decref(cases);
    return cc_cli_send_json(&ctx, &w, "drug.aggregate", p);
}

static int drug_disaggregate(int argc, char **argv)
{
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the owner's key file", &w.key},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"drug disaggregate",
                              "SSCC --key K",
                              "Unpack a case or pallet (a drug.disaggregate tx); it may be reused.",
                              opts,
                              1,
                              1,
                              true,
                              true,
                              NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    json_t *units, *cases;
    if ((rc = collect_items(&ctx, 0, NULL, NULL, true, &units, &cases)) >= 0) return rc;
    bool one_case = json_array_size(units) == 0 && json_array_size(cases) == 1;
    json_t *p = one_case ? json_pack("{s:O}", "sscc", json_array_get(cases, 0)) : NULL;
    json_decref(units);
    json_decref(cases);
    if (!one_case) return cc_cli_usage(ctx.cmd, "SSCC must name a case or pallet");
    return cc_cli_send_json(&ctx, &w, "drug.disaggregate", p);
}

/* ship and return: the same command to a trading partner. */
static int transfer(int argc, char **argv, bool is_return)
{
    const char *to = NULL, *txn_id = NULL, *date = NULL, *items = NULL, *file = NULL;
    bool statement = false;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the owner's key file", &w.key},
        {"to", "ORG", is_return ? "the past owner the units go back to" : "the receiving trading partner",
         &to},
        {"tx-id", "ID", "your transaction id (invoice, order; default made up from the time)", &txn_id},
        {"date", "YYYY-MM-DD", "the transaction date (default today, UTC)", &date},
        {"statement", NULL, "attest the DSCSA transaction statement (required; see below)", &statement},
        {"items", "A,B,C", "more items, comma-separated", &items},
        {"items-file", "FILE", "more items, one per line", &file},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {is_return ? "drug return" : "drug ship",
                              "ITEM... --to ORG --statement [--tx-id ID] [--date YYYY-MM-DD] --key K",
                              is_return ? "Return saleable units to a past owner (a drug.return tx)."
                                        : "Ship units and cases to a trading partner (a drug.ship tx).",
                              opts,
                              0,
                              CC_CLI_POS_MAX,
                              true,
                              true,
                              transfer_help};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!to || !*to) return cc_cli_usage(ctx.cmd, "missing --to");
    if (!statement)
        return cc_cli_usage(ctx.cmd, "DSCSA requires the transaction statement with every change of "
                                     "ownership: add --statement to attest it");
    char today[16], made_id[40];
    if (date) {
        if (!cc_supply_date_valid(date))
            return cc_cli_usage(ctx.cmd, "--date must be a day that exists, written YYYY-MM-DD, in "
                                         "2000 or later");
    } else {
        time_t now = (time_t)(cc_now_ms() / 1000);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(today, sizeof today, "%Y-%m-%d", &tm);
        date = today;
    }
    if (!txn_id) {
        snprintf(made_id, sizeof made_id, "%s-%llu", is_return ? "RET" : "SHIP",
                 (unsigned long long)cc_now_ms());
        txn_id = made_id;
    }
    if (!*txn_id || strlen(txn_id) > 200) return cc_cli_usage(ctx.cmd, "--tx-id must be 1..200 bytes");
    json_t *units, *cases;
    if ((rc = collect_items(&ctx, 0, items, file, true, &units, &cases)) >= 0) return rc;
    json_t *p = json_pack("{s:s,s:{s:s,s:s,s:b}}", "to", to, "transaction", "id", txn_id, "date", date,
                          "statement", 1);
    if (p)
        set_items(p, units, cases);
    else {
        json_decref(units);
        json_decref(cases);
    }
    return cc_cli_send_json(&ctx, &w, is_return ? "drug.return" : "drug.ship", p);
}

static int drug_ship(int argc, char **argv)
{
    return transfer(argc, argv, false);
}

static int drug_return(int argc, char **argv)
{
    return transfer(argc, argv, true);
}

/* receive, dispense, suspect, clear, decommission: items plus a few fields. */
typedef enum item_cmd { RECEIVE, DISPENSE, SUSPECT, CLEAR, DECOMMISSION } item_cmd;

static int items_tx(int argc, char **argv, item_cmd which)
{
    static const char *const names[] = {"drug receive", "drug dispense", "drug suspect", "drug clear",
                                        "drug decommission"};
    static const char *const types[] = {"drug.receive", "drug.dispense", "drug.suspect", "drug.clear",
                                        "drug.decommission"};
    static const char *const usages[] = {
        "ITEM... [--shipment TXID] --key K", "ITEM... --key PHARMACYKEY",
        "ITEM... --kind suspect|illegitimate --reason TEXT --key K", "ITEM... --reason TEXT --key K",
        "ITEM... --reason destroyed|damaged|sample|other [--note TEXT] --key K"};
    static const char *const summaries[] = {
        "Receive a shipment addressed to you (a drug.receive tx); shortfalls are flagged missing.",
        "Dispense units to patients (a drug.dispense tx): they leave the supply chain.",
        "Notify that units are suspect or illegitimate (a drug.suspect tx).",
        "Clear a suspect or illegitimate notification (a drug.clear tx).",
        "Decommission units: destroyed, damaged, samples... (a drug.decommission tx)."};
    const char *shipment = NULL, *kind = NULL, *reason = NULL, *note = NULL, *items = NULL, *file = NULL;
    cc_cli_write w = {0};
    cc_cli_opt opts[10];
    size_t n = 0;
    opts[n++] = (cc_cli_opt){"key", "FILE", "the signer's key file", &w.key};
    if (which == RECEIVE)
        opts[n++] = (cc_cli_opt){"shipment", "TXID", "the shipment (txid of its drug.ship)", &shipment};
    if (which == SUSPECT) opts[n++] = (cc_cli_opt){"kind", "KIND", "suspect or illegitimate", &kind};
    if (which == SUSPECT || which == CLEAR || which == DECOMMISSION)
        opts[n++] =
            (cc_cli_opt){"reason", which == DECOMMISSION ? "WHY" : "TEXT",
                         which == DECOMMISSION ? "destroyed, damaged, sample or other" : "why", &reason};
    if (which == DECOMMISSION) opts[n++] = (cc_cli_opt){"note", "TEXT", "a note (no PHI)", &note};
    opts[n++] = (cc_cli_opt){"items", "A,B,C", "more items, comma-separated", &items};
    opts[n++] = (cc_cli_opt){"items-file", "FILE", "more items, one per line", &file};
    opts[n++] = (cc_cli_opt)CC_CLI_OPT_NO_WAIT(&w);
    opts[n++] = (cc_cli_opt)CC_CLI_OPT_GENESIS(&w);
    opts[n] = (cc_cli_opt){NULL, NULL, NULL, NULL};
    const cc_cli_spec spec = {names[which], usages[which], summaries[which], opts, 0, CC_CLI_POS_MAX,
                              true,         true,          items_help};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (shipment && !cc_cli_hex_ok(shipment, CC_HASH_BYTES))
        return cc_cli_usage(ctx.cmd, "--shipment must be a txid (64 hex digits)");
    if (which == SUSPECT && (!kind || (strcmp(kind, "suspect") != 0 && strcmp(kind, "illegitimate") != 0)))
        return cc_cli_usage(ctx.cmd, "--kind must be suspect or illegitimate");
    if ((which == SUSPECT || which == CLEAR || which == DECOMMISSION) && (!reason || !*reason))
        return cc_cli_usage(ctx.cmd, "missing --reason");
    if (which == DECOMMISSION && strcmp(reason, "destroyed") != 0 && strcmp(reason, "damaged") != 0 &&
        strcmp(reason, "sample") != 0 && strcmp(reason, "other") != 0)
        return cc_cli_usage(ctx.cmd, "--reason must be destroyed, damaged, sample or other");
    json_t *units, *cases;
    if ((rc = collect_items(&ctx, 0, items, file, true, &units, &cases)) >= 0) return rc;
    if ((which == DISPENSE || which == SUSPECT || which == CLEAR) && json_array_size(cases) > 0) {
        json_decref(units);
        json_decref(cases);
        return cc_cli_usage(ctx.cmd, "name units here, not cases (unpack the case first)");
    }
    json_t *p = json_object();
    if (shipment) json_object_set_new(p, "shipment", json_string(shipment));
    if (kind) json_object_set_new(p, "kind", json_string(kind));
    if (reason) json_object_set_new(p, "reason", json_string(reason));
    if (note) json_object_set_new(p, "note", json_string(note));
    if (which == DISPENSE || which == SUSPECT || which == CLEAR) {
        json_object_set(p, "units", units);
        json_decref(units);
        json_decref(cases);
    } else {
        set_items(p, units, cases);
    }
    return cc_cli_send_json(&ctx, &w, types[which], p);
}

static int drug_receive(int argc, char **argv)
{
    return items_tx(argc, argv, RECEIVE);
}
static int drug_dispense(int argc, char **argv)
{
    return items_tx(argc, argv, DISPENSE);
}
static int drug_suspect(int argc, char **argv)
{
    return items_tx(argc, argv, SUSPECT);
}
static int drug_clear(int argc, char **argv)
{
    return items_tx(argc, argv, CLEAR);
}
static int drug_decommission(int argc, char **argv)
{
    return items_tx(argc, argv, DECOMMISSION);
}

static int drug_recall(int argc, char **argv)
{
    const char *gtin_s = NULL, *lot = NULL, *serials_s = NULL, *cls = NULL, *reason = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "the manufacturer's key file", &w.key},
        {"gtin", "GTIN", "the product", &gtin_s},
        {"lot", "LOT", "recall this whole lot", &lot},
        {"serials", "A,B,C", "or only these serials", &serials_s},
        {"class", "I|II|III", "the recall class (I: the most serious)", &cls},
        {"reason", "TEXT", "why", &reason},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "drug recall",
        "--gtin GTIN (--lot LOT | --serials A,B) --class I|II|III --reason TEXT --key K",
        "Recall a lot or some serials of your product (a drug.recall tx).",
        opts,
        0,
        0,
        true,
        true,
        "Recalled units verify as not saleable (info Recalled) and may only go back\n"
        "to their manufacturer.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!gtin_s) return cc_cli_usage(ctx.cmd, "missing --gtin");
    if (!lot == !serials_s) return cc_cli_usage(ctx.cmd, "give exactly one of --lot and --serials");
    if (!cls || (strcmp(cls, "I") != 0 && strcmp(cls, "II") != 0 && strcmp(cls, "III") != 0))
        return cc_cli_usage(ctx.cmd, "--class must be I, II or III");
    if (!reason || !*reason) return cc_cli_usage(ctx.cmd, "missing --reason");
    char gtin[CC_GS1_GTIN_DIGITS + 1], why[256];
    if (!gtin_arg(gtin_s, gtin, why, sizeof why)) return cc_cli_usage(ctx.cmd, "%s", why);
    if (lot && !cc_gs1_lot_valid(lot)) return cc_cli_usage(ctx.cmd, "--lot is not a valid lot");
    json_t *p = json_pack("{s:s,s:s,s:s}", "gtin", gtin, "class", cls, "reason", reason);
    if (lot) {
        json_object_set_new(p, "lot", json_string(lot));
    } else {
        json_t *a = json_array();
        char *copy = strdup(serials_s), *save = NULL;
        bool ok = copy != NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; ok && t; t = strtok_r(NULL, ",", &save)) {
            ok = cc_gs1_serial_valid(t);
            if (ok) json_array_append_new(a, json_string(t));
        }
        free(copy);
        if (!ok || json_array_size(a) == 0) {
            json_decref(a);
            json_decref(p);
            return cc_cli_usage(ctx.cmd, "--serials must be serials of the GS1 set, comma-separated");
        }
        json_object_set_new(p, "serials", a);
    }
    return cc_cli_send_json(&ctx, &w, "drug.recall", p);
}

/* ---- verify, history, alerts -------------------------------------------------------- */

/* The query of a verification: ID in any form (or --gtin/--serial), with
 * --lot/--exp overriding what ID carries; for history, marked an inquiry
 * (history=1: the requester holds no package, so is not judged). Returns
 * -1 with path filled, or the usage exit code. */
static int verify_query(const cc_cli_ctx *ctx, const char *id_text, const char *gtin_s, const char *serial,
                        const char *lot, const char *exp, bool history, char *path, size_t cap)
{
    cc_gs1_id id;
    memset(&id, 0, sizeof id);
    char why[256];
    if (id_text && (gtin_s || serial)) return cc_cli_usage(ctx->cmd, "give ID or --gtin/--serial, not both");
    if (id_text) {
        const char *dot = strchr(id_text, '.');
        cc_errbuf eb = {{0}};
        if (dot && dot - id_text == CC_GS1_GTIN_DIGITS &&
            strspn(id_text, "0123456789") == CC_GS1_GTIN_DIGITS) {
            char digits[CC_GS1_GTIN_DIGITS + 1];
            memcpy(digits, id_text, CC_GS1_GTIN_DIGITS);
            digits[CC_GS1_GTIN_DIGITS] = '\0';
            if (cc_gs1_gtin_normalize(digits, id.gtin, &eb) != CC_OK)
                return cc_cli_usage(ctx->cmd, "'%s': %s", id_text, eb.msg);
            if (!cc_gs1_serial_valid(dot + 1))
                return cc_cli_usage(ctx->cmd, "'%s': the serial is not 1..%d characters of the GS1 set",
                                    id_text, CC_GS1_SERIAL_MAX);
            snprintf(id.serial, sizeof id.serial, "%s", dot + 1);
        } else if (cc_gs1_parse(id_text, &id, &eb) != CC_OK) {
            return cc_cli_usage(ctx->cmd, "'%s': %s", id_text, eb.msg);
        } else if (id.kind != CC_GS1_SGTIN) {
            return cc_cli_usage(ctx->cmd, "'%s' is a case (SSCC); verify the units in it", id_text);
        }
    } else {
        if (!gtin_s || !serial) return cc_cli_usage(ctx->cmd, "give ID, or --gtin and --serial");
        if (!gtin_arg(gtin_s, id.gtin, why, sizeof why)) return cc_cli_usage(ctx->cmd, "%s", why);
        if (!cc_gs1_serial_valid(serial))
            return cc_cli_usage(ctx->cmd, "--serial must be 1..%d characters of the GS1 set",
                                CC_GS1_SERIAL_MAX);
        snprintf(id.serial, sizeof id.serial, "%s", serial);
    }
    if (lot) {
        if (!cc_gs1_lot_valid(lot)) return cc_cli_usage(ctx->cmd, "--lot is not a valid lot");
        snprintf(id.lot, sizeof id.lot, "%s", lot);
    }
    if (exp) {
        if (!cc_gs1_exp_valid(exp)) return cc_cli_usage(ctx->cmd, "--exp must be a date YYMMDD");
        snprintf(id.exp, sizeof id.exp, "%s", exp);
    }
    char s_enc[3 * CC_GS1_SERIAL_MAX + 1], l_enc[3 * CC_GS1_LOT_MAX + 1];
    cc_cli_url_encode(id.serial, s_enc, sizeof s_enc);
    cc_cli_url_encode(id.lot, l_enc, sizeof l_enc);
    int n = snprintf(path, cap, "/v1/drugs/verify?gtin=%s&serial=%s", id.gtin, s_enc);
    if (id.lot[0]) n += snprintf(path + n, cap - (size_t)n, "&lot=%s", l_enc);
    if (id.exp[0]) n += snprintf(path + n, cap - (size_t)n, "&exp=%s", id.exp);
    if (history) snprintf(path + n, cap - (size_t)n, "&history=1"); /* an inquiry, not a presentation */
    return -1;
}

/* "a, b, c" of a JSON array of strings into out. */
static const char *join_strings(const json_t *a, char *out, size_t cap)
{
    size_t n = 0, i;
    const json_t *v;
    out[0] = '\0';
    json_array_foreach(a, i, v)
    {
        const char *s = json_string_value(v);
        if (s && n < cap) n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "", s);
    }
    return out;
}

bool cc_cli_drug_verdict(const json_t *ans, char *out, size_t cap)
{
    char info[256];
    bool verified = json_is_true(json_object_get(ans, "verified"));
    bool saleable = json_is_true(json_object_get(ans, "saleable"));
    join_strings(json_object_get(ans, "info"), info, sizeof info);
    if (!verified)
        snprintf(out, cap, "NOT VERIFIED: %s", cc_cli_jstr(ans, "reason", "no reason given"));
    else if (saleable)
        snprintf(out, cap, "GENUINE \u2014 saleable");
    else
        snprintf(out, cap, "verified but NOT SALEABLE: %s", info[0] ? info : "not saleable");
    return verified && saleable;
}

/* The verdict in plain words; true when genuine and saleable. */
static bool print_verdict(const json_t *ans)
{
    char verdict[300], signals[256];
    bool good = cc_cli_drug_verdict(ans, verdict, sizeof verdict);
    join_strings(json_object_get(ans, "signals"), signals, sizeof signals);
    printf("%s (GTIN %s, serial %s%s%s)\n", verdict, cc_cli_jstr(ans, "gtin", "?"),
           cc_cli_jstr(ans, "serial", "?"), json_object_get(ans, "status") ? "; " : "",
           cc_cli_jstr(ans, "status", ""));
    const char *alert = cc_cli_jstr(ans, "alert", NULL);
    if (signals[0])
        printf("Signals: %s%s%s%s\n", signals, alert ? " (recorded on the ledger: drug.alert tx " : "",
               alert ? alert : "", alert ? ")" : "");
    if (json_is_integer(json_object_get(ans, "height")))
        printf("Answered from committed state at height %llu.\n",
               (unsigned long long)cc_cli_juint(ans, "height"));
    return good;
}

/* Does field key hold milliseconds ("..._ms")? */
static bool ms_field(const char *key)
{
    size_t n = strlen(key);
    return n > 3 && strcmp(key + n - 3, "_ms") == 0;
}

/* A value for people: strings bare, ids (64 hex) short, times as times. */
static const char *value_text(const char *key, const json_t *v, char *buf, size_t cap)
{
    bool is_time = strcmp(key, "time") == 0 || ms_field(key);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char sh[CC_CLI_SHORT_BYTES];
        snprintf(buf, cap, "%s", cc_cli_hex_ok(s, CC_HASH_BYTES) ? cc_cli_short(s, sh) : s);
    } else if (json_is_array(v)) {
        join_strings(v, buf, cap);
    } else if (is_time && json_is_integer(v) && cap >= 40) {
        cc_cli_time((uint64_t)json_integer_value(v), buf);
    } else {
        char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, cap, "%s", d ? d : "?");
        free(d);
    }
    return buf;
}

/* The label of field k: without the "_ms" of a time value_text shows as a date. */
static const char *label(const char *k, const json_t *v, char buf[64])
{
    if (ms_field(k) && json_is_integer(v)) {
        snprintf(buf, 64, "%.*s", (int)(strlen(k) - 3), k);
        return buf;
    }
    return k;
}

/* One line for an object: "k v, k v". */
static void print_fields(const char *indent, const json_t *o)
{
    const char *k;
    const json_t *v;
    printf("%s", indent);
    bool first = true;
    json_object_foreach((json_t *)o, k, v)
    {
        char buf[512], name[64];
        printf("%s%s %s", first ? "" : ", ", label(k, v, name), value_text(k, v, buf, sizeof buf));
        first = false;
    }
    printf("\n");
}

static void print_history(const json_t *hist)
{
    const char *k;
    const json_t *v;
    char buf[1024];
    printf("Custody history:\n");
    json_object_foreach((json_t *)hist, k, v)
    {
        if (json_is_array(v) && json_array_size(v) > 0 && !json_is_string(json_array_get(v, 0))) {
            size_t i;
            const json_t *e;
            printf("  %s:\n", k);
            json_array_foreach(v, i, e)
            {
                if (json_is_object(e))
                    print_fields("    - ", e);
                else
                    printf("    - %s\n", value_text(k, e, buf, sizeof buf));
            }
        } else if (json_is_object(v)) {
            printf("  %s: ", k);
            print_fields("", v);
        } else {
            char name[64];
            printf("  %s: %s\n", label(k, v, name),
                   json_is_array(v) && !json_array_size(v) ? "(none)" : value_text(k, v, buf, sizeof buf));
        }
    }
}

static int verify_or_history(int argc, char **argv, bool history)
{
    const char *keyfile = NULL, *gtin = NULL, *serial = NULL, *lot = NULL, *exp = NULL;
    const cc_cli_opt opts[] = {
        {"key", "FILE",
         history ? "your key file (required: history is for owners, the manufacturer, regulators)"
                 : "sign the request: the presenter is judged too (not owner, clone)",
         &keyfile},
        {"gtin", "GTIN", "the unit's GTIN (instead of ID)", &gtin},
        {"serial", "SERIAL", "and its serial", &serial},
        {"lot", "LOT", "check the lot too", &lot},
        {"exp", "YYMMDD", "check the expiry too", &exp},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        history ? "drug history" : "drug verify",
        history ? "ID --key K | --gtin GTIN --serial SN --key K"
                : "ID | --gtin GTIN --serial SN [--lot LOT] "
                  "[--exp YYMMDD] [--key K]",
        history ? "Show a unit's custody history: owners, shipments and events (a signed verification)."
                : "Is this package genuine? Ask the ledger, like a DSCSA verification router.",
        opts,
        0,
        1,
        true,
        true,
        history ? "Exit status: 0 when the history was shown, 1 when the node gave the verdict only\n"
                  "(you are not an owner, past owner, the manufacturer or a regulator).\n"
                : "ID is a unit in any form (element string, Digital Link, EPC URI, <gtin14>.<serial>);\n"
                  "a lot or expiry it carries is checked. Exit status: 0 genuine and saleable,\n"
                  "1 not verified or not saleable, 2 usage, 3 node unreachable. Signed (--key), a\n"
                  "verification that raises a counterfeit signal is recorded on the ledger as an alert.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (history && !keyfile) return cc_cli_usage(ctx.cmd, "missing --key");
    char path[QUERY_MAX];
    rc = verify_query(&ctx, ctx.pos_count ? ctx.pos[0] : NULL, gtin, serial, lot, exp, history, path,
                      sizeof path);
    if (rc >= 0) return rc;
    json_t *ans;
    if ((rc = cc_cli_get_json_as(&ctx, keyfile, path, &ans)) >= 0) return rc;
    bool good = false;
    const json_t *hist = json_object_get(ans, "history");
    if (ctx.json) {
        cc_cli_print_json(ans);
        good = history ? hist != NULL
                       : json_is_true(json_object_get(ans, "verified")) &&
                             json_is_true(json_object_get(ans, "saleable"));
    } else {
        good = print_verdict(ans);
        if (history) {
            if (json_is_object(hist))
                print_history(hist);
            else
                printf("No custody history for you: it is shown to the unit's current and past owners, its\n"
                       "manufacturer and regulators.\n");
            good = hist != NULL;
        }
    }
    json_decref(ans);
    return good ? CC_EXIT_OK : CC_EXIT_FAIL;
}

static int drug_verify(int argc, char **argv)
{
    return verify_or_history(argc, argv, false);
}

static int drug_history(int argc, char **argv)
{
    return verify_or_history(argc, argv, true);
}

const char *cc_cli_drug_alert_text(const json_t *a, char *out, size_t cap)
{
    static const char *const subjects[][2] = {
        {"unit", "unit"}, {"sscc", "case"}, {"lot", "lot"}, {"gtin", "product"}, {"shipment", "shipment"}};
    const char *subject = NULL, *what = "";
    for (size_t i = 0; !subject && i < sizeof subjects / sizeof subjects[0]; i++)
        if ((subject = cc_cli_jstr(a, subjects[i][0], NULL))) what = subjects[i][1];
    int n = snprintf(out, cap, "%s: %s %s", cc_cli_jstr(a, "kind", "?"), what, subject ? subject : "?");
    const json_t *detail = json_object_get(a, "detail");
    if (json_is_string(detail)) {
        snprintf(out + n, cap - (size_t)n, " \u2014 %s", json_string_value(detail));
    } else if (json_is_object(detail) && json_object_size(detail) > 0) {
        const char *k;
        const json_t *v;
        const char *sep = " \u2014 ";
        json_object_foreach((json_t *)detail, k, v)
        {
            char *d = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            const char *text = d ? d : json_string_value(v);
            char sh[CC_CLI_SHORT_BYTES];
            if (!d && cc_cli_hex_ok(text, CC_HASH_BYTES)) text = cc_cli_short(text, sh); /* an id */
            if (n > 0 && (size_t)n < cap) n += snprintf(out + n, cap - (size_t)n, "%s%s %s", sep, k, text);
            free(d);
            sep = ", ";
        }
    }
    return out;
}

static int drug_alerts(int argc, char **argv)
{
    const char *keyfile = NULL;
    const cc_cli_opt opts[] = {
        {"key", "FILE", "your key file (regulators see every alert, others those naming their org)",
         &keyfile},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"drug alerts",
                              "--key K",
                              "List counterfeit, clone, recall and shipment alerts, newest first.",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              "Kinds: unknown, mismatch, clone, not_owner, recalled, suspect, illegitimate,\n"
                              "missing, unexpected, expired, overdue.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!keyfile) return cc_cli_usage(ctx.cmd, "missing --key");
    json_t *ans;
    if ((rc = cc_cli_get_json_as(&ctx, keyfile, "/v1/drugs/alerts", &ans)) >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(ans);
        json_decref(ans);
        return CC_EXIT_OK;
    }
    const json_t *alerts = json_is_array(ans) ? ans : json_object_get(ans, "alerts");
    printf("%zu alert(s):\n", json_array_size(alerts));
    size_t i;
    const json_t *a;
    json_array_foreach(alerts, i, a)
    {
        char tm[40], orgs[256], line[1024];
        printf("  %s", cc_cli_drug_alert_text(a, line, sizeof line));
        if (json_is_integer(json_object_get(a, "time")))
            printf(" at %s", cc_cli_time(cc_cli_juint(a, "time"), tm));
        join_strings(json_object_get(a, "orgs"), orgs, sizeof orgs);
        if (orgs[0]) printf(" (%s)", orgs);
        printf("\n");
    }
    json_decref(ans);
    return CC_EXIT_OK;
}

int cc_cmd_drug(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"prefix", drug_prefix, "assign a GS1 company prefix to an organisation (regulator)"},
        {"product-register", drug_product, "register a product under your company prefix"},
        {"commission", drug_commission, "commission serials of a lot (10,000 per tx)"},
        {"aggregate", drug_aggregate, "pack units and cases into a case or pallet (SSCC)"},
        {"disaggregate", drug_disaggregate, "unpack a case or pallet"},
        {"ship", drug_ship, "ship to a trading partner, with the DSCSA statement"},
        {"receive", drug_receive, "receive a shipment addressed to you"},
        {"dispense", drug_dispense, "dispense units (they leave the supply chain)"},
        {"return", drug_return, "return saleable units to a past owner"},
        {"recall", drug_recall, "recall a lot or serials (manufacturer)"},
        {"suspect", drug_suspect, "notify suspect or illegitimate product"},
        {"clear", drug_clear, "clear a suspect or illegitimate notification"},
        {"decommission", drug_decommission, "take units out: destroyed, damaged, samples"},
        {"verify", drug_verify, "is this package genuine and saleable?"},
        {"history", drug_history, "a unit's custody history (owners, manufacturer, regulators)"},
        {"alerts", drug_alerts, "counterfeit, clone, recall and shipment alerts"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("drug", subs, argc, argv);
}
