/*
 * test_peer_answer.c — one request to a peer (src/node/peer_answer.c): the
 * answer is collected and bounded, and a request to a peer that never
 * answers ends when its cancelled hook says so, long before its timeout
 * (a stopping node must not sit out a hung peer).
 */
#include "unit_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "node/peer_answer.h"

#define HUNG_TIMEOUT_MS 30000L /* what the cancel hook must beat by far */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A listening socket on 127.0.0.1 (port in *port) that nobody accepts
 * from: the kernel completes the handshake, the request is sent, and no
 * answer ever comes. */
static int hung_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

typedef struct cancel_after {
    uint64_t at_ms;
    unsigned asked;
} cancel_after;

static bool cancel_when_due(void *ctx)
{
    cancel_after *c = ctx;
    c->asked++;
    return now_ms() >= c->at_ms;
}

static void test_cancelled_request_ends_early(void **state)
{
    (void)state;
    int port, fd = hung_listener(&port);
    char url[64];
    long status = -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/status", port);
    CURL *c = curl_easy_init();
    assert_non_null(c);

    cancel_after when = {.at_ms = now_ms() + 300};
    cc_peer_answer a = {.max = 1024, .cancelled = cancel_when_due, .cancel_ctx = &when};
    uint64_t t0 = now_ms();
    CURLcode cr = cc_peer_perform(c, url, HUNG_TIMEOUT_MS, 1000L, &a, &status);
    uint64_t took = now_ms() - t0;
    assert_int_equal(cr, CURLE_ABORTED_BY_CALLBACK);
    assert_int_equal(status, 0);
    assert_true(when.asked > 0);
    assert_true(took >= 300);
    assert_true(took < 5000); /* libcurl asks about once a second at worst */
    free(a.buf);

    /* The same handle without a hook: the old hook is gone, and only the
     * timeout ends the request. */
    cc_peer_answer plain = {.max = 1024};
    cr = cc_peer_perform(c, url, 400L, 1000L, &plain, &status);
    assert_int_equal(cr, CURLE_OPERATION_TIMEDOUT);
    free(plain.buf);

    curl_easy_cleanup(c);
    close(fd);
}

/* ---- a peer that answers -------------------------------------------------------------------- */

typedef struct one_answer {
    int fd;
    const char *reply;
} one_answer;

/* Accept one connection, read the request head, send reply, close. */
static void *serve_one(void *arg)
{
    one_answer *s = arg;
    int conn = accept(s->fd, NULL, NULL);
    if (conn < 0) return NULL;
    char buf[2048];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t n = read(conn, buf + got, sizeof buf - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n")) break;
    }
    ssize_t w = write(conn, s->reply, strlen(s->reply));
    (void)w;
    close(conn);
    return NULL;
}

static CURLcode ask_once(const char *reply, cc_peer_answer *a, long *status)
{
    int port;
    one_answer s = {.reply = reply};
    pthread_t t;
    char url[64];
    s.fd = hung_listener(&port);
    assert_int_equal(pthread_create(&t, NULL, serve_one, &s), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/status", port);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    CURLcode cr = cc_peer_perform(c, url, HUNG_TIMEOUT_MS, 1000L, a, status);
    curl_easy_cleanup(c);
    pthread_join(t, NULL);
    close(s.fd);
    return cr;
}

static bool never(void *ctx)
{
    unsigned *asked = ctx;
    ++*asked;
    return false;
}

static void test_answer_is_collected_with_a_hook_that_never_cancels(void **state)
{
    (void)state;
    unsigned asked = 0;
    long status = 0;
    cc_peer_answer a = {.max = 64, .cancelled = never, .cancel_ctx = &asked};
    CURLcode cr = ask_once("HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
                           &a, &status);
    assert_int_equal(cr, CURLE_OK);
    assert_int_equal(status, 200);
    assert_int_equal(a.len, 11);
    assert_string_equal(a.buf, "{\"ok\":true}");
    assert_false(a.too_long);
    free(a.buf);
}

static void test_answer_longer_than_max_is_cut(void **state)
{
    (void)state;
    long status = 0;
    cc_peer_answer a = {.max = 4};
    CURLcode cr = ask_once("HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
                           &a, &status);
    assert_int_not_equal(cr, CURLE_OK);
    assert_true(a.too_long);
    assert_true(a.len <= 4);
    free(a.buf);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancelled_request_ends_early),
        cmocka_unit_test(test_answer_is_collected_with_a_hook_that_never_cancels),
        cmocka_unit_test(test_answer_longer_than_max_is_cut),
    };
    int failed = cmocka_run_group_tests_name("peer_answer", tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
