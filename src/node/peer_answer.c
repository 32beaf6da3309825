/*
 * peer_answer.c — collecting a peer's HTTP answer, bounded (peer_answer.h).
 */
#include <stdlib.h>
#include <string.h>

#include "node/peer_answer.h"

size_t cc_peer_answer_write(char *data, size_t size, size_t nmemb, void *answer)
{
    cc_peer_answer *a = answer;
    size_t n = size * nmemb;
    if (a->len + n > a->max) {
        a->too_long = true;
        return 0; /* libcurl stops the transfer */
    }
    char *p = realloc(a->buf, a->len + n + 1);
    if (!p) return 0;
    memcpy(p + a->len, data, n);
    a->buf = p;
    a->len += n;
    a->buf[a->len] = '\0';
    return n;
}
