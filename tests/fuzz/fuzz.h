/*
 * fuzz.h — what every libFuzzer target here shares: the entry point
 * libFuzzer (or replay_main.c) calls, and CHECK, which aborts on a broken
 * property so that libFuzzer keeps the input as a crash.
 */
#ifndef CC_TESTS_FUZZ_H
#define CC_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) abort();                                                                                \
    } while (0)

#endif
