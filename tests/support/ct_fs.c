/*
 * ct_fs.c — test helpers for files, temporary directories, ports and time.
 * Temporary directories are remembered and removed at exit unless CT_KEEP
 * is set, so a failed assertion does not leave /tmp littered.
 */
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CT_TMPDIRS_MAX 64

static pthread_mutex_t tmp_lock = PTHREAD_MUTEX_INITIALIZER;
static char *tmpdirs[CT_TMPDIRS_MAX];
static bool hook_installed;

static void remove_tmpdirs(void)
{
    if (getenv("CT_KEEP")) {
        for (int i = 0; i < CT_TMPDIRS_MAX; i++)
            if (tmpdirs[i]) fprintf(stderr, "kept %s\n", tmpdirs[i]);
        return;
    }
    for (int i = 0; i < CT_TMPDIRS_MAX; i++) {
        if (tmpdirs[i]) {
            ct_rmtree(tmpdirs[i]);
            free(tmpdirs[i]);
            tmpdirs[i] = NULL;
        }
    }
}

char *ct_strf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) abort();
    return s;
}

char *ct_tmpdir(const char *tag)
{
    char *path = ct_strf("/tmp/carechain-%s-XXXXXX", tag);
    if (!mkdtemp(path)) {
        fprintf(stderr, "mkdtemp %s: %s\n", path, strerror(errno));
        free(path);
        return NULL;
    }
    pthread_mutex_lock(&tmp_lock);
    if (!hook_installed) {
        atexit(remove_tmpdirs);
        hook_installed = true;
    }
    for (int i = 0; i < CT_TMPDIRS_MAX; i++) {
        if (!tmpdirs[i]) {
            tmpdirs[i] = strdup(path);
            break;
        }
    }
    pthread_mutex_unlock(&tmp_lock);
    return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT) fprintf(stderr, "remove %s: %s\n", path, strerror(errno));
    return 0;
}

int ct_rmtree(const char *path)
{
    if (!path || !*path || strcmp(path, "/") == 0) return -1;
    if (access(path, F_OK) != 0) return 0;
    int rc = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    pthread_mutex_lock(&tmp_lock);
    for (int i = 0; i < CT_TMPDIRS_MAX; i++) {
        if (tmpdirs[i] && strcmp(tmpdirs[i], path) == 0) {
            free(tmpdirs[i]);
            tmpdirs[i] = NULL;
        }
    }
    pthread_mutex_unlock(&tmp_lock);
    return rc == 0 && access(path, F_OK) != 0 ? 0 : -1;
}

int ct_copytree(const char *src, const char *dst)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execlp("cp", "cp", "-a", "--", src, dst, (char *)NULL);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int ct_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t w = fwrite(data, 1, len, f);
    int rc = fclose(f);
    return w == len && rc == 0 ? 0 : -1;
}

uint8_t *ct_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap + 1);
    if (!buf) abort();
    for (;;) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        cap *= 2;
        buf = realloc(buf, cap + 1);
        if (!buf) abort();
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* Ports handed out by this process, so two calls never give the same one. */
#define PORT_LOW      20000 /* below Linux's ephemeral range (32768..60999): */
#define PORT_HIGH     32000 /* an outgoing connection never takes one of these */
#define PORT_TRIES    200
#define PORTS_TRACKED 256

static int bind_probe(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    close(fd);
    return rc;
}

int ct_free_port(void)
{
    /* Not bind(0): the kernel would pick from the ephemeral range, where any
     * outgoing connection (the nodes' own raft and forwarding links) can
     * take the port between this probe and the node's bind. */
    static int given[PORTS_TRACKED];
    static size_t given_count;
    static unsigned seed;
    if (!seed) seed = (unsigned)getpid() ^ (unsigned)ct_now_ms();
    for (int t = 0; t < PORT_TRIES; t++) {
        int port = PORT_LOW + (int)(rand_r(&seed) % (PORT_HIGH - PORT_LOW));
        bool used = false;
        for (size_t i = 0; i < given_count; i++) used = used || given[i] == port;
        if (used || bind_probe(port) != 0) continue;
        if (given_count < PORTS_TRACKED) given[given_count++] = port;
        return port;
    }
    return -1;
}

uint64_t ct_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Does buf hold any of the part-byte slices that needle is cut into? */
static bool holds_part(const uint8_t *buf, size_t len, const uint8_t *needle, size_t nlen, size_t part)
{
    for (size_t at = 0; at < nlen; at += part) {
        size_t n = nlen - at < part ? nlen - at : part;
        if (memmem(buf, len, needle + at, n)) return true;
    }
    return false;
}

bool ct_tree_holds(const char *path, const void *needle, size_t nlen, size_t part)
{
    struct stat st;
    if (lstat(path, &st) != 0) return false;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        bool found = false;
        while (d && !found && (e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char *sub = ct_strf("%s/%s", path, e->d_name);
            found = ct_tree_holds(sub, needle, nlen, part);
            free(sub);
        }
        if (d) closedir(d);
        return found;
    }
    if (!S_ISREG(st.st_mode)) return false;
    size_t len = 0;
    uint8_t *buf = ct_read_file(path, &len);
    bool found = buf && holds_part(buf, len, needle, nlen, part ? part : nlen);
    if (found) fprintf(stderr, "%s holds the bytes looked for (or a part of them)\n", path);
    free(buf);
    return found;
}

bool ct_tree_contains(const char *path, const char *needle)
{
    return ct_tree_holds(path, needle, strlen(needle), 0);
}
