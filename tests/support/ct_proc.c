/*
 * ct_proc.c — child processes for tests: carechain nodes (spawned, waited
 * for, stopped with a signal) and one-shot CLI runs with captured output.
 * Nodes still running at exit are SIGKILLed by an atexit hook.
 */
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CT_NODES_MAX 16
#define CT_ARGS_MAX  32

static pthread_mutex_t proc_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t live_nodes[CT_NODES_MAX];
static bool hook_installed;

static void kill_live_nodes(void)
{
    for (int i = 0; i < CT_NODES_MAX; i++) {
        if (live_nodes[i] > 0) {
            kill(live_nodes[i], SIGKILL);
            waitpid(live_nodes[i], NULL, 0);
            live_nodes[i] = 0;
        }
    }
}

static void track(pid_t pid, bool add)
{
    pthread_mutex_lock(&proc_lock);
    if (!hook_installed) {
        atexit(kill_live_nodes);
        hook_installed = true;
    }
    for (int i = 0; i < CT_NODES_MAX; i++) {
        if (add && live_nodes[i] == 0) {
            live_nodes[i] = pid;
            break;
        }
        if (!add && live_nodes[i] == pid) {
            live_nodes[i] = 0;
            break;
        }
    }
    pthread_mutex_unlock(&proc_lock);
}

const char *ct_build_dir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        const char *b = getenv("BUILD");
        if (!b || !*b) b = "build";
        if (!realpath(b, dir)) snprintf(dir, sizeof dir, "%s", b);
    }
    return dir;
}

const char *ct_carechain_bin(void)
{
    static char bin[PATH_MAX + 16];
    if (!bin[0]) snprintf(bin, sizeof bin, "%s/carechain", ct_build_dir());
    return bin;
}

const char *ct_carechain_faults_bin(void)
{
    static char bin[PATH_MAX + 32];
    if (!bin[0]) snprintf(bin, sizeof bin, "%s/carechain-faults", ct_build_dir());
    return bin;
}

static int exit_code(int st)
{
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

void ct_node_dump_log(const ct_node *n)
{
    if (!n->log_path) return;
    size_t len = 0;
    uint8_t *log = ct_read_file(n->log_path, &len);
    if (!log) return;
    size_t from = len > 8000 ? len - 8000 : 0;
    fprintf(stderr, "---- %s (last %zu bytes) ----\n%s\n---- end of log ----\n", n->log_path, len - from,
            (char *)log + from);
    free(log);
}

int ct_node_start(ct_node *n, const char *dir, int port, size_t map_size, size_t map_size_max,
                  unsigned timeout_ms)
{
    if (n->dir != dir) {
        free(n->dir);
        n->dir = strdup(dir);
    }
    n->port = port;
    const char *host = n->host ? n->host : "127.0.0.1";
    snprintf(n->url, sizeof n->url, "%s://%s:%d", n->https ? "https" : "http", host, port);
    if (!n->log_path) n->log_path = ct_strf("%s.log", dir);

    char api[64], ms[32], msm[32];
    snprintf(api, sizeof api, "%s:%d", host, port);
    snprintf(ms, sizeof ms, "%zu", map_size);
    snprintf(msm, sizeof msm, "%zu", map_size_max ? map_size_max : map_size);
    const char *argv[CT_ARGS_MAX] = {
        n->bin ? n->bin : ct_carechain_bin(), "node", "--dir", dir, "--api", api, "--quiet"};
    int argc = 7;
    if (map_size) {
        argv[argc++] = "--map-size";
        argv[argc++] = ms;
        argv[argc++] = "--map-size-max";
        argv[argc++] = msm;
    }
    argv[argc] = NULL;

    int log_fd = open(n->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(log_fd);
        return -1;
    }
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0) dup2(null_fd, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(log_fd);
    n->pid = pid;
    n->exit_status = -1;
    track(pid, true);

    uint64_t deadline = ct_now_ms() + timeout_ms;
    while (ct_now_ms() < deadline) {
        if (!ct_node_alive(n)) {
            fprintf(stderr, "node %s exited during start with status %d\n", dir, n->exit_status);
            ct_node_dump_log(n);
            return -1;
        }
        ct_resp r;
        char *url = ct_strf("%s/v1/status", n->url);
        int rc = ct_get(url, &r);
        free(url);
        long status = r.status;
        ct_resp_free(&r);
        if (rc == 0 && status == 200) return 0;
        cc_sleep_ms(50);
    }
    fprintf(stderr, "node %s did not answer /v1/status within %u ms\n", dir, timeout_ms);
    ct_node_stop(n, SIGKILL, 5000);
    ct_node_dump_log(n);
    return -1;
}

bool ct_node_alive(ct_node *n)
{
    if (n->pid <= 0) return false;
    int st;
    pid_t r = waitpid(n->pid, &st, WNOHANG);
    if (r == n->pid) {
        n->exit_status = exit_code(st);
        track(n->pid, false);
        n->pid = 0;
        return false;
    }
    return r == 0;
}

int ct_node_stop(ct_node *n, int sig, unsigned timeout_ms)
{
    if (n->pid <= 0) return n->exit_status;
    kill(n->pid, sig);
    uint64_t deadline = ct_now_ms() + timeout_ms;
    while (ct_node_alive(n)) {
        if (ct_now_ms() >= deadline) {
            fprintf(stderr, "node %s ignored signal %d for %u ms; killing it\n", n->dir, sig, timeout_ms);
            kill(n->pid, SIGKILL);
            int st;
            waitpid(n->pid, &st, 0);
            track(n->pid, false);
            n->pid = 0;
            n->exit_status = -1;
            break;
        }
        cc_sleep_ms(10);
    }
    return n->exit_status;
}

void ct_node_free(ct_node *n)
{
    if (n->pid > 0) ct_node_stop(n, SIGKILL, 5000);
    free(n->dir);
    free(n->log_path);
    memset(n, 0, sizeof *n);
}

int ct_cli(char **out, unsigned timeout_ms, ...)
{
    const char *argv[CT_ARGS_MAX];
    int argc = 0;
    argv[argc++] = ct_carechain_bin();
    va_list ap;
    va_start(ap, timeout_ms);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < CT_ARGS_MAX - 1) argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0) dup2(null_fd, 0);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);

    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) abort();
    bool timed_out = false;
    uint64_t deadline = ct_now_ms() + timeout_ms;
    for (;;) {
        uint64_t now = ct_now_ms();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        int pr = poll(&p, 1, (int)(deadline - now));
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) {
            timed_out = pr == 0;
            break;
        }
        if (len + 1024 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
        ssize_t r = read(pipefd[0], buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(pipefd[0]);
    buf[len] = 0;
    if (timed_out) {
        fprintf(stderr, "carechain %s timed out after %u ms\n", argc > 1 ? argv[1] : "", timeout_ms);
        kill(pid, SIGKILL);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (out)
        *out = buf;
    else
        free(buf);
    return timed_out ? -1 : exit_code(st);
}

int ct_cli_proof(char **out, unsigned timeout_ms, const char *url, const char *txid, const char *file)
{
    uint64_t deadline = ct_now_ms() + timeout_ms;
    char *text = NULL;
    int rc;
    while ((rc = ct_cli(&text, timeout_ms, "proof", txid, "--out", file, "--node", url, (char *)NULL)) != 0 &&
           ct_now_ms() < deadline) {
        free(text);
        text = NULL;
        cc_sleep_ms(200);
    }
    if (out)
        *out = text;
    else
        free(text);
    return rc;
}
