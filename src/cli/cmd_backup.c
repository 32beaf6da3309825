/*
 * cli/cmd_backup.c — `carechain backup --dir NODEDIR --out DIR`: a copy of
 * a node's chain that a restored node starts from, and `carechain restore
 * --from BACKUP --dir NODEDIR` to put it back (docs/OPERATIONS.md
 * "Backups").
 *
 * The store is copied with LMDB's own compacting copy, inside one read
 * snapshot, so the node may keep running and committing meanwhile: the
 * backup is the chain as of one committed block. DIR gets data/data.mdb
 * and the attachments in data/attachments/ (files of mode 0600, in 0700
 * directories), and the node's genesis.json and
 * config.json; never node.key, which stays with the node or its own safe.
 * The copy is then opened the way a node opens it, and its head printed.
 * A restore is the same copy the other way, into a node directory that
 * holds no chain.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carechain/chain.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define PATH_BYTES 4096

/* What copy_chain made, so that a failed copy can be taken back. */
typedef struct made {
    bool dir, data, genesis, config;
} made;

/* Copy from/name to to/name, when from has it and to does not (*done
 * says whether it copied). */
static cc_err copy_file(const char *from, const char *to, const char *name, bool *done, cc_errbuf *eb)
{
    char src[PATH_BYTES], dst[PATH_BYTES];
    uint8_t *buf = NULL;
    size_t len = 0;
    snprintf(src, sizeof src, "%s/%s", from, name);
    snprintf(dst, sizeof dst, "%s/%s", to, name);
    *done = false;
    if (access(src, F_OK) != 0 || access(dst, F_OK) == 0) return CC_OK;
    cc_err rc = cc_file_read(src, CC_GENESIS_MAX_BYTES, &buf, &len, eb);
    if (rc == CC_OK) rc = cc_file_write(dst, buf, len, 0644, eb);
    *done = rc == CC_OK;
    free(buf);
    return rc;
}

/* Open data_dir for reading with genesis (the file's bytes) and take its head. */
static cc_err head_of(const char *data_dir, const uint8_t *genesis, size_t glen, cc_head *head, cc_errbuf *eb)
{
    cc_chain *c = NULL;
    cc_chain_options opt = {.readonly = true};
    cc_err rc = cc_chain_open(data_dir, genesis, glen, &opt, &c, eb);
    if (rc != CC_OK) return rc;
    cc_chain_head(c, head);
    cc_chain_close(c);
    return CC_OK;
}

/* Whether path exists and holds exactly len bytes equal to bytes. */
static bool same_file(const char *path, const uint8_t *bytes, size_t len)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    bool same = cc_file_read(path, CC_GENESIS_MAX_BYTES, &buf, &n, NULL) == CC_OK && n == len &&
                memcmp(buf, bytes, len) == 0;
    free(buf);
    return same;
}

/* The chain in from (a node directory, or a backup) into to, with
 * genesis.json and config.json: a backup when to does not exist yet; a
 * restore into to, which may already hold the node's own files (its
 * genesis must be the same bytes) but no data/ or raft/. The copy is then
 * opened as a node opens it: *head, and *bytes (may be NULL) the size of
 * its data file and attachments. *m says what was made. */
static cc_err copy_chain(const char *from, const char *to, cc_head *head, off_t *bytes, made *m,
                         cc_errbuf *eb)
{
    char path[PATH_BYTES], data[PATH_BYTES], copy[PATH_BYTES];
    uint8_t *genesis = NULL;
    size_t glen = 0;
    cc_chain *c = NULL;
    cc_chain_options opt = {.readonly = true};
    struct stat st;
    snprintf(path, sizeof path, "%s/genesis.json", from);
    snprintf(data, sizeof data, "%s/data", from);
    snprintf(copy, sizeof copy, "%s/data", to);
    cc_err rc = cc_file_read(path, CC_GENESIS_MAX_BYTES, &genesis, &glen, eb);
    if (rc != CC_OK) return rc;
    if ((rc = cc_chain_open(data, genesis, glen, &opt, &c, eb)) != CC_OK) {
        if (rc == CC_ERR_NOT_FOUND) rc = cc_errf(eb, rc, "%s holds no chain yet", data);
        goto out;
    }
    if (stat(to, &st) == 0) {
        snprintf(path, sizeof path, "%s/raft", to);
        if (access(copy, F_OK) == 0 || access(path, F_OK) == 0) {
            rc = cc_errf(eb, CC_ERR_CONFLICT, "%s already holds data/ or raft/: move them aside first", to);
            goto out;
        }
        snprintf(path, sizeof path, "%s/genesis.json", to);
        if (access(path, F_OK) == 0 && !same_file(path, genesis, glen)) {
            rc = cc_errf(eb, CC_ERR_CHAIN_ID, "%s is not the genesis of the chain in %s", path, from);
            goto out;
        }
    } else if (mkdir(to, 0700) != 0) {
        rc = cc_errf(eb, CC_ERR_IO, "cannot create %s: %s", to, strerror(errno));
        goto out;
    } else {
        m->dir = true;
    }
    m->data = true;
    if ((rc = cc_chain_backup(c, copy, eb)) != CC_OK ||
        (rc = copy_file(from, to, "genesis.json", &m->genesis, eb)) != CC_OK ||
        (rc = copy_file(from, to, "config.json", &m->config, eb)) != CC_OK ||
        (rc = head_of(copy, genesis, glen, head, eb)) != CC_OK)
        goto out;
    snprintf(path, sizeof path, "%s/data/data.mdb", to);
    if (bytes) *bytes = stat(path, &st) == 0 ? st.st_size : 0;
    snprintf(path, sizeof path, "%s/data/attachments", to);
    DIR *d = bytes ? opendir(path) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        char seg[PATH_BYTES + 256];
        snprintf(seg, sizeof seg, "%s/%s", path, e->d_name);
        if (e->d_name[0] != '.' && stat(seg, &st) == 0) *bytes += st.st_size;
    }
    if (d) closedir(d);
out:
    cc_chain_close(c);
    free(genesis);
    return rc;
}

/* Take back what a failed copy_chain made in to. */
static void unmake(const char *cmd, const char *to, const made *m)
{
    char path[PATH_BYTES];
    cc_errbuf eb = {{0}};
    if (m->dir) {
        if (cc_cli_rmtree(to, &eb) != CC_OK) fprintf(stderr, "carechain %s: %s\n", cmd, eb.msg);
        return;
    }
    snprintf(path, sizeof path, "%s/data", to);
    if (m->data && access(path, F_OK) == 0 && cc_cli_rmtree(path, &eb) != CC_OK)
        fprintf(stderr, "carechain %s: %s\n", cmd, eb.msg);
    snprintf(path, sizeof path, "%s/genesis.json", to);
    if (m->genesis) unlink(path);
    snprintf(path, sizeof path, "%s/config.json", to);
    if (m->config) unlink(path);
}

int cc_cmd_backup(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    const cc_cli_opt opts[] = {
        {"dir", "NODEDIR", "the node's directory (genesis.json, data/); the node may be running", &dir},
        {"out", "DIR", "where the backup goes (must not exist)", &out},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "backup",
        "--dir NODEDIR --out DIR",
        "Copy a node's chain, as of one committed block, for restoring it later.",
        opts,
        0,
        0,
        false,
        true,
        "The node may keep running: the copy is one consistent snapshot of its store,\n"
        "compacted. DIR gets data/, genesis.json and config.json, never node.key: keep the\n"
        "node key apart. Check a backup with carechain verify-chain --dir DIR; restore it\n"
        "with carechain restore (docs/OPERATIONS.md).\n"
        "Exit status: 0 done, 1 failed (nothing is left at DIR), 2 usage.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!dir || !out) return cc_cli_usage(ctx.cmd, "--dir and --out are required");
    if (access(out, F_OK) == 0) return cc_cli_usage(ctx.cmd, "%s exists; refusing to overwrite it", out);

    cc_errbuf eb = {{0}};
    cc_head head;
    off_t bytes = 0;
    made m = {0};
    uint64_t t0 = cc_mono_ns();
    cc_err e = copy_chain(dir, out, &head, &bytes, &m, &eb);
    double secs = (double)(cc_mono_ns() - t0) / 1e9;
    if (e != CC_OK) {
        unmake(ctx.cmd, out, &m);
        fprintf(stderr, "carechain backup: %s\n", eb.msg);
        return CC_EXIT_FAIL;
    }
    char hash[CC_HASH_HEX], tm[40];
    cc_hex(head.hash, CC_HASH_BYTES, hash);
    if (ctx.json) {
        json_t *j =
            json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:f}", "dir", dir, "out", out, "height",
                      (json_int_t)head.height, "head_hash", hash, "head_time_ms", (json_int_t)head.time_ms,
                      "tx_total", (json_int_t)head.tx_total, "bytes", (json_int_t)bytes, "seconds", secs);
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        char sh[CC_CLI_SHORT_BYTES];
        printf(
            "Backed up %s at height %llu (block %s, made %s; %llu txs in all) to %s: %.1f MiB in %.1f s.\n",
            dir, (unsigned long long)head.height, cc_cli_short(hash, sh), cc_cli_time(head.time_ms, tm),
            (unsigned long long)head.tx_total, out, (double)bytes / (1024.0 * 1024.0), secs);
        printf("node.key is not in the backup: keep it apart. Check the backup with\n"
               "carechain verify-chain --dir %s\n",
               out);
    }
    return CC_EXIT_OK;
}

/* Does the genesis in dir name more than one node (a raft network)? */
static bool raft_network(const char *dir)
{
    char path[PATH_BYTES];
    uint8_t *buf = NULL;
    size_t len = 0;
    cc_genesis g;
    snprintf(path, sizeof path, "%s/genesis.json", dir);
    if (cc_file_read(path, CC_GENESIS_MAX_BYTES, &buf, &len, NULL) != CC_OK) return false;
    bool parsed = cc_genesis_parse(buf, len, &g, NULL) == CC_OK, raft = parsed && g.node_count > 1;
    if (parsed) cc_genesis_free(&g);
    free(buf);
    return raft;
}

int cc_cmd_restore(int argc, char **argv)
{
    const char *from = NULL, *dir = NULL;
    const cc_cli_opt opts[] = {
        {"from", "BACKUP", "a backup made by carechain backup", &from},
        {"dir", "NODEDIR", "the node directory to restore into (no data/ or raft/ in it)", &dir},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "restore",
        "--from BACKUP --dir NODEDIR",
        "Put a backup's chain into a node directory, for the node to start from.",
        opts,
        0,
        0,
        false,
        true,
        "NODEDIR may be new, or the node's own directory with its node.key and config.json\n"
        "once data/ and raft/ are moved aside; its genesis.json, if any, must be the\n"
        "backup's. The node key is never in a backup: NODEDIR/node.key must be there\n"
        "before the node starts. On a raft network the node then takes the blocks\n"
        "committed since the backup from the others; a solo network goes on from the\n"
        "backup's block, and what was committed after it is gone.\n"
        "Exit status: 0 done, 1 failed (nothing it made is left), 2 usage.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!from || !dir) return cc_cli_usage(ctx.cmd, "--from and --dir are required");

    cc_errbuf eb = {{0}};
    cc_head head;
    made m = {0};
    cc_err e = copy_chain(from, dir, &head, NULL, &m, &eb);
    if (e != CC_OK) {
        unmake(ctx.cmd, dir, &m);
        fprintf(stderr, "carechain restore: %s\n", eb.msg);
        return CC_EXIT_FAIL;
    }
    char hash[CC_HASH_HEX], tm[40], key[PATH_BYTES];
    cc_hex(head.hash, CC_HASH_BYTES, hash);
    snprintf(key, sizeof key, "%s/node.key", dir);
    bool has_key = access(key, F_OK) == 0;
    if (ctx.json) {
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:I, s:b}", "from", from, "dir", dir, "height",
                              (json_int_t)head.height, "head_hash", hash, "tx_total",
                              (json_int_t)head.tx_total, "node_key", has_key);
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        char sh[CC_CLI_SHORT_BYTES];
        printf("Restored the chain of %s into %s: height %llu (block %s, made %s; %llu txs in all).\n", from,
               dir, (unsigned long long)head.height, cc_cli_short(hash, sh), cc_cli_time(head.time_ms, tm),
               (unsigned long long)head.tx_total);
        if (!has_key) printf("Put the node's key at %s before starting it.\n", key);
        printf("Start it with: carechain node --dir %s\n", dir);
        if (raft_network(dir))
            printf(
                "On a raft network it takes the blocks committed since the backup from the other nodes. "
                "If every node is being restored, start them all: the first leader waits until each has "
                "said its head, and the chain goes on from the newest (docs/OPERATIONS.md \"Backups\").\n");
    }
    return CC_EXIT_OK;
}
