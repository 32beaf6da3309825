/*
 * cli/cmd_note.c — `carechain note put`: anchor a document on the ledger by
 * its SHA-256 (a signed, time-stamped note.put; the document stays local).
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"

#define KIND_MAX   64
#define URI_MAX    512
#define READ_CHUNK 65536

/* SHA-256 of a file of any size, read in chunks. */
static bool hash_file(const char *path, uint8_t out[CC_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    uint8_t buf[READ_CHUNK];
    size_t n;
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    crypto_hash_sha256_init(&st);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crypto_hash_sha256_update(&st, buf, n);
    bool ok = !ferror(f);
    fclose(f);
    if (ok) crypto_hash_sha256_final(&st, out);
    return ok;
}

static int note_put(int argc, char **argv)
{
    const char *kind = NULL, *sha = NULL, *file = NULL, *uri = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "FILE", "key file of the signer", &w.key},
        {"kind", "KIND", "what the document is (1..64 chars), e.g. discharge-summary", &kind},
        {"sha256", "HEX", "the document's SHA-256", &sha},
        {"file", "FILE", "hash this file (it is not uploaded)", &file},
        {"uri", "URI", "where the document lives (at most 512 bytes)", &uri},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"note put",
                              "--key K --kind KIND (--sha256 HEX | --file F) [--uri U]",
                              "Anchor a document's hash on the ledger (a note.put tx).",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!kind) return cc_cli_usage(ctx.cmd, "missing --kind");
    if (!sha == !file) return cc_cli_usage(ctx.cmd, "give exactly one of --sha256 and --file");
    if (!*kind || strlen(kind) > KIND_MAX)
        return cc_cli_usage(ctx.cmd, "--kind must be 1..%d chars", KIND_MAX);
    if (uri && strlen(uri) > URI_MAX) return cc_cli_usage(ctx.cmd, "--uri is longer than %d bytes", URI_MAX);

    uint8_t h[CC_HASH_BYTES];
    char hex[CC_HASH_HEX];
    if (sha) {
        if (cc_unhex(sha, h, CC_HASH_BYTES) != CC_OK)
            return cc_cli_usage(ctx.cmd, "--sha256 must be 64 hex digits");
    } else {
        if (!hash_file(file, h)) {
            fprintf(stderr, "carechain note put: cannot read %s: %s\n", file, strerror(errno));
            return CC_EXIT_FAIL;
        }
    }
    cc_hex(h, CC_HASH_BYTES, hex);
    json_t *p = json_pack("{s:s,s:s}", "kind", kind, "sha256", hex);
    if (p && uri) json_object_set_new(p, "uri", json_string(uri));
    return cc_cli_send_json(&ctx, &w, "note.put", p);
}

int cc_cmd_note(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"put", note_put, "anchor a document's hash"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("note", subs, argc, argv);
}
