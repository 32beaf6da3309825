/*
 * node/verify_pool.c — a fixed pool of worker threads running chunks of
 * admission work (see verify_pool.h).
 *
 * Chunks live on the caller's stack: a caller cannot return before its
 * chunks are done, so the queue never points at a dead frame.
 *
 * The workers run at a lower scheduling priority (nice +WORKER_NICE) than
 * the node's other threads. Under load they are CPU-bound and there are as
 * many of them as cores, so at equal priority the block producer, which is
 * serial, gets only its fair share of a core and falls behind: admitted txs
 * pile up in the mempool and are committed long after the last one was
 * verified. At lower priority the workers take exactly the CPU the
 * producer (and the HTTP threads) leave idle, e.g. while a commit waits on
 * fsync. Priority is only a scheduling hint: correctness does not depend on
 * it, and a worker that cannot lower its priority runs at the normal one.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "node/verify_pool.h"

#define POOL_MAX_THREADS  256
#define CHUNKS_PER_THREAD 4   /* smaller chunks balance the load between workers */
#define CHUNK_MIN_ITEMS   16  /* below this, one chunk per item is not worth it */
#define CHUNKS_MAX        256 /* chunks of one call (they sit on the caller's stack) */
#define WORKER_NICE       5   /* see the top of the file; CFS weight 335 against 1024 at nice 0 */

typedef struct pool_job {
    size_t remaining; /* chunks not yet done; guarded by the pool lock */
    pthread_cond_t done;
} pool_job;

typedef struct pool_chunk {
    struct pool_chunk *next;
    cc_verify_fn fn;
    void *ctx;
    size_t begin, end;
    pool_job *job;
} pool_chunk;

struct cc_verify_pool {
    pthread_mutex_t mu;
    pthread_cond_t work; /* workers wait for chunks here */
    pool_chunk *head, *tail;
    bool stopping;
    unsigned thread_count;
    pthread_t threads[];
};

static void *worker_main(void *arg)
{
    cc_verify_pool *p = arg;
    /* Linux: PRIO_PROCESS with a thread id reads and sets that thread's
     * nice value; relative, so a node started under nice stays below. */
    id_t self = (id_t)gettid();
    (void)setpriority(PRIO_PROCESS, self, getpriority(PRIO_PROCESS, self) + WORKER_NICE);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping) pthread_cond_wait(&p->work, &p->mu);
        pool_chunk *c = p->head;
        if (!c) break; /* stopping and nothing queued */
        p->head = c->next;
        if (!p->head) p->tail = NULL;
        pthread_mutex_unlock(&p->mu);

        c->fn(c->ctx, c->begin, c->end);

        pthread_mutex_lock(&p->mu);
        if (--c->job->remaining == 0) pthread_cond_signal(&c->job->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

cc_err cc_verify_pool_start(unsigned threads, cc_verify_pool **out, cc_errbuf *eb)
{
    cc_err rc = CC_OK;
    unsigned started = 0;
    if (threads < 1) threads = 1;
    if (threads > POOL_MAX_THREADS) threads = POOL_MAX_THREADS;

    cc_verify_pool *p = calloc(1, sizeof *p + threads * sizeof(pthread_t));
    if (!p) {
        rc = cc_errf(eb, CC_ERR_NOMEM, "no memory for the verify pool");
        goto err;
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        rc = cc_errf(eb, CC_ERR_IO, "cannot create the verify pool lock");
        goto err_after_alloc;
    }
    if (pthread_cond_init(&p->work, NULL) != 0) {
        rc = cc_errf(eb, CC_ERR_IO, "cannot create the verify pool condition");
        goto err_after_mutex;
    }
    for (; started < threads; started++) {
        if (pthread_create(&p->threads[started], NULL, worker_main, p) != 0) {
            rc = cc_errf(eb, CC_ERR_IO, "cannot start verify worker %u", started);
            goto err_after_threads;
        }
    }
    p->thread_count = threads;
    *out = p;
    return CC_OK;

err_after_threads:
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < started; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
err_after_mutex:
    pthread_mutex_destroy(&p->mu);
err_after_alloc:
    free(p);
err:
    *out = NULL;
    return rc;
}

unsigned cc_verify_pool_threads(const cc_verify_pool *p)
{
    return p->thread_count;
}

void cc_verify_pool_run(cc_verify_pool *p, cc_verify_fn fn, void *ctx, size_t n)
{
    pool_chunk chunks[CHUNKS_MAX];
    pool_job job;
    size_t count;

    if (n == 0) return;
    if (n <= p->thread_count) {
        count = n; /* tiny batch: one item per worker */
    } else {
        count = (size_t)p->thread_count * CHUNKS_PER_THREAD;
        if (count > n / CHUNK_MIN_ITEMS) count = n / CHUNK_MIN_ITEMS;
        if (count < p->thread_count) count = p->thread_count;
        if (count > CHUNKS_MAX) count = CHUNKS_MAX;
    }

    job.remaining = count;
    pthread_cond_init(&job.done, NULL);
    for (size_t i = 0; i < count; i++) {
        chunks[i].next = i + 1 < count ? &chunks[i + 1] : NULL;
        chunks[i].fn = fn;
        chunks[i].ctx = ctx;
        chunks[i].begin = n * i / count;
        chunks[i].end = n * (i + 1) / count;
        chunks[i].job = &job;
    }

    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = &chunks[0];
    else
        p->head = &chunks[0];
    /* The queue points into this frame only until every chunk is done, and
     * we do not return before that (see the top of the file). */
    // cppcheck-suppress autoVariables
    p->tail = &chunks[count - 1];
    if (count == 1)
        pthread_cond_signal(&p->work);
    else
        pthread_cond_broadcast(&p->work);
    while (job.remaining > 0) pthread_cond_wait(&job.done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_cond_destroy(&job.done);
}

void cc_verify_pool_stop(cc_verify_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->thread_count; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
