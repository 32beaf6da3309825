/*
 * replay_main.c — runs a libFuzzer target as a plain program over every
 * file of the directories (or the files) named on the command line, and
 * prints a cmocka-style summary that scripts/run-tests.sh totals. A target
 * that finds a bug aborts, so the crash names the input in the log line
 * printed just before it.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("[  ERROR   ] cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) abort();
    for (;;) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        cap *= 2;
        buf = realloc(buf, cap);
        if (!buf) abort();
    }
    fclose(f);
    printf("[ RUN      ] %s\n", path);
    fflush(stdout);
    /* an exact-size copy so ASan catches reads past the input */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) abort();
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    printf("[       OK ] %s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    size_t count = 0, cap = 64;
    char **paths = malloc(cap * sizeof *paths);
    if (!paths) abort();
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            printf("[  ERROR   ] no such file or directory: %s\n", argv[i]);
            printf("[  FAILED  ] 1 test(s), listed below:\n");
            return 1;
        }
        DIR *d = S_ISDIR(st.st_mode) ? opendir(argv[i]) : NULL;
        if (!d) {
            if (count == cap) paths = realloc(paths, (cap *= 2) * sizeof *paths);
            paths[count++] = strdup(argv[i]);
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
            char *p = malloc(len);
            if (!p) abort();
            snprintf(p, len, "%s/%s", argv[i], e->d_name);
            if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
                free(p);
                continue;
            }
            if (count == cap) paths = realloc(paths, (cap *= 2) * sizeof *paths);
            if (!paths) abort();
            paths[count++] = p;
        }
        closedir(d);
    }
    qsort(paths, count, sizeof *paths, by_name);

    printf("[==========] Running %zu test(s).\n", count);
    size_t failed = 0;
    for (size_t i = 0; i < count; i++) {
        if (run_file(paths[i]) != 0) failed++;
        free(paths[i]);
    }
    free(paths);
    printf("[==========] %zu test(s) run.\n", count);
    if (count == 0) {
        printf("[  FAILED  ] 1 test(s): no corpus files\n");
        return 1;
    }
    printf("[  PASSED  ] %zu test(s).\n", count - failed);
    if (failed) printf("[  FAILED  ] %zu test(s).\n", failed);
    return failed ? 1 : 0;
}
