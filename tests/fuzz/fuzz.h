/*
 * fuzz.h - the libFuzzer entry point every fuzz_*.c defines; replay.c
 * calls it on each file of a corpus when built without libFuzzer.
 */
#ifndef COMITY_FUZZ_H
#define COMITY_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* COMITY_FUZZ_H */
