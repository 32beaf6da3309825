/*
 * carechain/os.h — the few operating-system services the node and the CLI
 * share: whole-file reads and atomic writes, key files, a disk's free room,
 * clock, randomness.
 * The core never calls these; it gets time and seeds as arguments.
 */
#ifndef CARECHAIN_OS_H
#define CARECHAIN_OS_H

#include <time.h>

#include "carechain.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read a whole file (at most max bytes). *out is malloc'd with a NUL after
 * the data; caller frees. CC_ERR_IO (eb says why), CC_ERR_TOO_LARGE. */
cc_err cc_file_read(const char *path, size_t max, uint8_t **out, size_t *len, cc_errbuf *eb) CC_WUR;
/* Write a file atomically (temp file, fsync, rename) with the given mode. */
cc_err cc_file_write(const char *path, const void *data, size_t len, unsigned mode, cc_errbuf *eb) CC_WUR;
/* mkdir -p with mode 0700 for new directories. */
cc_err cc_mkdirs(const char *path, cc_errbuf *eb) CC_WUR;
/* " (its disk has N MiB free)" for the file system holding path, into out
 * (cap bytes), or "" when that cannot be told: for the message of a write
 * that failed, where a full disk and a failing one look alike. Returns out. */
const char *cc_disk_room(const char *path, char *out, size_t cap);

/* Load a key file; *extra (may be NULL) gets the file's JSON object. */
cc_err cc_key_load(const char *path, cc_key *k, json_t **extra, cc_errbuf *eb) CC_WUR;
/* Write a key file with mode 0600; extra may be NULL. */
cc_err cc_key_save(const char *path, const cc_key *k, const json_t *extra, cc_errbuf *eb) CC_WUR;
/* A fresh random key. */
void cc_key_generate(cc_key *k);

/* Wall clock in milliseconds since the epoch; monotonic clock in ns. */
uint64_t cc_now_ms(void);
uint64_t cc_mono_ns(void);
/* Sleep ms milliseconds (again after a signal interrupts it). */
void cc_sleep_ms(unsigned ms);
/* The time ms milliseconds from now on clock (CLOCK_REALTIME or
 * CLOCK_MONOTONIC): a deadline for pthread_cond_timedwait. */
struct timespec cc_time_after_ms(clockid_t clock, uint64_t ms);
/* Random 64-bit value (libsodium). */
uint64_t cc_random_u64(void);

#ifdef __cplusplus
}
#endif
#endif
