/*
 * os.c — files, key files, clock and randomness for the node and the CLI.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "carechain/os.h"

cc_err cc_file_read(const char *path, size_t max, uint8_t **out, size_t *len, cc_errbuf *eb)
{
    cc_err rc = CC_OK;
    uint8_t *buf = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return cc_errf(eb, CC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = cc_errf(eb, CC_ERR_IO, "%s is not a readable file", path);
        goto done;
    }
    if ((size_t)st.st_size > max) {
        rc = cc_errf(eb, CC_ERR_TOO_LARGE, "%s is %lld bytes; the limit is %zu", path, (long long)st.st_size,
                     max);
        goto done;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = CC_ERR_NOMEM;
        goto done;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = cc_errf(eb, CC_ERR_IO, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "file shrank");
            goto done;
        }
        got += (size_t)n;
    }
    buf[got] = 0;
    *out = buf;
    *len = got;
    buf = NULL;
done:
    free(buf);
    close(fd);
    return rc;
}

cc_err cc_file_write(const char *path, const void *data, size_t len, unsigned mode, cc_errbuf *eb)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
        return cc_errf(eb, CC_ERR_IO, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return cc_errf(eb, CC_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    const uint8_t *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return cc_errf(eb, CC_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
        }
        p += n;
        left -= (size_t)n;
    }
    int e = 0;
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno; /* closed whatever failed before */
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        unlink(tmp);
        return cc_errf(eb, CC_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    return CC_OK;
}

cc_err cc_mkdirs(const char *path, cc_errbuf *eb)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return cc_errf(eb, CC_ERR_IO, "path too long");
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                return cc_errf(eb, CC_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
            *p = c;
            if (c == '\0') break;
        }
    }
    return CC_OK;
}

const char *cc_disk_room(const char *path, char *out, size_t cap)
{
    struct statvfs fs;
    if (cap == 0) return out;
    out[0] = '\0';
    if (statvfs(path, &fs) == 0)
        snprintf(out, cap, " (its disk has %.1f MiB free)",
                 (double)fs.f_bavail * (double)fs.f_frsize / (1024.0 * 1024.0));
    return out;
}

cc_err cc_key_load(const char *path, cc_key *k, json_t **extra, cc_errbuf *eb)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cc_errbuf why;
    cc_err rc = cc_file_read(path, 64 * 1024, &buf, &len, eb);
    if (rc != CC_OK) return rc;
    rc = cc_key_from_json(buf, len, k, extra, &why);
    if (rc != CC_OK) cc_errf(eb, rc, "%s: %s", path, why.msg);
    sodium_memzero(buf, len);
    free(buf);
    return rc;
}

cc_err cc_key_save(const char *path, const cc_key *k, const json_t *extra, cc_errbuf *eb)
{
    char *text = cc_key_to_json(k, extra);
    if (!text) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    text[n] = '\0';
    cc_err rc = cc_file_write(path, text, n, 0600, eb);
    sodium_memzero(text, n);
    free(text);
    return rc;
}

void cc_key_generate(cc_key *k)
{
    uint8_t seed[CC_SEED_BYTES];
    randombytes_buf(seed, sizeof seed);
    cc_key_from_seed(seed, k);
    sodium_memzero(seed, sizeof seed);
}

struct timespec cc_time_after_ms(clockid_t clock, uint64_t ms)
{
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

#ifdef CC_TEST_FAULTS
/* Test-only (compiled into build/carechain-faults alone): with
 * CARECHAIN_TEST_CLOCK_OFFSET_MS=N in the environment, this process's wall
 * clock reads N ms later (earlier when N < 0) than the machine's, like a
 * node whose time source is wrong. tests/integration/test_raft_clock.c
 * uses it. */
static int64_t test_clock_offset_ms(void)
{
    static _Atomic int64_t offset = INT64_MIN; /* not read yet */
    int64_t o = atomic_load(&offset);
    if (o == INT64_MIN) {
        const char *v = getenv("CARECHAIN_TEST_CLOCK_OFFSET_MS");
        o = v ? strtoll(v, NULL, 10) : 0;
        atomic_store(&offset, o);
    }
    return o;
}
#endif

uint64_t cc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
#ifdef CC_TEST_FAULTS
    ms += (uint64_t)test_clock_offset_ms(); /* wraps back for a negative offset */
#endif
    return ms;
}

uint64_t cc_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cc_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

uint64_t cc_random_u64(void)
{
    uint64_t v;
    randombytes_buf(&v, sizeof v);
    return v;
}
