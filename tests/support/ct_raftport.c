/*
 * ct_raftport.c — knocking on a node's raft port the way a peer does
 * (see support.h, ct_raft_knock): libraft 0.15's handshake, then
 * carechain's exchange (src/node/raft_auth.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "node/raft_auth.h"
#include "support.h"

#define KNOCK_TIMEOUT_S 5

static int knock_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {.tv_sec = KNOCK_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* Exactly n bytes; false on EOF, error or timeout. */
static bool recv_all(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = recv(fd, p, n, 0);
        if (k <= 0) return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* libraft's handshake, then carechain's exchange. 1 admitted, 0 refused,
 * -1 nothing listens; when admitted and inject, the bare malformed message
 * follows the exchange instead of a frame, and 1 means the node then closed
 * the connection. */
static int knock(int port, const uint8_t chain_id[CC_HASH_BYTES], uint64_t id, uint64_t target,
                 const char *address, const cc_key *key, bool inject)
{
    uint8_t buf[256], hello[CC_RAFT_AUTH_HELLO_BYTES], answer[CC_RAFT_AUTH_ANSWER_BYTES],
        admit[CC_RAFT_AUTH_ADMIT_BYTES], pk[CC_PUBKEY_BYTES];
    cc_raft_hs hs;
    size_t n = strlen(address), padded = (n + 1 + 7) / 8 * 8;
    if (24 + padded + 16 + 64 > sizeof buf) return -1;
    int fd = knock_connect(port);
    if (fd < 0) return -1;
    /* libraft's handshake: protocol 1, the claimed id, the address padded
     * to 8 bytes */
    put_le64(buf, 1);
    put_le64(buf + 8, id);
    put_le64(buf + 16, padded);
    memset(buf + 24, 0, padded);
    memcpy(buf + 24, address, n);
    n = 24 + padded;
    /* an AppendEntries-typed message of 64 bytes of 0xff, which libraft
     * 0.15 decodes to a SIGSEGV */
    uint8_t bad[16 + 64];
    put_le64(bad, 1);
    put_le64(bad + 8, 64);
    memset(bad + 16, 0xff, 64);
    int admitted = 0;
    if (!key) {
        memcpy(buf + n, bad, sizeof bad);
        send_all(fd, buf, n + sizeof bad);
    } else if (send_all(fd, buf, n) && recv_all(fd, hello, sizeof hello) &&
               cc_raft_hs_answer(&hs, key, chain_id, target, hello, answer)) {
        admitted = send_all(fd, answer, sizeof answer) && recv_all(fd, admit, sizeof admit) &&
                   cc_raft_hs_check_admit(&hs, admit, pk);
        if (admitted && inject) {
            uint8_t byte;
            admitted = send_all(fd, bad, sizeof bad) && recv(fd, &byte, 1, 0) == 0; /* closed, unanswered */
        }
    }
    close(fd);
    return admitted;
}

int ct_raft_knock(int port, const uint8_t chain_id[CC_HASH_BYTES], uint64_t id, uint64_t target,
                  const char *address, const cc_key *key)
{
    return knock(port, chain_id, id, target, address, key, false);
}

int ct_raft_knock_inject(int port, const uint8_t chain_id[CC_HASH_BYTES], uint64_t id, uint64_t target,
                         const char *address, const cc_key *key)
{
    return knock(port, chain_id, id, target, address, key, true);
}
