/*
 * Shared pieces of the fuzz targets. Each target defines LLVMFuzzerTestOneInput; built with clang's
 * -fsanitize=fuzzer it is a libFuzzer binary (tools/fuzz.sh), built with any compiler and replay.c
 * it runs the files and directories named on its command line once each (the seed corpus and the
 * crash regressions in tests/data/bad/, in the unit suite).
 *
 * A target must never crash, leak, read uninitialised memory or trip UBSan on any input; it may
 * fail with an error (that is the expected outcome for most inputs). Targets abort() on a broken
 * contract the sanitizers cannot see (an error without a message, an accepted file whose contents
 * disagree with what the reader promised).
 */
#ifndef CLCNN_FUZZ_H
#define CLCNN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The readers take a path: put the input in an anonymous in-memory file (memfd, created once per
 * process and rewritten for each input) and return "/proc/self/fd/N". No disk traffic, no
 * temporary files left behind by a crash.
 */
const char *fuzz_file(const uint8_t *data, size_t size);
/* A second independent file, for readers that take two (IDX image/label pairs). */
const char *fuzz_file2(const uint8_t *data, size_t size);

/*
 * Readers of dataset folders: "<dir>/<name>" in a per-process temporary folder (removed at exit;
 * name may hold one subfolder, created on demand) becomes a symbolic link to target, or is removed
 * when target is NULL (links to fuzz_file paths follow each new input). fuzz_dir_file writes a
 * plain file there instead. Both return the path of "<dir>/<name>".
 */
const char *fuzz_dir_link(const char *name, const char *target);
const char *fuzz_dir_file(const char *name, const void *data, size_t size);
/* The temporary folder itself ("<dir>/<sub>" when sub is not NULL). */
const char *fuzz_dir(const char *sub);

/* abort() with a message when cond is false: a contract violation the sanitizers do not catch. */
#define FUZZ_ASSERT(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz contract violated at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

#endif
