/*
 * cli/cli.c — the option parser, usage messages, output helpers and
 * subcommand dispatch shared by every `carechain` command.
 */
#include <assert.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

#define HELP_COLUMN 24 /* where option help text starts */

static void print_opt(FILE *f, const char *name, const char *metavar, const char *help)
{
    char left[128];
    snprintf(left, sizeof left, "  --%s%s%s", name, metavar ? " " : "", metavar ? metavar : "");
    if (strlen(left) + 2 > HELP_COLUMN)
        fprintf(f, "%s\n%*s%s\n", left, HELP_COLUMN, "", help);
    else
        fprintf(f, "%-*s%s\n", HELP_COLUMN, left, help);
}

static void print_help(const cc_cli_spec *spec)
{
    printf("usage: carechain %s%s%s\n\n%s\n", spec->cmd, spec->usage ? " " : "",
           spec->usage ? spec->usage : "", spec->summary);
    printf("\noptions:\n");
    for (const cc_cli_opt *o = spec->opts; o && o->name; o++) print_opt(stdout, o->name, o->metavar, o->help);
    if (spec->node)
        print_opt(stdout, "node", "URL",
                  "the node's API (default $CARECHAIN_NODE, else " CC_CLI_DEFAULT_NODE ")");
    if (spec->json) print_opt(stdout, "json", NULL, "print machine-readable JSON");
    print_opt(stdout, "help", NULL, "show this help");
    if (spec->more) printf("\n%s", spec->more);
}

int cc_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "carechain %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try: carechain %s --help)\n", cmd);
    return CC_EXIT_USAGE;
}

static const cc_cli_opt *find_opt(const cc_cli_spec *spec, const char *name, size_t n)
{
    for (const cc_cli_opt *o = spec->opts; o && o->name; o++)
        if (strlen(o->name) == n && memcmp(o->name, name, n) == 0) return o;
    return NULL;
}

int cc_cli_parse(const cc_cli_spec *spec, int argc, char **argv, cc_cli_ctx *ctx)
{
    bool only_pos = false;
    memset(ctx, 0, sizeof *ctx);
    ctx->cmd = spec->cmd;
    ctx->node = getenv("CARECHAIN_NODE");
    if (!ctx->node || !*ctx->node) ctx->node = CC_CLI_DEFAULT_NODE;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            print_help(spec);
            return CC_EXIT_OK;
        }
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            const char *value = eq ? eq + 1 : NULL;
            const cc_cli_opt *o = find_opt(spec, name, n);
            bool is_node = spec->node && n == 4 && memcmp(name, "node", 4) == 0;
            bool is_json = spec->json && n == 4 && memcmp(name, "json", 4) == 0;
            if (!o && !is_node && !is_json)
                return cc_cli_usage(spec->cmd, "unknown option --%.*s", (int)n, name);
            if (is_json || (o && !o->metavar)) {
                if (value) return cc_cli_usage(spec->cmd, "--%.*s takes no value", (int)n, name);
                if (is_json)
                    ctx->json = true;
                else
                    *(bool *)o->dest = true;
                continue;
            }
            if (!value) {
                if (i + 1 >= argc)
                    return cc_cli_usage(spec->cmd, "--%.*s needs a value (%s)", (int)n, name,
                                        is_node ? "URL" : o->metavar);
                value = argv[++i];
            }
            if (is_node)
                ctx->node = value;
            else
                *(const char **)o->dest = value;
            continue;
        }
        /* "-1" is a (bad) number for the command to judge, not an option. */
        bool number = a[0] == '-' && a[1] >= '0' && a[1] <= '9';
        if (!only_pos && a[0] == '-' && a[1] != '\0' && !number)
            return cc_cli_usage(spec->cmd, "unknown option %s", a);
        if (ctx->pos_count >= spec->pos_max || ctx->pos_count >= CC_CLI_POS_MAX)
            return cc_cli_usage(spec->cmd, "unexpected argument '%s'", a);
        ctx->pos[ctx->pos_count++] = a;
    }
    if (ctx->pos_count < spec->pos_min)
        return cc_cli_usage(spec->cmd, "missing argument (usage: carechain %s %s)", spec->cmd,
                            spec->usage ? spec->usage : "");
    char why[128];
    if (spec->node && !cc_cli_node_url_ok(ctx->node, why, sizeof why))
        return cc_cli_usage(spec->cmd, "the node URL '%s' is not usable: %s", ctx->node, why);
    return -1;
}

bool cc_cli_parse_u64(const char *str, bool bytes, uint64_t *out)
{
    char *end;
    uint64_t mult = 1;
    if (!str || !*str || *str == '-' || *str == '+') return false;
    errno = 0;
    unsigned long long v = strtoull(str, &end, 10);
    if (errno || end == str) return false;
    uint64_t base = bytes ? 1024 : 1000;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mult = base;
        end++;
        break;
    case 'm':
    case 'M':
        mult = base * base;
        end++;
        break;
    case 'g':
    case 'G':
        mult = base * base * base;
        end++;
        break;
    case 't':
    case 'T':
        mult = base * base * base * base;
        end++;
        break;
    default:
        return false;
    }
    if (bytes && mult > 1 && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)) end += strlen(end);
    if (*end != '\0') return false;
    if (v > UINT64_MAX / mult) return false;
    *out = (uint64_t)v * mult;
    return true;
}

bool cc_cli_hex_ok(const char *hex, size_t n)
{
    uint8_t bin[CC_CLI_HEX_MAX_BYTES];
    assert(n <= sizeof bin);
    return cc_unhex(hex, bin, n) == CC_OK;
}

void cc_cli_url_encode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 4 <= cap; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '.' || *p == '_' || *p == '~') {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    if (cap) out[n < cap ? n : cap - 1] = '\0';
}

const char *cc_cli_short(const char *hex, char out[CC_CLI_SHORT_BYTES])
{
    size_t n = hex ? strlen(hex) : 0;
    if (n <= 8)
        snprintf(out, CC_CLI_SHORT_BYTES, "%s", hex ? hex : "?");
    else
        snprintf(out, CC_CLI_SHORT_BYTES, "%.4s\u2026%s", hex, hex + n - 2);
    return out;
}

const char *cc_cli_time(uint64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, 40, "%llu ms", (unsigned long long)ms);
        return out;
    }
    size_t n = strftime(out, 40, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%03u UTC", (unsigned)(ms % 1000));
    return out;
}

void cc_cli_print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    if (s) {
        printf("%s\n", s);
        free(s);
    }
}

const char *cc_cli_jstr(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}

uint64_t cc_cli_juint(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0) return (uint64_t)json_integer_value(v);
    return 0;
}

int cc_cli_dispatch(const char *group, const cc_cli_sub *subs, int argc, char **argv)
{
    if (argc < 2) {
        char names[128] = "";
        size_t n = 0;
        for (const cc_cli_sub *s = subs; s->name && n < sizeof names; s++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "", s->name);
        return cc_cli_usage(group, "missing command (%s)", names);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: carechain %s <command> [options]\n\ncommands:\n", group);
        for (const cc_cli_sub *s = subs; s->name; s++) printf("  %-22s%s\n", s->name, s->summary);
        printf("\nRun carechain %s <command> --help for the options of one.\n", group);
        return CC_EXIT_OK;
    }
    for (const cc_cli_sub *s = subs; s->name; s++)
        if (strcmp(argv[1], s->name) == 0) return s->run(argc - 1, argv + 1);
    return cc_cli_usage(group, "unknown command '%s'", argv[1]);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

cc_err cc_cli_rmtree(const char *path, cc_errbuf *eb)
{
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return cc_errf(eb, CC_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    return CC_OK;
}
