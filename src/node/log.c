/*
 * node/log.c — one-line, timestamped log records on stderr (see log.h).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node/log.h"

#define LOG_LINE_MAX 1024

static atomic_bool log_quiet;

static const char *const level_names[] = {
    [CC_LOG_INFO] = "info",
    [CC_LOG_WARN] = "warn",
    [CC_LOG_ERROR] = "error",
};

void cc_node_log_quiet(bool quiet)
{
    atomic_store(&log_quiet, quiet);
}

void cc_node_log(cc_log_level level, const char *what, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    size_t n;
    va_list ap;

    if (level == CC_LOG_INFO && atomic_load(&log_quiet)) return;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %s %s: ", ts.tv_nsec / 1000000L,
                          level_names[level], what);
    if (n < sizeof line) {
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
        va_end(ap);
        if (m > 0) n += (size_t)m;
    }
    if (n > sizeof line - 2) n = sizeof line - 2; /* truncated: keep room for the newline */
    /* One record, one line: a message never breaks the line. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* nothing sensible to do when stderr is gone */
}
